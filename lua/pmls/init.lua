-- pmls: the package a model script requires.
--   local pmls = require "pmls"
--   local app = pmls.app "name"      -- see pmls.app for the hooks
-- Scripts never touch the FFI: tables, clocks and reports go through ctx,
-- data files and synthetic sets through pmls.data (M.data), reproducible
-- random numbers through pmls.rng (M.rng), typed arrays through
-- pmls.array, time through pmls.now, pmls.thread_time and pmls.sleep,
-- the numeric kernels of a model's own loops through pmls.kernels (loaded
-- on first use: it binds the auxiliary header pmlsaux.h), saved models
-- (.npy / .npz) through pmls.model (on first use too).
-- Code that serves particular
-- models lives beside them (models/lib/, e.g. require "lib.linear").
local core = require "pmls.core"
local appmod = require "pmls.app"
local C = core.C

local M = {}

M.app = appmod.new
M.version = core.version
M.data = require "pmls.data"
M.rng = require "pmls.rng"
M.array = require "pmls.array"

-- pmls.kernels on first use, so that a script that needs none of them
-- does not bind pmlsaux.h.
setmetatable(M, { __index = function(t, k)
  if k == "kernels" or k == "model" then
    local mod = require("pmls." .. k)
    rawset(t, k, mod)
    return mod
  end
end })

-- Seconds on the engine's monotonic clock.
function M.now() return C.pmls_now() end
-- Seconds of CPU time this thread has used.
function M.thread_time() return C.pmls_thread_time() end
-- Sleeps this thread for `seconds` (nothing for 0 or less), signals or not.
function M.sleep(seconds)
  if type(seconds) ~= "number" then
    core.bad_argument("seconds", "sleep", "number expected, got " .. type(seconds))
  end
  C.pmls_sleep(seconds)
end

return M
