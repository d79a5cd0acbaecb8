-- pmls.data.synthetic: deterministic synthetic data sets, for logistic regression and the Lasso.
--
-- Examples, specs and benchmarks need problems with a known answer (w_true) that a seed fixes on
-- every machine: the draws come from pmls.rng (splitmix64) in a documented order, so a smaller n
-- yields a prefix of a larger set.

local ffi = require("ffi")
local check = require("pmls.data.check")
local rng = require("pmls.rng")
local scan = require("pmls.data.scan")

local is_integer, check_field = check.is_integer, check.check_field
local positive_int32 = check.positive_int32
local resized = scan.resized

local double_array = ffi.typeof("double[?]")
local int32_array = ffi.typeof("int32_t[?]")
local int64_array = ffi.typeof("int64_t[?]")
local HUGE = math.huge
local TWO_POW_53 = 2 ^ 53

local M = {}

---------------------------------------------------------------------------------------------------
-- Synthetic logistic-regression data

-- Shellsort (Knuth's 3h+1 gaps) of a[0..count). table.sort is not compiled by the JIT and would
-- leave the generator's row loop in the interpreter.
local function sort_int32(a, count)
  local gap = 1
  while gap * 3 + 1 < count do gap = gap * 3 + 1 end
  while gap >= 1 do
    for i = gap, count - 1 do
      local value = a[i]
      local k = i
      while k >= gap and a[k - gap] > value do
        a[k] = a[k - gap]
        k = k - gap
      end
      a[k] = value
    end
    gap = (gap - 1) / 3
  end
end

-- data.synthetic_logistic{n=, d=, seed=1, density=0.1, noise=0.05} -> csr with w_true, bias_true
--
-- Draw order (part of the contract, since it fixes the data): w_true[0..d), bias_true, then per
-- row its k column indices, its k values in column order, and one uniform for the label flip.
-- Rows therefore do not depend on n: a smaller n yields a prefix of a larger one.
function M.synthetic_logistic(spec)
  if type(spec) ~= "table" then
    error("bad argument to synthetic_logistic (table expected, got " .. type(spec) .. ")", 2)
  end
  local n = check_field(spec, "n", positive_int32, "positive integer")
  local d = check_field(spec, "d", positive_int32, "positive integer")
  local seed = check_field(spec, "seed", function(v)
    return is_integer(v) and v >= 0 and v < TWO_POW_53
  end, "integer in [0, 2^53)", 1)
  local density = check_field(spec, "density", function(v)
    return type(v) == "number" and v > 0 and v <= 1
  end, "number in (0, 1]", 0.1)
  local noise = check_field(spec, "noise", function(v)
    return type(v) == "number" and v >= 0 and v <= 1
  end, "number in [0, 1]", 0.05)

  local per_row = math.floor(density * d + 0.5)
  if per_row < 1 then per_row = 1 end
  if per_row > d then per_row = d end
  local nnz = n * per_row

  local rng = rng.new(seed)
  local normal, uniform, below = rng.normal, rng.uniform, rng.below
  local w_true = double_array(d)
  for j = 0, d - 1 do w_true[j] = normal() end
  -- x.w_true has a spread of about sqrt(per_row); a bias of a tenth of that gives the model an
  -- intercept to learn while keeping the classes within about 62/38 even for a 3-sigma draw.
  local bias_true = 0.1 * math.sqrt(per_row) * normal()

  local y = double_array(n)
  local rowptr = int64_array(n + 1)
  local col = int32_array(nnz)
  local val = double_array(nnz)
  local chosen_stamp = int32_array(d) -- chosen_stamp[j] == r + 1 when row r uses column j
  local chosen = int32_array(per_row)
  -- Scanning all d columns sorts the chosen ones for free, but only pays off for dense rows.
  local sort_by_scan = per_row * 32 >= d

  local position = 0
  for r = 0, n - 1 do
    local stamp = r + 1
    -- Floyd's algorithm: per_row distinct columns with per_row draws, whatever d is.
    for j = d - per_row, d - 1 do
      local t = below(j + 1)
      if chosen_stamp[t] == stamp then t = j end
      chosen_stamp[t] = stamp
      chosen[j - (d - per_row)] = t
    end
    if sort_by_scan then
      local c = 0
      for j = 0, d - 1 do
        if chosen_stamp[j] == stamp then chosen[c] = j; c = c + 1 end
      end
    else
      sort_int32(chosen, per_row)
    end
    local margin = bias_true
    for c = 0, per_row - 1 do
      local j = chosen[c]
      local x = normal()
      col[position] = j
      val[position] = x
      margin = margin + x * w_true[j]
      position = position + 1
    end
    rowptr[r + 1] = position
    local label = margin >= 0 and 1 or -1
    if uniform() < noise then label = -label end
    y[r] = label
  end

  return {
    kind = "csr",
    n = n,
    d = d,
    nnz = nnz,
    y = y,
    rowptr = rowptr,
    col = col,
    val = val,
    w_true = w_true,
    bias_true = bias_true,
  }
end

---------------------------------------------------------------------------------------------------
-- Synthetic Lasso data

-- data.synthetic_lasso{n=, p=, rho=0, k=min(p, 10), noise=0.1, density=1, seed=1}
--   -> csr (d = p) with w_true (double[p])
--
-- Row i is x_i = sqrt(rho) * z_i * (1, ..., 1) + sqrt(1 - rho) * e_i with z_i and the e_ij
-- standard normal, so every feature has mean 0, variance 1, and every two features correlation
-- rho. With density < 1 each entry is kept with probability density, independently, and dropped
-- otherwise (the correlation of two columns then becomes density * rho); with density = 1 every
-- entry is stored. y_i = x_i . w_true + noise * eps_i. w_true has k non-zeros at distinct random
-- positions, each with a random sign and a magnitude uniform in [0.5, 1.5).
--
-- Draw order (part of the contract, since it fixes the data): the k positions (Floyd's algorithm),
-- then for each position in increasing order a uniform for the sign (< 0.5: negative) and one for
-- the magnitude; then per row: z_i, for each column j in order e_ij followed (only when
-- density < 1) by the uniform that keeps it (< density) or drops it, and last eps_i. Rows
-- therefore do not depend on n: a smaller n yields a prefix of a larger one.
function M.synthetic_lasso(spec)
  if type(spec) ~= "table" then
    error("bad argument to synthetic_lasso (table expected, got " .. type(spec) .. ")", 2)
  end
  local name = "synthetic_lasso"
  local n = check_field(spec, "n", positive_int32, "positive integer", nil, name)
  local p = check_field(spec, "p", positive_int32, "positive integer", nil, name)
  local rho = check_field(spec, "rho", function(v)
    return type(v) == "number" and v >= 0 and v < 1
  end, "number in [0, 1)", 0, name)
  local k = check_field(spec, "k", function(v)
    return is_integer(v) and v >= 0 and v <= p
  end, "integer in [0, p = " .. p .. "]", math.min(p, 10), name)
  local noise = check_field(spec, "noise", function(v)
    return type(v) == "number" and v >= 0 and v < HUGE
  end, "finite number >= 0", 0.1, name)
  local density = check_field(spec, "density", function(v)
    return type(v) == "number" and v > 0 and v <= 1
  end, "number in (0, 1]", 1, name)
  local seed = check_field(spec, "seed", function(v)
    return is_integer(v) and v >= 0 and v < TWO_POW_53
  end, "integer in [0, 2^53)", 1, name)

  local rng = rng.new(seed)
  local normal, uniform, below = rng.normal, rng.uniform, rng.below

  local w_true = double_array(p)
  local chosen = ffi.new("uint8_t[?]", p)
  for j = p - k, p - 1 do
    local t = below(j + 1)
    if chosen[t] ~= 0 then t = j end
    chosen[t] = 1
  end
  for j = 0, p - 1 do
    if chosen[j] ~= 0 then
      local sign = uniform() < 0.5 and -1 or 1
      w_true[j] = sign * (0.5 + uniform())
    end
  end

  local shared, own = math.sqrt(rho), math.sqrt(1 - rho)
  local sparse = density < 1
  local total = n * p
  local capacity = total
  if sparse then capacity = math.min(total, math.ceil(total * density * 1.05) + 1024) end
  local col, val = int32_array(capacity), double_array(capacity)
  local rowptr, y = int64_array(n + 1), double_array(n)
  local position = 0
  for r = 0, n - 1 do
    if position + p > capacity then
      local grown = math.min(total, math.max(capacity * 2, position + p))
      col = resized(int32_array, 4, col, position, grown)
      val = resized(double_array, 8, val, position, grown)
      capacity = grown
    end
    local common = shared * normal()
    local response = 0
    for j = 0, p - 1 do
      local x = common + own * normal()
      if not sparse or uniform() < density then
        col[position], val[position] = j, x
        position = position + 1
        response = response + x * w_true[j]
      end
    end
    y[r] = response + noise * normal()
    rowptr[r + 1] = position
  end
  if position < capacity then
    col = resized(int32_array, 4, col, position, position)
    val = resized(double_array, 8, val, position, position)
  end

  return {
    kind = "csr",
    n = n,
    d = p,
    nnz = position,
    y = y,
    rowptr = rowptr,
    col = col,
    val = val,
    w_true = w_true,
  }
end

return M
