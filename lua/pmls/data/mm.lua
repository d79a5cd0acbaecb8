-- pmls.data.mm: the Matrix Market reader.
--
-- Matrix Market `matrix` files, coordinate or array, real / integer / pattern, general or
-- (skew-)symmetric, become a CSR matrix with sorted rows, parsed by the engine in C
-- (engine/src/data/mm.c) and checked entry by entry, so that every mistake is reported at its
-- line. This file reads a matrix privately or through the engine's copy; the public readers
-- built on it are in pmls.data.matrix.

local input_error = require("pmls.failure").input
local ffi = require("ffi")
local source = require("pmls.data.source")

local engine_c, ERROR_BYTES = source.engine_c, source.ERROR_BYTES

local M = {}

local MM_BANNER = "%%matrixmarket"
-- File name extensions (before any .gz) that mean Matrix Market to read_matrix.
local MM_EXTENSIONS = { mtx = true, mm = true, mmt = true }

local function is_mm_banner(line)
  return line ~= nil and line:sub(1, #MM_BANNER):lower() == MM_BANNER
end

-- A private read: a pmls_csr * the collector frees (or free() now) | nil, "path:LINE: ...".
-- limits: {max_cols=, label_rows=, labels_for=} or nil.
local function read_own(path, limits)
  local C = engine_c()
  local c_limits = nil
  if limits then
    c_limits = ffi.new("pmls_mm_limits", { limits.max_cols or -1, limits.label_rows or -1,
                                           limits.labels_for })
  end
  local out, err = ffi.new("pmls_csr *[1]"), ffi.new("char[?]", ERROR_BYTES)
  if C.pmls_csr_read_mm(path, c_limits, out, err, ERROR_BYTES) ~= 0 then
    return nil, input_error(ffi.string(err))
  end
  return ffi.gc(out[0], C.pmls_csr_free)
end

local function free(m)
  engine_c().pmls_csr_free(ffi.gc(m, nil))
end

-- The engine's read-only copy of the whole matrix | nil, "path:LINE: ...". With max_cols (opts.d)
-- a matrix of more columns is refused; the check belongs at the size line, before the entries,
-- so when it or the read fails, a private read with the limit names the first problem exactly.
local function read_kept(engine, path, max_cols)
  local C = engine_c()
  local out, err = ffi.new("const pmls_csr *[1]"), ffi.new("char[?]", ERROR_BYTES)
  local failed = C.pmls_engine_read_mm(engine, path, out, err, ERROR_BYTES) ~= 0
  if not failed and not (max_cols and out[0].d > max_cols) then return out[0] end
  local message = input_error(ffi.string(err))
  if max_cols then
    local m, first_problem = read_own(path, { max_cols = max_cols })
    if not m then return nil, first_problem end
    free(m)
  end
  return nil, message
end

M.EXTENSIONS, M.is_banner = MM_EXTENSIONS, is_mm_banner
M.read_own, M.read_kept, M.free = read_own, read_kept, free
return M
