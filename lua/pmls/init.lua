-- pmls: the package a model script requires.
--   local pmls = require "pmls"
--   local app = pmls.app "name"      -- see pmls.app for the hooks
-- Scripts never touch the FFI: tables, clocks and reports go through ctx,
-- data files through pmls.data, vector kernels through pmls.vec.
local core = require "pmls.core"
local appmod = require "pmls.app"

local M = {}

M.app = appmod.new
M.version = core.version
M.data = require "pmls.data"

return M
