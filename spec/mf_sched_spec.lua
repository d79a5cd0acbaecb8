-- Spec for the scheduled matrix factorization models, run as `pmls run`
-- subprocesses: models/mf_ccd.lua (CCD++ on custom rounds) and
-- models/mf_block.lua (block-scheduled SGD, agnostic or barrier rounds).
-- On data the spec generates, so it always runs: both recover an exactly
-- low-rank matrix (and cannot with a rank one short), CCD++ never raises
-- its objective and gives the same model under any deployment, and block
-- SGD's agnostic rounds give a slowed worker's peers more passes while the
-- barrier variant does one pass per worker per round. On MovieLens-100K
-- (../shared/data or $PMLS_DATA; skipped when absent): ua.base -> ua.test
-- RMSE <= 0.94 for CCD++ at rank 32 (LIBMF's SGD: 0.934) under -w 1, -w 2
-- and -p 2, the same model under -w 1 and -w 2, and block SGD within 0.95.
local helpers = require "helpers"
local data = require "pmls.data"

local CCD, BLOCK = "models/mf_ccd.lua", "models/mf_block.lua"

local run, join = helpers.run_model, helpers.join

local function close(a, b, rel, what)
  assert.is_true(math.abs(a - b) <= rel * math.max(math.abs(a), math.abs(b)),
                 ("%s: %.17g vs %.17g"):format(what, a, b))
end

-- The per-round rows (every line but the final object).
local function rounds_of(rows)
  local out = {}
  for i = 1, #rows - 1 do out[i] = rows[i] end
  return out
end

-- ---- generated data ---------------------------------------------------------

describe("scheduled matrix factorization on generated data", function()
  -- Ratings 3 + a_u . b_i of an exact rank-4 model (no noise), 300 users x
  -- 200 items, a quarter of them observed (those in [1, 5]); 10% held out.
  -- The ratings' standard deviation is about 0.8.
  local dir
  setup(function()
    dir = helpers.tempdir()
    local rng = data.new_rng(11)
    local users, items, rank = 300, 200, 4
    local scale = (0.64 / rank) ^ 0.25
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
    for u = 1, users do
      for i = 1, items do
        if rng.uniform() < 0.25 then
          local r = 3
          for f = 1, rank do r = r + A[u][f] * B[i][f] end
          if r >= 1 and r <= 5 then
            local line = ("%d %d %.17g\n"):format(u, i, r)
            if rng.uniform() < 0.1 then test:write(line) else train:write(line) end
          end
        end
      end
    end
    train:close()
    test:close()
  end)
  teardown(helpers.cleanup)

  local function ccd(rank, deploy, more)
    return run(CCD, join({ "--data", dir .. "/train", "--test", dir .. "/test", "--rank", tostring(rank),
                           "--lambda", "0.01", "--lambda-bias", "0.01", "--outer", "10" }, deploy, more or {}))
  end
  local function block(rank, deploy, more)
    return run(BLOCK, join({ "--data", dir .. "/train", "--test", dir .. "/test", "--rank", tostring(rank),
                             "--lambda", "0.001", "--lr", "0.05", "--epochs", "30" }, deploy, more or {}))
  end

  for _, deploy in ipairs({ { "-w", "1" }, { "-w", "2" }, { "-w", "1", "-p", "2" } }) do
    local name = table.concat(deploy, " ")
    it("CCD++ recovers the exact rank-4 ratings (" .. name .. ")", function()
      local final, rows = ccd(4, deploy)
      assert.is_true(final.train_rmse < 0.01, "train RMSE " .. final.train_rmse)
      assert.is_true(final.test_rmse < 0.01, "test RMSE " .. final.test_rmse)
      -- 10 outer iterations of 2 bias rounds and 3 x 2 rounds per rank
      assert.are.equal(10 * (2 + 2 * 3 * 4), final.rounds)
      assert.are.equal(final.rounds, #rows - 1)
    end)
  end

  it("CCD++ cannot recover them with a rank one short (the threshold above means something)", function()
    local final = ccd(3, { "-w", "2" })
    assert.is_true(final.train_rmse > 0.2, "rank 3: train RMSE " .. final.train_rmse)
  end)

  it("CCD++ never raises its objective: each round minimises it exactly in the round's coordinates", function()
    local _, rows = ccd(4, { "-w", "2" }, { "--outer", "3" })
    local prev
    for i, r in ipairs(rounds_of(rows)) do
      assert.is_number(r.objective, "no objective in round " .. i)
      if prev then
        assert.is_true(r.objective <= prev * (1 + 1e-12),
                       ("round %d: objective %.17g after %.17g"):format(i, r.objective, prev))
      end
      prev = r.objective
    end
    -- the per-round RMSEs the scheduler sends back reach the reports
    assert.is_number(rows[#rows - 1].train_rmse)
    assert.is_number(rows[#rows - 1].test_rmse)
  end)

  it("CCD++ gives the same model under -w 1, -w 3 and -p 2 (one worker sums each numerator)", function()
    local one = ccd(4, { "-w", "1" }, { "--outer", "3" })
    for _, deploy in ipairs({ { "-w", "3" }, { "-w", "2", "-p", "2" } }) do
      local other = ccd(4, deploy, { "--outer", "3" })
      -- the metrics file prints 12 significant digits
      for _, k in ipairs({ "train_rmse", "test_rmse", "objective" }) do
        close(one[k], other[k], 1e-11, table.concat(deploy, " ") .. " " .. k)
      end
    end
  end)

  for _, deploy in ipairs({ { "-w", "2" }, { "-w", "2", "--no-agnostic" }, { "-w", "1", "-p", "2" } }) do
    local name = table.concat(deploy, " ")
    it("block SGD recovers the exact rank-4 ratings (" .. name .. ")", function()
      local final = block(4, deploy)
      assert.is_true(final.train_rmse < 0.01, "train RMSE " .. final.train_rmse)
      assert.is_true(final.test_rmse < 0.01, "test RMSE " .. final.test_rmse)
      -- 30 epochs of d = 2 rounds, then the measuring round
      assert.are.equal(61, final.rounds)
    end)
  end

  it("block SGD cannot recover them with a rank one short", function()
    local final = block(3, { "-w", "2", "--no-agnostic" })
    assert.is_true(final.train_rmse > 0.2, "rank 3: train RMSE " .. final.train_rmse)
  end)

  it("block SGD with agnostic rounds gives a slowed worker's peers more passes", function()
    local final, rows = block(4, { "-w", "2", "--slow-worker", "1", "--slow-factor", "8" })
    assert.is_true(final.test_rmse < 0.01, "test RMSE " .. final.test_rmse)
    -- every worker makes at least one pass a round; the fast one, waiting
    -- for a worker 8 times slower, makes several
    assert.is_true(final.passes_min >= final.rounds,
                   ("passes_min %d < %d rounds"):format(final.passes_min, final.rounds))
    assert.is_true(final.passes_max >= 2 * final.passes_min,
                   ("passes_max %d, passes_min %d"):format(final.passes_max, final.passes_min))
    assert.is_true(final.slowed_s > 0, "the slow worker never slept")
    local total = 0
    for _, r in ipairs(rounds_of(rows)) do total = total + r.passes end
    assert.are.equal(final.passes_min + final.passes_max, total)
  end)

  it("block SGD's barrier variant makes exactly one pass per worker per round", function()
    local final, rows = block(4, { "-w", "2", "-p", "2", "--no-agnostic", "--slow-worker", "1",
                                   "--slow-factor", "8" })
    assert.is_true(final.test_rmse < 0.01, "test RMSE " .. final.test_rmse)
    assert.are.equal(4, final.workers)
    -- 30 epochs of d = 4 rounds, then the measuring round
    assert.are.equal(121, final.rounds)
    assert.are.equal(121, #rows - 1)
    for i, r in ipairs(rounds_of(rows)) do
      assert.are.equal(4, r.passes, "passes in round " .. i)
    end
    assert.is_nil(final.passes_min, "passes_min is written for agnostic rounds only")
  end)
end)

-- ---- MovieLens-100K ------------------------------------------------------------

describe("scheduled matrix factorization on MovieLens-100K", function()
  local dir, why = helpers.movielens()
  if not dir then
    pending(why)
    return
  end
  teardown(helpers.cleanup)

  local function files() return { "--data", dir .. "/ua.base", "--test", dir .. "/ua.test" } end

  local results = {}
  for _, deploy in ipairs({ { "-w", "1" }, { "-w", "2" }, { "-p", "2" } }) do
    local name = table.concat(deploy, " ")
    it("CCD++ reaches ua.test RMSE <= 0.94 at rank 32 (" .. name .. ")", function()
      local final = run(CCD, join(files(), { "--rank", "32" }, deploy))
      assert.is_true(final.test_rmse <= 0.94, "test RMSE " .. final.test_rmse)
      assert.is_true(final.train_rmse < final.test_rmse, "train RMSE " .. final.train_rmse)
      results[name] = final
    end)
  end

  it("CCD++ gives the same model under -w 1, -w 2 and -p 2", function()
    local one = results["-w 1"]
    assert.is_truthy(one, "the -w 1 run above failed")
    for _, name in ipairs({ "-w 2", "-p 2" }) do
      local other = results[name]
      assert.is_truthy(other, "the " .. name .. " run above failed")
      for _, k in ipairs({ "train_rmse", "test_rmse", "objective" }) do
        close(one[k], other[k], 1e-9, name .. " " .. k)
      end
    end
  end)

  for _, deploy in ipairs({ { "-w", "2" }, { "-w", "2", "--no-agnostic" } }) do
    local name = table.concat(deploy, " ")
    it("block SGD reaches ua.test RMSE <= 0.95 at rank 32 (" .. name .. ")", function()
      local final = run(BLOCK, join(files(), { "--rank", "32" }, deploy))
      assert.is_true(final.test_rmse <= 0.95, "test RMSE " .. final.test_rmse)
    end)
  end
end)
