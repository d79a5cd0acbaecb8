-- pmls.table: a handle on one table of the store, bound to the client of
-- the thread that holds it. Reads and increments are single FFI calls into
-- libpmls, so they stay inside JIT traces; the error branches are not taken
-- on the hot path. Misuse (a bad row or column) raises an error naming the
-- argument; a runtime failure (a timeout, an aborted run) returns nil, err.
local core = require "pmls.core"
local ffi, C = core.ffi, core.C

local M = {}
local Table = {}

local function bad_row(fn, row)
  error(("bad argument 'row' to %s (whole number expected, got %s)"):format(fn, type(row)), 3)
end
Table.__index = Table

local EINVAL, ERANGE = tonumber(C.PMLS_EINVAL), tonumber(C.PMLS_ERANGE)

-- Builds the error for a failed call: misuse (PMLS_EINVAL, PMLS_ERANGE)
-- raises, naming the argument the handle can see is bad; the rest returns.
-- Callers must not tail-call it (`local a, b = failed(...)`), or the level
-- would skip the method's frame and blame the wrong line.
local function failed(self, rc, fn, arg, row, n)
  local msg = core.client_error(self.client)
  if rc == EINVAL or rc == ERANGE then
    if row ~= nil and (row < 0 or row >= self.rows or row % 1 ~= 0) then arg = "row"
    elseif n ~= nil and n < 0 then arg = "n"
    elseif arg == "row or cols" then arg = "cols" end
    error(("bad argument '%s' to %s (%s)"):format(arg, fn, msg), 3)
  end
  return nil, msg
end

function M.new(client, engine, id)
  local spec = ffi.new("pmls_table_spec")
  assert(C.pmls_table_spec_of(engine, id, spec) == 0)
  local ctype = core.ctypes[tonumber(spec.dtype)]
  local self = setmetatable({
    client = client, id = id, name = ffi.string(C.pmls_table_name(engine, id)),
    rows = tonumber(spec.rows), cols = tonumber(spec.cols),
    dtype = core.dtype_names[tonumber(spec.dtype)],
    sparse = spec.layout == C.PMLS_SPARSE,
    array_type = ffi.typeof(ctype .. "[?]"),
    -- the size in the text, not as a "$" parameter: busted caches
    -- ffi.typeof by its first argument, and would hand every table the
    -- row type of the first one
    row_type = ffi.typeof(ctype .. "[" .. tonumber(spec.cols) .. "]"),
    pointers_type = ffi.typeof(ctype .. " *[?]"),
    view_pointers_type = ffi.typeof("const " .. ctype .. " *[?]"),
    pointer_type = ffi.typeof(ctype .. " *"),
    view_pointer_type = ffi.typeof("const " .. ctype .. " *"),
    one_pointer = ffi.new("void *[1]"),
  }, Table)
  if self.sparse then
    self.keys = ffi.new("int32_t[?]", self.cols)
    self.vals = self.array_type(self.cols)
    self.count = ffi.new("int64_t[1]")
  end
  return self
end

-- A zeroed buffer of one dense row (0-based, `cols` elements).
function Table:row_buffer()
  return self.row_type()
end

-- Dense tables: fills buf (or a new buffer) with the row and returns it.
-- Sparse tables: returns keys, values, n (buffers reused by the next get).
function Table:get(row, buf)
  if type(row) ~= "number" then bad_row("get", row) end
  if self.sparse then
    local rc = C.pmls_get_sparse(self.client, self.id, row, self.keys,
                                 self.vals, self.cols, self.count)
    if rc ~= 0 then local a, b = failed(self, rc, "get", "row", row); return a, b end
    return self.keys, self.vals, tonumber(self.count[0])
  end
  if buf == nil then buf = self.array_type(self.cols)
  elseif not ffi.istype(self.row_type, buf) then
    core.bad_argument("buf", "get", "a row buffer from row_buffer() expected")
  end
  local rc = C.pmls_get_dense(self.client, self.id, row, buf)
  if rc ~= 0 then local a, b = failed(self, rc, "get", "row", row); return a, b end
  return buf
end

-- inc(row, col, delta): one element. inc(row, deltas): a whole dense row
-- (a buffer of the table's type with `cols` elements).
function Table:inc(row, col, delta)
  if type(row) ~= "number" then bad_row("inc", row) end
  local rc
  if delta ~= nil then
    if type(col) ~= "number" or col % 1 ~= 0 then
      core.bad_argument("col", "inc", "whole number expected, got " .. tostring(col))
    end
    if type(delta) ~= "number" then
      core.bad_argument("delta", "inc", "number expected, got " .. type(delta))
    end
    rc = C.pmls_inc_one(self.client, self.id, row, col, delta)
  else
    if not ffi.istype(self.row_type, col) then
      core.bad_argument("deltas", "inc", "a row buffer from row_buffer() or (col, delta) expected")
    end
    rc = C.pmls_inc_dense(self.client, self.id, row, col)
  end
  if rc ~= 0 then local a, b = failed(self, rc, "inc", delta ~= nil and "col" or "row", row); return a, b end
  return true
end

-- row += alpha * x, where x is a double[cols] buffer (dense tables).
function Table:inc_scaled(row, x, alpha)
  local rc = C.pmls_inc_scaled(self.client, self.id, row, x, alpha)
  if rc ~= 0 then local a, b = failed(self, rc, "inc_scaled", "row", row); return a, b end
  return true
end

-- Gives a dense row its first value, buf (a row buffer): the row takes it
-- if no read, increment or init has reached it yet, and keeps what it has
-- otherwise (pmls_init_dense). This is how setup fills a table: every
-- process runs setup, and the first init of a row to arrive counts.
function Table:init(row, buf)
  if type(row) ~= "number" then bad_row("init", row) end
  if self.sparse then
    core.bad_argument("row", "init", "table '" .. self.name .. "' is sparse: init gives dense rows their first values")
  end
  if not ffi.istype(self.row_type, buf) then
    core.bad_argument("buf", "init", "a row buffer from row_buffer() expected")
  end
  local rc = C.pmls_init_dense(self.client, self.id, row, buf)
  if rc ~= 0 then local a, b = failed(self, rc, "init", "row"); return a, b end
  return true
end

-- n (column, delta) pairs: cols is int32_t[n], deltas has the table's type.
function Table:inc_pairs(row, n, cols, deltas)
  local rc = C.pmls_inc_pairs(self.client, self.id, row, n, cols, deltas)
  if rc ~= 0 then local a, b = failed(self, rc, "inc_pairs", "row or cols", row, n); return a, b end
  return true
end

-- ---- many rows: batched reads, views, pending increments ------------------
-- ids: an int64 array of row ids (pmls.array.int64); n of them are used.
-- A view is a pointer to the row as the worker sees it minus its pending
-- increment (0-based, `cols` elements, read-only), valid until the next
-- ctx:clock(); a delta is a pointer to the worker's pending increment of
-- the row (written in place, sent at the next clock). view[f] + delta[f]
-- is what get reads. See pmls_view_many / pmls_delta_many in pmls.h.

local function many_args(self, fn, ids, n, out, what)
  if type(ids) ~= "cdata" then core.bad_argument("ids", fn, "an int64 array of row ids expected, got " .. type(ids), 3) end
  if type(n) ~= "number" or n < 0 or n % 1 ~= 0 then core.bad_argument("n", fn, "whole number >= 0 expected, got " .. tostring(n), 3) end
  if type(out) ~= "cdata" then core.bad_argument(what, fn, "an array expected, got " .. type(out), 3) end
  if self.sparse then core.bad_argument("ids", fn, "table '" .. self.name .. "' is sparse: views and many-row reads are for dense tables", 3) end
end

-- Arrays of n row pointers of the table's type: read-only ones for
-- view_many, writable ones for delta_many (as pmls.kernels takes them).
function Table:view_pointers(n)
  return self.view_pointers_type(n)
end

function Table:pointers(n)
  return self.pointers_type(n)
end

-- Copies rows ids[0..n-1] into out (n * cols elements, row after row), as
-- get would read each, in one request per shard for the cache's misses.
function Table:get_many(ids, n, out)
  many_args(self, "get_many", ids, n, out, "out")
  local rc = C.pmls_get_many(self.client, self.id, n, ids, out)
  if rc ~= 0 then local a, b = failed(self, rc, "get_many", "ids"); return a, b end
  return out
end

-- Sparse tables: rows ids[0..n-1], each as get reads it, in one request
-- per shard. Returns offsets, keys, vals: row ids[i]'s pairs are keys /
-- vals[offsets[i] .. offsets[i + 1] - 1] (0-based arrays, reused and grown
-- by the next call).
function Table:get_sparse_many(ids, n)
  if type(ids) ~= "cdata" then core.bad_argument("ids", "get_sparse_many", "an int64 array of row ids expected, got " .. type(ids)) end
  if type(n) ~= "number" or n < 0 or n % 1 ~= 0 then core.bad_argument("n", "get_sparse_many", "whole number >= 0 expected, got " .. tostring(n)) end
  if not self.sparse then core.bad_argument("ids", "get_sparse_many", "table '" .. self.name .. "' is dense: read many of its rows with get_many") end
  if not self.many_offsets or self.many_rows < n then
    self.many_offsets, self.many_rows = ffi.new("int64_t[?]", n + 1), n
  end
  local off = self.many_offsets
  for _ = 1, 3 do
    local cap = self.many_cap or 0
    off[n] = -1
    local rc = C.pmls_get_sparse_many(self.client, self.id, n, ids, off, self.many_keys, self.many_vals, cap)
    if rc == 0 then return off, self.many_keys, self.many_vals end
    -- too little room: offsets say how much (they stay -1 for any other error)
    if rc ~= EINVAL or off[n] <= cap then local a, b = failed(self, rc, "get_sparse_many", "ids"); return a, b end
    local want = tonumber(off[n])
    self.many_cap = want + math.floor(want / 4) + 16
    self.many_keys = ffi.new("int32_t[?]", self.many_cap)
    self.many_vals = self.array_type(self.many_cap)
  end
  return nil, "get_sparse_many: the rows kept growing between the reads that size them"
end

-- Fills views[0..n-1] (from view_pointers(n)) with views of rows ids[0..n-1].
function Table:view_many(ids, n, views)
  many_args(self, "view_many", ids, n, views, "views")
  local rc = C.pmls_view_many(self.client, self.id, n, ids, ffi.cast("const void **", views))
  if rc ~= 0 then local a, b = failed(self, rc, "view_many", "ids"); return a, b end
  return views
end

-- Fills deltas[0..n-1] (from pointers(n)) with the pending increments of
-- rows ids[0..n-1].
function Table:delta_many(ids, n, deltas)
  many_args(self, "delta_many", ids, n, deltas, "deltas")
  local rc = C.pmls_delta_many(self.client, self.id, n, ids, ffi.cast("void **", deltas))
  if rc ~= 0 then local a, b = failed(self, rc, "delta_many", "ids"); return a, b end
  return deltas
end

-- One row's view (a read-only pointer) and pending increment (writable).
function Table:view(row)
  if type(row) ~= "number" then bad_row("view", row) end
  if self.sparse then core.bad_argument("row", "view", "table '" .. self.name .. "' is sparse: views are for dense tables") end
  local rc = C.pmls_view_dense(self.client, self.id, row, ffi.cast("const void **", self.one_pointer))
  if rc ~= 0 then local a, b = failed(self, rc, "view", "row", row); return a, b end
  return ffi.cast(self.view_pointer_type, self.one_pointer[0])
end

function Table:delta(row)
  if type(row) ~= "number" then bad_row("delta", row) end
  if self.sparse then core.bad_argument("row", "delta", "table '" .. self.name .. "' is sparse: delta pointers are for dense tables") end
  local rc = C.pmls_delta_dense(self.client, self.id, row, self.one_pointer)
  if rc ~= 0 then local a, b = failed(self, rc, "delta", "row", row); return a, b end
  return ffi.cast(self.pointer_type, self.one_pointer[0])
end

M.Table = Table
return M
