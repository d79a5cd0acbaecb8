-- bench/gen_lasso.lua: writes pmls.data.synthetic_lasso as a libsvm file
-- (label, then 1-based index:value pairs), for models/lasso.lua.
--
--   luajit bench/gen_lasso.lua OUT n=2000 p=1000 rho=0.5 k=50 noise=0.1 density=1 seed=1
--
-- Run from the repository root (it finds lua/pmls/data/ there). Every
-- key=value is passed to synthetic_lasso as a number; the defaults are the
-- generator's own. Values are written with 9 significant digits, so the
-- file is the generated data to about 1e-9 relative. The file is written
-- to OUT.tmp and renamed, so a killed run leaves no half file behind.
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
local data = require "pmls.data"

local out = arg[1]
if not out or out:find("=", 1, true) then
  io.stderr:write("usage: luajit bench/gen_lasso.lua OUT [n=N] [p=P] [rho=R] [k=K] [noise=S] [density=D] [seed=S]\n")
  os.exit(2)
end
local spec = {}
for i = 2, #arg do
  local k, v = arg[i]:match("^(%w+)=(.+)$")
  if not k or not tonumber(v) then
    io.stderr:write("gen_lasso: bad argument '", arg[i], "' (key=number expected)\n")
    os.exit(2)
  end
  spec[k] = tonumber(v)
end

local ds = data.synthetic_lasso(spec)
local tmp = out .. ".tmp"
local f = assert(io.open(tmp, "wb"))
local parts = {}
for i = 0, ds.n - 1 do
  local m = 1
  parts[1] = ("%.9g"):format(ds.y[i])
  for q = tonumber(ds.rowptr[i]), tonumber(ds.rowptr[i + 1]) - 1 do
    m = m + 1
    parts[m] = ("%d:%.9g"):format(ds.col[q] + 1, ds.val[q])
  end
  f:write(table.concat(parts, " ", 1, m), "\n")
end
assert(f:close())
assert(os.rename(tmp, out))
local nz = 0
for j = 0, ds.d - 1 do if ds.w_true[j] ~= 0 then nz = nz + 1 end end
io.write(("gen_lasso: %s: %d x %d, %d stored entries, %d true non-zeros\n"):format(out, ds.n, ds.d, tonumber(ds.nnz), nz))
