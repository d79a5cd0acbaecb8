-- pmls.data.check: the argument checks every reader and generator of pmls.data shares.
--
-- Misuse (a wrong argument type, an unknown option, a bad shard) raises, blamed on the caller of
-- the public function, while a file problem is a runtime failure the readers return as
-- nil, "path:LINE: ..." (see pmls.data). Kept in one place so that every function words the same
-- mistake the same way.

local M = {}

local HUGE = math.huge
local INT32_MAX = 2147483647

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

local function positive_int32(v) return is_integer(v) and v >= 1 and v <= INT32_MAX end

local function check_labels_option(labels)
  if labels ~= nil and type(labels) ~= "string" then
    error("bad option 'labels' (path string expected, got " .. type(labels) .. ")", 3)
  end
  return labels
end

M.describe_value, M.check_path, M.is_integer = describe_value, check_path, is_integer
M.check_options, M.check_shard_spec = check_options, check_shard_spec
M.check_d_option, M.check_shard_option = check_d_option, check_shard_option
M.check_labels_option = check_labels_option
M.check_field, M.positive_int32 = check_field, positive_int32
return M
