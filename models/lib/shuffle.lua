-- lib.shuffle: the orders the SGD and SAGA models step their examples in.
--   local shuffle = require "lib.shuffle"
--   shuffle.all(a, lo, hi, below)    -- a[lo..hi-1] in a random order
--   shuffle.runs(a, lo, hi, below)   -- the same in runs of neighbours
-- a is an array of example indices (pmls.array.int32), below(m) a draw in
-- [0, m) (pmls.rng's).
--
-- shuffle.runs cuts a[lo..hi-1] into pieces of RUN entries that are
-- neighbours there (a block's ratings in the file's order, so their
-- entries in the file's arrays share cache lines) and puts the pieces in a
-- random order and each piece's entries in a random order. A fully
-- shuffled block reads its ratings' entries all over the file's arrays, a
-- cache miss each; this reads them in runs, for the same test RMSE on the
-- sets measured (docs/benchmarks.md, section 8). The pieces keep their
-- members from pass to pass; only their order and the order within them
-- change.
local M = {}

local RUN = 64
M.RUN = RUN

function M.all(a, lo, hi, below)
  for k = hi - 1, lo + 1, -1 do
    local j = lo + below(k - lo + 1)
    a[k], a[j] = a[j], a[k]
  end
end

function M.runs(a, lo, hi, below)
  local runs = math.floor((hi - lo) / RUN)
  for c = runs - 1, 1, -1 do
    local j = below(c + 1)
    if j ~= c then
      local x, y = lo + c * RUN, lo + j * RUN
      for k = 0, RUN - 1 do a[x + k], a[y + k] = a[y + k], a[x + k] end
    end
  end
  for c = 0, runs do M.all(a, lo + c * RUN, math.min(hi, lo + (c + 1) * RUN), below) end
end

return M
