/* metrics_test.c -- the metric kinds of metrics.c: how the values of one
 * clock combine over the workers (mean, sum, last, min, max) and how the
 * clocks combine in the final object. The combining is driven through
 * pmi_metrics_* directly, so the order in which values arrive (which the
 * shards do not fix between workers) is the test's to choose; one case runs
 * real workers through the public API for the kinds that do not depend on
 * that order. */
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
  pmi_metrics *m = pmi_metrics_new(path, 1, pmi_now(), err);
  CHECK(m != NULL);
  static const char *const names[] = {"avg", "total", "latest", "low", "high"};
  static const pmls_agg kinds[] = {PMLS_AGG_MEAN, PMLS_AGG_SUM, PMLS_AGG_LAST,
                                   PMLS_AGG_MIN, PMLS_AGG_MAX};
  for (int i = 0; i < 5; i++) CHECK_EQ_INT(pmi_metrics_declare(m, names[i], kinds[i]), 0);
  /* Clock 1: the values 4, 1, 7 arrive in that order; clock 2: 2, 9;
   * clock 3: 5, 3. */
  static const double values[3][3] = {{4, 1, 7}, {2, 9, 0}, {5, 3, 0}};
  static const int count[3] = {3, 2, 2};
  for (int k = 0; k < 3; k++)
    for (int j = 0; j < count[k]; j++)
      for (int i = 0; i < 5; i++) pmi_metrics_report(m, k + 1, names[i], values[k][j]);
  for (int k = 1; k <= 3; k++) pmi_metrics_complete(m, k);
  pmls_engine *e = NULL;
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = 1;
  cfg.quiet = 1;
  CHECK_EQ_INT(pmls_engine_create(&e, &cfg, err, sizeof err), PMLS_OK);
  pmls_stats st;
  memset(&st, 0, sizeof st);
  int rc = pmi_metrics_write_final(m, e, &st);
  pmi_metrics_free(m);
  pmls_engine_destroy(e);
  char text[8192];
  slurp(path, text, sizeof text);
  CHECK_EQ_INT(rc, PMLS_OK);
  static const char *const want[] = {
      "{\"clock\":1,", "\"avg\":4,\"total\":12,\"latest\":7,\"low\":1,\"high\":7}",
      "{\"clock\":2,", "\"avg\":5.5,\"total\":11,\"latest\":9,\"low\":2,\"high\":9}",
      "{\"clock\":3,", "\"avg\":4,\"total\":8,\"latest\":3,\"low\":3,\"high\":5}",
      /* final: mean and last keep clock 3's, sum adds up the clocks, min
       * and max are over every clock */
      "\"final\":true,\"clocks\":3,",
      "\"avg\":4,\"total\":31,\"latest\":3,\"low\":1,\"high\":9,"};
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
  cfg.quiet = 1;
  cfg.metrics_path = path;
  pmls_engine *e = NULL;
  char err[256];
  int rc = pmls_engine_create(&e, &cfg, err, sizeof err);
  if (rc) unlink(path);
  CHECK_EQ_INT(rc, PMLS_OK);
  CHECK_EQ_INT(pmls_metric_declare(e, "low", PMLS_AGG_MIN), PMLS_OK);
  CHECK_EQ_INT(pmls_metric_declare(e, "high", PMLS_AGG_MAX), PMLS_OK);
  CHECK_EQ_INT(pmls_metric_declare(e, "latest", PMLS_AGG_LAST), PMLS_OK);
  CHECK_EQ_INT(pmls_metric_declare(e, "x", (pmls_agg)5), PMLS_EINVAL);
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

static const th_case cases[] = {
    {"mean, sum, last, min, max per clock and over the run", t_kinds_per_clock_and_final},
    {"min, max and last of two workers' reports through the shards", t_min_max_through_workers},
};

TH_MAIN(cases)
