-- pmls.app: what a model script returns. It carries the script's options,
-- metric declarations and the three hooks the runtime calls:
--   app:setup(ctx)   once, before the workers: declare tables and metrics;
--                    may return a plain table that every worker gets as
--                    ctx.shared;
--   app:worker(ctx)  on every worker thread, each in its own Lua state;
--   app:finish(ctx)  once, after every worker has ended: read the model
--                    back and report final values.
-- Metrics (app:metric) and gathers (app:gather) are declared at the top
-- level of the script, beside the options.
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
                        options = {}, metrics = {}, gathers = {} }, App)
end

function M.is_app(v)
  return getmetatable(v) == App
end

-- app:option(name, default, help [, {type=, short=, required=}])
function App:option(name, default, help, opts)
  options.declare(self.options, name, default, help, opts)
  return self
end

-- app:usage(fmt, ...): a check of the options that app:option's min, max
-- and choices cannot say (one option's bound depending on another) fails
-- as they do: a usage error, one line naming the options, exit 2.
function App:usage(fmt, ...)
  if type(fmt) ~= "string" then
    error("bad argument 'fmt' to usage (string expected, got " .. type(fmt) .. ")", 2)
  end
  error({ usage = fmt:format(...) }, 0)
end

-- app:metric(name, how): how a reported value combines over the workers
-- at each clock: "mean" (the default for undeclared metrics), "sum",
-- "total", "last", "min" or "max" (see pmls_agg in pmls.h). The final
-- metrics carry each metric's last clock's value; a "total" adds up over
-- the clocks instead (examples seen, passes made).
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

-- app:gather(name, n): every worker may hand n numbers to app:finish
-- under this name, once (ctx:gather in the worker, ctx:gathered in
-- finish). The names are short and without '.', so that the table that
-- carries them (pmls.context) has a name of its own.
function App:gather(name, n)
  if type(name) ~= "string" then
    error("bad argument 'name' to gather (string expected, got " .. type(name) .. ")", 2)
  end
  if not name:match("^[%w_%-]+$") or #name > 40 then
    error(("bad argument 'name' to gather (%q: 1..40 letters, digits, '_' or '-')"):format(name), 2)
  end
  if type(n) ~= "number" or n % 1 ~= 0 or n < 1 or n > 1e6 then
    error(("bad argument 'n' to gather (a whole number 1..1000000 expected, got %s)"):format(tostring(n)), 2)
  end
  for _, g in ipairs(self.gathers) do
    if g.name == name then
      error(("bad argument 'name' to gather (%q is declared already)"):format(name), 2)
    end
  end
  self.gathers[#self.gathers + 1] = { name = name, n = n }
  return self
end

-- app:clocks(n): how many clocks the run will take, for "clock k/N" and
-- the time left in the progress lines and for the metrics header. n is a
-- number, or a function(opt, shared) called after app:setup (when the
-- count depends on the options or the data), which may return nil for
-- "not known".
function App:clocks(n)
  if type(n) ~= "function" and (type(n) ~= "number" or n % 1 ~= 0 or n < 1) then
    error(("bad argument 'n' to clocks (a whole number >= 1 or a function expected, got %s)"):format(tostring(n)), 2)
  end
  self.clock_count = n
  return self
end

-- app:resume_on_same_workers(): what this model's workers save
-- (app:save_state) belongs to their shard of the data under this -w, so
-- --resume refuses, in one line naming the model, a run whose number of
-- workers differs from the snapshot's, before any table is filled.
function App:resume_on_same_workers()
  self.same_workers = true
  return self
end

M.App = App
return M
