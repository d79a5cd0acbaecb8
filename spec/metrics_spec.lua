-- The NaN rule, through `pmls run`: a metric that turns NaN or infinite,
-- in a worker's clock or in finish, ends the run with exit 1 and one line
-- naming the script line, the metric and the clock; never exit 0 with a
-- null in the metrics file (the forged OPLOG of issue 14 made a row NaN
-- and the run exited 0 with "test_rmse": null).
local helpers = require "helpers"
local pmls = helpers.pmls
local F = helpers.fixtures
local SCRIPT = F .. "/nan_metric.lua"

local function has_final(file)
  for _, row in ipairs(helpers.read_metrics(file)) do
    if row.final then return true end
  end
  return false
end

describe("a NaN or infinite metric", function()
  after_each(helpers.cleanup)

  it("leaves a run whose metrics stay finite alone", function()
    local file = helpers.tempdir() .. "/m.jsonl"
    local res = pmls({ "run", SCRIPT, "-w", "2", "-q", "--metrics", file })
    assert.are.equal(0, res.rc, res.out)
    assert.is_true(has_final(file))
  end)

  it("in a worker ends the run with exit 1, naming the metric and the clock", function()
    local file = helpers.tempdir() .. "/m.jsonl"
    local res = pmls({ "run", SCRIPT, "--what", "nan", "--at", "3", "--worker", "1",
                       "-w", "2", "-q", "--metrics", file }, "stderr")
    assert.are.equal(1, res.rc, res.out)
    assert.is_truthy(res.lines[1]:find(SCRIPT .. ":19: metric 'rmse' is NaN at clock 3", 1, true), res.out)
    assert.matches("%(in worker 1%)", res.lines[1])
    assert.is_false(has_final(file), "a failed run wrote a final object")
  end)

  it("says inf for an infinite value", function()
    local res = pmls({ "run", SCRIPT, "--what", "inf", "--at", "2", "-w", "1", "-q" }, "stderr")
    assert.are.equal(1, res.rc, res.out)
    assert.matches("metric 'rmse' is inf at clock 2", res.lines[1], 1, true)
  end)

  it("in finish ends the run with exit 1, naming the metric", function()
    local file = helpers.tempdir() .. "/m.jsonl"
    local res = pmls({ "run", SCRIPT, "--what", "final", "-w", "2", "-q", "--metrics", file }, "stderr")
    assert.are.equal(1, res.rc, res.out)
    assert.is_truthy(res.lines[1]:find(SCRIPT .. ":26: metric 'test_rmse' is NaN in the final metrics", 1, true), res.out)
    assert.is_false(has_final(file), "a failed run wrote a final object")
  end)

  it("in a worker of another process ends the job with exit 1", function()
    local res = pmls({ "run", SCRIPT, "--what", "nan", "--at", "2", "--worker", "1",
                       "-p", "2", "-w", "1", "-q" }, "stderr")
    assert.are.equal(1, res.rc, res.out)
    assert.matches("metric 'rmse' is NaN at clock 2", res.out, 1, true)
  end)
end)
