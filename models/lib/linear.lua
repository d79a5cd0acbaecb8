-- lib.linear (models/lib/linear.lua): the pieces of linear models over CSR
-- data sets (pmls.data) that several model scripts share: margins, the
-- logistic loss, minibatch SGD (against a weight row in the store, or on a
-- local copy), and evaluation. It serves models/logreg.lua and the demo, not
-- the engine, so it lives beside the models (a script finds it with
-- require "lib.linear", see pmls.runtime) rather than in the pmls package.
-- Every parameter is an argument (lr, l2, batch), whatever a script calls
-- its options. Weights are one dense row of d + 1 values, the last being
-- the bias. The objective is the L2-regularised logistic loss
--   (1/n) sum_i log(1 + exp(-y_i (w . x_i + b))) + l2/2 |w|^2
-- (the bias is not penalised).
local array = require "pmls.array"

local M = {}

local exp, log = math.exp, math.log

-- The largest |x_i|^2 over the rows of ds: what a safe SAGA step (about
-- 1 / L for the logistic and the softmax loss) is built from.
function M.max_norm2(ds)
  local max = 0
  for r = 0, ds.n - 1 do
    local s = 0
    for k = tonumber(ds.rowptr[r]), tonumber(ds.rowptr[r + 1]) - 1 do s = s + ds.val[k] ^ 2 end
    if s > max then max = s end
  end
  return max
end

-- A worker's SAGA memory of its examples' derivatives: n float64 values,
-- zero at the start, or the ones its checkpoint kept as state.snap when the
-- run resumes (--resume); a snapshot without them, or of another size (the
-- worker's share of another data set), is refused.
function M.saga_memory(ctx, n)
  local snap = array.float64(math.max(n, 1))
  if ctx.start_clock == 0 then return snap end
  local saved = ctx.resume.state and ctx.resume.state.snap
  if array.length(saved) ~= array.length(snap) then
    error("--resume: the snapshot holds no SAGA memory of this worker's examples", 0)
  end
  return saved
end

-- y_i * (w . x_i + b)
function M.margin(ds, i, w, d)
  local s = w[d]
  for k = tonumber(ds.rowptr[i]), tonumber(ds.rowptr[i + 1]) - 1 do
    s = s + w[ds.col[k]] * ds.val[k]
  end
  return ds.y[i] * s
end

-- log(1 + exp(-m)), without overflow for large |m|.
function M.logistic_loss(m)
  if m > 0 then return log(1 + exp(-m)) end
  return -m + log(1 + exp(m))
end

-- Minibatch SGD on the weights w themselves (a local copy: nothing is read
-- from or written to the store), over the rows order[first .. last - 1]
-- (rows first .. last - 1 in file order when order is nil). Each step takes the next batch rows and
-- moves w by -lr times their mean gradient of the objective with L2 weight
-- l2. When avg is a buffer, it gets the sum of the weights every step
-- leads to. grad is scratch of d + 1 doubles (a row buffer). Returns the
-- summed loss of the examples as they were visited and the number of steps.
--
-- A step costs what its rows' non-zeros cost, whatever d: the weights are
-- kept as w = a * v (the bias apart, never shrunk), so the L2 shrink of
-- every weight is the one product a = a * (1 - lr l2) and the gradient
-- touches only the rows' features of v, in w's own storage. The running
-- sum of the iterates is likewise kept as B v - U, with B the sum of the
-- scales a so far and U gaining B times each change of v (before that
-- step's a joins B): the sum of a_t v_t without touching every weight at
-- every step. w (and avg) are brought back to plain weights at the end,
-- and on the way whenever a grows too small for v to hold the weights
-- without overflowing.
local RESCALE_BELOW = 1e-100

function M.sgd_local(ds, order, first, last, w, grad, d, lr, l2, batch, avg)
  local y, rowptr, col, val = ds.y, ds.rowptr, ds.col, ds.val
  local loss_of = M.logistic_loss
  local shrink = 1 - lr * l2
  if not (shrink > 0) then
    error(("bad argument 'lr' to sgd_local (lr * l2 = %g: a step would flip the weights' sign)"):format(lr * l2), 2)
  end
  local U = grad
  local scale, scales, bias, bias_sum = 1, 0, w[d], 0
  if avg then for j = 0, d - 1 do U[j] = 0 end end
  -- Turns v back into plain weights (and adds B v - U to avg).
  local function settle()
    for j = 0, d - 1 do
      if avg then avg[j] = avg[j] + scales * w[j] - U[j]; U[j] = 0 end
      w[j] = scale * w[j]
    end
    scale, scales = 1, 0
  end
  local coef = array.float64(math.min(batch, math.max(last - first, 1)))
  local loss, steps, i = 0, 0, first
  while i < last do
    local stop = math.min(i + batch, last)
    for p = i, stop - 1 do
      local r = order and order[p] or p
      local s = 0
      for k = tonumber(rowptr[r]), tonumber(rowptr[r + 1]) - 1 do s = s + w[col[k]] * val[k] end
      local m = y[r] * (scale * s + bias)
      loss = loss + loss_of(m)
      coef[p - i] = -y[r] / (1 + exp(m))   -- d loss / d (w . x)
    end
    local step = -lr / (stop - i)
    scale = scale * shrink
    local on_v, moved = step / scale, 0
    for p = i, stop - 1 do
      local r = order and order[p] or p
      local c = coef[p - i]
      moved = moved + c
      local dv = on_v * c
      if avg then
        for k = tonumber(rowptr[r]), tonumber(rowptr[r + 1]) - 1 do
          local j, change = col[k], dv * val[k]
          w[j] = w[j] + change
          U[j] = U[j] + scales * change
        end
      else
        for k = tonumber(rowptr[r]), tonumber(rowptr[r + 1]) - 1 do
          local j = col[k]
          w[j] = w[j] + dv * val[k]
        end
      end
    end
    bias = bias + step * moved
    if avg then scales, bias_sum = scales + scale, bias_sum + bias end
    if scale < RESCALE_BELOW then settle() end
    steps = steps + 1
    i = stop
  end
  settle()
  w[d] = bias
  if avg then avg[d] = avg[d] + bias_sum end
  return loss, steps
end

-- One clock of data-parallel SGD against the weight row 0 of table W, by
-- local SGD (model averaging): it reads the row into w once, runs sgd_local
-- on that copy with the step lr * workers (l2 and batch as there), and
-- increments the row by the copy's change divided by workers (pass
-- ctx.workers). With every worker doing so, the model moves by the mean of
-- the workers' moves, which stays stable for any number of workers and any
-- staleness, and an epoch moves it as far as an epoch of serial SGD at step
-- lr. (With workers = 1, the default, the workers' full moves add up: from
-- three workers on, they overshoot wherever they all settle on the same
-- direction within a clock, and the model diverges.) span (optional):
-- order, first, last (the rows order[first .. last - 1]; by default all
-- rows in file order) and avg (see sgd_local). Returns the summed loss of
-- the examples as they were visited and the number of steps.
function M.sgd_pass(ds, W, w, grad, d, lr, l2, batch, workers, span)
  workers, span = workers or 1, span or {}
  assert(W:get(0, w))
  local base = W:row_buffer()
  for j = 0, d do base[j] = w[j] end
  local loss, steps = M.sgd_local(ds, span.order, span.first or 0, span.last or ds.n,
                                  w, grad, d, lr * workers, l2, batch, span.avg)
  for j = 0, d do grad[j] = (w[j] - base[j]) / workers end
  assert(W:inc(0, grad))
  return loss, steps
end

-- Variance-reduced SGD (SAGA-like) on the weights w themselves (a local
-- copy), over the rows order[first .. last - 1], one row a step. Each row
-- keeps the derivative of its loss at the last weights it was seen at,
-- snap[r] (0 before its first visit), and mu holds the mean over all n
-- rows of the whole data set of snap[r] x_r (the bias: mean of snap[r]).
-- A step moves w by -lr times
--   (l'(w.x_r) - snap[r]) x_r + mu + l2 w      (no l2 on the bias),
-- whose mean over the rows is the gradient of the objective, but whose
-- noise vanishes as w settles (every row's snapshot tends to its value at
-- the optimum), so the iterates converge with a constant step. mu stays
-- fixed during a pass; each step sets snap[r] to the new derivative and
-- adds the change of snap[r] x_r / n to dmu (d + 1 doubles, which the
-- caller zeroes), the increment that keeps mu the mean of the snapshots.
-- Every row is visited at most once per pass, so snap[r] is always the
-- snapshot mu holds. Returns the summed loss of the rows as visited.
--
-- A step costs what its row's non-zeros cost, whatever d: between its
-- row's updates every weight follows w <- (1 - lr l2) w - lr mu, so w is
-- kept as a v + c mu with two scalars (the bias apart) and a step touches
-- v only at the row's features, in w's own storage. w is brought back to
-- plain weights at the end, and on the way whenever a grows too small.
function M.saga_local(ds, order, first, last, w, mu, dmu, snap, n, d, lr, l2)
  local y, rowptr, col, val = ds.y, ds.rowptr, ds.col, ds.val
  local shrink = 1 - lr * l2
  if not (shrink > 0) then
    error(("bad argument 'lr' to saga_local (lr * l2 = %g: a step would flip the weights' sign)"):format(lr * l2), 2)
  end
  local a, c, bias, mu_bias = 1, 0, w[d], mu[d]
  local function settle()
    for j = 0, d - 1 do w[j] = a * w[j] + c * mu[j] end
    a, c = 1, 0
  end
  local loss, per_row = 0, 1 / n
  for p = first, last - 1 do
    local r = order and order[p] or p
    local from, to = tonumber(rowptr[r]), tonumber(rowptr[r + 1]) - 1
    local on_v, on_mu = 0, 0
    for k = from, to do
      local j = col[k]
      on_v = on_v + w[j] * val[k]
      on_mu = on_mu + mu[j] * val[k]
    end
    local m = y[r] * (a * on_v + c * on_mu + bias)
    -- The loss and d loss / d (w . x) from one exp, without overflow.
    local derivative
    if m > 0 then
      local e = exp(-m)
      loss = loss + log(1 + e)
      derivative = -y[r] * e / (1 + e)
    else
      local e = exp(m)
      loss = loss - m + log(1 + e)
      derivative = -y[r] / (1 + e)
    end
    local change = derivative - snap[r]
    snap[r] = derivative
    a, c = a * shrink, c * shrink - lr
    local dv, dm = -lr * change / a, change * per_row
    for k = from, to do
      local j = col[k]
      w[j] = w[j] + dv * val[k]
      dmu[j] = dmu[j] + dm * val[k]
    end
    dmu[d] = dmu[d] + dm
    bias = bias - lr * (change + mu_bias)
    if a < RESCALE_BELOW then settle() end
  end
  settle()
  w[d] = bias
  return loss
end

-- One clock of data-parallel saga_local against row 0 of the weight
-- table W and of the table Mu (mu, see saga_local): it reads both, runs
-- saga_local on a copy of the weights with the step lr, and increments Mu
-- by the change of the mean of the snapshots (the whole of it: each row's
-- snapshot lives with one worker) and W by the copy's change divided by
-- P (1 + tau), where P is ctx.workers and tau the staleness of the read
-- (ctx:clock_count() - ctx:last_copy_clock()). Why the 1 + tau: a local
-- pass nearly converges in the stiff directions of the loss, so its
-- change is about -(w_read - w*); built on a read tau clocks old, the
-- model follows x' = x - k x(tau clocks ago), k up to 1, which diverges
-- once k > 2 sin(pi / (2 (2 tau + 1))) (0.45 at tau = 3). Dividing by
-- 1 + tau keeps it stable for any tau (staleness-aware SGD, Zhang et al.
-- 2016) and is the plain mean under BSP, where tau = 0.
-- buf: {w, base, mu, dmu}, row buffers of W. span: order, first, last as
-- for sgd_pass. Returns the summed loss of the rows as visited.
function M.saga_pass(ctx, ds, W, Mu, buf, snap, n, d, lr, l2, span)
  local w, base, mu, dmu = buf.w, buf.base, buf.mu, buf.dmu
  span = span or {}
  assert(W:get(0, w))
  local tau = math.max(0, ctx:clock_count() - ctx:last_copy_clock())
  local share = 1 / (ctx.workers * (1 + tau))
  assert(Mu:get(0, mu))
  for j = 0, d do base[j], dmu[j] = w[j], 0 end
  local loss = M.saga_local(ds, span.order, span.first or 0, span.last or ds.n,
                            w, mu, dmu, snap, n, d, lr, l2)
  for j = 0, d do base[j] = (w[j] - base[j]) * share end
  assert(W:inc(0, base))
  assert(Mu:inc(0, dmu))
  return loss
end

-- Accuracy and mean logistic loss of weights w on ds.
function M.evaluate(ds, w, d)
  local correct, loss = 0, 0
  for i = 0, ds.n - 1 do
    local m = M.margin(ds, i, w, d)
    if m > 0 then correct = correct + 1 end
    loss = loss + M.logistic_loss(m)
  end
  return correct / math.max(ds.n, 1), loss / math.max(ds.n, 1)
end

-- The objective on ds at w: mean logistic loss + l2/2 |w|^2.
function M.objective(ds, w, d, l2)
  local _, loss = M.evaluate(ds, w, d)
  local norm2 = 0
  for j = 0, d - 1 do norm2 = norm2 + w[j] * w[j] end
  return loss + l2 / 2 * norm2
end

return M
