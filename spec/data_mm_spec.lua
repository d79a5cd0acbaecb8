-- Spec for pmls.data's Matrix Market reader, read_matrix (libsvm or Matrix Market by name)
-- and the CSC copy: exact parsing of small fixtures (plain and gzip) and every error path
-- with its file:line.
--
-- Run: luajit /usr/bin/busted --lpath='./lua/?.lua;./lua/?/init.lua;./spec/?.lua' spec/data_mm_spec.lua

local ffi = require("ffi")
local data = require("pmls.data")
local U = require("fixtures.data_spec_util")
local temp_path, write_temp, write_gzip, array_to_table = U.temp_path, U.write_temp, U.write_gzip, U.array_to_table
local row_entries, same_csr, assert_fails_at, LIBSVM_FIXTURE = U.row_entries, U.same_csr, U.assert_fails_at, U.LIBSVM_FIXTURE

describe("pmls.data", function()
  setup(U.make_dir)
  teardown(U.remove_dir)

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
end)
