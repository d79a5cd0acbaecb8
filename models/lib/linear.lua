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
local M = {}

local exp, log = math.exp, math.log

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

-- Sets grad to the summed gradient of the logistic loss (without the L2
-- term) over the rows order[p] (or p when order is nil), first <= p < last,
-- at the weights w. Returns their summed loss.
function M.minibatch_gradient(ds, order, first, last, w, grad, d)
  local margin, loss_of = M.margin, M.logistic_loss
  local y, rowptr, col, val = ds.y, ds.rowptr, ds.col, ds.val
  local loss = 0
  for j = 0, d do grad[j] = 0 end
  for p = first, last - 1 do
    local r = order and order[p] or p
    local m = margin(ds, r, w, d)
    loss = loss + loss_of(m)
    local g = -y[r] / (1 + exp(m))   -- d loss / d (w . x)
    for k = tonumber(rowptr[r]), tonumber(rowptr[r + 1]) - 1 do
      local c = col[k]
      grad[c] = grad[c] + g * val[k]
    end
    grad[d] = grad[d] + g
  end
  return loss
end

-- Minibatch SGD on the weights w themselves (a local copy: nothing is read
-- from or written to the store), over the rows order[first .. last - 1].
-- Each step takes the next batch rows and moves w by -lr times their mean
-- gradient of the objective with L2 weight l2. When avg is a buffer, each
-- step adds the weights it leads to. Returns the summed loss of the
-- examples as they were visited and the number of steps.
function M.sgd_local(ds, order, first, last, w, grad, d, lr, l2, batch, avg)
  local loss, steps, i = 0, 0, first
  local shrink = 1 - lr * l2
  while i < last do
    local stop = math.min(i + batch, last)
    loss = loss + M.minibatch_gradient(ds, order, i, stop, w, grad, d)
    local scale = -lr / (stop - i)
    for j = 0, d - 1 do w[j] = shrink * w[j] + scale * grad[j] end
    w[d] = w[d] + scale * grad[d]
    if avg then
      for j = 0, d do avg[j] = avg[j] + w[j] end
    end
    steps = steps + 1
    i = stop
  end
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
