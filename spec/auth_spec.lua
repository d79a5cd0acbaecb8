-- Spec for authenticated tcp (engine/src/net/auth.c; the secret's ways in
-- engine/src/cli/launch.c and main.c; docs/security.md): a tcp job admits
-- only the holders of its secret. spec/fixtures/forge.py plays the outsider
-- on the same host: forged JOIN, OPLOG, CLOCK, ABORT and HELLO to every port
-- of the job, and real messages it captured on lo replayed (when it may
-- open a packet socket). The job must still give exact sums (not one forged
-- or replayed increment applied), exit 0, and say it dropped them.
local helpers = require "helpers"
local U = require "fixtures.mp_spec_util"

local F = helpers.fixtures
local SUM = F .. "/mp_sum.lua"
local FORGE = helpers.root .. "/spec/fixtures/forge.py"
local ROWS, COLS = 4, 3

local function have_python()
  local ok = os.execute("python3 -c 'import socket' >/dev/null 2>&1")
  return ok == 0 or ok == true
end

-- mp_sum args; `clocks` clocks of `sleep` ms. Returns args, its temp dir.
local function sum_args(clocks, sleep, extra)
  local dir = helpers.tempdir()
  local args = { "run", SUM, "-q", "--timeout", "10", "--metrics", dir .. "/m.jsonl",
                 "--rows", tostring(ROWS), "--cols", tostring(COLS),
                 "--clocks", tostring(clocks), "--sleep", tostring(sleep) }
  for _, a in ipairs(extra or {}) do args[#args + 1] = a end
  return args, dir
end

local function check_exact(res, workers, clocks, label)
  local why = U.describe(res, label)
  assert.are.equal(0, res.rc, why)
  local got = U.parse_sum(res.out)
  assert.are.same(U.expected_cells(workers, clocks, ROWS, COLS), got.cells, why)
  assert.is_not_nil(got.total, why)
  assert.are.equal(got.expected, got.total, why)
end

local function forge_report(path)
  local text = helpers.read_file(path)
  assert.is_not_nil(text, "forge.py wrote no report")
  return helpers.json_decode(text)
end

local function write_secret(path, text, mode)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  assert(os.execute("chmod " .. mode .. " " .. helpers.quote(path)))
end

describe("authenticated tcp", function()
  it("-p 2 --transport tcp gives exact sums", function()
    local args = sum_args(5, 0, { "-p", "2", "-w", "2", "--transport", "tcp" })
    check_exact(U.run { args = args, timeout = 40 }, 4, 5)
  end)

  describe("an outsider without the secret", function()
    if not have_python() then
      pending("python3 is missing")
      return
    end

    it("cannot join, apply an increment, or crash a node; its messages are dropped", function()
      local args, dir = sum_args(40, 100, { "-p", "2", "-w", "1", "--transport", "tcp" })
      local report = dir .. "/forge.json"
      local res = U.run({ args = args, timeout = 60 },
                        ("python3 %s %s %s 1.0 forge"):format(FORGE, helpers.quote(dir), report))
      check_exact(res, 2, 40)
      local r = forge_report(report)
      assert.is_true(#r.ports >= 3, "forge.py found the job's ports")
      assert.is_true(r.forged > 0, "forge.py sent its messages")
      assert.matches("dropped a message: message refused: its MAC does not verify", res.err, 1, true)
      assert.not_matches("another job", res.err, 1, true)
      -- -p over tcp listens on loopback only
      assert.are.same({ "127.0.0.1" }, r.listen_addrs)
    end)

    it("cannot replay or reorder captured messages", function()
      local args, dir = sum_args(40, 100, { "-p", "2", "-w", "1", "--transport", "tcp" })
      local report = dir .. "/forge.json"
      local res = U.run({ args = args, timeout = 60 },
                        ("python3 %s %s %s 1.0 replay"):format(FORGE, helpers.quote(dir), report))
      check_exact(res, 2, 40)
      local r = forge_report(report)
      if not r.sniffed then
        pending("no packet socket on lo (needs root): replays not captured")
        return
      end
      assert.is_true(r.captured > 0 and r.replayed > 0, "captured and replayed messages")
      assert.matches("(replayed or reordered)", res.err, 1, true)
    end)
  end)

  describe("ranks started by others (PMI_RANK, a secret file)", function()
    local function two_ranks(file0, file1, clocks, extra_cmd)
      local master = "tcp://127.0.0.1:" .. U.free_port()
      local list, dir = {}, nil
      for r = 0, 1 do
        local args, d = sum_args(clocks, clocks > 10 and 100 or 0, { "-w", "1", "--timeout", "4" })
        if r == 0 then dir = d end
        list[#list + 1] = { args = args, timeout = 40,
                            env = { PMI_RANK = tostring(r), PMI_SIZE = "2", PMLS_MASTER = master,
                                    PMLS_SECRET_FILE = r == 0 and file0 or file1 } }
      end
      return U.run_all(list, extra_cmd and extra_cmd(dir)), dir
    end

    it("meet with the same file; the secret is in no command line, environment or message", function()
      local text = "correct-horse-battery-staple-0123456789"
      local file = helpers.tempdir() .. "/secret"
      write_secret(file, text, "600")
      local report
      local res = two_ranks(file, file, 30, function(dir)
        report = dir .. "/forge.json"
        return ("python3 %s %s %s 0.5 forge"):format(FORGE, helpers.quote(dir), report)
      end)
      check_exact(res[1], 2, 30, "rank 0")
      assert.are.equal(0, res[2].rc, U.describe(res[2], "rank 1"))
      for i = 1, 2 do assert.not_matches(text, res[i].both, 1, true) end
      if have_python() then
        local r = forge_report(report)
        assert.is_true(#r.cmdlines >= 2, "forge.py saw the ranks")
        for _, s in ipairs(r.cmdlines) do assert.not_matches(text, s, 1, true) end
        for _, s in ipairs(r.environs) do assert.not_matches(text, s, 1, true) end
      end
    end)

    it("do not meet with different secrets: rank 1's JOIN is dropped", function()
      local d = helpers.tempdir()
      write_secret(d .. "/a", "secret-number-one-aaaaaaaa", "600")
      write_secret(d .. "/b", "secret-number-two-bbbbbbbb", "600")
      local res = two_ranks(d .. "/a", d .. "/b", 3)
      assert.are_not.equal(0, res[1].rc, U.describe(res[1], "rank 0"))
      assert.matches("its MAC does not verify", res[1].err, 1, true)
      assert.is_nil(U.parse_sum(res[1].out).total, "no sum without rank 1")
    end)

    it("refuse a secret file others can read, naming its mode (exit 2)", function()
      local file = helpers.tempdir() .. "/secret"
      write_secret(file, "a-secret-that-is-long-enough", "644")
      local res = two_ranks(file, file, 3)
      for i = 1, 2 do
        assert.are.equal(2, res[i].rc, U.describe(res[i]))
        assert.matches("has mode 0644", res[i].err, 1, true)
        assert.matches("chmod 600", res[i].err, 1, true)
        assert.not_matches("a-secret-that", res[i].err, 1, true)
      end
    end)

    it("refuse a secret too short to be one (exit 2)", function()
      local file = helpers.tempdir() .. "/secret"
      write_secret(file, "short", "600")
      local res = two_ranks(file, file, 3)
      assert.are.equal(2, res[1].rc, U.describe(res[1]))
      assert.matches("16 to 4096 bytes", res[1].err, 1, true)
    end)

    it("refuse to start without a secret, naming --secret-file (exit 2)", function()
      local res = two_ranks("", "", 3)
      for i = 1, 2 do
        assert.are.equal(2, res[i].rc, U.describe(res[i]))
        assert.matches("--secret-file", res[i].err, 1, true)
      end
    end)

    it("--secret-file works as PMLS_SECRET_FILE does", function()
      local file = helpers.tempdir() .. "/secret"
      write_secret(file, "flag-given-secret-0123456789", "600")
      local master = "tcp://127.0.0.1:" .. U.free_port()
      local list = {}
      for r = 0, 1 do
        local args = sum_args(3, 0, { "-w", "1", "--secret-file", file })
        list[#list + 1] = { args = args, timeout = 40,
                            env = { PMI_RANK = tostring(r), PMI_SIZE = "2", PMLS_MASTER = master,
                                    PMLS_SECRET_FILE = "" } }
      end
      local res = U.run_all(list)
      check_exact(res[1], 2, 3, "rank 0")
    end)
  end)
end)
