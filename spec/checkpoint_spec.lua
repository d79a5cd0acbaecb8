-- Spec for checkpoints and --resume (docs/fault-tolerance.md), through
-- `pmls run` subprocesses: with one worker and BSP, mf_sgd and logreg (sgd
-- and saga) resumed from a snapshot save the very bytes of the
-- uninterrupted run (saga refuses another -w and a damaged gradient
-- memory); a worker's own state crosses a resume through app:save_state /
-- app:load_state (a fixture whose answer needs it), after a failure that
-- prints the resume command; numeric arrays in a state (100000 float64 and
-- int32) cross it as .npy files, and a damaged or missing one is refused;
-- a torn newest snapshot (its manifest gone, a file cut short) is refused
-- and the one before is used; only two are kept; --restarts K relaunches a
-- failed job from its last snapshot (one process and -p 2), at most K
-- times; resuming from a missing directory, an empty one, or with other
-- options is one line and exit 1 (scheduled models: sched_checkpoint_spec.lua).
-- With ML-100K staged: a -p 3 mf_sgd run whose rank 1 is killed by
-- SIGKILL mid-run is resumed and ends at the uninterrupted run's test RMSE
-- (within the run-to-run spread of three processes' float sums), and so
-- does a resume on another deployment (-w 2, SSP s = 1).
local helpers = require "helpers"

local dir

local function pmls(args) return helpers.pmls(args) end

local function write_ratings()
  math.randomseed(11)
  local f = assert(io.open(dir .. "/train.txt", "w"))
  for u = 0, 79 do
    for i = 0, 49 do
      if math.random() < 0.4 then f:write(("%d %d %d\n"):format(u, i, 1 + (u * 7 + i * 3) % 5)) end
    end
  end
  f:close()
end

local function write_libsvm()
  math.randomseed(12)
  local f = assert(io.open(dir .. "/train.svm", "w"))
  for _ = 1, 300 do
    local x1, x2 = math.random() * 2 - 1, math.random() * 2 - 1
    f:write(("%s 1:%.6f 2:%.6f 3:1\n"):format(x1 + 0.5 * x2 > 0 and "+1" or "-1", x1, x2))
  end
  f:close()
end

local function bytes(path) return assert(helpers.read_file(path), "no file " .. path) end

local function has_line(out, text)
  return out:find(text, 1, true) ~= nil
end

-- The snapshots a directory's 'latest' names, newest first.
local function latest(ck)
  local names = {}
  for name in (helpers.read_file(ck .. "/latest") or ""):gmatch("[^\n]+") do names[#names + 1] = name end
  return names
end

describe("checkpoints", function()
  setup(function()
    dir = helpers.tempdir()
    write_ratings()
    write_libsvm()
  end)
  teardown(helpers.cleanup)

  local function mf(extra)
    return helpers.join({ "run", "models/mf_sgd.lua", "-q", "-w", "1", "--data", dir .. "/train.txt",
                          "--rank", "8", "--epochs", "6" }, extra)
  end

  it("mf_sgd -w 1, BSP: a resumed run saves the uninterrupted run's bytes; a torn newest snapshot is refused", function()
    local res = pmls(mf { "--save", dir .. "/full.npz" })
    assert.equal(0, res.rc, res.out)
    local ck = dir .. "/mf-ck"
    res = pmls(mf { "--checkpoint", ck, "--checkpoint-every", "2" })
    assert.equal(0, res.rc, res.out)
    -- three snapshots were made (clocks 2, 4, 6); the newest two are kept
    assert.same({ "ckpt-6", "ckpt-4" }, latest(ck))
    assert.is_false(helpers.exists(ck .. "/ckpt-2/manifest"))
    assert.is_false(helpers.exists(ck .. "/tmp-6"))
    -- the newest torn: its manifest (the completion mark) removed
    os.remove(ck .. "/ckpt-6/manifest")
    res = pmls(mf { "--resume", ck, "--save", dir .. "/resumed.npz" })
    assert.equal(0, res.rc, res.out)
    assert.is_true(has_line(res.out, "checkpoint ignored: " .. ck .. "/ckpt-6: no manifest"), res.out)
    assert.is_true(bytes(dir .. "/full.npz") == bytes(dir .. "/resumed.npz"), "the resumed model differs")
    -- the resumed run went on from clock 4, not from the start: a run of
    -- the last two epochs alone from fresh tables would differ
    res = pmls(mf { "--epochs", "2", "--save", dir .. "/short.npz" })
    assert.is_false(bytes(dir .. "/short.npz") == bytes(dir .. "/full.npz"))
  end)

  it("a snapshot with a file cut short is refused; with none left, the resume is one line, exit 1", function()
    local ck = dir .. "/cut-ck"
    local res = pmls(mf { "--checkpoint", ck, "--checkpoint-every", "3" })
    assert.equal(0, res.rc, res.out)
    assert.same({ "ckpt-6", "ckpt-3" }, latest(ck))
    local npz = ck .. "/ckpt-6/tables.npz"
    local data = bytes(npz)
    local f = assert(io.open(npz, "wb"))
    f:write(data:sub(1, #data - 100))
    f:close()
    res = pmls(mf { "--resume", ck, "--save", dir .. "/cut.npz" })
    assert.equal(0, res.rc, res.out)
    assert.is_true(has_line(res.out, "ckpt-6/tables.npz: " .. (#data - 100) .. " bytes, the manifest says " .. #data), res.out)
    -- and the worker file of the other one
    f = assert(io.open(ck .. "/ckpt-3/worker-0.lua", "ab"))
    f:write("junk")
    f:close()
    res = pmls(mf { "--resume", ck })
    assert.equal(1, res.rc, res.out)
    assert.equal(1, #res.lines, res.out)
    assert.is_true(has_line(res.lines[1], "pmls: error: --resume " .. ck .. ": no complete checkpoint ("), res.out)
    assert.is_true(has_line(res.lines[1], "ckpt-3/worker-0.lua:"), res.out)
  end)

  it("logreg (sgd) -w 1: a resumed run saves the uninterrupted run's bytes", function()
    local function lr(extra)
      return helpers.join({ "run", "models/logreg.lua", "-q", "-w", "1", "--data", dir .. "/train.svm",
                            "--optimizer", "sgd", "--epochs", "5" }, extra)
    end
    local res = pmls(lr { "--save", dir .. "/lr-full.npy" })
    assert.equal(0, res.rc, res.out)
    local ck = dir .. "/lr-ck"
    res = pmls(lr { "--checkpoint", ck, "--checkpoint-every", "6" }) -- 20 clocks: 6, 12, 18
    assert.equal(0, res.rc, res.out)
    assert.same({ "ckpt-18", "ckpt-12" }, latest(ck))
    os.remove(ck .. "/ckpt-18/manifest")
    res = pmls(lr { "--resume", ck, "--save", dir .. "/lr-resumed.npy" })
    assert.equal(0, res.rc, res.out)
    assert.is_true(bytes(dir .. "/lr-full.npy") == bytes(dir .. "/lr-resumed.npy"), "the resumed model differs")
  end)

  it("logreg (saga) -w 1: a resumed run saves the uninterrupted run's bytes; -w 2 and a damaged memory are refused", function()
    local function lr(extra)
      return helpers.join({ "run", "models/logreg.lua", "-q", "-w", "1", "--data", dir .. "/train.svm",
                            "--optimizer", "saga", "--epochs", "6" }, extra)
    end
    local res = pmls(lr { "--save", dir .. "/saga-full.npy" })
    assert.equal(0, res.rc, res.out)
    local ck = dir .. "/saga-ck"
    res = pmls(lr { "--checkpoint", ck, "--checkpoint-every", "7" }) -- 24 clocks: 7, 14, 21
    assert.equal(0, res.rc, res.out)
    assert.same({ "ckpt-21", "ckpt-14" }, latest(ck))
    os.remove(ck .. "/ckpt-21/manifest")
    res = pmls(lr { "--resume", ck, "--save", dir .. "/saga-resumed.npy" })
    assert.equal(0, res.rc, res.out)
    assert.is_true(bytes(dir .. "/saga-full.npy") == bytes(dir .. "/saga-resumed.npy"), "the resumed model differs")
    res = pmls(helpers.join({ "run", "models/logreg.lua", "-q", "-w", "2", "--data", dir .. "/train.svm",
                              "--optimizer", "saga", "--epochs", "6", "--resume", ck }))
    assert.equal(1, res.rc, res.out)
    assert.is_true(has_line(res.out, "logreg resumes on the snapshot's 1 workers, not 2"), res.out)
    -- the gradient memory damaged (its size kept): refused, one line
    local path = ck .. "/ckpt-14/worker-0.a1.npy"
    local f = assert(io.open(path, "r+b"))
    f:write("garbage")
    f:close()
    res = pmls(lr { "--resume", ck })
    assert.equal(1, res.rc, res.out)
    assert.is_true(has_line(res.out, "--resume: " .. path), res.out)
  end)

  it("a worker's own state crosses a resume after a failure, which prints the resume command", function()
    local base = { "run", "spec/fixtures/ckpt_state.lua", "-q", "-w", "2", "--metrics" }
    local full = helpers.run_model("spec/fixtures/ckpt_state.lua", { "-w", "2" })
    local ck = dir .. "/state-ck"
    local rc, out = helpers.sh("CKPT_FAIL_AT=10 " .. helpers.quote(helpers.pmls_bin)
      .. " run spec/fixtures/ckpt_state.lua -q -w 2 --checkpoint " .. helpers.quote(ck)
      .. " --checkpoint-every 4 2>&1")
    assert.equal(1, rc, out)
    assert.is_true(has_line(out, "failing at clock 10"), out)
    assert.is_true(has_line(out, "pmls: resume with: " .. helpers.pmls_bin
      .. " run spec/fixtures/ckpt_state.lua -q -w 2 --checkpoint " .. ck
      .. " --checkpoint-every 4 --resume " .. ck .. "\n"), out)
    -- the snapshot of clock 8 is there unless the failure at clock 10
    -- reached worker 0 before its second barrier of clock 8 did (then
    -- tmp-8 is left, never read)
    local names = latest(ck)
    assert.is_true(names[1] == "ckpt-8" or (names[1] == "ckpt-4" and #names == 1), table.concat(names, " "))
    local metrics = dir .. "/state.json"
    base[#base + 1] = metrics
    local res = pmls(helpers.join(base, { "--checkpoint", ck, "--checkpoint-every", "4", "--resume", ck }))
    assert.equal(0, res.rc, res.out)
    local rows = helpers.read_metrics(metrics)
    local final = rows[#rows]
    assert.equal(full.cell0, final.cell0)
    assert.equal(full.cell1, final.cell1) -- 2 × (1 + ... + 12): needs the saved sums
    assert.equal(156, final.cell1)
  end)

  it("numeric arrays in a worker's state go into .npy files and come back; a damaged one is refused", function()
    local full = helpers.run_model("spec/fixtures/ckpt_arrays.lua", { "-w", "1" })
    local ck = dir .. "/arrays-ck"
    local res = pmls { "run", "spec/fixtures/ckpt_arrays.lua", "-q", "-w", "1", "--checkpoint", ck,
                       "--checkpoint-every", "2" }
    assert.equal(0, res.rc, res.out)
    -- resume from the snapshot of clock 4: the arrays' sums must carry over
    os.remove(ck .. "/ckpt-6/manifest")
    local man = bytes(ck .. "/ckpt-4/manifest")
    assert.is_true(has_line(man, "\nfile worker-0.a"), man)
    local metrics = dir .. "/arrays.json"
    res = pmls { "run", "spec/fixtures/ckpt_arrays.lua", "-q", "-w", "1", "--metrics", metrics,
                 "--resume", ck }
    assert.equal(0, res.rc, res.out)
    local rows = helpers.read_metrics(metrics)
    assert.equal(("%.17g"):format(full.sums), ("%.17g"):format(rows[#rows].sums))
    assert.equal(full.counts, rows[#rows].counts)
    -- resumed with --checkpoint into the same directory: the torn ckpt-6,
    -- arrays and all, is replaced by a whole one
    res = pmls { "run", "spec/fixtures/ckpt_arrays.lua", "-q", "-w", "1", "--checkpoint", ck,
                 "--checkpoint-every", "2", "--resume", ck }
    assert.equal(0, res.rc, res.out)
    assert.equal("ckpt-6", latest(ck)[1])
    assert.is_true(helpers.exists(ck .. "/ckpt-6/manifest"))
    man = bytes(ck .. "/ckpt-6/manifest")
    -- a damaged array file of the right size: its header overwritten
    local npy
    for f in man:gmatch("\nfile (worker%-0%.a%d+%.npy) ") do npy = f end
    local path = ck .. "/ckpt-6/" .. npy
    local f = assert(io.open(path, "r+b"))
    f:write("XXXXXX")
    f:close()
    res = pmls { "run", "spec/fixtures/ckpt_arrays.lua", "-q", "-w", "1", "--resume", ck }
    assert.equal(1, res.rc, res.out)
    assert.is_true(has_line(res.out, "--resume: " .. path), res.out)
    -- a missing one: the snapshot fails the manifest's check, none is left
    os.remove(path)
    res = pmls { "run", "spec/fixtures/ckpt_arrays.lua", "-q", "-w", "1", "--resume", ck }
    assert.equal(1, res.rc, res.out)
    assert.is_true(has_line(res.out, npy), res.out)
  end)

  it("--restarts K: a failed job runs again from its last snapshot, at most K times", function()
    local full = helpers.run_model("spec/fixtures/ckpt_state.lua", { "-w", "2" })
    for _, deploy in ipairs { "-w 2", "-p 2 -w 1" } do
      local ck = helpers.tempdir() .. "/ck"
      local metrics = ck .. ".json"
      local rc, out = helpers.sh("CKPT_FAIL_AT=10 CKPT_FAIL_ONCE=" .. helpers.quote(ck .. ".once") .. " "
        .. helpers.quote(helpers.pmls_bin) .. " run spec/fixtures/ckpt_state.lua -q " .. deploy
        .. " --metrics " .. helpers.quote(metrics) .. " --checkpoint " .. helpers.quote(ck)
        .. " --checkpoint-every 4 --restarts 2 2>&1")
      assert.equal(0, rc, out)
      assert.is_true(has_line(out, "failing at clock 10"), out)
      assert.is_true(has_line(out, "pmls: restarting from the last snapshot in " .. ck .. " (1 restart left)"), out)
      local rows = helpers.read_metrics(metrics)
      assert.equal(full.cell0, rows[#rows].cell0)
      assert.equal(full.cell1, rows[#rows].cell1)
      -- a failure every time: K restarts, then the error
      rc, out = helpers.sh("CKPT_FAIL_AT=10 " .. helpers.quote(helpers.pmls_bin)
        .. " run spec/fixtures/ckpt_state.lua -q " .. deploy .. " --checkpoint " .. helpers.quote(ck .. "2")
        .. " --checkpoint-every 4 --restarts 2 2>&1")
      assert.equal(1, rc, out)
      assert.is_true(has_line(out, "(0 restarts left)"), out)
      local _, n = out:gsub("pmls: restarting", "")
      assert.equal(2, n, out)
    end
  end)

  it("a missing or empty directory, other options: one line, exit 1", function()
    local res = pmls(mf { "--resume", dir .. "/none" })
    assert.equal(1, res.rc, res.out)
    assert.same({ "pmls: error: --resume " .. dir .. "/none: no such directory" }, res.lines)
    local empty = helpers.tempdir()
    res = pmls(mf { "--resume", empty, "--checkpoint", empty })
    assert.equal(1, res.rc, res.out)
    assert.same({ "pmls: error: --resume " .. empty .. ": no checkpoint in it (no 'latest')" }, res.lines)
    local ck = dir .. "/opt-ck"
    res = pmls(mf { "--checkpoint", ck, "--checkpoint-every", "3" })
    assert.equal(0, res.rc, res.out)
    res = pmls(helpers.join(mf { "--resume", ck }, { "--rank", "4" }))
    assert.equal(1, res.rc, res.out)
    assert.same({ "pmls: error: --resume: " .. ck .. "/ckpt-6 was taken with --rank 8, this run has 4" }, res.lines)
    res = pmls(mf { "--checkpoint", ck, "--checkpoint-every", "0" })
    assert.equal(2, res.rc, res.out)
  end)

  describe("on ML-100K", function()
    local ml
    local function rmse(metrics)
      local rows = helpers.read_metrics(metrics)
      return rows[#rows].test_rmse
    end
    local function mf3(extra)
      return helpers.join({ "run", "models/mf_sgd.lua", "-q", "--data", ml .. "/ua.base", "--test", ml .. "/ua.test",
                            "--epochs", "20", "--clocks-per-epoch", "2" }, extra)
    end

    it("-p 3: rank 1 killed by SIGKILL mid-run; --resume ends at the uninterrupted run's RMSE", function()
      local why
      ml, why = helpers.movielens()
      if not ml then return pending(why) end
      local full = dir .. "/p3-full.json"
      local res = pmls(mf3 { "-p", "3", "-w", "1", "--metrics", full })
      assert.equal(0, res.rc, res.out)
      local ck = dir .. "/p3-ck"
      -- pauses of 30 ms a clock make the run last about 3 s, so that rank 1
      -- is killed once the snapshot of clock 12 (or 16) is there
      local args = mf3 { "-p", "3", "-w", "1", "--checkpoint", ck, "--checkpoint-every", "4",
                         "--pause-prob", "1", "--pause-ms", "30", "--pause-on", "all" }
      local q = {}
      for i, a in ipairs(args) do q[i] = helpers.quote(a) end
      local cmd = helpers.quote(helpers.pmls_bin) .. " " .. table.concat(q, " ")
      local script = cmd .. " > " .. helpers.quote(dir .. "/p3.out") .. " 2>&1 & LP=$!; "
        .. "for i in $(seq 400); do grep -qs 'ckpt-1[26]' " .. helpers.quote(ck .. "/latest") .. " && break; sleep 0.02; done; "
        .. "for c in $(pgrep -P $LP); do tr '\\0' '\\n' < /proc/$c/environ | grep -q '^PMLS_RANK=1$' && kill -KILL $c; done; "
        .. "wait $LP; echo \"exit=$?\""
      local _, out = helpers.sh(script)
      local text = bytes(dir .. "/p3.out")
      assert.is_true(has_line(out, "exit=1"), out .. text)
      assert.is_true(has_line(text, "rank 1 (pid "), text)
      assert.is_true(has_line(text, "was killed by SIGKILL"), text)
      local resume = text:match("pmls: resume with: ([^\n]+)")
      assert.is_truthy(resume, text)
      assert.is_true(#latest(ck) == 2 and tonumber(latest(ck)[1]:match("%d+")) < 40, "no snapshot before the end")
      local metrics = dir .. "/p3-resumed.json"
      local rc, rout = helpers.sh(resume .. " --metrics " .. helpers.quote(metrics) .. " 2>&1")
      assert.equal(0, rc, rout)
      local a, b = rmse(full), rmse(metrics)
      -- three processes add their float increments in arrival order, so
      -- runs differ by about 3e-4 RMSE; a run that lost its tables or its
      -- position would end far away
      assert.is_true(math.abs(a - b) < 0.003, ("uninterrupted %.6f, resumed %.6f"):format(a, b))
    end)

    it("another deployment: a -p 3 snapshot resumed by one process of 2 workers under SSP", function()
      if not ml then return pending("ML-100K not staged") end
      local ck = dir .. "/dep-ck"
      local res = pmls(mf3 { "-p", "3", "-w", "1", "--checkpoint", ck, "--checkpoint-every", "16" })
      assert.equal(0, res.rc, res.out)
      assert.same({ "ckpt-32", "ckpt-16" }, latest(ck))
      os.remove(ck .. "/ckpt-32/manifest")
      local metrics = dir .. "/dep.json"
      res = pmls(mf3 { "-w", "2", "--staleness", "1", "--resume", ck, "--metrics", metrics })
      assert.equal(0, res.rc, res.out)
      local a = rmse(dir .. "/p3-full.json")
      assert.is_true(math.abs(a - rmse(metrics)) < 0.005, ("%.6f vs %.6f"):format(a, rmse(metrics)))
    end)
  end)
end)
