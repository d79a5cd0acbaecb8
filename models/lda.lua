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
--
-- --save FILE writes the counts (int32 wt: words x K, nt: K) with α, β, K
-- and the vocabulary in FILE.json; --init-model FILE starts from them and
-- --predict --model FILE --data DOCS --out F writes each document's topic
-- mixture (models/lib/lda_saved.lua, docs/topic-models.md).
local pmls = require "pmls"
local lda = require "pmls.lda"
local saved_model = require "pmls.model"
local saved = require "lib.lda_saved"
local straggler = require "lib.straggler"
local array = pmls.array
local floor, max, min = math.floor, math.max, math.min

local app = pmls.app("lda", "latent Dirichlet allocation by collapsed Gibbs sampling (data-parallel)")
app:option("data", nil, "corpus: UCI bag-of-words (docword) or LDA-C", { type = "string", required = true })
app:option("vocab", nil, "the vocabulary, one word a line (for the top words)", { type = "string" })
app:option("format", "auto", "corpus format (auto: docword when the name says so)",
           { type = "string", choices = { "auto", "docword", "ldac" } })
app:option("topics", 20, "K, the number of topics", { type = "int", min = 1, max = 100000 })
app:option("alpha", 0, "α_k, each topic's document prior (0: 1/K, as MALLET with α sum 1)", { min = 0 })
app:option("beta", 0, "β, the topic-word prior (0: 1/K)", { min = 0 })
app:option("iters", 100, "Gibbs sweeps", { type = "int", min = 0 })
app:option("test_docs", 0, "hold out the last N documents (20news: 7532)", { type = "int", min = 0 })
app:option("particles", 10, "left-to-right particles for the held-out likelihood", { type = "int", min = 1 })
app:option("top_words", 10, "words printed per topic at the end (0: none)", { type = "int", min = 0 })
app:option("sampler", "auto", "dense, sparse (SparseLDA) or auto",
           { type = "string", choices = { "auto", "dense", "sparse" } })
app:option("ll_every", 1, "report the log-likelihood every N clocks (0: only the last)", { type = "int", min = 0 })
app:option("predict_sweeps", 20, "--predict: Gibbs sweeps of each document's topics", { type = "int", min = 1 })
saved_model.options(app)
straggler.options(app, true)
app:metric("ll_token", "mean")     -- each worker reports P × its share: the mean is the sum
app:metric("msamples_s", "mean")   -- the same: the workers' token-samples/s added, in millions
app:gather("docs", 3)              -- per worker: the final document part, count errors, tokens

local function read_corpus(ctx, opt)
  local fmt = opt.format
  if fmt == "auto" then fmt = opt.data:match("docword[^/]*$") and "docword" or "ldac" end
  local read = fmt == "docword" and ctx.read_docword or ctx.read_ldac
  return assert(read(ctx, opt.data, { vocab = opt.vocab }))
end

-- The priors, the training range and V (the words training documents hold).
local function setup_of(ds, opt)
  local K = opt.topics
  local alpha = opt.alpha > 0 and opt.alpha or 1 / K
  local beta = opt.beta > 0 and opt.beta or 1 / K
  if opt.test_docs >= ds.docs then error("--test-docs must leave training documents", 0) end
  local train = ds.docs - opt.test_docs
  local freq = lda.word_freq(ds, 0, train)
  local V, tokens = 0, 0
  for w = 0, ds.words - 1 do
    if freq[w] > 0 then V = V + 1; tokens = tokens + freq[w] end
  end
  local sampler = opt.sampler == "dense" and lda.DENSE or opt.sampler == "sparse" and lda.SPARSE
                  or (K <= 24 and lda.DENSE or lda.SPARSE)
  return { K = K, alpha = alpha, beta = beta, vbeta = V * beta, V = V, train = train,
           tokens = tokens, freq = freq, sampler = sampler }
end

-- Worker me's documents: a contiguous range holding about 1/P of the
-- training tokens (even shares of the tokens, not of the documents, keep
-- the workers' sweeps alike, which is what a BSP clock waits for).
local function my_documents(ds, m, me, P)
  local function boundary(i)
    if i == 0 then return 0 elseif i == P then return m.train end
    local goal, sum = m.tokens * i / P, 0
    for d = 0, m.train - 1 do
      for e = tonumber(ds.docptr[d]), tonumber(ds.docptr[d + 1]) - 1 do sum = sum + ds.count[e] end
      if sum >= goal then return d + 1 end
    end
    return m.train
  end
  local first = boundary(me)
  return first, boundary(me + 1) - first
end

function app:setup(ctx)
  straggler.check(ctx.opt)
  local ds = read_corpus(ctx, ctx.opt)
  local m = setup_of(ds, ctx.opt)
  ctx:table("wt", { rows = ds.words, cols = m.K, dtype = "int32" })
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
  local ds = read_corpus(ctx, opt)
  local m = setup_of(ds, opt)
  local K, P, me = m.K, ctx.workers, ctx.worker
  local first, count = my_documents(ds, m, me, P)
  local st = lda.worker(ds, first, count, K, m.freq, ctx.seed * 7919 + me + 1)
  local WT, NT = ctx:table("wt"), ctx:table("nt")
  local wv, wd = WT:view_pointers(max(st.nwords, 1)), WT:pointers(max(st.nwords, 1))
  -- My share of the word rows for the log-likelihood: rows me, me + P, ...
  local nmine = floor((ds.words - 1 - me) / P) + 1
  local mine = array.int64(max(nmine, 1))
  for j = 0, nmine - 1 do mine[j] = me + j * P end
  local mv = WT:view_pointers(max(nmine, 1))

  own.st = st
  assert(WT:delta_many(st.words, st.nwords, wd))
  if ctx.start_clock > 0 then
    -- the tables hold the counts of these topics already
    local ok, why = lda.restore(st, ctx.resume.state)
    if not ok then error(("--resume: %s: worker %d: %s"):format(ctx.resume.path or "snapshot", me, why), 0) end
  elseif opt.init_model then
    local mdl = saved.check(saved_model.load(opt.init_model), ds, K, saved_model.fail)
    saved.assign(st, ds, first, m.freq, mdl.wt, wd, NT:delta(0))
    assert(ctx:clock())
  else
    assert(lda.assign(st, wd, NT:delta(0)))
    assert(ctx:clock())
  end
  local slow = straggler.new(ctx)
  for it = max(1, ctx.start_clock), opt.iters + 1 do
    local last = it == opt.iters + 1
    if last or (opt.ll_every > 0 and (it - 1) % opt.ll_every == 0) then
      assert(WT:view_many(mine, nmine, mv))
      local words, nonzero = lda.ll_rows(K, nmine, mv, m.beta)
      local part = lda.ll_docs(st, m.alpha) + words - nonzero * lda.lgamma(m.beta)
      if me == 0 then
        local nt = assert(NT:view(0))
        part = part + K * lda.lgamma(m.vbeta)
        for k = 0, K - 1 do part = part - lda.lgamma(nt[k] + m.vbeta) end
      end
      ctx:report { ll_token = P * part / m.tokens }
    end
    if not last then
      assert(WT:view_many(st.words, st.nwords, wv))
      assert(WT:delta_many(st.words, st.nwords, wd))
      local t0, s0 = pmls.now(), slow:start()
      local n = assert(lda.sweep(st, m.sampler, m.alpha, m.beta, m.vbeta, wv, wd,
                                 assert(NT:view(0)), assert(NT:delta(0))))
      local dt = pmls.now() - t0
      local nap = slow:stretch(s0)
      if nap > 0 then ctx:report { slowed_s = nap } end
      if dt > 0 then ctx:report { msamples_s = P * n / dt / 1e6 } end
    end
    assert(ctx:clock())
  end
  -- Each document's counts add up to its length and none is negative.
  local errors = 0
  for d = 0, st.ndocs - 1 do
    local sum = 0
    for k = 0, K - 1 do
      local c = st.ndk[d * K + k]
      if c < 0 then errors = errors + 1 end
      sum = sum + c
    end
    if sum ~= st.tokptr[d + 1] - st.tokptr[d] then errors = errors + 1 end
  end
  assert(ctx:gather("docs", { lda.ll_docs(st, m.alpha), errors, st.ntok }))
end

-- The top n words of topic k (ids by count, ties by id).
local function top_words(nwk, words, K, k, n)
  local best = {}
  for w = 0, words - 1 do
    local c = nwk[w * K + k]
    if c > 0 then
      if #best < n or c > best[#best].c then
        local i = #best + 1
        if #best == n then i = n end
        best[i] = { w = w, c = c }
        while i > 1 and best[i].c > best[i - 1].c do best[i], best[i - 1] = best[i - 1], best[i]; i = i - 1 end
      end
    end
  end
  return best
end

function app:finish(ctx)
  local opt = ctx.opt
  local ds = read_corpus(ctx, opt)
  local m = setup_of(ds, opt)
  local K, W = m.K, ds.words
  local WT, NT = ctx:table("wt"), ctx:table("nt")
  local ids = array.int64(W)
  for w = 0, W - 1 do ids[w] = w end
  local nwk = assert(WT:get_many(ids, W, array.int32(W * K)))
  local nt = assert(NT:get(0))
  -- Consistency: the columns add up to the totals, the totals to the
  -- tokens, and no count is negative; a hash of the counts for the specs.
  local errors, colsum, hash, total = 0, array.int64(K), 0, 0
  for w = 0, W - 1 do
    for k = 0, K - 1 do
      local c = nwk[w * K + k]
      if c < 0 then errors = errors + 1 end
      colsum[k] = colsum[k] + c
      hash = hash + c * ((w * K + k) % 1000003 + 1)
    end
  end
  for k = 0, K - 1 do
    if colsum[k] ~= nt[k] then errors = errors + 1 end
    total = total + nt[k]
  end
  if total ~= m.tokens then errors = errors + 1 end
  local per = assert(ctx:gathered("docs"))
  local docs = 0
  for w = 0, ctx.workers - 1 do
    if per[w] then docs = docs + per[w][0]; errors = errors + per[w][1] end
  end
  local rows = WT:view_pointers(W)
  for w = 0, W - 1 do rows[w] = nwk + w * K end
  local words, nonzero = lda.ll_rows(K, W, rows, m.beta)
  local ll = lda.loglik(K, docs, words, nonzero, nt, m.beta, m.vbeta)
  local report = { final_ll_token = ll / m.tokens, count_errors = errors, counts_hash = hash,
                   train_tokens = m.tokens, vocabulary = m.V }
  if opt.test_docs > 0 then
    local hl, ntok = lda.heldout(ds, m.train, opt.test_docs, K, nwk, nt, m.freq, m.alpha, m.beta,
                                 m.vbeta, opt.particles, ctx.seed * 7919 + 104729)
    report.heldout_ll_token, report.heldout_tokens = hl / max(ntok, 1), ntok
  end
  ctx:report(report)
  if opt.top_words > 0 then
    local out = {}
    for k = 0, K - 1 do
      local line = {}
      for _, e in ipairs(top_words(nwk, W, K, k, opt.top_words)) do
        line[#line + 1] = ds.vocab and ds.vocab[e.w] or tostring(e.w)
      end
      out[#out + 1] = ("topic %d (%d tokens): %s"):format(k, nt[k], table.concat(line, " "))
    end
    io.stdout:write(table.concat(out, "\n"), "\n")
  end
  if opt.save then saved.save(ctx, saved_model, ds, m, nwk, nt, report) end
end

-- --predict: the topic mixture of every document of --data.
function app:predict(ctx, mdl)
  saved.predict(ctx, saved_model, mdl, read_corpus(ctx, ctx.opt))
end

return saved_model.app(app)
