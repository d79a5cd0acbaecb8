-- pmls.data: the training sets that PMLS model scripts, examples and benchmarks feed to the engine.
--
-- It reads libsvm/svmlight and Matrix Market files into a CSR matrix and rating files (MovieLens
-- style `user item rating [timestamp]`) into coordinate arrays, plain or gzip-compressed (a missing
-- `name` is read from `name.gz` when that exists), and it generates deterministic synthetic
-- logistic-regression and Lasso sets. `to_csc` gives the column-major copy that coordinate-descent
-- solvers walk. Everything lands in FFI arrays, not Lua tables:
-- model scripts and the C engine walk these arrays in hot loops, and a million boxed Lua numbers
-- would cost both memory and GC time. Files are read through the engine (engine/src/data/):
-- its line reader inflates gzip in process, and libsvm, the large files, is parsed in C and may
-- be kept by the engine (opts.engine) so that the threads of a process share one parse.
-- Data-parallel workers each keep only their shard (`opts.shard`, `data.shard`), yet every
-- worker validates the whole file and sees the same dimensions, so all workers agree on table
-- sizes without talking to each other.
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
local PERCENT = 37
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

local function check_d_option(d)
  if d ~= nil and not (is_integer(d) and d >= 0 and d <= INT32_MAX) then
    error("bad option 'd' (non-negative integer expected, got " .. describe_value(d) .. ")", 3)
  end
  return d
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

-- When `path` does not exist but `path .. ".gz"` does, the compressed copy is the one to read, so
-- that a command line may name a staged set without its .gz suffix. Only a missing file falls back
-- (ENOENT), not one that exists but cannot be opened.
local ENOENT = 2

local function resolve_path(path)
  local file, _, code = io.open(path, "rb")
  if file then
    file:close()
    return path
  end
  if code ~= ENOENT or path:sub(-3) == ".gz" then return path end
  local compressed = io.open(path .. ".gz", "rb")
  if not compressed then return path end
  compressed:close()
  return path .. ".gz"
end

-- The engine's reader (engine/src/data/text.c) inflates gzip in process and reports a damaged
-- archive as an error at the line reached, never as a shorter file. Loaded on first use, so
-- the synthetic generators work without the library.
local core
local ERROR_BYTES = 1024
local function engine_c()
  core = core or require("pmls.core")
  return core.C
end

-- A source: source:lines() iterates over the file's lines as Lua strings; it stops early when
-- reading fails, and source:close() then returns the message ("path:LINE: ...").
local Source = {}
Source.__index = Source

local function open_source(path)
  local C = engine_c()
  local out, err = ffi.new("pmls_text *[1]"), ffi.new("char[?]", ERROR_BYTES)
  if C.pmls_text_open(path, out, err, ERROR_BYTES) ~= 0 then return nil, ffi.string(err) end
  return setmetatable({ text = ffi.gc(out[0], C.pmls_text_close), C = C,
                        line = ffi.new("const char *[1]"), len = ffi.new("size_t[1]") }, Source)
end

function Source:lines()
  local C, text, line, len = self.C, self.text, self.line, self.len
  return function()
    if self.failure then return nil end
    if C.pmls_text_line(text, line, len) ~= 0 then
      self.failure = ffi.string(C.pmls_text_errmsg(text))
      return nil
    end
    if line[0] == nil then return nil end
    return ffi.string(line[0], len[0])
  end
end

-- Closes the source and returns the read failure, if any. When parsing stopped early the rest
-- is read first, so that a damaged archive is reported as such rather than as whatever garbage
-- line it happened to produce.
function Source:close(stopped_early)
  if stopped_early and not self.failure then
    for _ in self:lines() do end
  end
  self.C.pmls_text_close(ffi.gc(self.text, nil))
  return self.failure
end

-- Runs parse(source) -> result | nil, line, message and turns every failure into "path:LINE: ...",
-- where path is the file actually read (path.gz for a missing path, see resolve_path).
local function read_with(path, parse)
  path = resolve_path(path)
  local source, open_error = open_source(path)
  if not source then return nil, open_error end
  local result, line, message = parse(source)
  local read_failure = source:close(result == nil)
  if read_failure then return nil, read_failure end
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

-- Copies the first `count` elements of an FFI array into a new one with room for `capacity`: used
-- both to grow (geometrically, so appends stay amortised O(1)) and to trim to the final size.
local function resized(array_type, element_size, array, count, capacity)
  local out = array_type(capacity)
  if count > 0 then ffi.copy(out, array, count * element_size) end
  return out
end

---------------------------------------------------------------------------------------------------
-- libsvm / svmlight

local function token_text(line, i, j) return string.sub(line, i + 1, j) end

local function check_engine_option(engine)
  if engine ~= nil and not (type(engine) == "cdata" and engine_c() and ffi.istype("pmls_engine *", engine)) then
    error("bad option 'engine' (pmls_engine * expected, got " .. describe_value(engine) .. ")", 3)
  end
  return engine
end

-- The first row (in file order) holding an index above d: nil, "path:LINE: ...".
local function exceeds_d(m, path, d)
  for r = 0, tonumber(m.n) - 1 do
    local first, last = tonumber(m.rowptr[r]), tonumber(m.rowptr[r + 1]) - 1
    if last >= first and m.col[last] >= d then
      local k = first
      while m.col[k] < d do k = k + 1 end
      return nil, string.format("%s:%d: feature index %d exceeds opts.d = %d", path,
        tonumber(m.line[r]), m.col[k] + 1, d)
    end
  end
end

local LIBSVM_OPTIONS = { d = true, shard = true, engine = true }

-- data.read_libsvm(path [, {d=, shard={index=, count=}, engine=}]) -> csr | nil, "path:LINE: ..."
--
-- Parsed by the engine (engine/src/data/libsvm.c). With opts.engine (a pmls_engine *, ctx.engine
-- in a model script) the engine keeps the matrix, so setup, workers and scheduler nodes of one
-- process parse the file once: without a shard the result then holds the engine's own arrays,
-- read-only (const; writing raises) and valid until the engine is destroyed. Otherwise the
-- arrays are the caller's. Every row is validated whatever the shard.
function data.read_libsvm(path, opts)
  check_path(path)
  opts = check_options(opts, LIBSVM_OPTIONS, "read_libsvm")
  local wanted_d = check_d_option(opts.d)
  local shard_index, shard_count = check_shard_option(opts.shard)
  local engine = check_engine_option(opts.engine)
  path = resolve_path(path)
  local C = engine_c()
  local err = ffi.new("char[?]", ERROR_BYTES)
  local m
  if engine then
    local out = ffi.new("const pmls_csr *[1]")
    if C.pmls_engine_read_libsvm(engine, path, out, err, ERROR_BYTES) ~= 0 then
      return nil, ffi.string(err)
    end
    m = out[0]
  else
    local out = ffi.new("pmls_csr *[1]")
    if C.pmls_csr_read_libsvm(path, out, err, ERROR_BYTES) ~= 0 then return nil, ffi.string(err) end
    m = ffi.gc(out[0], C.pmls_csr_free)
  end
  local d = tonumber(m.d)
  if wanted_d then
    if d > wanted_d then return exceeds_d(m, path, wanted_d) end
    d = wanted_d
  end
  local view = { kind = "csr", n = tonumber(m.n), d = d, nnz = tonumber(m.nnz), y = m.y,
                  rowptr = m.rowptr, col = m.col, val = m.val }
  if engine and shard_count == 1 then
    view.shared = true
    return view
  end
  local ds = data.shard(view, shard_index, shard_count) -- arrays of the caller's own
  if not engine then C.pmls_csr_free(ffi.gc(m, nil)) end
  return ds
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
-- Deterministic random numbers (splitmix64, see pmls.rng)

-- data.new_rng(seed) -> {next_u64(), uniform(), below(m), normal()}
data.new_rng = require("pmls.rng").new

---------------------------------------------------------------------------------------------------
-- Synthetic logistic-regression data

local function check_field(spec, name, predicate, expected, default, function_name)
  local value = spec[name]
  if value == nil then value = default end
  if value == nil or not predicate(value) then
    error("bad field '" .. name .. "' to " .. (function_name or "synthetic_logistic") .. " ("
      .. expected .. " expected, got "
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


---------------------------------------------------------------------------------------------------
-- Matrix Market

-- Returns an iterator that yields `first` and then the rest of `lines`: the readers that look at
-- a file's first line to decide how to parse it hand the line back this way.
local function lines_after(first, lines)
  local pending = first
  return function()
    if pending ~= nil then
      local line = pending
      pending = nil
      return line
    end
    return lines()
  end
end

local MM_BANNER = "%%matrixmarket"
local MM_HEADER = "'%%MatrixMarket matrix coordinate|array real|integer|pattern"
  .. " general|symmetric|skew-symmetric'"
local MM_FORMATS = { coordinate = true, array = true }
local MM_FIELDS = { real = true, integer = true, pattern = true }
local MM_SYMMETRIES = { general = true, symmetric = true, ["skew-symmetric"] = true }
-- File name extensions (before any .gz) that mean Matrix Market to read_matrix.
local MM_EXTENSIONS = { mtx = true, mm = true, mmt = true }

local function is_mm_banner(line)
  return line ~= nil and line:sub(1, #MM_BANNER):lower() == MM_BANNER
end

local function trimmed(line)
  return (line:gsub("^%s+", ""):gsub("%s+$", ""))
end

-- Returns format, field, symmetry (lower case) or nil, message.
local function parse_mm_header(line)
  local words = {}
  for word in line:gmatch("%S+") do words[#words + 1] = word:lower() end
  if words[1] ~= MM_BANNER then
    return nil, "not a Matrix Market file (first line " .. MM_HEADER .. " expected)"
  end
  if #words ~= 5 then
    return nil, "malformed header '" .. trimmed(line) .. "' (" .. MM_HEADER .. " expected)"
  end
  local object, format, field, symmetry = words[2], words[3], words[4], words[5]
  if object ~= "matrix" then
    return nil, "unsupported object '" .. object .. "' in the header (only 'matrix' is read)"
  end
  if not MM_FORMATS[format] then
    return nil, "unknown format '" .. format .. "' in the header ('coordinate' or 'array' expected)"
  end
  if not MM_FIELDS[field] then
    return nil, "unsupported field '" .. field .. "' in the header ('real', 'integer' or 'pattern'"
      .. " expected)"
  end
  if field == "pattern" and format ~= "coordinate" then
    return nil, "field 'pattern' needs format 'coordinate', not '" .. format .. "'"
  end
  if not MM_SYMMETRIES[symmetry] then
    return nil, "unsupported symmetry '" .. symmetry .. "' in the header ('general', 'symmetric'"
      .. " or 'skew-symmetric' expected)"
  end
  return format, field, symmetry
end

-- Splits p[0..len) at whitespace; the first `max` fields go to starts/ends (0-based half-open).
-- Returns the number of fields.
local function split_fields(p, len, starts, ends, max)
  local fields, i = 0, skip_spaces(p, 0, len)
  while i < len do
    local j = i
    while j < len and not is_space(p[j]) do j = j + 1 end
    fields = fields + 1
    if fields <= max then starts[fields], ends[fields] = i, j end
    i = skip_spaces(p, j, len)
  end
  return fields
end

-- Shellsort of the row entries [first, last) by column, moving the values along.
local function sort_pairs(col, val, first, last)
  local count = last - first
  local gap = 1
  while gap * 3 + 1 < count do gap = gap * 3 + 1 end
  while gap >= 1 do
    for i = first + gap, last - 1 do
      local c, v = col[i], val[i]
      local k = i
      while k - gap >= first and col[k - gap] > c do
        col[k], val[k] = col[k - gap], val[k - gap]
        k = k - gap
      end
      col[k], val[k] = c, v
    end
    gap = (gap - 1) / 3
  end
end

-- Parses a Matrix Market matrix into a CSR set of all its rows (y zero). `label_rows`, when given,
-- makes it a label file: it must be label_rows x 1 (`target` names the data file in messages).
-- Returns csr, line_number | nil, line, message.
local function parse_mm(lines, wanted_d, label_rows, target)
  local header = lines()
  if header == nil then
    return nil, 0, "empty file (Matrix Market header " .. MM_HEADER .. " expected)"
  end
  local line_number = 1
  local format, field, symmetry = parse_mm_header(header)
  if not format then return nil, 1, field end
  local coordinate = format == "coordinate"
  local starts, ends = { 0, 0, 0, 0 }, { 0, 0, 0, 0 }

  -- The size line: "rows columns entries" (coordinate) or "rows columns" (array).
  local size_fields = coordinate and 3 or 2
  local size_text = coordinate and "'rows columns entries'" or "'rows columns'"
  local rows, cols, declared, size_line
  for line in lines do
    line_number = line_number + 1
    local len = #line
    local p = ffi.cast(byte_ptr, line)
    local i = skip_spaces(p, 0, len)
    if i < len and p[i] ~= PERCENT then
      local fields = split_fields(p, len, starts, ends, 4)
      if fields == size_fields then
        rows = parse_count(p, starts[1], ends[1])
        cols = parse_count(p, starts[2], ends[2])
        declared = 0
        if coordinate then declared = parse_count(p, starts[3], ends[3]) end
      end
      if not (rows and cols and declared) then
        return nil, line_number, "bad size line '" .. trimmed(line) .. "' (" .. size_text
          .. " as non-negative integers expected)"
      end
      size_line = line_number
      break
    end
  end
  if not size_line then
    return nil, line_number, "missing size line " .. size_text .. " after the header"
  end
  local general = symmetry == "general"
  local skew = symmetry == "skew-symmetric"
  if not general and rows ~= cols then
    return nil, size_line, "a " .. symmetry .. " matrix must be square, got " .. rows .. " x "
      .. cols
  end
  if wanted_d and cols > wanted_d then
    return nil, size_line, "matrix has " .. cols .. " columns, more than opts.d = " .. wanted_d
  end
  if label_rows then
    if cols ~= 1 then
      return nil, size_line, "labels must be an n x 1 matrix, got " .. rows .. " x " .. cols
    end
    if rows ~= label_rows then
      return nil, size_line, rows .. " labels (a " .. rows .. " x 1 matrix) for the " .. label_rows
        .. " rows of " .. target
    end
  end
  -- How many entries the file may hold: all of them, or a (strictly) lower triangle.
  local holds = rows * cols
  if not general then holds = skew and rows * (rows - 1) / 2 or rows * (rows + 1) / 2 end
  local expected = declared
  if coordinate then
    if declared > holds then
      return nil, size_line, "declares " .. declared .. " entries, more than a " .. symmetry .. " "
        .. rows .. " x " .. cols .. " matrix holds (" .. holds .. ")"
    end
  else
    expected = holds
  end

  -- The entries in file order (mirrors of symmetric ones right after them), with their lines.
  local capacity = math.max(16, math.min(expected * (general and 1 or 2), 65536))
  local erow, ecol = int32_array(capacity), int32_array(capacity)
  local eval, eline = double_array(capacity), int32_array(capacity)
  local stored, count = 0, 0
  local pattern, integer_field = field == "pattern", field == "integer"
  local want_fields = coordinate and (pattern and 2 or 3) or 1
  local entry_text = coordinate and (pattern and "'row column'" or "'row column value'")
    or "one value per line"
  local entry_name = coordinate and "entries" or "values"
  -- Array files list column by column, each column from its first stored row down.
  local array_row, array_col = skew and 1 or 0, 0
  for line in lines do
    line_number = line_number + 1
    local len = #line
    local p = ffi.cast(byte_ptr, line)
    local i = skip_spaces(p, 0, len)
    if i < len and p[i] ~= PERCENT then
      local fields = split_fields(p, len, starts, ends, 4)
      if fields ~= want_fields then
        return nil, line_number, "expected " .. entry_text .. ", got " .. fields .. " fields"
      end
      if count == expected then
        return nil, line_number, "more " .. entry_name .. " than the " .. expected
          .. " the size line (line " .. size_line .. ") declares"
      end
      local r, c
      if coordinate then
        r = parse_count(p, starts[1], ends[1])
        if not r or r < 1 or r > rows then
          return nil, line_number, "row index '" .. token_text(line, starts[1], ends[1])
            .. "' out of range (integer in [1, " .. rows .. "] expected)"
        end
        c = parse_count(p, starts[2], ends[2])
        if not c or c < 1 or c > cols then
          return nil, line_number, "column index '" .. token_text(line, starts[2], ends[2])
            .. "' out of range (integer in [1, " .. cols .. "] expected)"
        end
        if not general and (r < c or (skew and r == c)) then
          return nil, line_number, "entry (" .. r .. ", " .. c .. ") is not in the "
            .. (skew and "strictly " or "") .. "lower triangle, the only part a " .. symmetry
            .. " matrix stores"
        end
        r, c = r - 1, c - 1
      else
        r, c = array_row, array_col
        array_row = array_row + 1
        if array_row == rows then
          array_col = array_col + 1
          array_row = general and 0 or (skew and array_col + 1 or array_col)
        end
      end
      local value = 1
      if not pattern then
        local k = want_fields
        value = parse_number(p, starts[k], ends[k], line)
        if not value then
          return nil, line_number, "bad value '" .. token_text(line, starts[k], ends[k])
            .. "' (finite number expected)"
        end
        if integer_field and value ~= math.floor(value) then
          return nil, line_number, "bad value '" .. token_text(line, starts[k], ends[k])
            .. "' (integer expected in an 'integer' matrix)"
        end
      end
      if stored + 2 > capacity then
        local grown = capacity * 2
        erow = resized(int32_array, 4, erow, stored, grown)
        ecol = resized(int32_array, 4, ecol, stored, grown)
        eval = resized(double_array, 8, eval, stored, grown)
        eline = resized(int32_array, 4, eline, stored, grown)
        capacity = grown
      end
      erow[stored], ecol[stored], eval[stored], eline[stored] = r, c, value, line_number
      stored = stored + 1
      if not general and r ~= c then
        erow[stored], ecol[stored], eline[stored] = c, r, line_number
        eval[stored] = skew and -value or value
        stored = stored + 1
      end
      count = count + 1
    end
  end
  if count < expected then
    return nil, line_number, "expected " .. expected .. " " .. entry_name .. " (size line, line "
      .. size_line .. "), got " .. count
  end

  -- Counting sort by row; it is stable, so row-major and column-major files both come out with
  -- their rows sorted, and only other orders need sort_pairs.
  local rowptr = int64_array(rows + 1)
  local next_slot = double_array(rows + 1)
  for t = 0, stored - 1 do
    local r = erow[t] + 1
    next_slot[r] = next_slot[r] + 1
  end
  for r = 1, rows do next_slot[r] = next_slot[r] + next_slot[r - 1] end
  for r = 0, rows do rowptr[r] = next_slot[r] end
  local col, val = int32_array(stored), double_array(stored)
  for t = 0, stored - 1 do
    local r = erow[t]
    local slot = next_slot[r]
    col[slot], val[slot] = ecol[t], eval[t]
    next_slot[r] = slot + 1
  end
  for r = 0, rows - 1 do
    local first, last = tonumber(rowptr[r]), tonumber(rowptr[r + 1])
    local in_order = true
    for t = first + 1, last - 1 do
      if col[t] <= col[t - 1] then in_order = false; break end
    end
    if not in_order then
      sort_pairs(col, val, first, last)
      for t = first + 1, last - 1 do
        if col[t] == col[t - 1] then
          -- Report the entry as written (a mirror lies above the diagonal) at its second line.
          local i, j = r, col[t]
          if not general and i < j then i, j = j, i end
          local seen, where = 0, line_number
          for e = 0, stored - 1 do
            if erow[e] == i and ecol[e] == j then
              seen = seen + 1
              if seen == 2 then where = eline[e]; break end
            end
          end
          return nil, where, "duplicate entry (" .. (i + 1) .. ", " .. (j + 1) .. ")"
        end
      end
    end
  end

  local d = cols
  if wanted_d and wanted_d > d then d = wanted_d end
  return {
    kind = "csr",
    n = rows,
    d = d,
    nnz = stored,
    y = double_array(rows),
    rowptr = rowptr,
    col = col,
    val = val,
  }, line_number
end

-- Parses a label file for a set of n rows: Matrix Market n x 1 (coordinate or array), or plain
-- text with one number per line (blank lines and lines starting with '#' or '%' skipped).
-- Returns double[n], line_number | nil, line, message.
local function parse_labels(lines, n, target)
  local first = lines()
  if is_mm_banner(first) then
    local ds, line, message = parse_mm(lines_after(first, lines), nil, n, target)
    if not ds then return nil, line, message end
    -- A coordinate file may leave rows out: their label is 0.
    local y = double_array(n)
    for r = 0, n - 1 do
      if ds.rowptr[r + 1] > ds.rowptr[r] then y[r] = ds.val[ds.rowptr[r]] end
    end
    return y, line
  end
  local y = double_array(n)
  local starts, ends = { 0, 0 }, { 0, 0 }
  local count, line_number = 0, 0
  for line in lines_after(first, lines) do
    line_number = line_number + 1
    local len = #line
    local p = ffi.cast(byte_ptr, line)
    local i = skip_spaces(p, 0, len)
    if i < len and p[i] ~= HASH and p[i] ~= PERCENT then
      local fields = split_fields(p, len, starts, ends, 2)
      if fields ~= 1 then
        return nil, line_number, "expected one label per line, got " .. fields .. " fields"
      end
      local value = parse_number(p, starts[1], ends[1], line)
      if not value then
        return nil, line_number, "bad label '" .. token_text(line, starts[1], ends[1])
          .. "' (finite number expected)"
      end
      if count == n then
        return nil, line_number, "more labels than the " .. n .. " rows of " .. target
      end
      y[count] = value
      count = count + 1
    end
  end
  if count < n then
    return nil, line_number, count .. " labels for the " .. n .. " rows of " .. target
  end
  return y, line_number
end

local function check_labels_option(labels)
  if labels ~= nil and type(labels) ~= "string" then
    error("bad option 'labels' (path string expected, got " .. type(labels) .. ")", 3)
  end
  return labels
end

-- Adds the labels from `labels_path` (if any) to a whole Matrix Market set read from `path`, then
-- keeps the shard's rows.
local function finish_mm(ds, path, labels_path, shard_index, shard_count)
  if labels_path then
    local y, message = read_with(labels_path, function(file)
      return parse_labels(file:lines(), ds.n, path)
    end)
    if not y then return nil, message end
    ds.y = y
  end
  if shard_count > 1 then ds = data.shard(ds, shard_index, shard_count) end
  return ds
end

local MM_OPTIONS = { d = true, shard = true, labels = true }

-- data.read_mm(path [, {d=, shard={index=, count=}, labels=path}]) -> csr | nil, "path:LINE: ..."
--
-- Reads a Matrix Market `matrix` file, `coordinate` or `array`, field `real`, `integer` or
-- `pattern` (every value 1), symmetry `general`, or `symmetric` / `skew-symmetric` expanded to
-- the full matrix (the file must then hold only the lower, resp. strictly lower, triangle).
-- Lines starting with '%' and blank lines after the header are skipped. The result has the shape
-- read_libsvm returns: kind = "csr", n = rows, d = columns (or opts.d when larger), nnz, rowptr
-- (int64[n+1]), col (int32, 0-based, sorted within each row), val (double) and y (double[n]),
-- which is all zeros unless opts.labels names a label file.
--
-- An `array` file is dense: every value is stored, zeros included, so for an n x d array nnz is
-- n * d and row i holds columns 0..d-1 in order. For an n x 1 array (the usual label or response
-- file) that makes rowptr[i] = i and val[i] the i-th value, in file order.
--
-- opts.labels: a label file for the n rows: a Matrix Market n x 1 matrix (coordinate, rows it
-- leaves out are 0, or array) or plain text with one number per line ('#'/'%' comments and blank
-- lines skipped); its length must be n. opts.shard keeps the rows i (0-based) with
-- i % count == index, as read_libsvm does, after validating the whole file (and label file): n is
-- then the shard's row count, while d stays the whole matrix's.
function data.read_mm(path, opts)
  check_path(path)
  opts = check_options(opts, MM_OPTIONS, "read_mm")
  local wanted_d = check_d_option(opts.d)
  local shard_index, shard_count = check_shard_option(opts.shard)
  local labels_path = check_labels_option(opts.labels)
  local resolved = resolve_path(path)
  local ds, message = read_with(resolved, function(file)
    return parse_mm(file:lines(), wanted_d)
  end)
  if not ds then return nil, message end
  return finish_mm(ds, resolved, labels_path, shard_index, shard_count)
end

local MATRIX_OPTIONS = { d = true, shard = true, labels = true, engine = true }

-- The file's first line (false for an empty file), or nil, "path:LINE: ..." when it cannot be read.
local function first_line(path)
  local source, open_error = open_source(path)
  if not source then return nil, open_error end
  local line = source:lines()()
  local failure = source:close(false)
  if failure then return nil, failure end
  return line or false
end

-- data.read_matrix(path [, {d=, shard=, labels=, engine=}]) -> csr | nil, "path:LINE: message"
--
-- Reads either format, so that a model's --data accepts both: Matrix Market when the first line
-- starts with '%%MatrixMarket' or the name ends in .mtx, .mm or .mmt (before any .gz), libsvm
-- otherwise. opts as for read_mm and read_libsvm (opts.engine shares a libsvm parse and is
-- ignored for Matrix Market); opts.labels is refused (nil, "path:1: ...") for a libsvm file,
-- whose labels are its first column.
function data.read_matrix(path, opts)
  check_path(path)
  opts = check_options(opts, MATRIX_OPTIONS, "read_matrix")
  check_d_option(opts.d)
  check_shard_option(opts.shard)
  local labels_path = check_labels_option(opts.labels)
  check_engine_option(opts.engine)
  local resolved = resolve_path(path)
  local extension = resolved:gsub("%.[gG][zZ]$", ""):match("%.([^./]+)$")
  local matrix_market = extension ~= nil and MM_EXTENSIONS[extension:lower()] == true
  if not matrix_market then
    local first, message = first_line(resolved)
    if first == nil then return nil, message end
    matrix_market = first and is_mm_banner(first)
    if not matrix_market and labels_path then
      return nil, string.format("%s:%d: %s", resolved, first and 1 or 0,
        "option 'labels' is for Matrix Market input; this is a libsvm file, whose labels are its"
        .. " first column")
    end
  end
  if matrix_market then
    return data.read_mm(resolved, { d = opts.d, shard = opts.shard, labels = labels_path })
  end
  return data.read_libsvm(resolved, { d = opts.d, shard = opts.shard, engine = opts.engine })
end

---------------------------------------------------------------------------------------------------
-- Column-major copy

-- data.to_csc(ds) -> {kind = "csc", n, d, nnz, colptr = int64[d+1], row = int32[nnz],
--                     val = double[nnz], y = ds.y}
--
-- The column-major copy of a CSR set by a counting sort over columns, O(nnz + d): column j holds
-- colptr[j]..colptr[j+1]-1, with its rows in increasing order. y is ds.y itself, not a copy.
function data.to_csc(ds)
  if dataset_kind(ds, 3) ~= "csr" then
    error("bad argument 'ds' (CSR data set expected, got a triplet set)", 2)
  end
  local n, d = ds.n, ds.d
  if not (is_integer(d) and d >= 0 and d <= INT32_MAX) then
    error("bad argument 'ds' (field d: non-negative integer expected, got " .. describe_value(d)
      .. ")", 2)
  end
  local rowptr, col, val = ds.rowptr, ds.col, ds.val
  local nnz = tonumber(rowptr[n])
  local next_slot = double_array(d + 1)
  for t = 0, nnz - 1 do
    local c = col[t]
    if c < 0 or c >= d then
      error("bad argument 'ds' (column index " .. c .. " at entry " .. t .. " outside [0, " .. d
        .. "))", 2)
    end
    next_slot[c + 1] = next_slot[c + 1] + 1
  end
  local colptr = int64_array(d + 1)
  for c = 1, d do next_slot[c] = next_slot[c] + next_slot[c - 1] end
  for c = 0, d do colptr[c] = next_slot[c] end
  local row, out_val = int32_array(nnz), double_array(nnz)
  for r = 0, n - 1 do
    for t = tonumber(rowptr[r]), tonumber(rowptr[r + 1]) - 1 do
      local c = col[t]
      local slot = next_slot[c]
      row[slot], out_val[slot] = r, val[t]
      next_slot[c] = slot + 1
    end
  end
  return {
    kind = "csc",
    n = n,
    d = d,
    nnz = nnz,
    colptr = colptr,
    row = row,
    val = out_val,
    y = ds.y,
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
function data.synthetic_lasso(spec)
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

  local rng = data.new_rng(seed)
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

return data
