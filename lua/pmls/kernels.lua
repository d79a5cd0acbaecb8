-- pmls.kernels: the numeric kernels a model's own loops hand to C, named so
-- that model code (models/, models/lib/) need not speak FFI.
--   local kernels = require("pmls").kernels   -- or require "pmls.kernels"
--   kernels.axpy(n, a, x, y)                  -- y[i] += a * x[i], i < n
--   kernels.gram_add(nrows, rowptr, col, val, pos, first_new,
--                    G, stride, scratch_pos, scratch_val)
-- axpy is in pmls.h. gram_add serves one model (the Lasso's working-set
-- solver) and is declared in the auxiliary header pmlsaux.h, which sits
-- beside pmls.h as Lua's lauxlib.h sits beside lua.h: pmls.core binds only
-- pmls.h, and this module feeds the auxiliary binding (pmls.cdef_aux) to
-- ffi.cdef itself. require runs a module once per Lua state, so that cdef
-- happens once per state, whichever scripts and libraries ask for it.
--
-- The arguments are arrays (pmls.array) or pointers into them (G + a *
-- stride is fine). These run in inner loops, so they check nothing: each
-- is a plain Lua function calling the C function, which the JIT compiles
-- to a direct call.
local core = require "pmls.core"
local ffi, C = core.ffi, core.C

ffi.cdef(require "pmls.cdef_aux")

local M = {}

local c_axpy, c_gram_add = C.pmls_axpy, C.pmls_gram_add
local float_rows = ffi.typeof("float *")
local f32_views, f64_views = ffi.typeof("const float *const *"), ffi.typeof("const double *const *")

-- y[i] += a * x[i] for i < n, over doubles (x and y do not overlap; SIMD
-- where the CPU has it).
function M.axpy(n, a, x, y)
  c_axpy(n, a, x, y)
end

-- Adds to the Gram matrix G (row-major, row stride `stride`) of a set of
-- CSR columns the products of the entries of every row in the set, where
-- pos[c] is column c's place in the set (-1: not in it) and one of the two
-- places is >= first_new; fills the lower triangle only. The scratch
-- arrays hold one row's entries. See pmls_gram_add in pmlsaux.h.
function M.gram_add(nrows, rowptr, col, val, pos, first_new, G, stride, scratch_pos, scratch_val)
  c_gram_add(nrows, rowptr, col, val, pos, first_new, G, stride, scratch_pos, scratch_val)
end

-- x · y over n elements of two float64 or two float32 arrays.
function M.dot(n, x, y)
  if ffi.istype(float_rows, x) or ffi.istype("float[?]", x) then return C.pmls_dot_f32(n, x, y) end
  return C.pmls_dot_f64(n, x, y)
end

-- n SGD steps of matrix factorisation (pmls_sgd_mf_batch_f64/_f32 in
-- pmls.h): step m takes rating r = order[m], the user rows of slot
-- uslot[r] (view uviews[slot] + uscale * udeltas[slot]) and the item rows
-- of islot[r]. Returns the sum of the squared errors. The rows' type
-- (float32 or float64) is that of the pointer arrays (T:pointers(n)).
function M.sgd_mf_batch(k, n, order, uslot, islot, rating, uviews, udeltas, uscale,
                        iviews, ideltas, iscale, mu, lr_u, lr_i, lambda)
  if ffi.istype(float_rows, udeltas[0]) then
    return C.pmls_sgd_mf_batch_f32(k, n, order, uslot, islot, rating, ffi.cast(f32_views, uviews),
                                   udeltas, uscale, ffi.cast(f32_views, iviews), ideltas, iscale,
                                   mu, lr_u, lr_i, lambda)
  end
  return C.pmls_sgd_mf_batch_f64(k, n, order, uslot, islot, rating, ffi.cast(f64_views, uviews),
                                 udeltas, uscale, ffi.cast(f64_views, iviews), ideltas, iscale,
                                 mu, lr_u, lr_i, lambda)
end

return M
