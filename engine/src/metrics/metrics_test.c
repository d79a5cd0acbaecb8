/* metrics_test.c -- the metric kinds of metrics.c: how the values of one
 * clock combine over the workers (mean, sum, total, last, min, max) and how the
 * clocks combine in the final object. The combining is driven through
 * pmi_metrics_* directly, so the order in which values arrive (which the
 * shards do not fix between workers) is the test's to choose; one case runs
 * real workers through the public API for the kinds that do not depend on
 * that order. Then the bounds on what a CLOCK message may ask for (clock
 * numbers from the fuzzed server handlers: 2^56, 2^62 + 1, 10^12), the
 * memory over a million clocks, and the NaN rule: a NaN or infinite value
 * fails the run, naming the metric and the clock. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "metrics.h"

/* The metrics file's text, read whole, then removed. */
static void slurp(const char *path, char *text, size_t cap) {
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(text, 1, cap - 1, f) : 0;
  text[n] = 0;
  if (f) fclose(f);
  unlink(path);
}

static int temp_path(char *path) {
  int fd = mkstemp(path);
  if (fd < 0) return -1;
  close(fd);
  return 0;
}

static void t_kinds_per_clock_and_final(void) {
  char path[] = "/tmp/pmls-metrics-kinds-XXXXXX";
  CHECK(temp_path(path) == 0);
  char err[PMI_ERRLEN];
  pmi_metrics *m = pmi_metrics_new(path, NULL, 2, pmi_now(), err);
  CHECK(m != NULL);
  static const char *const names[] = {"avg", "total", "latest", "low", "high", "all"};
  static const pmls_agg kinds[] = {PMLS_AGG_MEAN, PMLS_AGG_SUM, PMLS_AGG_LAST,
                                   PMLS_AGG_MIN, PMLS_AGG_MAX, PMLS_AGG_TOTAL};
  for (int i = 0; i < 6; i++) CHECK_EQ_INT(pmi_metrics_declare(m, names[i], kinds[i]), 0);
  /* Clock 1: the values 4, 1, 7 arrive in that order; clock 2: 2, 9;
   * clock 3: 5, 3. */
  static const double values[3][3] = {{4, 1, 7}, {2, 9, 0}, {5, 3, 0}};
  static const int count[3] = {3, 2, 2};
  for (int k = 0; k < 3; k++)
    for (int j = 0; j < count[k]; j++)
      for (int i = 0; i < 6; i++) pmi_metrics_report(m, k + 1, names[i], values[k][j]);
  for (int k = 1; k <= 3; k++) pmi_metrics_complete(m, k);
  pmls_engine *e = NULL;
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = 1;
  cfg.quiet = 2;
  CHECK_EQ_INT(pmls_engine_create(&e, &cfg, err, sizeof err), PMLS_OK);
  pmls_stats st;
  memset(&st, 0, sizeof st);
  int rc = pmi_metrics_write_final(m, e, &st, err);
  pmi_metrics_free(m);
  pmls_engine_destroy(e);
  char text[8192];
  slurp(path, text, sizeof text);
  CHECK_EQ_INT(rc, PMLS_OK);
  static const char *const want[] = {
      "{\"clock\":1,", "\"avg\":4,\"total\":12,\"latest\":7,\"low\":1,\"high\":7,\"all\":12}",
      "{\"clock\":2,", "\"avg\":5.5,\"total\":11,\"latest\":9,\"low\":2,\"high\":9,\"all\":11}",
      "{\"clock\":3,", "\"avg\":4,\"total\":8,\"latest\":3,\"low\":3,\"high\":5,\"all\":8}",
      /* final: every kind keeps clock 3's value (a sum too: it is a
       * per-clock quantity); a total adds up the clocks */
      "\"final\":true,\"clocks\":3,",
      "\"avg\":4,\"total\":8,\"latest\":3,\"low\":3,\"high\":5,\"all\":31,"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    CHECK_STR_CONTAINS(text, want[i]);
}

/* Through the engine: two workers' reports, combined at shard 0. */
static void t_min_max_through_workers(void) {
  char path[] = "/tmp/pmls-metrics-workers-XXXXXX";
  CHECK(temp_path(path) == 0);
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = 2;
  cfg.servers = 2;
  cfg.quiet = 2;
  cfg.metrics_path = path;
  pmls_engine *e = NULL;
  char err[256];
  int rc = pmls_engine_create(&e, &cfg, err, sizeof err);
  if (rc) unlink(path);
  CHECK_EQ_INT(rc, PMLS_OK);
  CHECK_EQ_INT(pmls_metric_declare(e, "low", PMLS_AGG_MIN), PMLS_OK);
  CHECK_EQ_INT(pmls_metric_declare(e, "high", PMLS_AGG_MAX), PMLS_OK);
  CHECK_EQ_INT(pmls_metric_declare(e, "latest", PMLS_AGG_LAST), PMLS_OK);
  CHECK_EQ_INT(pmls_metric_declare(e, "x", (pmls_agg)6), PMLS_EINVAL);
  CHECK_EQ_INT(pmls_metric_declare(e, "x", (pmls_agg)-1), PMLS_EINVAL);
  pmls_client *w[2] = {NULL, NULL};
  for (int i = 0; i < 2; i++) CHECK_EQ_INT(pmls_client_open(e, i, &w[i]), PMLS_OK);
  for (int k = 1; k <= 2; k++)
    for (int i = 0; i < 2; i++) {
      /* worker 0: -k, worker 1: 10k; within a worker's clock the last
       * report of a name counts (and only worker 1 reports "latest") */
      CHECK_EQ_INT(pmls_report(w[i], "low", 99), PMLS_OK);
      CHECK_EQ_INT(pmls_report(w[i], "low", i ? 10 * k : -k), PMLS_OK);
      CHECK_EQ_INT(pmls_report(w[i], "high", i ? 10 * k : -k), PMLS_OK);
      if (i) CHECK_EQ_INT(pmls_report(w[i], "latest", k + 0.5), PMLS_OK);
      CHECK_EQ_INT(pmls_clock(w[i]), PMLS_OK);
    }
  for (int i = 0; i < 2; i++) CHECK_EQ_INT(pmls_client_close(w[i]), PMLS_OK);
  pmls_engine_destroy(e);
  char text[4096];
  slurp(path, text, sizeof text);
  CHECK_STR_CONTAINS(text, "{\"clock\":1,");
  CHECK_STR_CONTAINS(text, "\"low\":-1,\"high\":10,\"latest\":1.5}");
  CHECK_STR_CONTAINS(text, "\"low\":-2,\"high\":20,\"latest\":2.5}");
}

/* A metrics file in a temp path, and an engine for the final object. */
typedef struct {
  char path[64];
  char err[PMI_ERRLEN];
  pmi_metrics *m;
  pmls_engine *e;
} fixture;

static void fixture_open(fixture *f, int with_file) {
  memset(f, 0, sizeof *f);
  snprintf(f->path, sizeof f->path, "/tmp/pmls-metrics-bounds-XXXXXX");
  if (with_file) CHECK(temp_path(f->path) == 0);
  f->m = pmi_metrics_new(with_file ? f->path : NULL, NULL, 2, pmi_now(), f->err);
  CHECK(f->m != NULL);
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = 1;
  cfg.quiet = 2;
  char err[256];
  CHECK_EQ_INT(pmls_engine_create(&f->e, &cfg, err, sizeof err), PMLS_OK);
}

/* Writes the final object (its code returned), frees it all and reads the
 * file into text. */
static int fixture_close(fixture *f, char *text, size_t cap) {
  pmls_stats st;
  memset(&st, 0, sizeof st);
  int rc = pmi_metrics_write_final(f->m, f->e, &st, f->err);
  pmi_metrics_free(f->m);
  pmls_engine_destroy(f->e);
  if (text) slurp(f->path, text, cap);
  return rc;
}

static int count_lines(const char *text) {
  int n = 0;
  for (const char *p = text; *p; p++) n += *p == '\n';
  return n;
}

/* The fuzzer's CLOCK reports: 2^56 wrapped the slot array's size to 0 and
 * wrote out of bounds; past 2^62 the doubling loop never ended. Each is
 * refused, counted, and allocates nothing. */
static void t_huge_clocks_refused(void) {
  fixture f;
  fixture_open(&f, 0);
  static const int64_t bad[] = {(int64_t)1 << 56, ((int64_t)1 << 62) + 1,
                                INT64_MAX, PMI_METRICS_WINDOW + 1, 0, -1,
                                INT64_MIN};
  int n = (int)(sizeof bad / sizeof bad[0]);
  for (int i = 0; i < n; i++)
    CHECK_EQ_INT(pmi_metrics_report(f.m, bad[i], "x", 1), PMLS_ERANGE);
  CHECK_EQ_INT(pmi_metrics_refused(f.m), n);
  CHECK_EQ_INT(pmi_metrics_slot_bytes(f.m), 0);
  /* the far edge of the window is a clock like any other */
  CHECK_EQ_INT(pmi_metrics_report(f.m, PMI_METRICS_WINDOW, "x", 1), PMLS_OK);
  size_t full = pmi_metrics_slot_bytes(f.m);
  CHECK(full > 0);
  /* once clock 5 is complete, it and the ones before are late */
  pmi_metrics_complete(f.m, 5);
  CHECK_EQ_INT(pmi_metrics_report(f.m, 5, "x", 1), PMLS_ERANGE);
  CHECK_EQ_INT(pmi_metrics_report(f.m, PMI_METRICS_WINDOW + 5, "x", 1), PMLS_OK);
  CHECK_EQ_INT(pmi_metrics_report(f.m, PMI_METRICS_WINDOW + 6, "x", 1), PMLS_ERANGE);
  CHECK_EQ_INT(pmi_metrics_slot_bytes(f.m), full);
  fixture_close(&f, NULL, 0);
}

/* Clock slots are reused as clocks complete: over a million clocks, with
 * the reports of two workers three clocks apart, the slot memory is what
 * the first clocks took (the old code grew about 768 B a clock). */
static void t_million_clocks_flat(void) {
  fixture f;
  fixture_open(&f, 0);
  for (int64_t k = 1; k <= 3; k++) CHECK_EQ_INT(pmi_metrics_report(f.m, k, "x", 1), PMLS_OK);
  size_t first = pmi_metrics_slot_bytes(f.m);
  CHECK(first > 0);
  for (int64_t k = 1; k <= 1000000 && !th_failed(); k++) {
    CHECK_EQ_INT(pmi_metrics_report(f.m, k + 3, "x", 2), PMLS_OK);
    CHECK_EQ_INT(pmi_metrics_report(f.m, k, "x", 1), PMLS_OK);
    pmi_metrics_complete(f.m, k);
  }
  CHECK_EQ_INT(pmi_metrics_slot_bytes(f.m), first);
  CHECK_EQ_INT(pmi_metrics_clocks(f.m), 1000000);
  CHECK_EQ_INT(pmi_metrics_refused(f.m), 0);
  fixture_close(&f, NULL, 0);
}

/* A CLOCK of 10^12 then BYE: completing up to 10^12 in one call writes the
 * clocks that hold values and one line for 10^12, not 10^12 lines; the
 * window then starts there. */
static void t_far_completion_bounded(void) {
  fixture f;
  fixture_open(&f, 1);
  static const int64_t held[] = {1, 2, 3, 40};
  for (int i = 0; i < 4; i++)
    CHECK_EQ_INT(pmi_metrics_report(f.m, held[i], "x", (double)held[i]), PMLS_OK);
  int64_t far = 1000000000000LL;
  pmi_metrics_complete(f.m, far);
  CHECK_EQ_INT(pmi_metrics_clocks(f.m), far);
  pmi_metrics_complete(f.m, 7); /* behind: nothing */
  CHECK_EQ_INT(pmi_metrics_report(f.m, far + 1, "x", 9), PMLS_OK);
  pmi_metrics_complete(f.m, far + 1);
  pmi_metrics_complete(f.m, INT64_MAX); /* the end of the clocks: no overflow */
  char text[8192];
  CHECK_EQ_INT(fixture_close(&f, text, sizeof text), PMLS_OK);
  CHECK_EQ_INT(count_lines(text), 8); /* 1 2 3 40 10^12 10^12+1 max final */
  CHECK_STR_CONTAINS(text, "{\"clock\":40,");
  CHECK_STR_CONTAINS(text, "\"x\":40}\n{\"clock\":1000000000000,");
  CHECK_STR_CONTAINS(text, "{\"clock\":1000000000001,");
  CHECK_STR_CONTAINS(text, "\"x\":9}");
  CHECK_STR_CONTAINS(text, "\"final\":true,\"clocks\":9223372036854775807,");
}

/* The ring grows while a worker runs ahead, and keeps what it holds. */
static void t_ring_grows_keeping_values(void) {
  fixture f;
  fixture_open(&f, 1);
  CHECK_EQ_INT(pmi_metrics_declare(f.m, "total", PMLS_AGG_SUM), 0);
  for (int64_t k = 1; k <= 100; k++)
    CHECK_EQ_INT(pmi_metrics_report(f.m, k, "total", (double)k), PMLS_OK);
  for (int64_t k = 1; k <= 100; k++)
    CHECK_EQ_INT(pmi_metrics_report(f.m, k, "total", 1000), PMLS_OK);
  for (int64_t k = 1; k <= 100; k++) pmi_metrics_complete(f.m, k);
  char text[65536];
  CHECK_EQ_INT(fixture_close(&f, text, sizeof text), PMLS_OK);
  CHECK_EQ_INT(count_lines(text), 101);
  CHECK_STR_CONTAINS(text, "\"total\":1001}");
  CHECK_STR_CONTAINS(text, "\"total\":1017}");
  CHECK_STR_CONTAINS(text, "\"total\":1100}");
  CHECK_STR_CONTAINS(text, "\"final\":true,\"clocks\":100,");
  CHECK_STR_CONTAINS(text, "\"total\":1100,"); /* a sum: the last clock's */
}

/* A NaN from a clock (a forged OPLOG made a row NaN; the run exited 0 with
 * "test_rmse": null): the report says so, the line still shows null, and
 * the final object fails the run, naming the metric and the clock. */
static void t_nan_report_fails_final(void) {
  fixture f;
  fixture_open(&f, 1);
  for (int64_t k = 1; k <= 11; k++)
    CHECK_EQ_INT(pmi_metrics_report(f.m, k, "rmse", 1.0 / (double)k), PMLS_OK);
  CHECK_EQ_INT(pmi_metrics_report(f.m, 12, "rmse", NAN), PMLS_EVALUE);
  CHECK_EQ_INT(pmi_metrics_report(f.m, 13, "rmse", INFINITY), PMLS_EVALUE);
  for (int64_t k = 1; k <= 13; k++) pmi_metrics_complete(f.m, k);
  char text[8192];
  int rc = fixture_close(&f, text, sizeof text);
  CHECK_EQ_INT(rc, PMLS_EVALUE);
  CHECK_STR_CONTAINS(f.err, "metric 'rmse' is NaN at clock 12");
  CHECK_STR_CONTAINS(text, "{\"clock\":12,");
  CHECK_STR_CONTAINS(text, "\"rmse\":null}");
  CHECK_STR_CONTAINS(text, "\"error\":\"metric 'rmse' is NaN at clock 12\"");
}

/* A clock's sum, or the sum over the run, may overflow from finite
 * values; a final value may be infinite. */
static void t_overflow_and_final_values(void) {
  fixture f;
  fixture_open(&f, 0);
  CHECK_EQ_INT(pmi_metrics_declare(f.m, "total", PMLS_AGG_SUM), 0);
  CHECK_EQ_INT(pmi_metrics_report(f.m, 1, "total", 1e308), PMLS_OK);
  CHECK_EQ_INT(pmi_metrics_report(f.m, 1, "total", 1e308), PMLS_OK);
  pmi_metrics_complete(f.m, 1);
  CHECK_EQ_INT(fixture_close(&f, NULL, 0), PMLS_EVALUE);
  CHECK_STR_CONTAINS(f.err, "metric 'total' is inf at clock 1");

  fixture_open(&f, 0);
  CHECK_EQ_INT(pmi_metrics_declare(f.m, "total", PMLS_AGG_TOTAL), 0);
  for (int64_t k = 1; k <= 2; k++) {
    CHECK_EQ_INT(pmi_metrics_report(f.m, k, "total", -1e308), PMLS_OK);
    pmi_metrics_complete(f.m, k);
  }
  CHECK_EQ_INT(fixture_close(&f, NULL, 0), PMLS_EVALUE);
  CHECK_STR_CONTAINS(f.err, "metric 'total' is -inf in the final metrics");

  fixture_open(&f, 0);
  CHECK_EQ_INT(pmi_metrics_set_final(f.m, "objective", 3), PMLS_OK);
  CHECK_EQ_INT(pmi_metrics_set_final(f.m, "objective", -INFINITY), PMLS_EVALUE);
  CHECK_EQ_INT(fixture_close(&f, NULL, 0), PMLS_EVALUE);
  CHECK_STR_CONTAINS(f.err, "metric 'objective' is -inf in the final metrics");

  fixture_open(&f, 0); /* and without any: fine */
  CHECK_EQ_INT(pmi_metrics_set_final(f.m, "objective", 3), PMLS_OK);
  CHECK_EQ_INT(fixture_close(&f, NULL, 0), PMLS_OK);
}

/* Through the C API: pmls_report refuses the value at once, naming the
 * clock it would go with; a host that ignores the code does not get exit
 * 0: the value still reaches shard 0 and pmls_run fails with it. */
typedef struct {
  int report_rc[2];
  char report_msg[2][PMI_ERRLEN];
} nan_run;

static int nan_worker(pmls_client *c, void *ud, char *err, size_t errlen) {
  (void)err, (void)errlen;
  nan_run *r = ud;
  int w = pmls_client_worker(c);
  for (int k = 1; k <= 3; k++) {
    int rc = pmls_report(c, "rmse", k == 3 && w == 1 ? NAN : 0.5);
    if (rc) {
      r->report_rc[w] = rc;
      snprintf(r->report_msg[w], PMI_ERRLEN, "%s", pmls_client_errmsg(c));
    }
    if (pmls_clock(c)) return PMLS_ESTATE; /* a host that goes on */
  }
  return PMLS_OK;
}

static int nan_finish(pmls_client *c, void *ud, char *err, size_t errlen) {
  (void)ud, (void)err, (void)errlen;
  pmls_report(c, "final_rmse", 0.5);
  return PMLS_OK;
}

static void t_nan_through_the_api(void) {
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = 2;
  cfg.quiet = 2;
  pmls_engine *e = NULL;
  char err[256];
  CHECK_EQ_INT(pmls_engine_create(&e, &cfg, err, sizeof err), PMLS_OK);
  /* a host client's value, a final one */
  pmls_client *h = NULL;
  CHECK_EQ_INT(pmls_client_open(e, -1, &h), PMLS_OK);
  CHECK_EQ_INT(pmls_report(h, "objective", INFINITY), PMLS_EVALUE);
  CHECK_STR_CONTAINS(pmls_client_errmsg(h), "metric 'objective' is inf in the final metrics");
  CHECK_EQ_INT(pmls_report(h, "objective", 1), PMLS_OK); /* replaced: fine */
  CHECK_EQ_INT(pmls_client_close(h), PMLS_OK);
  static const pmls_run_fns fns = {NULL, nan_worker, NULL, nan_finish};
  nan_run r;
  memset(&r, 0, sizeof r);
  int rc = pmls_run(e, &fns, &r);
  CHECK_EQ_INT(r.report_rc[0], PMLS_OK);
  CHECK_EQ_INT(r.report_rc[1], PMLS_EVALUE);
  CHECK_STR_CONTAINS(r.report_msg[1], "metric 'rmse' is NaN at clock 3");
  CHECK_EQ_INT(rc, PMLS_EVALUE);
  CHECK_STR_CONTAINS(pmls_errmsg(e), "metric 'rmse' is NaN at clock 3");
  pmls_engine_destroy(e);
}

/* Reserved reports make a clock's staleness histogram, not metrics;
 * malformed ones are refused. */
static void t_staleness_hist_reports(void) {
  fixture f;
  fixture_open(&f, 1);
  CHECK_EQ_INT(pmi_metrics_report(f.m, 1, PMI_STALE_PREFIX "0.0", 3), PMLS_OK);
  CHECK_EQ_INT(pmi_metrics_report(f.m, 1, PMI_STALE_PREFIX "0.0", 2), PMLS_OK);
  CHECK_EQ_INT(pmi_metrics_report(f.m, 1, PMI_STALE_PREFIX "2.16", 7), PMLS_OK);
  CHECK_EQ_INT(pmi_metrics_report(f.m, 2, PMI_STALE_PREFIX "0.1", 4), PMLS_OK);
  static const char *const bad[] = {PMI_STALE_PREFIX "0.17", PMI_STALE_PREFIX "-1.0",
                                    PMI_STALE_PREFIX "0", PMI_STALE_PREFIX "x.1",
                                    PMI_STALE_PREFIX "256.0", PMI_STALE_PREFIX "0.1.2"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_EQ_INT(pmi_metrics_report(f.m, 2, bad[i], 1), PMLS_EINVAL);
  CHECK_EQ_INT(pmi_metrics_report(f.m, 2, PMI_STALE_PREFIX "0.1", 0.5), PMLS_EINVAL);
  CHECK_EQ_INT(pmi_metrics_report(f.m, 2, PMI_STALE_PREFIX "0.1", -1), PMLS_EINVAL);
  for (int64_t k = 1; k <= 3; k++) pmi_metrics_complete(f.m, k);
  CHECK_EQ_INT(pmi_metrics_refused(f.m), 8);
  char text[8192];
  CHECK_EQ_INT(fixture_close(&f, text, sizeof text), PMLS_OK);
  CHECK_STR_CONTAINS(text, "\"staleness_hist\":{\"t0\":[5,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"
                           "\"t2\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,7]}}");
  CHECK_STR_CONTAINS(text, "{\"t0\":[0,4,0,");
  CHECK(strstr(text, "pmls.stale") == NULL); /* no metric of that name */
  CHECK(strstr(text, "\"clock\":3,") != NULL);
}

/* The header: the version, the options given, the deployment; a bad
 * argument is refused. */
static void t_header(void) {
  char path[] = "/tmp/pmls-metrics-header-XXXXXX";
  CHECK(temp_path(path) == 0);
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = 2;
  cfg.quiet = 2;
  cfg.seed = 42;
  cfg.metrics_path = path;
  pmls_engine *e = NULL;
  char err[256];
  CHECK_EQ_INT(pmls_engine_create(&e, &cfg, err, sizeof err), PMLS_OK);
  CHECK_EQ_INT(pmls_metrics_header(e, "{\"rank\":3}", 12), PMLS_OK);
  CHECK_EQ_INT(pmls_metrics_header(e, "{\"a\":\n1}", 0), PMLS_EINVAL);
  CHECK_EQ_INT(pmls_metrics_header(e, "[]", 0), PMLS_EINVAL);
  CHECK_EQ_INT(pmls_metrics_header(e, NULL, -1), PMLS_EINVAL);
  CHECK_STR_CONTAINS(pmls_errmsg(e), "bad argument 'clocks'");
  pmls_engine_destroy(e);
  char text[8192];
  slurp(path, text, sizeof text);
  static const char *const want[] = {
      "{\"header\":true,\"version\":\"", "\"start_time\":\"20", "Z\",\"first_clock\":1,",
      "\"clocks_expected\":12,", "\"command\":[\"", "\"options\":{\"rank\":3},",
      "\"procs\":1,\"workers\":2,\"workers_per_proc\":2,\"servers\":1,",
      "\"transport\":\"inproc\",\"consistency\":\"ssp\",\"staleness\":0,\"seed\":42,",
      "\"hosts\":[\""};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    CHECK_STR_CONTAINS(text, want[i]);
  CHECK_EQ_INT(count_lines(text), 1);
}

static const th_case cases[] = {
    {"per-clock staleness histograms from reserved reports", t_staleness_hist_reports},
    {"the run header", t_header},
    {"mean, sum, total, last, min, max per clock and over the run", t_kinds_per_clock_and_final},
    {"min, max and last of two workers' reports through the shards", t_min_max_through_workers},
    {"clocks 2^56, 2^62 + 1 and others outside the window are refused", t_huge_clocks_refused},
    {"slot memory is flat over a million clocks", t_million_clocks_flat},
    {"completing up to clock 10^12 writes the clocks with values, then one", t_far_completion_bounded},
    {"the ring grows while a worker runs ahead and keeps its values", t_ring_grows_keeping_values},
    {"a NaN at clock 12 fails the final object, naming metric and clock", t_nan_report_fails_final},
    {"an overflowing sum or an infinite final value fails the run", t_overflow_and_final_values},
    {"pmls_report refuses NaN; a host that ignores it still fails the run", t_nan_through_the_api},
};

TH_MAIN(cases)
