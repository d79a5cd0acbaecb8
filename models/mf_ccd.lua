-- Matrix factorization by CCD++ (Yu, Hsieh, Si, Dhillon 2012: rank-one
-- cyclic coordinate descent) on the STRADS scheduler. It minimises
--   sum over observed (u, i) of (r_ui - mu - b_u - b_i - w_u . h_i)^2
--     + lambda (|W|^2 + |H|^2) + lambda_bias (|b_user|^2 + |b_item|^2)
-- (mu the global mean of the training ratings; --no-biases drops b_u, b_i;
-- --weighted multiplies each row's factor penalty by its number of ratings,
-- the ALS-WR / LIBPMF form; the bias penalty is never weighted).
--
-- The model is W (users x K) then H (items x K), K = rank (+ 2 with biases),
-- one variable per entry, width 2: the entry, then its last curvature
-- (lambda + sum of the squared other factor), a by-product kept for
-- inspection. The biases are two more rank-one terms whose other factor is
-- fixed at 1: b_u is W's column rank (H's is 1), b_i is H's column rank + 1
-- (W's is 1). The scheduler broadcasts the train and test RMSE it
-- measured to the workers, for their progress reports.
--
-- A round updates one column t of W for every user, or of H for every item:
-- with the other factor fixed, each entry has a closed form,
--   w_ut = sum_i (e_ui + w_ut h_it) h_it / (lambda + sum_i h_it^2)
-- (e the residual r - mu - prediction). The rounds run, per outer
-- iteration: the user biases, the item biases, then for t = 0..rank-1,
-- --inner times the pair (H column t, W column t).
--   push  every worker returns, per variable, the numerator and the
--         denominator over its ratings (slots 0 and 1 of its partial), and
--         as extras its squared training and test errors;
--   pull  the scheduler sets entry = numerator / (lambda + denominator);
--   sync  every worker moves its residuals by the committed changes.
-- Each worker keeps two copies of its ratings: those of the users
-- u % workers == worker (sorted by user, for the W rounds) and those of the
-- items i % workers == worker (sorted by item, for the H rounds). Every
-- numerator is thus one worker's sum, in the same order whatever the
-- number of workers, and the model is the same bit for bit under any -w
-- and -p (only the per-round RMSEs, sums over workers, may differ in the
-- last bits).
--
-- Per round: `objective` (of the model the round's push saw: each worker's
-- share summed) and train_rmse / test_rmse (the scheduler's measure of the
-- model the previous round's push saw). Final: train_rmse, test_rmse (test
-- predictions clipped to [1, 5]) and objective of the final model.
-- Rating files: `user item rating [timestamp]` (MovieLens u.data / ua.base).
-- --save, --init-model (W, H and the biases from a saved model: lib.mf_model,
-- the form every MF model shares) and --predict: docs/saved-models.md.
local pmls = require "pmls"
local saved_model = require "pmls.model"
local mf_model = require "lib.mf_model"
local array = pmls.array
local sqrt, floor, max, min = math.sqrt, math.floor, math.max, math.min

local app = pmls.app("mf-ccd", "matrix factorization by CCD++ (rank-one coordinate descent, scheduled)")
app:option("data", nil, "training ratings (user item rating [timestamp])", { type = "string", required = true })
app:option("test", nil, "held-out ratings, for the test RMSE", { type = "string" })
app:option("rank", 32, "latent dimension", { type = "int", min = 1 })
app:option("lambda", 12, "L2 regularisation of W and H (with --weighted: per rating, try 0.15)", { min = 0 })
app:option("lambda_bias", 5, "L2 regularisation of the biases (with --biases)", { min = 0 })
app:option("weighted", false, "penalise each user's / item's factors times its number of ratings")
app:option("biases", true, "fit user and item biases")
app:option("outer", 10, "outer iterations (sweeps over the rank-one terms)", { type = "int", min = 1 })
app:option("inner", 3, "inner iterations per rank-one term", { type = "int", min = 1 })
app:option("init", 0.1, "W starts uniform in [-init, init); H starts at 0", { min = 0 })
saved_model.options(app)
app:metric("objective", "sum")
app:metric("train_rmse", "mean")
app:metric("test_rmse", "mean")
app:clocks(function(opt, sh) return opt.outer * ((sh.biases and 2 or 0) + 2 * opt.inner * sh.rank) end)
-- A checkpoint (--checkpoint, pmls.rounds) keeps each worker's residuals
-- (by user, by item, of the test ratings) and its penalty sum, and the
-- scheduler node's place in the plan (outer iteration, round in it); the
-- ratings are the worker's share of -w, so a resume needs the snapshot's
-- number of workers.
app:resume_on_same_workers()

local double_array, int32_array = array.float64, array.int32

-- The file as the engine keeps it: parsed once per process, read-only.
local function read(ctx, path) return assert(ctx:read_triplets(path)) end

-- The variable layout, from the shared sizes.
local function layout(sh)
  local K = sh.rank + (sh.biases and 2 or 0)
  local wsize, hsize = sh.users * K, sh.items * K
  return K, wsize, hsize
end

function app:setup(ctx)
  local opt = ctx.opt
  if ctx.schedulers ~= 1 then
    app:usage("mf-ccd runs on one scheduler node (--schedulers 1): each round needs the one before")
  end
  local all = read(ctx, opt.data)
  if all.n < 1 then error(opt.data .. ": no ratings", 0) end
  local users, items, ntest = all.max_user + 1, all.max_item + 1, 0
  if opt.test then
    local test = read(ctx, opt.test)
    users, items, ntest = max(users, test.max_user + 1), max(items, test.max_item + 1), test.n
  end
  local sum = 0
  for k = 0, all.n - 1 do sum = sum + all.rating[k] end
  local sh = { users = users, items = items, rank = opt.rank, biases = opt.biases,
               mu = sum / all.n, ntrain = all.n, ntest = ntest }
  if opt.init_model then -- checked here, before any node starts; its mu is the model's
    sh.mu = select(5, mf_model.load(opt.init_model, users, items, opt.rank))
  end
  local _, wsize, hsize = layout(sh)
  ctx:schedule({ vars = wsize + hsize, width = 2, extra = 2, scheduler = "custom",
                 per_round = max(users, items) }, self)
  return sh
end

-- ---- ratings on the workers ---------------------------------------------------

-- The number of ratings of each user and of each item.
local function counts(all, sh)
  local nu, ni = double_array(sh.users), double_array(sh.items)
  for n = 0, all.n - 1 do
    nu[all.user[n]] = nu[all.user[n]] + 1
    ni[all.item[n]] = ni[all.item[n]] + 1
  end
  return nu, ni
end

-- The ratings n of `all` with keep(n), grouped by key (user or item) in
-- file order: ptr[key] .. ptr[key + 1] - 1 index user, item, rating and the
-- residual e (= rating - mu until the first sync).
local function group(all, nkeys, keyof, keep, mu)
  local count = int32_array(nkeys + 1)
  local m = 0
  for n = 0, all.n - 1 do
    if keep(n) then
      local key = keyof(n)
      count[key + 1] = count[key + 1] + 1
      m = m + 1
    end
  end
  for key = 1, nkeys do count[key] = count[key] + count[key - 1] end
  local g = { m = m, ptr = int32_array(nkeys + 1), user = int32_array(max(m, 1)),
              item = int32_array(max(m, 1)), rating = double_array(max(m, 1)),
              e = double_array(max(m, 1)) }
  array.copy(g.ptr, count, nkeys + 1)
  for n = 0, all.n - 1 do
    if keep(n) then
      local key = keyof(n)
      local at = count[key]
      count[key] = at + 1
      g.user[at], g.item[at], g.rating[at] = all.user[n], all.item[n], all.rating[n]
      g.e[at] = all.rating[n] - mu
    end
  end
  return g
end

function app:load(ctx)
  local sh, opt = ctx.shared, ctx.opt
  local K, wsize, hsize = layout(sh)
  self.K, self.wsize = K, wsize
  if ctx.kind == "scheduler" then
    assert(ctx.lo == 0 and ctx.hi == wsize + hsize, "one scheduler node")
    -- W uniform in [-init, init), H zero (the first H round starts from W),
    -- the fixed factors of the bias terms at 1.
    local model, rank = ctx.model, sh.rank
    local rng = pmls.data.new_rng(ctx.seed * 1000003 + 17)
    for u = 0, sh.users - 1 do
      for t = 0, rank - 1 do model[2 * (u * K + t)] = opt.init * (2 * rng.uniform() - 1) end
      if sh.biases then model[2 * (u * K + rank + 1)] = 1 end
    end
    if sh.biases then
      for i = 0, sh.items - 1 do model[2 * (wsize + i * K + rank)] = 1 end
    end
    if opt.init_model then
      local L, R, bu, bi = mf_model.load(opt.init_model, sh.users, sh.items, rank)
      for u = 0, sh.users - 1 do
        for t = 0, rank - 1 do model[2 * (u * K + t)] = L.data[u * rank + t] end
        if sh.biases then model[2 * (u * K + rank)] = bu.data[u] end
      end
      for i = 0, sh.items - 1 do
        for t = 0, rank - 1 do model[2 * (wsize + i * K + t)] = R.data[i * rank + t] end
        if sh.biases then model[2 * (wsize + i * K + rank + 1)] = bi.data[i] end
      end
    end
    -- Per-row penalties: lambda, or lambda times the row's ratings.
    self.nu, self.ni = counts(read(ctx, opt.data), sh)
    self.outer, self.pos = 0, 0
    local saved = ctx.resume and ctx.resume.state
    if saved then self.outer, self.pos = saved.outer, saved.pos end
    return
  end
  local P, me = ctx.workers, ctx.worker
  local all = read(ctx, opt.data)
  local user, item = all.user, all.item
  self.byuser = group(all, sh.users, function(n) return user[n] end,
                      function(n) return user[n] % P == me end, sh.mu)
  self.byitem = group(all, sh.items, function(n) return item[n] end,
                      function(n) return item[n] % P == me end, sh.mu)
  if opt.test then
    local test = read(ctx, opt.test)
    self.test = group(test, sh.users, function(n) return test.user[n] end,
                      function(n) return test.user[n] % P == me end, sh.mu)
  end
  self.nu, self.ni = counts(all, sh)
  self.weighted = opt.weighted
  self.wcol, self.hcol = double_array(sh.users), double_array(sh.items)
  self.dw, self.dh = double_array(sh.users), double_array(sh.items)
  self.reg = 0
  local saved = ctx.resume and ctx.resume.state
  if saved then
    for _, name in ipairs { "byuser", "byitem", "test" } do
      local g, e = self[name], saved[name]
      if g and (e == nil or array.length(e) ~= array.length(g.e)) then
        error(("--resume: %s: worker %d: not the residuals of its ratings"):format(ctx.resume.path, me), 0)
      end
      if g then array.copy(g.e, e, array.length(e)) end
    end
    self.reg = saved.reg
  end
end

-- What a checkpoint keeps (pmls.rounds: the models themselves are its own).
function app:save_state(ctx)
  if ctx.kind == "scheduler" then return { outer = self.outer, pos = self.pos } end
  return { byuser = self.byuser.e, byitem = self.byitem.e, test = self.test and self.test.e, reg = self.reg }
end

-- ---- the workers ------------------------------------------------------------------

-- e = rating - mu - w_u . h_i for every rating of g, from the model.
local function recompute(g, model, K, wsize, mu)
  local user, item, rating, e = g.user, g.item, g.rating, g.e
  for k = 0, g.m - 1 do
    local wu, hi = 2 * user[k] * K, 2 * (wsize + item[k] * K)
    local p = mu
    for t = 0, K - 1 do p = p + model[wu + 2 * t] * model[hi + 2 * t] end
    e[k] = rating[k] - p
  end
end

-- e -= dw[u] * h[i] (or dh[i] * w[u]) for every rating of g.
local function move(g, du, col, by_user)
  local user, item, e = g.user, g.item, g.e
  if by_user then
    for k = 0, g.m - 1 do e[k] = e[k] - du[user[k]] * col[item[k]] end
  else
    for k = 0, g.m - 1 do e[k] = e[k] - du[item[k]] * col[user[k]] end
  end
end

-- Column t of W (or H) into a contiguous array.
local function column(model, dst, rows, base, K, t)
  for r = 0, rows - 1 do dst[r] = model[2 * (base + r * K + t)] end
end

function app:sync(ctx, changed, nchanged, deltas)
  local sh, model = ctx.shared, ctx.model
  local K, wsize = self.K, self.wsize
  local lam, lamb, rank = ctx.opt.lambda, ctx.opt.lambda_bias, sh.rank
  -- Within one round every change is in one column of W or of H; anything
  -- else (the initial model) recomputes the residuals.
  local side, col, simple = nil, nil, true
  for c = 0, nchanged - 1 do
    local v = tonumber(changed[c])
    local s = v < wsize and 1 or 2
    local t = (v < wsize and v or v - wsize) % K
    if side == nil then side, col = s, t
    elseif side ~= s or col ~= t then simple = false end
    -- the penalty, for the objective this worker reports
    local d = deltas[2 * c]
    if d ~= 0 then
      local new = model[2 * v]
      local old = new - d
      local l = t < rank and lam or lamb
      local fixed = sh.biases and ((s == 1 and t == rank + 1) or (s == 2 and t == rank))
      if not fixed then
        self.reg = self.reg + l * (new * new - old * old) * (t < rank and self:weight(v, s) or 1)
      end
    end
  end
  if side == nil then return end
  if not simple then
    recompute(self.byuser, model, K, wsize, sh.mu)
    recompute(self.byitem, model, K, wsize, sh.mu)
    if self.test then recompute(self.test, model, K, wsize, sh.mu) end
    return
  end
  local du
  if side == 1 then
    du = self.dw
    array.fill(du, sh.users)
    column(model, self.hcol, sh.items, wsize, K, col)
  else
    du = self.dh
    array.fill(du, sh.items)
    column(model, self.wcol, sh.users, 0, K, col)
  end
  for c = 0, nchanged - 1 do
    local v = tonumber(changed[c])
    if side == 1 then du[floor(v / K)] = deltas[2 * c]
    else du[floor((v - wsize) / K)] = deltas[2 * c] end
  end
  local other = side == 1 and self.hcol or self.wcol
  move(self.byuser, du, other, side == 1)
  move(self.byitem, du, other, side == 1)
  if self.test then move(self.test, du, other, side == 1) end
end

-- The penalty weight of variable v on side s (1: W, 2: H): 1, or its
-- row's ratings with --weighted.
function app:weight(v, s)
  if not self.weighted then return 1 end
  if s == 1 then return self.nu[floor(v / self.K)] end
  return self.ni[floor((v - self.wsize) / self.K)]
end

function app:push(ctx, vars, n, out)
  local sh, model = ctx.shared, ctx.model
  local K, wsize = self.K, self.wsize
  local v0 = tonumber(vars[0])
  local t = (v0 < wsize and v0 or v0 - wsize) % K
  if v0 < wsize then
    -- W column t: user u is variable k = u; sums over my users' ratings.
    local g = self.byuser
    local ptr, item, e, h = g.ptr, g.item, g.e, self.hcol
    column(model, h, sh.items, wsize, K, t)
    for u = ctx.worker, sh.users - 1, ctx.workers do
      local w = model[2 * (u * K + t)]
      local num, den = 0, 0
      for k = ptr[u], ptr[u + 1] - 1 do
        local hi = h[item[k]]
        num = num + (e[k] + w * hi) * hi
        den = den + hi * hi
      end
      out[2 * u], out[2 * u + 1] = num, den
    end
  else
    local g = self.byitem
    local ptr, user, e, w = g.ptr, g.user, g.e, self.wcol
    column(model, w, sh.users, 0, K, t)
    for i = ctx.worker, sh.items - 1, ctx.workers do
      local hv = model[2 * (wsize + i * K + t)]
      local num, den = 0, 0
      for k = ptr[i], ptr[i + 1] - 1 do
        local wu = w[user[k]]
        num = num + (e[k] + wu * hv) * wu
        den = den + wu * wu
      end
      out[2 * i], out[2 * i + 1] = num, den
    end
  end
  -- Extras: squared errors of the model this push sees.
  local g, se = self.byuser, 0
  local e = g.e
  for k = 0, g.m - 1 do se = se + e[k] * e[k] end
  local tse = 0
  if self.test then
    local tg = self.test
    local te, tr = tg.e, tg.rating
    for k = 0, tg.m - 1 do
      local r = tr[k]
      local p = min(5, max(1, r - te[k]))
      tse = tse + (r - p) * (r - p)
    end
  end
  out[2 * n], out[2 * n + 1] = se, tse
  local report = { objective = se + self.reg / ctx.workers }
  local measured = ctx:received() -- the scheduler's, of the last round
  if measured then
    report.train_rmse = measured[1]
    if self.test then report.test_rmse = measured[2] end
  end
  ctx:report(report)
end

-- ---- the scheduler node ------------------------------------------------------------

-- Rounds per outer iteration: two bias rounds, then 2 x inner per rank.
local function plan(sh, opt)
  return (sh.biases and 2 or 0) + 2 * opt.inner * sh.rank
end

-- Which column and side round number `pos` of an outer iteration updates.
local function round_of(sh, opt, pos)
  if sh.biases then
    if pos == 0 then return 1, sh.rank end       -- user biases: W column rank
    if pos == 1 then return 2, sh.rank + 1 end   -- item biases: H column rank + 1
    pos = pos - 2
  end
  local t = floor(pos / (2 * opt.inner))
  return (pos % 2 == 0) and 2 or 1, t            -- H column t, then W column t
end

function app:schedule(ctx, vars, cap)
  local sh, opt = ctx.shared, ctx.opt
  if self.outer >= opt.outer then return 0 end
  local side, t = round_of(sh, opt, self.pos)
  self.pos = self.pos + 1
  if self.pos == plan(sh, opt) then self.outer, self.pos = self.outer + 1, 0 end
  local K, n = self.K, 0
  if side == 1 then
    for u = 0, sh.users - 1 do vars[n] = u * K + t; n = n + 1 end
  else
    for i = 0, sh.items - 1 do vars[n] = self.wsize + i * K + t; n = n + 1 end
  end
  return n
end

function app:pull(ctx, vars, n, sum, values)
  local sh, opt = ctx.shared, ctx.opt
  local K, wsize = self.K, self.wsize
  local v0 = tonumber(vars[0])
  local user_side = v0 < wsize
  local t = (user_side and v0 or v0 - wsize) % K
  local lam = t < sh.rank and opt.lambda or opt.lambda_bias
  local counts = user_side and self.nu or self.ni
  for k = 0, n - 1 do
    local c = lam * ((opt.weighted and t < sh.rank) and counts[k] or 1) + sum[2 * k + 1]
    values[2 * k] = c > 0 and sum[2 * k] / c or 0
    values[2 * k + 1] = c
  end
  ctx:broadcast { sqrt(sum[2 * n] / sh.ntrain), sh.ntest > 0 and sqrt(sum[2 * n + 1] / sh.ntest) or 0 }
end

-- ---- the final model -------------------------------------------------------------------

function app:finish(ctx)
  local sh, opt, model = ctx.shared, ctx.opt, ctx.model
  local model_values = model -- the trained values (model is the module's name elsewhere)
  local K, wsize = layout(sh)
  local function rmse(path, clip)
    local ds = read(ctx, path)
    local se = 0
    for n = 0, ds.n - 1 do
      local wu, hi = 2 * ds.user[n] * K, 2 * (wsize + ds.item[n] * K)
      local p = sh.mu
      for t = 0, K - 1 do p = p + model[wu + 2 * t] * model[hi + 2 * t] end
      if clip then p = min(5, max(1, p)) end
      local e = ds.rating[n] - p
      se = se + e * e
    end
    return sqrt(se / max(ds.n, 1)), se, ds
  end
  local train, se, all = rmse(opt.data, false)
  local nu, ni = counts(all, sh)
  local reg = 0
  for u = 0, sh.users - 1 do
    for t = 0, K - 1 do
      local x = model[2 * (u * K + t)]
      if t < sh.rank then reg = reg + opt.lambda * x * x * (opt.weighted and nu[u] or 1)
      elseif t == sh.rank then reg = reg + opt.lambda_bias * x * x end
    end
  end
  for i = 0, sh.items - 1 do
    for t = 0, K - 1 do
      local x = model[2 * (wsize + i * K + t)]
      if t < sh.rank then reg = reg + opt.lambda * x * x * (opt.weighted and ni[i] or 1)
      elseif t == sh.rank + 1 then reg = reg + opt.lambda_bias * x * x end
    end
  end
  local final = { train_rmse = train, objective = se + reg }
  if opt.test then final.test_rmse = rmse(opt.test, true) end
  ctx:report(final)
  if opt.save then
    local rank = sh.rank
    local parts = { L = saved_model.array("float64", { sh.users, rank }), R = saved_model.array("float64", { sh.items, rank }),
                    user_bias = saved_model.array("float64", { sh.users }), item_bias = saved_model.array("float64", { sh.items }),
                    mu = sh.mu }
    for u = 0, sh.users - 1 do
      for t = 0, rank - 1 do parts.L.data[u * rank + t] = model_values[2 * (u * K + t)] end
      if sh.biases then parts.user_bias.data[u] = model_values[2 * (u * K + rank)] end
    end
    for i = 0, sh.items - 1 do
      for t = 0, rank - 1 do parts.R.data[i * rank + t] = model_values[2 * (wsize + i * K + t)] end
      if sh.biases then parts.item_bias.data[i] = model_values[2 * (wsize + i * K + rank + 1)] end
    end
    mf_model.save(ctx, parts, final)
  end
end

-- --predict: a rating for every (user, item) of --data, and the RMSE there.
function app:predict(ctx, m) mf_model.predict(ctx, m) end

return saved_model.app(app)
