-- Spec for the `pmls` command (engine/src/cli/main.c with the Lua runtime
-- behind it), run as a subprocess: exit codes (0 ok, 1 run error, 2 usage
-- error), one-line usage errors that name the culprit, script errors that
-- name file:line with a traceback, progress lines, the metrics file, and
-- the logistic regression demo converging.
local helpers = require "helpers"

local pmls = helpers.pmls
local F = helpers.fixtures
local COUNTER = F .. "/counter.lua"

-- The output of a usage error: exactly one line, mentioning `what`.
local function assert_usage_error(res, what)
  assert.are.equal(2, res.rc, "exit code; output was:\n" .. res.out)
  assert.are.equal(1, #res.lines, "expected one line, got:\n" .. res.out)
  assert.is_truthy(res.lines[1]:find(what, 1, true),
                   ("'%s' not named in: %s"):format(what, res.lines[1]))
end

local function count_matching(lines, pattern)
  local n = 0
  for _, l in ipairs(lines) do if l:match(pattern) then n = n + 1 end end
  return n
end

describe("the pmls command", function()
  teardown(helpers.cleanup)

  describe("without a script", function()
    it("prints its version and exits 0 for `pmls version`", function()
      local res = pmls({ "version" })
      assert.are.equal(0, res.rc)
      assert.matches("^pmls %d+%.%d+%.%d+", res.out)
    end)

    it("prints usage on stdout and exits 0 for `pmls help`", function()
      local res = pmls({ "help" }, "stdout")
      assert.are.equal(0, res.rc)
      assert.matches("usage: pmls run %[engine options%] SCRIPT%.lua", res.out)
      assert.matches("%-%-workers", res.out)
    end)

    it("prints usage on stderr and exits 2 when given no command", function()
      local res = pmls({}, "stderr")
      assert.are.equal(2, res.rc)
      assert.matches("usage: pmls run", res.out)
    end)

    it("exits 2 with one line naming an unknown command", function()
      assert_usage_error(pmls({ "frobnicate" }), "'frobnicate'")
    end)
  end)

  describe("run, on a bad command line", function()
    it("exits 2 with one line naming the missing script", function()
      local res = pmls({ "run" })
      assert_usage_error(res, "script")
      assert.matches("missing script", res.lines[1])
    end)

    it("exits 2 with one line naming a script file that does not exist", function()
      assert_usage_error(pmls({ "run", "missing.lua" }), "missing.lua")
    end)

    it("exits 2 with one line naming an unknown script option", function()
      assert_usage_error(pmls({ "run", COUNTER, "--frobnicate" }), "--frobnicate")
    end)

    it("exits 2 naming an int option given a word", function()
      local res = pmls({ "run", COUNTER, "--incs", "abc" })
      assert_usage_error(res, "--incs")
      assert.is_truthy(res.lines[1]:find("abc", 1, true))
    end)

    it("exits 2 naming an int option given a fraction", function()
      assert_usage_error(pmls({ "run", COUNTER, "--clocks=2.5" }), "--clocks")
    end)

    it("exits 2 naming --workers for -w 0", function()
      assert_usage_error(pmls({ "run", COUNTER, "-w", "0" }), "--workers")
    end)

    it("exits 2 naming --workers for -w x", function()
      assert_usage_error(pmls({ "run", COUNTER, "-w", "x" }), "--workers")
    end)

    it("exits 2 naming --seed for a negative seed", function()
      assert_usage_error(pmls({ "run", COUNTER, "--seed", "-1" }), "--seed")
    end)

    it("exits 2 naming a script option given without its value", function()
      local res = pmls({ "run", COUNTER, "--incs" })
      assert_usage_error(res, "--incs")
      assert.matches("value", res.lines[1])
    end)

    it("exits 2 naming an engine option given without its value", function()
      assert_usage_error(pmls({ "run", COUNTER, "--metrics" }), "--metrics")
      assert_usage_error(pmls({ "run", COUNTER, "-q", "-w" }), "--workers")
    end)

    it("exits 2 naming a stray positional argument", function()
      assert_usage_error(pmls({ "run", COUNTER, "stray" }), "stray")
    end)
  end)

  describe("run MODEL: a script named, not given as a file", function()
    -- A copy of the counter fixture named `name`.lua in a fresh directory.
    local function model_dir(name)
      local dir = helpers.tempdir()
      local text = helpers.read_file(COUNTER)
      assert.is_string(text)
      local f = assert(io.open(dir .. "/" .. name .. ".lua", "w"))
      f:write(text)
      f:close()
      return dir
    end

    it("finds models/NAME.lua of its own tree from any directory", function()
      local rc, out = helpers.sh('bin="$PWD/build/bin/pmls"; cd / && "$bin" run logreg --help 2>&1')
      assert.are.equal(0, rc, out)
      assert.matches("logistic regression", out)
      assert.matches("models/logreg%.lua", out)
    end)

    it("looks in PMLS_MODEL_PATH first, NAME or NAME.lua", function()
      local dir = model_dir("logreg")
      for _, name in ipairs { "logreg", "logreg.lua" } do
        local rc, out = helpers.sh("PMLS_MODEL_PATH=/nonexistent:" .. helpers.quote(dir) ..
                                   " build/bin/pmls run " .. name .. " --help 2>&1")
        assert.are.equal(0, rc, out)
        assert.matches("counts increments from every worker", out)
      end
      local rc, out = helpers.sh("PMLS_MODEL_PATH=" .. helpers.quote(dir) ..
                                 " build/bin/pmls run logreg -w 2 --incs 5 --clocks 1 -q 2>&1")
      assert.are.equal(0, rc, out)
    end)

    it("exits 2 with one line naming the model and where it looked", function()
      local dir = model_dir("other")
      local rc, out = helpers.sh("PMLS_MODEL_PATH=" .. helpers.quote(dir) ..
                                 " build/bin/pmls run nosuch-model 2>&1")
      local lines = helpers.split_lines(out)
      assert.are.equal(2, rc, out)
      assert.are.equal(1, #lines, out)
      assert.is_truthy(lines[1]:find("'nosuch-model'", 1, true), out)
      assert.is_truthy(lines[1]:find(dir, 1, true), out)
      assert.matches("share/pmls/models", lines[1])
      assert.matches("/models%)", lines[1])
    end)

    it("takes an argument with a slash for a path, never a model name", function()
      local dir = model_dir("counter2")
      local rc, out = helpers.sh("PMLS_MODEL_PATH=" .. helpers.quote(dir) ..
                                 " build/bin/pmls run ./counter2 2>&1")
      assert.are.equal(2, rc, out)
      assert.matches("cannot open script './counter2'", out, 1, true)
    end)
  end)

  describe("run SCRIPT --help", function()
    local res
    before_each(function() res = pmls({ "run", COUNTER, "--help" }, "stdout") end)

    it("exits 0", function()
      assert.are.equal(0, res.rc)
    end)

    it("lists every script option with its default", function()
      assert.matches("%-%-incs INT[^\n]*increments per worker[^\n]*%(default: 1000%)", res.out)
      assert.matches("%-%-clocks INT[^\n]*%(default: 4%)", res.out)
      assert.matches("%-%-label STRING[^\n]*%(default: none%)", res.out)
      assert.matches("%-v, %-%-verbose[^\n]*%(default: false%)", res.out)
      assert.matches("counts increments from every worker", res.out)
    end)

    it("lists the engine options", function()
      assert.matches("%-w, %-%-workers", res.out)
      assert.matches("%-%-seed", res.out)
      assert.matches("%-%-metrics", res.out)
      assert.matches("%-q, %-%-quiet", res.out)
    end)

    it("does not run the script", function()
      local err = pmls({ "run", COUNTER, "--help", "-w", "2" }, "stderr")
      assert.are.equal(0, err.rc)
      assert.are.equal(0, count_matching(err.lines, "^pmls: clock"))
    end)
  end)

  describe("run, when the script fails", function()
    it("exits 1 naming file:line of an error raised in a worker, then a traceback", function()
      local path = F .. "/worker_error.lua"
      local res = pmls({ "run", path, "-w", "2" }, "stderr")
      assert.are.equal(1, res.rc)
      assert.is_truthy(res.lines[1]:find(path .. ":10:", 1, true), res.lines[1])
      assert.matches("boom in worker %d", res.lines[1])
      assert.matches("%(in worker %d%)", res.lines[1])
      assert.are.equal("stack traceback:", res.lines[2])
      assert.is_truthy(res.out:find(path .. ":14: in function 'worker'", 1, true), res.out)
    end)

    it("exits 1 naming file:line of an error raised in setup", function()
      local path = F .. "/phase_error.lua"
      local res = pmls({ "run", path, "--phase", "setup", "-w", "2" }, "stderr")
      assert.are.equal(1, res.rc)
      assert.is_truthy(res.lines[1]:find(path .. ":8: setup failed on purpose", 1, true), res.out)
      assert.are.equal("stack traceback:", res.lines[2])
    end)

    it("exits 1 naming file:line of an error raised in finish", function()
      local path = F .. "/phase_error.lua"
      local res = pmls({ "run", path, "--phase", "finish", "-w", "2", "-q" }, "stderr")
      assert.are.equal(1, res.rc)
      assert.is_truthy(res.lines[1]:find(path .. ":17: finish failed on purpose", 1, true), res.out)
    end)

    it("exits 0 when the same script raises nothing", function()
      local res = pmls({ "run", F .. "/phase_error.lua", "--phase", "none", "-w", "2", "-qq" })
      assert.are.equal(0, res.rc, res.out)
      assert.are.equal("", res.out)
    end)

    it("names the script line of a bad table spec in setup", function()
      local path = F .. "/misuse.lua"
      local res = pmls({ "run", path, "--what", "spec", "-w", "1" }, "stderr")
      assert.are.equal(1, res.rc)
      assert.matches("bad argument 'spec.rows' to table", res.lines[1])
      assert.is_truthy(res.lines[1]:find(path .. ":8:", 1, true), res.lines[1])
    end)

    it("names the script line of a row out of range in a worker", function()
      local path = F .. "/misuse.lua"
      local res = pmls({ "run", path, "--what", "row", "-w", "1" }, "stderr")
      assert.are.equal(1, res.rc)
      assert.matches("bad argument 'row' to get", res.lines[1])
      assert.is_truthy(res.lines[1]:find(path .. ":13:", 1, true), res.lines[1])
    end)

    it("exits 1 naming file:line of a syntax error", function()
      local path = F .. "/syntax_error.lua"
      local res = pmls({ "run", path }, "stderr")
      assert.are.equal(1, res.rc)
      assert.is_truthy(res.lines[1]:find(path .. ":4:", 1, true), res.out)
    end)

    it("exits 1 explaining that the script must return an app", function()
      local path = F .. "/no_app.lua"
      local res = pmls({ "run", path }, "stderr")
      assert.are.equal(1, res.rc)
      assert.is_truthy(res.lines[1]:find(path, 1, true), res.out)
      assert.matches("must return an app", res.lines[1])
    end)

    it("exits 1 when app:setup returns data that cannot reach the workers", function()
      local res = pmls({ "run", F .. "/bad_shared.lua", "-q" }, "stderr")
      assert.are.equal(1, res.rc)
      assert.matches("plain data", res.lines[1])
      assert.matches("function", res.lines[1])
    end)
  end)

  describe("run, progress and metrics", function()
    it("writes one JSON line per clock, in order, then a final line with totals", function()
      local file = helpers.tempdir() .. "/m.jsonl"
      local res = pmls({ "run", COUNTER, "-w", "2", "-q", "--metrics", file,
                         "--incs", "30", "--clocks", "3" })
      assert.are.equal(0, res.rc, res.out)
      local rows = helpers.read_metrics(file)
      assert.are.equal(4, #rows)
      local last_t = 0
      for k = 1, 3 do
        local r = rows[k]
        assert.are.equal(k, r.clock)
        assert.is_number(r.time_s)
        assert.is_true(r.time_s >= last_t)
        last_t = r.time_s
        assert.are.equal(10 * k, r.done)   -- mean over workers
        assert.are.equal(20, r.incs)       -- sum over workers
        assert.is_nil(r.final)
      end
      local final = rows[4]
      assert.are.equal(true, final.final)
      assert.are.equal(3, final.clocks)
      assert.are.equal(2, final.workers)
      assert.are.equal(20, final.incs)     -- a sum metric: the last clock's
      assert.are.equal(30, final.done)     -- a mean metric: its last value
      assert.are.equal(60, final.total)    -- reported by finish
      assert.are.equal(0, final.other)
      assert.are.equal(60, final.rows_incremented)
      assert.is_true(final.time_s >= last_t)
    end)

    it("appends to an existing metrics file", function()
      local file = helpers.tempdir() .. "/m.jsonl"
      local args = { "run", COUNTER, "-w", "1", "-q", "--metrics", file, "--incs", "2", "--clocks", "2" }
      assert.are.equal(0, pmls(args).rc)
      assert.are.equal(0, pmls(args).rc)
      local rows = helpers.read_metrics(file)
      assert.are.equal(6, #rows)
      assert.are.equal(true, rows[3].final)
      assert.are.equal(1, rows[4].clock)
      assert.are.equal(true, rows[6].final)
    end)

    it("refuses metric names that could not be JSON keys, naming the metric", function()
      local file = helpers.tempdir() .. "/m.jsonl"
      local res = pmls({ "run", F .. "/odd_metric.lua", "-w", "1", "-q", "--metrics", file })
      assert.are.equal(1, res.rc, res.out)
      assert.matches("odd_metric.lua:7: bad argument 'values' to report", res.out, 1, true)
      assert.matches("bad metric name 'say \"hi\"'", res.out, 1, true)
      for _, row in ipairs(helpers.read_metrics(file)) do
        assert.is_nil(row['say "hi"'], "an unsafe metric name reached the metrics file")
      end
    end)

    it("prints progress lines on stderr, the first and the last clock's among them, then a summary", function()
      local res = pmls({ "run", COUNTER, "-w", "2", "--incs", "8", "--clocks", "4" }, "stderr")
      assert.are.equal(0, res.rc, res.out)
      local clocks = {}
      for _, l in ipairs(res.lines) do
        local k = l:match("^pmls: clock (%d+) ")
        if k then clocks[#clocks + 1] = tonumber(k) end
      end
      -- at most 4 a second: which of clocks 2 and 3 show depends on time
      assert.are.equal(1, clocks[1])
      assert.are.equal(4, clocks[#clocks])
      for i = 2, #clocks do assert.is_true(clocks[i] > clocks[i - 1]) end
      assert.matches("^pmls: done%s+4 clocks", res.lines[#res.lines])
      assert.matches("total 16", res.lines[#res.lines])
    end)

    it("prints nothing at all with -qq", function()
      local res = pmls({ "run", COUNTER, "-w", "2", "--incs", "8", "--clocks", "4", "-qq" })
      assert.are.equal(0, res.rc)
      assert.are.equal("", res.out)
    end)

    it("fails with a clear message naming an unwritable metrics path", function()
      local path = helpers.tempdir() .. "/no/such/dir/m.jsonl"
      local res = pmls({ "run", COUNTER, "-w", "1", "-q", "--metrics", path })
      assert.are_not.equal(0, res.rc)
      assert.are.equal(1, #res.lines, res.out)
      assert.is_truthy(res.lines[1]:find(path, 1, true), res.out)
      assert.matches("metrics", res.lines[1])
    end)
  end)

  describe("run examples/logreg_demo.lua", function()
    it("lowers the training loss and reaches a held-out accuracy above 0.85", function()
      local file = helpers.tempdir() .. "/demo.jsonl"
      local res = pmls({ "run", "examples/logreg_demo.lua", "-w", "2", "--epochs", "5", "-q",
                         "--metrics", file })
      assert.are.equal(0, res.rc, res.out)
      local rows = helpers.read_metrics(file)
      assert.are.equal(6, #rows)
      assert.are.equal(1, rows[1].clock)
      assert.are.equal(5, rows[5].clock)
      assert.is_true(rows[5].loss < rows[1].loss,
                     ("loss %s at clock 5, %s at clock 1"):format(rows[5].loss, rows[1].loss))
      assert.are.equal(true, rows[6].final)
      assert.is_true(rows[6].test_accuracy > 0.85, "test_accuracy " .. tostring(rows[6].test_accuracy))
    end)
  end)
end)
