-- Spec for the vector kernels' Lua bindings (lua/pmls/kernels.lua): dot, axpy, scale, sgd_mf
-- and sgd_mf_batch on float64 and float32 arrays, at a few lengths and unaligned starts,
-- against loops written here from pmls.h's definitions (float32 arithmetic emulated by
-- rounding each operation's double result to float, which gives float's own result for + -
-- and *); the same bits with the plain C versions forced; and the choice of version, from the
-- CPU, force_scalar and the PMLS_SCALAR environment variable.
local ffi = require "ffi"
local pmls = require "pmls"
local helpers = require "helpers"
local kernels, array = pmls.kernels, pmls.array

local SIZES = { 0, 1, 7, 17, 33, 100 }
local TYPES = {
  { name = "float64", eps = 2.220446049250313e-16, lanes = 32 },
  { name = "float32", eps = 1.1920928955078125e-07, lanes = 64 },
}

-- v rounded to the type: as is for float64, to the nearest float for float32.
local cell = ffi.new("float[1]")
local function rounder(t)
  if t.name == "float64" then return function(v) return v end end
  return function(v) cell[0] = v; return cell[0] end
end

-- The arrays behind the pointers the tests hold (a pointer does not keep its array alive).
local alive = {}

-- n random elements in [lo, hi), in an array of n + 4, starting at off (0..3).
local seed = 12345
local function uniform()
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648
end
local function random_array(t, n, off, lo, hi)
  local a = array[t.name](n + 4)
  alive[#alive + 1] = a
  local p = a + off
  for i = 0, n - 1 do p[i] = lo + (hi - lo) * uniform() end
  return p
end

local function copy(t, p, n)
  local c = array[t.name](math.max(n, 1))
  for i = 0, n - 1 do c[i] = p[i] end
  return c
end

local function same_elements(a, b, n)
  for i = 0, n - 1 do
    if a[i] ~= b[i] then return false, ("element %d: %.17g ~= %.17g"):format(i, a[i], b[i]) end
  end
  return true
end

-- pmls.h's row value view + scale * delta (scale * delta without a view), rounded as T.
local function values(t, k, view, delta, s)
  local r, out = rounder(t), {}
  s = r(s)
  for f = 0, k do
    out[f] = view and r(view[f] + r(s * delta[f])) or r(s * delta[f])
  end
  return out
end

-- The step's e from a sequential sum, and the bound on the kernel's distance from it.
local function reference_e(t, k, u, v, rating, mu)
  local dot, mag = 0, 0
  for f = 0, k - 1 do dot = dot + u[f] * v[f]; mag = mag + math.abs(u[f] * v[f]) end
  local e = rating - (mu + u[k] + v[k] + dot)
  local bound = (k / t.lanes + 6) * t.eps * mag
      + 8 * 2.220446049250313e-16 * (math.abs(mu) + math.abs(u[k]) + math.abs(v[k]) + mag + rating)
  return e, bound
end

-- pmls.h's update of the deltas from the values before the step and the step's e.
local function reference_update(t, k, u, v, udelta, idelta, e, us, is, lr_u, lr_i, lambda)
  local r = rounder(t)
  local te, gu, gi, lam = r(e), r(lr_u / us), r(lr_i / is), r(lambda)
  for f = 0, k - 1 do
    udelta[f] = r(udelta[f] + r(gu * r(r(te * v[f]) - r(lam * u[f]))))
    idelta[f] = r(idelta[f] + r(gi * r(r(te * u[f]) - r(lam * v[f]))))
  end
  udelta[k] = r(udelta[k] + r(gu * r(te - r(lam * u[k]))))
  idelta[k] = r(idelta[k] + r(gi * r(te - r(lam * v[k]))))
end

-- Runs fn once with the CPU's best versions and once with the plain C ones.
local function both_versions(fn)
  for _, scalar in ipairs { false, true } do
    kernels.force_scalar(scalar)
    local ok, err = pcall(fn, scalar)
    kernels.force_scalar(false)
    if not ok then error(err, 0) end
  end
end

describe("pmls.kernels vector kernels", function()
  after_each(function()
    kernels.force_scalar(false)
    alive = {}
  end)

  for _, t in ipairs(TYPES) do
    describe(t.name, function()
      it("dot: within the stated bound of the sequential sum, the same with scalar forced", function()
        for _, n in ipairs(SIZES) do
          for off = 0, 3 do
            local x = random_array(t, n, off, -1, 1)
            local y = random_array(t, n, 3 - off, -2, 2)
            local want, mag = 0, 0
            for i = 0, n - 1 do want = want + x[i] * y[i]; mag = mag + math.abs(x[i] * y[i]) end
            local got = {}
            both_versions(function(scalar) got[scalar] = kernels.dot(n, x, y) end)
            local bound = (n / t.lanes + 6) * t.eps * mag
            assert.is_true(math.abs(got[false] - want) <= bound,
              ("n=%d off=%d: %.17g vs %.17g"):format(n, off, got[false], want))
            assert.equal(got[false], got[true])
            assert.equal(got[false], kernels["dot_" .. (t.name == "float64" and "f64" or "f32")](n, x, y))
          end
        end
      end)

      it("axpy and scale: the plain loop's bits, nothing past n touched", function()
        local r = rounder(t)
        for _, n in ipairs(SIZES) do
          for off = 0, 3 do
            both_versions(function()
              local x = random_array(t, n + 1, off, -1, 1)
              local y = random_array(t, n + 1, off, -3, 3)
              local want = copy(t, y, n + 1)
              local a = r(uniform() - 0.3)
              for i = 0, n - 1 do want[i] = r(want[i] + r(a * x[i])) end
              kernels.axpy(n, a, x, y)
              assert.is_true(same_elements(y, want, n + 1))
              for i = 0, n - 1 do want[i] = r(a * want[i]) end
              kernels.scale(n, a, y)
              assert.is_true(same_elements(y, want, n + 1))
            end)
          end
        end
      end)

      it("sgd_mf: e near the sequential one, pmls.h's update of it to the bit, views or none", function()
        for _, k in ipairs(SIZES) do
          for off = 0, 3 do
            for views = 0, 3 do
              both_versions(function(scalar)
                local w = k + 1
                local uview = views % 2 == 1 and random_array(t, w, off, -0.5, 0.5) or nil
                local iview = views >= 2 and random_array(t, w, (off + 1) % 4, -0.5, 0.5) or nil
                local udelta = random_array(t, w, (off + 2) % 4, -0.1, 0.1)
                local idelta = random_array(t, w, (off + 3) % 4, -0.1, 0.1)
                local us, is = 1, 4
                if off == 3 then us, is = 0.75, 3 end
                local u, v = values(t, k, uview, udelta, us), values(t, k, iview, idelta, is)
                local uwant, iwant = copy(t, udelta, w), copy(t, idelta, w)
                local rating, mu = 1 + 4 * uniform(), 3.5
                local want_e, bound = reference_e(t, k, u, v, rating, mu)
                local e = kernels.sgd_mf(k, uview, udelta, us, iview, idelta, is, rating, mu, 0.05, 0.2, 0.1)
                local where = ("k=%d off=%d views=%d scalar=%s"):format(k, off, views, tostring(scalar))
                assert.is_true(math.abs(e - want_e) <= bound, where)
                reference_update(t, k, u, v, uwant, iwant, e, us, is, 0.05, 0.2, 0.1)
                assert.is_true(same_elements(udelta, uwant, w), where)
                assert.is_true(same_elements(idelta, iwant, w), where)
              end)
            end
          end
        end
      end)

      it("sgd_mf_batch: its steps one by one, the same with scalar forced", function()
        local k, w, nusers, nitems, n = 33, 34, 5, 4, 200
        local uslot, islot, order = array.int32(n), array.int32(n), array.int32(n)
        local rating = array.float64(n)
        for m = 0, n - 1 do
          uslot[m], islot[m] = math.floor(uniform() * nusers), math.floor(uniform() * nitems)
          rating[m], order[m] = 1 + 4 * uniform(), n - 1 - m
        end
        local function rows(count, lo, hi)
          local list = {}
          for s = 0, count - 1 do list[s] = random_array(t, w, s % 4, lo, hi) end
          return list
        end
        local uview_rows, iview_rows = rows(nusers, -0.5, 0.5), rows(nitems, -0.5, 0.5)
        local udelta_rows, idelta_rows = rows(nusers, -0.05, 0.05), rows(nitems, -0.05, 0.05)
        local function deltas(list, count)
          local ptrs = kernels.delta_pointers(count, t.name)
          for s = 0, count - 1 do
            local c = copy(t, list[s], w)
            alive[#alive + 1] = c
            ptrs[s] = c
          end
          return ptrs
        end
        local uviews, iviews = kernels.view_pointers(nusers, t.name), kernels.view_pointers(nitems, t.name)
        for s = 0, nusers - 1 do uviews[s] = s ~= 1 and uview_rows[s] or nil end -- user 1: no view
        for s = 0, nitems - 1 do iviews[s] = iview_rows[s] end
        for _, ord in ipairs { order, false } do
          local o = ord or nil
          local results = {}
          both_versions(function(scalar)
            local ud, id = deltas(udelta_rows, nusers), deltas(idelta_rows, nitems)
            local sse = kernels.sgd_mf_batch(k, n, o, uslot, islot, rating, uviews, ud, 1,
                                             iviews, id, 4, 3.5, 0.02, 0.08, 0.05)
            local ud2, id2 = deltas(udelta_rows, nusers), deltas(idelta_rows, nitems)
            local sse2 = 0
            for m = 0, n - 1 do
              local r = o and o[m] or m
              local a, b = uslot[r], islot[r]
              local e = kernels.sgd_mf(k, uviews[a], ud2[a], 1, iviews[b], id2[b], 4,
                                       rating[r], 3.5, 0.02, 0.08, 0.05)
              sse2 = sse2 + e * e
            end
            assert.equal(sse2, sse)
            for s = 0, nusers - 1 do assert.is_true(same_elements(ud[s], ud2[s], w)) end
            for s = 0, nitems - 1 do assert.is_true(same_elements(id[s], id2[s], w)) end
            assert.is_true(sse > 0)
            results[scalar] = { sse = sse, ud = ud, id = id }
          end)
          assert.equal(results[false].sse, results[true].sse)
          for s = 0, nusers - 1 do
            assert.is_true(same_elements(results[false].ud[s], results[true].ud[s], w))
          end
          for s = 0, nitems - 1 do
            assert.is_true(same_elements(results[false].id[s], results[true].id[s], w))
          end
        end
        -- No item views at all (nil for the array).
        local ud, id = deltas(udelta_rows, nusers), deltas(idelta_rows, nitems)
        local ud2, id2 = deltas(udelta_rows, nusers), deltas(idelta_rows, nitems)
        local sse = kernels.sgd_mf_batch(k, n, nil, uslot, islot, rating, uviews, ud, 1,
                                         nil, id, 1, 3.5, 0.02, 0.02, 0.05)
        local sse2 = 0
        for m = 0, n - 1 do
          local a, b = uslot[m], islot[m]
          local e = kernels.sgd_mf(k, uviews[a], ud2[a], 1, nil, id2[b], 1, rating[m], 3.5, 0.02, 0.02, 0.05)
          sse2 = sse2 + e * e
        end
        assert.equal(sse2, sse)
        for s = 0, nitems - 1 do assert.is_true(same_elements(id[s], id2[s], w)) end
      end)
    end)
  end

  it("pointer arrays: nil at first, of the type asked for, misuse named", function()
    local v, d = kernels.view_pointers(3), kernels.delta_pointers(2, "float32")
    assert.is_true(v[0] == nil and v[2] == nil and d[1] == nil)
    assert.is_true(ffi.istype("const double *", v[0]) and ffi.istype("float *", d[0]))
    assert.has_error(function() kernels.view_pointers(-1) end,
      "bad argument 'n' to view_pointers (whole number >= 0 expected, got -1)")
    assert.has_error(function() kernels.delta_pointers(2, "int32") end,
      "bad argument 'dtype' to delta_pointers (\"float64\" or \"float32\" expected, got int32)")
  end)

  it("isa: the CPU's choice, scalar when forced, the choice again", function()
    local best = kernels.isa()
    assert.is_truthy(({ avx512 = true, avx2 = true, scalar = true })[best])
    kernels.force_scalar(true)
    assert.equal("scalar", kernels.isa())
    kernels.force_scalar(false)
    assert.equal(best, kernels.isa())
  end)

  it("PMLS_SCALAR=1 selects the scalar versions at the first call", function()
    local code = "io.write(require('pmls.kernels').isa())"
    local lpath = "./lua/?.lua;./lua/?/init.lua;./build/lua/?.lua"
    local function run(env)
      return helpers.sh(env .. " luajit -e " .. helpers.quote("package.path = '" .. lpath .. ";' .. package.path; " .. code) .. " 2>&1")
    end
    local rc, out = run("PMLS_SCALAR=1")
    assert.equal(0, rc, out)
    assert.equal("scalar", out)
    rc, out = run("PMLS_SCALAR=0")
    assert.equal(0, rc, out)
    assert.equal(kernels.isa(), out)
  end)
end)
