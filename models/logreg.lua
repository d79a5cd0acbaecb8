-- L2-regularised logistic regression by minibatch SGD on libsvm / svmlight
-- files, data-parallel: each worker reads its shard of --data, the weights
-- are one row of the store (the last column is the bias). The learning rate
-- decays as lr / (1 + decay * epoch). One clock = one pass over the shard.
local pmls = require "pmls"
local linear = require "pmls.linear"

local app = pmls.app("logreg", "L2-regularised logistic regression by SGD (libsvm files)")
app:option("data", nil, "training file (libsvm format, .gz allowed)", { type = "string", required = true })
app:option("test", nil, "held-out file, for the test accuracy at the end", { type = "string" })
app:option("epochs", 20, "passes over the data (clocks)", { type = "int" })
app:option("batch", 20, "minibatch size", { type = "int" })
app:option("lr", 0.05, "learning rate")
app:option("decay", 0.1, "learning rate decay per epoch")
app:option("l2", 1e-5, "L2 regularisation")
app:metric("loss", "mean")
app:metric("examples", "sum")

-- A data error ("path:LINE: ...") ends the run with that message.
local function read(path, opts) return assert(pmls.data.read_libsvm(path, opts)) end

function app:setup(ctx)
  local opt = ctx.opt
  if opt.epochs < 1 or opt.batch < 1 then error("need --epochs and --batch >= 1", 0) end
  local d = read(opt.data).d
  if opt.test then d = math.max(d, read(opt.test).d) end
  ctx:table("w", { rows = 1, cols = d + 1 })
  return { d = d }
end

function app:worker(ctx)
  local opt, d = ctx.opt, ctx.shared.d
  local shard = read(opt.data, { d = d, shard = { index = ctx.worker, count = ctx.workers } })
  local W = ctx:table("w")
  local w, grad = W:row_buffer(), W:row_buffer()
  for epoch = 0, opt.epochs - 1 do
    local loss = linear.sgd_pass(shard, W, w, grad, d, opt, opt.lr / (1 + opt.decay * epoch))
    ctx:report { loss = loss / math.max(shard.n, 1), examples = shard.n }
    assert(ctx:clock())
  end
end

function app:finish(ctx)
  if not ctx.opt.test then return end
  local d = ctx.shared.d
  local test = read(ctx.opt.test, { d = d })
  local w = assert(ctx:table("w"):get(0))
  local accuracy, loss = linear.evaluate(test, w, d)
  ctx:report { test_accuracy = accuracy, test_loss = loss }
end

return app
