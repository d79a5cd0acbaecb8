-- pmls.failure: errors about a run's input -- a data file that is missing,
-- unreadable or malformed (with its path and line) -- as opposed to errors
-- in a script's own code. The readers return their message through
-- input(msg); when a script raises it (assert(ctx:read_triplets(path))),
-- the runtime sees the very string a reader returned and prints it as one
-- line, without a traceback (which `--trace` brings back). The mark is the
-- string value itself: a script that rewrites the message raises its own.
local M = {}

local marked = {}
local count = 0

function M.input(msg)
  if type(msg) == "string" and not marked[msg] then
    if count >= 1024 then marked, count = {}, 0 end -- a bound, for long runs
    marked[msg] = true
    count = count + 1
  end
  return msg
end

-- The input error msg carries, or nil: the marked string itself, or as
-- assert raises it, behind the script's position ("script.lua:62: ").
function M.is_input(msg)
  if type(msg) ~= "string" then return nil end
  if marked[msg] then return msg end
  local rest = msg:match("^[^\n]-:%d+: (.*)$")
  if rest and marked[rest] then return rest end
  return nil
end

return M
