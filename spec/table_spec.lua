-- Spec for pmls.table and ctx:table (lua/pmls/table.lua, context.lua) on an
-- in-process engine through the FFI: values of every dtype survive
-- increments and reads, misuse raises errors naming the argument, runtime
-- failures return nil, err, the hot loop compiles into a JIT trace, and
-- (through the `pmls` command) concurrent workers lose no increment.
local helpers = require "helpers"

describe("pmls.core", function()
  it("loads libpmls.so from PMLS_LIB in a plain luajit", function()
    local ok, core = pcall(require, "pmls.core")
    assert.is_true(ok, "require 'pmls.core' failed: " .. tostring(core))
    assert.matches("^%d+%.%d+%.%d+", core.version())
  end)
end)

describe("pmls.table", function()
  local E
  after_each(function()
    if E then E:close() end
    E = nil
  end)

  -- An engine with one table `t` declared from spec; returns its handle.
  local function table_with(spec, cfg)
    E = helpers.engine(cfg)
    E.setup:table("t", spec)
    return (E:table("t"))
  end

  local function ffi() return require("ffi") end

  describe("dense tables", function()
    local cases = {
      { dtype = "float64", delta = 0.1, ctype = "double" },
      { dtype = "float32", delta = 0.1, ctype = "float" },
      { dtype = "int32", delta = 3, ctype = "int32_t" },
      { dtype = "int64", delta = 3, ctype = "int64_t" },
    }
    for _, case in ipairs(cases) do
      it(("keep %s values through inc(row, col, delta) and get(row)"):format(case.dtype), function()
        local T = table_with({ rows = 3, cols = 4, dtype = case.dtype })
        assert.are.equal(case.dtype, T.dtype)
        assert.is_true(T:inc(1, 2, case.delta))
        assert.is_true(T:inc(1, 2, case.delta))
        assert.is_true(T:inc(2, 0, -case.delta))
        local row = T:get(1)
        assert.is_true(ffi().istype(case.ctype .. "[?]", row))
        -- the expected value, computed in the table's own element type
        local one = ffi().new(case.ctype .. "[1]", case.delta)
        one[0] = one[0] + one[0]
        assert.are.equal(tonumber(one[0]), tonumber(row[2]))
        assert.are.equal(0, tonumber(row[0]))
        assert.are.equal(0, tonumber(row[3]))
        local other = T:get(2)
        assert.are.equal(tonumber(ffi().new(case.ctype, -case.delta)), tonumber(other[0]))
        assert.are.equal(0, tonumber(T:get(0)[2]))
      end)
    end

    it("adds a whole row buffer with inc(row, buf)", function()
      local T = table_with({ rows = 2, cols = 3, dtype = "int64" })
      local buf = T:row_buffer()
      buf[0], buf[1], buf[2] = 1, -2, 2 ^ 40
      assert.is_true(T:inc(1, buf))
      assert.is_true(T:inc(1, buf))
      local row = T:get(1)
      assert.are.equal(2, tonumber(row[0]))
      assert.are.equal(-4, tonumber(row[1]))
      assert.are.equal(2 ^ 41, tonumber(row[2]))
    end)

    it("fills the buffer it is given and returns that buffer", function()
      local T = table_with({ rows = 1, cols = 2 })
      T:inc(0, 1, 2.5)
      local buf = T:row_buffer()
      local got = T:get(0, buf)
      assert.are.equal(buf, got)
      assert.are.equal(2.5, buf[1])
    end)

    it("starts a uniform-initialised table inside [-scale, scale) and not all zero", function()
      local T = table_with({ rows = 2, cols = 50, init = "uniform", scale = 0.5 })
      local row, nonzero = T:get(1), 0
      for j = 0, 49 do
        assert.is_true(row[j] >= -0.5 and row[j] < 0.5)
        if row[j] ~= 0 then nonzero = nonzero + 1 end
      end
      assert.is_true(nonzero > 40)
    end)
  end)

  describe("inc_pairs()", function()
    it("adds n (column, delta) pairs, repeated columns accumulating", function()
      local T = table_with({ rows = 2, cols = 5, dtype = "float32" })
      local cols = ffi().new("int32_t[4]", 0, 4, 0, 2)
      local deltas = ffi().new("float[4]", 1.5, 2, 0.25, -1)
      assert.is_true(T:inc_pairs(1, 4, cols, deltas))
      local row = T:get(1)
      assert.are.same({ 1.75, 0, -1, 0, 2 },
                      { row[0], row[1], row[2], row[3], row[4] })
    end)

    it("keeps int64 deltas above 2^53 exact", function()
      local T = table_with({ rows = 1, cols = 2, dtype = "int64" })
      local big = 9007199254740993LL -- 2^53 + 1: not a double
      assert.is_true(T:inc_pairs(0, 2, ffi().new("int32_t[2]", 1, 1), ffi().new("int64_t[2]", big, big)))
      assert.is_true(T:get(0)[1] == big * 2)
    end)

    it("raises naming 'row' for a row out of range", function()
      local T = table_with({ rows = 2, cols = 2 })
      assert.has_error(function()
        T:inc_pairs(2, 1, ffi().new("int32_t[1]", 0), ffi().new("double[1]", 1))
      end, "bad argument 'row' to inc_pairs (row 2 out of range for table 't' (rows 0..1))")
    end)

    it("raises naming 'cols' for a column out of range", function()
      local T = table_with({ rows = 2, cols = 2 })
      assert.has_error(function()
        T:inc_pairs(0, 2, ffi().new("int32_t[2]", 0, 2), ffi().new("double[2]", 1, 1))
      end, "bad argument 'cols' to inc_pairs (column 2 out of range for table 't' (cols 0..1))")
      assert.are.equal(0, T:get(0)[0], "a refused call must not apply its valid pairs")
    end)

    it("raises naming 'n' for a negative count", function()
      local T = table_with({ rows = 2, cols = 2 })
      local ok, err = pcall(T.inc_pairs, T, 0, -1, ffi().new("int32_t[1]", 0), ffi().new("double[1]", 1))
      assert.is_false(ok)
      assert.matches("bad argument 'n' to inc_pairs", err)
    end)
  end)

  describe("inc_scaled()", function()
    it("adds alpha * x to a float64 row", function()
      local T = table_with({ rows = 1, cols = 3 })
      assert.is_true(T:inc_scaled(0, ffi().new("double[3]", 1, 2, 4), 0.5))
      assert.is_true(T:inc_scaled(0, ffi().new("double[3]", 1, 2, 4), -0.25))
      local row = T:get(0)
      assert.are.same({ 0.25, 0.5, 1 }, { row[0], row[1], row[2] })
    end)

    it("adds alpha * x to a float32 row", function()
      local T = table_with({ rows = 1, cols = 2, dtype = "float32" })
      assert.is_true(T:inc_scaled(0, ffi().new("double[2]", 3, -1), 2))
      local row = T:get(0)
      assert.are.same({ 6, -2 }, { row[0], row[1] })
    end)

    it("raises naming 'row' for a row out of range", function()
      local T = table_with({ rows = 1, cols = 2 })
      assert.has_error(function() T:inc_scaled(1, ffi().new("double[2]"), 1) end,
                       "bad argument 'row' to inc_scaled (row 1 out of range for table 't' (rows 0..0))")
    end)
  end)

  describe("sparse tables", function()
    local function as_map(keys, vals, n)
      local m = {}
      for i = 0, n - 1 do m[keys[i]] = tonumber(vals[i]) end
      return m
    end

    it("return only the columns incremented, as keys, values and a count", function()
      local T = table_with({ rows = 2, cols = 1000, sparse = true, dtype = "int32" })
      assert.is_true(T.sparse)
      assert.is_true(T:inc(1, 999, 5))
      assert.is_true(T:inc(1, 7, 2))
      assert.is_true(T:inc(1, 999, -1))
      assert.is_true(T:inc_pairs(1, 2, ffi().new("int32_t[2]", 7, 0), ffi().new("int32_t[2]", 1, 9)))
      local keys, vals, n = T:get(1)
      assert.are.equal(3, n)
      assert.are.same({ [0] = 9, [7] = 3, [999] = 4 }, as_map(keys, vals, n))
      local _, _, n0 = T:get(0)
      assert.are.equal(0, n0)
    end)

    it("keep float64 values", function()
      local T = table_with({ rows = 1, cols = 10, sparse = true })
      T:inc(0, 3, 0.1)
      T:inc(0, 3, 0.2)
      local keys, vals, n = T:get(0)
      assert.are.equal(1, n)
      assert.are.equal(3, keys[0])
      assert.are.equal(0.1 + 0.2, vals[0])
    end)

    it("read many rows at once with get_sparse_many, as get reads each, the arrays grown as needed", function()
      local array = require "pmls.array"
      local T = table_with({ rows = 50, cols = 400, sparse = true, dtype = "int32" })
      for r = 0, 49 do
        for j = 0, r % 7 * 9 do assert.is_true(T:inc(r, (r * 13 + j * 7) % 400, r + j)) end
      end
      local ids = array.int64(52)
      for i = 0, 49 do ids[i] = (i * 17) % 50 end
      ids[50], ids[51] = 3, 3
      local off, keys, vals = assert(T:get_sparse_many(ids, 52))
      for i = 0, 51 do
        local k1, v1, n1 = T:get(tonumber(ids[i]))
        local want = as_map(k1, v1, n1)
        local n = tonumber(off[i + 1] - off[i])
        assert.are.equal(n1, n)
        assert.are.same(want, as_map(keys + off[i], vals + off[i], n))
      end
      local off2 = assert(T:get_sparse_many(ids, 2))
      assert.are.equal(0, tonumber(off2[0]))
      local ok, err = pcall(T.get_sparse_many, T, ids, -1)
      assert.is_false(ok)
      assert.matches("bad argument 'n' to get_sparse_many", err)
      ids[0] = 50
      ok, err = pcall(T.get_sparse_many, T, ids, 1)
      assert.is_false(ok)
      assert.matches("bad argument 'ids' to get_sparse_many", err)
    end)

    it("refuse get_sparse_many on a dense table, saying so", function()
      local T = table_with({ rows = 3, cols = 4 })
      local ok, err = pcall(T.get_sparse_many, T, require("pmls.array").int64(1), 1)
      assert.is_false(ok)
      assert.matches("is dense: read many of its rows with get_many", err)
    end)

    it("refuse a dense row buffer, saying the table is sparse", function()
      local T = table_with({ rows = 1, cols = 4, sparse = true })
      local ok, err = pcall(T.inc, T, 0, ffi().new("double[4]"))
      assert.is_false(ok)
      assert.matches("sparse", err)
    end)
  end)

  describe("many rows, views and delta pointers", function()
    local array = require "pmls.array"
    local function ids_of(list)
      local ids = array.int64(#list)
      for i, v in ipairs(list) do ids[i - 1] = v end
      return ids
    end

    it("get_many reads what get reads, for rows in any order", function()
      local T = table_with({ rows = 6, cols = 3 })
      for r = 0, 5 do assert.is_true(T:inc(r, 1, r + 0.5)) end
      local ids = ids_of({ 5, 0, 3, 3 })
      local out = array.float64(4 * 3)
      assert.are.equal(out, T:get_many(ids, 4, out))
      for i, r in ipairs({ 5, 0, 3, 3 }) do
        local one = T:get(r)
        for f = 0, 2 do assert.are.equal(one[f], out[(i - 1) * 3 + f]) end
      end
    end)

    it("views plus deltas read what get reads, and updates written into deltas are sent", function()
      table_with({ rows = 4, cols = 2, dtype = "float32" })
      local T, c = E:table("t")
      assert.is_true(T:inc(2, 0, 4))
      assert.are.equal(0, E:close_client(c))
      T = E:table("t")
      assert.is_true(T:inc(2, 1, 1))
      local ids = ids_of({ 2, 1 })
      local views, deltas = T:view_pointers(2), T:pointers(2)
      assert(T:view_many(ids, 2, views))
      assert(T:delta_many(ids, 2, deltas))
      assert.are.equal(4, views[0][0])  -- sent: in the view
      assert.are.equal(0, views[0][1])  -- pending: not in the view ...
      assert.are.equal(1, deltas[0][1]) -- ... but in the delta
      deltas[1][1] = deltas[1][1] + 2.5
      local d = T:delta(1)
      assert.are.equal(2.5, d[1])
      local v = T:view(2)
      assert.are.equal(4, v[0])
      assert.are.equal(2.5, T:get(1)[1])
    end)

    it("name the bad argument on misuse", function()
      local T = table_with({ rows = 3, cols = 2 })
      local ids = ids_of({ 0, 7 })
      local out = array.float64(4)
      assert.has_error(function() T:get_many(ids, 2, out) end,
        "bad argument 'ids' to get_many (row 7 out of range for table 't' (rows 0..2))")
      assert.has_error(function() T:get_many({ 0 }, 1, out) end)
      local ok, err = pcall(T.get_many, T, { 0 }, 1, out)
      assert.is_false(ok)
      assert.matches("bad argument 'ids' to get_many", err)
      ok, err = pcall(T.view_many, T, ids, -1, T:view_pointers(2))
      assert.matches("bad argument 'n' to view_many", err)
      ok, err = pcall(T.delta_many, T, ids, 1, nil)
      assert.matches("bad argument 'deltas' to delta_many", err)
      ok, err = pcall(T.view, T, 3)
      assert.matches("bad argument 'row' to view", err)
      ok, err = pcall(T.delta, T, "x")
      assert.matches("bad argument 'row' to delta", err)
    end)

    it("refuse sparse tables", function()
      local T = table_with({ rows = 3, cols = 2, sparse = true })
      local ok, err = pcall(T.view, T, 0)
      assert.matches("bad argument 'row' to view %(table 't' is sparse", err)
      ok, err = pcall(T.get_many, T, ids_of({ 0 }), 1, array.float64(2))
      assert.matches("is sparse", err)
    end)
  end)

  describe("misuse of get() and inc()", function()
    local T
    before_each(function() T = table_with({ rows = 3, cols = 4 }) end)

    it("raises naming 'row' for get() of a row past the end or negative", function()
      assert.has_error(function() T:get(3) end,
                       "bad argument 'row' to get (row 3 out of range for table 't' (rows 0..2))")
      assert.has_error(function() T:get(-1) end,
                       "bad argument 'row' to get (row -1 out of range for table 't' (rows 0..2))")
    end)

    it("raises naming 'row' for get() with no row", function()
      local ok, err = pcall(T.get, T, nil)
      assert.is_false(ok)
      assert.matches("bad argument 'row' to get", err)
    end)

    it("raises the error at the caller's line", function()
      local line = debug.getinfo(1, "l").currentline + 1
      local ok, err = pcall(function() T:get(99) end)
      assert.is_false(ok)
      assert.matches("table_spec%.lua:" .. line .. ": bad argument 'row'", err)
    end)

    it("raises naming 'row' for inc(row, col, delta) with a row past the end or negative", function()
      assert.has_error(function() T:inc(3, 0, 1) end,
                       "bad argument 'row' to inc (row 3 out of range for table 't' (rows 0..2))")
      assert.has_error(function() T:inc(-1, 0, 1) end,
                       "bad argument 'row' to inc (row -1 out of range for table 't' (rows 0..2))")
    end)

    it("raises naming 'row' for inc(row, buf) with a bad row", function()
      assert.has_error(function() T:inc(5, T:row_buffer()) end,
                       "bad argument 'row' to inc (row 5 out of range for table 't' (rows 0..2))")
    end)

    it("raises naming 'col' for a column past the end or negative", function()
      assert.has_error(function() T:inc(0, 4, 1) end,
                       "bad argument 'col' to inc (column 4 out of range for table 't' (cols 0..3))")
      assert.has_error(function() T:inc(0, -1, 1) end,
                       "bad argument 'col' to inc (column -1 out of range for table 't' (cols 0..3))")
      assert.are.same({ 0, 0, 0, 0 }, { T:get(0)[0], T:get(0)[1], T:get(0)[2], T:get(0)[3] })
    end)

    it("raises naming 'col' for a column that is not a whole number", function()
      local ok, err = pcall(T.inc, T, 0, 1.5, 1)
      assert.is_false(ok, "inc(0, 1.5, 1) was accepted (it went to column " ..
                          (T:get(0)[1] ~= 0 and "1" or "?") .. ")")
      assert.matches("bad argument 'col' to inc", err)
    end)

    it("raises naming 'col' for a column that is not a number", function()
      local ok, err = pcall(T.inc, T, 0, "a", 1)
      assert.is_false(ok)
      assert.matches("bad argument 'col' to inc", err)
    end)

    it("raises naming 'deltas' when given neither a buffer nor (col, delta)", function()
      assert.has_error(function() T:inc(0, { 1, 2, 3, 4 }) end,
                       "bad argument 'deltas' to inc (a row buffer from row_buffer() or (col, delta) expected)")
      assert.has_error(function() T:inc(0, 1) end,
                       "bad argument 'deltas' to inc (a row buffer from row_buffer() or (col, delta) expected)")
    end)

    it("raises naming 'deltas' for a buffer of another element type", function()
      -- float[8] is as many bytes as the double[4] row: no memory is overrun
      local ok, err = pcall(T.inc, T, 0, ffi().new("float[8]", 1, 1, 1, 1, 1, 1, 1, 1))
      assert.is_false(ok, "a float buffer was added to a float64 row (row[0] is now " ..
                          tostring(T:get(0)[0]) .. ")")
      assert.matches("bad argument 'deltas' to inc", err)
    end)
  end)

  describe("across clients", function()
    it("shows a client's increments to another client once the first has closed", function()
      E = helpers.engine()
      E.setup:table("t", { rows = 2, cols = 2, dtype = "int64" })
      local A, ca = E:table("t")
      A:inc(1, 1, 40)
      A:inc(1, 1, 2)
      assert.are.equal(0, E:close_client(ca))
      local B = E:table("t")
      assert.are.equal(42, tonumber(B:get(1)[1]))
      B:inc(1, 1, 1)
      assert.are.equal(43, tonumber(B:get(1)[1]))
    end)

    it("lets a worker read, after a clock, what every worker added before it (BSP)", function()
      E = helpers.engine({ workers = 2, timeout_ms = 5000 })
      E.setup:table("t", { rows = 1, cols = 1, dtype = "int64", staleness = 0 })
      local ctx = E.context
      local w0 = ctx.worker(E.e, E:client(0), {}, nil)
      local w1 = ctx.worker(E.e, E:client(1), {}, nil)
      w0:table("t"):inc(0, 0, 1)
      w1:table("t"):inc(0, 0, 10)
      assert.is_true(w0:clock())
      assert.is_true(w1:clock())
      assert.are.equal(11, tonumber(w0:table("t"):get(0)[0]))
      assert.are.equal(11, tonumber(w1:table("t"):get(0)[0]))
      assert.are.equal(1, w0:clock_count())
    end)
  end)

  describe("runtime failures", function()
    it("make get() return nil and a timeout message when the bound cannot be met", function()
      E = helpers.engine({ workers = 2, timeout_ms = 200 })
      E.setup:table("t", { rows = 1, cols = 1 })
      local w0 = E.context.worker(E.e, E:client(0), {}, nil)
      assert.is_true(w0:clock()) -- worker 1 never clocks: clock 1 never completes
      local v, err = w0:table("t"):get(0)
      assert.is_nil(v)
      assert.matches("timed out after 200 ms", err)
      assert.matches("table 't'", err)
    end)

    it("make get() return nil and the reason after a worker aborted the run", function()
      E = helpers.engine({ workers = 2, timeout_ms = 5000 })
      E.setup:table("t", { rows = 1, cols = 1 })
      local c0 = E:client(0)
      assert.are.equal(0, E.C.pmls_abort(c0, "stopped by the spec"))
      local v, err = E:table("t"):get(0)
      assert.is_nil(v)
      assert.matches("run aborted: stopped by the spec", err)
    end)
  end)

  describe("JIT compilation", function()
    it("compiles a loop of get(0, buf) and inc(0, 1, 1.0) into a looping trace with no NYI abort", function()
      local jutil = require "jit.util"
      local T = table_with({ rows = 1, cols = 4 })
      local buf = T:row_buffer()
      local function loop(n)
        local s = 0
        for _ = 1, n do
          T:get(0, buf)
          T:inc(0, 1, 1.0)
          s = s + buf[1]
        end
        return s
      end
      -- The handler only records: no globals, no allocation beyond a table.
      local events, n = {}, 0
      local function on_trace(what, tr, func, pc, otr, oex)
        n = n + 1
        events[n] = { what, tr, func, pc, otr, oex }
      end
      jit.flush()
      jit.attach(on_trace, "trace")
      local ok, err = pcall(function()
        loop(300)   -- warm up: the loop gets hot and is recorded here
        loop(2000)
      end)
      jit.attach(on_trace)
      assert.is_true(ok, err)
      -- Which traces started in the loop function (a trace that starts in
      -- T:get and runs into the loop may abort with "loop unroll limit":
      -- LuaJIT then records the loop itself, which is what counts).
      local loop_proto = jutil.funcinfo(loop)
      -- Aborts about the shape of the loop (an inner loop or an exit seen
      -- while recording a root trace, unrolling) depend on where the hot
      -- counters stand and LuaJIT retries them; every other abort (NYI,
      -- a C function it cannot call, blacklisting) means the path cannot
      -- be compiled, which is what this test is for.
      local traceerr = require("jit.vmdef").traceerr
      local shape = {}
      for i, msg in pairs(traceerr) do
        if msg == "leaving loop in root trace" or msg == "inner loop in root trace"
           or msg == "loop unroll limit reached" or msg == "retry recording"
           or msg == "down-recursion, restarting" then
          shape[i] = true
        end
      end
      assert.is_true(next(shape) ~= nil, "jit.vmdef lists no trace errors")
      local in_loop, looping, aborted = {}, 0, {}
      for i = 1, n do
        local what, tr, func, pc, otr, oex = unpack(events[i], 1, 6)
        if what == "start" then
          local fi = jutil.funcinfo(func, pc)
          in_loop[tr] = fi.source == loop_proto.source and fi.linedefined == loop_proto.linedefined
        elseif what == "stop" and in_loop[tr] then
          local info = jutil.traceinfo(tr)
          if info and info.linktype == "loop" then looping = looping + 1 end
        elseif what == "abort" and in_loop[tr] and not shape[otr] then
          aborted[#aborted + 1] = ("trace %d at %s: %s"):format(
            tr, jutil.funcinfo(func, pc).loc or "?",
            (traceerr[otr] or tostring(otr)):format(oex))
        end
      end
      assert.are.same({}, aborted)
      assert.is_true(looping >= 1, "no looping trace of the loop function was completed")
      assert.are.equal(2300, tonumber(T:get(0)[1]))
    end)
  end)
end)

describe("ctx:table", function()
  local E
  before_each(function() E = helpers.engine() end)
  after_each(function()
    if E then E:close() end
    E = nil
  end)

  describe("in setup", function()
    it("declares tables and returns their ids in order", function()
      assert.are.equal(0, E.setup:table("a", { rows = 2, cols = 3 }))
      assert.are.equal(1, E.setup:table("b", { rows = 5, cols = 7, dtype = "int32", sparse = true }))
      local T = E:table("b")
      assert.are.equal(5, T.rows)
      assert.are.equal(7, T.cols)
      assert.are.equal("int32", T.dtype)
      assert.is_true(T.sparse)
    end)

    it("raises naming 'spec' for an unknown spec field", function()
      assert.has_error(function() E.setup:table("a", { rows = 2, colums = 3 }) end,
                       "bad argument 'spec' to table (unknown field 'colums')")
    end)

    it("raises naming 'spec.dtype' for a bad dtype", function()
      assert.has_error(function() E.setup:table("a", { dtype = "float16" }) end,
                       "bad argument 'spec.dtype' to table (\"float16\": float64, float32, int32 or int64)")
    end)

    it("raises naming rows for rows = 0", function()
      local ok, err = pcall(E.setup.table, E.setup, "a", { rows = 0 })
      assert.is_false(ok)
      assert.matches("bad argument 'spec", err)
      assert.matches("rows", err)
    end)

    it("raises naming 'spec.rows' for a fractional row count", function()
      assert.has_error(function() E.setup:table("a", { rows = 1.5 }) end,
                       "bad argument 'spec.rows' to table (whole number expected, got 1.5)")
    end)

    it("raises naming cols for cols = 0", function()
      local ok, err = pcall(E.setup.table, E.setup, "a", { cols = 0 })
      assert.is_false(ok)
      assert.matches("cols", err)
    end)

    it("raises naming 'spec.init' for an unknown init", function()
      assert.has_error(function() E.setup:table("a", { init = "ones" }) end,
                       "bad argument 'spec.init' to table (\"ones\": zeros, uniform or normal)")
    end)

    it("raises naming 'spec.consistency' for an unknown consistency model", function()
      assert.has_error(function() E.setup:table("a", { consistency = "eventual" }) end,
                       "bad argument 'spec.consistency' to table (\"eventual\": ssp, bsp, essp or async)")
    end)

    it("raises naming 'spec' when the spec is missing or not a table", function()
      assert.has_error(function() E.setup:table("a") end,
                       "bad argument 'spec' to table (setup declares tables: give {rows=, cols=, ...})")
      assert.has_error(function() E.setup:table("a", 3) end,
                       "bad argument 'spec' to table (table expected, got number)")
    end)

    it("raises for a table declared twice", function()
      E.setup:table("a", {})
      local ok, err = pcall(E.setup.table, E.setup, "a", {})
      assert.is_false(ok)
      assert.matches("already declared", err)
    end)

    it("raises at the line of the script that declared the table", function()
      local line = debug.getinfo(1, "l").currentline + 1
      local ok, err = pcall(function() E.setup:table("a", { rows = 2.5 }) end)
      assert.is_false(ok)
      assert.matches("table_spec%.lua:" .. line .. ": bad argument 'spec.rows'", err)
    end)
  end)

  describe("in a worker or finish", function()
    it("raises 'no table named' for a table that was never declared", function()
      E.setup:table("a", {})
      local fin = E.context.finish(E.e, E:client(-1), {}, nil)
      assert.has_error(function() fin:table("nope") end,
                       "bad argument 'name' to table (no table named 'nope')")
      local w = E.context.worker(E.e, E:client(0), {}, nil)
      assert.has_error(function() w:table("nope") end,
                       "bad argument 'name' to table (no table named 'nope')")
      local line = debug.getinfo(1, "l").currentline + 1
      local ok, err = pcall(function() w:table("nope") end)
      assert.is_false(ok)
      assert.matches("table_spec%.lua:" .. line .. ": bad argument 'name'", err)
    end)

    it("refuses the runtime's names, beginning with 'pmls.'", function()
      local w = E.context.worker(E.e, E:client(0), {}, nil)
      assert.has_error(function() w:table("pmls.gather.x") end,
                       "bad argument 'name' to table (\"pmls.gather.x\": names beginning with 'pmls.' are the runtime's)")
      assert.has_error(function() E.setup:table("pmls.w", {}) end,
                       "bad argument 'name' to table (\"pmls.w\": names beginning with 'pmls.' are the runtime's)")
    end)

    it("returns the same handle for the same name", function()
      E.setup:table("a", {})
      local w = E.context.worker(E.e, E:client(0), {}, nil)
      assert.are.equal(w:table("a"), w:table("a"))
    end)

    it("refuses a spec, since tables are declared in setup", function()
      E.setup:table("a", {})
      local w = E.context.worker(E.e, E:client(0), {}, nil)
      assert.has_error(function() w:table("a", { rows = 1 }) end,
                       "bad argument 'spec' to table (tables are declared in app:setup)")
    end)

    it("refuses clock() outside a worker and report() in setup", function()
      local fin = E.context.finish(E.e, E:client(-1), {}, nil)
      assert.has_error(function() fin:clock() end, "clock is only available in app:worker")
      assert.has_error(function() E.setup:report({ x = 1 }) end, "report is not available in setup")
      assert.has_error(function() fin:report({ x = "a" }) end,
                       "bad argument 'values' to report (x is string, number expected)")
    end)
  end)
end)

describe("concurrent increments through the pmls command", function()
  teardown(helpers.cleanup)

  it("lose nothing when 4 workers each add 1000 ones to one int64 cell", function()
    local file = helpers.tempdir() .. "/count.jsonl"
    local res = helpers.pmls({ "run", helpers.fixtures .. "/counter.lua", "-w", "4", "-q",
                               "--metrics", file, "--incs", "1000", "--clocks", "4" })
    assert.are.equal(0, res.rc, res.out)
    local rows = helpers.read_metrics(file)
    local final = rows[#rows]
    assert.are.equal(true, final.final)
    assert.are.equal(4, final.workers)
    assert.are.equal(4000, final.total)
    local incs = 0 -- a sum metric: per clock; the final object has the last clock's
    for k = 1, #rows - 1 do incs = incs + rows[k].incs end
    assert.are.equal(4000, incs)
    assert.are.equal(0, final.other)
  end)
end)
