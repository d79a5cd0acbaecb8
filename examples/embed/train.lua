-- Least squares by full-batch gradient descent, on tables a host program
-- declared and filled (examples/embed/host.c, docs/embedding.md).
--
-- Two tables: `examples`, one example per row (the features, then the
-- target in the last column), and `w`, one row of weights. The host has
-- created and filled them before it runs this script, which declares them
-- like any script: a table that exists with the same spec is attached to,
-- so the run trains the host's data from the host's starting point. Every
-- worker reads its share of the examples once; then at each clock it reads
-- w and adds -lr times its part of the mean gradient, so that the workers'
-- parts together make one step of gradient descent. The host reads w back
-- after the run.
local pmls = require "pmls"

local app = pmls.app("embed-train", "least squares by gradient descent on a host's tables")
app:option("clocks", 100, "gradient steps (clocks)", { type = "int" })
app:option("lr", 1.0, "learning rate")
app:option("examples", 400, "rows of table examples", { type = "int" })
app:option("features", 5, "columns of table w", { type = "int" })
app:metric("loss", "sum")

function app:setup(ctx)
  local n, d = ctx.opt.examples, ctx.opt.features
  ctx:table("examples", { rows = n, cols = d + 1 })
  ctx:table("w", { rows = 1, cols = d })
end

function app:worker(ctx)
  local X, W = ctx:table("examples"), ctx:table("w")
  local d = W.cols
  -- The host of rank 0 filled the tables before its workers started. Once
  -- every worker of the job is past this barrier, a read sees what it
  -- wrote, whichever process the worker is in.
  assert(ctx:barrier())
  local mine = {}
  for i = ctx.worker, X.rows - 1, ctx.workers do
    mine[#mine + 1] = assert(X:get(i))
  end

  local w, step = W:row_buffer(), W:row_buffer()
  local rate = ctx.opt.lr / X.rows
  for _ = 1, ctx.opt.clocks do
    assert(W:get(0, w))
    for j = 0, d - 1 do step[j] = 0 end
    local loss = 0
    for _, x in ipairs(mine) do
      local residual = -x[d]
      for j = 0, d - 1 do residual = residual + w[j] * x[j] end
      loss = loss + 0.5 * residual * residual
      for j = 0, d - 1 do step[j] = step[j] - rate * residual * x[j] end
    end
    W:inc(0, step)
    ctx:report { loss = loss / X.rows }
    assert(ctx:clock())
  end
end

return app
