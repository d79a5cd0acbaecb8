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
