-- Spec helpers: running the `pmls` command as a subprocess, temporary
-- directories, a small JSON decoder for metrics files, and an in-process
-- engine (through the FFI) with tables and clients that are cleaned up.
--
-- Specs run from the repository root:
--   PMLS_LIB=$PWD/build/lib/libpmls.so luajit /usr/bin/busted -o TAP \
--     --lpath='./lua/?.lua;./lua/?/init.lua;./build/lua/?.lua;./spec/?.lua' spec
local M = {}

local here = debug.getinfo(1, "S").source:match("^@(.*)/spec/helpers%.lua$")
M.root = here or "."
M.pmls_bin = M.root .. "/build/bin/pmls"
M.fixtures = "spec/fixtures" -- as passed on the command line (relative to root)

-- ---- shell --------------------------------------------------------------

function M.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function split_lines(s)
  local lines = {}
  for line in (s .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
  if lines[#lines] == "" then lines[#lines] = nil end
  return lines
end
M.split_lines = split_lines

-- Runs a shell command from the repository root; returns the exit code and
-- what it printed (the command decides which streams reach the pipe).
function M.sh(cmd)
  local p = assert(io.popen("cd " .. M.quote(M.root) .. " && " .. cmd .. '; echo "rc=$?"', "r"))
  local out = p:read("*a")
  p:close()
  local body, rc = out:match("^(.-)rc=(%d+)\n?$")
  assert(rc, "could not read the exit code of: " .. cmd)
  return tonumber(rc), body
end

-- Runs `pmls ARGS...`. stream: "both" (default: 2>&1), "stderr" (stdout
-- discarded) or "stdout" (stderr discarded). Returns a result table:
-- rc, out (text), lines (list).
function M.pmls(args, stream)
  local quoted = {}
  for i, a in ipairs(args) do quoted[i] = M.quote(a) end
  local redirect = ({ both = "2>&1", stderr = "2>&1 >/dev/null",
                      stdout = "2>/dev/null" })[stream or "both"]
  assert(redirect, "bad stream " .. tostring(stream))
  local rc, out = M.sh(M.quote(M.pmls_bin) .. " " .. table.concat(quoted, " ") .. " " .. redirect)
  return { rc = rc, out = out, lines = split_lines(out) }
end

-- A fresh temporary directory; M.cleanup() removes every one made.
local temp_dirs = {}
function M.tempdir()
  local p = assert(io.popen("mktemp -d /tmp/pmls-spec.XXXXXX"))
  local dir = p:read("*l")
  p:close()
  assert(dir and dir ~= "", "mktemp -d failed")
  temp_dirs[#temp_dirs + 1] = dir
  return dir
end

function M.cleanup()
  for _, dir in ipairs(temp_dirs) do os.execute("rm -rf " .. M.quote(dir)) end
  temp_dirs = {}
end

function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

function M.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- ---- JSON ---------------------------------------------------------------
-- A strict decoder for one JSON value (objects, arrays, strings with
-- escapes, numbers, true, false, null). Raises "bad JSON at N: ..." on any
-- malformed input. null decodes to M.null.

M.null = setmetatable({}, { __tostring = function() return "null" end })

local escapes = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f",
                  n = "\n", r = "\r", t = "\t" }

local function utf8(cp)
  if cp < 0x80 then return string.char(cp) end
  if cp < 0x800 then
    return string.char(0xC0 + math.floor(cp / 64), 0x80 + cp % 64)
  end
  return string.char(0xE0 + math.floor(cp / 4096), 0x80 + math.floor(cp / 64) % 64,
                     0x80 + cp % 64)
end

function M.json_decode(s)
  local pos = 1
  local function fail(what) error(("bad JSON at %d: %s"):format(pos, what), 0) end
  local function ws() pos = s:find("[^ \t\r\n]", pos) or #s + 1 end
  local value
  local function str()
    pos = pos + 1 -- opening quote
    local out = {}
    while true do
      local c = s:sub(pos, pos)
      if c == "" then fail("unterminated string") end
      if c == '"' then pos = pos + 1; return table.concat(out) end
      if c:byte() < 32 then fail("control character in string") end
      if c == "\\" then
        local e = s:sub(pos + 1, pos + 1)
        if e == "u" then
          local hex = s:sub(pos + 2, pos + 5)
          if not hex:match("^%x%x%x%x$") then fail("bad \\u escape") end
          out[#out + 1] = utf8(tonumber(hex, 16))
          pos = pos + 6
        elseif escapes[e] then
          out[#out + 1] = escapes[e]
          pos = pos + 2
        else
          fail("bad escape")
        end
      else
        out[#out + 1] = c
        pos = pos + 1
      end
    end
  end
  function value()
    ws()
    local c = s:sub(pos, pos)
    if c == "{" then
      pos = pos + 1
      local obj = {}
      ws()
      if s:sub(pos, pos) == "}" then pos = pos + 1; return obj end
      while true do
        ws()
        if s:sub(pos, pos) ~= '"' then fail("object key expected") end
        local k = str()
        ws()
        if s:sub(pos, pos) ~= ":" then fail("':' expected") end
        pos = pos + 1
        if obj[k] ~= nil then fail("duplicate key '" .. k .. "'") end
        obj[k] = value()
        ws()
        local d = s:sub(pos, pos)
        pos = pos + 1
        if d == "}" then return obj end
        if d ~= "," then pos = pos - 1; fail("',' or '}' expected") end
      end
    elseif c == "[" then
      pos = pos + 1
      local arr = {}
      ws()
      if s:sub(pos, pos) == "]" then pos = pos + 1; return arr end
      while true do
        arr[#arr + 1] = value()
        ws()
        local d = s:sub(pos, pos)
        pos = pos + 1
        if d == "]" then return arr end
        if d ~= "," then pos = pos - 1; fail("',' or ']' expected") end
      end
    elseif c == '"' then
      return str()
    elseif s:sub(pos, pos + 3) == "true" then
      pos = pos + 4; return true
    elseif s:sub(pos, pos + 4) == "false" then
      pos = pos + 5; return false
    elseif s:sub(pos, pos + 3) == "null" then
      pos = pos + 4; return M.null
    else
      local int = s:match("^-?%d+", pos)
      if not int then fail("value expected") end
      if int:match("^-?0%d") then fail("leading zero") end
      local num = int
      local frac = s:match("^%.%d+", pos + #num)
      if s:sub(pos + #num, pos + #num) == "." and not frac then fail("digits expected after '.'") end
      num = num .. (frac or "")
      local exp = s:match("^[eE][-+]?%d+", pos + #num)
      if s:sub(pos + #num):match("^[eE]") and not exp then fail("bad exponent") end
      num = num .. (exp or "")
      pos = pos + #num
      return tonumber(num)
    end
  end
  local v = value()
  ws()
  if pos <= #s then fail("trailing characters") end
  return v
end

-- Reads a metrics file: a list of decoded objects, one per line.
-- The clock and final objects of a metrics file, in order; the run headers
-- ("header": true, one before each run's objects) come second.
function M.read_metrics(path)
  local text = assert(M.read_file(path), "no metrics file at " .. path)
  local rows, headers = {}, {}
  for i, line in ipairs(split_lines(text)) do
    local ok, v = pcall(M.json_decode, line)
    if not ok then error(("%s line %d is not JSON (%s): %s"):format(path, i, v, line), 2) end
    if v.header == true then headers[#headers + 1] = v else rows[#rows + 1] = v end
  end
  return rows, headers
end

-- ---- model runs and staged data -------------------------------------------

-- The staged benchmark sets: ../shared/data, or $PMLS_DATA.
M.DATA = os.getenv("PMLS_DATA") or (M.root .. "/../shared/data")

-- Runs `pmls run script args... --metrics FILE -q` and returns the final
-- metrics object and every row, after checking the exit code and that the
-- final object is the last line.
function M.run_model(script, args)
  local file = M.tempdir() .. "/metrics.jsonl"
  local argv = { "run", script, "-q", "--metrics", file }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local res = M.pmls(argv)
  assert(res.rc == 0, "pmls " .. table.concat(argv, " ") .. " exited with " .. res.rc .. "\n" .. res.out)
  local rows = M.read_metrics(file)
  local final = rows[#rows]
  assert(final.final == true, "the last metrics line is not the final object")
  return final, rows
end

-- A python3 that imports numpy (Debian's python3-numpy, from make deps,
-- lives beside /usr/bin/python3 even when another python3 is first on
-- PATH), or nil.
function M.numpy_python()
  for _, py in ipairs { "python3", "/usr/bin/python3" } do
    if M.sh(py .. " -c 'import numpy' >/dev/null 2>&1") == 0 then return py end
  end
end

-- The lists given, one after the other, as one list.
function M.join(...)
  local out = {}
  for _, list in ipairs({ ... }) do
    for _, a in ipairs(list) do out[#out + 1] = a end
  end
  return out
end

-- MovieLens-100K extracted into build/data once, for the MF specs: into a
-- fresh directory moved into place, so an interrupted extraction never
-- leaves a partial set. Returns its directory, or nil and why not (the
-- archive is not staged).
function M.movielens()
  local archive = M.DATA .. "/ml-100k.tar.xz"
  if not M.exists(archive) then
    return nil, "ml-100k.tar.xz not found in " .. M.DATA .. " (set PMLS_DATA)"
  end
  local dir = M.root .. "/build/data/ml-100k"
  if M.exists(dir .. "/ua.base") and M.exists(dir .. "/ua.test") then return dir end
  local rc, out = M.sh("(mkdir -p build/data && tmp=$(mktemp -d build/data/.ml-100k.XXXXXX)"
    .. " && tar -xJf " .. M.quote(archive) .. " -C \"$tmp\" 2>&1"
    .. " && { mv \"$tmp/ml-100k\" build/data/ 2>&1 || test -f build/data/ml-100k/ua.base; }"
    .. "; rc=$?; rm -rf \"$tmp\"; exit $rc)")
  assert(rc == 0, "extracting " .. archive .. ": " .. out)
  return dir
end

-- The 20-class 20news set of models/mlr.lua (train.svm, test.svm), built
-- into build/data/20news-classes once by bench/news20_classes.lua from
-- docword.20news.txt.gz and docs.20news.txt.gz. Returns its directory, or
-- nil and why not (the files are not staged).
function M.news20_classes()
  for _, f in ipairs { "docword.20news.txt.gz", "docs.20news.txt.gz" } do
    if not M.exists(M.DATA .. "/" .. f) then return nil, f .. " not found in " .. M.DATA .. " (set PMLS_DATA)" end
  end
  local rc, out = M.sh("luajit bench/news20_classes.lua " .. M.quote(M.DATA) .. " build/data/20news-classes 2>&1")
  assert(rc == 0, "bench/news20_classes.lua: " .. out)
  return M.root .. "/build/data/20news-classes"
end

-- ---- errors ---------------------------------------------------------------

-- Calls fn(...) expecting it to raise; returns the error object.
function M.raised(fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error, but the call succeeded")
  return err
end

-- ---- an in-process engine -------------------------------------------------
-- local E = helpers.engine{ workers = 2, timeout_ms = 300 }
-- E.setup:table("w", {rows = 2, cols = 3})   -- declare
-- local T = E:table("w")                     -- handle on a host client
-- E:close()                                  -- clients, then the engine

local Engine = {}
Engine.__index = Engine

function M.engine(cfg)
  local core = require "pmls.core"
  local context = require "pmls.context"
  local ffi, C = core.ffi, core.C
  local c = ffi.new("pmls_config")
  C.pmls_config_init(c)
  c.workers, c.quiet = 1, 1
  for k, v in pairs(cfg or {}) do c[k] = v end
  local out = ffi.new("pmls_engine *[1]")
  local err = ffi.new("char[512]")
  local rc = C.pmls_engine_create(out, c, err, 512)
  assert(rc == 0, "pmls_engine_create failed: " .. ffi.string(err))
  local self = setmetatable({ core = core, C = C, ffi = ffi, e = out[0],
                              clients = {}, context = context }, Engine)
  self.setup = context.setup(self.e, {})
  return self
end

-- Opens a client: worker 0..workers-1, or -1 (default) for a host client.
function Engine:client(worker)
  local out = self.ffi.new("pmls_client *[1]")
  local rc = self.C.pmls_client_open(self.e, worker or -1, out)
  assert(rc == 0, "pmls_client_open failed: " .. self.core.engine_error(self.e))
  self.clients[#self.clients + 1] = out[0]
  return out[0]
end

-- Closes one client now (flushing its increments); returns the C code.
function Engine:close_client(c)
  for i, x in ipairs(self.clients) do
    if x == c then table.remove(self.clients, i); break end
  end
  return self.C.pmls_client_close(c)
end

-- A pmls.table handle on table `name` through client c (a new host
-- client by default).
function Engine:table(name, c)
  c = c or self:client(-1)
  local id = self.ffi.new("int[1]")
  assert(self.C.pmls_table_find(self.e, name, id) == 0, "no table " .. name)
  return require("pmls.table").new(c, self.e, id[0]), c
end

function Engine:close()
  if self.setup then self.setup:close() end
  for i = #self.clients, 1, -1 do self.C.pmls_client_close(self.clients[i]) end
  self.clients = {}
  if self.e ~= nil then self.C.pmls_engine_destroy(self.e) end
  self.e = nil
end

return M
