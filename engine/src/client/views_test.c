/* views_test.c -- the many-row hot path through the public API (pmls.h):
 * get_many against get_dense, row views and delta pointers under every
 * consistency model (the read bound, own increments exact, nothing lost,
 * with workers on threads and rows on two shards), a view that stays what
 * it was while the cache moves on, delta pointers that survive an oplog
 * past its flush threshold, and every misuse named. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "harness.h"
#include "pmls.h"

/* ---- get_many is get_dense for many rows ---------------------------------- */

static void t_get_many_matches_get_dense(void) {
  pmls_engine *e = engine(1, 2);
  CHECK(e != NULL);
  enum { ROWS = 9, COLS = 4 };
  int t = table(e, "t", dense(ROWS, COLS, PMLS_F64));
  pmls_client *c = NULL;
  CHECK_EQ_INT(pmls_client_open(e, -1, &c), PMLS_OK);
  /* sent increments on some rows, pending ones on others, both on row 4 */
  for (int64_t r = 0; r < ROWS; r += 2) {
    double d[COLS] = {(double)r, 1, -2, 0.5};
    CHECK_EQ_INT(pmls_inc_dense(c, t, r, d), PMLS_OK);
  }
  CHECK_EQ_INT(pmls_client_close(c), PMLS_OK);
  CHECK_EQ_INT(pmls_client_open(e, -1, &c), PMLS_OK);
  for (int64_t r = 1; r < ROWS; r += 3) CHECK_EQ_INT(pmls_inc_one(c, t, r, 2, 7), PMLS_OK);
  int64_t rows[] = {8, 0, 4, 1, 4, 7, 3}; /* both shards, a repeat, any order */
  int n = (int)(sizeof rows / sizeof rows[0]);
  double many[7][COLS], one[COLS];
  CHECK_EQ_INT(pmls_get_many(c, t, n, rows, many), PMLS_OK);
  for (int i = 0; i < n; i++) {
    CHECK_EQ_INT(pmls_get_dense(c, t, rows[i], one), PMLS_OK);
    for (int j = 0; j < COLS; j++) CHECK_EQ_DBL(many[i][j], one[j]);
  }
  CHECK_EQ_DBL(many[2][2], -2 + 7); /* row 4: sent and pending */
  /* a host client's views: copies, with what it sent, not what it has not */
  const void *v[7];
  CHECK_EQ_INT(pmls_view_many(c, t, n, rows, v), PMLS_OK);
  CHECK_EQ_DBL(((const double *)v[2])[2], -2);
  CHECK_EQ_DBL(((const double *)v[3])[2], 0);
  pmls_release_views(c);
  CHECK_EQ_INT(pmls_get_many(c, t, 0, rows, many), PMLS_OK);
  CHECK_EQ_INT(pmls_client_close(c), PMLS_OK);
  pmls_engine_destroy(e);
}

/* ---- misuse ---------------------------------------------------------------- */

static void t_misuse_is_named(void) {
  pmls_engine *e = engine(1, 2);
  CHECK(e != NULL);
  int t = table(e, "t", dense(5, 3, PMLS_F64));
  pmls_table_spec ss = dense(5, 3, PMLS_F64);
  ss.layout = PMLS_SPARSE;
  int sp = table(e, "sp", ss);
  pmls_client *c = NULL;
  CHECK_EQ_INT(pmls_client_open(e, -1, &c), PMLS_OK);
  double out[3 * 3];
  const void *v[3];
  void *d[3];
  int64_t bad[] = {0, 5, 1};
  CHECK_EQ_INT(pmls_get_many(c, t, 3, bad, out), PMLS_ERANGE);
  CHECK_STR_CONTAINS(pmls_client_errmsg(c), "row 5 out of range");
  CHECK_EQ_INT(pmls_view_many(c, t, 3, bad, v), PMLS_ERANGE);
  CHECK_EQ_INT(pmls_delta_many(c, t, 3, bad, d), PMLS_ERANGE);
  int64_t good[] = {0, 1, 2};
  CHECK_EQ_INT(pmls_get_many(c, 7, 3, good, out), PMLS_EINVAL);
  CHECK_STR_CONTAINS(pmls_client_errmsg(c), "bad table id 7");
  CHECK_EQ_INT(pmls_get_many(c, t, -1, good, out), PMLS_EINVAL);
  CHECK_STR_CONTAINS(pmls_client_errmsg(c), "bad row count -1");
  CHECK_EQ_INT(pmls_view_dense(c, sp, 0, v), PMLS_EINVAL);
  CHECK_STR_CONTAINS(pmls_client_errmsg(c), "sparse");
  CHECK_EQ_INT(pmls_delta_dense(c, sp, 0, d), PMLS_EINVAL);
  CHECK_EQ_INT(pmls_client_close(c), PMLS_OK);
  pmls_engine_destroy(e);
}

/* ---- workers on views and delta pointers ----------------------------------- */

/* W workers, each clock: view every row (or get_many them, every other
 * clock), check what it sees, then add through delta pointers 1 to its own
 * column w and w + 1 to the shared column W of every row. Integer-valued
 * doubles, so sums are exact. */
enum { VW = 3, VROWS = 11, VCOLS = VW + 1, VCLOCKS = 12 };

typedef struct {
  pmls_engine *e;
  int worker, table, bound;
  int rc;
  char why[512];
} view_job;

static int64_t shared_upto(int clocks) { /* column VW after `clocks` clocks */
  int64_t per = 0;
  for (int w = 0; w < VW; w++) per += w + 1;
  return per * clocks;
}

static int view_fail(view_job *j, pmls_client *c, int rc, const char *what) {
  j->rc = rc ? rc : -1;
  snprintf(j->why, sizeof j->why, "worker %d at clock %lld: %s%s%s", j->worker,
           (long long)pmls_client_clock(c), what, rc ? ": " : "",
           rc ? pmls_client_errmsg(c) : "");
  return -1;
}

static void *view_main(void *arg) {
  view_job *j = arg;
  pmls_client *c = NULL;
  int w = j->worker;
  j->rc = pmls_client_open(j->e, w, &c);
  if (j->rc) {
    snprintf(j->why, sizeof j->why, "open: %s", pmls_errmsg(j->e));
    return NULL;
  }
  int64_t rows[VROWS];
  for (int r = 0; r < VROWS; r++) rows[r] = (r * 5 + w) % VROWS; /* a permutation */
  for (int k = 0; k < VCLOCKS && !j->rc; k++) {
    const void *views[VROWS];
    double got[VROWS][VCOLS];
    int rc = k % 2 ? pmls_get_many(c, j->table, VROWS, rows, got)
                   : pmls_view_many(c, j->table, VROWS, rows, views);
    if (rc) { view_fail(j, c, rc, "read"); break; }
    for (int i = 0; i < VROWS && !j->rc; i++) {
      const double *x = k % 2 ? got[i] : views[i];
      char what[200];
      /* own column: exactly the k clocks of increments sent so far */
      if (x[w] != k) {
        snprintf(what, sizeof what, "row %lld own column = %g, want %d",
                 (long long)rows[i], x[w], k);
        view_fail(j, c, 0, what);
      }
      /* a copy holds every clock before k - bound; a worker ahead has sent
       * at most its clocks up to k + bound (its next read waits for us) */
      int64_t lo = shared_upto(k - j->bound), hi = shared_upto(k + j->bound + 1);
      if (lo < 0) lo = 0;
      if (x[VW] < (double)lo || x[VW] > (double)hi) {
        snprintf(what, sizeof what, "row %lld shared column = %g, want "
                 "%lld..%lld", (long long)rows[i], x[VW], (long long)lo,
                 (long long)hi);
        view_fail(j, c, 0, what);
      }
    }
    void *deltas[VROWS];
    rc = pmls_delta_many(c, j->table, VROWS, rows, deltas);
    if (rc) { view_fail(j, c, rc, "delta"); break; }
    for (int i = 0; i < VROWS; i++) {
      double *d = deltas[i];
      d[w] += 0.5;
      d[VW] += w + 1;
    }
    /* a second pointer to the same pending increment, and a plain inc on
     * top: all three add up */
    void *again;
    rc = pmls_delta_dense(c, j->table, rows[0], &again);
    if (rc || again != deltas[0]) { view_fail(j, c, rc, "delta again"); break; }
    for (int i = 0; i < VROWS; i++) {
      double half[VCOLS] = {0};
      half[w] = 0.5;
      rc = pmls_inc_dense(c, j->table, rows[i], half);
      if (rc) { view_fail(j, c, rc, "inc"); break; }
    }
    if (!rc) {
      /* view + delta is what get_dense reads */
      const void *v;
      double one[VCOLS];
      rc = pmls_view_dense(c, j->table, rows[1], &v);
      if (!rc) rc = pmls_get_dense(c, j->table, rows[1], one);
      if (rc) { view_fail(j, c, rc, "view + get"); break; }
      const double *vv = v, *dd = deltas[1];
      for (int col = 0; col < VCOLS && !j->rc; col++)
        if (col == w && vv[col] + dd[col] != one[col])
          view_fail(j, c, 0, "view + delta differs from get_dense");
    }
    if (!j->rc && (rc = pmls_clock(c))) view_fail(j, c, rc, "clock");
  }
  int rc = pmls_client_close(c);
  if (rc && !j->rc) {
    j->rc = rc;
    snprintf(j->why, sizeof j->why, "worker %d close: %s", w, pmls_errmsg(j->e));
  }
  return NULL;
}

static void t_workers_on_views(void) {
  static const struct {
    const char *label;
    int consistency, staleness, bound;
  } models[] = {
      {"BSP", PMLS_BSP, 0, 0},
      {"SSP s=2", PMLS_SSP, 2, 2},
      {"ESSP s=2", PMLS_ESSP, 2, 2},
      {"async", PMLS_ASYNC, 0, VCLOCKS},
  };
  for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
    pmls_engine *e = engine(VW, 2);
    CHECK(e != NULL);
    pmls_table_spec s = dense(VROWS, VCOLS, PMLS_F64);
    s.consistency = models[m].consistency;
    s.staleness = models[m].staleness;
    int t = table(e, "v", s);
    view_job jobs[VW];
    pthread_t th[VW];
    for (int w = 0; w < VW; w++) {
      jobs[w] = (view_job){e, w, t, models[m].bound, 0, ""};
      CHECK_EQ_INT(pthread_create(&th[w], NULL, view_main, &jobs[w]), 0);
    }
    for (int w = 0; w < VW; w++) pthread_join(th[w], NULL);
    for (int w = 0; w < VW; w++)
      if (jobs[w].rc) th_fail(__FILE__, __LINE__, "%s: %s", models[m].label, jobs[w].why);
    /* nothing lost: every increment of every clock is in the table */
    pmls_client *h = NULL;
    CHECK_EQ_INT(pmls_client_open(e, -1, &h), PMLS_OK);
    for (int64_t r = 0; r < VROWS; r++) {
      double x[VCOLS];
      CHECK_EQ_INT(pmls_get_dense(h, t, r, x), PMLS_OK);
      for (int w = 0; w < VW; w++) CHECK_EQ_DBL(x[w], VCLOCKS);
      CHECK_EQ_DBL(x[VW], (double)shared_upto(VCLOCKS));
    }
    CHECK_EQ_INT(pmls_client_close(h), PMLS_OK);
    pmls_engine_destroy(e);
  }
}

/* ---- a view does not move --------------------------------------------------- */

/* Two workers of one process, driven from one thread (async reads never
 * wait): worker 0 views row 0, worker 1 adds to it and reads it fresh, so
 * the process cache takes a newer copy. Worker 0's view still shows what it
 * showed (under ASan, a freed copy would be caught here) until its clock. */
static void t_view_is_stable_until_clock(void) {
  pmls_engine *e = engine(2, 1);
  CHECK(e != NULL);
  pmls_table_spec s = dense(2, 3, PMLS_F64);
  s.consistency = PMLS_ASYNC;
  int t = table(e, "a", s);
  pmls_client *c0 = NULL, *c1 = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &c0), PMLS_OK);
  CHECK_EQ_INT(pmls_client_open(e, 1, &c1), PMLS_OK);
  const void *v = NULL;
  CHECK_EQ_INT(pmls_view_dense(c0, t, 0, &v), PMLS_OK);
  const double *x = v;
  CHECK_EQ_DBL(x[1], 0);
  for (int k = 0; k < 3; k++) {
    CHECK_EQ_INT(pmls_inc_one(c1, t, 0, 1, 5), PMLS_OK);
    CHECK_EQ_INT(pmls_clock(c1), PMLS_OK);
  }
  double fresh[3] = {0};
  /* the copy must come back with worker 1's increments in it */
  for (int tries = 0; tries < 200 && fresh[1] != 15; tries++) {
    const void *w1;
    CHECK_EQ_INT(pmls_view_dense(c1, t, 0, &w1), PMLS_OK);
    memcpy(fresh, w1, sizeof fresh);
    pmls_release_views(c1);
    if (fresh[1] != 15) {
      CHECK_EQ_INT(pmls_clock(c1), PMLS_OK);
      sleep_ms(5);
    }
  }
  CHECK_EQ_DBL(fresh[1], 15);
  CHECK_EQ_DBL(x[1], 0); /* worker 0's view: unchanged */
  CHECK_EQ_INT(pmls_clock(c0), PMLS_OK);
  CHECK_EQ_INT(pmls_clock(c0), PMLS_OK); /* past the cache bound of async */
  CHECK_EQ_INT(pmls_view_dense(c0, t, 0, &v), PMLS_OK);
  CHECK_EQ_DBL(((const double *)v)[1], 15);
  CHECK_EQ_INT(pmls_client_close(c0), PMLS_OK);
  CHECK_EQ_INT(pmls_client_close(c1), PMLS_OK);
  pmls_engine_destroy(e);
}

/* ---- delta pointers outlive the oplog's size bound -------------------------- */

static void t_deltas_survive_a_full_oplog(void) {
  pmls_engine *e = engine(1, 2);
  CHECK(e != NULL);
  enum { ROWS = 20000, COLS = 64 }; /* 10 MB of pending rows: past 8 MB */
  int t = table(e, "big", dense(ROWS, COLS, PMLS_F64));
  pmls_client *c = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &c), PMLS_OK);
  int64_t *rows = malloc(ROWS * sizeof *rows);
  void **d = malloc(ROWS * sizeof *d);
  CHECK(rows && d);
  for (int64_t r = 0; r < ROWS; r++) rows[r] = r;
  CHECK_EQ_INT(pmls_delta_many(c, t, ROWS / 2, rows, d), PMLS_OK);
  double one[COLS];
  for (int j = 0; j < COLS; j++) one[j] = 1;
  for (int64_t r = ROWS / 2; r < ROWS; r++)
    CHECK_EQ_INT(pmls_inc_dense(c, t, r, one), PMLS_OK);
  for (int64_t r = 0; r < ROWS / 2; r++) ((double *)d[r])[r % COLS] += 2;
  CHECK_EQ_INT(pmls_clock(c), PMLS_OK);
  CHECK_EQ_INT(pmls_client_close(c), PMLS_OK);
  CHECK_EQ_INT(pmls_client_open(e, -1, &c), PMLS_OK);
  double *all = malloc((size_t)ROWS * COLS * sizeof *all);
  CHECK(all != NULL);
  CHECK_EQ_INT(pmls_get_many(c, t, ROWS, rows, all), PMLS_OK);
  int wrong = 0;
  for (int64_t r = 0; r < ROWS; r++)
    for (int j = 0; j < COLS; j++) {
      double want = r < ROWS / 2 ? (j == r % COLS ? 2 : 0) : 1;
      wrong += all[r * COLS + j] != want;
    }
  CHECK_EQ_INT(wrong, 0);
  CHECK_EQ_INT(pmls_client_close(c), PMLS_OK);
  free(all);
  free(rows);
  free(d);
  pmls_engine_destroy(e);
}

/* ---- what a whole-row delta costs on the wire ------------------------------ */

/* Rows taken whole with delta_many go as the whole row or as (column,
 * value) pairs, whichever is smaller: unchanged, an empty list; a few
 * changes, pairs; most changed, the row. The bytes the table sent tell
 * which form each took (17-byte entry heads, 4 + 8 bytes a pair), and the
 * shard applies both. A narrow row (32 int32 columns) is always counted;
 * a wide one (1024 float64) when one of its sampled elements is zero. */
static void t_whole_rows_go_in_the_smaller_form(void) {
  struct { pmls_dtype dt; int cols; } shapes[] = {{PMLS_F64, 1024},
                                                  {PMLS_I32, 32}};
  for (int s = 0; s < 2; s++) {
    pmls_engine *e = engine(1, 1);
    CHECK(e != NULL);
    int cols = shapes[s].cols;
    size_t elem = shapes[s].dt == PMLS_F64 ? 8 : 4;
    int t = table(e, "w", dense(4, cols, shapes[s].dt));
    pmls_client *c = NULL;
    CHECK_EQ_INT(pmls_client_open(e, 0, &c), PMLS_OK);
    int64_t rows[4] = {0, 1, 2, 3};
    void *d[4];
    CHECK_EQ_INT(pmls_delta_many(c, t, 4, rows, d), PMLS_OK);
    /* row 0 unchanged; row 1 one column; row 2 every column; row 3 a
     * third of them (pairs: 4 + elem bytes each against elem) */
    int third = cols / 3;
    for (int j = 0; j < cols; j++) {
      int on1 = j == 5, on2 = 1, on3 = j < third;
      if (shapes[s].dt == PMLS_F64) {
        ((double *)d[1])[j] += on1 ? 7 : 0;
        ((double *)d[2])[j] += on2 ? j + 1 : 0;
        ((double *)d[3])[j] += on3 ? 3 : 0;
      } else {
        ((int32_t *)d[1])[j] += on1 ? 7 : 0;
        ((int32_t *)d[2])[j] += on2 ? j + 1 : 0;
        ((int32_t *)d[3])[j] += on3 ? 3 : 0;
      }
    }
    CHECK_EQ_INT(pmls_clock(c), PMLS_OK);
    CHECK_EQ_INT(pmls_client_close(c), PMLS_OK); /* its counts join the table's */
    pmls_table_stats st;
    CHECK_EQ_INT(pmls_table_stats_of(e, t, &st), PMLS_OK);
    size_t pairs3 = (size_t)third * (4 + elem), whole = (size_t)cols * elem;
    size_t want = 4 * 17 + 0 + (4 + elem) + whole +
                  (pairs3 < whole ? pairs3 : whole);
    CHECK_EQ_INT(st.bytes_sent, (int64_t)want);
    CHECK_EQ_INT(pmls_client_open(e, -1, &c), PMLS_OK);
    double got[4][1024];
    int wrong = 0;
    for (int r = 0; r < 4; r++) {
      CHECK_EQ_INT(pmls_get_dense(c, t, r, got[r]), PMLS_OK);
      for (int j = 0; j < cols; j++) {
        double v = shapes[s].dt == PMLS_F64 ? got[r][j]
                                            : ((int32_t *)got[r])[j];
        double w = r == 1 ? (j == 5 ? 7 : 0) : r == 2 ? j + 1
                 : r == 3 ? (j < third ? 3 : 0) : 0;
        wrong += v != w;
      }
    }
    CHECK_EQ_INT(wrong, 0);
    CHECK_EQ_INT(pmls_client_close(c), PMLS_OK);
    pmls_engine_destroy(e);
  }
}

/* ---- the history's bound ----------------------------------------------------- */

/* One worker under SSP s = 3 writes 20 MB per clock, more than the history
 * keeps copies of: the rows whose sent increments it kept only the version
 * of are read from their shards, so every read still holds every
 * increment, through get_dense, get_many and views, clock after clock. */
static void t_history_past_its_bound(void) {
  pmls_engine *e = engine(1, 2);
  CHECK(e != NULL);
  enum { ROWS = 40000, COLS = 64, CLOCKS = 3 };
  pmls_table_spec s = dense(ROWS, COLS, PMLS_F64);
  s.consistency = PMLS_SSP;
  s.staleness = 3;
  int t = table(e, "big", s);
  pmls_client *c = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &c), PMLS_OK);
  int64_t *rows = malloc(ROWS * sizeof *rows);
  void **d = malloc(ROWS * sizeof *d);
  const void **v = malloc(ROWS * sizeof *v);
  double *all = malloc((size_t)ROWS * COLS * sizeof *all);
  CHECK(rows && d && v && all);
  for (int64_t r = 0; r < ROWS; r++) rows[r] = r;
  int wrong = 0;
  for (int k = 0; k < CLOCKS; k++) {
    CHECK_EQ_INT(pmls_get_many(c, t, ROWS, rows, all), PMLS_OK);
    for (int64_t r = 0; r < ROWS; r++) wrong += all[r * COLS + r % COLS] != k;
    CHECK_EQ_INT(pmls_view_many(c, t, ROWS, rows, v), PMLS_OK);
    for (int64_t r = 0; r < ROWS; r++) wrong += ((const double *)v[r])[r % COLS] != k;
    double one[COLS];
    CHECK_EQ_INT(pmls_get_dense(c, t, ROWS - 1, one), PMLS_OK);
    wrong += one[(ROWS - 1) % COLS] != k;
    CHECK_EQ_INT(pmls_delta_many(c, t, ROWS, rows, d), PMLS_OK);
    for (int64_t r = 0; r < ROWS; r++) ((double *)d[r])[r % COLS] += 1;
    CHECK_EQ_INT(pmls_clock(c), PMLS_OK);
  }
  CHECK_EQ_INT(wrong, 0);
  CHECK_EQ_INT(pmls_client_close(c), PMLS_OK);
  free(all);
  free(v);
  free(d);
  free(rows);
  pmls_engine_destroy(e);
}

static const th_case cases[] = {
    {"get_many reads what get_dense reads, over two shards", t_get_many_matches_get_dense},
    {"bad rows, tables, counts and layouts are named", t_misuse_is_named},
    {"workers on views and deltas: bound, own exact, nothing lost (BSP/SSP/ESSP/async)", t_workers_on_views},
    {"a view stays unchanged until the worker's clock", t_view_is_stable_until_clock},
    {"delta pointers survive an oplog past its flush bound", t_deltas_survive_a_full_oplog},
    {"whole-row deltas go as the row or as pairs, whichever is smaller", t_whole_rows_go_in_the_smaller_form},
    {"past the history's bound, reads still hold every own increment", t_history_past_its_bound},
};

TH_MAIN(cases)
