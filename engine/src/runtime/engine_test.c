/* engine_test.c -- the engine through its public API only (pmls.h): creating
 * engines and tables, host and worker clients, the error messages, the "no
 * increment is ever lost" promise under concurrent workers and two shards,
 * the SSP/BSP read bound (which exercises the server's min-clock wait), a
 * worker's own increments through the shared row cache, aborts and
 * timeouts, the metrics file and the statistics. Worker threads record what
 * went wrong in their job struct; the case checks it after joining them. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "pmls.h"

/* ---- helpers ------------------------------------------------------------- */

static pmls_config config(int workers, int servers) {
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = workers;
  cfg.servers = servers;
  cfg.quiet = 1;
  cfg.timeout_ms = 10000; /* a lost update fails a read instead of hanging */
  return cfg;
}

static pmls_engine *engine(int workers, int servers) {
  pmls_config cfg = config(workers, servers);
  pmls_engine *e = NULL;
  char err[512] = "";
  if (pmls_engine_create(&e, &cfg, err, sizeof err) != PMLS_OK) {
    fprintf(stderr, "engine_test: cannot create an engine: %s\n", err);
    return NULL;
  }
  return e;
}

static pmls_table_spec dense(int64_t rows, int32_t cols, pmls_dtype t) {
  pmls_table_spec s;
  pmls_table_spec_init(&s);
  s.rows = rows;
  s.cols = cols;
  s.dtype = t;
  return s;
}

static int table(pmls_engine *e, const char *name, pmls_table_spec s) {
  int id = -1;
  if (pmls_table_create(e, name, &s, &id) != PMLS_OK) {
    fprintf(stderr, "engine_test: table '%s': %s\n", name, pmls_errmsg(e));
    return -1;
  }
  return id;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* A typed scalar <-> double, for the table-driven dtype cases. */
static void set_elem(pmls_dtype t, void *row, int i, double v) {
  switch (t) {
  case PMLS_F64: ((double *)row)[i] = v; break;
  case PMLS_F32: ((float *)row)[i] = (float)v; break;
  case PMLS_I32: ((int32_t *)row)[i] = (int32_t)v; break;
  case PMLS_I64: ((int64_t *)row)[i] = (int64_t)v; break;
  }
}

static double elem(pmls_dtype t, const void *row, int i) {
  switch (t) {
  case PMLS_F64: return ((const double *)row)[i];
  case PMLS_F32: return ((const float *)row)[i];
  case PMLS_I32: return ((const int32_t *)row)[i];
  case PMLS_I64: return (double)((const int64_t *)row)[i];
  }
  return -1;
}

/* ---- engine creation ----------------------------------------------------- */

static void t_engine_create_rejects_bad_config(void) {
  static const struct {
    const char *field;
    int value;
    const char *says;
  } rows[] = {
      {"workers", -1, "bad workers -1"},  {"workers", 4097, "bad workers 4097"},
      {"servers", -1, "bad servers -1"},  {"servers", 1025, "bad servers 1025"},
      {"staleness", -1, "bad staleness -1"},
      {"timeout_ms", -5, "bad timeout -5"},
      {"consistency", -1, "bad consistency -1"},
      {"consistency", 4, "bad consistency 4"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    pmls_config cfg = config(1, 1);
    if (!strcmp(rows[i].field, "workers")) cfg.workers = rows[i].value;
    if (!strcmp(rows[i].field, "servers")) cfg.servers = rows[i].value;
    if (!strcmp(rows[i].field, "staleness")) cfg.staleness = rows[i].value;
    if (!strcmp(rows[i].field, "timeout_ms")) cfg.timeout_ms = rows[i].value;
    if (!strcmp(rows[i].field, "consistency")) cfg.consistency = rows[i].value;
    pmls_engine *e = (pmls_engine *)&cfg; /* must be reset to NULL */
    char err[256] = "";
    int rc = pmls_engine_create(&e, &cfg, err, sizeof err);
    if (rc == PMLS_OK) pmls_engine_destroy(e);
    CHECK_EQ_INT(rc, PMLS_EINVAL);
    CHECK(e == NULL);
    CHECK_STR_CONTAINS(err, rows[i].says);
  }
  /* a metrics file that cannot be opened */
  pmls_config cfg = config(1, 1);
  cfg.metrics_path = "/nonexistent-dir/pmls/metrics.json";
  pmls_engine *e = NULL;
  char err[256] = "";
  int rc = pmls_engine_create(&e, &cfg, err, sizeof err);
  if (rc == PMLS_OK) pmls_engine_destroy(e);
  CHECK_EQ_INT(rc, PMLS_EIO);
  CHECK_STR_CONTAINS(err, "/nonexistent-dir/pmls/metrics.json");
  /* a small error buffer gets a truncated, terminated message */
  cfg = config(-1, 1);
  char tiny[8];
  memset(tiny, 'x', sizeof tiny);
  CHECK_EQ_INT(pmls_engine_create(&e, &cfg, tiny, sizeof tiny), PMLS_EINVAL);
  CHECK(memchr(tiny, 0, sizeof tiny) != NULL);
  CHECK_STR_CONTAINS(tiny, "bad");
}

static void t_engine_basics(void) {
  CHECK(pmls_version() && pmls_version()[0]);
  static const struct { int code; const char *says; } codes[] = {
      {PMLS_OK, "ok"},         {PMLS_EINVAL, "invalid"},
      {PMLS_ETIMEDOUT, "timed out"}, {PMLS_EUSAGE, "usage"},
      {PMLS_ESCRIPT, "script"}, {PMLS_EPROTO, "protocol"},
      {12345, "unknown"}};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
    CHECK_STR_CONTAINS(pmls_strerror(codes[i].code), codes[i].says);
  static const struct { pmls_dtype t; size_t size; } sizes[] = {
      {PMLS_F64, 8}, {PMLS_F32, 4}, {PMLS_I32, 4}, {PMLS_I64, 8}};
  for (size_t i = 0; i < 4; i++)
    CHECK_EQ_INT(pmls_dtype_size(sizes[i].t), sizes[i].size);
  pmls_config cfg = config(3, 2);
  cfg.seed = 99;
  pmls_engine *e = NULL;
  char err[256];
  CHECK_EQ_INT(pmls_engine_create(&e, &cfg, err, sizeof err), PMLS_OK);
  CHECK_EQ_INT(pmls_engine_workers(e), 3);
  CHECK_EQ_INT(pmls_engine_seed(e), 99);
  CHECK_EQ_INT(pmls_table_count(e), 0);
  pmls_engine_destroy(e);
  pmls_engine_destroy(NULL); /* a no-op */
}

/* ---- tables -------------------------------------------------------------- */

static void t_table_create_errors(void) {
  pmls_engine *e = engine(1, 2);
  CHECK(e != NULL);
  CHECK(table(e, "taken", dense(4, 4, PMLS_F64)) == 0);
  static const struct {
    const char *name;
    const char *field;
    int value;
    const char *says;
  } rows[] = {
      {"", NULL, 0, "bad table name ''"},
      {NULL, NULL, 0, "bad table name"},
      {"has space", NULL, 0, "bad table name 'has space'"},
      {"semi;colon", NULL, 0, "bad table name"},
      {"a123456789012345678901234567890123456789012345678901234567890123", NULL,
       0, "bad table name"}, /* 64 characters, one too many */
      {"taken", NULL, 0, "table 'taken' is already declared"},
      {"r0", "rows", 0, "bad rows 0 for table 'r0'"},
      {"rneg", "rows", -5, "bad rows -5"},
      {"c0", "cols", 0, "bad cols 0 for table 'c0'"},
      {"cneg", "cols", -1, "bad cols -1"},
      {"dt", "dtype", 7, "bad dtype 7 for table 'dt'"},
      {"dtneg", "dtype", -1, "bad dtype -1"},
      {"lay", "layout", 2, "bad layout 2 for table 'lay'"},
      {"st", "staleness", -2, "bad staleness -2 for table 'st'"},
      {"in", "init", 3, "bad init for table 'in'"},
      {"sparse_init", "sparse_init", 1, "random init needs a dense table"},
      {"cons", "consistency", 9, "bad consistency 9 for table 'cons'"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    pmls_table_spec s = dense(10, 3, PMLS_F64);
    const char *f = rows[i].field;
    int v = rows[i].value;
    if (f && !strcmp(f, "rows")) s.rows = v;
    if (f && !strcmp(f, "cols")) s.cols = v;
    if (f && !strcmp(f, "dtype")) s.dtype = (pmls_dtype)v;
    if (f && !strcmp(f, "layout")) s.layout = (pmls_layout)v;
    if (f && !strcmp(f, "staleness")) s.staleness = v;
    if (f && !strcmp(f, "init")) s.init = v;
    if (f && !strcmp(f, "consistency")) s.consistency = v;
    if (f && !strcmp(f, "sparse_init")) s.layout = PMLS_SPARSE, s.init = v;
    int id = 12345;
    int rc = pmls_table_create(e, rows[i].name, &s, &id);
    if (rc != PMLS_EINVAL || !strstr(pmls_errmsg(e), rows[i].says)) {
      th_fail(__FILE__, __LINE__, "table '%s' (%s = %d): want PMLS_EINVAL and "
              "\"%s\", got %d \"%s\"", rows[i].name ? rows[i].name : "(null)",
              f ? f : "name", v, rows[i].says, rc, pmls_errmsg(e));
      break;
    }
    CHECK_EQ_INT(id, 12345); /* untouched on failure */
  }
  CHECK_EQ_INT(pmls_table_count(e), 1); /* no failed declaration counted */
  pmls_engine_destroy(e);
}

static void t_table_registry(void) {
  pmls_engine *e = engine(1, 3);
  CHECK(e != NULL);
  static const struct { const char *name; int64_t rows; int32_t cols; pmls_dtype t; } rows[] = {
      {"w", 1, 10, PMLS_F64}, {"counts.v2", 1000000, 3, PMLS_I64},
      {"Emb_1-x", 50, 64, PMLS_F32}};
  for (int i = 0; i < 3; i++)
    CHECK_EQ_INT(table(e, rows[i].name, dense(rows[i].rows, rows[i].cols, rows[i].t)), i);
  CHECK_EQ_INT(pmls_table_count(e), 3);
  for (int i = 0; i < 3; i++) {
    int id = -1;
    CHECK_EQ_INT(pmls_table_find(e, rows[i].name, &id), PMLS_OK);
    CHECK_EQ_INT(id, i);
    CHECK(strcmp(pmls_table_name(e, i), rows[i].name) == 0);
    pmls_table_spec s;
    CHECK_EQ_INT(pmls_table_spec_of(e, i, &s), PMLS_OK);
    CHECK_EQ_INT(s.rows, rows[i].rows);
    CHECK_EQ_INT(s.cols, rows[i].cols);
    CHECK_EQ_INT(s.dtype, rows[i].t);
  }
  int id = 7;
  CHECK_EQ_INT(pmls_table_find(e, "nope", &id), PMLS_EINVAL);
  CHECK_EQ_INT(id, -1);
  CHECK_STR_CONTAINS(pmls_errmsg(e), "no table named 'nope'");
  pmls_table_spec s;
  CHECK_EQ_INT(pmls_table_spec_of(e, 3, &s), PMLS_EINVAL);
  CHECK_STR_CONTAINS(pmls_errmsg(e), "bad table id 3");
  CHECK(pmls_table_name(e, 3) == NULL);
  CHECK(pmls_table_name(e, -1) == NULL);
  pmls_engine_destroy(e);
}

/* A uniform-init table starts the same on every engine with the same seed
 * (and differently with another), within [-scale, scale). */
static void read_init_row(uint64_t seed, int64_t row, double *out) {
  pmls_config cfg = config(1, 2);
  cfg.seed = seed;
  pmls_engine *e = NULL;
  char err[256];
  if (pmls_engine_create(&e, &cfg, err, sizeof err)) return;
  pmls_table_spec s = dense(100, 16, PMLS_F64);
  s.init = 1;
  s.init_scale = 0.1;
  int t = table(e, "init", s);
  pmls_client *c = NULL;
  pmls_client_open(e, -1, &c);
  if (c && t >= 0) pmls_get_dense(c, t, row, out);
  pmls_client_close(c);
  pmls_engine_destroy(e);
}

static void t_table_init_reproducible(void) {
  double a[16], b[16], other_seed[16], other_row[16];
  for (int j = 0; j < 16; j++) a[j] = b[j] = other_seed[j] = other_row[j] = 99;
  read_init_row(5, 42, a);
  read_init_row(5, 42, b);
  read_init_row(6, 42, other_seed);
  read_init_row(5, 43, other_row);
  CHECK(memcmp(a, b, sizeof a) == 0);
  CHECK(memcmp(a, other_seed, sizeof a) != 0);
  CHECK(memcmp(a, other_row, sizeof a) != 0);
  int distinct = 0;
  for (int j = 0; j < 16; j++) {
    CHECK(a[j] >= -0.1 && a[j] < 0.1);
    distinct += j > 0 && a[j] != a[j - 1];
  }
  CHECK(distinct > 10);
}

/* ---- a host client: increments and reads ---------------------------------- */

/* Every dense dtype: inc_dense, inc_one, inc_scaled and inc_pairs, read back
 * before any flush (own increments) and by a fresh client after close (the
 * shards applied them). */
static void t_host_dense_roundtrip(void) {
  static const pmls_dtype types[] = {PMLS_F64, PMLS_F32, PMLS_I32, PMLS_I64};
  pmls_engine *e = engine(2, 2);
  CHECK(e != NULL);
  enum { COLS = 5, ROWS = 7 };
  int ids[4];
  static const char *const names[] = {"f64", "f32", "i32", "i64"};
  for (int k = 0; k < 4; k++) {
    ids[k] = table(e, names[k], dense(ROWS, COLS, types[k]));
    CHECK(ids[k] >= 0);
  }
  pmls_client *c = NULL;
  CHECK_EQ_INT(pmls_client_open(e, -1, &c), PMLS_OK);
  CHECK_EQ_INT(pmls_client_worker(c), -1);
  double want[4][ROWS][COLS];
  memset(want, 0, sizeof want);
  for (int k = 0; k < 4; k++) {
    pmls_dtype t = types[k];
    for (int64_t r = 0; r < ROWS; r += 3) { /* rows 0, 3, 6 */
      int64_t delta[COLS];
      for (int j = 0; j < COLS; j++) {
        set_elem(t, delta, j, (double)(j + 1) * (r + 1) - 4); /* negatives too */
        want[k][r][j] += (double)(j + 1) * (r + 1) - 4;
      }
      CHECK_EQ_INT(pmls_inc_dense(c, ids[k], r, delta), PMLS_OK);
      CHECK_EQ_INT(pmls_inc_dense(c, ids[k], r, delta), PMLS_OK);
      for (int j = 0; j < COLS; j++) want[k][r][j] *= 2;
      CHECK_EQ_INT(pmls_inc_one(c, ids[k], r, 4, -3), PMLS_OK);
      want[k][r][4] -= 3;
      double x[COLS] = {1, 2, 3, 4, 5};
      CHECK_EQ_INT(pmls_inc_scaled(c, ids[k], r, x, 2.0), PMLS_OK);
      for (int j = 0; j < COLS; j++) want[k][r][j] += 2.0 * x[j];
      int32_t cols[3] = {0, 2, 0};
      int64_t vals[3];
      set_elem(t, vals, 0, 10);
      set_elem(t, vals, 1, 20);
      set_elem(t, vals, 2, 30);
      CHECK_EQ_INT(pmls_inc_pairs(c, ids[k], r, 3, cols, vals), PMLS_OK);
      want[k][r][0] += 40;
      want[k][r][2] += 20;
    }
  }
  /* own increments are visible at once, rows never touched are zero */
  for (int pass = 0; pass < 2; pass++) {
    for (int k = 0; k < 4; k++) {
      for (int64_t r = 0; r < ROWS; r++) {
        int64_t out[COLS];
        memset(out, 0x5a, sizeof out);
        CHECK_EQ_INT(pmls_get_dense(c, ids[k], r, out), PMLS_OK);
        for (int j = 0; j < COLS; j++) {
          if (elem(types[k], out, j) != want[k][r][j]) {
            th_fail(__FILE__, __LINE__, "pass %d table %s row %lld col %d: "
                    "got %g, want %g", pass, names[k], (long long)r, j,
                    elem(types[k], out, j), want[k][r][j]);
            pmls_client_close(c);
            pmls_engine_destroy(e);
            return;
          }
        }
      }
    }
    /* second pass: a new client reads what the shards hold */
    CHECK_EQ_INT(pmls_client_close(c), PMLS_OK);
    c = NULL;
    CHECK_EQ_INT(pmls_client_open(e, -1, &c), PMLS_OK);
  }
  CHECK_EQ_INT(pmls_client_close(c), PMLS_OK);
  pmls_engine_destroy(e);
}

/* Sparse tables of every dtype: pairs accumulate per key, come back in key
 * order, and a capacity below the key count is an error. */
static void t_host_sparse_roundtrip(void) {
  static const pmls_dtype types[] = {PMLS_I64, PMLS_I32, PMLS_F32, PMLS_F64};
  static const char *const names[] = {"si64", "si32", "sf32", "sf64"};
  pmls_engine *e = engine(1, 2);
  CHECK(e != NULL);
  for (int k = 0; k < 4; k++) {
    pmls_table_spec s = dense(3, 100000, types[k]);
    s.layout = PMLS_SPARSE;
    int t = table(e, names[k], s);
    CHECK(t == k);
    for (int pass = 0; pass < 2; pass++) {
      pmls_client *c = NULL;
      CHECK_EQ_INT(pmls_client_open(e, -1, &c), PMLS_OK);
      if (pass == 0) {
        int32_t cols[5] = {99999, 5, 70000, 5, 0};
        int64_t vals[5];
        for (int i = 0; i < 5; i++) set_elem(types[k], vals, i, i + 1);
        CHECK_EQ_INT(pmls_inc_pairs(c, t, 1, 5, cols, vals), PMLS_OK);
        CHECK_EQ_INT(pmls_inc_one(c, t, 1, 70000, -7), PMLS_OK);
      }
      int32_t keys[8];
      int64_t vals[8], n = -1;
      /* keys 0, 5, 70000, 99999 with 5, 2+4, 3-7, 1 */
      int rc = pmls_get_sparse(c, t, 1, keys, vals, 8, &n);
      static const int32_t wk[4] = {0, 5, 70000, 99999};
      static const double wv[4] = {5, 6, -4, 1};
      int ok = rc == PMLS_OK && n == 4;
      for (int i = 0; ok && i < 4; i++)
        ok = keys[i] == wk[i] && elem(types[k], vals, i) == wv[i];
      int64_t n0 = -1, n2 = -1;
      int rc0 = pmls_get_sparse(c, t, 0, keys, vals, 8, &n0);
      int rc2 = pmls_get_sparse(c, t, 1, keys, vals, 3, &n2);
      char msg2[512];
      snprintf(msg2, sizeof msg2, "%s", pmls_client_errmsg(c));
      CHECK_EQ_INT(pmls_client_close(c), PMLS_OK);
      if (!ok) {
        th_fail(__FILE__, __LINE__, "table %s pass %d: rc %d n %lld", names[k],
                pass, rc, (long long)n);
        break;
      }
      CHECK_EQ_INT(rc0, PMLS_OK);
      CHECK_EQ_INT(n0, 0); /* an untouched sparse row is empty */
      CHECK_EQ_INT(rc2, PMLS_EINVAL);
      CHECK_STR_CONTAINS(msg2, "capacity 3");
    }
    if (th_failed()) break;
  }
  pmls_engine_destroy(e);
}

/* Row ids up to 2^40, integer wrap-around through the shards, and two
 * engines side by side in one process (no hidden global state). */
static void t_host_huge_rows_wrap_and_two_engines(void) {
  pmls_engine *e1 = engine(1, 3), *e2 = engine(1, 2);
  CHECK(e1 && e2);
  int64_t big = (int64_t)1 << 40;
  CHECK_EQ_INT(table(e1, "t", dense(big, 1, PMLS_I32)), 0);
  CHECK_EQ_INT(table(e2, "t", dense(big, 1, PMLS_I32)), 0);
  pmls_client *c1 = NULL, *c2 = NULL;
  CHECK_EQ_INT(pmls_client_open(e1, -1, &c1), PMLS_OK);
  CHECK_EQ_INT(pmls_client_open(e2, -1, &c2), PMLS_OK);
  static const int64_t ids[] = {0, 1, 4096, 1000000007, ((int64_t)1 << 40) - 1};
  int32_t max = INT32_MAX, one = 1, seven = 7, out = 0;
  for (size_t i = 0; i < 5; i++) {
    CHECK_EQ_INT(pmls_inc_dense(c1, 0, ids[i], &max), PMLS_OK);
    CHECK_EQ_INT(pmls_inc_dense(c2, 0, ids[i], &seven), PMLS_OK);
  }
  CHECK_EQ_INT(pmls_client_close(c1), PMLS_OK); /* flushed to the shards */
  CHECK_EQ_INT(pmls_client_open(e1, -1, &c1), PMLS_OK);
  for (size_t i = 0; i < 5; i++) CHECK_EQ_INT(pmls_inc_dense(c1, 0, ids[i], &one), PMLS_OK);
  CHECK_EQ_INT(pmls_client_close(c1), PMLS_OK);
  CHECK_EQ_INT(pmls_client_open(e1, -1, &c1), PMLS_OK);
  for (size_t i = 0; i < 5; i++) {
    CHECK_EQ_INT(pmls_get_dense(c1, 0, ids[i], &out), PMLS_OK);
    CHECK_EQ_INT(out, INT32_MIN); /* INT32_MAX + 1 wraps */
    CHECK_EQ_INT(pmls_get_dense(c2, 0, ids[i], &out), PMLS_OK);
    CHECK_EQ_INT(out, 7); /* the other engine's table is its own */
  }
  CHECK_EQ_INT(pmls_get_dense(c1, 0, 2, &out), PMLS_OK);
  CHECK_EQ_INT(out, 0);
  CHECK_EQ_INT(pmls_get_dense(c1, 0, big, &out), PMLS_ERANGE);
  CHECK_STR_CONTAINS(pmls_client_errmsg(c1), "row 1099511627776 out of range");
  CHECK_EQ_INT(pmls_client_close(c1), PMLS_OK);
  CHECK_EQ_INT(pmls_client_close(c2), PMLS_OK);
  pmls_engine_destroy(e1);
  pmls_engine_destroy(e2);
}

/* ---- argument errors name the argument ----------------------------------- */

static void t_client_argument_errors(void) {
  pmls_engine *e = engine(2, 2);
  CHECK(e != NULL);
  int d = table(e, "dense_t", dense(10, 5, PMLS_F64));
  pmls_table_spec ss = dense(10, 5, PMLS_I64);
  ss.layout = PMLS_SPARSE;
  int sp = table(e, "sparse_t", ss);
  CHECK(d == 0 && sp == 1);
  pmls_client *c = NULL;
  CHECK_EQ_INT(pmls_client_open(e, -1, &c), PMLS_OK);
  double row[5] = {1, 2, 3, 4, 5};
  int32_t keys[5];
  int64_t vals[5], n;
  int32_t badcol[2] = {1, 5}, negcol[1] = {-1};
  /* One row per call: the code and a piece of the message it must give. */
#define ROW(call, want_rc, text)                                               \
  do {                                                                         \
    int rc_ = (call);                                                          \
    if (rc_ != (want_rc) || !strstr(pmls_client_errmsg(c), (text)))            \
      th_fail(__FILE__, __LINE__, "%s: want %d and \"%s\", got %d \"%s\"",     \
              #call, (want_rc), (text), rc_, pmls_client_errmsg(c));           \
  } while (0)
  ROW(pmls_get_dense(c, 7, 0, row), PMLS_EINVAL, "bad table id 7");
  ROW(pmls_get_dense(c, -1, 0, row), PMLS_EINVAL, "bad table id -1");
  ROW(pmls_inc_dense(c, 2, 0, row), PMLS_EINVAL, "bad table id 2");
  ROW(pmls_get_dense(c, d, 10, row), PMLS_ERANGE, "row 10 out of range");
  ROW(pmls_get_dense(c, d, -1, row), PMLS_ERANGE, "row -1 out of range");
  ROW(pmls_inc_dense(c, d, 10, row), PMLS_ERANGE, "row 10 out of range for table 'dense_t'");
  ROW(pmls_inc_one(c, d, 0, 5, 1.0), PMLS_ERANGE, "column 5 out of range");
  ROW(pmls_inc_one(c, d, 0, -1, 1.0), PMLS_ERANGE, "column -1 out of range");
  ROW(pmls_inc_pairs(c, d, 0, 2, badcol, row), PMLS_ERANGE, "column 5");
  ROW(pmls_inc_pairs(c, sp, 0, 1, negcol, vals), PMLS_ERANGE, "column -1");
  ROW(pmls_inc_pairs(c, d, 0, -1, badcol, row), PMLS_EINVAL, "bad pair count -1");
  ROW(pmls_get_dense(c, sp, 0, row), PMLS_EINVAL, "sparse");
  ROW(pmls_inc_dense(c, sp, 0, row), PMLS_EINVAL, "sparse");
  ROW(pmls_inc_scaled(c, sp, 0, row, 1.0), PMLS_EINVAL, "sparse");
  ROW(pmls_get_sparse(c, d, 0, keys, vals, 5, &n), PMLS_EINVAL, "dense");
  ROW(pmls_get_sparse(c, sp, 0, keys, vals, -1, &n), PMLS_EINVAL, "capacity");
  ROW(pmls_get_sparse(c, sp, 99, keys, vals, 5, &n), PMLS_ERANGE, "row 99 out of range");
  ROW(pmls_clock(c), PMLS_ESTATE, "host client");
  ROW(pmls_report(c, "", 1.0), PMLS_EINVAL, "bad metric name");
#undef ROW
  /* the failed increments left nothing behind; the client still works */
  double out[5];
  int rc = pmls_get_dense(c, d, 0, out);
  CHECK_EQ_INT(rc, PMLS_OK);
  for (int j = 0; j < 5; j++) CHECK_EQ_DBL(out[j], 0);
  CHECK_EQ_INT(pmls_client_close(c), PMLS_OK);
  pmls_engine_destroy(e);
}

static void t_client_open_errors(void) {
  pmls_engine *e = engine(2, 1);
  CHECK(e != NULL);
  pmls_client *c = (pmls_client *)e, *w0 = NULL, *again = (pmls_client *)e;
  CHECK_EQ_INT(pmls_client_open(e, 2, &c), PMLS_EINVAL);
  CHECK(c == NULL);
  CHECK_STR_CONTAINS(pmls_errmsg(e), "bad worker 2");
  CHECK_EQ_INT(pmls_client_open(e, -2, &c), PMLS_EINVAL);
  CHECK_STR_CONTAINS(pmls_errmsg(e), "bad worker -2");
  CHECK_EQ_INT(pmls_client_open(e, 0, &w0), PMLS_OK);
  CHECK_EQ_INT(pmls_client_worker(w0), 0);
  CHECK_EQ_INT(pmls_client_clock(w0), 0);
  CHECK_EQ_INT(pmls_client_open(e, 0, &again), PMLS_EINVAL);
  CHECK(again == NULL);
  CHECK_STR_CONTAINS(pmls_errmsg(e), "worker 0 already has a client");
  CHECK_EQ_INT(pmls_client_close(w0), PMLS_OK);
  CHECK_EQ_INT(pmls_client_close(NULL), PMLS_OK);
  pmls_engine_destroy(e);
}

/* ---- no lost increments ---------------------------------------------------- */

enum { LW = 4, LN = 12000, LK = 40, LROWS = 5, LCOLS = 3, LSPCOLS = 64 };

typedef struct {
  pmls_engine *e;
  int worker, cnt, acc, sp;
  int rc;          /* first failing call's code */
  char why[512];   /* what went wrong, for the case to report */
} lw_job;

/* The int64 cell (row, col) worker w increments at step i, and by how much. */
static int64_t cnt_row(int w, int i) { return (i + w) % LROWS; }
static int32_t cnt_col(int i) { return i % LCOLS; }

/* Sum of the int64 increments to (row, col) made in steps [0, upto) by all
 * workers: what a read at clock upto / LK must at least see. */
static int64_t cnt_expected(int64_t row, int32_t col, int upto) {
  int64_t sum = 0;
  for (int w = 0; w < LW; w++)
    for (int i = 0; i < upto && i < LN; i++)
      if (cnt_row(w, i) == row && cnt_col(i) == col) sum += 1 + w;
  return sum;
}

static void *lw_main(void *arg) {
  lw_job *j = arg;
  pmls_client *c = NULL;
  int w = j->worker;
  j->rc = pmls_client_open(j->e, w, &c);
  if (j->rc) {
    snprintf(j->why, sizeof j->why, "open: %s", pmls_errmsg(j->e));
    return NULL;
  }
  double delta[LCOLS] = {0.1 * (w + 1), 0.25, -1.0};
  for (int i = 0; i < LN && !j->rc; i++) {
    int rc = pmls_inc_one(c, j->cnt, cnt_row(w, i), cnt_col(i), 1 + w);
    if (!rc) rc = pmls_inc_dense(c, j->acc, cnt_row(w, i), delta);
    if (!rc) rc = pmls_inc_one(c, j->sp, w % 2, (i * 7 + w) % LSPCOLS, 1);
    if (rc) {
      j->rc = rc;
      snprintf(j->why, sizeof j->why, "worker %d step %d: %s", w, i,
               pmls_client_errmsg(c));
      break;
    }
    if ((i + 1) % LK == 0) {
      rc = pmls_clock(c);
      /* BSP read right after the clock: it holds every increment of the
       * steps before this clock, and nothing past the next clock. */
      int64_t clk = pmls_client_clock(c);
      int64_t row = clk % LROWS, out[LCOLS];
      if (!rc) rc = pmls_get_dense(c, j->cnt, row, out);
      if (rc) {
        j->rc = rc;
        snprintf(j->why, sizeof j->why, "worker %d clock %lld: %s", w,
                 (long long)clk, pmls_client_errmsg(c));
        break;
      }
      for (int col = 0; col < LCOLS; col++) {
        int64_t lo = cnt_expected(row, col, (int)clk * LK);
        int64_t hi = cnt_expected(row, col, (int)(clk + 1) * LK);
        if (out[col] < lo || out[col] > hi) {
          j->rc = -1;
          snprintf(j->why, sizeof j->why, "worker %d at clock %lld read "
                   "row %lld col %d = %lld, want %lld..%lld", w,
                   (long long)clk, (long long)row, col, (long long)out[col],
                   (long long)lo, (long long)hi);
          break;
        }
      }
    }
  }
  int rc = pmls_client_close(c);
  if (rc && !j->rc) {
    j->rc = rc;
    snprintf(j->why, sizeof j->why, "worker %d close: %s", w, pmls_errmsg(j->e));
  }
  return NULL;
}

static void t_no_lost_increments(void) {
  pmls_engine *e = engine(LW, 2);
  CHECK(e != NULL);
  int cnt = table(e, "cnt", dense(LROWS, LCOLS, PMLS_I64));
  int acc = table(e, "acc", dense(LROWS, LCOLS, PMLS_F64));
  pmls_table_spec ss = dense(2, LSPCOLS, PMLS_I64);
  ss.layout = PMLS_SPARSE;
  int sp = table(e, "sp", ss);
  CHECK(cnt >= 0 && acc >= 0 && sp >= 0);
  lw_job jobs[LW];
  pthread_t th[LW];
  for (int w = 0; w < LW; w++) {
    jobs[w] = (lw_job){e, w, cnt, acc, sp, 0, ""};
    CHECK_EQ_INT(pthread_create(&th[w], NULL, lw_main, &jobs[w]), 0);
  }
  for (int w = 0; w < LW; w++) pthread_join(th[w], NULL);
  for (int w = 0; w < LW; w++)
    if (jobs[w].rc) {
      th_fail(__FILE__, __LINE__, "%s", jobs[w].why);
      pmls_engine_destroy(e);
      return;
    }
  /* every row holds exactly the sum of what every worker added */
  pmls_client *h = NULL;
  CHECK_EQ_INT(pmls_client_open(e, -1, &h), PMLS_OK);
  int64_t reads = 0;
  for (int64_t r = 0; r < LROWS; r++) {
    int64_t got[LCOLS];
    double f[LCOLS];
    CHECK_EQ_INT(pmls_get_dense(h, cnt, r, got), PMLS_OK);
    CHECK_EQ_INT(pmls_get_dense(h, acc, r, f), PMLS_OK);
    reads += 2;
    double n_inc = 0, f0 = 0;
    for (int w = 0; w < LW; w++)
      for (int i = 0; i < LN; i++)
        if (cnt_row(w, i) == r) n_inc += 1, f0 += 0.1 * (w + 1);
    for (int col = 0; col < LCOLS; col++)
      CHECK_EQ_INT(got[col], cnt_expected(r, col, LN));
    CHECK_NEAR(f[0], f0, 1e-9 * f0);
    CHECK_EQ_DBL(f[1], 0.25 * n_inc);
    CHECK_EQ_DBL(f[2], -n_inc);
  }
  for (int64_t r = 0; r < 2; r++) {
    int32_t keys[LSPCOLS];
    int64_t vals[LSPCOLS], n = 0, want[LSPCOLS] = {0};
    for (int w = 0; w < LW; w++)
      for (int i = 0; i < LN; i++)
        if (w % 2 == r) want[(i * 7 + w) % LSPCOLS]++;
    CHECK_EQ_INT(pmls_get_sparse(h, sp, r, keys, vals, LSPCOLS, &n), PMLS_OK);
    reads++;
    int64_t k = 0;
    for (int col = 0; col < LSPCOLS; col++) {
      if (!want[col]) continue;
      CHECK(k < n);
      CHECK_EQ_INT(keys[k], col);
      CHECK_EQ_INT(vals[k], want[col]);
      k++;
    }
    CHECK_EQ_INT(n, k);
  }
  CHECK_EQ_INT(pmls_client_close(h), PMLS_OK);
  /* the statistics count what the closed clients did */
  pmls_stats st;
  CHECK_EQ_INT(pmls_engine_stats(e, &st), PMLS_OK);
  CHECK_EQ_INT(st.rows_incremented, (int64_t)LW * LN * 3);
  CHECK_EQ_INT(st.rows_read, (int64_t)LW * (LN / LK) + reads);
  CHECK_EQ_INT(st.clocks, LN / LK);
  CHECK(st.messages_sent > 0 && st.messages_received > 0);
  CHECK(st.bytes_sent > st.messages_sent && st.bytes_received > 0);
  pmls_engine_destroy(e);
}

/* ---- the read bound: BSP and SSP ------------------------------------------- */

enum { BC = 10, BSLEEP_MS = 15 };

typedef struct {
  pmls_engine *e;
  int worker, table;
  int64_t bound;  /* worker 0 at clock c must see worker 1's clocks < c - bound */
  int rc;
  char why[512];
} bound_job;

/* Worker 1 adds 2^k in its k-th clock interval, then dawdles before clock();
 * worker 0 clocks at full speed and reads after each clock. The bits worker
 * 0 sees tell exactly which of worker 1's clocks its copy includes. */
static void *bound_main(void *arg) {
  bound_job *j = arg;
  pmls_client *c = NULL;
  j->rc = pmls_client_open(j->e, j->worker, &c);
  if (j->rc) {
    snprintf(j->why, sizeof j->why, "open worker %d: %s", j->worker,
             pmls_errmsg(j->e));
    return NULL;
  }
  for (int k = 0; k < BC && !j->rc; k++) {
    int rc = PMLS_OK;
    if (j->worker == 1) {
      rc = pmls_inc_one(c, j->table, 0, 0, (double)((int64_t)1 << k));
      sleep_ms(BSLEEP_MS);
      if (!rc) rc = pmls_clock(c);
    } else {
      rc = pmls_clock(c);
      int64_t clk = pmls_client_clock(c), out[2] = {-1, -1};
      if (!rc) rc = pmls_get_dense(c, j->table, 0, out);
      int64_t need = clk - j->bound; /* clocks 0..need-1 of worker 1 */
      int64_t mask = need > 0 ? ((int64_t)1 << need) - 1 : 0;
      if (!rc && (out[0] & mask) != mask) {
        j->rc = -1;
        snprintf(j->why, sizeof j->why, "worker 0 at clock %lld (bound %lld) "
                 "read %#llx: worker 1's clocks < %lld should all be in "
                 "(mask %#llx)", (long long)clk, (long long)j->bound,
                 (long long)out[0], (long long)need, (long long)mask);
      }
    }
    if (rc && !j->rc) {
      j->rc = rc;
      snprintf(j->why, sizeof j->why, "worker %d step %d: %s", j->worker, k,
               pmls_client_errmsg(c));
    }
  }
  int rc = pmls_client_close(c);
  if (rc && !j->rc) {
    j->rc = rc;
    snprintf(j->why, sizeof j->why, "close worker %d: %s", j->worker,
             pmls_errmsg(j->e));
  }
  return NULL;
}

/* Runs the two workers on e's table 0; returns through th_fail. */
static void run_bound(pmls_engine *e, int64_t bound, const char *label) {
  bound_job jobs[2];
  pthread_t th[2];
  for (int w = 0; w < 2; w++) {
    jobs[w] = (bound_job){e, w, 0, bound, 0, ""};
    if (pthread_create(&th[w], NULL, bound_main, &jobs[w])) {
      th_fail(__FILE__, __LINE__, "%s: cannot start a thread", label);
      return;
    }
  }
  for (int w = 0; w < 2; w++) pthread_join(th[w], NULL);
  for (int w = 0; w < 2; w++)
    if (jobs[w].rc) {
      th_fail(__FILE__, __LINE__, "%s: %s", label, jobs[w].why);
      return;
    }
  /* and in the end worker 1's every bit is there */
  pmls_client *h = NULL;
  int64_t out[2] = {0, 0};
  if (pmls_client_open(e, -1, &h) || pmls_get_dense(h, 0, 0, out) ||
      out[0] != ((int64_t)1 << BC) - 1)
    th_fail(__FILE__, __LINE__, "%s: final value %#llx, want %#llx", label,
            (long long)out[0], (long long)(((int64_t)1 << BC) - 1));
  pmls_client_close(h);
}

static void t_read_bound(void) {
  static const struct {
    const char *label;
    int cfg_staleness, table_staleness, consistency;
    int64_t bound;
  } rows[] = {
      {"BSP by default (staleness 0)", 0, -1, -1, 0},
      {"table staleness 0 overrides the engine's 5", 5, 0, -1, 0},
      {"SSP(2) from the table", 0, 2, -1, 2},
      {"SSP(1) from the engine", 1, -1, -1, 1},
      {"consistency BSP ignores staleness 3", 3, -1, PMLS_BSP, 0},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    pmls_config cfg = config(2, 2);
    cfg.staleness = rows[i].cfg_staleness;
    pmls_engine *e = NULL;
    char err[256];
    CHECK_EQ_INT(pmls_engine_create(&e, &cfg, err, sizeof err), PMLS_OK);
    pmls_table_spec s = dense(1, 2, PMLS_I64);
    s.staleness = rows[i].table_staleness;
    s.consistency = rows[i].consistency;
    if (table(e, "bits", s) != 0) {
      th_fail(__FILE__, __LINE__, "%s: %s", rows[i].label, pmls_errmsg(e));
      pmls_engine_destroy(e);
      return;
    }
    run_bound(e, rows[i].bound, rows[i].label);
    pmls_engine_destroy(e);
    if (th_failed()) return;
  }
}

/* Worker clients may be closed and opened again on one engine (close frees
 * the worker slot). Either the engine refuses the second set of clocks
 * (PMLS_ESTATE), or the read bound must still hold for it. */
static void t_reopened_workers_keep_bound(void) {
  pmls_engine *e = engine(2, 2);
  CHECK(e != NULL);
  CHECK_EQ_INT(table(e, "bits", dense(1, 2, PMLS_I64)), 0);
  CHECK_EQ_INT(table(e, "other", dense(4, 2, PMLS_I64)), 1);
  /* a first round: both workers clock three times and close */
  for (int w = 0; w < 2; w++) {
    pmls_client *c = NULL;
    CHECK_EQ_INT(pmls_client_open(e, w, &c), PMLS_OK);
    for (int k = 0; k < 3; k++) {
      CHECK_EQ_INT(pmls_inc_one(c, 1, w, 0, 1), PMLS_OK);
      CHECK_EQ_INT(pmls_clock(c), PMLS_OK);
    }
    CHECK_EQ_INT(pmls_client_close(c), PMLS_OK);
  }
  pmls_client *probe = NULL;
  int rc = pmls_client_open(e, 0, &probe);
  if (rc == PMLS_ESTATE) { /* refused: fine */
    pmls_engine_destroy(e);
    return;
  }
  CHECK_EQ_INT(rc, PMLS_OK);
  CHECK_EQ_INT(pmls_client_close(probe), PMLS_OK);
  run_bound(e, 0, "second round of worker clients");
  pmls_engine_destroy(e);
}

/* A worker sees its own increments right after clock() too, and a host
 * client's increments reach the workers. */
static void t_worker_sees_own_and_host_increments(void) {
  pmls_engine *e = engine(1, 2);
  CHECK(e != NULL);
  int t = table(e, "t", dense(8, 2, PMLS_I64));
  CHECK(t == 0);
  pmls_client *h = NULL, *w = NULL;
  CHECK_EQ_INT(pmls_client_open(e, -1, &h), PMLS_OK);
  CHECK_EQ_INT(pmls_inc_one(h, t, 3, 1, 1000), PMLS_OK);
  CHECK_EQ_INT(pmls_client_close(h), PMLS_OK); /* applied when close returns */
  CHECK_EQ_INT(pmls_client_open(e, 0, &w), PMLS_OK);
  int64_t want = 1000;
  for (int k = 0; k < 20; k++) {
    int64_t out[2];
    CHECK_EQ_INT(pmls_inc_one(w, t, 3, 1, k + 1), PMLS_OK);
    want += k + 1;
    CHECK_EQ_INT(pmls_get_dense(w, t, 3, out), PMLS_OK); /* before clock */
    CHECK_EQ_INT(out[1], want);
    CHECK_EQ_INT(pmls_clock(w), PMLS_OK);
    CHECK_EQ_INT(pmls_client_clock(w), k + 1);
    CHECK_EQ_INT(pmls_get_dense(w, t, 3, out), PMLS_OK); /* after clock */
    CHECK_EQ_INT(out[1], want);
    CHECK_EQ_INT(out[0], 0);
  }
  CHECK_EQ_INT(pmls_client_close(w), PMLS_OK);
  pmls_engine_destroy(e);
}

/* ---- own increments through the shared cache ------------------------------ */

enum { OW = 3, OC = 25, OROWS = 4 };

typedef struct {
  pmls_engine *e;
  int worker, table, sparse;
  int64_t bound; /* a read at clock c holds the others' clocks < c - bound */
  int rc;
  char why[512];
} own_job;

/* Reads row r of an OW-column table (dense, or sparse with keys = columns)
 * into out[OW]. */
static int own_read(pmls_client *c, const own_job *j, int64_t r, int64_t *out) {
  if (!j->sparse) return pmls_get_dense(c, j->table, r, out);
  int32_t keys[OW];
  int64_t vals[OW], n = 0;
  int rc = pmls_get_sparse(c, j->table, r, keys, vals, OW, &n);
  for (int o = 0; o < OW; o++) out[o] = 0;
  for (int64_t i = 0; !rc && i < n; i++) out[keys[i]] = vals[i];
  return rc;
}

/* Worker w adds w+1 to column w of every row in each clock interval, and
 * reads every row before and after each clock(). Its own column must always
 * be exact (every own increment once: none missing from a cached copy, none
 * counted twice), the others' within the staleness bound. The workers share
 * the process cache, so most reads are served from copies another worker
 * fetched. */
static void *own_main(void *arg) {
  own_job *j = arg;
  pmls_client *c = NULL;
  int w = j->worker;
  if ((j->rc = pmls_client_open(j->e, w, &c))) {
    snprintf(j->why, sizeof j->why, "open: %s", pmls_errmsg(j->e));
    return NULL;
  }
  for (int k = 0; k < OC && !j->rc; k++) {
    for (int64_t r = 0; r < OROWS && !j->rc; r++)
      j->rc = pmls_inc_one(c, j->table, r, w, w + 1);
    for (int phase = 0; phase < 2 && !j->rc; phase++) {
      if (phase == 1) j->rc = pmls_clock(c);
      int64_t clk = pmls_client_clock(c);
      for (int64_t r = 0; r < OROWS && !j->rc; r++) {
        int64_t out[OW];
        if ((j->rc = own_read(c, j, r, out))) break;
        int64_t own = (int64_t)(k + 1) * (w + 1);
        if (out[w] != own) {
          j->rc = -1;
          snprintf(j->why, sizeof j->why, "worker %d clock %lld (%s clock()) "
                   "row %lld: own column %lld, want %lld", w, (long long)clk,
                   phase ? "after" : "before", (long long)r,
                   (long long)out[w], (long long)own);
          break;
        }
        for (int o = 0; o < OW; o++) {
          int64_t need = clk - j->bound; /* o's intervals < need are in */
          int64_t lo = need > 0 ? need * (o + 1) : 0, hi = (int64_t)OC * (o + 1);
          if (o != w && (out[o] < lo || out[o] > hi || out[o] % (o + 1))) {
            j->rc = -1;
            snprintf(j->why, sizeof j->why, "worker %d clock %lld row %lld: "
                     "worker %d's column %lld, want %lld..%lld", w,
                     (long long)clk, (long long)r, o, (long long)out[o],
                     (long long)lo, (long long)hi);
            break;
          }
        }
      }
    }
    if (j->rc > 0 && !j->why[0])
      snprintf(j->why, sizeof j->why, "worker %d step %d: %s", w, k,
               pmls_client_errmsg(c));
  }
  int rc = pmls_client_close(c);
  if (rc && !j->rc) {
    j->rc = rc;
    snprintf(j->why, sizeof j->why, "close worker %d: %s", w, pmls_errmsg(j->e));
  }
  return NULL;
}

static void t_own_increments_exact_through_cache(void) {
  static const struct {
    const char *label;
    int staleness, consistency, sparse;
    int64_t bound; /* -1: no bound checked (async) */
  } rows[] = {
      {"SSP(0)", 0, PMLS_SSP, 0, 0},       {"SSP(2)", 2, PMLS_SSP, 0, 2},
      {"BSP", 5, PMLS_BSP, 0, 0},          {"ESSP(1)", 1, PMLS_ESSP, 0, 1},
      {"async", 0, PMLS_ASYNC, 0, -1},     {"sparse SSP(0)", 0, PMLS_SSP, 1, 0},
      {"sparse SSP(2)", 2, PMLS_SSP, 1, 2}, {"sparse async", 0, PMLS_ASYNC, 1, -1},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    pmls_engine *e = engine(OW, 2);
    CHECK(e != NULL);
    pmls_table_spec s = dense(OROWS, OW, PMLS_I64);
    s.staleness = rows[i].staleness;
    s.consistency = rows[i].consistency;
    s.layout = rows[i].sparse ? PMLS_SPARSE : PMLS_DENSE;
    int t = table(e, "own", s);
    own_job jobs[OW];
    pthread_t th[OW];
    for (int w = 0; w < OW; w++) {
      jobs[w] = (own_job){e, w, t, rows[i].sparse,
                          rows[i].bound < 0 ? 1 << 30 : rows[i].bound, 0, ""};
      pthread_create(&th[w], NULL, own_main, &jobs[w]);
    }
    for (int w = 0; w < OW; w++) pthread_join(th[w], NULL);
    pmls_engine_destroy(e);
    for (int w = 0; w < OW; w++)
      if (jobs[w].rc) {
        th_fail(__FILE__, __LINE__, "%s: %s", rows[i].label, jobs[w].why);
        return;
      }
  }
}

/* Increments bigger than the oplog's flush threshold leave in the middle of
 * a clock interval, in several messages per shard; nothing is lost or
 * counted twice, for the worker itself or anyone else. */
static void t_large_oplog_flushes_mid_clock(void) {
  enum { COLS = 200000, ROWS = 6 }; /* 1.6 MB per row, 9.6 MB per pass */
  pmls_engine *e = engine(1, 2);
  CHECK(e != NULL);
  int t = table(e, "big", dense(ROWS, COLS, PMLS_F64));
  CHECK(t == 0);
  double *d = malloc(COLS * sizeof *d), *out = malloc(COLS * sizeof *out);
  for (int j = 0; j < COLS; j++) d[j] = (j % 7) - 3; /* zeros too */
  pmls_client *w = NULL;
  int rc = pmls_client_open(e, 0, &w);
  int bad_row = -1, bad_col = -1;
  double got = 0, want = 0;
  for (int pass = 1; pass <= 2 && !rc && bad_row < 0; pass++) {
    for (int r = 0; r < ROWS && !rc; r++) rc = pmls_inc_dense(w, t, r, d);
    for (int r = 0; r < ROWS && !rc && bad_row < 0; r++) {
      rc = pmls_get_dense(w, t, r, out);
      for (int j = 0; !rc && j < COLS; j++)
        if (out[j] != pass * d[j]) {
          bad_row = r, bad_col = j, got = out[j], want = pass * d[j];
          break;
        }
    }
    if (!rc) rc = pmls_clock(w);
  }
  char msg[512];
  snprintf(msg, sizeof msg, "%s", w ? pmls_client_errmsg(w) : "");
  int crc = pmls_client_close(w);
  pmls_client *h = NULL;
  int hrc = pmls_client_open(e, -1, &h);
  if (!hrc) hrc = pmls_get_dense(h, t, ROWS - 1, out);
  int host_ok = !hrc && out[COLS - 1] == 2 * d[COLS - 1] && out[1] == 2 * d[1];
  pmls_client_close(h);
  pmls_engine_destroy(e);
  free(d);
  free(out);
  if (rc) th_fail(__FILE__, __LINE__, "call failed: %d %s", rc, msg);
  if (bad_row >= 0)
    th_fail(__FILE__, __LINE__, "row %d col %d: %g, want %g", bad_row, bad_col,
            got, want);
  CHECK_EQ_INT(crc, PMLS_OK);
  CHECK(host_ok);
}

/* pmls_abort wakes a worker blocked in a read at once, with the reason. */
typedef struct {
  pmls_engine *e;
  pmls_client *c;
  int rc;
  double took;
  char msg[512];
} blocked_job;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *blocked_main(void *arg) {
  blocked_job *j = arg;
  int64_t out[1];
  double t0 = now_s();
  j->rc = pmls_clock(j->c);
  if (!j->rc) j->rc = pmls_get_dense(j->c, 0, 0, out); /* waits for worker 0 */
  j->took = now_s() - t0;
  snprintf(j->msg, sizeof j->msg, "%s", pmls_client_errmsg(j->c));
  return NULL;
}

static void t_abort_wakes_blocked_reader(void) {
  pmls_config cfg = config(2, 2);
  cfg.timeout_ms = 4000; /* an unanswered read would take this long */
  pmls_engine *e = NULL;
  char err[256];
  CHECK_EQ_INT(pmls_engine_create(&e, &cfg, err, sizeof err), PMLS_OK);
  CHECK_EQ_INT(table(e, "t", dense(1, 1, PMLS_I64)), 0);
  pmls_client *w0 = NULL;
  blocked_job j = {e, NULL, -1, 0, ""};
  CHECK_EQ_INT(pmls_client_open(e, 0, &w0), PMLS_OK);
  CHECK_EQ_INT(pmls_client_open(e, 1, &j.c), PMLS_OK);
  pthread_t th;
  pthread_create(&th, NULL, blocked_main, &j);
  sleep_ms(200); /* worker 1 is now waiting for worker 0's first clock */
  int arc = pmls_abort(w0, "stopping for a test");
  pthread_join(th, NULL);
  pmls_client_close(j.c);
  pmls_client_close(w0);
  pmls_engine_destroy(e);
  CHECK_EQ_INT(arc, PMLS_OK);
  CHECK_EQ_INT(j.rc, PMLS_EABORTED);
  CHECK(j.took < 2.0);
  CHECK_STR_CONTAINS(j.msg, "stopping for a test");
}

static void t_table_stats(void) {
  pmls_engine *e = engine(1, 2);
  CHECK(e != NULL);
  int a = table(e, "a", dense(4, 2, PMLS_F64));
  int b = table(e, "b", dense(4, 2, PMLS_F64));
  CHECK(a == 0 && b == 1);
  pmls_client *w = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &w), PMLS_OK);
  double d[2] = {1, 1}, out[2];
  for (int k = 0; k < 4; k++) {
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(pmls_inc_dense(w, a, i, d), PMLS_OK);
    CHECK_EQ_INT(pmls_inc_dense(w, b, 0, d), PMLS_OK);
    CHECK_EQ_INT(pmls_get_dense(w, a, 1, out), PMLS_OK);
    CHECK_EQ_INT(pmls_clock(w), PMLS_OK);
  }
  CHECK_EQ_INT(pmls_client_close(w), PMLS_OK);
  pmls_table_stats sa, sb;
  CHECK_EQ_INT(pmls_table_stats_of(e, a, &sa), PMLS_OK);
  CHECK_EQ_INT(pmls_table_stats_of(e, b, &sb), PMLS_OK);
  CHECK_EQ_INT(sa.increments, 12);
  CHECK_EQ_INT(sa.reads, 4);
  CHECK_EQ_INT(sb.increments, 4);
  CHECK_EQ_INT(sb.reads, 0);
  CHECK_EQ_INT(sa.staleness_max, 0); /* one worker, BSP: never stale */
  CHECK_EQ_INT(sa.staleness_hist[0], 4);
  CHECK(sa.bytes_sent > 0 && sb.bytes_sent > 0);
  CHECK_EQ_INT(pmls_table_stats_of(e, 2, &sa), PMLS_EINVAL);
  CHECK_STR_CONTAINS(pmls_errmsg(e), "bad table id 2");
  pmls_engine_destroy(e);
}

/* A read that waits for a worker that does not clock gives up after the
 * configured timeout and says what it waited for; the late reply to the
 * abandoned request must not be taken for the answer to the next one. */
static void t_read_timeout_then_recover(void) {
  pmls_config cfg = config(2, 2);
  cfg.timeout_ms = 300;
  pmls_engine *e = NULL;
  char err[256];
  CHECK_EQ_INT(pmls_engine_create(&e, &cfg, err, sizeof err), PMLS_OK);
  CHECK_EQ_INT(table(e, "t", dense(3, 2, PMLS_I64)), 0);
  /* (the wait must honour timeout_ms, not a coarser internal tick) */
  pmls_client *w0 = NULL, *w1 = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &w0), PMLS_OK);
  CHECK_EQ_INT(pmls_client_open(e, 1, &w1), PMLS_OK);
  int64_t out[2] = {-1, -1};
  CHECK_EQ_INT(pmls_inc_one(w0, 0, 2, 0, 1), PMLS_OK);
  CHECK_EQ_INT(pmls_clock(w0), PMLS_OK);
  double t0 = now_s();
  int rc = pmls_get_dense(w0, 0, 2, out); /* worker 1 is still at clock 0 */
  double took = now_s() - t0;
  char msg[512];
  snprintf(msg, sizeof msg, "%s", pmls_client_errmsg(w0));
  /* worker 1 catches up; the parked request is answered late */
  int rc1 = pmls_inc_one(w1, 0, 2, 1, 5);
  if (!rc1) rc1 = pmls_clock(w1);
  sleep_ms(50);
  int64_t again[2] = {-1, -1};
  int rc2 = pmls_get_dense(w0, 0, 2, again);
  int64_t other[2] = {-1, -1};
  int rc3 = pmls_get_dense(w0, 0, 1, other); /* a different row next */
  pmls_client_close(w0);
  pmls_client_close(w1);
  pmls_engine_destroy(e);
  CHECK_EQ_INT(rc, PMLS_ETIMEDOUT);
  if (!(took >= 0.28 && took < 0.45))
    th_fail(__FILE__, __LINE__, "a read with timeout_ms 300 gave up after "
            "%.3f s", took);
  CHECK_STR_CONTAINS(msg, "timed out");
  CHECK_STR_CONTAINS(msg, "table 't'");
  CHECK_EQ_INT(rc1, PMLS_OK);
  CHECK_EQ_INT(rc2, PMLS_OK);
  CHECK_EQ_INT(again[0], 1);
  CHECK_EQ_INT(again[1], 5);
  CHECK_EQ_INT(rc3, PMLS_OK);
  CHECK_EQ_INT(other[0], 0);
  CHECK_EQ_INT(other[1], 0);
}

/* A read that fails (here: it times out) read no row: neither rows_read
 * nor the table's reads count it, for dense and sparse reads alike. */
static void t_failed_reads_not_counted(void) {
  pmls_config cfg = config(2, 1);
  cfg.timeout_ms = 200;
  pmls_engine *e = NULL;
  char err[256];
  CHECK_EQ_INT(pmls_engine_create(&e, &cfg, err, sizeof err), PMLS_OK);
  CHECK_EQ_INT(table(e, "d", dense(2, 2, PMLS_I64)), 0);
  pmls_table_spec ss = dense(2, 2, PMLS_I64);
  ss.layout = PMLS_SPARSE;
  CHECK_EQ_INT(table(e, "s", ss), 1);
  pmls_client *w0 = NULL, *w1 = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &w0), PMLS_OK);
  CHECK_EQ_INT(pmls_client_open(e, 1, &w1), PMLS_OK);
  CHECK_EQ_INT(pmls_clock(w0), PMLS_OK); /* worker 1 stays at clock 0 */
  int64_t out[2], vals[2], n = 0;
  int32_t keys[2];
  int rcd = pmls_get_dense(w0, 0, 0, out);
  int rcs = pmls_get_sparse(w0, 1, 0, keys, vals, 2, &n);
  pmls_client_close(w1); /* first, so the parked reads go to a live client */
  pmls_client_close(w0);
  pmls_stats st;
  pmls_table_stats sd, sp;
  pmls_engine_stats(e, &st);
  pmls_table_stats_of(e, 0, &sd);
  pmls_table_stats_of(e, 1, &sp);
  pmls_engine_destroy(e);
  CHECK_EQ_INT(rcd, PMLS_ETIMEDOUT);
  CHECK_EQ_INT(rcs, PMLS_ETIMEDOUT);
  if (st.rows_read != 0 || sd.reads != sp.reads || sd.reads != 0)
    th_fail(__FILE__, __LINE__, "two failed reads: rows_read %lld, dense "
            "table reads %lld, sparse table reads %lld; want 0, 0, 0",
            (long long)st.rows_read, (long long)sd.reads, (long long)sp.reads);
}

/* A client that gave up on a read and closed is gone: its parked request
 * must not be answered later, or the shard blocks on a send to nobody (up
 * to timeout_ms) and every other client waits with it. */
static void t_closed_reader_does_not_stall_shard(void) {
  pmls_config cfg = config(2, 1);
  cfg.timeout_ms = 400;
  pmls_engine *e = NULL;
  char err[256];
  CHECK_EQ_INT(pmls_engine_create(&e, &cfg, err, sizeof err), PMLS_OK);
  CHECK_EQ_INT(table(e, "t", dense(1, 1, PMLS_I64)), 0);
  pmls_client *w0 = NULL, *w1 = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &w0), PMLS_OK);
  CHECK_EQ_INT(pmls_client_open(e, 1, &w1), PMLS_OK);
  int64_t out[1];
  CHECK_EQ_INT(pmls_clock(w0), PMLS_OK);
  int rc0 = pmls_get_dense(w0, 0, 0, out); /* parked, then abandoned */
  int rcc = pmls_client_close(w0);
  double t0 = now_s();
  int rc1 = pmls_clock(w1); /* the shard's clock moves past the parked read */
  if (!rc1) rc1 = pmls_get_dense(w1, 0, 0, out);
  double took = now_s() - t0;
  pmls_client_close(w1);
  pmls_engine_destroy(e);
  CHECK_EQ_INT(rc0, PMLS_ETIMEDOUT);
  CHECK_EQ_INT(rcc, PMLS_OK);
  CHECK_EQ_INT(rc1, PMLS_OK);
  if (took > 0.2)
    th_fail(__FILE__, __LINE__, "worker 1's clock and read took %.3f s after "
            "worker 0 closed with a read parked (timeout_ms 400)", took);
}

static void t_engine_defaults(void) {
  pmls_config cfg;
  pmls_config_init(&cfg);
  CHECK_EQ_INT(cfg.workers, 0);
  CHECK_EQ_INT(cfg.staleness, 0);
  CHECK(cfg.metrics_path == NULL && cfg.lua_path == NULL);
  cfg.quiet = 1;
  pmls_engine *e = NULL;
  char err[256];
  CHECK_EQ_INT(pmls_engine_create(&e, &cfg, err, sizeof err), PMLS_OK);
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  CHECK_EQ_INT(pmls_engine_workers(e), cores > 0 ? cores : 1);
  pmls_engine_destroy(e);
  CHECK_EQ_INT(pmls_engine_create(&e, NULL, err, sizeof err), PMLS_OK);
  CHECK(pmls_engine_workers(e) >= 1);
  pmls_engine_destroy(e);
  pmls_table_spec s;
  pmls_table_spec_init(&s);
  CHECK_EQ_INT(s.rows, 1);
  CHECK_EQ_INT(s.cols, 1);
  CHECK_EQ_INT(s.dtype, PMLS_F64);
  CHECK_EQ_INT(s.layout, PMLS_DENSE);
  CHECK_EQ_INT(s.staleness, -1);
  CHECK_EQ_INT(s.init, 0);
}

/* Workers' reports combine per clock (mean or sum, as declared) into one
 * JSON line per completed clock in the metrics file. */
static void t_metrics_file_per_clock(void) {
  char path[] = "/tmp/pmls-engine-metrics-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  pmls_config cfg = config(2, 2);
  cfg.metrics_path = path;
  pmls_engine *e = NULL;
  char err[256];
  int rc = pmls_engine_create(&e, &cfg, err, sizeof err);
  if (rc) unlink(path);
  CHECK_EQ_INT(rc, PMLS_OK);
  CHECK_EQ_INT(pmls_metric_declare(e, "loss", PMLS_AGG_MEAN), PMLS_OK);
  CHECK_EQ_INT(pmls_metric_declare(e, "n", PMLS_AGG_SUM), PMLS_OK);
  CHECK_EQ_INT(pmls_metric_declare(e, "bad name", PMLS_AGG_SUM), PMLS_EINVAL);
  CHECK_STR_CONTAINS(pmls_errmsg(e), "bad metric name");
  CHECK_EQ_INT(pmls_metric_declare(e, "x", (pmls_agg)7), PMLS_EINVAL);
  pmls_client *w[2] = {NULL, NULL};
  for (int i = 0; i < 2; i++) CHECK_EQ_INT(pmls_client_open(e, i, &w[i]), PMLS_OK);
  for (int k = 1; k <= 3; k++)
    for (int i = 0; i < 2; i++) {
      CHECK_EQ_INT(pmls_report(w[i], "loss", k * (i + 1)), PMLS_OK);
      CHECK_EQ_INT(pmls_report(w[i], "n", 10 * (i + 1)), PMLS_OK);
      CHECK_EQ_INT(pmls_clock(w[i]), PMLS_OK);
    }
  for (int i = 0; i < 2; i++) CHECK_EQ_INT(pmls_client_close(w[i]), PMLS_OK);
  pmls_stats st;
  pmls_engine_stats(e, &st);
  pmls_engine_destroy(e);
  FILE *f = fopen(path, "r");
  char text[4096] = "";
  size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
  text[n] = 0;
  if (f) fclose(f);
  unlink(path);
  CHECK_EQ_INT(st.clocks, 3);
  /* loss: mean of k and 2k = 1.5k; n: 10 + 20 */
  static const char *const want[] = {
      "\"clock\":1,", "\"loss\":1.5", "\"clock\":2,", "\"loss\":3,",
      "\"clock\":3,", "\"loss\":4.5", "\"n\":30"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    CHECK_STR_CONTAINS(text, want[i]);
  int lines = 0;
  for (char *p = text; *p; p++) lines += *p == '\n';
  CHECK_EQ_INT(lines, 3);
}

static void t_stats_count_reads_and_increments(void) {
  pmls_engine *e = engine(1, 1);
  CHECK(e != NULL);
  int t = table(e, "t", dense(4, 2, PMLS_F64));
  CHECK(t == 0);
  pmls_stats st;
  CHECK_EQ_INT(pmls_engine_stats(e, &st), PMLS_OK);
  CHECK_EQ_INT(st.rows_read, 0);
  CHECK_EQ_INT(st.rows_incremented, 0);
  CHECK_EQ_INT(st.clocks, 0);
  pmls_client *w = NULL, *h = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &w), PMLS_OK);
  CHECK_EQ_INT(pmls_client_open(e, -1, &h), PMLS_OK);
  double d[2] = {1, 2}, out[2];
  for (int i = 0; i < 7; i++) CHECK_EQ_INT(pmls_inc_dense(w, t, i % 4, d), PMLS_OK);
  for (int i = 0; i < 3; i++) CHECK_EQ_INT(pmls_inc_one(h, t, 0, 0, 1), PMLS_OK);
  for (int i = 0; i < 5; i++) CHECK_EQ_INT(pmls_get_dense(w, t, i % 4, out), PMLS_OK);
  CHECK_EQ_INT(pmls_clock(w), PMLS_OK);
  CHECK_EQ_INT(pmls_clock(w), PMLS_OK);
  CHECK_EQ_INT(pmls_get_dense(h, t, 1, out), PMLS_OK);
  /* failed calls are not counted */
  CHECK_EQ_INT(pmls_get_dense(h, t, 9, out), PMLS_ERANGE);
  CHECK_EQ_INT(pmls_inc_dense(h, t, 9, d), PMLS_ERANGE);
  CHECK_EQ_INT(pmls_client_close(w), PMLS_OK);
  CHECK_EQ_INT(pmls_client_close(h), PMLS_OK);
  CHECK_EQ_INT(pmls_engine_stats(e, &st), PMLS_OK);
  CHECK_EQ_INT(st.rows_incremented, 10);
  CHECK_EQ_INT(st.rows_read, 6);
  CHECK_EQ_INT(st.clocks, 2);
  pmls_engine_destroy(e);
}

static const th_case cases[] = {
    {"engine create rejects bad config values with a message", t_engine_create_rejects_bad_config},
    {"engine basics: version, strerror, dtype sizes, accessors", t_engine_basics},
    {"table_create errors name the problem", t_table_create_errors},
    {"table registry: find, spec_of, count, name", t_table_registry},
    {"uniform init is reproducible from the seed", t_table_init_reproducible},
    {"host client: dense get/inc roundtrip for all dtypes", t_host_dense_roundtrip},
    {"host client: sparse get/inc roundtrip for all dtypes", t_host_sparse_roundtrip},
    {"row ids up to 2^40, int32 wrap through the shards, two engines", t_host_huge_rows_wrap_and_two_engines},
    {"bad table id, layout: PMLS_EINVAL; row, column: PMLS_ERANGE; naming them", t_client_argument_errors},
    {"client open errors: bad worker, worker taken", t_client_open_errors},
    {"no lost increments: 4 workers, 2 shards, int64/float64/sparse", t_no_lost_increments},
    {"read bound: BSP and SSP wait for the slow worker's clocks", t_read_bound},
    {"reopened worker clients keep the read bound (or are refused)", t_reopened_workers_keep_bound},
    {"a worker sees its own and a host's increments", t_worker_sees_own_and_host_increments},
    {"own increments exact, others within the bound: dense and sparse, SSP/BSP/ESSP/async", t_own_increments_exact_through_cache},
    {"oplog over the flush threshold: nothing lost mid-clock", t_large_oplog_flushes_mid_clock},
    {"pmls_abort wakes a blocked reader with the reason", t_abort_wakes_blocked_reader},
    {"a read times out, then a late reply is not mistaken for the next", t_read_timeout_then_recover},
    {"failed reads are not counted as rows read (dense and sparse)", t_failed_reads_not_counted},
    {"a closed client's parked read does not stall the shard", t_closed_reader_does_not_stall_shard},
    {"defaults: config, table spec, one worker per core", t_engine_defaults},
    {"metrics file: one line per clock, mean and sum over workers", t_metrics_file_per_clock},
    {"stats count rows read and incremented after close", t_stats_count_reads_and_increments},
    {"per-table stats: reads, increments, staleness", t_table_stats},
};

TH_MAIN(cases)
