-- Logistic regression by minibatch SGD, data-parallel over the workers.
--
-- The data set is generated from a fixed seed (pmls.data.synthetic_logistic):
-- a sparse binary classification problem with a known true weight vector and
-- 5% label noise, so the best reachable held-out accuracy is about 95%. Each
-- worker trains on its own shard; the weights live in one row of the store
-- (the last column is the bias), read before each minibatch and updated by
-- increments. One clock = one pass over the worker's shard.
local pmls = require "pmls"
local linear = require "lib.linear"

local app = pmls.app("logreg-demo", "L2-regularised logistic regression by SGD on generated data")
app:option("n", 40000, "examples generated (80% train, 20% held out)", { type = "int" })
app:option("d", 200, "features", { type = "int" })
app:option("density", 0.1, "fraction of non-zero features per example")
app:option("epochs", 10, "passes over the training data (clocks)", { type = "int" })
app:option("batch", 50, "minibatch size", { type = "int" })
app:option("lr", 0.5, "learning rate")
app:option("l2", 1e-4, "L2 regularisation")
app:metric("loss", "mean")
app:metric("examples", "total")
app:clocks(function(opt) return opt.epochs end)

local function make_data(opt, seed)
  local all = pmls.data.synthetic_logistic { n = opt.n, d = opt.d, seed = seed,
                                             density = opt.density }
  local train = pmls.data.subset(all, function(i) return i % 5 ~= 0 end)
  local test = pmls.data.subset(all, function(i) return i % 5 == 0 end)
  return train, test
end

function app:setup(ctx)
  if ctx.opt.n < 10 or ctx.opt.d < 1 or ctx.opt.batch < 1 or ctx.opt.epochs < 1 then
    error("need --n >= 10 and --d, --batch, --epochs >= 1", 0)
  end
  ctx:table("w", { rows = 1, cols = ctx.opt.d + 1, dtype = "float64" })
end

function app:worker(ctx)
  local opt = ctx.opt
  local train = make_data(opt, ctx.seed)
  local shard = pmls.data.shard(train, ctx.worker, ctx.workers)
  local W = ctx:table("w")
  local w, grad = W:row_buffer(), W:row_buffer()
  for _ = 1, opt.epochs do
    local loss = linear.sgd_pass(shard, W, w, grad, opt.d, opt.lr, opt.l2, opt.batch,
                                 ctx.workers)
    ctx:report { loss = loss / math.max(shard.n, 1), examples = shard.n }
    assert(ctx:clock())
  end
end

function app:finish(ctx)
  local _, test = make_data(ctx.opt, ctx.seed)
  local w = assert(ctx:table("w"):get(0))
  local accuracy, loss = linear.evaluate(test, w, ctx.opt.d)
  ctx:report { test_accuracy = accuracy, test_loss = loss }
end

return app
