-- L2-regularised logistic regression on libsvm / svmlight files,
-- data-parallel. It minimises, over the weights w and the bias b,
--   (1/n) sum_i log(1 + exp(-y_i (w . x_i + b))) + l2/2 |w|^2
-- with l2 = 1/n by default: liblinear's -s 0 -c 1 (its objective divided by
-- C n), up to liblinear's penalised bias.
--
-- The model is row 0 of table "w" (the last column is the bias). Each worker
-- reads its shard of --data and visits it in a new random order every epoch,
-- --clocks-per-epoch slices of it per epoch, one slice per clock. For each
-- slice it reads the model, runs its steps on a copy and adds the copy's
-- change divided by the number of workers P (local SGD: the model moves by
-- the mean of the workers' moves, stable for any P and staleness).
--
-- --optimizer saga (the default): variance-reduced steps (lib.linear
-- saga_local). Every row remembers the derivative of its loss where it was
-- last visited; table "mu" holds the mean of those derivatives times their
-- rows over the whole data set, each worker adding the change its rows
-- made at every clock. A step follows its row's gradient minus the row's
-- remembered one, plus mu: the gradient of the objective on average, with
-- a noise that vanishes near the optimum, so a constant step converges.
-- Each worker's step is 1 / (2 L) by default, where L = (max_i |x_i|^2 +
-- 1) / 4 bounds the curvature of every row's loss (the + 1 is the bias):
-- a step that suits any scale of the features, which is what lets one
-- default serve both a9a (|x|^2 = 14) and tf-idf rows (|x| = 1). With P
-- workers a worker's steps cover n / P rows a pass and the model moves by
-- their mean, so a pass advances it about as far as n / P serial steps:
-- the default 4 P passes (at least 8) keep the serial-equivalent work,
-- and the precision, the same for any P (within about 3e-5 of liblinear's
-- optimum on a9a, 3e-6 on 20news; docs/benchmarks.md). The other workers'
-- share of mu and w is as stale as the consistency model lets it be; a
-- staleness of several passes (async) slows convergence: add --epochs.
-- A worker's local pass nearly settles the stiff directions of the loss,
-- so a move built on a read tau clocks stale would overshoot the others'
-- moves it has not seen (on a9a, -w 4 SSP s = 3 diverged in 11 runs of
-- 30): each worker's move is divided by 1 + tau as well as by P, which
-- is stable for any bound (lib.linear saga_pass says why) and costs
-- precision only where reads are stale (a9a, -w 4, 16 epochs: BSP 3e-5
-- above the optimum, s = 1 8e-5, s = 3 2e-4, s = 5 3e-4).
--
-- --optimizer sgd: plain minibatch SGD (lib.linear sgd_pass) at a decaying
-- step: a worker steps P times the serial step lr_t = lr / (1 + lr l2 t), t
-- counting every worker's steps, so an epoch goes as far as a serial one.
-- The model returned is the mean of the iterates over the last --average
-- fraction of the clocks (suffix averaging, Polyak-Ruppert): each worker
-- sums the weights its steps lead to and, at its last clock, adds the sum
-- and its step count (the last column) to table "avg".
--
-- finish reports the objective of the model on --data and, with --test, its
-- accuracy and mean loss there, and the step and l2 used.
--
-- --save FILE writes the model as one array w of d + 1 float64 (w[j] the
-- weight of feature j + 1 of the libsvm file, w[d] the bias: a .npy or
-- .npz); --init-model FILE starts w from one; --predict --model FILE
-- --data F --out P writes "label probability" a line for each row of F and
-- reports the accuracy and mean loss there (docs/saved-models.md).
local pmls = require "pmls"
local linear = require "lib.linear"
local saved_model = require "pmls.model"
local shuffle = require "lib.shuffle"

local app = pmls.app("logreg", [[L2-regularised logistic regression (libsvm files).
Minimises mean log(1 + exp(-y (w.x + b))) + l2/2 |w|^2 (l2 = 1/n: liblinear's
-c 1) by local steps on each worker, the model moving by the mean of the
workers' moves at every clock: variance-reduced (saga, the default, to the
optimum at a constant step) or plain minibatch SGD with iterate averaging.]])
app:option("data", nil, "training file (libsvm format, .gz allowed)", { type = "string", required = true })
app:option("test", nil, "held-out file, for the test accuracy at the end", { type = "string" })
app:option("optimizer", "saga", "saga (variance-reduced, constant step) or sgd (minibatch SGD, decaying step)", { choices = { "saga", "sgd" } })
app:option("epochs", nil, "passes over the data (default: saga 4 x workers, at least 8; sgd 20)", { type = "int", min = 0 })
app:option("clocks_per_epoch", 4, "clock() calls per pass: the unit of staleness", { type = "int", min = 1 })
app:option("lr", nil, "step size. saga: each worker's step (default 2 / (max |x|^2 + 1)); "
           .. "sgd: the serial-equivalent step, a worker steps lr x workers (default 0.05)", { type = "number", min = 0 })
app:option("l2", nil, "L2 regularisation of the weights, not the bias (default 1/n)", { type = "number", min = 0 })
app:option("batch", 20, "sgd: minibatch size", { type = "int", min = 1 })
app:option("average", 0.5, "sgd: fraction of the training, at its end, whose iterates are averaged (0: last iterate)", { min = 0, max = 1 })
saved_model.options(app)
app:metric("loss", "mean")
app:metric("examples", "sum")
app:clocks(function(opt, shared) return shared.epochs * opt.clocks_per_epoch end)

-- A data error ("path:LINE: ...") ends the run with that message. Reads go
-- through the engine, so setup, the workers and finish of one process parse
-- each file once.
local function read(ctx, path, opts)
  return assert(ctx:read_libsvm(path, opts))
end

function app:setup(ctx)
  local opt = ctx.opt
  local epochs = opt.epochs or (opt.optimizer == "saga" and math.max(8, 4 * ctx.workers) or 20)
  if epochs == 0 and not opt.init_model then app:usage("--epochs 0 needs --init-model") end
  if opt.lr == 0 then app:usage("--lr must be > 0") end
  local train = read(ctx, opt.data)
  local d = train.d
  if opt.test then d = math.max(d, read(ctx, opt.test).d) end
  local lr = opt.lr or (opt.optimizer == "saga" and 2 / (linear.max_norm2(train) + 1) or 0.05)
  local l2 = opt.l2 or 1 / math.max(train.n, 1)
  ctx:table("w", { rows = 1, cols = d + 1 })
  if opt.init_model then
    local w = saved_model.load(opt.init_model):need("w", { d + 1 }, "the features of the data files + 1")
    saved_model.fill(ctx:table("w"), { dtype = w.dtype, shape = { 1, d + 1 }, data = w.data })
  end
  if opt.optimizer == "saga" then
    ctx:table("mu", { rows = 1, cols = d + 1 })
  elseif opt.average > 0 then
    ctx:table("avg", { rows = 1, cols = d + 2 })
  end
  return { d = d, n = train.n, lr = lr, l2 = l2, epochs = epochs }
end

-- The rows of slice `slice` of the epoch's order.
local function slice_span(order, n, slice, slices)
  return { order = order, first = math.floor(n * slice / slices), last = math.floor(n * (slice + 1) / slices) }
end

local function report(ctx, loss, span)
  local visited = span.last - span.first
  ctx:report { loss = loss / math.max(visited, 1), examples = visited }
  assert(ctx:clock())
end

-- A checkpoint (--checkpoint) keeps a worker's own state: with sgd the
-- steps taken and its share of the averaged iterate; with saga its memory
-- of each of its examples' gradient (an array, saved as .npy); the clocks
-- before a resume's start are skipped with their shuffles replayed.
local mine = { steps = 0 } -- this worker's (each worker has a Lua state of its own)

function app:save_state(ctx)
  if ctx.opt.optimizer == "saga" then return { snap = mine.snap } end
  local avg = {}
  if mine.avg then for j = 0, ctx.shared.d + 1 do avg[j + 1] = mine.avg[j] end end
  return { steps = mine.steps, avg = avg }
end

app:resume_on_same_workers()

local function saga_worker(ctx, shard, order, rng)
  local opt, sh, n = ctx.opt, ctx.shared, shard.n
  local W, Mu = ctx:table("w"), ctx:table("mu")
  local buf = { w = W:row_buffer(), base = W:row_buffer(), mu = W:row_buffer(), dmu = W:row_buffer() }
  local snap = linear.saga_memory(ctx, n)
  mine.snap = snap
  for epoch = 0, sh.epochs - 1 do
    shuffle.all(order, 0, n, rng.below)
    for slice = 0, opt.clocks_per_epoch - 1 do
      if epoch * opt.clocks_per_epoch + slice >= ctx.start_clock then
        local span = slice_span(order, n, slice, opt.clocks_per_epoch)
        local loss = linear.saga_pass(ctx, shard, W, Mu, buf, snap, sh.n, sh.d, sh.lr, sh.l2, span)
        report(ctx, loss, span)
      end
    end
  end
end

local function sgd_worker(ctx, shard, order, rng)
  local opt, d, P, n = ctx.opt, ctx.shared.d, ctx.workers, shard.n
  local lr0, l2 = ctx.shared.lr, ctx.shared.l2
  local W = ctx:table("w")
  local w, grad = W:row_buffer(), W:row_buffer()
  local slices, epochs = opt.clocks_per_epoch, ctx.shared.epochs
  local clocks = epochs * slices
  local first_averaged = clocks - math.ceil(opt.average * clocks)
  local avg = opt.average > 0 and ctx:table("avg"):row_buffer() or nil
  local steps = 0
  local loaded = ctx.resume and ctx.resume.state
  if loaded then
    steps = loaded.steps
    if avg then for j = 0, d + 1 do avg[j] = loaded.avg[j + 1] end end
  end
  mine.avg = avg
  for epoch = 0, epochs - 1 do
    shuffle.all(order, 0, n, rng.below)
    for slice = 0, slices - 1 do
      local clock = epoch * slices + slice
      if clock >= ctx.start_clock then
        local span = slice_span(order, n, slice, slices)
        span.avg = clock >= first_averaged and avg or nil
        local lr = lr0 / (1 + lr0 * l2 * steps * P)
        local loss, taken = linear.sgd_pass(shard, W, w, grad, d, lr, l2, opt.batch, P, span)
        steps = steps + taken
        if span.avg then avg[d + 1] = avg[d + 1] + taken end
        if avg and clock == clocks - 1 then assert(ctx:table("avg"):inc(0, avg)) end
        mine.steps = steps
        report(ctx, loss, span)
      end
    end
  end
end

function app:worker(ctx)
  local shard = read(ctx, ctx.opt.data, { d = ctx.shared.d, shard = { index = ctx.worker, count = ctx.workers } })
  local order = pmls.array.int32(math.max(shard.n, 1))
  for r = 0, shard.n - 1 do order[r] = r end
  local rng = pmls.data.new_rng(ctx.seed * 7919 + ctx.worker)
  if ctx.opt.optimizer == "saga" then saga_worker(ctx, shard, order, rng)
  else sgd_worker(ctx, shard, order, rng) end
end

-- The model: the last iterate, or with sgd the averaged one.
local function model(ctx, d)
  if ctx.opt.optimizer == "saga" or ctx.opt.average == 0 then return assert(ctx:table("w"):get(0)) end
  local sum = assert(ctx:table("avg"):get(0))
  if sum[d + 1] == 0 then return assert(ctx:table("w"):get(0)) end -- no step taken (--epochs 0)
  local w = ctx:table("w"):row_buffer()
  for j = 0, d do w[j] = sum[j] / math.max(sum[d + 1], 1) end
  return w
end

function app:finish(ctx)
  local opt, sh = ctx.opt, ctx.shared
  local w = model(ctx, sh.d)
  local final = { objective = linear.objective(read(ctx, opt.data, { d = sh.d }), w, sh.d, sh.l2),
                  lr = sh.lr, l2 = sh.l2 }
  if opt.test then
    final.test_accuracy, final.test_loss = linear.evaluate(read(ctx, opt.test, { d = sh.d }), w, sh.d)
  end
  ctx:report(final)
  if opt.save then
    local saved = saved_model.array("float64", { sh.d + 1 })
    pmls.array.copy(saved.data, w, sh.d + 1)
    saved_model.save(ctx, { w = saved }, { metrics = final,
      rows = "w[j]: the weight of feature j + 1 of the libsvm files; w[d]: the bias. "
             .. "P(y = +1 | x) = 1 / (1 + exp(-(w[:d] . x + w[d])))" })
  end
end

-- --predict: "label probability" for each row of --data (label +1 or -1,
-- the probability of +1), and the accuracy and mean loss over its labels.
function app:predict(ctx, m)
  local w = m:need("w", { true })
  local d = w.shape[1] - 1
  local ds = read(ctx, ctx.opt.data, { d = d })
  local out = saved_model.output(ctx)
  local wd = w.data
  for i = 0, ds.n - 1 do
    local s = wd[d] -- w . x + b
    for k = tonumber(ds.rowptr[i]), tonumber(ds.rowptr[i + 1]) - 1 do s = s + wd[ds.col[k]] * ds.val[k] end
    out:write(("%s %.17g\n"):format(s > 0 and "+1" or "-1", 1 / (1 + math.exp(-s))))
  end
  out:close()
  local accuracy, loss = linear.evaluate(ds, w.data, d)
  ctx:report { test_accuracy = accuracy, test_loss = loss, predictions = ds.n }
end

return saved_model.app(app)
