-- Spec for the consistency guarantees (docs/consistency.md), as properties
-- checked against what the engine actually did:
--
--  * the definition, over random schedules: spec/fixtures/consistency_probe.lua
--    runs with random per-worker delays (a straggler, random pauses), under
--    every model and every deployment, and logs every read (worker, clock c,
--    row, copy clock k, the row's values) and every increment. The checker
--    below replays the logs and checks each read:
--      bound    k >= c - s (BSP s = 0, SSP/ESSP s, async: no bound);
--      missing  the copy holds every update each worker made before its
--               k-th clock() (all of them when it never made a k-th call);
--      invented no value exceeds what its worker ever added;
--      own      the reader's own column is exactly what it has added so far;
--  * no lost increments: after the run every cell equals the sum of its
--    logged increments, exactly for int64 tables, within rounding for
--    float64;
--  * s = 0 with one worker reproduces serial execution bit for bit
--    (spec/fixtures/serial_linreg.lua against spec/fixtures/serial_common.lua).
--
-- The checker is itself tested first: corrupted logs (a copy too old, a
-- missing own update, a lost increment, ...) must each be flagged.
--
-- Schedules are random: PMLS_PROBE_SEED=N fixes the base seed (a failure
-- names it), PMLS_PROBE_ROUNDS=N sets the schedules per configuration. The
-- log directory of a failing run is kept and named in the failure.
local helpers = require "helpers"

local PROBE = helpers.fixtures .. "/consistency_probe.lua"
local SERIAL = helpers.fixtures .. "/serial_linreg.lua"
local ROUNDS = tonumber(os.getenv("PMLS_PROBE_ROUNDS")) or 4
local BASE_SEED = tonumber(os.getenv("PMLS_PROBE_SEED")) or (os.time() % 100000)
local RUN_TIMEOUT = 90 -- seconds, a hang fails instead of stalling the suite

-- ---- running a script with a deadline --------------------------------------

local function run_pmls(args)
  local quoted = {}
  for i, a in ipairs(args) do quoted[i] = helpers.quote(a) end
  local cmd = "build/bin/pmls " .. table.concat(quoted, " ")
  local rc, out = helpers.sh(("timeout -k 5 %d %s 2>&1"):format(RUN_TIMEOUT, cmd))
  return { rc = rc, out = out, cmd = cmd }
end

local function mkdir_temp()
  local p = assert(io.popen("mktemp -d /tmp/pmls-consistency.XXXXXX"))
  local dir = p:read("*l")
  p:close()
  assert(dir and dir ~= "", "mktemp -d failed")
  return dir
end

local function list_dir(dir)
  local p = assert(io.popen("ls -1 " .. helpers.quote(dir)))
  local names = {}
  for name in p:lines() do names[#names + 1] = name end
  p:close()
  return names
end

-- ---- the checker ------------------------------------------------------------

local checker = {}

local function words(line)
  local t = {}
  for w in line:gmatch("%S+") do t[#t + 1] = w end
  return t
end

local function int(s)
  local v = tonumber(s)
  if v == nil or v % 1 ~= 0 then return nil end
  return v
end

-- Parses one worker log (see the probe for the format). Returns a record or
-- nil and why.
function checker.parse_worker(text, name)
  local lines = helpers.split_lines(text)
  local h = words(lines[1] or "")
  if h[1] ~= "H" or #h ~= 6 then return nil, name .. ": no header line" end
  local rec = { name = name, w = int(h[2]), W = int(h[3]), procs = int(h[4]),
                rank = int(h[5]), clocks = int(h[6]), events = {}, ended = false }
  for i = 2, #lines do
    local f = words(lines[i])
    local ev = { kind = f[1], line = i }
    if f[1] == "I" and #f == 4 then
      ev.t, ev.row, ev.n = int(f[2]), int(f[3]), int(f[4])
    elseif f[1] == "R" and #f == 5 + rec.W then
      ev.t, ev.c, ev.row, ev.k = int(f[2]), int(f[3]), int(f[4]), int(f[5])
      ev.vals = {}
      for j = 0, rec.W - 1 do ev.vals[j] = int(f[6 + j]) end
    elseif f[1] == "C" and #f == 2 then
      ev.c = int(f[2])
    elseif f[1] == "E" and #f == 1 then
      rec.ended = true
    else
      return nil, ("%s:%d: malformed line: %s"):format(name, i, lines[i])
    end
    if f[1] ~= "E" then
      if rec.ended then return nil, ("%s:%d: a line after E"):format(name, i) end
      rec.events[#rec.events + 1] = ev
    end
  end
  return rec
end

-- run = {
--   logs = { [file name] = text },    every w<id>.log
--   finals = { [file name] = text },  every final-<rank>.log
--   workers = W,                      workers in the job
--   bounds = { [t] = s or false },    per int64 table: its bound (false: async)
--   rows = number of rows per table,
-- }
-- Returns violations (a list of {kind =, msg =}) and statistics.
function checker.check(run)
  local violations = {}
  local function flag(kind, fmt, ...)
    violations[#violations + 1] = { kind = kind, msg = kind .. ": " .. fmt:format(...) }
  end
  local stats = { reads = 0, incs = 0, tables = {}, ahead = 0 }
  for t in pairs(run.bounds) do
    stats.tables[t] = { reads = 0, incs = 0, max = 0, hist = {}, stale_reads = 0 }
  end

  -- Parse, one log per worker 0..W-1.
  local recs = {}
  for name, text in pairs(run.logs) do
    local rec, err = checker.parse_worker(text, name)
    if not rec then
      flag("log", "%s", err)
    elseif rec.W ~= run.workers then
      flag("log", "%s says %s workers, the job has %d", name, tostring(rec.W), run.workers)
    elseif rec.w == nil or rec.w < 0 or rec.w >= run.workers then
      flag("log", "%s: bad worker id %s", name, tostring(rec.w))
    elseif recs[rec.w] then
      flag("log", "two logs for worker %d (%s, %s)", rec.w, recs[rec.w].name, name)
    else
      recs[rec.w] = rec
    end
  end
  for w = 0, run.workers - 1 do
    if not recs[w] then flag("log", "no log from worker %d (it did not finish?)", w) end
  end
  if #violations > 0 then return violations, stats end

  -- Increments per worker: made[w][t][row][interval], where interval i holds
  -- the increments made between the i-th and (i+1)-th clock() calls (the
  -- last interval, after the last clock, is flushed when the worker ends).
  local prefix, total, ftotal = {}, {}, {}
  local function cell(tab, t, row)
    tab[t] = tab[t] or {}
    tab[t][row] = tab[t][row] or {}
    return tab[t][row]
  end
  for w = 0, run.workers - 1 do
    local rec = recs[w]
    if not rec.ended then flag("log", "%s has no end line: the worker did not finish", rec.name) end
    local made = {}
    local interval = 0
    for _, ev in ipairs(rec.events) do
      if ev.kind == "I" then
        if run.bounds[ev.t] == nil or ev.row < 0 or ev.row >= run.rows then
          flag("log", "%s:%d: increment to unknown table/row", rec.name, ev.line)
        else
          local m = cell(made, ev.t, ev.row)
          m[interval] = (m[interval] or 0) + ev.n
          local ft = cell(ftotal, 0, ev.row)
          ft[w] = (ft[w] or 0) + ev.n * 0.1
          stats.incs = stats.incs + 1
          stats.tables[ev.t].incs = stats.tables[ev.t].incs + 1
        end
      elseif ev.kind == "C" then
        if ev.c ~= interval + 1 then
          flag("log", "%s:%d: clock count %s after %d clocks", rec.name, ev.line, tostring(ev.c), interval)
        end
        interval = interval + 1
      end
    end
    if interval ~= rec.clocks then
      flag("log", "%s: %d clocks logged, the header says %s", rec.name, interval, tostring(rec.clocks))
    end
    prefix[w], total[w] = {}, {}
    for t, rows in pairs(made) do
      for row, per in pairs(rows) do
        local p = cell(prefix[w], t, row)
        local sum = 0
        for k = 0, interval do
          p[k] = sum          -- made before the k-th clock() call
          sum = sum + (per[k] or 0)
        end
        cell(total[w], t, row)[1] = sum
      end
    end
  end
  checker.last = { recs = recs, prefix = prefix, total = total }

  local function total_of(w, t, row)
    local c = total[w][t] and total[w][t][row]
    return c and c[1] or 0
  end
  -- What a copy at clock k must hold of worker w's increments to (t, row).
  local function required(w, t, row, k)
    if k > recs[w].clocks then return total_of(w, t, row) end
    local p = prefix[w][t] and prefix[w][t][row]
    return p and p[k] or 0
  end
  checker.required, checker.total_of = required, total_of

  -- Every read.
  for w = 0, run.workers - 1 do
    local rec = recs[w]
    local own = {}
    local clock = 0
    for _, ev in ipairs(rec.events) do
      if ev.kind == "I" then
        local o = cell(own, ev.t, ev.row)
        o[1] = (o[1] or 0) + ev.n
      elseif ev.kind == "C" then
        clock = ev.c or clock
      elseif ev.kind == "R" then
        local where = ("%s:%d (worker %d, clock %s, table t%s row %s, copy clock %s)"):format(
          rec.name, ev.line, w, tostring(ev.c), tostring(ev.t), tostring(ev.row), tostring(ev.k))
        local bound = run.bounds[ev.t]
        if bound == nil or ev.row == nil or ev.row < 0 or ev.row >= run.rows then
          flag("log", "%s: read of an unknown table/row", where)
        elseif ev.c ~= clock then
          flag("log", "%s: logged clock %s, but the worker had made %d clock() calls", where, tostring(ev.c), clock)
        elseif ev.k == nil or ev.k < 0 then
          flag("bound", "%s: no copy clock for a successful read", where)
        else
          stats.reads = stats.reads + 1
          local ts = stats.tables[ev.t]
          ts.reads = ts.reads + 1
          local st = ev.c - ev.k
          if st < 0 then stats.ahead = stats.ahead + 1; st = 0 end
          ts.hist[st] = (ts.hist[st] or 0) + 1
          if st > ts.max then ts.max = st end
          if st > 0 then ts.stale_reads = ts.stale_reads + 1 end
          if bound and ev.k < ev.c - bound then
            flag("bound", "%s: staleness %d exceeds the bound %d", where, ev.c - ev.k, bound)
          end
          for j = 0, run.workers - 1 do
            local v = ev.vals[j]
            if j == w then
              local mine = own[ev.t] and own[ev.t][ev.row] and own[ev.t][ev.row][1] or 0
              if v ~= mine then
                flag("own", "%s: own column holds %s, the worker has added %d", where, tostring(v), mine)
              end
            else
              local need, all = required(j, ev.t, ev.row, ev.k), total_of(j, ev.t, ev.row)
              if v == nil or v < need then
                flag("missing", "%s: column %d holds %s, but worker %d added %d before its clock %d",
                     where, j, tostring(v), j, need, ev.k)
              elseif v > all then
                flag("invented", "%s: column %d holds %s, more than the %d worker %d ever added",
                     where, j, tostring(v), all, j)
              end
            end
          end
        end
      end
    end
  end

  -- No lost increments: every final read-back.
  local nfinal = 0
  for name, text in pairs(run.finals) do
    nfinal = nfinal + 1
    local seen = {}
    for i, line in ipairs(helpers.split_lines(text)) do
      local f = words(line)
      local key
      if f[1] == "F" and #f == 3 + run.workers then
        local t, row = int(f[2]), int(f[3])
        key = ("F %s %s"):format(tostring(t), tostring(row))
        for j = 0, run.workers - 1 do
          local v, want = int(f[4 + j]), total_of(j, t, row)
          if v ~= want then
            flag("lost", "%s:%d: table t%s row %s column %d holds %s after the run; its increments sum to %d",
                 name, i, tostring(t), tostring(row), j, tostring(f[4 + j]), want)
          end
        end
      elseif f[1] == "G" and #f == 2 + run.workers then
        local row = int(f[2])
        key = "G " .. tostring(row)
        for j = 0, run.workers - 1 do
          local v = tonumber(f[3 + j])
          local want = ftotal[0] and ftotal[0][row] and ftotal[0][row][j] or 0
          if v == nil or math.abs(v - want) > 1e-9 * math.max(1, math.abs(want)) then
            flag("lost", "%s:%d: float table f row %s column %d holds %s after the run; its increments sum to %.17g",
                 name, i, tostring(row), j, tostring(f[3 + j]), want)
          end
        end
      else
        flag("log", "%s:%d: malformed line: %s", name, i, line)
      end
      if key then seen[key] = true end
    end
    for t in pairs(run.bounds) do
      for row = 0, run.rows - 1 do
        if not seen[("F %d %d"):format(t, row)] then flag("log", "%s: no final values of t%d row %d", name, t, row) end
      end
    end
    for row = 0, run.rows - 1 do
      if not seen["G " .. row] then flag("log", "%s: no final values of f row %d", name, row) end
    end
  end
  if nfinal == 0 then flag("log", "no final-<rank>.log: app:finish did not run") end
  return violations, stats
end

local function kinds_of(violations)
  local k = {}
  for _, v in ipairs(violations) do k[v.kind] = (k[v.kind] or 0) + 1 end
  return k
end

local function summary(violations, limit)
  local out = {}
  for i = 1, math.min(#violations, limit or 8) do out[#out + 1] = "  " .. violations[i].msg end
  if #violations > (limit or 8) then out[#out + 1] = ("  ... and %d more"):format(#violations - (limit or 8)) end
  return table.concat(out, "\n")
end

-- ---- probe runs ---------------------------------------------------------------

local PROBE_ROWS = 8

-- Runs the probe once; returns a run record for checker.check plus what is
-- needed to report a failure. bounds: those of the dense tables t0..; the
-- probe adds a sparse table with t0's model after them (--sparse).
local function probe_run(deploy_args, model_args, workers, bounds, seed, extra)
  local all = {}
  local n = 0
  for t, b in pairs(bounds) do all[t] = b; n = n + 1 end
  all[n] = bounds[0]
  bounds = all
  local dir = mkdir_temp()
  local args = { "run", PROBE }
  for _, a in ipairs(deploy_args) do args[#args + 1] = a end
  for _, a in ipairs(model_args) do args[#args + 1] = a end
  for _, a in ipairs({ "--servers", "2", "-q", "--timeout", "10", "--metrics", dir .. "/metrics.jsonl",
                       "--rows", tostring(PROBE_ROWS), "--clocks", "12", "--steps", "14",
                       "--max-delay-ms", "3", "--probe-seed", tostring(seed), "--log-dir", dir, "--sparse" }) do
    args[#args + 1] = a
  end
  for _, a in ipairs(extra or {}) do args[#args + 1] = a end
  local res = run_pmls(args)
  local run = { dir = dir, res = res, workers = workers, bounds = bounds, rows = PROBE_ROWS,
                logs = {}, finals = {}, seed = seed }
  for _, name in ipairs(list_dir(dir)) do
    if name:match("^w%d+%.log$") then run.logs[name] = helpers.read_file(dir .. "/" .. name)
    elseif name:match("^final%-%d+%.log$") then run.finals[name] = helpers.read_file(dir .. "/" .. name) end
  end
  return run
end

local function describe_run(run)
  return ("\n  reproduce: %s\n  (PMLS_PROBE_SEED=%d; logs kept in %s)"):format(run.res.cmd, BASE_SEED, run.dir)
end

local function discard(run) os.execute("rm -rf " .. helpers.quote(run.dir)) end

-- ---- the checker, against corrupted logs ----------------------------------------

describe("the consistency checker", function()
  local base -- a real BSP run, checked clean

  setup(function()
    base = probe_run({ "-w", "3" }, { "--consistency", "bsp" }, 3, { [0] = 0 }, BASE_SEED)
  end)
  teardown(function() if base then discard(base) end end)

  local function copy_run(bounds)
    local r = { workers = base.workers, bounds = bounds or base.bounds, rows = base.rows, logs = {}, finals = {} }
    for k, v in pairs(base.logs) do r.logs[k] = v end
    for k, v in pairs(base.finals) do r.finals[k] = v end
    return r
  end

  -- Replaces the first line of any worker log for which fn(fields, log
  -- record) returns a replacement line. Returns what it replaced.
  local function mutate_read(r, fn)
    local names = {}
    for name in pairs(r.logs) do names[#names + 1] = name end
    table.sort(names)
    checker.check(copy_run(r.bounds)) -- fills checker.last / required for fn
    for _, name in ipairs(names) do
      local lines = helpers.split_lines(r.logs[name])
      local rec = checker.parse_worker(r.logs[name], name)
      for i = 2, #lines do
        local f = words(lines[i])
        if f[1] == "R" then
          local repl = fn(f, rec)
          if repl then
            local old = lines[i]
            lines[i] = repl
            r.logs[name] = table.concat(lines, "\n") .. "\n"
            return old, repl
          end
        end
      end
    end
    error("no read in the logs fits this corruption")
  end

  local function expect(r, kind)
    local v = checker.check(r)
    local k = kinds_of(v)
    assert.is_true((k[kind] or 0) >= 1,
                   ("the checker did not flag '%s'; it found:\n%s"):format(kind, summary(v)))
  end

  it("has a clean real BSP run to corrupt", function()
    assert.are.equal(0, base.res.rc, base.res.out .. describe_run(base))
    local v, stats = checker.check(copy_run())
    assert.are.equal(0, #v, summary(v) .. describe_run(base))
    assert.is_true(stats.reads > 20, "too few reads logged: " .. stats.reads)
  end)

  it("flags a read of a copy older than the bound (BSP: k = c - 1)", function()
    local r = copy_run()
    mutate_read(r, function(f)
      if tonumber(f[3]) >= 1 then f[5] = tostring(tonumber(f[3]) - 1); return table.concat(f, " ") end
    end)
    expect(r, "bound")
  end)

  it("flags a read of a copy older than the bound (SSP s = 2: k = c - 3), and not k = c - 2", function()
    local r = copy_run({ [0] = 2, [1] = 2 })
    assert.are.equal(0, #checker.check(r))
    local ok = copy_run({ [0] = 2, [1] = 2 })
    -- c - 2 is allowed when the copy holds what a clock c - 2 copy holds: a
    -- BSP copy (k = c) holds more, so lowering k keeps it valid.
    mutate_read(ok, function(f)
      if tonumber(f[3]) >= 3 then f[5] = tostring(tonumber(f[3]) - 2); return table.concat(f, " ") end
    end)
    local v = checker.check(ok)
    assert.are.equal(0, #v, summary(v))
    mutate_read(r, function(f)
      if tonumber(f[3]) >= 3 then f[5] = tostring(tonumber(f[3]) - 3); return table.concat(f, " ") end
    end)
    expect(r, "bound")
  end)

  it("flags a read without a copy clock", function()
    local r = copy_run()
    mutate_read(r, function(f) f[5] = "-1"; return table.concat(f, " ") end)
    expect(r, "bound")
  end)

  it("flags a read missing one of the reader's own updates", function()
    local r = copy_run()
    mutate_read(r, function(f, rec)
      local own = 6 + rec.w
      if tonumber(f[own]) > 0 then f[own] = tostring(tonumber(f[own]) - 1); return table.concat(f, " ") end
    end)
    expect(r, "own")
  end)

  it("flags a read with more of the reader's own updates than it made", function()
    local r = copy_run()
    mutate_read(r, function(f, rec)
      local own = 6 + rec.w
      f[own] = tostring(tonumber(f[own]) + 1)
      return table.concat(f, " ")
    end)
    expect(r, "own")
  end)

  it("flags a copy at clock k lacking an update another worker made before clock k", function()
    local r = copy_run()
    mutate_read(r, function(f, rec)
      local t, row, k = tonumber(f[2]), tonumber(f[4]), tonumber(f[5])
      for j = 0, rec.W - 1 do
        if j ~= rec.w then
          local need = checker.required(j, t, row, k)
          if need > 0 then f[6 + j] = tostring(need - 1); return table.concat(f, " ") end
        end
      end
    end)
    expect(r, "missing")
  end)

  it("flags a copy holding more than another worker ever added", function()
    local r = copy_run()
    mutate_read(r, function(f, rec)
      local t, row = tonumber(f[2]), tonumber(f[4])
      local j = (rec.w + 1) % rec.W
      f[6 + j] = tostring(checker.total_of(j, t, row) + 1)
      return table.concat(f, " ")
    end)
    expect(r, "invented")
  end)

  it("flags a lost int64 increment in the final values", function()
    local r = copy_run()
    local name = next(r.finals)
    r.finals[name] = r.finals[name]:gsub("\n(F %d+ %d+ )(%d+)", function(pre, v)
      return "\n" .. pre .. (tonumber(v) - 1)
    end, 1)
    expect(r, "lost")
  end)

  it("flags a float64 cell off by more than rounding in the final values", function()
    local r = copy_run()
    local name = next(r.finals)
    r.finals[name] = r.finals[name]:gsub("(G %d+ )(%S+)", function(pre, v)
      return pre .. ("%.17g"):format(tonumber(v) + 0.1)
    end, 1)
    expect(r, "lost")
  end)

  it("flags a worker log that did not end, and a missing worker log", function()
    local r = copy_run()
    r.logs["w1.log"] = r.logs["w1.log"]:gsub("E\n$", "")
    expect(r, "log")
    local r2 = copy_run()
    r2.logs["w2.log"] = nil
    expect(r2, "log")
  end)

  it("flags a run whose finish wrote nothing", function()
    local r = copy_run()
    r.finals = {}
    expect(r, "log")
  end)
end)

-- ---- the property, over deployments and models ----------------------------------

local DEPLOYS = {
  { name = "threads in one process (-w 3, inproc)", args = { "-w", "3" }, workers = 3, procs = 1 },
  { name = "two processes over ipc (-p 2 -w 2)", args = { "-p", "2", "-w", "2" }, workers = 4, procs = 2 },
  { name = "two processes over tcp (-p 2 -w 2 --transport tcp)",
    args = { "-p", "2", "-w", "2", "--transport", "tcp" }, workers = 4, procs = 2 },
}

local MODELS = {
  -- BSP ignores --staleness: the bound stays 0.
  { name = "bsp", args = { "--consistency", "bsp", "--staleness", "3" }, bounds = { [0] = 0 } },
  { name = "ssp, s = 2", args = { "--consistency", "ssp", "--staleness", "2" }, bounds = { [0] = 2 }, stale = true },
  { name = "essp, s = 2", args = { "--consistency", "essp", "--staleness", "2" }, bounds = { [0] = 2 }, stale = true },
  { name = "async", args = { "--consistency", "async" }, bounds = { [0] = false }, stale = true },
  -- Per-table models, over an engine default (async) none of them may use.
  { name = "per-table bsp, ssp:1, essp:2 and the async default in one run",
    args = { "--consistency", "async", "--tables", "bsp,ssp:1,essp:2,default" },
    bounds = { [0] = 0, [1] = 1, [2] = 2, [3] = false } },
  -- The same guarantees through row views and delta pointers.
  { name = "ssp, s = 2, through views and delta pointers",
    args = { "--consistency", "ssp", "--staleness", "2", "--views" }, bounds = { [0] = 2 }, stale = true },
  { name = "per-table bsp, ssp:1, essp:2, async through views and delta pointers",
    args = { "--consistency", "async", "--tables", "bsp,ssp:1,essp:2,default", "--views" },
    bounds = { [0] = 0, [1] = 1, [2] = 2, [3] = false } },
}

local seed_counter = 0

describe("the consistency definition (docs/consistency.md), over random schedules", function()
  for _, deploy in ipairs(DEPLOYS) do
    do
      describe(deploy.name, function()
        for _, model in ipairs(MODELS) do
          describe(model.name, function()
            local runs -- ROUNDS runs, made by the first test that needs them
            local function get_runs()
              if not runs then
                runs = {}
                for _ = 1, ROUNDS do
                  seed_counter = seed_counter + 1
                  local run = probe_run(deploy.args, model.args, deploy.workers, model.bounds,
                                        BASE_SEED + seed_counter)
                  run.violations, run.stats = checker.check(run)
                  runs[#runs + 1] = run
                end
              end
              for _, run in ipairs(runs) do
                assert(run.res.rc == 0, ("the probe run failed (exit %d):\n%s%s"):format(
                  run.res.rc, run.res.out, describe_run(run)))
              end
              return runs
            end
            teardown(function()
              for _, run in ipairs(runs or {}) do
                if run.res.rc == 0 and #run.violations == 0 then discard(run) end
              end
            end)

            local function assert_no(kinds, what)
              for _, run in ipairs(get_runs()) do
                local bad = {}
                for _, v in ipairs(run.violations) do
                  if kinds[v.kind] then bad[#bad + 1] = v end
                end
                assert(#bad == 0, ("%s: %d violation(s):\n%s%s"):format(what, #bad, summary(bad), describe_run(run)))
              end
            end

            it("logs complete runs: every worker's log and the final values", function()
              assert_no({ log = true }, "incomplete or malformed logs")
              for _, run in ipairs(get_runs()) do
                assert(run.stats.reads >= 30, ("only %d reads logged%s"):format(run.stats.reads, describe_run(run)))
              end
            end)

            it("bounds every read's staleness: copy clock k >= c - s", function()
              assert_no({ bound = true }, "reads beyond the staleness bound")
            end)

            it("serves copies at clock k that hold every update made before clock k, and nothing invented", function()
              assert_no({ missing = true, invented = true }, "copies that do not hold what their clock promises")
            end)

            it("lets every worker read exactly its own updates, sent or not", function()
              assert_no({ own = true }, "reads that hide or invent the reader's own updates")
            end)

            it("loses no increment: int64 cells exact, float64 within rounding", function()
              assert_no({ lost = true }, "lost increments")
            end)

            if model.stale then
              it("exercises stale reads (a straggler lets others read older copies)", function()
                local stale = 0
                for _, run in ipairs(get_runs()) do
                  for _, ts in pairs(run.stats.tables) do stale = stale + ts.stale_reads end
                end
                assert(stale > 0, "no read had staleness > 0 in any schedule: the bound was never exercised")
              end)
            end

            it("reports the same staleness histogram and maximum in --metrics as the logs show", function()
              for _, run in ipairs(get_runs()) do
                local rows = helpers.read_metrics(run.dir .. "/metrics.jsonl")
                local final = rows[#rows]
                assert.are.equal(true, final.final)
                for t, ts in pairs(run.stats.tables) do
                  local m = final.tables and final.tables["t" .. t]
                  assert(m, "no metrics for table t" .. t .. describe_run(run))
                  local hist = {}
                  for s = 0, 16 do hist[s + 1] = 0 end
                  for s, n in pairs(ts.hist) do
                    local i = math.min(s, 16) + 1
                    hist[i] = hist[i] + n
                  end
                  assert.are.same(hist, m.staleness_hist, "t" .. t .. describe_run(run))
                  assert.are.equal(ts.max, m.staleness_max, "t" .. t .. describe_run(run))
                  assert.are.equal(ts.incs, m.rows_incremented, "t" .. t .. describe_run(run))
                end
              end
            end)
          end)
        end
      end)
    end
  end
end)

-- ---- s = 0, one worker: serial execution, bit for bit ------------------------------

describe("s = 0 with one worker", function()
  local common = dofile(helpers.fixtures .. "/serial_common.lua")
  local dirs = {}
  teardown(function() for _, d in ipairs(dirs) do os.execute("rm -rf " .. helpers.quote(d)) end end)

  local DATA = { n = 300, d = 12, epochs = 3, lr = 0.05, data_seed = 7 }

  local function engine_weights(args, o)
    local dir = mkdir_temp()
    dirs[#dirs + 1] = dir
    local out = dir .. "/w.txt"
    local argv = { "run", SERIAL, "-w", "1", "-q", "--out", out,
                   "--n", tostring(o.n), "--d", tostring(o.d), "--epochs", tostring(o.epochs),
                   "--lr", ("%.17g"):format(o.lr), "--data-seed", tostring(o.data_seed),
                   "--per-clock", tostring(o.per_clock) }
    for _, a in ipairs(args) do argv[#argv + 1] = a end
    local res = run_pmls(argv)
    assert(res.rc == 0, ("pmls failed (exit %d):\n%s\n  %s"):format(res.rc, res.out, res.cmd))
    return assert(helpers.read_file(out), "no weights written"), res.cmd
  end

  local function same_bits(engine, serial, cmd)
    if engine == serial then return end
    local a, b = helpers.split_lines(engine), helpers.split_lines(serial)
    for i = 1, math.max(#a, #b) do
      if a[i] ~= b[i] then
        error(("weight %d differs: engine %s, serial %s\n  %s"):format(i - 1, tostring(a[i]), tostring(b[i]), cmd), 2)
      end
    end
  end

  local function with(t, extra)
    local o = {}
    for k, v in pairs(t) do o[k] = v end
    for k, v in pairs(extra) do o[k] = v end
    return o
  end

  it("reproduces textbook serial SGD (w[j] = w[j] + a * x[j]) with one example per clock, under bsp", function()
    local o = with(DATA, { per_clock = 1 })
    local engine, cmd = engine_weights({ "--consistency", "bsp" }, o)
    same_bits(engine, common.format(common.reference(with(o, { naive = true })), o.d), cmd)
    -- and the reference's delta form agrees with the textbook form there
    assert.are.equal(common.format(common.reference(with(o, { naive = true })), o.d),
                     common.format(common.reference(o), o.d))
  end)

  it("reproduces it with the default ssp and --staleness 0, weights over 3 rows on 2 shards, dense increments", function()
    local o = with(DATA, { per_clock = 1 })
    local engine, cmd = engine_weights({ "--servers", "2", "--rows", "3", "--inc", "dense" }, o)
    same_bits(engine, common.format(common.reference(with(o, { naive = true })), o.d), cmd)
  end)

  it("reproduces serial SGD with several examples per clock: reads add the pending deltas to the row", function()
    for _, case in ipairs({ { per_clock = 7, inc = "scaled", rows = "1" },
                            { per_clock = 50, inc = "pairs", rows = "4" },
                            { per_clock = 300, inc = "dense", rows = "2" } }) do
      local o = with(DATA, { per_clock = case.per_clock })
      local engine, cmd = engine_weights({ "--consistency", "bsp", "--servers", "2", "--rows", case.rows,
                                           "--inc", case.inc }, o)
      same_bits(engine, common.format(common.reference(o), o.d), cmd)
    end
  end)

  it("gives the same bits on every run (no dependence on timing)", function()
    local o = with(DATA, { per_clock = 5 })
    local a = engine_weights({ "--consistency", "bsp", "--servers", "2", "--rows", "2" }, o)
    local b = engine_weights({ "--consistency", "bsp", "--servers", "2", "--rows", "2" }, o)
    assert.are.equal(a, b)
  end)
end)
