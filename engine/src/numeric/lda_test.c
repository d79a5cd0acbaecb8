/* lda_test.c -- the LDA kernels (pmlsaux.h): counts stay consistent over
 * sweeps of both samplers, the log-likelihood parts against hand sums, and
 * the error returns (a negative count, an overflowing list, bad arguments). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "pmlsaux.h"

enum { K = 6, V = 5, DOCS = 4, TOK = 23 };

/* Four documents over five words; the store's rows are all delta (zero views). */
static int64_t tokptr[DOCS + 1] = {0, 5, 11, 18, TOK};
static int32_t tokword[TOK] = {0, 1, 1, 2, 4, 0, 0, 3, 3, 4, 2, 1, 2, 3, 4, 4, 0, 0, 2, 2, 1, 1, 3};

static void run(int32_t sampler) {
  static int32_t zero[V][K], wd[V][K], tv[K], td[K], z[TOK], ndk[DOCS * K], nzlist[V * K], nzlen[V];
  const int32_t *views[V];
  int32_t *deltas[V];
  int64_t nzoff[V + 1];
  double work[3 * K];
  int32_t iwork[2 * K];
  memset(wd, 0, sizeof wd), memset(td, 0, sizeof td), memset(ndk, 0, sizeof ndk);
  memset(tv, 0, sizeof tv);
  for (int w = 0; w < V; w++) views[w] = zero[w], deltas[w] = wd[w], nzoff[w] = w * K;
  nzoff[V] = V * K;
  uint64_t rng[1] = {42};
  CHECK_EQ_INT(pmls_lda_assign(K, DOCS, tokptr, tokword, z, ndk, deltas, td, rng), TOK);
  for (int sweep = 0; sweep < 50; sweep++) {
    CHECK_EQ_INT(pmls_lda_sweep(K, 0.1, 0.01, V * 0.01, sampler, DOCS, tokptr, tokword, z, ndk,
                                views, deltas, tv, td, V, nzoff, nzlist, nzlen, work, iwork, rng),
                 TOK);
    /* the word-topic columns add up to the totals, the documents' counts to their lengths */
    for (int k = 0; k < K; k++) {
      int sum = 0;
      for (int w = 0; w < V; w++) { CHECK(wd[w][k] >= 0); sum += wd[w][k]; }
      CHECK_EQ_INT(sum, td[k]);
    }
    for (int d = 0; d < DOCS; d++) {
      int sum = 0;
      for (int k = 0; k < K; k++) { CHECK(ndk[d * K + k] >= 0); sum += ndk[d * K + k]; }
      CHECK_EQ_INT(sum, tokptr[d + 1] - tokptr[d]);
    }
    for (int i = 0; i < TOK; i++) CHECK(z[i] >= 0 && z[i] < K);
  }
  /* the parts of the log-likelihood against direct sums */
  double atab[4], btab[4];
  pmls_lda_lgamma_table(0.1, 4, atab);
  pmls_lda_lgamma_table(0.01, 4, btab);
  double want = 0;
  for (int d = 0; d < DOCS; d++) {
    for (int k = 0; k < K; k++)
      if (ndk[d * K + k] > 0) want += lgamma(0.1 + ndk[d * K + k]) - lgamma(0.1);
    want += lgamma(0.1 * K) - lgamma(0.1 * K + (double)(tokptr[d + 1] - tokptr[d]));
  }
  CHECK_NEAR(pmls_lda_ll_docs(K, DOCS, tokptr, ndk, 0.1, atab, 4), want, 1e-9);
  const int32_t *rows[V];
  for (int w = 0; w < V; w++) rows[w] = wd[w];
  int64_t nz = 0, nz_want = 0;
  want = 0;
  for (int w = 0; w < V; w++)
    for (int k = 0; k < K; k++)
      if (wd[w][k] > 0) { want += lgamma(0.01 + wd[w][k]); nz_want++; }
  CHECK_NEAR(pmls_lda_ll_rows(K, V, rows, 0.01, btab, 4, &nz), want, 1e-9);
  CHECK_EQ_INT(nz, nz_want);
  /* a count that goes negative (the store lost a token) is reported */
  int32_t t = z[0];
  wd[tokword[0]][t] = 0;
  CHECK_EQ_INT(pmls_lda_sweep(K, 0.1, 0.01, V * 0.01, sampler, DOCS, tokptr, tokword, z, ndk,
                              views, deltas, tv, td, V, nzoff, nzlist, nzlen, work, iwork, rng),
               -1);
}

static void t_dense_counts(void) { run(PMLS_LDA_DENSE); }
static void t_sparse_counts(void) { run(PMLS_LDA_SPARSE); }

static void t_errors(void) {
  int32_t wd[1][2] = {{3, 0}}, zero[1][2] = {{0, 0}}, tv[2] = {0, 0}, td[2] = {3, 0};
  const int32_t *views[1] = {zero[0]};
  int32_t *deltas[1] = {wd[0]};
  int64_t tp[2] = {0, 3}, nzoff[2] = {0, 0}; /* no room for the word's topic */
  int32_t tw[3] = {0, 0, 0}, z[3] = {0, 0, 0}, ndk[2] = {3, 0}, nzlist[2], nzlen[1];
  double work[6];
  int32_t iwork[4];
  uint64_t rng[1] = {1};
  CHECK_EQ_INT(pmls_lda_sweep(2, 0.5, 0.1, 0.1, PMLS_LDA_SPARSE, 1, tp, tw, z, ndk, views, deltas,
                              tv, td, 1, nzoff, nzlist, nzlen, work, iwork, rng), -2);
  CHECK_EQ_INT(pmls_lda_sweep(2, 0, 0.1, 0.1, PMLS_LDA_DENSE, 1, tp, tw, z, ndk, views, deltas,
                              tv, td, 1, nzoff, nzlist, nzlen, work, iwork, rng), -3);
  CHECK_EQ_INT(pmls_lda_sweep(2, 0.5, 0.1, 0.1, 7, 1, tp, tw, z, ndk, views, deltas,
                              tv, td, 1, nzoff, nzlist, nzlen, work, iwork, rng), -3);
  CHECK_EQ_INT(pmls_lda_assign(0, 1, tp, tw, z, ndk, deltas, td, rng), -1);
  CHECK(isnan(pmls_lda_heldout(2, 0.5, 0.1, 0.1, 0, 1, tp, tw, wd[0], td, work, iwork, work, rng)));
}

static const th_case cases[] = {
    {"lda: dense sweeps keep the counts consistent; LL parts", t_dense_counts},
    {"lda: sparse sweeps keep the counts consistent; LL parts", t_sparse_counts},
    {"lda: overflow, bad arguments", t_errors},
};

TH_MAIN(cases)
