-- What the LDA scripts share (models/lda.lua, models/lda_sched.lua):
-- reading the corpus, the priors and the training split, token-balanced document ranges, and the
-- end of a run (consistency of the final counts, MALLET's log-likelihood,
-- the held-out estimate, the top words and --save). The options are
-- lda.lua's, so a run of either script reads the same command line.
local lda = require "pmls.lda"
local array = require "pmls.array"
local saved = require "lib.lda_saved"
local max = math.max

local M = {}

-- From this K on, auto holds the word rows as pairs (docs/topic-models.md).
local SPARSE_ROWS_K = 1000

-- lda.lua's options, on app (the model-parallel script adds its own).
function M.options(app)
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
  app:option("word_rows", "auto", "how the store holds the word-topic rows: dense (K int32), sparse ((topic, count) pairs) or auto",
             { type = "string", choices = { "auto", "dense", "sparse" } })
  app:option("ll_every", 1, "report the log-likelihood every N sweeps (0: only the last)", { type = "int", min = 0 })
  app:option("predict_sweeps", 20, "--predict: Gibbs sweeps of each document's topics", { type = "int", min = 1 })
end

function M.read_corpus(ctx, opt)
  local fmt = opt.format
  if fmt == "auto" then fmt = opt.data:match("docword[^/]*$") and "docword" or "ldac" end
  local read = fmt == "docword" and ctx.read_docword or ctx.read_ldac
  return assert(read(ctx, opt.data, { vocab = opt.vocab }))
end

-- The priors, the training range and V (the words training documents hold).
function M.setup_of(ds, opt)
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
  local sparse_rows = opt.word_rows == "sparse" or (opt.word_rows == "auto" and K >= SPARSE_ROWS_K)
  if sparse_rows and sampler ~= lda.SPARSE then
    error("--word-rows sparse needs the sparse sampler (--sampler sparse or auto with K > 24)", 0)
  end
  return { K = K, alpha = alpha, beta = beta, vbeta = V * beta, V = V, train = train,
           tokens = tokens, freq = freq, sampler = sampler, sparse_rows = sparse_rows }
end

-- Range i of n contiguous ranges of the training documents, each holding
-- about 1/n of the tokens: first document and count.
function M.doc_range(ds, m, i, n)
  local function boundary(j)
    if j == 0 then return 0 elseif j == n then return m.train end
    local goal, sum = m.tokens * j / n, 0
    for d = 0, m.train - 1 do
      for e = tonumber(ds.docptr[d]), tonumber(ds.docptr[d + 1]) - 1 do sum = sum + ds.count[e] end
      if sum >= goal then return d + 1 end
    end
    return m.train
  end
  local first = boundary(i)
  return first, boundary(i + 1) - first
end

-- Each document's counts add up to its length and none is negative:
-- the number of documents of st for which that fails.
function M.doc_errors(st)
  local K, errors = st.K, 0
  for d = 0, st.ndocs - 1 do
    local sum, bad = 0, false
    for k = 0, K - 1 do
      local c = st.ndk[d * K + k]
      if c < 0 then bad = true end
      sum = sum + c
    end
    if bad or sum ~= st.tokptr[d + 1] - st.tokptr[d] then errors = errors + 1 end
  end
  return errors
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

-- The final counts of table WT (words x K), as one row-major int32 array.
function M.read_counts(WT, W, K)
  local ids = array.int64(W)
  for w = 0, W - 1 do ids[w] = w end
  if not WT.sparse then return assert(WT:get_many(ids, W, array.int32(W * K))) end
  local nwk = array.int32(W * K)
  local off, keys, vals = assert(WT:get_sparse_many(ids, W))
  for w = 0, W - 1 do
    for e = tonumber(off[w]), tonumber(off[w + 1]) - 1 do nwk[w * K + keys[e]] = vals[e] end
  end
  return nwk
end

-- The end of a run on rank 0: nwk the final counts (words x K), nt the
-- totals, docs the workers' summed document part of the log-likelihood,
-- errors the workers' document count errors; report (a table) gets the
-- final figures, which finish reports; prints the top words and saves.
function M.finish(ctx, saved_model, ds, m, nwk, nt, docs, errors, report)
  local opt = ctx.opt
  local K, W = m.K, ds.words
  -- Consistency: the columns add up to the totals, the totals to the
  -- tokens, and no count is negative; a hash of the counts for the specs.
  local colsum, hash, total = array.int64(K), 0, 0
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
  local rows = lda.row_pointers(nwk, W, K)
  local words, nonzero = lda.ll_rows(K, W, rows, m.beta)
  local ll = lda.loglik(K, docs, words, nonzero, nt, m.beta, m.vbeta)
  report.final_ll_token, report.count_errors, report.counts_hash = ll / m.tokens, errors, hash
  report.train_tokens, report.vocabulary = m.tokens, m.V
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

return M
