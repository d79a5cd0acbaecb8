-- pmls plot, the metrics that describe a run (header, per-clock staleness
-- histograms, what the final object carries) and the progress lines.
local helpers = require "helpers"

local DEMO = "examples/logreg_demo.lua"
local COUNTER = helpers.fixtures .. "/counter.lua"

local function have_gnuplot()
  return os.execute("command -v gnuplot >/dev/null 2>&1") == 0
end

-- A demo run into file (appended); its args after the script.
local function demo(file, extra)
  local args = { "run", DEMO, "-w", "2", "--epochs", "5", "--n", "4000", "-q", "--metrics", file }
  for _, a in ipairs(extra or {}) do args[#args + 1] = a end
  local res = helpers.pmls(args)
  assert(res.rc == 0, table.concat(args, " ") .. ": " .. res.out)
  return res
end

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

describe("the metrics of a run", function()
  after_each(helpers.cleanup)

  it("begin with a header: version, command line, options, deployment, seed, time, hosts", function()
    local file = helpers.tempdir() .. "/m.jsonl"
    demo(file, { "--seed", "7" })
    local text = helpers.read_file(file)
    local first = helpers.json_decode(helpers.split_lines(text)[1])
    assert.is_true(first.header)
    local rows, headers = helpers.read_metrics(file)
    assert.equal(1, #headers)
    local h = headers[1]
    assert.matches("^%d+%.%d+%.%d+", h.version)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", h.start_time)
    assert.equal("run", h.command[2])
    assert.equal(DEMO, h.command[3])
    assert.equal(DEMO, h.options.script)
    assert.equal(5, h.options.epochs)
    assert.equal(4000, h.options.n)
    assert.equal(1, h.procs)
    assert.equal(2, h.workers)
    assert.equal("ssp", h.consistency)
    assert.equal(0, h.staleness)
    assert.equal(7, h.seed)
    assert.equal(5, h.clocks_expected)
    assert.equal(1, h.first_clock)
    assert.is_string(h.hosts[1])
    assert.is_true(#h.hosts[1] > 0)
    assert.equal(6, #rows) -- five clocks, then the final object
  end)

  it("list the host name of every rank, rank 0 first, in a -p 2 run's header", function()
    local file = helpers.tempdir() .. "/m.jsonl"
    demo(file, { "-p", "2", "-w", "1" })
    local _, headers = helpers.read_metrics(file)
    assert.equal(1, #headers)
    local h = headers[1]
    assert.equal(2, h.procs)
    assert.equal(2, #h.hosts, helpers.read_file(file))
    -- both ranks ran here: the same name, as rank 0 itself sees it
    local me = io.popen("hostname"):read("*l")
    for r = 1, 2 do
      assert.matches("^[%w%.%-_]+$", h.hosts[r])
      assert.equal(me:gsub("[^%w%.%-_]", "_"):sub(1, 64), h.hosts[r])
    end
  end)

  it("carry each table's staleness histogram per clock, adding up to the run's", function()
    local file = helpers.tempdir() .. "/m.jsonl"
    demo(file, { "--staleness", "2" })
    local rows = helpers.read_metrics(file)
    local final = rows[#rows]
    local want = final.tables.w.staleness_hist
    local sum = {}
    for b = 1, 17 do sum[b] = 0 end
    local reads = 0
    for k = 1, #rows - 1 do
      local h = rows[k].staleness_hist
      assert.is_table(h, "clock " .. k .. " has no staleness_hist")
      assert.equal(17, #h.w)
      local n = 0
      for b = 1, 17 do
        sum[b] = sum[b] + h.w[b]
        n = n + h.w[b]
      end
      assert.is_true(n > 0, "no reads at clock " .. k)
      -- the per-clock mean agrees with the clock's histogram
      local mean = 0
      for b = 1, 17 do mean = mean + (b - 1) * h.w[b] end
      assert.is_true(math.abs(mean / n - rows[k].staleness) < 1e-9)
      reads = reads + n
    end
    assert.same(want, sum)
    assert.is_true(reads > 0)
  end)

  it("end with each metric's last value: a sum stays per clock, a total adds up", function()
    local file = helpers.tempdir() .. "/m.jsonl"
    local res = helpers.pmls({ "run", COUNTER, "-w", "2", "-q", "--metrics", file,
                               "--incs", "30", "--clocks", "3" })
    assert.equal(0, res.rc, res.out)
    local rows = helpers.read_metrics(file)
    assert.equal(20, rows[3].incs)
    assert.equal(20, rows[4].incs)           -- incs is a sum: clock 3's, not 60
    local final = helpers.run_model(helpers.fixtures .. "/metric_kinds.lua", { "-w", "2", "--clocks", "3" })
    assert.equal(9, final.s)                 -- sum: clock 3's 3 * (1 + 2)
    assert.equal(18, final.t)                -- total: (1 + 2 + 3) * (1 + 2)
  end)

  it("a run appended to a file starts with its own header", function()
    local file = helpers.tempdir() .. "/m.jsonl"
    demo(file)
    demo(file, { "--staleness", "1" })
    local rows, headers = helpers.read_metrics(file)
    assert.equal(2, #headers)
    assert.equal(1, headers[2].staleness)
    assert.equal(12, #rows)
  end)
end)

describe("progress lines", function()
  after_each(helpers.cleanup)

  it("say clock k/N for a script that declares N, and always show the last clock", function()
    local res = helpers.pmls({ "run", DEMO, "-w", "2", "--epochs", "5", "--n", "4000" }, "stderr")
    assert.equal(0, res.rc, res.out)
    local n = #res.lines
    assert.matches("^pmls: clock 5/5 ", res.lines[n - 1])
    assert.matches("^pmls: done  5 clocks", res.lines[n])
  end)

  it("come at most about 4 a second, the last clock's always shown", function()
    local res = helpers.pmls({ "run", COUNTER, "-w", "2", "--clocks", "3000", "--incs", "3000" }, "stderr")
    assert.equal(0, res.rc, res.out)
    local clocks, last = 0, nil
    for _, l in ipairs(res.lines) do
      if l:match("^pmls: clock ") then clocks = clocks + 1; last = l end
    end
    local t = tonumber(res.lines[#res.lines]:match("clocks  ([%d.]+)s"))
    assert.is_number(t, res.out)
    assert.matches("^pmls: clock 3000 ", last)
    -- one line per PROGRESS_GAP_S (0.25 s) of the run, plus the first and the last
    assert.is_true(clocks <= 4 * t + 2, ("%d lines in %.2f s"):format(clocks, t))
    assert.is_true(clocks < 3000)
  end)

  it("stay few for mf_ccd under -w 2 (1,940 clocks)", function()
    local dir, why = helpers.movielens()
    if not dir then pending(why) return end
    local res = helpers.pmls({ "run", "models/mf_ccd.lua", "-w", "2", "--data", dir .. "/ua.base" }, "stderr")
    assert.equal(0, res.rc, res.out)
    local t = tonumber(res.lines[#res.lines]:match("clocks  ([%d.]+)s"))
    local clocks = 0
    for _, l in ipairs(res.lines) do
      if l:match("^pmls: clock ") then clocks = clocks + 1 end
    end
    assert.is_true(clocks <= 4 * t + 2, ("%d lines in %.2f s"):format(clocks, t))
  end)

  it("-q shows the final line alone; -qq and --silent nothing", function()
    local args = { "run", COUNTER, "-w", "2", "--clocks", "5" }
    local res = helpers.pmls(helpers.join(args, { "-q" }), "stderr")
    assert.equal(0, res.rc)
    assert.equal(1, #res.lines, res.out)
    assert.matches("^pmls: done  5 clocks", res.lines[1])
    for _, flag in ipairs { "-qq", "--silent" } do
      res = helpers.pmls(helpers.join(args, { flag }), "stderr")
      assert.equal(0, res.rc)
      assert.equal("", res.out, flag)
    end
    res = helpers.pmls(helpers.join({ "run", "-qq" }, { COUNTER, "-w", "2" }), "stderr")
    assert.equal("", res.out, "-qq before the script")
  end)

  it("-qq still shows an error", function()
    local res = helpers.pmls({ "run", helpers.fixtures .. "/worker_error.lua", "-w", "1", "-qq" }, "stderr")
    assert.equal(1, res.rc)
    assert.matches("^pmls: error: ", res.lines[1])
  end)
end)

describe("pmls plot", function()
  after_each(helpers.cleanup)
  local gnuplot = have_gnuplot()

  it("draws the loss and the staleness histogram of a real run (svg)", function()
    if not gnuplot then pending("gnuplot is not installed (make deps)") return end
    local dir = helpers.tempdir()
    local file = dir .. "/m.jsonl"
    demo(file)
    local res = helpers.pmls({ "plot", file })
    assert.equal(0, res.rc, res.out)
    local svg = helpers.read_file(dir .. "/m.svg") -- the default output
    assert.is_string(svg)
    assert.matches("^<%?xml", svg)
    assert.truthy(svg:find("<svg", 1, true))
    assert.truthy(svg:find("</svg>%s*$"))
    assert.truthy(svg:find("loss against time", 1, true))
    assert.truthy(svg:find("staleness of reads: table w", 1, true))
    assert.truthy(svg:find(">m.jsonl<", 1, true), "legend")
    assert.truthy(svg:find("<path", 1, true))
  end)

  it("writes png, with keys and clocks on x", function()
    if not gnuplot then pending("gnuplot is not installed (make deps)") return end
    local dir = helpers.tempdir()
    local file = dir .. "/m.jsonl"
    demo(file)
    local res = helpers.pmls({ "plot", file, "-o", dir .. "/out.png", "--x", "clock", "loss", "examples" })
    assert.equal(0, res.rc, res.out)
    local png = helpers.read_file(dir .. "/out.png")
    assert.equal("\137PNG\r\n\26\n", png:sub(1, 8))
  end)

  it("overlays runs from one file and from several, with a legend that tells them apart", function()
    if not gnuplot then pending("gnuplot is not installed (make deps)") return end
    local dir = helpers.tempdir()
    demo(dir .. "/a.jsonl")
    demo(dir .. "/a.jsonl", { "--staleness", "2" })
    demo(dir .. "/b.jsonl", { "--lr", "0.1" })
    local res = helpers.pmls({ "plot", dir .. "/a.jsonl", dir .. "/b.jsonl", "-o", dir .. "/o.svg" })
    assert.equal(0, res.rc, res.out)
    local svg = helpers.read_file(dir .. "/o.svg")
    assert.truthy(svg:find("a.jsonl #1 lr=0.5 staleness=0", 1, true), "run 1 of a")
    assert.truthy(svg:find("a.jsonl #2 lr=0.5 staleness=2", 1, true), "run 2 of a")
    assert.truthy(svg:find("b.jsonl lr=0.1 staleness=0", 1, true), "b")
  end)

  it("names a missing, empty or malformed file in one line and exits 1", function()
    local dir = helpers.tempdir()
    local res = helpers.pmls({ "plot", dir .. "/none.jsonl" }, "stderr")
    assert.equal(1, res.rc)
    assert.equal(1, #res.lines, res.out)
    assert.matches("^pmls: error: " .. dir:gsub("%p", "%%%0") .. "/none%.jsonl: cannot open", res.lines[1])
    write(dir .. "/empty.jsonl", "")
    res = helpers.pmls({ "plot", dir .. "/empty.jsonl" }, "stderr")
    assert.equal(1, res.rc)
    assert.matches("empty%.jsonl: no metrics %(the file is empty%)", res.lines[1])
    write(dir .. "/bad.jsonl", '{"clock":1,"time_s":0.1,"loss":1}\n{"clock":2,"loss":\n')
    res = helpers.pmls({ "plot", dir .. "/bad.jsonl" }, "stderr")
    assert.equal(1, res.rc)
    assert.equal(1, #res.lines, res.out)
    assert.matches("bad%.jsonl:2: not JSON", res.lines[1])
    write(dir .. "/nan.jsonl", '{"clock":1,"loss":NaN}\n')
    res = helpers.pmls({ "plot", dir .. "/nan.jsonl" }, "stderr")
    assert.matches("nan%.jsonl:1: not JSON", res.lines[1])
    write(dir .. "/arr.jsonl", '{"clock":1,"loss":1}\n[1,2]\n')
    res = helpers.pmls({ "plot", dir .. "/arr.jsonl" }, "stderr")
    assert.matches("arr%.jsonl:2: not a metrics object", res.lines[1])
  end)

  it("refuses an unknown key, listing the keys there are (exit 2)", function()
    local dir = helpers.tempdir()
    demo(dir .. "/m.jsonl")
    local res = helpers.pmls({ "plot", dir .. "/m.jsonl", "objectve" }, "stderr")
    assert.equal(2, res.rc)
    assert.matches("no values of 'objectve'", res.lines[1])
    assert.matches("reported: examples, loss, staleness", res.lines[1])
    res = helpers.pmls({ "plot", dir .. "/m.jsonl", "-o", dir .. "/x.pdf" }, "stderr")
    assert.equal(2, res.rc)
    assert.matches("%.svg or %.png expected", res.lines[1])
    res = helpers.pmls({ "plot", dir .. "/m.jsonl", "--x", "epoch" }, "stderr")
    assert.equal(2, res.rc)
    res = helpers.pmls({ "plot" }, "stderr")
    assert.equal(2, res.rc)
    res = helpers.pmls({ "plot", "--help" }, "stdout")
    assert.equal(0, res.rc)
    assert.matches("usage: pmls plot", res.out)
  end)
end)
