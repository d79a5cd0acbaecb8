-- Spec for trained models as files (docs/saved-models.md): every shipped
-- model (mf_sgd, mf_block, mf_ccd, logreg, lasso) run as `pmls run`
-- subprocesses on data the spec generates. For each: train with --save ->
-- the archive and its JSON sidecar; --predict on the test file gives the
-- metric the training run printed, and so does the --out file recomputed
-- here; --init-model with no training (--epochs 0) saves the same bytes
-- again (the scheduled mf_ccd and lasso, which run at least one round: a
-- run from the saved model ends no worse than it began); numpy reads every
-- file and agrees on the metric (skipped without python3-numpy); and every
-- misuse or damaged file is one line naming it. Also pmls.model in process.
local helpers = require "helpers"
local ffi = require "ffi"

local run = helpers.run_model
local MF_MODELS = { "mf_sgd", "mf_block", "mf_ccd" }

local function close(a, b, rel, what)
  assert.is_true(math.abs(a - b) <= rel * math.max(math.abs(a), math.abs(b), 1e-300),
                 ("%s: %.17g vs %.17g"):format(what or "values", a, b))
end

-- ---- generated data -------------------------------------------------------------

local dir
local function write_ratings()
  math.randomseed(7)
  local tr, te = assert(io.open(dir .. "/train.txt", "w")), assert(io.open(dir .. "/test.txt", "w"))
  for u = 0, 59 do
    for i = 0, 39 do
      if math.random() < 0.5 then
        local r = 1 + (u * 7 + i * 3) % 5
        ;(math.random() < 0.8 and tr or te):write(("%d %d %d\n"):format(u, i, r))
      end
    end
  end
  tr:close()
  te:close()
end

local function write_libsvm(name, n, regression)
  local f = assert(io.open(dir .. "/" .. name, "w"))
  for _ = 1, n do
    local x = {}
    for j = 1, 8 do x[j] = math.random() * 2 - 1 end
    local parts = {}
    for j = 1, 8 do parts[j] = ("%d:%.4f"):format(j, x[j]) end
    local y
    if regression then y = ("%.5f"):format(2 * x[1] - x[4] + 1 + 0.1 * (math.random() - 0.5))
    else y = (x[1] - 0.5 * x[2] + 0.3 * (math.random() - 0.5) > 0) and "+1" or "-1" end
    f:write(y, " ", table.concat(parts, " "), "\n")
  end
  f:close()
end

-- numpy through python3 (Debian's python3-numpy: make deps), or nil.
local python
local find_python = helpers.numpy_python

local function fails(args, want)
  local res = helpers.pmls(args)
  assert.are_not.equal(0, res.rc, "expected a failure: " .. res.out)
  assert.is_truthy(res.out:find(want, 1, true), "wanted '" .. want .. "' in: " .. res.out)
  return res
end

-- The RMSE of the predictions file against the ratings of a file.
local function rmse_of(pred_path, ratings_path)
  local preds = {}
  for line in io.lines(pred_path) do preds[#preds + 1] = tonumber(line) end
  local se, n = 0, 0
  for line in io.lines(ratings_path) do
    n = n + 1
    local r = tonumber(line:match("^%S+%s+%S+%s+(%S+)"))
    se = se + (r - preds[n]) ^ 2
  end
  assert.are.equal(n, #preds)
  return math.sqrt(se / n)
end

local function args_of(name)
  local common = { "--data", dir .. "/train.txt", "--test", dir .. "/test.txt", "--rank", "6" }
  if name == "mf_ccd" then return helpers.join(common, { "--outer", "3" }) end
  return helpers.join(common, { "--epochs", "6" })
end

describe("saved models", function()
  setup(function()
    dir = helpers.tempdir()
    write_ratings()
    math.randomseed(11)
    write_libsvm("train.svm", 300)
    write_libsvm("test.svm", 100)
    write_libsvm("reg.svm", 200, true)
    python = find_python()
  end)
  teardown(helpers.cleanup)

  for _, name in ipairs(MF_MODELS) do
    local script = "models/" .. name .. ".lua"
    describe(name, function()
      local path, final
      setup(function()
        path = dir .. "/" .. name .. ".npz"
        final = run(script, helpers.join(args_of(name), { "-w", "2", "--save", path }))
      end)

      it("writes the archive and a sidecar naming the model, its arrays and metrics", function()
        assert.is_true(helpers.exists(path))
        local meta = helpers.json_decode(assert(helpers.read_file(path .. ".json")))
        assert.are.equal("pmls-model 1", meta.format)
        assert.are.equal(name:gsub("_", "-"), meta.model)
        assert.are.same({ 60, 6 }, meta.arrays.L.shape)
        assert.are.same({ 40, 6 }, meta.arrays.R.shape)
        assert.are.same({}, meta.arrays.mu.shape)
        assert.are.equal(6, meta.options.rank)
        assert.are.same({ "L", "R", "user_bias", "item_bias", "mu", "clip" }, meta.order)
      end)

      it("--predict on the test file gives the training run's test RMSE, and so does --out", function()
        local pred = dir .. "/" .. name .. ".pred"
        local got = run(script, { "--predict", "--model", path, "--data", dir .. "/test.txt", "--out", pred })
        close(got.test_rmse, final.test_rmse, 1e-9, "predict vs training")
        close(rmse_of(pred, dir .. "/test.txt"), final.test_rmse, 1e-9, "--out file vs training")
        assert.is_true(final.test_rmse < 1.6)
      end)

      it("any MF model predicts with another's file", function()
        local other = name == "mf_sgd" and "models/mf_ccd.lua" or "models/mf_sgd.lua"
        local got = run(other, { "--predict", "--model", path, "--data", dir .. "/test.txt", "--out", dir .. "/x.pred" })
        close(got.test_rmse, final.test_rmse, 1e-9)
      end)

      if name ~= "mf_ccd" then
        it("--init-model with --epochs 0 saves the same bytes (-w 2, and -p 2 -w 2)", function()
          for _, deploy in ipairs { { "-w", "2" }, { "-p", "2", "-w", "2" } } do
            local again = dir .. "/" .. name .. ".again.npz"
            local args = helpers.join(args_of(name), deploy, { "--epochs", "0", "--init-model", path, "--save", again })
            local f2 = run(script, args)
            assert.are.equal(helpers.read_file(path), helpers.read_file(again))
            close(f2.test_rmse, final.test_rmse, 1e-9)
          end
        end)
      else
        it("--init-model: one more outer iteration ends below the saved objective", function()
          local fresh = run(script, helpers.join(args_of(name), { "--outer", "1" }))
          local resumed = run(script, helpers.join(args_of(name), { "--outer", "1", "--init-model", path }))
          assert.is_true(resumed.objective <= final.objective * (1 + 1e-12))
          assert.is_true(resumed.objective < fresh.objective)
        end)
      end

      it("numpy reads the archive and gets the same test RMSE", function()
        if not python then return pending("python3 with numpy not installed (make deps)") end
        local code = ([[
import numpy as np
# in doubles, as the model predicts, whatever dtype the factors are saved in
z = {k: v.astype(np.float64) for k, v in np.load(%q).items()}
t = np.loadtxt(%q, ndmin=2)
u, i, r = t[:, 0].astype(int), t[:, 1].astype(int), t[:, 2]
p = z['mu'] + z['user_bias'][u] + z['item_bias'][i] + (z['L'][u] * z['R'][i]).sum(1)
p = np.clip(p, z['clip'][0], z['clip'][1])
print(repr(float(np.sqrt(((r - p) ** 2).mean()))))
]]):format(path, dir .. "/test.txt")
        local f = assert(io.open(dir .. "/check.py", "w"))
        f:write(code)
        f:close()
        local rc, out = helpers.sh(python .. " " .. helpers.quote(dir .. "/check.py") .. " 2>&1")
        assert.are.equal(0, rc, out)
        close(tonumber(out), final.test_rmse, 1e-9, "numpy vs training")
      end)
    end)
  end

  describe("logreg", function()
    local path, final
    setup(function()
      path = dir .. "/logreg.npy"
      final = run("models/logreg.lua", { "--data", dir .. "/train.svm", "--test", dir .. "/test.svm",
                                         "-w", "2", "--save", path })
    end)

    it("saves one array w (bias last) as .npy; --predict gives the test accuracy and loss", function()
      local meta = helpers.json_decode(assert(helpers.read_file(path .. ".json")))
      assert.are.same({ 9 }, meta.arrays.w.shape)
      local pred = dir .. "/logreg.pred"
      local got = run("models/logreg.lua", { "--predict", "--model", path, "--data", dir .. "/test.svm", "--out", pred })
      close(got.test_accuracy, final.test_accuracy, 1e-12)
      close(got.test_loss, final.test_loss, 1e-9)
      assert.is_true(final.test_accuracy > 0.8)
      -- the --out file: a label and a probability that agree, one a row
      local right, n = 0, 0
      local labels = {}
      for line in io.lines(dir .. "/test.svm") do labels[#labels + 1] = line:match("^(%S+)") end
      for line in io.lines(pred) do
        n = n + 1
        local label, p = line:match("^(%S+) (%S+)$")
        p = tonumber(p)
        assert.is_true(p >= 0 and p <= 1)
        assert.are.equal(p > 0.5 and "+1" or "-1", label)
        if label == labels[n] then right = right + 1 end
      end
      assert.are.equal(100, n)
      close(right / n, final.test_accuracy, 1e-12)
    end)

    it("--init-model with --epochs 0 saves the same bytes", function()
      local again = dir .. "/logreg.again.npy"
      local f2 = run("models/logreg.lua", { "--data", dir .. "/train.svm", "--test", dir .. "/test.svm",
                                            "--epochs", "0", "--init-model", path, "--save", again })
      assert.are.equal(helpers.read_file(path), helpers.read_file(again))
      close(f2.objective, final.objective, 1e-12)
    end)

    it("numpy reads w", function()
      if not python then return pending("python3 with numpy not installed (make deps)") end
      local rc, out = helpers.sh(python .. " -c " .. helpers.quote(
        ("import numpy as np; w = np.load(%q); print(w.dtype, w.shape)"):format(path)))
      assert.are.equal(0, rc, out)
      assert.are.equal("float64 (9,)\n", out)
    end)
  end)

  describe("lasso", function()
    local path, final
    local base
    setup(function()
      path = dir .. "/lasso.npz"
      base = { "--data", dir .. "/reg.svm", "--lambda-ratio", "0.1", "-w", "2" }
      final = run("models/lasso.lua", helpers.join(base, { "--save", path }))
    end)

    it("--predict: the mean squared error gives the training objective", function()
      local pred = dir .. "/lasso.pred"
      local got = run("models/lasso.lua", { "--predict", "--model", path, "--data", dir .. "/reg.svm", "--out", pred })
      close(got.mse / 2 + final.alpha * final.l1, final.objective, 1e-9)
      local n = 0
      for _ in io.lines(pred) do n = n + 1 end
      assert.are.equal(200, n)
    end)

    it("--init-model from the optimum stays there, in fewer rounds", function()
      local again = dir .. "/lasso.again.npz"
      local f2 = run("models/lasso.lua", helpers.join(base, { "--init-model", path, "--save", again }))
      close(f2.objective, final.objective, 1e-9)
      assert.is_true(f2.rounds <= final.rounds)
      if python then
        local rc, out = helpers.sh(python .. " -c " .. helpers.quote(
          ("import numpy as np; a = np.load(%q)['w']; b = np.load(%q)['w']; print(float(abs(a - b).max()))")
          :format(path, again)))
        assert.are.equal(0, rc, out)
        assert.is_true(tonumber(out) < 1e-9, out)
      end
    end)
  end)

  describe("errors", function()
    local mf
    setup(function()
      mf = dir .. "/err.npz"
      run("models/mf_sgd.lua", helpers.join(args_of("mf_sgd"), { "--save", mf }))
    end)

    it("a shape that does not fit names both shapes", function()
      local res = helpers.pmls(helpers.join({ "run", "models/mf_sgd.lua" }, args_of("mf_sgd"),
                                            { "--rank", "4", "--init-model", mf }))
      assert.are_not.equal(0, res.rc)
      assert.is_truthy(res.out:find(mf .. ": L is 60 x 6, this run needs 60 x 4", 1, true), res.out)
    end)

    it("a damaged or foreign file is one line naming it", function()
      local data = assert(helpers.read_file(mf))
      local cut = dir .. "/cut.npz"
      local f = assert(io.open(cut, "wb"))
      f:write(data:sub(1, #data - 30))
      f:close()
      local res = fails({ "run", "models/mf_sgd.lua", "--predict", "--model", cut, "--data", dir .. "/test.txt",
                          "--out", dir .. "/p" }, cut .. ": ")
      assert.is_falsy(res.out:find("traceback"))
      local flipped = dir .. "/flip.npz"
      f = assert(io.open(flipped, "wb"))
      f:write(data:sub(1, 200), string.char((data:byte(201) + 1) % 256), data:sub(202))
      f:close()
      fails({ "run", "models/mf_sgd.lua", "--predict", "--model", flipped, "--data", dir .. "/test.txt",
              "--out", dir .. "/p" }, flipped .. ":L.npy: CRC mismatch")
      -- a logreg model is not an MF model
      fails({ "run", "models/mf_sgd.lua", "--predict", "--model", dir .. "/logreg.npy", "--data",
              dir .. "/test.txt", "--out", dir .. "/p" }, "logreg.npy: L is 9, this run needs any x any")
      fails({ "run", "models/mf_sgd.lua", "--predict", "--model", dir .. "/none.npz", "--data",
              dir .. "/test.txt", "--out", dir .. "/p" }, dir .. "/none.npz: cannot open")
    end)

    it("--predict without --model or --out, and --model without --predict, say what is missing", function()
      fails({ "run", "models/logreg.lua", "--predict", "--data", dir .. "/test.svm", "--out", dir .. "/p" },
            "--predict needs --model FILE")
      fails({ "run", "models/logreg.lua", "--predict", "--model", mf, "--data", dir .. "/test.svm" },
            "--predict needs --out FILE")
      fails({ "run", "models/logreg.lua", "--model", mf, "--data", dir .. "/test.svm" },
            "--model is for --predict")
    end)

    it("a scheduled run that made no round says so instead of reading no model", function()
      -- mf_ccd refuses --outer 0; a copy that allows it makes no round
      local text = assert(helpers.read_file("models/mf_ccd.lua"))
      local copy, n = text:gsub('(app:option%("outer"[^\n]*min = )1', "%10")
      assert.are.equal(1, n)
      local script = dir .. "/ccd0.lua"
      local f = assert(io.open(script, "w"))
      f:write(copy)
      f:close()
      fails(helpers.join({ "run", script }, args_of("mf_ccd"), { "--outer", "0", "-w", "1" }),
            "mf-ccd: the run made no round, so it has no model to finish with")
    end)

    it("a rating whose user the model lacks is named", function()
      local extra = dir .. "/extra.txt"
      local f = assert(io.open(extra, "w"))
      f:write("1 1 3\n99 2 4\n")
      f:close()
      fails({ "run", "models/mf_sgd.lua", "--predict", "--model", mf, "--data", extra, "--out", dir .. "/p" },
            extra .. ": rating 2: user 99, item 2: the model has users 0..59")
    end)
  end)

  describe("MovieLens-100K", function()
    it("mf_sgd: ua.base -> save -> predict ua.test gives the run's test RMSE (<= 0.94)", function()
      local ml, why = helpers.movielens()
      if not ml then return pending(why) end
      local path = dir .. "/ml.npz"
      local final = run("models/mf_sgd.lua", { "--data", ml .. "/ua.base", "--test", ml .. "/ua.test",
                                               "-w", "2", "--save", path })
      local got = run("models/mf_sgd.lua", { "--predict", "--model", path, "--data", ml .. "/ua.test",
                                             "--out", dir .. "/ml.pred" })
      close(got.test_rmse, final.test_rmse, 1e-9)
      assert.is_true(final.test_rmse <= 0.94)
      assert.are.equal(9430, got.predictions)
    end)
  end)

  describe("pmls.model in process", function()
    local model = require "pmls.model"
    local function ctx_for(path) return { opt = { save = path, rank = 3 }, workers = 1, procs = 1, seed = 1 } end

    it("round-trips every dtype through .npz and one array through .npy", function()
      local path = dir .. "/m.npz"
      local a = model.array("float32", { 2, 3 })
      local b = model.array("int64", { 4 })
      local c = model.array("int32", { 0, 2 })
      for k = 0, 5 do a.data[k] = k / 4 end
      for k = 0, 3 do b.data[k] = -k * 2 ^ 40 end
      model.save(ctx_for(path), { a = a, b = b, c = c, s = 2.5 }, { deflate = true })
      local m = model.load(path)
      assert.are.same({ "a", "b", "c", "s" }, m.names)
      assert.are.same({ 2, 3 }, m.arrays.a.shape)
      assert.are.equal("float32", m.arrays.a.dtype)
      for k = 0, 5 do assert.are.equal(k / 4, m.arrays.a.data[k]) end
      for k = 0, 3 do assert.are.equal(-k * 2 ^ 40, tonumber(m.arrays.b.data[k])) end
      assert.are.same({ 0, 2 }, m.arrays.c.shape)
      assert.are.equal(2.5, m:scalar("s"))
      local meta = helpers.json_decode(helpers.read_file(path .. ".json"))
      assert.are.same({ 0, 2 }, meta.arrays.c.shape)
      assert.are.equal(3, meta.options.rank)
      local one = dir .. "/one.npy"
      model.save(ctx_for(one), { w = b })
      assert.are.same({ 4 }, model.load(one):need("w", { 4 }).shape)
      local ok, err = pcall(model.save, ctx_for(one), { a = a, b = b })
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find("a .npy file holds one array, this model has 2", 1, true))
      ok, err = pcall(function() return m:need("a", { 2, 4 }, "why") end)
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find(path .. ": a is 2 x 3, this run needs 2 x 4 (why)", 1, true))
      ok, err = pcall(function() return m:need("zz", { 1 }) end)
      assert.is_truthy(tostring(err):find("no array 'zz' (it has a, b, c, s)", 1, true))
      assert.is_false((pcall(model.array, "complex", { 1 })))
    end)

    it("leaves no temporary file, and a failed write leaves the old file", function()
      local path = dir .. "/keep.npz"
      model.save(ctx_for(path), { s = 1 })
      assert.is_false(helpers.exists(path .. ".tmp"))
      local before = helpers.read_file(path)
      local bad = model.array("float64", { 1 })
      bad.shape = { -1 }
      assert.is_false((pcall(model.save, ctx_for(path), { s = bad })))
      assert.are.equal(before, helpers.read_file(path))
      assert.is_false(helpers.exists(path .. ".tmp"))
    end)

    it("a .npy numpy wrote in any layout the readers accept, and one they refuse", function()
      if not python then return pending("python3 with numpy not installed (make deps)") end
      local rc, out = helpers.sh(python .. " -c " .. helpers.quote(([[
import numpy as np
np.save(%q, np.arange(6, dtype='<i4').reshape(2, 3))
np.save(%q, np.asfortranarray(np.ones((2, 3))))
np.save(%q, np.ones(3, dtype='>f8'))
np.savez_compressed(%q, x=np.arange(5.0))
]]):format(dir .. "/i4.npy", dir .. "/f.npy", dir .. "/be.npy", dir .. "/c.npz")))
      assert.are.equal(0, rc, out)
      local m = model.load(dir .. "/i4.npy")
      assert.are.same({ 2, 3 }, m.single.shape)
      assert.are.equal(5, m.single.data[5])
      assert.are.equal(4, model.load(dir .. "/c.npz").arrays.x.data[4])
      local ok, err = pcall(model.load, dir .. "/f.npy")
      assert.is_truthy(tostring(err):find("Fortran order is not supported", 1, true), tostring(err))
      ok, err = pcall(model.load, dir .. "/be.npy")
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find("big-endian data ('>f8') is not supported", 1, true), tostring(err))
    end)
  end)
end)
