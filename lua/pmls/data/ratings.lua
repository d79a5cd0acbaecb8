-- pmls.data.ratings: read_triplets, the reader of rating files.
--
-- MovieLens-style `user item rating [timestamp]` lines become three coordinate arrays (user,
-- item, rating) that matrix-factorisation scripts walk. Rating files are large, so the engine
-- parses them in C (engine/src/data/ratings.c) and may keep the parse (opts.engine) for the
-- threads of a process; this file checks the options, wraps the engine's arrays and cuts the
-- caller's shard. A shard keeps every count-th rating while the whole file is validated, so
-- every worker sees the same max_user and max_item.

local input_error = require("pmls.failure").input
local ffi = require("ffi")
local check = require("pmls.data.check")
local source = require("pmls.data.source")
local rows = require("pmls.data.rows")
local libsvm = require("pmls.data.libsvm")

local check_path, check_options = check.check_path, check.check_options
local check_shard_option = check.check_shard_option
local check_engine_option = libsvm.check_engine_option
local resolve_path, engine_c, ERROR_BYTES = source.resolve_path, source.engine_c, source.ERROR_BYTES

local double_array = ffi.typeof("double[?]")
local int32_array = ffi.typeof("int32_t[?]")

local M = {}

-- The set's arrays copied into arrays of the caller's own.
local function own_copy(view)
  local n = view.n
  local user, item, rating = int32_array(n), int32_array(n), double_array(n)
  if n > 0 then
    ffi.copy(user, view.user, 4 * n)
    ffi.copy(item, view.item, 4 * n)
    ffi.copy(rating, view.rating, 8 * n)
  end
  return { kind = "triplets", n = n, user = user, item = item, rating = rating,
           max_user = view.max_user, max_item = view.max_item }
end

local TRIPLET_OPTIONS = { shard = true, engine = true }

-- data.read_triplets(path [, {shard={index=, count=}, engine=}]) -> triplets | nil, "path:LINE: ..."
--
-- Fields are separated by whitespace, or by commas when the first line that is not blank or a
-- comment holds one; that line is a header (skipped) when its 3 or 4 fields all start with a
-- letter, as in MovieLens's ratings.csv. '#' starts a comment. Ids are kept as written (0 is an
-- id; max_user and max_item are the largest ids of the whole file). With opts.engine (ctx.engine)
-- the engine keeps the arrays, so setup and workers of one process parse the file once: without
-- a shard the result then holds the engine's own arrays, read-only (const; writing raises) and
-- valid until the engine is destroyed (shared = true). Otherwise the arrays are the caller's.
function M.read_triplets(path, opts)
  check_path(path)
  opts = check_options(opts, TRIPLET_OPTIONS, "read_triplets")
  local shard_index, shard_count = check_shard_option(opts.shard)
  local engine = check_engine_option(opts.engine)
  path = resolve_path(path)
  local C = engine_c()
  local err = ffi.new("char[?]", ERROR_BYTES)
  local t
  if engine then
    local out = ffi.new("const pmls_triplets *[1]")
    if C.pmls_engine_read_triplets(engine, path, out, err, ERROR_BYTES) ~= 0 then
      return nil, input_error(ffi.string(err))
    end
    t = out[0]
  else
    local out = ffi.new("pmls_triplets *[1]")
    if C.pmls_triplets_read(path, out, err, ERROR_BYTES) ~= 0 then return nil, input_error(ffi.string(err)) end
    t = ffi.gc(out[0], C.pmls_triplets_free)
  end
  local view = { kind = "triplets", n = tonumber(t.n), user = t.user, item = t.item,
                 rating = t.rating, max_user = tonumber(t.max_user),
                 max_item = tonumber(t.max_item) }
  if engine and shard_count == 1 then
    view.shared = true
    return view
  end
  local ds
  if shard_count == 1 then ds = own_copy(view)
  else ds = rows.shard(view, shard_index, shard_count) end
  if not engine then C.pmls_triplets_free(ffi.gc(t, nil)) end
  return ds
end

return M
