-- pmls.linear: the pieces of linear models over CSR data sets (pmls.data)
-- that several model scripts share: margins, the logistic loss, one pass of
-- minibatch SGD against a weight row in the store, and evaluation. Weights
-- are one dense row of d + 1 values, the last being the bias.
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

-- One pass of minibatch SGD over ds for L2-regularised logistic regression.
-- W is the table handle, w and grad row buffers; opt has lr, l2, batch.
-- Returns the summed loss of the examples as they were visited.
function M.sgd_pass(ds, W, w, grad, d, opt, lr)
  local margin, loss_of = M.margin, M.logistic_loss
  local loss, n, i = 0, ds.n, 0
  while i < n do
    local last = math.min(i + opt.batch, n)
    assert(W:get(0, w))
    for j = 0, d do grad[j] = 0 end
    for r = i, last - 1 do
      local m = margin(ds, r, w, d)
      loss = loss + loss_of(m)
      local g = -ds.y[r] / (1 + exp(m))   -- d loss / d (w . x)
      for k = tonumber(ds.rowptr[r]), tonumber(ds.rowptr[r + 1]) - 1 do
        local c = ds.col[k]
        grad[c] = grad[c] + g * ds.val[k]
      end
      grad[d] = grad[d] + g
    end
    local size = last - i
    local scale = -lr / size
    for j = 0, d - 1 do grad[j] = scale * (grad[j] + opt.l2 * size * w[j]) end
    grad[d] = scale * grad[d]
    assert(W:inc(0, grad))
    i = last
  end
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

return M
