#!/usr/bin/env luajit
-- check_floors.lua: the engine's modules stand on floors (docs/architecture.md,
-- "Floors"), and a file may include headers of its own module or of a lower
-- floor only. That rule is what keeps the modules from using each other in a
-- circle; this check fails the build's tests when a change breaks it, naming
-- the file, the line and both floors. Speaks TAP, one line per rule.
--
--   luajit tools/check_floors.lua [ROOT]     (ROOT defaults to engine/src)

local root = arg[1] or "engine/src"

-- Lowest first. A module missing here is an error: a new module must be
-- given its floor on purpose.
local FLOORS = {
  util = 0,
  store = 1, net = 1, numeric = 1,
  proc = 2,
  metrics = 3, data = 3,
  server = 4, client = 4, job = 4,
  sched = 5,
  runtime = 6,
  cli = 7,
}
local PUBLIC = { include = true } -- engine/include: the public headers

local function list(dir)
  local p = io.popen(("ls -1 '%s' 2>/dev/null"):format(dir))
  local out = {}
  for name in p:lines() do out[#out + 1] = name end
  p:close()
  return out
end

local problems, files = {}, 0
local function problem(fmt, ...) problems[#problems + 1] = fmt:format(...) end

for _, module in ipairs(list(root)) do
  local floor = FLOORS[module]
  local dir = root .. "/" .. module
  if floor == nil then
    problem("%s: module '%s' has no floor (add it to tools/check_floors.lua "
            .. "and docs/architecture.md)", dir, module)
  end
  for _, name in ipairs(list(dir)) do
    if name:match("%.[ch]$") then
      files = files + 1
      local path = dir .. "/" .. name
      local n = 0
      for line in io.lines(path) do
        n = n + 1
        local inc = line:match('^%s*#%s*include%s+"([^"]+)"')
        if inc and floor then
          local other = inc:match("^%.%./%.%./([%w_]+)/") or inc:match("^%.%./([%w_]+)/")
          if other and not PUBLIC[other] and other ~= module then
            local of = FLOORS[other]
            if of == nil then
              problem("%s:%d: includes \"%s\" from unknown module '%s'", path, n, inc, other)
            elseif of >= floor then
              problem("%s:%d: %s (floor %d) includes \"%s\" of %s (floor %d): "
                      .. "a file may include only its own module or lower floors",
                      path, n, module, floor, inc, other, of)
            end
          end
        end
      end
    end
  end
end

print("1..1")
if #problems == 0 then
  print(("ok - engine floors: %d files include only their own module or lower floors"):format(files))
else
  print(("not ok - engine floors: %d problem%s"):format(#problems, #problems == 1 and "" or "s"))
  for _, p in ipairs(problems) do print("# " .. p) end
  os.exit(1)
end
