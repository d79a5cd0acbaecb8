-- LDA's saved model (docs/topic-models.md, docs/saved-models.md): the
-- word-topic counts wt (int32, words x K: row w is word id w of the corpus)
-- and the topic totals nt (int32, K), with alpha and beta as scalars, and
-- K, alpha, beta, the vocabulary and its hash in the sidecar.
--
-- --init-model does not sample: it hands out the training tokens of each
-- word w to topics so that, on the corpus the model was trained on, word w
-- gets exactly the saved n_wk of them (so --iters 0 saves the same counts,
-- under any -w); on another corpus of the same vocabulary each word's
-- tokens are spread in the proportions of its saved row (a word the model
-- never saw: evenly). Which token gets which topic follows a fixed
-- permutation of the word's tokens, so documents do not get topics in
-- word order.
--
-- --predict estimates a document's mixture with the counts fixed: its
-- tokens start from p(k | w) ∝ (n_wk + β) / (n_k + Vβ), then sweeps draw
--   p(z = k | rest) ∝ (n_dk + α) (n_wk + β) / (n_k + Vβ)
-- and θ_dk = (n_dk + α) / (n_d + Kα) is averaged over the second half of
-- the sweeps.
local lda = require "pmls.lda"
local array = require "pmls.array"
local floor, max = math.floor, math.max

local M = {}

-- A hash of the vocabulary (0: none given), kept below 2^31.
local function vocab_hash(ds)
  if not ds.vocab then return 0 end
  local h = 7
  for w = 0, ds.words - 1 do
    local s = ds.vocab[w] or ""
    for i = 1, #s do h = (h * 31 + s:byte(i)) % 2147483629 end
    h = (h * 31 + 10) % 2147483629
  end
  return h + 1
end

-- The vocabulary hash a model's sidecar records (nil: no sidecar, or none).
local function saved_hash(path)
  local f = io.open(path .. ".json", "r")
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  return tonumber(text:match('"vocab_hash": (%d+)'))
end

-- The model's counts, checked against the corpus ds and K (one-line errors).
function M.check(mdl, ds, K, fail)
  local wt = mdl:need("wt", { ds.words, K }, "the corpus's words x --topics")
  local nt = mdl:need("nt", { K }, "--topics")
  local h, mine = saved_hash(mdl.path), vocab_hash(ds)
  if h and h ~= 0 and mine ~= 0 and h ~= mine then
    fail(("%s: the model's vocabulary is not this run's --vocab (another corpus?)"):format(mdl.path))
  end
  return { wt = wt, nt = nt }
end

-- A bijection of 0 .. n - 1 (a * j + c mod n, a prime not dividing n).
local function permuted(j, n, c)
  local a = (n % 7919 ~= 0) and 7919 or ((n % 104729 ~= 0) and 104729 or 1)
  return (a * j + c) % n
end

-- The first topics of worker state st (documents from `first`) from the
-- saved counts wt (words x K), into st.z, st.ndk and the deltas.
function M.assign(st, ds, first, freq, wt, wdeltas, tdelta)
  local K = st.K
  local seen = lda.word_freq(ds, 0, first)   -- word w's tokens before my documents
  local rowsum = {}
  for d = 0, st.ndocs - 1 do
    for t = tonumber(st.tokptr[d]), tonumber(st.tokptr[d + 1]) - 1 do
      local s = st.tokword[t]
      local w = tonumber(st.words[s])
      local f = freq[w]
      local j = seen[w]
      seen[w] = j + 1
      local S = rowsum[w]
      if not S then
        S = 0
        for k = 0, K - 1 do S = S + wt.data[w * K + k] end
        rowsum[w] = S
      end
      local k = 0
      if S == 0 then
        k = (j + w) % K
      else
        local q = floor(permuted(j, f, w % f) * S / f)
        local c = wt.data[w * K]
        while c <= q and k < K - 1 do k = k + 1; c = c + wt.data[w * K + k] end
      end
      st.z[t] = k
      st.ndk[d * K + k] = st.ndk[d * K + k] + 1
      wdeltas[s][k] = wdeltas[s][k] + 1
      tdelta[k] = tdelta[k] + 1
    end
  end
end

-- --save: the counts of finish (nwk: words x K, nt: K) and their description.
function M.save(ctx, model, ds, m, nwk, nt, report)
  local K, W = m.K, ds.words
  local totals = model.array("int32", { K })
  for k = 0, K - 1 do totals.data[k] = nt[k] end
  local vocab
  if ds.vocab then
    vocab = {}
    for w = 0, W - 1 do vocab[w + 1] = ds.vocab[w] or "" end
  end
  model.save(ctx, { wt = { dtype = "int32", shape = { W, K }, data = nwk }, nt = totals,
                    alpha = m.alpha, beta = m.beta },
             { order = { "wt", "nt", "alpha", "beta" },
               rows = "wt[w, k]: the training tokens of word id w (0-based, the corpus's) in topic k; "
                      .. "nt[k] = sum over w; p(w | k) = (wt[w, k] + beta) / (nt[k] + V beta), "
                      .. "V the words with a nonzero row",
               metrics = report,
               extra = { K = K, alpha = m.alpha, beta = m.beta, words = W, vocabulary = m.V,
                         vocab = vocab, vocab_hash = vocab_hash(ds) } })
end

-- --predict: one line of K mixture weights per document of ds into --out;
-- reports the held-out LL/token (left-to-right, --particles) when the
-- documents hold words the model knows.
function M.predict(ctx, model, mdl, ds)
  local opt = ctx.opt
  local wt = mdl:need("wt", { ds.words, true }, "the --data corpus's words x K")
  local K = wt.shape[2]
  local c = M.check(mdl, ds, K, model.fail)
  local nt = c.nt
  local alpha, beta = mdl:scalar("alpha"), mdl:scalar("beta")
  local known, V = array.int32(max(ds.words, 1)), 0
  for w = 0, ds.words - 1 do
    local s = 0
    for k = 0, K - 1 do s = s + wt.data[w * K + k] end
    known[w] = s
    if s > 0 then V = V + 1 end
  end
  local vbeta = V * beta
  local rng = lda.rng(ctx.seed * 7919 + 7)
  local p, ndk, theta = {}, {}, {}
  local sweeps = opt.predict_sweeps
  local burn = floor(sweeps / 2)
  local out = model.output(ctx)
  local lines = {}
  for d = 0, ds.docs - 1 do
    local toks = {}
    for e = tonumber(ds.docptr[d]), tonumber(ds.docptr[d + 1]) - 1 do
      local w = ds.word[e]
      if known[w] > 0 then for _ = 1, ds.count[e] do toks[#toks + 1] = w end end
    end
    for k = 0, K - 1 do ndk[k], theta[k] = 0, 0 end
    local z = {}
    local function draw(w, with_doc)
      local sum = 0
      for k = 0, K - 1 do
        local q = (wt.data[w * K + k] + beta) / (nt.data[k] + vbeta)
        if with_doc then q = q * (ndk[k] + alpha) end
        sum = sum + q
        p[k] = sum
      end
      local u = lda.uniform(rng) * sum
      local k = 0
      while k < K - 1 and p[k] <= u do k = k + 1 end
      return k
    end
    for i, w in ipairs(toks) do
      local k = draw(w, false)
      z[i] = k
      ndk[k] = ndk[k] + 1
    end
    local n = #toks
    for s = 1, sweeps do
      for i, w in ipairs(toks) do
        ndk[z[i]] = ndk[z[i]] - 1
        local k = draw(w, true)
        z[i] = k
        ndk[k] = ndk[k] + 1
      end
      if s > burn then
        for k = 0, K - 1 do theta[k] = theta[k] + (ndk[k] + alpha) / (n + K * alpha) end
      end
    end
    local line = {}
    for k = 0, K - 1 do line[k + 1] = ("%.6g"):format(theta[k] / (sweeps - burn)) end
    lines[#lines + 1] = table.concat(line, " ")
  end
  out:write(table.concat(lines, "\n"), #lines > 0 and "\n" or "")
  out:close()
  local report = { predictions = ds.docs, topics = K }
  local hl, ntok = lda.heldout(ds, 0, ds.docs, K, wt.data, nt.data, known, alpha, beta, vbeta,
                               opt.particles, ctx.seed * 7919 + 104729)
  if ntok > 0 then report.heldout_ll_token, report.heldout_tokens = hl / ntok, ntok end
  ctx:report(report)
end

return M
