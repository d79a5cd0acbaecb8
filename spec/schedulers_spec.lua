-- Spec for pmls.schedulers (lua/pmls/schedulers.lua): the uniform, cyclic, priority and block
-- variable schedulers, the dependency filter, the priority sampler's distribution (chi-square
-- tests with fixed seeds), the block scheduler's diagonal rounds and segments, a checkpoint's
-- save() / restore(), and every misuse error, each blamed on the caller's line.
--
-- Run: luajit /usr/bin/busted spec/schedulers_spec.lua   (from the repository root; .busted sets
-- the paths). Every random input here comes from a fixed seed, so a failure reproduces exactly.

local ffi = require("ffi")
local schedulers = require("pmls.schedulers")

local int64_array = ffi.typeof("int64_t[?]")
local double_array = ffi.typeof("double[?]")

-- The round's variables as a Lua list.
local function round_of(s, out)
  local n = s:next(out)
  local list = {}
  for i = 0, n - 1 do list[i + 1] = tonumber(out[i]) end
  return list, n
end

local function new_with_out(kind, opts)
  local s = schedulers.new(kind, opts)
  return s, int64_array(s.capacity)
end

-- Calls fn expecting a raised string error; returns the message without its position, after
-- checking that the position is this spec (the error blames the caller, not the module).
local function raised(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error")
  assert.are.equal("string", type(err))
  local where, message = err:match("^(.-:%d+): (.*)$")
  assert.is_truthy(where, "error without a position: " .. err)
  assert.is_truthy(where:find("schedulers_spec%.lua:%d+$"), "error blamed on " .. where .. ": " .. err)
  return message
end

-- A deterministic generator for test inputs (splitmix-free LCG: the tests only need it to be
-- reproducible and spread out, not strong).
local function lcg(seed)
  local state = seed
  return function()
    state = (state * 1103515245 + 12345) % 2147483648
    return state / 2147483648
  end
end

-- Pearson's chi-square statistic of observed counts against expected counts.
local function chi_square(observed, expected)
  local x = 0
  for j = 1, #expected do
    local d = (observed[j] or 0) - expected[j]
    x = x + d * d / expected[j]
  end
  return x
end

-- 0.999 quantiles of the chi-square distribution.
local CHI2_999 = { [9] = 27.88, [19] = 43.82, [29] = 59.70 }

describe("pmls.schedulers", function()
  describe("uniform", function()
    it("draws per_round distinct variables in range, and every variable over the rounds", function()
      local s, out = new_with_out("uniform", { lo = 100, hi = 137, per_round = 5, seed = 7 })
      assert.are.equal(5, s.capacity)
      local seen = {}
      for _ = 1, 400 do
        local list, n = round_of(s, out)
        assert.are.equal(5, n)
        local in_round = {}
        for _, j in ipairs(list) do
          assert.is_true(j >= 100 and j < 137, "variable " .. j .. " outside [100, 137)")
          assert.is_nil(in_round[j], "variable " .. j .. " twice in one round")
          in_round[j] = true
          seen[j] = true
        end
      end
      for j = 100, 136 do assert.is_true(seen[j], "variable " .. j .. " never drawn") end
      assert.are.same({ rounds = 400, candidates = 2000, kept = 2000, rejected = 0 }, s.stats)
    end)

    it("draws each variable equally often (chi-square, 10 variables)", function()
      local s, out = new_with_out("uniform", { lo = 0, hi = 10, per_round = 3, seed = 11 })
      local counts, rounds = {}, 20000
      for _ = 1, rounds do
        local n = s:next(out)
        for i = 0, n - 1 do
          local j = tonumber(out[i]) + 1
          counts[j] = (counts[j] or 0) + 1
        end
      end
      local expected = {}
      for j = 1, 10 do expected[j] = rounds * 3 / 10 end
      assert.is_true(chi_square(counts, expected) < CHI2_999[9])
    end)

    it("returns the whole range, in a random order, when it is smaller than per_round", function()
      local s, out = new_with_out("uniform", { lo = 3, hi = 7, per_round = 10, seed = 1 })
      assert.are.equal(4, s.capacity)
      local orders = {}
      for _ = 1, 50 do
        local list, n = round_of(s, out)
        assert.are.equal(4, n)
        orders[table.concat(list, ",")] = true
        table.sort(list)
        assert.are.same({ 3, 4, 5, 6 }, list)
      end
      local distinct = 0
      for _ in pairs(orders) do distinct = distinct + 1 end
      assert.is_true(distinct > 1, "the same order every round")
    end)

    it("repeats its rounds for the same seed and differs for another", function()
      local function rounds(seed)
        local s, out = new_with_out("uniform", { lo = 0, hi = 1000, per_round = 8, seed = seed })
        local all = {}
        for r = 1, 20 do all[r] = table.concat(round_of(s, out), ",") end
        return table.concat(all, ";")
      end
      assert.are.equal(rounds(42), rounds(42))
      assert.are_not.equal(rounds(42), rounds(43))
      assert.are_not.equal(rounds(-1), rounds(1))
    end)
  end)

  describe("cyclic", function()
    it("sweeps lo, lo+1, ... and wraps around", function()
      local s, out = new_with_out("cyclic", { lo = 10, hi = 17, per_round = 3, seed = 1 })
      local expect = { { 10, 11, 12 }, { 13, 14, 15 }, { 16, 10, 11 }, { 12, 13, 14 }, { 15, 16, 10 } }
      for r = 1, #expect do assert.are.same(expect[r], (round_of(s, out))) end
    end)

    it("covers the whole range each sweep, and takes it all when per_round exceeds it", function()
      local s, out = new_with_out("cyclic", { lo = 0, hi = 9, per_round = 4, seed = 1 })
      local counts = {}
      for _ = 1, 9 do -- 36 draws: every variable exactly 4 times
        for _, j in ipairs((round_of(s, out))) do counts[j] = (counts[j] or 0) + 1 end
      end
      for j = 0, 8 do assert.are.equal(4, counts[j]) end
      local all = new_with_out("cyclic", { lo = 5, hi = 8, per_round = 5, seed = 1 })
      assert.are.equal(3, all.capacity)
      assert.are.same({ 5, 6, 7 }, (round_of(all, int64_array(3))))
      assert.are.same({ 5, 6, 7 }, (round_of(all, int64_array(3))))
    end)

    it("with a filter, moves on past the examined candidates only", function()
      -- Even and odd variables conflict among themselves: each round keeps one even and one odd,
      -- so a full round examines just 2 of its 4 candidates and the next round starts after them.
      local s, out = new_with_out("cyclic", {
        lo = 0, hi = 10, per_round = 2, candidates = 4, seed = 1, dependency = 0.5,
        depfn = function(j, k) return (j - k) % 2 == 0 and 1 or 0 end })
      assert.are.same({ 0, 1 }, (round_of(s, out)))
      assert.are.same({ 2, 3 }, (round_of(s, out)))
      assert.are.same({ 4, 5 }, (round_of(s, out)))
    end)

    it("with a filter, gives every variable its turn however coupled they are", function()
      -- Everything conflicts, so each round keeps one: the first candidate. The sweep must then
      -- restart at the first rejected one, or (16 candidates, 30 variables) only the even
      -- variables would ever be kept.
      local s, out = new_with_out("cyclic", {
        lo = 0, hi = 30, per_round = 8, candidates = 16, seed = 1, dependency = 0.5,
        depfn = function() return 1 end })
      local seen = {}
      for _ = 1, 30 do
        local got = round_of(s, out)
        assert.are.equal(1, #got)
        seen[got[1]] = true
      end
      for j = 0, 29 do assert.is_true(seen[j] == true, "variable " .. j .. " never kept") end
    end)
  end)

  describe("priority", function()
    it("draws in proportion to (change)^2 + eta (chi-square, 20 variables, 200k draws)", function()
      local eta = 0.01
      local s, out = new_with_out("priority", { lo = 50, hi = 70, per_round = 1, seed = 2024, eta = eta })
      local vars, deltas = int64_array(20), double_array(20)
      local weights, total = {}, 0
      for j = 0, 19 do
        vars[j] = 50 + j
        -- Changes from 0 (weight eta alone) to 0.95, so the weights span two orders of magnitude.
        deltas[j] = (j % 2 == 0 and 1 or -1) * 0.05 * ((j * 7) % 20)
        weights[j + 1] = deltas[j] * deltas[j] + eta
        total = total + weights[j + 1]
      end
      s:update(vars, 20, deltas, 1)
      for j = 0, 19 do assert.are.equal(weights[j + 1], s:weight(50 + j)) end
      local draws, counts = 200000, {}
      for _ = 1, draws do
        assert(s:next(out) == 1)
        local j = tonumber(out[0]) - 49
        counts[j] = (counts[j] or 0) + 1
      end
      local expected = {}
      for j = 1, 20 do expected[j] = draws * weights[j] / total end
      local x = chi_square(counts, expected)
      assert.is_true(x < CHI2_999[19], ("chi-square %.2f >= %.2f"):format(x, CHI2_999[19]))
    end)

    it("is uniform before any update", function()
      local s, out = new_with_out("priority", { lo = 0, hi = 30, per_round = 1, seed = 5 })
      local counts, draws = {}, 30000
      for _ = 1, draws do
        s:next(out)
        local j = tonumber(out[0]) + 1
        counts[j] = (counts[j] or 0) + 1
      end
      local expected = {}
      for j = 1, 30 do expected[j] = draws / 30 end
      assert.is_true(chi_square(counts, expected) < CHI2_999[29])
    end)

    it("follows update() with per_round > 1, and still samples variables that did not change", function()
      local p, per_round = 40, 4
      local s, out = new_with_out("priority", { lo = 0, hi = p, per_round = per_round, seed = 9, eta = 1e-4 })
      local function frequencies(rounds)
        local counts = {}
        for j = 0, p - 1 do counts[j] = 0 end
        for _ = 1, rounds do
          local list, n = round_of(s, out)
          assert.are.equal(per_round, n)
          local in_round = {}
          for _, j in ipairs(list) do
            assert.is_nil(in_round[j], "variable " .. j .. " twice in one round")
            in_round[j] = true
            counts[j] = counts[j] + 1
          end
        end
        return counts
      end
      local before = frequencies(2000)
      for j = 0, p - 1 do
        assert.is_true(before[j] > 100 and before[j] < 300, "variable " .. j .. " drawn " .. before[j] .. " times")
      end
      -- Variables 0 and 1 moved by 1 (weight ~1), 2..5 by 0.03 (weight 1e-3); the rest did not
      -- move (weight eta = 1e-4).
      local vars, deltas = int64_array(6), double_array(6)
      for i = 0, 5 do vars[i] = i; deltas[i] = i < 2 and 1 or 0.03 end
      s:update(vars, 6, deltas, 1)
      local after = frequencies(4000)
      for j = 0, 1 do
        assert.is_true(after[j] > 3900, "variable " .. j .. " drawn " .. after[j] .. " times, not nearly every round")
      end
      local most_still = 0
      for j = 6, p - 1 do
        assert.is_true(after[j] > 0, "variable " .. j .. " did not change and was never drawn")
        most_still = math.max(most_still, after[j])
      end
      for j = 2, 5 do
        assert.is_true(after[j] > 3 * most_still, ("variable %d drawn %d times, a still one %d times")
          :format(j, after[j], most_still))
      end
      -- The most recent change counts, not the sum: moving 0 and 1 back to zero makes them rare.
      deltas[0], deltas[1] = 0, 0
      s:update(vars, 2, deltas, 1)
      assert.are.equal(1e-4, s:weight(0))
      local last = frequencies(2000)
      for j = 0, 1 do assert.is_true(last[j] < 600, "variable " .. j .. " drawn " .. last[j] .. " times") end
    end)

    it("sums squared changes over the width and restores the weights after each round", function()
      local s, out = new_with_out("priority", { lo = 0, hi = 6, per_round = 3, seed = 1, eta = 0.5 })
      local vars, deltas = int64_array(2), double_array(6)
      vars[0], vars[1] = 4, 1
      deltas[0], deltas[1], deltas[2] = 1, 2, -2   -- variable 4: 1 + 4 + 4
      deltas[3], deltas[4], deltas[5] = 0, 0, 3    -- variable 1: 9
      s:update(vars, 2, deltas, 3)
      assert.are.equal(9.5, s:weight(4))
      assert.are.equal(9.5, s:weight(1))
      assert.are.equal(0.5, s:weight(0))
      local before = {}
      for j = 0, 5 do before[j] = s:weight(j) end
      for _ = 1, 100 do s:next(out) end
      for j = 0, 5 do assert.are.equal(before[j], s:weight(j)) end
    end)

    it("returns the whole range when per_round exceeds it", function()
      local s, out = new_with_out("priority", { lo = 0, hi = 5, per_round = 8, seed = 3 })
      for _ = 1, 20 do
        local list = round_of(s, out)
        table.sort(list)
        assert.are.same({ 0, 1, 2, 3, 4 }, list)
      end
    end)

    it("repeats its rounds for the same seed and updates", function()
      local function rounds(seed)
        local s, out = new_with_out("priority", { lo = 0, hi = 500, per_round = 6, seed = seed })
        local deltas, all = double_array(6), {}
        for r = 1, 30 do
          local n = s:next(out)
          for i = 0, n - 1 do deltas[i] = (tonumber(out[i]) % 7) / 7 end
          s:update(out, n, deltas, 1)
          local list = {}
          for i = 0, n - 1 do list[i + 1] = tonumber(out[i]) end
          all[r] = table.concat(list, ",")
        end
        return table.concat(all, ";")
      end
      assert.are.equal(rounds(8), rounds(8))
      assert.are_not.equal(rounds(8), rounds(9))
    end)

    it("keeps a round's cost independent of p (10^6 variables, 2,000 rounds)", function()
      -- A round in O(p) would take 2e9 steps here, seconds at best; O(k log p) is ~3e6, a few ms.
      local s, out = new_with_out("priority", { lo = 0, hi = 1000000, per_round = 20, seed = 4 })
      local deltas = double_array(20)
      local start = os.clock()
      for _ = 1, 2000 do
        local n = s:next(out)
        for i = 0, n - 1 do deltas[i] = 0.01 end
        s:update(out, n, deltas, 1)
      end
      assert.is_true(os.clock() - start < 0.5, "2000 rounds took " .. (os.clock() - start) .. " s")
    end)
  end)

  describe("dependency filter", function()
    -- A random symmetric dependency over 61 variables: a pair conflicts (>= theta) with
    -- probability 0.5, so about half the rounds fill their 4 slots from 12 candidates and half run
    -- out of candidates; both branches of the filter are checked. (61 is prime so that the cyclic
    -- sweep, which moves on by 12 after a short round, does not settle on a few windows.)
    local P, THETA, PER_ROUND, CANDIDATES = 61, 0.5, 4, 12
    local matrix = {}
    local rand = lcg(12345)
    for j = 0, P - 1 do matrix[j] = {} end
    for j = 0, P - 1 do
      for k = j, P - 1 do
        local v = rand()
        matrix[j][k], matrix[k][j] = v, v
      end
    end

    for _, kind in ipairs({ "uniform", "cyclic", "priority" }) do
      it(kind .. ": never keeps two dependent variables, and fills rounds greedily (2000 rounds)", function()
        local calls = {}
        local s, out = new_with_out(kind, {
          lo = 0, hi = P, per_round = PER_ROUND, candidates = CANDIDATES, seed = 77,
          dependency = THETA,
          depfn = function(j, k)
            calls[#calls + 1] = { j, k }
            return matrix[j][k]
          end })
        assert.are.equal(PER_ROUND, s.capacity)
        local full_rounds = 0
        for r = 1, 2000 do
          calls = {}
          local before = { kept = s.stats.kept, rejected = s.stats.rejected }
          local list, n = round_of(s, out)
          assert.is_true(n >= 1 and n <= PER_ROUND)
          local position = {}
          for i, j in ipairs(list) do
            assert.is_nil(position[j], "variable " .. j .. " twice in round " .. r)
            position[j] = i
          end
          for a = 1, n do
            for b = a + 1, n do
              assert.is_true(matrix[list[a]][list[b]] < THETA,
                ("round %d kept %d and %d (dependency %.3f)"):format(r, list[a], list[b], matrix[list[a]][list[b]]))
            end
          end
          -- Every call pairs a candidate with a variable kept before it was examined; a kept
          -- candidate was checked against every earlier kept one; a rejected one stopped at a
          -- conflict.
          local checked, rejected, last = {}, {}, {}
          for _, c in ipairs(calls) do
            local j, k = c[1], c[2]
            assert.is_truthy(position[k], ("depfn(%d, %d): %d is not kept"):format(j, k, k))
            assert.are_not.equal(j, k)
            if position[j] then
              assert.is_true(position[k] < position[j], ("depfn(%d, %d): %d kept after %d"):format(j, k, k, j))
            end
            local key = j .. ":" .. k
            assert.is_nil(checked[key], "depfn(" .. key .. ") called twice in a round")
            checked[key] = true
            last[j] = matrix[j][k]
            if not position[j] then rejected[j] = true end
          end
          for i = 2, n do
            for a = 1, i - 1 do
              assert.is_true(checked[list[i] .. ":" .. list[a]], "kept " .. list[i] .. " unchecked against " .. list[a])
            end
          end
          local nrejected = 0
          for j in pairs(rejected) do
            nrejected = nrejected + 1
            assert.is_true(last[j] >= THETA, "candidate " .. j .. " rejected without a conflict")
          end
          assert.are.equal(n, s.stats.kept - before.kept)
          assert.are.equal(nrejected, s.stats.rejected - before.rejected)
          -- A short round examined (and rejected) every candidate it did not keep.
          if n < PER_ROUND then
            assert.are.equal(CANDIDATES, n + nrejected, "round " .. r .. " stopped early with " .. n .. " kept")
          else
            full_rounds = full_rounds + 1
          end
        end
        assert.is_true(full_rounds > 500 and full_rounds < 1500, full_rounds .. " full rounds of 2000")
        assert.are.equal(2000, s.stats.rounds)
        assert.are.equal(2000 * CANDIDATES, s.stats.candidates)
      end)
    end

    it("keeps per_round whenever nothing conflicts", function()
      local s, out = new_with_out("uniform", {
        lo = 0, hi = 100, per_round = 7, candidates = 20, seed = 3, dependency = 0.5,
        depfn = function() return 0.1 end })
      for _ = 1, 200 do assert.are.equal(7, s:next(out)) end
      assert.are.equal(0, s.stats.rejected)
    end)

    it("keeps only the first candidate when everything conflicts, and rejects on NaN", function()
      local s, out = new_with_out("priority", {
        lo = 0, hi = 100, per_round = 5, candidates = 10, seed = 3, dependency = 0.5,
        depfn = function(j) return j % 2 == 0 and 0 / 0 or 0.5 end })
      for _ = 1, 100 do assert.are.equal(1, s:next(out)) end
      assert.are.equal(100 * 9, s.stats.rejected)
    end)

    it("checks against the dependency threshold, not <=", function()
      local s, out = new_with_out("cyclic", {
        lo = 0, hi = 4, per_round = 4, seed = 3, dependency = 0.25,
        depfn = function(j, k) return math.abs(j - k) * 0.125 end })
      -- 0 kept; 1 (0.125 < 0.25) kept; 2 conflicts with 0 (0.25); 3 (0.375 with 0) too.
      assert.are.same({ 0, 1 }, (round_of(s, out)))
    end)
  end)

  describe("block", function()
    local function check_ranges(s, d, rows, lo, hi)
      local next_row, next_var = 0, lo
      for i = 0, d - 1 do
        local rlo, rhi = s:row_range(i)
        local vlo, vhi = s:var_range(i)
        assert.are.equal(next_row, rlo)
        assert.are.equal(next_var, vlo)
        assert.is_true(rhi - rlo == math.floor(rows / d) or rhi - rlo == math.ceil(rows / d))
        assert.is_true(vhi - vlo == math.floor((hi - lo) / d) or vhi - vlo == math.ceil((hi - lo) / d))
        next_row, next_var = rhi, vhi
      end
      assert.are.equal(rows, next_row)
      assert.are.equal(hi, next_var)
    end

    local cases = {
      { d = 4, workers = 4, lo = 0, hi = 23, rows = 101 },
      { d = 6, workers = 4, lo = 5, hi = 40, rows = 50 },
      { d = 5, workers = 2, lo = 0, hi = 5, rows = 5 },
      { d = 2, workers = 3, lo = 7, hi = 20, rows = 9 },
      { d = 1, workers = 1, lo = 0, hi = 3, rows = 2 },
    }
    for _, c in ipairs(cases) do
      local title = ("d = %d, workers = %d: diagonal rounds, every block once per d rounds, segments per worker")
        :format(c.d, c.workers)
      it(title, function()
        local s, out = new_with_out("block", {
          lo = c.lo, hi = c.hi, rows = c.rows, workers = c.workers, blocks = c.d, seed = 1, per_round = 3 })
        local p = c.hi - c.lo
        assert.are.equal(p, s.capacity)
        check_ranges(s, c.d, c.rows, c.lo, c.hi)
        local visited, first_cycle = {}, {}
        for r = 1, 2 * c.d do
          local list, n = round_of(s, out)
          assert.are.equal(p, n)
          assert.are.equal(c.d, s.nseg)
          local rowblocks, colblocks, covered = {}, {}, {}
          local expect_lo = 0
          local prev_worker, prev_block = -1, -1
          local signature = {}
          for g = 0, s.nseg - 1 do
            local w, i, cb = s.seg_worker[g], s.seg_rowblock[g], s.seg_colblock[g]
            local glo, ghi = tonumber(s.seg_lo[g]), tonumber(s.seg_hi[g])
            assert.is_nil(rowblocks[i], "row range " .. i .. " twice in round " .. r)
            assert.is_nil(colblocks[cb], "variable range " .. cb .. " twice in round " .. r)
            rowblocks[i], colblocks[cb] = true, true
            assert.are.equal(i % c.workers, w)
            -- Ordered by worker, then by block.
            assert.is_true(w > prev_worker or (w == prev_worker and i > prev_block))
            prev_worker, prev_block = w, i
            -- Segments tile out[0 .. n-1] in order, each exactly its variable range.
            assert.are.equal(expect_lo, glo)
            expect_lo = ghi
            local vlo, vhi = s:var_range(cb)
            assert.are.equal(vhi - vlo, ghi - glo)
            for q = glo, ghi - 1 do
              assert.are.equal(vlo + (q - glo), list[q + 1])
              covered[list[q + 1]] = true
            end
            signature[#signature + 1] = i .. "/" .. cb
            if r <= c.d then
              local key = i .. "," .. cb
              assert.is_nil(visited[key], "block " .. key .. " visited twice in " .. c.d .. " rounds")
              visited[key] = true
            end
          end
          assert.are.equal(n, expect_lo)
          for j = c.lo, c.hi - 1 do assert.is_true(covered[j], "variable " .. j .. " missing in round " .. r) end
          signature = table.concat(signature, " ")
          if r <= c.d then first_cycle[r] = signature else assert.are.equal(first_cycle[r - c.d], signature) end
        end
        for i = 0, c.d - 1 do
          for cb = 0, c.d - 1 do assert.is_true(visited[i .. "," .. cb], "block " .. i .. "," .. cb .. " never visited") end
        end
        assert.are.equal(2 * c.d, s.stats.rounds)
      end)
    end

    it("runs blocks (i, (i + t) mod d) in round t, one per worker when d = workers", function()
      local s, out = new_with_out("block", { lo = 0, hi = 6, rows = 3, workers = 3, seed = 1 })
      assert.are.equal(0, s.nseg)
      for t = 0, 2 do
        s:next(out)
        for g = 0, 2 do
          assert.are.equal(g, s.seg_worker[g])
          assert.are.equal(g, s.seg_rowblock[g])
          assert.are.equal((g + t) % 3, s.seg_colblock[g])
        end
      end
    end)

    it("splits rows and variables evenly, the first ranges one larger", function()
      local s = schedulers.new("block", { lo = 10, hi = 20, rows = 11, blocks = 4, seed = 1 })
      assert.are.same({ 0, 3 }, { s:row_range(0) })
      assert.are.same({ 3, 6 }, { s:row_range(1) })
      assert.are.same({ 6, 9 }, { s:row_range(2) })
      assert.are.same({ 9, 11 }, { s:row_range(3) })
      assert.are.same({ 10, 13 }, { s:var_range(0) })
      assert.are.same({ 13, 16 }, { s:var_range(1) })
      assert.are.same({ 16, 18 }, { s:var_range(2) })
      assert.are.same({ 18, 20 }, { s:var_range(3) })
    end)
  end)

  describe("save() and restore()", function()
    it("a scheduler restored from a saved state picks the rounds the saved one picks next", function()
      local cases = {
        { "uniform", { lo = 2, hi = 50, per_round = 5, seed = 3 } },
        { "cyclic", { lo = 0, hi = 17, per_round = 4, seed = 3 } },
        { "priority", { lo = 0, hi = 40, per_round = 6, seed = 9, eta = 1e-3 } },
        { "block", { lo = 0, hi = 30, rows = 12, blocks = 3, workers = 2, seed = 1 } },
      }
      for _, case in ipairs(cases) do
        local kind, opts = case[1], case[2]
        local a, out = new_with_out(kind, opts)
        local deltas = double_array(a.capacity)
        for r = 1, 7 do -- some rounds, with priorities that change
          local n = a:next(out)
          for i = 0, n - 1 do deltas[i] = (r * 7 + i) % 5 * 0.1 end
          a:update(out, n, deltas, 1)
        end
        local b = schedulers.new(kind, opts)
        b:restore(a:save())
        local b_out, picked = int64_array(b.capacity), {}
        for r = 1, 5 do
          picked[r] = round_of(a, out)
          assert.are.same(picked[r], round_of(b, b_out), kind)
        end
        assert.are.same(a.stats, b.stats, kind)
        -- a fresh one picks others: the test can tell
        local c, c_out = new_with_out(kind, opts)
        local differs = false
        for r = 1, 5 do
          local y = round_of(c, c_out)
          for i = 1, math.max(#picked[r], #y) do differs = differs or picked[r][i] ~= y[i] end
        end
        assert.is_true(differs, kind .. ": a fresh scheduler picks the same rounds")
      end
    end)

    it("refuses the state of another kind", function()
      local u = schedulers.new("uniform", { lo = 0, hi = 10, per_round = 2, seed = 1 })
      local c = schedulers.new("cyclic", { lo = 0, hi = 10, per_round = 2, seed = 1 })
      assert.are.equal("bad argument 'state' to restore (not the state of a cyclic scheduler)",
                       raised(function() c:restore(u:save()) end))
    end)
  end)

  describe("errors", function()
    local function new_error(kind, opts)
      return raised(function() schedulers.new(kind, opts) end)
    end
    local function base(extra)
      local opts = { lo = 0, hi = 10, per_round = 2, seed = 1 }
      for k, v in pairs(extra or {}) do opts[k] = v end
      return opts
    end
    local function block(extra)
      local opts = { lo = 0, hi = 10, rows = 20, workers = 2, seed = 1 }
      for k, v in pairs(extra or {}) do opts[k] = v end
      return opts
    end
    local function without(opts, field)
      opts[field] = nil
      return opts
    end

    it("rejects an unknown kind and a missing opts table", function()
      assert.are.equal("bad argument 'kind' to schedulers.new "
        .. "(string shotgun: uniform, cyclic, priority or block expected)", new_error("shotgun", base()))
      assert.are.equal("bad argument 'kind' to schedulers.new "
        .. "(nil: uniform, cyclic, priority or block expected)", new_error(nil, base()))
      assert.are.equal("bad argument 'opts' to schedulers.new (table expected, got nil)",
        new_error("uniform", nil))
    end)

    it("rejects unknown options and options of another kind", function()
      assert.are.equal("bad argument 'opts.per_rnd' to schedulers.new (unknown option)",
        new_error("uniform", base({ per_rnd = 3 })))
      assert.are.equal("bad argument 'opts.eta' to schedulers.new (not an option of a uniform scheduler)",
        new_error("uniform", base({ eta = 0.1 })))
      assert.are.equal("bad argument 'opts.rows' to schedulers.new (not an option of a cyclic scheduler)",
        new_error("cyclic", base({ rows = 3 })))
      assert.are.equal("bad argument 'opts.dependency' to schedulers.new (not an option of a block scheduler)",
        new_error("block", block({ dependency = 0.1 })))
      assert.are.equal("bad argument 'opts.candidates' to schedulers.new (not an option of a block scheduler)",
        new_error("block", block({ candidates = 4 })))
    end)

    it("requires an integer seed and an integer range with hi > lo", function()
      assert.are.equal("bad argument 'opts.seed' to schedulers.new (integer required)",
        new_error("uniform", without(base(), "seed")))
      assert.are.equal("bad argument 'opts.seed' to schedulers.new (integer expected, got number 1.5)",
        new_error("priority", base({ seed = 1.5 })))
      assert.are.equal("bad argument 'opts.seed' to schedulers.new (integer expected, got string 1)",
        new_error("block", block({ seed = "1" })))
      assert.are.equal("bad argument 'opts.lo' to schedulers.new (integer >= 0 expected, got nil)",
        new_error("uniform", without(base(), "lo")))
      assert.are.equal("bad argument 'opts.lo' to schedulers.new (integer >= 0 expected, got number -1)",
        new_error("cyclic", base({ lo = -1 })))
      assert.are.equal("bad argument 'opts.hi' to schedulers.new (integer > lo (5) expected, got number 5)",
        new_error("uniform", base({ lo = 5, hi = 5 })))
      assert.are.equal("bad argument 'opts.hi' to schedulers.new (integer > lo (0) expected, got nil)",
        new_error("block", without(block(), "hi")))
      assert.are.equal("bad argument 'opts.hi' to schedulers.new (integer > lo (0) expected, got number 2.5)",
        new_error("priority", base({ hi = 2.5 })))
      assert.are.equal("bad argument 'opts.hi' to schedulers.new (at most 2147483647 variables per scheduler, "
        .. "got 2147483648)", new_error("uniform", base({ hi = 2 ^ 31 })))
    end)

    it("requires per_round >= 1 and candidates >= per_round", function()
      for _, kind in ipairs({ "uniform", "cyclic", "priority" }) do
        assert.are.equal("bad argument 'opts.per_round' to schedulers.new (integer >= 1 expected, got nil)",
          new_error(kind, without(base(), "per_round")))
        assert.are.equal("bad argument 'opts.per_round' to schedulers.new (integer >= 1 expected, got number 0)",
          new_error(kind, base({ per_round = 0 })))
        assert.are.equal("bad argument 'opts.per_round' to schedulers.new (integer >= 1 expected, got number 1.5)",
          new_error(kind, base({ per_round = 1.5 })))
        assert.are.equal("bad argument 'opts.candidates' to schedulers.new "
          .. "(integer >= per_round (2) expected, got number 1)", new_error(kind, base({ candidates = 1 })))
      end
      assert.are.equal("bad argument 'opts.per_round' to schedulers.new (integer >= 1 expected, got number -2)",
        new_error("block", block({ per_round = -2 })))
    end)

    it("requires depfn with a dependency threshold, and a threshold with depfn", function()
      local f = function() return 0 end
      assert.are.equal("bad argument 'opts.depfn' to schedulers.new "
        .. "(function expected with opts.dependency, got nil)", new_error("uniform", base({ dependency = 0.1 })))
      assert.are.equal("bad argument 'opts.depfn' to schedulers.new "
        .. "(function expected with opts.dependency, got table)",
        new_error("cyclic", base({ dependency = 0.1, depfn = {} })))
      assert.are.equal("bad argument 'opts.depfn' to schedulers.new "
        .. "(given without opts.dependency, it would never be called)", new_error("priority", base({ depfn = f })))
      assert.are.equal("bad argument 'opts.dependency' to schedulers.new (number >= 0 expected, got number -0.5)",
        new_error("uniform", base({ dependency = -0.5, depfn = f })))
      assert.are.equal("bad argument 'opts.dependency' to schedulers.new (number >= 0 expected, got number nan)",
        new_error("uniform", base({ dependency = 0 / 0, depfn = f })))
    end)

    it("requires eta > 0 and finite, and workers >= 1", function()
      assert.are.equal("bad argument 'opts.eta' to schedulers.new (finite number > 0 expected, got number 0)",
        new_error("priority", base({ eta = 0 })))
      assert.are.equal("bad argument 'opts.eta' to schedulers.new (finite number > 0 expected, got number inf)",
        new_error("priority", base({ eta = math.huge })))
      assert.are.equal("bad argument 'opts.workers' to schedulers.new (integer >= 1 expected, got number 0)",
        new_error("uniform", base({ workers = 0 })))
      assert.are.equal("bad argument 'opts.workers' to schedulers.new (integer >= 1 expected, got number 0)",
        new_error("block", block({ workers = 0 })))
    end)

    it("requires rows for block, and no more blocks than rows or variables", function()
      assert.are.equal("bad argument 'opts.rows' to schedulers.new (required for block)",
        new_error("block", without(block(), "rows")))
      assert.are.equal("bad argument 'opts.rows' to schedulers.new (integer >= 1 expected, got number 0)",
        new_error("block", block({ rows = 0 })))
      assert.are.equal("bad argument 'opts.blocks' to schedulers.new (integer >= 1 expected, got number 0)",
        new_error("block", block({ blocks = 0 })))
      assert.are.equal("bad argument 'opts.blocks' to schedulers.new "
        .. "(11 blocks but only 10 variables: a block would be empty)", new_error("block", block({ blocks = 11 })))
      assert.are.equal("bad argument 'opts.blocks' to schedulers.new "
        .. "(3 blocks but only 2 rows: a block would be empty)", new_error("block", block({ blocks = 3, rows = 2 })))
      -- The default d = workers is held to the same bounds.
      assert.are.equal("bad argument 'opts.blocks' to schedulers.new "
        .. "(4 blocks but only 3 rows: a block would be empty)", new_error("block", block({ workers = 4, rows = 3 })))
    end)

    it("rejects an output array that is not int64_t or too short for a round", function()
      local s = schedulers.new("uniform", base({ per_round = 4 }))
      assert.are.equal("bad argument 'out' to next (int64_t array expected, got table)",
        raised(function() s:next({}) end))
      assert.are.equal("bad argument 'out' to next (int64_t array expected, got ctype<int [?]>)",
        raised(function() s:next(ffi.new("int32_t[?]", 8)) end))
      assert.are.equal("bad argument 'out' to next (array of 3 elements, capacity 4 needed)",
        raised(function() s:next(int64_array(3)) end))
      assert.are.equal("bad argument 'out' to next (array of 2 elements, capacity 4 needed)",
        raised(function() s:next(ffi.new("int64_t[2]")) end))
      assert.are.equal(4, s:next(ffi.new("int64_t[4]")))
      local b = schedulers.new("block", block())
      assert.are.equal("bad argument 'out' to next (array of 9 elements, capacity 10 needed)",
        raised(function() b:next(int64_array(9)) end))
    end)

    it("rejects malformed update() calls and changes of variables outside the range", function()
      local s = schedulers.new("priority", base({ lo = 10, hi = 20 }))
      local vars, deltas = int64_array(2), double_array(2)
      vars[0], vars[1] = 12, 20
      assert.are.equal("bad argument 'n' to update (integer >= 0 expected, got number -1)",
        raised(function() s:update(vars, -1, deltas, 1) end))
      assert.are.equal("bad argument 'width' to update (integer >= 1 expected, got number 0)",
        raised(function() s:update(vars, 1, deltas, 0) end))
      assert.are.equal("bad argument 'vars' to update (int64_t array expected, got table)",
        raised(function() s:update({}, 1, deltas, 1) end))
      assert.are.equal("bad argument 'deltas' to update (double array expected, got nil)",
        raised(function() s:update(vars, 1, nil, 1) end))
      assert.are.equal("bad argument 'vars' to update (variable 20 is outside [10, 20))",
        raised(function() s:update(vars, 2, deltas, 1) end))
      deltas[0] = 0 / 0
      assert.are.equal("bad argument 'deltas' to update (change of variable 12 is not finite)",
        raised(function() s:update(vars, 1, deltas, 1) end))
      deltas[0] = 1e200
      assert.are.equal("bad argument 'deltas' to update (change of variable 12 is not finite)",
        raised(function() s:update(vars, 1, deltas, 1) end))
      -- The other kinds ignore the changes but still check the call.
      local u = schedulers.new("uniform", base())
      u:update(vars, 2, deltas, 1)
      assert.are.equal("bad argument 'width' to update (integer >= 1 expected, got nil)",
        raised(function() u:update(vars, 2, deltas) end))
    end)

    it("rejects a depfn that returns something other than a number", function()
      local s, out = new_with_out("uniform", base({ dependency = 0.5, depfn = function() return nil end }))
      assert.is_truthy(raised(function() s:next(out) end)
        :find("^bad argument 'opts.depfn' to next %(returned nil for %(%d+, %d+%), number expected%)$"))
    end)

    it("rejects out-of-range block indices and weight queries", function()
      local b = schedulers.new("block", block())
      assert.are.equal("bad argument 'i' to row_range (integer in [0, 1] expected, got number 2)",
        raised(function() b:row_range(2) end))
      assert.are.equal("bad argument 'i' to var_range (integer in [0, 1] expected, got number -1)",
        raised(function() b:var_range(-1) end))
      local s = schedulers.new("priority", base({ lo = 10, hi = 20 }))
      assert.are.equal("bad argument 'j' to weight (variable in [10, 20) expected, got number 9)",
        raised(function() s:weight(9) end))
    end)
  end)
end)
