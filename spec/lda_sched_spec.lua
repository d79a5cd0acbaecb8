-- Spec for the model-parallel LDA (models/lda_sched.lua), on a small corpus the spec writes:
--   * with one worker and one block it equals the data-parallel models/lda.lua, bit for bit
--     (the counts' hash and every LL/token line);
--   * with one worker and three blocks it equals an independent serial collapsed Gibbs sampler
--     written here that visits the tokens in the rotation's order (round t: document range i,
--     word block (i + t) mod d), so the word blocks, document ranges and rotation are checked;
--   * the counts are consistent after runs under -w 2, -w 3 with 6 blocks, -p 2 and the sparse
--     sampler (columns sum to the totals, each block's share of the totals to its words' rows,
--     documents to their lengths, nothing negative);
--   * every word row has exactly one writer per round: the block schedule's diagonals (replayed
--     here from pmls.schedulers) and the run's own count of blocks claimed by other than one
--     worker (writer_conflicts);
--   * the totals' staleness: no round missed (round_staleness_max 0), each worker's gap at the
--     end of a round is reported per round and bounded by the tokens the others sampled;
--   * a run is fixed by its seed whatever the timing: -w 2, SSP flags and -p 2 give the same counts;
--   * --save writes lda.lua's format (lda.lua --init-model reads it back to the same counts).
local ffi = require("ffi")
local helpers = require("helpers")
local prng = require("pmls.rng")
local schedulers = require("pmls.schedulers")

pcall(ffi.cdef, "double lgamma(double);")
local lgamma = ffi.C.lgamma

local D, W, TEST = 30, 40, 4

local function corpus()
  local r = prng.new(77)
  local docs, nnz = {}, 0
  for d = 1, D do
    local doc = {}
    for w = 1, W do
      if w % 11 ~= 0 and r.uniform() < 0.3 then doc[#doc + 1] = { w, 1 + r.below(4) } end
    end
    docs[d] = doc
    nnz = nnz + #doc
  end
  local lines = { tostring(D), tostring(W), tostring(nnz) }
  for d, doc in ipairs(docs) do
    for _, e in ipairs(doc) do lines[#lines + 1] = ("%d %d %d"):format(d, e[1], e[2]) end
  end
  local path = helpers.tempdir() .. "/docword.sched.txt"
  local f = assert(io.open(path, "wb"))
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
  return path, docs
end

-- The serial sampler, in the rotation's order. Tokens: documents in order, words increasing,
-- each repeated by its count. Document ranges: d contiguous ranges, range j ending at the first
-- document where the running token count reaches j/d of the tokens. Word blocks: the training
-- words by falling frequency (ties: smaller id first), each to the block c with the smallest
-- sum over ranges i of (its tokens in i) * (range i's tokens of c so far). First topics
-- floor(u K) in token order; round t (1 .. iters d) samples, for i = 0 .. d-1, range i's tokens
-- of block (i + t) mod d, one uniform each. Returns the LL/token after every sweep (and before
-- the first), the counts' hash and the tokens.
local function serial(docs, K, alpha, beta, iters, d, seed)
  local train = D - TEST
  local freq, V, tokens = {}, 0, {}
  for doc = 1, train do
    for _, e in ipairs(docs[doc]) do
      if not freq[e[1]] then freq[e[1]] = 0; V = V + 1 end
      freq[e[1]] = freq[e[1]] + e[2]
      for _ = 1, e[2] do tokens[#tokens + 1] = { d = doc, w = e[1] } end
    end
  end
  local range_of, sum, j = {}, 0, 1
  for doc = 1, train do
    for _, e in ipairs(docs[doc]) do sum = sum + e[2] end
    range_of[doc] = j - 1
    while j < d and sum >= #tokens * j / d do j = j + 1 end
  end
  -- f[w][i]: word w's tokens in range i; cell[i][c]: range i's tokens of block c so far
  local f, cell = {}, {}
  for i = 0, d - 1 do cell[i] = {}; for c = 0, d - 1 do cell[i][c] = 0 end end
  for doc = 1, train do
    for _, e in ipairs(docs[doc]) do
      f[e[1]] = f[e[1]] or {}
      f[e[1]][range_of[doc]] = (f[e[1]][range_of[doc]] or 0) + e[2]
    end
  end
  local words = {}
  for w in pairs(freq) do words[#words + 1] = w end
  table.sort(words, function(a, b) return freq[a] > freq[b] or (freq[a] == freq[b] and a < b) end)
  local block = {}
  for _, w in ipairs(words) do
    local best, best_score = nil, math.huge
    for c = 0, d - 1 do
      local score = 0
      for i, n in pairs(f[w]) do score = score + n * cell[i][c] end
      if score < best_score then best, best_score = c, score end
    end
    block[w] = best
    for i, n in pairs(f[w]) do cell[i][best] = cell[i][best] + n end
  end
  local vbeta = V * beta
  local rng = prng.new(seed)
  local nwk, ndk, nk = {}, {}, {}
  for k = 0, K - 1 do nk[k] = 0 end
  local function row(t, i) if not t[i] then t[i] = {}; for k = 0, K - 1 do t[i][k] = 0 end end return t[i] end
  for _, t in ipairs(tokens) do
    local k = math.floor(rng.uniform() * K)
    t.z = k
    row(nwk, t.w)[k] = row(nwk, t.w)[k] + 1
    row(ndk, t.d)[k] = row(ndk, t.d)[k] + 1
    nk[k] = nk[k] + 1
  end
  local function loglik()
    local ll = 0
    for doc = 1, train do
      local len = 0
      for k = 0, K - 1 do
        local c = ndk[doc] and ndk[doc][k] or 0
        if c > 0 then ll = ll + lgamma(alpha + c) - lgamma(alpha) end
        len = len + c
      end
      ll = ll - lgamma(alpha * K + len) + lgamma(alpha * K)
    end
    local nonzero = 0
    for w = 1, W do
      for k = 0, K - 1 do
        local c = nwk[w] and nwk[w][k] or 0
        if c > 0 then ll = ll + lgamma(beta + c); nonzero = nonzero + 1 end
      end
    end
    for k = 0, K - 1 do ll = ll - lgamma(vbeta + nk[k]) end
    ll = ll + lgamma(vbeta) * K - lgamma(beta) * nonzero
    return ll / #tokens
  end
  local lls, cum = { loglik() }, {}
  for t = 1, iters * d do
    for i = 0, d - 1 do
      local c = (i + t) % d
      for _, tok in ipairs(tokens) do
        if range_of[tok.d] == i and block[tok.w] == c then
          local nd, nw, old = ndk[tok.d], nwk[tok.w], tok.z
          nd[old], nw[old], nk[old] = nd[old] - 1, nw[old] - 1, nk[old] - 1
          local total = 0
          for k = 0, K - 1 do
            total = total + (nd[k] + alpha) * (1 / (nk[k] + vbeta)) * (nw[k] + beta)
            cum[k] = total
          end
          local u = rng.uniform() * total
          local k = 0
          while k < K - 1 and cum[k] <= u do k = k + 1 end
          tok.z = k
          nd[k], nw[k], nk[k] = nd[k] + 1, nw[k] + 1, nk[k] + 1
        end
      end
    end
    if t % d == 0 then lls[#lls + 1] = loglik() end
  end
  local hash = 0
  for w = 1, W do
    for k = 0, K - 1 do
      local c = nwk[w] and nwk[w][k] or 0
      hash = hash + c * (((w - 1) * K + k) % 1000003 + 1)
    end
  end
  return lls, hash, #tokens
end

local function base(path)
  return { "--data", path, "--format", "docword", "--test-docs", tostring(TEST), "--top-words", "0",
           "--seed", "5" }
end

local function run(script, path, args) return helpers.run_model(script, helpers.join(base(path), args)) end

local function lines_of(rows, field)
  local got = {}
  for _, r in ipairs(rows) do if r[field] and not r.final then got[#got + 1] = r[field] end end
  return got
end

local function close(a, b) return math.abs(a - b) <= 1e-10 * math.abs(b) end

describe("models/lda_sched.lua", function()
  local path, docs = corpus()

  it("with one worker and one block equals the data-parallel lda.lua, bit for bit", function()
    local args = { "--topics", "4", "--iters", "9", "--sampler", "dense", "-w", "1" }
    local dp, dp_rows = run("models/lda.lua", path, args)
    local mp, mp_rows = run("models/lda_sched.lua", path, args)
    assert.are.equal(0, mp.count_errors)
    assert.are.equal(dp.counts_hash, mp.counts_hash)
    local a, b = lines_of(dp_rows, "ll_token"), lines_of(mp_rows, "ll_token")
    assert.are.equal(10, #a)
    assert.are.same(a, b)
    assert.are.equal(dp.final_ll_token, mp.final_ll_token)
    assert.are.equal(dp.heldout_ll_token, mp.heldout_ll_token)
  end)

  it("with one worker and three blocks equals a serial sampler in the rotation's order", function()
    local K, iters, d = 5, 6, 3
    local final, rows = run("models/lda_sched.lua", path, { "--topics", tostring(K), "--iters", tostring(iters),
                                                           "--blocks", tostring(d), "--sampler", "dense", "-w", "1" })
    local lls, hash, ntok = serial(docs, K, 1 / K, 1 / K, iters, d, 5 * 7919 + 1)
    assert.are.equal(0, final.count_errors)
    assert.are.equal(0, final.block_errors)
    assert.are.equal(ntok, final.train_tokens)
    assert.are.equal(hash, final.counts_hash)
    local got = lines_of(rows, "ll_token")
    assert.are.equal(#lls, #got)
    for i = 1, #lls do
      assert(close(got[i], lls[i]), ("sweep %d: LL/token %.15g, serial %.15g"):format(i - 1, got[i], lls[i]))
    end
    assert.are.equal(iters * d + 2, final.rounds)
    assert.are.equal(0, final.nt_gap_max) -- one worker sees every change
  end)

  for _, case in ipairs({
    { "-w 2", { "-w", "2" }, 2 },
    { "-w 2, sparse", { "-w", "2", "--sampler", "sparse" }, 2 },
    { "-w 3, 6 blocks", { "-w", "3", "--blocks", "6" }, 6 },
    { "-p 2", { "-p", "2", "-w", "1", "--sampler", "sparse" }, 2 },
  }) do
    it("keeps the counts consistent and one writer per row under " .. case[1], function()
      local iters, d = 8, case[3]
      local _, _, ntok = serial(docs, 5, 0.2, 0.2, 0, 1, 1)
      local final, rows = run("models/lda_sched.lua", path, helpers.join({ "--topics", "5", "--iters", tostring(iters) }, case[2]))
      assert.are.equal(0, final.count_errors)
      assert.are.equal(0, final.block_errors)
      assert.are.equal(ntok, final.train_tokens)
      assert(final.final_ll_token < 0)
      assert.are.equal(d, final.blocks)
      -- one writer per block and round, as the workers claimed them
      assert.are.equal(0, final.writer_conflicts)
      assert.are.equal(iters * d + 2, final.rounds)
      -- the totals: no round missed, a gap measured and reported per round, within its bound
      assert.are.equal(0, final.round_staleness_max)
      assert(final.nt_gap_max > 0 and final.nt_gap_frac_max > 0 and final.nt_gap_frac_max <= 1)
      local gaps = lines_of(rows, "nt_gap")
      assert(#gaps >= iters * d - 1)
      for _, g in ipairs(gaps) do assert(g >= 0 and g <= final.nt_gap_max) end
      assert.are.equal(iters + 1, #lines_of(rows, "ll_token"))
    end)
  end

  it("does not depend on timing: -w 2, -w 2 under SSP and -p 2 give the same counts, bit for bit", function()
    local args = { "--topics", "4", "--iters", "6" }
    local a = run("models/lda_sched.lua", path, helpers.join(args, { "-w", "2" }))
    local b = run("models/lda_sched.lua", path, helpers.join(args, { "-w", "2", "--consistency", "ssp", "--staleness", "2" }))
    local c = run("models/lda_sched.lua", path, helpers.join(args, { "-p", "2", "-w", "1" }))
    assert.are.equal(a.counts_hash, b.counts_hash)
    assert.are.equal(a.counts_hash, c.counts_hash)
    assert.are.equal(a.final_ll_token, c.final_ll_token)
    assert.are.equal(a.nt_gap_max, c.nt_gap_max)
    assert.are.equal(a.nt_gap_mean, c.nt_gap_mean)
  end)

  it("gives every word block exactly one writer per round (the schedule's diagonals)", function()
    for _, c in ipairs({ { 2, 2 }, { 3, 6 }, { 1, 4 } }) do
      local P, d = c[1], c[2]
      local s = schedulers.new("block", { lo = 0, hi = d, rows = d, blocks = d, workers = P, seed = 1 })
      local out = ffi.new("int64_t[?]", d)
      local seen_pairs = {}
      for t = 0, 3 * d - 1 do
        assert.are.equal(d, s:next(out))
        local writer, ranges = {}, {}
        for g = 0, s.nseg - 1 do
          local i, blk, w = s.seg_rowblock[g], s.seg_colblock[g], s.seg_worker[g]
          assert.are.equal(nil, writer[blk], ("round %d: block %d has two writers"):format(t, blk))
          writer[blk], ranges[i] = w, true
          assert.are.equal(i % P, w)              -- range i stays with its worker
          assert.are.equal((i + t) % d, blk)      -- and meets block (i + t) mod d
          seen_pairs[i * d + blk] = true
        end
        for blk = 0, d - 1 do assert(writer[blk] ~= nil and ranges[blk]) end
      end
      local pairs_seen = 0
      for _ in pairs(seen_pairs) do pairs_seen = pairs_seen + 1 end
      assert.are.equal(d * d, pairs_seen) -- every (range, block) once per d rounds
    end
  end)

  it("saves lda.lua's model format: lda.lua --init-model reads it to the same counts", function()
    local dir = helpers.tempdir()
    local file = dir .. "/sched.npz"
    local final = run("models/lda_sched.lua", path, { "--topics", "4", "--iters", "5", "-w", "2", "--save", file })
    assert.are.equal(0, final.count_errors)
    local back = run("models/lda.lua", path, { "--topics", "4", "--iters", "0", "-w", "1", "--init-model", file })
    assert.are.equal(final.counts_hash, back.counts_hash)
    local again = run("models/lda_sched.lua", path, { "--topics", "4", "--iters", "0", "-w", "2", "--init-model", file })
    assert.are.equal(final.counts_hash, again.counts_hash)
    assert.are.equal(0, again.block_errors)
  end)

  it("refuses fewer blocks than workers", function()
    local res = helpers.pmls(helpers.join({ "run", "models/lda_sched.lua", "-q" }, base(path),
                                          { "-w", "2", "--blocks", "1" }))
    assert(res.rc ~= 0, res.out)
    assert.truthy(res.out:find("--blocks 1 for 2 workers", 1, true), res.out)
  end)
end)
