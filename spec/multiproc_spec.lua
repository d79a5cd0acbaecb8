-- Spec for jobs of several processes (engine/src/runtime/job.c, the launcher
-- in engine/src/cli/launch.c and main.c): a job over ipc:// or tcp://, with
-- ranks started by `pmls run -p`, by a launcher's environment (srun,
-- mpirun), by --hostfile over ssh, and across real network namespaces,
-- gives exactly what the same workers give as threads of one process.
--
-- The check is exact: spec/fixtures/mp_sum.lua has every worker add known
-- integers to every cell of an int64 table for several clocks, so a lost
-- or doubled increment, a read that misses an earlier clock (a BSP
-- violation, counted by the workers), a worker id that is not global, or
-- metrics that cover one process only all show as wrong numbers.
local helpers = require "helpers"
local U = require "fixtures.mp_spec_util"

local F = helpers.fixtures
local SUM = F .. "/mp_sum.lua"
local BIG = F .. "/mp_big.lua"
local ROWS, COLS, CLOCKS = 4, 3, 5

-- ---- checking a run of mp_sum.lua ---------------------------------------------

-- args for mp_sum with a metrics file; returns args, metrics path.
local function sum_args(extra)
  local metrics = helpers.tempdir() .. "/m.jsonl"
  local args = { "run", SUM, "-q", "--timeout", "10", "--metrics", metrics,
                 "--rows", tostring(ROWS), "--cols", tostring(COLS), "--clocks", tostring(CLOCKS) }
  for _, a in ipairs(extra or {}) do args[#args + 1] = a end
  return args, metrics
end

-- Checks rank 0's output and the metrics of a run of `procs` processes of
-- `per` workers each. Returns the final metrics object.
local function check_sum(res, metrics, procs, per, label)
  local workers = procs * per
  local why = U.describe(res, label)
  assert.are.equal(0, res.rc, why)
  -- A run takes well under a second; 10 s (--timeout) means something
  -- waited for a peer that had already gone.
  assert.is_true(res.secs < 5, ("took %.1f s\n%s"):format(res.secs, why))
  local got = U.parse_sum(res.out)
  assert.are.same(U.expected_cells(workers, CLOCKS, ROWS, COLS), got.cells, why)
  assert.is_not_nil(got.total, why)
  assert.are.equal(got.expected, got.total, why)
  for w = 0, workers - 1 do
    local who = got.who[w]
    assert.is_not_nil(who, "no row of worker " .. w .. "\n" .. why)
    assert.are.same({ worker = w, rank = math.floor(w / per), procs = procs, workers = workers },
                    { worker = who.worker, rank = who.rank, procs = who.procs, workers = who.workers },
                    "ctx of worker " .. w .. "\n" .. why)
  end
  assert.is_nil(got.who[workers], why)

  local rows = helpers.read_metrics(metrics)
  assert.are.equal(CLOCKS + 1, #rows, "one line per clock and a final one\n" .. why)
  for k = 1, CLOCKS do
    assert.are.equal(k, rows[k].clock, why)
    assert.are.equal(0, rows[k].violations, "reads missing earlier updates at clock " .. k .. "\n" .. why)
    assert.are.equal(workers * ROWS * COLS, rows[k].incs, "clock " .. k .. "\n" .. why)
  end
  local final = rows[CLOCKS + 1]
  assert.are.equal(true, final.final)
  assert.are.equal(CLOCKS, final.clocks)
  assert.are.equal(workers, final.workers)
  assert.are.equal(got.total, final.total)
  assert.are.equal(workers * CLOCKS * ROWS * COLS, final.incs)
  -- Per-table statistics are summed over every process.
  local acc, who = final.tables.acc, final.tables.who
  assert.are.equal(workers * CLOCKS * ROWS * COLS, acc.rows_incremented, why)
  assert.are.equal(workers * CLOCKS * ROWS + ROWS, acc.rows_read, why) -- + finish's reads
  local hist = 0
  for _, n in ipairs(acc.staleness_hist) do hist = hist + n end
  assert.are.equal(workers * CLOCKS * ROWS, hist, "worker reads in the staleness histogram")
  assert.are.equal(hist, acc.staleness_hist[1], "every read at staleness 0 (BSP)")
  assert.are.equal(0, acc.staleness_max)
  assert.are.equal(workers * 5, who.rows_incremented)
  assert.are.equal(workers, who.rows_read)
  assert.are.equal(acc.rows_incremented + who.rows_incremented, final.rows_incremented)
  assert.are.equal(acc.rows_read + who.rows_read, final.rows_read)
  assert.is_true(final.messages_sent > 0 and final.bytes_received > 0)
  return final
end

describe("a job of several processes", function()
  teardown(helpers.cleanup)

  describe("started with -p on one host", function()
    -- label, engine args, processes, workers per process
    local deployments = {
      { "4 threads in one process", { "-w", "4" }, 1, 4 },
      { "one process over tcp (--master)", { "-w", "2", "--master", "tcp://127.0.0.1:" .. U.free_port() }, 1, 2 },
      { "-p 2 -w 2 over ipc", { "-p", "2", "-w", "2" }, 2, 2 },
      { "-p 2 -w 2 --transport tcp", { "-p", "2", "-w", "2", "--transport", "tcp" }, 2, 2 },
      { "-p 3 -w 1", { "-p", "3", "-w", "1" }, 3, 1 },
      { "-p 3 -w 2 --transport tcp --servers 2", { "-p", "3", "-w", "2", "--transport", "tcp", "--servers", "2" }, 3, 2 },
      { "-p 2 -w 2 --servers 5", { "-p", "2", "-w", "2", "--servers", "5" }, 2, 2 },
    }
    for _, d in ipairs(deployments) do
      local label, engine, procs, per = d[1], d[2], d[3], d[4]
      it(label .. ": exact sums, global worker ids, the whole job's metrics", function()
        local args, metrics = sum_args(engine)
        local res = U.run { args = args, timeout = 40 }
        check_sum(res, metrics, procs, per, label)
      end)
    end

    it("-p 2 without -w shares the host's cores: cores / 2 workers per process", function()
      local p = assert(io.popen("nproc"))
      local cores = tonumber(p:read("*l"))
      p:close()
      local per = math.max(1, math.floor(cores / 2))
      local args, metrics = sum_args { "-p", "2" }
      local res = U.run { args = args, timeout = 40 }
      check_sum(res, metrics, 2, per, "-p 2, no -w")
    end)

    it("prints progress lines (rank 0 only), the first and the last clock's among them, and the summary", function()
      local res = U.run { args = { "run", SUM, "-p", "3", "-w", "1", "--clocks", "3" } }
      assert.are.equal(0, res.rc, U.describe(res))
      local clocks = {}
      for line in res.err:gmatch("[^\n]+") do
        local k = line:match("^pmls: clock (%d+) ")
        if k then clocks[#clocks + 1] = tonumber(k) end
      end
      -- at most 4 a second, so clock 2's may not show; one line per clock at most
      assert.are.equal(1, clocks[1], res.err)
      assert.are.equal(3, clocks[#clocks], res.err)
      for i = 2, #clocks do assert.is_true(clocks[i] > clocks[i - 1], res.err) end
      assert.matches("pmls: done%s+3 clocks", res.err)
    end)

    it("gives the same statistics as threads: the tables' counts do not depend on the deployment", function()
      local a1, m1 = sum_args { "-w", "4" }
      local a2, m2 = sum_args { "-p", "2", "-w", "2" }
      local r = U.run_all { { args = a1 }, { args = a2 } }
      local f1 = check_sum(r[1], m1, 1, 4, "threads")
      local f2 = check_sum(r[2], m2, 2, 2, "-p 2")
      for _, t in ipairs { "acc", "who" } do
        for _, k in ipairs { "rows_read", "rows_incremented", "staleness_hist", "staleness_max" } do
          assert.are.same(f1.tables[t][k], f2.tables[t][k], t .. "." .. k)
        end
      end
    end)

    it("trains examples/logreg_demo.lua under -p 2 to a held-out accuracy above 0.85", function()
      local metrics = helpers.tempdir() .. "/demo.jsonl"
      local res = U.run { args = { "run", "examples/logreg_demo.lua", "-p", "2", "-w", "1",
                                   "--epochs", "5", "-q", "--metrics", metrics }, timeout = 60 }
      assert.are.equal(0, res.rc, U.describe(res))
      local rows = helpers.read_metrics(metrics)
      assert.are.equal(6, #rows)
      assert.are.equal(2, rows[6].workers)
      assert.is_true(rows[5].loss < rows[1].loss,
                     ("loss %s at clock 5, %s at clock 1"):format(rows[5].loss, rows[1].loss))
      assert.is_true(rows[6].test_accuracy > 0.85, "test_accuracy " .. tostring(rows[6].test_accuracy))
      -- every worker's shard was visited: 80% of 40000 examples per clock
      assert.are.equal(5 * 32000, rows[6].examples)
    end)

    describe("with rows larger than 1 MiB (300000 float64 columns, 2.4 MB)", function()
      for _, d in ipairs {
        { "-p 2 over ipc", { "-p", "2", "-w", "1" } },
        { "-p 2 -w 2 over tcp", { "-p", "2", "-w", "2", "--transport", "tcp" } },
      } do
        it(d[1] .. ": increments and reads arrive whole, every element exact", function()
          local metrics = helpers.tempdir() .. "/big.jsonl"
          local args = { "run", BIG, "-q", "--timeout", "10", "--metrics", metrics }
          for _, a in ipairs(d[2]) do args[#args + 1] = a end
          local res = U.run { args = args, timeout = 40 }
          local why = U.describe(res)
          assert.are.equal(0, res.rc, why)
          assert.matches("^big 2 300000 0 %-1\n", res.out, why)
          local rows = helpers.read_metrics(metrics)
          local final = rows[#rows]
          assert.are.equal(0, final.bad)
          assert.are.equal(0, final.stale, "a read missed another process's increments")
          -- 2 clocks x 2 rows read by each worker, and finish's 2 reads
          local workers = final.workers
          assert.are.equal(4 * workers + 2, final.tables.big.rows_read)
          -- whole 2.4 MB rows went over the wire: each fetched read, each increment
          local big = final.tables.big
          assert.is_true(big.bytes_received >= 2400000 * (big.rows_read - big.cache_hits),
                         "bytes received " .. big.bytes_received)
          assert.is_true(big.bytes_sent >= 2400000 * big.rows_incremented, "bytes sent " .. big.bytes_sent)
          assert.is_true(res.secs < 8, "took " .. res.secs .. " s: did a row time out?")
        end)
      end
    end)
  end)

  describe("setup that fills a table (spec/fixtures/setup_init.lua)", function()
    -- label, engine args
    local cases = {
      { "threads", { "-w", "2" } },
      { "-p 2 -w 2", { "-p", "2", "-w", "2" } },
      { "-p 2 -w 2 --servers 3, rank 1's setup late", { "-p", "2", "-w", "2", "--servers", "3",
                                                        "--late-rank", "1", "--late-ms", "300" } },
      { "-p 2 -w 1 --transport tcp, rank 0's setup late", { "-p", "2", "-w", "1", "--transport", "tcp",
                                                            "--late-rank", "0", "--late-ms", "300" } },
    }
    for _, c in ipairs(cases) do
      it(c[1] .. ": workers read the first values at once; a late init changes nothing", function()
        local metrics = helpers.tempdir() .. "/m.jsonl"
        local args = { "run", F .. "/setup_init.lua", "-q", "--timeout", "10", "--metrics", metrics }
        for _, a in ipairs(c[2]) do args[#args + 1] = a end
        local res = U.run { args = args, timeout = 40 }
        assert.are.equal(0, res.rc, U.describe(res))
        local rows = helpers.read_metrics(metrics)
        local final = rows[#rows]
        assert.is_true(final.final)
        assert.are.equal(0, final.bad, "cells of a first read without the first value")
        assert.are.equal(0, final.excess, "increments lost or doubled")
        assert.are.equal(0, final.wrong, "cells past column 0 changed")
      end)
    end
  end)

  describe("ranks started by a launcher's environment", function()
    local launchers = {
      { "srun (SLURM_PROCID / SLURM_NTASKS)", "SLURM_PROCID", "SLURM_NTASKS" },
      { "Open MPI (OMPI_COMM_WORLD_RANK / SIZE)", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE" },
      { "PMI (PMI_RANK / PMI_SIZE)", "PMI_RANK", "PMI_SIZE" },
      { "pmls (PMLS_RANK / PMLS_SIZE)", "PMLS_RANK", "PMLS_SIZE" },
    }

    -- Starts `procs` ranks of mp_sum, each with `per` workers; master_of(rank)
    -- returns the env and extra args of that rank.
    local function launch(rank_var, size_var, procs, per, how)
      local master = "tcp://127.0.0.1:" .. U.free_port()
      local list, metrics = {}, nil
      for r = 0, procs - 1 do
        local args, m = sum_args { "-w", tostring(per) }
        if r == 0 then metrics = m end
        local env = { [rank_var] = tostring(r), [size_var] = tostring(procs) }
        if how == "flag" then
          args[#args + 1] = "--master"
          args[#args + 1] = master
        elseif how == "ipc" then
          env.PMLS_MASTER = "ipc://" .. helpers.tempdir() .. "/master"
        else
          env.PMLS_MASTER = master
        end
        list[#list + 1] = { args = args, env = env, timeout = 40 }
      end
      if how == "ipc" then -- one directory for every rank
        for r = 2, procs do list[r].env.PMLS_MASTER = list[1].env.PMLS_MASTER end
      end
      return U.run_all(list), metrics
    end

    for _, l in ipairs(launchers) do
      it(l[1] .. ": 3 ranks meet at PMLS_MASTER and give exact sums", function()
        local res, metrics = launch(l[2], l[3], 3, 1)
        for r = 2, 3 do
          assert.are.equal(0, res[r].rc, U.describe(res[r], "rank " .. (r - 1)))
          assert.are.equal("", res[r].out, "finish runs on rank 0 only")
        end
        check_sum(res[1], metrics, 3, 1, "rank 0")
      end)
    end

    it("srun: 2 ranks of 2 workers meet at --master", function()
      local res, metrics = launch("SLURM_PROCID", "SLURM_NTASKS", 2, 2, "flag")
      assert.are.equal(0, res[2].rc, U.describe(res[2], "rank 1"))
      check_sum(res[1], metrics, 2, 2, "rank 0")
    end)

    it("mpirun: 2 ranks meet at an ipc:// master", function()
      local res, metrics = launch("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", 2, 2, "ipc")
      assert.are.equal(0, res[2].rc, U.describe(res[2], "rank 1"))
      check_sum(res[1], metrics, 2, 2, "rank 0")
    end)

    it("a job of one rank needs no master", function()
      local args, metrics = sum_args { "-w", "2" }
      local res = U.run { args = args, env = { SLURM_PROCID = "0", SLURM_NTASKS = "1" } }
      check_sum(res, metrics, 1, 2, "srun -n 1")
    end)

    for _, r in ipairs { 1, 0 } do
      it("rank " .. r .. " of 2 without PMLS_MASTER exits 2 at once, naming PMLS_MASTER", function()
        local res = U.run { args = { "run", SUM, "-w", "1", "-q" },
                            env = { SLURM_PROCID = tostring(r), SLURM_NTASKS = "2" }, timeout = 10 }
        local why = U.describe(res)
        assert.are.equal(2, res.rc, why)
        assert.matches("PMLS_MASTER", res.err, 1, true)
        assert.matches("rank " .. r .. " of 2", res.err, 1, true)
        assert.matches("srun", res.err, 1, true)
        local _, lines = res.err:gsub("\n", "")
        assert.are.equal(1, lines, "one line\n" .. why)
        assert.is_true(res.secs < 2, why)
      end)
    end

    it("refuses -p that disagrees with the launcher's size (exit 2)", function()
      local res = U.run { args = { "run", SUM, "-p", "3", "-q" },
                          env = { PMI_RANK = "0", PMI_SIZE = "2", PMLS_MASTER = "tcp://127.0.0.1:1" } }
      assert.are.equal(2, res.rc, U.describe(res))
      assert.matches("-p 3", res.err, 1, true)
      assert.matches("2 processes", res.err, 1, true)
    end)

    it("refuses a rank outside 0..size-1 (exit 2)", function()
      local res = U.run { args = { "run", SUM, "-q" },
                          env = { PMI_RANK = "2", PMI_SIZE = "2", PMLS_MASTER = "tcp://127.0.0.1:1" } }
      assert.are.equal(2, res.rc, U.describe(res))
      assert.matches("rank", res.err)
    end)
  end)

  describe("--hostfile, with ssh faked by spec/fixtures/fake-ssh", function()
    local function hostfile(text)
      local path = helpers.tempdir() .. "/hosts"
      local f = assert(io.open(path, "w"))
      f:write(text)
      f:close()
      return path
    end

    it("starts the ranks of the other hosts through $PMLS_SSH and gives exact sums", function()
      local dir = helpers.tempdir()
      local hf = hostfile("# the first slot is rank 0, this process\nlocalhost 1\nnode-b slots=2\n")
      local args, metrics = sum_args { "--hostfile", hf, "-w", "1" }
      local res = U.run { args = args, env = { PMLS_SSH = U.fake_ssh, FAKE_SSH_LOG = dir .. "/ssh.log" } }
      check_sum(res, metrics, 3, 1, "--hostfile")
      local log = helpers.read_file(dir .. "/ssh.log") or ""
      local ranks = {}
      for host, cmd in log:gmatch("([^\t\n]+)\t([^\n]*)") do
        assert.are.equal("node-b", host)
        assert.is_truthy(cmd:find("cd " .. helpers.quote(U.root), 1, true), cmd)
        assert.matches("PMLS_MASTER='tcp://[%d.]+:%d+'", cmd)
        assert.matches("PMLS_SIZE=3", cmd, 1, true)
        -- both ranks on node-b: without -w they would share its cores
        assert.matches("PMLS_LOCAL_PROCS=2", cmd, 1, true)
        assert.is_truthy(cmd:find(helpers.quote(SUM), 1, true), cmd)
        ranks[#ranks + 1] = tonumber(cmd:match("PMLS_RANK=(%d+)"))
      end
      table.sort(ranks)
      assert.are.same({ 1, 2 }, ranks, "ssh was asked to start ranks 1 and 2 on node-b:\n" .. log)
    end)

    it("-p takes the first P slots of the hostfile", function()
      local dir = helpers.tempdir()
      local hf = hostfile("localhost\nnode-b\nnode-c\n")
      local args, metrics = sum_args { "--hostfile", hf, "-p", "2", "-w", "2" }
      local res = U.run { args = args, env = { PMLS_SSH = U.fake_ssh, FAKE_SSH_LOG = dir .. "/ssh.log" } }
      check_sum(res, metrics, 2, 2, "--hostfile -p 2")
      local log = helpers.read_file(dir .. "/ssh.log") or ""
      assert.matches("^node%-b\t[^\n]*PMLS_RANK=1 ", log)
      assert.is_nil(log:find("node-c", 1, true), log)
    end)

    -- ssh ends at once, so the launcher ends the job then, naming the rank,
    -- without waiting for the join timeout.
    it("fails at once, naming the rank that could not start, when a host cannot be reached", function()
      local hf = hostfile("localhost 1\nnowhere 1\n")
      local res = U.run { args = { "run", SUM, "--hostfile", hf, "-w", "1", "-q", "--timeout", "2" },
                          env = { PMLS_SSH = U.fake_ssh, FAKE_SSH_NETNS = "/dev/null" }, timeout = 15 }
      local why = U.describe(res)
      assert.are_not.equal(0, res.rc, why)
      assert.is_false(res.hung, why)
      assert.matches("rank 1 (pid ", res.err, 1, true)
      assert.matches("before the job started", res.err, 1, true)
      assert.matches("No route to host", res.err, 1, true) -- what "ssh" said
      assert.is_true(res.secs < 6, why)
    end)

    describe("refuses a bad hostfile with exit 2 and one line naming file:line", function()
      local cases = {
        { "a slot count of 0", "localhost 2\nnode-b 0\n", ":2: bad slot count '0'" },
        { "a slot count that is not a number", "# hosts\nlocalhost slots=x\n", ":2: bad slot count 'slots=x'" },
        { "a negative slot count", "localhost -1\n", ":1: bad slot count '-1'" },
        { "too many fields", "localhost 1\n\nnode-b 1 extra\n", ":3: too many fields" },
        { "an empty file", "", ": no hosts listed" },
        { "only comments and blank lines", "# nobody\n\n   \n", ": no hosts listed" },
      }
      for _, c in ipairs(cases) do
        it(c[1], function()
          local hf = hostfile(c[2])
          local res = U.run { args = { "run", SUM, "--hostfile", hf, "-q" }, timeout = 10 }
          local why = U.describe(res)
          assert.are.equal(2, res.rc, why)
          assert.is_truthy(res.err:find(hf .. c[3], 1, true), "expected '" .. hf .. c[3] .. "' in\n" .. why)
          local _, lines = res.err:gsub("\n", "")
          assert.are.equal(1, lines, why)
        end)
      end

      it("a hostfile that does not exist", function()
        local hf = helpers.tempdir() .. "/missing"
        local res = U.run { args = { "run", SUM, "--hostfile", hf, "-q" }, timeout = 10 }
        assert.are.equal(2, res.rc, U.describe(res))
        assert.is_truthy(res.err:find(hf, 1, true), res.err)
      end)
    end)

    it("refuses more processes than the hostfile has slots", function()
      local hf = hostfile("localhost 1\nnode-b 1\n")
      local res = U.run { args = { "run", SUM, "--hostfile", hf, "-p", "3", "-q" },
                          env = { PMLS_SSH = U.fake_ssh }, timeout = 10 }
      local why = U.describe(res)
      assert.are_not.equal(0, res.rc, why)
      assert.matches("fewer slots than 3 processes", res.err, 1, true)
      assert.is_false(res.hung, why)
    end)
  end)

  describe("across hosts made of network namespaces", function()
    local prefix = "pmls-" .. U.pid()
    local net

    teardown(function()
      U.netns_down(net)
    end)

    it("one rank per namespace talks tcp:// across a bridge and gives exact sums", function()
      local why_not
      net, why_not = U.netns_up(prefix, 3)
      if not net then
        pending("ip netns not permitted: " .. why_not)
        return
      end
      finally(function() U.netns_down(net) end)
      local hf, map = U.netns_hostfile(net)
      local dir = helpers.tempdir()
      local args, metrics = sum_args { "--hostfile", hf, "-w", "1" }
      local res = U.run { args = args, wrap = "ip netns exec " .. net.hosts[1].ns, timeout = 60,
                          env = { PMLS_SSH = U.fake_ssh, FAKE_SSH_NETNS = map,
                                  FAKE_SSH_LOG = dir .. "/ssh.log" } }
      check_sum(res, metrics, 3, 1, "3 namespaces")
      -- Each rank ran in its own namespace, none in the spec's.
      local got = U.parse_sum(res.out)
      local _, mine = helpers.sh("readlink /proc/self/ns/net")
      mine = tonumber(mine:match("%[(%d+)%]"))
      local seen = {}
      for w = 0, 2 do
        local ns = got.who[w].netns
        assert.is_true(ns ~= 0 and ns ~= mine, "worker " .. w .. " ran in the spec's namespace")
        assert.is_nil(seen[ns], "two ranks in one namespace")
        seen[ns] = true
      end
      -- Ranks 1 and 2 were started on 10.211.0.2 and .3, told to meet at
      -- rank 0's address on the bridge.
      local log = helpers.read_file(dir .. "/ssh.log") or ""
      for i = 2, 3 do
        local line = log:match(net.hosts[i].ip:gsub("%.", "%%.") .. "\t([^\n]*)")
        assert.is_not_nil(line, log)
        assert.matches("PMLS_RANK=" .. (i - 1), line, 1, true)
        assert.matches("PMLS_MASTER='tcp://10.211.0.1:", line, 1, true)
      end
      U.netns_down(net)
      assert.are.same({}, U.netns_list(prefix .. "-"), "namespaces left behind")
    end)
  end)
end)
