-- Spec for pmls.runtime's encode/decode (the plain data that crosses from
-- app:setup to the worker states) and for the app object (pmls.app) that a
-- script returns.

-- Deep equality that also holds for NaN and tells -0 from +0.
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) == "number" then
    if a ~= a then return b ~= b end
    return a == b and 1 / a == 1 / b
  end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local function every_byte()
  local t = {}
  for i = 0, 255 do t[#t + 1] = string.char(i) end
  return table.concat(t)
end

describe("pmls.runtime", function()
  -- pmls.runtime loads libpmls (through pmls.core); required here so a
  -- failure to load it is reported against these specs only.
  local runtime = require "pmls.runtime"
  local encode, decode = runtime.encode, runtime.decode
  local function roundtrip(v) return decode(encode(v)) end

  describe("encode() and decode()", function()
    it("return a string that decodes to equal nested plain data", function()
      local v = { opt = { epochs = 5, lr = 0.1, data = "x.txt", verbose = false },
                  shared = { 1, 2, { deep = { deeper = { "z", true } } }, n = 3 } }
      local blob = encode(v)
      assert.is_string(blob)
      assert.is_true(same(v, decode(blob)))
    end)

    it("keep numbers exact: 0.1, 1e300, the smallest denormal, 2^53, -123.456", function()
      for _, x in ipairs({ 0.1, 1e300, -1e300, 5e-324, 2 ^ 53, -123.456, 1 / 3, 0 }) do
        local y = roundtrip({ x })[1]
        assert.are.equal(x, y)
      end
    end)

    it("keep the sign of -0", function()
      local y = roundtrip({ -0.0 })[1]
      assert.are.equal(0, y)
      assert.are.equal(-math.huge, 1 / y)
    end)

    it("keep infinities and NaN", function()
      local t = roundtrip({ a = math.huge, b = -math.huge, c = 0 / 0 })
      assert.are.equal(math.huge, t.a)
      assert.are.equal(-math.huge, t.b)
      assert.is_true(t.c ~= t.c)
    end)

    it("keep strings with quotes, backslashes, newlines and every byte", function()
      for _, s in ipairs({ "", 'say "hi"', "it's", "back\\slash", "line1\nline2\r\n",
                           "]]", "\0nul", every_byte() }) do
        assert.are.equal(s, roundtrip({ s })[1])
      end
    end)

    it("keep booleans, and number, boolean and string keys", function()
      local v = { [true] = "t", [false] = "f", [1.5] = "x", [-2] = "neg", ["1"] = "string one",
                  [1] = "number one", flag = false }
      assert.is_true(same(v, roundtrip(v)))
    end)

    it("keep a nil value", function()
      assert.is_nil(roundtrip(nil))
    end)

    it("refuse a function with a message about plain data", function()
      assert.has_error(function() encode({ f = print }) end,
        "app:setup may only return plain data (numbers, strings, booleans, tables); shared.f is a function")
    end)

    it("refuse userdata, cdata and coroutines, naming the type", function()
      local ffi = require "ffi"
      local cases = { userdata = io.stdout, cdata = ffi.new("int[1]"),
                      thread = coroutine.create(print) }
      for name, v in pairs(cases) do
        local ok, err = pcall(encode, { x = v })
        assert.is_false(ok)
        assert.matches("plain data", err)
        assert.matches("shared%.x is a " .. name .. "$", err)
      end
    end)

    it("name where in the data the refused value sits", function()
      local ok, err = pcall(encode, { shared = { model = { step = print } } })
      assert.is_false(ok)
      assert.is_truthy(err:find("step", 1, true),
                       "the message does not say which value was refused: " .. err)
    end)

    it("refuse a cycle with a clear message instead of overflowing the stack", function()
      local t = {}
      t.self = t
      assert.has_error(function() encode(t) end, "app:setup returned data nested too deep")
    end)

    it("decode in an empty environment, so a blob cannot reach globals", function()
      local ok, err = pcall(decode, "return os.exit(3)")
      assert.is_false(ok)
      assert.matches("os", err)
      assert.is_nil(decode("return print"))
    end)

    it("raise on a malformed blob", function()
      assert.has_error(function() decode("return {") end)
    end)
  end)
end)

describe("pmls.app", function()
  local appmod = require "pmls.app"

  describe("pmls.app(name, description)", function()
    it("makes an app that carries its name and description", function()
      local app = appmod.new("mf", "matrix factorization")
      assert.are.equal("mf", app.name)
      assert.are.equal("matrix factorization", app.description)
      assert.is_true(appmod.is_app(app))
    end)

    it("is what require('pmls').app is", function()
      assert.are.equal(appmod.new, require("pmls").app)
    end)

    it("tells apps from other tables", function()
      assert.is_false(appmod.is_app({ name = "mf" }))
      assert.is_false(appmod.is_app(nil))
    end)

    it("raises naming 'name' when the name is not a string", function()
      assert.has_error(function() appmod.new(nil) end,
                       "bad argument 'name' to pmls.app (string expected, got nil)")
      assert.has_error(function() appmod.new(42) end,
                       "bad argument 'name' to pmls.app (string expected, got number)")
    end)

    it("raises naming 'name' for an empty name, without saying 'got string'", function()
      local ok, err = pcall(appmod.new, "")
      assert.is_false(ok)
      assert.matches("bad argument 'name' to pmls.app", err)
      assert.not_matches("got string", err)
    end)
  end)

  describe("app:option()", function()
    it("declares an option and returns the app for chaining", function()
      local app = appmod.new("x")
      assert.are.equal(app, app:option("rank", 8, "latent dimension", { type = "int" }))
      assert.are.equal(1, #app.options)
      assert.are.equal("rank", app.options[1].key)
      assert.are.equal("int", app.options[1].type)
    end)
  end)

  describe("app:metric()", function()
    it("records the metric and how it combines, and returns the app", function()
      local app = appmod.new("x")
      assert.are.equal(app, app:metric("loss", "mean"))
      app:metric("examples", "sum")
      app:metric("lr", "last"):metric("best", "min"):metric("worst", "max")
      assert.are.same({ { name = "loss", how = "mean" }, { name = "examples", how = "sum" },
                        { name = "lr", how = "last" }, { name = "best", how = "min" },
                        { name = "worst", how = "max" } },
                      app.metrics)
    end)

    it("raises naming 'how' for anything but mean, sum, total, last, min or max", function()
      local app = appmod.new("x")
      assert.has_error(function() app:metric("loss", "avg") end,
                       "bad argument 'how' to metric (\"avg\": \"mean\", \"sum\", \"total\", \"last\", \"min\" or \"max\" expected)")
      assert.has_error(function() app:metric("loss") end,
                       "bad argument 'how' to metric (\"nil\": \"mean\", \"sum\", \"total\", \"last\", \"min\" or \"max\" expected)")
      assert.are.equal(0, #app.metrics)
    end)

    it("raises naming 'name' when the name is not a string", function()
      local app = appmod.new("x")
      assert.has_error(function() app:metric(nil, "sum") end,
                       "bad argument 'name' to metric (string expected, got nil)")
      assert.has_error(function() app:metric(3, "sum") end,
                       "bad argument 'name' to metric (string expected, got number)")
    end)

    it("raises naming 'name' for a name the engine would refuse", function()
      local app = appmod.new("x")
      for _, bad in ipairs({ "", "has space", 'quote"d' }) do
        local ok, err = pcall(app.metric, app, bad, "sum")
        assert.is_false(ok, ("metric name %q was accepted"):format(bad))
        assert.matches("bad argument 'name' to metric", err)
      end
    end)

    it("points the error at the script line that declared it", function()
      local app = appmod.new("x")
      local line = debug.getinfo(1, "l").currentline + 1
      local ok, err = pcall(function() app:metric("loss", "median") end)
      assert.is_false(ok)
      assert.matches("runtime_spec%.lua:" .. line .. ": bad argument 'how'", err)
    end)
  end)
end)

describe("metric kinds through the pmls command", function()
  local helpers = require "helpers"
  teardown(helpers.cleanup)

  for _, procs in ipairs { "1", "2" } do
    it("combine mean, sum, total, last, min and max per clock and over the run (-p " .. procs .. ")", function()
      local final, rows = helpers.run_model(helpers.fixtures .. "/metric_kinds.lua",
                                            { "-w", "2", "-p", procs, "--clocks", "3" })
      local P = 2 * tonumber(procs)
      for k = 1, 3 do
        local row = rows[k]
        assert.equal(k, row.clock)
        assert.equal(k * (P + 1) / 2, row.m)
        assert.equal(k * P * (P + 1) / 2, row.s)
        assert.equal(k * P * (P + 1) / 2, row.t)
        assert.equal(10 * k + 1, row.at)
        assert.equal(k, row.lo)
        assert.equal(P * k, row.hi)
      end
      -- the final object: every kind's last clock's value, a total's sum
      assert.equal(3 * (P + 1) / 2, final.m)
      assert.equal(3 * P * (P + 1) / 2, final.s)
      assert.equal(6 * P * (P + 1) / 2, final.t)       -- the sum over clocks
      assert.equal(31, final.at)
      assert.equal(3, final.lo)
      assert.equal(3 * P, final.hi)
    end)
  end
end)
