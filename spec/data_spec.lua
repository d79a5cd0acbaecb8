-- Spec for pmls.data: exact parsing of small libsvm and rating fixtures (plain and gzip), every
-- error path with its file:line, shard partitioning, the synthetic generator's determinism, and
-- the shapes of the staged benchmark sets when they are present.
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
        "0x10", "1e-400" }
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

    it("reads an empty file as an empty set", function()
      local ds = assert(data.read_libsvm(write_temp("\n# nothing\n\n")))
      assert.are.equal(0, ds.n)
      assert.are.equal(0, ds.nnz)
      assert.are.equal(0, ds.d)
      assert.are.equal(0, tonumber(ds.rowptr[0]))
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
        assert_fails_at(path, 0, "gzip -dc failed (exit status 1)", data.read_libsvm(path))
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
        assert.truthy(err:match("^" .. path:gsub("%p", "%%%0") .. ":%d+: gzip %-dc failed %(exit status %d+%)"), err)
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
      assert_fails_at(path, 0, "gzip -dc failed", data.read_triplets(path))
    end)

    it("raises on misuse", function()
      assert.has_error(function() data.read_triplets() end,
        "bad argument 'path' (string expected, got nil)")
      assert.has_error(function() data.read_triplets(write_temp(TRIPLETS), { d = 3 }) end,
        "unknown option 'd' to read_triplets")
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
  end)
end)
