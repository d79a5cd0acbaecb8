-- Spec for pmls.data's libsvm and rating readers: exact parsing of small fixtures (plain and
-- gzip, and the path.gz fallback), every error path with its file:line, and the shapes of the
-- staged benchmark sets when they are present. Matrix Market, the CSC copy: data_mm_spec.lua;
-- the generators, subsets and shards: data_synthetic_spec.lua.
--
-- Run: luajit /usr/bin/busted --lpath='./lua/?.lua;./lua/?/init.lua;./spec/?.lua' spec/data_spec.lua

local ffi = require("ffi")
local data = require("pmls.data")
local U = require("fixtures.data_spec_util")
local data_dir, file_exists, temp_path, write_file = U.data_dir, U.file_exists, U.temp_path, U.write_file
local write_temp, write_gzip, array_to_table, row_entries = U.write_temp, U.write_gzip, U.array_to_table, U.row_entries
local same_csr, assert_fails_at, LIBSVM_FIXTURE = U.same_csr, U.assert_fails_at, U.LIBSVM_FIXTURE

describe("pmls.data", function()
  setup(U.make_dir)
  teardown(U.remove_dir)

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
        assert_fails_at(U.dir(), 0, "cannot read", data.read_libsvm(U.dir()))
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
