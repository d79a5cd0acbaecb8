-- Spec for pmls.rng (lua/pmls/rng.lua): the package's one random module. splitmix64 against the
-- reference outputs of Vigna's splitmix64.c (the ones the rand_xoshiro crate's `reference` test
-- publishes; engine/src/util/util_test.c checks the C generator against the same values), the
-- draws built on it and a checkpoint's save / restore of them, and the schedulers' xorshift128
-- against Marsaglia's xor128.

local ffi = require("ffi")
local rng = require("pmls.rng")

-- splitmix64.c from the seed 1477776061723855037 (above 2^53, so it is given as a uint64_t).
local REFERENCE_SEED = 1477776061723855037ULL
local REFERENCE = {
  1985237415132408290ULL, 2979275885539914483ULL, 13511426838097143398ULL,
  8488337342461049707ULL, 15141737807933549159ULL, 17093170987380407015ULL,
}

describe("pmls.rng", function()
  describe("splitmix64", function()
    it("gives the reference outputs of splitmix64.c", function()
      local state = ffi.new("uint64_t[1]", REFERENCE_SEED)
      for i, want in ipairs(REFERENCE) do
        assert.are.equal(want, rng.splitmix64(state), "output " .. i)
      end
      -- The state is the seed plus i gammas: nothing else is kept.
      assert.are.equal(REFERENCE_SEED + 6 * 0x9E3779B97F4A7C15ULL, state[0])
    end)
  end)

  describe("new", function()
    it("streams splitmix64's outputs from its seed", function()
      local g = rng.new(REFERENCE_SEED)
      for i, want in ipairs(REFERENCE) do assert.are.equal(want, g.next_u64(), "output " .. i) end
    end)

    it("takes a number seed as the same integer", function()
      local a, b = rng.new(12345), rng.new(12345ULL)
      for _ = 1, 4 do assert.are.equal(a.next_u64(), b.next_u64()) end
      assert.are.equal(rng.new().next_u64(), rng.new(0).next_u64())
    end)

    it("turns each output's top 53 bits into a uniform in [0, 1)", function()
      local g = rng.new(REFERENCE_SEED)
      for i, word in ipairs(REFERENCE) do
        assert.are.equal(tonumber(word / 2048ULL) * 2 ^ -53, g.uniform(), "draw " .. i)
      end
      -- below(m) scales the same uniform.
      local h = rng.new(REFERENCE_SEED)
      assert.are.equal(math.floor(tonumber(REFERENCE[1] / 2048ULL) * 2 ^ -53 * 1000), h.below(1000))
    end)

    it("draws normals two per pair of uniforms in the unit disc", function()
      local g = rng.new(3)
      local sum, sum_squares, count = 0, 0, 20000
      for _ = 1, count do
        local z = g.normal()
        sum, sum_squares = sum + z, sum_squares + z * z
      end
      assert.is_true(math.abs(sum / count) < 0.05)
      assert.is_true(math.abs(sum_squares / count - 1) < 0.05)
    end)

    it("refuses a seed that is not an integer in [0, 2^53)", function()
      for _, bad in ipairs { -1, 0.5, 2 ^ 53, "1", {} } do
        local ok, err = pcall(rng.new, bad)
        assert.is_false(ok)
        assert.is_truthy(tostring(err):find("bad argument 'seed'", 1, true), tostring(err))
      end
    end)

    it("save() and restore(): a restored generator goes on with the saved one's draws", function()
      local a = rng.new(42)
      for _ = 1, 5 do a.uniform() end
      a.normal() -- leaves a spare normal, which the state keeps too
      local st = a.save()
      local b = rng.new(7)
      b.restore(st)
      assert.are.equal(a.normal(), b.normal()) -- the spare
      for _ = 1, 10 do assert.are.equal(a.next_u64(), b.next_u64()) end
      assert.are.equal(a.below(1000), b.below(1000))
      local ok, err = pcall(b.restore, {})
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find("bad argument 'state' to restore", 1, true), tostring(err))
    end)

    it("reseed(s): the draws of rng.new(s), a spare normal dropped", function()
      local g = rng.new(3)
      g.normal() -- leaves a spare, which reseed must drop
      for _, s in ipairs { 0, 1, 12345, 2 ^ 53 - 1 } do
        g.reseed(s)
        local fresh = rng.new(s)
        assert.are.equal(fresh.normal(), g.normal())
        for _ = 1, 5 do assert.are.equal(fresh.next_u64(), g.next_u64()) end
        assert.are.equal(fresh.uniform(), g.uniform())
      end
      for _, bad in ipairs { -1, 0.5, 2 ^ 53, "1" } do
        local ok, err = pcall(g.reseed, bad)
        assert.is_false(ok)
        assert.is_truthy(tostring(err):find("bad argument 'seed' to reseed", 1, true), tostring(err))
      end
    end)
  end)

  describe("xorshift128", function()
    it("is Marsaglia's xor128 (the paper's initial state)", function()
      local g = rng.xorshift128(1)
      g.x, g.y, g.z, g.w = 123456789, 362436069, 521288629, 88675123
      -- The paper's xor128 run in C from that state.
      for i, want in ipairs { 3701687786, 458299110, 2500872618, 3633119408, 516391518 } do
        assert.are.equal(want, g:next_u32() % 2 ^ 32, "output " .. i)
      end
    end)

    it("spreads its seed over the state by two splitmix64 outputs", function()
      local state = ffi.new("uint64_t[1]", 2024)
      local a, b = rng.splitmix64(state), rng.splitmix64(state)
      local g = rng.xorshift128(2024)
      assert.are.same({ tonumber(a % 2 ^ 32), tonumber(a / 2 ^ 32), tonumber(b % 2 ^ 32),
                        tonumber(b / 2 ^ 32) }, { g.x, g.y, g.z, g.w })
      -- A negative seed is its 64-bit two's complement.
      local negative = rng.xorshift128(-5)
      state[0] = ffi.cast("uint64_t", -5LL)
      assert.are.equal(tonumber(rng.splitmix64(state) % 2 ^ 32), negative.x)
    end)

    it("draws uniforms in [0, 1) and integers below n, the same for the same seed", function()
      local a, b, c = rng.xorshift128(7), rng.xorshift128(7), rng.xorshift128(8)
      local differ = false
      for _ = 1, 1000 do
        local u = a:uniform()
        assert.is_true(u >= 0 and u < 1)
        assert.are.equal(u, b:uniform())
        if c:uniform() ~= u then differ = true end
        local k = a:below(10)
        assert.are.equal(k, b:below(10))
        assert.is_true(k >= 0 and k < 10 and k == math.floor(k))
        c:below(10)
      end
      assert.is_true(differ)
    end)
  end)
end)
