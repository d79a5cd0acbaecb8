-- bench/lasso_sched_report.lua: reads the metrics files of
-- bench/lasso_sched.sh and writes the Lasso scheduling table
-- (docs/lasso_sched.md, between its markers), build/bench/lasso_sched.json,
-- the plot data and the benchmark summary rows.
--
--   luajit bench/lasso_sched_report.lua MANIFEST OUTDIR DOC
--
-- MANIFEST lines, after the header lines "#param<TAB>name<TAB>value" (copied
-- into the JSON and the doc), "#eps<TAB>x" and "#check_every<TAB>n":
--   #dataset<TAB>name<TAB>title<TAB>optimum-run metrics path
--   dataset<TAB>config<TAB>U<TAB>repeat<TAB>metrics path
-- Environment: PMLS_BENCH_SUMMARY (append the summary rows there).
local manifest_path, outdir, doc_path = arg[1], arg[2], arg[3]
if not (manifest_path and outdir and doc_path) then
  io.stderr:write("usage: luajit bench/lasso_sched_report.lua MANIFEST OUTDIR DOC\n")
  os.exit(2)
end

local R = dofile((arg[0]:match("^(.*)/") or ".") .. "/report.lua")
local decode, median, jnum, jstr, finite = R.decode, R.median, R.jnum, R.jstr, R.finite
local HUGE = math.huge
local read_file, write_file = R.read_file, R.write_file

---------------------------------------------------------------- manifest
local params, datasets, by_name = {}, {}, {}
local eps, check_every = 1e-4, 20
local entries = {}
for line in assert(io.open(manifest_path)):lines() do
  local f = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do f[#f + 1] = field end
  if f[1] == "#param" then params[#params + 1] = { f[2], f[3] }
  elseif f[1] == "#eps" then eps = tonumber(f[2])
  elseif f[1] == "#check_every" then check_every = tonumber(f[2])
  elseif f[1] == "#dataset" then
    local d = { name = f[2], title = f[3], ref_path = f[4], configs = {}, cells = {} }
    datasets[#datasets + 1] = d
    by_name[d.name] = d
  elseif #f >= 5 and f[1]:sub(1, 1) ~= "#" then
    entries[#entries + 1] = { ds = f[1], config = f[2], u = tonumber(f[3]), rep = tonumber(f[4]), path = f[5] }
  end
end

---------------------------------------------------------------- runs
-- One run: the objective at the start of each round (clock), the time, and
-- the final object (absent when the run was killed).
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
    elseif obj.clock and obj.time_s then
      local o = obj.objective
      if not finite(o) then o = HUGE end -- null: overflowed to inf or NaN
      -- A clock may be written twice (the last round of a run): keep one.
      local last = run.curve[#run.curve]
      if not (last and last.clock == obj.clock) then
        run.curve[#run.curve + 1] = { clock = obj.clock, t = obj.time_s, obj = o }
      end
    end
  end
  table.sort(run.curve, function(a, b) return a.clock < b.clock end)
  if #run.curve == 0 then return nil, path .. ": no rounds" end
  return run
end

-- Update rounds (not check rounds) among rounds 1..r: the model checks at
-- round 1 and then every check_every rounds (1, 1 + c, 1 + 2c, ...).
local function update_rounds(r)
  if r <= 0 then return 0 end
  return r - (math.floor((r - 1) / check_every) + 1)
end

-- What one run tells: when it first reached the target (the objective at
-- the start of round c, i.e. after c - 1 rounds), whether it diverged, how
-- often the objective rose from one round to the next.
local function analyse(run, optimum, target)
  local c0 = run.curve[1]
  local start = c0.obj
  local fin = run.final or {}
  run.killed = run.final == nil
  run.kept_per_round = (fin.sched_rounds and fin.sched_rounds > 0 and fin.sched_kept)
    and fin.sched_kept / fin.sched_rounds or nil
  run.rounds_total = fin.clocks or run.curve[#run.curve].clock
  run.time_total = (fin.time_s or run.curve[#run.curve].t) - c0.t
  run.load_s = c0.t
  local prev, rises, best, above = nil, 0, HUGE, nil
  local last_below -- the last point at or below the start
  for _, p in ipairs(run.curve) do
    if not run.hit and p.obj <= target then run.hit = p end
    if p.obj > start * (1 + 1e-12) then
      if not above then above = p end
    else
      last_below = p
    end
    if prev and p.obj > prev * (1 + 1e-12) then rises = rises + 1 end
    prev = p.obj
    if p.obj < best then best = p.obj end
  end
  run.rises, run.best = rises, best
  run.above_start = above and (above.clock - 1) or nil -- rounds done when it first rose above the start
  local last = run.curve[#run.curve]
  -- Diverged: the model stopped it (a step beyond 1e150), or the objective
  -- overflowed, or the run ended above where it started.
  run.diverged = (fin.diverged == 1) or not finite(last.obj) or last.obj > start * (1 + 1e-12)
  -- ... from the round after which the objective stayed above its start
  if run.diverged then
    local i = last_below and last_below.clock or 0
    run.diverged_at = i
  end
  run.final_rel = (run.curve[#run.curve].obj - optimum) / optimum
  if run.hit then
    run.rounds = run.hit.clock - 1
    run.time = run.hit.t - c0.t
    local ur = update_rounds(run.rounds)
    run.update_rounds = ur
    run.updates = run.kept_per_round and ur * run.kept_per_round or nil
  end
  return run
end

local errors = {}
for _, d in ipairs(datasets) do
  local ref, err = load_run(d.ref_path)
  if not ref or not ref.final or not finite(ref.final.objective) then
    errors[#errors + 1] = ("%s: no optimum (%s)"):format(d.name, err or "the optimum run did not finish")
  else
    d.ref = ref
    d.optimum = ref.final.objective
    d.ref_gap = ref.final.duality_gap
    d.ref_rounds = ref.final.clocks
    d.ref_time = ref.final.time_s - ref.curve[1].t
    d.target = d.optimum * (1 + eps)
    d.lowest = d.optimum
  end
end
for _, e in ipairs(entries) do
  local d = by_name[e.ds]
  if d and d.optimum then
    local run, err = load_run(e.path)
    if run then
      analyse(run, d.optimum, d.target)
      run.rep = e.rep
      if run.best < d.lowest then d.lowest = run.best end
      local key = e.config .. "\0" .. e.u
      local cell = d.cells[key]
      if not cell then
        cell = { config = e.config, u = e.u, runs = {} }
        d.cells[key] = cell
        if not d.configs[e.config] then
          d.configs[e.config] = true
          d.configs[#d.configs + 1] = e.config
        end
      end
      table.insert(cell.runs, run)
    else
      errors[#errors + 1] = err
    end
  end
end
for _, e in ipairs(errors) do io.stderr:write("lasso_sched: ", e, "\n") end

---------------------------------------------------------------- summaries
local function summarize(cell)
  local rs = cell.runs
  table.sort(rs, function(a, b) return a.rep < b.rep end)
  local s = { n = #rs, reached = 0, diverged = 0, killed = 0 }
  local rounds, updates, times, kept, msr, rises, rel, div_at, late = {}, {}, {}, {}, {}, {}, {}, {}, 0
  local above, late_at = {}, {}
  for _, r in ipairs(rs) do
    if r.hit then
      s.reached = s.reached + 1
      rounds[#rounds + 1] = r.rounds
      updates[#updates + 1] = r.updates
      times[#times + 1] = r.time
      if r.diverged then late = late + 1; late_at[#late_at + 1] = r.diverged_at end
      above[#above + 1] = r.above_start
    elseif r.diverged then
      s.diverged = s.diverged + 1
      div_at[#div_at + 1] = r.diverged_at
    else
      rel[#rel + 1] = r.final_rel
    end
    if r.killed then s.killed = s.killed + 1 end
    kept[#kept + 1] = r.kept_per_round
    if r.rounds_total > 1 then msr[#msr + 1] = 1000 * r.time_total / (r.rounds_total - 1) end
    rises[#rises + 1] = r.rises
  end
  s.rounds, s.updates, s.time = median(rounds), median(updates), median(times)
  s.kept, s.ms_per_round, s.rises = median(kept), median(msr), median(rises)
  s.rel_at_cap, s.diverged_at = median(rel), median(div_at)
  s.late_divergence = late
  s.late_diverged_at = median(late_at)
  s.above_start, s.above_start_n = median(above), #above
  s.not_reached = s.n - s.reached - s.diverged
  s.plotted = rs[1]
  return s
end

local CONFIG_LABEL = { sap = nil, shotgun = "Shotgun" }
local theta
for _, p in ipairs(params) do if p[1] == "SAP dependency threshold" then theta = p[2] end end
local function label(c)
  if c == "sap" then return ("SAP θ=%s"):format(theta or "?") end
  local t = c:match("^sap(%d+)$")
  if t then return ("SAP θ=0.%s"):format(t) end
  return CONFIG_LABEL[c] or c
end

for _, d in ipairs(datasets) do
  d.order = {}
  for _, c in ipairs(d.configs) do
    local us = {}
    for _, cell in pairs(d.cells) do if cell.config == c then us[#us + 1] = cell end end
    table.sort(us, function(a, b) return a.u < b.u end)
    for _, cell in ipairs(us) do
      cell.s = summarize(cell)
      d.order[#d.order + 1] = cell
    end
  end
end

---------------------------------------------------------------- plot data
-- One file per data set, scheduler and U: round, (objective - optimum) /
-- optimum of the first repeat. Values at or below 0 (the optimum itself)
-- are written as 1e-12, beyond the plot; overflow as 1e12.
do
  local g = { ("eps = %g"):format(eps), ("ndatasets = %d"):format(0) }
  local k = 0
  for _, d in ipairs(datasets) do
    if d.optimum and #d.order > 0 then
      k = k + 1
      local files, titles, dts, colors = {}, {}, {}, {}
      local uidx, un = {}, 0
      for _, cell in ipairs(d.order) do
        if not uidx[cell.u] then un = un + 1; uidx[cell.u] = un end
      end
      -- dash: SAP (default threshold) solid, Shotgun dashed, others dotted on
      local dtof, nextdt = { sap = 1, shotgun = 2 }, 3
      for _, c in ipairs(d.configs) do
        if not dtof[c] then dtof[c] = nextdt; nextdt = nextdt + 1 end
      end
      for _, cell in ipairs(d.order) do
        local r = cell.s.plotted
        local name = ("lasso_sched-%s-%s-%d.dat"):format(d.name, cell.config, cell.u)
        local out = { ("# %s, %s, U=%d, seed %d: round (objective-optimum)/optimum time_s"):format(
          d.name, label(cell.config), cell.u, r.rep) }
        -- x is on a log scale: every round up to 100, then a point per
        -- 2% of rounds (and the last one)
        local kept_clock = 0
        for i, p in ipairs(r.curve) do
          local keep = p.clock <= 100 or p.clock >= kept_clock * 1.02 or i == #r.curve
          if not keep then goto continue end
          kept_clock = p.clock
          local rel = (p.obj - d.optimum) / d.optimum
          if not finite(rel) or rel > 1e12 then rel = 1e12 end
          if rel <= 1e-12 then rel = 1e-12 end
          out[#out + 1] = ("%d %.6e %.6f"):format(p.clock, rel, p.t)
          ::continue::
        end
        write_file(outdir .. "/" .. name, table.concat(out, "\n") .. "\n")
        files[#files + 1] = name
        titles[#titles + 1] = ("\\\"%s, U=%d\\\""):format(label(cell.config), cell.u)
        dts[#dts + 1] = tostring(dtof[cell.config])
        colors[#colors + 1] = tostring(uidx[cell.u])
      end
      g[#g + 1] = ('title_%d = "%s (optimum %.10g)"'):format(k, d.title, d.optimum)
      g[#g + 1] = ('files_%d = "%s"'):format(k, table.concat(files, " "))
      g[#g + 1] = ('titles_%d = "%s"'):format(k, table.concat(titles, " "))
      g[#g + 1] = ('dts_%d = "%s"'):format(k, table.concat(dts, " "))
      g[#g + 1] = ('colors_%d = "%s"'):format(k, table.concat(colors, " "))
    end
  end
  g[2] = ("ndatasets = %d"):format(k)
  write_file(outdir .. "/lasso_sched-plot.gp", table.concat(g, "\n") .. "\n")
end

---------------------------------------------------------------- markdown
local function f(x, fmt) if x == nil then return "–" end return (fmt or "%.2f"):format(x) end
local function big(x)
  if x == nil then return "–" end
  if x >= 1e6 then return ("%.2fM"):format(x / 1e6) end
  if x >= 1e4 then return ("%.0fk"):format(x / 1e3) end
  return ("%.0f"):format(x)
end
local function outcome(s)
  local parts = {}
  if s.reached > 0 then
    parts[#parts + 1] = s.reached == s.n and "reached" or ("reached %d/%d"):format(s.reached, s.n)
    if s.above_start then
      parts[#parts] = parts[#parts] .. (" (objective above its start after round %s%s)"):format(
        f(s.above_start, "%.0f"),
        s.above_start_n < s.reached and (" in %d/%d"):format(s.above_start_n, s.reached) or "")
    end
    if s.late_divergence > 0 then
      parts[#parts + 1] = ("%s then **diverged** by round %s"):format(
        s.late_divergence == s.reached and "all" or ("%d/%d"):format(s.late_divergence, s.reached),
        f(s.late_diverged_at, "%.0f"))
    end
  end
  if s.diverged > 0 then
    parts[#parts + 1] = ("**diverged**%s by round %s"):format(
      s.diverged == s.n and "" or (" %d/%d"):format(s.diverged, s.n), f(s.diverged_at, "%.0f"))
  end
  if s.not_reached > 0 then
    parts[#parts + 1] = ("**not reached**%s (still %s above the optimum at the cap)"):format(
      s.not_reached == s.n and "" or (" %d/%d"):format(s.not_reached, s.n), f(s.rel_at_cap, "%.1e"))
  end
  if s.killed > 0 then parts[#parts + 1] = ("%d killed by the time cap"):format(s.killed) end
  return table.concat(parts, "; ")
end

local md = {}
local function add(s) md[#md + 1] = s end
local nrep = 0
for _, d in ipairs(datasets) do
  for _, cell in ipairs(d.order) do nrep = math.max(nrep, cell.s.n) end
end
add(("Target: objective ≤ optimum × (1 + %g). Medians over the repeats that reached it (%d seed(s) per cell); generated by `bench/lasso_sched.sh` on %s."):format(
  eps, nrep, os.date("!%Y-%m-%d")))
for _, d in ipairs(datasets) do
  add("")
  add(("**%s**"):format(d.title))
  add("")
  if not d.optimum then
    add("No optimum: the optimum run did not finish (see the script's output).")
  else
    local low = (d.lowest - d.optimum) / d.optimum
    add(("Optimum %.12g (%s rounds, %.2f s after loading; duality gap %.1e, i.e. %.1e relative). Lowest objective of any run: %s."):format(
      d.optimum, big(d.ref_rounds), d.ref_time, d.ref_gap or 0 / 0,
      (d.ref_gap or 0 / 0) / d.optimum, low == 0 and "the optimum itself" or ("%+.1e relative to it"):format(low)))
    add("")
    add("| scheduler | U | coordinates per round | rounds to target | updates to target | time to target (s) | ms per round | rounds the objective rose | outcome |")
    add("|---|---|---|---|---|---|---|---|---|")
    for _, cell in ipairs(d.order) do
      local s = cell.s
      add(("| %s | %d | %s | %s | %s | %s | %s | %s | %s |"):format(
        label(cell.config), cell.u, f(s.kept, s.kept and s.kept < 10 and "%.1f" or "%.0f"),
        big(s.rounds), big(s.updates), f(s.time, "%.3f"), f(s.ms_per_round, "%.2f"),
        f(s.rises, "%.0f"), outcome(s)))
    end
  end
end
add("")
local param_text = {}
for _, p in ipairs(params) do param_text[#param_text + 1] = ("%s = %s"):format(p[1], p[2]) end
add("Settings: " .. table.concat(param_text, ", ") .. ".")
local table_md = table.concat(md, "\n")

local doc = read_file(doc_path)
local BEGIN, END = "<!-- lasso_sched-table:begin -->", "<!-- lasso_sched-table:end -->"
if doc and doc:find(BEGIN, 1, true) and doc:find(END, 1, true) then
  local a = doc:find(BEGIN, 1, true)
  local b = doc:find(END, 1, true)
  doc = doc:sub(1, a + #BEGIN - 1) .. "\n" .. table_md .. "\n" .. doc:sub(b)
  write_file(doc_path, doc)
else
  io.stderr:write(("lasso_sched: %s has no %s ... %s markers; table not written there\n"):format(doc_path, BEGIN, END))
  io.write(table_md, "\n")
end

---------------------------------------------------------------- JSON out
do
  local J = {}
  local pj = {}
  for _, p in ipairs(params) do pj[#pj + 1] = jstr(p[1]) .. ":" .. jstr(p[2]) end
  J[#J + 1] = ("{\"eps\":%g,\"params\":{%s},\"datasets\":{"):format(eps, table.concat(pj, ","))
  local ds_parts = {}
  for _, d in ipairs(datasets) do
    local cells = {}
    for _, cell in ipairs(d.order) do
      local s = cell.s
      cells[#cells + 1] = ("{\"config\":%s,\"U\":%d,\"runs\":%d,\"reached\":%d,\"diverged\":%d,\"not_reached\":%d,\"kept_per_round\":%s,\"rounds\":%s,\"updates\":%s,\"time_s\":%s,\"ms_per_round\":%s,\"rises\":%s,\"diverged_at\":%s,\"rel_at_cap\":%s}"):format(
        jstr(cell.config), cell.u, s.n, s.reached, s.diverged, s.not_reached, jnum(s.kept, "%.3f"),
        jnum(s.rounds), jnum(s.updates, "%.0f"), jnum(s.time, "%.4f"), jnum(s.ms_per_round, "%.4f"),
        jnum(s.rises), jnum(s.diverged_at), jnum(s.rel_at_cap, "%.3e"))
    end
    ds_parts[#ds_parts + 1] = ("%s:{\"title\":%s,\"optimum\":%s,\"optimum_gap\":%s,\"cells\":[%s]}"):format(
      jstr(d.name), jstr(d.title), jnum(d.optimum, "%.15g"), jnum(d.ref_gap, "%.3e"), table.concat(cells, ","))
  end
  J[#J + 1] = table.concat(ds_parts, ",") .. "}}"
  write_file(outdir .. "/lasso_sched.json", table.concat(J) .. "\n")
end

---------------------------------------------------------------- console
for _, d in ipairs(datasets) do
  io.write(("lasso_sched: %s: optimum %s\n"):format(d.name, d.optimum and ("%.12g"):format(d.optimum) or "-"))
  for _, cell in ipairs(d.order) do
    local s = cell.s
    io.write(("  %-14s U=%-5d kept %6s  rounds %6s  updates %7s  time %7s  %s\n"):format(
      label(cell.config), cell.u, f(s.kept, "%.1f"), big(s.rounds), big(s.updates), f(s.time, "%.3f"),
      (outcome(s):gsub("%*", ""))))
  end
end

-- Summary rows for bench/run.sh: name, ratio, op, target, status, note.
local sumfile = os.getenv("PMLS_BENCH_SUMMARY")
if sumfile and sumfile ~= "" then
  local out = assert(io.open(sumfile, "a"))
  local function row(name, r, op, tgt, note)
    local status = "BELOW"
    if r and ((op == ">=" and r >= tgt) or (op == "<=" and r <= tgt)) then status = "PASS" end
    out:write(("%s\t%s\t%s\t%s\t%s\t%s\n"):format(name, r and ("%.2f"):format(r) or "-", op, tostring(tgt), status, note))
  end
  -- SAP (the default threshold) should reach the target at every U on
  -- the data sets where the threshold is above the features' typical
  -- correlation (synthetic rho = 0.8, 20news); Shotgun at the largest U on
  -- the correlated set should not.
  local sap_ok, sap_n, shot_fail, shot_n, shot_u, notes = 0, 0, 0, 0, 0, {}
  for _, d in ipairs(datasets) do
    local umax = 0
    for _, cell in ipairs(d.order) do umax = math.max(umax, cell.u) end
    for _, cell in ipairs(d.order) do
      local s = cell.s
      if cell.config == "sap" then
        if d.name ~= "syn-rho0.5" then
          sap_n = sap_n + s.n
          sap_ok = sap_ok + s.reached - s.late_divergence
        elseif s.reached - s.late_divergence < s.n then
          notes[#notes + 1] = ("rho=0.5 U=%d %d/%d"):format(cell.u, s.reached - s.late_divergence, s.n)
        end
      elseif cell.config == "shotgun" and cell.u == umax and d.name == "syn-rho0.8" then
        shot_n, shot_u = shot_n + s.n, cell.u
        shot_fail = shot_fail + s.n - s.reached
      end
    end
  end
  if sap_n > 0 then
    row("lasso: SAP runs reaching 1e-4", sap_ok / sap_n, ">=", 1,
      "syn rho=0.8 and 20news, every U" .. (#notes > 0 and ("; theta too high for syn " .. table.concat(notes, ", ")) or ""))
  end
  if shot_n > 0 then
    row(("lasso: Shotgun U=%d failing, rho=0.8"):format(shot_u), shot_fail / shot_n, ">=", 1,
      "share of runs that diverged or missed the target")
  end
  out:close()
end
