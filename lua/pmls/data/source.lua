-- pmls.data.source: the lines of a data file, plain or gzip-compressed, through the engine.
--
-- Every text format of pmls.data reads its file here: the engine's reader (engine/src/data/text.c)
-- inflates gzip in process and reports a damaged archive as an error at the line reached, never as
-- a shorter file, and read_with turns whatever went wrong into the one message shape the readers
-- return, "path:LINE: what is wrong".

local input_error = require("pmls.failure").input
local ffi = require("ffi")

local M = {}

-- When `path` does not exist but `path .. ".gz"` does, the compressed copy is the one to read, so
-- that a command line may name a staged set without its .gz suffix. Only a missing file falls back
-- (ENOENT), not one that exists but cannot be opened.
local ENOENT = 2

local function resolve_path(path)
  local file, _, code = io.open(path, "rb")
  if file then
    file:close()
    return path
  end
  if code ~= ENOENT or path:sub(-3) == ".gz" then return path end
  local compressed = io.open(path .. ".gz", "rb")
  if not compressed then return path end
  compressed:close()
  return path .. ".gz"
end

-- The engine is loaded on first use, so that the synthetic generators work without the library.
local core
local ERROR_BYTES = 1024
local function engine_c()
  core = core or require("pmls.core")
  return core.C
end

-- A source: source:lines() iterates over the file's lines as Lua strings; it stops early when
-- reading fails, and source:close() then returns the message ("path:LINE: ...").
local Source = {}
Source.__index = Source

local function open_source(path)
  local C = engine_c()
  local out, err = ffi.new("pmls_text *[1]"), ffi.new("char[?]", ERROR_BYTES)
  if C.pmls_text_open(path, out, err, ERROR_BYTES) ~= 0 then return nil, input_error(ffi.string(err)) end
  return setmetatable({ text = ffi.gc(out[0], C.pmls_text_close), C = C,
                        line = ffi.new("const char *[1]"), len = ffi.new("size_t[1]") }, Source)
end

function Source:lines()
  local C, text, line, len = self.C, self.text, self.line, self.len
  return function()
    if self.failure then return nil end
    if C.pmls_text_line(text, line, len) ~= 0 then
      self.failure = input_error(ffi.string(C.pmls_text_errmsg(text)))
      return nil
    end
    if line[0] == nil then return nil end
    return ffi.string(line[0], len[0])
  end
end

-- Closes the source and returns the read failure, if any. When parsing stopped early the rest
-- is read first, so that a damaged archive is reported as such rather than as whatever garbage
-- line it happened to produce.
function Source:close(stopped_early)
  if stopped_early and not self.failure then
    for _ in self:lines() do end
  end
  self.C.pmls_text_close(ffi.gc(self.text, nil))
  return self.failure
end

-- Runs parse(source) -> result | nil, line, message and turns every failure into "path:LINE: ...",
-- where path is the file actually read (path.gz for a missing path, see resolve_path).
local function read_with(path, parse)
  path = resolve_path(path)
  local source, open_error = open_source(path)
  if not source then return nil, open_error end
  local result, line, message = parse(source)
  local read_failure = source:close(result == nil)
  if read_failure then return nil, read_failure end
  if result == nil then return nil, input_error(string.format("%s:%d: %s", path, line, message)) end
  return result
end

-- Returns an iterator that yields `first` and then the rest of `lines`: the readers that look at
-- a file's first line to decide how to parse it hand the line back this way.
local function lines_after(first, lines)
  local pending = first
  return function()
    if pending ~= nil then
      local line = pending
      pending = nil
      return line
    end
    return lines()
  end
end

-- The file's first line (false for an empty file), or nil, "path:LINE: ..." when it cannot be read.
local function first_line(path)
  local source, open_error = open_source(path)
  if not source then return nil, open_error end
  local line = source:lines()()
  local failure = source:close(false)
  if failure then return nil, failure end
  return line or false
end

M.resolve_path, M.engine_c, M.ERROR_BYTES = resolve_path, engine_c, ERROR_BYTES
M.open_source, M.read_with = open_source, read_with
M.first_line, M.lines_after = first_line, lines_after
return M
