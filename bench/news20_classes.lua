-- The 20-class 20news set for models/mlr.lua, built from the staged
-- bag-of-words files (never committed): docword.20news.txt.gz, read by the
-- engine's docword reader (pmls.data.read_docword, as models/lda.lua reads
-- it), and docs.20news.txt.gz, whose "docID split group" lines give each
-- document's split and newsgroup. Class k is the k-th group name in sorted
-- order (alt.atheism = 0 ... talk.religion.misc = 19). Features are word
-- ids (1-based, 21,600), valued as scikit-learn's
-- TfidfTransformer(sublinear_tf=True) fitted on the train documents:
--   (1 + ln count) * (ln((1 + n) / (1 + df)) + 1),  n, df over train,
-- each row then scaled to unit L2 norm; an empty document is a row with its
-- label only. This is the set BASELINES' multinomial figure was measured
-- on (scikit-learn lbfgs, C = 1: 68.8 %; docs/mlr.md).
--
--   luajit bench/news20_classes.lua [DATA [OUT]]
--     DATA: ../shared/data (PMLS_DATA); OUT: build/data/20news-classes
-- writes OUT/train.svm and OUT/test.svm (through temporary names, so a
-- build cut short leaves no half file) unless both are there, and prints
-- OUT. Needs libpmls (PMLS_LIB, or the build tree). spec/mlr_spec.lua and
-- bench/mlr.sh call it.
package.path = "./lua/?.lua;./lua/?/init.lua;./build/lua/?.lua;" .. package.path
local data_dir = arg[1] or os.getenv("PMLS_DATA") or "../shared/data"
local out = arg[2] or "build/data/20news-classes"

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
local function exists(p) local f = io.open(p, "rb"); if f then f:close() end; return f ~= nil end
local function die(msg) io.stderr:write("news20_classes: ", msg, "\n"); os.exit(1) end

if exists(out .. "/train.svm") and exists(out .. "/test.svm") then print(out); return end
for _, f in ipairs { "docword.20news.txt.gz", "docs.20news.txt.gz" } do
  if not exists(data_dir .. "/" .. f) then die(data_dir .. "/" .. f .. " not found") end
end

local data = require "pmls.data"
local corpus, err = data.read_docword(data_dir .. "/docword.20news.txt.gz")
if not corpus then die(err) end

-- Each document's split and group, in docID order.
local split, group, names = {}, {}, {}
for line in assert(io.popen("gzip -dc " .. quote(data_dir .. "/docs.20news.txt.gz"))):lines() do
  local id, s, g = line:match("^(%d+) (%a+) (%S+)$")
  if not id or (s ~= "train" and s ~= "test") then die("docs.20news.txt.gz: bad line " .. line) end
  split[tonumber(id) - 1], group[tonumber(id) - 1] = s, g
  names[g] = true
end
local sorted = {}
for g in pairs(names) do sorted[#sorted + 1] = g end
table.sort(sorted)
local class = {}
for k, g in ipairs(sorted) do class[g] = k - 1 end
if #sorted ~= 20 then die(("docs.20news.txt.gz: %d groups, 20 expected"):format(#sorted)) end
for d = 0, corpus.docs - 1 do
  if not split[d] then die(("docs.20news.txt.gz: no line for document %d"):format(d + 1)) end
end

-- Document frequencies over the train documents.
local df, ntrain = {}, 0
for w = 0, corpus.words - 1 do df[w] = 0 end
for d = 0, corpus.docs - 1 do
  if split[d] == "train" then
    ntrain = ntrain + 1
    for e = tonumber(corpus.docptr[d]), tonumber(corpus.docptr[d + 1]) - 1 do
      df[corpus.word[e]] = df[corpus.word[e]] + 1
    end
  end
end
local idf = {}
for w = 0, corpus.words - 1 do idf[w] = math.log((1 + ntrain) / (1 + df[w])) + 1 end

os.execute("mkdir -p " .. quote(out))
local files = {}
for _, s in ipairs { "train", "test" } do files[s] = assert(io.open(out .. "/." .. s .. ".svm.part", "wb")) end
local parts, v = {}, {}
for d = 0, corpus.docs - 1 do
  local from, to = tonumber(corpus.docptr[d]), tonumber(corpus.docptr[d + 1]) - 1
  local norm2 = 0
  for e = from, to do
    local x = (1 + math.log(corpus.count[e])) * idf[corpus.word[e]]
    v[e - from] = x
    norm2 = norm2 + x * x
  end
  local scale = norm2 > 0 and 1 / math.sqrt(norm2) or 0
  parts[1] = tostring(class[group[d]])
  for e = from, to do parts[e - from + 2] = ("%d:%.9g"):format(corpus.word[e] + 1, v[e - from] * scale) end
  for i = to - from + 3, #parts do parts[i] = nil end
  files[split[d]]:write(table.concat(parts, " "), "\n")
end
for _, s in ipairs { "train", "test" } do
  files[s]:close()
  assert(os.rename(out .. "/." .. s .. ".svm.part", out .. "/" .. s .. ".svm"))
end
print(out)
