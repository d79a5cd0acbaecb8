/* sequence_test.c -- several script runs on one engine, as a host that
 * warm-starts a model does it: create a table and fill it through a host
 * client (first values with pmls_init_dense, increments), run a script that
 * declares the same table and trains it (it attaches), read the table
 * back, run the script again (the workers go on from their clocks), and
 * see a run that declares the table with another spec refused, naming what
 * differs; and the same on the two engines of a job of two processes (two
 * engines of this test process on ipc://), with rank 0's host adding to
 * the table between the runs. The script is spec/fixtures/warm_start.lua.
 *
 * Run from the repository root, like script_test.c (the Lua package comes
 * from ./lua and ./build/lua, and its FFI calls go to build/lib/libpmls.so). */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixtures.h"
#include "harness.h"
#include "pmls.h"

#define SCRIPT "spec/fixtures/warm_start.lua"
enum { ROWS = 4, COLS = 3, WORKERS = 2 };

static pmls_engine *engine_of(const char *metrics, int procs, int rank,
                              const char *master) {
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = WORKERS;
  cfg.servers = 2;
  cfg.quiet = 2;
  cfg.timeout_ms = 10000;
  cfg.lua_path = repo_lua_path();
  cfg.metrics_path = metrics;
  cfg.procs = procs;
  cfg.rank = rank;
  cfg.master = master;
  pmls_engine *e = NULL;
  char err[512];
  if (pmls_engine_create(&e, &cfg, err, sizeof err)) {
    fprintf(stderr, "sequence_test: cannot create an engine: %s\n", err);
    return NULL;
  }
  return e;
}

static pmls_engine *run_engine(const char *metrics) {
  return engine_of(metrics, 1, 0, NULL);
}

/* The sum of every cell of table t, and cell (0, 0). */
static int read_back(pmls_engine *e, int t, double *total, double *first) {
  pmls_client *h = NULL;
  if (pmls_client_open(e, -1, &h)) return -1;
  *total = 0;
  for (int r = 0; r < ROWS; r++) {
    double row[COLS];
    if (pmls_get_dense(h, t, r, row)) {
      pmls_client_close(h);
      return -1;
    }
    for (int c = 0; c < COLS; c++) *total += row[c];
    if (r == 0) *first = row[0];
  }
  return pmls_client_close(h);
}

/* The metrics file's text, read whole. */
static void slurp(const char *path, char *text, size_t cap) {
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(text, 1, cap - 1, f) : 0;
  text[n] = 0;
  if (f) fclose(f);
}

/* The number after "key": in a metrics line, or -1 when it has none. */
static double key_value(const char *line, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(line, pat);
  return p ? strtod(p + strlen(pat), NULL) : -1;
}

/* The n-th line that starts with prefix (1-based), or NULL. */
static const char *nth_line(const char *text, const char *prefix, int n) {
  for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
    if (strncmp(p, prefix, strlen(prefix)) == 0 && --n == 0) return p;
  return NULL;
}

static void t_host_fills_then_scripts_train(void) {
  char metrics[] = "/tmp/pmls-sequence-XXXXXX";
  int fd = mkstemp(metrics);
  CHECK(fd >= 0);
  close(fd);
  pmls_engine *e = run_engine(metrics);
  if (!e) unlink(metrics);
  CHECK(e != NULL);
  pmls_table_spec spec;
  pmls_table_spec_init(&spec);
  spec.rows = ROWS;
  spec.cols = COLS;
  int t = -1;
  CHECK_EQ_INT(pmls_table_create(e, "w", &spec, &t), PMLS_OK);
  /* The host fills w: rows 0..1 get first values of 10, rows 2..3 get
   * increments of 10 (an init after them changes nothing). */
  pmls_client *h = NULL;
  CHECK_EQ_INT(pmls_client_open(e, -1, &h), PMLS_OK);
  double ten[COLS] = {10, 10, 10}, five[COLS] = {5, 5, 5};
  for (int r = 0; r < ROWS; r++) {
    if (r < 2) CHECK_EQ_INT(pmls_init_dense(h, t, r, ten), PMLS_OK);
    else CHECK_EQ_INT(pmls_inc_dense(h, t, r, ten), PMLS_OK);
  }
  CHECK_EQ_INT(pmls_init_dense(h, t, 0, five), PMLS_OK); /* row 0 has one */
  CHECK_EQ_INT(pmls_init_dense(h, t, 3, five), PMLS_OK); /* row 3 was added to */
  CHECK_EQ_INT(pmls_init_dense(h, t, ROWS, five), PMLS_ERANGE);
  CHECK_STR_CONTAINS(pmls_client_errmsg(h), "row 4 out of range");
  CHECK_EQ_INT(pmls_client_close(h), PMLS_OK);

  /* Run 1 attaches to w and adds 1 per cell, worker and clock. */
  const char *const two[] = {"--clocks", "2"};
  int rc = pmls_run_script(e, SCRIPT, 2, two);
  if (rc) fprintf(stderr, "%s\n", pmls_errmsg(e));
  CHECK_EQ_INT(rc, PMLS_OK);
  double total = 0, first = 0;
  CHECK_EQ_INT(read_back(e, t, &total, &first), PMLS_OK);
  CHECK_EQ_DBL(first, 10 + WORKERS * 2);
  CHECK_EQ_DBL(total, ROWS * COLS * (10 + WORKERS * 2));

  /* Run 2 on the same engine: the workers rejoin at their clocks. */
  const char *const three[] = {"--clocks", "3"};
  rc = pmls_run_script(e, SCRIPT, 2, three);
  if (rc) fprintf(stderr, "%s\n", pmls_errmsg(e));
  CHECK_EQ_INT(rc, PMLS_OK);
  CHECK_EQ_INT(read_back(e, t, &total, &first), PMLS_OK);
  CHECK_EQ_DBL(first, 10 + WORKERS * 5);
  CHECK_EQ_DBL(total, ROWS * COLS * (10 + WORKERS * 5));

  /* Run 3 declares w with five columns: refused, naming what differs; the
   * table is as it was. */
  const char *const wide[] = {"--cols", "5"};
  CHECK_EQ_INT(pmls_run_script(e, SCRIPT, 2, wide), PMLS_ESCRIPT);
  CHECK_STR_CONTAINS(pmls_errmsg(e), "warm_start.lua:15: bad argument 'spec' to table "
                     "(table 'w' exists with another spec: cols 3 there, 5 here)");
  CHECK_EQ_INT(read_back(e, t, &total, &first), PMLS_OK);
  CHECK_EQ_DBL(total, ROWS * COLS * (10 + WORKERS * 5));
  pmls_stats st;
  pmls_engine_stats(e, &st);
  CHECK_EQ_INT(st.clocks, 5);
  pmls_engine_destroy(e);

  char text[16384];
  slurp(metrics, text, sizeof text);
  unlink(metrics);
  /* Each run has its own final object: its metrics over its own clocks and
   * its own reports; clock numbers go on from run to run. */
  const char *f1 = nth_line(text, "{\"final\":true", 1);
  const char *f2 = nth_line(text, "{\"final\":true", 2);
  CHECK(f1 != NULL && f2 != NULL);
  CHECK(nth_line(text, "{\"final\":true", 3) == NULL);
  CHECK(nth_line(text, "{\"clock\":3,", 1) > f1);
  CHECK(nth_line(text, "{\"clock\":5,", 1) != NULL);
  char run1[2048], run2[2048];
  snprintf(run1, sizeof run1, "%.*s", (int)(strchr(f1, '\n') - f1), f1);
  snprintf(run2, sizeof run2, "%.*s", (int)(strchr(f2, '\n') - f2), f2);
  CHECK_STR_CONTAINS(run1, "\"clocks\":2,");
  /* Every worker reads before it first flushes, so the earliest read sees
   * no worker's increments: the minimum is exact. A later first read may
   * see what the others sent before it (the bound at clock 0 allows any
   * copy): up to their clocks of this run. */
  CHECK_STR_CONTAINS(run1, "\"start\":10,");
  CHECK(key_value(run1, "start_high") >= 10);
  CHECK(key_value(run1, "start_high") <= 10 + (WORKERS - 1) * 2);
  CHECK_STR_CONTAINS(run1, "\"total\":168,");
  CHECK_STR_CONTAINS(run2, "\"clocks\":5,");
  CHECK_STR_CONTAINS(run2, "\"start\":14,");
  CHECK(key_value(run2, "start_high") >= 14);
  CHECK(key_value(run2, "start_high") <= 14 + (WORKERS - 1) * 3);
  CHECK_STR_CONTAINS(run2, "\"total\":240,");
}

/* A worker client of a later run goes on from its last client's clocks:
 * it counts its own clocks from 0, and the rejoined workers hold each
 * other back as in the first run (once each is open again: a run opens
 * every worker's client before any of them clocks). */
static void t_rejoined_workers_hold_each_other_back(void) {
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = 2;
  cfg.servers = 2;
  cfg.quiet = 2;
  cfg.timeout_ms = 300;
  pmls_engine *e = NULL;
  char err[256];
  CHECK_EQ_INT(pmls_engine_create(&e, &cfg, err, sizeof err), PMLS_OK);
  pmls_table_spec spec;
  pmls_table_spec_init(&spec);
  int t = -1;
  CHECK_EQ_INT(pmls_table_create(e, "n", &spec, &t), PMLS_OK);
  pmls_client *w[2] = {NULL, NULL};
  for (int i = 0; i < 2; i++) CHECK_EQ_INT(pmls_client_open(e, i, &w[i]), PMLS_OK);
  for (int k = 0; k < 3; k++)
    for (int i = 0; i < 2; i++) CHECK_EQ_INT(pmls_clock(w[i]), PMLS_OK);
  for (int i = 0; i < 2; i++) CHECK_EQ_INT(pmls_client_close(w[i]), PMLS_OK);
  /* the second run */
  for (int i = 0; i < 2; i++) CHECK_EQ_INT(pmls_client_open(e, i, &w[i]), PMLS_OK);
  CHECK_EQ_INT(pmls_client_clock(w[0]), 0);
  CHECK_EQ_INT(pmls_client_last_copy_clock(w[0]), -1);
  double out;
  CHECK_EQ_INT(pmls_get_dense(w[0], t, 0, &out), PMLS_OK); /* at clock 3 */
  CHECK_EQ_INT(pmls_client_last_copy_clock(w[0]), 0);
  CHECK_EQ_INT(pmls_clock(w[0]), PMLS_OK);
  CHECK_EQ_INT(pmls_client_clock(w[0]), 1);
  /* BSP: worker 0 at its clock 1 waits for worker 1's clock 0 of this run
   * (and times out here, as worker 1 has not clocked) */
  CHECK_EQ_INT(pmls_get_dense(w[0], t, 0, &out), PMLS_ETIMEDOUT);
  CHECK_EQ_INT(pmls_inc_one(w[1], t, 0, 0, 7), PMLS_OK);
  CHECK_EQ_INT(pmls_clock(w[1]), PMLS_OK);
  CHECK_EQ_INT(pmls_get_dense(w[0], t, 0, &out), PMLS_OK);
  CHECK_EQ_DBL(out, 7);
  CHECK_EQ_INT(pmls_client_last_copy_clock(w[0]), 1);
  for (int i = 0; i < 2; i++) CHECK_EQ_INT(pmls_client_close(w[i]), PMLS_OK);
  /* a worker whose client is open cannot get a second one */
  CHECK_EQ_INT(pmls_client_open(e, 0, &w[0]), PMLS_OK);
  pmls_client *again = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &again), PMLS_EINVAL);
  CHECK_EQ_INT(pmls_client_close(w[0]), PMLS_OK);
  pmls_engine_destroy(e);
}

/* ---- two processes ------------------------------------------------------ */

typedef struct {
  int rank;
  const char *master, *metrics;
  int rc[2];
  char msg[2][512];
  double total[2], first[2]; /* rank 0: read back after each run */
} rank_seq;

static void *rank_seq_main(void *arg) {
  rank_seq *r = arg;
  pmls_engine *e = engine_of(r->rank == 0 ? r->metrics : NULL, 2, r->rank,
                             r->master);
  if (!e) return NULL;
  pmls_table_spec spec;
  pmls_table_spec_init(&spec);
  spec.rows = ROWS;
  spec.cols = COLS;
  int t = -1;
  pmls_client *h = NULL;
  double ten[COLS] = {10, 10, 10};
  int rc = pmls_table_create(e, "w", &spec, &t);
  if (rc == PMLS_OK && r->rank == 0) { /* rank 0's host fills w */
    rc = pmls_client_open(e, -1, &h);
    for (int row = 0; row < ROWS && rc == PMLS_OK; row++)
      rc = pmls_init_dense(h, t, row, ten);
    if (h) pmls_client_close(h);
  }
  const char *const two[] = {"--clocks", "2"}, *const three[] = {"--clocks", "3"};
  for (int k = 0; k < 2 && rc == PMLS_OK; k++) {
    if (k == 1 && r->rank == 0) { /* and adds to it between the runs */
      rc = pmls_client_open(e, -1, &h);
      if (rc == PMLS_OK) rc = pmls_inc_one(h, t, 0, 0, 100);
      if (h) pmls_client_close(h);
    }
    r->rc[k] = pmls_run_script(e, SCRIPT, 2, k == 0 ? two : three);
    snprintf(r->msg[k], sizeof r->msg[k], "%s", pmls_errmsg(e));
    if (r->rank == 0) read_back(e, t, &r->total[k], &r->first[k]);
  }
  pmls_engine_destroy(e);
  return NULL;
}

/* Both ranks run the script twice. Run 2's workers (4 of them, 2 per rank)
 * go on from where run 1 left w, and every one of them sees rank 0's host
 * increment at its first read: no rank's run 2 starts before rank 0's. */
static void t_two_processes_run_scripts_in_sequence(void) {
  char dir[] = "/tmp/pmls-sequence-mp-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char master[128], metrics[160];
  snprintf(master, sizeof master, "ipc://%s/master", dir);
  snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", dir);
  rank_seq r[2];
  pthread_t th[2];
  for (int k = 0; k < 2; k++) {
    r[k] = (rank_seq){.rank = k, .master = master, .metrics = metrics,
                      .rc = {-2, -2}};
    pthread_create(&th[k], NULL, rank_seq_main, &r[k]);
  }
  for (int k = 0; k < 2; k++) pthread_join(th[k], NULL);
  char text[16384];
  slurp(metrics, text, sizeof text);
  char cmd[200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd)) { /* a leftover directory in /tmp is harmless */ }
  for (int k = 0; k < 2; k++) {
    if (r[0].rc[k] || r[1].rc[k])
      fprintf(stderr, "run %d: %s | %s\n", k + 1, r[0].msg[k], r[1].msg[k]);
    CHECK_EQ_INT(r[0].rc[k], PMLS_OK);
    CHECK_EQ_INT(r[1].rc[k], PMLS_OK);
  }
  enum { ALL = 2 * WORKERS };
  CHECK_EQ_DBL(r[0].first[0], 10 + ALL * 2);
  CHECK_EQ_DBL(r[0].total[0], ROWS * COLS * (10 + ALL * 2));
  CHECK_EQ_DBL(r[0].first[1], 100 + 10 + ALL * 5);
  CHECK_EQ_DBL(r[0].total[1], 100 + ROWS * COLS * (10 + ALL * 5));
  const char *f1 = nth_line(text, "{\"final\":true", 1);
  const char *f2 = nth_line(text, "{\"final\":true", 2);
  CHECK(f1 != NULL && f2 != NULL);
  CHECK(nth_line(text, "{\"final\":true", 3) == NULL);
  char run1[4096], run2[4096];
  snprintf(run1, sizeof run1, "%.*s", (int)(strchr(f1, '\n') - f1), f1);
  snprintf(run2, sizeof run2, "%.*s", (int)(strchr(f2, '\n') - f2), f2);
  CHECK_STR_CONTAINS(run1, "\"clocks\":2,");
  CHECK_STR_CONTAINS(run1, "\"workers\":4,");
  CHECK_STR_CONTAINS(run1, "\"start\":10,");
  CHECK_STR_CONTAINS(run1, "\"total\":216,");
  CHECK_STR_CONTAINS(run2, "\"clocks\":5,");
  CHECK_STR_CONTAINS(run2, "\"start\":118,");
  CHECK_STR_CONTAINS(run2, "\"total\":460,");
  /* each worker increments every cell at every clock, counted once; and
   * the host's increment */
  char incs[64];
  snprintf(incs, sizeof incs, "\"rows_incremented\":%d,",
           ALL * ROWS * COLS * 5 + 1);
  CHECK_STR_CONTAINS(run2, incs);
}

static const th_case cases[] = {
    {"a host fills a table, two script runs train it, a third with another spec is refused",
     t_host_fills_then_scripts_train},
    {"rejoined workers count their clocks anew and hold each other back",
     t_rejoined_workers_hold_each_other_back},
    {"two processes: the host fills a table, two script runs on both ranks train it",
     t_two_processes_run_scripts_in_sequence},
};

TH_MAIN(cases)
