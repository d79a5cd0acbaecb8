-- Spec for the command-line conventions users bring with them: engine
-- options before or after the script, "-w2" and "--workers=2", -V, a
-- "did you mean" for a near miss (engine options before the script, engine
-- or script options after it), script options with min, max and choices,
-- required options marked in --help, and the man page and bash completion
-- generated from the command's own option table.
local helpers = require "helpers"

local pmls = helpers.pmls
local F = helpers.fixtures
local SUM = F .. "/mp_sum.lua"

local function one_usage_line(res, ...)
  assert.are.equal(2, res.rc, res.out)
  assert.are.equal(1, #res.lines, "one line expected:\n" .. res.out)
  for _, text in ipairs { ... } do
    assert.is_truthy(res.lines[1]:find(text, 1, true), ("'%s' not in: %s"):format(text, res.lines[1]))
  end
end

-- A script with bounded options, written once.
local script
local function bounded_script()
  if script then return script end
  script = helpers.tempdir() .. "/bounded.lua"
  local f = assert(io.open(script, "w"))
  f:write([[
local pmls = require "pmls"
local app = pmls.app("bounded", "options with bounds")
app:option("k", 3, "clusters", { type = "int", min = 1, max = 100 })
app:option("rate", 0.5, "a fraction", { min = 0, max = 1 })
app:option("init", "kmeans++", "how to start", { choices = { "kmeans++", "random" } })
app:option("data", nil, "input file", { type = "string", required = true })
function app:setup(ctx) print(("k=%d rate=%g init=%s workers=%d"):format(ctx.opt.k, ctx.opt.rate, ctx.opt.init, ctx.workers)) end
function app:worker(ctx) end
return app
]])
  f:close()
  return script
end

describe("command-line conventions", function()
  teardown(helpers.cleanup)

  it("engine options before the script, -w2 and --workers=2 all set the workers", function()
    for _, args in ipairs { { "run", "-w2", SUM, "-q" }, { "run", "--workers=2", SUM, "-q" },
                            { "run", SUM, "-w", "2", "-q" }, { "run", "-q", "--workers", "2", SUM } } do
      local res = pmls(args)
      assert.are.equal(0, res.rc, table.concat(args, " ") .. "\n" .. res.out)
      local who = 0
      for _, line in ipairs(res.lines) do if line:match("^who ") then who = who + 1 end end
      assert.are.equal(2, who, table.concat(args, " ") .. ": not 2 workers\n" .. res.out)
    end
  end)

  it("-V and --version print the version", function()
    for _, flag in ipairs { "-V", "--version" } do
      local res = pmls({ flag })
      assert.are.equal(0, res.rc, res.out)
      assert.matches("^pmls %d+%.%d+%.%d+", res.out)
    end
  end)

  it("a mistyped engine option before the script: one usage line with the option meant", function()
    one_usage_line(pmls({ "run", "--wrokers", "2", SUM }), "--wrokers", "did you mean --workers?")
    one_usage_line(pmls({ "run", "--bogus", SUM }), "unknown engine option '--bogus'")
  end)

  it("a mistyped engine or script option after the script: the script's parser suggests either", function()
    one_usage_line(pmls({ "run", SUM, "--worker", "2" }), "'--worker'", "did you mean --workers?")
    one_usage_line(pmls({ "run", "models/mf_sgd.lua", "--data", "x", "--rnak", "8" }), "did you mean --rank?")
    local res = pmls({ "run", SUM, "--zzzzzz" })
    one_usage_line(res, "unknown option '--zzzzzz'")
    assert.is_nil(res.out:find("did you mean", 1, true), res.out)
  end)

  it("min, max and choices: a value outside them is a usage error naming the option", function()
    local s = bounded_script()
    one_usage_line(pmls({ "run", s, "--data", "x", "--k", "0" }), "--k", "at least 1")
    one_usage_line(pmls({ "run", s, "--data", "x", "--k", "101" }), "--k", "at most 100")
    one_usage_line(pmls({ "run", s, "--data", "x", "--rate", "1.5" }), "--rate", "at most 1")
    one_usage_line(pmls({ "run", s, "--data", "x", "--init", "rand" }), "--init", "kmeans++ or random")
    local res = pmls({ "run", s, "--data", "x", "--k", "100", "--init", "random", "-w", "1", "-q" })
    assert.are.equal(0, res.rc, res.out)
    assert.is_truthy(res.out:find("k=100 rate=0.5 init=random workers=1", 1, true), res.out)
  end)

  it("--help marks required options and shows bounds and choices", function()
    local res = pmls({ "run", bounded_script(), "--help" }, "stdout")
    assert.are.equal(0, res.rc, res.out)
    assert.matches("%-%-data STRING%s+input file %(required%)", res.out)
    assert.matches("%-%-k INT%s+clusters %(1 to 100; default: 3%)", res.out)
    assert.matches("%-%-init STRING%s+how to start %(kmeans%+%+ or random; default: kmeans%+%+%)", res.out)
    assert.matches("Engine options", res.out)
  end)

  it("option declarations with bad bounds are errors in the script, naming the option", function()
    local bad = helpers.tempdir() .. "/bad.lua"
    local f = assert(io.open(bad, "w"))
    f:write('local app = require("pmls").app("bad")\napp:option("name", "x", "text", { min = 1 })\nreturn app\n')
    f:close()
    local res = pmls({ "run", bad })
    assert.are_not.equal(0, res.rc, res.out)
    assert.is_truthy(res.out:find("bad argument 'min' to option (name", 1, true), res.out)
  end)

  it("the man page lists every engine option of `pmls help` and renders", function()
    local help = pmls({ "help" }, "stdout")
    local man = pmls({ "man" }, "stdout")
    assert.are.equal(0, man.rc)
    assert.matches("^%.TH PMLS 1", man.out)
    local n = 0
    for flag in help.out:gmatch("%-%-([%w][%w%-]*)") do
      if flag ~= "version" then
        n = n + 1
        assert.is_truthy(man.out:find("\\-\\-" .. flag:gsub("%-", "\\%-"), 1, true), "--" .. flag .. " not in the man page")
      end
    end
    assert.is_true(n >= 15, "too few options found in pmls help")
    local installed = helpers.read_file(helpers.root .. "/build/share/man/man1/pmls.1")
    assert.are.equal(man.out, installed, "build/share/man/man1/pmls.1 is not the command's own page")
    local rc, out = helpers.sh("command -v groff >/dev/null || exit 77; pmls_man=$(mktemp); " ..
                               helpers.quote(helpers.pmls_bin) .. " man > $pmls_man; " ..
                               "groff -man -Tutf8 -ww -z $pmls_man 2>&1; rm -f $pmls_man")
    if rc ~= 77 then assert.are.equal("", out, "groff warns about the man page") end
  end)

  it("bash completion: subcommands, engine options, choices and the script's own options", function()
    local comp = helpers.root .. "/build/share/bash-completion/completions/pmls"
    local function complete(words)
      local quoted = {}
      for i, w in ipairs(words) do quoted[i] = helpers.quote(w) end
      local cmd = ("PATH=%s:$PATH bash -c %s"):format(helpers.quote(helpers.root .. "/build/bin"), helpers.quote(
        ". " .. helpers.quote(comp) .. "; COMP_WORDS=(" .. table.concat(quoted, " ") .. "); " ..
        "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _pmls; printf '%s\\n' \"${COMPREPLY[@]}\""))
      local rc, out = helpers.sh(cmd .. " 2>&1")
      assert.are.equal(0, rc, out)
      local set = {}
      for line in out:gmatch("[^\n]+") do set[line] = true end
      return set, out
    end
    local got, out = complete { "pmls", "r" }
    assert.is_true(got.run, out)
    got, out = complete { "pmls", "run", "--wo" }
    assert.is_true(got["--workers"], out)
    got, out = complete { "pmls", "run", "--consistency", "e" }
    assert.is_true(got.essp, out)
    got, out = complete { "pmls", "run", "models/mf_sgd.lua", "--ra" }
    assert.is_true(got["--rank"], out)
  end)
end)

describe("errors a user can act on", function()
  teardown(helpers.cleanup)

  local function error_lines(out)
    local n = 0
    for line in out:gmatch("[^\n]+") do if line:match("^pmls: .*error") then n = n + 1 end end
    return n
  end

  it("a missing data file: one line naming it, no traceback, exit 1", function()
    local res = pmls({ "run", "models/mf_sgd.lua", "--data", "/nonexistent/ratings.txt" })
    assert.are.equal(1, res.rc, res.out)
    assert.are.equal(1, #res.lines, res.out)
    assert.matches("^pmls: error: /nonexistent/ratings%.txt:0: cannot open", res.lines[1])
  end)

  it("a malformed line in a job of two processes: one line for the job, with path:LINE", function()
    local bad = helpers.tempdir() .. "/bad.txt"
    local f = assert(io.open(bad, "w"))
    f:write("1 2 3\n1 x 4\n")
    f:close()
    local res = pmls({ "run", "models/mf_sgd.lua", "--data", bad, "-p", "2", "-w", "1" })
    assert.are.equal(1, res.rc, res.out)
    assert.are.equal(1, error_lines(res.out), res.out)
    assert.is_truthy(res.out:find(bad .. ":2: bad item id 'x'", 1, true), res.out)
    assert.is_nil(res.out:find("traceback", 1, true), res.out)
  end)

  -- nanomsg gives a process 512 sockets, and a shard answers every client
  -- of the job: -p 100 used to run 25 s into hundreds of "Too many open
  -- files" lines, or a crash, before a misleading error.
  it("-p beyond nanomsg's sockets: refused at once, saying the limit and what fits", function()
    local res = pmls({ "run", "-p", "100", "-w", "1", SUM })
    one_usage_line(res, "100 processes of 1 worker each", "nanomsg allows 512", "at most -p ")
    local fits = tonumber(res.lines[1]:match("at most %-p (%d+)"))
    assert.is_true(fits >= 32 and fits < 100, res.lines[1])
    local more = pmls({ "run", "-p", "40", "-w", "8", SUM })
    one_usage_line(more, "40 processes of 8 workers each", "-w 8")
  end)

  it("-p beyond the descriptor limit: refused at once, naming ulimit -n", function()
    -- a soft and hard limit of 300 (a shell's ulimit -n sets both)
    local rc, out = helpers.sh("ulimit -n 300 && " .. helpers.quote(helpers.pmls_bin) ..
                               " run -p 30 -w 1 " .. helpers.quote(SUM) .. " 2>&1")
    assert.are.equal(2, rc, out)
    assert.is_truthy(out:find("the limit (ulimit -n) is 300", 1, true), out)
    assert.is_truthy(out:find("or raise the limit", 1, true), out)
  end)

  -- A rank that ends before it joins (here: ssh cannot start it) used to
  -- leave rank 0 waiting out the 60 s join timeout.
  it("a rank that cannot start ends the job at once, naming it", function()
    local hosts = helpers.tempdir() .. "/hosts"
    local f = assert(io.open(hosts, "w"))
    f:write("localhost slots=1\nno-such-host.invalid slots=1\n")
    f:close()
    local rc, out = helpers.sh("PMLS_SSH=false " .. helpers.quote(helpers.pmls_bin) .. " run --hostfile " ..
                               helpers.quote(hosts) .. " -w 1 " .. helpers.quote(SUM) .. " 2>&1")
    assert.are.equal(1, rc, out)
    assert.is_truthy(out:find("rank 1 (pid ", 1, true), out)
    assert.is_truthy(out:find("exited with status 1 before the job started", 1, true), out)
    assert.is_nil(out:find("did not join", 1, true), out)
  end)

  it("engine options before the script reach every rank", function()
    local res = pmls({ "run", "-p", "3", "-w", "1", SUM })
    assert.are.equal(0, res.rc, res.out)
    assert.is_truthy(res.out:find("total (%d+) expected %1"), res.out)
    assert.is_nil(res.out:find("unknown command", 1, true), res.out)
  end)

  -- The shipped models declare their options' bounds: a bad value is a
  -- usage error naming the option, before any data is read.
  local bad_values = {
    { "models/mf_sgd.lua", { "--epochs", "0" }, "--epochs 0 needs --init-model" },
    { "models/mf_sgd.lua", { "--dtype", "f16" }, "bad value 'f16' for --dtype: float64 or float32 expected" },
    { "models/mf_sgd.lua", { "--lambda", "-1" }, "bad value '-1' for --lambda: at least 0 expected" },
    { "models/mf_block.lua", { "--rank", "0" }, "bad value '0' for --rank: at least 1 expected" },
    { "models/mf_ccd.lua", { "--inner", "0" }, "bad value '0' for --inner: at least 1 expected" },
    { "models/logreg.lua", { "--optimizer", "adam" }, "bad value 'adam' for --optimizer: saga or sgd expected" },
    { "models/logreg.lua", { "--average", "2" }, "bad value '2' for --average: at most 1 expected" },
    { "models/lasso.lua", { "--lambda", "1", "--scheduler", "random" }, "bad value 'random' for --scheduler" },
    { "models/lasso.lua", {}, "give exactly one of --lambda and --lambda-ratio" },
  }
  for _, case in ipairs(bad_values) do
    local script, args, says = case[1], case[2], case[3]
    it(script .. " " .. table.concat(args, " ") .. ": a usage error naming the option", function()
      local cmd = { "run", script, "--data", "/nonexistent/data.txt" }
      for _, a in ipairs(args) do cmd[#cmd + 1] = a end
      one_usage_line(pmls(cmd), says)
    end)
  end

  it("--trace brings the traceback back", function()
    local res = pmls({ "run", "models/mf_sgd.lua", "--data", "/nonexistent/r.txt", "--trace" })
    assert.are.equal(1, res.rc, res.out)
    assert.is_truthy(res.out:find("stack traceback", 1, true), res.out)
  end)

  it("an error in the script's own code keeps file:line and its traceback", function()
    local script = helpers.tempdir() .. "/oops.lua"
    local f = assert(io.open(script, "w"))
    f:write('local app = require("pmls").app("oops")\nfunction app:setup(ctx)\n  local t = nil\n  return t.x\nend\nreturn app\n')
    f:close()
    local res = pmls({ "run", script })
    assert.are.equal(1, res.rc, res.out)
    assert.is_truthy(res.out:find("oops.lua:4:", 1, true), res.out)
    assert.is_truthy(res.out:find("stack traceback", 1, true), res.out)
  end)
end)
