/* run_test.c -- pmls_run with C functions, as a host application drives it:
 * a whole run (setup, workers, finish, final stats), setup ending the run
 * early (PMLS_SKIP) or failing, a worker failing while the others block in
 * a read (the run returns the failing worker's own code, never the
 * PMLS_EABORTED echoes, and names it), and a job of two processes -- two
 * engines of one test process on ipc:// -- where rank 0 reports rank 1's
 * failure as the root cause. */
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
  cfg.quiet = 1;
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
  _Atomic int worker_calls;
  int finish_calls;
  int64_t seen[16];      /* what finish read back */
} work;

static int setup_fn(pmls_engine *e, void *ud, char *err, size_t errlen) {
  work *w = ud;
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

typedef struct {
  int rank;
  const char *master;
  work *w;
  int rc;
  char msg[512];
} rank_job;

static void *rank_main(void *arg) {
  rank_job *r = arg;
  pmls_engine *e = engine_with(2, 2, r->rank, r->master);
  if (!e) {
    r->rc = -1;
    return NULL;
  }
  r->rc = pmls_run(e, &FNS, r->w);
  snprintf(r->msg, sizeof r->msg, "%s", pmls_errmsg(e));
  pmls_engine_destroy(e);
  return NULL;
}

static void run_two_ranks(work *w0, work *w1, rank_job out[2]) {
  char dir[] = "/tmp/pmls-run-test-XXXXXX";
  if (!mkdtemp(dir)) return;
  char master[128];
  snprintf(master, sizeof master, "ipc://%s/master", dir);
  work *ws[2] = {w0, w1};
  pthread_t th[2];
  for (int r = 0; r < 2; r++) {
    out[r] = (rank_job){r, master, ws[r], -2, ""};
    pthread_create(&th[r], NULL, rank_main, &out[r]);
  }
  for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd)) { /* the sockets are gone with the engines anyway */ }
}

static void t_two_processes(void) {
  work w0 = {.incs = 4, .fail_worker = -1}, w1 = w0;
  rank_job r[2];
  run_two_ranks(&w0, &w1, r);
  CHECK_EQ_INT(r[0].rc, PMLS_OK);
  CHECK_EQ_INT(r[1].rc, PMLS_OK);
  CHECK_EQ_INT(w0.finish_calls, 1); /* finish runs on rank 0 only */
  CHECK_EQ_INT(w1.finish_calls, 0);
  for (int k = 0; k < 4; k++) CHECK_EQ_INT(w0.seen[k], 4);

  /* Worker 3 lives in rank 1: rank 0's workers only echo its failure. */
  work f0 = {.incs = 50, .fail_worker = 3, .fail_code = PMLS_EIO}, f1 = f0;
  run_two_ranks(&f0, &f1, r);
  CHECK_EQ_INT(r[1].rc, PMLS_EIO);
  CHECK_EQ_INT(r[0].rc, PMLS_EIO);
  CHECK_STR_CONTAINS(r[0].msg, "worker 3 found bad data");
  CHECK_STR_CONTAINS(r[0].msg, "(on rank 1)");
  CHECK_EQ_INT(f0.finish_calls, 0);
}

static const th_case cases[] = {
    {"pmls_run: setup, workers, finish, stats", t_whole_run},
    {"pmls_run: setup's PMLS_SKIP and failures end the run before workers",
     t_setup_ends_the_run},
    {"pmls_run: a failing worker's own code is the root cause, not the echoes",
     t_worker_failure_is_the_root_cause},
    {"pmls_run: a failing finish returns its code", t_finish_failure},
    {"pmls_run: two processes; rank 0 reports rank 1's failure", t_two_processes},
};
TH_MAIN(cases)
