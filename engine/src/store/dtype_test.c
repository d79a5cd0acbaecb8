/* dtype_test.c -- typed element arithmetic (pmi_add and friends) for the four
 * dtypes, and the reproducible row initialisation. */
#include <float.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "store.h"

/* ---- helpers ------------------------------------------------------------- */

static const pmls_dtype ALL[] = {PMLS_F64, PMLS_F32, PMLS_I32, PMLS_I64};

/* Stores v at element i of a row of type t (v exactly representable). */
static void put(pmls_dtype t, void *row, int64_t i, double v) {
  switch (t) {
  case PMLS_F64: ((double *)row)[i] = v; break;
  case PMLS_F32: ((float *)row)[i] = (float)v; break;
  case PMLS_I32: ((int32_t *)row)[i] = (int32_t)v; break;
  case PMLS_I64: ((int64_t *)row)[i] = (int64_t)v; break;
  }
}

/* ---- names and sizes ----------------------------------------------------- */

static void t_dtype_names_and_sizes(void) {
  static const struct {
    int t;
    const char *name;
    size_t size;
    int valid;
  } rows[] = {
      {PMLS_F64, "float64", 8, 1}, {PMLS_F32, "float32", 4, 1},
      {PMLS_I32, "int32", 4, 1},   {PMLS_I64, "int64", 8, 1},
      {-1, "?", 0, 0},             {4, "?", 0, 0},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    CHECK_EQ_INT(pmi_dtype_valid(rows[i].t), rows[i].valid);
    CHECK(strcmp(pmi_dtype_name(rows[i].t), rows[i].name) == 0);
    if (rows[i].valid)
      CHECK_EQ_INT(pmls_dtype_size((pmls_dtype)rows[i].t), rows[i].size);
  }
}

/* ---- pmi_add ------------------------------------------------------------- */

static void t_add_floats(void) {
  static const struct { double a, b, want; } rows[] = {
      {0, 0, 0},       {1.5, 2.25, 3.75}, {-1, 1, 0},
      {1e10, -3, 1e10 - 3}, {-0.5, -0.25, -0.75}, {1024, 0.5, 1024.5},
  };
  enum { N = sizeof rows / sizeof rows[0] };
  for (int k = 0; k < 2; k++) {
    pmls_dtype t = k == 0 ? PMLS_F64 : PMLS_F32;
    double d64[N], s64[N];
    float d32[N], s32[N];
    void *dst = t == PMLS_F64 ? (void *)d64 : (void *)d32;
    void *src = t == PMLS_F64 ? (void *)s64 : (void *)s32;
    for (int i = 0; i < N; i++) {
      put(t, dst, i, rows[i].a);
      put(t, src, i, rows[i].b);
    }
    pmi_add(t, dst, src, N);
    for (int i = 0; i < N; i++) {
      double want = t == PMLS_F64 ? rows[i].want : (double)(float)rows[i].want;
      CHECK_EQ_DBL(pmi_get_at(t, dst, i), want);
      CHECK_EQ_DBL(pmi_get_at(t, src, i), t == PMLS_F64 ? rows[i].b : (double)(float)rows[i].b);
    }
  }
}

static void t_add_ints_wrap(void) {
  static const struct { int32_t a, b, want; } r32[] = {
      {0, 0, 0},
      {5, -7, -2},
      {INT32_MAX, 1, INT32_MIN},
      {INT32_MIN, -1, INT32_MAX},
      {-1, -1, -2},
      {INT32_MAX, INT32_MAX, -2},
  };
  static const struct { int64_t a, b, want; } r64[] = {
      {0, 0, 0},
      {5, -7, -2},
      {INT64_MAX, 1, INT64_MIN},
      {INT64_MIN, -1, INT64_MAX},
      {(int64_t)1 << 53, 1, ((int64_t)1 << 53) + 1}, /* beyond double */
      {INT64_MAX, INT64_MAX, -2},
  };
  enum { N32 = sizeof r32 / sizeof r32[0], N64 = sizeof r64 / sizeof r64[0] };
  int32_t d32[N32], s32[N32];
  int64_t d64[N64], s64[N64];
  for (int i = 0; i < N32; i++) d32[i] = r32[i].a, s32[i] = r32[i].b;
  for (int i = 0; i < N64; i++) d64[i] = r64[i].a, s64[i] = r64[i].b;
  pmi_add(PMLS_I32, d32, s32, N32);
  pmi_add(PMLS_I64, d64, s64, N64);
  for (int i = 0; i < N32; i++) CHECK_EQ_INT(d32[i], r32[i].want);
  for (int i = 0; i < N64; i++) CHECK_EQ_INT(d64[i], r64[i].want);
}

/* n counts elements: nothing past the n-th element is touched. */
static void t_add_respects_n(void) {
  for (size_t k = 0; k < 4; k++) {
    pmls_dtype t = ALL[k];
    int64_t dst[4] = {0}, src[4];
    for (int i = 0; i < 4; i++) put(t, src, i, 1);
    pmi_add(t, dst, src, 2);
    CHECK_EQ_DBL(pmi_get_at(t, dst, 0), 1);
    CHECK_EQ_DBL(pmi_get_at(t, dst, 1), 1);
    CHECK_EQ_DBL(pmi_get_at(t, dst, 2), 0);
    pmi_add(t, dst, src, 0);
    CHECK_EQ_DBL(pmi_get_at(t, dst, 0), 1);
  }
}

/* ---- counting zeros, pairs of the nonzero elements ---------------------- */

/* -0.0 is zero (as pmi_is_zero says), NaN is not; the pairs land at any
 * alignment (a message buffer), columns then values. */
static void t_count_and_pairs(void) {
  for (size_t k = 0; k < 4; k++) {
    pmls_dtype t = ALL[k];
    size_t elem = pmls_dtype_size(t);
    enum { N = 40 };
    int64_t src[N] = {0};
    for (int i = 0; i < N; i += 3) put(t, src, i, i + 1);
    if (t == PMLS_F64) ((double *)src)[1] = -0.0;
    if (t == PMLS_F32) ((float *)src)[1] = -0.0f;
    CHECK_EQ_INT(pmi_count_nonzero(t, src, N), 14);
    CHECK_EQ_INT(pmi_count_nonzero(t, src, 2), 1);
    CHECK_EQ_INT(pmi_count_nonzero(t, src, 0), 0);
    CHECK_EQ_INT(pmi_any_zero_of(t, src, N, 4), 1);  /* 0, 10, 20, 30: 10 */
    CHECK_EQ_INT(pmi_any_zero_of(t, src, N, 1), 0);  /* element 0 only */
    CHECK_EQ_INT(pmi_any_zero_of(t, src, 1, 16), 0); /* looks past n: n */
    unsigned char out[1 + N * 12];
    unsigned char *keys = out + 1, *vals = keys + 14 * 4; /* misaligned */
    CHECK_EQ_INT(pmi_pairs_of(t, keys, vals, src, N), 14);
    int wrong = 0;
    for (int i = 0; i < 14; i++) {
      int32_t col;
      memcpy(&col, keys + 4 * i, 4);
      int64_t v = 0;
      memcpy(&v, vals + elem * (size_t)i, elem);
      wrong += col != 3 * i || pmi_get_at(t, &v, 0) != 3 * i + 1;
    }
    CHECK_EQ_INT(wrong, 0);
    /* the pairs added back into a row of zeros give the row again, twice */
    int64_t back[N] = {0};
    pmi_add_pairs(t, back, keys, vals, 14);
    pmi_add_pairs(t, back, keys, vals, 14);
    for (int i = 0; i < N; i++)
      wrong += pmi_get_at(t, back, i) != 2 * (i % 3 ? 0 : i + 1);
    CHECK_EQ_INT(wrong, 0);
  }
  int32_t wrap[1] = {INT32_MAX}, col0 = 0, one = 1;
  pmi_add_pairs(PMLS_I32, wrap, &col0, &one, 1); /* wraps, as pmi_add */
  CHECK_EQ_INT(wrap[0], INT32_MIN);
  double nan[2] = {0.0 / 0.0, 0};
  CHECK_EQ_INT(pmi_count_nonzero(PMLS_F64, nan, 2), 1);
  /* -0 is zero, the smallest subnormal and infinities are not, as x != 0
   * says, at every length the vectorized count splits differently. */
  double d[37];
  float f[37];
  for (int n = 0; n <= 37; n++) {
    int want = 0;
    for (int i = 0; i < n; i++) {
      double v = i % 4 == 0 ? -0.0 : i % 4 == 1 ? 4.9e-324 : i % 4 == 2 ? 0.0 : -1.0 / 0.0;
      d[i] = v;
      f[i] = i % 4 == 1 ? 1.4e-45f : (float)v;
      want += v != 0;
    }
    CHECK_EQ_INT(pmi_count_nonzero(PMLS_F64, d, n), want);
    CHECK_EQ_INT(pmi_count_nonzero(PMLS_F32, f, n), want);
  }
}

/* ---- pmi_add_scaled: floats exact, integers rounded to nearest ----------- */

static void t_add_scaled(void) {
  /* x * alpha, and what an integer table adds for it. Ties (x.5) are left
   * out on purpose: the contract says "nearest", not how ties break. */
  static const struct { double x, alpha, i; } rows[] = {
      {1, 0.25, 0},     {2.2, 0.25, 1},  {3, 0.25, 1},    {-2.2, 0.25, -1},
      {-5.8, 0.25, -1}, {10.4, 0.25, 3}, {4, -1, -4},     {0.4, 1, 0},
      {0.6, 1, 1},      {-0.4, 1, 0},    {-0.6, 1, -1},   {7, 0, 0},
      {1e6, 1e3, 1e9},  {-2.51, 2, -5},  {123.49, 1, 123},
  };
  enum { N = sizeof rows / sizeof rows[0] };
  for (size_t k = 0; k < 4; k++) {
    pmls_dtype t = ALL[k];
    int isint = t == PMLS_I32 || t == PMLS_I64;
    for (int i = 0; i < N; i++) {
      double prod = rows[i].x * rows[i].alpha;
      double want = isint ? 100 + rows[i].i : 100 + prod;
      if (t == PMLS_F32) want = (double)(100.0f + (float)prod);
      int64_t dst[2] = {0, 0}; /* room for one element of any type */
      put(t, dst, 0, 100);
      double x = rows[i].x;
      pmi_add_scaled(t, dst, &x, rows[i].alpha, 1);
      CHECK_EQ_DBL(pmi_get_at(t, dst, 0), want);
      put(t, dst, 0, 100); /* the same through pmi_add_at */
      pmi_add_at(t, dst, 0, prod);
      CHECK_EQ_DBL(pmi_get_at(t, dst, 0), want);
    }
  }
}

static void t_add_scaled_vector_and_wrap(void) {
  double x[3] = {1, -2, 3};
  int32_t d32[3] = {INT32_MAX, INT32_MIN, 0};
  pmi_add_scaled(PMLS_I32, d32, x, 1.0, 3);
  CHECK_EQ_INT(d32[0], INT32_MIN); /* wraps like C unsigned */
  CHECK_EQ_INT(d32[1], INT32_MAX - 1);
  CHECK_EQ_INT(d32[2], 3);
  int64_t d64[3] = {INT64_MAX, 0, -5};
  pmi_add_scaled(PMLS_I64, d64, x, 2.0, 3);
  CHECK_EQ_INT(d64[0], INT64_MIN + 1);
  CHECK_EQ_INT(d64[1], -4);
  CHECK_EQ_INT(d64[2], 1);
  double f[3] = {1, 1, 1};
  pmi_add_scaled(PMLS_F64, f, x, -0.5, 3);
  CHECK_EQ_DBL(f[0], 0.5);
  CHECK_EQ_DBL(f[1], 2.0);
  CHECK_EQ_DBL(f[2], -0.5);
}

/* ---- pmi_add_at / pmi_add_at_typed / pmi_get_at / pmi_is_zero ------------ */

static void t_add_at_and_get_at(void) {
  for (size_t k = 0; k < 4; k++) {
    pmls_dtype t = ALL[k];
    int64_t row[4] = {0};
    pmi_add_at(t, row, 2, 5);
    pmi_add_at(t, row, 2, -7);
    CHECK_EQ_DBL(pmi_get_at(t, row, 2), -2);
    CHECK_EQ_DBL(pmi_get_at(t, row, 1), 0);
    CHECK_EQ_DBL(pmi_get_at(t, row, 3), 0);
    CHECK(pmi_is_zero(t, row, 1));
    CHECK(!pmi_is_zero(t, row, 2));
    int64_t typed[1];
    put(t, typed, 0, 9);
    pmi_add_at_typed(t, row, 3, typed);
    CHECK_EQ_DBL(pmi_get_at(t, row, 3), 9);
    CHECK_EQ_DBL(pmi_get_at(t, row, 2), -2);
  }
  /* get_at reads signed values and the full int64 range */
  int32_t n32[1] = {INT32_MIN};
  CHECK_EQ_DBL(pmi_get_at(PMLS_I32, n32, 0), (double)INT32_MIN);
  int64_t n64[1] = {-((int64_t)1 << 40)};
  CHECK_EQ_DBL(pmi_get_at(PMLS_I64, n64, 0), -1099511627776.0);
  float f[1] = {0.1f};
  CHECK_EQ_DBL(pmi_get_at(PMLS_F32, f, 0), (double)0.1f);
  double z[1] = {-0.0};
  CHECK(pmi_is_zero(PMLS_F64, z, 0)); /* -0 is zero */
}

/* ---- row initialisation -------------------------------------------------- */

static pmls_table_spec spec_of(pmls_dtype t, int32_t cols, int init,
                               double scale) {
  pmls_table_spec s;
  memset(&s, 0, sizeof s);
  s.rows = 1000;
  s.cols = cols;
  s.dtype = t;
  s.layout = PMLS_DENSE;
  s.staleness = -1;
  s.init = init;
  s.init_scale = scale;
  return s;
}

enum { COLS = 512 };

static void t_row_init_deterministic(void) {
  for (size_t k = 0; k < 4; k++) {
    for (int init = 1; init <= 2; init++) {
      pmls_table_spec s = spec_of(ALL[k], COLS, init, 100.0);
      size_t bytes = COLS * pmls_dtype_size(ALL[k]);
      static unsigned char a[COLS * 8], b[COLS * 8];
      pmi_row_init(&s, 42, 3, 17, a);
      pmi_row_init(&s, 42, 3, 17, b);
      CHECK(memcmp(a, b, bytes) == 0); /* same seed/table/row */
      static const struct { uint64_t seed; int table; int64_t row; } other[] = {
          {42, 3, 18}, {42, 4, 17}, {43, 3, 17}, {42, 3, 0}};
      for (size_t o = 0; o < sizeof other / sizeof other[0]; o++) {
        pmi_row_init(&s, other[o].seed, other[o].table, other[o].row, b);
        CHECK(memcmp(a, b, bytes) != 0);
      }
    }
  }
}

static void t_row_init_uniform_range(void) {
  for (size_t k = 0; k < 4; k++) {
    pmls_dtype t = ALL[k];
    int isint = t == PMLS_I32 || t == PMLS_I64;
    double scale = isint ? 1000.0 : 0.5;
    pmls_table_spec s = spec_of(t, COLS, 1, scale);
    static unsigned char row[COLS * 8];
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    for (int64_t r = 0; r < 8; r++) {
      pmi_row_init(&s, 7, 0, r, row);
      for (int j = 0; j < COLS; j++) {
        double v = pmi_get_at(t, row, j);
        /* [-scale, scale); an int may round up to scale itself */
        CHECK(v >= -scale);
        if (isint) CHECK(v <= scale);
        else CHECK(v < scale);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        sum += v;
      }
    }
    /* spread over the whole interval, centred (4096 draws) */
    CHECK(lo < -0.95 * scale);
    CHECK(hi > 0.95 * scale);
    CHECK_NEAR(sum / (8 * COLS), 0, 0.05 * scale);
  }
}

static void t_row_init_normal_moments(void) {
  pmls_table_spec s = spec_of(PMLS_F64, 4096, 2, 3.0);
  static double row[4096];
  pmi_row_init(&s, 11, 1, 5, row);
  double sum = 0, sq = 0;
  for (int j = 0; j < 4096; j++) sum += row[j], sq += row[j] * row[j];
  double mean = sum / 4096, var = sq / 4096 - mean * mean;
  CHECK_NEAR(mean, 0, 0.2);
  CHECK_NEAR(sqrt(var), 3.0, 0.2);
}

/* Zeros init (and any sparse table) gives zeros whatever the scale; no
 * byte past the row is written. */
static void t_row_init_zeros_and_bounds(void) {
  for (size_t k = 0; k < 4; k++) {
    static const struct { int init; pmls_layout layout; } rows[] = {
        {0, PMLS_DENSE}, {1, PMLS_SPARSE}, {2, PMLS_SPARSE}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
      pmls_table_spec s = spec_of(ALL[k], 10, rows[i].init, 5.0);
      s.layout = rows[i].layout;
      unsigned char row[10 * 8 + 16];
      memset(row, 0xab, sizeof row);
      pmi_row_init(&s, 1, 0, 3, row);
      for (int j = 0; j < 10; j++) CHECK(pmi_is_zero(ALL[k], row, j));
      size_t bytes = 10 * pmls_dtype_size(ALL[k]);
      for (size_t b = bytes; b < sizeof row; b++) CHECK_EQ_INT(row[b], 0xab);
    }
    pmls_table_spec s = spec_of(ALL[k], 10, 1, 5.0);
    unsigned char row[10 * 8 + 16];
    memset(row, 0xab, sizeof row);
    pmi_row_init(&s, 1, 0, 3, row);
    for (size_t b = 10 * pmls_dtype_size(ALL[k]); b < sizeof row; b++)
      CHECK_EQ_INT(row[b], 0xab);
  }
}

static const th_case cases[] = {
    {"dtype names, sizes and validity", t_dtype_names_and_sizes},
    {"add: float64 and float32", t_add_floats},
    {"add: int32 and int64 wrap around", t_add_ints_wrap},
    {"add: touches exactly n elements", t_add_respects_n},
    {"count_nonzero, any_zero_of, pairs_of, add_pairs", t_count_and_pairs},
    {"add_scaled and add_at: exact floats, ints rounded to nearest", t_add_scaled},
    {"add_scaled: vectors, integer wrap-around", t_add_scaled_vector_and_wrap},
    {"add_at, add_at_typed, get_at, is_zero", t_add_at_and_get_at},
    {"row_init: same seed/table/row same row, others differ", t_row_init_deterministic},
    {"row_init: uniform within [-scale, scale) and spread", t_row_init_uniform_range},
    {"row_init: normal has mean 0 and sd scale", t_row_init_normal_moments},
    {"row_init: zeros init and sparse give zeros, no overflow", t_row_init_zeros_and_bounds},
};

TH_MAIN(cases)
