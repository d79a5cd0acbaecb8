-- bench/lasso_glmnet.lua: models/lasso.lua against glmnet on the Lasso
-- problems of ../shared/data/BASELINES.md, both measured here in one run.
-- glmnet's fit is glmnet() alone (on a matrix already in R, as BASELINES.md
-- measures it; bench/lasso_glmnet.R) and its whole job the wall-clock of an
-- Rscript process that starts, loads glmnet, reads the file and fits once;
-- PMLS reports two: its solve (solve_s: from the first round's gradients,
-- when every worker has its data, to the stop) and the run of `pmls run`
-- (time_s: from the engine's start, through parsing the file in every
-- process and the solve, to the final metrics). Ratios are glmnet's time
-- over PMLS's (>= 1: PMLS at least as fast): fit over solve, fit over run,
-- whole job over run; medians over repeats.
-- Writes docs/lasso_glmnet.md, build/bench/lasso_glmnet.json and summary
-- rows for bench/run.sh.
--   luajit bench/lasso_glmnet.lua        (from the repository's root)
-- Environment: LASSO_GLMNET_REPEATS [5; glmnet's whole jobs at most 3 once
-- one takes over 5 s]; PMLS_DATA [../shared/data]; PMLS_BENCH_SUMMARY
-- (append the summary rows there).
local R = dofile((arg[0]:match("^(.*)/") or ".") .. "/report.lua")

local REPEATS = tonumber(os.getenv("LASSO_GLMNET_REPEATS") or "5")
local DATA = os.getenv("PMLS_DATA") or "../shared/data"
local OUT = "build/bench"
local WORKERS = 2
local SLOW_JOB_S, SLOW_JOB_REPEATS = 5, 3 -- glmnet's whole jobs: fewer when they are this slow

local PROBLEMS = {
  { name = "20news, 0.1 alpha_max", x = "20news.tfidf.binary.train.svm.gz", ratio = 0.1 },
  { name = "20news, 0.01 alpha_max", x = "20news.tfidf.binary.train.svm.gz", ratio = 0.01 },
  { name = "a9a, 0.1 alpha_max", x = "a9a.gz", ratio = 0.1 },
  { name = "a9a, 0.01 alpha_max", x = "a9a.gz", ratio = 0.01 },
  { name = "STRADS 500x1000, alpha 2e-6", x = "strads-lasso500by1K.X.mmt.gz",
    y = "strads-lasso500by1K.Y.mmt.gz", alpha = 2e-6, no_intercept = true },
}

local function sh(cmd)
  local f = assert(io.popen(cmd .. " 2>&1"))
  local out = f:read("*a")
  local ok = f:close()
  return out, ok
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- Wall-clock of whole processes: the engine's monotonic clock, unlike date
-- or /usr/bin/time.
package.path = "./lua/?.lua;./lua/?/init.lua;./build/lua/?.lua;" .. package.path
local now = require("pmls.core").C.pmls_now

-- One Rscript process fitting `repeats` times; .wall is its wall-clock.
local function rscript(p, repeats)
  local cmd = ("Rscript bench/lasso_glmnet.R %s %s %s %d %d"):format(
    DATA .. "/" .. p.x, p.y and DATA .. "/" .. p.y or "-",
    p.ratio and "ratio:" .. p.ratio or ("%.17g"):format(p.alpha), p.no_intercept and 0 or 1, repeats)
  local t0 = now()
  local out = sh(cmd)
  local wall = now() - t0
  local line = out:match("(%{[^\n]*\"times\"[^\n]*%})")
  if not line then return nil, "glmnet: " .. out:sub(1, 300) end
  local r = R.decode(line)
  r.wall = wall
  return r
end

local function glmnet(p)
  local r, why = rscript(p, REPEATS)
  if not r then return nil, why end
  r.median = R.median(r.times)
  return r
end

-- One `pmls run`: its final metrics, with .wall its process's wall-clock.
local function pmls_run(p)
  local metrics = OUT .. "/lasso_glmnet.jsonl"
  os.remove(metrics)
  local args = { "build/bin/pmls run models/lasso.lua -q -w", WORKERS, "--data", DATA .. "/" .. p.x,
                 "--metrics", metrics }
  if p.y then args[#args + 1] = "--labels " .. DATA .. "/" .. p.y end
  if p.ratio then args[#args + 1] = "--lambda-ratio " .. p.ratio
  else args[#args + 1] = ("--lambda %.17g"):format(p.alpha) end
  if p.no_intercept then args[#args + 1] = "--no-intercept" end
  local t0 = now()
  local out, ok = sh(table.concat(args, " "))
  local wall = now() - t0
  if not ok then return nil, "pmls: " .. out:sub(1, 300) end
  local final
  for line in io.lines(metrics) do final = line end
  local last = R.decode(final)
  last.wall = wall
  return last
end

-- PMLS's runs alternate with glmnet's whole jobs (one fit each), so that the
-- shared machine's load at the time weighs on both sides alike.
local function pmls(p)
  local solve, total, process, last = {}, {}, {}, nil
  local whole, read, in_r = {}, {}, {}
  local jobs = REPEATS
  for k = 1, REPEATS do
    local why
    last, why = pmls_run(p)
    if not last then return nil, why end
    solve[#solve + 1], total[#total + 1], process[#process + 1] = last.solve_s, last.time_s, last.wall
    if k <= jobs then
      local g
      g, why = rscript(p, 1)
      if not g then return nil, why end
      whole[#whole + 1], read[#read + 1], in_r[#in_r + 1] = g.wall, g.read_s, g.job_s
      if g.wall > SLOW_JOB_S then jobs = math.min(jobs, SLOW_JOB_REPEATS) end
    end
  end
  return { solve = R.median(solve), total = R.median(total), process = R.median(process),
           objective = last.objective, nnz = last.nnz, rounds = last.rounds,
           solve_runs = solve, total_runs = total,
           job = { whole = R.median(whole), read = R.median(read), in_r = R.median(in_r), runs = whole } }
end

os.execute("mkdir -p " .. OUT)
local _, have_r = sh("Rscript -e 'suppressMessages(library(glmnet))'")
local rows, json, summary = {}, {}, {}
for _, p in ipairs(PROBLEMS) do
  local why
  if not have_r then why = "R's glmnet is not installed (tools/deps.sh bench installs r-cran-glmnet)"
  elseif not exists(DATA .. "/" .. p.x) then why = DATA .. "/" .. p.x .. " not found" end
  local g, m
  if not why then g, why = glmnet(p) end
  if not why then m, why = pmls(p) end
  if why then
    io.stderr:write("lasso_glmnet: ", p.name, ": ", why, "\n")
    rows[#rows + 1] = ("| %s | – | – | – | – | – | – | – | skipped: %s |"):format(p.name, why)
  else
    local rel = (m.objective - g.objective) / g.objective
    local fit_ratio, run_ratio = g.median / m.solve, g.median / m.total
    local job_ratio = m.job.whole / m.total
    io.write(("%-30s glmnet %.3f s  pmls solve %.3f s (x%.2f)  run %.3f s (x%.2f)  objective %+.1e\n")
             :format(p.name, g.median, m.solve, fit_ratio, m.total, run_ratio, rel))
    io.write(("%-30s glmnet whole job %.3f s (read %.3f s, in R %.3f s; %d runs)  pmls process %.3f s  job x%.2f\n")
             :format("", m.job.whole, m.job.read, m.job.in_r, #m.job.runs, m.process, job_ratio))
    rows[#rows + 1] = ("| %s | %.3f s | %.3f s | **%.2f** | %.3f s | %.2f | %.3f s (read %.3f s) | %.2f | %.10g (%+.1e; %d nnz, %d rounds) vs %.10g (%d nnz) |")
      :format(p.name, g.median, m.solve, fit_ratio, m.total, run_ratio, m.job.whole, m.job.read, job_ratio,
              m.objective, rel, m.nnz, m.rounds, g.objective, g.nnz)
    json[#json + 1] = ('{"problem":%s,"glmnet_fit_s":%s,"pmls_solve_s":%s,"pmls_run_s":%s,'
                       .. '"fit_ratio":%s,"run_ratio":%s,"pmls_objective":%s,"glmnet_objective":%s,'
                       .. '"pmls_nnz":%d,"glmnet_nnz":%d,"rounds":%d,'
                       .. '"glmnet_whole_job_s":%s,"glmnet_read_s":%s,"glmnet_in_r_s":%s,"glmnet_jobs":%d,'
                       .. '"pmls_process_s":%s,"job_ratio":%s}')
      :format(R.jstr(p.name), R.jnum(g.median), R.jnum(m.solve), R.jnum(m.total), R.jnum(fit_ratio),
              R.jnum(run_ratio), R.jnum(m.objective, "%.12g"), R.jnum(g.objective, "%.12g"), m.nnz, g.nnz,
              m.rounds, R.jnum(m.job.whole), R.jnum(m.job.read), R.jnum(m.job.in_r), #m.job.runs,
              R.jnum(m.process), R.jnum(job_ratio))
    summary[#summary + 1] = ("lasso vs glmnet: %s\t%.2f\t>=\t1\t%s\tsolve %.3f s, glmnet fit %.3f s; whole run %.3f s (x%.2f)\n")
      :format(p.name, fit_ratio, fit_ratio >= 1 and "PASS" or "BELOW", m.solve, g.median, m.total, run_ratio)
    summary[#summary + 1] = ("lasso vs glmnet job: %s\t%.2f\t>=\t1\t%s\tpmls run %.3f s, glmnet whole job %.3f s (Rscript, read %.3f s)\n")
      :format(p.name, job_ratio, job_ratio >= 1 and "PASS" or "BELOW", m.total, m.job.whole, m.job.read)
  end
end

R.write_file("docs/lasso_glmnet.md", table.concat({
  "# Lasso: models/lasso.lua against glmnet",
  "",
  ("Measured by `make bench` (`luajit bench/lasso_glmnet.lua`) on %s, on this 2-core machine, "
   .. "`-w %d`; medians of %d runs of each (%d of glmnet's whole job where one takes over %d s),"
   .. " PMLS's runs alternating with glmnet's whole jobs."):format(os.date("!%Y-%m-%d"), WORKERS, REPEATS,
                                                                   math.min(REPEATS, SLOW_JOB_REPEATS), SLOW_JOB_S),
  "glmnet 4.1 (Debian's r-cran-glmnet) fits with `standardize=FALSE, thresh=1e-12`, one λ.",
  "",
  "- *glmnet fit*: `glmnet()` alone on a matrix already in memory, as in ../shared/data/BASELINES.md",
  "  (repeated fits in one R process, each after a full garbage collection).",
  "- *PMLS solve*: from the first round's gradients (every worker has parsed its shard) to the stop",
  "  on a duality gap below 1e-7 × objective.",
  "- *PMLS run*: `pmls run`'s own `time_s`, from the engine's start (before any parsing), through",
  "  every process parsing the file and the solve, to the final metrics; it leaves out the process's",
  "  start before the engine and the engine's tear-down after the metrics.",
  "- *glmnet whole job*: the wall-clock of one `Rscript bench/lasso_glmnet.R` process fitting once:",
  "  R's start-up, loading Matrix and glmnet, reading the file into a sparse matrix (*read*:",
  "  decompression and a vectorised parse in R), λ_max from the data for a ratio, one fit, exit.",
  "- Ratios are glmnet's time over PMLS's, ≥ 1 meaning PMLS is at least as fast: *fit ratio* glmnet",
  "  fit / PMLS solve, *run ratio* glmnet fit / PMLS run, *job ratio* glmnet whole job / PMLS run.",
  "",
  "| problem | glmnet fit | PMLS solve | fit ratio | PMLS run | run ratio | glmnet whole job | job ratio | PMLS objective (relative to glmnet's) vs glmnet |",
  "|---|---|---|---|---|---|---|---|---|",
  table.concat(rows, "\n"),
  "",
  "Run-to-run times on this shared VM vary by up to 2×; the ratios are from one run of this script.",
  "See docs/scheduling.md (Lasso) for how the working-set rounds get there.",
  "",
}, "\n"))
R.write_file(OUT .. "/lasso_glmnet.json", "[" .. table.concat(json, ",") .. "]\n")
local sumfile = os.getenv("PMLS_BENCH_SUMMARY")
if sumfile then
  local s = assert(io.open(sumfile, "a"))
  s:write(table.concat(summary))
  s:close()
end
