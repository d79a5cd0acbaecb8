-- lib.straggler: straggler injection for the benchmarks and experiments
-- (bench/straggler.sh, bench/block_straggler.sh), kept out of the models'
-- update equations. A model registers the options and, around each unit
-- of work (a clock's slice, a round's pass), asks the worker's straggler
-- to stretch it:
--   local straggler = require "lib.straggler"
--   straggler.options(app)                    -- at load time
--   straggler.check(ctx.opt)                  -- in setup: errors on bad values
--   local slow = straggler.new(ctx)           -- in the worker
--   local t0 = slow:start()                   -- before the work
--   local nap = slow:stretch(t0)              -- after it: sleeps, returns
--                                             -- the seconds slept (0 when off)
-- With --slow-worker W, worker W computes --slow-factor F times slower:
-- after each unit it sleeps (F - 1) times the CPU time its thread spent on
-- the unit (thread CPU time, so waiting for rows is not stretched;
-- --slow-basis wall stretches the wall time instead). With probability
-- --pause-prob it then pauses --pause-ms more (every worker does, with
-- --pause-on all). The pauses are drawn from the run's seed, so a run
-- repeats. Models report the seconds slept as slowed_s.
local pmls = require "pmls"

local M = {}

-- The options, on a model's app. `pauses` adds the random pauses (mf_sgd);
-- without it only --slow-worker and --slow-factor exist (mf_block).
function M.options(app, pauses)
  app:option("slow_worker", -1, "straggler: the worker to slow down (-1 = none)", { type = "int" })
  app:option("slow_factor", 1, "straggler: its work takes this many times longer")
  if pauses then
    app:option("pause_prob", 0, "straggler: chance per clock of an extra pause")
    app:option("pause_ms", 0, "straggler: length of a pause, in ms")
    app:option("pause_on", "slow", "straggler: who pauses: the slow worker (slow) or every worker (all)")
    app:option("slow_basis", "cpu", "straggler: stretch the thread's CPU time (cpu) or the work's wall time, waits included (wall)")
  end
  -- total: each clock's line has the seconds slept in it, the final object
  -- the run's (the straggler reports read that; "sum" would leave only the
  -- last clock's there)
  app:metric("slowed_s", "total")
end

function M.check(opt)
  if opt.slow_factor < 1 then error("need --slow-factor >= 1", 0) end
  local prob, ms = opt.pause_prob or 0, opt.pause_ms or 0
  if prob < 0 or prob > 1 or ms < 0 then error("need --pause-prob in [0, 1] and --pause-ms >= 0", 0) end
  if opt.slow_basis and opt.slow_basis ~= "cpu" and opt.slow_basis ~= "wall" then
    error("--slow-basis is cpu or wall", 0)
  end
  if opt.pause_on and opt.pause_on ~= "slow" and opt.pause_on ~= "all" then
    error("--pause-on is slow or all", 0)
  end
end

local Straggler = {}
Straggler.__index = Straggler

function M.new(ctx)
  local opt = ctx.opt
  local is_slow = ctx.worker == opt.slow_worker
  local prob, ms = opt.pause_prob or 0, opt.pause_ms or 0
  local pausing = (is_slow or opt.pause_on == "all") and prob > 0 and ms > 0
  local factor = is_slow and opt.slow_factor or 1
  return setmetatable({
    on = factor > 1 or pausing, factor = factor, pausing = pausing, prob = prob, ms = ms,
    clock = opt.slow_basis == "wall" and pmls.now or pmls.thread_time,
    pauses = pausing and pmls.rng.new(ctx.seed * 104729 + 7 + ctx.worker),
  }, Straggler)
end

-- The time a unit of work starts at (nil when this worker is not slowed).
function Straggler:start()
  return self.on and self.clock() or nil
end

-- Sleeps the unit's stretch; returns the seconds slept.
function Straggler:stretch(t0)
  if not self.on then return 0 end
  local nap = (self.factor - 1) * (self.clock() - t0)
  if self.pausing and self.pauses.uniform() < self.prob then nap = nap + self.ms * 1e-3 end
  pmls.sleep(nap)
  return nap
end

return M
