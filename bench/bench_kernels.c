/* bench_kernels.c -- nanoseconds per matrix-factorisation SGD step
 * (pmls_sgd_mf_*) at rank k = 32 (rows of 33), f64 and f32, for each
 * version of the kernels this CPU runs (scalar, AVX2, AVX-512), with the
 * rows in L1 and with rows drawn at random from a 50,000 x 33 user and a
 * 20,000 x 33 item matrix (each a view and a delta: 4 rows per step, 37 MB
 * in f64); "in L1" is one row pair step after step (each step waits for
 * the one before) or 16 user and 16 item rows at random. Each case is timed both as a batch (pmls_sgd_mf_batch_*: one
 * call per slice, as the MF models make) and as one call per step; the
 * figure is the thread's CPU time / steps, the minimum and the median
 * over repeats (the machine is shared: the minimum is the step's cost
 * undisturbed). Not part of
 * `make bench`: it has no reference to hold a ratio against, it is the
 * measurement behind the kernels' design (docs/writing-models.md).
 *
 * Build and run from the top directory, after `make`:
 *   cc -std=c11 -D_GNU_SOURCE -Iengine/include -Ibench -O2 \
 *      -o build/bench_kernels bench/bench_kernels.c build/lib/libpmls.a -lm
 *   build/bench_kernels
 * PMLS_BENCH_REPEATS (default 7) sets the repeats. It reaches the versions
 * through the library's internal table (engine/src/numeric/vec.h), so that
 * AVX2 can be timed on an AVX-512 machine too. */
#include "common.h"

#include "../engine/src/numeric/vec.h"

#define K 32
#define WIDTH (K + 1)
#define USERS 50000
#define ITEMS 20000
#define STEPS 100000
#define L1_SLOTS 16

static uint64_t lcg = 0x853c49e6748fea9bull;
static double uniform(void) {
  lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(lcg >> 11) * (1.0 / 9007199254740992.0);
}

static int32_t uslot[STEPS], islot[STEPS], l1_uslot[STEPS], l1_islot[STEPS];
static int32_t same[STEPS]; /* all 0: one row pair, step after step */

/* This thread's CPU time: the machine is shared, and a step's cost is
 * what it takes while it runs. */
static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double minimum(const double *v, int n) {
  double m = v[0];
  for (int i = 1; i < n; i++) m = v[i] < m ? v[i] : m;
  return m;
}
static double rating[STEPS];

#define MU 3.5
#define LR_U 0.01
#define LR_I 0.04
#define LAMBDA 0.05
#define USCALE 1.0
#define ISCALE 4.0

/* The per-type part: the matrices, their row pointers, and the timings. */
#define DEFINE_CASES(T, SFX)                                                   \
  static T *uview_##SFX, *udelta_##SFX, *iview_##SFX, *idelta_##SFX;           \
  static const T **uviews_##SFX, **iviews_##SFX;                               \
  static T **udeltas_##SFX, **ideltas_##SFX;                                   \
                                                                               \
  static T *matrix_##SFX(int64_t rows, double scale) {                         \
    T *m = aligned_alloc(64, (size_t)(rows * WIDTH) * sizeof(T) + 64);         \
    if (!m) bench_die("out of memory");                                        \
    for (int64_t i = 0; i < rows * WIDTH; i++)                                 \
      m[i] = (T)(scale * (uniform() - 0.5));                                   \
    return m;                                                                  \
  }                                                                            \
                                                                               \
  static void setup_##SFX(void) {                                              \
    uview_##SFX = matrix_##SFX(USERS, 0.2);                                    \
    udelta_##SFX = matrix_##SFX(USERS, 0.02);                                  \
    iview_##SFX = matrix_##SFX(ITEMS, 0.2);                                    \
    idelta_##SFX = matrix_##SFX(ITEMS, 0.02);                                  \
    uviews_##SFX = malloc(USERS * sizeof(T *));                                \
    udeltas_##SFX = malloc(USERS * sizeof(T *));                               \
    iviews_##SFX = malloc(ITEMS * sizeof(T *));                                \
    ideltas_##SFX = malloc(ITEMS * sizeof(T *));                               \
    if (!uviews_##SFX || !udeltas_##SFX || !iviews_##SFX || !ideltas_##SFX)    \
      bench_die("out of memory");                                              \
    for (int64_t u = 0; u < USERS; u++) {                                      \
      uviews_##SFX[u] = uview_##SFX + u * WIDTH;                               \
      udeltas_##SFX[u] = udelta_##SFX + u * WIDTH;                             \
    }                                                                          \
    for (int64_t i = 0; i < ITEMS; i++) {                                      \
      iviews_##SFX[i] = iview_##SFX + i * WIDTH;                               \
      ideltas_##SFX[i] = idelta_##SFX + i * WIDTH;                             \
    }                                                                          \
  }                                                                            \
                                                                               \
  /* ns per step: one batch over STEPS ratings, or one call per step. */      \
  static double time_##SFX(const pmi_vec_ops *o, const int32_t *us,            \
                           const int32_t *is, int batch, double *sink) {       \
    double t0 = cpu_now(), sse = 0;                                          \
    if (batch) {                                                               \
      sse = o->sgd_mf_batch_##SFX(K, STEPS, NULL, us, is, rating,              \
                                  uviews_##SFX, udeltas_##SFX, USCALE,         \
                                  iviews_##SFX, ideltas_##SFX, ISCALE, MU,     \
                                  LR_U, LR_I, LAMBDA);                         \
    } else {                                                                   \
      for (int64_t m = 0; m < STEPS; m++) {                                    \
        double e = o->sgd_mf_##SFX(                                            \
            K, uviews_##SFX[us[m]], udeltas_##SFX[us[m]], USCALE,              \
            iviews_##SFX[is[m]], ideltas_##SFX[is[m]], ISCALE, rating[m], MU,  \
            LR_U, LR_I, LAMBDA);                                               \
        sse += e * e;                                                          \
      }                                                                        \
    }                                                                          \
    *sink += sse;                                                              \
    return (cpu_now() - t0) * 1e9 / STEPS;                                   \
  }

DEFINE_CASES(double, f64)
DEFINE_CASES(float, f32)

int main(void) {
  const pmi_vec_ops *versions[3];
  int nv = 0;
  versions[nv++] = &pmi_vec_scalar;
#ifdef PMI_VEC_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) versions[nv++] = &pmi_vec_avx2;
  if (__builtin_cpu_supports("avx512f")) versions[nv++] = &pmi_vec_avx512;
#endif
  for (int m = 0; m < STEPS; m++) {
    uslot[m] = (int32_t)(uniform() * USERS);
    islot[m] = (int32_t)(uniform() * ITEMS);
    l1_uslot[m] = m % L1_SLOTS; /* no step waits for the one before */
    l1_islot[m] = (m / L1_SLOTS + m) % L1_SLOTS;
    rating[m] = 1 + (int)(uniform() * 5);
  }
  setup_f64();
  setup_f32();
  int repeats = bench_repeats();
  double sink = 0;
  printf("ns per sgd_mf step, k = %d, thread CPU time: the minimum (median) "
         "of %d runs of %d steps; the library chose %s\n",
         K, repeats, STEPS, pmls_kernels_isa());
  printf("%-14s %-5s %-7s %18s %18s\n", "rows", "type", "version", "batch",
         "one call a step");
  static const char *where[] = {"one pair", "L1 16x16", "random"};
  int n = repeats < 64 ? repeats : 64;
  for (int w = 0; w < 3; w++)
    for (int t = 0; t < 2; t++) {
      const int32_t *us = w == 2 ? uslot : w == 1 ? l1_uslot : same;
      const int32_t *is = w == 2 ? islot : w == 1 ? l1_islot : same;
      /* The versions take turns, so that a busy spell of the machine
       * falls on all of them. */
      double ns[3][2][64];
      for (int r = 0; r < n; r++)
        for (int v = 0; v < nv; v++)
          for (int batch = 1; batch >= 0; batch--)
            ns[v][batch][r] = t ? time_f32(versions[v], us, is, batch, &sink)
                                : time_f64(versions[v], us, is, batch, &sink);
      for (int v = 0; v < nv; v++)
        printf("%-14s %-5s %-7s %8.1f (%6.1f) %8.1f (%6.1f)\n", where[w],
               t ? "f32" : "f64", versions[v]->isa, minimum(ns[v][1], n),
               bench_median(ns[v][1], n), minimum(ns[v][0], n),
               bench_median(ns[v][0], n));
    }
  /* The sums keep the steps from being optimised away. */
  if (!(sink == sink)) printf("(the steps diverged)\n");
  return 0;
}
