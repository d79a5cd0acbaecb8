-- bench/mf_report.lua: turns the runs of bench/mf.sh into the mf_epoch,
-- mf_job and scaling rows: one line each on stdout, build/bench/mf.json and
-- the benchmark summary rows.
--
--   luajit bench/mf_report.lua MANIFEST OUTDIR
--
-- MANIFEST has header lines "#param<TAB>name<TAB>value" (train_ratings and
-- epochs are needed; all are copied into the JSON), then one line per run:
-- "config<TAB>repeat<TAB>base", where base.time is mf_time's line
-- (wall_s, peak_rss_mb), base.log the command's output and, for the pmls
-- runs, base.jsonl the metrics file. config is serial (bench/mf_serial.c),
-- kernel (bench/mf_threads.c: the SGD kernel alone in one plain thread and
-- in two; its ratio is reported beside -w 2 / -w 1, no target of its own)
-- or sgd_w1, sgd_w2, sgd_p2, block_w1, block_w2.
--
-- Training throughput of a pmls run, from its metrics lines: the training
-- clocks are those that report train_rmse (mf_block's last round, which
-- only measures the final model, reports none). Clock 1 also holds what the
-- workers do before training (mf_sgd reads the file in each worker), so it
-- is left out: throughput = ratings x epochs x (K - 1) / K over the time
-- from the end of the first training clock to the end of the last, K the
-- number of training clocks. The serial loop's is its own ratings_per_s.
-- Each ratio is taken within a repeat (its runs ran back to back); the row
-- is the median over repeats.
-- Environment: PMLS_BENCH_SUMMARY (append the summary rows there).
local manifest_path, outdir = arg[1], arg[2]
if not (manifest_path and outdir) then
  io.stderr:write("usage: luajit bench/mf_report.lua MANIFEST OUTDIR\n")
  os.exit(2)
end

local R = dofile((arg[0]:match("^(.*)/") or ".") .. "/report.lua")
local decode, median, jnum, jstr, finite = R.decode, R.median, R.jnum, R.jstr, R.finite
local read_file, write_file = R.read_file, R.write_file

---------------------------------------------------------------- runs
local params, param_order, runs, repeats, seen = {}, {}, {}, {}, {}

local function keyvals(text)
  local t = {}
  for k, v in (text or ""):gmatch("([%w_]+)=([^%s]+)") do t[k] = tonumber(v) or v end
  return t
end

local function pmls_run(base, ratings, epochs)
  local text = read_file(base .. ".jsonl")
  if not text then return nil, "no metrics file " .. base .. ".jsonl" end
  local clocks, final = {}, nil
  for line in text:gmatch("[^\n]+") do
    local obj = decode(line)
    if obj.final then final = obj
    elseif obj.clock and obj.time_s and obj.train_rmse then clocks[#clocks + 1] = obj end
  end
  if not final then return nil, base .. ".jsonl: no final object (the run did not finish)" end
  table.sort(clocks, function(a, b) return a.clock < b.clock end)
  local K, r = #clocks, { test_rmse = final.test_rmse, clocks = #clocks }
  if K >= 2 then
    r.train_s = (clocks[K].time_s - clocks[1].time_s) * K / (K - 1)
    r.throughput = ratings * epochs * (K - 1) / K / (clocks[K].time_s - clocks[1].time_s)
    r.first_clock_s = clocks[1].time_s
  end
  return r
end

for line in assert(io.open(manifest_path)):lines() do
  local a, b, c = line:match("^([^\t]*)\t([^\t]*)\t?(.*)$")
  if a == "#param" then
    local name, value = b, c
    params[name] = tonumber(value) or value
    param_order[#param_order + 1] = name
  elseif a and a ~= "" then
    local cfg, rep, base = a, tonumber(b), c
    local timing = keyvals(read_file(base .. ".time"))
    local r, err
    if cfg == "serial" then
      r = keyvals(read_file(base .. ".log"))
      r.throughput = r.ratings_per_s
      if not r.throughput then err = base .. ".log: no ratings_per_s" end
    elseif cfg == "kernel" then
      r = keyvals(read_file(base .. ".log"))
      if not r.ratio then r, err = nil, base .. ".log: no ratio" end
    else
      r, err = pmls_run(base, params.train_ratings, params.epochs)
    end
    if not r then
      io.stderr:write("mf: ", err, "\n")
    else
      r.wall_s, r.peak_rss_mb = timing.wall_s, timing.peak_rss_mb
      runs[rep] = runs[rep] or {}
      runs[rep][cfg] = r
      if not seen[rep] then seen[rep] = true; repeats[#repeats + 1] = rep end
    end
  end
end
table.sort(repeats)

---------------------------------------------------------------- rows
-- name, op, target, note, and f(runs of one repeat) -> value or nil.
local function get(cfg, field)
  return function(rr) return rr[cfg] and rr[cfg][field] end
end
local function ratio(num, den, scale)
  return function(rr)
    local x, y = num(rr), den(rr)
    if finite(x) and finite(y) and y ~= 0 then return x / y * (scale or 1) end
  end
end

local function fmt(x, f) return finite(x) and (f):format(x) or "-" end
local function M(x) return fmt(x and x / 1e6, "%.2f") end
local function S(x) return fmt(x, "%.1f") end

local rows = {}
-- note(absolute medians) says what is behind the row, for the summary.
local function row(name, op, target, note, f, format)
  rows[#rows + 1] = { name = name, op = op, target = target, note = note, f = f, format = format or "%.3f" }
end
local loop_thr, loop_job = get("serial", "throughput"), get("serial", "wall_s")
for _, m in ipairs { "sgd", "block" } do
  local w1, w2 = get(m .. "_w1", "throughput"), get(m .. "_w2", "throughput")
  local c1, c2 = m .. "_w1", m .. "_w2"
  row("mf_epoch " .. m .. " -w 1 / loop", ">=", 2.0,
    function(a) return ("M ratings/s: %s -w 1, %s loop"):format(M(a[c1].throughput), M(a.serial.throughput)) end,
    ratio(w1, loop_thr))
  row("mf_epoch " .. m .. " -w 2 / loop", ">=", 2.0,
    function(a) return ("per core: M ratings/s %s -w 2 (/ 2), %s loop"):format(M(a[c2].throughput), M(a.serial.throughput)) end,
    ratio(w2, loop_thr, 0.5))
  row("mf_epoch " .. m .. " -w 2 / -w 1", ">=", 1.8,
    function(a) return ("M ratings/s: %s -w 2, %s -w 1; the kernel alone, 2 plain threads / 1: %s"):format(
      M(a[c2].throughput), M(a[c1].throughput), fmt(a.kernel.ratio, "%.3f")) end,
    ratio(w2, w1))
  row("mf_job " .. m .. " -w 2 vs loop", ">=", 4.0,
    function(a) return ("job s: %s loop, %s -w 2"):format(S(a.serial.wall_s), S(a[c2].wall_s)) end,
    ratio(loop_job, get(c2, "wall_s")))
  row("mf_job " .. m .. " -w 2 test RMSE", "<=", 0.40,
    function(a) return ("value, not a ratio; loop %s"):format(fmt(a.serial.test_rmse, "%.4f")) end,
    get(c2, "test_rmse"), "%.4f")
  row("mf_job " .. m .. " -w 2 peak RSS MB", "<=", 250,
    function(a) return ("value, not a ratio; loop %s MB"):format(fmt(a.serial.peak_rss_mb, "%.0f")) end,
    get(c2, "peak_rss_mb"), "%.0f")
end
row("scaling sgd -p 2 / -p 1", ">=", 1.7,
  function(a) return ("-w 1 each; M ratings/s: %s -p 2, %s -p 1"):format(M(a.sgd_p2.throughput), M(a.sgd_w1.throughput)) end,
  ratio(get("sgd_p2", "throughput"), get("sgd_w1", "throughput")))

local function verdict(v, op, target)
  if not finite(v) then return "ERROR" end
  if (op == ">=" and v >= target) or (op == "<=" and v <= target) then return "PASS" end
  return "BELOW"
end

for _, r in ipairs(rows) do
  r.values = {}
  for _, rep in ipairs(repeats) do r.values[#r.values + 1] = r.f(runs[rep]) or false end
  r.median = median(r.values)
  r.status = verdict(r.median, r.op, r.target)
end

-- Medians of the absolute figures, for reading.
local CONFIGS = { "serial", "sgd_w1", "sgd_w2", "sgd_p2", "block_w1", "block_w2", "kernel" }
local FIELDS = { "throughput", "train_s", "wall_s", "peak_rss_mb", "test_rmse", "read_s", "first_clock_s",
                 "ratio", "one_thread_s", "two_threads_s" }
local absolute = {}
for _, cfg in ipairs(CONFIGS) do
  local a = {}
  for _, f in ipairs(FIELDS) do
    local xs = {}
    for _, rep in ipairs(repeats) do
      local r = runs[rep][cfg]
      if r and finite(r[f]) then xs[#xs + 1] = r[f] end
    end
    a[f] = median(xs)
  end
  absolute[cfg] = a
end

---------------------------------------------------------------- output
print(("mf: %d repeat(s); medians:"):format(#repeats))
print(("  %-9s %12s %9s %9s %9s %8s"):format("run", "ratings/s", "train_s", "job_s", "rss_MB", "test_rmse"))
for _, r in ipairs(rows) do r.note = r.note(absolute) end
for _, cfg in ipairs(CONFIGS) do
  local a = absolute[cfg]
  if cfg ~= "kernel" then print(("  %-9s %12s %9s %9s %9s %8s"):format(cfg, fmt(a.throughput, "%.0f"), fmt(a.train_s, "%.2f"),
    fmt(a.wall_s, "%.2f"), fmt(a.peak_rss_mb, "%.1f"), fmt(a.test_rmse, "%.4f"))) end
end
for _, r in ipairs(rows) do
  print(("  %-34s %8s  (target %s %g)  %-5s  %s"):format(r.name, fmt(r.median, r.format), r.op, r.target, r.status, r.note))
end

local J = { "{" }
local function add(s) J[#J + 1] = s end
add('"params":{')
for k, name in ipairs(param_order) do
  local v = params[name]
  add((k > 1 and "," or "") .. jstr(name) .. ":" .. (type(v) == "number" and jnum(v) or jstr(v)))
end
add('},"repeats":' .. #repeats .. ',"absolute":{')
for k, cfg in ipairs(CONFIGS) do
  add((k > 1 and "," or "") .. jstr(cfg) .. ":{")
  for i, f in ipairs(FIELDS) do add((i > 1 and "," or "") .. jstr(f) .. ":" .. jnum(absolute[cfg][f])) end
  add("}")
end
add('},"rows":[')
for k, r in ipairs(rows) do
  local vs = {}
  for i, v in ipairs(r.values) do vs[i] = jnum(v or nil) end
  add(("%s{\"name\":%s,\"value\":%s,\"op\":%s,\"target\":%s,\"status\":%s,\"per_repeat\":[%s]}"):format(
    k > 1 and "," or "", jstr(r.name), jnum(r.median), jstr(r.op), jnum(r.target), jstr(r.status), table.concat(vs, ",")))
end
add("]}\n")
write_file(outdir .. "/mf.json", table.concat(J))

local sumfile = os.getenv("PMLS_BENCH_SUMMARY")
if sumfile and sumfile ~= "" then
  local out = assert(io.open(sumfile, "a"))
  for _, r in ipairs(rows) do
    out:write(("%s\t%s\t%s\t%s\t%s\t%s\n"):format(r.name, fmt(r.median, r.format), r.op,
      tostring(r.target), r.status, r.note))
  end
  out:close()
end
local errors = 0
for _, r in ipairs(rows) do if r.status == "ERROR" then errors = errors + 1 end end
os.exit(errors == 0 and 0 or 1)
