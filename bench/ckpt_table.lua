-- bench/checkpoint.sh's model: one dense float64 table of --rows x --cols,
-- filled in setup; each worker adds one value a clock, so a clock costs
-- next to nothing and a run's time is its snapshots'.
local pmls = require "pmls"
local app = pmls.app("ckpt-table", "a big table and cheap clocks, for checkpoint timing")
app:option("rows", 262144, "rows", { type = "int", min = 1 })
app:option("cols", 64, "columns", { type = "int", min = 1 })
app:option("clocks", 5, "clocks per worker", { type = "int", min = 1 })

function app:setup(ctx)
  ctx:table("big", { rows = ctx.opt.rows, cols = ctx.opt.cols, init = "uniform", scale = 1 })
end

function app:worker(ctx)
  local T = ctx:table("big")
  for k = ctx.start_clock + 1, ctx.opt.clocks do
    assert(T:inc(ctx.worker, 0, k))
    assert(ctx:clock())
  end
end

return app
