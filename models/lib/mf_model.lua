-- lib.mf_model: the saved form of a matrix factorization, shared by
-- models/mf_sgd.lua, mf_block.lua and mf_ccd.lua (docs/saved-models.md), so
-- that a model trained by one is predicted, and trained further, by any:
--   L          users x rank   the user factors (row u: user id u of the files)
--   R          items x rank   the item factors
--   user_bias  users, item_bias  items
--   mu         the global mean;  clip  [lo, hi], the range predictions are
--              clipped to for the test RMSE (MovieLens stars: 1, 5)
-- rating(u, i) = mu + user_bias[u] + item_bias[i] + L[u] . R[i], clipped.
local model = require "pmls.model"
local sqrt, max, min = math.sqrt, math.max, math.min

local M = {}

local ORDER = { "L", "R", "user_bias", "item_bias", "mu", "clip" }

-- Saves the parts ({ L, R, user_bias, item_bias } arrays and mu) to
-- --save, with the final metrics in the sidecar.
function M.save(ctx, parts, metrics)
  local clip = model.array("float64", { 2 })
  clip.data[0], clip.data[1] = 1, 5
  model.save(ctx, { L = parts.L, R = parts.R, user_bias = parts.user_bias, item_bias = parts.item_bias,
                    mu = parts.mu, clip = clip },
             { order = ORDER, metrics = metrics,
               rows = "L and user_bias: row u is user id u of the rating files; R and item_bias: row i is "
                      .. "item id i. rating(u, i) = mu + user_bias[u] + item_bias[i] + L[u] . R[i], "
                      .. "clipped to clip for the test RMSE" })
end

-- Splits a rows x (rank + 1) array (factors, then the bias) into the
-- factors and the bias vector.
function M.split(a, rank)
  return model.columns(a, 0, rank), model.columns(a, rank, 1, true)
end

-- The model of --init-model, checked against this run's shape: returns
-- L, R, user_bias, item_bias (arrays) and mu.
function M.load(path, users, items, rank)
  local m = model.load(path)
  local why = "users and items of the rating files x --rank"
  return m:need("L", { users, rank }, why), m:need("R", { items, rank }, why),
         m:need("user_bias", { users }, why), m:need("item_bias", { items }, why), m:scalar("mu")
end

-- --predict: the rating of every (user, item) of --data, one a line, into
-- --out; reports the RMSE over the file (predictions clipped as saved) as
-- test_rmse, and the number of predictions.
function M.predict(ctx, m)
  local ds = assert(ctx:read_triplets(ctx.opt.data))
  local L = m:need("L", { true, true })
  local rank = L.shape[2]
  local users = L.shape[1]
  local R = m:need("R", { true, rank })
  local items = R.shape[1]
  local ub, ib = m:need("user_bias", { users }), m:need("item_bias", { items })
  local mu, clip = m:scalar("mu"), m:need("clip", { 2 })
  local lo, hi = clip.data[0], clip.data[1]
  local Ld, Rd, ubd, ibd = L.data, R.data, ub.data, ib.data
  local out = model.output(ctx)
  local se = 0
  for n = 0, ds.n - 1 do
    local u, i = ds.user[n], ds.item[n]
    if u >= users or i >= items then
      model.fail(("%s: rating %d: user %d, item %d: the model has users 0..%d, items 0..%d"):format(
        ctx.opt.data, n + 1, u, i, users - 1, items - 1))
    end
    local p = mu + ubd[u] + ibd[i]
    for f = 0, rank - 1 do p = p + Ld[u * rank + f] * Rd[i * rank + f] end
    p = min(hi, max(lo, p))
    out:write(("%.17g\n"):format(p))
    local e = ds.rating[n] - p
    se = se + e * e
  end
  out:close()
  ctx:report { test_rmse = sqrt(se / ds.n), predictions = ds.n }
end

return M
