-- The tables of bench/lda_experiments.sh, in Markdown, from the runs'
-- metrics files: luajit bench/lda_experiments_report.lua KIND FILE...
--   consistency  per model: seconds to reach the LL/token every run
--                reached (the lowest final one), final LL/token, wall
--                time, the slowed worker's sleep (its clocks' slowed_s
--                added up), and the staleness of the word-topic reads;
--   pauses       per model: staleness mean and variance of the word-topic
--                reads, final LL/token, wall time;
--   topics       per K: median token-samples/s over the clocks, and its
--                ratio to the smallest K's.
-- A run's name is its file's, without build/bench/lda-exp- and .jsonl.
local cjson = require "cjson"

local kind = arg[1]
local files = {}
for i = 2, #arg do files[#files + 1] = arg[i] end
if not kind or #files == 0 then
  io.stderr:write("usage: luajit bench/lda_experiments_report.lua consistency|pauses|topics FILE...\n")
  os.exit(2)
end

-- The run in a metrics file: its clock rows (with ll_token) and final object.
local function load(path)
  local f = assert(io.open(path))
  local run = { name = path:match("lda%-exp%-(.-)%.jsonl$") or path, clocks = {} }
  for line in f:lines() do
    local v = cjson.decode(line)
    if v.final then run.final = v
    elseif v.clock then run.clocks[#run.clocks + 1] = v end
  end
  f:close()
  assert(run.final, path .. ": no final object")
  return run
end

local runs = {}
for _, path in ipairs(files) do runs[#runs + 1] = load(path) end

local function median(xs)
  table.sort(xs)
  local n = #xs
  if n == 0 then return 0 / 0 end
  return n % 2 == 1 and xs[(n + 1) / 2] or (xs[n / 2] + xs[n / 2 + 1]) / 2
end

-- Seconds into the run at which ll_token first reached `target`.
local function time_to(run, target)
  for _, c in ipairs(run.clocks) do
    if c.ll_token and c.ll_token >= target then return c.time_s end
  end
  return 0 / 0
end

local wt = function(run) return run.final.tables.wt end
local out = {}
local function say(fmt, ...) out[#out + 1] = fmt:format(...) end

if kind == "consistency" then
  local target = math.huge
  for _, r in ipairs(runs) do target = math.min(target, r.final.ll_token) end
  say("| model | s to LL/token %.3f | final LL/token | wall s | slowed s | staleness mean | var | max |", target)
  say("|---|---|---|---|---|---|---|---|")
  for _, r in ipairs(runs) do
    local t, slept = wt(r), 0
    for _, c in ipairs(r.clocks) do slept = slept + (c.slowed_s or 0) end
    say("| %s | %.1f | %.4f | %.1f | %.1f | %.2f | %.2f | %d |", r.name, time_to(r, target),
        r.final.ll_token, r.final.time_s, slept, t.staleness_mean, t.staleness_var,
        t.staleness_max)
  end
elseif kind == "pauses" then
  say("| model | staleness mean | staleness var | max | final LL/token | wall s |")
  say("|---|---|---|---|---|---|")
  for _, r in ipairs(runs) do
    local t = wt(r)
    say("| %s | %.3f | %.3f | %d | %.4f | %.1f |", r.name, t.staleness_mean, t.staleness_var,
        t.staleness_max, r.final.ll_token or r.final.final_ll_token, r.final.time_s)
  end
elseif kind == "topics" then
  say("| K | M token-samples/s (median clock) | against the first K |")
  say("|---|---|---|")
  local base
  for _, r in ipairs(runs) do
    local rates = {}
    for _, c in ipairs(r.clocks) do
      if c.msamples_s then rates[#rates + 1] = c.msamples_s end
    end
    local m = median(rates)
    base = base or m
    say("| %s | %.2f | %.2f |", (r.name:gsub("^k", "")), m, m / base)
  end
else
  io.stderr:write("unknown kind " .. kind .. "\n")
  os.exit(2)
end
io.write(table.concat(out, "\n"), "\n\n")
