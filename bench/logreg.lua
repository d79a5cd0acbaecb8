-- bench/logreg.lua: the measurements of bench/logreg.sh (which see):
--   luajit bench/logreg.lua PLAIN_DIR GZ_DIR      (from the repository's root)
-- For each data set, LOGREG_REPEATS rounds (after one untimed round), each
-- timing four whole jobs as processes, wall-clock from spawn to exit:
-- pmls and liblinear on the plain-text files, then both from the .gz
-- files; the order reverses every round so that neither side always runs
-- first. pmls is `pmls run models/logreg.lua --data TRAIN --test TEST` with
-- nothing else (its defaults, one worker per core); liblinear is
-- `liblinear-train -q -s 0 -c 1 -B 1 TRAIN M && liblinear-predict TEST M
-- OUT`, as in ../shared/data/BASELINES.md. The ratio of a round is
-- liblinear's time over pmls's (>= 1: pmls at least as fast); reported are
-- the medians of the ratios and of the times, and each side's accuracy
-- (every round's, which must all reach the target for PASS).
-- Writes build/bench/logreg.json and appends the rows logreg_a9a and
-- logreg_20news to $PMLS_BENCH_SUMMARY.
local R = dofile((arg[0]:match("^(.*)/") or ".") .. "/report.lua")

package.path = "./lua/?.lua;./lua/?/init.lua;./build/lua/?.lua;" .. package.path
local now = require("pmls.core").C.pmls_now

local PLAIN, GZ = arg[1], arg[2]
local REPEATS = tonumber(os.getenv("LOGREG_REPEATS") or os.getenv("PMLS_BENCH_REPEATS") or "7")
local OUT = "build/bench"
local TMP = OUT .. "/logreg-tmp"
local TARGET = 1.0

-- accuracy: the issue's bar, liblinear's own figure less about 0.05 point.
local SETS = {
  { row = "logreg_a9a", name = "a9a", train = "a9a", test = "a9a.t", accuracy = 0.849 },
  { row = "logreg_20news", name = "20news tf-idf", train = "20news.tfidf.binary.train.svm",
    test = "20news.tfidf.binary.test.svm", accuracy = 0.880 },
}

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Runs cmd through sh; its output, whether it succeeded, its wall-clock.
local function timed(cmd)
  local t0 = now()
  local f = assert(io.popen(cmd .. " 2>&1"))
  local out = f:read("*a")
  local ok = f:close()
  return out, ok, now() - t0
end

local function pmls(train, test)
  local metrics = TMP .. "/pmls.jsonl"
  os.remove(metrics) -- --metrics appends
  local out, ok, wall = timed(("build/bin/pmls run models/logreg.lua -q --data %s --test %s --metrics %s")
                              :format(q(train), q(test), q(metrics)))
  if not ok then return nil, "pmls: " .. out:sub(1, 300) end
  local last
  for line in io.lines(metrics) do last = line end
  local m = R.decode(last)
  return { wall = wall, accuracy = m.test_accuracy, objective = m.objective, run = m.time_s,
           workers = m.workers, clocks = m.clocks }
end

-- unzip: gzip -dc both files into TMP first, inside the timing.
local function liblinear(train, test, unzip)
  local cmd = ""
  if unzip then
    cmd = ("gzip -dc %s > %s/train && gzip -dc %s > %s/test && "):format(q(train), TMP, q(test), TMP)
    train, test = TMP .. "/train", TMP .. "/test"
  end
  cmd = cmd .. ("liblinear-train -q -s 0 -c 1 -B 1 %s %s/model >/dev/null && liblinear-predict %s %s/model %s/out")
                :format(q(train), TMP, q(test), TMP, TMP)
  local out, ok, wall = timed(cmd)
  local acc = out:match("Accuracy = ([%d.]+)%%")
  if not (ok and acc) then return nil, "liblinear: " .. out:sub(1, 300) end
  return { wall = wall, accuracy = tonumber(acc) / 100 }
end

local function column(runs, key)
  local t = {}
  for i, r in ipairs(runs) do t[i] = r[key] end
  return t
end

local function min_of(xs)
  local m = math.huge
  for _, x in ipairs(xs) do m = math.min(m, x) end
  return m
end

-- One pairing (plain or gz): the runs of both sides, their ratios, medians.
local function pairing(p, l)
  local ratios = {}
  for i = 1, #p do ratios[i] = l[i].wall / p[i].wall end
  return { ratio = R.median(ratios), ratios = ratios,
           pmls_s = R.median(column(p, "wall")), liblinear_s = R.median(column(l, "wall")),
           pmls_run_s = R.median(column(p, "run")),
           pmls_accuracy = column(p, "accuracy"), liblinear_accuracy = column(l, "accuracy"),
           pmls_objective = R.median(column(p, "objective")) }
end

local function measure(set)
  local plain = { PLAIN .. "/" .. set.train, PLAIN .. "/" .. set.test }
  local gz = { GZ .. "/" .. set.train .. ".gz", GZ .. "/" .. set.test .. ".gz" }
  local jobs = {
    { "pmls", function() return pmls(plain[1], plain[2]) end },
    { "liblinear", function() return liblinear(plain[1], plain[2]) end },
    { "pmls_gz", function() return pmls(gz[1], gz[2]) end },
    { "liblinear_gz", function() return liblinear(gz[1], gz[2], true) end },
  }
  local runs = { pmls = {}, liblinear = {}, pmls_gz = {}, liblinear_gz = {} }
  for round = 0, REPEATS do
    for k = 1, #jobs do
      local job = jobs[round % 2 == 1 and #jobs + 1 - k or k]
      local r, why = job[2]()
      if not r then return nil, why end
      if round > 0 then table.insert(runs[job[1]], r) end
    end
  end
  local last = runs.pmls[#runs.pmls]
  return { plain = pairing(runs.pmls, runs.liblinear), gz = pairing(runs.pmls_gz, runs.liblinear_gz),
           workers = last.workers, clocks = last.clocks }
end

local function jarray(xs, fmt)
  local t = {}
  for i, x in ipairs(xs) do t[i] = R.jnum(x, fmt) end
  return "[" .. table.concat(t, ",") .. "]"
end

local function jpairing(m)
  return ('{"ratio":%s,"pmls_s":%s,"liblinear_s":%s,"pmls_run_s":%s,"pmls_objective":%s,'
          .. '"ratios":%s,"pmls_accuracy":%s,"liblinear_accuracy":%s}')
    :format(R.jnum(m.ratio), R.jnum(m.pmls_s), R.jnum(m.liblinear_s), R.jnum(m.pmls_run_s),
            R.jnum(m.pmls_objective, "%.9g"), jarray(m.ratios), jarray(m.pmls_accuracy, "%.6f"),
            jarray(m.liblinear_accuracy, "%.6f"))
end

os.execute("mkdir -p " .. TMP)
local json, summary = {}, {}
for _, set in ipairs(SETS) do
  local why
  for _, f in ipairs { PLAIN .. "/" .. set.train, PLAIN .. "/" .. set.test,
                       GZ .. "/" .. set.train .. ".gz", GZ .. "/" .. set.test .. ".gz" } do
    if not why and not exists(f) then why = f .. " not found (set PMLS_DATA)" end
  end
  local m
  if not why then m, why = measure(set) end
  if not m then
    io.write(("logreg: %s: skipped: %s\n"):format(set.name, why))
    if why:match("^pmls") or why:match("^liblinear") then
      summary[#summary + 1] = ("%s\t-\t-\t-\tERROR\t%s\n"):format(set.row, why:gsub("[\t\n]", " "):sub(1, 120))
      io.stderr:write(why, "\n")
    end
  else
    local p, g = m.plain, m.gz
    local acc_p, acc_l = min_of(p.pmls_accuracy), min_of(p.liblinear_accuracy)
    local ok = p.ratio >= TARGET and acc_p >= set.accuracy and min_of(g.pmls_accuracy) >= set.accuracy
    io.write(("%-14s ratio %.2f  pmls %.3f s (run %.3f s, -w %d, %d clocks)  liblinear %.3f s  "
              .. "accuracy pmls %.2f%%, liblinear %.2f%% (target %.1f%%)\n")
             :format(set.name, p.ratio, p.pmls_s, p.pmls_run_s, m.workers, m.clocks, p.liblinear_s,
                     100 * acc_p, 100 * acc_l, 100 * set.accuracy))
    io.write(("%-14s from .gz: ratio %.2f  pmls %.3f s  liblinear with gzip -dc %.3f s\n")
             :format("", g.ratio, g.pmls_s, g.liblinear_s))
    json[#json + 1] = ('{"set":%s,"target":%s,"accuracy_target":%s,"status":%s,"repeats":%d,"workers":%d,'
                       .. '"plain":%s,"gz":%s}')
      :format(R.jstr(set.name), R.jnum(TARGET), R.jnum(set.accuracy), R.jstr(ok and "PASS" or "BELOW"),
              REPEATS, m.workers, jpairing(p), jpairing(g))
    summary[#summary + 1] = ("%s\t%.2f\t>=\t%.1f\t%s\tpmls %.3f s, liblinear %.3f s; accuracy %.2f%% vs %.2f%% "
                             .. "(>= %.1f%%); from .gz x%.2f\n")
      :format(set.row, p.ratio, TARGET, ok and "PASS" or "BELOW", p.pmls_s, p.liblinear_s,
              100 * acc_p, 100 * acc_l, 100 * set.accuracy, g.ratio)
  end
end
R.write_file(OUT .. "/logreg.json", "[" .. table.concat(json, ",") .. "]\n")
local sumfile = os.getenv("PMLS_BENCH_SUMMARY")
if sumfile then
  local s = assert(io.open(sumfile, "a"))
  s:write(table.concat(summary))
  s:close()
end
os.execute("rm -rf " .. TMP)
for _, row in ipairs(summary) do
  if row:match("\tERROR\t") then os.exit(1) end
end
