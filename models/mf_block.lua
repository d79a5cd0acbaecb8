-- Matrix factorization by block-scheduled SGD (DSGD, Gemulla et al. 2011;
-- Fugue, Kumar et al. 2014) on the STRADS scheduler, with biases:
--   r(u, i) ≈ mu + b_u + b_i + w_u · h_i
--
-- The ratings matrix is cut into d x d blocks (d = --blocks, default the
-- number of workers): users into d contiguous row ranges, items into d
-- contiguous variable ranges. Users and items are first renumbered by a
-- random permutation (from the run's seed; --no-permute keeps the file's
-- ids), which evens out the blocks: MovieLens numbers the most rated films
-- first, so its id ranges make blocks several times larger than others. Round t runs the blocks (i, (i + t) mod d),
-- which share no user and no item, block i on worker i mod workers; an
-- epoch is d rounds, every block once.
--   model   the item rows (h_i, b_i): variables = items, width rank + 1;
--           the scheduler node starts them uniform in [-init, init) (the
--           bias at 0) from the run's seed;
--   workers keep the user rows (w_u, b_u) of their row ranges: only they
--           ever touch them, so they never travel;
--   push    SGD over the block's ratings (in a random order per pass)
--           starting from the model's item rows; the partial is the change
--           of those rows;
--   pull    adds it.
-- With agnostic rounds (--agnostic, the default) a worker that finished its
-- block before the slowest one runs more passes over the same block (its
-- users and its item range are its own until the round ends), polling for
-- the end of the round every few hundred ratings; --no-agnostic waits
-- instead (the barrier variant: one pass per worker per round). Pass k of a
-- round steps lr / k (--no-pass-decay: lr): at a constant step the extra
-- passes, as many as 10 a round when the blocks are uneven or the machine
-- is oversubscribed, fit the fast workers' blocks until the test RMSE
-- suffers (0.94-1.0 on MovieLens-100K, against 0.93 with the decay).
-- After the last epoch one more round measures the final model: every
-- worker sends the squared errors of its users' training and test ratings
-- (predictions clipped to [1, 5] for the test RMSE), which the scheduler
-- turns into the final train_rmse and test_rmse.
--
-- Per round: train_rmse (mean over workers of the RMSE over their block's
-- ratings in the first pass, each error taken before its step) and passes
-- (the sum of the workers' passes). The engine's final passes_min /
-- passes_max are the per-worker totals (agnostic rounds only).
--
-- The SGD steps run in C (kernels.sgd_mf_batch, SIMD where the CPU has it)
-- on the worker's rows. Straggler injection (bench/block_straggler.sh):
-- lib.straggler, per pass; the slowed worker reports the seconds slept in
-- the round as slowed_s.
-- Rating files: `user item rating [timestamp]` (MovieLens u.data / ua.base).
--
-- --save FILE (lib.mf_model's form, docs/saved-models.md): in the last
-- round every worker adds its users' rows, by their file ids, into table
-- L (declared only then), which finish reads with the item rows of the
-- model. --init-model FILE starts the item rows (scheduler node) and each
-- worker's user rows from a saved model (--epochs 0: the last round only);
-- --predict rates the pairs of --data with one.
local pmls = require "pmls"
local model = require "pmls.model"
local mf_model = require "lib.mf_model"
local straggler = require "lib.straggler"
local shuffle = require "lib.shuffle"
local kernels = pmls.kernels
local sqrt, floor, max, min = math.sqrt, math.floor, math.max, math.min

local app = pmls.app("mf-block", "matrix factorization by block-scheduled SGD (DSGD / Fugue)")
app:option("data", nil, "training ratings (user item rating [timestamp])", { type = "string", required = true })
app:option("test", nil, "held-out ratings, for the test RMSE at the end", { type = "string" })
app:option("rank", 32, "latent dimension", { type = "int", min = 1 })
app:option("epochs", 20, "epochs: d rounds each, every block once", { type = "int", min = 0 })
app:option("blocks", 0, "d: row and item ranges (0: one per worker)", { type = "int", min = 0 })
app:option("lr", 0.015, "learning rate", { min = 0 })
app:option("decay", 0, "learning rate decay: lr / (1 + decay * epoch)", { min = 0 })
app:option("lambda", 0.05, "L2 regularisation (mf_sgd's default: the same objective)", { min = 0 })
app:option("init", 0.1, "initial factors uniform in [-init, init)", { min = 0 })
app:option("permute", true, "renumber users and items at random to even out the blocks")
app:option("agnostic", true, "a worker done early runs more passes over its block (false: it waits)")
app:option("pass_decay", true, "the extra passes of a round step lr / pass (false: lr)")
straggler.options(app)
model.options(app)
app:metric("train_rmse", "mean")
app:metric("passes", "sum")
app:clocks(function(opt, sh) return opt.epochs * sh.d + 1 end)
-- Checkpoints (--checkpoint) keep each worker's share of the blocks, so a
-- resume needs the snapshot's number of workers.
app:resume_on_same_workers()

local double_array, int32_array = pmls.array.float64, pmls.array.int32

-- The file as the engine keeps it: parsed once per process, read-only.
local function read(ctx, path) return assert(ctx:read_triplets(path)) end

-- Start of range c when n things are cut into d ranges (as the block
-- scheduler cuts them: the first n mod d ranges get one more).
local function range_start(n, d, c)
  local base = floor(n / d)
  return c * base + min(c, n - base * d)
end

-- A random permutation of 0..n-1 from seed (the identity without permute).
local function permutation(n, seed, permute)
  local p = int32_array(n)
  for x = 0, n - 1 do p[x] = x end
  if permute then
    local rng = pmls.data.new_rng(seed)
    for x = n - 1, 1, -1 do
      local j = rng.below(x + 1)
      p[x], p[j] = p[j], p[x]
    end
  end
  return p
end

-- range_of[x] = the range of thing x.
local function ranges(n, d)
  local of = int32_array(n)
  for c = 0, d - 1 do
    for x = range_start(n, d, c), range_start(n, d, c + 1) - 1 do of[x] = c end
  end
  return of
end

function app:setup(ctx)
  local opt = ctx.opt
  if opt.epochs == 0 and not opt.init_model then app:usage("--epochs 0 needs --init-model") end
  if opt.lr == 0 then app:usage("--lr must be > 0") end
  straggler.check(opt)
  local all = read(ctx, opt.data)
  if all.n < 1 then error(opt.data .. ": no ratings", 0) end
  local users, items = all.max_user + 1, all.max_item + 1
  if opt.test then
    local test = read(ctx, opt.test)
    users, items = max(users, test.max_user + 1), max(items, test.max_item + 1)
  end
  local d = opt.blocks > 0 and opt.blocks or ctx.workers
  if d > users or d > items then
    error(("%d blocks for %d users and %d items: a block would be empty"):format(d, users, items), 0)
  end
  local sum = 0
  for k = 0, all.n - 1 do sum = sum + all.rating[k] end
  local mu = sum / all.n
  if opt.init_model then mu = select(5, mf_model.load(opt.init_model, users, items, opt.rank)) end
  ctx:schedule({ vars = items, width = opt.rank + 1, extra = 4, scheduler = "block",
                 rows = users, blocks = d, agnostic = opt.agnostic,
                 max_rounds = opt.epochs * d + 1 }, self)
  if opt.save then ctx:table("L", { rows = users, cols = opt.rank + 1 }) end
  return { users = users, items = items, d = d, mu = mu }
end

function app:load(ctx)
  local sh, opt = ctx.shared, ctx.opt
  local width = opt.rank + 1
  self.eval_round = opt.epochs * sh.d
  if ctx.kind == "scheduler" then
    local rng = pmls.data.new_rng(ctx.seed * 1000003 + 29)
    local model = ctx.model
    for i = 0, sh.items - 1 do
      for f = 0, opt.rank - 1 do model[i * width + f] = opt.init * (2 * rng.uniform() - 1) end
    end
    if opt.init_model then -- item i is variable pi[i]
      local _, R, _, bi = mf_model.load(opt.init_model, sh.users, sh.items, opt.rank)
      local pi = permutation(sh.items, ctx.seed * 1000003 + 103, opt.permute)
      for i = 0, sh.items - 1 do
        for f = 0, opt.rank - 1 do model[pi[i] * width + f] = R.data[i * opt.rank + f] end
        model[pi[i] * width + opt.rank] = bi.data[i]
      end
    end
    return
  end
  local d, P, me = sh.d, ctx.workers, ctx.worker
  local rowblock, colblock = ranges(sh.users, d), ranges(sh.items, d)
  local function mine(u) return rowblock[u] % P == me end
  -- Users and items by their new numbers (row and variable).
  local pu = permutation(sh.users, ctx.seed * 1000003 + 101, opt.permute)
  local pi = permutation(sh.items, ctx.seed * 1000003 + 103, opt.permute)
  -- My training ratings, bucketed by block: order[ptr[i * d + c] ..
  -- ptr[i * d + c + 1] - 1] index them in the engine's arrays (read-only,
  -- shared by the process's workers; file order within a block).
  local all = read(ctx, opt.data)
  local count = int32_array(d * d + 1)
  local m = 0
  for n = 0, all.n - 1 do
    local u = pu[all.user[n]]
    if mine(u) then
      local b = rowblock[u] * d + colblock[pi[all.item[n]]]
      count[b + 1] = count[b + 1] + 1
      m = m + 1
    end
  end
  for b = 1, d * d do count[b] = count[b] + count[b - 1] end
  local ptr = int32_array(d * d + 1)
  pmls.array.copy(ptr, count, d * d + 1)
  local order = int32_array(max(m, 1))
  for n = 0, all.n - 1 do
    local u = pu[all.user[n]]
    if mine(u) then
      local b = rowblock[u] * d + colblock[pi[all.item[n]]]
      order[count[b]] = n
      count[b] = count[b] + 1
    end
  end
  self.ptr, self.order, self.all, self.m = ptr, order, all, m
  self.pu, self.pi = pu, pi
  -- My test ratings, the same way.
  if opt.test then
    local test = read(ctx, opt.test)
    local tn = 0
    for n = 0, test.n - 1 do
      if mine(pu[test.user[n]]) then tn = tn + 1 end
    end
    local idx = int32_array(max(tn, 1))
    tn = 0
    for n = 0, test.n - 1 do
      if mine(pu[test.user[n]]) then
        idx[tn] = n
        tn = tn + 1
      end
    end
    self.test = { ds = test, idx = idx, n = tn }
  end
  -- My users' rows, and only mine (at[u]: where row u is in W), drawn per
  -- user from the seed (the same under any -w).
  local at, nmine = int32_array(sh.users), 0
  for u = 0, sh.users - 1 do
    at[u] = -1
    if mine(u) then at[u], nmine = nmine, nmine + 1 end
  end
  local W = double_array(max(nmine, 1) * width)
  local rng = pmls.data.new_rng(0)
  for u = 0, sh.users - 1 do
    if at[u] >= 0 then
      rng.reseed(ctx.seed * 1000003 + 7919 * u + 3)
      for f = 0, opt.rank - 1 do W[at[u] * width + f] = opt.init * (2 * rng.uniform() - 1) end
    end
  end
  if opt.init_model then -- user u is row at[pu[u]] of W, if mine
    local L, _, bu = mf_model.load(opt.init_model, sh.users, sh.items, opt.rank)
    for u = 0, sh.users - 1 do
      local row = at[pu[u]]
      if row >= 0 then
        for f = 0, opt.rank - 1 do W[row * width + f] = L.data[u * opt.rank + f] end
        W[row * width + opt.rank] = bu.data[u]
      end
    end
  end
  self.W, self.at = W, at
  -- The rows as the SGD kernel takes them, by the file's ids: user u's is
  -- row at[pu[u]] of W (only my users' ratings are ever stepped); item i's
  -- is set each round to its row in the round's share (push).
  self.Wp, self.Hp = kernels.delta_pointers(sh.users), kernels.delta_pointers(sh.items)
  for u = 0, sh.users - 1 do
    local row = at[pu[u]]
    if row >= 0 then self.Wp[u] = W + row * width end
  end
  self.item_of = int32_array(sh.items) -- the file id of variable v
  for i = 0, sh.items - 1 do self.item_of[pi[i]] = i end
  self.rng = pmls.data.new_rng(ctx.seed * 104729 + me)
  self.slow = straggler.new(ctx)
  local saved = ctx.resume and ctx.resume.state
  if saved then
    if pmls.array.length(saved.W) ~= pmls.array.length(W) or pmls.array.length(saved.order) ~= pmls.array.length(order) then
      error(("--resume: %s: worker %d: not the user rows and ratings of its blocks"):format(ctx.resume.path, me), 0)
    end
    pmls.array.copy(W, saved.W, pmls.array.length(W))
    pmls.array.copy(order, saved.order, pmls.array.length(order))
    self.rng.restore(saved.rng)
  end
  collectgarbage() -- the loading's garbage goes now
end

-- What a checkpoint keeps (pmls.rounds: the item rows are its own, and the
-- block scheduler's round): a worker's user rows, its ratings' order (each
-- pass shuffles it in place) and its generator.
function app:save_state(ctx)
  if ctx.kind == "scheduler" then return nil end
  return { W = self.W, order = self.order, rng = self.rng.save() }
end

-- ---- the workers ------------------------------------------------------------------

-- One SGD pass over my ratings order[lo..hi-1] (in C); returns the squared
-- error (taken before each step) and the ratings done. With `poll`, stops
-- early once the round is over, asking every 256 ratings.
local POLL = 256
local function sgd(self, ctx, lo, hi, lr, lambda, mu, rank, poll)
  local all, order, Wp, Hp = self.all, self.order, self.Wp, self.Hp
  local se, done = 0, 0
  local step = poll and POLL or hi - lo
  for k = lo, hi - 1, step do
    local n = min(step, hi - k)
    se = se + kernels.sgd_mf_batch(rank, n, order + k, all.user, all.item, all.rating,
                                   nil, Wp, 1, nil, Hp, 1, mu, lr, lr, lambda)
    done = done + n
    if poll and ctx:round_over() then break end
  end
  return se, done
end

-- The last round: the squared errors of the final model over my users
-- (ratings ds[idx[0..count-1]], renumbered as the model's rows are).
local function evaluate(self, ctx, out, n)
  local sh, rank = ctx.shared, ctx.opt.rank
  local width, model, W, at, pu, pi = rank + 1, ctx.model, self.W, self.at, self.pu, self.pi
  local function se_of(ds, idx, count, clip)
    local se = 0
    for k = 0, count - 1 do
      local r = idx[k]
      local wu, hi = at[pu[ds.user[r]]] * width, pi[ds.item[r]] * width
      local pred = sh.mu + W[wu + rank] + model[hi + rank]
      for f = 0, rank - 1 do pred = pred + W[wu + f] * model[hi + f] end
      if clip then pred = min(5, max(1, pred)) end
      local e = ds.rating[r] - pred
      se = se + e * e
    end
    return se
  end
  if ctx.opt.save then -- my users' rows into table L, by their file ids
    local T = ctx:table("L")
    local buf = T:row_buffer()
    for u = 0, sh.users - 1 do
      local row = at[pu[u]]
      if row >= 0 then
        for f = 0, rank do buf[f] = W[row * width + f] end
        T:inc(u, buf)
      end
    end
  end
  local base = n * width
  out[base] = se_of(self.all, self.order, self.m, false)
  out[base + 1] = self.m
  local t = self.test
  if t then
    out[base + 2] = se_of(t.ds, t.idx, t.n, true)
    out[base + 3] = t.n
  end
end

function app:push(ctx, vars, n, out, pass)
  local opt, sh = ctx.opt, ctx.shared
  local rank, d = opt.rank, sh.d
  local width = rank + 1
  if ctx.round >= self.eval_round then
    if pass == 1 then evaluate(self, ctx, out, n)
    else
      -- nothing more to do: wait for the others rather than spin
      ctx:wait_round_over()
    end
    ctx:report({ passes = pass })
    return
  end
  local epoch = floor(ctx.round / d)
  local lr = opt.lr / (1 + opt.decay * epoch)
  if opt.pass_decay then lr = lr / pass end
  local model, ptr, Hp, item_of = ctx.model, self.ptr, self.Hp, self.item_of
  local t0 = self.slow:start()
  local se, count = 0, 0
  -- The item rows are stepped in place in `out`, which holds each row's
  -- change so far this round (zero before the first pass): the row itself
  -- while the block's ratings run, its change again once they are done.
  for rowblock, colblock, lo, hi in ctx:blocks() do
    for k = lo, hi - 1 do
      local v, at = tonumber(vars[k]), k * width
      local base = v * width
      Hp[item_of[v]] = out + at
      for f = 0, width - 1 do out[at + f] = out[at + f] + model[base + f] end
    end
    local b = rowblock * d + colblock
    -- in runs of file neighbours, whose entries share cache lines
    shuffle.runs(self.order, ptr[b], ptr[b + 1], self.rng.below)
    local s, c = sgd(self, ctx, ptr[b], ptr[b + 1], lr, opt.lambda, sh.mu, rank, pass > 1)
    se, count = se + s, count + c
    for k = lo, hi - 1 do
      local base, at = tonumber(vars[k]) * width, k * width
      for f = 0, width - 1 do out[at + f] = out[at + f] - model[base + f] end
    end
    if pass > 1 and ctx:round_over() then break end
  end
  local report = { passes = pass }
  if pass == 1 and count > 0 then report.train_rmse = sqrt(se / count) end
  if self.slow.on then
    local nap = self.slow:stretch(t0)
    if pass == 1 then self.slept = 0 end
    self.slept = self.slept + nap
    report.slowed_s = self.slept -- this round's, over its passes
  end
  ctx:report(report)
end

-- ---- the scheduler node ------------------------------------------------------------

function app:pull(ctx, vars, n, sum, values)
  local width = ctx.opt.rank + 1
  if ctx.round >= self.eval_round then
    local base = n * width
    ctx:note("train_rmse", sqrt(sum[base] / max(sum[base + 1], 1)))
    if ctx.opt.test then ctx:note("test_rmse", sqrt(sum[base + 2] / max(sum[base + 3], 1))) end
    return true
  end
  for k = 0, n * width - 1 do values[k] = values[k] + sum[k] end
end

-- ---- the saved model ----------------------------------------------------------------

function app:finish(ctx)
  local opt, sh = ctx.opt, ctx.shared
  if not opt.save then return end
  local rank, width = opt.rank, opt.rank + 1
  local L, bu = mf_model.split(model.read(ctx:table("L")), rank)
  local R, bi = model.array("float64", { sh.items, rank }), model.array("float64", { sh.items })
  local pi = permutation(sh.items, ctx.seed * 1000003 + 103, opt.permute)
  for i = 0, sh.items - 1 do
    for f = 0, rank - 1 do R.data[i * rank + f] = ctx.model[pi[i] * width + f] end
    bi.data[i] = ctx.model[pi[i] * width + rank]
  end
  mf_model.save(ctx, { L = L, R = R, user_bias = bu, item_bias = bi, mu = sh.mu })
end

-- --predict: a rating for every (user, item) of --data, and the RMSE there.
function app:predict(ctx, m) mf_model.predict(ctx, m) end

return model.app(app)
