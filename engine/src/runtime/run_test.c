/* run_test.c -- pmls_run with C functions, as a host application drives it:
 * a whole run (setup, workers, finish, final stats), setup ending the run
 * early (PMLS_SKIP) or failing, a worker failing while the others block in
 * a read (the run returns the failing worker's own code, never the
 * PMLS_EABORTED echoes, and names it), and a job of two processes -- two
 * engines of one test process on ipc:// -- where rank 0 reports rank 1's
 * failure as the root cause; then runs in sequence on those engines: the
 * second trains on from the first, its figures count each rank once, a
 * setup failure of rank 1 stops run 1 everywhere and is not told again in
 * run 2, an aborted run leaves nothing to run, and ranks that make
 * different numbers of runs are told so instead of waiting. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "pmls.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static pmls_engine *engine_with(int workers, int procs, int rank,
                                const char *master) {
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = workers;
  cfg.servers = 2;
  cfg.quiet = 2;
  cfg.timeout_ms = 20000;
  cfg.heartbeat_ms = 5000;
  cfg.procs = procs;
  cfg.rank = rank;
  cfg.master = master;
  pmls_engine *e = NULL;
  char err[512];
  if (pmls_engine_create(&e, &cfg, err, sizeof err))
    fprintf(stderr, "run_test: cannot create an engine: %s\n", err);
  return e;
}

/* ---- the work: every worker adds 1 to its own column `incs` times ------- */

typedef struct {
  int incs;
  int fail_worker;       /* this worker fails (-1: none) ... */
  int fail_code;         /* ... with this code */
  int setup_code;        /* setup returns this */
  int finish_code;       /* finish returns this */
  int setup_delay_ms;    /* setup takes this long */
  int check_workers;     /* this many workers' columns are checked ... */
  int64_t base;          /* ... against what each held before this run */
  _Atomic int violations; /* reads missing a clock BSP promised */
  _Atomic int worker_calls;
  int finish_calls;
  int64_t seen[16];      /* what finish read back */
} work;

static int setup_fn(pmls_engine *e, void *ud, char *err, size_t errlen) {
  work *w = ud;
  if (w->setup_delay_ms) usleep((useconds_t)w->setup_delay_ms * 1000);
  if (w->setup_code) {
    snprintf(err, errlen, "setup refused: code %d", w->setup_code);
    return w->setup_code;
  }
  pmls_table_spec s;
  pmls_table_spec_init(&s);
  s.rows = 2;
  s.cols = 16;
  s.dtype = PMLS_I64;
  int id;
  if (pmls_table_find(e, "counts", &id) == PMLS_OK) return PMLS_OK; /* rerun */
  if (pmls_table_create(e, "counts", &s, &id)) {
    snprintf(err, errlen, "%s", pmls_errmsg(e));
    return PMLS_EINVAL;
  }
  return PMLS_OK;
}

static int worker_fn(pmls_client *c, void *ud, char *err, size_t errlen) {
  work *w = ud;
  atomic_fetch_add(&w->worker_calls, 1);
  int me = pmls_client_worker(c);
  if (me == w->fail_worker) {
    usleep(100 * 1000); /* let the others block on this worker's clock */
    snprintf(err, errlen, "worker %d found bad data", me);
    return w->fail_code;
  }
  for (int i = 0; i < w->incs; i++) {
    int rc = pmls_inc_one(c, 0, 0, me, 1.0);
    if (rc == PMLS_OK) rc = pmls_clock(c);
    int64_t row[16];
    /* BSP: the read at clock i + 1 waits for every worker's clock i. */
    if (rc == PMLS_OK) rc = pmls_get_dense(c, 0, 0, row);
    if (rc) {
      snprintf(err, errlen, "%s", pmls_client_errmsg(c));
      return rc;
    }
    for (int k = 0; k < w->check_workers; k++)
      if (row[k] < w->base + i + 1) atomic_fetch_add(&w->violations, 1);
  }
  return PMLS_OK;
}

static int finish_fn(pmls_client *c, void *ud, char *err, size_t errlen) {
  work *w = ud;
  w->finish_calls++;
  if (w->finish_code) {
    snprintf(err, errlen, "finish refused");
    return w->finish_code;
  }
  int rc = pmls_get_dense(c, 0, 0, w->seen);
  if (rc) snprintf(err, errlen, "%s", pmls_client_errmsg(c));
  return rc;
}

static const pmls_run_fns FNS = {setup_fn, worker_fn, NULL, finish_fn};

static void t_whole_run(void) {
  pmls_engine *e = engine_with(3, 1, 0, NULL);
  CHECK(e != NULL);
  work w = {.incs = 5, .fail_worker = -1};
  CHECK_EQ_INT(pmls_run(e, &FNS, &w), PMLS_OK);
  CHECK_EQ_INT(atomic_load(&w.worker_calls), 3);
  CHECK_EQ_INT(w.finish_calls, 1);
  for (int k = 0; k < 3; k++) CHECK_EQ_INT(w.seen[k], 5);
  CHECK_EQ_INT(w.seen[3], 0);
  pmls_stats st;
  CHECK_EQ_INT(pmls_engine_stats(e, &st), PMLS_OK);
  CHECK_EQ_INT(st.clocks, 5);
  pmls_engine_destroy(e);
}

static void t_setup_ends_the_run(void) {
  pmls_engine *e = engine_with(2, 1, 0, NULL);
  CHECK(e != NULL);
  work w = {.incs = 1, .fail_worker = -1, .setup_code = PMLS_SKIP};
  CHECK_EQ_INT(pmls_run(e, &FNS, &w), PMLS_OK);
  CHECK_EQ_INT(atomic_load(&w.worker_calls), 0);
  CHECK_EQ_INT(w.finish_calls, 0);
  pmls_engine_destroy(e);

  e = engine_with(2, 1, 0, NULL);
  CHECK(e != NULL);
  w.setup_code = PMLS_EIO;
  CHECK_EQ_INT(pmls_run(e, &FNS, &w), PMLS_EIO);
  CHECK_STR_CONTAINS(pmls_errmsg(e), "setup refused: code 8");
  CHECK_EQ_INT(atomic_load(&w.worker_calls), 0);
  CHECK_EQ_INT(pmls_run(e, NULL, &w), PMLS_EINVAL);
  CHECK_STR_CONTAINS(pmls_errmsg(e), "missing run functions");
  pmls_engine_destroy(e);
}

static void t_worker_failure_is_the_root_cause(void) {
  pmls_engine *e = engine_with(4, 1, 0, NULL);
  CHECK(e != NULL);
  work w = {.incs = 50, .fail_worker = 1, .fail_code = PMLS_EIO};
  double t0 = now_s();
  int rc = pmls_run(e, &FNS, &w);
  double took = now_s() - t0;
  /* The others were blocked on worker 1's clock: they fail too, but only
   * as echoes; the run reports worker 1's own code and message, at once. */
  CHECK_EQ_INT(rc, PMLS_EIO);
  CHECK_STR_CONTAINS(pmls_errmsg(e), "worker 1 found bad data (in worker 1)");
  CHECK(took < 5.0);
  CHECK_EQ_INT(w.finish_calls, 0);
  pmls_engine_destroy(e);
}

static void t_finish_failure(void) {
  pmls_engine *e = engine_with(2, 1, 0, NULL);
  CHECK(e != NULL);
  work w = {.incs = 2, .fail_worker = -1, .finish_code = PMLS_EIO};
  CHECK_EQ_INT(pmls_run(e, &FNS, &w), PMLS_EIO);
  CHECK_STR_CONTAINS(pmls_errmsg(e), "finish refused");
  pmls_engine_destroy(e);
}

/* ---- two processes: two engines of this process on ipc:// --------------- */

enum { MAX_RUNS = 3 };

typedef struct {
  int rank;
  const char *master;
  work *w[MAX_RUNS]; /* one per run, in order */
  int runs;
  int rc[MAX_RUNS];
  char msg[MAX_RUNS][512];
  pmls_stats st[MAX_RUNS];       /* after each run */
  pmls_table_stats ts[MAX_RUNS]; /* of table 0, after each run */
} rank_job;

static void *rank_main(void *arg) {
  rank_job *r = arg;
  pmls_engine *e = engine_with(2, 2, r->rank, r->master);
  if (!e) {
    r->rc[0] = -1;
    return NULL;
  }
  for (int k = 0; k < r->runs; k++) {
    r->rc[k] = pmls_run(e, &FNS, r->w[k]);
    snprintf(r->msg[k], sizeof r->msg[k], "%s", pmls_errmsg(e));
    pmls_engine_stats(e, &r->st[k]);
    pmls_table_stats_of(e, 0, &r->ts[k]);
  }
  pmls_engine_destroy(e);
  return NULL;
}

/* Rank 0 makes the runs of w0 (runs0 of them), rank 1 those of w1. */
static void run_ranks(work **w0, int runs0, work **w1, int runs1,
                      rank_job out[2]) {
  char dir[] = "/tmp/pmls-run-test-XXXXXX";
  if (!mkdtemp(dir)) return;
  char master[128];
  snprintf(master, sizeof master, "ipc://%s/master", dir);
  work **ws[2] = {w0, w1};
  int runs[2] = {runs0, runs1};
  pthread_t th[2];
  for (int r = 0; r < 2; r++) {
    memset(&out[r], 0, sizeof out[r]);
    out[r].rank = r;
    out[r].master = master;
    out[r].runs = runs[r];
    for (int k = 0; k < MAX_RUNS; k++) {
      out[r].w[k] = k < runs[r] ? ws[r][k] : NULL;
      out[r].rc[k] = -2;
    }
    pthread_create(&th[r], NULL, rank_main, &out[r]);
  }
  for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd)) { /* the sockets are gone with the engines anyway */ }
}

static void run_two_ranks(work *w0, work *w1, rank_job out[2]) {
  run_ranks(&w0, 1, &w1, 1, out);
}

static void t_two_processes(void) {
  work w0 = {.incs = 4, .fail_worker = -1}, w1 = w0;
  rank_job r[2];
  run_two_ranks(&w0, &w1, r);
  CHECK_EQ_INT(r[0].rc[0], PMLS_OK);
  CHECK_EQ_INT(r[1].rc[0], PMLS_OK);
  CHECK_EQ_INT(w0.finish_calls, 1); /* finish runs on rank 0 only */
  CHECK_EQ_INT(w1.finish_calls, 0);
  for (int k = 0; k < 4; k++) CHECK_EQ_INT(w0.seen[k], 4);

  /* Worker 3 lives in rank 1: rank 0's workers only echo its failure. */
  work f0 = {.incs = 50, .fail_worker = 3, .fail_code = PMLS_EIO}, f1 = f0;
  run_two_ranks(&f0, &f1, r);
  CHECK_EQ_INT(r[1].rc[0], PMLS_EIO);
  CHECK_EQ_INT(r[0].rc[0], PMLS_EIO);
  CHECK_STR_CONTAINS(r[0].msg[0], "worker 3 found bad data");
  CHECK_STR_CONTAINS(r[0].msg[0], "(on rank 1)");
  CHECK_EQ_INT(f0.finish_calls, 0);
}

/* Two runs on the engines of both ranks: run 2's workers rejoin and go on
 * training the table run 1 filled, and rank 0's totals after each run count
 * every rank's work once (4 workers; per clock a worker increments one row
 * and reads one, and finish reads one). */
static void t_two_runs_on_two_processes(void) {
  work a0 = {.incs = 3, .fail_worker = -1, .check_workers = 4}, a1 = a0;
  work b0 = {.incs = 4, .fail_worker = -1, .check_workers = 4, .base = 3};
  work b1 = b0;
  /* Rank 0 comes to run 2 late: rank 1's rejoined workers must not get
   * ahead of its workers meanwhile (BSP: a read after clock i sees every
   * worker's first i increments of the run). */
  b0.setup_delay_ms = 300;
  work *w0[] = {&a0, &b0}, *w1[] = {&a1, &b1};
  rank_job r[2];
  run_ranks(w0, 2, w1, 2, r);
  CHECK_EQ_INT(atomic_load(&a0.violations) + atomic_load(&a1.violations), 0);
  CHECK_EQ_INT(atomic_load(&b0.violations) + atomic_load(&b1.violations), 0);
  for (int k = 0; k < 2; k++) {
    CHECK_EQ_INT(r[0].rc[k], PMLS_OK);
    CHECK_EQ_INT(r[1].rc[k], PMLS_OK);
  }
  CHECK_EQ_INT(a0.finish_calls, 1);
  CHECK_EQ_INT(b0.finish_calls, 1);
  CHECK_EQ_INT(a1.finish_calls + b1.finish_calls, 0);
  CHECK_EQ_INT(atomic_load(&b1.worker_calls), 2);
  for (int k = 0; k < 4; k++) CHECK_EQ_INT(a0.seen[k], 3);
  for (int k = 0; k < 4; k++) CHECK_EQ_INT(b0.seen[k], 3 + 4);
  CHECK_EQ_INT(b0.seen[4], 0);
  CHECK_EQ_INT(r[0].st[0].clocks, 3);
  CHECK_EQ_INT(r[0].st[1].clocks, 3 + 4);
  CHECK_EQ_INT(r[0].st[0].rows_incremented, 4 * 3);
  CHECK_EQ_INT(r[0].st[1].rows_incremented, 4 * (3 + 4));
  CHECK_EQ_INT(r[0].ts[0].increments, 4 * 3);
  CHECK_EQ_INT(r[0].ts[1].increments, 4 * (3 + 4));
  CHECK_EQ_INT(r[0].ts[0].reads, 4 * 3 + 1);
  CHECK_EQ_INT(r[0].ts[1].reads, 4 * (3 + 4) + 2);
  /* BSP: every worker read of either run at staleness 0 */
  CHECK_EQ_INT(r[0].ts[1].staleness_hist[0], 4 * (3 + 4));
  CHECK_EQ_INT(r[0].ts[1].staleness_max, 0);
  CHECK(r[0].st[1].messages_sent > r[0].st[0].messages_sent);
}

/* Rank 1's setup fails in run 1: no worker starts on either rank, both
 * report it (rank 0 naming rank 1), and the job lives on: run 2 runs
 * whole, and its result says nothing of run 1's failure. */
static void t_setup_failure_is_told_in_its_run_only(void) {
  work a0 = {.incs = 2, .fail_worker = -1}, a1 = a0;
  a1.setup_code = PMLS_EIO;
  work b0 = {.incs = 2, .fail_worker = -1}, b1 = b0;
  work *w0[] = {&a0, &b0}, *w1[] = {&a1, &b1};
  rank_job r[2];
  double t0 = now_s();
  run_ranks(w0, 2, w1, 2, r);
  CHECK(now_s() - t0 < 10.0);
  CHECK_EQ_INT(r[1].rc[0], PMLS_EIO);
  CHECK_STR_CONTAINS(r[1].msg[0], "setup refused: code 8");
  CHECK_EQ_INT(r[0].rc[0], PMLS_EIO);
  CHECK_STR_CONTAINS(r[0].msg[0], "setup refused: code 8 (on rank 1)");
  CHECK_EQ_INT(atomic_load(&a0.worker_calls), 0);
  CHECK_EQ_INT(atomic_load(&a1.worker_calls), 0);
  CHECK_EQ_INT(a0.finish_calls, 0);
  CHECK_EQ_INT(r[0].rc[1], PMLS_OK);
  CHECK_EQ_INT(r[1].rc[1], PMLS_OK);
  CHECK_EQ_INT(b0.finish_calls, 1);
  for (int k = 0; k < 4; k++) CHECK_EQ_INT(b0.seen[k], 2);
  CHECK_EQ_INT(r[0].ts[1].increments, 4 * 2);

  /* Rank 0's own setup fails: rank 1 runs nothing and says why. */
  work c0 = {.incs = 2, .fail_worker = -1, .setup_code = PMLS_EIO};
  work c1 = {.incs = 2, .fail_worker = -1};
  work *v0[] = {&c0}, *v1[] = {&c1};
  run_ranks(v0, 1, v1, 1, r);
  CHECK_EQ_INT(r[0].rc[0], PMLS_EIO);
  CHECK_STR_CONTAINS(r[0].msg[0], "setup refused: code 8");
  CHECK_EQ_INT(r[1].rc[0], PMLS_EABORTED);
  CHECK_STR_CONTAINS(r[1].msg[0], "run 1 did not start: rank 0 failed: setup "
                     "refused: code 8");
  CHECK_EQ_INT(atomic_load(&c1.worker_calls), 0);
}

/* A worker of rank 1 fails in run 1: the job is aborted, so run 2 is
 * refused at once on both ranks, and not blamed on rank 1 again. */
static void t_run_after_an_abort_is_refused(void) {
  work a0 = {.incs = 50, .fail_worker = 3, .fail_code = PMLS_EIO}, a1 = a0;
  work b0 = {.incs = 2, .fail_worker = -1}, b1 = b0;
  work *w0[] = {&a0, &b0}, *w1[] = {&a1, &b1};
  rank_job r[2];
  run_ranks(w0, 2, w1, 2, r);
  CHECK_EQ_INT(r[0].rc[0], PMLS_EIO);
  CHECK_STR_CONTAINS(r[0].msg[0], "(on rank 1)");
  for (int k = 0; k < 2; k++) {
    CHECK_EQ_INT(r[k].rc[1], PMLS_ESTATE);
    CHECK_STR_CONTAINS(r[k].msg[1], "an earlier run on this engine was aborted");
    CHECK(strstr(r[k].msg[1], "(on rank 1)") == NULL);
  }
  CHECK_EQ_INT(atomic_load(&b0.worker_calls) + atomic_load(&b1.worker_calls), 0);
  CHECK_EQ_INT(b0.finish_calls, 0);
}

/* Ranks that make different numbers of runs are told, not left waiting. */
static void t_ranks_making_different_runs(void) {
  work a0 = {.incs = 2, .fail_worker = -1}, a1 = a0, b0 = a0, b1 = a0;
  work *w0[] = {&a0, &b0}, *w1[] = {&a1, &b1};
  rank_job r[2];
  double t0 = now_s();
  run_ranks(w0, 1, w1, 2, r); /* rank 1 wants a second run */
  CHECK_EQ_INT(r[0].rc[0], PMLS_OK);
  CHECK_EQ_INT(r[1].rc[0], PMLS_OK);
  CHECK_EQ_INT(r[1].rc[1], PMLS_ESTATE);
  CHECK_STR_CONTAINS(r[1].msg[1], "rank 0 closed its engine before run 2");
  run_ranks(w0, 2, w1, 1, r); /* rank 0 does */
  CHECK_EQ_INT(r[0].rc[1], PMLS_ESTATE);
  CHECK_STR_CONTAINS(r[0].msg[1], "rank 1 closed its engine before run 2");
  CHECK(now_s() - t0 < 10.0);
}

static const th_case cases[] = {
    {"pmls_run: setup, workers, finish, stats", t_whole_run},
    {"pmls_run: setup's PMLS_SKIP and failures end the run before workers",
     t_setup_ends_the_run},
    {"pmls_run: a failing worker's own code is the root cause, not the echoes",
     t_worker_failure_is_the_root_cause},
    {"pmls_run: a failing finish returns its code", t_finish_failure},
    {"pmls_run: two processes; rank 0 reports rank 1's failure", t_two_processes},
    {"pmls_run: two runs on two processes train on, figures counted once",
     t_two_runs_on_two_processes},
    {"pmls_run: a setup failure stops its run on every rank, and only that run",
     t_setup_failure_is_told_in_its_run_only},
    {"pmls_run: after an aborted run, the next is refused on every rank",
     t_run_after_an_abort_is_refused},
    {"pmls_run: ranks making different numbers of runs are told so",
     t_ranks_making_different_runs},
};
TH_MAIN(cases)
