-- bench/report.lua: what the experiments' report scripts share: a small
-- JSON reader for the engine's metrics lines, medians, JSON output and
-- whole-file reads and writes. Load it with
--   local R = dofile((arg[0]:match("^(.*)/") or ".") .. "/report.lua")
local R = {}

---------------------------------------------------------------- JSON
-- Just enough JSON to read the engine's metrics lines: objects, arrays,
-- numbers, strings (with the usual escapes), true, false, null.
local decode
do
  local function fail(s, i, what)
    error(("bad JSON at byte %d (%s): %s"):format(i, what, s:sub(i, i + 30)), 0)
  end
  local function skip(s, i) return s:find("[^ \t\r\n]", i) or #s + 1 end
  local value
  local ESC = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f",
                n = "\n", r = "\r", t = "\t" }
  local function str(s, i) -- s:sub(i, i) == '"'
    local out, j = {}, i + 1
    while true do
      local c = s:sub(j, j)
      if c == "" then fail(s, i, "unterminated string") end
      if c == '"' then return table.concat(out), j + 1 end
      if c == "\\" then
        local e = s:sub(j + 1, j + 1)
        if e == "u" then
          local hex = s:sub(j + 2, j + 5)
          if not hex:match("^%x%x%x%x$") then fail(s, j, "bad \\u escape") end
          local cp = tonumber(hex, 16)
          if cp < 0x80 then out[#out + 1] = string.char(cp)
          elseif cp < 0x800 then
            out[#out + 1] = string.char(0xC0 + math.floor(cp / 64), 0x80 + cp % 64)
          else
            out[#out + 1] = string.char(0xE0 + math.floor(cp / 4096),
              0x80 + math.floor(cp / 64) % 64, 0x80 + cp % 64)
          end
          j = j + 6
        elseif ESC[e] then out[#out + 1] = ESC[e]; j = j + 2
        else fail(s, j, "bad escape") end
      else
        local k = s:find('["\\]', j) or #s + 1
        out[#out + 1] = s:sub(j, k - 1)
        j = k
      end
    end
  end
  function value(s, i)
    i = skip(s, i)
    local c = s:sub(i, i)
    if c == "{" then
      local obj = {}
      i = skip(s, i + 1)
      if s:sub(i, i) == "}" then return obj, i + 1 end
      while true do
        if s:sub(i, i) ~= '"' then fail(s, i, "object key expected") end
        local k; k, i = str(s, i)
        i = skip(s, i)
        if s:sub(i, i) ~= ":" then fail(s, i, "':' expected") end
        obj[k], i = value(s, i + 1)
        i = skip(s, i)
        c = s:sub(i, i)
        if c == "}" then return obj, i + 1 end
        if c ~= "," then fail(s, i, "',' or '}' expected") end
        i = skip(s, i + 1)
      end
    elseif c == "[" then
      local arr = {}
      i = skip(s, i + 1)
      if s:sub(i, i) == "]" then return arr, i + 1 end
      while true do
        arr[#arr + 1], i = value(s, i)
        i = skip(s, i)
        c = s:sub(i, i)
        if c == "]" then return arr, i + 1 end
        if c ~= "," then fail(s, i, "',' or ']' expected") end
        i = i + 1
      end
    elseif c == '"' then return str(s, i)
    elseif s:sub(i, i + 3) == "true" then return true, i + 4
    elseif s:sub(i, i + 4) == "false" then return false, i + 5
    elseif s:sub(i, i + 3) == "null" then return nil, i + 4
    else
      local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
      if not num or num == "" or not tonumber(num) then fail(s, i, "value expected") end
      return tonumber(num), i + #num
    end
  end
  function decode(s)
    local v, i = value(s, 1)
    if skip(s, i) <= #s then fail(s, i, "trailing text") end
    return v
  end
end

---------------------------------------------------------------- helpers
local function median(xs)
  local t = {}
  for _, x in ipairs(xs) do if x then t[#t + 1] = x end end
  if #t == 0 then return nil end
  table.sort(t)
  local m = #t
  if m % 2 == 1 then return t[(m + 1) / 2] end
  return (t[m / 2] + t[m / 2 + 1]) / 2
end

local HUGE = math.huge
local function finite(x) return type(x) == "number" and x == x and x > -HUGE and x < HUGE end

local function jnum(x, fmt)
  if not finite(x) then return "null" end
  return (fmt or "%.6g"):format(x)
end

local function jstr(s)
  return '"' .. tostring(s):gsub('[%c"\\]', function(c)
    return ({ ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\t"] = "\\t" })[c]
      or ("\\u%04x"):format(c:byte())
  end) .. '"'
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

R.decode, R.median, R.finite, R.jnum, R.jstr = decode, median, finite, jnum, jstr
R.read_file, R.write_file = read_file, write_file
return R
