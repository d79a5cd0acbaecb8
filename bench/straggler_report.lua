-- bench/straggler_report.lua: reads the metrics files of bench/straggler.sh
-- and writes the straggler table (docs/straggler.md, between its markers),
-- build/bench/straggler.json, the plot data and the benchmark summary rows.
--
--   luajit bench/straggler_report.lua MANIFEST OUTDIR DOC
--
-- MANIFEST has one line per run: "condition<TAB>model<TAB>repeat<TAB>path"
-- (condition is "straggler" or "reference"), after header lines
-- "#param<TAB>name<TAB>value" that are copied into the JSON and the doc.
-- Environment: PMLS_BENCH_SUMMARY (append the summary rows there),
-- STRAGGLER_MARGIN (the target is the BSP run's final training RMSE times
-- 1 + margin; default 0.05).
local manifest_path, outdir, doc_path = arg[1], arg[2], arg[3]
local window -- clocks per epoch (set from the manifest)
if not (manifest_path and outdir and doc_path) then
  io.stderr:write("usage: luajit bench/straggler_report.lua MANIFEST OUTDIR DOC\n")
  os.exit(2)
end

local R = dofile((arg[0]:match("^(.*)/") or ".") .. "/report.lua")
local decode, median, jnum, jstr = R.decode, R.median, R.jnum, R.jstr
local read_file, write_file = R.read_file, R.write_file

---------------------------------------------------------------- runs
-- One run: its per-clock curve, its final object, and what we derive.
local function load_run(path)
  local text = read_file(path)
  if not text then return nil, "missing " .. path end
  local run = { path = path, curve = {} }
  local n = 0
  for line in text:gmatch("[^\n]+") do
    n = n + 1
    local ok, obj = pcall(decode, line)
    if not ok then return nil, ("%s:%d: %s"):format(path, n, obj) end
    if obj.final then run.final = obj
    elseif obj.clock and obj.time_s and obj.train_rmse then
      run.curve[#run.curve + 1] = { clock = obj.clock, t = obj.time_s, rmse = obj.train_rmse,
                                    staleness = obj.staleness }
    end
  end
  if not run.final then return nil, path .. ": no final object (the run did not finish)" end
  -- The objective at clock k: the training RMSE over the last `window`
  -- clocks (one epoch), i.e. the root of the mean of their squared RMSEs
  -- (the slices are of equal size). One clock's slice alone is noisy.
  table.sort(run.curve, function(a, b) return a.clock < b.clock end)
  local sq = 0
  for k, p in ipairs(run.curve) do
    sq = sq + p.rmse * p.rmse
    if k > window then sq = sq - run.curve[k - window].rmse ^ 2 end
    p.obj = math.sqrt(math.max(sq, 0) / math.min(k, window))
    p.full = k >= window
  end
  -- Staleness over every worker read of both tables (L and R): counts-weighted
  -- mean, and the variance of the pooled reads.
  local N, S = 0, 0
  local tabs = run.final.tables or {}
  for _, t in pairs(tabs) do
    N = N + (t.rows_read or 0)
    S = S + (t.rows_read or 0) * (t.staleness_mean or 0)
  end
  local mean = N > 0 and S / N or 0
  local V, max, hits = 0, 0, 0
  run.hist = {}
  for _, t in pairs(tabs) do
    for i, c in ipairs(t.staleness_hist or {}) do run.hist[i] = (run.hist[i] or 0) + c end
    local d = (t.staleness_mean or 0) - mean
    V = V + (t.rows_read or 0) * ((t.staleness_var or 0) + d * d)
    max = math.max(max, t.staleness_max or 0)
    hits = hits + (t.cache_hits or 0)
  end
  run.staleness_mean = mean
  run.staleness_var = N > 0 and V / N or 0
  run.staleness_max = max
  run.hit_rate = N > 0 and hits / N or nil
  run.reads = N
  run.total_s = run.final.time_s
  run.test_rmse = run.final.test_rmse
  run.train_rmse = #run.curve > 0 and run.curve[#run.curve].obj or run.final.train_rmse
  run.slowed_s = run.final.slowed_s
  run.clocks = run.final.clocks
  return run
end

local function time_to(run, target)
  for _, p in ipairs(run.curve) do
    if p.full and p.obj <= target then return p.t, p.clock end
  end
  return nil
end

---------------------------------------------------------------- manifest
-- "#window<TAB>N" in the manifest: clocks per epoch, the objective's window.
window = 1
for line in assert(io.open(manifest_path)):lines() do
  local n = line:match("^#window\t(%d+)")
  if n then window = tonumber(n) end
end

local params, order, runs = {}, {}, { straggler = {}, reference = {} }
local seen = {}
local errors = {}
for line in assert(io.open(manifest_path)):lines() do
  local f = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do f[#f + 1] = field end
  if f[1] == "#param" then
    params[#params + 1] = { f[2], f[3] }
  elseif #f >= 4 then
    local cond, model, rep, path = f[1], f[2], tonumber(f[3]), f[4]
    if not seen[model] then seen[model] = true; order[#order + 1] = model end
    local run, err = load_run(path)
    if run then
      run.rep = rep
      runs[cond][model] = runs[cond][model] or {}
      table.insert(runs[cond][model], run)
    else
      errors[#errors + 1] = err
    end
  end
end
for _, e in ipairs(errors) do io.stderr:write("straggler: ", e, "\n") end
-- A fixed order: BSP, SSP by s, ESSP by s, Async, then anything else.
local function rank(m)
  if m == "bsp" then return 0 end
  local kind, n = m:match("^(%a+)(%d+)$")
  if kind == "ssp" then return 100 + tonumber(n) end
  if kind == "essp" then return 200 + tonumber(n) end
  if m == "async" then return 300 end
  return 400
end
table.sort(order, function(a, b)
  if rank(a) ~= rank(b) then return rank(a) < rank(b) end
  return a < b
end)

local bsp = runs.straggler.bsp
if not bsp or #bsp == 0 then
  io.stderr:write("straggler: no finished BSP run with the straggler; nothing to report\n")
  os.exit(1)
end

-- The target: the BSP run's final training RMSE (median over repeats) plus
-- a margin, rounded up to 3 decimals so the table can quote it exactly.
local margin = tonumber(os.getenv("STRAGGLER_MARGIN") or "") or 0.05
local bsp_final = {}
for _, r in ipairs(bsp) do bsp_final[#bsp_final + 1] = r.train_rmse end
local target = math.ceil(median(bsp_final) * (1 + margin) * 1000) / 1000

-- Per model and condition: medians over repeats, and the repeat whose time
-- to target is the median one (its curve is the one plotted).
local function summarize(list)
  if not list or #list == 0 then return nil end
  local tt, tot, te, sm, sv, smax, hr, slept, reached = {}, {}, {}, {}, {}, {}, {}, {}, 0
  for _, r in ipairs(list) do
    r.tt, r.tt_clock = time_to(r, target)
    if r.tt then reached = reached + 1 end
    tt[#tt + 1] = r.tt or math.huge
    tot[#tot + 1] = r.total_s
    te[#te + 1] = r.test_rmse
    sm[#sm + 1] = r.staleness_mean
    sv[#sv + 1] = r.staleness_var
    smax[#smax + 1] = r.staleness_max
    hr[#hr + 1] = r.hit_rate
    slept[#slept + 1] = r.slowed_s
  end
  -- The share of reads at each staleness, over every repeat's reads.
  local hist, total = {}, 0
  for _, r in ipairs(list) do
    for i, c in ipairs(r.hist) do hist[i] = (hist[i] or 0) + c; total = total + c end
  end
  local last = 0
  for i, c in ipairs(hist) do if c > 0 then last = i end end
  local share = {}
  for i = 1, last do share[i] = total > 0 and hist[i] / total or 0 end
  local s = {
    repeats = #list, reached = reached, share = share,
    time_to_target = median(tt), total_s = median(tot), test_rmse = median(te),
    staleness_mean = median(sm), staleness_var = median(sv),
    staleness_max = median(smax), hit_rate = median(hr), slowed_s = median(slept),
    times_to_target = tt,
  }
  if s.time_to_target == math.huge then s.time_to_target = nil end
  -- The plotted repeat: the one closest to the median time to target.
  local best, bestd = list[1], math.huge
  for _, r in ipairs(list) do
    local d = math.abs((r.tt or 1e9) - (s.time_to_target or 1e9))
    if d < bestd then best, bestd = r, d end
  end
  s.plotted = best
  s.clock_at_target = best.tt_clock
  return s
end

local summary = { straggler = {}, reference = {} }
for _, cond in ipairs { "straggler", "reference" } do
  for _, m in ipairs(order) do summary[cond][m] = summarize(runs[cond][m]) end
end

---------------------------------------------------------------- labels
local function label(m)
  if m == "bsp" then return "BSP" end
  if m == "async" then return "Async" end
  local kind, s = m:match("^(%a+)(%d+)$")
  if kind then return ("%s s=%s"):format(kind:upper(), s) end
  return m
end

---------------------------------------------------------------- plot data
for _, m in ipairs(order) do
  local s = summary.straggler[m]
  if s then
    local out = { ("# %s, repeat %d: time_s objective(last-epoch train RMSE) clock clock_train_rmse"):format(label(m), s.plotted.rep) }
    for _, p in ipairs(s.plotted.curve) do
      if p.full then
        out[#out + 1] = ("%.6f %.6f %d %.6f"):format(p.t, p.obj, p.clock, p.rmse)
      end
    end
    write_file(("%s/straggler-%s.dat"):format(outdir, m), table.concat(out, "\n") .. "\n")
  end
end
-- gnuplot reads the list of curves, their titles and the target from here.
do
  local names, titles = {}, {}
  for _, m in ipairs(order) do
    if summary.straggler[m] then
      names[#names + 1] = m
      titles[#titles + 1] = (label(m):gsub(" s=(%d+)", "(s=%1)"))
    end
  end
  write_file(outdir .. "/straggler-plot.gp", table.concat({
    ("target = %.3f"):format(target),
    ('models = "%s"'):format(table.concat(names, " ")),
    ('titles = "%s"'):format(table.concat(titles, " ")),
  }, "\n") .. "\n")
end

---------------------------------------------------------------- checks
local function ratio(a, b) if a and b and b > 0 then return a / b end end
local B = summary.straggler.bsp
local speedups = {}
for _, m in ipairs(order) do
  local s = summary.straggler[m]
  if s and m:match("^ssp%d") then
    speedups[#speedups + 1] = { m, ratio(B.time_to_target, s.time_to_target) }
  end
end
local S2, E = summary.straggler.ssp2, summary.straggler.essp2

---------------------------------------------------------------- markdown
local function f(x, fmt) if x == nil then return "–" end return (fmt or "%.2f"):format(x) end
local md = {}
local function add(s) md[#md + 1] = s end
local param_text = {}
for _, p in ipairs(params) do param_text[#param_text + 1] = ("%s = %s"):format(p[1], p[2]) end
add(("Target: training RMSE over the last epoch ≤ **%.3f** (BSP's final %.4f plus %g%%). Medians over %d repeat(s); generated by `bench/straggler.sh` on %s."):format(
  target, median(bsp_final), margin * 100, B.repeats, os.date("!%Y-%m-%d")))
add("")
add("**With the straggler**")
add("")
local function shares(sh)
  local t = {}
  for i, x in ipairs(sh or {}) do t[i] = ("%.0f"):format(100 * x) end
  return #t > 0 and table.concat(t, " · ") or "–"
end
local function range(xs)
  local lo, hi
  for _, x in ipairs(xs) do
    if x ~= math.huge then lo, hi = math.min(lo or x, x), math.max(hi or x, x) end
  end
  if lo and #xs > 1 then return (" (%.2f–%.2f)"):format(lo, hi) end
  return ""
end
add("| model | time to target (s) | speed-up over BSP | clock at target | total time (s) | straggler slept (s) | test RMSE | staleness mean | staleness var | % of reads at staleness 0 · 1 · 2 … | cache hits |")
add("|---|---|---|---|---|---|---|---|---|---|---|")
for _, m in ipairs(order) do
  local s = summary.straggler[m]
  if s then
    local tt = s.time_to_target
    local reached = s.reached < s.repeats and (" (%d/%d reached)"):format(s.reached, s.repeats) or ""
    add(("| %s | %s%s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"):format(
      label(m), f(tt), range(s.times_to_target), reached, f(ratio(B.time_to_target, tt), "%.2f×"),
      s.clock_at_target and tostring(s.clock_at_target) or "–",
      f(s.total_s), f(s.slowed_s), f(s.test_rmse, "%.4f"), f(s.staleness_mean, "%.3f"),
      f(s.staleness_var, "%.3f"), shares(s.share),
      s.hit_rate and ("%.0f%%"):format(100 * s.hit_rate) or "–"))
  end
end
local RB = summary.reference.bsp
if RB then
  add("")
  add(("**Without the straggler** (the same runs with no worker slowed; medians over %d repeat(s)), and what the straggler cost each model"):format(RB.repeats))
  add("")
  add("| model | time to target (s) | speed-up over BSP | straggler cost (s) | straggler cost (×) | staleness mean | staleness var | % of reads at staleness 0 · 1 · 2 … |")
  add("|---|---|---|---|---|---|---|---|")
  for _, m in ipairs(order) do
    local s, r = summary.straggler[m], summary.reference[m]
    if r then
      local tt = r.time_to_target
      local st = s and s.time_to_target
      add(("| %s | %s%s | %s | %s | %s | %s | %s | %s |"):format(label(m), f(tt), range(r.times_to_target),
        f(ratio(RB.time_to_target, tt), "%.2f×"),
        (st and tt) and f(st - tt, "%+.2f") or "–", f(ratio(st, tt), "%.2f×"),
        f(r.staleness_mean, "%.3f"), f(r.staleness_var, "%.3f"), shares(r.share)))
    end
  end
end
add("")
add("Settings: " .. table.concat(param_text, ", ") .. ".")
local table_md = table.concat(md, "\n")

local doc = read_file(doc_path)
local BEGIN, END = "<!-- straggler-table:begin -->", "<!-- straggler-table:end -->"
if doc and doc:find(BEGIN, 1, true) and doc:find(END, 1, true) then
  local a = doc:find(BEGIN, 1, true)
  local b = doc:find(END, 1, true)
  doc = doc:sub(1, a + #BEGIN - 1) .. "\n" .. table_md .. "\n" .. doc:sub(b)
  write_file(doc_path, doc)
else
  io.stderr:write(("straggler: %s has no %s ... %s markers; table not written there\n"):format(doc_path, BEGIN, END))
end

---------------------------------------------------------------- JSON out
local J = {}
local function model_json(s)
  if not s then return "null" end
  local tts = {}
  for _, x in ipairs(s.times_to_target) do tts[#tts + 1] = jnum(x ~= math.huge and x or nil, "%.4f") end
  local sh = {}
  for i, x in ipairs(s.share) do sh[i] = jnum(x, "%.4f") end
  return ("{\"staleness_share\":[%s],\"repeats\":%d,\"reached\":%d,\"time_to_target_s\":%s,\"times_to_target_s\":[%s],\"clock_at_target\":%s,\"total_s\":%s,\"test_rmse\":%s,\"staleness_mean\":%s,\"staleness_var\":%s,\"staleness_max\":%s,\"cache_hit_rate\":%s,\"slowed_s\":%s}"):format(
    table.concat(sh, ","), s.repeats, s.reached, jnum(s.time_to_target, "%.4f"), table.concat(tts, ","),
    jnum(s.clock_at_target), jnum(s.total_s, "%.4f"), jnum(s.test_rmse, "%.6f"),
    jnum(s.staleness_mean), jnum(s.staleness_var), jnum(s.staleness_max),
    jnum(s.hit_rate, "%.4f"), jnum(s.slowed_s, "%.4f"))
end
local pj = {}
for _, p in ipairs(params) do pj[#pj + 1] = jstr(p[1]) .. ":" .. jstr(p[2]) end
J[#J + 1] = ("{\"target_train_rmse\":%.3f,\"margin\":%g,\"params\":{%s}"):format(target, margin, table.concat(pj, ","))
for _, cond in ipairs { "straggler", "reference" } do
  local parts = {}
  for _, m in ipairs(order) do
    if summary[cond][m] then parts[#parts + 1] = jstr(m) .. ":" .. model_json(summary[cond][m]) end
  end
  J[#J + 1] = (",%s:{%s}"):format(jstr(cond), table.concat(parts, ","))
end
local sp = {}
for _, x in ipairs(speedups) do sp[#sp + 1] = jstr(x[1]) .. ":" .. jnum(x[2], "%.3f") end
J[#J + 1] = (",\"speedup_over_bsp\":{%s}}"):format(table.concat(sp, ","))
write_file(outdir .. "/straggler.json", table.concat(J) .. "\n")

---------------------------------------------------------------- console
io.write(("straggler: target training RMSE %.3f\n"):format(target))
io.write(("%-10s %9s %8s %8s %9s %9s %9s %9s\n"):format("model", "to-target", "speedup", "total", "test", "st.mean", "st.var", "ref"))
for _, m in ipairs(order) do
  local s, r = summary.straggler[m], summary.reference[m]
  if s then
    io.write(("%-10s %9s %8s %8s %9s %9s %9s %9s\n"):format(m, f(s.time_to_target),
      f(ratio(B.time_to_target, s.time_to_target), "%.2fx"), f(s.total_s), f(s.test_rmse, "%.4f"),
      f(s.staleness_mean, "%.3f"), f(s.staleness_var, "%.3f"), r and f(r.time_to_target) or "-"))
  end
end

-- Summary rows for bench/run.sh: name, ratio, op, target, status, note.
local sumfile = os.getenv("PMLS_BENCH_SUMMARY")
if sumfile and sumfile ~= "" then
  local out = assert(io.open(sumfile, "a"))
  local function row(name, r, op, tgt, note)
    local status = "BELOW"
    if r and ((op == ">=" and r >= tgt) or (op == "<" and r < tgt) or (op == "<=" and r <= tgt)) then
      status = "PASS"
    end
    out:write(("%s\t%s\t%s\t%s\t%s\t%s\n"):format(name, r and ("%.2f"):format(r) or "-", op, tostring(tgt), status, note))
  end
  if B then
    local parts = {}
    for _, x in ipairs(speedups) do parts[#parts + 1] = ("%s %s"):format(x[1], f(x[2], "%.2f")) end
    local s2 = ratio(B.time_to_target, S2 and S2.time_to_target)
    row("straggler: SSP(s=2) speed-up over BSP", s2, ">=", 1.5,
      ("time to train RMSE %.3f; %s"):format(target, table.concat(parts, ", ")))
  end
  if S2 and E then
    -- ESSP should read fresher rows than SSP at the same bound: both the
    -- mean and the variance lower. The ratio shown is the worse of the two.
    local rm, rv = ratio(E.staleness_mean, S2.staleness_mean), ratio(E.staleness_var, S2.staleness_var)
    local RS, RE = summary.reference.ssp2, summary.reference.essp2
    local note = ("s=2: mean %s, var %s"):format(f(rm, "%.2f"), f(rv, "%.2f"))
    if RS and RE then
      note = note .. ("; without straggler: mean %s, var %s"):format(
        f(ratio(RE.staleness_mean, RS.staleness_mean), "%.2f"), f(ratio(RE.staleness_var, RS.staleness_var), "%.2f"))
    end
    row("straggler: ESSP/SSP staleness", (rm and rv) and math.max(rm, rv), "<", 1, note)
  end
  out:close()
end
