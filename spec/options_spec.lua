-- Spec for pmls.options (lua/pmls/options.lua): declaring a script's
-- options, parsing argv into typed values, usage errors raised as
-- {usage = "..."} tables that name the option, and the help text.
local options = require "pmls.options"

-- Declares options from a list of {name, default, help, opts} and returns it.
local function decl(...)
  local list = {}
  for _, d in ipairs({ ... }) do options.declare(list, d[1], d[2], d[3], d[4]) end
  return list
end

-- A typical script's option list.
local function sample()
  return decl(
    { "epochs", 10, "passes", { type = "int" } },
    { "lr", 0.5, "learning rate" },
    { "data", "train.txt", "input file" },
    { "verbose", false, "chatty", { short = "v" } },
    { "shuffle", true, "shuffle the data" },
    { "lambda-ratio", 0.25, "ratio of the two penalties" },
    { "rank", 8, "latent dimension", { type = "int", short = "k" } })
end

local function parse(argv, list)
  return options.parse(list or sample(), argv)
end

-- Parses argv expecting a usage error; returns its message.
local function usage_of(argv, list)
  local ok, err = pcall(options.parse, list or sample(), argv)
  assert.is_false(ok, "expected a usage error for: " .. table.concat(argv, " "))
  assert.are.equal("table", type(err), "the error should be a {usage=} table, got: " .. tostring(err))
  assert.are.equal("string", type(err.usage))
  return err.usage
end

describe("pmls.options", function()
  describe("parse()", function()
    it("returns every default when argv is empty", function()
      local opt = parse({})
      assert.are.same({ epochs = 10, lr = 0.5, data = "train.txt", verbose = false,
                        shuffle = true, lambda_ratio = 0.25, rank = 8 }, opt)
    end)

    it("converts int, number and string values to their types", function()
      local opt = parse({ "--epochs", "3", "--lr", "1e-3", "--data", "x.svm" })
      assert.are.equal(3, opt.epochs)
      assert.are.equal(1e-3, opt.lr)
      assert.are.equal("x.svm", opt.data)
      assert.are.equal("number", type(opt.epochs))
    end)

    it("accepts the --name=value form, keeping '=' inside the value", function()
      local opt = parse({ "--epochs=7", "--data=a=b.txt", "--lr=-2.5" })
      assert.are.equal(7, opt.epochs)
      assert.are.equal("a=b.txt", opt.data)
      assert.are.equal(-2.5, opt.lr)
    end)

    it("takes a value that starts with a dash after the option", function()
      assert.are.equal(-3, parse({ "--lr", "-3" }).lr)
    end)

    it("lets the last of repeated options win", function()
      assert.are.equal(2, parse({ "--epochs", "1", "--epochs", "2" }).epochs)
    end)

    it("maps --lambda-ratio and --lambda_ratio to opt.lambda_ratio", function()
      assert.are.equal(0.75, parse({ "--lambda-ratio", "0.75" }).lambda_ratio)
      assert.are.equal(0.5, parse({ "--lambda_ratio=0.5" }).lambda_ratio)
      assert.is_nil(parse({})["lambda-ratio"])
    end)

    it("sets a boolean with --flag and clears it with --no-flag", function()
      local opt = parse({ "--verbose", "--no-shuffle" })
      assert.is_true(opt.verbose)
      assert.is_false(opt.shuffle)
    end)

    it("reads --flag=false, --flag=true, --flag=0 and --flag=yes", function()
      assert.is_false(parse({ "--shuffle=false" }).shuffle)
      assert.is_true(parse({ "--verbose=true" }).verbose)
      assert.is_false(parse({ "--shuffle=0" }).shuffle)
      assert.is_true(parse({ "--verbose=yes" }).verbose)
    end)

    it("accepts short options, with a separate or an inline value", function()
      assert.is_true(parse({ "-v" }).verbose)
      assert.are.equal(16, parse({ "-k", "16" }).rank)
      assert.are.equal(32, parse({ "-k=32" }).rank)
    end)

    it("returns nil when --help or -h is asked for, wherever it is", function()
      assert.is_nil(parse({ "--help" }))
      assert.is_nil(parse({ "--epochs", "3", "-h" }))
    end)

    it("fills a required option from argv", function()
      local list = decl({ "data", nil, "input file", { required = true } })
      assert.are.equal("f.txt", options.parse(list, { "--data", "f.txt" }).data)
    end)

    it("leaves an option without default nil when it is not given", function()
      local list = decl({ "out", nil, "output file" })
      assert.is_nil(options.parse(list, {}).out)
    end)
  end)

  describe("parse() usage errors", function()
    it("names an unknown option", function()
      assert.matches("unknown option '%-%-frobnicate'", usage_of({ "--frobnicate" }))
      assert.matches("'%-%-frobnicate'", usage_of({ "--frobnicate=3" }))
      assert.matches("'%-x'", usage_of({ "-x" }))
    end)

    it("names an int option given a word or a fraction", function()
      local msg = usage_of({ "--epochs", "abc" })
      assert.matches("%-%-epochs", msg)
      assert.matches("'abc'", msg)
      assert.matches("%-%-epochs", usage_of({ "--epochs=2.5" }))
      assert.matches("%-%-rank", usage_of({ "-k", "x" }))
    end)

    it("names a number option given something that is not a number", function()
      assert.matches("%-%-lr", usage_of({ "--lr", "fast" }))
      assert.matches("%-%-lr", usage_of({ "--lr", "nan" }))
      assert.matches("%-%-lr", usage_of({ "--lr=" }))
    end)

    it("names a boolean option given a value that is not true or false", function()
      assert.matches("%-%-verbose", usage_of({ "--verbose=maybe" }))
    end)

    it("names an option whose value is missing at the end of argv", function()
      local msg = usage_of({ "--data" })
      assert.matches("%-%-data", msg)
      assert.matches("needs a value", msg)
    end)

    it("names a required option that was not given", function()
      local list = decl({ "data", nil, "input file", { required = true } })
      local msg = usage_of({}, list)
      assert.matches("%-%-data", msg)
      assert.matches("required", msg)
    end)

    it("names a stray positional argument", function()
      assert.matches("'stray'", usage_of({ "stray" }))
    end)

    it("refuses --no- for an option that is not a boolean", function()
      assert.matches("%-%-no%-epochs", usage_of({ "--no-epochs" }))
    end)

    it("raises without a file position in the message", function()
      assert.not_matches("options%.lua", usage_of({ "--frobnicate" }))
    end)
  end)

  describe("declare()", function()
    it("infers the type from the default", function()
      local list = decl({ "a", 1, "" }, { "b", true, "" }, { "c", "x", "" }, { "d", nil, "" })
      assert.are.same({ "number", "boolean", "string", "string" },
                      { list[1].type, list[2].type, list[3].type, list[4].type })
    end)

    it("stores the flag with dashes and the key with underscores", function()
      local list = decl({ "lambda_ratio", 1, "" }, { "l1-weight", 1, "" })
      assert.are.equal("--lambda-ratio", list[1].flag)
      assert.are.equal("lambda_ratio", list[1].key)
      assert.are.equal("--l1-weight", list[2].flag)
      assert.are.equal("l1_weight", list[2].key)
    end)

    it("raises naming 'name' for a name that is not an option name", function()
      for _, bad in ipairs({ "", "1abc", "a b", "-x", "x=y" }) do
        assert.has_error(function() decl({ bad, 1, "" }) end,
          ("bad argument 'name' to option (%q is not an option name)"):format(bad))
      end
      assert.has_error(function() decl({ nil, 1, "" }) end,
                       "bad argument 'name' to option (\"nil\" is not an option name)")
      assert.has_error(function() decl({ 5, 1, "" }) end,
                       "bad argument 'name' to option (\"5\" is not an option name)")
    end)

    it("raises naming 'type' for an unknown type", function()
      assert.has_error(function() decl({ "x", 1, "", { type = "float" } }) end,
        "bad argument 'type' to option (\"float\": int, number, string or boolean)")
    end)

    it("raises naming 'default' for an int option with a fractional default", function()
      assert.has_error(function() decl({ "x", 1.5, "", { type = "int" } }) end,
                       "bad argument 'default' to option (x is an int option)")
      assert.has_error(function() decl({ "x", "3", "", { type = "int" } }) end,
                       "bad argument 'default' to option (x is an int option)")
    end)

    it("raises naming 'default' when the default does not match a number or boolean type", function()
      local ok1, e1 = pcall(decl, { "x", "fast", "", { type = "number" } })
      local ok2, e2 = pcall(decl, { "y", "yes", "", { type = "boolean" } })
      assert.is_false(ok1, "a number option accepted the default \"fast\"")
      assert.matches("bad argument 'default'", e1)
      assert.is_false(ok2, "a boolean option accepted the default \"yes\"")
      assert.matches("bad argument 'default'", e2)
    end)

    it("raises naming 'help' when the help is not a string", function()
      assert.has_error(function() decl({ "x", 1, 42 }) end,
                       "bad argument 'help' to option (string expected, got number)")
    end)

    it("raises for an option declared twice, even spelled with a dash", function()
      assert.has_error(function() decl({ "a_b", 1, "" }, { "a_b", 2, "" }) end,
                       "option 'a_b' declared twice")
      assert.has_error(function() decl({ "a_b", 1, "" }, { "a-b", 2, "" }) end,
                       "option 'a-b' declared twice")
    end)

    it("raises when two options share a short name", function()
      local ok = pcall(decl, { "alpha", 1, "", { short = "a" } }, { "apple", 2, "", { short = "a" } })
      assert.is_false(ok, "two options were both given the short name -a")
    end)

    it("reports the error at the caller of app:option", function()
      local app = require("pmls.app").new("x")
      local line = debug.getinfo(1, "l").currentline + 1
      local ok, err = pcall(function() app:option("1bad", 1, "") end)
      assert.is_false(ok)
      assert.matches("options_spec%.lua:" .. line .. ":", err)
    end)
  end)

  describe("help()", function()
    local text
    before_each(function() text = options.help(sample(), "model.lua", "A model that learns.") end)

    it("starts with a usage line naming the script", function()
      assert.matches("^usage: pmls run model%.lua %[options%]", text)
    end)

    it("includes the description", function()
      assert.matches("A model that learns%.", text)
    end)

    it("lists every option with its type, help and default", function()
      assert.matches("%-%-epochs INT%s+passes %(default: 10%)", text)
      assert.matches("%-%-lr NUMBER%s+learning rate %(default: 0%.5%)", text)
      assert.matches("%-%-data STRING%s+input file %(default: train%.txt%)", text)
      assert.matches("%-v, %-%-verbose%s+chatty %(default: false%)", text)
      assert.matches("%-%-shuffle%s+shuffle the data %(default: true%)", text)
      assert.matches("%-%-lambda%-ratio NUMBER%s+ratio of the two penalties %(default: 0%.25%)", text)
      assert.matches("%-k, %-%-rank INT%s+latent dimension %(default: 8%)", text)
    end)

    it("has one line per option", function()
      local n = 0
      for line in text:gmatch("[^\n]+") do
        if line:match("^%s+%-") then n = n + 1 end
      end
      assert.are.equal(7, n)
    end)
  end)
end)
