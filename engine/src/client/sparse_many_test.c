/* sparse_many_test.c -- pmls_get_sparse_many through the public API: every
 * row as get_sparse reads it (the shards' copies with the reader's own
 * increments, pending and sent, merged in), over three shards, in pieces,
 * rows asked twice and in any order; the capacity protocol; the errors. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "harness.h"
#include "pmls.h"

enum { ROWS = 3000, COLS = 5000, ASKED = ROWS + 2 };

/* Row r holds (r % 5) * 60 pairs from the host: about 4 MB over three
 * shards, so each answers in more than one ROWS piece. */
static void fill(pmls_engine *e, int t) {
  pmls_client *h = NULL;
  CHECK_EQ_INT(pmls_client_open(e, -1, &h), PMLS_OK);
  static int32_t keys[300];
  static double vals[300];
  for (int64_t r = 0; r < ROWS; r++) {
    int n = (int)(r % 5) * 60;
    for (int j = 0; j < n; j++) {
      keys[j] = (int32_t)((r * 31 + j * 83) % COLS);
      vals[j] = (double)(r + 1) + 0.25 * j;
    }
    CHECK_EQ_INT(pmls_inc_pairs(h, t, r, n, keys, vals), PMLS_OK);
  }
  CHECK_EQ_INT(pmls_client_close(h), PMLS_OK);
}

/* Each asked row's pairs against get_sparse of the same row, in order. */
static int same_as_get_sparse(pmls_client *w, int t, const int64_t *rows,
                              const int64_t *off, const int32_t *keys,
                              const double *vals) {
  static int32_t k1[COLS];
  static double v1[COLS];
  for (int64_t i = 0; i < ASKED; i++) {
    int64_t n = -1;
    if (pmls_get_sparse(w, t, rows[i], k1, v1, COLS, &n) != PMLS_OK) return 0;
    if (off[i + 1] - off[i] != n) {
      th_fail(__FILE__, __LINE__, "row %lld: %lld pairs, get_sparse %lld",
              (long long)rows[i], (long long)(off[i + 1] - off[i]), (long long)n);
      return 0;
    }
    for (int64_t j = 0; j < n; j++)
      if (keys[off[i] + j] != k1[j] || vals[off[i] + j] != v1[j]) {
        th_fail(__FILE__, __LINE__, "row %lld pair %lld: (%d, %g), get_sparse (%d, %g)",
                (long long)rows[i], (long long)j, keys[off[i] + j], vals[off[i] + j],
                k1[j], v1[j]);
        return 0;
      }
  }
  return 1;
}

static void t_rows_as_get_sparse_reads_them(void) {
  pmls_engine *e = engine(1, 3);
  CHECK(e != NULL);
  pmls_table_spec s = dense(ROWS, COLS, PMLS_F64);
  s.layout = PMLS_SPARSE;
  int t = table(e, "s", s);
  CHECK(t >= 0);
  fill(e, t);
  pmls_client *w = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &w), PMLS_OK);
  /* the worker's own increments, not sent yet: a new key and an old one of
   * row 6, a row the host left empty (row 5) */
  int32_t ok[2] = {4999, (6 * 31) % COLS};
  double ov[2] = {-1.5, 100};
  CHECK_EQ_INT(pmls_inc_pairs(w, t, 6, 2, ok, ov), PMLS_OK);
  CHECK_EQ_INT(pmls_inc_pairs(w, t, 5, 1, ok, ov), PMLS_OK);
  int64_t *rows = malloc(ASKED * sizeof *rows);
  int64_t *off = malloc((ASKED + 1) * sizeof *off);
  for (int64_t i = 0; i < ROWS; i++) rows[i] = (i * 1237) % ROWS; /* all, shuffled */
  rows[ROWS] = 6, rows[ROWS + 1] = 5;                              /* asked twice */
  /* no room: the sizes come back, nothing else */
  off[ASKED] = -1;
  CHECK_EQ_INT(pmls_get_sparse_many(w, t, ASKED, rows, off, NULL, NULL, 0), PMLS_EINVAL);
  CHECK_STR_CONTAINS(pmls_client_errmsg(w), "capacity 0");
  int64_t total = off[ASKED];
  CHECK(total > 300000);
  int32_t *keys = malloc((size_t)total * sizeof *keys);
  double *vals = malloc((size_t)total * sizeof *vals);
  CHECK_EQ_INT(pmls_get_sparse_many(w, t, ASKED, rows, off, keys, vals, total - 1),
               PMLS_EINVAL);
  CHECK_EQ_INT(pmls_get_sparse_many(w, t, ASKED, rows, off, keys, vals, total), PMLS_OK);
  CHECK_EQ_INT(off[ASKED], total);
  CHECK(same_as_get_sparse(w, t, rows, off, keys, vals));
  /* row 5: the worker's pair alone; row 6: the host's 60 and the new key */
  int64_t i5 = 0, i6 = 0;
  for (int64_t i = 0; i < ROWS; i++) {
    if (rows[i] == 5) i5 = i;
    if (rows[i] == 6) i6 = i;
  }
  CHECK_EQ_INT(off[i5 + 1] - off[i5], 1);
  CHECK(keys[off[i5]] == 4999 && vals[off[i5]] == -1.5);
  CHECK_EQ_INT(off[i6 + 1] - off[i6], 61);
  /* sent (clock) and applied: the same values once more */
  CHECK_EQ_INT(pmls_clock(w), PMLS_OK);
  CHECK_EQ_INT(pmls_get_sparse_many(w, t, ASKED, rows, off, keys, vals, total), PMLS_OK);
  CHECK(same_as_get_sparse(w, t, rows, off, keys, vals));
  CHECK(keys[off[i5]] == 4999 && vals[off[i5]] == -1.5);
  CHECK_EQ_INT(pmls_client_close(w), PMLS_OK);
  free(rows), free(off), free(keys), free(vals);
  pmls_engine_destroy(e);
}

static void t_errors(void) {
  pmls_engine *e = engine(1, 2);
  CHECK(e != NULL);
  pmls_table_spec s = dense(10, 50, PMLS_I32);
  s.layout = PMLS_SPARSE;
  int t = table(e, "s", s), d = table(e, "d", dense(10, 50, PMLS_I32));
  CHECK(t >= 0 && d >= 0);
  pmls_client *w = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &w), PMLS_OK);
  int64_t rows[2] = {1, 10}, off[3];
  int32_t keys[8], vals[8];
  CHECK_EQ_INT(pmls_get_sparse_many(w, d, 1, rows, off, keys, vals, 8), PMLS_EINVAL);
  CHECK_STR_CONTAINS(pmls_client_errmsg(w), "dense");
  CHECK_EQ_INT(pmls_get_sparse_many(w, t, 2, rows, off, keys, vals, 8), PMLS_ERANGE);
  CHECK_STR_CONTAINS(pmls_client_errmsg(w), "10");
  CHECK_EQ_INT(pmls_get_sparse_many(w, t, -1, rows, off, keys, vals, 8), PMLS_EINVAL);
  CHECK_EQ_INT(pmls_get_sparse_many(w, t, 1, rows, off, keys, vals, -1), PMLS_EINVAL);
  CHECK_EQ_INT(pmls_get_sparse_many(w, t, 1, rows, NULL, keys, vals, 8), PMLS_EINVAL);
  CHECK_EQ_INT(pmls_get_sparse_many(w, 7, 1, rows, off, keys, vals, 8), PMLS_EINVAL);
  /* no rows: offsets[0] = 0 and nothing asked */
  off[0] = -1;
  CHECK_EQ_INT(pmls_get_sparse_many(w, t, 0, rows, off, keys, vals, 8), PMLS_OK);
  CHECK_EQ_INT(off[0], 0);
  /* an untouched row is empty */
  CHECK_EQ_INT(pmls_get_sparse_many(w, t, 1, rows, off, keys, vals, 8), PMLS_OK);
  CHECK_EQ_INT(off[1], 0);
  CHECK_EQ_INT(pmls_client_close(w), PMLS_OK);
  pmls_engine_destroy(e);
}

static const th_case cases[] = {
    {"get_sparse_many: rows as get_sparse reads them, own increments, 3 shards, pieces",
     t_rows_as_get_sparse_reads_them},
    {"get_sparse_many: dense table, bad row, count, capacity, arrays; no rows", t_errors},
};

TH_MAIN(cases)
