/* client_test.c -- a client through the public API only (pmls.h): host
 * clients' increments and reads for every dtype and layout, errors that
 * name the bad argument, an oplog past its flush threshold, aborts and
 * timeouts of blocked reads, and what a failed or abandoned read leaves
 * behind. Worker threads record what went wrong in their job struct; the
 * case checks it after joining them. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fixtures.h"
#include "harness.h"
#include "pmls.h"

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

static const th_case cases[] = {
    {"host client: dense get/inc roundtrip for all dtypes", t_host_dense_roundtrip},
    {"host client: sparse get/inc roundtrip for all dtypes", t_host_sparse_roundtrip},
    {"row ids up to 2^40, int32 wrap through the shards, two engines", t_host_huge_rows_wrap_and_two_engines},
    {"bad table id, layout: PMLS_EINVAL; row, column: PMLS_ERANGE; naming them", t_client_argument_errors},
    {"client open errors: bad worker, worker taken", t_client_open_errors},
    {"oplog over the flush threshold: nothing lost mid-clock", t_large_oplog_flushes_mid_clock},
    {"pmls_abort wakes a blocked reader with the reason", t_abort_wakes_blocked_reader},
    {"a read times out, then a late reply is not mistaken for the next", t_read_timeout_then_recover},
    {"failed reads are not counted as rows read (dense and sparse)", t_failed_reads_not_counted},
    {"a closed client's parked read does not stall the shard", t_closed_reader_does_not_stall_shard},
};

TH_MAIN(cases)
