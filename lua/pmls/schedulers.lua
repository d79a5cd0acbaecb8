-- pmls.schedulers: the variable schedulers of scheduled model parallelism (STRADS' schedule step).
--
-- A scheduler runs on a scheduler node and, once per round, picks the variables the workers update
-- next: `uniform` (Shotgun: a random subset), `cyclic` (a sweep), `priority` (sampled in proportion
-- to each variable's most recent change squared, plus a floor eta) and `block` (Fugue / DSGD: a
-- diagonal of the rows x variables grid, one block per worker slot). The first three can pass their
-- draws through a dependency filter that keeps only candidates that are nearly independent of those
-- already kept, so that their parallel updates do not interfere.
--
-- Everything a round touches lives in FFI arrays allocated by new(): next() and update() create no
-- tables and no closures, so a driver loop over tens of thousands of rounds stays in JIT traces and
-- off the GC. Priority sampling uses a sum tree (each internal node is recomputed from its two
-- children on every change, so it cannot drift the way a running Fenwick sum does), which makes a
-- round cost O(candidates * log p) however many variables there are.
--
-- Every random choice comes from the scheduler's own generator (pmls.rng's xorshift128), seeded
-- from opts.seed: two schedulers built with the same kind, options and seed and fed the same
-- update() calls return the same rounds, on any machine (math.random is shared with the script and
-- differs between builds).
--
-- Conventions: misuse (a bad kind or option, a bad argument) raises
-- "bad argument 'x' to f (why)"; schedulers have no runtime failures.

local ffi = require("ffi")
local bit = require("bit")
local rng = require("pmls.rng")

local lshift, rshift = bit.lshift, bit.rshift
local floor, min, huge = math.floor, math.min, math.huge
local tonumber, type = tonumber, type

local M = {}

local double_array = ffi.typeof("double[?]")
local int32_array = ffi.typeof("int32_t[?]")
local int64_array = ffi.typeof("int64_t[?]")
local int64_pointer = ffi.typeof("int64_t *")

local INT32_MAX = 2147483647
local TWO_POW_53 = 2 ^ 53

-- The priority floor. A variable's weight is (its last change)^2 + eta, so eta decides how often a
-- variable that stopped moving is looked at again: at 1e-6 a variable whose last step was 1e-3 is
-- already twice as likely as one that did not move, while a variable that never moved is still
-- drawn now and then (on a problem where the active ones move by ~0.1, about once per 10^4 draws of
-- an active one). Scripts whose variables live on a very different scale should set their own.
M.DEFAULT_ETA = 1e-6

---------------------------------------------------------------------------------------------------
-- Argument checking (misuse raises, pointing at the caller of the public function).

local function describe(v)
  if type(v) == "number" or type(v) == "string" then return type(v) .. " " .. tostring(v) end
  return type(v)
end

local function bad(name, fn, why, level)
  error(("bad argument '%s' to %s (%s)"):format(name, fn, why), level + 1)
end

-- Integers up to 2^53 are exact in a double, which is what variable ids and seeds are here.
local function is_integer(v)
  return type(v) == "number" and v == floor(v) and v >= -TWO_POW_53 and v <= TWO_POW_53
end

local NEW = "schedulers.new"

-- opts[field] as an integer >= least (any integer when least is nil).
local function check_integer(opts, field, least, level)
  local v = opts[field]
  if not (is_integer(v) and (least == nil or v >= least)) then
    local want = least and ("integer >= %d"):format(least) or "integer"
    bad("opts." .. field, NEW, ("%s expected, got %s"):format(want, describe(v)), level + 1)
  end
  return v
end

-- The options each kind reads. An option that does not apply to the kind raises rather than being
-- dropped: a script that asks for eta on a uniform scheduler, or a dependency filter on a block
-- one, has misread what it is running. per_round is accepted by block (and ignored) because the
-- runtime passes it whatever the kind; workers is accepted by every kind for the same reason.
local KINDS = {
  uniform = { lo = true, hi = true, per_round = true, candidates = true, dependency = true,
              depfn = true, seed = true, workers = true },
  cyclic = { lo = true, hi = true, per_round = true, candidates = true, dependency = true,
             depfn = true, seed = true, workers = true },
  priority = { lo = true, hi = true, per_round = true, candidates = true, dependency = true,
               depfn = true, seed = true, workers = true, eta = true },
  block = { lo = true, hi = true, per_round = true, seed = true, workers = true, blocks = true,
            rows = true },
}

local ALL_OPTIONS = {}
for _, allowed in pairs(KINDS) do
  for k in pairs(allowed) do ALL_OPTIONS[k] = true end
end

---------------------------------------------------------------------------------------------------
-- Common parts of next().

-- Checks the output array once per distinct buffer: an array too short for the round would be
-- written past its end. Pointers (int64_t *) cannot be measured and are taken on trust.
local function check_out(self, out)
  if rawequal(out, self.checked_out) then return end
  if type(out) ~= "cdata" then
    bad("out", "next", "int64_t array expected, got " .. type(out), 3)
  end
  if ffi.istype(int64_pointer, out) then
    self.checked_out = out
    return
  end
  local ctype = tostring(ffi.typeof(out))
  if not (ffi.istype(int64_array, out) or ctype:match("^ctype<int64_t %[%d+%]>$")) then
    bad("out", "next", "int64_t array expected, got " .. ctype, 3)
  end
  local size = ffi.sizeof(out) / 8
  if size < self.capacity then
    bad("out", "next", ("array of %d elements, capacity %d needed"):format(size, self.capacity), 3)
  end
  self.checked_out = out
end

-- The dependency filter: walks the candidates cand[0 .. drawn-1] in draw order and keeps candidate
-- j (writing it to out) when depfn(j, k) < theta for every k kept so far, until per_round are kept.
-- depfn only ever sees (candidate, kept) pairs, so a round costs at most per_round * drawn calls
-- however expensive the script's dependency is. Returns the number kept and the number examined.
local function filter(self, cand, drawn, out)
  local depfn, theta, per_round = self.depfn, self.theta, self.per_round
  local kept, examined, first_rejected = 0, 0, -1
  for i = 0, drawn - 1 do
    local j = tonumber(cand[i])
    examined = examined + 1
    local ok = true
    for q = 0, kept - 1 do
      local d = depfn(j, tonumber(out[q]))
      if type(d) ~= "number" then
        -- Levels: filter, finish_round, next, the caller of next.
        error(("bad argument 'opts.depfn' to next (returned %s for (%d, %d), number expected)")
          :format(type(d), j, tonumber(out[q])), 4)
      end
      -- Written as "not below" so that a NaN dependency rejects rather than admits.
      if not (d < theta) then ok = false; break end
    end
    if ok then
      out[kept] = j
      kept = kept + 1
      if kept == per_round then break end
    elseif first_rejected < 0 then
      first_rejected = i
    end
  end
  local stats = self.stats
  stats.kept = stats.kept + kept
  stats.rejected = stats.rejected + (examined - kept)
  return kept, examined, first_rejected < 0 and examined or first_rejected
end

-- Shared tail of next() for the sampling kinds: draw into out directly without a filter, or into
-- the candidate buffer and filter it into out. Returns n and the number of candidates examined.
local function finish_round(self, drawn, out)
  local stats = self.stats
  stats.rounds = stats.rounds + 1
  stats.candidates = stats.candidates + drawn
  if not self.depfn then
    stats.kept = stats.kept + drawn
    return drawn, drawn, drawn
  end
  local kept, examined, advance = filter(self, self.cand, drawn, out)
  return kept, examined, advance -- not a tail call: error levels count this frame
end

-- Argument checks of update(), shared by every kind (levels: check_update, update, its caller).
local function check_update(vars, n, deltas, width)
  if not (is_integer(n) and n >= 0) then
    bad("n", "update", "integer >= 0 expected, got " .. describe(n), 3)
  end
  if not (is_integer(width) and width >= 1) then
    bad("width", "update", "integer >= 1 expected, got " .. describe(width), 3)
  end
  if n > 0 and type(vars) ~= "cdata" then
    bad("vars", "update", "int64_t array expected, got " .. type(vars), 3)
  end
  if n > 0 and type(deltas) ~= "cdata" then
    bad("deltas", "update", "double array expected, got " .. type(deltas), 3)
  end
end

---------------------------------------------------------------------------------------------------
-- uniform: a partial Fisher-Yates shuffle over a permutation of the range that is kept between
-- rounds. Shuffling the first k slots of any permutation yields a uniformly random k-subset in
-- uniformly random order, so the array never needs resetting and a round costs O(k), not O(p).

local Uniform = {}
Uniform.__index = Uniform

function Uniform:next(out)
  check_out(self, out)
  local perm, p, lo, k = self.perm, self.p, self.lo, self.draws
  local dst = self.depfn and self.cand or out
  for i = 0, k - 1 do
    local r = i + self.rng:below(p - i)
    local v = perm[r]
    perm[r] = perm[i]
    perm[i] = v
    dst[i] = lo + v
  end
  return (finish_round(self, k, out))
end

---------------------------------------------------------------------------------------------------
-- cyclic: lo, lo+1, ..., hi-1, lo, ... With a dependency filter the sweep moves on only up to
-- the first candidate it rejected (or past every candidate examined, when none was): a rejected
-- variable comes first in the next round, where nothing kept before it can reject it, so every
-- variable gets its turn however coupled the variables are. (Jumping past rejected ones could skip
-- some for ever: with 30 variables that all conflict and 16 candidates a round, only the even ones
-- would ever be kept.)

local Cyclic = {}
Cyclic.__index = Cyclic

function Cyclic:next(out)
  check_out(self, out)
  local p, lo, k, pos = self.p, self.lo, self.draws, self.pos
  local dst = self.depfn and self.cand or out
  for i = 0, k - 1 do
    local v = pos + i
    if v >= p then v = v - p end
    dst[i] = lo + v
  end
  local n, _, advance = finish_round(self, k, out)
  pos = pos + advance
  if pos >= p then pos = pos - p end
  self.pos = pos
  return n
end

---------------------------------------------------------------------------------------------------
-- priority: weighted sampling without replacement from a sum tree. Leaves m .. m+p-1 of tree[]
-- (m a power of two) hold the weights w_j = (delta beta_j)^2 + eta, node i holds tree[2i] +
-- tree[2i+1]. A draw descends from the root; the chosen leaf is set to 0 for the rest of the round
-- and restored afterwards, which leaves the tree bit-for-bit as it was (every sum is recomputed
-- from the same children in the same order).

local Priority = {}
Priority.__index = Priority

local function tree_set(tree, node, w)
  tree[node] = w
  node = rshift(node, 1)
  while node >= 1 do
    local left = lshift(node, 1)
    tree[node] = tree[left] + tree[left + 1]
    node = rshift(node, 1)
  end
end

-- Descends to a leaf with probability proportional to its weight. The current node always has a
-- positive sum: go left when u falls there, or when the right subtree is empty (u can reach the
-- node's sum through rounding); go right only into a positive subtree. So a zeroed leaf (already
-- drawn this round) is never returned, whatever the rounding.
local function tree_draw(self, tree, m)
  local node = 1
  local u = self.rng:uniform() * tree[1]
  while node < m do
    local left = lshift(node, 1)
    local wl = tree[left]
    if u < wl or not (tree[left + 1] > 0) then
      node = left
    else
      u = u - wl
      node = left + 1
    end
  end
  return node
end

function Priority:next(out)
  check_out(self, out)
  local tree, m, lo, k, saved = self.tree, self.m, self.lo, self.draws, self.saved
  local dst = self.depfn and self.cand or out
  for i = 0, k - 1 do
    local leaf = tree_draw(self, tree, m)
    saved[i] = tree[leaf]
    tree_set(tree, leaf, 0)
    dst[i] = lo + (leaf - m)
  end
  for i = 0, k - 1 do
    tree_set(tree, m + (tonumber(dst[i]) - lo), saved[i])
  end
  return (finish_round(self, k, out))
end

-- Sets each listed variable's weight to the sum of its squared deltas over the width, plus eta.
function Priority:update(vars, n, deltas, width)
  check_update(vars, n, deltas, width)
  local lo, hi, m, eta, tree = self.lo, self.hi, self.m, self.eta, self.tree
  -- Many leaves at once (a full sweep's changes): set them all, then
  -- recompute every sum once, O(p) instead of O(n log p). The tree ends the
  -- same, since each sum comes from the same children either way.
  local bulk = n * 8 > hi - lo
  for i = 0, n - 1 do
    local j = tonumber(vars[i])
    if not (j >= lo and j < hi) then
      bad("vars", "update", ("variable %s is outside [%d, %d)"):format(tostring(j), lo, hi), 2)
    end
    local s, base = 0, i * width
    for c = 0, width - 1 do
      local d = deltas[base + c]
      s = s + d * d
    end
    local w = s + eta
    if not (w < huge) then
      bad("deltas", "update", ("change of variable %d is not finite"):format(j), 2)
    end
    if bulk then tree[m + (j - lo)] = w else tree_set(tree, m + (j - lo), w) end
  end
  if bulk then
    for node = m - 1, 1, -1 do
      local left = lshift(node, 1)
      tree[node] = tree[left] + tree[left + 1]
    end
  end
end

-- The current sampling weight of variable j (for tests and diagnostics).
function Priority:weight(j)
  if not (is_integer(j) and j >= self.lo and j < self.hi) then
    bad("j", "weight", ("variable in [%d, %d) expected, got %s"):format(self.lo, self.hi, describe(j)), 2)
  end
  return self.tree[self.m + (j - self.lo)]
end

---------------------------------------------------------------------------------------------------
-- block: rows and variables each cut into d contiguous ranges; round t runs blocks (i, (i+t) mod d)
-- for i = 0..d-1, a diagonal of the d x d grid, so no two blocks of a round share rows or
-- variables and d consecutive rounds visit every block once. Block i goes to worker i mod workers.

local Block = {}
Block.__index = Block

-- Start of range c when n items are cut into d ranges as evenly as possible: the first n mod d
-- ranges get one item more. Exact in integers, unlike floor(c * n / d) for very large n.
local function range_start(n, d, c)
  local base = floor(n / d)
  return c * base + min(c, n - base * d)
end

function Block:next(out)
  check_out(self, out)
  local d, workers, p, lo = self.d, self.workers, self.p, self.lo
  local t = self.round
  local seg_worker, seg_lo, seg_hi = self.seg_worker, self.seg_lo, self.seg_hi
  local seg_rowblock, seg_colblock = self.seg_rowblock, self.seg_colblock
  local n, g = 0, 0
  for w = 0, min(workers, d) - 1 do
    for i = w, d - 1, workers do
      local c = i + t
      if c >= d then c = c - d end
      local vlo, vhi = range_start(p, d, c), range_start(p, d, c + 1)
      seg_worker[g], seg_rowblock[g], seg_colblock[g] = w, i, c
      seg_lo[g] = n
      for v = vlo, vhi - 1 do
        out[n] = lo + v
        n = n + 1
      end
      seg_hi[g] = n
      g = g + 1
    end
  end
  self.nseg = g
  t = t + 1
  if t == d then t = 0 end
  self.round = t
  local stats = self.stats
  stats.rounds = stats.rounds + 1
  stats.candidates = stats.candidates + n
  stats.kept = stats.kept + n
  return n
end

local function check_range_index(self, i, fn)
  if not (is_integer(i) and i >= 0 and i < self.d) then
    bad("i", fn, ("integer in [0, %d] expected, got %s"):format(self.d - 1, describe(i)), 3)
  end
end

-- The data rows of row range i: rows lo <= r < hi.
function Block:row_range(i)
  check_range_index(self, i, "row_range")
  return range_start(self.rows, self.d, i), range_start(self.rows, self.d, i + 1)
end

-- The variables of variable range c: lo <= j < hi, within the scheduler's [lo, hi).
function Block:var_range(c)
  check_range_index(self, c, "var_range")
  return self.lo + range_start(self.p, self.d, c), self.lo + range_start(self.p, self.d, c + 1)
end

---------------------------------------------------------------------------------------------------
-- update() for the kinds that do not use it: the runtime feeds every scheduler the same way, and
-- a malformed call is still reported.

local function ignore_update(_, vars, n, deltas, width)
  check_update(vars, n, deltas, width)
end
Uniform.update, Cyclic.update, Block.update = ignore_update, ignore_update, ignore_update

---------------------------------------------------------------------------------------------------
-- A checkpoint's part: save() is the scheduler's state (its generator, its counters, the sweep's
-- position, the permutation, the priority tree, the block round), plain data and arrays that
-- pmls.checkpoint writes as they are; restore(state) puts a saved state back into a scheduler
-- built with the same kind and options, so that it goes on with the rounds it would have picked.

local function save(self)
  local r = self.rng
  local stats = {}
  for k, v in pairs(self.stats) do stats[k] = v end
  return { kind = self.kind, rng = { r.x, r.y, r.z, r.w }, stats = stats, pos = self.pos,
           round = self.round, perm = self.perm, tree = self.tree }
end

local function restore(self, st)
  if type(st) ~= "table" or st.kind ~= self.kind or type(st.rng) ~= "table" then
    bad("state", "restore", ("not the state of a %s scheduler"):format(self.kind), 2)
  end
  local r = self.rng
  r.x, r.y, r.z, r.w = st.rng[1], st.rng[2], st.rng[3], st.rng[4]
  for k, v in pairs(st.stats or {}) do self.stats[k] = v end
  self.pos, self.round = st.pos, st.round
  for _, field in ipairs { "perm", "tree" } do
    local have, saved = self[field], st[field]
    if have then
      if type(saved) ~= "cdata" or ffi.sizeof(saved) ~= ffi.sizeof(have) then
        bad("state", "restore", ("its %s does not fit this scheduler"):format(field), 2)
      end
      ffi.copy(have, saved, ffi.sizeof(have))
    end
  end
end

Uniform.save, Cyclic.save, Priority.save, Block.save = save, save, save, save
Uniform.restore, Cyclic.restore, Priority.restore, Block.restore = restore, restore, restore, restore

---------------------------------------------------------------------------------------------------
-- Construction.

local CLASSES = { uniform = Uniform, cyclic = Cyclic, priority = Priority, block = Block }

-- Options common to the sampling kinds: per_round, candidates and the dependency filter.
local function setup_sampling(self, opts, kind)
  local per_round = check_integer(opts, "per_round", 1, 3)
  local candidates = opts.candidates
  if candidates == nil then
    candidates = per_round
  elseif not (is_integer(candidates) and candidates >= per_round) then
    bad("opts.candidates", NEW, ("integer >= per_round (%d) expected, got %s")
      :format(per_round, describe(candidates)), 3)
  end
  local theta, depfn = opts.dependency, opts.depfn
  if theta ~= nil then
    if not (type(theta) == "number" and theta >= 0) then
      bad("opts.dependency", NEW, "number >= 0 expected, got " .. describe(theta), 3)
    end
    if type(depfn) ~= "function" then
      bad("opts.depfn", NEW, "function expected with opts.dependency, got " .. type(depfn), 3)
    end
  elseif depfn ~= nil then
    bad("opts.depfn", NEW, "given without opts.dependency, it would never be called", 3)
  end
  local p = self.p
  self.per_round, self.theta, self.depfn = per_round, theta, depfn
  -- Without a filter every draw is returned, so only per_round are drawn.
  self.draws = min(depfn and candidates or per_round, p)
  self.capacity = min(per_round, p)
  if depfn then self.cand = int64_array(self.draws) end
  if kind == "uniform" then
    local perm = int32_array(p)
    for i = 0, p - 1 do perm[i] = i end
    self.perm = perm
  elseif kind == "cyclic" then
    self.pos = 0
  else
    local eta = opts.eta
    if eta == nil then
      eta = M.DEFAULT_ETA
    elseif not (type(eta) == "number" and eta > 0 and eta < huge) then
      bad("opts.eta", NEW, "finite number > 0 expected, got " .. describe(eta), 3)
    end
    -- Tree nodes are numbered up to 2m - 1 and walked with 32-bit bit operations.
    if p > 2 ^ 30 then
      bad("opts.hi", NEW, ("at most 2^30 variables per priority scheduler, got %d"):format(p), 3)
    end
    local m = 1
    while m < p do m = m * 2 end
    local tree = double_array(2 * m)
    for i = 0, p - 1 do tree[m + i] = eta end
    for node = m - 1, 1, -1 do tree[node] = tree[2 * node] + tree[2 * node + 1] end
    self.eta, self.m, self.tree = eta, m, tree
    self.saved = double_array(self.draws)
  end
end

local function setup_block(self, opts)
  if opts.per_round ~= nil then check_integer(opts, "per_round", 1, 3) end
  local d = opts.blocks
  if d == nil then d = self.workers else d = check_integer(opts, "blocks", 1, 3) end
  if d > self.p then
    bad("opts.blocks", NEW, ("%d blocks but only %d variables: a block would be empty"):format(d, self.p), 3)
  end
  if opts.rows == nil then bad("opts.rows", NEW, "required for block", 3) end
  local rows = check_integer(opts, "rows", 1, 3)
  if d > rows then
    bad("opts.blocks", NEW, ("%d blocks but only %d rows: a block would be empty"):format(d, rows), 3)
  end
  self.d, self.rows, self.round = d, rows, 0
  self.capacity = self.p
  self.nseg = 0
  self.seg_worker, self.seg_rowblock, self.seg_colblock = int32_array(d), int32_array(d), int32_array(d)
  self.seg_lo, self.seg_hi = int64_array(d), int64_array(d)
end

-- schedulers.new(kind, opts) -> scheduler. kind: "uniform" | "cyclic" | "priority" | "block".
-- opts: lo, hi (the variables lo <= j < hi), seed (integer, required), workers (default 1);
-- sampling kinds: per_round, candidates (default per_round; drawn only when filtering),
-- dependency (threshold theta >= 0) with depfn(j, k), eta (priority only, default DEFAULT_ETA);
-- block: rows (required), blocks (d, default workers), per_round (ignored).
-- The scheduler has next(out) -> n, update(vars, n, deltas, width), capacity and stats
-- (rounds, candidates drawn, kept, rejected by the filter); block adds nseg, seg_worker, seg_lo,
-- seg_hi, seg_rowblock, seg_colblock, row_range(i) and var_range(c); priority adds weight(j).
function M.new(kind, opts)
  local class = CLASSES[kind]
  if not class then
    bad("kind", NEW, ("%s: uniform, cyclic, priority or block expected"):format(describe(kind)), 2)
  end
  if type(opts) ~= "table" then bad("opts", NEW, "table expected, got " .. type(opts), 2) end
  local allowed = KINDS[kind]
  for key in pairs(opts) do
    if not allowed[key] then
      local why = ALL_OPTIONS[key] and ("not an option of a %s scheduler"):format(kind) or "unknown option"
      bad("opts." .. tostring(key), NEW, why, 2)
    end
  end
  if opts.seed == nil then bad("opts.seed", NEW, "integer required", 2) end
  local seed = check_integer(opts, "seed", nil, 2)
  local lo = check_integer(opts, "lo", 0, 2)
  local hi = opts.hi
  if not (is_integer(hi) and hi > lo) then
    bad("opts.hi", NEW, ("integer > lo (%d) expected, got %s"):format(lo, describe(hi)), 2)
  end
  if hi - lo > INT32_MAX then
    bad("opts.hi", NEW, ("at most %d variables per scheduler, got %d"):format(INT32_MAX, hi - lo), 2)
  end
  local workers = 1
  if opts.workers ~= nil then workers = check_integer(opts, "workers", 1, 2) end
  local self = setmetatable({
    kind = kind, lo = lo, hi = hi, p = hi - lo, workers = workers,
    stats = { rounds = 0, candidates = 0, kept = 0, rejected = 0 },
  }, class)
  self.rng = rng.xorshift128(seed)
  if kind == "block" then setup_block(self, opts) else setup_sampling(self, opts, kind) end
  return self
end

return M
