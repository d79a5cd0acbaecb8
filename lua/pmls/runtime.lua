-- pmls.runtime: the Lua half of pmls_run_script (engine/src/runtime/
-- script.c). C calls prepare() on the calling thread, worker() on each
-- worker thread (each in a fresh lua_State) and finish() back on the calling
-- thread. Values cross from prepare to the workers as a serialized blob:
-- the typed options and whatever app:setup returned (plain data only).
local core = require "pmls.core"
local appmod = require "pmls.app"
local options = require "pmls.options"
local context = require "pmls.context"
local checkpoint = require "pmls.checkpoint"
local ffi = core.ffi

local M = {}

-- Where require looks for a script's own modules, before the rest of package.path: the script's
-- directory, then the models shipped with pmls (models/ of the source tree, PREFIX/share/pmls/models
-- when installed: the sibling of this package's directory). So a model keeps the helpers that serve
-- it beside it (models/lib/linear.lua is require "lib.linear") instead of in the pmls package, and
-- a script elsewhere (examples/, a user's own) reaches the shipped ones the same way.
local package_dir = debug.getinfo(1, "S").source:match("^@(.*)/pmls/runtime%.lua$")

local function add_script_paths(path)
  local dirs = { path:match("^(.*)/[^/]*$") or "." }
  if package_dir then dirs[2] = package_dir .. "/../models" end
  for i = #dirs, 1, -1 do
    local entry = dirs[i] .. "/?.lua;" .. dirs[i] .. "/?/init.lua;"
    if not package.path:find(entry, 1, true) then
      package.path = entry .. package.path
    end
  end
end

local function load_app(path)
  add_script_paths(path)
  local chunk, err = loadfile(path)
  if not chunk then error(err, 0) end
  local app = chunk()
  if not appmod.is_app(app) then
    error(path .. ": the script must return an app (local app = pmls.app \"name\" ... return app)", 0)
  end
  return app
end

-- ---- serialization of plain data ----------------------------------------

local function serialize(v, out, depth, path)
  local t = type(v)
  if t == "number" then
    if v ~= v then out[#out + 1] = "0/0"
    elseif v == math.huge then out[#out + 1] = "math.huge"
    elseif v == -math.huge then out[#out + 1] = "-math.huge"
    else out[#out + 1] = ("%.17g"):format(v) end
  elseif t == "string" then out[#out + 1] = ("%q"):format(v)
  elseif t == "boolean" or t == "nil" then out[#out + 1] = tostring(v)
  elseif t == "table" then
    if depth > 32 then error("app:setup returned data nested too deep", 0) end
    out[#out + 1] = "{"
    for k, x in pairs(v) do
      local where = path .. (type(k) == "string" and ("." .. k) or ("[" .. tostring(k) .. "]"))
      out[#out + 1] = "["
      serialize(k, out, depth + 1, where)
      out[#out + 1] = "]="
      serialize(x, out, depth + 1, where)
      out[#out + 1] = ","
    end
    out[#out + 1] = "}"
  else
    error(("app:setup may only return plain data (numbers, strings, booleans, tables); %s is a %s"):format(path, t), 0)
  end
end

local function encode(v)
  local out = { "return " }
  serialize(v, out, 0, "shared")
  return table.concat(out)
end

local function decode(blob)
  local chunk = assert(loadstring(blob, "=shared"))
  setfenv(chunk, { math = { huge = math.huge } })
  return chunk()
end

-- ---- the metrics header ---------------------------------------------------

local function json_string(v)
  return '"' .. v:gsub('[%c"\\]', function(ch)
    if ch == '"' or ch == "\\" then return "\\" .. ch end
    return ("\\u%04x"):format(ch:byte())
  end) .. '"'
end

-- The script and its options as one JSON object on one line: every
-- declared option with the value it has in this run.
local function options_json(declared, opt, path)
  local out = { '{"script":', json_string(path) }
  for _, d in ipairs(declared) do
    local v = opt[d.key]
    local js
    if type(v) == "number" then
      js = (v ~= v or v == math.huge or v == -math.huge) and "null" or ("%.17g"):format(v)
    elseif type(v) == "boolean" then js = tostring(v)
    elseif type(v) == "string" then js = json_string(v)
    else js = "null" end
    out[#out + 1] = "," .. json_string(d.key) .. ":" .. js
  end
  out[#out + 1] = "}"
  return table.concat(out)
end

-- ---- the three phases ----------------------------------------------------

local main_app -- prepare and finish run in the same state

function M.prepare(engine_ud, path, argv)
  local engine = ffi.cast("pmls_engine *", engine_ud)
  local app = load_app(path)
  local opt = options.parse(app.options, argv)
  if not opt then
    print(options.help(app.options, path, app.description))
    return nil
  end
  for _, m in ipairs(app.metrics) do
    if core.C.pmls_metric_declare(engine, m.name, core.metric_kinds[m.how]) ~= 0 then
      error(path .. ": " .. core.engine_error(engine), 0)
    end
  end
  local shared, ctx = nil, context.setup(engine, opt)
  if app.setup then shared = app:setup(ctx) end
  local closed, why = ctx:close() -- the rows setup filled are in the store now
  if not closed then error(path .. ": " .. why, 0) end
  local clocks = app.clock_count
  if type(clocks) == "function" then clocks = clocks(opt, shared) end
  if clocks ~= nil and (type(clocks) ~= "number" or clocks % 1 ~= 0 or clocks < 0) then
    error(("%s: app:clocks' function returned %s (a whole number or nil expected)"):format(path, tostring(clocks)), 0)
  end
  local opts_json = options_json(app.options, opt, path)
  if core.C.pmls_metrics_header(engine, opts_json, clocks or 0) ~= 0 then
    error(path .. ": " .. core.engine_error(engine), 0)
  end
  -- after setup's tables, so that the ids of those stay what they were
  local gathers, err = context.declare_gathers(engine, app.gathers)
  if not gathers then error(path .. ": " .. err, 0) end
  -- checkpoints: the tables filled from the snapshot a run resumes from
  local ckpt, resume = checkpoint.config(engine), nil
  if ckpt and ctx.schedule_spec then
    local ok, why = checkpoint.rounds_supported(ctx.schedule_spec, ctx.schedulers, app)
    if not ok then
      error({ usage = ("%s: checkpoints of a scheduled model need %s"):format(
        ckpt.dir and "--checkpoint" or "--resume", why) }, 0)
    end
  end
  if ckpt and ckpt.resume then resume = checkpoint.restore(engine, ckpt, opt, app) end
  main_app = app
  return encode({ opt = opt, shared = shared, schedule = ctx.schedule_spec, gathers = gathers,
                  checkpoint = ckpt, resume = resume })
end

function M.worker(client_ud, engine_ud, path, blob)
  local engine = ffi.cast("pmls_engine *", engine_ud)
  local client = ffi.cast("pmls_client *", client_ud)
  local state = decode(blob)
  local app = load_app(path)
  local ctx = context.worker(engine, client, state.opt, state.shared)
  ctx.gathers = state.gathers
  if state.schedule then
    return require("pmls.rounds").worker(app, ctx, state.schedule, state.checkpoint, state.resume)
  end
  if not app.worker then
    error(path .. ": the script defines no app:worker(ctx)", 0)
  end
  ctx.start_clock = 0
  if state.checkpoint then checkpoint.attach(ctx, app, state.checkpoint, state.resume) end
  app:worker(ctx)
end

function M.scheduler(node_ud, client_ud, engine_ud, path, blob)
  local engine = ffi.cast("pmls_engine *", engine_ud)
  local client = ffi.cast("pmls_client *", client_ud)
  local node = ffi.cast("pmls_sched *", node_ud)
  local state = decode(blob)
  local app = load_app(path)
  local ctx = context.scheduler(engine, client, state.opt, state.shared,
                                core.C.pmls_sched_node(node))
  return require("pmls.rounds").scheduler(app, ctx, state.schedule, node, state.checkpoint, state.resume)
end

function M.finish(client_ud, engine_ud, path, blob)
  local app = main_app or load_app(path)
  if not app.finish then return end
  local engine = ffi.cast("pmls_engine *", engine_ud)
  local client = ffi.cast("pmls_client *", client_ud)
  local state = decode(blob)
  local ctx = context.finish(engine, client, state.opt, state.shared)
  ctx.gathers = state.gathers
  if state.schedule then
    -- NULL when no round ran: nil, which a script can test, rather than a
    -- pointer whose first index ends the process
    local values = core.C.pmls_model_values(engine)
    ctx.model, ctx.width = values ~= nil and values or nil, state.schedule.width
  end
  app:finish(ctx)
end

M.encode, M.decode = encode, decode
return M
