/* bench_views.c -- an update through row views and delta pointers, against
 * a plain C axpy.
 *
 * What it measures: the hot path model scripts use since views exist. A
 * pass over a ~4 MiB float64 table is what a worker does in a clock: one
 * pmls_view_many and one pmls_delta_many for every row (cache hits; the
 * pending increments already exist), then per row a read of the view and
 * y += a x written into the delta (pmls_axpy_f64). The reference, timed in
 * the same run and interleaved with it, is the same read and axpy over the
 * rows held in one local array: the update with no parameter server at
 * all. ratio = axpy time / pmls time; the target is >= 0.8 at every
 * width. Each pass pays the lookups of every row once, as a clock does; a
 * model that updates a row many times per clock (MF: tens of ratings per
 * row) amortises them further, which this does not count.
 *
 * Why this way: staleness 1000 and no clock while timing, so every read is
 * a cache hit and nothing is flushed (checked from the table statistics).
 * Samples are short (about 2 ms) and a repeat is the median of 9 per side,
 * interleaved, as in bench_cache.c. Widths 64, 256 and 1024 doubles are
 * each a summary row; the JSON headline is the narrowest (64), where the
 * per-row lookups weigh most. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define TABLE_BYTES (4 << 20)
#define SUB 9

static volatile double sink;

__attribute__((noinline)) static void axpy_pass(double *y, int64_t rows,
                                                int cols, const double *x,
                                                double a) {
  double s = 0;
  for (int64_t r = 0; r < rows; r++) {
    double *yr = y + r * cols;
    s += yr[r % cols];
    for (int j = 0; j < cols; j++) yr[j] += a * x[j];
  }
  sink = s;
}

static void view_pass(pmls_client *c, int table, int64_t rows, int cols,
                      const int64_t *ids, const void **views, void **deltas,
                      const double *x, double a) {
  BENCH_CLIENT_OK(c, pmls_view_many(c, table, rows, ids, views));
  BENCH_CLIENT_OK(c, pmls_delta_many(c, table, rows, ids, deltas));
  double s = 0;
  for (int64_t r = 0; r < rows; r++) {
    const double *v = views[r];
    s += v[r % cols];
    pmls_axpy_f64(cols, a, x, deltas[r]);
  }
  sink = s;
}

typedef struct {
  int cols;
  int64_t rows;
  int table;
  int passes;
  double *t_axpy, *t_pmls, *ratio;
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
    s->t_pmls = calloc((size_t)R, sizeof(double));
    s->ratio = calloc((size_t)R, sizeof(double));
  }
  pmls_client *c = NULL;
  BENCH_ENGINE_OK(e, pmls_client_open(e, 0, &c));

  int64_t max_rows = TABLE_BYTES / (64 * (int64_t)sizeof(double));
  int64_t *ids = malloc((size_t)max_rows * sizeof *ids);
  const void **views = malloc((size_t)max_rows * sizeof *views);
  void **deltas = malloc((size_t)max_rows * sizeof *deltas);
  double *x = malloc(1024 * sizeof *x);
  double *y = malloc(TABLE_BYTES);
  if (!ids || !views || !deltas || !x || !y) {
    fprintf(stderr, "bench_views: out of memory\n");
    return 1;
  }
  for (int64_t r = 0; r < max_rows; r++) ids[r] = r;
  for (int j = 0; j < 1024; j++) x[j] = 1e-3 * (double)(j % 17 + 1);
  for (size_t i = 0; i < TABLE_BYTES / sizeof *y; i++)
    y[i] = 0.01 * (double)(i % 101);
  const double a = -0.01;

  for (int w = 0; w < NW; w++) {
    size_run *s = &runs[w];
    /* Warm-up: every row fetched once (misses), every delta made. */
    view_pass(c, s->table, s->rows, s->cols, ids, views, deltas, x, a);
    view_pass(c, s->table, s->rows, s->cols, ids, views, deltas, x, a);
    axpy_pass(y, s->rows, s->cols, x, a);
    double t0 = bench_now();
    view_pass(c, s->table, s->rows, s->cols, ids, views, deltas, x, a);
    double one = bench_now() - t0;
    s->passes = one > 0 ? (int)(0.002 / one) + 1 : 1;
    if (s->passes > 100) s->passes = 100;
    for (int r = 0; r < R; r++) {
      double sub[2][SUB];
      for (int q = 0; q < SUB; q++) {
        for (int k = 0; k < 2; k++) {
          int which = (k + q + r) % 2;
          double t = bench_now();
          for (int p = 0; p < s->passes; p++) {
            if (which == 0) axpy_pass(y, s->rows, s->cols, x, a);
            else view_pass(c, s->table, s->rows, s->cols, ids, views, deltas, x, a);
          }
          sub[which][q] = (bench_now() - t) / s->passes;
        }
      }
      s->t_axpy[r] = bench_median(sub[0], SUB);
      s->t_pmls[r] = bench_median(sub[1], SUB);
      s->ratio[r] = s->t_axpy[r] / s->t_pmls[r];
    }
  }
  BENCH_CLIENT_OK(c, pmls_client_close(c));

  bench_json j;
  bj_open(&j, "view_delta_axpy");
  bj_str(&j, "name", "view_delta_axpy");
  bj_str(&j, "what", "worker view_many + delta_many per pass (cache hits), then "
                     "per row a view read and an axpy into the delta, vs plain C "
                     "read + axpy per row, same bytes");
  bj_str(&j, "op", ">=");
  bj_num(&j, "target", 0.8);
  bj_int(&j, "repeats", R);
  bj_int(&j, "table_bytes", TABLE_BYTES);
  bj_int(&j, "samples_per_repeat", SUB);
  bj_str(&j, "headline", "cols=64");
  double headline = NAN;
  bj_begin(&j, "sizes", '[');
  for (int w = 0; w < NW; w++) {
    size_run *s = &runs[w];
    pmls_table_stats ts;
    BENCH_ENGINE_OK(e, pmls_table_stats_of(e, s->table, &ts));
    int64_t misses = ts.reads - ts.cache_hits;
    double ratio = bench_median(s->ratio, R);
    double ta = bench_median(s->t_axpy, R), tp = bench_median(s->t_pmls, R);
    const char *verdict = bench_verdict(ratio, ">=", 0.8);
    if (misses != s->rows) verdict = "ERROR";
    if (s->cols == 64) headline = ratio;
    char name[64], note[160];
    snprintf(name, sizeof name, "view_delta_axpy cols=%d", s->cols);
    snprintf(note, sizeof note, "%.1f ns/row pmls, %.1f ns/row axpy",
             tp / (double)s->rows * 1e9, ta / (double)s->rows * 1e9);
    printf("%-34s ratio %.3f (C axpy %.3f ms / pmls %.3f ms per pass of %lld "
           "rows; %lld misses) target >= 0.8 %s\n", name, ratio, ta * 1e3,
           tp * 1e3, (long long)s->rows, (long long)misses, verdict);
    bench_summary(name, ratio, ">=", 0.8, verdict, note);
    bj_begin(&j, NULL, '{');
    bj_int(&j, "cols", s->cols);
    bj_int(&j, "rows", s->rows);
    bj_int(&j, "passes_per_sample", s->passes);
    bj_num(&j, "ratio", ratio);
    bj_str(&j, "status", verdict);
    bj_num(&j, "axpy_pass_s", ta);
    bj_num(&j, "pmls_pass_s", tp);
    bj_num(&j, "pmls_ns_per_row", tp / (double)s->rows * 1e9);
    bj_num(&j, "axpy_ns_per_row", ta / (double)s->rows * 1e9);
    bj_nums(&j, "ratios", s->ratio, R);
    bj_end(&j, '}');
  }
  bj_end(&j, ']');
  bj_num(&j, "ratio", headline);
  bj_str(&j, "status", bench_verdict(headline, ">=", 0.8));
  bj_close(&j);

  pmls_engine_destroy(e);
  for (int w = 0; w < NW; w++) {
    free(runs[w].t_axpy);
    free(runs[w].t_pmls);
    free(runs[w].ratio);
  }
  free(ids);
  free(views);
  free(deltas);
  free(x);
  free(y);
  return 0;
}
