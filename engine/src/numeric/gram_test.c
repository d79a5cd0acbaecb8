/* gram_test.c -- pmls_gram_add (pmlsaux.h) against a brute-force Gram of
 * random sparse columns, grown in several steps like a working set. */
#include <stdint.h>

#include "harness.h"
#include "pmlsaux.h"
#include "../util/util.h"

static pmi_rng rng = {88172645463325252ull};
static double uniform(void) { return pmi_rng_uniform(&rng); }

enum { ROWS = 300, COLS = 60 };

static void t_gram_add_grows_like_brute_force(void) {
  /* a random CSR matrix, some rows empty, some dense */
  static int64_t rowptr[ROWS + 1];
  static int32_t col[ROWS * COLS];
  static double val[ROWS * COLS], dense[ROWS][COLS];
  int64_t nnz = 0;
  for (int i = 0; i < ROWS; i++) {
    rowptr[i] = nnz;
    double density = i % 17 == 0 ? 0 : (i % 11 == 0 ? 0.9 : 0.15);
    for (int c = 0; c < COLS; c++) {
      dense[i][c] = 0;
      if (uniform() < density) {
        dense[i][c] = uniform() * 2 - 1;
        col[nnz] = c;
        val[nnz++] = dense[i][c];
      }
    }
  }
  rowptr[ROWS] = nnz;
  /* the set grows by 7, 1, 20 and 12 columns, in a shuffled order */
  int32_t order[COLS], pos[COLS];
  for (int c = 0; c < COLS; c++) order[c] = c, pos[c] = -1;
  for (int c = COLS - 1; c > 0; c--) {
    int k = (int)(uniform() * (c + 1));
    int32_t t = order[c];
    order[c] = order[k], order[k] = t;
  }
  const int steps[] = {7, 1, 20, 12};
  const int64_t stride = 41;
  static double G[41 * 41];
  static int32_t spos[COLS];
  static double sval[COLS];
  for (size_t i = 0; i < sizeof G / sizeof G[0]; i++) G[i] = -1e300; /* unset */
  int m = 0;
  for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
    int first = m;
    for (int t = 0; t < steps[s]; t++) pos[order[m + t]] = m + t;
    m += steps[s];
    for (int a = first; a < m; a++)
      for (int b = 0; b <= a; b++) G[a * stride + b] = 0;
    pmls_gram_add(ROWS, rowptr, col, val, pos, first, G, stride, spos, sval);
    for (int a = 0; a < m; a++) {
      for (int b = 0; b <= a; b++) {
        double want = 0;
        for (int i = 0; i < ROWS; i++) want += dense[i][order[a]] * dense[i][order[b]];
        CHECK_NEAR(G[a * stride + b], want, 1e-12);
      }
      /* nothing above the diagonal of a new row is written */
      if (a >= first)
        for (int b = a + 1; b < stride; b++) CHECK_EQ_DBL(G[a * stride + b], -1e300);
    }
  }
}

static const th_case cases[] = {
    {"gram_add: lower triangle of a growing set's Gram", t_gram_add_grows_like_brute_force},
};

TH_MAIN(cases)
