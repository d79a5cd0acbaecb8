-- Spec for checkpoints of scheduled models (pmls.rounds, docs/fault-tolerance.md), through
-- `pmls run` subprocesses on small generated data.
--   * lasso (working sets; SAP rounds with the priority scheduler and its dependency filter,
--     uniform, cyclic), mf_ccd, mf_block (--no-agnostic) and lda_sched (-w 1 and -w 2): a run
--     resumed from the snapshot before a torn newest one, going on with --checkpoint into the
--     same directory, saves the very bytes of the uninterrupted run, reports its values clock by
--     clock and made fewer rounds;
--   * a snapshot whose node state is cut short is refused and the one before is used; one
--     whose node state is garbage of the right size is one line, exit 1;
--   * under -w 2 and -p 2 a resumed run ends at the uninterrupted run's objective (mf_block
--     without agnostic rounds: its bytes; with them, whose passes depend on timing, it goes on);
--   * a pipelined run, drained at every snapshot, resumes to the same objective;
--   * a -p 2 lasso run whose rank 1 is killed by SIGKILL after a snapshot, resumed with the
--     command it printed or by --restarts 1, saves the uninterrupted run's bytes;
--   * lasso on two and three scheduler nodes (-w 2), a snapshot every 7 rounds: the same bytes;
--   * a script without app:save_state, several nodes with a pipeline, another -w and another
--     number of nodes are refused.
local helpers = require "helpers"

local dir

local function pmls(args) return helpers.pmls(args) end
local function bytes(path) return assert(helpers.read_file(path), "no file " .. path) end
local function has(out, text) return out:find(text, 1, true) ~= nil end

local function latest(ck)
  local names = {}
  for name in (helpers.read_file(ck .. "/latest") or ""):gmatch("[^\n]+") do names[#names + 1] = name end
  return names
end

-- A figure of the final line ("pmls: done  N clocks ... name value ...").
local function final(out, name)
  local line = out:match("pmls: done[^\n]*")
  assert.is_truthy(line, out)
  return tonumber(line:match(" " .. name .. " (%S+)")), tonumber(line:match("done%s+(%d+) clocks"))
end

local function write_data()
  math.randomseed(5)
  local f = assert(io.open(dir .. "/reg.svm", "w"))
  for _ = 1, 200 do
    local parts, y = {}, 0
    for j = 1, 40 do
      if math.random() < 0.5 then
        local v = math.random() * 2 - 1
        y = y + v / j
        parts[#parts + 1] = ("%d:%.6f"):format(j, v)
      end
    end
    f:write(("%.6f %s\n"):format(y + 0.05 * (math.random() - 0.5), table.concat(parts, " ")))
  end
  f:close()
  -- a docword corpus: 30 documents over 40 words
  local lines, nnz = {}, 0
  for doc = 1, 30 do
    for w = 1, 40 do
      if w % 11 ~= 0 and math.random() < 0.3 then
        lines[#lines + 1] = ("%d %d %d"):format(doc, w, math.random(4))
        nnz = nnz + 1
      end
    end
  end
  f = assert(io.open(dir .. "/docword.txt", "w"))
  f:write(("30\n40\n%d\n%s\n"):format(nnz, table.concat(lines, "\n")))
  f:close()
  f = assert(io.open(dir .. "/r.txt", "w"))
  for u = 0, 79 do
    for i = 0, 49 do
      if math.random() < 0.4 then f:write(("%d %d %d\n"):format(u, i, 1 + (u * 7 + i * 3) % 5)) end
    end
  end
  f:close()
end

local REPORTED = { "objective", "train_rmse", "test_rmse", "nnz", "ll_token", "nt_gap" }

-- What the workers reported (the metrics `names`, default REPORTED), clock by clock, as one
-- line per clock that has values (the clocks of the snapshots' barriers have none).
local function series(path, names)
  local out = {}
  for _, row in ipairs(helpers.read_metrics(path)) do
    local line, any = {}, false
    for _, m in ipairs(names or REPORTED) do
      line[#line + 1] = m .. "=" .. tostring(row[m])
      any = any or row[m] ~= nil
    end
    if any then out[#out + 1] = table.concat(line, " ") end
  end
  return out
end

-- Runs args with a snapshot every `every` rounds into ck, tears the newest
-- one (its manifest goes) and resumes from the one before: that run's result.
local function resumed_from_older(args, ck, every)
  local res = pmls(helpers.join(args, { "--checkpoint", ck, "--checkpoint-every", tostring(every) }))
  assert.equal(0, res.rc, res.out)
  os.remove(ck .. "/" .. latest(ck)[1] .. "/manifest")
  res = pmls(helpers.join(args, { "--resume", ck }))
  assert.equal(0, res.rc, res.out)
  return res
end

-- The uninterrupted run (--save), the same run with --checkpoint, its newest snapshot torn,
-- and the run resumed from the one before: the bytes saved must be the same, and the
-- resumed run's reports those of the uninterrupted run's last rounds.
local function same_bytes(args, every, name, metrics)
  local full, resumed = ("%s/%s-full.npz"):format(dir, name), ("%s/%s-resumed.npz"):format(dir, name)
  local res = pmls(helpers.join(args, { "--save", full, "--metrics", full .. ".jsonl" }))
  assert.equal(0, res.rc, res.out)
  local rounds = final(res.out, "rounds")
  local ck = ("%s/%s-ck"):format(dir, name)
  res = pmls(helpers.join(args, { "--checkpoint", ck, "--checkpoint-every", tostring(every) }))
  assert.equal(0, res.rc, res.out)
  local names = latest(ck)
  assert.equal(2, #names, "fewer than two snapshots")
  assert.is_true(helpers.exists(ck .. "/" .. names[1] .. "/sched-0.lua"))
  os.remove(ck .. "/" .. names[1] .. "/manifest")
  -- going on with --checkpoint into the same directory: the torn one is written again
  res = pmls(helpers.join(args, { "--resume", ck, "--save", resumed, "--metrics", resumed .. ".jsonl",
                                  "--checkpoint", ck, "--checkpoint-every", tostring(every) }))
  assert.equal(0, res.rc, res.out)
  assert.is_true(has(res.out, "checkpoint ignored: " .. ck .. "/" .. names[1] .. ": no manifest"), res.out)
  local resumed_rounds = final(res.out, "rounds") -- the engine's count: this run's rounds
  assert.is_true(resumed_rounds < rounds, ("the resumed run made %d rounds, the full one %d"):format(resumed_rounds, rounds))
  assert.is_true(bytes(full) == bytes(resumed), name .. ": the resumed model differs")
  assert.is_true(helpers.exists(ck .. "/" .. names[1] .. "/manifest"), name .. ": the torn snapshot was not written again")
  local want, got = series(full .. ".jsonl", metrics), series(resumed .. ".jsonl", metrics)
  assert.is_true(#got > 0 and #got < #want, name .. ": the resumed run reported nothing, or as much as the full one")
  local tail = {}
  for k = #want - #got + 1, #want do tail[#tail + 1] = want[k] end
  assert.same(tail, got, name .. ": the resumed run reported other values")
  return ck, names
end

describe("checkpoints of scheduled models", function()
  setup(function()
    dir = helpers.tempdir()
    write_data()
  end)
  teardown(helpers.cleanup)

  local function lasso(extra)
    return helpers.join({ "run", "models/lasso.lua", "-q", "-w", "1", "--data", dir .. "/reg.svm",
                          "--lambda-ratio", "0.01" }, extra)
  end
  local function ccd(extra)
    return helpers.join({ "run", "models/mf_ccd.lua", "-q", "-w", "1", "--data", dir .. "/r.txt",
                          "--test", dir .. "/r.txt", "--rank", "4", "--outer", "3" }, extra)
  end
  local function block(extra)
    return helpers.join({ "run", "models/mf_block.lua", "-q", "-w", "1", "--data", dir .. "/r.txt",
                          "--rank", "4", "--epochs", "6", "--blocks", "3" }, extra)
  end

  it("lasso -w 1, working sets: a resumed run saves the uninterrupted run's bytes", function()
    same_bytes(lasso {}, 1, "lasso-ws")
  end)

  it("lasso -w 1, SAP rounds (priority with the dependency filter, uniform, cyclic): the same bytes", function()
    same_bytes(lasso { "--working-set", "0" }, 60, "lasso-sap")
    same_bytes(lasso { "--working-set", "0", "--scheduler", "uniform", "--per-round", "4" }, 100, "lasso-uniform")
    same_bytes(lasso { "--working-set", "0", "--scheduler", "cyclic", "--per-round", "4" }, 100, "lasso-cyclic")
  end)

  it("lasso, two and three scheduler nodes (-w 2): the uninterrupted run's bytes", function()
    -- every 7 rounds: a snapshot's round is one node's, the others write their part before
    -- their first round after it
    same_bytes(lasso { "-w", "2", "--schedulers", "2" }, 7, "lasso-k2")
    same_bytes(lasso { "-w", "2", "--schedulers", "3" }, 7, "lasso-k3")
  end)

  it("mf_ccd -w 1: the uninterrupted run's bytes", function()
    same_bytes(ccd {}, 7, "ccd")
  end)

  it("mf_block -w 1 --no-agnostic: the uninterrupted run's bytes (the table L with them)", function()
    same_bytes(block { "--no-agnostic" }, 4, "block")
  end)

  it("lda_sched -w 1 and -w 2: the uninterrupted run's bytes (the table wt with them)", function()
    local function lda(w)
      return { "run", "models/lda_sched.lua", "-q", "-w", w, "--data", dir .. "/docword.txt", "--format", "docword",
               "--test-docs", "4", "--top-words", "0", "--topics", "5", "--iters", "8", "--blocks", "2" }
    end
    same_bytes(lda "1", 5, "lda-w1")
    -- with two workers, a worker's LL of the word rows at a sweep's start sometimes misses
    -- the other's last changes, in uninterrupted runs too (3 of 30): only the gaps are compared
    same_bytes(lda "2", 5, "lda-w2", { "nt_gap" })
  end)

  it("a node state cut short is refused, the one before used; garbage of its size: one line, exit 1", function()
    if not helpers.exists(dir .. "/ccd-full.npz") then
      assert.equal(0, pmls(ccd { "--save", dir .. "/ccd-full.npz" }).rc)
    end
    local ck = dir .. "/torn-ck"
    local res = pmls(ccd { "--checkpoint", ck, "--checkpoint-every", "10" })
    assert.equal(0, res.rc, res.out)
    local names = latest(ck)
    local node = ck .. "/" .. names[1] .. "/sched-0.lua"
    local data = bytes(node)
    local f = assert(io.open(node, "wb"))
    f:write(data:sub(1, #data - 10))
    f:close()
    res = pmls(ccd { "--resume", ck, "--save", dir .. "/torn.npz" })
    assert.equal(0, res.rc, res.out)
    assert.is_true(has(res.out, ("%s/sched-0.lua: %d bytes, the manifest says %d"):format(names[1], #data - 10, #data)),
                   res.out)
    assert.is_true(bytes(dir .. "/ccd-full.npz") == bytes(dir .. "/torn.npz"), "the resumed model differs")
    node = ck .. "/" .. names[2] .. "/sched-0.lua"
    local size = #bytes(node)
    f = assert(io.open(node, "wb"))
    f:write(("x"):rep(size))
    f:close()
    res = pmls(ccd { "--resume", ck })
    assert.equal(1, res.rc, res.out)
    -- the newest one (cut short) is still refused first
    assert.equal(2, #res.lines, res.out)
    assert.equal("pmls: error: --resume: " .. node .. ": damaged (in scheduler node 0)", res.lines[2])
  end)

  it("-w 2 and -p 2: a resumed run ends at the uninterrupted run's objective", function()
    -- lasso: one process of two workers; its partials are added in worker order
    local args = lasso { "-w", "2", "--working-set", "0" }
    local res = pmls(args)
    assert.equal(0, res.rc, res.out)
    local want = final(res.out, "objective")
    res = resumed_from_older(args, dir .. "/w2-ck", 50)
    assert.is_true(math.abs(final(res.out, "objective") - want) <= 1e-9 * want, res.out)
    -- mf_ccd in two processes
    args = ccd { "-w", "1", "-p", "2" }
    res = pmls(args)
    assert.equal(0, res.rc, res.out)
    want = final(res.out, "objective")
    res = resumed_from_older(args, dir .. "/p2-ck", 20)
    assert.is_true(math.abs(final(res.out, "objective") - want) <= 1e-6 * want, res.out)
    -- mf_block, two workers: without agnostic rounds, the very bytes
    same_bytes(block { "-w", "2", "--no-agnostic" }, 4, "block-w2")
    -- with them the passes a round takes depend on timing: on this data five
    -- uninterrupted runs ended at train RMSE 1.13 to 1.21 (one pass a round:
    -- 1.36), so a resumed run is only checked to have gone on with passes of
    -- its own, below the one-pass run
    res = pmls(block { "-w", "2", "--no-agnostic" })
    assert.equal(0, res.rc, res.out)
    local one_pass = final(res.out, "train_rmse")
    res = resumed_from_older(block { "-w", "2" }, dir .. "/agn-ck", 4)
    local got = final(res.out, "train_rmse")
    assert.is_true(got < one_pass - 0.05, ("resumed %.6f, one pass a round %.6f"):format(got, one_pass))
  end)

  it("a pipeline is drained at each snapshot; the resumed run ends at the same objective", function()
    -- with a pipeline a push may or may not see the commits of the round before (timing), so
    -- runs are compared by their objective, which the duality gap bounds
    local args = lasso { "--working-set", "0", "--pipeline", "1" }
    local res = pmls(args)
    assert.equal(0, res.rc, res.out)
    local want = final(res.out, "objective")
    local ck = dir .. "/pipe-ck"
    res = pmls(helpers.join(args, { "--checkpoint", ck, "--checkpoint-every", "100" }))
    assert.equal(0, res.rc, res.out)
    local names = latest(ck)
    assert.equal(2, #names, res.out)
    os.remove(ck .. "/" .. names[1] .. "/manifest")
    res = pmls(helpers.join(args, { "--resume", ck }))
    assert.equal(0, res.rc, res.out)
    assert.is_true(has(res.out, "checkpoint ignored: " .. ck .. "/" .. names[1]), res.out)
    local got = final(res.out, "objective")
    assert.is_true(math.abs(got - want) <= 1e-6 * want, ("uninterrupted %.12g, resumed %.12g"):format(want, got))
  end)

  it("-p 2: rank 1 killed by SIGKILL after a snapshot; resumed (printed command, --restarts): the same bytes", function()
    -- 6000 SAP rounds of two coordinates (about a second), a snapshot every 500
    local args = lasso { "-p", "2", "--working-set", "0", "--per-round", "2", "--tol", "1e-15",
                         "--max-rounds", "6000" }
    local full = dir .. "/kill-full.npy"
    local res = pmls(helpers.join(args, { "--save", full }))
    assert.equal(0, res.rc, res.out)
    -- runs it with --checkpoint (and more), kills its rank 1 once the snapshot of round 1000
    -- or 1500 is there; returns what the shell and the run said
    local function killed(ck, more)
      local q = {}
      for i, a in ipairs(helpers.join(args, { "--checkpoint", ck, "--checkpoint-every", "500" }, more)) do
        q[i] = helpers.quote(a)
      end
      local out_file = ck .. ".out"
      local script = helpers.quote(helpers.pmls_bin) .. " " .. table.concat(q, " ") .. " > "
        .. helpers.quote(out_file) .. " 2>&1 & LP=$!; "
        .. "for i in $(seq 500); do grep -qs 'ckpt-1[05]00' " .. helpers.quote(ck .. "/latest") .. " && break; sleep 0.01; done; "
        .. "for c in $(pgrep -P $LP); do tr '\\0' '\\n' < /proc/$c/environ | grep -q '^PMLS_RANK=1$' && kill -KILL $c; done; "
        .. "wait $LP; echo \"exit=$?\""
      local _, out = helpers.sh(script)
      return out, bytes(out_file)
    end
    local ck = dir .. "/kill-ck"
    local out, text = killed(ck, {})
    assert.is_true(has(out, "exit=1"), out .. text)
    assert.is_true(has(text, "was killed by SIGKILL"), text)
    local resume = text:match("pmls: resume with: ([^\n]+)")
    assert.is_truthy(resume, text)
    assert.is_true(tonumber(latest(ck)[1]:match("%d+")) < 6000, "no snapshot before the end")
    local rc, rout = helpers.sh(resume .. " --save " .. helpers.quote(dir .. "/kill-resumed.npy") .. " 2>&1")
    assert.equal(0, rc, rout)
    assert.is_true(bytes(full) == bytes(dir .. "/kill-resumed.npy"), "the resumed model differs")
    -- --restarts 1: the launcher resumes it by itself
    out, text = killed(dir .. "/restart-ck", { "--restarts", "1", "--save", dir .. "/restarted.npy" })
    assert.is_true(has(out, "exit=0"), out .. text)
    assert.is_true(has(text, "restarting from the last snapshot in " .. dir .. "/restart-ck (0 restarts left)"), text)
    assert.is_true(bytes(full) == bytes(dir .. "/restarted.npy"), "the restarted model differs")
  end)

  it("refuses a script without save_state, two nodes with a pipeline, another -w or nodes, in one line", function()
    local ck = dir .. "/refuse-ck"
    local res = pmls { "run", helpers.fixtures .. "/sched_sum.lua", "-q", "-w", "1", "--checkpoint", ck }
    assert.equal(2, res.rc, res.out)
    assert.is_true(has(res.lines[1], "--checkpoint: checkpoints of a scheduled model need app:save_state"), res.out)
    res = pmls(lasso { "--schedulers", "2", "--pipeline", "1", "--checkpoint", ck })
    assert.equal(2, res.rc, res.out)
    assert.is_true(has(res.lines[1], "need one scheduler node or no pipeline (this run has 2 nodes and pipeline 1)"),
                   res.out)
    res = pmls(lasso { "--working-set", "0", "--checkpoint", ck, "--checkpoint-every", "50" })
    assert.equal(0, res.rc, res.out)
    res = pmls(helpers.join(lasso { "--working-set", "0", "--resume", ck }, { "-w", "2" }))
    assert.equal(1, res.rc, res.out)
    assert.same({ "pmls: error: --resume: lasso resumes on the snapshot's 1 workers, not 2" }, res.lines)
    res = pmls(lasso { "--working-set", "0", "--schedulers", "2", "--resume", ck })
    assert.equal(1, res.rc, res.out)
    assert.is_true(has(res.out, ": --resume: " .. ck .. "/" .. latest(ck)[1] .. " was taken with 1 scheduler nodes, this run has 2"),
                   res.out)
  end)
end)
