-- Logistic regression by minibatch SGD, data-parallel over the workers.
--
-- The data set is generated from a fixed seed (pmls.data.synthetic_logistic):
-- a sparse binary classification problem with a known true weight vector and
-- 5% label noise, so the best reachable held-out accuracy is about 95%. Each
-- worker trains on its own shard; the weights live in one row of the store
-- (the last column is the bias), read before each minibatch and updated by
-- increments. One clock = one pass over the worker's shard.
local pmls = require "pmls"

local app = pmls.app("logreg-demo", "L2-regularised logistic regression by SGD on generated data")
app:option("n", 40000, "examples generated (80% train, 20% held out)", { type = "int" })
app:option("d", 200, "features", { type = "int" })
app:option("density", 0.1, "fraction of non-zero features per example")
app:option("epochs", 10, "passes over the training data (clocks)", { type = "int" })
app:option("batch", 50, "minibatch size", { type = "int" })
app:option("lr", 0.5, "learning rate")
app:option("l2", 1e-4, "L2 regularisation")
app:metric("loss", "mean")
app:metric("examples", "sum")

local function make_data(opt, seed)
  local all = pmls.data.synthetic_logistic { n = opt.n, d = opt.d, seed = seed,
                                             density = opt.density }
  local train = pmls.data.subset(all, function(i) return i % 5 ~= 0 end)
  local test = pmls.data.subset(all, function(i) return i % 5 == 0 end)
  return train, test
end

-- Margin y * (w . x + b) of example i.
local function margin(ds, i, w, d)
  local s = w[d]
  for k = tonumber(ds.rowptr[i]), tonumber(ds.rowptr[i + 1]) - 1 do
    s = s + w[ds.col[k]] * ds.val[k]
  end
  return ds.y[i] * s
end

function app:setup(ctx)
  if ctx.opt.n < 10 or ctx.opt.d < 1 or ctx.opt.batch < 1 or ctx.opt.epochs < 1 then
    error("need --n >= 10 and --d, --batch, --epochs >= 1", 0)
  end
  ctx:table("w", { rows = 1, cols = ctx.opt.d + 1, dtype = "float64" })
end

function app:worker(ctx)
  local opt, d = ctx.opt, ctx.opt.d
  local train = make_data(opt, ctx.seed)
  local shard = pmls.data.shard(train, ctx.worker, ctx.workers)
  local W = ctx:table("w")
  local w, grad = W:row_buffer(), W:row_buffer()
  local n = shard.n
  for _ = 1, opt.epochs do
    local loss = 0
    local i = 0
    while i < n do
      local last = math.min(i + opt.batch, n)
      assert(W:get(0, w))
      for j = 0, d do grad[j] = 0 end
      for r = i, last - 1 do
        local m = margin(shard, r, w, d)
        loss = loss + (m > 0 and math.log(1 + math.exp(-m)) or (-m + math.log(1 + math.exp(m))))
        local g = -shard.y[r] / (1 + math.exp(m))   -- d loss / d (w.x)
        for k = tonumber(shard.rowptr[r]), tonumber(shard.rowptr[r + 1]) - 1 do
          local c = shard.col[k]
          grad[c] = grad[c] + g * shard.val[k]
        end
        grad[d] = grad[d] + g
      end
      local scale = -opt.lr / (last - i)
      for j = 0, d - 1 do grad[j] = scale * (grad[j] + opt.l2 * (last - i) * w[j]) end
      grad[d] = scale * grad[d]
      assert(W:inc(0, grad))
      i = last
    end
    ctx:report { loss = loss / math.max(n, 1), examples = n }
    assert(ctx:clock())
  end
end

function app:finish(ctx)
  local opt, d = ctx.opt, ctx.opt.d
  local _, test = make_data(opt, ctx.seed)
  local w = assert(ctx:table("w"):get(0))
  local correct, loss = 0, 0
  for i = 0, test.n - 1 do
    local m = margin(test, i, w, d)
    if m > 0 then correct = correct + 1 end
    loss = loss + (m > 0 and math.log(1 + math.exp(-m)) or (-m + math.log(1 + math.exp(m))))
  end
  ctx:report { test_accuracy = correct / test.n, test_loss = loss / test.n }
end

return app
