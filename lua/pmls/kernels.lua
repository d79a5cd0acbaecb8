-- pmls.kernels: the numeric kernels a model's own loops hand to C, named so
-- that model code (models/, models/lib/) need not speak FFI.
--   local kernels = require("pmls").kernels   -- or require "pmls.kernels"
--   kernels.dot(n, x, y)                      -- sum of x[i] * y[i], i < n
--   kernels.axpy(n, a, x, y)                  -- y[i] += a * x[i], i < n
--   kernels.scale(n, a, x)                    -- x[i] *= a, i < n
--   kernels.sgd_mf(k, uview, udelta, uscale, iview, idelta, iscale,
--                  rating, mu, lr_u, lr_i, lambda)        -> e
--   kernels.sgd_mf_batch(k, n, order, uslot, islot, rating,
--                        uviews, udeltas, uscale, iviews, ideltas, iscale,
--                        mu, lr_u, lr_i, lambda)          -> sum of e^2
--   kernels.view_pointers(n [, dtype]), kernels.delta_pointers(n [, dtype])
--                                             -- row pointer arrays for a batch
--   kernels.isa()                             -- "avx512", "avx2" or "scalar"
--   kernels.force_scalar(on)                  -- the plain C versions (tests)
--   kernels.gram_add(nrows, rowptr, col, val, pos, first_new,
--                    G, stride, scratch_pos, scratch_val)
--   kernels.softmax_saga(C, d, ds, cls, order, first, last, w, mu, dmu,
--                        snap, n, lr, l2, work)            -> summed loss
--   kernels.softmax_eval(C, d, ds, cls, w, pred, prob, work)
--                                             -> summed loss, rows right
-- dot .. sgd_mf_batch work on float64 or float32 data, whichever they are
-- given (one ffi.istype per call decides: the udelta row for sgd_mf, the
-- udeltas array for a batch); dot_f64, dot_f32, ... name one type. They
-- are the vector kernels of pmls.h (pmls_dot_f64, ...): SIMD where the CPU
-- has it, the same bits on every machine. gram_add serves one model (the
-- Lasso's working-set solver) and is declared in the auxiliary header
-- pmlsaux.h, which sits beside pmls.h as Lua's lauxlib.h sits beside
-- lua.h: pmls.core binds only pmls.h, and this module feeds the auxiliary
-- binding (pmls.cdef_aux) to ffi.cdef itself. require runs a module once
-- per Lua state, so that cdef happens once per state, whichever scripts
-- and libraries ask for it.
--
-- The arguments are arrays (pmls.array) or pointers into them (G + a *
-- stride is fine); a view may be nil (no view: the row is scale * delta).
-- These run in inner loops, so they check nothing: each is a plain Lua
-- function calling the C function, which the JIT compiles to a direct
-- call.
local core = require "pmls.core"
local ffi, C = core.ffi, core.C

ffi.cdef(require "pmls.cdef_aux")

local M = {}

local c_gram_add = C.pmls_gram_add
local c_softmax_saga, c_softmax_eval = C.pmls_softmax_saga, C.pmls_softmax_eval

local float_data = ffi.typeof("const float *")
local float_rows = ffi.typeof("float *const *")

-- Float data? (An array becomes a pointer by adding 0.)
local function is_f32(p) return ffi.istype(float_data, p + 0) end

local dot_f64, dot_f32 = C.pmls_dot_f64, C.pmls_dot_f32
local axpy_f64, axpy_f32 = C.pmls_axpy_f64, C.pmls_axpy_f32
local scale_f64, scale_f32 = C.pmls_scale_f64, C.pmls_scale_f32
local sgd_f64, sgd_f32 = C.pmls_sgd_mf_f64, C.pmls_sgd_mf_f32
local batch_f64, batch_f32 = C.pmls_sgd_mf_batch_f64, C.pmls_sgd_mf_batch_f32

-- The sum of x[i] * y[i] for i < n. Added in the fixed order of pmls.h
-- (32 or 64 partial sums), so within rounding of the sequential sum, not
-- equal to it; a float32 dot adds in float.
function M.dot(n, x, y)
  if is_f32(x) then return dot_f32(n, x, y) end
  return dot_f64(n, x, y)
end

-- y[i] += a * x[i] for i < n (x and y do not overlap).
function M.axpy(n, a, x, y)
  if is_f32(x) then return axpy_f32(n, a, x, y) end
  axpy_f64(n, a, x, y)
end

-- x[i] *= a for i < n.
function M.scale(n, a, x)
  if is_f32(x) then return scale_f32(n, a, x) end
  scale_f64(n, a, x)
end

-- One SGD step of matrix factorisation with biases on a user row and an
-- item row of k + 1 elements (k factors, then the bias), each view +
-- scale * delta (view nil: scale * delta): e = rating - (mu + u[k] + v[k]
-- + u . v), then the deltas move so that the values move by lr_u (e v -
-- lambda u) and lr_i (e u - lambda v). Returns e. See pmls_sgd_mf_f64.
function M.sgd_mf(k, uview, udelta, uscale, iview, idelta, iscale, rating, mu, lr_u, lr_i, lambda)
  if is_f32(udelta) then
    return sgd_f32(k, uview, udelta, uscale, iview, idelta, iscale, rating, mu, lr_u, lr_i, lambda)
  end
  return sgd_f64(k, uview, udelta, uscale, iview, idelta, iscale, rating, mu, lr_u, lr_i, lambda)
end

-- n sgd_mf steps in turn: step m takes rating r = order[m] (order nil: r =
-- m), the user rows uviews[uslot[r]], udeltas[uslot[r]] and the item rows
-- of islot[r]. uviews, iviews nil: no views. Returns the sum of e^2. The
-- pointer arrays come from view_pointers and delta_pointers.
function M.sgd_mf_batch(k, n, order, uslot, islot, rating, uviews, udeltas, uscale,
                        iviews, ideltas, iscale, mu, lr_u, lr_i, lambda)
  if ffi.istype(float_rows, udeltas + 0) then
    return batch_f32(k, n, order, uslot, islot, rating, uviews, udeltas, uscale,
                     iviews, ideltas, iscale, mu, lr_u, lr_i, lambda)
  end
  return batch_f64(k, n, order, uslot, islot, rating, uviews, udeltas, uscale,
                   iviews, ideltas, iscale, mu, lr_u, lr_i, lambda)
end

M.dot_f64, M.dot_f32 = dot_f64, dot_f32
M.axpy_f64, M.axpy_f32 = axpy_f64, axpy_f32
M.scale_f64, M.scale_f32 = scale_f64, scale_f32
M.sgd_mf_f64, M.sgd_mf_f32 = sgd_f64, sgd_f32
M.sgd_mf_batch_f64, M.sgd_mf_batch_f32 = batch_f64, batch_f32

local POINTERS = {
  view = { float64 = ffi.typeof("const double *[?]"), float32 = ffi.typeof("const float *[?]") },
  delta = { float64 = ffi.typeof("double *[?]"), float32 = ffi.typeof("float *[?]") },
}

local function pointers(kind, n, dtype, fn)
  if type(n) ~= "number" or n % 1 ~= 0 or n < 0 then
    core.bad_argument("n", fn, "whole number >= 0 expected, got " .. tostring(n), 3)
  end
  local ctype = POINTERS[kind][dtype or "float64"]
  if not ctype then
    core.bad_argument("dtype", fn, '"float64" or "float32" expected, got ' .. tostring(dtype), 3)
  end
  return ctype(n)
end

-- n row pointers for a batch's uviews / iviews (read-only rows) and its
-- udeltas / ideltas, all nil at first: rows[s] = a row (an array, a row
-- buffer, or a pointer into one). dtype "float64" (default) or "float32".
function M.view_pointers(n, dtype) return pointers("view", n, dtype, "view_pointers") end
function M.delta_pointers(n, dtype) return pointers("delta", n, dtype, "delta_pointers") end

-- Which versions of the kernels run: "avx512", "avx2" or "scalar" (chosen
-- at the first call from the CPU, or scalar when PMLS_SCALAR is set).
function M.isa() return ffi.string(C.pmls_kernels_isa()) end

-- force_scalar(true): the plain C versions from now on, in every thread;
-- force_scalar(false): the CPU's best again. The results are the same bits.
function M.force_scalar(on) C.pmls_kernels_force_scalar(on and 1 or 0) end

-- Adds to the Gram matrix G (row-major, row stride `stride`) of a set of
-- CSR columns the products of the entries of every row in the set, where
-- pos[c] is column c's place in the set (-1: not in it) and one of the two
-- places is >= first_new; fills the lower triangle only. The scratch
-- arrays hold one row's entries. See pmls_gram_add in pmlsaux.h.
function M.gram_add(nrows, rowptr, col, val, pos, first_new, G, stride, scratch_pos, scratch_val)
  c_gram_add(nrows, rowptr, col, val, pos, first_new, G, stride, scratch_pos, scratch_val)
end

-- Multinomial logistic regression (pmlsaux.h, engine/src/numeric/softmax.c)
-- over a CSR set ds (rowptr, col, val), cls[r] the class of row r (int32,
-- 0 .. C - 1); the weights w are feature-major ((d + 1) C doubles, w[j * C
-- + k], the biases last). softmax_saga: one SAGA pass over order[first ..
-- last - 1] (order nil: rows first .. last - 1) on w, with mu, dmu and the
-- rows' snapshots snap (n C doubles) as pmls_softmax_saga says; work: 3 C
-- doubles. Returns the summed loss of the rows as visited.
function M.softmax_saga(C, d, ds, cls, order, first, last, w, mu, dmu, snap, n, lr, l2, work)
  return c_softmax_saga(C, d, ds.rowptr, ds.col, ds.val, cls, order, first, last, w, mu, dmu,
                        snap, n, lr, l2, work)
end

-- The summed loss of w on the rows of ds (cls nil: 0) and the number of
-- rows whose most probable class is cls's; pred (int32) and prob (double),
-- when given, get each row's most probable class and its probability.
-- work: C doubles.
local correct_box = ffi.typeof("int64_t[1]")
function M.softmax_eval(C, d, ds, cls, w, pred, prob, work)
  local right = correct_box()
  local loss = c_softmax_eval(C, d, ds.n, ds.rowptr, ds.col, ds.val, cls, w, pred, prob, right, work)
  return loss, tonumber(right[0])
end

return M
