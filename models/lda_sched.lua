-- Latent Dirichlet allocation by collapsed Gibbs sampling, model-parallel on
-- the scheduler (as STRADS runs it). Each token's topic is drawn from
--   p(z = k | rest) ∝ (n_dk + α) (n_wk + β) / (n_k + V β)
-- as in models/lda.lua (the same options, outputs and model files).
--
-- The vocabulary is cut into d word blocks (--blocks, default one per
-- worker) and the training documents into d ranges of about equal tokens;
-- worker i keeps the ranges i, i + P, ... (their tokens' topics and their
-- doc-topic counts). Round t is a diagonal of the d x d grid (the block
-- scheduler): range i samples only its tokens of word block (i + t) mod d,
-- so no two workers write one word's row in a round, and d rounds are one
-- sweep of every token. The words are dealt to the blocks so that the
-- grid's cells (a range's tokens of a block) come out about equal, since a
-- round waits for its largest cell (word_blocks).
--   store   the word-topic counts n_wk (table "wt", one int32 row per word),
--           read BSP whatever the run's --consistency: a row's one writer of
--           round t sees every change of the rounds before, so the word
--           rows are exact;
--   model   (the scheduler's) variable c holds block c's share of the topic
--           totals, m_c[k] = Σ_{w in c} n_wk: the K-vector only block c's
--           writer changes in a round; n_k = Σ_c m_c[k];
--   push    round 0 gives every token a topic at random (or from
--           --init-model); a later round runs the C kernel (pmls.lda.sweep)
--           over the worker's tokens of its block, on the rows' views and
--           pending increments and on the totals as the worker sees them:
--           committed through the last round plus its own changes, so
--           during a round it misses the others' (staleness one round,
--           measured as nt_gap); the partial is the change of m_c;
--   pull    adds it, checks that every block had exactly one writer, and
--           measures each worker's gap: Σ_k |n_k - its n_k| at the end of
--           the round (the others' changes it did not see).
-- A round that starts a sweep first reports the collapsed joint
-- log p(w, z | α, β) per token of the state the earlier rounds left
-- (MALLET's modelLogLikelihood, exact: the rows are BSP and the totals
-- committed), so with d = 1 the lines are lda.lua's clock by clock; the last
-- round (iters · d + 1) only measures. finish prints the top words, the
-- held-out log-likelihood, and checks each block's m_c against its words'
-- rows (block_errors).
local pmls = require "pmls"
local lda = require "pmls.lda"
local saved_model = require "pmls.model"
local saved = require "lib.lda_saved"
local common = require "lib.lda_common"
local array = pmls.array
local floor, max, abs = math.floor, math.max, math.abs

local app = pmls.app("lda-sched", "latent Dirichlet allocation by collapsed Gibbs sampling (model-parallel)")
common.options(app)
app:option("blocks", 0, "d: word blocks and document ranges, d rounds a sweep (0: one per worker)",
           { type = "int", min = 0 })
saved_model.options(app)
app:metric("ll_token", "mean")     -- each worker reports P × its share: the mean is the sum
app:metric("msamples_s", "mean")   -- the same: the workers' token-samples/s added, in millions
app:metric("nt_gap", "max")        -- the previous round's largest totals gap, in tokens
app:gather("docs", 3)              -- per worker: the document part of the LL, count errors, tokens
app:clocks(function(opt, sh) return opt.iters * sh.d + 2 end)
-- A checkpoint (--checkpoint, pmls.rounds) keeps each worker's tokens'
-- topics and its generator (pmls.lda.state of each document range, the
-- blocks' topics gathered back first) and the node's gap counters; the
-- word-topic counts are the table's. A resume recounts the doc-topic counts
-- and deals the tokens to the blocks again. The documents are the worker's
-- share of -w, so a resume needs the snapshot's number of workers.
app:resume_on_same_workers()

-- Word w's block (by word id). Round t pairs document range i with block
-- (i + t) mod d, so every (range, block) cell of the d x d grid is some
-- worker's share of a round, and a round lasts as long as its largest
-- cell: the words, by falling frequency (ties by id), each go to the block
-- where they add least to the sum of the squared cells (the block c with
-- the smallest Σ_i f_i(w) · cell(i, c), f_i(w) the word's tokens in range
-- i; ties to the smaller c). A word no training document holds (never
-- written) goes to w mod d.
local function word_blocks(ds, m, d)
  local freq, words = m.freq, ds.words
  local order = {}
  for w = 0, words - 1 do if freq[w] > 0 then order[#order + 1] = w end end
  table.sort(order, function(a, b)
    if freq[a] ~= freq[b] then return freq[a] > freq[b] end
    return a < b
  end)
  local f = array.int32(max(words * d, 1)) -- f[w * d + i]: word w's tokens in range i
  for i = 0, d - 1 do
    local first, count = common.doc_range(ds, m, i, d)
    for e = tonumber(ds.docptr[first]), tonumber(ds.docptr[first + count]) - 1 do
      local w = ds.word[e]
      f[w * d + i] = f[w * d + i] + ds.count[e]
    end
  end
  local cell = array.float64(d * d)         -- cell[i * d + c]
  local of = array.int32(max(words, 1))
  for w = 0, words - 1 do of[w] = w % d end
  local ranges = {}
  for _, w in ipairs(order) do
    local n = 0
    for i = 0, d - 1 do if f[w * d + i] > 0 then n = n + 1; ranges[n] = i end end
    local best, best_score = 0, math.huge
    for c = 0, d - 1 do
      local score = 0
      for j = 1, n do local i = ranges[j]; score = score + f[w * d + i] * cell[i * d + c] end
      if score < best_score then best, best_score = c, score end
    end
    of[w] = best
    for j = 1, n do local i = ranges[j]; cell[i * d + best] = cell[i * d + best] + f[w * d + i] end
  end
  return of
end

function app:setup(ctx)
  local opt = ctx.opt
  local ds = common.read_corpus(ctx, opt)
  local m = common.setup_of(ds, opt)
  local P, K = ctx.workers, m.K
  local d = opt.blocks > 0 and opt.blocks or P
  if ctx.schedulers > 1 then app:usage("one scheduler node: each round needs the one before it") end
  if opt.word_rows == "sparse" then app:usage("--word-rows sparse: lda_sched holds its word rows dense (views)") end
  if d < P then app:usage(("--blocks %d for %d workers: a worker would have no block"):format(d, P)) end
  if d > m.V or d > m.train then
    app:usage(("--blocks %d: more blocks than words (%d) or documents (%d)"):format(d, m.V, m.train))
  end
  ctx:table("wt", { rows = ds.words, cols = K, dtype = "int32", consistency = "bsp" })
  -- extra slots: the first topics' block shares (round 0), then one
  -- writer claim per block, then the tokens sampled
  ctx:schedule({ vars = d, width = K, extra = d * K + d + 1, scheduler = "block", rows = d, blocks = d,
                 agnostic = false, max_rounds = opt.iters * d + 2 }, self)
  if opt.init_model then saved.check(saved_model.load(opt.init_model), ds, K, saved_model.fail) end
  return { V = m.V, tokens = m.tokens, d = d }
end

-- ---- the workers -------------------------------------------------------------------

function app:load(ctx)
  local opt, d = ctx.opt, ctx.shared.d
  self.last, self.d, self.K = opt.iters * d + 1, d, opt.topics
  if ctx.kind == "scheduler" then
    self.gap_max, self.gap_sum, self.gap_n, self.gap_frac, self.conflicts = 0, 0, 0, 0, 0
    self.delta_w = {}
    for w = 0, ctx.workers - 1 do self.delta_w[w] = array.float64(opt.topics) end
    local st = ctx.resume and ctx.resume.state
    if st then
      self.gap_max, self.gap_sum, self.gap_n, self.gap_frac, self.conflicts =
        st.gap_max, st.gap_sum, st.gap_n, st.gap_frac, st.conflicts
    end
    return
  end
  local ds = common.read_corpus(ctx, opt)
  local m = common.setup_of(ds, opt)
  self.ds, self.m = ds, m
  self.block_of = word_blocks(ds, m, d)
  local K, P, me = m.K, ctx.workers, ctx.worker
  -- My document ranges i = me, me + P, ..., in order, sharing one generator.
  self.ranges, self.order = {}, {}
  local rng
  for i = me, d - 1, P do
    local first, count = common.doc_range(ds, m, i, d)
    local st = lda.worker(ds, first, count, K, m.freq, ctx.seed * 7919 + me + 1)
    if rng then st.rng = rng else rng = st.rng end
    self.ranges[i] = { st = st, first = first }
    self.order[#self.order + 1] = i
  end
  -- My share of the word rows for the log-likelihood: rows me, me + P, ...
  local nmine = floor((ds.words - 1 - me) / P) + 1
  self.mine, self.nmine = array.int64(max(nmine, 1)), nmine
  for j = 0, nmine - 1 do self.mine[j] = me + j * P end
  self.WT = ctx:table("wt")
  self.mv = self.WT:view_pointers(max(nmine, 1))
  self.tview, self.tdelta, self.before = array.int32(K), array.int32(K), array.int32(K)
  local saved = ctx.resume and ctx.resume.state
  if saved then -- round 0 is behind: the topics come from the snapshot
    for _, i in ipairs(self.order) do
      local r = self.ranges[i]
      local ok, why = lda.restore(r.st, saved[i])
      if not ok then error(("--resume: %s: worker %d: %s"):format(ctx.resume.path, me, why), 0) end
      self:deal(r)
    end
  end
end

-- Deals range r's tokens to the word blocks, each with its row views.
function app:deal(r)
  r.blocks = lda.blocks(r.st, self.block_of, self.d)
  for c = 0, self.d - 1 do
    local b = r.blocks[c]
    b.wv, b.wd = self.WT:view_pointers(max(b.nwords, 1)), self.WT:pointers(max(b.nwords, 1))
  end
end

-- What a checkpoint keeps (pmls.rounds: the model, the totals' shares, is its own).
function app:save_state(ctx)
  if ctx.kind == "scheduler" then
    return { gap_max = self.gap_max, gap_sum = self.gap_sum, gap_n = self.gap_n, gap_frac = self.gap_frac,
             conflicts = self.conflicts }
  end
  local out = {}
  for _, i in ipairs(self.order) do
    local r = self.ranges[i]
    if r.blocks then lda.unblock(r.st, r.blocks, self.block_of, self.d) end
    out[i] = lda.state(r.st)
  end
  return out
end

-- Round 0: every token's first topic; each block's share of the totals
-- goes in the extra slots (the round's own slots are one block's).
local function first_topics(self, ctx, out, E)
  local K, d, WT, ds, m = self.K, self.d, self.WT, self.ds, self.m
  local mdl = ctx.opt.init_model and saved.check(saved_model.load(ctx.opt.init_model), ds, K, saved_model.fail)
  local mass = array.int32(K)
  for _, i in ipairs(self.order) do
    local r = self.ranges[i]
    local st = r.st
    local wd = WT:pointers(max(st.nwords, 1))
    assert(WT:delta_many(st.words, st.nwords, wd))
    local tdelta = array.int32(K)
    if mdl then saved.assign(st, ds, r.first, m.freq, mdl.wt, wd, tdelta)
    else assert(lda.assign(st, wd, tdelta)) end
    self:deal(r)
    for c = 0, d - 1 do
      local b = r.blocks[c]
      for s = 0, b.nwords - 1 do -- the split's promise, which the schedule relies on
        assert(self.block_of[tonumber(b.words[s])] == c, "a word in the wrong block")
      end
      for k = 0, K - 1 do mass[k] = 0 end
      lda.topic_counts(b, mass)
      for k = 0, K - 1 do out[E + c * K + k] = out[E + c * K + k] + mass[k] end
    end
  end
end

-- The totals as committed: the sum of the blocks' shares.
local function totals(self, ctx)
  local K, model, tv = self.K, ctx.model, self.tview
  for k = 0, K - 1 do
    local s = 0
    for c = 0, self.d - 1 do s = s + model[c * K + k] end
    tv[k] = s
  end
  return tv
end

-- My part of MALLET's modelLogLikelihood of the state the earlier rounds
-- left: my documents, my share of the word rows, and (worker 0) the totals.
local function measure(self, ctx, tv)
  local m, K = self.m, self.K
  local docs = 0
  for _, i in ipairs(self.order) do docs = docs + lda.ll_docs(self.ranges[i].st, m.alpha) end
  assert(self.WT:view_many(self.mine, self.nmine, self.mv))
  local words, nonzero = lda.ll_rows(K, self.nmine, self.mv, m.beta)
  local part = docs + words - nonzero * lda.lgamma(m.beta)
  if ctx.worker == 0 then
    part = part + K * lda.lgamma(m.vbeta)
    for k = 0, K - 1 do part = part - lda.lgamma(tv[k] + m.vbeta) end
  end
  ctx:report { ll_token = ctx.workers * part / m.tokens }
  return docs
end

function app:push(ctx, vars, n, out)
  local t, K, d, m = ctx.round, self.K, self.d, self.m
  local E = n * K
  if t == 0 then return first_topics(self, ctx, out, E) end
  local gap = ctx:received()
  if gap then ctx:report { nt_gap = gap[1] } end
  local tv = totals(self, ctx)
  local ll_every = ctx.opt.ll_every
  if t == self.last then
    local docs, errors = measure(self, ctx, tv), 0
    for _, i in ipairs(self.order) do errors = errors + common.doc_errors(self.ranges[i].st) end
    local ntok = 0
    for _, i in ipairs(self.order) do ntok = ntok + self.ranges[i].st.ntok end
    assert(ctx:gather("docs", { docs, errors, ntok }))
    return
  end
  if (t - 1) % d == 0 and ll_every > 0 and ((t - 1) / d) % ll_every == 0 then measure(self, ctx, tv) end
  local WT, tdelta, before = self.WT, self.tdelta, self.before
  for k = 0, K - 1 do tdelta[k] = 0 end
  local sampled, t0 = 0, pmls.now()
  for range, block, lo in ctx:blocks() do
    local b = self.ranges[range].blocks[block]
    assert(WT:view_many(b.words, b.nwords, b.wv))
    assert(WT:delta_many(b.words, b.nwords, b.wd))
    for k = 0, K - 1 do before[k] = tdelta[k] end
    sampled = sampled + assert(lda.sweep(b, m.sampler, m.alpha, m.beta, m.vbeta, b.wv, b.wd, tv, tdelta))
    for k = 0, K - 1 do out[lo * K + k] = tdelta[k] - before[k] end
    out[E + d * K + block] = out[E + d * K + block] + 1 -- I wrote block's rows
  end
  out[E + d * K + d] = sampled
  local dt = pmls.now() - t0
  if dt > 0 and sampled > 0 then ctx:report { msamples_s = ctx.workers * sampled / dt / 1e6 } end
end

-- ---- the scheduler node --------------------------------------------------------------

function app:pull(ctx, vars, n, sum, values)
  local t, K, d, P = ctx.round, self.K, self.d, ctx.workers
  local E = n * K
  if t == 0 then
    for j = 0, n - 1 do
      local c = tonumber(vars[j])
      for k = 0, K - 1 do values[j * K + k] = values[j * K + k] + sum[E + c * K + k] end
    end
    return
  end
  if t == self.last then
    ctx:note("writer_conflicts", self.conflicts)
    ctx:note("nt_gap_max", self.gap_max)
    ctx:note("nt_gap_mean", self.gap_sum / max(self.gap_n, 1))
    ctx:note("nt_gap_frac_max", self.gap_frac)
    return true
  end
  for j = 0, n * K - 1 do values[j] = values[j] + sum[j] end
  -- Exactly one writer per block: the workers' claims, added up.
  for c = 0, d - 1 do
    if sum[E + d * K + c] ~= 1 then self.conflicts = self.conflicts + 1 end
  end
  -- Worker w sampled with the totals committed before the round plus its
  -- own changes: its gap at the end of the round is what the others changed.
  local round_max = 0
  for w = 0, P - 1 do
    local p, dw = ctx:partial(w), self.delta_w[w]
    for k = 0, K - 1 do
      local s = 0
      for j = 0, n - 1 do s = s + p[j * K + k] end
      dw[k] = s
    end
  end
  for w = 0, P - 1 do
    local gap, dw = 0, self.delta_w[w]
    for k = 0, K - 1 do
      local all = 0
      for v = 0, P - 1 do all = all + self.delta_w[v][k] end
      gap = gap + abs(all - dw[k])
    end
    -- at most two per token the others sampled (one topic left, one joined)
    local others = sum[E + d * K + d] - ctx:partial(w)[E + d * K + d]
    if others > 0 then self.gap_frac = max(self.gap_frac, gap / (2 * others)) end
    round_max = max(round_max, gap)
    self.gap_sum, self.gap_n = self.gap_sum + gap, self.gap_n + 1
  end
  self.gap_max = max(self.gap_max, round_max)
  ctx:broadcast { round_max }
end

-- ---- the end ------------------------------------------------------------------------

function app:finish(ctx)
  local opt = ctx.opt
  local ds = common.read_corpus(ctx, opt)
  local m = common.setup_of(ds, opt)
  local K, W, d = m.K, ds.words, ctx.shared.d
  local nwk = common.read_counts(ctx:table("wt"), W, K)
  local block_of = word_blocks(ds, m, d)
  -- The totals are the blocks' shares; each share must be its words' rows
  -- added up, which fails if a row was written by a worker of another block.
  local nt, share, block_errors = array.int32(K), array.float64(d * K), 0
  for w = 0, W - 1 do
    local c = block_of[w]
    for k = 0, K - 1 do share[c * K + k] = share[c * K + k] + nwk[w * K + k] end
  end
  for c = 0, d - 1 do
    for k = 0, K - 1 do
      local v = ctx.model[c * K + k]
      nt[k] = nt[k] + v
      if share[c * K + k] ~= v then block_errors = block_errors + 1 end
    end
  end
  local per = assert(ctx:gathered("docs"))
  local docs, errors = 0, 0
  for w = 0, ctx.workers - 1 do
    if per[w] then docs = docs + per[w][0]; errors = errors + per[w][1] end
  end
  common.finish(ctx, saved_model, ds, m, nwk, nt, docs, errors, { block_errors = block_errors, blocks = d })
end

-- --predict: the topic mixture of every document of --data (lda.lua's).
function app:predict(ctx, mdl)
  saved.predict(ctx, saved_model, mdl, common.read_corpus(ctx, ctx.opt))
end

return saved_model.app(app)
