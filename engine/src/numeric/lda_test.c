/* lda_test.c -- the LDA kernels (pmlsaux.h): counts stay consistent over
 * sweeps of both samplers, each sampler's chain has the exact posterior as
 * its law (enumerated on a tiny corpus), the log-likelihood parts against
 * hand sums, the error returns (a negative count, an overflowing list, bad
 * arguments), and the held-out estimator against exact values where they
 * are known. */
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
  static int32_t zero[V][K], wd[V][K], tv[K], td[K], z[TOK], ndk[DOCS * K], nzlist[2 * V * K], nzlen[V];
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

/* The chain's law. Four tokens in two documents over two words and three
 * topics: 81 assignments, whose posterior p(z | w) is enumerated here from
 * the collapsed joint; each sampler's chain, run for many sweeps, must
 * visit them in those proportions (total variation). The single draws are
 * checked against the conditional in spec/lda_spec.lua; this checks the
 * chain they make, counts moved between views and deltas as clocks move
 * them. A posterior of other priors is far from the exact one, so the
 * bound tells a wrong chain from sampling noise (a dense sampler whose
 * terms keep the token in its old topic stays consistent in its counts
 * but fails here). */
enum { KS = 3, VS = 2, DS = 2, TS = 4, NCONF = 81 };
static const int64_t tps[DS + 1] = {0, 2, TS};
static const int32_t tws[TS] = {0, 1, 1, 1};

static void posterior(double a, double b, double *p) {
  double sum = 0;
  for (int c = 0; c < NCONF; c++) {
    int zc[TS], ndk[DS][KS] = {{0}}, nwk[VS][KS] = {{0}}, nk[KS] = {0};
    for (int i = 0, x = c; i < TS; i++, x /= KS) zc[i] = x % KS;
    for (int d = 0; d < DS; d++)
      for (int64_t i = tps[d]; i < tps[d + 1]; i++) ndk[d][zc[i]]++, nwk[tws[i]][zc[i]]++, nk[zc[i]]++;
    double lp = 0;
    for (int k = 0; k < KS; k++) {
      for (int d = 0; d < DS; d++) lp += lgamma(a + ndk[d][k]);
      for (int w = 0; w < VS; w++) lp += lgamma(b + nwk[w][k]);
      lp -= lgamma(VS * b + nk[k]);
    }
    p[c] = exp(lp);
    sum += p[c];
  }
  for (int c = 0; c < NCONF; c++) p[c] /= sum;
}

static void law(int32_t sampler) {
  const double a = 0.3, b = 0.2, vb = VS * 0.2;
  int32_t view[VS][KS] = {{0}}, wd[VS][KS] = {{0}}, tv[KS] = {0}, td[KS] = {0};
  int32_t z[TS], ndk[DS * KS] = {0}, nzlist[2 * VS * KS], nzlen[VS] = {0};
  const int32_t *views[VS] = {view[0], view[1]};
  int32_t *deltas[VS] = {wd[0], wd[1]};
  int64_t nzoff[VS + 1] = {0, KS, 2 * KS};
  double work[3 * KS], exact[NCONF], other[NCONF], seen[NCONF] = {0};
  int32_t iwork[2 * KS];
  uint64_t rng[1] = {2024};
  CHECK_EQ_INT(pmls_lda_assign(KS, DS, tps, tws, z, ndk, deltas, td, rng), TS);
  enum { SWEEPS = 200000 };
  for (int n = 0; n < SWEEPS; n++) {
    for (int w = 0; w < VS; w++)
      for (int k = 0; k < KS; k++) view[w][k] += wd[w][k], wd[w][k] = 0;
    for (int k = 0; k < KS; k++) tv[k] += td[k], td[k] = 0;
    CHECK_EQ_INT(pmls_lda_sweep(KS, a, b, vb, sampler, DS, tps, tws, z, ndk, views, deltas, tv,
                                td, VS, nzoff, nzlist, nzlen, work, iwork, rng),
                 TS);
    int c = 0;
    for (int i = TS - 1; i >= 0; i--) c = c * KS + z[i];
    seen[c] += 1.0 / SWEEPS;
  }
  posterior(a, b, exact);
  posterior(3 * a, b / 4, other);
  double tv_seen = 0, tv_other = 0;
  for (int c = 0; c < NCONF; c++) {
    tv_seen += fabs(seen[c] - exact[c]) / 2;
    tv_other += fabs(other[c] - exact[c]) / 2;
  }
  CHECK(tv_seen < 0.02);
  CHECK(tv_other > 0.1);
}

static void t_dense_law(void) { law(PMLS_LDA_DENSE); }
static void t_sparse_law(void) { law(PMLS_LDA_SPARSE); }

/* The sparse sampler's lists are rebuilt at each sweep from the counts:
 * what they held before (the last sweep's order, nothing after a resume,
 * or garbage) must not change the draws. Three words over twelve topics
 * and a large alpha, so that the lists hold many equal counts. */
enum { K2 = 12, V2 = 3, D2 = 6, T2 = 180 };
static void t_sparse_lists_are_state_free(void) {
  static int32_t zero[V2][K2], wd[2][V2][K2], tv[K2], td[2][K2], z[2][T2], ndk[2][D2 * K2];
  static int32_t nzlist[2][2 * V2 * K2], nzlen[2][V2], tw[T2];
  const int32_t *views[V2];
  int32_t *deltas[2][V2];
  int64_t nzoff[V2 + 1], tp[D2 + 1];
  double work[3 * K2];
  int32_t iwork[2 * K2];
  for (int d = 0; d <= D2; d++) tp[d] = d * (T2 / D2);
  for (int i = 0; i < T2; i++) tw[i] = (i * 7 + i / 13) % V2;
  for (int w = 0; w < V2; w++) views[w] = zero[w], nzoff[w] = w * K2;
  nzoff[V2] = V2 * K2;
  for (int c = 0; c < 2; c++)
    for (int w = 0; w < V2; w++) deltas[c][w] = wd[c][w];
  uint64_t rng[2] = {9, 0};
  CHECK_EQ_INT(pmls_lda_assign(K2, D2, tp, tw, z[0], ndk[0], deltas[0], td[0], rng), T2);
  for (int sweep = 0; sweep < 20; sweep++)
    CHECK_EQ_INT(pmls_lda_sweep(K2, 2.0, 0.5, V2 * 0.5, PMLS_LDA_SPARSE, D2, tp, tw, z[0], ndk[0],
                                views, deltas[0], tv, td[0], V2, nzoff, nzlist[0], nzlen[0], work,
                                iwork, rng), T2);
  /* copy 1: the same counts and generator; its lists garbage or empty */
  memcpy(wd[1], wd[0], sizeof wd[0]), memcpy(td[1], td[0], sizeof td[0]);
  memcpy(z[1], z[0], sizeof z[0]), memcpy(ndk[1], ndk[0], sizeof ndk[0]);
  rng[1] = rng[0];
  for (int j = 0; j < 2 * V2 * K2; j++) nzlist[1][j] = (j * 7919) % (2 * K2) - 3;
  for (int w = 0; w < V2; w++) nzlen[1][w] = w % 2 ? K2 : 0;
  for (int sweep = 0; sweep < 5; sweep++)
    for (int c = 0; c < 2; c++)
      CHECK_EQ_INT(pmls_lda_sweep(K2, 2.0, 0.5, V2 * 0.5, PMLS_LDA_SPARSE, D2, tp, tw, z[c],
                                  ndk[c], views, deltas[c], tv, td[c], V2, nzoff, nzlist[c],
                                  nzlen[c], work, iwork, rng + c), T2);
  CHECK(memcmp(z[0], z[1], sizeof z[0]) == 0);
  CHECK(memcmp(wd[0], wd[1], sizeof wd[0]) == 0);
  CHECK(rng[0] == rng[1]);
}

/* A corpus where a sweep moves many tokens out of the last topic their
 * word held there (the sparse sampler sets those deltas in batches, and
 * at the end), with views that hold part of the counts, as after clocks:
 * after every sweep, view + delta must be the recount of the topics. */
enum { KB = 40, VB = 37, DB = 30, TB = 3000 };
static void t_sparse_counts_many_moves(void) {
  static int32_t view[VB][KB], wd[VB][KB], tv[KB], td[KB], z[TB], ndk[DB * KB];
  static int32_t nzlist[2 * VB * KB], nzlen[VB], tw[TB], count[VB][KB];
  const int32_t *views[VB];
  int32_t *deltas[VB];
  int64_t nzoff[VB + 1], tp[DB + 1];
  double work[3 * KB];
  int32_t iwork[2 * KB];
  for (int d = 0; d <= DB; d++) tp[d] = d * (TB / DB);
  for (int i = 0; i < TB; i++) tw[i] = (int32_t)((i * 7919u + (unsigned)(i / 100) * 31u) % VB);
  for (int w = 0; w < VB; w++) views[w] = view[w], deltas[w] = wd[w], nzoff[w] = w * KB;
  nzoff[VB] = VB * KB;
  uint64_t rng[1] = {77};
  CHECK_EQ_INT(pmls_lda_assign(KB, DB, tp, tw, z, ndk, deltas, td, rng), TB);
  int lost_most = 0;
  for (int sweep = 0; sweep < 12; sweep++) {
    if (sweep % 3 == 0) { /* a clock: the deltas move into the views */
      for (int w = 0; w < VB; w++)
        for (int k = 0; k < KB; k++) view[w][k] += wd[w][k], wd[w][k] = 0;
      for (int k = 0; k < KB; k++) tv[k] += td[k], td[k] = 0;
    }
    int32_t before[TB];
    memcpy(before, z, sizeof z);
    CHECK_EQ_INT(pmls_lda_sweep(KB, 0.02, 0.02, VB * 0.02, PMLS_LDA_SPARSE, DB, tp, tw, z, ndk,
                                views, deltas, tv, td, VB, nzoff, nzlist, nzlen, work, iwork,
                                rng), TB);
    memset(count, 0, sizeof count);
    for (int i = 0; i < TB; i++) count[tw[i]][z[i]]++;
    int wrong = 0, lost = 0;
    for (int w = 0; w < VB; w++)
      for (int k = 0; k < KB; k++) {
        wrong += view[w][k] + wd[w][k] != count[w][k];
        lost += count[w][k] == 0 && view[w][k] + wd[w][k] == 0 && view[w][k] != 0;
      }
    CHECK_EQ_INT(wrong, 0);
    int moved = 0;
    for (int i = 0; i < TB; i++) moved += before[i] != z[i];
    if (lost > lost_most) lost_most = lost;
    CHECK(moved > 0);
  }
  /* rows that held a topic in the view and hold none now, in one sweep:
   * more than one batch of them */
  CHECK(lost_most > 256);
}

/* Word rows as pairs (a sparse table) against views and deltas: from the
 * same generator, assign_pairs gives assign's topics and counts, and each
 * sweep_pairs the sweep's topics, its changes as pairs equal to the dense
 * deltas; rows keep keys whose count went back to zero, as a sparse
 * table's do, and the output fits 2 nzoff[nwords] pairs. */
static void t_sparse_pairs_as_rows(void) {
  static int32_t view[VB][KB], wd[VB][KB], tv[KB], td[2][KB], z[2][TB], ndk[2][DB * KB];
  static int32_t nzlist[2][2 * VB * KB], nzlen[2][VB], tw[TB], held[VB][KB];
  static int32_t ckeys[VB * KB], cvals[VB * KB], dkeys[2 * VB * KB], dvals[2 * VB * KB];
  const int32_t *views[VB];
  int32_t *deltas[VB];
  int64_t nzoff[VB + 1], tp[DB + 1], coff[VB + 1], doff[VB + 1];
  double work[3 * KB];
  int32_t iwork[2 * KB];
  for (int d = 0; d <= DB; d++) tp[d] = d * (TB / DB);
  for (int i = 0; i < TB; i++) tw[i] = (int32_t)((i * 7919u + (unsigned)(i / 100) * 31u) % VB);
  for (int w = 0; w < VB; w++) views[w] = view[w], deltas[w] = wd[w], nzoff[w] = w * KB;
  nzoff[VB] = VB * KB;
  uint64_t rng[2] = {5, 5};
  CHECK_EQ_INT(pmls_lda_assign(KB, DB, tp, tw, z[0], ndk[0], deltas, td[0], rng), TB);
  CHECK_EQ_INT(pmls_lda_assign_pairs(KB, DB, tp, tw, z[1], ndk[1], td[1], VB, nzoff, nzlist[1],
                                     doff, dkeys, dvals, 2 * VB * KB, rng + 1), TB);
  CHECK(memcmp(z[0], z[1], sizeof z[0]) == 0 && rng[0] == rng[1]);
  for (int w = 0; w < VB; w++)
    for (int64_t e = doff[w]; e < doff[w + 1]; e++) held[w][dkeys[e]] += dvals[e];
  CHECK(memcmp(held, wd, sizeof held) == 0);
  for (int sweep = 0; sweep < 8 && !th_failed(); sweep++) {
    /* a clock: the deltas into the views (dense), the changes into the
     * rows (pairs) */
    for (int w = 0; w < VB; w++)
      for (int k = 0; k < KB; k++) view[w][k] += wd[w][k], wd[w][k] = 0;
    for (int k = 0; k < KB; k++) tv[k] += td[0][k], td[0][k] = td[1][k] = 0;
    int64_t at = 0;
    for (int w = 0; w < VB; w++) { /* the rows' keys: every topic ever held */
      coff[w] = at;
      for (int k = 0; k < KB; k++)
        if (held[w][k] != 0 || (k + w + sweep) % 5 == 0) ckeys[at] = k, cvals[at++] = held[w][k];
    }
    coff[VB] = at;
    CHECK_EQ_INT(pmls_lda_sweep(KB, 0.02, 0.02, VB * 0.02, PMLS_LDA_SPARSE, DB, tp, tw, z[0],
                                ndk[0], views, deltas, tv, td[0], VB, nzoff, nzlist[0],
                                nzlen[0], work, iwork, rng), TB);
    CHECK_EQ_INT(pmls_lda_sweep_pairs(KB, 0.02, 0.02, VB * 0.02, DB, tp, tw, z[1], ndk[1], coff,
                                      ckeys, cvals, tv, td[1], VB, nzoff, nzlist[1], nzlen[1],
                                      work, iwork, doff, dkeys, dvals, 2 * VB * KB, rng + 1), TB);
    CHECK(memcmp(z[0], z[1], sizeof z[0]) == 0);
    CHECK(memcmp(td[0], td[1], sizeof td[0]) == 0);
    static int32_t change[VB][KB];
    memset(change, 0, sizeof change);
    for (int w = 0; w < VB; w++)
      for (int64_t e = doff[w]; e < doff[w + 1]; e++) {
        CHECK(dvals[e] != 0);
        change[w][dkeys[e]] += dvals[e];
      }
    CHECK(memcmp(change, wd, sizeof change) == 0);
    for (int w = 0; w < VB; w++)
      for (int k = 0; k < KB; k++) held[w][k] += change[w][k];
  }
  /* too little room for the changes */
  int64_t at = 0;
  for (int w = 0; w < VB; w++) {
    coff[w] = at;
    for (int k = 0; k < KB; k++)
      if (held[w][k]) ckeys[at] = k, cvals[at++] = held[w][k];
  }
  coff[VB] = at;
  CHECK_EQ_INT(pmls_lda_sweep_pairs(KB, 0.02, 0.02, VB * 0.02, DB, tp, tw, z[1], ndk[1], coff,
                                    ckeys, cvals, tv, td[1], VB, nzoff, nzlist[1], nzlen[1],
                                    work, iwork, doff, dkeys, dvals, 3, rng + 1), -2);
}

static void t_dense_counts(void) { run(PMLS_LDA_DENSE); }
static void t_sparse_counts(void) { run(PMLS_LDA_SPARSE); }

static void t_errors(void) {
  int32_t wd[1][2] = {{3, 0}}, zero[1][2] = {{0, 0}}, tv[2] = {0, 0}, td[2] = {3, 0};
  const int32_t *views[1] = {zero[0]};
  int32_t *deltas[1] = {wd[0]};
  int64_t tp[2] = {0, 3}, nzoff[2] = {0, 0}; /* no room for the word's topic */
  int32_t tw[3] = {0, 0, 0}, z[3] = {0, 0, 0}, ndk[2] = {3, 0}, nzlist[2], nzlen[1] = {0};
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
  CHECK(isnan(pmls_lda_heldout(2, 0.5, 0.1, 0.1, 0, 1, tp, tw, wd[0], td, work, iwork, rng)));
}

/* Held-out: with one topic every draw is forced and the estimate exact;
 * with two, the second token's probability given the first is
 * sum_z0 p(z0 | w0) p(w1 | z0), which the mean over many particles must
 * approach (the estimator is unbiased for it). */
static void t_heldout(void) {
  const double a = 0.5, b = 0.1, vb = 2 * 0.1;
  int32_t nwk1[2] = {3, 1}, nk1[1] = {4};
  int64_t tp[3] = {0, 3, 4};
  int32_t tw[4] = {0, 1, 0, 1};
  double work[3 * 2];
  int32_t iwork[(2 * 2 + 1) * 4000];
  uint64_t rng[1] = {7};
  double p0 = (3 + b) / (4 + vb), p1 = (1 + b) / (4 + vb);
  CHECK_NEAR(pmls_lda_heldout(1, a, b, vb, 4, 2, tp, tw, nwk1, nk1, work, iwork, rng),
             log(p0) + log(p1) + log(p0) + log(p1), 1e-12);
  /* K = 2: word 0 leans to topic 0, word 1 to topic 1 */
  int32_t nwk[4] = {9, 1, 2, 8}, nk[2] = {11, 9};
  int64_t tp2[2] = {0, 2};
  int32_t tw2[2] = {0, 1};
  double phi[2][2], prob0 = 0, pz0[2], prob1 = 0;
  for (int w = 0; w < 2; w++)
    for (int k = 0; k < 2; k++) phi[w][k] = (nwk[w * 2 + k] + b) / (nk[k] + vb);
  for (int k = 0; k < 2; k++) prob0 += a / (2 * a) * phi[0][k];
  for (int k = 0; k < 2; k++) pz0[k] = a * phi[0][k] / (a * (phi[0][0] + phi[0][1]));
  for (int z0 = 0; z0 < 2; z0++)
    for (int k = 0; k < 2; k++) prob1 += pz0[z0] * ((z0 == k) + a) / (2 * a + 1) * phi[1][k];
  double got = pmls_lda_heldout(2, a, b, vb, 4000, 1, tp2, tw2, nwk, nk, work, iwork, rng);
  CHECK_NEAR(got, log(prob0) + log(prob1), 0.01);
  /* a wrong draw (always topic 0, say) would be far off */
  double wrong = log(prob0) + log(((1 + a) * phi[1][0] + a * phi[1][1]) / (2 * a + 1));
  CHECK(fabs(got - wrong) > 0.1);
}

static const th_case cases[] = {
    {"lda: dense sweeps keep the counts consistent; LL parts", t_dense_counts},
    {"lda: sparse sweeps keep the counts consistent; LL parts", t_sparse_counts},
    {"lda: sparse sweeps that empty many topics leave view + delta the recount", t_sparse_counts_many_moves},
    {"lda: word rows as pairs: assign and sweeps draw as with views, changes = the deltas", t_sparse_pairs_as_rows},
    {"lda: the dense chain's law is the exact posterior", t_dense_law},
    {"lda: the sparse chain's law is the exact posterior", t_sparse_law},
    {"lda: sparse draws do not depend on the lists' old contents", t_sparse_lists_are_state_free},
    {"lda: overflow, bad arguments", t_errors},
    {"lda: held-out estimate against exact values", t_heldout},
};

TH_MAIN(cases)
