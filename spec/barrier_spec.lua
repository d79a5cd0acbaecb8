-- ctx:barrier(): after it returns, every update any worker made before it
-- is visible, whichever shard holds the row, in threads and in processes.
-- The control run (clock() instead of barrier(), with staleness 10) shows
-- the check can fail: there the fast workers read before the slow one's
-- increment arrives.
local h = require "helpers"

local function run(extra)
  local args = { "run", h.fixtures .. "/barrier_probe.lua", "-q", "--rounds", "3" }
  for _, a in ipairs(extra) do args[#args + 1] = a end
  local r = h.pmls(args, "stdout")
  assert.are.equal(0, r.rc, r.out)
  local seen = {}
  for _, line in ipairs(r.lines) do
    local w, round, clock, copy, sum = line:match(
      "^worker=(%d+) round=(%d+) clock=(%d+) copy_clock=(%-?%d+) sum=(%d+)$")
    if w then
      seen[#seen + 1] = { worker = tonumber(w), round = tonumber(round),
                          clock = tonumber(clock), copy = tonumber(copy),
                          sum = tonumber(sum) }
    end
  end
  return seen
end

local function check_all(seen, workers)
  assert.are.equal(workers * 3, #seen)
  for _, s in ipairs(seen) do
    assert.are.equal(workers, s.sum, ("worker %d round %d saw %d of %d increments")
      :format(s.worker, s.round, s.sum, workers))
    assert.is_true(s.copy >= s.clock, ("worker %d read a copy at clock %d after a barrier at %d")
      :format(s.worker, s.copy, s.clock))
  end
end

describe("ctx:barrier()", function()
  it("makes every earlier update visible to every worker (threads, 2 shards)", function()
    check_all(run { "-w", "3", "--servers", "2" }, 3)
  end)

  it("does the same across processes (-p 2 -w 2, ipc)", function()
    check_all(run { "-p", "2", "-w", "2" }, 4)
  end)

  it("is what makes the difference: with clock() alone some reads miss updates", function()
    local seen = run { "-w", "3", "--servers", "2", "--no-barrier" }
    local short = 0
    for _, s in ipairs(seen) do if s.sum < 3 then short = short + 1 end end
    assert.is_true(short > 0, "the control run saw every update: the probe tests nothing")
  end)
end)
