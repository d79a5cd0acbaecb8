-- The floor check (tools/check_floors.lua) on trees made for it: it must
-- pass the real engine and fail a lower floor that includes a higher one.

local function tree(files)
  local root = os.tmpname()
  os.remove(root)
  for path, text in pairs(files) do
    local dir = (root .. "/" .. path):match("^(.*)/[^/]+$")
    os.execute(("mkdir -p '%s'"):format(dir))
    local f = assert(io.open(root .. "/" .. path, "w"))
    f:write(text)
    f:close()
  end
  return root
end

local function check(root)
  local p = io.popen(("luajit tools/check_floors.lua '%s' 2>&1; echo \"rc=$?\""):format(root))
  local out = p:read("*a")
  p:close()
  return out, tonumber(out:match("rc=(%d+)"))
end

describe("tools/check_floors.lua", function()
  it("passes the engine as it is", function()
    local out, rc = check("engine/src")
    assert.are.equal(0, rc, out)
    assert.truthy(out:find("^1..1\nok %- engine floors"))
  end)

  it("fails when a lower floor includes a higher one, naming file and line", function()
    local root = tree({
      ["proc/proc.h"] = '#include "../util/util.h"\n',
      ["client/client.c"] = '#include "../proc/proc.h"\n#include "../sched/worker.h"\n',
      ["sched/worker.h"] = '#include "../client/client.h"\n',
    })
    local out, rc = check(root)
    os.execute(("rm -rf '%s'"):format(root))
    assert.are.equal(1, rc, out)
    assert.truthy(out:find("not ok %- engine floors: 1 problem"), out)
    assert.truthy(out:find("client/client.c:2: client %(floor 4%) includes \"../sched/worker.h\" of sched %(floor 5%)"), out)
  end)

  it("fails on a module that has no floor", function()
    local root = tree({ ["extra/x.c"] = '#include "../util/util.h"\n' })
    local out, rc = check(root)
    os.execute(("rm -rf '%s'"):format(root))
    assert.are.equal(1, rc, out)
    assert.truthy(out:find("module 'extra' has no floor"), out)
  end)
end)
