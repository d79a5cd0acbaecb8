-- Spec for pmls.data: exact parsing of small libsvm, Matrix Market and rating fixtures (plain and
-- gzip, and the path.gz fallback), every error path with its file:line, shard partitioning, the
-- CSC copy, the synthetic generators' determinism and statistics, and the shapes of the staged
-- benchmark sets when they are present.
--
-- Run: luajit /usr/bin/busted --lpath='./lua/?.lua;./lua/?/init.lua' spec/data_spec.lua

local ffi = require("ffi")
local data = require("pmls.data")

local spec_dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local data_dir = os.getenv("PMLS_DATA") or (spec_dir .. "/../../shared/data")

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- Temporary files live in a fresh directory per run so that names with odd characters can be
-- tested and everything is removed in one go at the end.
local temp_dir
local temp_count = 0

local function temp_path(name)
  temp_count = temp_count + 1
  return temp_dir .. "/" .. temp_count .. "-" .. name
end

local function shell_quote(s)
  return "'" .. (s:gsub("'", "'\\''")) .. "'"
end

local function write_file(path, content)
  local f = assert(io.open(path, "wb"))
  f:write(content)
  f:close()
  return path
end

local function write_temp(content, name)
  return write_file(temp_path(name or "data.txt"), content)
end

local function write_gzip(content, name)
  local plain = write_temp(content, "plain.txt")
  local path = temp_path(name or "data.svm.gz")
  assert(os.execute("gzip -c " .. shell_quote(plain) .. " > " .. shell_quote(path)))
  return path
end

local function array_to_table(array, count)
  local out = {}
  for i = 0, count - 1 do out[i + 1] = tonumber(array[i]) end
  return out
end

local function row_entries(ds, r)
  local out = {}
  for t = tonumber(ds.rowptr[r]), tonumber(ds.rowptr[r + 1]) - 1 do
    out[#out + 1] = { tonumber(ds.col[t]), ds.val[t] }
  end
  return out
end

local function same_csr(a, b)
  if a.n ~= b.n or a.d ~= b.d or a.nnz ~= b.nnz then return false end
  return ffi.string(a.y, 8 * a.n) == ffi.string(b.y, 8 * b.n)
    and ffi.string(a.rowptr, 8 * (a.n + 1)) == ffi.string(b.rowptr, 8 * (b.n + 1))
    and ffi.string(a.col, 4 * a.nnz) == ffi.string(b.col, 4 * b.nnz)
    and ffi.string(a.val, 8 * a.nnz) == ffi.string(b.val, 8 * b.nnz)
end

-- The error contract: nil plus "path:LINE: message".
local function assert_fails_at(path, line, expected_text, result, message)
  assert.is_nil(result)
  assert.is_string(message)
  local prefix = path .. ":" .. line .. ": "
  assert.are.equal(prefix, message:sub(1, #prefix))
  assert.truthy(message:find(expected_text, 1, true),
    "expected '" .. expected_text .. "' in: " .. message)
end

local LIBSVM_FIXTURE = table.concat({
  "# a header comment line",
  "+1 1:0.5 3:-2 10:1e-3",
  "",
  "-1 qid:7 2:4 # trailing comment",
  "   \t  ",
  "0.25 5:3.0 4:1.5 1:7\r", -- unsorted, CRLF
  "-1",                     -- a row with no features
  "2 3:.5 6:1E+2#comment glued to the value",
}, "\n") -- no final newline on purpose

describe("pmls.data", function()
  setup(function()
    local name = os.tmpname()
    os.remove(name)
    temp_dir = name .. ".d"
    assert(os.execute("mkdir -p " .. shell_quote(temp_dir)))
  end)

  teardown(function()
    if temp_dir then os.execute("rm -rf " .. shell_quote(temp_dir)) end
  end)

  describe("read_libsvm", function()
    it("parses labels, features, comments, blank lines, qid, CRLF and unsorted rows exactly", function()
      local ds = assert(data.read_libsvm(write_temp(LIBSVM_FIXTURE)))
      assert.are.equal(5, ds.n)
      assert.are.equal(10, ds.d)
      assert.are.equal(9, ds.nnz)
      assert.are.same({ 1, -1, 0.25, -1, 2 }, array_to_table(ds.y, ds.n))
      assert.are.same({ 0, 3, 4, 7, 7, 9 }, array_to_table(ds.rowptr, ds.n + 1))
      -- 0-based columns; the unsorted row comes back sorted with its values moved along.
      assert.are.same({ 0, 2, 9, 1, 0, 3, 4, 2, 5 }, array_to_table(ds.col, ds.nnz))
      assert.are.same({ 0.5, -2, 1e-3, 4, 7, 1.5, 3, 0.5, 100 }, array_to_table(ds.val, ds.nnz))
    end)

    it("allocates arrays of exactly the right FFI types and sizes", function()
      local ds = assert(data.read_libsvm(write_temp(LIBSVM_FIXTURE)))
      assert.are.equal(8 * ds.n, ffi.sizeof(ds.y))
      assert.are.equal(8 * (ds.n + 1), ffi.sizeof(ds.rowptr))
      assert.are.equal(4 * ds.nnz, ffi.sizeof(ds.col))
      assert.are.equal(8 * ds.nnz, ffi.sizeof(ds.val))
      assert.is_true(ffi.istype("int32_t[?]", ds.col))
      assert.is_true(ffi.istype("int64_t[?]", ds.rowptr))
      assert.is_true(ffi.istype("double[?]", ds.y))
      assert.is_true(ffi.istype("double[?]", ds.val))
    end)

    it("converts every number to the same double as tonumber does", function()
      local texts = { "0.1", "0.7", "1e-5", "-3.14159265358979323846", "123456789012345678",
        "9007199254740993", "1.7976931348623157e308", "2.2250738585072014e-308", "4.9e-324",
        "-0", ".5", "5.", "1E+22", "1e23", "0.000001234567890123", "6.02214076e23", "+2.5",
        "1e-400" } -- hex, inf and nan are refused: spec/data_bounds_spec.lua
      local parts = { "1" }
      for k, text in ipairs(texts) do parts[#parts + 1] = k .. ":" .. text end
      local ds = assert(data.read_libsvm(write_temp(table.concat(parts, " ") .. "\n")))
      assert.are.equal(#texts, ds.nnz)
      for k, text in ipairs(texts) do
        local expected = tonumber(text)
        assert.are.equal(expected, ds.val[k - 1], "value " .. text)
        -- Compare the bits as well, which also distinguishes -0 from 0.
        local expected_bits = ffi.new("double[1]", expected)
        assert.are.equal(ffi.string(expected_bits, 8), ffi.string(ds.val + (k - 1), 8), "bits of " .. text)
      end
    end)

    it("grows its arrays past the initial capacity", function()
      local lines = {}
      for r = 1, 3000 do
        lines[r] = (r % 2 == 0 and "+1" or "-1") .. " " .. r .. ":" .. r .. " " .. (r + 1) .. ":0.5"
          .. " " .. (r + 2) .. ":" .. (r % 7) .. " " .. (r + 3) .. ":1 " .. (r + 4) .. ":2 " .. (r + 5) .. ":3"
      end
      local ds = assert(data.read_libsvm(write_temp(table.concat(lines, "\n") .. "\n")))
      assert.are.equal(3000, ds.n)
      assert.are.equal(18000, ds.nnz)
      assert.are.equal(3005, ds.d)
      assert.are.equal(-1, ds.y[2998])
      assert.are.equal(1, ds.y[2999])
      assert.are.same({ { 2999, 3000 }, { 3000, 0.5 }, { 3001, 3000 % 7 }, { 3002, 1 }, { 3003, 2 },
        { 3004, 3 } }, row_entries(ds, 2999))
    end)

    it("reads gzip files transparently, including names that need shell quoting", function()
      local plain = assert(data.read_libsvm(write_temp(LIBSVM_FIXTURE)))
      local gz = assert(data.read_libsvm(write_gzip(LIBSVM_FIXTURE, "train.svm.gz")))
      assert.is_true(same_csr(plain, gz))
      local odd = assert(data.read_libsvm(write_gzip(LIBSVM_FIXTURE, "it's a $(file) `x` \"y\".gz")))
      assert.is_true(same_csr(plain, odd))
      -- Compressed content is recognised by its magic bytes even without the .gz suffix.
      local unsuffixed = assert(data.read_libsvm(write_gzip(LIBSVM_FIXTURE, "compressed.svm")))
      assert.is_true(same_csr(plain, unsuffixed))
    end)

    it("refuses a file without a row, naming it", function()
      local path = write_temp("\n# nothing\n\n")
      assert_fails_at(path, 3, "no rows (only comments and blank lines)", data.read_libsvm(path))
    end)

    it("uses opts.d when it is larger than the largest index", function()
      local ds = assert(data.read_libsvm(write_temp(LIBSVM_FIXTURE), { d = 50 }))
      assert.are.equal(50, ds.d)
      local exact = assert(data.read_libsvm(write_temp(LIBSVM_FIXTURE), { d = 10 }))
      assert.are.equal(10, exact.d)
    end)

    describe("reports runtime failures as nil, 'path:LINE: message'", function()
      local cases = {
        { "a missing file", nil, 0, "cannot open: No such file or directory" },
        { "a bad label", "1 1:1\nabc 1:1\n", 2, "bad label 'abc'" },
        { "a NaN label", "nan 1:1\n", 1, "bad label 'nan'" },
        { "a feature without a colon", "1 1:1\n\n-1 2:1 7\n", 3, "missing ':' in feature '7'" },
        { "feature index 0", "1 0:1\n", 1, "bad feature index '0' in '0:1'" },
        { "a negative index", "1 2:1\n-1 -3:1\n", 2, "bad feature index '-3' in '-3:1'" },
        { "a non-numeric index", "1 x:1\n", 1, "bad feature index 'x' in 'x:1'" },
        { "a fractional index", "1 1.5:1\n", 1, "bad feature index '1.5'" },
        { "an index beyond int32", "1 3000000000:1\n", 1, "bad feature index '3000000000'" },
        { "a missing value", "1 1:1\n1 4:\n", 2, "missing value in '4:'" },
        { "a bad value", "1 4:1.2.3\n", 1, "bad feature value '1.2.3' in '4:1.2.3'" },
        { "an infinite value", "1 4:1e400\n", 1, "bad feature value '1e400'" },
        { "a duplicate index in sorted order", "1 1:1\n1 2:1 2:3\n", 2, "duplicate feature index 2" },
        { "a duplicate index out of order", "1 5:1 2:1 5:3\n", 1, "duplicate feature index 5" },
      }
      for _, case in ipairs(cases) do
        local what, content, line, text = case[1], case[2], case[3], case[4]
        it("for " .. what, function()
          local path = content and write_temp(content) or temp_path("does-not-exist.svm")
          local ds, err = data.read_libsvm(path)
          assert_fails_at(path, line, text, ds, err)
        end)
      end

      it("for an index above opts.d", function()
        local path = write_temp("1 1:1\n1 2:1 12:1\n")
        assert_fails_at(path, 2, "feature index 12 exceeds opts.d = 10", data.read_libsvm(path, { d = 10 }))
      end)

      it("for the same errors inside a gzip file", function()
        local path = write_gzip("1 1:1\n\n1 2:x\n")
        assert_fails_at(path, 3, "bad feature value 'x'", data.read_libsvm(path))
      end)

      it("for a .gz file that is not gzip data", function()
        local path = write_temp("1 1:1\n", "not-really.gz")
        assert_fails_at(path, 0, "cannot decompress: not in gzip format", data.read_libsvm(path))
      end)

      it("for a truncated gzip file rather than returning the rows it got", function()
        local lines = {}
        for r = 1, 2000 do lines[r] = "1 " .. r .. ":" .. (r * 0.37) end
        local whole = write_gzip(table.concat(lines, "\n") .. "\n")
        local f = assert(io.open(whole, "rb"))
        local bytes = f:read("*a")
        f:close()
        local path = write_file(temp_path("truncated.gz"), bytes:sub(1, math.floor(#bytes / 2)))
        local ds, err = data.read_libsvm(path)
        assert.is_nil(ds)
        assert.truthy(err:match("^" .. path:gsub("%p", "%%%0") .. ":%d+: cannot decompress: unexpected end of file$"), err)
      end)

      it("for a gzip file corrupted in the middle, at the line reached", function()
        local lines = {}
        -- Big enough that the damage lies beyond the reader's first 1 MiB of text.
        for r = 1, 200000 do lines[r] = "1 " .. r .. ":" .. (r * 0.37) .. " " .. (r + 1) .. ":" .. (r % 13) end
        local whole = write_gzip(table.concat(lines, "\n") .. "\n")
        local f = assert(io.open(whole, "rb"))
        local bytes = f:read("*a")
        f:close()
        local middle = math.floor(#bytes / 2)
        local path = write_file(temp_path("corrupt.gz"),
          bytes:sub(1, middle) .. string.rep("\255", 64) .. bytes:sub(middle + 65))
        local ds, err = data.read_libsvm(path)
        assert.is_nil(ds)
        local line = tonumber(err:match("^" .. path:gsub("%p", "%%%0") .. ":(%d+): cannot decompress: "))
        assert.truthy(line, err)
        assert.is_true(line > 0 and line < 200000, err)
      end)

      it("for a directory", function()
        assert_fails_at(temp_dir, 0, "cannot read", data.read_libsvm(temp_dir))
      end)
    end)

    it("raises on misuse", function()
      assert.has_error(function() data.read_libsvm(nil) end,
        "bad argument 'path' (string expected, got nil)")
      assert.has_error(function() data.read_libsvm(42) end,
        "bad argument 'path' (string expected, got number)")
      local path = write_temp(LIBSVM_FIXTURE)
      assert.has_error(function() data.read_libsvm(path, "d=3") end)
      assert.has_error(function() data.read_libsvm(path, { rows = { first = 0, step = 2 } }) end,
        "unknown option 'rows' to read_libsvm")
      assert.has_error(function() data.read_libsvm(path, { d = -1 }) end)
      assert.has_error(function() data.read_libsvm(path, { d = 2.5 }) end)
      assert.has_error(function() data.read_libsvm(path, { shard = { index = 2, count = 2 } }) end)
      assert.has_error(function() data.read_libsvm(path, { shard = { index = 0, count = 0 } }) end)
      assert.has_error(function() data.read_libsvm(path, { shard = 3 }) end)
    end)

    it("points misuse errors at the caller's line", function()
      local ok, err = pcall(function() data.read_libsvm(nil) end)
      assert.is_false(ok)
      assert.truthy(err:find("data_spec.lua:%d+: bad argument 'path'"), err)
    end)

    describe("with opts.shard", function()
      it("partitions the rows: every row in exactly one shard, in file order", function()
        local path = write_temp(LIBSVM_FIXTURE)
        local whole = assert(data.read_libsvm(path))
        for _, count in ipairs({ 1, 2, 3, 7 }) do
          local seen = {}
          for index = 0, count - 1 do
            local part = assert(data.read_libsvm(path, { shard = { index = index, count = count } }))
            assert.are.equal(whole.d, part.d) -- dimensions come from the whole file
            local previous = -1
            for k = 0, part.n - 1 do
              local r = index + k * count
              assert.is_true(r > previous)
              previous = r
              assert.is_nil(seen[r], "row " .. r .. " in two shards")
              seen[r] = true
              assert.are.equal(whole.y[r], part.y[k])
              assert.are.same(row_entries(whole, r), row_entries(part, k))
            end
            assert.are.equal(tonumber(part.rowptr[part.n]), part.nnz)
          end
          for r = 0, whole.n - 1 do assert.is_true(seen[r], "row " .. r .. " in no shard") end
        end
      end)

      it("still validates the rows it does not keep", function()
        local path = write_temp("1 1:1\n-1 2:1\n1 x:1\n")
        assert_fails_at(path, 3, "bad feature index 'x'",
          data.read_libsvm(path, { shard = { index = 1, count = 2 } }))
      end)
    end)

    describe("with opts.engine", function()
      local helpers = require "helpers"
      local E
      before_each(function() E = helpers.engine() end)
      after_each(function() E:close() end)

      it("parses a file once: every caller gets the engine's read-only arrays", function()
        local path = write_gzip(LIBSVM_FIXTURE, "shared.svm.gz")
        local own = assert(data.read_libsvm(path))
        local a = assert(data.read_libsvm(path, { engine = E.e }))
        local b = assert(data.read_matrix(path, { engine = E.e }))
        assert.is_true(same_csr(own, a))
        assert.is_true(a.shared)
        assert.are.equal(ffi.cast("intptr_t", a.val), ffi.cast("intptr_t", b.val))
        assert.are.equal(ffi.cast("intptr_t", a.y), ffi.cast("intptr_t", b.y))
        assert.has_error(function() a.val[0] = 1 end)
        assert.are.equal(0.5, a.val[0])
        -- Another spelling of the same file shares the parse too.
        local dir, name = path:match("^(.*)/([^/]*)$")
        local c = assert(data.read_libsvm(dir .. "/./" .. name, { engine = E.e }))
        assert.are.equal(ffi.cast("intptr_t", a.val), ffi.cast("intptr_t", c.val))
      end)

      it("gives shards and opts.d like a private read", function()
        local path = write_temp(LIBSVM_FIXTURE)
        for index = 0, 2 do
          local opts = { shard = { index = index, count = 3 }, d = 40 }
          local private = assert(data.read_libsvm(path, opts))
          opts.engine = E.e
          local shared = assert(data.read_libsvm(path, opts))
          assert.is_nil(shared.shared) -- a copy the caller owns
          assert.is_true(same_csr(private, shared))
          shared.val[0] = 7 -- writable, and not the engine's
        end
        assert.are.equal(0.5, assert(data.read_libsvm(path, { engine = E.e })).val[0])
        assert_fails_at(path, 2, "feature index 10 exceeds opts.d = 6",
          data.read_libsvm(path, { engine = E.e, d = 6 }))
      end)

      it("reads a file again once it changed", function()
        local path = write_temp("1 1:1\n")
        local first = assert(data.read_libsvm(path, { engine = E.e }))
        assert.are.equal(1, first.n)
        write_file(path, "1 1:1\n-1 2:3\n")
        local second = assert(data.read_libsvm(path, { engine = E.e }))
        assert.are.equal(2, second.n)
        assert.are.equal(3, second.val[1])
      end)

      it("reports the same errors and keeps nothing of a failed read", function()
        local path = write_temp("1 1:1\nabc 1:1\n")
        assert_fails_at(path, 2, "bad label 'abc'", data.read_libsvm(path, { engine = E.e }))
        assert_fails_at(path, 2, "bad label 'abc'", data.read_libsvm(path, { engine = E.e }))
        local missing = temp_path("missing.svm")
        assert_fails_at(missing, 0, "cannot open: No such file or directory",
          data.read_libsvm(missing, { engine = E.e }))
      end)

      it("refuses an engine that is not one", function()
        assert.has_error(function() data.read_libsvm("x", { engine = 3 }) end,
          "bad option 'engine' (pmls_engine * expected, got number 3)")
      end)
    end)

    it("reads lines longer than the reader's buffer", function()
      local parts = { "-1" }
      for k = 1, 120000 do parts[#parts + 1] = k .. ":" .. (k % 97) / 8 end
      local long = table.concat(parts, " ")
      assert.is_true(#long > 1024 * 1024)
      for _, path in ipairs({ write_temp("1 3:1\n" .. long .. "\n2 1:2"), write_gzip("1 3:1\n" .. long .. "\n2 1:2") }) do
        local ds = assert(data.read_libsvm(path))
        assert.are.equal(3, ds.n)
        assert.are.equal(120002, ds.nnz)
        assert.are.equal(-1, ds.y[1])
        assert.are.equal((99999 % 97) / 8, ds.val[1 + 99998])
        assert.are.equal(2, ds.y[2])
      end
    end)
  end)

  describe("read_triplets", function()
    local TRIPLETS = "1\t10\t5\t881250949\n\n2  20 3.5\n# comment\n  7 1 1 874965758  \n3 3 4 # late\n"

    local function check_triplets(set)
      assert.are.equal("triplets", set.kind)
      assert.are.equal(4, set.n)
      assert.are.same({ 1, 2, 7, 3 }, array_to_table(set.user, set.n))
      assert.are.same({ 10, 20, 1, 3 }, array_to_table(set.item, set.n))
      assert.are.same({ 5, 3.5, 1, 4 }, array_to_table(set.rating, set.n))
      assert.are.equal(7, set.max_user)
      assert.are.equal(20, set.max_item)
      assert.are.equal(4 * set.n, ffi.sizeof(set.user))
      assert.are.equal(8 * set.n, ffi.sizeof(set.rating))
    end

    it("parses 3- and 4-field lines exactly", function()
      check_triplets(assert(data.read_triplets(write_temp(TRIPLETS))))
    end)

    it("reads gzip files", function()
      check_triplets(assert(data.read_triplets(write_gzip(TRIPLETS, "ratings.gz"))))
    end)

    it("grows past the initial capacity", function()
      local lines = {}
      for r = 1, 10000 do lines[r] = r .. " " .. (r % 97) .. " " .. (r % 5 + 1) end
      local set = assert(data.read_triplets(write_temp(table.concat(lines, "\n"))))
      assert.are.equal(10000, set.n)
      assert.are.equal(10000, set.user[9999])
      assert.are.equal(10000 % 97, set.item[9999])
      assert.are.equal(96, set.max_item)
    end)

    local cases = {
      { "a missing file", nil, 0, "cannot open" },
      { "too few fields", "1 2 3\n1 2\n", 2, "expected 'user item rating [timestamp]', got 2 fields" },
      { "too many fields", "1 2 3 4 5\n", 1, "got 5 fields" },
      { "a negative user", "\n-1 2 3\n", 2, "bad user id '-1'" },
      { "a non-numeric item", "1 b 3\n", 1, "bad item id 'b'" },
      { "a fractional item", "1 2.5 3\n", 1, "bad item id '2.5'" },
      { "a bad rating", "1 2 3\n1 2 x\n", 2, "bad rating 'x'" },
      { "a bad timestamp", "1 2 3 soon\n", 1, "bad timestamp 'soon'" },
    }
    for _, case in ipairs(cases) do
      local what, content, line, text = case[1], case[2], case[3], case[4]
      it("fails with path:LINE for " .. what, function()
        local path = content and write_temp(content) or temp_path("missing.data")
        assert_fails_at(path, line, text, data.read_triplets(path))
      end)
    end

    it("fails for a corrupt gzip file", function()
      local path = write_temp("1 2 3\n", "ratings.gz")
      assert_fails_at(path, 0, "cannot decompress: not in gzip format", data.read_triplets(path))
    end)

    it("raises on misuse", function()
      assert.has_error(function() data.read_triplets() end,
        "bad argument 'path' (string expected, got nil)")
      assert.has_error(function() data.read_triplets(write_temp(TRIPLETS), { d = 3 }) end,
        "unknown option 'd' to read_triplets")
    end)

    it("reads comma-separated files with a header line, as MovieLens ratings.csv", function()
      check_triplets(assert(data.read_triplets(write_temp(
        "userId,movieId,rating,timestamp\r\n1,10,5,881250949\n\n2, 20 ,3.5\n# c\n7,1,1,874965758\n3,3,4 # late\n",
        "ratings.csv"))))
      local path = write_temp("1,2,3\n1 2 3\n")
      assert_fails_at(path, 2, "expected 'user item rating [timestamp]', got 1 fields",
        data.read_triplets(path))
      path = write_temp("u,i,r\n1,2,3\nu,i,r\n")
      assert_fails_at(path, 3, "bad user id 'u'", data.read_triplets(path))
    end)

    describe("with opts.engine", function()
      local helpers = require "helpers"
      local E
      before_each(function() E = helpers.engine() end)
      after_each(function() E:close() end)

      local function same_triplets(a, b)
        return a.n == b.n and a.max_user == b.max_user and a.max_item == b.max_item
          and ffi.string(a.user, 4 * a.n) == ffi.string(b.user, 4 * b.n)
          and ffi.string(a.item, 4 * a.n) == ffi.string(b.item, 4 * b.n)
          and ffi.string(a.rating, 8 * a.n) == ffi.string(b.rating, 8 * b.n)
      end

      it("parses a file once: every caller gets the engine's read-only arrays", function()
        local path = write_gzip(TRIPLETS, "shared.data.gz")
        local own = assert(data.read_triplets(path))
        local a = assert(data.read_triplets(path, { engine = E.e }))
        local b = assert(data.read_triplets(path, { engine = E.e }))
        assert.is_true(a.shared)
        assert.is_true(same_triplets(own, a))
        assert.are.equal(ffi.cast("intptr_t", a.rating), ffi.cast("intptr_t", b.rating))
        assert.has_error(function() a.rating[0] = 1 end)
        assert.are.equal(5, a.rating[0])
        local part = assert(data.read_triplets(path, { engine = E.e, shard = { index = 1, count = 2 } }))
        assert.is_nil(part.shared) -- a copy the caller owns
        assert.is_true(same_triplets(assert(data.read_triplets(path, { shard = { index = 1, count = 2 } })), part))
        part.rating[0] = 9
        assert.are.equal(3.5, a.rating[1])
        assert_fails_at(path .. ".missing", 0, "cannot open", data.read_triplets(path .. ".missing", { engine = E.e }))
      end)

      it("gives a range subset as a view of the engine's arrays, a function subset as a copy", function()
        local path = write_temp(TRIPLETS)
        local all = assert(data.read_triplets(path, { engine = E.e }))
        local view = data.subset(all, { first = 1, count = 2 })
        assert.is_true(view.shared)
        assert.are.equal(2, view.n)
        assert.are.equal(all.max_user, view.max_user)
        assert.are.equal(ffi.cast("intptr_t", all.item + 1), ffi.cast("intptr_t", view.item))
        assert.are.same({ 2, 7 }, array_to_table(view.user, 2))
        local copy = data.subset(all, function(i) return i % 2 == 1 end)
        assert.is_nil(copy.shared)
        assert.are.same({ 2, 3 }, array_to_table(copy.user, 2))
        copy.user[0] = 5
        assert.are.equal(2, all.user[1])
      end)

      it("reports the same errors and keeps nothing of a failed read", function()
        local path = write_temp("1 2 3\n1 x 3\n")
        assert_fails_at(path, 2, "bad item id 'x'", data.read_triplets(path, { engine = E.e }))
        assert_fails_at(path, 2, "bad item id 'x'", data.read_triplets(path, { engine = E.e }))
        assert.has_error(function() data.read_triplets(path, { engine = 3 }) end,
          "bad option 'engine' (pmls_engine * expected, got number 3)")
      end)
    end)

    it("partitions rows with opts.shard and keeps whole-file maxima", function()
      local path = write_temp(TRIPLETS)
      local whole = assert(data.read_triplets(path))
      local seen = 0
      for index = 0, 2 do
        local part = assert(data.read_triplets(path, { shard = { index = index, count = 3 } }))
        assert.are.equal(whole.max_user, part.max_user)
        assert.are.equal(whole.max_item, part.max_item)
        for k = 0, part.n - 1 do
          local r = index + 3 * k
          assert.are.equal(whole.user[r], part.user[k])
          assert.are.equal(whole.item[r], part.item[k])
          assert.are.equal(whole.rating[r], part.rating[k])
          seen = seen + 1
        end
      end
      assert.are.equal(whole.n, seen)
    end)
  end)

  describe("new_rng", function()
    it("is splitmix64 (known answers)", function()
      local rng = data.new_rng(0)
      assert.are.equal(0xe220a8397b1dcdafULL, rng.next_u64())
      assert.are.equal(0x6e789e6aa1b965f4ULL, rng.next_u64())
      assert.are.equal(0x06c45d188009454fULL, rng.next_u64())
      local seeded = data.new_rng(12345)
      assert.are.equal(0x22118258a9d111a0ULL, seeded.next_u64())
    end)

    it("draws uniforms in [0, 1) and normals with the right moments", function()
      local rng = data.new_rng(3)
      local sum, sum_squares, count = 0, 0, 20000
      for _ = 1, count do
        local u = rng.uniform()
        assert.is_true(u >= 0 and u < 1)
        local z = rng.normal()
        sum, sum_squares = sum + z, sum_squares + z * z
      end
      assert.is_true(math.abs(sum / count) < 0.05)
      assert.is_true(math.abs(sum_squares / count - 1) < 0.05)
    end)
  end)

  describe("synthetic_logistic", function()
    local function margin(ds, r)
      local m = ds.bias_true
      for t = tonumber(ds.rowptr[r]), tonumber(ds.rowptr[r + 1]) - 1 do
        m = m + ds.val[t] * ds.w_true[ds.col[t]]
      end
      return m
    end

    it("has the documented shape", function()
      local ds = data.synthetic_logistic { n = 300, d = 50, seed = 1, density = 0.2 }
      assert.are.equal("csr", ds.kind)
      assert.are.equal(300, ds.n)
      assert.are.equal(50, ds.d)
      assert.are.equal(300 * 10, ds.nnz)
      assert.are.equal(ds.nnz, tonumber(ds.rowptr[ds.n]))
      for r = 0, ds.n - 1 do
        assert.is_true(ds.y[r] == 1 or ds.y[r] == -1)
        local previous = -1
        for t = tonumber(ds.rowptr[r]), tonumber(ds.rowptr[r + 1]) - 1 do
          assert.is_true(ds.col[t] > previous and ds.col[t] < ds.d, "columns sorted, distinct, in range")
          previous = ds.col[t]
        end
      end
    end)

    it("gives sorted distinct columns also for sparse rows", function()
      local ds = data.synthetic_logistic { n = 200, d = 100000, seed = 4, density = 0.0005 }
      assert.are.equal(200 * 50, ds.nnz)
      for r = 0, ds.n - 1 do
        for t = tonumber(ds.rowptr[r]) + 1, tonumber(ds.rowptr[r + 1]) - 1 do
          assert.is_true(ds.col[t] > ds.col[t - 1])
        end
      end
    end)

    it("is determined by its parameters", function()
      local a = data.synthetic_logistic { n = 500, d = 40, seed = 11 }
      local b = data.synthetic_logistic { n = 500, d = 40, seed = 11 }
      assert.is_true(same_csr(a, b))
      assert.are.equal(ffi.string(a.w_true, 8 * 40), ffi.string(b.w_true, 8 * 40))
      local c = data.synthetic_logistic { n = 500, d = 40, seed = 12 }
      assert.is_false(same_csr(a, c))
      assert.are_not.equal(ffi.string(a.w_true, 8 * 40), ffi.string(c.w_true, 8 * 40))
      local noisier = data.synthetic_logistic { n = 500, d = 40, seed = 11, noise = 0.3 }
      assert.is_false(same_csr(a, noisier))
    end)

    it("generates a smaller n as a prefix of a larger one", function()
      local small = data.synthetic_logistic { n = 100, d = 30, seed = 5 }
      local large = data.synthetic_logistic { n = 400, d = 30, seed = 5 }
      assert.is_true(same_csr(small, data.subset(large, { first = 0, count = 100 })))
    end)

    it("produces balanced-ish labels", function()
      for seed = 1, 8 do
        local ds = data.synthetic_logistic { n = 2000, d = 100, seed = seed }
        local positive = 0
        for r = 0, ds.n - 1 do if ds.y[r] > 0 then positive = positive + 1 end end
        local fraction = positive / ds.n
        assert.is_true(fraction > 0.3 and fraction < 0.7, "seed " .. seed .. ": " .. fraction)
      end
    end)

    it("labels by the sign of x.w_true + bias_true, flipping about a fraction noise", function()
      local clean = data.synthetic_logistic { n = 3000, d = 60, seed = 9, noise = 0 }
      for r = 0, clean.n - 1 do
        assert.are.equal(margin(clean, r) >= 0 and 1 or -1, clean.y[r])
      end
      local noisy = data.synthetic_logistic { n = 3000, d = 60, seed = 9, noise = 0.2 }
      local flipped = 0
      for r = 0, noisy.n - 1 do
        if (margin(noisy, r) >= 0 and 1 or -1) ~= noisy.y[r] then flipped = flipped + 1 end
      end
      assert.is_true(math.abs(flipped / noisy.n - 0.2) < 0.03, "flip rate " .. flipped / noisy.n)
    end)

    it("raises on bad parameters", function()
      assert.has_error(function() data.synthetic_logistic() end)
      assert.has_error(function() data.synthetic_logistic { d = 10 } end,
        "bad field 'n' to synthetic_logistic (positive integer expected, got nil)")
      assert.has_error(function() data.synthetic_logistic { n = 10, d = 0 } end)
      assert.has_error(function() data.synthetic_logistic { n = 10, d = 10, density = 0 } end)
      assert.has_error(function() data.synthetic_logistic { n = 10, d = 10, noise = 2 } end)
      assert.has_error(function() data.synthetic_logistic { n = 10, d = 10, seed = -1 } end)
    end)
  end)

  describe("subset and shard", function()
    local ds = data.synthetic_logistic { n = 103, d = 20, seed = 2, density = 0.3 }

    it("subset keeps the rows a predicate selects, in order, with their entries", function()
      local train = data.subset(ds, function(i) return i % 5 ~= 0 end)
      local test = data.subset(ds, function(i) return i % 5 == 0 end)
      assert.are.equal(ds.n, train.n + test.n)
      assert.are.equal(ds.nnz, train.nnz + test.nnz)
      assert.are.equal(21, test.n)
      assert.are.equal(ds.d, test.d)
      assert.are.equal(ds.w_true, test.w_true)
      for k = 0, test.n - 1 do
        assert.are.equal(ds.y[5 * k], test.y[k])
        assert.are.same(row_entries(ds, 5 * k), row_entries(test, k))
      end
    end)

    it("subset takes a 0-based range", function()
      local part = data.subset(ds, { first = 10, count = 5 })
      assert.are.equal(5, part.n)
      for k = 0, 4 do assert.are.same(row_entries(ds, 10 + k), row_entries(part, k)) end
      assert.are.equal(0, data.subset(ds, { first = 103, count = 0 }).n)
      assert.has_error(function() data.subset(ds, { first = 100, count = 5 }) end)
      assert.has_error(function() data.subset(ds, 3) end)
      assert.has_error(function() data.subset({}, { first = 0, count = 0 }) end)
    end)

    it("shard partitions CSR sets", function()
      for _, count in ipairs({ 1, 4, 200 }) do
        local owner, rows, nnz = {}, 0, 0
        for index = 0, count - 1 do
          local part = data.shard(ds, index, count)
          rows, nnz = rows + part.n, nnz + part.nnz
          for k = 0, part.n - 1 do
            local r = index + k * count
            assert.is_nil(owner[r])
            owner[r] = index
            assert.are.same(row_entries(ds, r), row_entries(part, k))
          end
        end
        assert.are.equal(ds.n, rows)
        assert.are.equal(ds.nnz, nnz)
      end
    end)

    it("shard partitions triplet sets", function()
      local lines = {}
      for r = 1, 50 do lines[r] = (r % 9) .. " " .. (r * 3) .. " " .. (r % 5) end
      local set = assert(data.read_triplets(write_temp(table.concat(lines, "\n"))))
      local total = 0
      for index = 0, 6 do
        local part = data.shard(set, index, 7)
        assert.are.equal("triplets", part.kind)
        assert.are.equal(set.max_item, part.max_item)
        for k = 0, part.n - 1 do
          assert.are.equal(set.item[index + 7 * k], part.item[k])
        end
        total = total + part.n
      end
      assert.are.equal(set.n, total)
    end)

    it("accepts hand-built sets without a kind field", function()
      local hand = {
        n = 3, d = 4, nnz = 4,
        y = ffi.new("double[3]", { 1, -1, 1 }),
        rowptr = ffi.new("int64_t[4]", { 0, 2, 2, 4 }),
        col = ffi.new("int32_t[4]", { 0, 3, 1, 2 }),
        val = ffi.new("double[4]", { 1, 2, 3, 4 }),
      }
      local odd = data.shard(hand, 0, 2)
      assert.are.equal("csr", odd.kind)
      assert.are.equal(2, odd.n)
      assert.are.same({ { 0, 1 }, { 3, 2 } }, row_entries(odd, 0))
      assert.are.same({ { 1, 3 }, { 2, 4 } }, row_entries(odd, 1))
      local ratings = { n = 2, user = ffi.new("int32_t[2]", { 1, 2 }), item = ffi.new("int32_t[2]", { 5, 6 }),
        rating = ffi.new("double[2]", { 3, 4 }) }
      local second = data.subset(ratings, { first = 1, count = 1 })
      assert.are.equal("triplets", second.kind)
      assert.are.same({ 2, 6, 4 }, { second.user[0], second.item[0], second.rating[0] })
    end)

    it("shard raises on bad arguments", function()
      assert.has_error(function() data.shard(ds, 3, 3) end)
      assert.has_error(function() data.shard(ds, -1, 3) end)
      assert.has_error(function() data.shard(ds, 0, 0) end)
      assert.has_error(function() data.shard(nil, 0, 1) end)
    end)
  end)

  describe("read_mm", function()
    -- Rows as written: 1-based, unsorted within row 1, row 3 empty, comments and a blank line.
    local COORDINATE = table.concat({
      "%%MatrixMarket matrix coordinate real general",
      "% a comment",
      "%another comment",
      "4 5 6",
      "1 5 2.5",
      "",
      "1 2 -1",
      "2 1 3e2",
      "4 4 0.125",
      "% a comment among the entries",
      "1 3 7",
      "4 1 -0",
    }, "\n") .. "\n"
    local COORDINATE_DENSE = {
      { 0, -1, 7, 0, 2.5 },
      { 300, 0, 0, 0, 0 },
      { 0, 0, 0, 0, 0 },
      { 0, 0, 0, 0.125, 0 },
    }

    -- Dense Lua rows of a CSR set, also checking that every row's columns are strictly increasing.
    local function dense_of(ds)
      local out = {}
      for r = 0, ds.n - 1 do
        local row = {}
        for j = 1, ds.d do row[j] = 0 end
        local previous = -1
        for t = tonumber(ds.rowptr[r]), tonumber(ds.rowptr[r + 1]) - 1 do
          local c = tonumber(ds.col[t])
          assert.is_true(c > previous and c < ds.d, "row " .. r .. ": columns sorted and in range")
          previous = c
          row[c + 1] = ds.val[t]
        end
        out[r + 1] = row
      end
      return out
    end

    local function mm(header, size, entries)
      return "%%MatrixMarket matrix " .. header .. "\n" .. size .. "\n" .. table.concat(entries, "\n") .. "\n"
    end

    local function read_text(content, opts) return assert(data.read_mm(write_temp(content), opts)) end

    it("reads a coordinate file into 0-based CSR with sorted rows, skipping comments", function()
      local ds = assert(data.read_mm(write_temp(COORDINATE, "x.mtx")))
      assert.are.equal("csr", ds.kind)
      assert.are.equal(4, ds.n)
      assert.are.equal(5, ds.d)
      assert.are.equal(6, ds.nnz)
      assert.are.same({ 0, 3, 4, 4, 6 }, array_to_table(ds.rowptr, ds.n + 1))
      assert.are.same({ 1, 2, 4, 0, 0, 3 }, array_to_table(ds.col, ds.nnz))
      assert.are.same({ -1, 7, 2.5, 300, -0, 0.125 }, array_to_table(ds.val, ds.nnz))
      assert.are.same(COORDINATE_DENSE, dense_of(ds))
      assert.are.same({ 0, 0, 0, 0 }, array_to_table(ds.y, ds.n))
      assert.is_true(ffi.istype("int64_t[?]", ds.rowptr))
      assert.is_true(ffi.istype("int32_t[?]", ds.col))
      assert.is_true(ffi.istype("double[?]", ds.val))
      assert.is_true(ffi.istype("double[?]", ds.y))
      assert.are.equal(4 * ds.nnz, ffi.sizeof(ds.col))
      assert.are.equal(8 * ds.n, ffi.sizeof(ds.y))
    end)

    it("gives the same set for row-major, column-major and shuffled entry orders", function()
      local entries = { { 1, 1, 1 }, { 1, 3, 2 }, { 2, 2, 3 }, { 3, 1, 4 }, { 3, 2, 5 }, { 3, 3, 6 } }
      local function file_with(order)
        local lines = {}
        for _, e in ipairs(order) do lines[#lines + 1] = table.concat(e, " ") end
        return write_temp(mm("coordinate real general", "3 3 6", lines))
      end
      local row_major = assert(data.read_mm(file_with(entries)))
      local column_major = assert(data.read_mm(file_with({ entries[1], entries[4], entries[3], entries[5],
        entries[2], entries[6] })))
      local shuffled = assert(data.read_mm(file_with({ entries[6], entries[2], entries[4], entries[1],
        entries[5], entries[3] })))
      assert.are.same({ { 1, 0, 2 }, { 0, 3, 0 }, { 4, 5, 6 } }, dense_of(row_major))
      assert.is_true(same_csr(row_major, column_major))
      assert.is_true(same_csr(row_major, shuffled))
    end)

    it("reads a dense array column by column, keeping zeros", function()
      local ds = read_text(mm("array real general", "2 3", { "1", "2", "0", "4", "5", "-6.5" }))
      assert.are.equal(2, ds.n)
      assert.are.equal(3, ds.d)
      assert.are.equal(6, ds.nnz)
      assert.are.same({ { 1, 0, 5 }, { 2, 4, -6.5 } }, dense_of(ds))
      assert.are.same({ 0, 3, 6 }, array_to_table(ds.rowptr, 3))
    end)

    it("returns an n x 1 array's values in val, one per row", function()
      local ds = read_text("%%MatrixMarket matrix array real general\n% y\n4 1\n0.5\n-2\n0\n1e3\n")
      assert.are.equal(4, ds.n)
      assert.are.equal(1, ds.d)
      assert.are.same({ 0.5, -2, 0, 1000 }, array_to_table(ds.val, ds.nnz))
      assert.are.same({ 0, 1, 2, 3, 4 }, array_to_table(ds.rowptr, 5))
      assert.are.same({ 0, 0, 0, 0 }, array_to_table(ds.col, 4))
    end)

    it("reads pattern files as ones and integer files as numbers", function()
      local pattern = read_text(mm("coordinate pattern general", "2 3 3", { "2 3", "1 1", "2 1" }))
      assert.are.same({ { 1, 0, 0 }, { 1, 0, 1 } }, dense_of(pattern))
      local integer = read_text(mm("coordinate integer general", "2 2 2", { "1 2 -3", "2 2 40" }))
      assert.are.same({ { 0, -3 }, { 0, 40 } }, dense_of(integer))
    end)

    it("expands symmetric and skew-symmetric matrices, coordinate and array", function()
      local symmetric = read_text(mm("coordinate real symmetric", "3 3 4",
        { "1 1 1", "2 1 2", "3 2 3", "3 3 4" }))
      assert.are.same({ { 1, 2, 0 }, { 2, 0, 3 }, { 0, 3, 4 } }, dense_of(symmetric))
      assert.are.equal(6, symmetric.nnz)
      local skew = read_text(mm("coordinate real skew-symmetric", "3 3 2", { "2 1 5", "3 1 -1" }))
      assert.are.same({ { 0, -5, 1 }, { 5, 0, 0 }, { -1, 0, 0 } }, dense_of(skew))
      -- Array symmetric: the lower triangle column by column (a11 a21 a31 a22 a32 a33).
      local array = read_text(mm("array real symmetric", "3 3", { "1", "2", "3", "4", "5", "6" }))
      assert.are.same({ { 1, 2, 3 }, { 2, 4, 5 }, { 3, 5, 6 } }, dense_of(array))
      local skew_array = read_text(mm("array real skew-symmetric", "3 3", { "1", "2", "3" }))
      assert.are.same({ { 0, -1, -2 }, { 1, 0, -3 }, { 2, 3, 0 } }, dense_of(skew_array))
    end)

    it("accepts a header in any case, CRLF line ends and opts.d", function()
      local ds = read_text("%%matrixmarket MATRIX Coordinate Real General\r\n2 2 1\r\n2 2 9\r\n", { d = 7 })
      assert.are.equal(7, ds.d)
      assert.are.same({ { 0, 0, 0, 0, 0, 0, 0 }, { 0, 9, 0, 0, 0, 0, 0 } }, dense_of(ds))
    end)

    it("reads gzip files like plain ones", function()
      local plain = assert(data.read_mm(write_temp(COORDINATE)))
      assert.is_true(same_csr(plain, assert(data.read_mm(write_gzip(COORDINATE, "x.mtx.gz")))))
      assert.is_true(same_csr(plain, assert(data.read_mm(write_gzip(COORDINATE, "unsuffixed.mtx")))))
    end)

    describe("with opts.labels", function()
      local X = mm("coordinate real general", "3 2 2", { "1 1 1", "3 2 1" })

      it("takes y from a Matrix Market array, a coordinate file or plain text", function()
        local x_path = write_temp(X)
        local from_array = assert(data.read_mm(x_path,
          { labels = write_temp("%%MatrixMarket matrix array real general\n3 1\n1\n-1\n0.5\n") }))
        assert.are.same({ 1, -1, 0.5 }, array_to_table(from_array.y, 3))
        assert.are.same({ { 1, 0 }, { 0, 0 }, { 0, 1 } }, dense_of(from_array))
        local y_coordinate = "%%MatrixMarket matrix coordinate real general\n3 1 2\n3 1 4\n1 1 2\n"
        local from_coordinate = assert(data.read_mm(x_path, { labels = write_gzip(y_coordinate, "y.mtx.gz") }))
        assert.are.same({ 2, 0, 4 }, array_to_table(from_coordinate.y, 3))
        local from_text = assert(data.read_mm(x_path, { labels = write_temp("# y\n3\n\n-2.5\n1e1\n") }))
        assert.are.same({ 3, -2.5, 10 }, array_to_table(from_text.y, 3))
      end)

      it("shards the labels with the rows", function()
        local x_path = write_temp(X)
        local y_path = write_temp("10\n20\n30\n")
        local part = assert(data.read_mm(x_path, { labels = y_path, shard = { index = 0, count = 2 } }))
        assert.are.same({ 10, 30 }, array_to_table(part.y, part.n))
        assert.are.same({ { 1, 0 }, { 0, 1 } }, dense_of(part))
      end)

      local cases = {
        { "too few plain labels", "1\n2\n", 2, "2 labels for the 3 rows of " },
        { "too many plain labels", "1\n2\n3\n\n4\n", 5, "more labels than the 3 rows of " },
        { "a bad plain label", "1\nyes\n3\n", 2, "bad label 'yes' (finite decimal number expected)" },
        { "two labels on a line", "1\n2 3\n", 2, "expected one label per line, got 2 fields" },
        { "a Matrix Market label file of the wrong length",
          "%%MatrixMarket matrix array real general\n% c\n2 1\n1\n2\n", 3,
          "2 labels (a 2 x 1 matrix) for the 3 rows of " },
        { "a Matrix Market label file with two columns",
          "%%MatrixMarket matrix array real general\n3 2\n1\n2\n3\n4\n5\n6\n", 2,
          "labels must be an n x 1 matrix, got 3 x 2" },
        { "a malformed Matrix Market label file",
          "%%MatrixMarket matrix array real general\n3 1\n1\n2\n", 4, "expected 3 values" },
      }
      for _, case in ipairs(cases) do
        local what, content, line, text = case[1], case[2], case[3], case[4]
        it("fails with the label file's path:LINE for " .. what, function()
          local x_path = write_temp(X)
          local y_path = write_temp(content)
          local ds, err = data.read_mm(x_path, { labels = y_path })
          assert_fails_at(y_path, line, text, ds, err)
          if text:find("rows of $") then assert.truthy(err:find(x_path, 1, true), err) end
        end)
      end

      it("fails for a missing label file", function()
        local y_path = temp_path("missing-labels.txt")
        assert_fails_at(y_path, 0, "cannot open", data.read_mm(write_temp(X), { labels = y_path }))
      end)
    end)

    describe("reports malformed input as nil, 'path:LINE: message'", function()
      local GENERAL = "%%MatrixMarket matrix coordinate real general\n"
      local cases = {
        { "a missing file", nil, 0, "cannot open" },
        { "an empty file", "", 0, "empty file" },
        { "a missing header", "3 3 1\n1 1 1\n", 1, "not a Matrix Market file" },
        { "a header with too few words", "%%MatrixMarket matrix coordinate real\n1 1 0\n", 1,
          "malformed header '%%MatrixMarket matrix coordinate real'" },
        { "a vector object", "%%MatrixMarket vector coordinate real general\n", 1, "unsupported object 'vector'" },
        { "an unknown format", "%%MatrixMarket matrix sparse real general\n", 1, "unknown format 'sparse'" },
        { "a complex field", "%%MatrixMarket matrix coordinate complex general\n", 1, "unsupported field 'complex'" },
        { "a pattern array", "%%MatrixMarket matrix array pattern general\n", 1,
          "field 'pattern' needs format 'coordinate'" },
        { "a hermitian matrix", "%%MatrixMarket matrix coordinate real hermitian\n", 1,
          "unsupported symmetry 'hermitian'" },
        { "a missing size line", GENERAL .. "% only comments\n", 2, "missing size line" },
        { "a non-numeric size", GENERAL .. "% c\n3 x 1\n", 3, "bad size line '3 x 1'" },
        { "a size line with two numbers", GENERAL .. "3 3\n", 2, "bad size line '3 3'" },
        { "an array size line with three numbers", "%%MatrixMarket matrix array real general\n2 1 2\n", 2,
          "bad size line '2 1 2' ('rows columns'" },
        { "a non-square symmetric matrix", "%%MatrixMarket matrix coordinate real symmetric\n2 3 1\n", 2,
          "a symmetric matrix must be square, got 2 x 3" },
        { "more entries declared than fit", GENERAL .. "2 2 5\n", 2,
          "declares 5 entries, more than a general 2 x 2 matrix holds (4)" },
        { "a row index 0", GENERAL .. "3 3 2\n1 1 1\n0 2 1\n", 4,
          "row index '0' out of range (integer in [1, 3] expected)" },
        { "a row index beyond the rows", GENERAL .. "3 3 1\n4 1 1\n", 3, "row index '4' out of range" },
        { "a column index beyond the columns", GENERAL .. "3 2 1\n1 3 1\n", 3,
          "column index '3' out of range (integer in [1, 2] expected)" },
        { "a non-numeric index", GENERAL .. "3 3 1\n1 b 1\n", 3, "column index 'b' out of range" },
        { "a fractional index", GENERAL .. "3 3 1\n1.5 1 1\n", 3, "row index '1.5' out of range" },
        { "a missing value", GENERAL .. "3 3 2\n1 1 1\n2 2\n", 4, "expected 'row column value', got 2 fields" },
        { "an extra field", GENERAL .. "3 3 1\n1 1 1 1\n", 3, "got 4 fields" },
        { "a value in a pattern file", "%%MatrixMarket matrix coordinate pattern general\n2 2 1\n1 1 1\n", 3,
          "expected 'row column', got 3 fields" },
        { "a non-numeric value", GENERAL .. "3 3 1\n1 1 abc\n", 3, "bad value 'abc' (finite decimal number expected)" },
        { "an infinite value", GENERAL .. "3 3 1\n1 1 1e999\n", 3, "bad value '1e999'" },
        { "a fraction in an integer file", "%%MatrixMarket matrix coordinate integer general\n2 2 1\n1 1 1.5\n", 3,
          "bad value '1.5' (integer expected in an 'integer' matrix)" },
        { "an entry above the diagonal of a symmetric matrix",
          "%%MatrixMarket matrix coordinate real symmetric\n3 3 2\n1 1 1\n1 2 1\n", 4,
          "entry (1, 2) is not in the lower triangle" },
        { "a diagonal entry of a skew-symmetric matrix",
          "%%MatrixMarket matrix coordinate real skew-symmetric\n3 3 1\n2 2 1\n", 3,
          "entry (2, 2) is not in the strictly lower triangle" },
        { "too many entries", GENERAL .. "3 3 2\n1 1 1\n2 2 1\n% c\n3 3 1\n", 6,
          "more entries than the 2 the size line (line 2) declares" },
        { "too few entries", GENERAL .. "3 3 3\n1 1 1\n2 2 1\n\n", 5,
          "expected 3 entries (size line, line 2), got 2" },
        { "a duplicate entry", GENERAL .. "3 3 3\n1 2 1\n1 3 1\n1 2 5\n", 5, "duplicate entry (1, 2)" },
        { "a duplicate entry of a symmetric matrix",
          "%%MatrixMarket matrix coordinate real symmetric\n3 3 3\n3 1 1\n2 2 1\n3 1 5\n", 5,
          "duplicate entry (3, 1)" },
        { "too few array values", "%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n", 5,
          "expected 4 values (size line, line 2), got 3" },
        { "too many array values", "%%MatrixMarket matrix array real general\n2 1\n1\n2\n3\n", 5,
          "more values than the 2" },
        { "two values on an array line", "%%MatrixMarket matrix array real general\n2 1\n1 2\n", 3,
          "expected one value per line, got 2 fields" },
        { "a bad array value", "%%MatrixMarket matrix array real general\n2 1\n1\nx\n", 4, "bad value 'x'" },
      }
      for _, case in ipairs(cases) do
        local what, content, line, text = case[1], case[2], case[3], case[4]
        it("for " .. what, function()
          local path = content and write_temp(content) or temp_path("missing.mtx")
          assert_fails_at(path, line, text, data.read_mm(path))
        end)
      end

      it("for more columns than opts.d", function()
        local path = write_temp("%%MatrixMarket matrix coordinate real general\n2 9 0\n")
        assert_fails_at(path, 2, "matrix has 9 columns, more than opts.d = 4", data.read_mm(path, { d = 4 }))
      end)

      it("for the same errors inside a gzip file", function()
        local path = write_gzip("%%MatrixMarket matrix coordinate real general\n2 2 1\n\n1 3 1\n", "bad.mtx.gz")
        assert_fails_at(path, 4, "column index '3' out of range", data.read_mm(path))
      end)

      it("for a corrupt gzip file", function()
        local path = write_temp("%%MatrixMarket matrix coordinate real general\n", "corrupt.mtx.gz")
        assert_fails_at(path, 0, "cannot decompress: not in gzip format", data.read_mm(path))
      end)
    end)

    describe("with opts.shard", function()
      -- 7 rows, row 5 (0-based 4) empty, entries in column-major order.
      local lines = {}
      for c = 1, 3 do
        for r = 1, 7 do
          if r ~= 5 and (r + c) % 3 ~= 0 then lines[#lines + 1] = r .. " " .. c .. " " .. (10 * r + c) end
        end
      end
      local SHARDED = mm("coordinate real general", "7 3 " .. #lines, lines)

      it("partitions the rows: every row in exactly one shard, in order, with whole-matrix d", function()
        local path = write_temp(SHARDED)
        local whole = assert(data.read_mm(path))
        for _, count in ipairs({ 1, 2, 3, 7, 10 }) do
          local seen, nnz = {}, 0
          for index = 0, count - 1 do
            local part = assert(data.read_mm(path, { shard = { index = index, count = count } }))
            assert.are.equal(whole.d, part.d)
            assert.are.equal(tonumber(part.rowptr[part.n]), part.nnz)
            nnz = nnz + part.nnz
            for k = 0, part.n - 1 do
              local r = index + k * count
              assert.is_nil(seen[r], "row " .. r .. " in two shards")
              seen[r] = true
              assert.are.same(row_entries(whole, r), row_entries(part, k))
            end
          end
          for r = 0, whole.n - 1 do assert.is_true(seen[r], "row " .. r .. " in no shard") end
          assert.are.equal(whole.nnz, nnz)
        end
      end)

      it("still validates the rows it does not keep", function()
        local path = write_temp(mm("coordinate real general", "3 3 2", { "1 1 1", "2 2 x" }))
        assert_fails_at(path, 4, "bad value 'x'", data.read_mm(path, { shard = { index = 0, count = 2 } }))
      end)
    end)

    describe("with opts.engine", function()
      local helpers = require "helpers"
      local E
      before_each(function() E = helpers.engine() end)
      after_each(function() E:close() end)

      it("parses a file once: the engine's read-only arrays, shards and labels of the caller's own", function()
        local path = write_gzip(COORDINATE, "shared.mtx.gz")
        local own = assert(data.read_mm(path))
        local a = assert(data.read_mm(path, { engine = E.e }))
        local b = assert(data.read_matrix(path, { engine = E.e }))
        assert.is_true(a.shared)
        assert.is_true(same_csr(own, a))
        assert.are.equal(ffi.cast("intptr_t", a.val), ffi.cast("intptr_t", b.val))
        assert.has_error(function() a.val[0] = 1 end)
        local labelled = assert(data.read_mm(path, { engine = E.e, labels = write_temp("1\n2\n3\n4\n") }))
        assert.are.equal(ffi.cast("intptr_t", a.val), ffi.cast("intptr_t", labelled.val))
        assert.are.same({ 1, 2, 3, 4 }, array_to_table(labelled.y, 4))
        assert.are.same({ 0, 0, 0, 0 }, array_to_table(a.y, 4))
        for index = 0, 1 do
          local opts = { shard = { index = index, count = 2 }, d = 8 }
          local private = assert(data.read_mm(path, opts))
          opts.engine = E.e
          local part = assert(data.read_mm(path, opts))
          assert.is_nil(part.shared)
          assert.is_true(same_csr(private, part))
        end
      end)

      it("gives a range subset as a view: y, col and val inside the engine's, rowptr rebased", function()
        local all = assert(data.read_mm(write_temp(COORDINATE), { engine = E.e }))
        local view = data.subset(all, { first = 1, count = 3 })
        assert.is_true(view.shared)
        assert.are.same({ 0, 1, 1, 3 }, array_to_table(view.rowptr, 4))
        assert.are.equal(3, view.nnz)
        assert.are.equal(ffi.cast("intptr_t", all.val + 3), ffi.cast("intptr_t", view.val))
        assert.are.same({ COORDINATE_DENSE[2], COORDINATE_DENSE[3], COORDINATE_DENSE[4] }, dense_of(view))
        local copy = data.shard(view, 0, 2)
        assert.is_nil(copy.shared)
        assert.are.same({ COORDINATE_DENSE[2], COORDINATE_DENSE[4] }, dense_of(copy))
      end)

      it("reports the same errors, opts.d at the size line before a bad entry", function()
        local path = write_temp("%%MatrixMarket matrix coordinate real general\n2 9 1\n1 1 x\n")
        assert_fails_at(path, 3, "bad value 'x'", data.read_mm(path, { engine = E.e }))
        assert_fails_at(path, 2, "matrix has 9 columns, more than opts.d = 4",
          data.read_mm(path, { engine = E.e, d = 4 }))
        path = write_temp("%%MatrixMarket matrix coordinate real general\n2 9 1\n1 9 2\n")
        assert_fails_at(path, 2, "matrix has 9 columns, more than opts.d = 4",
          data.read_mm(path, { engine = E.e, d = 4 }))
        assert.are.equal(12, assert(data.read_mm(path, { engine = E.e, d = 12 })).d)
      end)
    end)

    it("raises on misuse", function()
      assert.has_error(function() data.read_mm(nil) end, "bad argument 'path' (string expected, got nil)")
      local path = write_temp(COORDINATE)
      assert.has_error(function() data.read_mm(path, { label = "y.txt" }) end, "unknown option 'label' to read_mm")
      assert.has_error(function() data.read_mm(path, { labels = 3 }) end,
        "bad option 'labels' (path string expected, got number)")
      assert.has_error(function() data.read_mm(path, { shard = { index = 1, count = 1 } }) end)
      assert.has_error(function() data.read_mm(path, { d = -2 }) end)
    end)
  end)

  describe("a missing path falls back to path.gz", function()
    local MM = "%%MatrixMarket matrix coordinate real general\n2 2 1\n2 1 3\n"

    it("for read_libsvm, read_triplets, read_mm and read_matrix", function()
      local svm = write_gzip(LIBSVM_FIXTURE, "fallback.svm.gz")
      local plain = assert(data.read_libsvm(write_temp(LIBSVM_FIXTURE)))
      assert.is_true(same_csr(plain, assert(data.read_libsvm(svm:sub(1, -4)))))
      assert.is_true(same_csr(plain, assert(data.read_matrix(svm:sub(1, -4)))))
      local ratings = write_gzip("1 2 3\n4 5 6\n", "ratings.data.gz")
      local set = assert(data.read_triplets(ratings:sub(1, -4)))
      assert.are.same({ 1, 4 }, array_to_table(set.user, set.n))
      local mtx = write_gzip(MM, "fallback.mtx.gz")
      local ds = assert(data.read_mm(mtx:sub(1, -4), { labels = write_gzip("5\n6\n", "y.txt.gz"):sub(1, -4) }))
      assert.are.same({}, row_entries(ds, 0))
      assert.are.same({ { 0, 3 } }, row_entries(ds, 1))
      assert.are.same({ 5, 6 }, array_to_table(ds.y, 2))
      assert.is_true(same_csr(ds, assert(data.read_matrix(mtx:sub(1, -4), { labels = write_temp("5\n6\n") }))))
    end)

    it("reports errors against the .gz file it read", function()
      local path = write_gzip("1 1:1\n1 x:1\n", "broken.svm.gz")
      assert_fails_at(path, 2, "bad feature index 'x'", data.read_libsvm(path:sub(1, -4)))
    end)

    it("prefers the plain file when both exist, and names the plain path when neither does", function()
      local gz = write_gzip("1 1:1\n", "both.svm.gz")
      write_file(gz:sub(1, -4), "-1 2:1\n-1 3:1\n")
      assert.are.equal(2, assert(data.read_libsvm(gz:sub(1, -4))).n)
      local missing = temp_path("neither.svm")
      assert_fails_at(missing, 0, "cannot open", data.read_libsvm(missing))
      assert_fails_at(missing, 0, "cannot open", data.read_mm(missing))
    end)
  end)

  describe("read_matrix", function()
    local MM = "%%MatrixMarket matrix coordinate real general\n2 3 2\n1 3 4\n2 1 -1\n"

    it("reads Matrix Market by its first line whatever the name, libsvm otherwise", function()
      local by_content = assert(data.read_matrix(write_temp(MM, "looks-like.svm")))
      assert.is_true(same_csr(assert(data.read_mm(write_temp(MM))), by_content))
      assert.is_true(same_csr(by_content, assert(data.read_matrix(write_gzip(MM, "m.gz")))))
      local libsvm = assert(data.read_matrix(write_temp(LIBSVM_FIXTURE, "data.mtx.txt")))
      assert.is_true(same_csr(assert(data.read_libsvm(write_temp(LIBSVM_FIXTURE))), libsvm))
      local empty = write_temp("")
      assert_fails_at(empty, 0, "empty file (no rows)", data.read_matrix(empty))
    end)

    it("passes d, shard and labels on", function()
      local path = write_temp(MM)
      local ds = assert(data.read_matrix(path, { d = 5, labels = write_temp("1\n-1\n"),
        shard = { index = 1, count = 2 } }))
      assert.are.equal(1, ds.n)
      assert.are.equal(5, ds.d)
      assert.are.same({ { 0, -1 } }, row_entries(ds, 0))
      assert.are.equal(-1, ds.y[0])
      local part = assert(data.read_matrix(write_temp(LIBSVM_FIXTURE), { d = 20, shard = { index = 1, count = 2 } }))
      assert.are.equal(20, part.d)
      assert.are.equal(2, part.n)
    end)

    it("treats .mtx, .mm and .mmt names as Matrix Market even without a header", function()
      for _, name in ipairs({ "a.mtx", "b.mm", "c.MMT.gz" }) do
        local content = "1 1:1\n"
        local path = name:sub(-3) == ".gz" and write_gzip(content, name) or write_temp(content, name)
        assert_fails_at(path, 1, "not a Matrix Market file", data.read_matrix(path))
      end
    end)

    it("refuses opts.labels for a libsvm file", function()
      local path = write_temp(LIBSVM_FIXTURE)
      assert_fails_at(path, 1, "option 'labels' is for Matrix Market input",
        data.read_matrix(path, { labels = write_temp("1\n") }))
    end)

    it("raises on misuse", function()
      assert.has_error(function() data.read_matrix(7) end, "bad argument 'path' (string expected, got number)")
      assert.has_error(function() data.read_matrix(write_temp(MM), { format = "mm" }) end,
        "unknown option 'format' to read_matrix")
    end)
  end)

  describe("to_csc", function()
    local function from_csc(csc)
      -- Rebuilds CSR from CSC by walking the columns in order, which keeps each row's columns sorted.
      local rows = {}
      for r = 0, csc.n - 1 do rows[r] = {} end
      for c = 0, csc.d - 1 do
        local previous = -1
        for t = tonumber(csc.colptr[c]), tonumber(csc.colptr[c + 1]) - 1 do
          local r = csc.row[t]
          assert.is_true(r > previous and r < csc.n, "rows sorted within column " .. c)
          previous = r
          table.insert(rows[r], { c, csc.val[t] })
        end
      end
      local nnz = 0
      for r = 0, csc.n - 1 do nnz = nnz + #rows[r] end
      local out = { kind = "csr", n = csc.n, d = csc.d, nnz = nnz, y = csc.y,
        rowptr = ffi.new("int64_t[?]", csc.n + 1), col = ffi.new("int32_t[?]", nnz), val = ffi.new("double[?]", nnz) }
      local t = 0
      for r = 0, csc.n - 1 do
        for _, e in ipairs(rows[r]) do out.col[t], out.val[t] = e[1], e[2]; t = t + 1 end
        out.rowptr[r + 1] = t
      end
      return out
    end

    it("round-trips a random CSR set", function()
      local ds = data.synthetic_logistic { n = 400, d = 60, seed = 21, density = 0.15 }
      local csc = data.to_csc(ds)
      assert.are.equal("csc", csc.kind)
      assert.are.same({ ds.n, ds.d, ds.nnz }, { csc.n, csc.d, csc.nnz })
      assert.is_true(ffi.istype("int64_t[?]", csc.colptr))
      assert.is_true(ffi.istype("int32_t[?]", csc.row))
      assert.is_true(ffi.istype("double[?]", csc.val))
      assert.are.equal(8 * (ds.d + 1), ffi.sizeof(csc.colptr))
      assert.are.equal(4 * ds.nnz, ffi.sizeof(csc.row))
      assert.are.equal(0, tonumber(csc.colptr[0]))
      assert.are.equal(ds.nnz, tonumber(csc.colptr[ds.d]))
      assert.are.equal(ds.y, csc.y)
      assert.is_true(same_csr(ds, from_csc(csc)))
    end)

    it("matches a hand-worked example, with empty rows and columns", function()
      local hand = {
        n = 4, d = 5, nnz = 5,
        y = ffi.new("double[4]"),
        rowptr = ffi.new("int64_t[5]", { 0, 2, 2, 4, 5 }),
        col = ffi.new("int32_t[5]", { 1, 3, 0, 3, 1 }),
        val = ffi.new("double[5]", { 1, 2, 3, 4, 5 }),
      }
      local csc = data.to_csc(hand)
      assert.are.same({ 0, 1, 3, 3, 5, 5 }, array_to_table(csc.colptr, 6))
      assert.are.same({ 2, 0, 3, 0, 2 }, array_to_table(csc.row, 5))
      assert.are.same({ 3, 1, 5, 2, 4 }, array_to_table(csc.val, 5))
    end)

    it("raises on a triplet set or out-of-range columns", function()
      local ratings = { kind = "triplets", n = 1, user = ffi.new("int32_t[1]"), item = ffi.new("int32_t[1]"),
        rating = ffi.new("double[1]") }
      assert.has_error(function() data.to_csc(ratings) end,
        "bad argument 'ds' (CSR data set expected, got a triplet set)")
      assert.has_error(function() data.to_csc(nil) end)
      local bad = { n = 1, d = 2, nnz = 1, y = ffi.new("double[1]"), rowptr = ffi.new("int64_t[2]", { 0, 1 }),
        col = ffi.new("int32_t[1]", { 2 }), val = ffi.new("double[1]", { 1 }) }
      assert.has_error(function() data.to_csc(bad) end,
        "bad argument 'ds' (column index 2 at entry 0 outside [0, 2))")
    end)
  end)

  describe("synthetic_lasso", function()
    local function column_correlation(ds, a, b)
      local csc = data.to_csc(ds)
      local xa, xb = {}, {}
      for r = 0, ds.n - 1 do xa[r], xb[r] = 0, 0 end
      for t = tonumber(csc.colptr[a]), tonumber(csc.colptr[a + 1]) - 1 do xa[csc.row[t]] = csc.val[t] end
      for t = tonumber(csc.colptr[b]), tonumber(csc.colptr[b + 1]) - 1 do xb[csc.row[t]] = csc.val[t] end
      local sa, sb, saa, sbb, sab = 0, 0, 0, 0, 0
      for r = 0, ds.n - 1 do
        sa, sb = sa + xa[r], sb + xb[r]
        saa, sbb, sab = saa + xa[r] ^ 2, sbb + xb[r] ^ 2, sab + xa[r] * xb[r]
      end
      local n = ds.n
      local cov = sab / n - (sa / n) * (sb / n)
      return cov / math.sqrt((saa / n - (sa / n) ^ 2) * (sbb / n - (sb / n) ^ 2))
    end

    it("has the documented shape: dense rows, p columns, w_true with k non-zeros", function()
      local ds = data.synthetic_lasso { n = 50, p = 30, rho = 0.3, k = 7, seed = 4 }
      assert.are.equal("csr", ds.kind)
      assert.are.same({ 50, 30, 1500 }, { ds.n, ds.d, ds.nnz })
      assert.are.equal(ds.nnz, tonumber(ds.rowptr[ds.n]))
      for r = 0, ds.n - 1 do
        assert.are.equal(30 * r, tonumber(ds.rowptr[r]))
        for t = 0, 29 do assert.are.equal(t, ds.col[30 * r + t]) end
      end
      assert.is_true(ffi.istype("double[?]", ds.w_true))
      assert.are.equal(8 * 30, ffi.sizeof(ds.w_true))
      local nonzero, negative = 0, 0
      for j = 0, 29 do
        local w = ds.w_true[j]
        if w ~= 0 then
          nonzero = nonzero + 1
          assert.is_true(math.abs(w) >= 0.5 and math.abs(w) < 1.5, "magnitude " .. w)
          if w < 0 then negative = negative + 1 end
        end
      end
      assert.are.equal(7, nonzero)
      assert.is_true(negative > 0 and negative < 7, "random signs")
      local defaults = data.synthetic_lasso { n = 5, p = 40 }
      local count = 0
      for j = 0, 39 do if defaults.w_true[j] ~= 0 then count = count + 1 end end
      assert.are.equal(10, count)
      local none = data.synthetic_lasso { n = 5, p = 3, k = 0 }
      assert.are.same({ 0, 0, 0 }, array_to_table(none.w_true, 3))
      local all = data.synthetic_lasso { n = 5, p = 3, k = 3 }
      for j = 0, 2 do assert.are_not.equal(0, all.w_true[j]) end
    end)

    it("is determined by its parameters, and a smaller n is a prefix", function()
      local a = data.synthetic_lasso { n = 200, p = 25, rho = 0.4, k = 5, seed = 8 }
      local b = data.synthetic_lasso { n = 200, p = 25, rho = 0.4, k = 5, seed = 8 }
      assert.is_true(same_csr(a, b))
      assert.are.equal(ffi.string(a.w_true, 8 * 25), ffi.string(b.w_true, 8 * 25))
      local c = data.synthetic_lasso { n = 200, p = 25, rho = 0.4, k = 5, seed = 9 }
      assert.is_false(same_csr(a, c))
      assert.are_not.equal(ffi.string(a.w_true, 8 * 25), ffi.string(c.w_true, 8 * 25))
      local small = data.synthetic_lasso { n = 50, p = 25, rho = 0.4, k = 5, seed = 8 }
      assert.is_true(same_csr(small, data.subset(a, { first = 0, count = 50 })))
    end)

    for _, rho in ipairs({ 0, 0.5, 0.9 }) do
      it("gives every two columns correlation about rho = " .. rho, function()
        local ds = data.synthetic_lasso { n = 20000, p = 4, rho = rho, k = 2, seed = 3 }
        for _, pair in ipairs({ { 0, 1 }, { 1, 3 }, { 2, 3 } }) do
          local r = column_correlation(ds, pair[1], pair[2])
          assert.is_true(math.abs(r - rho) < 0.05, "columns " .. pair[1] .. "," .. pair[2] .. ": " .. r)
        end
      end)
    end

    it("makes y = X w_true + noise", function()
      local function residuals(ds)
        local sum, sum_squares = 0, 0
        for r = 0, ds.n - 1 do
          local fit = 0
          for t = tonumber(ds.rowptr[r]), tonumber(ds.rowptr[r + 1]) - 1 do
            fit = fit + ds.val[t] * ds.w_true[ds.col[t]]
          end
          local e = ds.y[r] - fit
          sum, sum_squares = sum + e, sum_squares + e * e
        end
        return sum / ds.n, math.sqrt(sum_squares / ds.n)
      end
      local _, exact = residuals(data.synthetic_lasso { n = 300, p = 20, rho = 0.2, k = 4, noise = 0, seed = 2 })
      assert.are.equal(0, exact)
      local mean, spread = residuals(data.synthetic_lasso {
        n = 10000, p = 10, rho = 0.2, k = 4, noise = 0.3, seed = 2 })
      assert.is_true(math.abs(mean) < 0.02, "mean " .. mean)
      assert.is_true(math.abs(spread - 0.3) < 0.02, "noise std " .. spread)
      local _, default_spread = residuals(data.synthetic_lasso { n = 10000, p = 10, k = 4, seed = 2 })
      assert.is_true(math.abs(default_spread - 0.1) < 0.01, "default noise std " .. default_spread)
    end)

    it("keeps a fraction density of the entries, sorted, when density < 1", function()
      local ds = data.synthetic_lasso { n = 2000, p = 50, rho = 0.5, k = 5, density = 0.2, seed = 6 }
      local fraction = ds.nnz / (ds.n * ds.d)
      assert.is_true(math.abs(fraction - 0.2) < 0.01, "density " .. fraction)
      assert.are.equal(ds.nnz, tonumber(ds.rowptr[ds.n]))
      assert.are.equal(4 * ds.nnz, ffi.sizeof(ds.col))
      for r = 0, ds.n - 1 do
        for t = tonumber(ds.rowptr[r]) + 1, tonumber(ds.rowptr[r + 1]) - 1 do
          assert.is_true(ds.col[t] > ds.col[t - 1])
        end
      end
      local sparse = data.synthetic_lasso { n = 20000, p = 3, rho = 0.5, k = 1, density = 0.5, seed = 6 }
      local r = column_correlation(sparse, 0, 1)
      assert.is_true(math.abs(r - 0.25) < 0.05, "sparsified correlation " .. r)
    end)

    it("raises on bad parameters", function()
      assert.has_error(function() data.synthetic_lasso() end,
        "bad argument to synthetic_lasso (table expected, got nil)")
      assert.has_error(function() data.synthetic_lasso { p = 3 } end,
        "bad field 'n' to synthetic_lasso (positive integer expected, got nil)")
      assert.has_error(function() data.synthetic_lasso { n = 3, p = 0 } end)
      assert.has_error(function() data.synthetic_lasso { n = 3, p = 3, rho = 1 } end,
        "bad field 'rho' to synthetic_lasso (number in [0, 1) expected, got number 1)")
      assert.has_error(function() data.synthetic_lasso { n = 3, p = 3, rho = -0.1 } end)
      assert.has_error(function() data.synthetic_lasso { n = 3, p = 3, k = 4 } end,
        "bad field 'k' to synthetic_lasso (integer in [0, p = 3] expected, got number 4)")
      assert.has_error(function() data.synthetic_lasso { n = 3, p = 3, k = 1.5 } end)
      assert.has_error(function() data.synthetic_lasso { n = 3, p = 3, noise = -1 } end)
      assert.has_error(function() data.synthetic_lasso { n = 3, p = 3, density = 0 } end)
      assert.has_error(function() data.synthetic_lasso { n = 3, p = 3, seed = 0.5 } end)
    end)
  end)

  describe("staged benchmark sets", function()
    local a9a = data_dir .. "/a9a.gz"
    if file_exists(a9a) then
      it("reads a9a as 32561 x 123 with 451592 nonzeros", function()
        local ds = assert(data.read_libsvm(a9a))
        assert.are.equal(32561, ds.n)
        assert.are.equal(123, ds.d)
        assert.are.equal(451592, ds.nnz)
        for r = 0, ds.n - 1 do assert.is_true(ds.y[r] == 1 or ds.y[r] == -1) end
      end)
    else
      pending("a9a.gz not found in " .. data_dir .. " (set PMLS_DATA)")
    end

    local news = data_dir .. "/20news.tfidf.binary.train.svm.gz"
    if file_exists(news) then
      it("reads 20news tf-idf train as 11314 x 39423 with 1041420 nonzeros", function()
        local ds = assert(data.read_libsvm(news))
        assert.are.equal(11314, ds.n)
        assert.are.equal(39423, ds.d)
        assert.are.equal(1041420, ds.nnz)
      end)
    else
      pending("20news.tfidf.binary.train.svm.gz not found in " .. data_dir .. " (set PMLS_DATA)")
    end

    local strads_x = data_dir .. "/strads-lasso500by1K.X.mmt.gz"
    local strads_y = data_dir .. "/strads-lasso500by1K.Y.mmt.gz"
    if file_exists(strads_x) and file_exists(strads_y) then
      it("reads the STRADS Lasso X/Y as 500 x 1000 with 20000 nonzeros and 500 labels", function()
        local ds = assert(data.read_mm(strads_x, { labels = strads_y }))
        assert.are.same({ 500, 1000, 20000 }, { ds.n, ds.d, ds.nnz })
        assert.are.equal(0.047674, ds.y[0]) -- the first value in the Y file
        local y = assert(data.read_mm(strads_y))
        assert.are.same({ 500, 1, 500 }, { y.n, y.d, y.nnz })
        assert.are.equal(ffi.string(y.val, 8 * 500), ffi.string(ds.y, 8 * 500))
        assert.is_true(same_csr(ds, assert(data.read_matrix(strads_x:sub(1, -4), { labels = strads_y }))))
        local csc = data.to_csc(ds)
        assert.are.equal(20000, tonumber(csc.colptr[1000]))
      end)
    else
      pending("strads-lasso500by1K.X/Y.mmt.gz not found in " .. data_dir .. " (set PMLS_DATA)")
    end
  end)
end)
