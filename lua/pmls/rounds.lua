-- pmls.rounds: the Lua half of scheduled models (STRADS schedule / push /
-- pull; engine/src/sched/ is the C half: node.c the scheduler node,
-- worker.c the worker's handle, model.c the spec). A script that declares
-- ctx:schedule{...} in setup runs, instead of app:worker,
--   on every worker:         app:load, then per round app:sync (the commits
--                            that came) and app:push;
--   on every scheduler node: app:load, then per round the schedule (a
--                            shipped scheduler or app:schedule) and app:pull.
-- Each round is one clock of the store, so the progress line, --metrics and
-- the SSP tables a script also keeps all count rounds.
--
-- With --checkpoint each node writes its state before it dispatches its
-- first round at or after every N-th (one node drains its pipeline first;
-- several take none); the workers take the snapshot when round N reaches
-- them, every earlier commit applied (pmls.checkpoint), unless a node has
-- stopped. A run resumed from one puts the models back after app:load and
-- goes on at that round. app:save_state(ctx) gives what the script keeps of its own,
-- on a worker and on a node (ctx.kind says which); a resumed run finds it
-- in ctx.resume.state when app:load runs.
local core = require "pmls.core"
local array = require "pmls.array"
local checkpoint = require "pmls.checkpoint"
local ffi, C = core.ffi, core.C

local M = {}

local KINDS = { uniform = true, cyclic = true, priority = true, block = true, custom = true }
local FIELDS = {
  vars = true, width = true, extra = true, scheduler = true, per_round = true,
  candidates = true, eta = true, dependency = true, pipeline = true,
  range = true, blocks = true, rows = true, agnostic = true, max_rounds = true,
  round_max = true,
}

local function whole(spec, field, lo, default, level)
  local v = spec[field]
  if v == nil then return default end
  if type(v) ~= "number" or v % 1 ~= 0 or v < lo then
    error(("bad argument 'spec.%s' to schedule (whole number >= %d expected, got %s)")
          :format(field, lo, tostring(v)), level + 1)
  end
  return v
end

-- Checks a schedule spec and fills in its defaults; returns the plain
-- table every node gets, and declares the model with the engine.
function M.declare(engine, spec, app, level)
  level = level + 1
  if type(spec) ~= "table" then
    error("bad argument 'spec' to schedule (table expected, got " .. type(spec) .. ")", level)
  end
  for k in pairs(spec) do
    if not FIELDS[k] then
      error(("bad argument 'spec' to schedule (unknown field '%s')"):format(tostring(k)), level)
    end
  end
  local s = {}
  s.vars = whole(spec, "vars", 1, nil, level)
  if not s.vars then error("bad argument 'spec.vars' to schedule (required)", level) end
  s.width = whole(spec, "width", 1, 1, level)
  s.extra = whole(spec, "extra", 0, 0, level)
  s.scheduler = spec.scheduler or (app.schedule and "custom" or "cyclic")
  if not KINDS[s.scheduler] then
    error(("bad argument 'spec.scheduler' to schedule (%q: uniform, cyclic, priority, block or custom)")
          :format(tostring(s.scheduler)), level)
  end
  if s.scheduler == "custom" and not app.schedule then
    error("bad argument 'spec.scheduler' to schedule (custom needs app:schedule(ctx, vars, cap))", level)
  end
  local lo, hi = 0, s.vars
  if spec.range ~= nil then
    local r = spec.range
    if type(r) ~= "table" or type(r[1]) ~= "number" or type(r[2]) ~= "number"
       or r[1] % 1 ~= 0 or r[2] % 1 ~= 0 or r[1] < 0 or r[2] > s.vars or r[1] >= r[2] then
      error(("bad argument 'spec.range' to schedule ({lo, hi} with 0 <= lo < hi <= %d expected)")
            :format(s.vars), level)
    end
    lo, hi = r[1], r[2]
  end
  s.range = { lo, hi }
  s.per_round = whole(spec, "per_round", 1, math.min(hi - lo, 64), level)
  s.candidates = whole(spec, "candidates", 1, nil, level)
  s.pipeline = whole(spec, "pipeline", 0, 0, level)
  s.blocks = whole(spec, "blocks", 1, nil, level)
  s.rows = whole(spec, "rows", 1, nil, level)
  s.max_rounds = whole(spec, "max_rounds", 1, nil, level)
  if spec.eta ~= nil and (type(spec.eta) ~= "number" or not (spec.eta > 0)) then
    error("bad argument 'spec.eta' to schedule (number > 0 expected)", level)
  end
  s.eta = spec.eta
  if spec.dependency ~= nil then
    if type(spec.dependency) ~= "number" or not (spec.dependency >= 0) then
      error("bad argument 'spec.dependency' to schedule (threshold >= 0 expected)", level)
    end
    if not app.dependency then
      error("bad argument 'spec.dependency' to schedule (needs app:dependency(ctx, j, k))", level)
    end
  end
  s.dependency = spec.dependency
  if s.scheduler == "block" then
    if not s.rows then error("bad argument 'spec.rows' to schedule (block needs the data rows)", level) end
    s.agnostic = spec.agnostic ~= false
  else
    if spec.agnostic then
      error("bad argument 'spec.agnostic' to schedule (only block rounds are agnostic)", level)
    end
    s.agnostic = false
  end
  local cap = s.scheduler == "block" and (hi - lo) or s.per_round
  s.round_max = whole(spec, "round_max", cap, cap, level)
  cap = s.round_max
  local m = ffi.new("pmls_model_spec")
  m.vars, m.width, m.extra, m.per_round = s.vars, s.width, s.extra, cap
  m.pipeline, m.sched_lo, m.sched_hi = s.pipeline, lo, hi
  m.agnostic = s.agnostic and 1 or 0
  if C.pmls_model_declare(engine, m) ~= 0 then
    error("bad argument 'spec' to schedule (" .. core.engine_error(engine) .. ")", level)
  end
  return s
end

local function check(rc, what, errmsg)
  if rc ~= 0 then error(what .. ": " .. errmsg(), 0) end
end

-- A copy of a model of n values (a checkpoint writes it as one array).
local function model_copy(model, n)
  local a = array.float64(n)
  ffi.copy(a, model, n * 8)
  return a
end

-- A saved model must be this run's size.
local function check_model(saved, n, where)
  if array.length(saved) ~= n then
    error(("--resume: %s: a model of %d values, this run's has %d"):format(where, array.length(saved), n), 0)
  end
end

-- The saved model into dst.
local function model_restore(dst, saved, n, where)
  check_model(saved, n, where)
  ffi.copy(dst, saved, n * 8)
end

-- ---- workers ----------------------------------------------------------------

function M.worker(app, ctx, s, ckpt, resume)
  local client = ctx.client
  if type(app.push) ~= "function" then
    error("the script declares a schedule but no app:push(ctx, vars, n, out)", 0)
  end
  local opened = ffi.new("pmls_rounds *[1]")
  if C.pmls_rounds_open(client, opened) ~= 0 then
    error("cannot join the scheduler nodes: " .. core.client_error(client), 0)
  end
  -- Closed below when the rounds end; when the script fails, the finalizer
  -- closes it with this worker's Lua state, after the run has been told.
  local rounds = ffi.gc(opened[0], C.pmls_rounds_close)
  local function rounds_error() return ffi.string(C.pmls_rounds_errmsg(rounds)) end
  ctx.rounds = rounds
  ctx.model, ctx.width = C.pmls_round_model(rounds), s.width
  local size = s.vars * s.width
  local ck, saved = checkpoint.rounds_attach(ctx, ckpt, resume, "worker-" .. ctx.worker, function(c)
    return { script = app.save_state and app:save_state(c) or nil, model = model_copy(c.model, size),
             nodes = c.schedulers }
  end)
  if app.load then app:load(ctx) end
  if saved then -- the worker's copy as of the snapshot, and its next round
    check_model(saved.model, size, ctx.resume.path)
    check(C.pmls_rounds_resume(rounds, ctx.start_round, saved.model), "resume", rounds_error)
  end
  local info = ffi.new("pmls_round")
  ctx.share = info
  local push, sync = app.push, app.sync
  if not sync then C.pmls_rounds_keep_changes(rounds, 0) end
  while true do
    check(C.pmls_round_next(rounds, info), "round", rounds_error)
    local round = tonumber(info.round)
    if info.nchanged > 0 and sync then
      sync(app, ctx, info.changed, tonumber(info.nchanged), info.deltas)
    end
    if round < 0 then break end
    ctx.round, ctx.staleness = round, tonumber(info.staleness)
    -- (none once a node has stopped: it leaves no state for the snapshot)
    if checkpoint.rounds_due(ctx, ck, round) and C.pmls_rounds_stopped(rounds) == 0 then
      local ok, err = checkpoint.rounds_snapshot(ctx, ck, round)
      if not ok then error(err, 0) end
    end
    local n, out = tonumber(info.n), C.pmls_round_partial(rounds)
    push(app, ctx, info.vars, n, out, 1)
    local passes = 1
    if info.agnostic ~= 0 then
      -- Slow-worker agnostic: keep improving this share until every
      -- worker has finished its first pass.
      check(C.pmls_round_ready(rounds), "round", rounds_error)
      while C.pmls_round_over(rounds) == 0 do
        passes = passes + 1
        push(app, ctx, info.vars, n, out, passes)
      end
    end
    check(C.pmls_round_send(rounds, passes), "round", rounds_error)
    local ok, err = ctx:clock()
    if not ok then error(err, 0) end
  end
  ctx.rounds = nil
  C.pmls_rounds_close(ffi.gc(rounds, nil))
end

-- ---- scheduler nodes ----------------------------------------------------------

function M.scheduler(app, ctx, s, node, ckpt, resume)
  local function node_error() return ffi.string(C.pmls_sched_errmsg(node)) end
  if type(app.pull) ~= "function" then
    error("the script declares a schedule but no app:pull(ctx, vars, n, sum, values)", 0)
  end
  local lo, hi = ffi.new("int64_t[1]"), ffi.new("int64_t[1]")
  C.pmls_sched_range(node, lo, hi)
  ctx.lo, ctx.hi = tonumber(lo[0]), tonumber(hi[0])
  ctx.model, ctx.width, ctx.sched = C.pmls_sched_model(node), s.width, node
  local size, picker = s.vars * s.width, nil
  local ck, saved = checkpoint.rounds_attach(ctx, ckpt, resume, "sched-" .. ctx.node, function(c)
    return { script = app.save_state and app:save_state(c) or nil, model = model_copy(c.model, size),
             picker = picker and picker:save() or nil, broadcast = c.broadcast_last, nodes = c.schedulers }
  end)
  if app.load then app:load(ctx) end
  local width, kind = s.width, s.scheduler
  local cap = s.round_max
  if kind ~= "custom" then
    local schedulers = require "pmls.schedulers"
    local depfn
    if s.dependency then
      local dependency = app.dependency
      depfn = function(j, k) return dependency(app, ctx, j, k) end
    end
    picker = schedulers.new(kind, {
      lo = ctx.lo, hi = ctx.hi, per_round = kind ~= "block" and s.per_round or nil,
      candidates = kind ~= "block" and s.candidates or nil, eta = kind == "priority" and s.eta or nil,
      dependency = s.dependency, depfn = depfn, seed = ctx.seed * 1000003 + ctx.node,
      workers = kind == "block" and ctx.workers or nil,
      blocks = kind == "block" and s.blocks or nil, rows = kind == "block" and s.rows or nil,
    })
    ctx.picker = picker
  end
  -- the next round this node dispatches: its first at or after the one
  -- the run starts at
  local K = ctx.schedulers
  local next_round = ctx.start_round + (ctx.node - ctx.start_round) % K
  if saved then
    model_restore(ctx.model, saved.model, size, ctx.resume.path)
    if picker then picker:restore(saved.picker) end
    check(C.pmls_sched_resume(node, next_round), "resume", node_error)
    if saved.broadcast then ctx:broadcast(saved.broadcast) end
  end
  -- app:schedule, when the script has one, picks every round (it may ask
  -- ctx.picker, the shipped scheduler, for its choice).
  local schedule = app.schedule
  local vars = ffi.new("int64_t[?]", cap)
  local values = ffi.new("double[?]", cap * width)
  local got = ffi.new("pmls_collected")
  local sent = ffi.new("int64_t[1]")
  local depth, max_rounds = s.pipeline, s.max_rounds
  local stopping = false
  while true do
    -- A snapshot's node part, before its first round at or after the
    -- snapshot's goes out: with a pipeline (one node) the rounds before it
    -- are drained first, so that nothing is in flight.
    local due = not stopping and checkpoint.node_due(ctx, ck, next_round)
    if due and C.pmls_sched_outstanding(node) == 0 then
      checkpoint.node_snapshot(ctx, ck, due)
      due = nil
    end
    while not due and not stopping and C.pmls_sched_outstanding(node) <= depth do
      local n
      if schedule then n = schedule(app, ctx, vars, cap) else n = picker:next(vars) end
      if type(n) ~= "number" or n % 1 ~= 0 or n < 0 or n > cap then
        error(("schedule returned %s variables (0..%d expected)"):format(tostring(n), cap), 0)
      end
      if n == 0 then stopping = true break end
      local rc
      if kind == "block" and not schedule then
        rc = C.pmls_sched_dispatch(node, vars, n, picker.nseg, picker.seg_worker, picker.seg_lo,
                                   picker.seg_hi, picker.seg_rowblock, picker.seg_colblock, sent)
      else
        rc = C.pmls_sched_dispatch(node, vars, n, 0, nil, nil, nil, nil, nil, sent)
      end
      check(rc, "dispatch", node_error)
      next_round = tonumber(sent[0]) + K
      due = checkpoint.node_due(ctx, ck, next_round)
      -- With a pipeline, rounds past max_rounds must not even be sent.
      if max_rounds and sent[0] + ctx.schedulers >= max_rounds then stopping = true end
    end
    if C.pmls_sched_outstanding(node) == 0 then break end
    -- A node that sends no more rounds still owes the workers its commits:
    -- other nodes' rounds may be waiting on them.
    if stopping then check(C.pmls_sched_flush(node), "flush", node_error) end
    check(C.pmls_sched_collect(node, got), "collect", node_error)
    local n, gv, model = tonumber(got.n), got.vars, ctx.model
    if width == 1 then
      for k = 0, n - 1 do values[k] = model[gv[k]] end
    else
      for k = 0, n - 1 do
        local base = tonumber(gv[k]) * width
        for c = 0, width - 1 do values[k * width + c] = model[base + c] end
      end
    end
    ctx.round, ctx.prioritized = tonumber(got.round), false
    local stop = app:pull(ctx, gv, n, got.sum, values)
    check(C.pmls_sched_commit(node, values), "commit", node_error)
    if picker and not ctx.prioritized then
      picker:update(gv, n, C.pmls_sched_deltas(node), width)
    end
    if stop or (max_rounds and ctx.round + 1 >= max_rounds) then stopping = true end
  end
  if picker and picker.stats then
    for name, v in pairs(picker.stats) do
      if type(v) == "number" then C.pmls_sched_note(node, "sched_" .. name, v) end
    end
  end
  check(C.pmls_sched_stop(node), "stop", node_error)
end

return M
