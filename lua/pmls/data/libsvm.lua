-- pmls.data.libsvm: read_libsvm, the libsvm / svmlight reader.
--
-- libsvm files are the large ones, so the engine parses them in C (engine/src/data/libsvm.c) and
-- may keep the parse (opts.engine) so that the threads of a process share it; this file checks the
-- options, wraps the engine's matrix as a pmls.data CSR set and cuts the caller's shard.

local input_error = require("pmls.failure").input
local ffi = require("ffi")
local check = require("pmls.data.check")
local source = require("pmls.data.source")
local rows = require("pmls.data.rows")

local describe_value, check_path = check.describe_value, check.check_path
local check_options, check_d_option, check_shard_option =
  check.check_options, check.check_d_option, check.check_shard_option
local resolve_path, engine_c, ERROR_BYTES = source.resolve_path, source.engine_c, source.ERROR_BYTES

local M = {}

local function check_engine_option(engine)
  if engine ~= nil
      and not (type(engine) == "cdata" and engine_c() and ffi.istype("pmls_engine *", engine)) then
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
      return nil, input_error(string.format("%s:%d: feature index %d exceeds opts.d = %d", path,
        tonumber(m.line[r]), m.col[k] + 1, d))
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
function M.read_libsvm(path, opts)
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
      return nil, input_error(ffi.string(err))
    end
    m = out[0]
  else
    local out = ffi.new("pmls_csr *[1]")
    if C.pmls_csr_read_libsvm(path, out, err, ERROR_BYTES) ~= 0 then return nil, input_error(ffi.string(err)) end
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
  local ds = rows.shard(view, shard_index, shard_count) -- arrays of the caller's own
  if not engine then C.pmls_csr_free(ffi.gc(m, nil)) end
  return ds
end

M.check_engine_option = check_engine_option
return M
