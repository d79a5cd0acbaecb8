-- pmls: the package a model script requires.
--   local pmls = require "pmls"
--   local app = pmls.app "name"      -- see pmls.app for the hooks
-- Scripts never touch the FFI: tables, clocks and reports go through ctx,
-- data files and synthetic sets through pmls.data (M.data), reproducible
-- random numbers through pmls.rng (M.rng). Code that serves particular
-- models lives beside them (models/lib/, e.g. require "lib.linear").
local core = require "pmls.core"
local appmod = require "pmls.app"

local M = {}

M.app = appmod.new
M.version = core.version
M.data = require "pmls.data"
M.rng = require "pmls.rng"

return M
