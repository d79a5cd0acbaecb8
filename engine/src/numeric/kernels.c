/* kernels.c -- the general numeric inner loops that model scripts hand to
 * C (pmls.h): dot products, y += a x, x *= a and the matrix-factorisation
 * SGD step, in double and float. LuaJIT compiles a script's loops well,
 * but not into SIMD: a dense y += a x runs several times faster here
 * (docs/benchmarks.md, "Figures behind the code"). They are reached
 * through the FFI from compiled Lua, take caller-owned memory, and neither
 * allocate nor call back.
 *
 * This file is the entry points and the choice among the versions: the
 * machine that builds the library need not be the one that runs it, so
 * the instruction set is picked at the first call from what the running
 * CPU has (AVX-512, AVX2, else plain C; vec.h), once, and kept in one
 * pointer. The versions give the same bits (vec.h says how), so the choice
 * changes speed only; forcing the plain C one (PMLS_SCALAR=1,
 * pmls_kernels_force_scalar) is how tests and benchmarks compare them.
 * Kernels that serve one model are in their own files (gram.c). */
#include <stdlib.h>
#include <string.h>

#include "../../include/pmls.h"
#include "vec.h"

static const pmi_vec_ops *chosen; /* NULL until the first call */

static const pmi_vec_ops *best_for_cpu(void) {
#ifdef PMI_VEC_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return &pmi_vec_avx512;
  if (__builtin_cpu_supports("avx2")) return &pmi_vec_avx2;
#endif
  return &pmi_vec_scalar;
}

static const pmi_vec_ops *choose(void) {
  const char *env = getenv("PMLS_SCALAR");
  const pmi_vec_ops *want =
      env && *env && strcmp(env, "0") != 0 ? &pmi_vec_scalar : best_for_cpu();
  /* A force_scalar that came first wins. */
  const pmi_vec_ops *expected = NULL;
  if (__atomic_compare_exchange_n(&chosen, &expected, want, 0, __ATOMIC_ACQ_REL,
                                  __ATOMIC_ACQUIRE))
    return want;
  return expected;
}

static inline const pmi_vec_ops *ops(void) {
  const pmi_vec_ops *o = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
  return __builtin_expect(o != NULL, 1) ? o : choose();
}

const char *pmls_kernels_isa(void) { return ops()->isa; }

void pmls_kernels_force_scalar(int on) {
  __atomic_store_n(&chosen, on ? &pmi_vec_scalar : best_for_cpu(),
                   __ATOMIC_RELEASE);
}

double pmls_dot_f64(int64_t n, const double *x, const double *y) {
  return ops()->dot_f64(n, x, y);
}

double pmls_dot_f32(int64_t n, const float *x, const float *y) {
  return ops()->dot_f32(n, x, y);
}

void pmls_axpy_f64(int64_t n, double a, const double *x, double *y) {
  ops()->axpy_f64(n, a, x, y);
}

void pmls_axpy(int64_t n, double a, const double *x, double *y) {
  ops()->axpy_f64(n, a, x, y);
}

void pmls_axpy_f32(int64_t n, float a, const float *x, float *y) {
  ops()->axpy_f32(n, a, x, y);
}

void pmls_scale_f64(int64_t n, double a, double *x) { ops()->scale_f64(n, a, x); }

void pmls_scale_f32(int64_t n, float a, float *x) { ops()->scale_f32(n, a, x); }

double pmls_sgd_mf_f64(int32_t k, const double *uview, double *udelta,
                       double uscale, const double *iview, double *idelta,
                       double iscale, double rating, double mu, double lr_u,
                       double lr_i, double lambda) {
  return ops()->sgd_mf_f64(k, uview, udelta, uscale, iview, idelta, iscale,
                           rating, mu, lr_u, lr_i, lambda);
}

double pmls_sgd_mf_f32(int32_t k, const float *uview, float *udelta,
                       double uscale, const float *iview, float *idelta,
                       double iscale, double rating, double mu, double lr_u,
                       double lr_i, double lambda) {
  return ops()->sgd_mf_f32(k, uview, udelta, uscale, iview, idelta, iscale,
                           rating, mu, lr_u, lr_i, lambda);
}

double pmls_sgd_mf_batch_f64(int32_t k, int64_t n, const int32_t *order,
                             const int32_t *uslot, const int32_t *islot,
                             const double *rating, const double *const *uviews,
                             double *const *udeltas, double uscale,
                             const double *const *iviews,
                             double *const *ideltas, double iscale, double mu,
                             double lr_u, double lr_i, double lambda) {
  return ops()->sgd_mf_batch_f64(k, n, order, uslot, islot, rating, uviews,
                                 udeltas, uscale, iviews, ideltas, iscale, mu,
                                 lr_u, lr_i, lambda);
}

double pmls_sgd_mf_batch_f32(int32_t k, int64_t n, const int32_t *order,
                             const int32_t *uslot, const int32_t *islot,
                             const double *rating, const float *const *uviews,
                             float *const *udeltas, double uscale,
                             const float *const *iviews, float *const *ideltas,
                             double iscale, double mu, double lr_u, double lr_i,
                             double lambda) {
  return ops()->sgd_mf_batch_f32(k, n, order, uslot, islot, rating, uviews,
                                 udeltas, uscale, iviews, ideltas, iscale, mu,
                                 lr_u, lr_i, lambda);
}
