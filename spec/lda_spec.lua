-- Spec for LDA (models/lda.lua and the kernels of pmls.lda, engine/src/numeric/lda.c), on a tiny
-- corpus the spec writes:
--   * one worker under BSP equals an independent serial collapsed Gibbs sampler written here
--     (the dense conditional, the same splitmix64 stream): the final word-topic counts match
--     exactly (their hash) and every clock's LL/token equals MALLET's modelLogLikelihood
--     computed here from the serial sampler's counts;
--   * after runs under BSP, SSP, ESSP, Async and with -p 2 the counts are consistent (columns
--     sum to the totals, documents to their lengths, nothing negative: the model's checks,
--     which the C test shows can fail);
--   * both samplers' draws follow the exact conditional (chi-square, fixed seed);
--   * a bad corpus stops the run with path:line.
local ffi = require("ffi")
local helpers = require("helpers")
local lda = require("pmls.lda")
local prng = require("pmls.rng")
local array = require("pmls.array")

pcall(ffi.cdef, "double lgamma(double);")
local lgamma = ffi.C.lgamma

local D, W, TEST = 14, 17, 3

-- A random docword corpus: D documents over W words, a few empty words.
local function corpus()
  local r = prng.new(2024)
  local docs, nnz = {}, 0
  for d = 1, D do
    local doc = {}
    for w = 1, W do
      if w % 7 ~= 0 and r.uniform() < 0.35 then doc[#doc + 1] = { w, 1 + r.below(4) } end
    end
    docs[d] = doc
    nnz = nnz + #doc
  end
  local lines = { tostring(D), tostring(W), tostring(nnz) }
  for d, doc in ipairs(docs) do
    for _, e in ipairs(doc) do lines[#lines + 1] = ("%d %d %d"):format(d, e[1], e[2]) end
  end
  local path = helpers.tempdir() .. "/docword.tiny.txt"
  local f = assert(io.open(path, "wb"))
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
  return path, docs
end

-- The serial sampler: tokens in document order, words increasing, each repeated by its count;
-- first topics floor(u K); then sweeps of the dense conditional, one uniform per token.
local function serial(docs, K, alpha, beta, iters, seed)
  local train = D - TEST
  local seen, V = {}, 0
  for d = 1, train do for _, e in ipairs(docs[d]) do if not seen[e[1]] then seen[e[1]] = true; V = V + 1 end end end
  local vbeta = V * beta
  local rng = prng.new(seed)
  local tokens = {}
  for d = 1, train do
    for _, e in ipairs(docs[d]) do for _ = 1, e[2] do tokens[#tokens + 1] = { d = d, w = e[1] } end end
  end
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
    for d = 1, train do
      local len = 0
      for k = 0, K - 1 do
        local c = ndk[d] and ndk[d][k] or 0
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
  local lls, inv, cum = { loglik() }, {}, {}
  for k = 0, K - 1 do inv[k] = 1 / (nk[k] + vbeta) end
  for _ = 1, iters do
    for _, t in ipairs(tokens) do
      local nd, nw, old = ndk[t.d], nwk[t.w], t.z
      nd[old], nw[old], nk[old] = nd[old] - 1, nw[old] - 1, nk[old] - 1
      inv[old] = 1 / (nk[old] + vbeta)
      local total = 0
      for k = 0, K - 1 do
        total = total + (nd[k] + alpha) * inv[k] * (nw[k] + beta)
        cum[k] = total
      end
      local u = rng.uniform() * total
      local k = 0
      while k < K - 1 and cum[k] <= u do k = k + 1 end
      t.z = k
      nd[k], nw[k], nk[k] = nd[k] + 1, nw[k] + 1, nk[k] + 1
      inv[k] = 1 / (nk[k] + vbeta)
    end
    lls[#lls + 1] = loglik()
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

local function lda_run(path, args)
  local base = { "--data", path, "--format", "docword", "--test-docs", tostring(TEST),
                 "--top-words", "0", "--seed", "5" }
  return helpers.run_model("models/lda.lua", helpers.join(base, args))
end

describe("models/lda.lua", function()
  local path, docs = corpus()

  it("with one worker under BSP equals a serial collapsed Gibbs sampler, bit for bit", function()
    local K, iters = 4, 12
    local final, rows = lda_run(path, { "--topics", tostring(K), "--iters", tostring(iters),
                                        "--sampler", "dense", "-w", "1" })
    local lls, hash, ntok = serial(docs, K, 1 / K, 1 / K, iters, 5 * 7919 + 1)
    assert.are.equal(0, final.count_errors)
    assert.are.equal(ntok, final.train_tokens)
    assert.are.equal(hash, final.counts_hash)
    local got = {}
    for _, r in ipairs(rows) do if r.ll_token and not r.final then got[#got + 1] = r.ll_token end end
    assert.are.equal(#lls, #got)
    for i = 1, #lls do
      assert(math.abs(got[i] - lls[i]) <= 1e-10 * math.abs(lls[i]),
             ("clock %d: LL/token %.15g, serial %.15g"):format(i, got[i], lls[i]))
    end
    assert(math.abs(final.final_ll_token - lls[#lls]) <= 1e-10 * math.abs(lls[#lls]))
    assert(final.heldout_ll_token < 0 and final.heldout_tokens > 0)
  end)

  for _, case in ipairs({
    { "BSP, 2 workers, sparse", { "-w", "2", "--sampler", "sparse", "--consistency", "bsp" } },
    { "SSP s=2, 2 workers", { "-w", "2", "--consistency", "ssp", "--staleness", "2" } },
    { "ESSP s=1, 3 workers, sparse", { "-w", "3", "--sampler", "sparse", "--consistency", "essp", "--staleness", "1" } },
    { "Async, 2 workers", { "-w", "2", "--consistency", "async" } },
    { "-p 2, sparse", { "-p", "2", "-w", "1", "--sampler", "sparse" } },
    { "-w 2, word rows as pairs", { "-w", "2", "--sampler", "sparse", "--word-rows", "sparse" } },
    { "-p 2 under SSP s=1, word rows as pairs", { "-p", "2", "-w", "1", "--sampler", "sparse",
                                                  "--word-rows", "sparse", "--consistency", "ssp", "--staleness", "1" } },
  }) do
    it("keeps the counts consistent under " .. case[1], function()
      local _, _, ntok = serial(docs, 5, 0.2, 0.2, 0, 1)
      local final = lda_run(path, helpers.join({ "--topics", "5", "--iters", "15" }, case[2]))
      assert.are.equal(0, final.count_errors)
      assert.are.equal(ntok, final.train_tokens)
      assert(final.final_ll_token < 0)
    end)
  end

  -- One worker: the same counts give the same draws. With two, a sparse
  -- row is read from its shard when asked (it is not cached), which may
  -- already hold the other worker's next clock (SSP allows fresher), so
  -- -w 2 runs are consistent (above) but not repeatable bit for bit.
  it("draws the same with the word rows as pairs (a sparse table) as with dense rows, -w 1", function()
    for _, w in ipairs { "1" } do
      local base = { "--topics", "6", "--iters", "8", "-w", w, "--sampler", "sparse", "--ll-every", "2" }
      local dense, drows = lda_run(path, helpers.join(base, { "--word-rows", "dense" }))
      local sparse, srows = lda_run(path, helpers.join(base, { "--word-rows", "sparse" }))
      assert.are.equal(0, sparse.count_errors)
      assert.are.equal(dense.counts_hash, sparse.counts_hash)
      assert.are.equal(("%.12g"):format(dense.final_ll_token), ("%.12g"):format(sparse.final_ll_token))
      local function lls(rows)
        local t = {}
        for _, r in ipairs(rows) do if r.ll_token and not r.final then t[#t + 1] = ("%.12g"):format(r.ll_token) end end
        return t
      end
      assert.are.same(lls(drows), lls(srows))
    end
    local res = helpers.pmls({ "run", "models/lda.lua", "--data", path, "--format", "docword", "--topics", "6",
                               "--word-rows", "sparse", "--sampler", "dense", "-q" })
    assert.are.equal(1, res.rc)
    assert.truthy(res.out:find("--word-rows sparse needs the sparse sampler", 1, true), res.out)
    res = helpers.pmls({ "run", "models/lda.lua", "--data", path, "--format", "docword", "--topics", "6",
                         "--word-rows", "sparse", "--sampler", "sparse", "--checkpoint", helpers.tempdir() .. "/ck", "-q" })
    assert.are.equal(1, res.rc)
    assert.truthy(res.out:find("checkpoints hold dense tables only: add --word-rows dense", 1, true), res.out)
  end)

  it("stops on a bad corpus with path:line", function()
    local bad = helpers.tempdir() .. "/docword.bad.txt"
    local f = assert(io.open(bad, "wb"))
    f:write("2\n3\n2\n1 1 2\n1 x 1\n")
    f:close()
    local res = helpers.pmls({ "run", "models/lda.lua", "--data", bad, "--format", "docword", "-q" })
    assert.are.equal(1, res.rc)
    assert.truthy(res.out:find("docword.bad.txt:5", 1, true), res.out)
  end)
end)

describe("pmls.lda sweep", function()
  -- One document of two tokens (words 0 and 1) in a model whose other counts are fixed views:
  -- the first token's new topic, given the second's topic, follows the exact conditional.
  local K, alpha, beta, vbeta = 4, 0.3, 0.1, 0.5
  local other = { [0] = { [0] = 5, 0, 2, 9 }, { [0] = 1, 4, 0, 0 } }
  local totals = { [0] = 20, 11, 7, 30 }
  local function exact(z2)
    local p, sum = {}, 0
    for k = 0, K - 1 do
      p[k] = ((z2 == k and 1 or 0) + alpha) * (other[0][k] + beta) / (totals[k] + (z2 == k and 1 or 0) + vbeta)
      sum = sum + p[k]
    end
    for k = 0, K - 1 do p[k] = p[k] / sum end
    return p
  end
  for _, name in ipairs({ "dense", "sparse" }) do
    it(name .. " draws follow the exact conditional (chi-square)", function()
      local ds = { docs = 1, words = 2, docptr = array.int64(2), word = array.int32(2), count = array.int32(2) }
      ds.docptr[1], ds.word[1], ds.count[0], ds.count[1] = 2, 1, 1, 1
      local freq = array.int32(2)
      freq[0], freq[1] = 100, 100
      local st = lda.worker(ds, 0, 1, K, freq, 77)
      -- both tokens start in topic 0; the views hold them, the deltas start at zero
      local views = ffi.new("const int32_t *[2]")
      local rows = { array.int32(K), array.int32(K) }
      local drows = { array.int32(K), array.int32(K) }  -- kept alive: deltas only points at them
      local deltas = ffi.new("int32_t *[2]", drows)
      local tview, tdelta = array.int32(K), array.int32(K)
      for w = 0, 1 do
        for k = 0, K - 1 do rows[w + 1][k] = other[w][k] + (k == 0 and 1 or 0) end
        views[w] = rows[w + 1]
      end
      for k = 0, K - 1 do tview[k] = totals[k] + (k == 0 and 2 or 0) end
      st.ndk[0] = 2
      local sampler = name == "dense" and lda.DENSE or lda.SPARSE
      local seen = {}
      for z2 = 0, K - 1 do seen[z2] = { n = 0 }; for k = 0, K - 1 do seen[z2][k] = 0 end end
      for _ = 1, 40000 do
        local z2 = st.z[1]
        assert(lda.sweep(st, sampler, alpha, beta, vbeta, views, deltas, tview, tdelta))
        local s = seen[z2]
        s[st.z[0]], s.n = s[st.z[0]] + 1, s.n + 1
      end
      local chi, df = 0, 0
      for z2 = 0, K - 1 do
        local p, s = exact(z2), seen[z2]
        if s.n > 0 then
          for k = 0, K - 1 do
            local e = s.n * p[k]
            chi, df = chi + (s[k] - e) ^ 2 / e, df + 1
          end
          df = df - 1
        end
      end
      -- 1e-3 tail of chi-square with df (12 at most): 32.9
      assert(df >= 9, "too few conditioning values visited: " .. df)
      assert(chi < 32.9, ("chi-square %.2f on %d degrees of freedom"):format(chi, df))
      assert(drows[1] ~= nil)
    end)
  end
end)

-- --save, --init-model and --predict (models/lib/lda_saved.lua).
describe("models/lda.lua saved models", function()
  local path = corpus()
  local dir = helpers.tempdir()
  local K = 4
  local function words_file(name, suffix)
    local p = dir .. "/" .. name
    local f = assert(io.open(p, "w"))
    for w = 1, W do f:write("w", w, suffix, "\n") end
    f:close()
    return p
  end
  local vocab, other = words_file("vocab.txt", ""), words_file("other.txt", "x")
  local saved = dir .. "/lda.npz"
  local first = lda_run(path, { "--topics", tostring(K), "--iters", "8", "-w", "2", "--vocab", vocab,
                                "--save", saved })

  local function fails(args, want)
    local res = helpers.pmls(helpers.join({ "run", "models/lda.lua", "--data", path, "--format", "docword",
                                            "-q" }, args))
    assert.are_not.equal(0, res.rc, res.out)
    assert.truthy(res.out:find(want, 1, true), "wanted '" .. want .. "' in: " .. res.out)
    assert.falsy(res.out:find("traceback", 1, true), res.out)
  end

  it("writes wt (words x K), nt, alpha and beta, and the sidecar says K and the vocabulary", function()
    local m = require("pmls.model").load(saved)
    local wt, nt = m:need("wt", { W, K }), m:need("nt", { K })
    assert.are.equal("int32", wt.dtype)
    local total = 0
    for k = 0, K - 1 do
      local s = 0
      for w = 0, W - 1 do s = s + wt.data[w * K + k] end
      assert.are.equal(nt.data[k], s)
      total = total + s
    end
    assert.are.equal(first.train_tokens, total)
    assert.are.equal(1 / K, m:scalar("alpha"))
    local side = helpers.read_file(saved .. ".json")
    assert.truthy(side:find('"K": 4', 1, true), side)
    assert.truthy(side:find('"w17"', 1, true), side)
  end)

  it("--init-model with --iters 0 saves the same counts, under another -w", function()
    for _, w in ipairs({ "1", "3" }) do
      local again = dir .. "/again" .. w .. ".npz"
      local final = lda_run(path, { "--topics", tostring(K), "--iters", "0", "-w", w, "--init-model", saved,
                                    "--save", again })
      assert.are.equal(first.counts_hash, final.counts_hash)
      assert.are.equal(0, final.count_errors)
      assert.are.equal(helpers.read_file(saved), helpers.read_file(again))
    end
    local more = lda_run(path, { "--topics", tostring(K), "--iters", "3", "-w", "2", "--init-model", saved })
    assert.are.equal(0, more.count_errors)
  end)

  it("--predict writes one mixture of K numbers summing to 1 per document, and the held-out LL", function()
    local out = dir .. "/theta.txt"
    local res = helpers.run_model("models/lda.lua", { "--predict", "--model", saved, "--data", path,
                                                      "--format", "docword", "--out", out })
    assert.are.equal(D, res.predictions)
    assert(res.heldout_ll_token < 0 and res.heldout_tokens > 0)
    local n = 0
    for line in io.lines(out) do
      n = n + 1
      local sum, count = 0, 0
      for x in line:gmatch("%S+") do sum = sum + tonumber(x); count = count + 1 end
      assert.are.equal(K, count)
      assert(math.abs(sum - 1) < 1e-4, line)
    end
    assert.are.equal(D, n)
  end)

  it("refuses another K, another vocabulary and a file that is not a model, in one line", function()
    fails({ "--topics", "5", "--init-model", saved }, "wt is 17 x 4, this run needs 17 x 5")
    fails({ "--topics", tostring(K), "--vocab", other, "--init-model", saved }, "vocabulary is not this run's")
    fails({ "--predict", "--model", saved, "--vocab", other, "--out", dir .. "/x" }, "vocabulary is not this run's")
    fails({ "--topics", tostring(K), "--init-model", path }, "docword.tiny.txt")
  end)

  it("numpy reads the counts", function()
    local python = helpers.numpy_python()
    if not python then return pending("python3 with numpy not installed (make deps)") end
    local rc2, out = helpers.sh((python .. " -c \"import numpy as np; z = np.load('%s'); "
                                 .. "print(z['wt'].shape[0], z['wt'].shape[1], int(z['nt'].sum()), "
                                 .. "int((z['wt'].sum(0) != z['nt']).sum()))\" 2>&1"):format(saved))
    assert.are.equal(0, rc2, out)
    assert.are.equal(("%d %d %d 0"):format(W, K, first.train_tokens), out:gsub("%s+$", ""))
  end)
end)

-- --checkpoint / --resume (docs/fault-tolerance.md): each worker's topics
-- and generator are saved, its doc-topic counts recounted.
describe("models/lda.lua checkpoints", function()
  local path = corpus()
  local dir = helpers.tempdir()
  teardown(helpers.cleanup)

  it("-w 1, BSP: resumed from a snapshot, saves the uninterrupted run's bytes; -w 2, damaged topics refused", function()
    for _, sampler in ipairs { "dense", "sparse" } do
      local base = { "--topics", "4", "--iters", "9", "-w", "1", "--sampler", sampler } -- 11 clocks
      local full, resumed, ck = dir .. "/full.npz", dir .. "/resumed.npz", dir .. "/ck-" .. sampler
      local a = lda_run(path, helpers.join(base, { "--save", full }))
      lda_run(path, helpers.join(base, { "--checkpoint", ck, "--checkpoint-every", "4" })) -- 4, 8
      os.remove(ck .. "/ckpt-8/manifest") -- the newest torn: ckpt-4 is used
      local b = lda_run(path, helpers.join(base, { "--resume", ck, "--save", resumed }))
      assert.is_true(helpers.read_file(full) == helpers.read_file(resumed), sampler .. ": the resumed model differs")
      assert.are.equal(("%.17g"):format(a.heldout_ll_token), ("%.17g"):format(b.heldout_ll_token))
      assert.are.equal(0, b.count_errors)
      local function fails(args, want)
        local res = helpers.pmls(helpers.join({ "run", "models/lda.lua", "--data", path, "--format", "docword",
                                                "--test-docs", tostring(TEST), "--top-words", "0", "--seed", "5",
                                                "-q" }, args))
        assert.are.equal(1, res.rc, res.out)
        assert.truthy(res.out:find(want, 1, true), "wanted '" .. want .. "' in: " .. res.out)
      end
      fails({ "--topics", "4", "--iters", "9", "-w", "2", "--sampler", sampler, "--resume", ck },
            "--resume: lda resumes on the snapshot's 1 workers, not 2")
      for k = 1, 2 do
        local f = assert(io.open(ck .. "/ckpt-4/worker-0.a" .. k .. ".npy", "r+b"))
        f:write("garbage")
        f:close()
      end
      fails(helpers.join(base, { "--resume", ck }), "--resume: " .. ck .. "/ckpt-4/worker-0.a")
    end
  end)
end)
