-- Matrix factorization by SGD, data-parallel, with biases:
--   r(u, i) ≈ mu + b_u + b_i + L[u]·R[i]
--   e = r - prediction
--   L[u] += lr (e R[i] - lambda L[u]),  R[i] += lr (e L[u] - lambda R[i])
--
-- L (users × rank+1) and R (items × rank+1) live in the store (the last
-- column holds the user's / item's bias), initialised uniformly from the
-- run's seed. mu is the global mean of the training ratings. Each worker
-- owns the users u with u % workers == its id, and takes their ratings:
-- only it ever changes their rows of L. Item rows are shared by every
-- worker, so they are updated by model averaging: in each clock a worker
-- runs SGD on its own value of each item row with the step lr × workers,
-- and the store's row moves by that change divided by the number of
-- workers, i.e. by the mean of the workers' moves, which stays stable
-- however many workers update the same item at once. With one worker this
-- is plain serial SGD.
--
-- A clock reads its rows as views (the cache's copies, in place) and
-- writes the steps into the rows' pending increments (delta pointers), so
-- a row's value is view + scale × delta, scale 1 for L and workers for R;
-- the steps run in C (kernels.sgd_mf_batch), SIMD where the CPU has it.
-- A worker's ratings are grouped into blocks of users × items small enough
-- that a block's rows stay in the CPU's cache (the order of DSGD / Fugue),
-- visited in a random order each epoch, each block's ratings shuffled in
-- runs of file neighbours (lib.shuffle: the runs' order and each run's); a
-- clock is a slice of the blocks (--clocks-per-epoch, default one clock an
-- epoch: each clock reads and writes the whole working set once). Items
-- are averaged at every clock, so many workers on a small set want more
-- clocks per epoch (8 workers on 60,000 ratings: 4). So do stale reads:
-- staleness counts clocks, and at one clock an epoch --staleness 2 lets
-- workers see each other's item moves two epochs late; on a small set the
-- averaged steps can then oscillate (13,000 ratings, ESSP s = 2: 14 of 30
-- runs on a loaded machine ended far from the fit; at 4 clocks an epoch,
-- none). The factor tables are float32 by default, as in LIBMF: half
-- the bytes of a float64 row through the caches and the store, twice the
-- SIMD width, and on the 4.5 M-rating set the same test RMSE (0.3855
-- against 0.3848; docs/benchmarks.md); --dtype float64 keeps doubles.
-- Rating files: `user item rating [timestamp]`, whitespace or comma
-- separated (MovieLens u.data / ua.base / ratings.csv); ids are row numbers.
-- Straggler injection (off by default; bench/straggler.sh): lib.straggler.
-- --save, --init-model and --predict: the saved form of lib.mf_model
-- (docs/saved-models.md).
local pmls = require "pmls"
local model = require "pmls.model"
local mf_model = require "lib.mf_model"
local straggler = require "lib.straggler"
local shuffle = require "lib.shuffle"
local array, kernels = pmls.array, pmls.kernels
local floor, max, min, sqrt = math.floor, math.max, math.min, math.sqrt

local app = pmls.app("mf-sgd", "matrix factorization by SGD (data-parallel)")
app:option("data", nil, "training ratings (user item rating [timestamp])", { type = "string", required = true })
app:option("test", nil, "held-out ratings, for the test RMSE at the end", { type = "string" })
app:option("rank", 32, "latent dimension", { type = "int", min = 1 })
app:option("epochs", 20, "passes over the data", { type = "int", min = 0 })
app:option("clocks_per_epoch", 1, "clock() calls per pass: the unit of staleness", { type = "int", min = 1 })
app:option("lr", 0.015, "learning rate", { min = 0 })
app:option("decay", 0, "learning rate decay: lr / (1 + decay * epoch)", { min = 0 })
app:option("lambda", 0.05, "L2 regularisation", { min = 0 })
app:option("init", 0.1, "initial values uniform in [-init, init)", { min = 0 })
app:option("dtype", "float32", "element type of the factor tables: float64 or float32", { type = "string", choices = { "float64", "float32" } })
app:option("block_kb", 1024, "a block's rows (user and item side, views and deltas) fit in about this many KiB", { type = "int", min = 1 })
straggler.options(app, true)
model.options(app)
app:metric("train_rmse", "mean")
app:clocks(function(opt) return opt.epochs * opt.clocks_per_epoch end)

function app:setup(ctx)
  local opt = ctx.opt
  if opt.epochs == 0 and not opt.init_model then app:usage("--epochs 0 needs --init-model") end
  straggler.check(opt)
  local all = assert(ctx:read_triplets(opt.data))
  if all.n < 1 then error(opt.data .. ": no ratings", 0) end
  local users, items = all.max_user + 1, all.max_item + 1
  if opt.test then
    local test = assert(ctx:read_triplets(opt.test))
    users, items = max(users, test.max_user + 1), max(items, test.max_item + 1)
  end
  local sum = 0
  for n = 0, all.n - 1 do sum = sum + all.rating[n] end
  local spec = { cols = opt.rank + 1, dtype = opt.dtype, init = "uniform", scale = opt.init }
  spec.rows = users
  ctx:table("L", spec)
  spec.rows = items
  ctx:table("R", spec)
  local mu = sum / all.n
  if opt.init_model then
    local L, R, bu, bi
    L, R, bu, bi, mu = mf_model.load(opt.init_model, users, items, opt.rank)
    model.fill(ctx:table("L"), model.join_columns { L, bu })
    model.fill(ctx:table("R"), model.join_columns { R, bi })
  end
  return { mu = mu }
end

-- ---- a worker's ratings, in blocks --------------------------------------------

-- My ratings (those of users u with u % P == me), grouped by block: block
-- b's ratings are order[start[b] .. start[b + 1] - 1]. Users are cut into
-- ranges of my users, items into ranges of item ids, each range's rows
-- about half of block_kb.
local function blocks_of(all, me, P, users, items, row_bytes, block_kb)
  local per_block = max(16, floor(block_kb * 1024 / 2 / row_bytes))
  local mine = floor((users - 1 - me) / P) + 1 -- users me, me + P, ...
  local ub = max(1, math.ceil(mine / per_block))
  local ib = max(1, math.ceil(items / per_block))
  local nblocks = ub * ib
  local user, item = all.user, all.item
  local function block(n)
    local local_user = floor(user[n] / P)
    return min(ub - 1, floor(local_user / per_block)) * ib + min(ib - 1, floor(item[n] / per_block))
  end
  local start = array.int32(nblocks + 1)
  local count = 0
  for n = 0, all.n - 1 do
    if user[n] % P == me then
      local b = block(n)
      start[b + 1] = start[b + 1] + 1
      count = count + 1
    end
  end
  for b = 1, nblocks do start[b] = start[b] + start[b - 1] end
  local order, fill = array.int32(max(count, 1)), array.int32(nblocks)
  for n = 0, all.n - 1 do
    if user[n] % P == me then
      local b = block(n)
      order[start[b] + fill[b]] = n
      fill[b] = fill[b] + 1
    end
  end
  return { order = order, start = start, n = nblocks, count = count, mine = mine }
end

-- ---- the workers ----------------------------------------------------------------

function app:worker(ctx)
  local opt, mu = ctx.opt, ctx.shared.mu
  local P, me, k = ctx.workers, ctx.worker, opt.rank
  local all = assert(ctx:read_triplets(opt.data))
  local L, R = ctx:table("L"), ctx:table("R")
  local elem = opt.dtype == "float32" and 4 or 8
  local plan = blocks_of(all, me, P, L.rows, R.rows, (k + 1) * elem, opt.block_kb)
  -- The rows a clock reads: my users, every item. Pointers to their views
  -- and deltas, indexed by row id, as the kernel takes them.
  local my_users = array.int64(max(plan.mine, 1))
  for j = 0, plan.mine - 1 do my_users[j] = me + j * P end
  local item_ids = array.int64(R.rows)
  for i = 0, R.rows - 1 do item_ids[i] = i end
  local uv, ud = L:view_pointers(plan.mine), L:pointers(plan.mine)
  local Uv, Ud = L:view_pointers(L.rows), L:pointers(L.rows)
  local Iv, Id = R:view_pointers(R.rows), R:pointers(R.rows)
  local blocks = array.int32(plan.n)
  for b = 0, plan.n - 1 do blocks[b] = b end
  local rng = pmls.rng.new(ctx.seed * 7919 + me)
  local slow = straggler.new(ctx)
  local order, start = plan.order, plan.start
  -- A run resumed from a checkpoint (--resume) starts at ctx.start_clock:
  -- the clocks before it are skipped, their shuffles replayed, which puts
  -- the generator and the orders where they stood (for any -w).
  local skip = ctx.start_clock
  for epoch = 0, opt.epochs - 1 do
    shuffle.all(blocks, 0, plan.n, rng.below)
    for b = 0, plan.n - 1 do shuffle.runs(order, start[b], start[b + 1], rng.below) end
    local lr = opt.lr / (1 + opt.decay * epoch)
    for slice = 0, opt.clocks_per_epoch - 1 do
      if epoch * opt.clocks_per_epoch + slice >= skip then
        local t0 = slow:start()
        assert(L:view_many(my_users, plan.mine, uv))
        assert(L:delta_many(my_users, plan.mine, ud))
        for j = 0, plan.mine - 1 do
          local u = me + j * P
          Uv[u], Ud[u] = uv[j], ud[j]
        end
        assert(R:view_many(item_ids, R.rows, Iv))
        assert(R:delta_many(item_ids, R.rows, Id))
        local se, done = 0, 0
        local first = floor(plan.n * slice / opt.clocks_per_epoch)
        local last = floor(plan.n * (slice + 1) / opt.clocks_per_epoch)
        for s = first, last - 1 do
          local b = blocks[s]
          local lo, count = start[b], start[b + 1] - start[b]
          -- u: view + delta (only I write it); i: view + P × delta, stepped
          -- with lr × P, so the store moves by the mean of the workers' steps
          se = se + kernels.sgd_mf_batch(k, count, order + lo, all.user, all.item, all.rating,
                                         Uv, Ud, 1, Iv, Id, P, mu, lr, lr * P, opt.lambda)
          done = done + count
        end
        ctx:report { train_rmse = sqrt(se / max(done, 1)) }
        local nap = slow:stretch(t0)
        if nap > 0 then ctx:report { slowed_s = nap } end
        assert(ctx:clock())
      end
    end
  end
end

-- ---- the test RMSE ----------------------------------------------------------------

function app:finish(ctx)
  local opt = ctx.opt
  local k, mu, width = opt.rank, ctx.shared.mu, opt.rank + 1
  -- The final model, every row in one read per table.
  local Lm, Rm = model.read(ctx:table("L")), model.read(ctx:table("R"))
  local final = {}
  if opt.test then
    local test = assert(ctx:read_triplets(opt.test))
    local se = 0
    for n = 0, test.n - 1 do
      local lu, ri = Lm.data + test.user[n] * width, Rm.data + test.item[n] * width
      local pred = mu + lu[k] + ri[k] + kernels.dot(k, lu, ri)
      pred = min(5, max(1, pred))
      local e = test.rating[n] - pred
      se = se + e * e
    end
    final.test_rmse = sqrt(se / test.n)
    ctx:report(final)
  end
  if opt.save then
    local L, bu = mf_model.split(Lm, k)
    local R, bi = mf_model.split(Rm, k)
    mf_model.save(ctx, { L = L, R = R, user_bias = bu, item_bias = bi, mu = mu }, final)
  end
end

-- --predict: a rating for every (user, item) of --data, and the RMSE there.
function app:predict(ctx, m) mf_model.predict(ctx, m) end

return model.app(app)
