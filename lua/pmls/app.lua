-- pmls.app: what a model script returns. It carries the script's options,
-- metric declarations and the three hooks the runtime calls:
--   app:setup(ctx)   once, before the workers: declare tables and metrics;
--                    may return a plain table that every worker gets as
--                    ctx.shared;
--   app:worker(ctx)  on every worker thread, each in its own Lua state;
--   app:finish(ctx)  once, after every worker has ended: read the model
--                    back and report final values.
local options = require "pmls.options"
local core = require "pmls.core"

local M = {}
local App = {}
App.__index = App

function M.new(name, description)
  if type(name) ~= "string" then
    error("bad argument 'name' to pmls.app (string expected, got " .. type(name) .. ")", 2)
  end
  if name == "" then
    error("bad argument 'name' to pmls.app (the name is empty)", 2)
  end
  return setmetatable({ name = name, description = description,
                        options = {}, metrics = {} }, App)
end

function M.is_app(v)
  return getmetatable(v) == App
end

-- app:option(name, default, help [, {type=, short=, required=}])
function App:option(name, default, help, opts)
  options.declare(self.options, name, default, help, opts)
  return self
end

-- app:metric(name, how): how a reported value combines over the workers
-- at each clock, and over the clocks in the final metrics: "mean" (the
-- default for undeclared metrics), "sum", "last", "min" or "max" (see
-- pmls_agg in pmls.h).
function App:metric(name, how)
  if type(name) ~= "string" then
    error("bad argument 'name' to metric (string expected, got " .. type(name) .. ")", 2)
  end
  if not name:match("^[%w_%.%-]+$") or #name > 63 then
    error(("bad argument 'name' to metric (%q: 1..63 letters, digits, '_', '-' or '.')"):format(name), 2)
  end
  if not core.metric_kinds[how] then
    error(("bad argument 'how' to metric (%q: %s expected)"):format(tostring(how), core.metric_kind_list), 2)
  end
  self.metrics[#self.metrics + 1] = { name = name, how = how }
  return self
end

M.App = App
return M
