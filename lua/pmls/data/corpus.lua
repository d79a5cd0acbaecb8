-- pmls.data.corpus: read_docword and read_ldac, the bag-of-words readers, and corpus_range.
--
-- Topic models read a corpus from every worker, so the engine parses it in C
-- (engine/src/data/corpus.c) and may keep the parse (opts.engine) so that the threads of a process
-- share it. This file checks the options, wraps the engine's arrays as a pmls.data corpus set and
-- cuts the caller's shard. A worker's shard is a contiguous range of documents, and a range is a
-- view: its word and count arrays point into the whole set's (only the range's docptr, one offset
-- per document, is its own), so a shard of the engine's copy costs no copy of the entries.

local input_error = require("pmls.failure").input
local ffi = require("ffi")
local check = require("pmls.data.check")
local source = require("pmls.data.source")
local libsvm = require("pmls.data.libsvm")

local describe_value, is_integer, check_path = check.describe_value, check.is_integer, check.check_path
local check_options, check_shard_option = check.check_options, check.check_shard_option
local check_engine_option = libsvm.check_engine_option
local resolve_path, engine_c, ERROR_BYTES = source.resolve_path, source.engine_c, source.ERROR_BYTES

local int32_array = ffi.typeof("int32_t[?]")
local int64_array = ffi.typeof("int64_t[?]")

local M = {}

local function check_vocab_option(vocab)
  if vocab ~= nil and type(vocab) ~= "string" then
    error("bad option 'vocab' (path string expected, got " .. type(vocab) .. ")", 3)
  end
  return vocab
end

-- The vocabulary as a Lua table from word id (0-based, like `word`) to string, or nil.
local function vocab_table(c)
  if c.vocab_offset == nil then return nil end
  local words, text, offset = {}, c.vocab_text, c.vocab_offset
  for w = 0, tonumber(c.words) - 1 do
    local first = tonumber(offset[w])
    words[w] = ffi.string(text + first, tonumber(offset[w + 1]) - first - 1)
  end
  return words
end

-- Documents [first, first + count) of ds, as a view of its arrays (holder keeps them alive when
-- they are Lua's own).
local function range_view(ds, first, count)
  if first == 0 and count == ds.docs then return ds end
  local base = ds.docptr[first]
  local docptr = int64_array(count + 1)
  for d = 0, count do docptr[d] = ds.docptr[first + d] - base end
  local nnz, b = tonumber(docptr[count]), tonumber(base)
  local word, counts = ds.word + b, ds.count + b
  local tokens = 0
  for k = 0, nnz - 1 do tokens = tokens + counts[k] end
  return { kind = "corpus", docs = count, words = ds.words, nnz = nnz, tokens = tokens,
           docptr = docptr, word = word, count = counts, line = ds.line + first,
           vocab = ds.vocab, first_doc = ds.first_doc + first, shared = ds.shared,
           holder = ds.holder or (not ds.shared and ds or nil) }
end

-- The view's arrays copied into arrays of its own (the C parse is then freed).
local function own_copy(view)
  local nnz, docs = view.nnz, view.docs
  local word, count, line = int32_array(nnz), int32_array(nnz), int64_array(docs)
  local docptr = int64_array(docs + 1)
  if nnz > 0 then
    ffi.copy(word, view.word, 4 * nnz)
    ffi.copy(count, view.count, 4 * nnz)
  end
  if docs > 0 then ffi.copy(line, view.line, 8 * docs) end
  ffi.copy(docptr, view.docptr, 8 * (docs + 1))
  view.word, view.count, view.line, view.docptr, view.holder = word, count, line, docptr, nil
  return view
end

local READERS = {
  docword = { owned = "pmls_corpus_read_docword", engine = "pmls_engine_read_docword" },
  ldac = { owned = "pmls_corpus_read_ldac", engine = "pmls_engine_read_ldac" },
}

-- Reads a checked request: the corpus set, or nil, "path:LINE: ...".
local function read_corpus(format, path, vocab, shard_index, shard_count, engine)
  path = resolve_path(path)
  if vocab then vocab = resolve_path(vocab) end
  local C, names = engine_c(), READERS[format]
  local err = ffi.new("char[?]", ERROR_BYTES)
  local c
  if engine then
    c = ffi.new("pmls_corpus")
    if C[names.engine](engine, path, vocab, c, err, ERROR_BYTES) ~= 0 then
      return nil, input_error(ffi.string(err))
    end
  else
    local out = ffi.new("pmls_corpus *[1]")
    if C[names.owned](path, vocab, out, err, ERROR_BYTES) ~= 0 then return nil, input_error(ffi.string(err)) end
    c = ffi.gc(out[0], C.pmls_corpus_free)
  end
  local docs = tonumber(c.docs)
  local whole = { kind = "corpus", docs = docs, words = tonumber(c.words), nnz = tonumber(c.nnz),
                  tokens = tonumber(c.tokens), docptr = c.docptr, word = c.word, count = c.count,
                  line = c.line, vocab = vocab_table(c), first_doc = 0, shared = engine and true or nil }
  local first = math.floor(shard_index * docs / shard_count)
  local last = math.floor((shard_index + 1) * docs / shard_count)
  local ds = range_view(whole, first, last - first)
  if engine then return ds end
  own_copy(ds)
  C.pmls_corpus_free(ffi.gc(c, nil))
  return ds
end

-- data.read_docword(path [, {vocab=, shard={index=, count=}, engine=}]) -> corpus | nil, err
-- data.read_ldac(path [, {vocab=, shard=, engine=}]) -> corpus | nil, err
--
-- A corpus set: {kind = "corpus", docs, words, nnz, tokens, docptr (int64, docs + 1), word
-- (int32, 0-based, increasing within a document), count (int32), line (int64: the file line of
-- each document), vocab (nil, or a table from word id to string), first_doc (the whole corpus's
-- index of document 0)}. UCI docword (`docword.*.txt`) or LDA-C; opts.vocab names a vocabulary
-- file (`vocab.*.txt`, one word per line). With opts.engine (a pmls_engine *, ctx.engine in a
-- model script) the engine keeps the parse and the arrays are its own, read-only (const) and
-- valid until the engine is destroyed, shard or not; otherwise they are the caller's. A shard is
-- documents [floor(i D / n), floor((i + 1) D / n)) for shard {index = i, count = n}. The whole
-- file is validated whatever the shard.
function M.read_docword(path, opts)
  check_path(path)
  opts = check_options(opts, { vocab = true, shard = true, engine = true }, "read_docword")
  local vocab = check_vocab_option(opts.vocab)
  local index, count = check_shard_option(opts.shard)
  return read_corpus("docword", path, vocab, index, count, check_engine_option(opts.engine))
end

function M.read_ldac(path, opts)
  check_path(path)
  opts = check_options(opts, { vocab = true, shard = true, engine = true }, "read_ldac")
  local vocab = check_vocab_option(opts.vocab)
  local index, count = check_shard_option(opts.shard)
  return read_corpus("ldac", path, vocab, index, count, check_engine_option(opts.engine))
end

-- data.corpus_range(ds, first, count) -> documents [first, first + count) of a corpus set, as a
-- view of its arrays (e.g. a train / test split by document).
function M.corpus_range(ds, first, count)
  if type(ds) ~= "table" or ds.kind ~= "corpus" then
    error("bad argument 'ds' to corpus_range (corpus set expected, got " .. describe_value(ds)
      .. ")", 2)
  end
  if not (is_integer(first) and is_integer(count) and first >= 0 and count >= 0
      and first + count <= ds.docs) then
    error("bad argument to corpus_range (range first=, count= within [0, " .. ds.docs
      .. "] expected, got first=" .. describe_value(first) .. ", count=" .. describe_value(count)
      .. ")", 2)
  end
  return range_view(ds, first, count)
end

return M
