-- k-means (Lloyd's algorithm) on libsvm / svmlight rows, data-parallel.
--
-- It minimises the inertia sum_i min_j |x_i - c_j|^2 over k centroids c_j.
-- Each clock is one Lloyd iteration: every worker assigns its shard of rows
-- to the nearest centroid, |x - c|^2 = |x|^2 - 2 x.c + |c|^2 summed over
-- the row's nonzeros, and adds the per-cluster sums of its rows and their
-- counts to table "S" (k x (d + 1), the count in the last column). After the
-- clock every worker reads S and sets c_j = sum_j / count_j (a cluster that
-- got no row keeps its centroid), so all workers hold the same centroids.
--
-- S must hold this iteration's sums, not the run's: a worker adds its new
-- sums minus the ones it added the iteration before. The table's value
-- after clock t is then the sum over the workers of their clock-t sums (up
-- to the rounding of the running total, about 1e-16 relative a clock).
-- Reading S at the next clock needs every worker's increments of this one,
-- so S is a BSP table whatever --consistency says: one worker or many give
-- the same centroids and the same inertia sequence.
--
-- The start is table "C" (k x d), filled in setup from the whole data set:
-- --init kmeans++ (the default: the first centre a row drawn uniformly, each
-- next one a row drawn with probability proportional to its squared
-- distance to the nearest centre chosen, from --seed) or --init first (the
-- first k rows). Every process computes the same centres from the same data
-- and seed, and the first init of a row counts. --normalize scales every row
-- to unit L2 norm first (tf-idf rows). At the end worker 0 adds the change of
-- the centroids of the last iteration to C, and finish takes the last means
-- (or, for an empty cluster, C's row); --save writes them as one
-- k x d float64 array (.npy; row j centroid j, column f feature f + 1).
local pmls = require "pmls"
local saved_model = require "pmls.model"

local app = pmls.app("kmeans", [[k-means by Lloyd iterations (libsvm files).
One clock per iteration: workers assign their rows to the nearest centroid and
add per-cluster sums and counts to the store; the centroids are their means.]])
app:option("data", nil, "training file (libsvm format, .gz allowed)", { type = "string", required = true })
app:option("k", 8, "number of clusters", { type = "int", min = 1 })
app:option("iters", 20, "Lloyd iterations (one clock each)", { type = "int", min = 1 })
app:option("init", "kmeans++", "initial centroids: kmeans++ (from --seed) or first (the first k rows)",
           { choices = { "kmeans++", "first" } })
app:option("normalize", false, "scale every row to unit L2 norm before clustering")
app:option("save", nil, "write the centroids (k x d float64, .npy) to this file and its description to FILE.json",
           { type = "string" })
app:metric("inertia", "sum")
app:metric("examples", "sum")
app:metric("empty", "max")

local function read(ctx, path, opts) return assert(ctx:read_libsvm(path, opts)) end

-- Per row: the factor it is scaled by (1, or 1/|x| with --normalize) and
-- its squared norm after scaling. The data stay as the reader shares them.
local function row_scales(ds, normalize)
  local scale, norm2 = pmls.array.float64(math.max(ds.n, 1)), pmls.array.float64(math.max(ds.n, 1))
  for r = 0, ds.n - 1 do
    local s = 0
    for p = tonumber(ds.rowptr[r]), tonumber(ds.rowptr[r + 1]) - 1 do s = s + ds.val[p] ^ 2 end
    if normalize then
      scale[r] = s > 0 and 1 / math.sqrt(s) or 0
      norm2[r] = s > 0 and s * scale[r] ^ 2 or 0
    else
      scale[r], norm2[r] = 1, s
    end
  end
  return scale, norm2
end

-- |x_r - c|^2 for the centroid at c[base .. base + d - 1] with |c|^2 = cc.
local function dist2(ds, r, scale, norm2, c, base, cc)
  local dot = 0
  for p = tonumber(ds.rowptr[r]), tonumber(ds.rowptr[r + 1]) - 1 do
    dot = dot + ds.val[p] * c[base + ds.col[p]]
  end
  return norm2[r] - 2 * scale[r] * dot + cc
end

-- Writes row r (scaled) into centroid j of the flat k x d array c.
local function set_row(ds, r, scale, c, j, d)
  for f = 0, d - 1 do c[j * d + f] = 0 end
  for p = tonumber(ds.rowptr[r]), tonumber(ds.rowptr[r + 1]) - 1 do
    c[j * d + ds.col[p]] = ds.val[p] * scale[r]
  end
end

local function norms(c, k, d, cc)
  for j = 0, k - 1 do
    local s = 0
    for f = j * d, j * d + d - 1 do s = s + c[f] ^ 2 end
    cc[j] = s
  end
end

-- k-means++ seeding (Arthur and Vassilvitskii), one draw per centre.
local function kmeanspp(ds, scale, norm2, k, d, seed, c)
  local rng = pmls.data.new_rng(seed)
  local n = ds.n
  local best = pmls.array.float64(n)
  local cc = pmls.array.float64(k)
  set_row(ds, rng.below(n), scale, c, 0, d)
  norms(c, 1, d, cc)
  for r = 0, n - 1 do best[r] = math.max(dist2(ds, r, scale, norm2, c, 0, cc[0]), 0) end
  for j = 1, k - 1 do
    local total = 0
    for r = 0, n - 1 do total = total + best[r] end
    local pick = n - 1
    if total > 0 then
      local u, acc = rng.uniform() * total, 0
      for r = 0, n - 1 do
        acc = acc + best[r]
        if acc > u then pick = r; break end
      end
    else
      pick = rng.below(n) -- every row is on a centre already
    end
    set_row(ds, pick, scale, c, j, d)
    local s = 0
    for f = j * d, j * d + d - 1 do s = s + c[f] ^ 2 end
    for r = 0, n - 1 do
      local e = math.max(dist2(ds, r, scale, norm2, c, j * d, s), 0)
      if e < best[r] then best[r] = e end
    end
  end
end

function app:setup(ctx)
  local opt = ctx.opt
  local ds = read(ctx, opt.data)
  local k, d = opt.k, ds.d
  if ds.n < k then app:usage("--k %d exceeds the %d rows of --data", k, ds.n) end
  if d < 1 then app:usage("--data has no features") end
  ctx:table("C", { rows = k, cols = d })
  ctx:table("S", { rows = k, cols = d + 1, consistency = "bsp" })
  local scale, norm2 = row_scales(ds, opt.normalize)
  local c = pmls.array.float64(k * d)
  if opt.init == "first" then
    for j = 0, k - 1 do set_row(ds, j, scale, c, j, d) end
  else
    kmeanspp(ds, scale, norm2, k, d, ctx.seed, c)
  end
  local C = ctx:table("C")
  local row = C:row_buffer()
  for j = 0, k - 1 do
    for f = 0, d - 1 do row[f] = c[j * d + f] end
    assert(C:init(j, row))
  end
  return { k = k, d = d, n = ds.n }
end

-- A checkpoint keeps a worker's centroids as of the clock (the means of
-- the snapshot's S are taken after it, on resume as in the run) and the
-- sums it added at that clock (prev: its next increment is the change),
-- as arrays; C is not changed before the last iteration. prev is the sums
-- of the worker's shard of -w, so a resume needs the snapshot's workers.
local own = {} -- this worker's (each worker has a Lua state of its own)

function app:save_state() return { c = own.c, prev = own.prev } end

app:resume_on_same_workers()

function app:worker(ctx)
  local sh = ctx.shared
  local k, d = sh.k, sh.d
  local ds = read(ctx, ctx.opt.data, { d = d, shard = { index = ctx.worker, count = ctx.workers } })
  local scale, norm2 = row_scales(ds, ctx.opt.normalize)
  local C, S = ctx:table("C"), ctx:table("S")
  local ids = pmls.array.int64(k)
  for j = 0, k - 1 do ids[j] = j end
  local w = d + 1
  local c = assert(C:get_many(ids, k, pmls.array.float64(k * d)))
  local start = pmls.array.float64(k * d)
  pmls.array.copy(start, c, k * d)
  local cc = pmls.array.float64(k)
  local cur, prev = pmls.array.float64(k * w), pmls.array.float64(k * w)
  local total = pmls.array.float64(k * w)
  local delta = S:row_buffer()
  local empty = 0 -- clusters that kept their centroid for want of rows
  -- After iteration it's clock: the centroids := the means of S.
  local function update(it)
    if it < ctx.opt.iters then
      assert(S:get_many(ids, k, total))
      empty = 0
      for j = 0, k - 1 do
        local count = total[j * w + d]
        if count >= 0.5 then
          for f = 0, d - 1 do c[j * d + f] = total[j * w + f] / count end
        else
          empty = empty + 1
        end
      end
    end
  end
  local first = 1
  if ctx.start_clock > 0 then
    local saved = ctx.resume.state or {}
    if pmls.array.length(saved.c) ~= pmls.array.length(c) or pmls.array.length(saved.prev) ~= pmls.array.length(prev) then
      error(("--resume: %s: worker %d: not the state of %d clusters of %d features"):format(
        ctx.resume.path, ctx.worker, k, d), 0)
    end
    pmls.array.copy(c, saved.c, k * d)
    pmls.array.copy(prev, saved.prev, k * w)
    first = ctx.start_clock + 1
    update(ctx.start_clock)
  end
  own.c, own.prev = c, prev
  for it = first, ctx.opt.iters do
    norms(c, k, d, cc)
    for i = 0, k * w - 1 do cur[i] = 0 end
    local inertia = 0
    for r = 0, ds.n - 1 do
      local bj, bd = 0, dist2(ds, r, scale, norm2, c, 0, cc[0])
      for j = 1, k - 1 do
        local e = dist2(ds, r, scale, norm2, c, j * d, cc[j])
        if e < bd then bj, bd = j, e end
      end
      inertia = inertia + math.max(bd, 0)
      local base, s = bj * w, scale[r]
      for p = tonumber(ds.rowptr[r]), tonumber(ds.rowptr[r + 1]) - 1 do
        cur[base + ds.col[p]] = cur[base + ds.col[p]] + ds.val[p] * s
      end
      cur[base + d] = cur[base + d] + 1
    end
    for j = 0, k - 1 do
      for f = 0, d do
        delta[f] = cur[j * w + f] - prev[j * w + f]
        prev[j * w + f] = cur[j * w + f]
      end
      assert(S:inc(j, delta))
    end
    ctx:report { inertia = inertia, examples = ds.n, empty = empty }
    if it == ctx.opt.iters and ctx.worker == 0 then -- C := the centroids of the last iteration
      local row = C:row_buffer()
      for j = 0, k - 1 do
        for f = 0, d - 1 do row[f] = c[j * d + f] - start[j * d + f] end
        assert(C:inc(j, row))
      end
    end
    assert(ctx:clock())
    update(it)
  end
end

-- The final centroids: the last iteration's means, or for a cluster that
-- got no row there, its centroid of that iteration (C, from worker 0).
function app:finish(ctx)
  local sh = ctx.shared
  local k, d, w = sh.k, sh.d, sh.d + 1
  local C, S = ctx:table("C"), ctx:table("S")
  local saved = saved_model.array("float64", { k, d })
  local row, sums = C:row_buffer(), S:row_buffer()
  local empty = 0
  for j = 0, k - 1 do
    assert(C:get(j, row))
    assert(S:get(j, sums))
    local count = sums[d]
    if count < 0.5 then empty = empty + 1 end
    for f = 0, d - 1 do saved.data[j * d + f] = count >= 0.5 and sums[f] / count or row[f] end
  end
  ctx:report { final_empty = empty }
  if ctx.opt.save then
    saved_model.save(ctx, { centroids = saved }, {
      rows = "centroids[j]: the centre of cluster j; column f: feature f + 1 of the libsvm file"
             .. (ctx.opt.normalize and " (rows scaled to unit L2 norm)" or "") })
  end
end

return app
