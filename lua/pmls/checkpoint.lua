-- pmls.checkpoint: snapshots of a run, and a run that goes on from one
-- (docs/fault-tolerance.md). The engine options --checkpoint DIR,
-- --checkpoint-every N and --resume DIR reach here through the engine.
--
-- At every N-th clock() of the model each worker, having flushed that
-- clock, meets the others at a barrier: the shards then hold exactly every
-- update made before it, and nothing later, since no worker sends anything
-- until the second barrier. Between the two, every worker writes its own
-- state (app:save_state: plain data, its arrays as .npy files) and worker
-- 0 reads every dense table whole through a host client, which always asks
-- the shards, into one .npz.
-- After the second barrier worker 0 writes the manifest (the clock, the
-- deployment, the options, each file's size), syncs the directory, renames
-- DIR/tmp-C to DIR/ckpt-C and points DIR/latest at it the same way. So a
-- snapshot is complete or it has no name; a resume also checks the
-- manifest, each file's size and the archive's CRCs, and falls back to the
-- snapshot before when the newest one fails them. The two barriers are
-- clocks of their own: a worker's clock_count() counts them.
--
-- A scheduled model (pmls.rounds) takes the same snapshot at a round
-- boundary: each scheduler node writes its own state (sched-K.lua: its
-- model, its scheduler's, the script's) before it dispatches its first
-- round at or after C, and the workers take the snapshot above once round
-- C has reached them, every earlier commit applied and before their push.
-- Those commits came with each node's next round, so every node's file is
-- whole before worker 0 names it in the manifest.
local array = require "pmls.array"
local core = require "pmls.core"
local failure = require "pmls.failure"
local ffi, C = core.ffi, core.C

local M = {}
M.FORMAT = "pmls-checkpoint 1"
local ERRLEN = 1024

-- Options that may differ between the run that wrote a snapshot and one
-- that resumes from it: where the model goes at the end, how it started.
local FREE_OPTIONS = { save = true, init_model = true }

-- A snapshot that cannot be read back is the run's input at fault: one
-- line, no traceback.
local function input_error(msg) error(failure.input(msg), 0) end

local function errbuf() return ffi.new("char[?]", ERRLEN) end

local function check(rc, err)
  if rc ~= 0 then return nil, ffi.string(err) end
  return true
end

local function mkdir(path) local e = errbuf(); return check(C.pmls_fs_mkdir(path, e, ERRLEN), e) end
local function sync(path) local e = errbuf(); return check(C.pmls_fs_sync(path, e, ERRLEN), e) end
local function rename(a, b) local e = errbuf(); return check(C.pmls_fs_rename(a, b, e, ERRLEN), e) end

local function codec() return require "pmls.runtime" end -- encode/decode (it requires us)

-- Writes text into path and syncs it.
local function write_file(path, text)
  local f, err = io.open(path, "wb")
  if not f then return nil, err end
  local ok, werr = f:write(text)
  local closed, cerr = f:close()
  if not ok or not closed then return nil, path .. ": " .. tostring(werr or cerr) end
  return sync(path)
end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("*a")
  f:close()
  return text
end

local function size_of(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local n = f:seek("end")
  f:close()
  return n
end

local function worker_file(w) return ("worker-%d.lua"):format(w) end
local function node_file(k) return ("sched-%d.lua"):format(k) end

-- ---- numeric arrays in a worker's state ----------------------------------
-- A worker's state may hold pmls.array arrays (double[?], float[?],
-- int32_t[?], int64_t[?]) or model.array records {dtype, shape, data}: a
-- Lua literal of millions of numbers would be slow to write and to parse,
-- so each goes into a .npy file of its own (written atomically and synced
-- by pmls_npy_write, listed with its size in the manifest) and the state
-- keeps { npy = FILE, kind = "vla" | "record" } in its place.
local function write_npy(path, dtype, shape, data)
  local a = ffi.new("pmls_array")
  a.dtype = core.dtypes[dtype]
  a.ndim = #shape
  for k, n in ipairs(shape) do a.shape[k - 1] = n end
  a.data = data
  local e = errbuf()
  return check(C.pmls_npy_write(path, a, e, ERRLEN), e)
end

-- A copy of state with every array written under dir and replaced by its
-- marker; files gets each file's name. Raises on a write failure or an
-- array of another C type (which would otherwise be lost silently).
local function externalize(state, dir, who, files, seen)
  if type(state) == "cdata" then
    local dtype = array.dtype(state)
    if not dtype then
      error(("worker state: a %s is not a pmls.array (float64, float32, int32, int64)")
            :format(tostring(ffi.typeof(state))), 0)
    end
    local n = array.length(state)
    local f = ("%s.a%d.npy"):format(who, #files + 1)
    local ok, err = write_npy(dir .. "/" .. f, dtype, { n }, state)
    if not ok then error(err, 0) end
    files[#files + 1] = f
    return { npy = f, kind = "vla" }
  end
  if type(state) ~= "table" then return state end
  if seen[state] then error("worker state: a table appears twice (state must be a tree)", 0) end
  seen[state] = true
  if type(state.dtype) == "string" and type(state.shape) == "table" and type(state.data) == "cdata" then
    local f = ("%s.a%d.npy"):format(who, #files + 1)
    local ok, err = write_npy(dir .. "/" .. f, state.dtype, state.shape, state.data)
    if not ok then error(err, 0) end
    files[#files + 1] = f
    return { npy = f, kind = "record" }
  end
  local out = {}
  for k, v in pairs(state) do out[k] = externalize(v, dir, who, files, seen) end
  return out
end

-- The state with every marker replaced by its array, read from dir.
local function internalize(state, dir)
  if type(state) ~= "table" then return state end
  if type(state.npy) == "string" and (state.kind == "vla" or state.kind == "record") then
    local a = ffi.new("pmls_array")
    local e = errbuf()
    if C.pmls_npy_read(dir .. "/" .. state.npy, a, e, ERRLEN) ~= 0 then
      input_error("--resume: " .. ffi.string(e))
    end
    a = ffi.gc(a, C.pmls_array_free)
    local dtype = core.dtype_names[tonumber(a.dtype)]
    local shape, n = {}, 1
    for k = 0, a.ndim - 1 do shape[k + 1] = tonumber(a.shape[k]); n = n * shape[k + 1] end
    local data = array[dtype](math.max(n, state.kind == "vla" and 0 or 1))
    if n > 0 then ffi.copy(data, a.data, ffi.sizeof(data)) end
    if state.kind == "vla" then return data end
    return { dtype = dtype, shape = shape, data = data, n = n }
  end
  local out = {}
  for k, v in pairs(state) do out[k] = internalize(v, dir) end
  return out
end

-- The checkpoint options of this engine: nil when there are none.
function M.config(engine)
  local every = ffi.new("int64_t[1]")
  local dir, resume = C.pmls_engine_checkpoint(engine, every), C.pmls_engine_resume(engine)
  local cfg = {
    dir = dir ~= nil and ffi.string(dir) or nil,
    every = tonumber(every[0]),
    resume = resume ~= nil and ffi.string(resume) or nil,
  }
  if not cfg.dir and not cfg.resume then return nil end
  return cfg
end

-- ---- reading a snapshot back --------------------------------------------
-- The engine picked the snapshot when it was created (pmls_checkpoint_find:
-- the newest that DIR/latest names whose manifest is whole and whose files
-- have the sizes it lists), since its shards' clocks start at its clock.

-- In prepare, after setup: checks that the run matches the snapshot, fills
-- every table from it (each rank, as --init-model does: the INITs are the
-- same) and returns what the workers need, or raises a one-line error.
function M.restore(engine, cfg, opt, app)
  local snap = C.pmls_engine_snapshot(engine)
  assert(snap ~= nil, "resuming without a snapshot")
  local man = { path = ffi.string(snap.path), clock = tonumber(snap.clock), workers = tonumber(snap.workers) }
  local refused = ffi.string(snap.refused)
  if C.pmls_engine_rank(engine) == 0 and refused ~= "" then
    for why in (refused .. "; "):gmatch("(.-); ") do io.stderr:write("pmls: checkpoint ignored: ", why, "\n") end
  end
  local workers = tonumber(C.pmls_engine_workers(engine))
  if app and app.same_workers and man.workers ~= workers then
    input_error(("--resume: %s resumes on the snapshot's %d workers, not %d"):format(app.name, man.workers, workers))
  end
  local text = read_file(man.path .. "/options.lua")
  local ok, saved = pcall(codec().decode, text or "")
  if not ok or type(saved) ~= "table" then input_error(man.path .. "/options.lua: damaged") end
  man.options = saved
  local keys = {}
  for k in pairs(opt) do keys[#keys + 1] = k end
  for k in pairs(man.options) do if opt[k] == nil then keys[#keys + 1] = k end end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local a, b = man.options[k], opt[k]
    local same = a == b
    if type(a) == "table" and type(b) == "table" then same = codec().encode(a) == codec().encode(b) end
    if not FREE_OPTIONS[k] and not same then
      input_error(("--resume: %s was taken with --%s %s, this run has %s"):format(man.path,
            k:gsub("_", "-"), tostring(a), tostring(b)))
    end
  end
  local z = ffi.new("pmls_npz *[1]")
  local e = errbuf()
  if C.pmls_npz_read(man.path .. "/tables.npz", z, e, ERRLEN) ~= 0 then
    input_error("--resume: " .. ffi.string(e))
  end
  z = ffi.gc(z[0], C.pmls_npz_free)
  local out = ffi.new("pmls_client *[1]")
  if C.pmls_client_open(engine, -1, out) ~= 0 then error("--resume: " .. core.engine_error(engine), 0) end
  local host = out[0]
  local id, failed = ffi.new("int[1]"), nil
  for i = 0, C.pmls_npz_count(z) - 1 do
    local name = ffi.string(C.pmls_npz_name(z, i))
    if C.pmls_table_find(engine, name, id) ~= 0 then
      failed = ("--resume: %s holds table '%s', which this run does not declare"):format(man.path, name)
    elseif C.pmls_table_fill(host, id[0], C.pmls_npz_array(z, i)) ~= 0 then
      failed = ("--resume: %s: %s"):format(man.path, core.client_error(host))
      local workers = tonumber(C.pmls_engine_workers(engine))
      if man.workers ~= workers then -- a table sized by the workers (a gather's)
        failed = failed .. (" (the snapshot was written by %d workers, this run has %d)"):format(man.workers, workers)
      end
    end
    if failed then break end
  end
  local closed = C.pmls_client_close(host) == 0
  if failed then input_error(failed) end
  if not closed then error("--resume: " .. core.engine_error(engine), 0) end
  return { clock = man.clock, path = man.path, workers = man.workers }
end

-- ---- writing one ----------------------------------------------------------

-- Removes a snapshot directory: the files its manifest lists, or the ones a
-- snapshot may hold when it has none.
local function remove_snapshot(path, workers, nodes)
  local names = { "manifest", "options.lua", "tables.npz", "tables.npz.tmp" }
  local man = read_file(path .. "/manifest") or ""
  for f in man:gmatch("\nfile (%S+) %-?%d+") do names[#names + 1] = f end
  local n = tonumber(man:match("\nworkers (%d+)\n")) or workers
  for w = 0, math.max(n, workers) - 1 do names[#names + 1] = worker_file(w) end
  for k = 0, (nodes or 1) - 1 do names[#names + 1] = node_file(k) end
  for _, f in ipairs(names) do os.remove(path .. "/" .. f) end
  -- a torn snapshot has no manifest to list its arrays: they are numbered
  -- from 1 without gaps (each is renamed into place when whole); a
  -- scheduler node's too
  local owners = {}
  for w = 0, math.max(n, workers) - 1 do owners[#owners + 1] = ("worker-%d"):format(w) end
  for k = 0, (nodes or 1) - 1 do owners[#owners + 1] = ("sched-%d"):format(k) end
  for _, who in ipairs(owners) do
    local k = 1
    while true do
      local f = ("%s/%s.a%d.npy"):format(path, who, k)
      local gone = os.remove(f)
      if os.remove(f .. ".tmp") then gone = true end
      if not gone then break end
      k = k + 1
    end
  end
  os.remove(path)
end

local function dump_tables(ctx, path)
  local engine = ctx.engine
  local out = ffi.new("pmls_client *[1]")
  if C.pmls_client_open(engine, -1, out) ~= 0 then return nil, core.engine_error(engine) end
  local host = out[0]
  local n = tonumber(C.pmls_table_count(engine))
  local arrays = ffi.new("pmls_array[?]", math.max(n, 1))
  local names = ffi.new("const char *[?]", math.max(n, 1))
  local keep, count, err = {}, 0, nil
  local spec = ffi.new("pmls_table_spec")
  for t = 0, n - 1 do
    C.pmls_table_spec_of(engine, t, spec)
    local name = ffi.string(C.pmls_table_name(engine, t))
    if spec.layout ~= C.PMLS_DENSE then
      err = ("table '%s' is sparse: checkpoints hold dense tables only"):format(name)
      break
    end
    if C.pmls_table_dump(host, t, arrays + count) ~= 0 then
      err = core.client_error(host)
      break
    end
    keep[#keep + 1] = name
    names[count] = keep[#keep]
    count = count + 1
  end
  if not err then
    local e = errbuf()
    if C.pmls_npz_write(path, count, names, arrays, 0, e, ERRLEN) ~= 0 then err = ffi.string(e) end
  end
  for i = 0, count - 1 do C.pmls_array_free(arrays + i) end
  if C.pmls_client_close(host) ~= 0 and not err then err = core.engine_error(engine) end
  if err then return nil, err end
  return true
end

local function barrier(ctx)
  if C.pmls_barrier(ctx.client) ~= 0 then return nil, core.client_error(ctx.client) end
  return true
end

-- Writes one participant's own state into dir as NAME.lua (its arrays as
-- NAME.aK.npy): a worker's ("worker-W") or a scheduler node's ("sched-K").
-- Returns true or nil, err.
local function write_own(dir, name, c, state)
  local files = {}
  local done, st = pcall(externalize, state, dir, name, files, {})
  if not done then return nil, st end
  local blob = codec().encode { clock = c, name = name, state = st, arrays = files }
  return write_file(dir .. "/" .. name .. ".lua", blob)
end

-- The state NAME.lua of the snapshot at path holds, its arrays read back;
-- raises when the file is missing or damaged.
local function read_own(path, name)
  local text = read_file(path .. "/" .. name .. ".lua")
  local ok, saved = pcall(codec().decode, text or "")
  if not ok or type(saved) ~= "table" then
    input_error(("--resume: %s/%s.lua: damaged"):format(path, name))
  end
  return internalize(saved.state, path)
end

-- The manifest's entries for NAME.lua and the arrays it lists.
local function list_own(man, tmp, name, c)
  local f = name .. ".lua"
  man[#man + 1] = ("file %s %d"):format(f, size_of(tmp .. "/" .. f) or -1)
  local text = read_file(tmp .. "/" .. f)
  local okd, saved = pcall(codec().decode, text or "")
  if not okd or type(saved) ~= "table" then
    error(("checkpoint at clock %d: %s/%s: damaged"):format(c, tmp, f), 0)
  end
  for _, a in ipairs(saved.arrays or {}) do
    man[#man + 1] = ("file %s %d"):format(a, size_of(tmp .. "/" .. a) or -1)
  end
end

-- The snapshot at the model's clock c; returns true or nil, err. Every
-- worker calls it at the same clock. ck.state(ctx) is the worker's own
-- state; ck.nodes scheduler nodes wrote theirs into the directory first.
local function snapshot(ctx, ck, c)
  local ok, err = barrier(ctx)
  if not ok then return nil, err end
  local dir = ck.dir
  local tmp = ("%s/tmp-%d"):format(dir, c)
  local fail
  ok, err = mkdir(dir)
  if ok then ok, err = mkdir(tmp) end
  if ok then
    local got, state = pcall(ck.state, ctx)
    if not got then ok, err = nil, state end
    if ok then ok, err = write_own(tmp, ("worker-%d"):format(ctx.worker), c, state) end
  end
  if ok and ctx.worker == 0 then ok, err = dump_tables(ctx, tmp .. "/tables.npz") end
  if not ok then fail = "checkpoint at clock " .. c .. ": " .. tostring(err) end
  -- a worker that failed raises: the run aborts, and the others' barrier
  -- fails with it
  if fail then error(fail, 0) end
  ok, err = barrier(ctx)
  if not ok then return nil, err end
  if ctx.worker ~= 0 then return true end
  local opts = codec().encode(ctx.opt)
  ok, err = write_file(tmp .. "/options.lua", opts)
  if not ok then error("checkpoint at clock " .. c .. ": " .. tostring(err), 0) end
  -- the manifest, which pmls_checkpoint_find (C) reads: one entry a line
  local man = { M.FORMAT, "clock " .. c,
                ("engine_clock %d"):format(tonumber(C.pmls_engine_start_clock(ctx.engine))
                                           + tonumber(C.pmls_client_clock(ctx.client))),
                "workers " .. ctx.workers, "procs " .. ctx.procs }
  for _, f in ipairs { "tables.npz", "options.lua" } do
    man[#man + 1] = ("file %s %d"):format(f, size_of(tmp .. "/" .. f) or -1)
  end
  -- every worker wrote its file (and its arrays) before the second barrier
  for w = 0, ctx.workers - 1 do list_own(man, tmp, ("worker-%d"):format(w), c) end
  for k = 0, (ck.nodes or 0) - 1 do list_own(man, tmp, ("sched-%d"):format(k), c) end
  man[#man + 1] = "end\n"
  man = table.concat(man, "\n")
  local final = ("%s/ckpt-%d"):format(dir, c)
  ok, err = write_file(tmp .. "/manifest", man)
  if ok then ok, err = sync(tmp) end
  if ok then
    remove_snapshot(final, ctx.workers, ck.nodes) -- one left by an earlier run into this DIR
    ok, err = rename(tmp, final)
  end
  local before = read_file(dir .. "/latest")
  local prev = before and before:match("^([^\n]+)")
  if prev == ("ckpt-%d"):format(c) then prev = nil end
  if ok then
    ok, err = write_file(dir .. "/latest.tmp", ("ckpt-%d\n%s"):format(c, prev and prev .. "\n" or ""))
  end
  if ok then ok, err = rename(dir .. "/latest.tmp", dir .. "/latest") end
  if not ok then error("checkpoint at clock " .. c .. ": " .. tostring(err), 0) end
  -- keep the newest two: the one before stays as the fallback
  local older = before and before:match("^[^\n]+\n([^\n]+)")
  if older and older ~= prev and older ~= ("ckpt-%d"):format(c) then
    remove_snapshot(dir .. "/" .. older, ctx.workers, ck.nodes)
  end
  return true
end

-- What ctx.resume holds for a participant of a resumed run.
local function resume_of(resume, state)
  return { clock = resume.clock, workers = resume.workers, state = state, path = resume.path }
end

-- Sets a worker up: the clock it starts from, its restored state, its hook.
function M.attach(ctx, app, cfg, resume)
  ctx.start_clock = 0
  if resume then
    ctx.start_clock = resume.clock
    local state
    if ctx.worker < resume.workers then
      state = read_own(resume.path, ("worker-%d"):format(ctx.worker))
    end
    ctx.resume = resume_of(resume, state)
    if app.load_state then app:load_state(ctx, state) end
  end
  if cfg.dir then
    ctx.checkpoint = { dir = cfg.dir, every = cfg.every, clocks = ctx.start_clock,
                       state = function(c) if app.save_state then return app:save_state(c) end end }
  end
end

-- After each clock() of the model: a snapshot when its turn has come.
function M.after_clock(ctx)
  local ck = ctx.checkpoint
  ck.clocks = ck.clocks + 1
  if ck.clocks % ck.every ~= 0 then return true end
  return snapshot(ctx, ck, ck.clocks)
end

-- ---- scheduled models (pmls.rounds) ---------------------------------------
-- A worker's or a node's saved state is { script = app:save_state(ctx),
-- model = its model copy, ... } (the node adds its scheduler's state and
-- its last broadcast); ctx.resume.state is the script's part, as for a
-- data-parallel worker. A snapshot is numbered by its round: the rounds
-- before it are committed and their commits applied.

-- Whether a scheduled model can be checkpointed, or nil and why: the
-- snapshot needs a boundary where no round is in flight (one node drains
-- its pipeline; several nodes take none, since a round's commits from the
-- others could still be on their way) and a script that says what it keeps
-- (app:save_state, even one that returns nil: a script without one has not
-- been made to resume, and would go on from a half-restored state).
function M.rounds_supported(spec, schedulers, app)
  if not app.save_state then
    return nil, "app:save_state (this script has none)"
  end
  if schedulers > 1 and spec.pipeline > 0 then
    return nil, ("one scheduler node or no pipeline (this run has %d nodes and pipeline %d)")
      :format(schedulers, spec.pipeline)
  end
  return true
end

-- Sets up a worker (kind "worker") or a scheduler node (kind "sched") of a
-- scheduled model: ctx.start_round, ctx.resume; returns the checkpoint
-- handle (nil without --checkpoint) and the saved state (nil in a fresh
-- run), whose model and extras pmls.rounds puts back after app:load.
function M.rounds_attach(ctx, cfg, resume, name, state_of)
  ctx.start_round = 0
  local saved
  if resume then
    ctx.start_round = resume.clock
    saved = read_own(resume.path, name)
    if type(saved) ~= "table" or type(saved.model) ~= "cdata" then
      input_error(("--resume: %s/%s.lua: not the state of a scheduled model"):format(resume.path, name))
    end
    if saved.nodes ~= ctx.schedulers then
      input_error(("--resume: %s was taken with %s scheduler nodes, this run has %d"):format(
        resume.path, tostring(saved.nodes), ctx.schedulers))
    end
    ctx.resume = resume_of(resume, saved.script)
  end
  local ck
  if cfg and cfg.dir then
    ck = { dir = cfg.dir, every = cfg.every, name = name, state = state_of, nodes = ctx.schedulers }
  end
  return ck, saved
end

-- Whether round `round` starts with a snapshot (not the one a run resumed
-- from: it is there already).
function M.rounds_due(ctx, ck, round)
  return ck ~= nil and round > ctx.start_round and round % ck.every == 0
end

-- The snapshot a scheduler node writes its state for before it dispatches
-- round n, or nil: node k of K runs rounds k, k + K, ..., so the snapshot
-- of round C is its part before its first round at or after C.
function M.node_due(ctx, ck, n)
  if ck == nil then return nil end
  local c = n - n % ck.every
  if c > n - ctx.schedulers and c > ctx.start_round then return c end
  return nil
end

-- A worker's part of the snapshot at round c (every worker, the tables,
-- the manifest): the data-parallel snapshot, numbered by the round.
function M.rounds_snapshot(ctx, ck, c) return snapshot(ctx, ck, c) end

-- A scheduler node's part of the snapshot at round c, written before it
-- dispatches round c. Raises on failure (the run aborts).
function M.node_snapshot(ctx, ck, c)
  local tmp = ("%s/tmp-%d"):format(ck.dir, c)
  local ok, err = mkdir(ck.dir)
  if ok then ok, err = mkdir(tmp) end
  if ok then
    local got, state = pcall(ck.state, ctx)
    if not got then ok, err = nil, state end
    if ok then ok, err = write_own(tmp, ck.name, c, state) end
  end
  if not ok then error("checkpoint at round " .. c .. ": " .. tostring(err), 0) end
  return true
end

return M
