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

  it("read rating and Matrix Market files as pmls.data does", function()
    local t = assert(E.setup:read_triplets(write(dir .. "/r.txt", "1 2 5\n3 1 4\n")))
    assert.equal(2, t.n)
    assert.equal(3, t.max_user)
    local mm = assert(E.setup:read_mm(write(dir .. "/x.mtx",
      "%%MatrixMarket matrix coordinate real general\n2 2 1\n1 2 3.5\n")))
    assert.equal(3.5, mm.val[0])
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
