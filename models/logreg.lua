-- L2-regularised logistic regression by minibatch SGD on libsvm / svmlight
-- files, data-parallel. It minimises, over the weights w and the bias b,
--   (1/n) sum_i log(1 + exp(-y_i (w . x_i + b))) + l2/2 |w|^2
-- (liblinear -s 0 -c C is l2 = 1/(C n), up to its penalised bias).
--
-- The model is row 0 of table "w" (the last column is the bias). Each worker
-- reads its shard of --data and visits it in a new random order every epoch,
-- --clocks-per-epoch slices of it per epoch, one slice per clock. For each
-- slice, linear.sgd_pass reads the model, runs SGD on a copy and adds the
-- copy's change divided by the number of workers P (local SGD: the model
-- moves by the mean of the workers' moves, stable for any P and staleness).
-- A worker's step is P times the serial step lr_t = lr / (1 + lr * l2 * t),
-- t counting every worker's steps, so an epoch goes as far as a serial one.
--
-- The model returned is the mean of the iterates over the last --average
-- fraction of the clocks (suffix averaging, Polyak-Ruppert), which removes
-- the noise of the last steps. Each worker sums the weights its steps lead
-- to and, at its last clock, adds the sum and its step count (the last
-- column) to table "avg". finish reports the objective of that model on
-- --data and, with --test, its accuracy and mean loss there.
local pmls = require "pmls"
local linear = require "lib.linear"

local app = pmls.app("logreg", [[L2-regularised logistic regression by SGD (libsvm files).
Minimises mean log(1 + exp(-y (w.x + b))) + l2/2 |w|^2 by local SGD on each
worker, the model moving by the mean of the workers' moves at every clock,
and returns the average of the iterates over the last --average of training.]])
app:option("data", nil, "training file (libsvm format, .gz allowed)", { type = "string", required = true })
app:option("test", nil, "held-out file, for the test accuracy at the end", { type = "string" })
app:option("epochs", 20, "passes over the data", { type = "int" })
app:option("clocks_per_epoch", 4, "clock() calls per pass: the unit of staleness", { type = "int" })
app:option("batch", 20, "minibatch size", { type = "int" })
app:option("lr", 0.05, "step size of the serial-equivalent SGD (a worker steps lr x workers)")
app:option("l2", 1e-5, "L2 regularisation of the weights (not the bias); steps decay as lr/(1+lr*l2*t)")
app:option("average", 0.5, "fraction of the training, at its end, whose iterates are averaged (0: last iterate)")
app:metric("loss", "mean")
app:metric("examples", "sum")

-- A data error ("path:LINE: ...") ends the run with that message. Reads go
-- through the engine, so setup, the workers and finish of one process parse
-- each file once.
local function read(ctx, path, opts)
  return assert(ctx:read_libsvm(path, opts))
end

function app:setup(ctx)
  local opt = ctx.opt
  if opt.epochs < 1 or opt.batch < 1 or opt.clocks_per_epoch < 1 then
    error("need --epochs, --batch and --clocks-per-epoch >= 1", 0)
  end
  if not (opt.lr > 0 and opt.l2 >= 0 and opt.average >= 0 and opt.average <= 1) then
    error("need --lr > 0, --l2 >= 0 and 0 <= --average <= 1", 0)
  end
  local d = read(ctx, opt.data).d
  if opt.test then d = math.max(d, read(ctx, opt.test).d) end
  ctx:table("w", { rows = 1, cols = d + 1 })
  if opt.average > 0 then ctx:table("avg", { rows = 1, cols = d + 2 }) end
  return { d = d }
end

function app:worker(ctx)
  local opt, d, P = ctx.opt, ctx.shared.d, ctx.workers
  local shard = read(ctx, opt.data, { d = d, shard = { index = ctx.worker, count = P } })
  local W = ctx:table("w")
  local w, grad = W:row_buffer(), W:row_buffer()
  local n, slices = shard.n, opt.clocks_per_epoch
  local clocks = opt.epochs * slices
  local first_averaged = clocks - math.ceil(opt.average * clocks)
  local avg = opt.average > 0 and ctx:table("avg"):row_buffer() or nil
  local order = pmls.array.int32(math.max(n, 1))
  for r = 0, n - 1 do order[r] = r end
  local rng = pmls.data.new_rng(ctx.seed * 7919 + ctx.worker)
  local steps = 0
  for epoch = 0, opt.epochs - 1 do
    for r = n - 1, 1, -1 do
      local j = rng.below(r + 1)
      order[r], order[j] = order[j], order[r]
    end
    for slice = 0, slices - 1 do
      local clock = epoch * slices + slice
      local span = { order = order, first = math.floor(n * slice / slices),
                     last = math.floor(n * (slice + 1) / slices),
                     avg = clock >= first_averaged and avg or nil }
      local lr = opt.lr / (1 + opt.lr * opt.l2 * steps * P)
      local loss, taken = linear.sgd_pass(shard, W, w, grad, d, lr, opt.l2, opt.batch, P, span)
      steps = steps + taken
      if span.avg then avg[d + 1] = avg[d + 1] + taken end
      if avg and clock == clocks - 1 then assert(ctx:table("avg"):inc(0, avg)) end
      local visited = span.last - span.first
      ctx:report { loss = loss / math.max(visited, 1), examples = visited }
      assert(ctx:clock())
    end
  end
end

-- The model: the averaged iterate, or the last one with --average 0.
local function model(ctx, d)
  if ctx.opt.average == 0 then return assert(ctx:table("w"):get(0)) end
  local sum = assert(ctx:table("avg"):get(0))
  local w = ctx:table("w"):row_buffer()
  for j = 0, d do w[j] = sum[j] / math.max(sum[d + 1], 1) end
  return w
end

function app:finish(ctx)
  local opt, d = ctx.opt, ctx.shared.d
  local w = model(ctx, d)
  ctx:report { objective = linear.objective(read(ctx, opt.data, { d = d }), w, d, opt.l2) }
  if not opt.test then return end
  local accuracy, loss = linear.evaluate(read(ctx, opt.test, { d = d }), w, d)
  ctx:report { test_accuracy = accuracy, test_loss = loss }
end

return app
