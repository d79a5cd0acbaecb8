-- pmls.rng: the package's deterministic random numbers, in one module.
--
-- Data generators, model scripts and specs need streams that a seed fixes on every machine:
-- math.random is shared with the script and its generator and seeding vary between builds. The
-- algorithm is splitmix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
-- generators", OOPSLA 2014; the variant of Vigna's reference splitmix64.c): the state advances by
-- the golden-ratio gamma 0x9E3779B97F4A7C15 and each output is the state through the mixer
--   z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB; z ^= z >> 31.
-- The engine's C generator (pmi_rng in engine/src/util/util.h) is the same algorithm with the same
-- constants, and both are checked against the reference outputs (spec/rng_spec.lua,
-- engine/src/util/util_test.c). uint64_t cdata wraps around the same way on every platform; the
-- state lives in a one-element FFI array so that the JIT keeps the arithmetic unboxed.
--
-- The schedulers draw far more numbers per second than a data generator and cannot afford a boxed
-- 64-bit value per draw, so this module also holds their generator: xorshift128 (Marsaglia,
-- "Xorshift RNGs", 2003) on four 32-bit words held as plain Lua numbers, its state spread from the
-- seed by two splitmix64 outputs.

local ffi = require("ffi")
local bit = require("bit")

local band, bor, bxor, lshift, rshift = bit.band, bit.bor, bit.bxor, bit.lshift, bit.rshift
local floor = math.floor

local M = {}

local GAMMA = 0x9E3779B97F4A7C15ULL
local MUL1 = 0xBF58476D1CE4E5B9ULL
local MUL2 = 0x94D049BB133111EBULL
local TWO_POW_53 = 2 ^ 53
local TWO_POW_26 = 2 ^ 26
local TWO_POW_MINUS_53 = 2 ^ -53
local uint64_t = ffi.typeof("uint64_t")

local function describe(v)
  if type(v) == "number" or type(v) == "string" then return type(v) .. " " .. tostring(v) end
  return type(v)
end

-- rng.splitmix64(state) -> uint64_t: advances state (a uint64_t[1]) and returns its next output.
local function splitmix64(state)
  local z = state[0] + GAMMA
  state[0] = z
  z = bxor(z, rshift(z, 30)) * MUL1
  z = bxor(z, rshift(z, 27)) * MUL2
  return bxor(z, rshift(z, 31))
end
M.splitmix64 = splitmix64

local function is_seed(v)
  if type(v) == "number" then return v == floor(v) and v >= 0 and v < TWO_POW_53 end
  return type(v) == "cdata" and (ffi.istype(uint64_t, v) or ffi.istype("int64_t", v))
end

---------------------------------------------------------------------------------------------------
-- splitmix64 with the draws the data generators use.

-- rng.new(seed) -> {next_u64(), uniform(), below(m), normal(), save(), restore(state), reseed(seed)}
--
-- seed: an integer in [0, 2^53), or a 64-bit integer cdata for the seeds a double cannot hold;
-- nil means 0. The first next_u64() is splitmix64's first output for that seed.
function M.new(seed)
  if seed == nil then seed = 0 end
  if not is_seed(seed) then
    error("bad argument 'seed' (integer in [0, 2^53) expected, got " .. describe(seed) .. ")", 2)
  end
  local state = ffi.new("uint64_t[1]")
  state[0] = seed
  -- A number-typed spare plus a flag, rather than spare = nil, keeps the JIT's traces type-stable.
  local has_spare, spare = false, 0.0

  local function next_u64()
    return splitmix64(state)
  end

  -- Uniform in [0, 1) with 53 random bits.
  local function uniform()
    return tonumber(rshift(splitmix64(state), 11)) * TWO_POW_MINUS_53
  end

  -- Integer in [0, m) for m <= 2^53; the bias of scaling a 53-bit uniform is far below anything
  -- a data generator can notice.
  local function below(m)
    return floor(uniform() * m)
  end

  -- Standard normal by the polar form of Box-Muller: no sin/cos, whose last bits differ between
  -- libms, and the second value of each pair is kept for the next call.
  local function normal()
    if has_spare then
      has_spare = false
      return spare
    end
    local u, v, s
    repeat
      u = 2 * uniform() - 1
      v = 2 * uniform() - 1
      s = u * u + v * v
    until s > 0 and s < 1
    local factor = math.sqrt(-2 * math.log(s) / s)
    has_spare, spare = true, v * factor
    return u * factor
  end

  -- What a checkpoint keeps of the generator (its state as one int64 array, and the spare
  -- normal), and how it is put back: the restored generator goes on with the same draws.
  local function save()
    local a = ffi.new("int64_t[?]", 1)
    a[0] = ffi.cast("int64_t", state[0])
    return { state = a, has_spare = has_spare, spare = spare }
  end
  local function restore(st)
    if type(st) ~= "table" or type(st.state) ~= "cdata" then
      error("bad argument 'state' to restore (a saved generator expected)", 2)
    end
    state[0] = ffi.cast("uint64_t", st.state[0])
    has_spare, spare = st.has_spare == true, tonumber(st.spare) or 0.0
  end

  -- The generator rng.new(seed) would be, in this one: a model drawing each row from a seed of
  -- its own (the same rows under any -w) makes no generator per row, whose garbage (a table and
  -- seven closures each, tens of MB over a table's rows) raised the peak RSS of its start.
  local function reseed(s)
    if not is_seed(s) then
      error("bad argument 'seed' to reseed (integer in [0, 2^53) expected, got " .. describe(s) .. ")", 2)
    end
    state[0] = s
    has_spare, spare = false, 0.0
  end

  return { next_u64 = next_u64, uniform = uniform, below = below, normal = normal,
           save = save, restore = restore, reseed = reseed }
end

---------------------------------------------------------------------------------------------------
-- xorshift128 for the schedulers. A double takes 27 + 26 bits from two outputs (as genrand_res53
-- does), uniform on the 2^53 grid in [0, 1).

local Xorshift128 = {}
Xorshift128.__index = Xorshift128

-- The halves of a uint64_t as numbers in [0, 2^32); the bit operations of next_u32 wrap them.
local function low32(z) return tonumber(band(z, 0xFFFFFFFFULL)) end
local function high32(z) return tonumber(rshift(z, 32)) end

-- rng.xorshift128(seed) -> generator with :next_u32(), :uniform(), :below(n)
--
-- seed: any integer a double holds exactly, negative ones too (taken modulo 2^64).
function M.xorshift128(seed)
  if not (type(seed) == "number" and seed == floor(seed) and seed >= -TWO_POW_53
          and seed <= TWO_POW_53) then
    error("bad argument 'seed' (integer expected, got " .. describe(seed) .. ")", 2)
  end
  local state = ffi.new("uint64_t[1]")
  state[0] = ffi.cast(uint64_t, ffi.cast("int64_t", seed))
  local a, b = splitmix64(state), splitmix64(state)
  local self = setmetatable({ x = low32(a), y = high32(a), z = low32(b), w = high32(b) },
                            Xorshift128)
  -- An all-zero state would stay zero; splitmix64 makes that a 2^-128 event, but never say never.
  if bor(self.x, self.y, self.z, self.w) == 0 then self.w = 0x6C078965 end
  return self
end

function Xorshift128:next_u32()
  local t = self.x
  t = bxor(t, lshift(t, 11))
  local w = self.w
  self.x, self.y, self.z = self.y, self.z, w
  w = bxor(w, rshift(w, 19), t, rshift(t, 8))
  self.w = w
  return w
end

-- Uniform double in [0, 1).
function Xorshift128:uniform()
  local a = rshift(self:next_u32(), 5)   -- 27 bits, non-negative
  local b = rshift(self:next_u32(), 6)   -- 26 bits
  return (a * TWO_POW_26 + b) * TWO_POW_MINUS_53
end

-- Uniform integer in [0, n), n <= 2^31. The 2^-53 bias of floor(u * n) is far below anything a
-- scheduler could notice; the clamp only guards the rounding of u * n at the top of the range.
function Xorshift128:below(n)
  local r = floor(self:uniform() * n)
  if r >= n then r = n - 1 end
  return r
end

return M
