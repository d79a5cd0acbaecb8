-- Spec for faults in jobs of several processes: each must end in a clear
-- error that names the node and the cause, with a non-zero exit, quickly
-- -- never a hang. Every run has a small --timeout / --heartbeat-timeout
-- and is killed by `timeout` if it outlives its deadline, so a hang fails
-- the spec (as "KILLED: it hung") instead of stalling the suite.
--
-- Faults: a master nobody answers at; a rank 0 whose ranks never come; a
-- rank that dies mid-run (os.exit, SIGKILL) or stops answering (SIGSTOP);
-- rank 0 dying under ranks started by a launcher; a master port already
-- taken, an ipc directory that cannot hold sockets; ranks started with
-- different options, or the same rank twice; a script error in a worker of
-- rank 1; a worker that stops clocking; and, across network namespaces, a
-- host cut off from the others mid-run.
local helpers = require "helpers"
local U = require "fixtures.mp_spec_util"

local F = helpers.fixtures
local SUM = F .. "/mp_sum.lua"
local FAULT = F .. "/mp_fault.lua"

local function run_fault(how, extra, opts)
  opts = opts or {}
  local args = { "run", FAULT, "--how", how, "-q", "--heartbeat-timeout", "1",
                 "--timeout", tostring(opts.timeout or 10) }
  for _, a in ipairs(extra or {}) do args[#args + 1] = a end
  return U.run { args = args, env = opts.env, timeout = opts.kill_after or 15 }
end

-- A non-zero exit, not killed, within `secs`, whose output has every one
-- of `texts` (plain strings).
local function assert_fails(res, secs, texts, label)
  local why = U.describe(res, label)
  assert.is_false(res.hung, why)
  assert.are_not.equal(0, res.rc, why)
  for _, t in ipairs(texts) do
    assert.is_truthy(res.both:find(t, 1, true), ("'%s' not in the output\n%s"):format(t, why))
  end
  assert.is_true(res.secs < secs, ("took %.1f s, more than %g s\n%s"):format(res.secs, secs, why))
end

describe("a job of several processes, when something goes wrong", function()
  teardown(helpers.cleanup)

  describe("at the rendezvous", function()
    it("a rank > 0 whose master is not there: 'cannot reach the master' within --timeout", function()
      local master = "tcp://127.0.0.1:" .. U.free_port()
      local res = U.run { args = { "run", SUM, "-w", "1", "-q", "--timeout", "1" },
                          env = { SLURM_PROCID = "1", SLURM_NTASKS = "2", PMLS_MASTER = master },
                          timeout = 10 }
      assert_fails(res, 4, { "rank 1", master }, "rank 1 alone")
      assert.is_truthy(res.err:find("cannot reach the master", 1, true) or
                       res.err:find("no answer from the master", 1, true), res.err)
      assert.are.equal(1, res.rc, res.err)
    end)

    it("a rank > 0 whose ipc master is not there: the same, naming the address", function()
      local master = "ipc://" .. helpers.tempdir() .. "/master"
      local res = U.run { args = { "run", SUM, "-w", "1", "-q", "--timeout", "1" },
                          env = { PMLS_RANK = "1", PMLS_SIZE = "2", PMLS_MASTER = master },
                          timeout = 10 }
      assert_fails(res, 4, { "rank 1", master }, "rank 1 alone")
      assert.is_truthy(res.err:find("cannot reach the master", 1, true) or
                       res.err:find("no answer from the master", 1, true), res.err)
    end)

    it("rank 0 waiting for ranks that never come: 'did not join', naming them", function()
      local master = "tcp://127.0.0.1:" .. U.free_port()
      local res = U.run { args = { "run", SUM, "-w", "1", "-q", "--timeout", "1" },
                          env = { PMI_RANK = "0", PMI_SIZE = "3", PMLS_MASTER = master },
                          timeout = 10 }
      assert_fails(res, 4, { "rank 0", "ranks 1, 2 of 3 did not join", master }, "rank 0 alone")
    end)

    it("a master port already in use: rank 0 says so, and no rank is left behind", function()
      local port, release = U.busy_port()
      finally(release)
      local marker = helpers.tempdir() .. "/busy.jsonl" -- names this job's processes
      local res = U.run { args = { "run", SUM, "-p", "2", "-w", "1", "-q", "--timeout", "2",
                                   "--master", "tcp://127.0.0.1:" .. port, "--metrics", marker },
                          timeout = 15 }
      assert_fails(res, 5, { "rank 0", "cannot listen at the master address", tostring(port),
                             "already in use" })
      -- "[l]": the pattern must not match the shell that runs pgrep
      local pattern = marker:sub(1, -2) .. "[" .. marker:sub(-1) .. "]"
      local _, left = helpers.sh("pgrep -f " .. helpers.quote(pattern) .. " || true")
      assert.are.equal("", left, "processes left running")
    end)

    it("an ipc master whose directory cannot hold sockets: says which rank, where and why", function()
      local file = helpers.tempdir() .. "/a-file"
      assert(io.open(file, "w")):close()
      local res = U.run { args = { "run", SUM, "-p", "2", "-w", "1", "-q", "--timeout", "2",
                                   "--master", "ipc://" .. file .. "/master" }, timeout = 15 }
      assert_fails(res, 5, { file, "Not a directory" })
      assert.matches("rank 0", res.err, 1, true)
    end)

    describe("ranks started with different options (-w 2 on rank 0, -w 1 on rank 1)", function()
      local res
      setup(function()
        local master = "tcp://127.0.0.1:" .. U.free_port()
        local function rank(r, w)
          return { args = { "run", SUM, "-w", tostring(w), "-q", "--timeout", "6" }, timeout = 15,
                   env = { SLURM_PROCID = tostring(r), SLURM_NTASKS = "2", PMLS_MASTER = master } }
        end
        res = U.run_all { rank(0, 2), rank(1, 1) }
      end)

      it("rank 0 refuses the job, naming rank 1 and 'every rank needs the same options'", function()
        assert_fails(res[1], 4, { "rank 1 was started with", "every rank needs the same options" }, "rank 0")
      end)

      it("rank 1 is told why at once, rather than waiting for --timeout", function()
        assert_fails(res[2], 4, { "rank 1", "every rank needs the same options" }, "rank 1")
      end)
    end)

    it("two processes given the same rank: 'joined twice'", function()
      local master = "tcp://127.0.0.1:" .. U.free_port()
      local function rank(r, delay)
        return { args = { "run", SUM, "-w", "1", "-q", "--timeout", "3" }, timeout = 15, delay = delay,
                 env = { OMPI_COMM_WORLD_RANK = tostring(r), OMPI_COMM_WORLD_SIZE = "3",
                         PMLS_MASTER = master } }
      end
      local res = U.run_all { rank(0), rank(1), rank(1, 0.3) }
      assert_fails(res[1], 6, { "rank 1 joined twice" }, "rank 0")
      for i = 2, 3 do assert.are_not.equal(0, res[i].rc, U.describe(res[i], "a rank 1")) end
    end)
  end)

  describe("during the run", function()
    for _, how in ipairs { "exit", "kill" } do
      it(("rank 1 vanishing (%s) mid-run: -p 2 fails within the heartbeat timeout, naming rank 1")
         :format(how == "exit" and "os.exit(1)" or "SIGKILL"), function()
        -- --timeout 10: a read timeout would be too late; only the heartbeat
        -- (1 s) or the launcher seeing its child die can be this quick.
        local res = run_fault(how, { "-p", "2", "-w", "2", "--at", "2", "--clocks", "40",
                                     "--sleep", "50" })
        assert_fails(res, 5, { "rank 1" }, "pmls run -p 2")
        -- The launcher sees its child end and says how, before any heartbeat
        -- timeout; the heartbeat still catches it where no launcher watches.
        local said = how == "exit" and "rank 1 %(pid %d+%) exited with status 1"
                     or "rank 1 %(pid %d+%) was killed by SIGKILL"
        assert.is_truthy(res.err:find(said) or res.err:find("rank 1 is dead", 1, true), U.describe(res))
      end)
    end

    it("rank 2 of 3 alive but silent (SIGSTOP): rank 0 says it is dead, the job ends, nothing is left", function()
      local marker = helpers.tempdir() .. "/stop.jsonl" -- names this job's processes
      local res = run_fault("stop", { "-p", "3", "-w", "1", "--rank", "2", "--at", "2", "--clocks", "40",
                                      "--sleep", "50", "--metrics", marker })
      assert_fails(res, 8, { "rank 2 is dead" }, "pmls run -p 3")
      local pattern = marker:sub(1, -2) .. "[" .. marker:sub(-1) .. "]"
      local _, left = helpers.sh("pgrep -f " .. helpers.quote(pattern) .. " || true")
      if left ~= "" then -- do not leave a stopped process behind, whatever the engine did
        helpers.sh("kill -9 " .. left:gsub("%s+", " ") .. " 2>/dev/null")
      end
      assert.are.equal("", left, "processes left running (the stopped rank?)")
    end)

    it("rank 0 dying under ranks started by a launcher: the others stop, 'rank 0 is dead'", function()
      local master = "tcp://127.0.0.1:" .. U.free_port()
      local function rank(r)
        return { args = { "run", FAULT, "--how", "kill", "--rank", "0", "--at", "2", "--clocks", "40",
                          "--sleep", "50", "-w", "1", "-q", "--heartbeat-timeout", "1",
                          "--timeout", "10" },
                 env = { SLURM_PROCID = tostring(r), SLURM_NTASKS = "3", PMLS_MASTER = master },
                 timeout = 15 }
      end
      local res = U.run_all { rank(0), rank(1), rank(2) }
      assert.are.equal(137, res[1].rc, U.describe(res[1], "rank 0 (kills itself)"))
      for r = 1, 2 do
        assert_fails(res[r + 1], 5, { "rank " .. r, "rank 0 is dead" }, "rank " .. r)
      end
    end)

    it("a script error in a worker of rank 1: exit 1, naming rank 1, file:line and worker 2", function()
      local res = run_fault("error", { "-p", "2", "-w", "2", "--at", "2" })
      -- Said once, by rank 0, naming where it happened.
      assert_fails(res, 4, { "pmls: error: " .. FAULT .. ":26: fault on purpose", "(in worker 2) (on rank 1)" },
                   "pmls run -p 2")
      local _, said = res.err:gsub("fault on purpose in rank 1", "")
      assert.are.equal(1, said, U.describe(res))
      assert.are.equal(1, res.rc, U.describe(res))
    end)

    it("a script error in a worker of rank 1: rank 0 does not blame its own workers for the echo", function()
      local res = run_fault("error", { "-p", "2", "-w", "2", "--at", "2" })
      assert.are.equal(1, res.rc, U.describe(res))
      for line in res.err:gmatch("[^\n]+") do
        if line:match("^pmls: .*error: ") then
          assert.is_nil(line:match("%(in worker [013]%)"),
                        "an echo of the failure is reported as the error of another worker:\n" .. line)
        end
      end
    end)

    it("a worker of rank 1 that stops clocking: the others time out and the job ends, no hang", function()
      local res = run_fault("hang", { "-p", "2", "-w", "1", "--at", "2", "--sleep", "10" },
                            { timeout = 2 })
      assert_fails(res, 8, { "timed out" }, "pmls run -p 2")
    end)
  end)

  describe("across hosts made of network namespaces", function()
    local net

    teardown(function() U.netns_down(net) end)

    it("a host cut off mid-run: both sides say which rank is dead, and the job ends", function()
      local why_not
      net, why_not = U.netns_up("pmls-f" .. U.pid(), 3)
      if not net then
        pending("ip netns not permitted: " .. why_not)
        return
      end
      finally(function() U.netns_down(net) end)
      local hf, map = U.netns_hostfile(net)
      -- The third host loses its link to the bridge after 1.5 s.
      local cut = ("sleep 1.5; ip netns exec %s ip link set p3 down"):format(net.sw)
      local res = U.run({ args = { "run", FAULT, "--how", "none", "--clocks", "200", "--sleep", "50",
                                   "--hostfile", hf, "-w", "1", "-q", "--timeout", "10",
                                   "--heartbeat-timeout", "1" },
                          wrap = "ip netns exec " .. net.hosts[1].ns, timeout = 20,
                          env = { PMLS_SSH = U.fake_ssh, FAKE_SSH_NETNS = map } }, cut)
      assert_fails(res, 8, { "rank 2 is dead", "rank 0 is dead" }, "3 namespaces, one cut off")
      local left
      for _ = 1, 30 do -- the cut-off rank may still be on its way out
        _, left = helpers.sh("ip netns pids " .. net.hosts[3].ns)
        if left == "" then break end
        helpers.sh("sleep 0.1")
      end
      assert.are.equal("", left, "processes left running on the host cut off")
    end)
  end)
end)
