-- pmls.plot_read: reads metrics files (pmls run --metrics) into runs for
-- pmls.plot. A file holds one or more runs: each starts with its header
-- object ("header": true) and ends with its final object ("final": true);
-- objects before any header (files written before headers existed) make a
-- run of their own. Lines are decoded by lua-cjson (Debian's lua-cjson,
-- built for Lua 5.1, which LuaJIT loads), strictly: no NaN or Infinity,
-- every line one object. Failures return nil and "path:line: what".
local M = {}

local cjson
local function decoder()
  if cjson then return cjson end
  local ok, mod = pcall(require, "cjson")
  if not ok then
    return nil, "pmls plot needs lua-cjson (make deps, or apt-get install lua-cjson)"
  end
  cjson = mod.new()
  cjson.decode_invalid_numbers(false)
  cjson.decode_max_depth(32)
  return cjson
end

-- Keys a clock object has that are no reported value.
M.RESERVED = { clock = true, time_s = true, staleness_hist = true }

local function new_run(file, index, header)
  return { file = file, index = index, header = header, clocks = {}, final = nil, keys = {} }
end

-- Reads path; returns a list of runs { file, index, header, clocks = {obj},
-- final, keys = {name = true} } or nil, err.
function M.read(path)
  local json, err = decoder()
  if not json then return nil, err end
  local f, why = io.open(path, "r")
  if not f then return nil, ("%s: cannot open (%s)"):format(path, why:gsub("^.*: ", "")) end
  local d = io.open(path .. "/", "r")
  if d then
    d:close()
    f:close()
    return nil, ("%s: cannot read (a directory)"):format(path)
  end
  local runs, run = {}, nil
  local n = 0
  for line in f:lines() do
    n = n + 1
    if line:match("^%s*$") then goto continue end
    local ok, obj = pcall(json.decode, line)
    if not ok then
      f:close()
      return nil, ("%s:%d: not JSON (%s)"):format(path, n, tostring(obj):gsub("^.-: ", ""))
    end
    if type(obj) ~= "table" or obj[1] ~= nil then
      f:close()
      return nil, ("%s:%d: not a metrics object (a JSON object per line expected)"):format(path, n)
    end
    if obj.header == true then
      run = new_run(path, #runs + 1, obj)
      runs[#runs + 1] = run
    else
      if not run or run.final then
        run = new_run(path, #runs + 1, nil)
        runs[#runs + 1] = run
      end
      if obj.final == true then
        run.final = obj
      elseif type(obj.clock) == "number" then
        run.clocks[#run.clocks + 1] = obj
        for k, v in pairs(obj) do
          if not M.RESERVED[k] and type(v) == "number" then run.keys[k] = true end
        end
      else
        f:close()
        return nil, ("%s:%d: neither a header, a clock nor a final object"):format(path, n)
      end
    end
    ::continue::
  end
  f:close()
  if #runs == 0 then return nil, ("%s: no metrics (the file is empty)"):format(path) end
  return runs
end

-- The staleness histogram of each table over a run: the final object's, or
-- the sum of the clocks' when the run has no final object. Returns
-- { table name = { counts 0..16 } }.
function M.staleness(run)
  local out = {}
  local tabs = run.final and run.final.tables
  if type(tabs) == "table" then
    for name, t in pairs(tabs) do
      if type(t) == "table" and type(t.staleness_hist) == "table" then out[name] = t.staleness_hist end
    end
    return out
  end
  for _, c in ipairs(run.clocks) do
    if type(c.staleness_hist) == "table" then
      for name, h in pairs(c.staleness_hist) do
        local acc = out[name] or {}
        for b = 1, #h do acc[b] = (acc[b] or 0) + h[b] end
        out[name] = acc
      end
    end
  end
  return out
end

return M
