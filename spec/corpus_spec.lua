-- Spec for the bag-of-words readers of pmls.data (read_docword, read_ldac, corpus_range) and the
-- ctx readers that pass the engine: exact arrays and vocabularies of small fixtures (plain, gzip,
-- the path.gz fallback), errors as nil, "path:LINE: ..." and misuse raised at the caller's line,
-- shards that partition the documents as views of the engine's parse, and, when ../shared/data
-- holds them, 20news (UCI docword) and AP (LDA-C) against their published sizes and against an
-- independent parse in Lua.

local ffi = require("ffi")
local data = require("pmls.data")
local helpers = require("helpers")

local function address(p) return tonumber(ffi.cast("intptr_t", p)) end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

local function gzip(path, text)
  write(path .. ".plain", text)
  assert(os.execute("gzip -c " .. helpers.quote(path .. ".plain") .. " > " .. helpers.quote(path)))
  return path
end

local function ints(array, count)
  local out = {}
  for i = 0, count - 1 do out[#out + 1] = tonumber(array[i]) end
  return out
end

-- The documents of a corpus set as lists of {word, count}, from doc 0.
local function documents(ds)
  local out = {}
  for d = 0, ds.docs - 1 do
    local doc = {}
    for k = tonumber(ds.docptr[d]), tonumber(ds.docptr[d + 1]) - 1 do
      doc[#doc + 1] = { ds.word[k], ds.count[k] }
    end
    out[d + 1] = doc
  end
  return out
end

local DOCWORD = "4\n5\n6\n1 2 3\n1 5 1\r\n\n3 4 2\n3 1 1\n  3 2 7  \n3 3 1"
local VOCAB = "alpha\nbeta\r\n  gamma \ndelta\nepsilon"
local LDAC = "2 3:1 0:2\n\n0\r\n 1  7:5 \n3 2:1 1:1 4:3"

describe("pmls.data corpus readers", function()
  local dir
  setup(function() dir = helpers.tempdir() end)
  teardown(helpers.cleanup)

  describe("read_docword", function()
    it("gives the documents exactly, plain, gzip and through the .gz fallback", function()
      local plain = write(dir .. "/a.docword", DOCWORD)
      gzip(dir .. "/b.docword.gz", DOCWORD)
      for _, path in ipairs({ plain, dir .. "/b.docword.gz", dir .. "/b.docword" }) do
        local ds = assert(data.read_docword(path))
        assert.are.same({ "corpus", 4, 5, 6, 15, 0 },
          { ds.kind, ds.docs, ds.words, ds.nnz, ds.tokens, ds.first_doc })
        assert.are.same({ 0, 2, 2, 6, 6 }, ints(ds.docptr, 5))
        assert.are.same({ 1, 4, 0, 1, 2, 3 }, ints(ds.word, 6))
        assert.are.same({ 3, 1, 1, 7, 1, 2 }, ints(ds.count, 6))
        assert.are.same({ 4, 0, 7, 0 }, ints(ds.line, 4))
        assert.is_nil(ds.vocab)
        assert.is_nil(ds.shared)
        ds.count[0] = 9 -- the caller's own arrays
      end
    end)

    it("reads the vocabulary as a table from word id to word", function()
      local path = write(dir .. "/v.docword", DOCWORD)
      local ds = assert(data.read_docword(path, { vocab = write(dir .. "/v.vocab", VOCAB) }))
      assert.are.same({ [0] = "alpha", "beta", "gamma", "delta", "epsilon" }, ds.vocab)
      local short = write(dir .. "/short.vocab", "a\nb\n")
      local none, err = data.read_docword(path, { vocab = short })
      assert.is_nil(none)
      assert.are.equal(short .. ":2: fewer words than the W = 5 of " .. path, err)
    end)

    it("returns nil and path:LINE for a malformed line", function()
      local path = write(dir .. "/bad.docword", "2\n2\n2\n2 1 1\n1 2 1\n")
      local ds, err = data.read_docword(path)
      assert.is_nil(ds)
      assert.are.equal(path .. ":5: document 1 after document 2 (entries must be grouped by "
        .. "document, in increasing order)", err)
      ds, err = data.read_docword(dir .. "/missing.docword")
      assert.is_nil(ds)
      assert.are.equal(dir .. "/missing.docword:0: cannot open: No such file or directory", err)
    end)

    it("raises for misuse, at the caller's line", function()
      local line = debug.getinfo(1, "l").currentline + 1
      local ok, err = pcall(function() data.read_docword("x", { vocabulary = "v" }) end)
      assert.is_false(ok)
      assert.matches("corpus_spec%.lua:" .. line .. ": unknown option 'vocabulary' to read_docword", err)
      assert.has_error(function() data.read_docword("x", { vocab = 3 }) end,
        "bad option 'vocab' (path string expected, got number)")
      assert.has_error(function() data.read_ldac("x", { shard = { index = 2, count = 2 } }) end,
        "bad shard index (integer in [0, 1] expected, got number 2)")
      assert.has_error(function() data.read_ldac("x", { engine = 3 }) end,
        "bad option 'engine' (pmls_engine * expected, got number 3)")
      assert.has_error(function() data.read_ldac(3) end,
        "bad argument 'path' (string expected, got number)")
    end)
  end)

  describe("read_ldac", function()
    it("gives the documents exactly, words sorted, with or without a vocabulary", function()
      local path = gzip(dir .. "/a.ldac.gz", LDAC)
      local ds = assert(data.read_ldac(path))
      assert.are.same({ 4, 8, 6, 13 }, { ds.docs, ds.words, ds.nnz, ds.tokens })
      assert.are.same({ { { 0, 2 }, { 3, 1 } }, {}, { { 7, 5 } }, { { 1, 1 }, { 2, 1 }, { 4, 3 } } },
        documents(ds))
      assert.are.same({ 1, 3, 4, 5 }, ints(ds.line, 4))
      local vocab = write(dir .. "/ten.vocab", "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n")
      local with = assert(data.read_ldac(path, { vocab = vocab }))
      assert.are.equal(10, with.words)
      assert.are.equal("j", with.vocab[9])
      local seven = write(dir .. "/seven.vocab", "a\nb\nc\nd\ne\nf\ng\n")
      local none, err = data.read_ldac(path, { vocab = seven })
      assert.is_nil(none)
      assert.are.equal(path .. ":4: word id 7 is not in the vocabulary (" .. seven
        .. " has 7 words)", err)
      none, err = data.read_ldac(write(dir .. "/bad.ldac", "2 3:1\n"))
      assert.is_nil(none)
      assert.matches("bad%.ldac:1: the line starts with N = 2 but has 1 word:count pairs$", err)
    end)
  end)

  describe("shards and ranges", function()
    local E
    before_each(function() E = helpers.engine() end)
    after_each(function() E:close() end)

    -- 11 documents of 1..11 words.
    local function corpus_file()
      local lines = {}
      for d = 1, 11 do
        local pairs = { tostring(d) }
        for w = 1, d do pairs[#pairs + 1] = (3 * w + d) % 40 .. ":" .. w end
        lines[#lines + 1] = table.concat(pairs, " ")
      end
      return write(dir .. "/shards.ldac", table.concat(lines, "\n") .. "\n")
    end

    it("partition the documents into contiguous ranges, views of the engine's arrays", function()
      local path = corpus_file()
      local whole = assert(data.read_ldac(path, { engine = E.e }))
      assert.is_true(whole.shared)
      assert.has_error(function() whole.count[0] = 1 end) -- const: the engine's own
      local again = assert(data.read_ldac(path, { engine = E.e }))
      assert.are.equal(address(whole.word), address(again.word))
      local all, tokens = documents(whole), 0
      for count = 1, 4 do
        local next_doc = 0
        for index = 0, count - 1 do
          local part = assert(data.read_ldac(path, { engine = E.e, shard = { index = index, count = count } }))
          assert.are.equal(math.floor(index * 11 / count), part.first_doc)
          assert.are.equal(next_doc, part.first_doc)
          next_doc = part.first_doc + part.docs
          assert.is_true(part.shared)
          local base = tonumber(whole.docptr[part.first_doc])
          assert.are.equal(address(whole.word) + 4 * base, address(part.word))
          assert.are.equal(address(whole.count) + 4 * base, address(part.count))
          assert.are.equal(part.nnz, tonumber(part.docptr[part.docs]))
          local mine = documents(part)
          for d = 1, part.docs do assert.are.same(all[part.first_doc + d], mine[d]) end
          for d = 0, part.docs - 1 do
            assert.are.equal(whole.line[part.first_doc + d], part.line[d])
          end
          tokens = tokens + part.tokens
        end
        assert.are.equal(11, next_doc)
      end
      assert.are.equal(4 * whole.tokens, tokens)
      assert.are.same({ 66, 286 }, { whole.nnz, whole.tokens })
    end)

    it("give the same documents without the engine, in arrays of the caller's own", function()
      local path = corpus_file()
      local whole = assert(data.read_ldac(path))
      for index = 0, 2 do
        local opts = { shard = { index = index, count = 3 } }
        local own = assert(data.read_ldac(path, opts))
        opts.engine = E.e
        local view = assert(data.read_ldac(path, opts))
        assert.are.same(documents(view), documents(own))
        assert.are.same({ view.first_doc, view.docs, view.nnz, view.tokens },
          { own.first_doc, own.docs, own.nnz, own.tokens })
        assert.is_nil(own.shared)
        own.count[0] = 100
      end
      assert.are.same(documents(assert(data.read_ldac(path, { engine = E.e }))), documents(whole))
    end)

    it("corpus_range cuts a view of any set, and checks its arguments", function()
      local whole = assert(data.read_ldac(corpus_file()))
      local part = data.corpus_range(whole, 3, 4)
      assert.are.same({ 3, 4, 4 + 5 + 6 + 7 }, { part.first_doc, part.docs, part.nnz })
      assert.are.equal(address(whole.word) + 4 * (1 + 2 + 3), address(part.word))
      local inner = data.corpus_range(part, 1, 2)
      assert.are.equal(4, inner.first_doc)
      assert.are.same({ documents(whole)[5], documents(whole)[6] }, documents(inner))
      assert.are.equal(0, data.corpus_range(whole, 11, 0).docs)
      local line = debug.getinfo(1, "l").currentline + 1
      local ok, err = pcall(function() data.corpus_range(whole, 8, 4) end)
      assert.is_false(ok)
      assert.matches("corpus_spec%.lua:" .. line .. ": bad argument to corpus_range %(range "
        .. "first=, count= within %[0, 11%] expected, got first=number 8, count=number 4%)", err)
      assert.has_error(function() data.corpus_range({ n = 3 }, 0, 1) end,
        "bad argument 'ds' to corpus_range (corpus set expected, got table)")
    end)

    it("ctx:read_docword and ctx:read_ldac pass the engine", function()
      local docword = write(dir .. "/ctx.docword", DOCWORD)
      local vocab = write(dir .. "/ctx.vocab", VOCAB)
      local a = assert(E.setup:read_docword(docword, { vocab = vocab }))
      assert.is_true(a.shared)
      assert.are.equal("epsilon", a.vocab[4])
      local worker = E.context.worker(E.e, E:client(0), {}, nil)
      local b = assert(worker:read_docword(docword, { shard = { index = 1, count = 2 } }))
      assert.are.equal(2, b.first_doc)
      assert.are.equal(address(a.word) + 4 * 2, address(b.word))
      local l = assert(worker:read_ldac(write(dir .. "/ctx.ldac", LDAC)))
      assert.are.equal(6, l.nnz)
      local line = debug.getinfo(1, "l").currentline + 1
      local ok, err = pcall(function() E.setup:read_ldac(docword, { engine = E.e }) end)
      assert.is_false(ok)
      assert.matches("corpus_spec%.lua:" .. line .. ": bad argument 'opt' to read_ldac %(the "
        .. "context passes the engine itself", err)
      local none, why = E.setup:read_ldac(docword)
      assert.is_nil(none)
      assert.matches("ctx%.docword:1: the line starts with N = 4", why)
    end)
  end)

  describe("staged corpora", function()
    local news = helpers.DATA .. "/docword.20news.txt.gz"
    local news_vocab = helpers.DATA .. "/vocab.20news.txt.gz"
    if helpers.exists(news) and helpers.exists(news_vocab) then
      it("reads 20news as 18,846 docs over 21,600 words, as a Lua parse does", function()
        local ds = assert(data.read_docword(news, { vocab = news_vocab }))
        assert.are.same({ 18846, 21600, 1012392, 1584981 }, { ds.docs, ds.words, ds.nnz, ds.tokens })
        assert.are.same({ "aa", "zz" }, { ds.vocab[0], ds.vocab[21599] })
        local empty = 0
        for d = 0, ds.docs - 1 do
          if ds.docptr[d] == ds.docptr[d + 1] then empty = empty + 1 end
        end
        assert.are.equal(568, empty)
        -- Every entry, in file order (the file is sorted as UCI's are).
        local p = assert(io.popen("gzip -dc " .. helpers.quote(news)))
        for _ = 1, 3 do p:read("*l") end
        local k, bad = 0, nil
        for line in p:lines() do
          local d, w, c = line:match("^(%d+) (%d+) (%d+)$")
          d, w, c = tonumber(d) - 1, tonumber(w) - 1, tonumber(c)
          if not bad and (ds.word[k] ~= w or ds.count[k] ~= c
              or not (ds.docptr[d] <= k and k < ds.docptr[d + 1])) then
            bad = line
          end
          k = k + 1
        end
        p:close()
        assert.is_nil(bad)
        assert.are.equal(ds.nnz, k)
      end)
    else
      pending("docword.20news.txt.gz / vocab.20news.txt.gz not found in " .. helpers.DATA
        .. " (set PMLS_DATA)")
    end

    local ap = helpers.DATA .. "/ap-blei.tar.xz"
    if helpers.exists(ap) then
      it("reads AP (LDA-C) as 2,246 docs over 10,473 words, as a Lua parse does", function()
        local rc, out = helpers.sh("tar -xJf " .. helpers.quote(ap) .. " -C " .. helpers.quote(dir)
          .. " 2>&1")
        assert(rc == 0, out)
        local ds = assert(data.read_ldac(dir .. "/ap/ap.dat", { vocab = dir .. "/ap/vocab.txt" }))
        assert.are.same({ 2246, 10473, 302031, 435838 }, { ds.docs, ds.words, ds.nnz, ds.tokens })
        assert.are.same({ "i", "buffs" }, { ds.vocab[0], ds.vocab[10472] })
        local d, bad = 0, nil
        for line in io.lines(dir .. "/ap/ap.dat") do
          local doc = {}
          for w, c in line:gmatch("(%d+):(%d+)") do doc[#doc + 1] = { tonumber(w), tonumber(c) } end
          table.sort(doc, function(x, y) return x[1] < y[1] end)
          local first = tonumber(ds.docptr[d])
          if #doc ~= tonumber(ds.docptr[d + 1]) - first then bad = bad or d end
          for i, pair in ipairs(doc) do
            if ds.word[first + i - 1] ~= pair[1] or ds.count[first + i - 1] ~= pair[2] then
              bad = bad or d
            end
          end
          d = d + 1
        end
        assert.is_nil(bad)
        assert.are.equal(2246, d)
      end)
    else
      pending("ap-blei.tar.xz not found in " .. helpers.DATA .. " (set PMLS_DATA)")
    end
  end)
end)
