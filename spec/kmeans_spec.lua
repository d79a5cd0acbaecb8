-- Spec for models/kmeans.lua on a small data set the spec writes:
--   * from the first k rows, every clock's inertia equals an independent serial Lloyd written here
--     (dense |x - c|^2, no store) within 1e-9 relative, at -w 1, -w 2 and -p 2 -w 1, with and
--     without --normalize;
--   * the k-means++ start is reproducible from --seed (same seed, same inertia; another seed may differ);
--   * --save writes a k x d array numpy reads (skipped without numpy);
--   * bad options are usage errors (exit 2).
local helpers = require("helpers")
local prng = require("pmls.rng")

local N, D, K, ITERS = 90, 6, 3, 6

-- Three noisy sparse clusters, in libsvm; returns the path and the dense rows.
local function dataset()
  local r = prng.new(77)
  local centres = { { 3, 0, 1, 0, 0, 2 }, { 0, 4, 0, 1, 0, 0 }, { 1, 1, 0, 0, 5, 0 } }
  local rows, lines = {}, {}
  for i = 1, N do
    local c, x, feats = centres[(i - 1) % 3 + 1], {}, {}
    for f = 1, D do
      x[f] = 0
      if c[f] ~= 0 or r.uniform() < 0.4 then
        x[f] = c[f] + r.normal() * 0.7
        feats[#feats + 1] = ("%d:%.17g"):format(f, x[f])
      end
    end
    rows[i] = x
    lines[#lines + 1] = "1 " .. table.concat(feats, " ")
  end
  local path = helpers.tempdir() .. "/km.svm"
  local f = assert(io.open(path, "wb"))
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
  return path, rows
end

-- Serial Lloyd from the first K rows: the inertia of each iteration's assignment.
local function serial(rows, normalize)
  local X = {}
  for i, x in ipairs(rows) do
    local s = 0
    for f = 1, D do s = s + x[f] ^ 2 end
    local a = (normalize and s > 0) and 1 / math.sqrt(s) or 1
    X[i] = {}
    for f = 1, D do X[i][f] = x[f] * a end
  end
  local c = {}
  for j = 1, K do c[j] = {}; for f = 1, D do c[j][f] = X[j][f] end end
  local out = {}
  for t = 1, ITERS do
    local sums, counts, inertia = {}, {}, 0
    for j = 1, K do sums[j] = {}; counts[j] = 0; for f = 1, D do sums[j][f] = 0 end end
    for _, x in ipairs(X) do
      local bj, bd
      for j = 1, K do
        local e = 0
        for f = 1, D do e = e + (x[f] - c[j][f]) ^ 2 end
        if not bd or e < bd then bj, bd = j, e end
      end
      inertia = inertia + bd
      counts[bj] = counts[bj] + 1
      for f = 1, D do sums[bj][f] = sums[bj][f] + x[f] end
    end
    out[t] = inertia
    for j = 1, K do
      if counts[j] > 0 then for f = 1, D do c[j][f] = sums[j][f] / counts[j] end end
    end
  end
  return out
end

local function inertias(rows)
  local out = {}
  for _, r in ipairs(rows) do if r.inertia and not r.final then out[#out + 1] = r.inertia end end
  return out
end

local function close(a, b) return math.abs(a - b) <= 1e-9 * math.max(math.abs(b), 1e-300) end

describe("models/kmeans.lua", function()
  local path, rows
  setup(function() path, rows = dataset() end)
  teardown(helpers.cleanup)

  for _, normalize in ipairs { false, true } do
    local want
    for _, deploy in ipairs { { "-w", "1" }, { "-w", "2" }, { "-p", "2", "-w", "1" } } do
      it(("equals a serial Lloyd at every iteration (%s%s)"):format(table.concat(deploy, " "),
         normalize and ", --normalize" or ""), function()
        want = want or serial(rows, normalize)
        local args = { "--data", path, "--k", tostring(K), "--iters", tostring(ITERS), "--init", "first" }
        if normalize then args[#args + 1] = "--normalize" end
        local _, mrows = helpers.run_model("models/kmeans.lua", helpers.join(args, deploy))
        local got = inertias(mrows)
        assert.are.equal(ITERS, #got)
        for t = 1, ITERS do
          assert.is_true(close(got[t], want[t]), ("iteration %d: %.17g, serial %.17g"):format(t, got[t], want[t]))
        end
        for t = 2, ITERS do assert.is_true(got[t] <= got[t - 1] * (1 + 1e-12)) end
      end)
    end
  end

  it("k-means++ is reproducible from --seed", function()
    local function run(seed, deploy)
      local _, m = helpers.run_model("models/kmeans.lua", helpers.join(
        { "--data", path, "--k", "4", "--iters", "3", "--seed", seed }, deploy))
      return inertias(m)
    end
    local a, b = run("11", { "-w", "1" }), run("11", { "-w", "2" })
    for t = 1, 3 do assert.is_true(close(b[t], a[t]), ("iteration %d: %.17g vs %.17g"):format(t, b[t], a[t])) end
  end)

  it("--save writes a k x d array with a sidecar, which numpy reads", function()
    local out = helpers.tempdir() .. "/c.npy"
    helpers.run_model("models/kmeans.lua", { "--data", path, "--k", "3", "--iters", "3", "--init", "first",
                                             "--save", out, "-w", "2" })
    assert.is_truthy(helpers.read_file(out))
    local side = helpers.json_decode(assert(helpers.read_file(out .. ".json")))
    assert.are.same({ 3, D }, side.arrays.centroids.shape)
    local py = helpers.numpy_python()
    if not py then pending("numpy missing"); return end
    local _, shape = helpers.sh(py .. " -c 'import numpy; print(numpy.load(\"" .. out .. "\").shape)'")
    assert.are.equal("(3, " .. D .. ")", shape:gsub("%s+$", ""))
  end)

  it("-w 1: resumed from a snapshot, the inertias and the saved centroids are the uninterrupted run's", function()
    local dir = helpers.tempdir()
    local base = { "--data", path, "--k", "4", "--iters", "9", "--seed", "3", "-w", "1" }
    local full, resumed, ck = dir .. "/full.npy", dir .. "/resumed.npy", dir .. "/ck"
    local _, a = helpers.run_model("models/kmeans.lua", helpers.join(base, { "--save", full }))
    helpers.run_model("models/kmeans.lua", helpers.join(base, { "--checkpoint", ck, "--checkpoint-every", "4" }))
    os.remove(ck .. "/ckpt-8/manifest") -- the newest torn: ckpt-4 is used
    local _, b = helpers.run_model("models/kmeans.lua", helpers.join(base, { "--resume", ck, "--save", resumed }))
    assert.is_true(helpers.read_file(full) == helpers.read_file(resumed), "the resumed centroids differ")
    local ia, ib = inertias(a), inertias(b)
    assert.are.equal(9, #ia)
    assert.are.equal(5, #ib) -- iterations 5 .. 9
    for t = 1, 5 do assert.are.equal(("%.17g"):format(ia[t + 4]), ("%.17g"):format(ib[t])) end
    local function fails(args, want)
      local res = helpers.pmls(helpers.join({ "run", "models/kmeans.lua", "-q" }, args))
      assert.are.equal(1, res.rc, res.out)
      assert.truthy(res.out:find(want, 1, true), "wanted '" .. want .. "' in: " .. res.out)
    end
    fails({ "--data", path, "--k", "4", "--iters", "9", "--seed", "3", "-w", "2", "--resume", ck },
          "--resume: kmeans resumes on the snapshot's 1 workers, not 2")
    for k = 1, 2 do
      local f = assert(io.open(ck .. "/ckpt-4/worker-0.a" .. k .. ".npy", "r+b"))
      f:write("garbage")
      f:close()
    end
    fails(helpers.join(base, { "--resume", ck }), "--resume: " .. ck .. "/ckpt-4/worker-0.a")
  end)

  for _, bad in ipairs { { "--k", "0" }, { "--iters", "0" }, { "--init", "random" }, { "--k", "1000" } } do
    it("refuses " .. table.concat(bad, " ") .. " as a usage error", function()
      local res = helpers.pmls(helpers.join({ "run", "models/kmeans.lua", "--data", path, "-q" }, bad))
      assert.are.equal(2, res.rc, res.out)
    end)
  end
end)
