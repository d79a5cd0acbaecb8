-- Spec for pmls.data's generators and partitions: the RNG, the synthetic logistic and
-- Lasso sets (determinism and statistics), subsets and shards.
--
-- Run: luajit /usr/bin/busted --lpath='./lua/?.lua;./lua/?/init.lua;./spec/?.lua' spec/data_synthetic_spec.lua

local ffi = require("ffi")
local data = require("pmls.data")
local U = require("fixtures.data_spec_util")
local write_temp, array_to_table, row_entries, same_csr = U.write_temp, U.array_to_table, U.row_entries, U.same_csr

describe("pmls.data", function()
  setup(U.make_dir)
  teardown(U.remove_dir)

  describe("new_rng", function()
    it("is splitmix64 (known answers)", function()
      local rng = data.new_rng(0)
      assert.are.equal(0xe220a8397b1dcdafULL, rng.next_u64())
      assert.are.equal(0x6e789e6aa1b965f4ULL, rng.next_u64())
      assert.are.equal(0x06c45d188009454fULL, rng.next_u64())
      local seeded = data.new_rng(12345)
      assert.are.equal(0x22118258a9d111a0ULL, seeded.next_u64())
    end)

    it("draws uniforms in [0, 1) and normals with the right moments", function()
      local rng = data.new_rng(3)
      local sum, sum_squares, count = 0, 0, 20000
      for _ = 1, count do
        local u = rng.uniform()
        assert.is_true(u >= 0 and u < 1)
        local z = rng.normal()
        sum, sum_squares = sum + z, sum_squares + z * z
      end
      assert.is_true(math.abs(sum / count) < 0.05)
      assert.is_true(math.abs(sum_squares / count - 1) < 0.05)
    end)
  end)

  describe("synthetic_logistic", function()
    local function margin(ds, r)
      local m = ds.bias_true
      for t = tonumber(ds.rowptr[r]), tonumber(ds.rowptr[r + 1]) - 1 do
        m = m + ds.val[t] * ds.w_true[ds.col[t]]
      end
      return m
    end

    it("has the documented shape", function()
      local ds = data.synthetic_logistic { n = 300, d = 50, seed = 1, density = 0.2 }
      assert.are.equal("csr", ds.kind)
      assert.are.equal(300, ds.n)
      assert.are.equal(50, ds.d)
      assert.are.equal(300 * 10, ds.nnz)
      assert.are.equal(ds.nnz, tonumber(ds.rowptr[ds.n]))
      for r = 0, ds.n - 1 do
        assert.is_true(ds.y[r] == 1 or ds.y[r] == -1)
        local previous = -1
        for t = tonumber(ds.rowptr[r]), tonumber(ds.rowptr[r + 1]) - 1 do
          assert.is_true(ds.col[t] > previous and ds.col[t] < ds.d, "columns sorted, distinct, in range")
          previous = ds.col[t]
        end
      end
    end)

    it("gives sorted distinct columns also for sparse rows", function()
      local ds = data.synthetic_logistic { n = 200, d = 100000, seed = 4, density = 0.0005 }
      assert.are.equal(200 * 50, ds.nnz)
      for r = 0, ds.n - 1 do
        for t = tonumber(ds.rowptr[r]) + 1, tonumber(ds.rowptr[r + 1]) - 1 do
          assert.is_true(ds.col[t] > ds.col[t - 1])
        end
      end
    end)

    it("is determined by its parameters", function()
      local a = data.synthetic_logistic { n = 500, d = 40, seed = 11 }
      local b = data.synthetic_logistic { n = 500, d = 40, seed = 11 }
      assert.is_true(same_csr(a, b))
      assert.are.equal(ffi.string(a.w_true, 8 * 40), ffi.string(b.w_true, 8 * 40))
      local c = data.synthetic_logistic { n = 500, d = 40, seed = 12 }
      assert.is_false(same_csr(a, c))
      assert.are_not.equal(ffi.string(a.w_true, 8 * 40), ffi.string(c.w_true, 8 * 40))
      local noisier = data.synthetic_logistic { n = 500, d = 40, seed = 11, noise = 0.3 }
      assert.is_false(same_csr(a, noisier))
    end)

    it("generates a smaller n as a prefix of a larger one", function()
      local small = data.synthetic_logistic { n = 100, d = 30, seed = 5 }
      local large = data.synthetic_logistic { n = 400, d = 30, seed = 5 }
      assert.is_true(same_csr(small, data.subset(large, { first = 0, count = 100 })))
    end)

    it("produces balanced-ish labels", function()
      for seed = 1, 8 do
        local ds = data.synthetic_logistic { n = 2000, d = 100, seed = seed }
        local positive = 0
        for r = 0, ds.n - 1 do if ds.y[r] > 0 then positive = positive + 1 end end
        local fraction = positive / ds.n
        assert.is_true(fraction > 0.3 and fraction < 0.7, "seed " .. seed .. ": " .. fraction)
      end
    end)

    it("labels by the sign of x.w_true + bias_true, flipping about a fraction noise", function()
      local clean = data.synthetic_logistic { n = 3000, d = 60, seed = 9, noise = 0 }
      for r = 0, clean.n - 1 do
        assert.are.equal(margin(clean, r) >= 0 and 1 or -1, clean.y[r])
      end
      local noisy = data.synthetic_logistic { n = 3000, d = 60, seed = 9, noise = 0.2 }
      local flipped = 0
      for r = 0, noisy.n - 1 do
        if (margin(noisy, r) >= 0 and 1 or -1) ~= noisy.y[r] then flipped = flipped + 1 end
      end
      assert.is_true(math.abs(flipped / noisy.n - 0.2) < 0.03, "flip rate " .. flipped / noisy.n)
    end)

    it("raises on bad parameters", function()
      assert.has_error(function() data.synthetic_logistic() end)
      assert.has_error(function() data.synthetic_logistic { d = 10 } end,
        "bad field 'n' to synthetic_logistic (positive integer expected, got nil)")
      assert.has_error(function() data.synthetic_logistic { n = 10, d = 0 } end)
      assert.has_error(function() data.synthetic_logistic { n = 10, d = 10, density = 0 } end)
      assert.has_error(function() data.synthetic_logistic { n = 10, d = 10, noise = 2 } end)
      assert.has_error(function() data.synthetic_logistic { n = 10, d = 10, seed = -1 } end)
    end)
  end)

  describe("subset and shard", function()
    local ds = data.synthetic_logistic { n = 103, d = 20, seed = 2, density = 0.3 }

    it("subset keeps the rows a predicate selects, in order, with their entries", function()
      local train = data.subset(ds, function(i) return i % 5 ~= 0 end)
      local test = data.subset(ds, function(i) return i % 5 == 0 end)
      assert.are.equal(ds.n, train.n + test.n)
      assert.are.equal(ds.nnz, train.nnz + test.nnz)
      assert.are.equal(21, test.n)
      assert.are.equal(ds.d, test.d)
      assert.are.equal(ds.w_true, test.w_true)
      for k = 0, test.n - 1 do
        assert.are.equal(ds.y[5 * k], test.y[k])
        assert.are.same(row_entries(ds, 5 * k), row_entries(test, k))
      end
    end)

    it("subset takes a 0-based range", function()
      local part = data.subset(ds, { first = 10, count = 5 })
      assert.are.equal(5, part.n)
      for k = 0, 4 do assert.are.same(row_entries(ds, 10 + k), row_entries(part, k)) end
      assert.are.equal(0, data.subset(ds, { first = 103, count = 0 }).n)
      assert.has_error(function() data.subset(ds, { first = 100, count = 5 }) end)
      assert.has_error(function() data.subset(ds, 3) end)
      assert.has_error(function() data.subset({}, { first = 0, count = 0 }) end)
    end)

    it("shard partitions CSR sets", function()
      for _, count in ipairs({ 1, 4, 200 }) do
        local owner, rows, nnz = {}, 0, 0
        for index = 0, count - 1 do
          local part = data.shard(ds, index, count)
          rows, nnz = rows + part.n, nnz + part.nnz
          for k = 0, part.n - 1 do
            local r = index + k * count
            assert.is_nil(owner[r])
            owner[r] = index
            assert.are.same(row_entries(ds, r), row_entries(part, k))
          end
        end
        assert.are.equal(ds.n, rows)
        assert.are.equal(ds.nnz, nnz)
      end
    end)

    it("shard partitions triplet sets", function()
      local lines = {}
      for r = 1, 50 do lines[r] = (r % 9) .. " " .. (r * 3) .. " " .. (r % 5) end
      local set = assert(data.read_triplets(write_temp(table.concat(lines, "\n"))))
      local total = 0
      for index = 0, 6 do
        local part = data.shard(set, index, 7)
        assert.are.equal("triplets", part.kind)
        assert.are.equal(set.max_item, part.max_item)
        for k = 0, part.n - 1 do
          assert.are.equal(set.item[index + 7 * k], part.item[k])
        end
        total = total + part.n
      end
      assert.are.equal(set.n, total)
    end)

    it("accepts hand-built sets without a kind field", function()
      local hand = {
        n = 3, d = 4, nnz = 4,
        y = ffi.new("double[3]", { 1, -1, 1 }),
        rowptr = ffi.new("int64_t[4]", { 0, 2, 2, 4 }),
        col = ffi.new("int32_t[4]", { 0, 3, 1, 2 }),
        val = ffi.new("double[4]", { 1, 2, 3, 4 }),
      }
      local odd = data.shard(hand, 0, 2)
      assert.are.equal("csr", odd.kind)
      assert.are.equal(2, odd.n)
      assert.are.same({ { 0, 1 }, { 3, 2 } }, row_entries(odd, 0))
      assert.are.same({ { 1, 3 }, { 2, 4 } }, row_entries(odd, 1))
      local ratings = { n = 2, user = ffi.new("int32_t[2]", { 1, 2 }), item = ffi.new("int32_t[2]", { 5, 6 }),
        rating = ffi.new("double[2]", { 3, 4 }) }
      local second = data.subset(ratings, { first = 1, count = 1 })
      assert.are.equal("triplets", second.kind)
      assert.are.same({ 2, 6, 4 }, { second.user[0], second.item[0], second.rating[0] })
    end)

    it("shard raises on bad arguments", function()
      assert.has_error(function() data.shard(ds, 3, 3) end)
      assert.has_error(function() data.shard(ds, -1, 3) end)
      assert.has_error(function() data.shard(ds, 0, 0) end)
      assert.has_error(function() data.shard(nil, 0, 1) end)
    end)
  end)

  describe("synthetic_lasso", function()
    local function column_correlation(ds, a, b)
      local csc = data.to_csc(ds)
      local xa, xb = {}, {}
      for r = 0, ds.n - 1 do xa[r], xb[r] = 0, 0 end
      for t = tonumber(csc.colptr[a]), tonumber(csc.colptr[a + 1]) - 1 do xa[csc.row[t]] = csc.val[t] end
      for t = tonumber(csc.colptr[b]), tonumber(csc.colptr[b + 1]) - 1 do xb[csc.row[t]] = csc.val[t] end
      local sa, sb, saa, sbb, sab = 0, 0, 0, 0, 0
      for r = 0, ds.n - 1 do
        sa, sb = sa + xa[r], sb + xb[r]
        saa, sbb, sab = saa + xa[r] ^ 2, sbb + xb[r] ^ 2, sab + xa[r] * xb[r]
      end
      local n = ds.n
      local cov = sab / n - (sa / n) * (sb / n)
      return cov / math.sqrt((saa / n - (sa / n) ^ 2) * (sbb / n - (sb / n) ^ 2))
    end

    it("has the documented shape: dense rows, p columns, w_true with k non-zeros", function()
      local ds = data.synthetic_lasso { n = 50, p = 30, rho = 0.3, k = 7, seed = 4 }
      assert.are.equal("csr", ds.kind)
      assert.are.same({ 50, 30, 1500 }, { ds.n, ds.d, ds.nnz })
      assert.are.equal(ds.nnz, tonumber(ds.rowptr[ds.n]))
      for r = 0, ds.n - 1 do
        assert.are.equal(30 * r, tonumber(ds.rowptr[r]))
        for t = 0, 29 do assert.are.equal(t, ds.col[30 * r + t]) end
      end
      assert.is_true(ffi.istype("double[?]", ds.w_true))
      assert.are.equal(8 * 30, ffi.sizeof(ds.w_true))
      local nonzero, negative = 0, 0
      for j = 0, 29 do
        local w = ds.w_true[j]
        if w ~= 0 then
          nonzero = nonzero + 1
          assert.is_true(math.abs(w) >= 0.5 and math.abs(w) < 1.5, "magnitude " .. w)
          if w < 0 then negative = negative + 1 end
        end
      end
      assert.are.equal(7, nonzero)
      assert.is_true(negative > 0 and negative < 7, "random signs")
      local defaults = data.synthetic_lasso { n = 5, p = 40 }
      local count = 0
      for j = 0, 39 do if defaults.w_true[j] ~= 0 then count = count + 1 end end
      assert.are.equal(10, count)
      local none = data.synthetic_lasso { n = 5, p = 3, k = 0 }
      assert.are.same({ 0, 0, 0 }, array_to_table(none.w_true, 3))
      local all = data.synthetic_lasso { n = 5, p = 3, k = 3 }
      for j = 0, 2 do assert.are_not.equal(0, all.w_true[j]) end
    end)

    it("is determined by its parameters, and a smaller n is a prefix", function()
      local a = data.synthetic_lasso { n = 200, p = 25, rho = 0.4, k = 5, seed = 8 }
      local b = data.synthetic_lasso { n = 200, p = 25, rho = 0.4, k = 5, seed = 8 }
      assert.is_true(same_csr(a, b))
      assert.are.equal(ffi.string(a.w_true, 8 * 25), ffi.string(b.w_true, 8 * 25))
      local c = data.synthetic_lasso { n = 200, p = 25, rho = 0.4, k = 5, seed = 9 }
      assert.is_false(same_csr(a, c))
      assert.are_not.equal(ffi.string(a.w_true, 8 * 25), ffi.string(c.w_true, 8 * 25))
      local small = data.synthetic_lasso { n = 50, p = 25, rho = 0.4, k = 5, seed = 8 }
      assert.is_true(same_csr(small, data.subset(a, { first = 0, count = 50 })))
    end)

    for _, rho in ipairs({ 0, 0.5, 0.9 }) do
      it("gives every two columns correlation about rho = " .. rho, function()
        local ds = data.synthetic_lasso { n = 20000, p = 4, rho = rho, k = 2, seed = 3 }
        for _, pair in ipairs({ { 0, 1 }, { 1, 3 }, { 2, 3 } }) do
          local r = column_correlation(ds, pair[1], pair[2])
          assert.is_true(math.abs(r - rho) < 0.05, "columns " .. pair[1] .. "," .. pair[2] .. ": " .. r)
        end
      end)
    end

    it("makes y = X w_true + noise", function()
      local function residuals(ds)
        local sum, sum_squares = 0, 0
        for r = 0, ds.n - 1 do
          local fit = 0
          for t = tonumber(ds.rowptr[r]), tonumber(ds.rowptr[r + 1]) - 1 do
            fit = fit + ds.val[t] * ds.w_true[ds.col[t]]
          end
          local e = ds.y[r] - fit
          sum, sum_squares = sum + e, sum_squares + e * e
        end
        return sum / ds.n, math.sqrt(sum_squares / ds.n)
      end
      local _, exact = residuals(data.synthetic_lasso { n = 300, p = 20, rho = 0.2, k = 4, noise = 0, seed = 2 })
      assert.are.equal(0, exact)
      local mean, spread = residuals(data.synthetic_lasso {
        n = 10000, p = 10, rho = 0.2, k = 4, noise = 0.3, seed = 2 })
      assert.is_true(math.abs(mean) < 0.02, "mean " .. mean)
      assert.is_true(math.abs(spread - 0.3) < 0.02, "noise std " .. spread)
      local _, default_spread = residuals(data.synthetic_lasso { n = 10000, p = 10, k = 4, seed = 2 })
      assert.is_true(math.abs(default_spread - 0.1) < 0.01, "default noise std " .. default_spread)
    end)

    it("keeps a fraction density of the entries, sorted, when density < 1", function()
      local ds = data.synthetic_lasso { n = 2000, p = 50, rho = 0.5, k = 5, density = 0.2, seed = 6 }
      local fraction = ds.nnz / (ds.n * ds.d)
      assert.is_true(math.abs(fraction - 0.2) < 0.01, "density " .. fraction)
      assert.are.equal(ds.nnz, tonumber(ds.rowptr[ds.n]))
      assert.are.equal(4 * ds.nnz, ffi.sizeof(ds.col))
      for r = 0, ds.n - 1 do
        for t = tonumber(ds.rowptr[r]) + 1, tonumber(ds.rowptr[r + 1]) - 1 do
          assert.is_true(ds.col[t] > ds.col[t - 1])
        end
      end
      local sparse = data.synthetic_lasso { n = 20000, p = 3, rho = 0.5, k = 1, density = 0.5, seed = 6 }
      local r = column_correlation(sparse, 0, 1)
      assert.is_true(math.abs(r - 0.25) < 0.05, "sparsified correlation " .. r)
    end)

    it("raises on bad parameters", function()
      assert.has_error(function() data.synthetic_lasso() end,
        "bad argument to synthetic_lasso (table expected, got nil)")
      assert.has_error(function() data.synthetic_lasso { p = 3 } end,
        "bad field 'n' to synthetic_lasso (positive integer expected, got nil)")
      assert.has_error(function() data.synthetic_lasso { n = 3, p = 0 } end)
      assert.has_error(function() data.synthetic_lasso { n = 3, p = 3, rho = 1 } end,
        "bad field 'rho' to synthetic_lasso (number in [0, 1) expected, got number 1)")
      assert.has_error(function() data.synthetic_lasso { n = 3, p = 3, rho = -0.1 } end)
      assert.has_error(function() data.synthetic_lasso { n = 3, p = 3, k = 4 } end,
        "bad field 'k' to synthetic_lasso (integer in [0, p = 3] expected, got number 4)")
      assert.has_error(function() data.synthetic_lasso { n = 3, p = 3, k = 1.5 } end)
      assert.has_error(function() data.synthetic_lasso { n = 3, p = 3, noise = -1 } end)
      assert.has_error(function() data.synthetic_lasso { n = 3, p = 3, density = 0 } end)
      assert.has_error(function() data.synthetic_lasso { n = 3, p = 3, seed = 0.5 } end)
    end)
  end)
end)
