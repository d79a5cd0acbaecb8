-- pmls.data.matrix: read_mm and read_matrix, the public readers of matrices by file name.
--
-- read_mm reads a Matrix Market file (pmls.data.mm) with, optionally, its labels from a second
-- file (Matrix Market n x 1 or one number per line); read_matrix accepts either Matrix Market or
-- libsvm, so that a model's --data takes both.

local input_error = require("pmls.failure").input
local ffi = require("ffi")
local check = require("pmls.data.check")
local source = require("pmls.data.source")
local scan = require("pmls.data.scan")
local mm = require("pmls.data.mm")
local libsvm = require("pmls.data.libsvm")
local rows = require("pmls.data.rows")

local check_path, check_options = check.check_path, check.check_options
local check_d_option = check.check_d_option
local check_shard_option, check_labels_option = check.check_shard_option, check.check_labels_option
local check_engine_option = libsvm.check_engine_option
local resolve_path, read_with = source.resolve_path, source.read_with
local first_line = source.first_line
local byte_ptr, HASH, PERCENT = scan.byte_ptr, scan.HASH, scan.PERCENT
local skip_spaces, split_fields = scan.skip_spaces, scan.split_fields
local token_text, parse_number = scan.token_text, scan.parse_number
local is_mm_banner, MM_EXTENSIONS = mm.is_banner, mm.EXTENSIONS

local double_array = ffi.typeof("double[?]")
local int32_array = ffi.typeof("int32_t[?]")
local int64_array = ffi.typeof("int64_t[?]")

local M = {}

-- Parses a plain label file for a set of n rows: one number per line (blank lines and lines
-- starting with '#' or '%' skipped). Returns double[n], line_number | nil, line, message.
local function parse_plain_labels(lines, n, target)
  local y = double_array(n)
  local starts, ends = { 0, 0 }, { 0, 0 }
  local count, line_number = 0, 0
  for line in lines do
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
          .. "' (finite decimal number expected)"
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

-- The labels of the n rows of `target` from `labels_path`: a Matrix Market n x 1 matrix
-- (coordinate, rows it leaves out are 0, or array; parsed in C) or plain text. double[n] | nil,
-- "path:LINE: ...".
local function read_labels(labels_path, n, target)
  local resolved = resolve_path(labels_path)
  local first, message = first_line(resolved)
  if first == nil then return nil, message end
  if not is_mm_banner(first) then
    return read_with(resolved, function(file) return parse_plain_labels(file:lines(), n, target) end)
  end
  local m, err = mm.read_own(resolved, { label_rows = n, labels_for = target })
  if not m then return nil, err end
  local y = double_array(n)
  for r = 0, n - 1 do
    if m.rowptr[r + 1] > m.rowptr[r] then y[r] = m.val[m.rowptr[r]] end
  end
  mm.free(m)
  return y
end

-- A CSR set's arrays copied into arrays of the caller's own (y too, unless it is one already).
local function own_copy(view)
  local n, nnz = view.n, view.nnz
  local out = { kind = "csr", n = n, d = view.d, nnz = nnz, y = view.y,
                rowptr = int64_array(n + 1), col = int32_array(nnz), val = double_array(nnz) }
  if not ffi.istype(double_array, view.y) then
    out.y = double_array(n)
    if n > 0 then ffi.copy(out.y, view.y, 8 * n) end
  end
  ffi.copy(out.rowptr, view.rowptr, 8 * (n + 1))
  if nnz > 0 then
    ffi.copy(out.col, view.col, 4 * nnz)
    ffi.copy(out.val, view.val, 8 * nnz)
  end
  return out
end

local MM_OPTIONS = { d = true, shard = true, labels = true, engine = true }

-- data.read_mm(path [, {d=, shard={index=, count=}, labels=path, engine=}])
--   -> csr | nil, "path:LINE: ..."
--
-- Reads a Matrix Market `matrix` file, `coordinate` or `array`, field `real`, `integer` or
-- `pattern` (every value 1), symmetry `general`, or `symmetric` / `skew-symmetric` expanded to
-- the full matrix (the file must then hold only the lower, resp. strictly lower, triangle).
-- Lines starting with '%' and blank lines after the header are skipped. The result has the shape
-- read_libsvm returns: kind = "csr", n = rows, d = columns (or opts.d when larger), nnz, rowptr
-- (int64[n+1]), col (int32, 0-based, sorted within each row), val (double) and y (double[n]),
-- which is all zeros unless opts.labels names a label file. Parsed by the engine in C
-- (engine/src/data/mm.c).
--
-- An `array` file is dense: every value is stored, zeros included, so for an n x d array nnz is
-- n * d and row i holds columns 0..d-1 in order. For an n x 1 array (the usual label or response
-- file) that makes rowptr[i] = i and val[i] the i-th value, in file order.
--
-- opts.labels: a label file for the n rows: a Matrix Market n x 1 matrix (coordinate, rows it
-- leaves out are 0, or array) or plain text with one number per line ('#'/'%' comments and blank
-- lines skipped); its length must be n. opts.shard keeps the rows i (0-based) with
-- i % count == index, as read_libsvm does, after validating the whole file (and label file): n is
-- then the shard's row count, while d stays the whole matrix's. opts.engine (ctx.engine) as for
-- read_libsvm: the engine keeps the matrix, and without a shard the result holds its read-only
-- arrays (shared = true; y is the caller's own when opts.labels gave it).
function M.read_mm(path, opts)
  check_path(path)
  opts = check_options(opts, MM_OPTIONS, "read_mm")
  local wanted_d = check_d_option(opts.d)
  local shard_index, shard_count = check_shard_option(opts.shard)
  local labels_path = check_labels_option(opts.labels)
  local engine = check_engine_option(opts.engine)
  local resolved = resolve_path(path)
  local m, message
  if engine then m, message = mm.read_kept(engine, resolved, wanted_d)
  else m, message = mm.read_own(resolved, wanted_d and { max_cols = wanted_d }) end
  if not m then return nil, message end
  local d = tonumber(m.d)
  if wanted_d and wanted_d > d then d = wanted_d end
  local view = { kind = "csr", n = tonumber(m.n), d = d, nnz = tonumber(m.nnz), y = m.y,
                 rowptr = m.rowptr, col = m.col, val = m.val }
  if labels_path then
    local y, label_message = read_labels(labels_path, view.n, resolved)
    if not y then
      if not engine then mm.free(m) end
      return nil, label_message
    end
    view.y = y
  end
  if engine and shard_count == 1 then
    view.shared = true
    return view
  end
  local ds
  if shard_count == 1 then ds = own_copy(view)
  else ds = rows.shard(view, shard_index, shard_count) end
  if not engine then mm.free(m) end
  return ds
end

local MATRIX_OPTIONS = { d = true, shard = true, labels = true, engine = true }

-- data.read_matrix(path [, {d=, shard=, labels=, engine=}]) -> csr | nil, "path:LINE: message"
--
-- Reads either format, so that a model's --data accepts both: Matrix Market when the first line
-- starts with '%%MatrixMarket' or the name ends in .mtx, .mm or .mmt (before any .gz), libsvm
-- otherwise. opts as for read_mm and read_libsvm (opts.engine shares the parse of either);
-- opts.labels is refused (nil, "path:1: ...") for a libsvm file, whose labels are its first
-- column.
function M.read_matrix(path, opts)
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
      return nil, input_error(string.format("%s:%d: %s", resolved, first and 1 or 0,
        "option 'labels' is for Matrix Market input; this is a libsvm file, whose labels are its"
        .. " first column"))
    end
  end
  if matrix_market then
    return M.read_mm(resolved, { d = opts.d, shard = opts.shard, labels = labels_path,
                                 engine = opts.engine })
  end
  return libsvm.read_libsvm(resolved, { d = opts.d, shard = opts.shard, engine = opts.engine })
end

return M
