/* dtype.c -- arithmetic over the four element types a table may hold.
 * Increments are additive and commutative, which is what lets the client
 * coalesce them in an oplog and the server apply them in any order; this file
 * is the one place that knows how to add each type. Integer tables add in
 * unsigned arithmetic so overflow wraps instead of being undefined. */
#include <math.h>
#include <string.h>

#include "store.h"
#include "../util/util.h"

int pmi_dtype_valid(int t) { return t >= PMLS_F64 && t <= PMLS_I64; }

const char *pmi_dtype_name(int t) {
  switch (t) {
  case PMLS_F64: return "float64";
  case PMLS_F32: return "float32";
  case PMLS_I32: return "int32";
  case PMLS_I64: return "int64";
  }
  return "?";
}

size_t pmls_dtype_size(pmls_dtype t) {
  return (t == PMLS_F32 || t == PMLS_I32) ? 4 : 8;
}

/* The element loops run on every row read, sent and applied. Built once per
 * instruction set and picked when the library loads (GCC's target_clones,
 * an ifunc), so a binary built anywhere uses the run machine's widest
 * vectors: they were SSE2 only, the build's baseline. Every clone computes
 * each element alike (no fused multiply-add under -std=c11, no
 * reordering), so results do not depend on the machine. clang 14 (the
 * fuzzing build) leaves the ifunc out when instrumenting, and the fuzzers
 * need no speed: it builds one. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ELEMENT_LOOP __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ELEMENT_LOOP
#endif

/* src may sit anywhere inside a message payload, so it is read through
 * memcpy (a plain load on x86, and no misaligned access anywhere). */
#define ADD_LOOP(T)                                                            \
  do {                                                                         \
    T *restrict d = dst;                                                       \
    const unsigned char *restrict s = src;                                     \
    for (int64_t i = 0; i < n; i++) {                                          \
      T v;                                                                     \
      memcpy(&v, s + (size_t)i * sizeof v, sizeof v);                          \
      d[i] += v;                                                               \
    }                                                                          \
  } while (0)

/* dst and src never overlap (a row and a delta), hence restrict: it lets
 * the compiler vectorize without checking for overlap. */
ELEMENT_LOOP
void pmi_add(pmls_dtype t, void *restrict dst, const void *restrict src,
             int64_t n) {
  switch (t) {
  case PMLS_F64: ADD_LOOP(double); break;
  case PMLS_F32: ADD_LOOP(float); break;
  case PMLS_I32: ADD_LOOP(uint32_t); break;
  case PMLS_I64: ADD_LOOP(uint64_t); break;
  }
}
#undef ADD_LOOP

/* a and out are rows of the same table (aligned); b may be any oplog row. */
#define SUM_LOOP(T)                                                            \
  do {                                                                         \
    T *restrict o = out;                                                       \
    const T *restrict x = a, *restrict y = b;                                  \
    for (int64_t i = 0; i < n; i++) o[i] = x[i] + y[i];                        \
  } while (0)

ELEMENT_LOOP
void pmi_sum(pmls_dtype t, void *restrict out, const void *restrict a,
             const void *restrict b, int64_t n) {
  switch (t) {
  case PMLS_F64: SUM_LOOP(double); break;
  case PMLS_F32: SUM_LOOP(float); break;
  case PMLS_I32: SUM_LOOP(uint32_t); break;
  case PMLS_I64: SUM_LOOP(uint64_t); break;
  }
}
#undef SUM_LOOP

static int64_t round_i64(double v) { return (int64_t)llround(v); }

ELEMENT_LOOP
void pmi_add_scaled(pmls_dtype t, void *restrict dst,
                    const double *restrict x, double alpha, int64_t n) {
  switch (t) {
  case PMLS_F64: {
    double *restrict d = dst;
    for (int64_t i = 0; i < n; i++) d[i] += alpha * x[i];
    break;
  }
  case PMLS_F32: {
    float *d = dst;
    for (int64_t i = 0; i < n; i++) d[i] += (float)(alpha * x[i]);
    break;
  }
  case PMLS_I32: {
    uint32_t *d = dst;
    for (int64_t i = 0; i < n; i++) d[i] += (uint32_t)round_i64(alpha * x[i]);
    break;
  }
  case PMLS_I64: {
    uint64_t *d = dst;
    for (int64_t i = 0; i < n; i++) d[i] += (uint64_t)round_i64(alpha * x[i]);
    break;
  }
  }
}

void pmi_add_at(pmls_dtype t, void *dst, int64_t i, double delta) {
  switch (t) {
  case PMLS_F64: ((double *)dst)[i] += delta; break;
  case PMLS_F32: ((float *)dst)[i] += (float)delta; break;
  case PMLS_I32: ((uint32_t *)dst)[i] += (uint32_t)round_i64(delta); break;
  case PMLS_I64: ((uint64_t *)dst)[i] += (uint64_t)round_i64(delta); break;
  }
}

void pmi_add_at_typed(pmls_dtype t, void *dst, int64_t i, const void *delta) {
  pmi_add(t, (unsigned char *)dst + (size_t)i * pmls_dtype_size(t), delta, 1);
}

double pmi_get_at(pmls_dtype t, const void *src, int64_t i) {
  switch (t) {
  case PMLS_F64: return ((const double *)src)[i];
  case PMLS_F32: return ((const float *)src)[i];
  case PMLS_I32: return (double)((const int32_t *)src)[i];
  case PMLS_I64: return (double)((const int64_t *)src)[i];
  }
  return 0;
}

int pmi_is_zero(pmls_dtype t, const void *src, int64_t i) {
  switch (t) {
  case PMLS_F64: return ((const double *)src)[i] == 0.0;
  case PMLS_F32: return ((const float *)src)[i] == 0.0f;
  case PMLS_I32: return ((const int32_t *)src)[i] == 0;
  case PMLS_I64: return ((const int64_t *)src)[i] == 0;
  }
  return 1;
}

#define COUNT(type)                                                           \
  do {                                                                        \
    const type *s = src;                                                      \
    for (int64_t i = 0; i < n; i++) k += s[i] != 0;                           \
  } while (0)
/* A float is zero when its bits but the sign are: the same answer as
 * x != 0 (NaN counts, -0 does not) in integer operations, which the
 * compiler vectorizes; the float compare stayed scalar (ucomisd), and
 * counting a narrow row on its way out was 7 % of the streaming
 * benchmark's samples. */
#define COUNT_BITS(word)                                                      \
  do {                                                                        \
    const unsigned char *b = src;                                             \
    word kk = 0;                                                              \
    for (int64_t i = 0; i < n; i++) {                                         \
      word u;                                                                 \
      memcpy(&u, b + (size_t)i * sizeof u, sizeof u);                         \
      kk += (word)((word)(u << 1) != 0);                                      \
    }                                                                         \
    k = (int64_t)kk;                                                          \
  } while (0)

ELEMENT_LOOP
int64_t pmi_count_nonzero(pmls_dtype t, const void *src, int64_t n) {
  int64_t k = 0;
  switch (t) {
  case PMLS_F64: COUNT_BITS(uint64_t); break;
  case PMLS_F32: COUNT_BITS(uint32_t); break;
  case PMLS_I32: COUNT(int32_t); break;
  case PMLS_I64: COUNT(int64_t); break;
  }
  return k;
}
#undef COUNT
#undef COUNT_BITS

int pmi_any_zero_of(pmls_dtype t, const void *src, int64_t n, int64_t looks) {
  if (looks > n) looks = n;
  for (int64_t k = 0; k < looks; k++)
    if (pmi_is_zero(t, src, k * n / looks)) return 1;
  return 0;
}

#define PAIRS_OF(type)                                                        \
  do {                                                                        \
    const type *s = src;                                                      \
    for (int32_t j = 0; j < n; j++) {                                         \
      if (s[j] == 0) continue;                                                \
      memcpy(kp + (size_t)k * 4, &j, 4);                                      \
      memcpy(vp + (size_t)k * sizeof(type), &s[j], sizeof(type));             \
      k++;                                                                    \
    }                                                                         \
  } while (0)

int64_t pmi_pairs_of(pmls_dtype t, void *restrict keys, void *restrict vals,
                     const void *restrict src, int32_t n) {
  unsigned char *kp = keys, *vp = vals;
  int64_t k = 0;
  switch (t) {
  case PMLS_F64: PAIRS_OF(double); break;
  case PMLS_F32: PAIRS_OF(float); break;
  case PMLS_I32: PAIRS_OF(int32_t); break;
  case PMLS_I64: PAIRS_OF(int64_t); break;
  }
  return k;
}
#undef PAIRS_OF

/* Integers add as unsigned (wrap around), as in pmi_add. */
#define ADD_PAIRS(type)                                                       \
  do {                                                                        \
    type *d = dst;                                                            \
    for (int64_t i = 0; i < n; i++) {                                         \
      int32_t col;                                                            \
      type v;                                                                 \
      memcpy(&col, kp + (size_t)i * 4, 4);                                    \
      memcpy(&v, vp + (size_t)i * sizeof v, sizeof v);                        \
      d[col] += v;                                                            \
    }                                                                         \
  } while (0)

void pmi_add_pairs(pmls_dtype t, void *restrict dst, const void *restrict keys,
                   const void *restrict vals, int64_t n) {
  const unsigned char *kp = keys, *vp = vals;
  switch (t) {
  case PMLS_F64: ADD_PAIRS(double); break;
  case PMLS_F32: ADD_PAIRS(float); break;
  case PMLS_I32: ADD_PAIRS(uint32_t); break;
  case PMLS_I64: ADD_PAIRS(uint64_t); break;
  }
}
#undef ADD_PAIRS

void pmi_row_init(const pmls_table_spec *spec, uint64_t seed, int table,
                  int64_t row, void *dst) {
  size_t bytes = (size_t)spec->cols * pmls_dtype_size(spec->dtype);
  memset(dst, 0, bytes);
  if (spec->init == 0 || spec->layout != PMLS_DENSE) return;
  pmi_rng r = {pmi_mix64(seed ^ pmi_mix64((uint64_t)table * 0x100000001b3ULL) ^
                         pmi_mix64((uint64_t)row + 0x51ed27ULL))};
  for (int32_t j = 0; j < spec->cols; j++) {
    double v = spec->init == 1
                   ? (2.0 * pmi_rng_uniform(&r) - 1.0) * spec->init_scale
                   : pmi_rng_normal(&r) * spec->init_scale;
    pmi_add_at(spec->dtype, dst, j, v);
  }
}
