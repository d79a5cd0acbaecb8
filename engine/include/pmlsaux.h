/*
 * pmlsaux.h -- auxiliary public API of the PMLS engine: numeric kernels that
 * serve particular models rather than the engine.
 *
 * It sits beside pmls.h the way Lua's lauxlib.h sits beside lua.h: pmls.h
 * stays the contract every host and script relies on, and this header holds
 * what one model's own loops hand to C (today the Lasso's working-set solver,
 * models/lib/lasso_ws.lua). The functions are exported from libpmls like the
 * rest. The build turns the part between the CDEF markers into
 * build/lua/pmls/cdef_aux.lua, which the Lua module that needs it feeds to
 * ffi.cdef after pmls.cdef. Like everything reached from the FFI, these take
 * the caller's memory, never allocate and never call back into Lua.
 */
#ifndef PMLSAUX_H
#define PMLSAUX_H

#include "pmls.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* PMLS_CDEF_BEGIN */

/* Adds to the Gram matrix G (row-major, row stride `stride`) of a set of
 * columns of the CSR matrix (rowptr, col, val; nrows rows) the products of
 * every pair of entries of one row whose columns are in the set, where
 * pos[c] is column c's place in the set (-1: not in it) and at least one
 * of the two places is >= first_new: sum_i x_ia x_ib goes to G[a][b] with
 * a >= b, the lower triangle only. The scratch arrays hold a row's entries
 * (as many as its longest row). */
void pmls_gram_add(int64_t nrows, const int64_t *rowptr, const int32_t *col,
                   const double *val, const int32_t *pos, int32_t first_new,
                   double *G, int64_t stride, int32_t *scratch_pos,
                   double *scratch_val);

/* PMLS_CDEF_END */

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif
