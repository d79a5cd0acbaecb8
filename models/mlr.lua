-- Multinomial logistic regression (softmax regression) on libsvm files,
-- data-parallel. Over C classes it minimises, over the weights W (d x C)
-- and the biases b (C),
--   (1/n) sum_i [log sum_k exp(w_k . x_i + b_k) - (w_{y_i} . x_i + b_{y_i})]
--     + l2/2 |W|^2
-- with l2 = 1/n by default: scikit-learn's LogisticRegression(C=1,
-- multinomial) divided by n (the biases are not penalised).
--
-- The classes are the distinct labels of --data, in increasing order: class
-- k is the k-th smallest label (labels 0 .. C-1 are their own classes; -1/+1
-- are classes 0 and 1). A label must be an integer; one in --test or in a
-- --predict file that --data lacks is an error.
--
-- The model is row 0 of table "w", feature-major: w[j C + k] is the weight
-- of feature j + 1 of the files for class k, w[d C + k] class k's bias.
-- Each worker reads its shard of --data and visits it in a new random order
-- every epoch, --clocks-per-epoch slices of it per epoch, one slice per
-- clock. For each slice it reads the model, runs its steps on a copy and
-- adds the copy's change divided by the number of workers P, as
-- models/logreg.lua does. The steps are SAGA's (the C kernel
-- pmls_softmax_saga behind pmls.kernels.softmax_saga): every row remembers
-- the derivative of its loss by its C scores where it was last visited;
-- table "mu" (laid out as w) holds the mean of those derivatives times their
-- rows over the whole data set, each worker adding the change its rows made
-- at every clock. A step follows the change of its row's derivative plus
-- mu, an unbiased gradient whose noise vanishes near the optimum, so a
-- constant step converges. The step is 1 / (2 L) with L = (max_i |x_i|^2 +
-- 1) / 2, which bounds the curvature of every row's loss (the softmax's
-- Hessian in the scores is at most 1/2; the + 1 is the bias), whatever the
-- scale of the features. The default 4 P passes (at least 8) keep the
-- serial-equivalent work the same for any P, as logreg's.
--
-- finish reports the objective on --data and, with --test, the test
-- accuracy and mean log-loss. --save FILE writes W, (d + 1) x C float64
-- (row j: feature j + 1; row d: the biases), and labels, the C class labels
-- (float64); --init-model FILE starts from such a model; --predict --model
-- FILE --data F --out P writes "label probability" (the most probable class
-- and its probability) a line for each row of F and reports the accuracy
-- and mean log-loss there (docs/mlr.md, docs/saved-models.md).
local pmls = require "pmls"
local kernels = require "pmls.kernels"
local linear = require "lib.linear"
local saved_model = require "pmls.model"
local shuffle = require "lib.shuffle"

local app = pmls.app("mlr", [[Multinomial logistic regression (libsvm files, integer class labels).
Minimises the mean softmax log-loss + l2/2 |W|^2 (l2 = 1/n: scikit-learn's
C = 1) by variance-reduced (SAGA) steps on each worker, the model moving by
the mean of the workers' moves at every clock.]])
app:option("data", nil, "training file (libsvm format, .gz allowed; labels: integer classes)",
           { type = "string", required = true })
app:option("test", nil, "held-out file, for the test accuracy and log-loss at the end", { type = "string" })
app:option("epochs", nil, "passes over the data (default 4 x workers, at least 8)", { type = "int", min = 0 })
app:option("clocks_per_epoch", 4, "clock() calls per pass: the unit of staleness", { type = "int", min = 1 })
app:option("lr", nil, "each worker's step (default 1 / (max |x|^2 + 1))", { type = "number", min = 0 })
app:option("l2", nil, "L2 regularisation of the weights, not the biases (default 1/n)", { type = "number", min = 0 })
saved_model.options(app)
app:metric("loss", "mean")
app:metric("examples", "sum")
app:clocks(function(opt, shared) return shared.epochs * opt.clocks_per_epoch end)

local fail = saved_model.fail

-- A data error ("path:LINE: ...") ends the run with that message; the
-- engine parses each file once per process.
local function read(ctx, path, opts) return assert(ctx:read_libsvm(path, opts)) end

-- The distinct labels of ds, ascending; a label that is not an integer is an error.
local function labels_of(ds, path)
  local seen, list = {}, {}
  for r = 0, ds.n - 1 do
    local y = ds.y[r]
    if not seen[y] then
      if y % 1 ~= 0 then fail(("%s: row %d: label %.17g is not an integer class"):format(path, r + 1, y)) end
      seen[y] = true
      list[#list + 1] = y
    end
  end
  table.sort(list)
  return list
end

-- Each row's class (int32), from the label -> class map; a label the map lacks is an error.
local function classes_of(ds, class_of, path, role)
  local cls = pmls.array.int32(math.max(ds.n, 1))
  for r = 0, ds.n - 1 do
    local k = class_of[ds.y[r]]
    if not k then
      fail(("%s: row %d: label %.17g is not one of the %s's classes"):format(path, r + 1, ds.y[r], role))
    end
    cls[r] = k
  end
  return cls
end

local function class_map(labels)
  local m = {}
  for k, y in ipairs(labels) do m[y] = k - 1 end
  return m
end

function app:setup(ctx)
  local opt = ctx.opt
  local epochs = opt.epochs or math.max(8, 4 * ctx.workers)
  if epochs == 0 and not opt.init_model then app:usage("--epochs 0 needs --init-model") end
  if opt.lr == 0 then app:usage("--lr must be > 0") end
  local train = read(ctx, opt.data)
  local labels = labels_of(train, opt.data)
  if #labels < 2 then fail(("%s: %d distinct label(s): at least 2 classes are needed"):format(opt.data, #labels)) end
  local d = train.d
  if opt.test then
    local test = read(ctx, opt.test)
    classes_of(test, class_map(labels), opt.test, "--data") -- every test label must be a class
    d = math.max(d, test.d)
  end
  local C = #labels
  local lr = opt.lr or 1 / (linear.max_norm2(train) + 1)
  local l2 = opt.l2 or 1 / math.max(train.n, 1)
  if lr * l2 >= 1 then app:usage("--lr %g times --l2 %g must be below 1", lr, l2) end
  ctx:table("w", { rows = 1, cols = (d + 1) * C })
  ctx:table("mu", { rows = 1, cols = (d + 1) * C })
  if opt.init_model then
    local m = saved_model.load(opt.init_model)
    local W = m:need("W", { d + 1, C }, "the features of the data files + 1 by the classes")
    local saved = m:need("labels", { C }, "the classes of --data")
    for k = 1, C do
      if saved.data[k - 1] ~= labels[k] then
        fail(("%s: class %d is label %.17g there, %.17g in --data"):format(opt.init_model, k - 1,
             saved.data[k - 1], labels[k]))
      end
    end
    saved_model.fill(ctx:table("w"), { dtype = W.dtype, shape = { 1, (d + 1) * C }, data = W.data })
  end
  return { d = d, n = train.n, C = C, labels = labels, lr = lr, l2 = l2, epochs = epochs }
end

-- A checkpoint keeps each worker's SAGA memory of its rows' derivatives
-- (n x C float64, as .npy in the snapshot); the clocks before a resume's
-- start are skipped with their shuffles replayed. A worker's rows are its
-- shard of -w, so a resume needs the snapshot's number of workers.
local mine = {} -- this worker's (each worker has a Lua state of its own)

function app:save_state() return { snap = mine.snap } end

app:resume_on_same_workers()

function app:worker(ctx)
  local opt, sh, P = ctx.opt, ctx.shared, ctx.workers
  local C, d = sh.C, sh.d
  local shard = read(ctx, opt.data, { d = d, shard = { index = ctx.worker, count = P } })
  local cls = classes_of(shard, class_map(sh.labels), opt.data, "--data")
  local n = shard.n
  local order = pmls.array.int32(math.max(n, 1))
  for r = 0, n - 1 do order[r] = r end
  local rng = pmls.data.new_rng(ctx.seed * 7919 + ctx.worker)
  local W, Mu = ctx:table("w"), ctx:table("mu")
  local size = (d + 1) * C
  local w, base, mu, dmu = W:row_buffer(), W:row_buffer(), W:row_buffer(), W:row_buffer()
  local snap = linear.saga_memory(ctx, n * C)
  mine.snap = snap
  local work = pmls.array.float64(3 * C)
  local slices = opt.clocks_per_epoch
  for epoch = 0, sh.epochs - 1 do
    shuffle.all(order, 0, n, rng.below)
    for slice = 0, slices - 1 do
      if epoch * slices + slice < ctx.start_clock then goto skipped end
      local first, last = math.floor(n * slice / slices), math.floor(n * (slice + 1) / slices)
      assert(W:get(0, w))
      assert(Mu:get(0, mu))
      pmls.array.copy(base, w, size)
      pmls.array.fill(dmu, size, 0)
      local loss = kernels.softmax_saga(C, d, shard, cls, order, first, last, w, mu, dmu, snap,
                                        sh.n, sh.lr, sh.l2, work)
      kernels.scale(size, -1, base) -- base := (w - base) / P, the copy's change over P
      kernels.axpy(size, 1, w, base)
      kernels.scale(size, 1 / P, base)
      assert(W:inc(0, base))
      assert(Mu:inc(0, dmu))
      ctx:report { loss = loss / math.max(last - first, 1), examples = last - first }
      assert(ctx:clock())
      ::skipped::
    end
  end
end

-- Accuracy and mean log-loss of the feature-major weights w on ds (its
-- classes cls); pred and prob as kernels.softmax_eval takes them.
local function evaluate(C, d, ds, cls, w, pred, prob)
  local loss, right = kernels.softmax_eval(C, d, ds, cls, w, pred, prob, pmls.array.float64(C))
  local n = math.max(ds.n, 1)
  return right / n, loss / n
end

function app:finish(ctx)
  local opt, sh = ctx.opt, ctx.shared
  local C, d = sh.C, sh.d
  local w = assert(ctx:table("w"):get(0))
  local map = class_map(sh.labels)
  local train = read(ctx, opt.data, { d = d })
  local accuracy, loss = evaluate(C, d, train, classes_of(train, map, opt.data, "--data"), w)
  local norm2 = kernels.dot(d * C, w, w) -- the weights, not the biases
  local final = { objective = loss + sh.l2 / 2 * norm2, train_accuracy = accuracy,
                  classes = C, lr = sh.lr, l2 = sh.l2 }
  if opt.test then
    local test = read(ctx, opt.test, { d = d })
    final.test_accuracy, final.test_loss = evaluate(C, d, test, classes_of(test, map, opt.test, "--data"), w)
  end
  ctx:report(final)
  if opt.save then
    local W = saved_model.array("float64", { d + 1, C })
    pmls.array.copy(W.data, w, (d + 1) * C)
    local labels = saved_model.array("float64", { C })
    for k = 1, C do labels.data[k - 1] = sh.labels[k] end
    saved_model.save(ctx, { W = W, labels = labels }, { metrics = final,
      rows = "W[j, k]: the weight of feature j + 1 of the libsvm files for class k; W[d, k]: its bias; "
             .. "labels[k]: class k's label. P(class k | x) = softmax(x . W[:d] + W[d])[k]" })
  end
end

-- --predict: "label probability" for each row of --data (the most probable
-- class's label and its probability), and the accuracy and mean log-loss.
function app:predict(ctx, m)
  local W = m:need("W", { true, true })
  local d, C = W.shape[1] - 1, W.shape[2]
  local labels = m:need("labels", { C }, "one label per column of W")
  local ds = read(ctx, ctx.opt.data, { d = d })
  local map = {}
  for k = 0, C - 1 do map[labels.data[k]] = k end
  local cls = classes_of(ds, map, ctx.opt.data, "model")
  local w = W.data
  if W.dtype ~= "float64" then -- the kernel takes doubles
    w = pmls.array.float64((d + 1) * C)
    for j = 0, (d + 1) * C - 1 do w[j] = W.data[j] end
  end
  local pred, prob = pmls.array.int32(math.max(ds.n, 1)), pmls.array.float64(math.max(ds.n, 1))
  local accuracy, loss = evaluate(C, d, ds, cls, w, pred, prob)
  local out = saved_model.output(ctx)
  for i = 0, ds.n - 1 do
    out:write(("%.17g %.17g\n"):format(labels.data[pred[i]], prob[i]))
  end
  out:close()
  ctx:report { test_accuracy = accuracy, test_loss = loss, predictions = ds.n }
end

return saved_model.app(app)
