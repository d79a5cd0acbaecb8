-- Matrix factorization by SGD, data-parallel, with biases:
--   r(u, i) ≈ mu + b_u + b_i + L[u]·R[i]
--
-- L (users × rank+1) and R (items × rank+1) live in the store (the last
-- column holds the user's / item's bias), initialised uniformly from the
-- run's seed. mu is the global mean of the training ratings. Each worker
-- owns the users u with u % workers == its id, and takes their ratings:
-- only it ever changes their rows of L, which it reads from the store and
-- increments rating by rating. Item rows are shared by every worker, so
-- they are updated by model averaging: in each clock a worker runs SGD on
-- its own copy of each item row it touches (read once per clock, within
-- the staleness bound) with the step lr × workers, and at clock() adds the
-- copy's change divided by the number of workers. The store's item rows
-- thus move by the mean of the workers' moves, which stays stable however
-- many workers update the same item at once (their full moves, added up,
-- overshoot and diverge from about four workers on). With one worker this
-- is plain serial SGD. A clock is a slice of the worker's ratings
-- (--clocks-per-epoch).
-- Rating files: `user item rating [timestamp]`, whitespace separated
-- (MovieLens u.data / ua.base); ids are used as row numbers.
--
-- Straggler injection (off by default; bench/straggler.sh uses it): with
-- --slow-worker W, worker W computes --slow-factor F times slower. After each
-- clock's work it sleeps (F - 1) times the CPU time its thread spent on that
-- work (thread CPU time, so time spent waiting for rows is not stretched;
-- --slow-basis wall stretches the wall time instead), and with probability
-- --pause-prob it then pauses --pause-ms more (every worker does, with
-- --pause-on all). The pauses are drawn from the run's seed, so a run
-- repeats. The slowed worker reports the seconds it slept as slowed_s.
local pmls = require "pmls"
local array = pmls.array

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
app:option("slow_worker", -1, "straggler: the worker to slow down (-1 = none)", { type = "int" })
app:option("slow_factor", 1, "straggler: its work takes this many times longer")
app:option("pause_prob", 0, "straggler: chance per clock of an extra pause")
app:option("pause_ms", 0, "straggler: length of a pause, in ms")
app:option("pause_on", "slow", "straggler: who pauses: the slow worker (slow) or every worker (all)")
app:option("slow_basis", "cpu", "straggler: stretch the thread's CPU time (cpu) or the work's wall time, waits included (wall)")
app:metric("train_rmse", "mean")
app:metric("slowed_s", "sum")   -- seconds slept by slowed workers (reported only by them)

-- The straggler's clock: the thread's CPU time (its work, not its waits
-- for rows) or, with --slow-basis wall, the wall time.
local function clock_of(basis) return basis == "wall" and pmls.now or pmls.thread_time end

-- A data error ("path:LINE: ...") ends the run with that message.
local function read(path, opts) return assert(pmls.data.read_triplets(path, opts)) end

function app:setup(ctx)
  local opt = ctx.opt
  if opt.rank < 1 or opt.epochs < 1 or opt.clocks_per_epoch < 1 then
    error("need --rank, --epochs and --clocks-per-epoch >= 1", 0)
  end
  if opt.slow_factor < 1 or opt.pause_prob < 0 or opt.pause_prob > 1 or opt.pause_ms < 0 then
    error("need --slow-factor >= 1, --pause-prob in [0, 1] and --pause-ms >= 0", 0)
  end
  if opt.slow_basis ~= "cpu" and opt.slow_basis ~= "wall" then
    error("--slow-basis is cpu or wall", 0)
  end
  if opt.pause_on ~= "slow" and opt.pause_on ~= "all" then
    error("--pause-on is slow or all", 0)
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
  local P = ctx.workers
  local all = read(opt.data)
  local ds = pmls.data.subset(all, function(n) return all.user[n] % P == ctx.worker end)
  local L, R = ctx:table("L"), ctx:table("R")
  local lu, dl = L:row_buffer(), L:row_buffer()
  local width = k + 1
  -- This clock's copies of the item rows (mine) and what they were when
  -- read (base); loaded[i] says in which clock item i was read.
  local mine = array.float64(R.rows * width)
  local base = array.float64(R.rows * width)
  local loaded = array.int32(R.rows)
  local touched = array.int32(R.rows)
  for i = 0, R.rows - 1 do loaded[i] = -1 end
  local row = R:row_buffer()
  local user, item, rating = ds.user, ds.item, ds.rating
  -- Rating files are sorted by user; SGD wants them in random order.
  local order = array.int32(math.max(ds.n, 1))
  local rng = pmls.data.new_rng(ctx.seed * 7919 + ctx.worker)
  for n = 0, ds.n - 1 do order[n] = n end
  local is_slow = ctx.worker == opt.slow_worker
  local pausing = (is_slow or opt.pause_on == "all") and opt.pause_prob > 0 and opt.pause_ms > 0
  local factor = is_slow and opt.slow_factor or 1
  local slowed = factor > 1 or pausing
  local pauses = slowed and pmls.data.new_rng(ctx.seed * 104729 + 7 + ctx.worker)
  local clock_s = clock_of(opt.slow_basis)
  local clock = 0
  for epoch = 0, opt.epochs - 1 do
    for n = ds.n - 1, 1, -1 do
      local j = rng.below(n + 1)
      order[n], order[j] = order[j], order[n]
    end
    local lr, lambda = opt.lr / (1 + opt.decay * epoch), opt.lambda
    local lr_item = lr * P
    for slice = 0, opt.clocks_per_epoch - 1 do
    local first = math.floor(ds.n * slice / opt.clocks_per_epoch)
    local last = math.floor(ds.n * (slice + 1) / opt.clocks_per_epoch)
    local se, ntouched = 0, 0
    local t0 = slowed and clock_s()
    for m = first, last - 1 do
      local n = order[m]
      local u, i = user[n], item[n]
      local off = i * width
      if loaded[i] ~= clock then
        assert(R:get(i, row))
        for f = 0, k do mine[off + f] = row[f]; base[off + f] = row[f] end
        loaded[i] = clock
        touched[ntouched] = i
        ntouched = ntouched + 1
      end
      assert(L:get(u, lu))
      local pred = mu + lu[k] + mine[off + k]
      for f = 0, k - 1 do pred = pred + lu[f] * mine[off + f] end
      local e = rating[n] - pred
      se = se + e * e
      for f = 0, k - 1 do
        local rf = mine[off + f]
        dl[f] = lr * (e * rf - lambda * lu[f])
        mine[off + f] = rf + lr_item * (e * lu[f] - lambda * rf)
      end
      dl[k] = lr * (e - lambda * lu[k])
      mine[off + k] = mine[off + k] + lr_item * (e - lambda * mine[off + k])
      L:inc(u, dl)
    end
    for t = 0, ntouched - 1 do
      local off = touched[t] * width
      for f = 0, k do row[f] = (mine[off + f] - base[off + f]) / P end
      R:inc(touched[t], row)
    end
    clock = clock + 1
    ctx:report { train_rmse = math.sqrt(se / math.max(last - first, 1)) }
    if slowed then
      local nap = (factor - 1) * (clock_s() - t0)
      if pausing and pauses.uniform() < opt.pause_prob then nap = nap + opt.pause_ms * 1e-3 end
      pmls.sleep(nap)
      ctx:report { slowed_s = nap }
    end
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
