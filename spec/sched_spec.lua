-- Scheduled rounds (schedule / push / pull) end to end, through the `pmls`
-- command: the result of a model whose answer is known exactly, under every
-- deployment (threads, processes over ipc and tcp, several scheduler nodes,
-- pipelining), the staleness the pipeline causes, and failures mid-round.
local helpers = require "helpers"

local SUM = helpers.fixtures .. "/sched_sum.lua"

local function run(args)
  local dir = helpers.tempdir()
  local m = dir .. "/m.jsonl"
  local argv = { "run", SUM, "-q", "--metrics", m }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local r = helpers.pmls(argv)
  local final
  if helpers.exists(m) then
    local rows = helpers.read_metrics(m)
    final = rows[#rows]
    r.rows = rows
  end
  r.final = final
  return r
end

describe("scheduled rounds", function()
  after_each(helpers.cleanup)

  local deployments = {
    { "-w", "1" },
    { "-w", "3" },
    { "-w", "2", "--schedulers", "3" },
    { "-w", "2", "-p", "2" },
    { "-w", "1", "-p", "3", "--schedulers", "2", "--transport", "tcp" },
    { "-w", "2", "--pipeline", "2", "--schedulers", "2" },
    { "-w", "2", "-p", "2", "--pipeline", "3", "--schedulers", "3" },
  }
  for _, d in ipairs(deployments) do
    it("gives the exact sums with " .. table.concat(d, " "), function()
      local args = { "--vars", "23", "--per", "4" }
      for _, a in ipairs(d) do args[#args + 1] = a end
      local r = run(args)
      assert.are.equal(0, r.rc, r.out)
      local f = r.final
      assert.is_true(f.final)
      assert.are.equal(0, f.wrong, "variables with a wrong final value")
      -- every variable updated `sweeps` times, in rounds of at most 4
      assert.are.equal(3 * 23, f.updates)
      assert.are.equal(f.rounds, f.clocks)
      local depth = 0
      for i, a in ipairs(d) do if a == "--pipeline" then depth = tonumber(d[i + 1]) end end
      assert.is_true(f.round_staleness_max <= depth)
      if depth == 0 then assert.are.equal(0, f.round_staleness_max) end
      -- each round's clock line reports what every worker pushed
      local pushed = 0
      for _, row in ipairs(r.rows) do
        if not row.final then pushed = pushed + (row.sum_partials or 0) end
      end
      assert.are.equal(f.updates * f.workers, pushed)
    end)
  end

  it("makes pushes miss earlier commits only as deep as the pipeline, and measures it", function()
    local r = run({ "-w", "2", "--pipeline", "2", "--vars", "40", "--per", "2", "--slow", "0.01" })
    assert.are.equal(0, r.rc, r.out)
    assert.is_true(r.final.round_staleness_max == 2, r.out)
    assert.is_true(r.final.round_staleness_mean > 0)
    assert.are.equal(0, r.final.wrong)
  end)

  it("ends with the failing worker's error when a push raises mid-run", function()
    local t0 = os.time()
    local r = run({ "-w", "2", "--fail-round", "3", "--vars", "30" })
    assert.are_not.equal(0, r.rc)
    assert.matches("boom at round 3", r.out)
    assert.matches("in worker 1", r.out)
    assert.is_true(os.time() - t0 < 20, "took too long to fail")
  end)

  it("ends with a clear error when a worker's process dies mid-run", function()
    local t0 = os.time()
    local r = run({ "-w", "1", "-p", "2", "--die-round", "4", "--vars", "30",
                    "--heartbeat-timeout", "1" })
    assert.are_not.equal(0, r.rc)
    assert.matches("rank 1", r.out)
    assert.is_true(os.time() - t0 < 30, "took too long to fail")
  end)

  local BROADCAST = helpers.fixtures .. "/sched_broadcast.lua"
  for _, d in ipairs({ { "-w", "2" }, { "-w", "2", "--schedulers", "2" },
                       { "-w", "1", "-p", "2", "--schedulers", "3" } }) do
    it("carries each node's broadcast to every worker with its next round, " .. table.concat(d, " "), function()
      local K = 1
      for i, a in ipairs(d) do if a == "--schedulers" then K = tonumber(d[i + 1]) end end
      local dir = helpers.tempdir()
      local argv = { "run", BROADCAST, "-q", "--metrics", dir .. "/m.jsonl", "--expect-nodes", tostring(K) }
      for _, a in ipairs(d) do argv[#argv + 1] = a end
      local r = helpers.pmls(argv)
      assert.are.equal(0, r.rc, r.out)
      local heard = 0
      for _, row in ipairs(helpers.read_metrics(dir .. "/m.jsonl")) do
        if not row.final then heard = heard + (row.heard or 0) end
      end
      -- 18 rounds; each of the 2 workers hears in every round but the first K
      assert.are.equal((18 - K) * 2, heard)
    end)
  end

  it("refuses broadcast and received where they do not belong, naming the argument", function()
    local cases = {
      broadcast = "broadcast is only available on a scheduler node",
      received = "received is only available on a worker of a scheduled model",
      round_over = "round_over is only available on a worker of a scheduled model",
      node = "bad argument 'node' to received (scheduler node 0..0 expected, got 1)",
      values = "bad argument 'values' to broadcast (values[2] is string, number expected)",
    }
    for misuse, want in pairs(cases) do
      local r = helpers.pmls({ "run", BROADCAST, "-q", "-w", "1", "--misuse", misuse })
      assert.are_not.equal(0, r.rc)
      assert.matches(want, r.out, 1, true)
    end
  end)

  it("refuses a bad schedule spec naming the field", function()
    local dir = helpers.tempdir()
    local script = dir .. "/bad.lua"
    local f = assert(io.open(script, "w"))
    f:write([[
local pmls = require "pmls"
local app = pmls.app "bad"
app:option("field", "pipeline", "which field is bad")
function app:setup(ctx)
  local spec = { vars = 4 }
  if ctx.opt.field == "pipeline" then spec.pipeline = -1
  elseif ctx.opt.field == "unknown" then spec.colour = 1
  elseif ctx.opt.field == "scheduler" then spec.scheduler = "fastest"
  elseif ctx.opt.field == "dependency" then spec.dependency = 0.1 end
  ctx:schedule(spec, self)
end
function app:push() end
function app:pull() end
return app
]])
    f:close()
    local cases = {
      pipeline = "bad argument 'spec.pipeline' to schedule",
      unknown = "unknown field 'colour'",
      scheduler = "bad argument 'spec.scheduler' to schedule",
      dependency = "needs app:dependency",
    }
    for field, want in pairs(cases) do
      local r = helpers.pmls({ "run", script, "-w", "1", "--field", field })
      assert.are_not.equal(0, r.rc)
      assert.matches(want, r.out, 1, true)
    end
  end)
end)
