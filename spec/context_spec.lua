-- The script API of ctx beyond tables and clocks: the data readers that
-- pass the engine themselves.
local helpers = require "helpers"
local ffi = require "ffi"

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

local function address(p) return tonumber(ffi.cast("intptr_t", p)) end

describe("ctx readers", function()
  local E, dir
  before_each(function()
    E = helpers.engine()
    dir = helpers.tempdir()
  end)
  after_each(function()
    if E then E:close() end
    E = nil
  end)
  teardown(helpers.cleanup)

  it("read a libsvm file through the engine, so every context of a process shares one parse", function()
    local path = write(dir .. "/a.svm", "1 1:0.5 3:2\n-1 2:1\n")
    local a = assert(E.setup:read_libsvm(path))
    assert.equal(2, a.n)
    assert.equal(3, a.d)
    assert.is_true(a.shared)
    local worker = E.context.worker(E.e, E:client(0), {}, nil)
    local b = assert(worker:read_libsvm(path))
    assert.equal(address(a.rowptr), address(b.rowptr))
    local m = assert(worker:read_matrix(path))
    assert.equal(address(a.val), address(m.val))
    local mine = assert(worker:read_libsvm(path, { shard = { index = 1, count = 2 } }))
    assert.equal(1, mine.n)
    assert.equal(-1, mine.y[0])
  end)

  it("read rating and Matrix Market files through the engine too, one parse per process", function()
    local ratings = write(dir .. "/r.txt", "1 2 5\n3 1 4\n")
    local t = assert(E.setup:read_triplets(ratings))
    assert.equal(2, t.n)
    assert.equal(3, t.max_user)
    assert.is_true(t.shared)
    local matrix = write(dir .. "/x.mtx", "%%MatrixMarket matrix coordinate real general\n2 2 1\n1 2 3.5\n")
    local mm = assert(E.setup:read_mm(matrix))
    assert.equal(3.5, mm.val[0])
    assert.is_true(mm.shared)
    local worker = E.context.worker(E.e, E:client(0), {}, nil)
    assert.equal(address(t.rating), address(assert(worker:read_triplets(ratings)).rating))
    assert.equal(address(mm.val), address(assert(worker:read_matrix(matrix)).val))
    local mine = assert(worker:read_triplets(ratings, { shard = { index = 1, count = 2 } }))
    assert.equal(1, mine.n)
    assert.equal(4, mine.rating[0])
  end)

  it("return nil and path:LINE for a bad file", function()
    local path = write(dir .. "/bad.svm", "1 1:0.5\nx 2:1\n")
    local ds, err = E.setup:read_libsvm(path)
    assert.is_nil(ds)
    assert.matches("bad%.svm:2:", err)
  end)

  it("refuse an engine of the script's own, at the script's line", function()
    local path = write(dir .. "/a.svm", "1 1:0.5\n")
    local line = debug.getinfo(1, "l").currentline + 1
    local ok, err = pcall(function() E.setup:read_libsvm(path, { engine = E.e }) end)
    assert.is_false(ok)
    assert.matches("context_spec%.lua:" .. line .. ": bad argument 'opt' to read_libsvm %(the context passes the engine itself", err)
    line = debug.getinfo(1, "l").currentline + 1
    ok, err = pcall(function() E.setup:read_matrix(path, { d = -1 }) end)
    assert.is_false(ok)
    assert.matches("context_spec%.lua:" .. line .. ": bad option 'd'", err)
    assert.has_error(function() E.setup:read_libsvm(path, 3) end,
      "bad argument 'opt' to read_libsvm (table expected, got number)")
  end)
end)

describe("setup that fills a table", function()
  local E
  before_each(function() E = helpers.engine { workers = 2, servers = 2 } end)
  after_each(function()
    if E then E:close() end
    E = nil
  end)

  it("gives untouched rows their first values, which workers read at once", function()
    E.setup:table("c", { rows = 3, cols = 2, init = "uniform" })
    local T = E.setup:table("c")
    assert.equal(T, E.setup:table("c"))
    local buf = T:row_buffer()
    for r = 0, 2 do
      buf[0], buf[1] = r + 0.5, -r
      assert.is_true(T:init(r, buf))
    end
    local back = assert(T:get(1))
    assert.same({ 1.5, -1 }, { back[0], back[1] })
    assert.is_true(E.setup:close())
    local W = E.context.worker(E.e, E:client(0), {}, nil):table("c")
    local row = assert(W:get(2))
    assert.same({ 2.5, -2 }, { row[0], row[1] })
  end)

  it("leaves a row that a read, an increment or an earlier init reached as it is", function()
    E.setup:table("c", { rows = 4, cols = 1 })
    local H = E:table("c")
    assert(H:inc(0, 0, 7))              -- incremented (still in the oplog: init sends it first)
    assert(H:get(1))                    -- read: created at its spec init, 0
    local buf = H:row_buffer()
    buf[0] = 5
    for r = 0, 2 do assert(H:init(r, buf)) end
    buf[0] = 9
    assert(H:init(2, buf))              -- an earlier init counts
    assert(H:init(3, buf))
    assert.equal(0, E:close_client(H.client))
    local R = E:table("c")
    local got = {}
    for r = 0, 3 do got[r + 1] = assert(R:get(r))[0] end
    assert.same({ 7, 0, 5, 9 }, got)
  end)

  it("refuses increments in setup, sparse tables and bad buffers, naming them", function()
    E.setup:table("c", { rows = 2, cols = 3 })
    E.setup:table("s", { rows = 2, cols = 3, sparse = true })
    local T = E.setup:table("c")
    assert.has_error(function() T:inc(0, 0, 1) end,
      "inc is not available in app:setup (every process runs setup, so increments would add up: "
      .. "give rows their first values with init)")
    assert.has_error(function() T:inc_pairs(0, 0, nil, nil) end)
    assert.has_error(function() T:init(0, {}) end,
      "bad argument 'buf' to init (a row buffer from row_buffer() expected)")
    assert.has_error(function() T:init("x", T:row_buffer()) end,
      "bad argument 'row' to init (whole number expected, got string)")
    assert.has_error(function() E.setup:table("s"):init(0, T:row_buffer()) end,
      "bad argument 'row' to init (table 's' is sparse: init gives dense rows their first values)")
    local line = debug.getinfo(1, "l").currentline + 1
    local ok, err = pcall(function() T:init(5, T:row_buffer()) end)
    assert.is_false(ok)
    assert.matches("context_spec%.lua:" .. line .. ": bad argument 'row' to init %(row 5 out of range", err)
  end)
end)

describe("tables that exist before setup", function()
  local E
  after_each(function()
    if E then E:close() end
    E = nil
  end)

  it("are attached to when declared with the same spec, and refused naming what differs", function()
    E = helpers.engine()
    assert.equal(0, E.setup:table("w", { rows = 3, cols = 2, init = "uniform", scale = 0.5 }))
    local again = E.context.setup(E.e, {})
    assert.equal(0, again:table("w", { rows = 3, cols = 2, init = "uniform", scale = 0.5 }))
    local other = E.context.setup(E.e, {})
    assert.has_error(function() other:table("w", { rows = 3, cols = 4, dtype = "int32", scale = 0.5 }) end,
      "bad argument 'spec' to table (table 'w' exists with another spec: cols 2 there, 4 here; "
      .. "dtype float64 there, int32 here; init uniform there, zeros here)")
    assert.has_error(function() other:table("w", { rows = 3, cols = 2, init = "uniform", staleness = 2 }) end,
      "bad argument 'spec' to table (table 'w' exists with another spec: staleness the engine's there, "
      .. "2 here; scale 0.5 there, 1 here)")
    local line = debug.getinfo(1, "l").currentline + 1
    local ok, err = pcall(function() other:table("w", { rows = 9, cols = 2, init = "uniform", scale = 0.5 }) end)
    assert.is_false(ok)
    assert.matches("context_spec%.lua:" .. line .. ": bad argument 'spec' to table %(table 'w' exists with "
                   .. "another spec: rows 3 there, 9 here%)", err)
  end)

  it("are what a host filled and a sequence of script runs trains", function()
    local root = helpers.root
    E = helpers.engine { workers = 2, servers = 2,
                         lua_path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. root .. "/build/lua/?.lua" }
    local ffi, C = E.ffi, E.C
    E.setup:table("w", { rows = 4, cols = 3 })
    local H = E:table("w")
    local ten = H:row_buffer()
    for c = 0, 2 do ten[c] = 10 end
    for r = 0, 3 do assert(H:init(r, ten)) end
    assert.equal(0, E:close_client(H.client))
    local script = root .. "/spec/fixtures/warm_start.lua"
    local function run(...)
      local args = { ... }
      local argv = ffi.new("const char *[?]", #args + 1, args)
      return C.pmls_run_script(E.e, script, #args, argv)
    end
    local function cell_sum()
      local R = E:table("w")
      local total = 0
      for r = 0, 3 do
        local row = assert(R:get(r))
        for c = 0, 2 do total = total + row[c] end
      end
      return total
    end
    assert.equal(0, run("--clocks", "2"), E.core.engine_error(E.e))
    assert.equal(12 * (10 + 2 * 2), cell_sum())
    assert.equal(0, run("--clocks", "1"), E.core.engine_error(E.e))
    assert.equal(12 * (10 + 2 * 3), cell_sum())
    assert.equal(tonumber(C.PMLS_ESCRIPT), run("--rows", "5"))
    assert.matches("rows 4 there, 5 here", E.core.engine_error(E.e))
  end)
end)
