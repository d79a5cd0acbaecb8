-- pmls.data.scan: byte scanning over one line of a text data file.
--
-- The text readers (Matrix Market, labels, ratings) split millions of lines into tokens. The
-- scanners take a pointer into the line's bytes and half-open 0-based ranges, so no Lua string is
-- created per token except on the rare slow paths, and numbers are parsed exactly (the same
-- double as tonumber) without a substring.

local ffi = require("ffi")

local M = {}

M.byte_ptr = ffi.typeof("const uint8_t *")

local HUGE = math.huge
local TWO_POW_53 = 2 ^ 53
local INT32_MAX = 2147483647

-- Byte values the scanners test against.
local TAB, CR, SPACE, HASH, PLUS, MINUS, DOT = 9, 13, 32, 35, 43, 45, 46
local PERCENT = 37
local DIGIT_0, DIGIT_9, LOWER_E, UPPER_E = 48, 57, 101, 69

-- 10^k is exact in a double for k <= 22; a mantissa below 2^53 times or divided by such a power is a
-- single correctly rounded operation, so the fast path gives the same double as strtod/tonumber.
local POW10 = {}
for e = 0, 22 do POW10[e] = tonumber("1e" .. e) end

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

-- Parses p[i..j) as a finite decimal number ([sign] digits [. digits] [e [sign] digits]); nil if it
-- is not one. Short mantissas take an exact fast path; long mantissas and large exponents go to
-- tonumber on a substring, which rounds correctly. Hex, inf, nan and LuaJIT's 0b101, which tonumber
-- would also take, are refused, as the C readers refuse them (engine/src/data/reader.c).
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
  if k ~= j or digits == 0 then return nil end
  -- Once the mantissa stays below 2^53 every partial sum above was exact.
  if mantissa < TWO_POW_53 then
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

local function token_text(line, i, j) return string.sub(line, i + 1, j) end

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

M.HASH, M.PERCENT = HASH, PERCENT
M.is_space, M.skip_spaces, M.token_end = is_space, skip_spaces, token_end
M.split_fields, M.token_text = split_fields, token_text
M.parse_number, M.parse_count, M.resized = parse_number, parse_count, resized
return M
