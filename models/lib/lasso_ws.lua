-- lib.lasso_ws (models/lib/lasso_ws.lua): the working-set solver that
-- models/lasso.lua runs on its scheduler node. It serves that one model, so
-- it lives beside the models (require "lib.lasso_ws", see pmls.runtime)
-- rather than in the engine's package. Parallel rounds of a few coordinates (SAP) need hundreds
-- to thousands of rounds, each a message exchange with every worker; but
-- the Lasso optimum usually has few non-zeros, and once the node holds the
-- Gram matrix G = Xc'Xc of a working set W (Xc: the columns, centred when
-- there is an intercept) it can run coordinate descent on W alone, exactly
-- and sequentially (a step on w_a moves every gradient g_b by -G_ba * step),
-- without touching the data. The workers' part of a round is then one
-- gradient Xc'r of every coordinate at their residuals: the node checks
-- optimality (the duality gap), grows W by the coordinates of highest
-- priority (the objective decrease one step on each would bring), solves
-- the problem restricted to W, and commits the changes. A few rounds reach
-- the optimum.
--
-- Coordinate descent is slow on ill-conditioned problems (the STRADS
-- 500 x 1000 sample needs tens of thousands of sweeps): once the signs of
-- W's non-zeros stop changing, the node solves for them directly, with one
-- Cholesky factorisation of G on the support (a Newton step on the
-- objective with those signs, cut short where a weight would change sign).
local pmls = require "pmls"
local array, kernels = pmls.array, pmls.kernels

local abs, max, min, sqrt = math.abs, math.max, math.min, math.sqrt
local double_array, int_array = array.float64, array.int32
local axpy, gram_add = kernels.axpy, kernels.gram_add

local M = {}
M.__index = M

-- The soft threshold S(z, t) = sign(z) max(|z| - t, 0).
local function soft(z, t)
  if z > t then return z - t elseif z < -t then return z + t end
  return 0
end
M.soft = soft

-- o: n, p, the node's rows (rowptr, col, val: CSR over all n rows), mean
-- (column means, or nil without an intercept), xty (Xc'yc: the first
-- round's gradient) and max_size (the largest working set).
function M.new(o)
  local self = setmetatable({
    n = o.n, p = o.p, rowptr = o.rowptr, col = o.col, val = o.val, mean = o.mean,
    max_size = min(o.max_size, o.p), m = 0, cap = 0,
    pos = int_array(o.p), stats = { sweeps = 0, newton = 0, extrapolated = 0, gram_s = 0, solve_s = 0 },
  }, M)
  for j = 0, o.p - 1 do self.pos[j] = -1 end
  self:reserve(min(256, self.max_size))
  return self
end

-- Room for cap coordinates: W's ids, weights, gradients, X_c'y_c and the
-- cap x cap Gram matrix, row-major (row a holds G_ab for every b).
function M:reserve(cap)
  if cap <= self.cap then return end
  local old, oldcap, m = self.G, self.cap, self.m
  local G = double_array(cap * cap)
  for a = 0, m - 1 do array.copy(G + a * cap, old + a * oldcap, m) end
  local function grown(arr, make)
    local new = make(cap)
    if arr then array.copy(new, arr, m) end
    return new
  end
  self.ws, self.w, self.g = grown(self.ws, int_array), grown(self.w, double_array), grown(self.g, double_array)
  self.yc = grown(self.yc, double_array)
  self.G, self.cap = G, cap
  self.list = int_array(cap)
  self.rhs, self.step = double_array(cap), double_array(cap)
end

-- Adds the coordinates new[0..count-1] to W and computes their Gram rows
-- over the rows of X: each row costs its entries in W times its new ones
-- (kernels.gram_add fills the lower triangle; the upper is mirrored here).
function M:add(new, count, xty)
  local m0 = self.m
  if m0 + count > self.cap then
    local cap = self.cap
    while cap < m0 + count do cap = cap * 2 end
    self:reserve(min(cap, self.max_size))
  end
  local pos, ws, yc = self.pos, self.ws, self.yc
  for t = 0, count - 1 do
    local j = new[t]
    pos[j], ws[m0 + t], yc[m0 + t] = m0 + t, j, xty[j]
    self.w[m0 + t] = 0
  end
  local m, cap, G = m0 + count, self.cap, self.G
  self.m = m
  for a = m0, m - 1 do array.fill(G + a * cap, cap) end
  local ia, va = self.scratch_i, self.scratch_v
  if not ia then
    ia, va = int_array(self.p), double_array(self.p)
    self.scratch_i, self.scratch_v = ia, va
  end
  gram_add(self.n, self.rowptr, self.col, self.val, pos, m0, G, cap, ia, va)
  local mean, n = self.mean, self.n
  for a = m0, m - 1 do
    local base = a * cap
    if mean then
      local ma = n * mean[ws[a]]
      for b = 0, a do G[base + b] = G[base + b] - ma * mean[ws[b]] end
    end
    for b = 0, a - 1 do G[b * cap + a] = G[base + b] end
  end
end

-- One pass of coordinate descent over the positions list[0..nl-1]; it
-- keeps the gradients of all of W, the squared residual norm rr and r'yc
-- exact. Returns the largest |step| * |x_a| and whether a weight became or
-- stopped being zero.
function M:sweep(list, nl, na)
  local G, cap, m, w, g, yc = self.G, self.cap, self.m, self.w, self.g, self.yc
  local largest, flipped = 0, false
  local rr, ry, l1 = self.rr, self.ry, self.l1
  for t = 0, nl - 1 do
    local a = list[t]
    local base = a * cap
    local caa = G[base + a]
    if caa > 0 then
      local wa, ga = w[a], g[a]
      local wn = soft(caa * wa + ga, na) / caa
      local d = wn - wa
      if d ~= 0 then
        w[a] = wn
        if (wn == 0) ~= (wa == 0) then flipped = true end
        rr = rr - 2 * d * ga + d * d * caa
        ry = ry - d * yc[a]
        l1 = l1 + abs(wn) - abs(wa)
        axpy(m, -d, G + base, g)
        largest = max(largest, abs(d) * sqrt(caa))
      end
    end
  end
  self.rr, self.ry, self.l1 = rr, ry, l1
  self.work = self.work + nl * m
  return largest, flipped
end

-- The duality gap of the problem restricted to W (primal minus the dual at
-- the scaled residual), from the tracked rr, r'yc and |w|_1.
function M:gap(na)
  local gmax, g = 0, self.g
  for a = 0, self.m - 1 do gmax = max(gmax, abs(g[a])) end
  local s = gmax > 0 and min(1, na / gmax) or 1
  local primal = self.rr / 2 + na * self.l1
  return primal - (s * self.ry - s * s * self.rr / 2), primal
end

-- Solves H x = rhs (rhs nil: all ones) for the symmetric k x k matrix H
-- (row stride k) by an in-place Cholesky factorisation; false when H is
-- not numerically positive definite.
local function cholesky_solve(H, k, rhs, x)
  for j = 0, k - 1 do
    local rowj = j * k
    local d = H[rowj + j]
    for q = 0, j - 1 do d = d - H[rowj + q] * H[rowj + q] end
    if not (d > 1e-13 * max(H[rowj + j], 1e-300)) then return false end
    d = sqrt(d)
    H[rowj + j] = d
    for i = j + 1, k - 1 do
      local rowi = i * k
      local s = H[rowi + j]
      for q = 0, j - 1 do s = s - H[rowi + q] * H[rowj + q] end
      H[rowi + j] = s / d
    end
  end
  for u = 0, k - 1 do -- L z = rhs
    local s, row = rhs and rhs[u] or 1, u * k
    for v = 0, u - 1 do s = s - H[row + v] * x[v] end
    x[u] = s / H[row + u]
  end
  for u = k - 1, 0, -1 do -- L' x = z
    local s = x[u]
    for v = u + 1, k - 1 do s = s - H[v * k + u] * x[v] end
    x[u] = s / H[u * k + u]
  end
  return true
end

-- The Newton step on the support S of w with its signs fixed: solves
-- G_SS step = g_S - na sign(w_S), then moves along it as far as 1, or to
-- where the first weight reaches zero. The objective with fixed signs is a
-- quadratic that this direction minimises, so any such move descends; the
-- step is still taken only when the objective it gives is lower.
function M:newton(na)
  local m, cap, G, w, g = self.m, self.cap, self.G, self.w, self.g
  local S, k = self.list, 0
  for a = 0, m - 1 do
    if w[a] ~= 0 then S[k] = a; k = k + 1 end
  end
  if k == 0 then return false end
  if not self.chol or self.chol_n < k * k then
    self.chol, self.chol_n = double_array(k * k), k * k
  end
  local H, rhs, step = self.chol, self.rhs, self.step
  for u = 0, k - 1 do
    local base = S[u] * cap
    for v = 0, k - 1 do H[u * k + v] = G[base + S[v]] end
    local a = S[u]
    rhs[u] = g[a] - (w[a] > 0 and na or -na)
  end
  self.work = self.work + k * k * k / 3
  if not cholesky_solve(H, k, rhs, step) then return false end
  local t, hit = 1, -1
  for u = 0, k - 1 do
    local wa, d = w[S[u]], step[u]
    if wa * (wa + d) < 0 and -wa / d < t then t, hit = -wa / d, u end
  end
  -- the objective's change, first: a factorisation that lost too much
  -- precision must not make things worse
  local gs, sgs, dl1 = 0, 0, 0
  for u = 0, k - 1 do
    local d, a = t * step[u], S[u]
    step[u] = d
    gs = gs + d * g[a]
    dl1 = dl1 + (u == hit and 0 or abs(w[a] + d)) - abs(w[a])
  end
  for u = 0, k - 1 do
    local base, s = S[u] * cap, 0
    for v = 0, k - 1 do s = s + G[base + S[v]] * step[v] end
    sgs = sgs + step[u] * s
  end
  if not (sgs / 2 - gs + na * dl1 < 0) then return false end
  local rr, ry, l1 = self.rr, self.ry, self.l1
  for u = 0, k - 1 do
    local d, a = step[u], S[u]
    if d ~= 0 then
      local wa = w[a]
      local wn = u == hit and 0 or wa + d
      w[a] = wn
      l1 = l1 + abs(wn) - abs(wa)
      ry = ry - d * self.yc[a]
      axpy(m, -d, G + a * cap, g)
    end
  end
  self.rr, self.ry, self.l1 = rr - 2 * gs + sgs, ry, l1
  self.work = self.work + k * m
  self.stats.newton = self.stats.newton + 1
  return true
end

-- Anderson extrapolation (Bertrand and Massias, 2021) of the last iterates
-- of coordinate descent on the support S: the affine combination of them
-- whose successive differences cancel best. It is taken only when it
-- lowers the objective, which costs one product with G.
local ANDERSON = 5

function M:extrapolate(S, ns, na)
  local K, hist, cap, G, m, w, g = ANDERSON, self.hist, self.cap, self.G, self.m, self.w, self.g
  local UU, z = self.UU, self.z
  for k = 0, K - 1 do
    for l = k, K - 1 do
      local s, hk, hk1, hl, hl1 = 0, k * cap, (k + 1) * cap, l * cap, (l + 1) * cap
      for u = 0, ns - 1 do
        s = s + (hist[hk1 + u] - hist[hk + u]) * (hist[hl1 + u] - hist[hl + u])
      end
      UU[k * K + l], UU[l * K + k] = s, s
    end
  end
  local trace = 0
  for k = 0, K - 1 do trace = trace + UU[k * K + k] end
  if not (trace > 0) then return false end
  for k = 0, K - 1 do UU[k * K + k] = UU[k * K + k] + 1e-10 * trace end
  if not cholesky_solve(UU, K, nil, z) then return false end
  local zs = 0
  for k = 0, K - 1 do zs = zs + z[k] end
  if zs == 0 then return false end
  local delta, Gd = self.rhs, self.Gd
  for u = 0, ns - 1 do
    local e = 0
    for k = 0, K - 1 do e = e + z[k] * hist[(k + 1) * cap + u] end
    delta[u] = e / zs - w[S[u]]
  end
  array.fill(Gd, m)
  for u = 0, ns - 1 do
    local d, base = delta[u], S[u] * cap
    if d ~= 0 then axpy(m, d, G + base, Gd) end
  end
  self.work = self.work + ns * m
  local dq, dl1, dy = 0, 0, 0
  for u = 0, ns - 1 do
    local a, d = S[u], delta[u]
    dq = dq + d * (0.5 * Gd[a] - g[a])
    dl1 = dl1 + abs(w[a] + d) - abs(w[a])
    dy = dy + d * self.yc[a]
  end
  if not (dq + na * dl1 < 0) then return false end
  for u = 0, ns - 1 do w[S[u]] = w[S[u]] + delta[u] end
  axpy(m, -1, Gd, g)
  self.rr, self.ry, self.l1 = self.rr + 2 * dq, self.ry - dy, self.l1 + dl1
  self.stats.extrapolated = self.stats.extrapolated + 1
  return true
end

-- Records the support's weights as iterate number slot of the history.
function M:record(S, ns, slot)
  local hist, w, base = self.hist, self.w, slot * self.cap
  for u = 0, ns - 1 do hist[base + u] = w[S[u]] end
end

-- Solves the problem restricted to W from the weights model[ws[a]] and the
-- gradients grad[ws[a]] (both indexed by coordinate) at residuals with
-- squared norm rr and r'yc = ry; stops when the restricted duality gap is
-- below tol times its objective. Leaves the new weights in self.w.
function M:solve(model, grad, rr, ry, na, tol)
  local m, cap, ws, w, g = self.m, self.cap, self.ws, self.w, self.g
  local l1 = 0
  for a = 0, m - 1 do
    w[a], g[a] = model[ws[a]], grad[ws[a]]
    l1 = l1 + abs(w[a])
  end
  self.rr, self.ry, self.l1, self.work = rr, ry, l1, 0
  if not self.hist or self.hist_cap < cap then
    self.hist, self.hist_cap = double_array((ANDERSON + 1) * cap), cap
    self.all, self.support, self.Gd = int_array(cap), int_array(cap), double_array(cap)
    self.UU, self.z = double_array(ANDERSON * ANDERSON), double_array(ANDERSON)
  end
  local all, S = self.all, self.support
  for a = 0, m - 1 do all[a] = a end
  local sweeps, stable, since_newton = 0, 0, 0
  local function newton_due(ns)
    return stable >= 2 and self.work - since_newton > ns * ns * ns / 3 + ns * m
  end
  while sweeps < 100000 do
    -- a sweep of W, then sweeps of its non-zeros until they settle
    local _, flipped = self:sweep(all, m, na)
    sweeps = sweeps + 1
    local gap, primal = self:gap(na)
    if gap <= tol * primal then break end
    local ns = 0
    for a = 0, m - 1 do
      if w[a] ~= 0 then S[ns] = a; ns = ns + 1 end
    end
    stable = flipped and 0 or stable + 1
    self:record(S, ns, 0)
    local kept = 1
    for _ = 1, 1000 do
      local step, changed = self:sweep(S, ns, na)
      sweeps = sweeps + 1
      if changed then stable = 0 break end
      if step <= 1e-3 * tol * sqrt(max(self.rr, 1e-300)) then break end
      self:record(S, ns, kept)
      kept = kept + 1
      if kept > ANDERSON then
        self:extrapolate(S, ns, na)
        self:record(S, ns, 0)
        kept = 1
      end
      -- once the signs hold still, a direct solve is cheaper than the
      -- sweeps coordinate descent would still need
      if newton_due(ns) then break end
    end
    if newton_due(ns) then
      self:newton(na)
      since_newton = self.work
    end
  end
  self.stats.sweeps = self.stats.sweeps + sweeps
  return sweeps
end

-- What a checkpoint keeps of the solver between rounds: W (its ids, weights, gradients, X_c'y_c
-- and Gram matrix, as arrays) and the counters; the rest is scratch of one solve. restore(st)
-- puts it into a solver made with the same options, which then goes on bit for bit.
function M:save()
  local stats = {}
  for k, v in pairs(self.stats) do stats[k] = v end
  return { m = self.m, cap = self.cap, pos = self.pos, ws = self.ws, w = self.w, g = self.g,
           yc = self.yc, G = self.G, stats = stats }
end

function M:restore(st)
  self:reserve(st.cap)
  if self.cap ~= st.cap or array.length(st.G) ~= st.cap * st.cap or array.length(st.pos) ~= self.p then
    error("--resume: the working set of the snapshot does not fit this problem", 0)
  end
  self.m = st.m
  array.copy(self.pos, st.pos, self.p)
  for _, f in ipairs { "ws", "w", "g", "yc" } do array.copy(self[f], st[f], st.cap) end
  array.copy(self.G, st.G, st.cap * st.cap)
  for k, v in pairs(st.stats) do self.stats[k] = v end
end

-- Picks up to count coordinates outside W with the highest priority
-- prio[j] > 0 (j in [0, p)), into out; returns how many, and whether some
-- were left out because W is full.
function M:pick(prio, count, out)
  local p, pos = self.p, self.pos
  count = min(count, self.max_size - self.m)
  local cand, nc = self.cand, 0
  if not cand then cand = double_array(p); self.cand = cand end
  for j = 0, p - 1 do
    if pos[j] < 0 and prio[j] > 0 then cand[nc] = prio[j]; nc = nc + 1 end
  end
  if nc == 0 then return 0, false end
  if count <= 0 then return 0, true end
  local threshold = 0
  if nc > count then
    -- the count-th largest priority, by quickselect on the copies
    local lo, hi, want = 0, nc - 1, count - 1
    while lo < hi do
      local pivot = cand[lo + math.floor((hi - lo) / 2)]
      local i, j = lo, hi
      while i <= j do
        while cand[i] > pivot do i = i + 1 end
        while cand[j] < pivot do j = j - 1 end
        if i <= j then cand[i], cand[j] = cand[j], cand[i]; i, j = i + 1, j - 1 end
      end
      if want <= j then hi = j elseif want >= i then lo = i else break end
    end
    threshold = cand[want]
  end
  local got = 0
  for j = 0, p - 1 do
    if got < count and pos[j] < 0 and prio[j] > 0 and prio[j] >= threshold then
      out[got] = j
      got = got + 1
    end
  end
  return got, false
end

return M
