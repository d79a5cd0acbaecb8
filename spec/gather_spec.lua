-- Spec for gathers (app:gather, ctx:gather, ctx:gathered): every worker
-- hands a few numbers to app:finish, the same as threads, as processes and
-- over tcp, every value exact and in its worker's place, although each
-- worker gathers as the last thing it does (one of them late) and only its
-- client's close carries the values (spec/fixtures/gather.lua). Then
-- misuse, and a sequence of runs on one engine, where each run must read
-- its own values only.
local helpers = require "helpers"
local appmod = require "pmls.app"

local GATHER = helpers.fixtures .. "/gather.lua"

local function run(args)
  local argv = { "run", GATHER, "-qq", "--timeout", "10" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return helpers.pmls(argv)
end

-- The lines finish prints for `workers` workers (skip: one that gathered
-- nothing), computed here from the values the fixture hands over.
local function expected_lines(workers, tag, skip)
  local lines = {}
  for w = 0, workers - 1 do
    if w == skip then
      lines[#lines + 1] = "none " .. w
    else
      lines[#lines + 1] = ("gathered %d %.17g %.17g %.17g %.17g")
                          :format(w, w, w / 10 + (tag or 0), (w + 1) / 3, w * w)
    end
  end
  return lines
end

describe("a gather at finish", function()
  after_each(helpers.cleanup)

  local deployments = {
    { "-w 3", { "-w", "3" }, 3 },
    { "-p 2 -w 2", { "-p", "2", "-w", "2" }, 4 },
    { "-p 2 -w 2 --transport tcp", { "-p", "2", "-w", "2", "--transport", "tcp" }, 4 },
  }
  for _, d in ipairs(deployments) do
    it(d[1] .. ": finish reads every worker's values, exact, in its worker's place", function()
      local r = run(d[2])
      assert.are.equal(0, r.rc, r.out)
      assert.are.same(expected_lines(d[3]), r.lines)
    end)
  end

  it("gives nil for a worker that gathered nothing", function()
    local r = run { "-p", "2", "-w", "2", "--skip", "2", "--tag", "0.5" }
    assert.are.equal(0, r.rc, r.out)
    assert.are.same(expected_lines(4, 0.5, 2), r.lines)
  end)

  local misuse = {
    { "setup", "gather is only available in app:worker" },
    { "finish", "gather is only available in app:worker" },
    { "gathered", "gathered is only available in app:finish" },
    { "count", "bad argument 'values' to gather (2 values, gather 'vals' takes 3)" },
    { "type", "bad argument 'values' to gather (values[2] is string, number expected)" },
    { "values", "bad argument 'values' to gather (a Lua array or an array of 3 numbers "
                .. "expected, got string)" },
    { "undeclared", "bad argument 'name' to gather (no gather named 'nope': declare it "
                    .. "with app:gather(name, n))" },
    { "twice", "bad argument 'name' to gather (worker 1 has gathered 'vals' already: "
               .. "once per worker) (in worker 1)" },
    { "finish_undeclared", "bad argument 'name' to gathered (no gather named 'nope'" },
    { "reserved", "bad argument 'name' to table (\"pmls.gather.vals\": names beginning "
                  .. "with 'pmls.' are the runtime's)" },
  }
  -- The fixture's line that raises the error of --misuse `case`.
  local function line_of(case)
    local n = 0
    for line in io.lines(GATHER) do
      n = n + 1
      if line:find('misuse == "' .. case .. '"', 1, true) then return n end
    end
    error("no line for --misuse " .. case)
  end
  for _, m in ipairs(misuse) do
    it("--misuse " .. m[1] .. ": exit 1, naming the script's line and the argument", function()
      local r = run { "-w", "2", "--misuse", m[1] }
      assert.are.equal(1, r.rc, r.out)
      local want = "gather.lua:" .. line_of(m[1]) .. ": " .. m[2]
      assert.is_truthy(r.out:find(want, 1, true), want .. "\n" .. r.out)
    end)
  end

  it("app:gather names a bad argument", function()
    local app = appmod.new("g")
    app:gather("ok_name-1", 2)
    local cases = {
      { function() app:gather(1, 2) end, "bad argument 'name' to gather (string expected, got number)" },
      { function() app:gather("a.b", 2) end,
        "bad argument 'name' to gather (\"a.b\": 1..40 letters, digits, '_' or '-')" },
      { function() app:gather(("x"):rep(41), 2) end, "1..40 letters" },
      { function() app:gather("n", 0) end,
        "bad argument 'n' to gather (a whole number 1..1000000 expected, got 0)" },
      { function() app:gather("n", 1.5) end, "got 1.5" },
      { function() app:gather("n") end, "got nil" },
      { function() app:gather("ok_name-1", 1) end,
        "bad argument 'name' to gather (\"ok_name-1\" is declared already)" },
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(c[1])
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find(c[2], 1, true), err)
      assert.matches("gather_spec%.lua:%d+:", err) -- the caller's line
    end
  end)

  it("reads only its own run's values in a sequence of runs on one engine", function()
    local root = helpers.root
    local E = helpers.engine { workers = 2, servers = 2,
                               lua_path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. root .. "/build/lua/?.lua" }
    finally(function() E:close() end)
    local ffi, C = E.ffi, E.C
    local function run_here(...)
      local args = { ... }
      local argv = ffi.new("const char *[?]", #args + 1, args)
      return C.pmls_run_script(E.e, root .. "/" .. GATHER, #args, argv)
    end
    -- the fixture's finish checks each value against this run's --tag
    assert.are.equal(0, run_here("--no-print", "--tag", "1", "--clocks", "1"), E.core.engine_error(E.e))
    assert.are.equal(0, run_here("--no-print", "--tag", "2", "--skip", "0"), E.core.engine_error(E.e))
    local id = ffi.new("int[1]")
    for _, name in ipairs { "pmls.gather.vals", "pmls.gather.one", "pmls.gather.vals.2", "pmls.gather.one.2" } do
      assert.are.equal(0, C.pmls_table_find(E.e, name, id), name)
    end
    assert.are_not.equal(0, C.pmls_table_find(E.e, "pmls.gather.vals.3", id))
  end)
end)
