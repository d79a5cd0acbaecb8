/* consistency_test.c -- what concurrent workers see through their clients
 * (pmls.h only): the "no increment is ever lost" promise under concurrent
 * workers and two shards, the SSP/BSP read bound (which exercises the
 * server's min-clock wait), and a worker's own increments, exact through
 * the shared row cache, under every consistency model. Worker threads
 * record what went wrong in their job struct; the case checks it after
 * joining them. */
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
  pmls_client *c; /* opened before either thread starts (see pmls_client_open) */
  int rc;
  char why[512];
} bound_job;

/* Worker 1 adds 2^k in its k-th clock interval, then dawdles before clock();
 * worker 0 clocks at full speed and reads after each clock. The bits worker
 * 0 sees tell exactly which of worker 1's clocks its copy includes. */
static void *bound_main(void *arg) {
  bound_job *j = arg;
  pmls_client *c = j->c;
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
  /* Both clients open before either clocks: a worker that rejoins from an
   * earlier round holds the other back only from its open on. */
  for (int w = 0; w < 2; w++) {
    jobs[w] = (bound_job){e, w, 0, bound, NULL, 0, ""};
    if (pmls_client_open(e, w, &jobs[w].c)) {
      th_fail(__FILE__, __LINE__, "%s: open worker %d: %s", label, w,
              pmls_errmsg(e));
      if (w) pmls_client_close(jobs[0].c);
      return;
    }
  }
  for (int w = 0; w < 2; w++) {
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

static const th_case cases[] = {
    {"no lost increments: 4 workers, 2 shards, int64/float64/sparse", t_no_lost_increments},
    {"read bound: BSP and SSP wait for the slow worker's clocks", t_read_bound},
    {"reopened worker clients keep the read bound (or are refused)", t_reopened_workers_keep_bound},
    {"a worker sees its own and a host's increments", t_worker_sees_own_and_host_increments},
    {"own increments exact, others within the bound: dense and sparse, SSP/BSP/ESSP/async", t_own_increments_exact_through_cache},
};

TH_MAIN(cases)
