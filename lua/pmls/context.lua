-- pmls.context: the `ctx` a script's hooks receive. It names what the hook
-- may do: declare tables (setup), read and increment rows and call clock()
-- (worker), read rows back and report final values (finish).
local core = require "pmls.core"
local tablemod = require "pmls.table"
local data = require "pmls.data"
local array = require "pmls.array"
local checkpoint = require "pmls.checkpoint"
local ffi, C = core.ffi, core.C

local M = {}
local Context = {}
Context.__index = Context

local INITS = { zeros = 0, uniform = 1, normal = 2 }
local SPEC_FIELDS = { rows = true, cols = true, dtype = true, sparse = true,
                      staleness = true, consistency = true, init = true, scale = true }
local CONSISTENCY = { ssp = 0, bsp = 1, essp = 2, async = 3 }
local EVALUE = tonumber(C.PMLS_EVALUE)

local function new(kind, engine, client, opt, shared)
  return setmetatable({
    kind = kind, engine = engine, client = client, opt = opt, shared = shared,
    workers = C.pmls_engine_workers(engine),
    procs = C.pmls_engine_procs(engine),
    schedulers = C.pmls_engine_schedulers(engine),
    rank = C.pmls_engine_rank(engine),
    seed = tonumber(C.pmls_engine_seed(engine)),
    worker = client ~= nil and kind == "worker" and C.pmls_client_worker(client) or nil,
    tables = {}, declared = {}, gathers = {}, gathered_names = {},
  }, Context)
end

function M.setup(engine, opt) return new("setup", engine, nil, opt, nil) end
function M.scheduler(engine, client, opt, shared, node)
  local ctx = new("scheduler", engine, client, opt, shared)
  ctx.node = node
  return ctx
end
function M.worker(engine, client, opt, shared) return new("worker", engine, client, opt, shared) end
function M.finish(engine, client, opt, shared) return new("finish", engine, client, opt, shared) end

-- ---- tables that exist already -------------------------------------------
-- A table the engine holds from before this setup (declared by an earlier
-- script run, or created and filled by the host) is attached to when the
-- spec is the same, so a host can fill a table that a script then trains;
-- a spec that differs is an error naming what differs.

local INIT_NAMES = { [0] = "zeros", "uniform", "normal" }
local CONSISTENCY_NAMES = { [0] = "ssp", "bsp", "essp", "async" }

local function spec_text(field, v)
  if field == "dtype" then return core.dtype_names[v] end
  if field == "init" then return INIT_NAMES[v] or tostring(v) end
  if field == "sparse" then return tostring(v == tonumber(C.PMLS_SPARSE)) end
  if (field == "staleness" or field == "consistency") and v == -1 then return "the engine's" end
  if field == "consistency" then return CONSISTENCY_NAMES[v] or tostring(v) end
  return tostring(v)
end

local function attach(self, name, id, want)
  local have = ffi.new("pmls_table_spec")
  assert(C.pmls_table_spec_of(self.engine, id, have) == 0)
  local fields = {
    { "rows", "rows" }, { "cols", "cols" }, { "dtype", "dtype" }, { "sparse", "layout" },
    { "staleness", "staleness" }, { "consistency", "consistency" }, { "init", "init" },
  }
  if have.init ~= 0 or want.init ~= 0 then fields[#fields + 1] = { "scale", "init_scale" } end
  local diffs = {}
  for _, f in ipairs(fields) do
    local a, b = tonumber(have[f[2]]), tonumber(want[f[2]])
    if a ~= b then
      diffs[#diffs + 1] = ("%s %s there, %s here"):format(f[1], spec_text(f[1], a), spec_text(f[1], b))
    end
  end
  if #diffs > 0 then
    error(("bad argument 'spec' to table (table '%s' exists with another spec: %s)")
          :format(name, table.concat(diffs, "; ")), 4)
  end
end

local function declare(self, name, spec)
  if type(spec) ~= "table" then
    error("bad argument 'spec' to table (table expected, got " .. type(spec) .. ")", 3)
  end
  for k in pairs(spec) do
    if not SPEC_FIELDS[k] then
      error(("bad argument 'spec' to table (unknown field '%s')"):format(tostring(k)), 3)
    end
  end
  local s = ffi.new("pmls_table_spec")
  C.pmls_table_spec_init(s)
  local function number_field(field, default)
    local v = spec[field]
    if v == nil then return default end
    if type(v) ~= "number" or v % 1 ~= 0 then
      error(("bad argument 'spec.%s' to table (whole number expected, got %s)"):format(field, tostring(v)), 4)
    end
    return v
  end
  s.rows = number_field("rows", 1)
  s.cols = number_field("cols", 1)
  s.staleness = number_field("staleness", -1)
  local dtype = core.dtypes[spec.dtype or "float64"]
  if not dtype then
    error(("bad argument 'spec.dtype' to table (%q: float64, float32, int32 or int64)"):format(tostring(spec.dtype)), 3)
  end
  s.dtype = dtype
  s.layout = spec.sparse and C.PMLS_SPARSE or C.PMLS_DENSE
  local init = INITS[spec.init or "zeros"]
  if not init then
    error(("bad argument 'spec.init' to table (%q: zeros, uniform or normal)"):format(tostring(spec.init)), 3)
  end
  s.init = init
  if spec.consistency ~= nil then
    local model = CONSISTENCY[spec.consistency]
    if not model then
      error(("bad argument 'spec.consistency' to table (%q: ssp, bsp, essp or async)"):format(tostring(spec.consistency)), 3)
    end
    s.consistency = model
  end
  s.init_scale = spec.scale or 1.0
  if self.declared[name] then
    error(("bad argument 'spec' to table (table '%s' is already declared in this setup)"):format(name), 3)
  end
  local id = ffi.new("int[1]")
  if C.pmls_table_find(self.engine, name, id) == 0 then
    attach(self, name, id[0], s)
  elseif C.pmls_table_create(self.engine, name, s, id) ~= 0 then
    error("bad argument 'spec' to table (" .. core.engine_error(self.engine) .. ")", 3)
  end
  self.declared[name] = true
  return id[0]
end

-- Setup's handles give rows their first values (init) and read them, but
-- do not increment: every process runs setup, so its increments would add
-- up once per process.
local SetupTable = setmetatable({}, { __index = tablemod.Table })
SetupTable.__index = SetupTable
for _, fn in ipairs { "inc", "inc_pairs", "inc_scaled" } do
  SetupTable[fn] = function()
    error(fn .. " is not available in app:setup (every process runs setup, so "
          .. "increments would add up: give rows their first values with init)", 2)
  end
end

-- Setup's host client, opened for its first table handle and closed (every
-- init applied) before the workers start.
local function host_client(self)
  if self.host then return self.host end
  local out = ffi.new("pmls_client *[1]")
  if C.pmls_client_open(self.engine, -1, out) ~= 0 then
    error("cannot open a client for app:setup: " .. core.engine_error(self.engine), 3)
  end
  self.host = ffi.gc(out[0], C.pmls_client_close)
  return self.host
end

-- The handle on a table that exists, for this context's thread.
local function handle(self, name)
  local t = self.tables[name]
  if t then return t end
  local id = ffi.new("int[1]")
  if C.pmls_table_find(self.engine, name, id) ~= 0 then
    if self.kind == "setup" then
      error("bad argument 'spec' to table (setup declares tables: give {rows=, cols=, ...})", 3)
    end
    error(("bad argument 'name' to table (no table named '%s')"):format(name), 3)
  end
  if self.kind == "setup" then
    t = setmetatable(tablemod.new(host_client(self), self.engine, id[0]), SetupTable)
  else
    t = tablemod.new(self.client, self.engine, id[0])
  end
  self.tables[name] = t
  return t
end

-- Table names that begin with this belong to the runtime (the gathers').
local RESERVED = "pmls."

-- setup: ctx:table(name, spec) declares a table and returns its id;
-- ctx:table(name), for a table declared already, returns a handle for
-- T:init (and T:get).
-- worker / finish: ctx:table(name) returns a handle bound to this thread.
function Context:table(name, spec)
  if type(name) ~= "string" then
    error("bad argument 'name' to table (string expected, got " .. type(name) .. ")", 2)
  end
  if name:sub(1, #RESERVED) == RESERVED then
    error(("bad argument 'name' to table (%q: names beginning with '%s' are the runtime's)")
          :format(name, RESERVED), 2)
  end
  if self.kind == "setup" and spec ~= nil then
    local id = declare(self, name, spec)
    return id
  end
  if spec ~= nil then
    error("bad argument 'spec' to table (tables are declared in app:setup)", 2)
  end
  local t = handle(self, name) -- not a tail call: its errors name the caller's line
  return t
end

-- Ends setup's use of the store: closes its client, once every row it
-- gave a first value to has it. Returns true, or nil and a message.
function Context:close()
  local host = self.host
  if host == nil then return true end
  self.host, self.tables = nil, {}
  if C.pmls_client_close(ffi.gc(host, nil)) ~= 0 then
    return nil, core.engine_error(self.engine)
  end
  return true
end

-- Reports named values: with this clock's values in a worker (sent at the
-- next clock()), as final values in finish.
function Context:report(values)
  if type(values) ~= "table" then
    error("bad argument 'values' to report (table expected, got " .. type(values) .. ")", 2)
  end
  if self.client == nil then
    error("report is not available in setup", 2)
  end
  for name, v in pairs(values) do
    if type(v) ~= "number" then
      error(("bad argument 'values' to report (%s is %s, number expected)"):format(tostring(name), type(v)), 2)
    end
    local rc = C.pmls_report(self.client, tostring(name), v)
    if rc == EVALUE then
      -- not a misuse: the model's value went NaN or infinite; the message
      -- names the metric and the clock
      error(core.client_error(self.client), 2)
    elseif rc ~= 0 then
      error("bad argument 'values' to report (" .. core.client_error(self.client) .. ")", 2)
    end
  end
end

-- Ends this worker's clock: sends its increments and reports. Returns true,
-- or nil and a message when the run failed.
function Context:clock()
  if self.kind ~= "worker" then
    error("clock is only available in app:worker", 2)
  end
  if C.pmls_clock(self.client) ~= 0 then
    return nil, core.client_error(self.client)
  end
  if self.checkpoint then return checkpoint.after_clock(self) end
  return true
end

-- clock(), then waits until every worker of the job has reached this clock.
-- Returns true, or nil and a message when the run failed.
function Context:barrier()
  if self.kind ~= "worker" then
    error("barrier is only available in app:worker", 2)
  end
  if C.pmls_barrier(self.client) ~= 0 then
    return nil, core.client_error(self.client)
  end
  return true
end

-- The clock of the copy the last read came from (-1 before any read): it
-- holds every update made before that clock.
function Context:last_copy_clock()
  if self.client == nil then return -1 end
  return tonumber(C.pmls_client_last_copy_clock(self.client))
end

-- The number of clock() calls this worker has made.
function Context:clock_count()
  if self.client == nil then return 0 end
  return tonumber(C.pmls_client_clock(self.client))
end

function Context:metric(name, how)
  if self.kind ~= "setup" then error("metric is only available in app:setup", 2) end
  local agg = core.metric_kinds[how]
  if not agg then
    error(("bad argument 'how' to metric (%q: %s)"):format(tostring(how), core.metric_kind_list), 2)
  end
  if C.pmls_metric_declare(self.engine, name, agg) ~= 0 then
    error("bad argument 'name' to metric (" .. core.engine_error(self.engine) .. ")", 2)
  end
end

-- ---- gathers: every worker's values for finish -----------------------------
-- A gather (app:gather(name, n)) is a dense float64 table of one row per
-- worker and n + 1 columns, the last one set to 1 by the worker that
-- filled its row. A worker adds its values to its own row once; finish
-- runs after every worker's client has closed, and a close returns once
-- the shards have applied all of that client's increments, so finish
-- reads every row whole without a synchronisation of its own. The table
-- is new for every run (a suffix .2, .3, ... when an earlier script run on
-- this engine left one), so a run never reads an earlier run's values;
-- every process runs the same declarations in the same order, so they
-- agree on the names.

-- Declares the tables of app.gathers; returns name -> { table =, n = },
-- or nil and a message.
function M.declare_gathers(engine, gathers)
  local out, id = {}, ffi.new("int[1]")
  for _, g in ipairs(gathers) do
    local base = RESERVED .. "gather." .. g.name
    local name, k = base, 1
    while C.pmls_table_find(engine, name, id) == 0 do
      k = k + 1
      name = base .. "." .. k
    end
    local s = ffi.new("pmls_table_spec")
    C.pmls_table_spec_init(s)
    s.rows, s.cols = C.pmls_engine_workers(engine), g.n + 1
    s.dtype, s.layout = C.PMLS_F64, C.PMLS_DENSE
    if C.pmls_table_create(engine, name, s, id) ~= 0 then
      return nil, ("gather '%s': %s"):format(g.name, core.engine_error(engine))
    end
    out[g.name] = { table = name, n = g.n }
  end
  return out
end

local function gather_of(self, name, fn)
  if type(name) ~= "string" then
    core.bad_argument("name", fn, "string expected, got " .. type(name), 3)
  end
  local g = self.gathers[name]
  if not g then
    core.bad_argument("name", fn, ("no gather named '%s': declare it with app:gather(name, n)"):format(name), 3)
  end
  return g
end

-- worker: hands values (a Lua array of n numbers, or an array of at least
-- n elements) to finish under a gather's name, once per worker. Returns
-- true, or nil and a message when the run failed.
function Context:gather(name, values)
  if self.kind ~= "worker" then error("gather is only available in app:worker", 2) end
  local g = gather_of(self, name, "gather")
  if self.gathered_names[name] then
    core.bad_argument("name", "gather", ("worker %d has gathered '%s' already: once per worker")
                      :format(self.worker, name))
  end
  local t = handle(self, g.table)
  local buf, n = t:row_buffer(), g.n
  if type(values) == "table" then
    if #values ~= n then
      core.bad_argument("values", "gather", ("%d values, gather '%s' takes %d"):format(#values, name, n))
    end
    for i = 1, n do
      local v = values[i]
      if type(v) ~= "number" then
        core.bad_argument("values", "gather", ("values[%d] is %s, number expected"):format(i, type(v)))
      end
      buf[i - 1] = v
    end
  elseif type(values) ~= "cdata" or not pcall(function()
           for i = 0, n - 1 do buf[i] = tonumber(values[i]) end
         end) then
    core.bad_argument("values", "gather", ("a Lua array or an array of %d numbers expected, got %s")
                      :format(n, type(values)))
  end
  buf[n] = 1
  self.gathered_names[name] = true
  return t:inc(self.worker, buf)
end

-- finish: what the workers gathered under name, as a Lua table indexed by
-- worker id (0 .. ctx.workers - 1) of float64 arrays of n values; nil for
-- a worker that gathered nothing. Returns nil and a message when a read
-- fails.
function Context:gathered(name)
  if self.kind ~= "finish" then error("gathered is only available in app:finish", 2) end
  local g = gather_of(self, name, "gathered")
  local t = handle(self, g.table)
  local buf, n, out = t:row_buffer(), g.n, {}
  for w = 0, self.workers - 1 do
    local row, err = t:get(w, buf)
    if not row then return nil, err end
    if buf[n] ~= 0 then out[w] = array.copy(array.float64(n), buf, n) end
  end
  return out
end

-- ---- data files ------------------------------------------------------------
-- The pmls.data readers, with this process's engine passed for the script:
-- the engine keeps each parse (libsvm, Matrix Market, ratings), so setup,
-- the workers, the scheduler nodes and finish of one process parse each
-- file once. They return what
-- pmls.data returns (nil, "path:LINE: ..." for a bad file). Each one
-- tail-calls pmls.data, so a misuse error names the script's line.

local function with_engine(self, opt, fn)
  if opt ~= nil and type(opt) ~= "table" then
    core.bad_argument("opt", fn, "table expected, got " .. type(opt), 3)
  end
  local o = {}
  for k, v in pairs(opt or {}) do o[k] = v end
  if o.engine ~= nil then
    core.bad_argument("opt", fn, "the context passes the engine itself: drop opt.engine", 3)
  end
  o.engine = self.engine
  return o
end

function Context:read_libsvm(path, opt)
  return data.read_libsvm(path, with_engine(self, opt, "read_libsvm"))
end

function Context:read_matrix(path, opt)
  return data.read_matrix(path, with_engine(self, opt, "read_matrix"))
end

-- Bag-of-words corpora (opt.vocab, opt.shard): the engine keeps each file's
-- parse, and a shard is a view of it.
function Context:read_docword(path, opt)
  return data.read_docword(path, with_engine(self, opt, "read_docword"))
end

function Context:read_ldac(path, opt)
  return data.read_ldac(path, with_engine(self, opt, "read_ldac"))
end

function Context:read_triplets(path, opt)
  return data.read_triplets(path, with_engine(self, opt, "read_triplets"))
end

function Context:read_mm(path, opt)
  return data.read_mm(path, with_engine(self, opt, "read_mm"))
end

-- ---- scheduled models (see pmls.rounds and docs/scheduling.md) -------------

-- setup: declares the model that scheduler nodes and workers update in
-- rounds (schedule / push / pull). `app` is the script's app.
function Context:schedule(spec, app)
  if self.kind ~= "setup" then error("schedule is only available in app:setup", 2) end
  if self.schedule_spec then error("schedule: the model is already declared", 2) end
  if type(app) ~= "table" then
    error("bad argument 'app' to schedule (the script's app expected: ctx:schedule(spec, app))", 2)
  end
  self.schedule_spec = require("pmls.rounds").declare(self.engine, spec, app, 2)
end

local function in_scheduler(self, fn)
  if self.kind ~= "scheduler" then error(fn .. " is only available on a scheduler node (app:pull)", 3) end
end

-- pull: adds delta (a number, or `width` numbers in a double array) to any
-- variable; it reaches the workers with the round's commit.
function Context:add(var, delta)
  in_scheduler(self, "add")
  if type(var) ~= "number" or var % 1 ~= 0 then
    core.bad_argument("var", "add", "whole number expected, got " .. tostring(var))
  end
  local buf = delta
  if type(delta) == "number" then
    if self.width ~= 1 then core.bad_argument("delta", "add", "width " .. self.width .. ": a double array expected") end
    buf = ffi.new("double[1]", delta)
  end
  if C.pmls_sched_add(self.sched, var, buf) ~= 0 then
    core.bad_argument("var", "add", ffi.string(C.pmls_sched_errmsg(self.sched)))
  end
end

-- pull: worker w's own partial of the round being pulled.
function Context:partial(w)
  in_scheduler(self, "partial")
  local p = C.pmls_sched_partial(self.sched, w)
  if p == nil then core.bad_argument("w", "partial", "worker 0.." .. (self.workers - 1) .. " expected") end
  return p
end

-- pull: sets the priorities of vars[0..n-1] from deltas (n * width values)
-- instead of the round's committed changes (e.g. from the changes a check
-- round found possible but did not make).
function Context:prioritize(vars, n, deltas)
  in_scheduler(self, "prioritize")
  if self.picker then self.picker:update(vars, n, deltas, self.width) end
  self.prioritized = true
end

-- scheduler: a named figure for the final metrics.
function Context:note(name, value)
  in_scheduler(self, "note")
  if C.pmls_sched_note(self.sched, name, value) ~= 0 then
    core.bad_argument("name", "note", ffi.string(C.pmls_sched_errmsg(self.sched)))
  end
end

-- scheduler: sends a few numbers (a Lua array, at most
-- PMLS_BROADCAST_MAX) to every worker with this node's next round; they
-- read them with ctx:received(). A second broadcast before that round
-- replaces the first.
function Context:broadcast(values)
  in_scheduler(self, "broadcast")
  if type(values) ~= "table" then
    core.bad_argument("values", "broadcast", "array of numbers expected, got " .. type(values))
  end
  local n = #values
  if n > C.PMLS_BROADCAST_MAX then
    core.bad_argument("values", "broadcast", n .. " values, at most " .. C.PMLS_BROADCAST_MAX)
  end
  local buf = self.broadcast_buf
  if buf == nil or self.broadcast_cap < n then
    buf = ffi.new("double[?]", math.max(n, 1))
    self.broadcast_buf, self.broadcast_cap = buf, math.max(n, 1)
  end
  for i = 1, n do
    local v = values[i]
    if type(v) ~= "number" then
      core.bad_argument("values", "broadcast", ("values[%d] is %s, number expected"):format(i, type(v)))
    end
    buf[i - 1] = v
  end
  if C.pmls_sched_broadcast(self.sched, buf, n) ~= 0 then
    core.bad_argument("values", "broadcast", ffi.string(C.pmls_sched_errmsg(self.sched)))
  end
  -- what a checkpoint keeps, so that a resumed node says it again
  local last = {}
  for i = 1, n do last[i] = values[i] end
  self.broadcast_last = last
end

local function in_rounds(self, fn)
  if self.rounds == nil then
    error(fn .. " is only available on a worker of a scheduled model (app:push, app:sync)", 3)
  end
end

-- push / sync: the values scheduler node `node` (default 0) broadcast
-- last, as a new array, or nil before its first broadcast. They arrive
-- with the node's rounds, so a push sees what the node sent up to its
-- round.
function Context:received(node)
  in_rounds(self, "received")
  node = node or 0
  if type(node) ~= "number" or node % 1 ~= 0 or node < 0 or node >= self.schedulers then
    core.bad_argument("node", "received", ("scheduler node 0..%d expected, got %s")
                      :format(self.schedulers - 1, tostring(node)))
  end
  local count = self.received_count
  if count == nil then
    count = ffi.new("int64_t[1]")
    self.received_count = count
  end
  local p = C.pmls_rounds_received(self.rounds, node, count)
  if p == nil then return nil end
  local out = {}
  for i = 1, tonumber(count[0]) do out[i] = p[i - 1] end
  return out
end

-- push (agnostic rounds, pass > 1): true once every worker has finished
-- its first pass and the round is over. Cheap enough to ask every few
-- hundred updates; the engine yields the thread now and then while the
-- answer is false, so polling workers leave the node's thread its turn.
function Context:round_over()
  in_rounds(self, "round_over")
  return C.pmls_round_over(self.rounds) ~= 0
end

-- push (agnostic rounds, pass > 1): waits until the round is over, for a
-- push with nothing more to do. Returns true, or nil and a message when
-- the run failed (the round's send then fails too).
function Context:wait_round_over()
  in_rounds(self, "wait_round_over")
  if C.pmls_round_wait_over(self.rounds) ~= 0 then
    return nil, ffi.string(C.pmls_rounds_errmsg(self.rounds))
  end
  return true
end

-- push (block rounds): this worker's blocks, as an iterator of
-- (row block, variable block, first index, last index + 1) into vars.
function Context:blocks()
  local share, g = self.share, -1
  return function()
    g = g + 1
    if share == nil or g >= share.nseg then return nil end
    return share.seg_row[g], share.seg_col[g], tonumber(share.seg_lo[g]), tonumber(share.seg_hi[g])
  end
end

M.Context = Context
return M
