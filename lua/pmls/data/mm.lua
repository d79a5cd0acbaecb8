-- pmls.data.mm: the Matrix Market parser.
--
-- Matrix Market `matrix` files, coordinate or array, real / integer / pattern, general or
-- (skew-)symmetric, become a CSR set with sorted rows. It is parsed in Lua from the engine's lines
-- (the files are small next to libsvm ones) and checked entry by entry, so that every mistake is
-- reported at its line. The public readers built on it are in pmls.data.matrix.

local ffi = require("ffi")
local scan = require("pmls.data.scan")

local byte_ptr, PERCENT = scan.byte_ptr, scan.PERCENT
local skip_spaces, split_fields, token_text = scan.skip_spaces, scan.split_fields, scan.token_text
local parse_count, parse_number, resized = scan.parse_count, scan.parse_number, scan.resized

local double_array = ffi.typeof("double[?]")
local int32_array = ffi.typeof("int32_t[?]")
local int64_array = ffi.typeof("int64_t[?]")

local M = {}

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

M.EXTENSIONS, M.is_banner, M.parse = MM_EXTENSIONS, is_mm_banner, parse_mm
return M
