-- Latent Dirichlet allocation by collapsed Gibbs sampling, data-parallel on
-- the SSP store (as Bösen runs it). Each token's topic is drawn from
--   p(z = k | rest) ∝ (n_dk + α) (n_wk + β) / (n_k + V β)
-- where n_dk counts document d's tokens in topic k, n_wk word w's, n_k all
-- of topic k's, V the vocabulary (the words the training documents hold).
--
-- The word-topic counts n_wk (table "wt", one int32 row per word) and the
-- topic totals n_k ("nt", one row) live in the store; the doc-topic counts
-- and the tokens' topics stay with the worker that owns the documents (a
-- contiguous range of the training documents, an even share of the tokens). Clock 0 gives every token a
-- random topic; each later clock is one sweep of the worker's documents,
-- run by the C kernel (pmls.lda.sweep) on the rows as the worker sees them
-- (views) and writing every change into the rows' pending increments, which
-- the clock sends. A clock starts by reporting the collapsed joint
-- log p(w, z | α, β) per token of the state the previous clocks left
-- (MALLET's modelLogLikelihood: each worker sums its documents and its
-- share of the word rows), so the line of clock i is the model after i - 1
-- sweeps and the last clock (iters + 1) only measures. finish prints the
-- top words of every topic and the held-out log-likelihood per token of
-- the test documents (left-to-right, --particles particles).
--
-- Samplers (--sampler): dense computes all K terms per token; sparse is
-- SparseLDA (Yao, Mimno and McCallum 2009), whose cost per token follows the
-- topics the document and the word hold; auto takes dense for K <= 24.
-- Word rows (--word-rows): dense (K int32 each, read as views into the
-- cache) or sparse ((topic, count) pairs in a sparse table, read in one
-- request per shard, the sweep's changes added as pairs); auto takes
-- sparse from K = 1000, where it holds half the memory (docs/topic-models.md).
--
-- --save FILE writes the counts (int32 wt: words x K, nt: K) with α, β, K
-- and the vocabulary in FILE.json; --init-model FILE starts from them and
-- --predict --model FILE --data DOCS --out F writes each document's topic
-- mixture (models/lib/lda_saved.lua, docs/topic-models.md).
local pmls = require "pmls"
local lda = require "pmls.lda"
local saved_model = require "pmls.model"
local saved = require "lib.lda_saved"
local common = require "lib.lda_common"
local straggler = require "lib.straggler"
local array = pmls.array
local floor, max = math.floor, math.max

local app = pmls.app("lda", "latent Dirichlet allocation by collapsed Gibbs sampling (data-parallel)")
common.options(app)
saved_model.options(app)
straggler.options(app, true)
app:metric("ll_token", "mean")     -- each worker reports P × its share: the mean is the sum
app:metric("msamples_s", "mean")   -- the same: the workers' token-samples/s added, in millions
app:gather("docs", 3)              -- per worker: the final document part, count errors, tokens

function app:setup(ctx)
  straggler.check(ctx.opt)
  local ds = common.read_corpus(ctx, ctx.opt)
  local m = common.setup_of(ds, ctx.opt)
  ctx:table("wt", { rows = ds.words, cols = m.K, dtype = "int32", sparse = m.sparse_rows })
  ctx:table("nt", { rows = 1, cols = m.K, dtype = "int32" })
  if ctx.opt.init_model then saved.check(saved_model.load(ctx.opt.init_model), ds, m.K, saved_model.fail) end
  return { V = m.V, tokens = m.tokens }
end

-- A checkpoint keeps each worker's tokens' topics and its generator
-- (pmls.lda.state: arrays, .npy in the snapshot); a resume recounts the
-- doc-topic counts from the topics and goes on at the snapshot's clock. A
-- worker's documents are its share under -w, so a resume needs the
-- snapshot's number of workers.
local own = {} -- this worker's (each worker has a Lua state of its own)

function app:save_state() return own.st and lda.state(own.st) end

app:resume_on_same_workers()

function app:worker(ctx)
  local opt = ctx.opt
  local ds = common.read_corpus(ctx, opt)
  local m = common.setup_of(ds, opt)
  local K, P, me = m.K, ctx.workers, ctx.worker
  local first, count = common.doc_range(ds, m, me, P)
  local st = lda.worker(ds, first, count, K, m.freq, ctx.seed * 7919 + me + 1)
  local WT, NT = ctx:table("wt"), ctx:table("nt")
  local sparse_rows = m.sparse_rows
  if sparse_rows and ctx.checkpoint then
    error("--checkpoint: the word rows are sparse (--word-rows, or K >= 1000), and checkpoints hold dense tables only: add --word-rows dense", 0)
  end
  local wv, wd
  if not sparse_rows then wv, wd = WT:view_pointers(max(st.nwords, 1)), WT:pointers(max(st.nwords, 1)) end
  -- Word rows as pairs: a sweep's changes, slot by slot, into the rows.
  local function add_pairs(doff, dkeys, dvals)
    for s = 0, st.nwords - 1 do
      local lo, hi = doff[s], doff[s + 1]
      if hi > lo then assert(WT:inc_pairs(st.words[s], hi - lo, dkeys + lo, dvals + lo)) end
    end
  end
  -- My share of the word rows for the log-likelihood: rows me, me + P, ...
  local nmine = floor((ds.words - 1 - me) / P) + 1
  local mine = array.int64(max(nmine, 1))
  for j = 0, nmine - 1 do mine[j] = me + j * P end
  local mv = WT:view_pointers(max(nmine, 1))

  own.st = st
  if sparse_rows then
    wd = array.int32(1) -- written through pairs; --init-model fills a dense copy first
  else
    assert(WT:delta_many(st.words, st.nwords, wd))
  end
  if ctx.start_clock > 0 then
    -- the tables hold the counts of these topics already
    local ok, why = lda.restore(st, ctx.resume.state)
    if not ok then error(("--resume: %s: worker %d: %s"):format(ctx.resume.path or "snapshot", me, why), 0) end
  elseif opt.init_model then
    local mdl = saved.check(saved_model.load(opt.init_model), ds, K, saved_model.fail)
    if sparse_rows then
      -- the first counts in dense rows of this worker's words, then as pairs
      local rows, ptrs = array.int32(max(st.nwords * K, 1)), WT:pointers(max(st.nwords, 1))
      for s = 0, st.nwords - 1 do ptrs[s] = rows + s * K end
      saved.assign(st, ds, first, m.freq, mdl.wt, ptrs, NT:delta(0))
      local keys, vals = array.int32(K), array.int32(K)
      for s = 0, st.nwords - 1 do
        local n = 0
        for k = 0, K - 1 do
          if ptrs[s][k] ~= 0 then keys[n], vals[n], n = k, ptrs[s][k], n + 1 end
        end
        if n > 0 then assert(WT:inc_pairs(st.words[s], n, keys, vals)) end
      end
    else
      saved.assign(st, ds, first, m.freq, mdl.wt, wd, NT:delta(0))
    end
    assert(ctx:clock())
  elseif sparse_rows then
    local _, doff, dkeys, dvals = assert(lda.assign_pairs(st, NT:delta(0)))
    add_pairs(doff, dkeys, dvals)
    assert(ctx:clock())
  else
    assert(lda.assign(st, wd, NT:delta(0)))
    assert(ctx:clock())
  end
  local slow = straggler.new(ctx)
  for it = max(1, ctx.start_clock), opt.iters + 1 do
    local last = it == opt.iters + 1
    if last or (opt.ll_every > 0 and (it - 1) % opt.ll_every == 0) then
      local words, nonzero
      if sparse_rows then
        local off, _, vals = assert(WT:get_sparse_many(mine, nmine))
        words, nonzero = lda.ll_pairs(tonumber(off[nmine]), vals, m.beta)
      else
        assert(WT:view_many(mine, nmine, mv))
        words, nonzero = lda.ll_rows(K, nmine, mv, m.beta)
      end
      local part = lda.ll_docs(st, m.alpha) + words - nonzero * lda.lgamma(m.beta)
      if me == 0 then
        local nt = assert(NT:view(0))
        part = part + K * lda.lgamma(m.vbeta)
        for k = 0, K - 1 do part = part - lda.lgamma(nt[k] + m.vbeta) end
      end
      ctx:report { ll_token = P * part / m.tokens }
    end
    if not last then
      local rows_off, rows_keys, rows_vals
      if sparse_rows then
        rows_off, rows_keys, rows_vals = assert(WT:get_sparse_many(st.words, st.nwords))
      else
        assert(WT:view_many(st.words, st.nwords, wv))
        assert(WT:delta_many(st.words, st.nwords, wd))
      end
      local t0, s0 = pmls.now(), slow:start()
      local n, doff, dkeys, dvals
      if sparse_rows then
        n, doff, dkeys, dvals = assert(lda.sweep_pairs(st, m.alpha, m.beta, m.vbeta, rows_off, rows_keys,
                                                       rows_vals, assert(NT:view(0)), assert(NT:delta(0))))
      else
        n = assert(lda.sweep(st, m.sampler, m.alpha, m.beta, m.vbeta, wv, wd,
                             assert(NT:view(0)), assert(NT:delta(0))))
      end
      local dt = pmls.now() - t0
      if sparse_rows then add_pairs(doff, dkeys, dvals) end
      local nap = slow:stretch(s0)
      if nap > 0 then ctx:report { slowed_s = nap } end
      if dt > 0 then ctx:report { msamples_s = P * n / dt / 1e6 } end
    end
    assert(ctx:clock())
  end
  assert(ctx:gather("docs", { lda.ll_docs(st, m.alpha), common.doc_errors(st), st.ntok }))
end

function app:finish(ctx)
  local opt = ctx.opt
  local ds = common.read_corpus(ctx, opt)
  local m = common.setup_of(ds, opt)
  local nwk = common.read_counts(ctx:table("wt"), ds.words, m.K)
  local nt = assert(ctx:table("nt"):get(0))
  local per = assert(ctx:gathered("docs"))
  local docs, errors = 0, 0
  for w = 0, ctx.workers - 1 do
    if per[w] then docs = docs + per[w][0]; errors = errors + per[w][1] end
  end
  common.finish(ctx, saved_model, ds, m, nwk, nt, docs, errors, {})
end

-- --predict: the topic mixture of every document of --data.
function app:predict(ctx, mdl)
  saved.predict(ctx, saved_model, mdl, common.read_corpus(ctx, ctx.opt))
end

return saved_model.app(app)
