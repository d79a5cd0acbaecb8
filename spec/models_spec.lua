-- Spec for the model scripts (models/logreg.lua, models/mf_sgd.lua), run as
-- `pmls run` subprocesses. On data the spec generates, so it always runs:
-- logistic regression must reach the optimum of its objective (computed
-- here by Newton's method) under every deployment and consistency model,
-- and matrix factorization must recover exactly low-rank ratings. On the
-- staged benchmark sets (../shared/data, or $PMLS_DATA; skipped when
-- absent): a9a -> a9a.t accuracy >= 84.8% under every deployment, and at
-- logreg's defaults liblinear's accuracy (-s 0 -c 1: 84.95% on a9a, 88.17%
-- on 20news tf-idf) and objective; MovieLens-100K ua.base -> ua.test RMSE
-- <= 0.94 with the staleness bound kept.
local helpers = require "helpers"
local data = require "pmls.data"
-- The models' own library, found the way a model finds it (pmls.runtime puts the
-- models directory on package.path).
package.path = "./models/?.lua;" .. package.path
local linear = require "lib.linear"
local ffi = require "ffi"

local DATA = helpers.DATA
local LOGREG, MF = "models/logreg.lua", "models/mf_sgd.lua"

local run, join = helpers.run_model, helpers.join

-- Deployments x consistency models the models must converge under; bound:
-- the staleness no read may exceed.
local DEPLOYS = {
  { "-w", "1", bound = 0 },
  { "-w", "2", "--consistency", "bsp", bound = 0 },
  { "-w", "2", "--consistency", "ssp", "--staleness", "2", bound = 2 },
  { "-w", "2", "--consistency", "essp", "--staleness", "4", bound = 4 },
  -- async: nothing bounds a read's lag, and saga_pass divides a move by
  -- 1 + that lag, so a worker the machine starves slows the approach: at 20
  -- epochs a loaded CI machine left 2.004e-4 once; 30 are the headroom.
  { "-w", "2", "--consistency", "async", epochs = 30 },
  -- s = 3 at four clocks an epoch: a read may lack three quarters of an
  -- epoch of the other three workers' moves. Before saga_pass divided the
  -- delta by 1 + the read's staleness, 11 runs in 30 on a9a diverged here.
  { "-w", "4", "--consistency", "ssp", "--staleness", "3", bound = 3 },
  { "-w", "2", "-p", "2", "--consistency", "ssp", "--staleness", "1", bound = 1 },
}

local function deploy_name(args)
  return table.concat(args, " ")
end

-- Calls define(deploy, name) for each deployment.
local function each_deploy(deploys, define)
  for _, deploy in ipairs(deploys) do define(deploy, deploy_name(deploy)) end
end

local function assert_staleness(final, tables, bound)
  for _, name in ipairs(tables) do
    local t = final.tables[name]
    assert.is_truthy(t, "no table " .. name .. " in the final metrics")
    assert.is_true(t.rows_read > 0, name .. ": no reads")
    if bound then
      assert.is_true(t.staleness_max <= bound, ("%s: staleness_max %d > %d"):format(name, t.staleness_max, bound))
      for s = bound + 1, #t.staleness_hist - 1 do
        assert.are.equal(0, t.staleness_hist[s + 1], name .. ": reads of staleness " .. s)
      end
    end
  end
end

-- ---- generated data -------------------------------------------------------

local function write_libsvm(ds, path)
  local f = assert(io.open(path, "w"))
  for i = 0, ds.n - 1 do
    local parts = { ds.y[i] > 0 and "+1" or "-1" }
    for k = tonumber(ds.rowptr[i]), tonumber(ds.rowptr[i + 1]) - 1 do
      parts[#parts + 1] = ("%d:%.17g"):format(ds.col[k] + 1, ds.val[k])
    end
    f:write(table.concat(parts, " "), "\n")
  end
  f:close()
end

-- The minimiser of linear.objective on ds (mean logistic loss + l2/2 |w|^2,
-- bias not penalised), by Newton's method with a dense Cholesky solve.
local function newton_optimum(ds, d, l2)
  local D = d + 1
  local w = ffi.new("double[?]", D)
  local g, H = ffi.new("double[?]", D), ffi.new("double[?]", D * D)
  local cols, vals = ffi.new("int32_t[?]", D), ffi.new("double[?]", D)
  for _ = 1, 50 do
    ffi.fill(g, D * 8)
    ffi.fill(H, D * D * 8)
    for i = 0, ds.n - 1 do
      local p = 1 / (1 + math.exp(linear.margin(ds, i, w, d)))
      local gi, hi = -ds.y[i] * p / ds.n, p * (1 - p) / ds.n
      local m = 0
      for k = tonumber(ds.rowptr[i]), tonumber(ds.rowptr[i + 1]) - 1 do
        cols[m], vals[m], m = ds.col[k], ds.val[k], m + 1
      end
      cols[m], vals[m], m = d, 1, m + 1
      for a = 0, m - 1 do
        g[cols[a]] = g[cols[a]] + gi * vals[a]
        for b = 0, m - 1 do
          local at = cols[a] * D + cols[b]
          H[at] = H[at] + hi * vals[a] * vals[b]
        end
      end
    end
    for j = 0, d - 1 do
      g[j] = g[j] + l2 * w[j]
      H[j * D + j] = H[j * D + j] + l2
    end
    for j = 0, D - 1 do -- H = L L^T, L in the lower triangle
      local s = H[j * D + j]
      for k = 0, j - 1 do s = s - H[j * D + k] ^ 2 end
      s = math.sqrt(s)
      H[j * D + j] = s
      for i = j + 1, D - 1 do
        local t = H[i * D + j]
        for k = 0, j - 1 do t = t - H[i * D + k] * H[j * D + k] end
        H[i * D + j] = t / s
      end
    end
    local norm2 = 0
    for i = 0, D - 1 do
      norm2 = norm2 + g[i] ^ 2
      for k = 0, i - 1 do g[i] = g[i] - H[i * D + k] * g[k] end
      g[i] = g[i] / H[i * D + i]
    end
    for i = D - 1, 0, -1 do
      for k = i + 1, D - 1 do g[i] = g[i] - H[k * D + i] * g[k] end
      g[i] = g[i] / H[i * D + i]
      w[i] = w[i] - g[i]
    end
    if norm2 < 1e-24 then return w end
  end
  error("Newton's method did not converge")
end

describe("models/logreg.lua on generated data", function()
  -- 20000 examples, 20 features with 10 non-zero per row, 5% of the labels
  -- flipped: the Bayes rate is about 95%.
  local d, l2 = 20, 1e-4
  local all = data.synthetic_logistic { n = 20000, d = d, seed = 7, density = 0.5, noise = 0.05 }
  local train = data.subset(all, function(i) return i % 5 ~= 0 end)
  local test = data.subset(all, function(i) return i % 5 == 0 end)
  local dir, optimum, best_accuracy, bayes_accuracy

  setup(function()
    dir = helpers.tempdir()
    write_libsvm(train, dir .. "/train.svm")
    write_libsvm(test, dir .. "/test.svm")
    local w = newton_optimum(train, d, l2)
    optimum = linear.objective(train, w, d, l2)
    best_accuracy = linear.evaluate(test, w, d)
    local truth = ffi.new("double[?]", d + 1)
    for j = 0, d - 1 do truth[j] = all.w_true[j] end
    truth[d] = all.bias_true
    bayes_accuracy = linear.evaluate(test, truth, d)
  end)
  teardown(helpers.cleanup)

  it("has an optimum near the Bayes rate (the check below is meaningful)", function()
    assert.is_true(bayes_accuracy > 0.94 and bayes_accuracy < 0.96, "Bayes accuracy " .. bayes_accuracy)
    assert.is_true(best_accuracy > bayes_accuracy - 0.015,
                   ("optimum's accuracy %.4f, Bayes %.4f"):format(best_accuracy, bayes_accuracy))
  end)

  -- 20 epochs (async 30): async reads here lag by up to 8 clocks (2 epochs), which
  -- the default 8 do not always absorb to 2e-4 (10 left up to 7e-4).
  each_deploy(DEPLOYS, function(deploy, name)
    it("reaches the optimum of its objective (" .. name .. ")", function()
      local final = run(LOGREG, join({ "--data", dir .. "/train.svm", "--test", dir .. "/test.svm",
                                       "--l2", tostring(l2), "--epochs", tostring(deploy.epochs or 20) },
                                     deploy))
      assert.is_true(final.objective - optimum < 2e-4,
                     ("objective %.8f, optimum %.8f"):format(final.objective, optimum))
      assert.is_true(final.objective >= optimum - 1e-9, "below the optimum: the objective is miscomputed")
      assert.is_true(final.test_accuracy > best_accuracy - 0.005,
                     ("test accuracy %.4f, optimum's %.4f"):format(final.test_accuracy, best_accuracy))
      assert.is_true(final.test_accuracy > bayes_accuracy - 0.015,
                     ("test accuracy %.4f, Bayes %.4f"):format(final.test_accuracy, bayes_accuracy))
      local per_epoch, epochs = 4, deploy.epochs or 20
      for i = 1, #deploy - 1 do
        if deploy[i] == "--clocks-per-epoch" then per_epoch = tonumber(deploy[i + 1]) end
      end
      assert.are.equal(epochs * per_epoch, final.clocks,
                       ("clocks (%d epochs x %d)"):format(epochs, per_epoch))
      assert_staleness(final, { "w" }, deploy.bound)
    end)
  end)

  it("returns the last iterate with --optimizer sgd --average 0, further from the optimum", function()
    local sgd = { "--data", dir .. "/train.svm", "--l2", tostring(l2), "-w", "2", "--optimizer", "sgd",
                  "--epochs", "20", "--lr", "0.5" }
    local final = run(LOGREG, join(sgd, { "--average", "0" }))
    local averaged = run(LOGREG, sgd)
    assert.is_true(final.objective - optimum > 5 * (averaged.objective - optimum),
                   ("last iterate %.8f, averaged %.8f, optimum %.8f"):format(final.objective,
                   averaged.objective, optimum))
  end)
end)

describe("models/mf_sgd.lua on generated data", function()
  -- Ratings 3 + a_u . b_i of an exact rank-4 model (no noise), 300 users x
  -- 200 items, a quarter of them observed (those in [1, 5]); 10% held out.
  local dir, std
  setup(function()
    dir = helpers.tempdir()
    local rng = data.new_rng(11)
    local users, items, rank = 300, 200, 4
    local scale = (0.64 / rank) ^ 0.25 -- ratings spread with std ~0.8
    local A, B = {}, {}
    for u = 1, users do
      A[u] = {}
      for f = 1, rank do A[u][f] = scale * rng.normal() end
    end
    for i = 1, items do
      B[i] = {}
      for f = 1, rank do B[i][f] = scale * rng.normal() end
    end
    local train, test = assert(io.open(dir .. "/train", "w")), assert(io.open(dir .. "/test", "w"))
    local n, sum, sumsq = 0, 0, 0
    for u = 1, users do
      for i = 1, items do
        if rng.uniform() < 0.25 then
          local r = 3
          for f = 1, rank do r = r + A[u][f] * B[i][f] end
          if r >= 1 and r <= 5 then
            local line = ("%d %d %.17g\n"):format(u, i, r)
            if rng.uniform() < 0.1 then
              test:write(line)
            else
              train:write(line)
              n, sum, sumsq = n + 1, sum + r, sumsq + r * r
            end
          end
        end
      end
    end
    train:close()
    test:close()
    std = math.sqrt(sumsq / n - (sum / n) ^ 2)
  end)
  teardown(helpers.cleanup)

  local function fit(rank, deploy)
    return run(MF, join({ "--data", dir .. "/train", "--test", dir .. "/test", "--rank", tostring(rank),
                          "--lambda", "0.001", "--lr", "0.05", "--epochs", "30" }, deploy))
  end

  -- Four and eight workers too: item rows move by the mean of the workers'
  -- moves (summing their full moves diverged from four workers on).
  -- Staleness counts clocks: at one clock an epoch, s = 2 lets both workers
  -- read each other's item moves two whole epochs late, and on this small
  -- set the averaged steps then oscillate when load evens the workers' pace
  -- (on a loaded machine ESSP s = 2 on two processes ended above 0.05 in 14
  -- of 30 runs, SSP in 6 of 30; with four clocks an epoch, 0 of 30 each).
  -- So the stale deployments take four clocks an epoch, as the model's
  -- header advises.
  each_deploy({ DEPLOYS[1],
                -- async has no bound at all: on a machine loaded near 7 it
                -- also ended above 0.1 at one clock an epoch
                { "-w", "2", "--consistency", "async", "--clocks-per-epoch", "4" },
                { "-w", "2", "--consistency", "ssp", "--staleness", "2", "--clocks-per-epoch", "4", bound = 2 },
                { "-w", "4", "--consistency", "ssp", "--staleness", "2", "--clocks-per-epoch", "4", bound = 2 },
                -- items are averaged once a clock: eight workers on this
                -- small set need more than the default one clock an epoch
                { "-w", "8", "--consistency", "async", "--clocks-per-epoch", "4" },
                { "-w", "2", "--dtype", "float64", bound = 0 },
                { "-w", "1", "-p", "2", "--consistency", "ssp", "--staleness", "2", "--clocks-per-epoch", "4", bound = 2 },
                { "-w", "2", "-p", "2", "--consistency", "essp", "--staleness", "2", "--clocks-per-epoch", "4", bound = 2 } },
              function(deploy, name)
    it("recovers the exact low-rank ratings (" .. name .. ")", function()
      assert.is_true(std > 0.6, "ratings std " .. std)
      local final = fit(4, deploy)
      -- Async reads have no staleness bound: on a loaded machine one worker
      -- runs epochs ahead and the fit lands a little higher (0.054 seen
      -- with the suite beside three builds); still far below a rank one
      -- short (> 0.2, below).
      local bound = deploy.bound and 0.05 or 0.1
      assert.is_true(final.test_rmse < bound, ("test RMSE %.4f (ratings std %.3f)"):format(final.test_rmse, std))
      assert_staleness(final, { "L", "R" }, deploy.bound)
    end)
  end)

  it("cannot recover them with a rank one short (the threshold above means something)", function()
    local final = fit(3, { "-w", "2", "--staleness", "2" })
    assert.is_true(final.test_rmse > 0.2, ("rank 3: test RMSE %.4f"):format(final.test_rmse))
  end)
end)

-- ---- staged benchmark sets ------------------------------------------------

describe("models/logreg.lua on a9a", function()
  local train, test = DATA .. "/a9a.gz", DATA .. "/a9a.t.gz"
  if not (helpers.exists(train) and helpers.exists(test)) then
    pending("a9a.gz / a9a.t.gz not found in " .. DATA .. " (set PMLS_DATA)")
    return
  end
  teardown(helpers.cleanup)

  -- liblinear -s 0 -c 1 reaches 84.95%; the optimum of the objective with
  -- the default l2 = 1/n is 0.323349, with 84.98%.
  each_deploy({ DEPLOYS[2], DEPLOYS[3], DEPLOYS[5], DEPLOYS[6], DEPLOYS[7] }, function(deploy, name)
    it("reaches a9a.t accuracy >= 84.8% (" .. name .. ")", function()
      local final = run(LOGREG, join({ "--data", train, "--test", test }, deploy))
      assert.is_true(final.test_accuracy >= 0.848, "test accuracy " .. final.test_accuracy)
      assert.is_true(final.objective < 0.325, "objective " .. final.objective)
      assert_staleness(final, { "w" }, deploy.bound)
    end)
  end)
end)

-- The defaults must need no tuning: one run each, -w 2 (the default is one
-- worker per core; fixed here so the result does not depend on the
-- machine; -w 2 -p 1 are the defaults on the 2-core machines this runs on),
-- nothing else given. The objective's optimum (l2 = 1/n, bias not
-- penalised; liblinear -s 0 -c 1 -B 100 -e 1e-5, the bias's penalty made
-- negligible): a9a 0.3233492, 20news 0.3554847. About 1 s in all.
describe("models/logreg.lua at its defaults (liblinear -s 0 -c 1's accuracy)", function()
  local sets = {
    { name = "a9a", train = "a9a.gz", test = "a9a.t.gz", accuracy = 0.849, liblinear = "84.95%",
      optimum = 0.3233492 },
    { name = "20news tf-idf", train = "20news.tfidf.binary.train.svm.gz",
      test = "20news.tfidf.binary.test.svm.gz", accuracy = 0.880, liblinear = "88.17%", optimum = 0.3554847 },
  }
  teardown(helpers.cleanup)
  for _, set in ipairs(sets) do
    local train, test = DATA .. "/" .. set.train, DATA .. "/" .. set.test
    if not (helpers.exists(train) and helpers.exists(test)) then
      pending(set.train .. " / " .. set.test .. " not found in " .. DATA .. " (set PMLS_DATA)")
    else
      it(("reaches %s test accuracy >= %.1f%% (liblinear: %s) and its optimum"):format(
           set.name, 100 * set.accuracy, set.liblinear), function()
        local final = run(LOGREG, { "--data", train, "--test", test, "-w", "2" })
        assert.is_true(final.test_accuracy >= set.accuracy, "test accuracy " .. final.test_accuracy)
        assert.is_true(final.objective - set.optimum < 2e-4,
                       ("objective %.7f, optimum %.7f"):format(final.objective, set.optimum))
        assert.is_true(final.objective > set.optimum - 1e-6, "below the optimum: the objective is miscomputed")
      end)
    end
  end
end)

describe("models/mf_sgd.lua on MovieLens-100K", function()
  local dir, why = helpers.movielens()
  if not dir then
    pending(why)
    return
  end
  teardown(helpers.cleanup)

  it("reaches ua.test RMSE <= 0.94 under SSP with s = 2, reads never older than 2 clocks", function()
    local final = run(MF, { "--data", dir .. "/ua.base", "--test", dir .. "/ua.test", "--rank", "32",
                            "--epochs", "20", "-w", "2", "--consistency", "ssp", "--staleness", "2" })
    assert.is_true(final.test_rmse <= 0.94, "test RMSE " .. final.test_rmse)
    assert_staleness(final, { "L", "R" }, 2)
  end)

  -- The issue's command: two processes, each with one worker per core.
  it("reaches it with -p 2 (ipc, one worker per core in each), reads never older than 2 clocks", function()
    local final = run(MF, { "--data", dir .. "/ua.base", "--test", dir .. "/ua.test", "--rank", "32",
                            "--epochs", "20", "-p", "2", "--consistency", "ssp", "--staleness", "2" })
    assert.is_true(final.test_rmse <= 0.94, "test RMSE " .. final.test_rmse)
    assert_staleness(final, { "L", "R" }, 2)
  end)
end)

describe("model scripts and examples", function()
  -- They read like update equations: the engine's C API and the FFI stay
  -- behind the pmls package (pmls.array, pmls.kernels, ctx).
  it("use neither ffi. nor C. outside comments", function()
    local p = assert(io.popen("find models examples -name '*.lua' | sort"))
    local files, found = 0, {}
    for path in p:lines() do
      files = files + 1
      local n = 0
      for line in io.lines(path) do
        n = n + 1
        local code = line:gsub("%-%-.*$", "")
        if code:find("ffi%.") or code:find("%f[%w_]C%.") then
          found[#found + 1] = path .. ":" .. n .. ": " .. line
        end
      end
    end
    p:close()
    assert.is_true(files >= 7, "found " .. files .. " scripts")
    assert.same({}, found)
  end)
end)
