-- pmls.core: the FFI binding of engine/include/pmls.h.
--
-- The cdef text is generated from the header at build time (pmls.cdef), so
-- this file only finds the library: inside the `pmls` command the symbols
-- are exported by the executable (ffi.C); elsewhere (busted, a plain luajit)
-- libpmls.so is loaded from PMLS_LIB, the build tree or the install prefix.
local ffi = require "ffi"

ffi.cdef(require "pmls.cdef")

local M = {}

local function has_symbols(lib)
  local ok = pcall(function() return lib.pmls_version end)
  return ok
end

local function library_candidates()
  local list = {}
  local env = os.getenv("PMLS_LIB")
  if env and env ~= "" then list[#list + 1] = env end
  local src = debug.getinfo(1, "S").source
  local dir = src:sub(1, 1) == "@" and src:sub(2):match("^(.*)/pmls/core%.lua$")
  if dir then
    list[#list + 1] = dir .. "/../build/lib/libpmls.so"      -- source tree
    list[#list + 1] = dir .. "/../../../lib/libpmls.so"      -- PREFIX/share/pmls/lua
  end
  list[#list + 1] = "libpmls.so"
  return list
end

local function load_library()
  if has_symbols(ffi.C) then return ffi.C end
  local tried = {}
  for _, path in ipairs(library_candidates()) do
    local ok, lib = pcall(ffi.load, path)
    if ok and has_symbols(lib) then return lib end
    tried[#tried + 1] = path .. (ok and " (no pmls symbols)" or (": " .. tostring(lib)))
  end
  error("pmls: cannot load libpmls (tried " .. table.concat(tried, "; ") ..
        "; set PMLS_LIB)", 0)
end

M.C = load_library()
M.ffi = ffi

local C = M.C

M.dtypes = {
  float64 = C.PMLS_F64, double = C.PMLS_F64,
  float32 = C.PMLS_F32, float = C.PMLS_F32,
  int32 = C.PMLS_I32, int64 = C.PMLS_I64,
}
M.ctypes = {
  [tonumber(C.PMLS_F64)] = "double", [tonumber(C.PMLS_F32)] = "float",
  [tonumber(C.PMLS_I32)] = "int32_t", [tonumber(C.PMLS_I64)] = "int64_t",
}
M.dtype_names = {
  [tonumber(C.PMLS_F64)] = "float64", [tonumber(C.PMLS_F32)] = "float32",
  [tonumber(C.PMLS_I32)] = "int32", [tonumber(C.PMLS_I64)] = "int64",
}

-- How a metric's values combine (pmls_agg), and the list for messages.
M.metric_kinds = {
  mean = C.PMLS_AGG_MEAN, sum = C.PMLS_AGG_SUM, last = C.PMLS_AGG_LAST,
  min = C.PMLS_AGG_MIN, max = C.PMLS_AGG_MAX, total = C.PMLS_AGG_TOTAL,
}
M.metric_kind_list = '"mean", "sum", "total", "last", "min" or "max"'

function M.engine_error(e)
  return ffi.string(C.pmls_errmsg(e))
end

function M.client_error(c)
  return ffi.string(C.pmls_client_errmsg(c))
end

-- Raises a misuse error naming the argument, at the caller's caller.
function M.bad_argument(name, fn, why, level)
  error(("bad argument '%s' to %s (%s)"):format(name, fn, why), (level or 2) + 1)
end

function M.version()
  return ffi.string(C.pmls_version())
end

return M
