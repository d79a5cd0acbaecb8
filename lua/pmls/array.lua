-- pmls.array: the typed arrays of model scripts' own loops (a worker's
-- copy of its ratings, a scheduler node's column statistics, scratch
-- vectors). They are FFI arrays, 0-based and zeroed, so loops over them
-- compile to machine code the way loops over table rows and data sets do;
-- this module only names them, so that scripts need not speak FFI.
--   local array = require("pmls").array
--   local x = array.float64(n)          -- x[0] .. x[n-1], all 0
--   array.copy(y, x, n)                 -- y[0..n-1] = x[0..n-1]
--   array.fill(x, n)                    -- x[0..n-1] = 0 (or a value)
--   array.length(x)                     -- n, for an array made here (nil
--                                       -- for other values: a pointer)
--   array.dtype(x)                      -- "float64", ... for an array made
--                                       -- here (nil for other values)
--   array.pointers(m, rows, width)      -- p[r] = m + r * width, r < rows: the
--                                       -- rows of a row-major matrix, as the
--                                       -- kernels take them
local core = require "pmls.core"
local ffi = core.ffi

local M = {}

local TYPES = {
  float64 = ffi.typeof("double[?]"), float32 = ffi.typeof("float[?]"),
  int32 = ffi.typeof("int32_t[?]"), int64 = ffi.typeof("int64_t[?]"),
}

local function count(n, fn)
  if type(n) ~= "number" or n % 1 ~= 0 or n < 0 then
    core.bad_argument("n", fn, "whole number >= 0 expected, got " .. tostring(n), 2)
  end
  return n
end

for name, ctype in pairs(TYPES) do
  -- array.float64(n) and its kin: n zeroed elements.
  M[name] = function(n) return ctype(count(n, name)) end
end

-- Bytes per element of an array or pointer, by its C type (cached).
local elem_bytes = {}
local function elem_size(a, arg, fn)
  if type(a) == "cdata" then
    local id = tonumber(ffi.typeof(a))
    local size = elem_bytes[id]
    if size then return size end
    local ok, diff = pcall(function()
      return tonumber(ffi.cast("const char *", a + 1) - ffi.cast("const char *", a))
    end)
    if ok and diff > 0 then
      elem_bytes[id] = diff
      return diff
    end
  end
  core.bad_argument(arg, fn, "an array expected, got " .. type(a), 2)
end

-- Copies n elements of src into dst (arrays of the same element size, not
-- overlapping).
function M.copy(dst, src, n)
  local size = elem_size(dst, "dst", "copy")
  if elem_size(src, "src", "copy") ~= size then
    core.bad_argument("src", "copy", "elements of another size than dst's")
  end
  ffi.copy(dst, src, count(n, "copy") * size)
  return dst
end

-- Sets the first n elements of a to value (default 0).
function M.fill(a, n, value)
  local size = elem_size(a, "a", "fill")
  count(n, "fill")
  if value == nil or value == 0 then
    ffi.fill(a, n * size)
  elseif type(value) ~= "number" then
    core.bad_argument("value", "fill", "number expected, got " .. type(value))
  else
    for i = 0, n - 1 do a[i] = value end
  end
  return a
end

-- The element type's name of an array made by this module (one restored
-- from a checkpoint too), or nil for anything else.
function M.dtype(a)
  if type(a) ~= "cdata" then return nil end
  for name, ctype in pairs(TYPES) do
    if ffi.istype(ctype, a) then return name end
  end
  return nil
end

-- The elements of an array made by this module, or nil for anything else:
-- a pointer has no length.
function M.length(a)
  local name = M.dtype(a)
  return name and ffi.sizeof(a) / ffi.sizeof(TYPES[name], 1)
end

-- An array of `rows` pointers to the rows of the row-major matrix m (an
-- array of rows * width elements): p[r] points at m[r * width].
function M.pointers(m, rows, width)
  if type(m) ~= "cdata" then core.bad_argument("m", "pointers", "an array expected, got " .. type(m)) end
  count(rows, "pointers")
  count(width, "pointers")
  -- the type by its name, not as a "$" parameter: busted caches
  -- ffi.typeof by its first argument (see pmls.table)
  local ptr = tostring(ffi.typeof(m + 0)):match("^ctype<(.*)>$")
  local p = ffi.typeof(ptr .. "[?]")(math.max(rows, 1))
  for r = 0, rows - 1 do p[r] = m + r * width end
  return p
end

return M
