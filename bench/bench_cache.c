/* bench_cache.c -- cached get + inc on dense rows, against a plain C axpy.
 *
 * What it measures: a worker thread's in-process hot path through the public
 * API, once its reads hit the process row cache: for every row of a ~4 MiB
 * float64 table, pmls_get_dense (the cached copy, plus the worker's own
 * pending increments added back) then pmls_inc_scaled (coalesced into the
 * oplog). The reference, timed in the same run and interleaved with it, is a
 * plain C axpy (y[r] += a * x) over the same rows held in one local array:
 * what the update costs with no parameter server at all. ratio = axpy time /
 * pmls time; the target is >= 0.5, i.e. the engine's bookkeeping may
 * at most double the bare arithmetic. A second reference (copy the row out,
 * then axpy: a local read plus update) is recorded for reading only.
 *
 * Why this way: the table's staleness is 1000 and no clock is called while
 * timing, so after one warm-up pass (which fetches each row once from the
 * server shard and creates its oplog entry) every read is a cache hit and no
 * flush happens; the run checks that from the table statistics and the
 * engine's message count, and a clock after each width keeps one width's
 * increments from pushing the next one's oplog past its flush. This isolates
 * the per-row cost of the client; the network paths are bench_stream and
 * bench_miss. Samples are short (about 2 ms) and a repeat is the median of 9
 * per side, interleaved: on a busy machine a long sample is almost always
 * preempted somewhere, a short one usually not. Three row widths (64, 256,
 * 1024 doubles) show how the fixed per-call cost amortises; each is its own
 * summary row, and the JSON headline is the middle width (256). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define TABLE_BYTES (4 << 20)
#define SUB 9 /* samples per side in one repeat */

static volatile double sink;

__attribute__((noinline)) static void axpy_pass(double *y, int64_t rows,
                                                int cols, const double *x,
                                                double a) {
  for (int64_t r = 0; r < rows; r++) {
    double *yr = y + r * cols;
    for (int j = 0; j < cols; j++) yr[j] += a * x[j];
  }
}

__attribute__((noinline)) static void copy_axpy_pass(double *y, int64_t rows,
                                                     int cols, const double *x,
                                                     double a, double *buf) {
  double s = 0;
  for (int64_t r = 0; r < rows; r++) {
    double *yr = y + r * cols;
    memcpy(buf, yr, (size_t)cols * sizeof *buf);
    s += buf[r % cols];
    for (int j = 0; j < cols; j++) yr[j] += a * x[j];
  }
  sink = s;
}

static void pmls_pass(pmls_client *c, int table, int64_t rows, int cols,
                      const double *x, double a, double *buf) {
  double s = 0;
  for (int64_t r = 0; r < rows; r++) {
    BENCH_CLIENT_OK(c, pmls_get_dense(c, table, r, buf));
    s += buf[r % cols];
    BENCH_CLIENT_OK(c, pmls_inc_scaled(c, table, r, x, a));
  }
  sink = s;
}

typedef struct {
  int cols;
  int64_t rows;
  int table;
  int passes;
  int64_t sent; /* messages the engine sent while timing: must be 0 */
  double *t_axpy, *t_copy, *t_pmls, *ratio, *ratio_copy;
} size_run;

int main(void) {
  const int R = bench_repeats();
  const int widths[] = {64, 256, 1024};
  enum { NW = 3 };
  size_run runs[NW];

  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = 1;
  cfg.servers = 1;
  cfg.quiet = 2;
  pmls_engine *e = bench_engine(&cfg);
  for (int w = 0; w < NW; w++) {
    size_run *s = &runs[w];
    memset(s, 0, sizeof *s);
    s->cols = widths[w];
    s->table = bench_hit_table(e, s->cols, TABLE_BYTES, &s->rows);
    s->t_axpy = calloc((size_t)R, sizeof(double));
    s->t_copy = calloc((size_t)R, sizeof(double));
    s->t_pmls = calloc((size_t)R, sizeof(double));
    s->ratio = calloc((size_t)R, sizeof(double));
    s->ratio_copy = calloc((size_t)R, sizeof(double));
  }
  pmls_client *c = NULL;
  BENCH_ENGINE_OK(e, pmls_client_open(e, 0, &c));

  double *x = malloc(1024 * sizeof *x);
  double *buf = malloc(1024 * sizeof *buf);
  double *y = malloc(TABLE_BYTES);
  for (int j = 0; j < 1024; j++) x[j] = 1e-3 * (double)(j % 17 + 1);
  for (size_t i = 0; i < TABLE_BYTES / sizeof *y; i++)
    y[i] = 0.01 * (double)(i % 101);
  const double a = -0.01;

  for (int w = 0; w < NW; w++) {
    size_run *s = &runs[w];
    /* Warm-up: every row fetched once (misses), every oplog entry created. */
    pmls_pass(c, s->table, s->rows, s->cols, x, a, buf);
    pmls_pass(c, s->table, s->rows, s->cols, x, a, buf);
    axpy_pass(y, s->rows, s->cols, x, a);
    /* Short samples (~2 ms of engine time), so that on a busy machine most
     * of them run without being preempted; a repeat is the median of SUB
     * interleaved samples per side. */
    pmls_stats before;
    BENCH_ENGINE_OK(e, pmls_engine_stats(e, &before));
    double t0 = bench_now();
    pmls_pass(c, s->table, s->rows, s->cols, x, a, buf);
    double one = bench_now() - t0;
    s->passes = one > 0 ? (int)(0.002 / one) + 1 : 1;
    if (s->passes > 100) s->passes = 100;
    for (int r = 0; r < R; r++) {
      double sub[3][SUB];
      for (int q = 0; q < SUB; q++) {
        /* Rotate the order so a drift in machine speed hits every side. */
        for (int k = 0; k < 3; k++) {
          int which = (k + q + r) % 3;
          double t = bench_now();
          for (int p = 0; p < s->passes; p++) {
            if (which == 0) axpy_pass(y, s->rows, s->cols, x, a);
            else if (which == 1) copy_axpy_pass(y, s->rows, s->cols, x, a, buf);
            else pmls_pass(c, s->table, s->rows, s->cols, x, a, buf);
          }
          sub[which][q] = (bench_now() - t) / s->passes;
        }
      }
      s->t_axpy[r] = bench_median(sub[0], SUB);
      s->t_copy[r] = bench_median(sub[1], SUB);
      s->t_pmls[r] = bench_median(sub[2], SUB);
      s->ratio[r] = s->t_axpy[r] / s->t_pmls[r];
      s->ratio_copy[r] = s->t_copy[r] / s->t_pmls[r];
    }
    /* Nothing may have been sent while timing: a flush would have made
     * the rows' history, and every later read would add it back. */
    pmls_stats after;
    BENCH_ENGINE_OK(e, pmls_engine_stats(e, &after));
    s->sent = after.messages_sent - before.messages_sent;
    /* The oplog flushes itself at 8 MiB: the next width's 4 MiB would
     * push this one's over it during its warm-up and leave every row of
     * both with history. A clock sends this width's increments first. */
    BENCH_CLIENT_OK(c, pmls_clock(c));
  }
  BENCH_CLIENT_OK(c, pmls_client_close(c));

  bench_json j;
  bj_open(&j, "cached_get_inc");
  bj_str(&j, "name", "cached_get_inc");
  bj_str(&j, "what", "worker get_dense (cache hit) + inc_scaled per row vs "
                     "plain C axpy per row, same bytes");
  bj_str(&j, "op", ">=");
  bj_num(&j, "target", 0.5);
  bj_int(&j, "repeats", R);
  bj_int(&j, "table_bytes", TABLE_BYTES);
  bj_int(&j, "samples_per_repeat", SUB);
  bj_str(&j, "headline", "cols=256");
  double headline = NAN;
  bj_begin(&j, "sizes", '[');
  for (int w = 0; w < NW; w++) {
    size_run *s = &runs[w];
    pmls_table_stats ts;
    BENCH_ENGINE_OK(e, pmls_table_stats_of(e, s->table, &ts));
    /* Every read after the first pass must have been a hit. */
    int64_t misses = ts.reads - ts.cache_hits;
    double ratio = bench_median(s->ratio, R);
    double ratio_copy = bench_median(s->ratio_copy, R);
    double ta = bench_median(s->t_axpy, R), tp = bench_median(s->t_pmls, R);
    double tc = bench_median(s->t_copy, R);
    const char *verdict = bench_verdict(ratio, ">=", 0.5);
    if (misses != s->rows || s->sent != 0) verdict = "ERROR";
    if (s->cols == 256) headline = ratio;
    char name[64], note[160];
    snprintf(name, sizeof name, "cached_get_inc cols=%d", s->cols);
    snprintf(note, sizeof note, "%.0f ns/row pmls, %.0f ns/row axpy",
             tp / (double)s->rows * 1e9, ta / (double)s->rows * 1e9);
    printf("%-34s ratio %.3f (C axpy %.3f ms / pmls %.3f ms per pass of %lld "
           "rows; copy+axpy ratio %.3f; %lld misses) target >= 0.5 %s\n",
           name, ratio, ta * 1e3, tp * 1e3, (long long)s->rows, ratio_copy,
           (long long)misses, verdict);
    bench_summary(name, ratio, ">=", 0.5, verdict, note);
    bj_begin(&j, NULL, '{');
    bj_int(&j, "cols", s->cols);
    bj_int(&j, "rows", s->rows);
    bj_int(&j, "passes_per_sample", s->passes);
    bj_num(&j, "ratio", ratio);
    bj_str(&j, "status", verdict);
    bj_num(&j, "ratio_vs_copy_axpy", ratio_copy);
    bj_num(&j, "axpy_pass_s", ta);
    bj_num(&j, "copy_axpy_pass_s", tc);
    bj_num(&j, "pmls_pass_s", tp);
    bj_num(&j, "pmls_ns_per_row", tp / (double)s->rows * 1e9);
    bj_num(&j, "axpy_ns_per_row", ta / (double)s->rows * 1e9);
    bj_int(&j, "reads", ts.reads);
    bj_int(&j, "cache_hits", ts.cache_hits);
    bj_nums(&j, "ratios", s->ratio, R);
    bj_end(&j, '}');
  }
  bj_end(&j, ']');
  bj_num(&j, "ratio", headline);
  bj_str(&j, "status", bench_verdict(headline, ">=", 0.5));
  bj_close(&j);

  pmls_engine_destroy(e);
  for (int w = 0; w < NW; w++) {
    free(runs[w].t_axpy);
    free(runs[w].t_copy);
    free(runs[w].t_pmls);
    free(runs[w].ratio);
    free(runs[w].ratio_copy);
  }
  free(x);
  free(buf);
  free(y);
  return 0;
}
