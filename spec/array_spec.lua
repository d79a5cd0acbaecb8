-- pmls.array, pmls.kernels and the time functions of the pmls package: what model
-- scripts use instead of the FFI.
local pmls = require "pmls"
local array = pmls.array

describe("pmls.array", function()
  it("makes zeroed, 0-based arrays of each element type", function()
    for _, kind in ipairs { "float64", "float32", "int32", "int64" } do
      local a = array[kind](4)
      for i = 0, 3 do assert.equal(0, tonumber(a[i])) end
      a[3] = 7
      assert.equal(7, tonumber(a[3]))
    end
    local x = array.float64(1)
    x[0] = 0.1
    assert.equal(0.1, x[0]) -- float64 keeps every bit
    assert.not_nil(array.int32(0))
  end)

  it("copies and fills by element count", function()
    local a, b = array.int32(5), array.int32(5)
    for i = 0, 4 do a[i] = i + 1 end
    assert.equal(b, array.copy(b, a, 3))
    assert.same({ 1, 2, 3, 0, 0 }, { b[0], b[1], b[2], b[3], b[4] })
    local x = array.float64(4)
    array.fill(x, 4, 2.5)
    assert.same({ 2.5, 2.5, 2.5, 2.5 }, { x[0], x[1], x[2], x[3] })
    array.fill(x, 2)
    assert.same({ 0, 0, 2.5, 2.5 }, { x[0], x[1], x[2], x[3] })
    local y = array.float64(4)
    array.copy(y, x, 4)
    assert.equal(2.5, y[3])
  end)

  it("points at the rows of a row-major matrix", function()
    for _, kind in ipairs { "float64", "float32" } do
      local m = array[kind](3 * 4)
      for i = 0, 11 do m[i] = i end
      local p = array.pointers(m, 3, 4)
      for r = 0, 2 do
        for f = 0, 3 do assert.equal(r * 4 + f, tonumber(p[r][f])) end
      end
      p[2][1] = -1
      assert.equal(-1, tonumber(m[9]))
    end
    assert.has_error(function() array.pointers({}, 3, 4) end,
      "bad argument 'm' to pointers (an array expected, got table)")
  end)

  it("names the bad argument", function()
    assert.has_error(function() array.float64(-1) end,
      "bad argument 'n' to float64 (whole number >= 0 expected, got -1)")
    assert.has_error(function() array.int64(1.5) end,
      "bad argument 'n' to int64 (whole number >= 0 expected, got 1.5)")
    assert.has_error(function() array.copy(array.float64(2), array.int32(2), 2) end,
      "bad argument 'src' to copy (elements of another size than dst's)")
    assert.has_error(function() array.copy({}, array.int32(2), 2) end,
      "bad argument 'dst' to copy (an array expected, got table)")
    assert.has_error(function() array.fill(array.int32(2), 2, "x") end,
      "bad argument 'value' to fill (number expected, got string)")
  end)
end)

describe("pmls time", function()
  it("sleeps at least as long as asked, on the monotonic clock", function()
    local t0 = pmls.now()
    pmls.sleep(0.05)
    assert.is_true(pmls.now() - t0 >= 0.05)
    pmls.sleep(0)
    pmls.sleep(-1)
    assert.has_error(function() pmls.sleep("1") end,
      "bad argument 'seconds' to sleep (number expected, got string)")
  end)

  it("measures this thread's CPU time, not the time it slept", function()
    local c0 = pmls.thread_time()
    pmls.sleep(0.1)
    local slept = pmls.thread_time() - c0
    local spin0, x = pmls.thread_time(), 0
    while pmls.thread_time() - spin0 < 0.02 do x = x + 1 end
    assert.is_true(slept >= 0 and slept < 0.05)
    assert.is_true(pmls.thread_time() - c0 >= 0.02)
  end)
end)

describe("pmls.kernels", function()
  local kernels = pmls.kernels

  it("is the module require finds, loaded on first use", function()
    assert.equal(require "pmls.kernels", kernels)
  end)

  it("adds a times x to y, through pointers into arrays too", function()
    local x, y = array.float64(4), array.float64(4)
    for i = 0, 3 do x[i], y[i] = i + 1, 10 end
    kernels.axpy(4, 0.5, x, y)
    assert.same({ 10.5, 11, 11.5, 12 }, { y[0], y[1], y[2], y[3] })
    kernels.axpy(2, -1, x + 2, y + 1)
    assert.same({ 10.5, 8, 7.5, 12 }, { y[0], y[1], y[2], y[3] })
  end)

  it("adds the Gram rows of the new columns, lower triangle only", function()
    -- rows (1, 2, 0) and (0, 3, 4) over columns 0..2
    local rowptr, col, val = array.int64(3), array.int32(4), array.float64(4)
    rowptr[1], rowptr[2] = 2, 4
    col[0], col[1], col[2], col[3] = 0, 1, 1, 2
    val[0], val[1], val[2], val[3] = 1, 2, 3, 4
    local pos = array.int32(3)
    for c = 0, 2 do pos[c] = c end
    local G, si, sv = array.float64(9), array.int32(3), array.float64(3)
    local function lower() return { G[0], G[3], G[4], G[6], G[7], G[8], G[1] + G[2] + G[5] } end
    kernels.gram_add(2, rowptr, col, val, pos, 0, G, 3, si, sv)
    assert.same({ 1, 2, 13, 0, 12, 16, 0 }, lower())
    array.fill(G, 9)
    kernels.gram_add(2, rowptr, col, val, pos, 2, G, 3, si, sv) -- column 2 is new
    assert.same({ 0, 0, 0, 0, 12, 16, 0 }, lower())
  end)
end)
