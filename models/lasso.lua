-- Lasso by scheduled coordinate descent (STRADS schedule / push / pull). It
-- minimises, over the weights w and the intercept b,
--   1/(2n) |y - X w - b|^2 + alpha |w|_1
-- (the scikit-learn / glmnet form; --no-intercept drops b).
--
-- Data rows are sharded over the workers; each keeps the residuals
-- r = y - X w - b of its rows, and its push returns g_j = sum_i x_ij r_i
-- over its rows for the round's coordinates (sync applies the commits).
-- Rounds come in two kinds:
--   working-set rounds (the default, with one scheduler node and no
--             pipeline): every round asks for every g_j; the node measures
--             the duality gap, grows a working set by priority (the
--             objective decrease one step of each coordinate would bring)
--             and solves the problem restricted to it exactly with its
--             Gram matrix (lib.lasso_ws), then commits the changes;
--   SAP rounds (--working-set 0, other schedulers, several nodes or a
--             pipeline): the node picks --per-round coordinates (priority
--             sampling, weights (delta w_j)^2 + eta, filtered by dependency
--             |cos(x_j, x_k)| below --dependency for every pair kept; or
--             uniform / cyclic) and the pull sets
--             w_j = S(c_j w_j + g_j, n alpha) / c_j (S the soft threshold,
--             c_j = |x_j - mean x_j|^2); every --check-every rounds a check
--             round asks for every g_j and resets the priorities to the
--             changes each coordinate would make.
-- Either way b moves so that b = mean(y) - mean(X) . w stays optimal, and
-- the run stops when the duality gap is below --tol times the objective
-- (the objective is then within --tol of the optimum, relatively).
--
-- --save FILE writes the model as one array w of p + 1 float64 (w[j] the
-- weight of column j, w[p] the intercept b: .npy or .npz, docs/
-- saved-models.md); --init-model FILE starts the coordinates from one (the
-- scheduler nodes set their model, which reaches the workers' residuals as
-- the first commits); --predict --model FILE --data F --out P writes
-- x . w + b a line for each row of F and reports the mean squared error
-- against its labels (mse). Without --predict, --out writes the text model.
local pmls = require "pmls"
local model = require "pmls.model"
local array = pmls.array
local abs, max, min, sqrt = math.abs, math.max, math.min, math.sqrt

local app = pmls.app("lasso", [[Lasso by coordinate descent on the STRADS scheduler.
Minimises 1/(2n) |y - Xw - b|^2 + alpha |w|_1 (libsvm or Matrix Market data).]])
app:option("data", nil, "training data: libsvm, or Matrix Market (.mtx/.mmt; .gz allowed)",
           { type = "string", required = true })
app:option("labels", nil, "y as a separate file (Matrix Market or one number per line)", { type = "string" })
app:option("lambda", nil, "alpha, the L1 weight", { type = "number", min = 0 })
app:option("lambda_ratio", nil, "alpha as a fraction of alpha_max = |X'(y - mean y)|_inf / n", { type = "number", min = 0 })
app:option("intercept", true, "fit the unpenalised intercept b")
app:option("scheduler", "priority", "uniform, cyclic or priority", { choices = { "uniform", "cyclic", "priority" } })
app:option("per_round", 64, "coordinates updated per round", { type = "int", min = 1 })
app:option("candidates", 0, "coordinates sampled before the dependency check (0: 2 x per-round)", { type = "int", min = 0 })
app:option("dependency", 0.1, "largest |cos(x_j, x_k)| of two coordinates in one round (>= 1: no check)", { min = 0 })
app:option("eta", 1e-12, "priority floor: every coordinate keeps this weight", { min = 0 })
app:option("pipeline", 0, "rounds a push may miss the commits of", { type = "int", min = 0 })
app:option("check_every", 20, "rounds between check rounds (duality gap, priorities)", { type = "int", min = 1 })
app:option("max_rounds", 100000, "stop after this many rounds", { type = "int", min = 1 })
app:option("working_set", 4096, "largest working set the scheduler node solves exactly with its Gram matrix "
           .. "(0: rounds of --per-round parallel updates only)", { type = "int", min = 0 })
app:option("tol", 1e-7, "stop when the duality gap is below tol x the objective", { min = 0 })
app:option("out", nil, "write the model to this file: 'j w_j' per non-zero, then 'intercept b' "
           .. "(with --predict: the predictions)", { type = "string" })
model.options(app)
app:metric("objective", "sum")
app:metric("nnz", "mean")
-- A checkpoint (--checkpoint, pmls.rounds) keeps each worker's residuals of
-- its rows and the scheduler node's state: its round counters, the
-- priorities (the scheduler's), the check round's gradients and the working
-- set with its Gram matrix (lib.lasso_ws); the rows are the worker's share
-- of -w, so a resume needs the snapshot's number of workers.
app:resume_on_same_workers()

local double_array = array.float64
local lasso_ws = require "lib.lasso_ws"
local now, soft = pmls.now, lasso_ws.soft

-- Through the engine: setup, the workers and the scheduler nodes of one
-- process share one parse of a libsvm file.
local function read(ctx, more)
  local opt = ctx.opt
  local o = { labels = opt.labels }
  for k, v in pairs(more or {}) do o[k] = v end
  return assert(ctx:read_matrix(opt.data, o))
end

function app:setup(ctx)
  local opt = ctx.opt
  if (opt.lambda == nil) == (opt.lambda_ratio == nil) then
    app:usage("give exactly one of --lambda and --lambda-ratio")
  end
  if opt.tol == 0 or opt.eta == 0 then app:usage("--tol and --eta must be > 0") end
  local sched = opt.scheduler
  local ds = read(ctx)
  local n, p = ds.n, ds.d
  if n < 1 or p < 1 then error(opt.data .. ": no data", 0) end
  local ybar = 0
  if opt.intercept then
    for i = 0, n - 1 do ybar = ybar + ds.y[i] end
    ybar = ybar / n
  end
  -- alpha_max = |X_c'(y - ybar)|_inf / n; with the intercept the centring of
  -- X drops out, since sum(y - ybar) = 0.
  local g = double_array(p)
  for i = 0, n - 1 do
    local yi = ds.y[i] - ybar
    for k = tonumber(ds.rowptr[i]), tonumber(ds.rowptr[i + 1]) - 1 do
      g[ds.col[k]] = g[ds.col[k]] + ds.val[k] * yi
    end
  end
  local gmax = 0
  for j = 0, p - 1 do gmax = max(gmax, abs(g[j])) end
  local alpha_max = gmax / n
  local alpha = opt.lambda or opt.lambda_ratio * alpha_max
  if not (alpha >= 0) then error("need alpha >= 0", 0) end
  local per = min(opt.per_round, p)
  ctx:schedule({
    vars = p + 1, extra = 3, scheduler = sched, per_round = per,
    candidates = opt.dependency < 1 and max(per, opt.candidates > 0 and opt.candidates or 2 * per) or nil,
    dependency = opt.dependency < 1 and opt.dependency or nil,
    eta = sched == "priority" and opt.eta or nil,
    range = { 0, p }, round_max = p, pipeline = opt.pipeline,
  }, self)
  return { n = n, p = p, alpha = alpha, alpha_max = alpha_max, ybar = ybar }
end

-- ---- workers: residuals of their rows ------------------------------------

function app:load(ctx)
  local sh, opt = ctx.shared, ctx.opt
  if ctx.kind == "worker" then
    local ds = read(ctx, { d = sh.p, shard = { index = ctx.worker, count = ctx.workers } })
    self.csc = pmls.data.to_csc(ds)
    self.m = ds.n
    self.r = double_array(math.max(ds.n, 1))
    self.yc = double_array(math.max(ds.n, 1))
    for i = 0, ds.n - 1 do
      self.r[i] = ds.y[i]
      self.yc[i] = ds.y[i] - sh.ybar
    end
    self.l1, self.nnz = 0, 0
    local saved = ctx.resume and ctx.resume.state
    if saved then
      if array.length(saved.r) ~= array.length(self.r) then
        error(("--resume: %s: worker %d: not the residuals of its %d rows"):format(ctx.resume.path, ctx.worker,
              ds.n), 0)
      end
      array.copy(self.r, saved.r, array.length(self.r))
      self.l1, self.nnz = saved.l1, saved.nnz
    end
    return
  end
  -- A scheduler node: the whole X (the engine's read-only copy), for the
  -- column statistics, the working sets' Gram rows and, by columns, the
  -- dependency check (the column copy is made on the first check).
  local ds = read(ctx, { d = sh.p })
  self.rows = ds
  local n, p = sh.n, sh.p
  local mean, c, norm = double_array(p), double_array(p), double_array(p)
  local s2 = double_array(p)
  local col, val = ds.col, ds.val
  -- Row order, so each column's sums add up as they would by columns.
  for k = 0, ds.nnz - 1 do
    local j, v = col[k], val[k]
    mean[j], s2[j] = mean[j] + v, s2[j] + v * v
  end
  for j = 0, p - 1 do
    norm[j] = sqrt(s2[j])
    if opt.intercept then
      mean[j] = mean[j] / n
      c[j] = max(s2[j] - n * mean[j] * mean[j], 0)
    else
      mean[j], c[j] = 0, s2[j]
    end
  end
  self.mean, self.c, self.norm = mean, c, norm
  self.scatter = double_array(n)
  self.scattered = -1
  self.pot = double_array(p)
  self.kinds = {}        -- kinds of the rounds in flight, oldest first
  self.since_check = 0
  self.l1 = 0
  -- One node that sees every coordinate, with no pipeline (a check's
  -- gradients must be those of the current weights), solves working sets;
  -- with the priority scheduler only, so that the other schedulers stay
  -- what they are named.
  if opt.working_set > 0 and ctx.hi - ctx.lo == p and opt.pipeline == 0 and opt.scheduler == "priority" then
    self.ws_max = opt.working_set
    self.grad, self.xty, self.prio = double_array(p), double_array(p), double_array(p)
  end
  -- node 0 speaks for the intercept: workers start from r = y - mean(y)
  if ctx.node == 0 and opt.intercept then ctx.model[p] = sh.ybar end
  if opt.init_model then
    local w = model.load(opt.init_model):need("w", { p + 1 }, "the columns of the data + 1")
    for j = ctx.lo, min(ctx.hi, p) - 1 do
      ctx.model[j] = w.data[j]
      self.l1 = self.l1 + abs(w.data[j])
    end
    if ctx.node == 0 and opt.intercept then ctx.model[p] = w.data[p] end
  end
  local saved = ctx.resume and ctx.resume.state
  if saved then self:restore_node(ctx, saved) end
end

local function new_ws(self, ctx)
  local sh, opt = ctx.shared, ctx.opt
  return lasso_ws.new({
    n = sh.n, p = sh.p, rowptr = self.rows.rowptr, col = self.rows.col, val = self.rows.val,
    mean = opt.intercept and self.mean or nil, max_size = self.ws_max,
  })
end

-- What a checkpoint keeps (pmls.rounds: the models themselves are its own).
function app:save_state(ctx)
  if ctx.kind == "worker" then return { r = self.r, l1 = self.l1, nnz = self.nnz } end
  return { since_check = self.since_check, dispatched = self.dispatched, l1 = self.l1, checks = self.checks,
           stopping = self.stopping, ws_max = self.ws_max or 0, grad = self.grad, xty = self.xty,
           prio = self.prio, ws = self.ws and self.ws:save() or nil }
end

function app:restore_node(ctx, st)
  self.since_check, self.dispatched, self.l1 = st.since_check, st.dispatched, st.l1
  self.checks, self.stopping = st.checks, st.stopping
  if self.ws_max then
    if st.ws_max == 0 then -- the working set had filled up: parallel rounds from there
      self.ws_max = nil
    else
      local p = ctx.shared.p
      array.copy(self.grad, st.grad, p)
      array.copy(self.xty, st.xty, p)
      array.copy(self.prio, st.prio, p)
      if st.ws then
        self.ws = new_ws(self, ctx)
        self.ws:restore(st.ws)
      end
    end
  end
end

function app:sync(ctx, changed, nchanged, deltas)
  local p, r, csc, model = ctx.shared.p, self.r, self.csc, ctx.model
  local colptr, row, val = csc.colptr, csc.row, csc.val
  for i = 0, nchanged - 1 do
    local j, d = tonumber(changed[i]), deltas[i]
    if j == p then
      for q = 0, self.m - 1 do r[q] = r[q] - d end
    else
      for k = tonumber(colptr[j]), tonumber(colptr[j + 1]) - 1 do
        local q = row[k]
        r[q] = r[q] - val[k] * d
      end
      local new = model[j]
      local old = new - d
      self.l1 = self.l1 + abs(new) - abs(old)
      self.nnz = self.nnz + (new ~= 0 and 1 or 0) - (old ~= 0 and 1 or 0)
    end
  end
end

function app:push(ctx, vars, n, out)
  local csc, r = self.csc, self.r
  local colptr, row, val = csc.colptr, csc.row, csc.val
  for k = 0, n - 1 do
    local j = tonumber(vars[k])
    local s = 0
    for q = tonumber(colptr[j]), tonumber(colptr[j + 1]) - 1 do s = s + val[q] * r[row[q]] end
    out[k] = s
  end
  local ss, s1, sy, yc = 0, 0, 0, self.yc
  for q = 0, self.m - 1 do
    local v = r[q]
    ss, s1, sy = ss + v * v, s1 + v, sy + v * yc[q]
  end
  out[n], out[n + 1], out[n + 2] = ss, s1, sy
  local sh = ctx.shared
  ctx:report({ objective = ss / (2 * sh.n) + sh.alpha * self.l1 / ctx.workers, nnz = self.nnz })
end

-- ---- the scheduler node ----------------------------------------------------

-- The dependency of two coordinates, |cos(x_j, x_k)|: column j is
-- scattered once into a dense vector (the filter asks about one candidate j
-- against every kept k in a row), then each k costs only its non-zeros.
function app:dependency(ctx, j, k)
  if not self.csc then self.csc = pmls.data.to_csc(self.rows) end
  local csc, buf = self.csc, self.scatter
  local colptr, row, val = csc.colptr, csc.row, csc.val
  if self.scattered ~= j then
    local old = self.scattered
    if old >= 0 then
      for q = tonumber(colptr[old]), tonumber(colptr[old + 1]) - 1 do buf[row[q]] = 0 end
    end
    for q = tonumber(colptr[j]), tonumber(colptr[j + 1]) - 1 do buf[row[q]] = val[q] end
    self.scattered = j
  end
  local s = 0
  for q = tonumber(colptr[k]), tonumber(colptr[k + 1]) - 1 do s = s + val[q] * buf[row[q]] end
  local d = self.norm[j] * self.norm[k]
  return d > 0 and abs(s) / d or 0
end

function app:schedule(ctx, vars, cap)
  local kinds = self.kinds
  if self.stopping then return 0 end
  self.dispatched = (self.dispatched or 0) + 1
  local check = self.ws_max or self.since_check == 0 or self.since_check >= ctx.opt.check_every
                or self.dispatched >= ctx.opt.max_rounds
  if check then
    local n = 0
    for j = ctx.lo, ctx.hi - 1 do vars[n] = j; n = n + 1 end
    kinds[#kinds + 1] = "check"
    self.since_check = 1
    return n
  end
  self.since_check = self.since_check + 1
  kinds[#kinds + 1] = "update"
  return ctx.picker:next(vars)
end

function app:pull(ctx, vars, n, sum, values)
  -- solve_s counts from here: the first partials mean every worker has loaded
  if not self.started then self.started = now() end
  if table.remove(self.kinds, 1) == "check" then return self:check(ctx, vars, n, sum, values) end
  local sh, opt = ctx.shared, ctx.opt
  local p, na, mean, c = sh.p, sh.n * sh.alpha, self.mean, self.c
  local sr = opt.intercept and sum[n + 1] or 0
  local db = 0
  for k = 0, n - 1 do
    local j = tonumber(vars[k])
    local w, cj = values[k], c[j]
    local wn = 0
    if cj > 0 then wn = soft(cj * w + (sum[k] - mean[j] * sr), na) / cj end
    if not (abs(wn - w) < 1e150) then
      -- Parallel updates of coupled coordinates can blow up (Shotgun past
      -- its safe parallelism): end the run, keeping the last finite model.
      io.stderr:write(("lasso: diverged at round %d (coordinate %d); fewer --per-round or a "
                       .. "--dependency threshold keeps rounds safe\n"):format(ctx.round, j))
      ctx:note("diverged", 1)
      for q = 0, n - 1 do values[q] = ctx.model[tonumber(vars[q])] end
      self.stopping = true
      return true
    end
    values[k] = wn
    db = db - mean[j] * (wn - w)
    self.l1 = self.l1 + abs(wn) - abs(w)
  end
  if opt.intercept and db ~= 0 then ctx:add(p, db) end
end

-- A check round: g_j of every variable of this node at one residual. It
-- measures the duality gap (one node) or the largest step any coordinate
-- would take (several nodes), and sets the priorities to those steps.
function app:check(ctx, vars, n, sum, values)
  local sh, opt = ctx.shared, ctx.opt
  local N, na = sh.n, sh.n * sh.alpha
  local mean, c, model, pot = self.mean, self.c, ctx.model, self.pot
  local sr = opt.intercept and sum[n + 1] or 0
  local rr, ry = sum[n], sum[n + 2]
  local gmax, step = 0, 0
  for k = 0, n - 1 do
    local j = tonumber(vars[k])
    local g = sum[k] - mean[j] * sr
    gmax = max(gmax, abs(g))
    local w, cj = model[j], c[j]
    local wn = cj > 0 and soft(cj * w + g, na) / cj or 0
    pot[k] = wn - w
    step = max(step, abs(wn - w) * sqrt(cj))
    if self.ws_max then self.grad[j] = g end
  end
  ctx:prioritize(vars, n, pot)
  local primal = rr / 2 + na * self.l1
  local s = gmax > 0 and min(1, na / gmax) or 1
  local dual = s * ry - s * s * rr / 2
  local objective, gap = primal / N, (primal - dual) / N
  self.checks = (self.checks or 0) + 1
  local done
  if ctx.hi - ctx.lo == sh.p then -- one node: it sees every coordinate
    done = gap <= opt.tol * objective
    ctx:note("objective", objective)
    ctx:note("duality_gap", gap)
  else
    done = step <= opt.tol * sqrt(rr)
    ctx:note("largest_step", step)
  end
  ctx:note("checks", self.checks)
  ctx:note("alpha", sh.alpha)
  local last = done or ctx.round + 1 >= opt.max_rounds
  if last then
    self.stopping = true
    ctx:note("solve_s", now() - self.started)
  elseif self.ws_max then
    self:solve_working_set(ctx, vars, n, sum, values, gap / objective)
  end
  return last
end

-- A round of the working-set solver (lib.lasso_ws): W grows by the
-- coordinates whose single step would lower the objective most (at most
-- doubling, so that it stays near the support), then the problem on W is
-- solved at the residuals the check round measured, to a precision that
-- follows the whole problem's duality gap.
function app:solve_working_set(ctx, vars, n, sum, values, rel_gap)
  local sh, opt = ctx.shared, ctx.opt
  local p, N, na = sh.p, sh.n, sh.n * sh.alpha
  local grad, c, pot, prio = self.grad, self.c, self.pot, self.prio
  if not self.ws then
    -- the first round is at w = 0, where the gradient is Xc'yc
    array.copy(self.xty, grad, p)
    self.ws = new_ws(self, ctx)
  end
  local ws = self.ws
  for k = 0, n - 1 do
    local j = tonumber(vars[k])
    prio[j] = c[j] * pot[k] * pot[k]
  end
  local nnz = 0
  for a = 0, ws.m - 1 do
    if ws.w[a] ~= 0 then nnz = nnz + 1 end
  end
  local new = self.new_ids or array.int32(p)
  self.new_ids = new
  local count, full = ws:pick(prio, max(100, nnz), new)
  if full then
    -- W is full and cannot take what is still off: parallel rounds from here
    ctx:note("working_set_full", 1)
    self.ws_max, self.since_check = nil, 1
    return
  end
  local t0 = now()
  ws:add(new, count, self.xty)
  ws.stats.gram_s = ws.stats.gram_s + (now() - t0)
  local sr = opt.intercept and sum[n + 1] or 0
  local rr = sum[n] - (opt.intercept and sr * sr / N or 0)
  -- W need not be solved much better than the whole problem stands (Celer's
  -- rule): early rounds, far from the optimum, stay cheap. A W that did not
  -- grow holds the support, and is solved to the end at once.
  t0 = now()
  local tol = count == 0 and 0.1 * opt.tol or max(0.1 * opt.tol, 0.3 * rel_gap)
  ws:solve(ctx.model, grad, rr, sum[n + 2], na, tol)
  ws.stats.solve_s = ws.stats.solve_s + (now() - t0)
  local db, mean, model, lo = 0, self.mean, ctx.model, ctx.lo
  for a = 0, ws.m - 1 do
    local j = ws.ws[a]
    local d = ws.w[a] - model[j]
    values[j - lo] = ws.w[a]
    db = db - mean[j] * d
  end
  self.l1 = ws.l1
  if opt.intercept and db ~= 0 then ctx:add(p, db) end
  ctx:note("working_set", ws.m)
  for name, v in pairs(ws.stats) do ctx:note("ws_" .. name, v) end
end

function app:finish(ctx)
  local p, model_values = ctx.shared.p, ctx.model
  local nnz, l1 = 0, 0
  for j = 0, p - 1 do
    if model_values[j] ~= 0 then nnz = nnz + 1 end
    l1 = l1 + abs(model_values[j])
  end
  local intercept = ctx.opt.intercept and model_values[p] or 0
  ctx:report({ nnz = nnz, l1 = l1, intercept = intercept })
  if ctx.opt.out then
    local f = assert(io.open(ctx.opt.out, "w"))
    for j = 0, p - 1 do
      if model_values[j] ~= 0 then f:write(("%d %.17g\n"):format(j, model_values[j])) end
    end
    f:write(("intercept %.17g\n"):format(intercept))
    f:close()
  end
  if ctx.opt.save then
    local w = model.array("float64", { p + 1 })
    array.copy(w.data, model_values, p)
    w.data[p] = intercept
    model.save(ctx, { w = w }, {
      metrics = { nnz = nnz, l1 = l1, intercept = intercept, alpha = ctx.shared.alpha },
      rows = "w[j]: the weight of column j of the data (libsvm feature j + 1); w[p]: the intercept b. "
             .. "y = X w[:p] + w[p]" })
  end
end

-- --predict: x . w + b for each row of --data, and the mean squared error
-- against its labels.
function app:predict(ctx, m)
  local w = m:need("w", { true })
  local p = w.shape[1] - 1
  local ds = read(ctx, { d = p })
  local wd, out, se = w.data, model.output(ctx), 0
  for i = 0, ds.n - 1 do
    local v = wd[p]
    for k = tonumber(ds.rowptr[i]), tonumber(ds.rowptr[i + 1]) - 1 do v = v + wd[ds.col[k]] * ds.val[k] end
    out:write(("%.17g\n"):format(v))
    se = se + (ds.y[i] - v) ^ 2
  end
  out:close()
  ctx:report { mse = se / math.max(ds.n, 1), predictions = ds.n }
end

return model.app(app)
