-- pmls.data.ratings: read_triplets, the reader of rating files.
--
-- MovieLens-style `user item rating [timestamp]` lines become three coordinate arrays (user,
-- item, rating) that matrix-factorisation scripts walk; a shard keeps every count-th rating while
-- the whole file is validated, so every worker sees the same max_user and max_item.

local ffi = require("ffi")
local check = require("pmls.data.check")
local source = require("pmls.data.source")
local scan = require("pmls.data.scan")

local check_path, check_options = check.check_path, check.check_options
local check_shard_option = check.check_shard_option
local read_with = source.read_with
local byte_ptr, HASH = scan.byte_ptr, scan.HASH
local skip_spaces, token_end, token_text = scan.skip_spaces, scan.token_end, scan.token_text
local parse_count, parse_number, resized = scan.parse_count, scan.parse_number, scan.resized

local double_array = ffi.typeof("double[?]")
local int32_array = ffi.typeof("int32_t[?]")
local INT32_MAX = 2147483647

local M = {}

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
function M.read_triplets(path, opts)
  check_path(path)
  opts = check_options(opts, TRIPLET_OPTIONS, "read_triplets")
  local shard_index, shard_count = check_shard_option(opts.shard)
  return read_with(path, function(file)
    return parse_triplets(file, shard_index, shard_count)
  end)
end

return M
