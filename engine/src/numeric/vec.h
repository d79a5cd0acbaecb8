/* vec.h -- what the vector kernels of pmls.h (pmls_dot_f64 and its kin)
 * share inside numeric/: the table of one instruction set's versions, the
 * tables there are, and the lane layout every version follows.
 *
 * Why one layout for all: a dot product's result depends on the order of
 * its additions, and a SIMD loop adds in another order than a plain loop.
 * So every version -- AVX-512, AVX2 and the scalar one -- sums into the same
 * PMI_VEC_LANES_* independent partial sums (element i goes to sum i mod
 * LANES) and folds them in the same tree (sum j += sum j + h, for h =
 * LANES/2, LANES/4, ..., 1). The versions then return the same bits, on any
 * machine and whichever was chosen, and the forced scalar path is a true
 * stand-in for the SIMD one. The lane count is four 512-bit registers'
 * worth: enough independent sums to hide the adder's latency on AVX-512,
 * eight registers on AVX2, an array on the scalar path.
 *
 * kernels.c picks the table at first use (pmls_kernels_isa). */
#ifndef PMLS_NUMERIC_VEC_H
#define PMLS_NUMERIC_VEC_H

#include <stddef.h>
#include <stdint.h>

#define PMI_VEC_LANES_F64 32
#define PMI_VEC_LANES_F32 64

/* How many ratings ahead a batch of sgd_mf steps asks for its rows: rows
 * drawn at random from large tables miss the caches, and the prefetches
 * overlap those misses with the steps before. */
#ifndef PMI_VEC_AHEAD
#define PMI_VEC_AHEAD 4
#endif

/* Asks for the cache lines of bytes bytes from p (nothing for NULL), to
 * read (write 0) or to write (1). A hint: it changes no result. */
static inline void pmi_vec_prefetch(const void *p, size_t bytes, int write) {
  if (!p) return;
  const char *c = p;
#ifndef PMI_VEC_LOCALITY
#define PMI_VEC_LOCALITY 3
#endif
  for (size_t o = 0; o < bytes; o += 64) {
    if (write) __builtin_prefetch(c + o, 1, PMI_VEC_LOCALITY);
    else __builtin_prefetch(c + o, 0, PMI_VEC_LOCALITY);
  }
  if (write) __builtin_prefetch(c + bytes - 1, 1, PMI_VEC_LOCALITY);
  else __builtin_prefetch(c + bytes - 1, 0, PMI_VEC_LOCALITY);
}

typedef struct pmi_vec_ops {
  const char *isa; /* "avx512", "avx2", "scalar" */
  double (*dot_f64)(int64_t n, const double *x, const double *y);
  double (*dot_f32)(int64_t n, const float *x, const float *y);
  void (*axpy_f64)(int64_t n, double a, const double *x, double *y);
  void (*axpy_f32)(int64_t n, float a, const float *x, float *y);
  void (*scale_f64)(int64_t n, double a, double *x);
  void (*scale_f32)(int64_t n, float a, float *x);
  double (*sgd_mf_f64)(int32_t k, const double *uview, double *udelta,
                       double uscale, const double *iview, double *idelta,
                       double iscale, double rating, double mu, double lr_u,
                       double lr_i, double lambda);
  double (*sgd_mf_f32)(int32_t k, const float *uview, float *udelta,
                       double uscale, const float *iview, float *idelta,
                       double iscale, double rating, double mu, double lr_u,
                       double lr_i, double lambda);
  double (*sgd_mf_batch_f64)(int32_t k, int64_t n, const int32_t *order,
                             const int32_t *uslot, const int32_t *islot,
                             const double *rating, const double *const *uviews,
                             double *const *udeltas, double uscale,
                             const double *const *iviews,
                             double *const *ideltas, double iscale, double mu,
                             double lr_u, double lr_i, double lambda);
  double (*sgd_mf_batch_f32)(int32_t k, int64_t n, const int32_t *order,
                             const int32_t *uslot, const int32_t *islot,
                             const double *rating, const float *const *uviews,
                             float *const *udeltas, double uscale,
                             const float *const *iviews, float *const *ideltas,
                             double iscale, double mu, double lr_u, double lr_i,
                             double lambda);
} pmi_vec_ops;

/* The table of the functions prefix_dot_f64, prefix_dot_f32, ... that an
 * instantiation of vec_body.h defined. */
#define PMI_VEC_TABLE(name, prefix)                                            \
  {                                                                            \
    .isa = name, .dot_f64 = prefix##_dot_f64, .dot_f32 = prefix##_dot_f32,     \
    .axpy_f64 = prefix##_axpy_f64, .axpy_f32 = prefix##_axpy_f32,              \
    .scale_f64 = prefix##_scale_f64, .scale_f32 = prefix##_scale_f32,          \
    .sgd_mf_f64 = prefix##_sgd_mf_f64, .sgd_mf_f32 = prefix##_sgd_mf_f32,      \
    .sgd_mf_batch_f64 = prefix##_sgd_mf_batch_f64,                             \
    .sgd_mf_batch_f32 = prefix##_sgd_mf_batch_f32,                             \
  }

/* The plain C versions: every machine has them (vec_scalar.c). */
extern const pmi_vec_ops pmi_vec_scalar;

/* The x86-64 versions, built with GCC's per-function target attributes so
 * that any x86-64 build carries them; kernels.c uses one only when the CPU
 * it runs on has the instructions (vec_avx2.c, vec_avx512.c). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define PMI_VEC_X86 1
extern const pmi_vec_ops pmi_vec_avx2;
extern const pmi_vec_ops pmi_vec_avx512;
#endif

#endif
