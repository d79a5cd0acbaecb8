-- models/lasso.lua against solutions computed here, independently: a
-- proximal-gradient (FISTA) solve of a small generated problem, and plain
-- serial coordinate descent, which one worker updating one coordinate per
-- round must reproduce bit for bit. Then the reference optima of the staged
-- data (../shared/data or $PMLS_DATA; pending when absent).
local helpers = require "helpers"
local data = require "pmls.data"

local DATA = helpers.DATA
local abs, max, sqrt = math.abs, math.max, math.sqrt

local function write_libsvm(ds, path)
  local f = assert(io.open(path, "w"))
  for i = 0, ds.n - 1 do
    local parts = { ("%.17g"):format(ds.y[i]) }
    for k = tonumber(ds.rowptr[i]), tonumber(ds.rowptr[i + 1]) - 1 do
      parts[#parts + 1] = ("%d:%.17g"):format(ds.col[k] + 1, ds.val[k])
    end
    f:write(table.concat(parts, " "), "\n")
  end
  f:close()
end

local function read_model(path, p)
  local w, b = {}, 0
  for j = 0, p - 1 do w[j] = 0 end
  for line in io.lines(path) do
    local name, v = line:match("^(%S+) (%S+)$")
    if name == "intercept" then b = tonumber(v) else w[tonumber(name)] = tonumber(v) end
  end
  return w, b
end

-- Dense copy and the objective 1/(2n)|y - Xw - b|^2 + alpha |w|_1.
local function dense(ds)
  local X = {}
  for i = 0, ds.n - 1 do
    local row = {}
    for j = 0, ds.d - 1 do row[j] = 0 end
    for k = tonumber(ds.rowptr[i]), tonumber(ds.rowptr[i + 1]) - 1 do row[ds.col[k]] = ds.val[k] end
    X[i] = row
  end
  return X
end

local function objective(X, y, n, p, w, b, alpha)
  local rss, l1 = 0, 0
  for i = 0, n - 1 do
    local r = y[i] - b
    for j = 0, p - 1 do r = r - X[i][j] * w[j] end
    rss = rss + r * r
  end
  for j = 0, p - 1 do l1 = l1 + abs(w[j]) end
  return rss / (2 * n) + alpha * l1
end

-- FISTA on the centred problem, then b = mean(y) - mean(X) . w.
local function fista(X, y, n, p, alpha, iters)
  local xm, ym = {}, 0
  for j = 0, p - 1 do
    local s = 0
    for i = 0, n - 1 do s = s + X[i][j] end
    xm[j] = s / n
  end
  for i = 0, n - 1 do ym = ym + y[i] end
  ym = ym / n
  local Xc, yc = {}, {}
  for i = 0, n - 1 do
    Xc[i] = {}
    for j = 0, p - 1 do Xc[i][j] = X[i][j] - xm[j] end
    yc[i] = y[i] - ym
  end
  local function grad(w, g) -- X_c'(X_c w - y_c) / n
    for j = 0, p - 1 do g[j] = 0 end
    for i = 0, n - 1 do
      local r = -yc[i]
      for j = 0, p - 1 do r = r + Xc[i][j] * w[j] end
      for j = 0, p - 1 do g[j] = g[j] + Xc[i][j] * r end
    end
    for j = 0, p - 1 do g[j] = g[j] / n end
  end
  -- L = largest eigenvalue of X_c'X_c / n, by power iteration
  local v, g = {}, {}
  for j = 0, p - 1 do v[j] = 1 end
  local L = 0
  for _ = 1, 300 do
    local u = {}
    for j = 0, p - 1 do u[j] = 0 end
    for i = 0, n - 1 do
      local s = 0
      for j = 0, p - 1 do s = s + Xc[i][j] * v[j] end
      for j = 0, p - 1 do u[j] = u[j] + Xc[i][j] * s end
    end
    local norm = 0
    for j = 0, p - 1 do norm = norm + u[j] * u[j] end
    norm = sqrt(norm)
    for j = 0, p - 1 do v[j] = u[j] / norm end
    L = norm / n
  end
  local w, z, t = {}, {}, 1
  for j = 0, p - 1 do w[j], z[j] = 0, 0 end
  for _ = 1, iters do
    grad(z, g)
    local wn = {}
    for j = 0, p - 1 do
      local u = z[j] - g[j] / L
      local th = alpha / L
      wn[j] = u > th and u - th or (u < -th and u + th or 0)
    end
    local tn = (1 + sqrt(1 + 4 * t * t)) / 2
    for j = 0, p - 1 do z[j] = wn[j] + (t - 1) / tn * (wn[j] - w[j]) end
    w, t = wn, tn
  end
  local b = ym
  for j = 0, p - 1 do b = b - xm[j] * w[j] end
  return w, b
end

local function alpha_max(X, y, n, p)
  local ym = 0
  for i = 0, n - 1 do ym = ym + y[i] end
  ym = ym / n
  local m = 0
  for j = 0, p - 1 do
    local s = 0
    for i = 0, n - 1 do s = s + X[i][j] * (y[i] - ym) end
    m = max(m, abs(s))
  end
  return m / n
end

local function run_lasso(args)
  local argv = { "run", "models/lasso.lua", "-q" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return helpers.pmls(argv)
end

describe("models/lasso.lua", function()
  after_each(helpers.cleanup)

  local ds = data.synthetic_lasso({ n = 200, p = 30, rho = 0.6, k = 6, noise = 0.3, seed = 3 })
  local n, p = ds.n, ds.d
  local X = dense(ds)
  local amax = alpha_max(X, ds.y, n, p)
  local alpha = 0.05 * amax
  local w_ref, b_ref = fista(X, ds.y, n, p, alpha, 20000)
  local obj_ref = objective(X, ds.y, n, p, w_ref, b_ref, alpha)

  local variants = {
    { "-w", "2" },
    { "-w", "2", "--scheduler", "uniform", "--dependency", "0.3", "--per-round", "4" },
    { "-w", "3", "--scheduler", "cyclic", "--per-round", "8" },
    { "-w", "1", "-p", "2", "--per-round", "5" },
    { "-w", "2", "--schedulers", "2", "--per-round", "3" },
    { "-w", "2", "--pipeline", "1", "--per-round", "2" },
    { "-w", "2", "--working-set", "0" },  -- SAP rounds: priority + dependency
    { "-w", "2", "--working-set", "3" },  -- W fills up, parallel rounds finish
  }
  for _, v in ipairs(variants) do
    it("reaches the independently computed optimum with " .. table.concat(v, " "), function()
      local dir = helpers.tempdir()
      write_libsvm(ds, dir .. "/d.svm")
      local args = { "--data", dir .. "/d.svm", "--lambda", ("%.17g"):format(alpha),
                     "--tol", "1e-10", "--out", dir .. "/w.txt", "--metrics", dir .. "/m.jsonl" }
      for _, a in ipairs(v) do args[#args + 1] = a end
      local r = run_lasso(args)
      assert.are.equal(0, r.rc, r.out)
      local w, b = read_model(dir .. "/w.txt", p)
      local obj = objective(X, ds.y, n, p, w, b, alpha)
      assert.is_true(abs(obj - obj_ref) <= 1e-9 * obj_ref,
                     ("objective %.12g, reference %.12g"):format(obj, obj_ref))
      for j = 0, p - 1 do
        assert.is_true(abs(w[j] - w_ref[j]) < 1e-5, ("w[%d] = %.9g, reference %.9g"):format(j, w[j], w_ref[j]))
      end
      assert.is_true(abs(b - b_ref) < 1e-5)
      local rows = helpers.read_metrics(dir .. "/m.jsonl")
      local final = rows[#rows]
      local one_node = true
      for _, a in ipairs(v) do if a == "--schedulers" then one_node = false end end
      if one_node then -- the certificate the run stopped on
        assert.is_true(final.duality_gap <= 1e-10 * final.objective)
        assert.is_true(abs(final.objective - obj) <= 1e-9 * obj)
      end
    end)
  end

  it("solves working sets by default: a few rounds, W holding the support", function()
    local dir = helpers.tempdir()
    write_libsvm(ds, dir .. "/d.svm")
    local function final_of(extra)
      local args = { "--data", dir .. "/d.svm", "--lambda", ("%.17g"):format(alpha), "-w", "2",
                     "--tol", "1e-10", "--metrics", dir .. "/m.jsonl" }
      for _, a in ipairs(extra) do args[#args + 1] = a end
      local r = run_lasso(args)
      assert.are.equal(0, r.rc, r.out)
      local rows = helpers.read_metrics(dir .. "/m.jsonl")
      return rows[#rows]
    end
    local f = final_of({})
    assert.is_true(f.rounds <= 8, "rounds " .. f.rounds)
    assert.are.equal(f.rounds, f.checks) -- every round measures the gap
    assert.is_true(f.working_set >= f.nnz and f.working_set <= p)
    assert.is_nil(f.working_set_full)
    local sap = final_of({ "--working-set", "0" })
    assert.is_nil(sap.working_set)
    assert.is_true(sap.rounds > 3 * f.rounds)
    local small = final_of({ "--working-set", "3" })
    assert.are.equal(1, small.working_set_full)
    assert.are.equal(3, small.working_set)
  end)

  it("certifies the optimum of an ill-conditioned problem (support near n) with Newton steps", function()
    -- 60 rows, 100 columns correlated at 0.9: the optimum has 55 non-zeros
    -- and coordinate descent alone crawls. Optimality is checked here from
    -- the model written out: the KKT conditions of every coordinate.
    local ill = data.synthetic_lasso({ n = 60, p = 100, rho = 0.9, k = 30, noise = 0.3, seed = 5 })
    local dir = helpers.tempdir()
    write_libsvm(ill, dir .. "/d.svm")
    local Xi = dense(ill)
    local a = 0.001 * alpha_max(Xi, ill.y, ill.n, ill.d)
    local r = run_lasso({ "--data", dir .. "/d.svm", "--lambda", ("%.17g"):format(a), "-w", "2",
                          "--tol", "1e-12", "--out", dir .. "/w.txt", "--metrics", dir .. "/m.jsonl" })
    assert.are.equal(0, r.rc, r.out)
    local rows = helpers.read_metrics(dir .. "/m.jsonl")
    local final = rows[#rows]
    assert.is_true(final.ws_newton >= 1, "no Newton step")
    assert.is_true(final.nnz >= 40)
    local w, b = read_model(dir .. "/w.txt", ill.d)
    local res = {}
    for i = 0, ill.n - 1 do
      local s = ill.y[i] - b
      for j = 0, ill.d - 1 do s = s - Xi[i][j] * w[j] end
      res[i] = s
    end
    for j = 0, ill.d - 1 do
      local g = 0
      for i = 0, ill.n - 1 do g = g + Xi[i][j] * res[i] end
      g = g / ill.n
      if w[j] ~= 0 then
        local want = w[j] > 0 and a or -a
        assert.is_true(abs(g - want) <= 1e-6 * a, ("coordinate %d: gradient %.9g, want %.9g"):format(j, g, want))
      else
        assert.is_true(abs(g) <= a * (1 + 1e-6), ("zero coordinate %d: |gradient| %.9g > alpha %.9g"):format(j, abs(g), a))
      end
    end
  end)

  it("with one worker and one coordinate per round equals serial coordinate descent bit for bit", function()
    local dir = helpers.tempdir()
    write_libsvm(ds, dir .. "/d.svm")
    local a = ("%.17g"):format(alpha)
    local r = run_lasso({ "--data", dir .. "/d.svm", "--lambda", a, "-w", "1", "--no-intercept",
                          "--scheduler", "cyclic", "--per-round", "1", "--dependency", "1",
                          "--check-every", "7", "--max-rounds", "400", "--tol", "1e-300",
                          "--out", dir .. "/w.txt", "--metrics", dir .. "/m.jsonl" })
    assert.are.equal(0, r.rc, r.out)
    local rows = helpers.read_metrics(dir .. "/m.jsonl")
    local final = rows[#rows]
    local updates = final.rounds - final.checks
    assert.is_true(updates > 5 * p)
    -- serial cyclic CD on the file as the workers read it, the same
    -- arithmetic in the same order
    local sv = assert(data.read_libsvm(dir .. "/d.svm"))
    local csc = data.to_csc(sv)
    local alpha_file = tonumber(a)
    local c, w, res = {}, {}, {}
    for j = 0, p - 1 do
      local s2 = 0
      for q = tonumber(csc.colptr[j]), tonumber(csc.colptr[j + 1]) - 1 do s2 = s2 + csc.val[q] * csc.val[q] end
      c[j], w[j] = s2, 0
    end
    for i = 0, n - 1 do res[i] = sv.y[i] end
    local na = n * alpha_file
    for u = 0, updates - 1 do
      local j = u % p
      local g = 0
      for q = tonumber(csc.colptr[j]), tonumber(csc.colptr[j + 1]) - 1 do g = g + csc.val[q] * res[csc.row[q]] end
      local z = c[j] * w[j] + g
      local wn = z > na and z - na or (z < -na and z + na or 0)
      wn = wn / c[j]
      local d = wn - w[j]
      if d ~= 0 then
        w[j] = w[j] + d
        for q = tonumber(csc.colptr[j]), tonumber(csc.colptr[j + 1]) - 1 do
          res[csc.row[q]] = res[csc.row[q]] - csc.val[q] * d
        end
      end
    end
    local got = read_model(dir .. "/w.txt", p)
    for j = 0, p - 1 do
      assert.are.equal(w[j], got[j], ("w[%d]: serial %.17g, pmls %.17g"):format(j, w[j], got[j]))
    end
  end)

  it("refuses both or neither of --lambda and --lambda-ratio", function()
    local dir = helpers.tempdir()
    write_libsvm(ds, dir .. "/d.svm")
    for _, extra in ipairs({ {}, { "--lambda", "0.1", "--lambda-ratio", "0.1" } }) do
      local args = { "--data", dir .. "/d.svm", "-w", "1" }
      for _, e in ipairs(extra) do args[#args + 1] = e end
      local r = run_lasso(args)
      assert.are_not.equal(0, r.rc)
      assert.matches("exactly one of --lambda and --lambda-ratio", r.out, 1, true)
    end
  end)

  it("names the file and line of a malformed data file", function()
    local dir = helpers.tempdir()
    local f = assert(io.open(dir .. "/bad.svm", "w"))
    f:write("1 1:0.5 2:1\n-1 3:x\n")
    f:close()
    local r = run_lasso({ "--data", dir .. "/bad.svm", "--lambda-ratio", "0.1", "-w", "1" })
    assert.are_not.equal(0, r.rc)
    assert.matches("bad.svm:2:", r.out, 1, true)
  end)

  -- BASELINES.md: glmnet (thresh 1e-12) and scikit-learn agree on these
  -- to the digits given; the STRADS sample's is 0.5 RSS + 0.001 |w|_1 =
  -- 0.037202964 over its n = 500 rows.
  local targets = {
    { file = "20news.tfidf.binary.train.svm.gz", ratio = "0.1", objective = 0.37741771, nnz = 141 },
    { file = "20news.tfidf.binary.train.svm.gz", ratio = "0.01", objective = 0.20827531, nnz = 1820 },
    { file = "a9a.gz", ratio = "0.1", objective = 0.27950846 },
    { file = "a9a.gz", ratio = "0.01", objective = 0.23534964 },
    { file = "strads-lasso500by1K.X.mmt.gz", lambda = "2e-6", objective = 0.037202964 / 500, nnz = 472,
      extra = { "--labels", "strads-lasso500by1K.Y.mmt.gz", "--no-intercept" } },
  }
  for _, t in ipairs(targets) do
    local at = t.ratio and t.ratio .. " alpha_max" or "alpha " .. t.lambda
    it(("reaches the reference objective %.8g on %s at %s"):format(t.objective, t.file, at), function()
      if not helpers.exists(DATA .. "/" .. t.file) then
        pending(t.file .. " not found in " .. DATA .. " (set PMLS_DATA)")
        return
      end
      local dir = helpers.tempdir()
      local args = { "--data", DATA .. "/" .. t.file, "-w", "2", "--metrics", dir .. "/m.jsonl" }
      if t.ratio then args[#args + 1] = "--lambda-ratio"; args[#args + 1] = t.ratio
      else args[#args + 1] = "--lambda"; args[#args + 1] = t.lambda end
      for _, e in ipairs(t.extra or {}) do
        args[#args + 1] = e:match("%.gz$") and DATA .. "/" .. e or e
      end
      local r = run_lasso(args)
      assert.are.equal(0, r.rc, r.out)
      local rows = helpers.read_metrics(dir .. "/m.jsonl")
      local final = rows[#rows]
      assert.is_true(abs(final.objective - t.objective) <= 1e-6 * t.objective,
                     ("objective %.10g, reference %.10g"):format(final.objective, t.objective))
      if t.nnz then assert.are.equal(t.nnz, final.nnz) end
    end)
  end
end)
