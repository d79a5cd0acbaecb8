-- bench/block_straggler_report.lua: reads the metrics files of
-- bench/block_straggler.sh and writes the table (docs/block_straggler.md,
-- between its markers), build/bench/block_straggler.json, the plot data
-- (build/bench/block_straggler-*.dat and block_straggler-plot.gp) and a
-- benchmark summary row.
--
--   luajit bench/block_straggler_report.lua MANIFEST OUTDIR DOC
--
-- MANIFEST has one line per run: "mode<TAB>factor<TAB>repeat<TAB>path"
-- (mode is "agnostic" or "barrier"), after header lines
-- "#param<TAB>name<TAB>value" (copied into the JSON and the doc),
-- "#window<TAB>rounds per epoch" and "#target_epoch<TAB>epoch".
-- The objective after round k is the root mean square of the per-round
-- train_rmse over the last epoch (window rounds: every block once). The
-- target is the median over the barrier F=1 runs of that objective after
-- the target epoch. Environment: PMLS_BENCH_SUMMARY (append the row there).
local manifest_path, outdir, doc_path = arg[1], arg[2], arg[3]
if not (manifest_path and outdir and doc_path) then
  io.stderr:write("usage: luajit bench/block_straggler_report.lua MANIFEST OUTDIR DOC\n")
  os.exit(2)
end

local R = dofile((arg[0]:match("^(.*)/") or ".") .. "/report.lua")
local median, jnum, read_file, write_file = R.median, R.jnum, R.read_file, R.write_file

-- The metrics lines are flat JSON objects of numbers (plus the final
-- object's "tables"), so a pattern per field is enough.
local function field(line, name)
  local v = line:match('"' .. name .. '":(-?[%d.eE+-]+)')
  return v and tonumber(v)
end

---------------------------------------------------------------- manifest
local window, target_epoch = 1, 15
local params, runs, factors, seenF = {}, { agnostic = {}, barrier = {} }, {}, {}
for line in assert(io.open(manifest_path)):lines() do
  local f = {}
  for x in (line .. "\t"):gmatch("([^\t]*)\t") do f[#f + 1] = x end
  if f[1] == "#param" then params[#params + 1] = { f[2], f[3] }
  elseif f[1] == "#window" then window = tonumber(f[2])
  elseif f[1] == "#target_epoch" then target_epoch = tonumber(f[2])
  elseif #f >= 4 and runs[f[1]] then
    local F = tonumber(f[2])
    if not seenF[F] then seenF[F] = true; factors[#factors + 1] = F end
    runs[f[1]][F] = runs[f[1]][F] or {}
    table.insert(runs[f[1]][F], { rep = tonumber(f[3]), path = f[4] })
  end
end
table.sort(factors)

local function load(run)
  local text = read_file(run.path)
  if not text then error("missing " .. run.path, 0) end
  run.curve = {}
  for line in text:gmatch("[^\n]+") do
    if line:find('"final":true', 1, true) then
      run.final = {
        time_s = field(line, "time_s"), test_rmse = field(line, "test_rmse"),
        train_rmse = field(line, "train_rmse"), rounds = field(line, "rounds"),
        passes = field(line, "passes"), passes_min = field(line, "passes_min"),
        passes_max = field(line, "passes_max"), slowed_s = field(line, "slowed_s"),
      }
    else
      local clock, t, r = field(line, "clock"), field(line, "time_s"), field(line, "train_rmse")
      if clock and t and r then run.curve[#run.curve + 1] = { clock = clock, t = t, rmse = r } end
    end
  end
  if not run.final then error(run.path .. ": no final object (the run did not finish)", 0) end
  table.sort(run.curve, function(a, b) return a.clock < b.clock end)
  local sq = 0
  for k, p in ipairs(run.curve) do
    sq = sq + p.rmse * p.rmse
    if k > window then sq = sq - run.curve[k - window].rmse ^ 2 end
    p.obj = math.sqrt(math.max(sq, 0) / math.min(k, window))
    p.full = k >= window
  end
end

for _, byF in pairs(runs) do
  for _, list in pairs(byF) do for _, run in ipairs(list) do load(run) end end
end

---------------------------------------------------------------- target
local ref = runs.barrier[factors[1]]
if factors[1] ~= 1 or not ref then error("the barrier F=1 runs are needed for the target", 0) end
local at = {}
for _, run in ipairs(ref) do
  for _, p in ipairs(run.curve) do
    if p.clock == target_epoch * window then at[#at + 1] = p.obj end
  end
end
local target = median(at)
if not target then error("no barrier F=1 run reached epoch " .. target_epoch, 0) end

local function time_to(run)
  for _, p in ipairs(run.curve) do
    if p.full and p.obj <= target then return p.t, p.clock end
  end
end

---------------------------------------------------------------- summary
local S = { agnostic = {}, barrier = {} }
for mode, byF in pairs(runs) do
  for F, list in pairs(byF) do
    local c = { tt = {}, rt = {}, total = {}, test = {}, train = {}, rounds = {},
                passes = {}, pmin = {}, pmax = {}, slept = {}, reached = 0, n = #list }
    for _, run in ipairs(list) do
      local t, clock = time_to(run)
      run.tt = t
      if t then c.reached = c.reached + 1 end
      c.tt[#c.tt + 1] = t
      c.rt[#c.rt + 1] = clock
      local fin = run.final
      c.total[#c.total + 1] = fin.time_s
      c.test[#c.test + 1] = fin.test_rmse
      c.train[#c.train + 1] = fin.train_rmse
      c.rounds[#c.rounds + 1] = fin.rounds
      c.passes[#c.passes + 1] = fin.passes
      c.pmin[#c.pmin + 1] = fin.passes_min
      c.pmax[#c.pmax + 1] = fin.passes_max
      c.slept[#c.slept + 1] = fin.slowed_s or 0
    end
    local m = {}
    for k, v in pairs(c) do
      if type(v) == "table" then m[k] = median(v) else m[k] = v end
    end
    m.tt_lo, m.tt_hi = math.huge, -math.huge
    for _, x in ipairs(c.tt) do m.tt_lo = math.min(m.tt_lo, x); m.tt_hi = math.max(m.tt_hi, x) end
    -- the plotted run: the repeat whose time to target is closest to the median
    local best, bd = list[1], math.huge
    for _, run in ipairs(list) do
      local d = math.abs((run.tt or 1e9) - (m.tt or 1e9))
      if d < bd then best, bd = run, d end
    end
    m.plot = best
    S[mode][F] = m
  end
end

local function f(x, fmt) return x and (fmt or "%.2f"):format(x) or "—" end

local lines = {}
local function add(s) lines[#lines + 1] = s end
add(("Target: training RMSE %.4f (the barrier F = 1 runs' median after epoch %d of %s;"
  .. " training RMSE = root mean square of the rounds' first-pass block RMSEs over the last epoch)."):format(
  target, target_epoch, (function() for _, p in ipairs(params) do if p[1] == "epochs" then return p[2] end end end)()))
add("Medians over the repeats; time to target with the range of the repeats.")
add("")
add("| F | mode | time to target (s) | rounds to target | speed-up | total time (s) | final train RMSE | final test RMSE | rounds | passes | passes min · max | straggler slept (s) |")
add("|---|---|---|---|---|---|---|---|---|---|---|---|")
for _, F in ipairs(factors) do
  for _, mode in ipairs({ "agnostic", "barrier" }) do
    local m = S[mode][F]
    if m then
      local b = S.barrier[F]
      local tt = m.tt and ("%.3f (%.3f–%.3f)"):format(m.tt, m.tt_lo, m.tt_hi) or "not reached"
      if m.reached < m.n then tt = tt .. (" [%d/%d reached]"):format(m.reached, m.n) end
      local sp = (mode == "agnostic" and m.tt and b and b.tt) and ("%.2f×"):format(b.tt / m.tt) or ""
      local bal = mode == "agnostic" and (m.pmin and ("%d · %d"):format(m.pmin, m.pmax) or "—") or "(1 per round)"
      add(("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"):format(
        F, mode, tt, f(m.rt, "%d"), sp, f(m.total, "%.3f"), f(m.train, "%.4f"), f(m.test, "%.4f"),
        f(m.rounds, "%d"), f(m.passes, "%d"), bal, f(m.slept, "%.3f")))
    end
  end
end
add("")
local ps = {}
for _, p in ipairs(params) do ps[#ps + 1] = p[1] .. " = " .. p[2] end
add("Settings: " .. table.concat(ps, ", ") .. ".")
local tabletext = table.concat(lines, "\n")
print(tabletext)

---------------------------------------------------------------- doc
local START, STOP = "<!-- block-straggler-table:start -->", "<!-- block-straggler-table:end -->"
local doc = read_file(doc_path) or ("# Block scheduling with a straggler\n\n" .. START .. "\n" .. STOP .. "\n")
local a = doc:find(START, 1, true)
local b = doc:find(STOP, 1, true)
if not (a and b) then doc = doc .. "\n" .. START .. "\n" .. STOP .. "\n"; a = doc:find(START, 1, true); b = doc:find(STOP, 1, true) end
doc = doc:sub(1, a + #START - 1) .. "\n" .. tabletext .. "\n" .. doc:sub(b)
write_file(doc_path, doc)

---------------------------------------------------------------- plot data
local fmax = factors[#factors]
local plotted = {}
for _, F in ipairs(fmax == 1 and { 1 } or { 1, fmax }) do
  for _, mode in ipairs({ "agnostic", "barrier" }) do
    local m = S[mode][F]
    if m then
      local out = {}
      for _, p in ipairs(m.plot.curve) do
        if p.full then out[#out + 1] = ("%.6f\t%.6f"):format(p.t, p.obj) end
      end
      local name = ("%s-F%s"):format(mode, F)
      write_file(("%s/block_straggler-%s.dat"):format(outdir, name), table.concat(out, "\n") .. "\n")
      plotted[#plotted + 1] = name
    end
  end
end
local titles = {}
for i, n in ipairs(plotted) do titles[i] = n:gsub("%-F", ",F=") end
write_file(outdir .. "/block_straggler-plot.gp", ("target = %.6f\nfmax = \"%s\"\ncurves = \"%s\"\ntitles = \"%s\"\n"):format(
  target, fmax, table.concat(plotted, " "), table.concat(titles, " ")))

---------------------------------------------------------------- JSON
local js = {}
for _, F in ipairs(factors) do
  for _, mode in ipairs({ "agnostic", "barrier" }) do
    local m = S[mode][F]
    if m then
      js[#js + 1] = ('{"mode":"%s","factor":%s,"time_to_target_s":%s,"rounds_to_target":%s,"total_s":%s,'
        .. '"train_rmse":%s,"test_rmse":%s,"rounds":%s,"passes":%s,"passes_min":%s,"passes_max":%s,"repeats":%d,"reached":%d}'):format(
        mode, jnum(F), jnum(m.tt), jnum(m.rt), jnum(m.total), jnum(m.train), jnum(m.test), jnum(m.rounds),
        jnum(m.passes), jnum(m.pmin), jnum(m.pmax), m.n, m.reached)
    end
  end
end
write_file(outdir .. "/block_straggler.json", ('{"target_train_rmse":%s,"target_epoch":%d,"runs":[%s]}\n'):format(
  jnum(target), target_epoch, table.concat(js, ",")))

---------------------------------------------------------------- summary row
local sumfile = os.getenv("PMLS_BENCH_SUMMARY")
local A, B = S.agnostic[fmax], S.barrier[fmax]
if sumfile and sumfile ~= "" and A and B then
  local r = (A.tt and B.tt) and B.tt / A.tt
  local out = assert(io.open(sumfile, "a"))
  out:write(("%s\t%s\t%s\t%s\t%s\t%s\n"):format("block_straggler: agnostic speed-up over barrier",
    r and ("%.2f"):format(r) or "-", ">=", "1", (r and r >= 1) and "PASS" or "BELOW",
    ("F=%s, time to train RMSE %.3f"):format(fmax, target)))
  out:close()
end
