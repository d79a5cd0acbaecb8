-- pmls.data.rows: the CSR / CSC helpers: subset, shard and to_csc.
--
-- Data-parallel workers keep only their shard of a set, held-out splits take a subset, and
-- coordinate-descent solvers walk the column-major copy. Both kinds of set (CSR and rating
-- triplets) go through one row selection that carries the whole set's dimensions along, so every
-- part of a split agrees on model sizes.

local ffi = require("ffi")
local check = require("pmls.data.check")

local describe_value, is_integer = check.describe_value, check.is_integer
local check_shard_spec = check.check_shard_spec

local double_array = ffi.typeof("double[?]")
local int32_array = ffi.typeof("int32_t[?]")
local int64_array = ffi.typeof("int64_t[?]")
local INT32_MAX = 2147483647

local M = {}

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

-- The fields of ds a part of it keeps: those describing the whole set (d, max_user, max_item,
-- w_true, bias_true), so that every part of a split still agrees on model dimensions; not the
-- arrays, nor what says whose they are.
local function whole_set_fields(ds, kind)
  local out = { kind = kind }
  for key, value in pairs(ds) do
    if (type(value) ~= "cdata" or key == "w_true") and key ~= "shared" and key ~= "view_of" then
      out[key] = value
    end
  end
  return out
end

-- Builds a new data set of the same kind holding rows[0..count) of ds, in that order, in arrays
-- of its own.
local function select_rows(ds, kind, rows, count)
  local out = whole_set_fields(ds, kind)
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

-- Rows first..first+count-1 of a set holding the engine's arrays (ds.shared), as a view of them:
-- a rating set's arrays, and a CSR set's y, col and val, start inside the engine's; only a CSR
-- set's rowptr is copied (rebased to 0). view_of keeps ds, whose arrays a view may point into.
local function range_view(ds, kind, first, count)
  local out = whole_set_fields(ds, kind)
  out.n, out.shared, out.view_of = count, true, ds
  if kind == "triplets" then
    out.user, out.item, out.rating = ds.user + first, ds.item + first, ds.rating + first
    return out
  end
  local base = ds.rowptr[first]
  local rowptr = int64_array(count + 1)
  for t = 0, count do rowptr[t] = ds.rowptr[first + t] - base end
  out.rowptr, out.nnz = rowptr, tonumber(rowptr[count])
  out.y, out.col, out.val = ds.y + first, ds.col + base, ds.val + base
  return out
end

-- data.subset(ds, selector) -> new data set with the selected rows, in order.
-- selector: function(i) -> truthy to keep 0-based row i, or a range {first=, count=} (0-based).
-- A range of a set that holds the engine's arrays (shared = true) is a view of them (see
-- range_view); every other subset is a copy of the caller's own.
function M.subset(ds, selector)
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
    if ds.shared then return range_view(ds, kind, first, length) end
    for i = first, first + length - 1 do rows[count] = i; count = count + 1 end
  else
    error("bad argument 'selector' (function or {first=, count=} expected, got "
      .. type(selector) .. ")", 2)
  end
  return select_rows(ds, kind, rows, count)
end

-- data.shard(ds, index, count) -> rows r with r % count == index, for data-parallel workers.
function M.shard(ds, index, count)
  local kind = dataset_kind(ds, 3)
  check_shard_spec(index, count, 3)
  local rows, taken = int32_array(math.floor(ds.n / count) + 1), 0
  for r = index, ds.n - 1, count do rows[taken] = r; taken = taken + 1 end
  return select_rows(ds, kind, rows, taken)
end

---------------------------------------------------------------------------------------------------
-- Column-major copy

-- data.to_csc(ds) -> {kind = "csc", n, d, nnz, colptr = int64[d+1], row = int32[nnz],
--                     val = double[nnz], y = ds.y}
--
-- The column-major copy of a CSR set by a counting sort over columns, O(nnz + d): column j holds
-- colptr[j]..colptr[j+1]-1, with its rows in increasing order. y is ds.y itself, not a copy.
function M.to_csc(ds)
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

M.dataset_kind = dataset_kind
return M
