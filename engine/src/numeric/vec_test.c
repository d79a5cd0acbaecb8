/* vec_test.c -- the vector kernels (pmls_dot_*, pmls_axpy_*, pmls_scale_*,
 * pmls_sgd_mf_*) against plain loops written from pmls.h, for every
 * version this CPU can run (scalar always, AVX2 and AVX-512 when present),
 * in double and float, at odd lengths and unaligned starts, with and
 * without views and with scales other than 1 (vec_test_body.h); then the
 * entry points: the choice of version, forcing the scalar one, and that
 * they reach the versions they name. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "pmls.h"
#include "vec.h"
#include "../util/util.h"

static pmi_rng rng = {0x9E3779B97F4A7C15ull};
static double uniform(void) { return pmi_rng_uniform(&rng); }

static const int64_t sizes[] = {0, 1, 3, 7, 15, 17, 31, 33, 63, 65, 127, 1000};
#define NSIZES ((int)(sizeof sizes / sizeof sizes[0]))

#define GUARD 16 /* elements; whole 64-byte lines in both types */
#define SENTINEL 12345.0
#define NUSERS 7
#define NITEMS 5

#define MAX_BUFFERS 128
static void *buffers[MAX_BUFFERS];
static int nbuffers;
static void free_buffers(void) {
  while (nbuffers > 0) free(buffers[--nbuffers]);
}

/* What the checks are looking at, for the failure message. */
static char where[160];
#define WHERE(...) snprintf(where, sizeof where, __VA_ARGS__)
#define CHECK_HERE(cond)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      th_fail(__FILE__, __LINE__, "CHECK(%s) at %s", #cond, where);            \
      return;                                                                  \
    }                                                                          \
  } while (0)

#define T double
#define SFX "f64"
#define KERNEL(o, name) ((o)->name##_f64)
#define LANES PMI_VEC_LANES_F64
#define EPS DBL_EPSILON
#define BATCH_TOLERANCE 1e-13
#define FN(name) name##_f64
#include "vec_test_body.h"
#undef T
#undef SFX
#undef KERNEL
#undef LANES
#undef EPS
#undef BATCH_TOLERANCE
#undef FN

#define T float
#define SFX "f32"
#define KERNEL(o, name) ((o)->name##_f32)
#define LANES PMI_VEC_LANES_F32
#define EPS FLT_EPSILON
#define BATCH_TOLERANCE 2e-6
#define FN(name) name##_f32
#include "vec_test_body.h"

/* The versions this CPU runs, the best last. */
static int versions(const pmi_vec_ops **out) {
  int n = 0;
  out[n++] = &pmi_vec_scalar;
#ifdef PMI_VEC_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) out[n++] = &pmi_vec_avx2;
  if (__builtin_cpu_supports("avx512f")) out[n++] = &pmi_vec_avx512;
#endif
  return n;
}

#define EVERY_VERSION(check)                                                   \
  do {                                                                         \
    const pmi_vec_ops *v[3];                                                   \
    int nv = versions(v);                                                      \
    for (int i = 0; i < nv && !th_failed(); i++) check(v[i]);                  \
  } while (0)

static void t_dot_f64(void) { EVERY_VERSION(check_dot_f64); }
static void t_dot_f32(void) { EVERY_VERSION(check_dot_f32); }
static void t_axpy_scale_f64(void) { EVERY_VERSION(check_axpy_scale_f64); }
static void t_axpy_scale_f32(void) { EVERY_VERSION(check_axpy_scale_f32); }
static void t_sgd_mf_f64(void) { EVERY_VERSION(check_sgd_mf_f64); }
static void t_sgd_mf_f32(void) { EVERY_VERSION(check_sgd_mf_f32); }
static void t_batch_f64(void) { EVERY_VERSION(check_sgd_mf_batch_f64); }
static void t_batch_f32(void) { EVERY_VERSION(check_sgd_mf_batch_f32); }

/* Runs first, so that its call is the process's first kernel call. */
static void t_env_selects_scalar(void) {
  setenv("PMLS_SCALAR", "1", 1);
  const char *isa = pmls_kernels_isa();
  unsetenv("PMLS_SCALAR");
  CHECK(strcmp(isa, "scalar") == 0);
  CHECK(strcmp(pmls_kernels_isa(), "scalar") == 0); /* read once */
}

static void t_choice(void) {
  const pmi_vec_ops *v[3];
  int nv = versions(v);
  pmls_kernels_force_scalar(0);
  CHECK(strcmp(pmls_kernels_isa(), v[nv - 1]->isa) == 0);
  pmls_kernels_force_scalar(1);
  CHECK(strcmp(pmls_kernels_isa(), "scalar") == 0);
  pmls_kernels_force_scalar(0);
  CHECK(strcmp(pmls_kernels_isa(), v[nv - 1]->isa) == 0);
}

/* The entry points, best version or forced scalar, against the tables:
 * the same bits (which the tables' checks hold to the plain loops). */
static void t_entry_points(void) {
  enum { N = 77, K = 33 };
  double x[N], y[N], y2[N];
  float xf[N], yf[N], yf2[N];
  for (int mode = 0; mode < 2; mode++) {
    pmls_kernels_force_scalar(mode);
    for (int i = 0; i < N; i++) {
      x[i] = uniform() - 0.5;
      y[i] = y2[i] = uniform() * 2;
      xf[i] = (float)x[i];
      yf[i] = yf2[i] = (float)y[i];
    }
    CHECK_EQ_DBL(pmls_dot_f64(N, x, y), pmi_vec_scalar.dot_f64(N, x, y));
    CHECK_EQ_DBL(pmls_dot_f32(N, xf, yf), pmi_vec_scalar.dot_f32(N, xf, yf));
    pmls_axpy(N, 0.25, x, y);
    pmi_vec_scalar.axpy_f64(N, 0.25, x, y2);
    CHECK(memcmp(y, y2, sizeof y) == 0);
    pmls_axpy_f64(N, -1.5, x, y);
    pmi_vec_scalar.axpy_f64(N, -1.5, x, y2);
    CHECK(memcmp(y, y2, sizeof y) == 0);
    pmls_axpy_f32(N, 0.25f, xf, yf);
    pmi_vec_scalar.axpy_f32(N, 0.25f, xf, yf2);
    CHECK(memcmp(yf, yf2, sizeof yf) == 0);
    pmls_scale_f64(N, 0.3, y);
    pmi_vec_scalar.scale_f64(N, 0.3, y2);
    CHECK(memcmp(y, y2, sizeof y) == 0);
    pmls_scale_f32(N, 0.3f, yf);
    pmi_vec_scalar.scale_f32(N, 0.3f, yf2);
    CHECK(memcmp(yf, yf2, sizeof yf) == 0);
    /* Rows of K + 1 inside x, y (f64) and xf, yf (f32). */
    double e = pmls_sgd_mf_f64(K, NULL, y, 1, x, y + 40, 2, 4, 3.5, 0.1, 0.1, 0.05);
    double e2 = pmi_vec_scalar.sgd_mf_f64(K, NULL, y2, 1, x, y2 + 40, 2, 4, 3.5,
                                          0.1, 0.1, 0.05);
    CHECK_EQ_DBL(e, e2);
    CHECK(memcmp(y, y2, sizeof y) == 0);
    e = pmls_sgd_mf_f32(K, xf, yf, 3, NULL, yf + 40, 1, 2, 3.5, 0.1, 0.1, 0.05);
    e2 = pmi_vec_scalar.sgd_mf_f32(K, xf, yf2, 3, NULL, yf2 + 40, 1, 2, 3.5,
                                   0.1, 0.1, 0.05);
    CHECK_EQ_DBL(e, e2);
    CHECK(memcmp(yf, yf2, sizeof yf) == 0);
    int32_t us[2] = {0, 0}, is[2] = {0, 0};
    double r[2] = {4, 1};
    double *ud[1] = {y}, *id[1] = {y + 40}, *ud2[1] = {y2}, *id2[1] = {y2 + 40};
    const double *iv[1] = {x};
    e = pmls_sgd_mf_batch_f64(K, 2, NULL, us, is, r, NULL, ud, 1, iv, id, 2,
                              3.5, 0.1, 0.1, 0.05);
    e2 = pmi_vec_scalar.sgd_mf_batch_f64(K, 2, NULL, us, is, r, NULL, ud2, 1, iv,
                                         id2, 2, 3.5, 0.1, 0.1, 0.05);
    CHECK_EQ_DBL(e, e2);
    CHECK(memcmp(y, y2, sizeof y) == 0);
    float *udf[1] = {yf}, *idf[1] = {yf + 40}, *udf2[1] = {yf2}, *idf2[1] = {yf2 + 40};
    const float *uvf[1] = {xf};
    e = pmls_sgd_mf_batch_f32(K, 2, NULL, us, is, r, uvf, udf, 3, NULL, idf, 1,
                              3.5, 0.1, 0.1, 0.05);
    e2 = pmi_vec_scalar.sgd_mf_batch_f32(K, 2, NULL, us, is, r, uvf, udf2, 3,
                                         NULL, idf2, 1, 3.5, 0.1, 0.1, 0.05);
    CHECK_EQ_DBL(e, e2);
    CHECK(memcmp(yf, yf2, sizeof yf) == 0);
  }
  pmls_kernels_force_scalar(0);
}

static const th_case cases[] = {
    {"PMLS_SCALAR=1 at the first call selects the scalar versions", t_env_selects_scalar},
    {"dot f64: within the bound of the exact sum, the scalar version's bits", t_dot_f64},
    {"dot f32: within the bound of the exact sum, the scalar version's bits", t_dot_f32},
    {"axpy, scale f64: the plain loop's bits, nothing else written", t_axpy_scale_f64},
    {"axpy, scale f32: the plain loop's bits, nothing else written", t_axpy_scale_f32},
    {"sgd_mf f64: e near the exact one, pmls.h's update of it, bit for bit", t_sgd_mf_f64},
    {"sgd_mf f32: e near the exact one, pmls.h's update of it, bit for bit", t_sgd_mf_f32},
    {"sgd_mf_batch f64: its steps one by one, the scalar's, near the plain loop", t_batch_f64},
    {"sgd_mf_batch f32: its steps one by one, the scalar's, near the plain loop", t_batch_f32},
    {"isa: the CPU's best, scalar when forced, the best again", t_choice},
    {"entry points: the chosen version's bits, forced scalar or not", t_entry_points},
};

TH_MAIN(cases)
