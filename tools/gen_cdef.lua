-- gen_cdef.lua HEADER OUT: turns the part of a public header (pmls.h, or
-- the auxiliary pmlsaux.h) between the CDEF markers into a Lua module that
-- returns it for ffi.cdef, so the binding is always the header the library
-- was built from.
local header, out = arg[1], arg[2]
local f = assert(io.open(header, "rb"))
local text = f:read("*a")
f:close()
local body = text:match("/%* PMLS_CDEF_BEGIN %*/(.-)/%* PMLS_CDEF_END %*/")
assert(body, header .. ": PMLS_CDEF_BEGIN/END markers not found")
body = body:gsub("/%*.-%*/", "")          -- comments
body = body:gsub("\n%s*\n+", "\n")         -- blank lines
assert(not body:find("#"), header .. ": preprocessor lines inside the CDEF block")
local o = assert(io.open(out, "wb"))
o:write("-- Generated from ", header, " by tools/gen_cdef.lua. Do not edit.\n")
o:write("return [==[\n", body, "]==]\n")
o:close()
