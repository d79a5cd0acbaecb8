-- pmls.lda: the collapsed Gibbs kernels of LDA (engine/src/numeric/lda.c,
-- declared in pmlsaux.h) and the arrays a worker hands them, so that
-- models/lda.lua reads like the sampler and speaks no FFI.
--
--   local lda = require "pmls.lda"
--   local st = lda.worker(ds, first, count, K, freq, seed)  -- documents [first, first+count)
--   lda.assign(st, wdeltas, tdelta)                         -- random first topics
--   lda.sweep(st, sampler, alpha, beta, vbeta, wviews, wdeltas, tview, tdelta)
--   lda.ll_docs(st, alpha), lda.ll_rows(K, n, views, beta) -> sum, nonzero
--   lda.heldout(...), lda.lgamma(x), lda.word_freq(ds, first, count)
--   lda.blocks(st, block_of, d), lda.topic_counts(st, out)  -- word blocks
--
-- A worker's tokens are its documents' words repeated by their counts, in
-- the corpus's order; each token's word is a slot, an index into the
-- worker's list of distinct words (st.words, int64 row ids for view_many
-- and delta_many), so the kernels take the views and deltas exactly as the
-- store fills them.
local core = require "pmls.core"
local ffi, C = core.ffi, core.C

ffi.cdef(require "pmls.cdef_aux")

local M = {}
M.DENSE, M.SPARSE = tonumber(C.PMLS_LDA_DENSE), tonumber(C.PMLS_LDA_SPARSE)

local i32, i64, f64 = ffi.typeof("int32_t[?]"), ffi.typeof("int64_t[?]"), ffi.typeof("double[?]")
local u64 = ffi.typeof("uint64_t[1]")
local max, min = math.max, math.min

-- The lgamma tables' length: counts below it are looked up.
local NTAB = 65536

function M.lgamma(x) return C.pmls_lda_lgamma(x) end

-- A splitmix64 state, and the uniform the samplers draw from it.
function M.rng(seed) local s = u64(); s[0] = seed; return s end
function M.uniform(state) return C.pmls_lda_uniform(state) end

-- How often each word occurs in documents [first, first + count).
function M.word_freq(ds, first, count)
  local freq = i32(ds.words)
  local lo, hi = tonumber(ds.docptr[first]), tonumber(ds.docptr[first + count])
  for e = lo, hi - 1 do freq[ds.word[e]] = freq[ds.word[e]] + ds.count[e] end
  return freq
end

-- A worker's state for documents [first, first + count) of ds: tokens,
-- topics, doc-topic counts, word slots and the sparse sampler's lists
-- (capacity min(K, freq[w]), freq counting every training token).
function M.worker(ds, first, count, K, freq, seed)
  local docptr, word, cnt = ds.docptr, ds.word, ds.count
  local lo, hi = tonumber(docptr[first]), tonumber(docptr[first + count])
  local ntok = 0
  for e = lo, hi - 1 do ntok = ntok + cnt[e] end
  local slot_of, words, nwords = {}, {}, 0
  for e = lo, hi - 1 do
    local w = word[e]
    if not slot_of[w] then slot_of[w] = nwords; words[nwords] = w; nwords = nwords + 1 end
  end
  local tokptr, tokword = i64(count + 1), i32(max(ntok, 1))
  local t = 0
  for d = 0, count - 1 do
    tokptr[d] = t
    for e = tonumber(docptr[first + d]), tonumber(docptr[first + d + 1]) - 1 do
      local s = slot_of[word[e]]
      for _ = 1, cnt[e] do tokword[t] = s; t = t + 1 end
    end
  end
  tokptr[count] = t
  local ids, nzoff = i64(max(nwords, 1)), i64(nwords + 1)
  for s = 0, nwords - 1 do
    ids[s] = words[s]
    nzoff[s + 1] = nzoff[s] + min(K, freq[words[s]])
  end
  return {
    K = K, ndocs = count, ntok = ntok, tokptr = tokptr, tokword = tokword,
    z = i32(max(ntok, 1)), ndk = i32(max(count * K, 1)),
    words = ids, nwords = nwords, nzoff = nzoff,
    nzlist = i32(max(2 * tonumber(nzoff[nwords]), 1)), nzlen = i32(max(nwords, 1)),
    work = f64(3 * K), iwork = i32(2 * K), rng = M.rng(seed),
  }
end

-- What a checkpoint keeps of worker state st (app:save_state): the
-- tokens' topics and the generator, as arrays (the snapshot writes them as
-- .npy). The doc-topic counts follow from the topics and the sparse
-- sampler's lists are rebuilt at every sweep, so they are not saved.
function M.state(st)
  local rng = i64(1)
  rng[0] = ffi.cast("int64_t", st.rng[0])
  return { z = st.z, rng = rng, ntok = st.ntok, ndocs = st.ndocs }
end

-- Puts a state M.state saved back into st (made by M.worker for the same
-- documents) and recounts its doc-topic counts; nil, err when it is not
-- the state of those documents or a topic is out of range.
function M.restore(st, saved)
  if type(saved) ~= "table" or saved.ntok ~= st.ntok or saved.ndocs ~= st.ndocs
     or type(saved.z) ~= "cdata" or not ffi.istype(i32, saved.z) or ffi.sizeof(saved.z) ~= ffi.sizeof(st.z)
     or type(saved.rng) ~= "cdata" or not ffi.istype(i64, saved.rng) or ffi.sizeof(saved.rng) ~= 8 then
    return nil, "not the state of this worker's documents"
  end
  local K, z, ndk = st.K, st.z, st.ndk
  ffi.fill(ndk, ffi.sizeof(ndk))
  for d = 0, st.ndocs - 1 do
    for t = tonumber(st.tokptr[d]), tonumber(st.tokptr[d + 1]) - 1 do
      local k = saved.z[t]
      if k < 0 or k >= K then return nil, ("token %d has topic %d, not 0 .. %d"):format(t, k, K - 1) end
      z[t] = k
      ndk[d * K + k] = ndk[d * K + k] + 1
    end
  end
  st.rng[0] = ffi.cast("uint64_t", saved.rng[0])
  return true
end

function M.assign(st, wdeltas, tdelta)
  local n = C.pmls_lda_assign(st.K, st.ndocs, st.tokptr, st.tokword, st.z, st.ndk, wdeltas, tdelta, st.rng)
  if n < 0 then return nil, "lda assign: bad arguments" end
  return tonumber(n)
end

local SWEEP_ERRORS = {
  [-1] = "a count went negative (the word-topic counts are inconsistent)",
  [-2] = "a word's nonzero topics overflowed their list (counts inconsistent)",
  [-3] = "bad arguments (K, alpha, beta or the sampler)",
}

-- One Gibbs sweep of the worker's documents; returns the tokens sampled.
function M.sweep(st, sampler, alpha, beta, vbeta, wviews, wdeltas, tview, tdelta)
  local n = C.pmls_lda_sweep(st.K, alpha, beta, vbeta, sampler, st.ndocs, st.tokptr, st.tokword,
                             st.z, st.ndk, wviews, wdeltas, tview, tdelta, st.nwords, st.nzoff,
                             st.nzlist, st.nzlen, st.work, st.iwork, st.rng)
  if n < 0 then return nil, "lda sweep: " .. SWEEP_ERRORS[tonumber(n)] end
  return tonumber(n)
end

-- The word rows as pairs (a sparse "wt" table): a sweep reads each slot's
-- counts as the CSR T:get_sparse_many gives (off, keys, vals, in the order
-- of st.words) and returns, besides the tokens, its changes the same way
-- (off, keys, vals: add slot s's to row st.words[s]); assign_pairs gives
-- the first topics and returns their counts so. The arrays are st's,
-- reused by the next call.
local function pairs_out(st)
  if not st.doff then
    st.dcap = max(2 * tonumber(st.nzoff[st.nwords]), 1)
    st.doff, st.dkeys, st.dvals = i64(st.nwords + 1), i32(st.dcap), i32(st.dcap)
  end
  return st.doff, st.dkeys, st.dvals, st.dcap
end

function M.sweep_pairs(st, alpha, beta, vbeta, off, keys, vals, tview, tdelta)
  local doff, dkeys, dvals, dcap = pairs_out(st)
  local n = C.pmls_lda_sweep_pairs(st.K, alpha, beta, vbeta, st.ndocs, st.tokptr, st.tokword,
                                   st.z, st.ndk, off, keys, vals, tview, tdelta, st.nwords,
                                   st.nzoff, st.nzlist, st.nzlen, st.work, st.iwork, doff,
                                   dkeys, dvals, dcap, st.rng)
  if n < 0 then return nil, "lda sweep: " .. SWEEP_ERRORS[tonumber(n)] end
  return tonumber(n), doff, dkeys, dvals
end

function M.assign_pairs(st, tdelta)
  local doff, dkeys, dvals, dcap = pairs_out(st)
  local n = C.pmls_lda_assign_pairs(st.K, st.ndocs, st.tokptr, st.tokword, st.z, st.ndk, tdelta,
                                    st.nwords, st.nzoff, st.nzlist, doff, dkeys, dvals, dcap, st.rng)
  if n < 0 then return nil, "lda assign: bad arguments or a list too short" end
  return tonumber(n), doff, dkeys, dvals
end

-- Splits worker state st by word block (models/lda_sched.lua): block_of[w]
-- (0 .. d - 1, by word id) is word w's block. Block c's state holds, for
-- every document in order, its tokens of block c's words in st's order,
-- their topics (copied from st.z, so call it after the first assignment),
-- word slots and nonzero lists of its own, and shares st's doc-topic
-- counts, work arrays and generator: lda.sweep(blocks[c], ...) samples
-- exactly the tokens of block c and writes only rows of block c's words.
-- With d = 1 the block is st's tokens in st's order. Returns blocks[0..d-1].
function M.blocks(st, block_of, d)
  local K, ndocs, nwords = st.K, st.ndocs, st.nwords
  local slot, nslot, ntok = i32(max(nwords, 1)), {}, {}
  for c = 0, d - 1 do nslot[c], ntok[c] = 0, 0 end
  for s = 0, nwords - 1 do
    local c = block_of[tonumber(st.words[s])]
    slot[s], nslot[c] = nslot[c], nslot[c] + 1
  end
  for t = 0, st.ntok - 1 do
    local c = block_of[tonumber(st.words[st.tokword[t]])]
    ntok[c] = ntok[c] + 1
  end
  local out = {}
  for c = 0, d - 1 do
    out[c] = { K = K, ndocs = ndocs, ntok = ntok[c], block = c, tokptr = i64(ndocs + 1),
               tokword = i32(max(ntok[c], 1)), z = i32(max(ntok[c], 1)), ndk = st.ndk,
               words = i64(max(nslot[c], 1)), nwords = nslot[c], nzoff = i64(nslot[c] + 1),
               nzlen = i32(max(nslot[c], 1)), work = st.work, iwork = st.iwork, rng = st.rng }
  end
  for s = 0, nwords - 1 do
    local b = out[block_of[tonumber(st.words[s])]]
    b.words[slot[s]] = st.words[s]
    b.nzoff[slot[s] + 1] = st.nzoff[s + 1] - st.nzoff[s] -- the capacity, summed below
  end
  for c = 0, d - 1 do
    local b = out[c]
    for s = 1, b.nwords do b.nzoff[s] = b.nzoff[s] + b.nzoff[s - 1] end
    b.nzlist = i32(max(2 * tonumber(b.nzoff[b.nwords]), 1)) -- (topic, count) pairs
  end
  local at = {}
  for c = 0, d - 1 do at[c] = 0 end
  for doc = 0, ndocs - 1 do
    for c = 0, d - 1 do out[c].tokptr[doc] = at[c] end
    for t = tonumber(st.tokptr[doc]), tonumber(st.tokptr[doc + 1]) - 1 do
      local s = st.tokword[t]
      local c = block_of[tonumber(st.words[s])]
      local b, i = out[c], at[c]
      b.tokword[i], b.z[i] = slot[s], st.z[t]
      at[c] = i + 1
    end
  end
  for c = 0, d - 1 do out[c].tokptr[ndocs] = at[c] end
  return out
end

-- The topics of blocks (M.blocks(st, block_of, d)) back into st.z, token by
-- token as M.blocks dealt them: after the blocks' sweeps st.z is stale, and
-- a checkpoint (M.state) saves st's.
function M.unblock(st, blocks, block_of, d)
  local at = {}
  for c = 0, d - 1 do at[c] = 0 end
  for t = 0, st.ntok - 1 do
    local c = block_of[tonumber(st.words[st.tokword[t]])]
    st.z[t] = blocks[c].z[at[c]]
    at[c] = at[c] + 1
  end
end

-- Row pointers into a row-major n x K array such as finish's counts (for ll_rows).
local row_ptrs = ffi.typeof("const int32_t *[?]")
function M.row_pointers(nwk, n, K)
  local rows = row_ptrs(max(n, 1))
  for w = 0, n - 1 do rows[w] = nwk + w * K end
  return rows
end

-- Adds to out[k] the tokens of state st in topic k.
function M.topic_counts(st, out)
  for t = 0, st.ntok - 1 do out[st.z[t]] = out[st.z[t]] + 1 end
  return out
end

-- lgamma(base + c) for c < NTAB, cached per base.
local tables = {}
local function table_of(base)
  local t = tables[base]
  if not t then
    t = f64(NTAB)
    C.pmls_lda_lgamma_table(base, NTAB, t)
    tables[base] = t
  end
  return t
end

-- The document part of MALLET's modelLogLikelihood over the worker's documents.
function M.ll_docs(st, alpha)
  return C.pmls_lda_ll_docs(st.K, st.ndocs, st.tokptr, st.ndk, alpha, table_of(alpha), NTAB)
end

-- The word part over n rows (views: row pointers): sum of lgamma(beta + c)
-- over the nonzero counts, and their number.
local nz_out = ffi.new("int64_t[1]")
function M.ll_rows(K, n, views, beta)
  local s = C.pmls_lda_ll_rows(K, n, views, beta, table_of(beta), NTAB, nz_out)
  return s, tonumber(nz_out[0])
end

-- ll_rows over the n values of rows read as pairs (T:get_sparse_many).
function M.ll_pairs(n, vals, beta)
  local s = C.pmls_lda_ll_pairs(n, vals, beta, table_of(beta), NTAB, nz_out)
  return s, tonumber(nz_out[0])
end

-- MALLET's modelLogLikelihood from its parts: docs (the sum of ll_docs),
-- words and nonzero (of ll_rows over every row), the topic totals nk.
function M.loglik(K, docs, words, nonzero, nk, beta, vbeta)
  local ll = docs + words - nonzero * M.lgamma(beta) + K * M.lgamma(vbeta)
  for k = 0, K - 1 do ll = ll - M.lgamma(nk[k] + vbeta) end
  return ll
end

-- Held-out log-likelihood (left-to-right, `particles` particles) of the
-- documents [first, first + count) of ds under the trained counts nwk
-- (words × K, row-major) and nk; tokens of words absent from training
-- (known[w] == 0) are left out, as out-of-vocabulary words in MALLET.
-- Returns the log-likelihood and the tokens it covers.
function M.heldout(ds, first, count, K, nwk, nk, known, alpha, beta, vbeta, particles, seed)
  local docptr, word, cnt = ds.docptr, ds.word, ds.count
  local ntok = 0
  for d = first, first + count - 1 do
    local len = 0
    for e = tonumber(docptr[d]), tonumber(docptr[d + 1]) - 1 do
      if known[word[e]] > 0 then len = len + cnt[e] end
    end
    ntok = ntok + len
  end
  local tokptr, tokword = i64(count + 1), i32(max(ntok, 1))
  local t = 0
  for d = 0, count - 1 do
    tokptr[d] = t
    for e = tonumber(docptr[first + d]), tonumber(docptr[first + d + 1]) - 1 do
      local w = word[e]
      if known[w] > 0 then for _ = 1, cnt[e] do tokword[t] = w; t = t + 1 end end
    end
  end
  tokptr[count] = t
  local ll = C.pmls_lda_heldout(K, alpha, beta, vbeta, particles, count, tokptr, tokword, nwk, nk,
                                f64(3 * K), i32((2 * K + 1) * particles), M.rng(seed))
  return ll, ntok
end

return M
