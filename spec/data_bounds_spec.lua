-- Spec for the hand-made data files of issue 14 through the Lua readers and `pmls run`: an empty
-- data set is an error naming the file (it ended `pmls run models/mf_sgd.lua --test empty` with
-- exit 0 and test_rmse NaN); an id past what the engine supports is refused at its line (2^31 - 1
-- ended a worker in a raw LuaJIT "size of C type is unknown or too large"); a Matrix Market size
-- line larger than its file is refused at that line; and a number is a decimal everywhere,
-- including the plain label files pmls.data parses in Lua (`0x10` was read as 16). The C readers'
-- own cases are in engine/src/data/bounds_test.c.

local helpers = require("helpers")
local data = require("pmls.data")

local dir
local count = 0
local function write(content, name)
  count = count + 1
  local path = dir .. "/" .. count .. "-" .. (name or "data.txt")
  local f = assert(io.open(path, "wb"))
  f:write(content)
  f:close()
  return path
end

local function fails_at(path, line, text, result, message)
  assert.is_nil(result)
  assert.is_string(message)
  local prefix = path .. ":" .. line .. ": "
  assert.are.equal(prefix, message:sub(1, #prefix))
  assert.truthy(message:find(text, 1, true), "expected '" .. text .. "' in: " .. message)
end

-- `pmls run` of a model: exits non-zero and the first line of stderr names the file and line.
local function run_fails(args, path, line, text)
  local r = helpers.pmls(args, "stderr")
  assert.are_not.equal(0, r.rc, r.out)
  local first = r.lines[1] or ""
  local where = path .. ":" .. line .. ": "
  assert.truthy(first:find(where, 1, true), "expected '" .. where .. "' in: " .. first)
  assert.truthy(first:find(text, 1, true), "expected '" .. text .. "' in: " .. first)
end

describe("hand-made data files", function()
  setup(function() dir = helpers.tempdir() end)
  teardown(function() helpers.cleanup() end)

  describe("empty data sets", function()
    it("are errors naming the file in every reader", function()
      local empty = write("")
      fails_at(empty, 0, "empty file (no ratings)", data.read_triplets(empty))
      fails_at(empty, 0, "empty file (no rows)", data.read_libsvm(empty))
      fails_at(empty, 0, "empty file (no documents)", data.read_ldac(empty))
      local header = write("userId,movieId,rating,timestamp\n", "ratings.csv")
      fails_at(header, 1, "a header and no ratings", data.read_triplets(header))
      local mm = write("%%MatrixMarket matrix coordinate real general\n100000000 1 0\n", "e.mtx")
      fails_at(mm, 2, "the size line declares no entries", data.read_mm(mm))
      local docword = write("2\n3\n0\n")
      fails_at(docword, 3, "NNZ, the number of entries is 0", data.read_docword(docword))
    end)

    it("end `pmls run` with an error naming the file, for --data and --test", function()
      local empty = write("", "empty.txt")
      local train = write("0 0 3\n1 1 4\n0 1 2\n", "train.txt")
      run_fails({ "run", "models/mf_sgd.lua", "--data", empty }, empty, 0, "empty file (no ratings)")
      run_fails({ "run", "models/mf_sgd.lua", "--data", train, "--test", empty }, empty, 0,
        "empty file (no ratings)")
      local header = write("userId,movieId,rating\n", "header.csv")
      run_fails({ "run", "models/mf_sgd.lua", "--data", header }, header, 1,
        "a header and no ratings")
    end)
  end)

  describe("ids and sizes", function()
    it("past the engine's are refused at their line", function()
      local ids = write("1 1 3\n2147483647 0 3\n")
      fails_at(ids, 2, "bad user id '2147483647' (integer in [0, 268435453] expected)",
        data.read_triplets(ids))
      local mm = write("%%MatrixMarket matrix coordinate real general\n2147483647 1 1\n1 1 1\n",
        "big.mtx")
      fails_at(mm, 2, "larger than the engine reads", data.read_mm(mm))
      local svm = write("1 2147483647:1\n")
      fails_at(svm, 1, "bad feature index '2147483647'", data.read_libsvm(svm))
    end)

    it("end `pmls run` at the file's line, not in a raw LuaJIT error", function()
      local ids = write("0 0 3\n2147483647 1 4\n", "bigid.txt")
      run_fails({ "run", "models/mf_sgd.lua", "--data", ids }, ids, 2, "bad user id '2147483647'")
    end)

    it("a size line larger than its file is refused at that line", function()
      local mm = write("%%MatrixMarket matrix coordinate real general\n100000000 1 1\n1 1 1\n",
        "rows.mtx")
      fails_at(mm, 2, "declares 100000000 rows, more than the file can hold", data.read_mm(mm))
    end)
  end)

  describe("numbers", function()
    local NOT_DECIMAL = { "0x10", "inf", "-inf", "nan", "0b101", "1e", "0x1p4", "." }

    it("that are not decimals are refused by every reader", function()
      for _, x in ipairs(NOT_DECIMAL) do
        local r = write("1 1 3\n0 0 " .. x .. "\n")
        fails_at(r, 2, "bad rating '" .. x .. "'", data.read_triplets(r))
        local s = write(x .. " 1:1\n")
        fails_at(s, 1, "bad label '" .. x .. "'", data.read_libsvm(s))
        local m = write("%%MatrixMarket matrix coordinate real general\n1 1 1\n1 1 " .. x .. "\n",
          "m.mtx")
        fails_at(m, 3, "bad value '" .. x .. "'", data.read_mm(m))
      end
    end)

    it("that are not decimals are refused in a plain label file (parsed in Lua)", function()
      local x = write("%%MatrixMarket matrix coordinate real general\n3 1 1\n1 1 1\n", "x.mtx")
      for _, bad in ipairs(NOT_DECIMAL) do
        local labels = write("1\n" .. bad .. "\n3\n")
        fails_at(labels, 2, "bad label '" .. bad .. "' (finite decimal number expected)",
          data.read_mm(x, { labels = labels }))
      end
      local ds = assert(data.read_mm(x, { labels = write("1e1\n.5\n-2.\n") }))
      assert.are.same({ 10, 0.5, -2 }, { ds.y[0], ds.y[1], ds.y[2] })
    end)

    it("`pmls run` refuses a hex rating at its line", function()
      local hex = write("0 0 3\n0 1 0x10\n1 1 4\n", "hex.txt")
      run_fails({ "run", "models/mf_sgd.lua", "--data", hex }, hex, 2, "bad rating '0x10'")
    end)
  end)
end)
