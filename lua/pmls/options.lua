-- pmls.options: a script's command-line options. A script declares each
-- option with a default and a help text; values arrive typed (int, number,
-- string, boolean). Anything wrong on the command line raises a usage error
-- object ({usage = "..."}), which the `pmls` command turns into exit code 2.
local M = {}

local function usage(fmt, ...)
  error({ usage = fmt:format(...) }, 0)
end

local function flag_name(name)
  return "--" .. name:gsub("_", "-")
end

local function infer_type(default, explicit)
  if explicit then return explicit end
  local t = type(default)
  if t == "number" then return "number" end
  if t == "boolean" then return "boolean" end
  return "string"
end

local TYPES = { int = true, number = true, string = true, boolean = true }

-- Declares an option; called through app:option(name, default, help, opts).
function M.declare(list, name, default, help, opts)
  if type(name) ~= "string" or not name:match("^[%a][%w_%-]*$") then
    error(("bad argument 'name' to option (%q is not an option name)"):format(tostring(name)), 3)
  end
  if help ~= nil and type(help) ~= "string" then
    error("bad argument 'help' to option (string expected, got " .. type(help) .. ")", 3)
  end
  opts = opts or {}
  local key = name:gsub("%-", "_")
  local typ = infer_type(default, opts.type)
  if not TYPES[typ] then
    error(("bad argument 'type' to option (%q: int, number, string or boolean)"):format(tostring(typ)), 3)
  end
  if typ == "int" and default ~= nil and (type(default) ~= "number" or default % 1 ~= 0) then
    error(("bad argument 'default' to option (%s is an int option)"):format(name), 3)
  end
  if (typ == "number" or typ == "boolean") and default ~= nil and type(default) ~= typ then
    error(("bad argument 'default' to option (%s is a %s option, got a %s)"):format(
          name, typ, type(default)), 3)
  end
  for _, o in ipairs(list) do
    if o.key == key then error(("option '%s' declared twice"):format(name), 3) end
    if opts.short and o.short == opts.short then
      error(("bad argument 'short' to option (-%s is already %s)"):format(opts.short, o.flag), 3)
    end
  end
  local function number_bound(field)
    local v = opts[field]
    if v ~= nil and (type(v) ~= "number" or (typ ~= "int" and typ ~= "number")) then
      error(("bad argument '%s' to option (%s: a number, for an int or number option)")
            :format(field, name), 4)
    end
    return v
  end
  local lo, hi = number_bound("min"), number_bound("max")
  local choices = opts.choices
  if choices ~= nil then
    if type(choices) ~= "table" or #choices == 0 then
      error(("bad argument 'choices' to option (%s: a list of values expected)"):format(name), 3)
    end
    for _, c in ipairs(choices) do
      if type(c) ~= (typ == "int" and "number" or typ) then
        error(("bad argument 'choices' to option (%s: %s is not a %s)"):format(name, tostring(c), typ), 3)
      end
    end
  end
  list[#list + 1] = { key = key, flag = flag_name(key), default = default,
                      help = help or "", type = typ, short = opts.short,
                      required = opts.required, min = lo, max = hi, choices = choices }
end

-- "a, b or c"
local function or_list(values)
  local words = {}
  for i, v in ipairs(values) do words[i] = tostring(v) end
  if #words == 1 then return words[1] end
  return table.concat(words, ", ", 1, #words - 1) .. " or " .. words[#words]
end

-- The bounds and choices an option declared; a usage error names it.
local function check_value(o, v, raw)
  if o.choices then
    for _, c in ipairs(o.choices) do
      if c == v then return v end
    end
    usage("bad value '%s' for %s: %s expected", raw, o.flag, or_list(o.choices))
  end
  if o.min and v < o.min then
    usage("bad value '%s' for %s: at least %s expected", raw, o.flag, tostring(o.min))
  end
  if o.max and v > o.max then
    usage("bad value '%s' for %s: at most %s expected", raw, o.flag, tostring(o.max))
  end
  return v
end

-- Edit distance between two short strings, a swap of neighbours counting
-- as one edit (--rnak is --rank).
local function distance(a, b)
  if #a > 40 or #b > 40 then return 99 end
  local d = {}
  for i = 0, #a do d[i] = { [0] = i } end
  for j = 0, #b do d[0][j] = j end
  for i = 1, #a do
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      local v = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        v = math.min(v, d[i - 2][j - 2] + 1)
      end
      d[i][j] = v
    end
  end
  return d[#a][#b]
end

-- The declared or engine flag nearest to `flag`, if close enough to be a
-- slip; the engine's come from the command (PMLS_ENGINE_FLAGS).
local function suggest(list, flag)
  local word = flag:match("^%-%-(.+)$")
  if not word then return nil end
  local names = {}
  for _, o in ipairs(list) do names[#names + 1] = o.flag:sub(3) end
  for f in (os.getenv("PMLS_ENGINE_FLAGS") or ""):gmatch("%-%-([%w%-]+)") do names[#names + 1] = f end
  local best, best_d = nil, 99
  for _, n in ipairs(names) do
    local d = distance(word, n)
    if #word >= 3 and n:sub(1, #word) == word then d = 1 end
    if d < best_d then best, best_d = n, d end
  end
  local limit = #word <= 4 and 1 or #word <= 8 and 2 or 3
  return best and best_d <= limit and ("--" .. best) or nil
end

local function convert(o, raw)
  if o.type == "string" then return check_value(o, raw, raw) end
  if o.type == "boolean" then
    if raw == "true" or raw == "1" or raw == "yes" then return true end
    if raw == "false" or raw == "0" or raw == "no" then return false end
    usage("bad value '%s' for %s: true or false expected", raw, o.flag)
  end
  local v = tonumber(raw)
  if not v or v ~= v then
    usage("bad value '%s' for %s: %s expected", raw, o.flag,
          o.type == "int" and "a whole number" or "a number")
  end
  if o.type == "int" and v % 1 ~= 0 then
    usage("bad value '%s' for %s: a whole number expected", raw, o.flag)
  end
  return check_value(o, v, raw)
end

-- Parses argv against the declared options. Returns the options table, or
-- nil when --help was asked for.
function M.parse(list, argv)
  local by_flag = {}
  for _, o in ipairs(list) do
    by_flag[o.flag] = o
    by_flag["--" .. o.key] = o
    if o.short then by_flag["-" .. o.short] = o end
  end
  local opt = {}
  for _, o in ipairs(list) do opt[o.key] = o.default end
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "-h" or a == "--help" then return nil end
    local flag, inline = a:match("^(%-%-?[^=]+)=(.*)$")
    flag = flag or a
    local o = by_flag[flag]
    if not o then
      if flag:sub(1, 5) == "--no-" and by_flag["--" .. flag:sub(6)]
         and by_flag["--" .. flag:sub(6)].type == "boolean" and not inline then
        opt[by_flag["--" .. flag:sub(6)].key] = false
      elseif a:sub(1, 1) == "-" then
        local near = suggest(list, flag)
        usage("unknown option '%s'%s", flag, near and (" (did you mean " .. near .. "?)") or "")
      else
        usage("unexpected argument '%s'", a)
      end
    elseif o.type == "boolean" and not inline then
      opt[o.key] = true
    else
      local raw = inline
      if not raw then
        i = i + 1
        raw = argv[i]
        if raw == nil then usage("option %s needs a value", o.flag) end
      end
      opt[o.key] = convert(o, raw)
    end
    i = i + 1
  end
  for _, o in ipairs(list) do
    if o.required and opt[o.key] == nil then
      usage("option %s is required", o.flag)
    end
  end
  return opt
end

function M.help(list, script, description)
  local out = { ("usage: pmls run %s [options]"):format(script) }
  if description and description ~= "" then out[#out + 1] = "\n" .. description end
  out[#out + 1] = "\nScript options:"
  for _, o in ipairs(list) do
    local left = (o.short and ("-" .. o.short .. ", ") or "    ") .. o.flag
    if o.type ~= "boolean" then left = left .. " " .. o.type:upper() end
    local notes = {}
    if o.required then notes[#notes + 1] = "required" end
    if o.choices then notes[#notes + 1] = or_list(o.choices) end
    if o.min and o.max then notes[#notes + 1] = ("%s to %s"):format(o.min, o.max)
    elseif o.min then notes[#notes + 1] = ">= " .. tostring(o.min)
    elseif o.max then notes[#notes + 1] = "<= " .. tostring(o.max) end
    if o.default ~= nil then notes[#notes + 1] = "default: " .. tostring(o.default) end
    local note = #notes > 0 and (" (" .. table.concat(notes, "; ") .. ")") or ""
    out[#out + 1] = ("  %-26s %s%s"):format(left, o.help, note)
  end
  return table.concat(out, "\n")
end

return M
