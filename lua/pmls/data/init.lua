-- pmls.data: the training sets that PMLS model scripts, examples and benchmarks feed to the engine.
--
-- It reads libsvm/svmlight and Matrix Market files into a CSR matrix and rating files (MovieLens
-- style `user item rating [timestamp]`) into coordinate arrays, plain or gzip-compressed (a missing
-- `name` is read from `name.gz` when that exists), and it generates deterministic synthetic
-- logistic-regression and Lasso sets. `to_csc` gives the column-major copy that coordinate-descent
-- solvers walk. Everything lands in FFI arrays, not Lua tables:
-- model scripts and the C engine walk these arrays in hot loops, and a million boxed Lua numbers
-- would cost both memory and GC time. Files are read through the engine (engine/src/data/):
-- its line reader inflates gzip in process, and libsvm, Matrix Market and rating files are parsed
-- in C and may be kept by the engine (opts.engine) so that the threads of a process share one
-- parse.
-- Data-parallel workers each keep only their shard (`opts.shard`, `data.shard`), yet every
-- worker validates the whole file and sees the same dimensions, so all workers agree on table
-- sizes without talking to each other.
--
-- Conventions: a file problem (missing file, malformed line) is a runtime failure and returns
-- `nil, "path:LINE: what is wrong"`; calling a function the wrong way is a programming error and raises.
--
-- This file only gathers the public functions; each concern has a module of its own beside it:
--   source     the lines of a file through the engine's reader, and the "path:LINE: ..." messages
--   scan       byte scanning and exact number parsing over one line
--   check      the argument checks all of them share
--   libsvm     read_libsvm (parsed in C)
--   mm         the Matrix Market reader (parsed in C)
--   matrix     read_mm (with a label file) and read_matrix (either format)
--   ratings    read_triplets (parsed in C)
--   corpus     read_docword and read_ldac (bag-of-words corpora, parsed in C) and corpus_range
--   rows       subset, shard and to_csc over CSR and triplet sets
--   synthetic  synthetic_logistic and synthetic_lasso
-- and new_rng is pmls.rng's splitmix64. The functions are the modules' own (no wrappers), so a
-- misuse error still blames the script's line.

local libsvm = require("pmls.data.libsvm")
local corpus = require("pmls.data.corpus")
local matrix = require("pmls.data.matrix")
local ratings = require("pmls.data.ratings")
local rows = require("pmls.data.rows")
local synthetic = require("pmls.data.synthetic")

return {
  read_libsvm = libsvm.read_libsvm,
  read_mm = matrix.read_mm,
  read_matrix = matrix.read_matrix,
  read_triplets = ratings.read_triplets,
  read_docword = corpus.read_docword,
  read_ldac = corpus.read_ldac,
  corpus_range = corpus.corpus_range,
  to_csc = rows.to_csc,
  subset = rows.subset,
  shard = rows.shard,
  synthetic_logistic = synthetic.synthetic_logistic,
  synthetic_lasso = synthetic.synthetic_lasso,
  -- data.new_rng(seed) -> {next_u64(), uniform(), below(m), normal()}
  new_rng = require("pmls.rng").new,
}
