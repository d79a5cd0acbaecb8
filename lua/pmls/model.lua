-- pmls.model: trained models as files (docs/saved-models.md).
--
-- A model script saves what it learned in one call and starts from a saved
-- model in another; the format is NumPy's (.npy for one array, .npz for
-- several: engine/src/data/npy.c, npz.c), which Python, R and Julia read,
-- with a JSON sidecar PATH.json (the model, its options, the pmls version,
-- the arrays' shapes, what the rows are, the final metrics). The script
-- itself stays free of FFI and of file plumbing:
--
--   local model = require "pmls.model"
--   model.options(app)            -- --save, --init-model, --predict, --model, --out
--   ...
--   function app:finish(ctx)      -- rank 0, after training
--     model.save(ctx, { L = ctx:table("L"), mu = 3.5 }, { rows = "..." })
--   end
--   function app:predict(ctx, m)  -- with --predict: m = model.load(--model)
--     local L = m:need("L", { users, rank })   -- a clear error if not
--     ...
--   end
--   return model.app(app)         -- routes --predict to app:predict
--
-- An array is { dtype = "float64" | "float32" | "int32" | "int64",
-- shape = { ... }, data = cdata } (data C-ordered); a table handle
-- (ctx:table(name)) is read whole (pmls_table_dump); a number is a float64
-- scalar. Misuse raises an error naming the argument; a file that cannot be
-- written or read raises "PATH: what" as a data error does (the run ends
-- with that one line).
local core = require "pmls.core"
local ffi, C = core.ffi, core.C

local M = {}

local ERRLEN = 1024
local current_app -- the app of this Lua state (model.app), for the sidecar
local LIST = {}   -- marks a table the sidecar writes as a JSON array, even empty

local input_error = require("pmls.failure").input

-- A file that cannot be read or does not fit, or options that do not go
-- together: one line, without a traceback (as the data readers' errors).
local function fail(msg) error(input_error(msg), 0) end
M.fail = fail

-- ---- options and the predict route ------------------------------------------------

-- Declares the options every model shares. An app that has its own --out
-- (the Lasso's text model) keeps it: with --predict it is the predictions.
function M.options(app)
  app:option("save", nil, "write the trained model to this file (.npz; .npy for one array) "
             .. "and its description to FILE.json", { type = "string" })
  app:option("init_model", nil, "start training from the model saved in this file", { type = "string" })
  app:option("predict", false, "predict instead of training: --model on --data into --out")
  app:option("model", nil, "--predict: the model, a file written by --save", { type = "string" })
  local has_out = false
  for _, o in ipairs(app.options) do if o.key == "out" then has_out = true end end
  if not has_out then
    app:option("out", nil, "--predict: write the predictions to this file", { type = "string" })
  end
  return app
end

-- Wraps the app's hooks so that --predict runs app:predict(ctx, model) in
-- finish instead of training (setup declares nothing, workers return at
-- once), and checks the options of each mode. Returns the app.
function M.app(app)
  current_app = app
  if type(app.predict) ~= "function" then
    error("bad argument 'app' to model.app (the app defines no app:predict(ctx, m))", 2)
  end
  local setup, worker, finish = app.setup, app.worker, app.finish
  function app.setup(self, ctx)
    local opt = ctx.opt
    if opt.predict then
      if not opt.model then fail("--predict needs --model FILE (a model written by --save)") end
      if not opt.out then fail("--predict needs --out FILE (where the predictions go)") end
      if opt.save or opt.init_model then fail("--predict takes neither --save nor --init-model") end
      self.clock_count = nil -- a prediction takes no training clocks
      return nil
    end
    if opt.model then fail("--model is for --predict (to train from a saved model: --init-model FILE)") end
    if setup then return setup(self, ctx) end
  end
  function app.worker(self, ctx)
    if ctx.opt.predict then return end
    if not worker then error(app.name .. ": the script defines no app:worker(ctx)", 0) end
    return worker(self, ctx)
  end
  function app.finish(self, ctx)
    if ctx.opt.predict then return self:predict(ctx, M.load(ctx.opt.model)) end
    -- A scheduled run that made no round leaves the engine no final model
    -- values (pmls_model_values is NULL): say so rather than read them.
    if ctx.width and ctx.model == nil then
      fail(app.name .. ": the run made no round, so it has no model to finish with")
    end
    if finish then return finish(self, ctx) end
  end
  return app
end

-- ---- arrays ------------------------------------------------------------------------

local function shape_text(shape)
  if #shape == 0 then return "a scalar" end
  local parts = {}
  for k, n in ipairs(shape) do parts[k] = tostring(n) end
  return table.concat(parts, " x ")
end

local function count_of(shape)
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  return n
end

-- An array record of a new zeroed C array.
function M.array(dtype, shape)
  local t = core.dtypes[dtype]
  if not t then core.bad_argument("dtype", "model.array", "float64, float32, int32 or int64 expected, got "
                                  .. tostring(dtype)) end
  if type(shape) ~= "table" then core.bad_argument("shape", "model.array", "a list of sizes expected") end
  for _, s in ipairs(shape) do
    if type(s) ~= "number" or s % 1 ~= 0 or s < 0 then
      core.bad_argument("shape", "model.array", "sizes are whole numbers >= 0")
    end
  end
  local ctype = core.ctypes[tonumber(t)]
  local n = count_of(shape)
  local data = ffi.new(ctype .. "[?]", math.max(n, 1))
  return { dtype = core.dtype_names[tonumber(t)], shape = shape, data = data, n = n }
end

-- Columns first .. first + count - 1 of a rows x cols array, as a new
-- rows x count array (count 1 and `flat`: a vector of rows).
function M.columns(a, first, count, flat)
  local rows, cols = a.shape[1], a.shape[2] or 1
  if first < 0 or count < 0 or first + count > cols then
    core.bad_argument("first", "model.columns", ("columns %d..%d of %d"):format(first, first + count - 1, cols))
  end
  local out = M.array(a.dtype, (flat and count == 1) and { rows } or { rows, count })
  local src, dst = a.data, out.data
  for r = 0, rows - 1 do
    for f = 0, count - 1 do dst[r * count + f] = src[r * cols + first + f] end
  end
  return out
end

-- A rows x width array whose columns are the given arrays' (each rows x c
-- or a vector of rows), side by side, of the first one's dtype.
function M.join_columns(parts)
  local rows, width = parts[1].shape[1], 0
  for _, p in ipairs(parts) do width = width + (p.shape[2] or 1) end
  local out = M.array(parts[1].dtype, { rows, width })
  local at = 0
  for _, p in ipairs(parts) do
    local c = p.shape[2] or 1
    for r = 0, rows - 1 do
      for f = 0, c - 1 do out.data[r * width + at + f] = p.data[r * c + f] end
    end
    at = at + c
  end
  return out
end

-- The C struct of an array record (kept alive by the record).
local function to_c(name, v)
  local a = ffi.new("pmls_array")
  a.dtype = core.dtypes[v.dtype]
  a.ndim = #v.shape
  for k, s in ipairs(v.shape) do a.shape[k - 1] = s end
  a.data = v.data
  return a
end

local function dump_table(T)
  local a = ffi.new("pmls_array")
  if C.pmls_table_dump(T.client, T.id, a) ~= 0 then fail(core.client_error(T.client)) end
  ffi.gc(a, C.pmls_array_free)
  local shape = { tonumber(a.shape[0]), tonumber(a.shape[1]) }
  return { dtype = T.dtype, shape = shape, n = count_of(shape), _c = a,
           data = ffi.cast(core.ctypes[tonumber(a.dtype)] .. " *", a.data) }
end

-- model.read(T) -> the whole dense table T as a rows x cols array (one
-- batched read: in finish, the trained table).
M.read = dump_table

-- What model.save takes for one array: a record, a table handle or a number.
local function as_record(name, v)
  if type(v) == "number" then
    local r = M.array("float64", {})
    r.data[0] = v
    return r
  end
  if type(v) == "table" and v.client and v.id and v.rows then return dump_table(v) end
  if type(v) == "table" and v.dtype and v.shape and v.data then return v end
  core.bad_argument("arrays", "model.save", ("%s: an array {dtype, shape, data}, a table or a number expected")
                    :format(name), 3)
end

-- ---- JSON (the sidecar) ------------------------------------------------------------

local function json(v, out)
  local t = type(v)
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then out[#out + 1] = "null"
    elseif v % 1 == 0 and math.abs(v) < 2 ^ 53 then out[#out + 1] = ("%d"):format(v)
    else out[#out + 1] = ("%.17g"):format(v) end
  elseif t == "string" then
    out[#out + 1] = '"' .. v:gsub('[%c"\\]', function(c)
      return ("\\u%04x"):format(c:byte())
    end) .. '"'
  elseif t == "boolean" then out[#out + 1] = tostring(v)
  elseif t == "table" then
    if #v > 0 or getmetatable(v) == LIST then
      out[#out + 1] = "["
      for k, x in ipairs(v) do
        if k > 1 then out[#out + 1] = ", " end
        json(x, out)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = tostring(k) end
      table.sort(keys)
      out[#out + 1] = "{"
      for k, key in ipairs(keys) do
        if k > 1 then out[#out + 1] = ", " end
        json(key, out)
        out[#out + 1] = ": "
        json(v[key] == nil and v[tonumber(key)] or v[key], out)
      end
      out[#out + 1] = "}"
    end
  else
    out[#out + 1] = "null"
  end
end

local function json_text(v)
  local out = {}
  json(v, out)
  return table.concat(out)
end

-- Writes text to path through path.tmp and a rename.
local function write_atomic(path, text)
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "w")
  if not f then fail(err) end
  f:write(text)
  f:close()
  local ok, rerr = os.rename(tmp, path)
  if not ok then fail(rerr) end
end

-- ---- saving ------------------------------------------------------------------------

-- model.save(ctx, arrays [, info]) -> path. arrays maps names to arrays
-- (records, table handles or numbers); `order` in info lists the names in
-- the order of the archive (default: sorted). PATH is ctx.opt.save unless
-- info.path says otherwise; a path ending in .npy takes exactly one array.
-- info.rows (what the rows of the arrays are), info.metrics (the final
-- metrics) and info.extra (anything plain) go into PATH.json.
function M.save(ctx, arrays, info)
  info = info or {}
  local path = info.path or ctx.opt.save
  if type(path) ~= "string" or path == "" then core.bad_argument("path", "model.save", "no --save path") end
  if type(arrays) ~= "table" then core.bad_argument("arrays", "model.save", "a table of arrays expected") end
  local names = {}
  if info.order then
    for _, n in ipairs(info.order) do names[#names + 1] = n end
  else
    for n in pairs(arrays) do names[#names + 1] = n end
    table.sort(names)
  end
  if #names == 0 then core.bad_argument("arrays", "model.save", "no arrays") end
  local records, structs, described = {}, ffi.new("pmls_array[?]", #names), {}
  local cnames = ffi.new("const char *[?]", #names)
  for k, name in ipairs(names) do
    if arrays[name] == nil then core.bad_argument("order", "model.save", "no array " .. name) end
    local r = as_record(name, arrays[name])
    records[k] = r
    structs[k - 1] = to_c(name, r)
    cnames[k - 1] = name
    described[name] = { dtype = r.dtype, shape = setmetatable(r.shape, LIST) }
  end
  local err = ffi.new("char[?]", ERRLEN)
  local rc
  if path:match("%.npy$") then
    if #names ~= 1 then
      fail(("%s: a .npy file holds one array, this model has %d (%s): save it as .npz")
           :format(path, #names, table.concat(names, ", ")))
    end
    rc = C.pmls_npy_write(path, structs, err, ERRLEN)
  else
    rc = C.pmls_npz_write(path, #names, cnames, structs, info.deflate and 1 or 0, err, ERRLEN)
  end
  if rc ~= 0 then fail(ffi.string(err)) end
  local opts = {}
  for k, v in pairs(ctx.opt) do
    if k ~= "save" and k ~= "predict" and k ~= "model" then opts[k] = v end
  end
  write_atomic(path .. ".json", json_text({
    format = "pmls-model 1",
    model = current_app and current_app.name or "?",
    pmls_version = core.version(),
    file = path:match("[^/]*$"),
    arrays = described,
    order = setmetatable(names, LIST),
    rows = info.rows,
    options = opts,
    metrics = info.metrics,
    extra = info.extra,
    workers = ctx.workers, procs = ctx.procs, seed = ctx.seed,
  }) .. "\n")
  return path
end

-- ---- loading -----------------------------------------------------------------------

local Model = {}
Model.__index = Model

local function from_c(a, owner)
  local shape = {}
  for k = 0, a.ndim - 1 do shape[k + 1] = tonumber(a.shape[k]) end
  local t = tonumber(a.dtype)
  return { dtype = core.dtype_names[t], shape = shape, n = count_of(shape), _owner = owner,
           data = ffi.cast(core.ctypes[t] .. " *", a.data) }
end

-- model.load(path) -> model: m.arrays[name] for each array (m.names in the
-- file's order), m.path. A .npy file is one array named by m.names[1] =
-- "array". Raises "PATH: what" for a file that is not a model.
function M.load(path)
  if type(path) ~= "string" then core.bad_argument("path", "model.load", "string expected") end
  local err = ffi.new("char[?]", ERRLEN)
  local f = io.open(path, "rb")
  if not f then fail(path .. ": cannot open (no such file, or not readable)") end
  local magic = f:read(6) or ""
  f:close()
  local m = setmetatable({ path = path, arrays = {}, names = {} }, Model)
  if magic:sub(1, 2) == "PK" then
    local z = ffi.new("pmls_npz *[1]")
    if C.pmls_npz_read(path, z, err, ERRLEN) ~= 0 then fail(ffi.string(err)) end
    local owner = ffi.gc(z[0], C.pmls_npz_free)
    for i = 0, C.pmls_npz_count(owner) - 1 do
      local name = ffi.string(C.pmls_npz_name(owner, i))
      m.names[#m.names + 1] = name
      m.arrays[name] = from_c(C.pmls_npz_array(owner, i), owner)
    end
  else
    local a = ffi.new("pmls_array")
    if C.pmls_npy_read(path, a, err, ERRLEN) ~= 0 then fail(ffi.string(err)) end
    local owner = ffi.gc(a, C.pmls_array_free)
    m.names[1] = path:match("([^/]-)%.npy$") or "array"
    m.arrays[m.names[1]] = from_c(owner, owner)
    m.single = m.arrays[m.names[1]]
  end
  return m
end

-- m:need(name, shape [, why]) -> the array, which must have that shape
-- (a number in shape must match; true matches any size). A .npy model
-- answers every name with its one array. Raises "PATH: name is 943 x 16,
-- this run needs 943 x 32 (why)" otherwise.
function Model:need(name, shape, why)
  local a = self.arrays[name] or self.single
  if not a then
    fail(("%s: no array '%s' (it has %s): not a model of this kind?"):format(
      self.path, name, #self.names > 0 and table.concat(self.names, ", ") or "none"))
  end
  local ok = #a.shape == #shape
  for k = 1, #shape do
    if shape[k] ~= true and a.shape[k] ~= shape[k] then ok = false end
  end
  if not ok then
    local want = {}
    for k, s in ipairs(shape) do want[k] = s == true and "any" or s end
    fail(("%s: %s is %s, this run needs %s%s"):format(self.path, name, shape_text(a.shape),
         shape_text(want), why and (" (" .. why .. ")") or ""))
  end
  return a
end

-- m:scalar(name) -> the number held by a 0-d (or one-element) array.
function Model:scalar(name)
  local a = self:need(name, {}, nil)
  return tonumber(a.data[0])
end

-- model.fill(T, a): every row of the dense table T (in setup: ctx:table(name))
-- takes its first value from the rows x cols array a (pmls_table_fill).
function M.fill(T, a)
  local c = to_c("fill", a)
  if C.pmls_table_fill(T.client, T.id, c) ~= 0 then fail(core.client_error(T.client)) end
end

-- The predictions file of --out, opened for writing (a data error if not).
function M.output(ctx)
  local f, err = io.open(ctx.opt.out, "w")
  if not f then fail(err) end
  return f
end

return M
