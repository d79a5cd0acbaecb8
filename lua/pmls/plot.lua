-- pmls.plot: `pmls plot METRICS.jsonl... [-o OUT] [--x time|clock] [KEY...]`.
-- Draws each KEY (default: the objective, else the loss, else every
-- reported value) against time or clock, one panel per key, every run
-- overlaid with a legend; then one panel per table with the staleness
-- histogram of each run (the share of reads at each staleness). Runs come
-- from several files, or from one file that holds several (each begins
-- with its header); their legend names the file, the run's number in it
-- when it holds several, and the settings in which the runs differ.
--
-- The drawing is gnuplot's (Debian's gnuplot-nox): this module writes the
-- data and a gnuplot script into a temporary directory and runs gnuplot on
-- it. Exit status: 0, 1 for a file that cannot be read (one line,
-- path:line), 2 for a usage error.
local read = require "pmls.plot_read"

local M = {}

local USAGE = [[
usage: pmls plot METRICS.jsonl [more.jsonl...] [-o OUT.svg|OUT.png] [--x time|clock] [KEY...]

Plots what `pmls run --metrics FILE` wrote: each KEY against time (seconds
since the engine started) or clock, every run overlaid, and each table's
staleness histogram. Without KEY: objective, else loss, else every value
reported.

  -o, --output OUT   the image: .svg or .png (default: the first file's
                     name with .svg)
  --x time|clock     the x axis (default: time)
  --title TEXT       a title above the panels
  -h, --help         this text]]

local function usage_error(msg)
  io.stderr:write("pmls plot: ", msg, " (see 'pmls plot --help')\n")
  return 2
end

local function is_file(path)
  local f = io.open(path, "r")
  if f then f:close() end
  local d = io.open(path .. "/", "r") -- opens only for a directory
  if d then d:close() end
  return f ~= nil and d == nil
end

-- Arguments: a FILE is one that ends in .jsonl or .json, has a '/' or
-- exists; any other word is a KEY.
local function parse_args(args)
  local o = { files = {}, keys = {}, x = "time" }
  local i = 1
  local function value(name)
    i = i + 1
    if args[i] == nil then return nil, ("option %s needs a value"):format(name) end
    return args[i]
  end
  while i <= #args do
    local a = args[i]
    local err
    if a == "-h" or a == "--help" then
      o.help = true
    elseif a == "-o" or a == "--output" then
      o.output, err = value(a)
    elseif a:match("^%-o.") then
      o.output = a:sub(3)
    elseif a:match("^%-%-output=") then
      o.output = a:match("=(.*)$")
    elseif a == "--x" then
      o.x, err = value(a)
    elseif a:match("^%-%-x=") then
      o.x = a:match("=(.*)$")
    elseif a == "--title" then
      o.title, err = value(a)
    elseif a:match("^%-") then
      return nil, ("unknown option '%s'"):format(a)
    elseif a:match("%.jsonl?$") or a:find("/", 1, true) or is_file(a) then
      o.files[#o.files + 1] = a
    else
      o.keys[#o.keys + 1] = a
    end
    if err then return nil, err end
    i = i + 1
  end
  if o.help then return o end
  if o.x ~= "time" and o.x ~= "clock" then
    return nil, ("bad value '%s' for --x: time or clock expected"):format(tostring(o.x))
  end
  if #o.files == 0 then return nil, "no metrics file (FILE.jsonl, or a path with '/')" end
  o.output = o.output or (o.files[1]:gsub("%.jsonl?$", "") .. ".svg")
  o.format = o.output:match("%.(%w+)$")
  o.format = o.format and o.format:lower()
  if o.format ~= "svg" and o.format ~= "png" then
    return nil, ("bad output '%s': .svg or .png expected"):format(o.output)
  end
  return o
end

-- ---- legends --------------------------------------------------------------

-- The settings a header holds, flattened: deployment fields, then options.
local SETTINGS = { "procs", "workers", "servers", "transport", "consistency", "staleness", "seed" }
local function settings(h)
  local out = {}
  if not h then return out end
  for _, k in ipairs(SETTINGS) do
    if h[k] ~= nil then out[k] = tostring(h[k]) end
  end
  if type(h.options) == "table" then
    for k, v in pairs(h.options) do
      if k ~= "script" and type(v) ~= "table" and type(v) ~= "userdata" then out[k] = tostring(v) end
    end
    if type(h.options.script) == "string" then out.script = h.options.script:match("([^/]*)$") end
  end
  return out
end

-- Each run's legend: file (and #k when its file holds several), then the
-- settings whose values differ among the runs, sorted by name.
local function label_runs(runs)
  local per_file, seen = {}, {}
  for _, r in ipairs(runs) do per_file[r.file] = (per_file[r.file] or 0) + 1 end
  local sets, differ = {}, {}
  for i, r in ipairs(runs) do
    sets[i] = settings(r.header)
    for k, v in pairs(sets[i]) do
      if seen[k] == nil then seen[k] = v elseif seen[k] ~= v then differ[k] = true end
    end
  end
  for i, r in ipairs(runs) do
    for k in pairs(seen) do
      if sets[i][k] == nil and seen[k] ~= nil then differ[k] = true end
    end
  end
  local names = {}
  for k in pairs(differ) do names[#names + 1] = k end
  table.sort(names)
  for i, r in ipairs(runs) do
    local parts = { (r.file:match("([^/]*)$")) }
    if per_file[r.file] > 1 then parts[1] = parts[1] .. " #" .. r.index end
    for _, k in ipairs(names) do parts[#parts + 1] = k .. "=" .. (sets[i][k] or "-") end
    r.label = table.concat(parts, " ")
  end
end

-- ---- gnuplot --------------------------------------------------------------

-- A string for gnuplot's double quotes.
local function gq(s)
  return '"' .. tostring(s):gsub('[\\"]', "\\%0"):gsub("%c", " ") .. '"'
end

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function write_file(path, text)
  local f, err = io.open(path, "w")
  if not f then return nil, err end
  f:write(text)
  f:close()
  return true
end

local function has_gnuplot()
  return os.execute("command -v gnuplot >/dev/null 2>&1") == 0
end

-- The data files (one per run and key, one per run and table) and the
-- script that draws them; returns the script's text.
local function build(o, runs, keys, tables, dir)
  local panels = #keys + #tables
  local width, height = 900, 300 * panels + (o.title and 40 or 0)
  local lines = {}
  local function add(fmt, ...) lines[#lines + 1] = fmt:format(...) end
  if o.format == "svg" then
    add("set terminal svg size %d,%d dynamic background '#ffffff' font 'sans,11'", width, height)
  else
    add("set terminal pngcairo size %d,%d font 'sans,10'", width, height)
  end
  add("set output %s", gq(o.output))
  add("set termoption noenhanced")
  add("set grid")
  add("set key outside right top vertical Left reverse noautotitle")
  add("set multiplot layout %d,1 %s", panels, o.title and ("title " .. gq(o.title)) or "")
  local xlabel = o.x == "time" and "time (s)" or "clock"
  for ki, key in ipairs(keys) do
    local plots = {}
    for ri, r in ipairs(runs) do
      local rows = {}
      for _, c in ipairs(r.clocks) do
        local y = c[key]
        if type(y) == "number" then
          local x = o.x == "time" and c.time_s or c.clock
          if type(x) == "number" then rows[#rows + 1] = ("%.17g %.17g"):format(x, y) end
        end
      end
      if #rows > 0 then
        local path = ("%s/k%d_r%d.dat"):format(dir, ki, ri)
        assert(write_file(path, table.concat(rows, "\n") .. "\n"))
        plots[#plots + 1] = ("%s using 1:2 with linespoints pointsize 0.4 linecolor %d title %s")
                              :format(gq(path), ri, gq(r.label))
      end
    end
    add("set title %s", gq(key .. " against " .. o.x))
    add("set xlabel %s", gq(xlabel))
    add("set ylabel %s", gq(key))
    add("set style fill empty")
    add("plot %s", table.concat(plots, ", \\\n     "))
  end
  for ti, name in ipairs(tables) do
    local plots, top, R = {}, 0, #runs
    local w = 0.8 / R
    for ri, r in ipairs(runs) do
      local h = r.stale[name]
      if h then
        local total = 0
        for b = 1, #h do total = total + h[b] end
        local rows = {}
        for b = 1, #h do
          if h[b] > 0 then top = math.max(top, b - 1) end
          local x = (b - 1) + (ri - (R + 1) / 2) * w
          rows[#rows + 1] = ("%.6f %.17g"):format(x, total > 0 and h[b] / total or 0)
        end
        local path = ("%s/s%d_r%d.dat"):format(dir, ti, ri)
        assert(write_file(path, table.concat(rows, "\n") .. "\n"))
        plots[#plots + 1] = ("%s using 1:2 with boxes linecolor %d title %s")
                              :format(gq(path), ri, gq(r.label))
      end
    end
    add("set title %s", gq("staleness of reads: table " .. name))
    add("set xlabel %s", gq("staleness (clocks; 16 = 16 or more)"))
    add("set ylabel %s", gq("share of reads"))
    add("set boxwidth %.6f absolute", w)
    add("set style fill solid 0.6 border -1")
    add("set xrange [-0.6:%f]", top + 0.6)
    add("set xtics 1")
    add("set yrange [0:*]")
    add("plot %s", table.concat(plots, ", \\\n     "))
    add("unset xrange; unset yrange; set xtics autofreq")
  end
  add("unset multiplot")
  return table.concat(lines, "\n") .. "\n"
end

function M.main(args)
  local o, err = parse_args(args)
  if not o then return usage_error(err) end
  if o.help then
    print(USAGE)
    return 0
  end
  local runs = {}
  for _, path in ipairs(o.files) do
    local got, why = read.read(path)
    if not got then
      io.stderr:write("pmls: error: ", why, "\n")
      return 1
    end
    for _, r in ipairs(got) do runs[#runs + 1] = r end
  end
  -- The keys: asked for, or the objective, the loss, or all of them.
  local available = {}
  for _, r in ipairs(runs) do
    for k in pairs(r.keys) do available[k] = true end
  end
  local names = {}
  for k in pairs(available) do names[#names + 1] = k end
  table.sort(names)
  local keys = o.keys
  for _, k in ipairs(keys) do
    if not available[k] then
      return usage_error(("no values of '%s' in %s (reported: %s)"):format(
        k, table.concat(o.files, ", "), #names > 0 and table.concat(names, ", ") or "none"))
    end
  end
  if #keys == 0 then
    if available.objective then keys = { "objective" }
    elseif available.loss then keys = { "loss" }
    else keys = names end
  end
  -- The tables: every one any run read.
  local tset, tables = {}, {}
  for _, r in ipairs(runs) do
    r.stale = read.staleness(r)
    for name, h in pairs(r.stale) do
      local n = 0
      for b = 1, #h do n = n + h[b] end
      if n > 0 and not tset[name] then tset[name] = true; tables[#tables + 1] = name end
    end
  end
  table.sort(tables)
  if #keys + #tables == 0 then
    io.stderr:write("pmls: error: ", table.concat(o.files, ", "),
                    ": nothing to plot (no values reported and no reads counted)\n")
    return 1
  end
  if not has_gnuplot() then
    io.stderr:write("pmls: error: pmls plot needs gnuplot (make deps, or apt-get install gnuplot-nox)\n")
    return 1
  end
  label_runs(runs)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -m 700 " .. shell_quote(dir)) == 0, "cannot make a temporary directory")
  local script = dir .. "/plot.gp"
  assert(write_file(script, build(o, runs, keys, tables, dir)))
  local errfile = dir .. "/gnuplot.err"
  local rc = os.execute("gnuplot " .. shell_quote(script) .. " 2>" .. shell_quote(errfile))
  local f = io.open(errfile)
  local gerr = f and f:read("*a") or ""
  if f then f:close() end
  if os.getenv("PMLS_PLOT_KEEP") then
    io.stderr:write("pmls plot: gnuplot script and data in ", dir, "\n")
  else
    os.execute("rm -rf " .. shell_quote(dir))
  end
  if rc ~= 0 then
    io.stderr:write("pmls: error: gnuplot failed writing ", o.output, ": ", gerr, "\n")
    return 1
  end
  io.stderr:write(("pmls plot: %s: %d run%s; %s; staleness of %d table%s\n"):format(
    o.output, #runs, #runs == 1 and "" or "s", table.concat(keys, ", "),
    #tables, #tables == 1 and "" or "s"))
  return 0
end

M.parse_args, M.label_runs = parse_args, label_runs
return M
