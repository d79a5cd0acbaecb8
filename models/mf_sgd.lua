-- Matrix factorization by SGD, data-parallel, with biases:
--   r(u, i) ≈ mu + b_u + b_i + L[u]·R[i]
--
-- L (users × rank+1) and R (items × rank+1) live in the store (the last
-- column holds the user's / item's bias), initialised
-- uniformly from the run's seed; each worker streams over its shard of the
-- ratings, reads the two rows it needs (cache hits within the staleness
-- bound) and increments them by their SGD steps. mu is the global mean of
-- the training ratings. One clock = one pass over the worker's shard.
-- Rating files: `user item rating [timestamp]`, whitespace separated
-- (MovieLens u.data / ua.base); ids are used as row numbers.
local pmls = require "pmls"
local ffi = require "ffi"

local app = pmls.app("mf-sgd", "matrix factorization by SGD (data-parallel)")
app:option("data", nil, "training ratings (user item rating [timestamp])", { type = "string", required = true })
app:option("test", nil, "held-out ratings, for the test RMSE at the end", { type = "string" })
app:option("rank", 32, "latent dimension", { type = "int" })
app:option("epochs", 20, "passes over the data", { type = "int" })
app:option("clocks_per_epoch", 4, "clock() calls per pass: the unit of staleness", { type = "int" })
app:option("lr", 0.015, "learning rate")
app:option("decay", 0, "learning rate decay: lr / (1 + decay * epoch)")
app:option("lambda", 0.05, "L2 regularisation")
app:option("init", 0.1, "initial values uniform in [-init, init)")
app:metric("train_rmse", "mean")

-- A data error ("path:LINE: ...") ends the run with that message.
local function read(path, opts) return assert(pmls.data.read_triplets(path, opts)) end

function app:setup(ctx)
  local opt = ctx.opt
  if opt.rank < 1 or opt.epochs < 1 or opt.clocks_per_epoch < 1 then
    error("need --rank, --epochs and --clocks-per-epoch >= 1", 0)
  end
  local all = read(opt.data)
  local users, items = all.max_user + 1, all.max_item + 1
  if opt.test then
    local test = read(opt.test)
    users = math.max(users, test.max_user + 1)
    items = math.max(items, test.max_item + 1)
  end
  local sum = 0
  for k = 0, all.n - 1 do sum = sum + all.rating[k] end
  ctx:table("L", { rows = users, cols = opt.rank + 1, init = "uniform", scale = opt.init })
  ctx:table("R", { rows = items, cols = opt.rank + 1, init = "uniform", scale = opt.init })
  return { mu = sum / all.n }
end

function app:worker(ctx)
  local opt, k, mu = ctx.opt, ctx.opt.rank, ctx.shared.mu
  local ds = read(opt.data, { shard = { index = ctx.worker, count = ctx.workers } })
  local L, R = ctx:table("L"), ctx:table("R")
  local lu, ri = L:row_buffer(), R:row_buffer()
  local dl, dr = L:row_buffer(), R:row_buffer()
  local user, item, rating = ds.user, ds.item, ds.rating
  -- Rating files are sorted by user; SGD wants them in random order.
  local order = ffi.new("int32_t[?]", math.max(ds.n, 1))
  local rng = pmls.data.new_rng(ctx.seed * 7919 + ctx.worker)
  for n = 0, ds.n - 1 do order[n] = n end
  for epoch = 0, opt.epochs - 1 do
    for n = ds.n - 1, 1, -1 do
      local j = rng.below(n + 1)
      order[n], order[j] = order[j], order[n]
    end
    local lr, lambda = opt.lr / (1 + opt.decay * epoch), opt.lambda
    for slice = 0, opt.clocks_per_epoch - 1 do
    local first = math.floor(ds.n * slice / opt.clocks_per_epoch)
    local last = math.floor(ds.n * (slice + 1) / opt.clocks_per_epoch)
    local se = 0
    for m = first, last - 1 do
      local n = order[m]
      local u, i = user[n], item[n]
      assert(L:get(u, lu))
      assert(R:get(i, ri))
      local pred = mu + lu[k] + ri[k]
      for f = 0, k - 1 do pred = pred + lu[f] * ri[f] end
      local e = rating[n] - pred
      se = se + e * e
      for f = 0, k - 1 do
        dl[f] = lr * (e * ri[f] - lambda * lu[f])
        dr[f] = lr * (e * lu[f] - lambda * ri[f])
      end
      dl[k] = lr * (e - lambda * lu[k])
      dr[k] = lr * (e - lambda * ri[k])
      L:inc(u, dl)
      R:inc(i, dr)
    end
    ctx:report { train_rmse = math.sqrt(se / math.max(last - first, 1)) }
    assert(ctx:clock())
    end
  end
end

function app:finish(ctx)
  local opt = ctx.opt
  if not opt.test then return end
  local test = read(opt.test)
  local L, R = ctx:table("L"), ctx:table("R")
  local k, mu = opt.rank, ctx.shared.mu
  -- Read each row once: the model is final, no need to ask per rating.
  local function rows(T)
    local cache = {}
    return function(id)
      local r = cache[id]
      if not r then
        r = assert(T:get(id))
        cache[id] = r
      end
      return r
    end
  end
  local Lrow, Rrow = rows(L), rows(R)
  local se = 0
  for n = 0, test.n - 1 do
    local lu, ri = Lrow(test.user[n]), Rrow(test.item[n])
    local pred = mu + lu[k] + ri[k]
    for f = 0, k - 1 do pred = pred + lu[f] * ri[f] end
    pred = math.min(5, math.max(1, pred))
    local e = test.rating[n] - pred
    se = se + e * e
  end
  ctx:report { test_rmse = math.sqrt(se / test.n) }
end

return app
