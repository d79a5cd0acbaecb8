-- pmls.data: the training sets that PMLS model scripts, examples and benchmarks feed to the engine.
--
-- It reads libsvm/svmlight files into a CSR matrix and rating files (MovieLens style
-- `user item rating [timestamp]`) into coordinate arrays, plain or gzip-compressed, and it generates
-- a deterministic synthetic logistic-regression set. Everything lands in FFI arrays, not Lua tables:
-- model scripts and the C engine walk these arrays in hot loops, and a million boxed Lua numbers
-- would cost both memory and GC time. Data-parallel workers each load only their shard
-- (`opts.shard`, `data.shard`), yet every worker validates the whole file and sees the same
-- dimensions, so all workers agree on table sizes without talking to each other.
--
-- Conventions: a file problem (missing file, malformed line) is a runtime failure and returns
-- `nil, "path:LINE: what is wrong"`; calling a function the wrong way is a programming error and raises.

local ffi = require("ffi")
local bit = require("bit")

local data = {}

local byte_ptr = ffi.typeof("const uint8_t *")
local double_array = ffi.typeof("double[?]")
local int32_array = ffi.typeof("int32_t[?]")
local int64_array = ffi.typeof("int64_t[?]")

local HUGE = math.huge
local TWO_POW_53 = 2 ^ 53
local INT32_MAX = 2147483647

-- Byte values the scanners test against.
local TAB, CR, SPACE, HASH, PLUS, MINUS, DOT, COLON = 9, 13, 32, 35, 43, 45, 46, 58
local DIGIT_0, DIGIT_9, LOWER_E, UPPER_E = 48, 57, 101, 69

-- 10^k is exact in a double for k <= 22; a mantissa below 2^53 times or divided by such a power is a
-- single correctly rounded operation, so the fast path gives the same double as strtod/tonumber.
local POW10 = {}
for e = 0, 22 do POW10[e] = tonumber("1e" .. e) end

---------------------------------------------------------------------------------------------------
-- Argument checking (misuse raises, pointing at the caller of the public function).

local function describe_value(v)
  if type(v) == "number" or type(v) == "string" then return type(v) .. " " .. tostring(v) end
  return type(v)
end

local function check_path(path)
  if type(path) ~= "string" then
    error("bad argument 'path' (string expected, got " .. type(path) .. ")", 3)
  end
end

local function is_integer(v)
  return type(v) == "number" and v == math.floor(v) and v > -HUGE and v < HUGE
end

local function check_options(opts, allowed, function_name)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error("bad argument 'opts' to " .. function_name .. " (table expected, got " .. type(opts) .. ")", 3)
  end
  for key in pairs(opts) do
    if not allowed[key] then
      -- A misspelt option would otherwise be ignored silently and load the wrong rows.
      error("unknown option '" .. tostring(key) .. "' to " .. function_name, 3)
    end
  end
  return opts
end

local function check_shard_spec(index, count, level)
  if not (is_integer(count) and count >= 1 and count <= INT32_MAX) then
    error("bad shard count (positive integer expected, got " .. describe_value(count) .. ")", level)
  end
  if not (is_integer(index) and index >= 0 and index < count) then
    error("bad shard index (integer in [0, " .. (count - 1) .. "] expected, got "
      .. describe_value(index) .. ")", level)
  end
  return index, count
end

local function check_shard_option(shard)
  if shard == nil then return 0, 1 end
  if type(shard) ~= "table" then
    error("bad option 'shard' (table {index=, count=} expected, got " .. type(shard) .. ")", 3)
  end
  return check_shard_spec(shard.index, shard.count, 4)
end

---------------------------------------------------------------------------------------------------
-- Opening plain or gzip-compressed input.

local function shell_quote(s)
  return "'" .. (s:gsub("'", "'\\''")) .. "'"
end

local function strip_path_prefix(message, path)
  local prefix = path .. ": "
  if message and message:sub(1, #prefix) == prefix then return message:sub(#prefix + 1) end
  return message or "unknown error"
end

-- Returns a source {file=, status_path=} or nil, message. A compressed file is recognised by its
-- name or its magic bytes. io.popen():close() in LuaJIT does not report the exit status, so the
-- shell writes gzip's stderr and exit code to a temporary file that close_source inspects: without
-- that, a truncated or corrupt .gz would silently load as a shorter data set.
local function open_source(path)
  local file, message = io.open(path, "rb")
  if not file then return nil, path .. ":0: cannot open: " .. strip_path_prefix(message, path) end
  local magic, read_error = file:read(2)
  if not magic and read_error then
    file:close()
    return nil, path .. ":0: cannot read: " .. strip_path_prefix(read_error, path)
  end
  if magic ~= "\31\139" and path:sub(-3) ~= ".gz" then
    file:seek("set", 0)
    return { file = file }
  end
  file:close()
  local status_path = os.tmpname()
  local command = "gzip -dc -- " .. shell_quote(path) .. " 2>" .. shell_quote(status_path)
    .. "; echo \"exit status $?\" >>" .. shell_quote(status_path)
  local pipe, popen_error = io.popen(command, "r")
  if not pipe then
    os.remove(status_path)
    return nil, path .. ":0: cannot start gzip: " .. tostring(popen_error)
  end
  return { file = pipe, status_path = status_path }
end

-- Closes the source; for gzip input returns a message when gzip failed. When parsing stopped early
-- the rest is drained first, so that a corrupt archive is reported as such rather than as whatever
-- garbage line it happened to produce, and so that gzip does not die of SIGPIPE.
local function close_source(source, stopped_early)
  if not source.status_path then
    source.file:close()
    return nil
  end
  if stopped_early then
    while source.file:read(65536) do end
  end
  source.file:close()
  local status_file = io.open(source.status_path, "rb")
  local report = status_file and status_file:read("*a") or ""
  if status_file then status_file:close() end
  os.remove(source.status_path)
  local status = tonumber(report:match("exit status (%d+)%s*$"))
  if status == 0 then return nil end
  local gzip_message = report:gsub("exit status %d+%s*$", ""):gsub("%s+$", "")
  gzip_message = gzip_message:match("[^\n]*$") -- the last line carries the reason
  if gzip_message == "" then gzip_message = "no message" end
  return string.format("gzip -dc failed (exit status %s): %s", tostring(status), gzip_message)
end

-- Runs parse(file) -> result | nil, line, message and turns every failure into "path:LINE: ...".
local function read_with(path, parse)
  local source, open_error = open_source(path)
  if not source then return nil, open_error end
  local result, line, message = parse(source.file)
  local gzip_failure = close_source(source, result == nil)
  if gzip_failure then return nil, string.format("%s:%d: %s", path, line, gzip_failure) end
  if result == nil then return nil, string.format("%s:%d: %s", path, line, message) end
  return result
end

---------------------------------------------------------------------------------------------------
-- Byte scanning over one line. The scanners take a pointer into the line's bytes and half-open
-- 0-based ranges, so no Lua string is created per token except on the rare slow paths.

local function is_space(c)
  return c == SPACE or (c >= TAB and c <= CR)
end

local function skip_spaces(p, i, len)
  while i < len and is_space(p[i]) do i = i + 1 end
  return i
end

-- A token ends at whitespace or at '#', which starts a trailing comment.
local function token_end(p, i, len)
  while i < len do
    local c = p[i]
    if c == HASH or is_space(c) then break end
    i = i + 1
  end
  return i
end

-- Parses p[i..j) as a finite number; nil if it is not one. Plain decimals take an exact fast path;
-- anything else (long mantissas, large exponents, hex) goes to tonumber on a substring.
local function parse_number(p, i, j, line)
  local k, negative = i, false
  local c = p[k]
  if c == MINUS then negative = true; k = k + 1 elseif c == PLUS then k = k + 1 end
  local mantissa, digits, scale = 0, 0, 0
  while k < j do
    c = p[k]
    if c < DIGIT_0 or c > DIGIT_9 then break end
    mantissa = mantissa * 10 + (c - DIGIT_0)
    digits = digits + 1
    k = k + 1
  end
  if k < j and p[k] == DOT then
    k = k + 1
    while k < j do
      c = p[k]
      if c < DIGIT_0 or c > DIGIT_9 then break end
      mantissa = mantissa * 10 + (c - DIGIT_0)
      digits = digits + 1
      scale = scale - 1
      k = k + 1
    end
  end
  if digits > 0 and k < j and (p[k] == LOWER_E or p[k] == UPPER_E) then
    k = k + 1
    local exponent_negative = false
    if k < j and p[k] == MINUS then exponent_negative = true; k = k + 1
    elseif k < j and p[k] == PLUS then k = k + 1 end
    local exponent, exponent_digits = 0, 0
    while k < j do
      c = p[k]
      if c < DIGIT_0 or c > DIGIT_9 then break end
      if exponent < 100000 then exponent = exponent * 10 + (c - DIGIT_0) end
      exponent_digits = exponent_digits + 1
      k = k + 1
    end
    if exponent_digits == 0 then k = -1 end
    scale = scale + (exponent_negative and -exponent or exponent)
  end
  -- Once the mantissa stays below 2^53 every partial sum above was exact.
  if k == j and digits > 0 and mantissa < TWO_POW_53 then
    local value
    if scale == 0 then
      value = mantissa
    elseif scale < 0 and scale >= -22 then
      value = mantissa / POW10[-scale]
    elseif scale > 0 and scale <= 22 then
      value = mantissa * POW10[scale]
    end
    if value and value < HUGE then
      if negative then return -value end
      return value
    end
  end
  local value = tonumber(string.sub(line, i + 1, j))
  if value and value == value and value > -HUGE and value < HUGE then return value end
  return nil
end

-- Parses p[i..j) as a non-negative decimal integer that fits int32; nil otherwise.
local function parse_count(p, i, j)
  if i >= j then return nil end
  local value = 0
  for k = i, j - 1 do
    local c = p[k]
    if c < DIGIT_0 or c > DIGIT_9 then return nil end
    value = value * 10 + (c - DIGIT_0)
    if value > INT32_MAX then return nil end
  end
  return value
end

-- True for a "qid:..." token: svmlight ranking files group rows by query id, which is no feature.
local function is_qid(p, i, j)
  return j - i > 3 and p[i] == 113 and p[i + 1] == 105 and p[i + 2] == 100 and p[i + 3] == COLON
end

-- Copies the first `count` elements of an FFI array into a new one with room for `capacity`: used
-- both to grow (geometrically, so appends stay amortised O(1)) and to trim to the final size.
local function resized(array_type, element_size, array, count, capacity)
  local out = array_type(capacity)
  if count > 0 then ffi.copy(out, array, count * element_size) end
  return out
end

-- Sorts row entries [first, last) by column and reports the first duplicated column, if any.
-- Rows are almost always written sorted, so this runs rarely and may use Lua tables.
local function sort_row(col, val, first, last)
  local entries = {}
  for t = first, last - 1 do entries[#entries + 1] = { col[t], val[t] } end
  table.sort(entries, function(a, b) return a[1] < b[1] end)
  for t = 2, #entries do
    if entries[t][1] == entries[t - 1][1] then return entries[t][1] end
  end
  for t = 1, #entries do
    col[first + t - 1] = entries[t][1]
    val[first + t - 1] = entries[t][2]
  end
  return nil
end

---------------------------------------------------------------------------------------------------
-- libsvm / svmlight

local function token_text(line, i, j) return string.sub(line, i + 1, j) end

local function parse_libsvm(file, wanted_d, shard_index, shard_count)
  local row_capacity, nnz_capacity = 1024, 16384
  local y = double_array(row_capacity)
  local rowptr = int64_array(row_capacity + 1)
  local col = int32_array(nnz_capacity)
  local val = double_array(nnz_capacity)
  local n, nnz, file_row, max_index, line_number = 0, 0, 0, 0, 0

  for line in file:lines() do
    line_number = line_number + 1
    local len = #line
    local p = ffi.cast(byte_ptr, line)
    local i = skip_spaces(p, 0, len)
    if i < len and p[i] ~= HASH then
      local j = token_end(p, i, len)
      local label = parse_number(p, i, j, line)
      if not label then
        return nil, line_number, "bad label '" .. token_text(line, i, j) .. "' (finite number expected)"
      end
      local row_start, last_index, in_order = nnz, 0, true
      i = skip_spaces(p, j, len)
      while i < len and p[i] ~= HASH do
        j = token_end(p, i, len)
        if not is_qid(p, i, j) then
          local colon = i
          while colon < j and p[colon] ~= COLON do colon = colon + 1 end
          if colon == j then
            return nil, line_number, "missing ':' in feature '" .. token_text(line, i, j) .. "'"
          end
          local index = parse_count(p, i, colon)
          if not index or index == 0 then
            return nil, line_number, "bad feature index '" .. token_text(line, i, colon) .. "' in '"
              .. token_text(line, i, j) .. "' (integer in [1, " .. INT32_MAX .. "] expected)"
          end
          if wanted_d and index > wanted_d then
            return nil, line_number, "feature index " .. index .. " exceeds opts.d = " .. wanted_d
          end
          if colon + 1 == j then
            return nil, line_number, "missing value in '" .. token_text(line, i, j) .. "'"
          end
          local value = parse_number(p, colon + 1, j, line)
          if not value then
            return nil, line_number, "bad feature value '" .. token_text(line, colon + 1, j)
              .. "' in '" .. token_text(line, i, j) .. "' (finite number expected)"
          end
          if nnz == nnz_capacity then
            nnz_capacity = nnz_capacity * 2
            col = resized(int32_array, 4, col, nnz, nnz_capacity)
            val = resized(double_array, 8, val, nnz, nnz_capacity)
          end
          col[nnz] = index - 1
          val[nnz] = value
          nnz = nnz + 1
          if index <= last_index then in_order = false end
          last_index = index
          if index > max_index then max_index = index end
        end
        i = skip_spaces(p, j, len)
      end
      if not in_order then
        local duplicate = sort_row(col, val, row_start, nnz)
        if duplicate then
          return nil, line_number, "duplicate feature index " .. (duplicate + 1)
        end
      end
      if file_row % shard_count == shard_index then
        if n == row_capacity then
          row_capacity = row_capacity * 2
          y = resized(double_array, 8, y, n, row_capacity)
          rowptr = resized(int64_array, 8, rowptr, n + 1, row_capacity + 1)
        end
        y[n] = label
        n = n + 1
        rowptr[n] = nnz
      else
        nnz = row_start -- validated, but another worker keeps this row
      end
      file_row = file_row + 1
    end
  end

  local d = max_index
  if wanted_d and wanted_d > d then d = wanted_d end
  return {
    kind = "csr",
    n = n,
    d = d,
    nnz = nnz,
    y = resized(double_array, 8, y, n, n),
    rowptr = resized(int64_array, 8, rowptr, n + 1, n + 1),
    col = resized(int32_array, 4, col, nnz, nnz),
    val = resized(double_array, 8, val, nnz, nnz),
  }, line_number
end

local LIBSVM_OPTIONS = { d = true, shard = true }

-- data.read_libsvm(path [, {d=, shard={index=, count=}}]) -> csr | nil, "path:LINE: message"
function data.read_libsvm(path, opts)
  check_path(path)
  opts = check_options(opts, LIBSVM_OPTIONS, "read_libsvm")
  local wanted_d = opts.d
  if wanted_d ~= nil and not (is_integer(wanted_d) and wanted_d >= 0 and wanted_d <= INT32_MAX) then
    error("bad option 'd' (non-negative integer expected, got " .. describe_value(wanted_d) .. ")", 2)
  end
  local shard_index, shard_count = check_shard_option(opts.shard)
  return read_with(path, function(file)
    return parse_libsvm(file, wanted_d, shard_index, shard_count)
  end)
end

---------------------------------------------------------------------------------------------------
-- Rating triplets

local TRIPLET_FIELDS = "'user item rating [timestamp]'"

local function parse_triplets(file, shard_index, shard_count)
  local capacity = 4096
  local user = int32_array(capacity)
  local item = int32_array(capacity)
  local rating = double_array(capacity)
  local n, file_row, max_user, max_item, line_number = 0, 0, 0, 0, 0
  local starts, ends = { 0, 0, 0, 0 }, { 0, 0, 0, 0 }

  for line in file:lines() do
    line_number = line_number + 1
    local len = #line
    local p = ffi.cast(byte_ptr, line)
    local i = skip_spaces(p, 0, len)
    if i < len and p[i] ~= HASH then
      local fields = 0
      while i < len and p[i] ~= HASH do
        local j = token_end(p, i, len)
        fields = fields + 1
        if fields <= 4 then starts[fields], ends[fields] = i, j end
        i = skip_spaces(p, j, len)
      end
      if fields < 3 or fields > 4 then
        return nil, line_number, "expected " .. TRIPLET_FIELDS .. ", got " .. fields .. " fields"
      end
      local user_id = parse_count(p, starts[1], ends[1])
      if not user_id then
        return nil, line_number, "bad user id '" .. token_text(line, starts[1], ends[1])
          .. "' (integer in [0, " .. INT32_MAX .. "] expected)"
      end
      local item_id = parse_count(p, starts[2], ends[2])
      if not item_id then
        return nil, line_number, "bad item id '" .. token_text(line, starts[2], ends[2])
          .. "' (integer in [0, " .. INT32_MAX .. "] expected)"
      end
      local value = parse_number(p, starts[3], ends[3], line)
      if not value then
        return nil, line_number, "bad rating '" .. token_text(line, starts[3], ends[3])
          .. "' (finite number expected)"
      end
      if fields == 4 and not parse_number(p, starts[4], ends[4], line) then
        return nil, line_number, "bad timestamp '" .. token_text(line, starts[4], ends[4])
          .. "' (number expected)"
      end
      if user_id > max_user then max_user = user_id end
      if item_id > max_item then max_item = item_id end
      if file_row % shard_count == shard_index then
        if n == capacity then
          capacity = capacity * 2
          user = resized(int32_array, 4, user, n, capacity)
          item = resized(int32_array, 4, item, n, capacity)
          rating = resized(double_array, 8, rating, n, capacity)
        end
        user[n], item[n], rating[n] = user_id, item_id, value
        n = n + 1
      end
      file_row = file_row + 1
    end
  end

  return {
    kind = "triplets",
    n = n,
    user = resized(int32_array, 4, user, n, n),
    item = resized(int32_array, 4, item, n, n),
    rating = resized(double_array, 8, rating, n, n),
    max_user = max_user,
    max_item = max_item,
  }, line_number
end

local TRIPLET_OPTIONS = { shard = true }

-- data.read_triplets(path [, {shard={index=, count=}}]) -> triplets | nil, "path:LINE: message"
function data.read_triplets(path, opts)
  check_path(path)
  opts = check_options(opts, TRIPLET_OPTIONS, "read_triplets")
  local shard_index, shard_count = check_shard_option(opts.shard)
  return read_with(path, function(file)
    return parse_triplets(file, shard_index, shard_count)
  end)
end

---------------------------------------------------------------------------------------------------
-- Deterministic random numbers: splitmix64 on uint64_t cdata, whose wrap-around arithmetic is the
-- same on every platform, unlike math.random whose generator and seeding vary between builds.
-- The state lives in a one-element FFI array so that the JIT keeps the arithmetic unboxed.

local SPLITMIX_GAMMA = 0x9E3779B97F4A7C15ULL
local SPLITMIX_MUL1 = 0xBF58476D1CE4E5B9ULL
local SPLITMIX_MUL2 = 0x94D049BB133111EBULL
local TWO_POW_MINUS_53 = 2 ^ -53

-- data.new_rng(seed) -> {next_u64(), uniform(), below(m), normal()}
function data.new_rng(seed)
  if seed == nil then seed = 0 end
  if not (is_integer(seed) and seed >= 0 and seed < TWO_POW_53) then
    error("bad argument 'seed' (integer in [0, 2^53) expected, got " .. describe_value(seed) .. ")", 2)
  end
  local state = ffi.new("uint64_t[1]", seed)
  -- A number-typed spare plus a flag, rather than spare = nil, keeps the JIT's traces type-stable.
  local has_spare, spare = false, 0.0

  local function next_u64()
    local z = state[0] + SPLITMIX_GAMMA
    state[0] = z
    z = bit.bxor(z, bit.rshift(z, 30)) * SPLITMIX_MUL1
    z = bit.bxor(z, bit.rshift(z, 27)) * SPLITMIX_MUL2
    return bit.bxor(z, bit.rshift(z, 31))
  end

  -- Uniform in [0, 1) with 53 random bits.
  local function uniform()
    return tonumber(bit.rshift(next_u64(), 11)) * TWO_POW_MINUS_53
  end

  -- Integer in [0, m) for m <= 2^53; the bias of scaling a 53-bit uniform is far below anything
  -- a data generator can notice.
  local function below(m)
    return math.floor(uniform() * m)
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

  local rng = { next_u64 = next_u64, uniform = uniform, below = below, normal = normal }
  return rng
end

---------------------------------------------------------------------------------------------------
-- Synthetic logistic-regression data

local function check_field(spec, name, predicate, expected, default)
  local value = spec[name]
  if value == nil then value = default end
  if value == nil or not predicate(value) then
    error("bad field '" .. name .. "' to synthetic_logistic (" .. expected .. " expected, got "
      .. describe_value(spec[name]) .. ")", 3)
  end
  return value
end

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

local function positive_int32(v) return is_integer(v) and v >= 1 and v <= INT32_MAX end

-- data.synthetic_logistic{n=, d=, seed=1, density=0.1, noise=0.05} -> csr with w_true, bias_true
--
-- Draw order (part of the contract, since it fixes the data): w_true[0..d), bias_true, then per
-- row its k column indices, its k values in column order, and one uniform for the label flip.
-- Rows therefore do not depend on n: a smaller n yields a prefix of a larger one.
function data.synthetic_logistic(spec)
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

  local rng = data.new_rng(seed)
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
-- Row selection

-- Returns "csr" or "triplets". Sets built by hand (e.g. by another loader) need not carry a
-- kind field; their arrays say what they are.
local function dataset_kind(ds, level)
  if type(ds) == "table" and type(ds.n) == "number" then
    if ds.kind == "csr" or (ds.kind == nil and ds.rowptr and ds.col and ds.val and ds.y) then
      return "csr"
    end
    if ds.kind == "triplets" or (ds.kind == nil and ds.user and ds.item and ds.rating) then
      return "triplets"
    end
  end
  error("bad argument 'ds' (CSR or triplet data set expected, got " .. describe_value(ds) .. ")",
    level)
end

-- Builds a new data set of the same kind holding rows[0..count) of ds, in that order. Scalar
-- fields describing the whole set (d, max_user, max_item, w_true, bias_true) are carried over
-- unchanged so that every part of a split still agrees on model dimensions.
local function select_rows(ds, kind, rows, count)
  local out = { kind = kind }
  for key, value in pairs(ds) do
    if type(value) ~= "cdata" or key == "w_true" then out[key] = value end
  end
  out.n = count
  if kind == "triplets" then
    local user, item, rating = int32_array(count), int32_array(count), double_array(count)
    for t = 0, count - 1 do
      local r = rows[t]
      user[t], item[t], rating[t] = ds.user[r], ds.item[r], ds.rating[r]
    end
    out.user, out.item, out.rating = user, item, rating
    return out
  end
  local rowptr, y = int64_array(count + 1), double_array(count)
  local nnz = 0
  for t = 0, count - 1 do
    local r = rows[t]
    nnz = nnz + tonumber(ds.rowptr[r + 1] - ds.rowptr[r])
    rowptr[t + 1] = nnz
    y[t] = ds.y[r]
  end
  local col, val = int32_array(nnz), double_array(nnz)
  for t = 0, count - 1 do
    local first = tonumber(ds.rowptr[rows[t]])
    local target = tonumber(rowptr[t])
    local length = tonumber(rowptr[t + 1]) - target
    if length > 0 then
      ffi.copy(col + target, ds.col + first, length * 4)
      ffi.copy(val + target, ds.val + first, length * 8)
    end
  end
  out.rowptr, out.y, out.col, out.val, out.nnz = rowptr, y, col, val, nnz
  return out
end

-- data.subset(ds, selector) -> new data set with the selected rows, in order.
-- selector: function(i) -> truthy to keep 0-based row i, or a range {first=, count=} (0-based).
function data.subset(ds, selector)
  local kind = dataset_kind(ds, 3)
  local rows, count = int32_array(ds.n), 0
  if type(selector) == "function" then
    for i = 0, ds.n - 1 do
      if selector(i) then rows[count] = i; count = count + 1 end
    end
  elseif type(selector) == "table" then
    local first, length = selector.first, selector.count
    if not (is_integer(first) and is_integer(length) and first >= 0 and length >= 0
        and first + length <= ds.n) then
      error("bad argument 'selector' (range {first=, count=} within [0, " .. ds.n
        .. "] expected, got first=" .. describe_value(first) .. ", count=" .. describe_value(length)
        .. ")", 2)
    end
    for i = first, first + length - 1 do rows[count] = i; count = count + 1 end
  else
    error("bad argument 'selector' (function or {first=, count=} expected, got "
      .. type(selector) .. ")", 2)
  end
  return select_rows(ds, kind, rows, count)
end

-- data.shard(ds, index, count) -> rows r with r % count == index, for data-parallel workers.
function data.shard(ds, index, count)
  local kind = dataset_kind(ds, 3)
  check_shard_spec(index, count, 3)
  local rows, taken = int32_array(math.floor(ds.n / count) + 1), 0
  for r = index, ds.n - 1, count do rows[taken] = r; taken = taken + 1 end
  return select_rows(ds, kind, rows, taken)
end

return data
