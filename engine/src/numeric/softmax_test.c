/* softmax_test.c -- the multinomial logistic regression kernels
 * (pmlsaux.h): a SAGA pass equals the same steps taken the plain way (every
 * weight updated at every step, no a v + c mu bookkeeping), including the
 * rescaling when a grows small, and the evaluation against hand sums. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "pmlsaux.h"

enum { C = 3, D = 4, N = 5, W = (D + 1) * C };

/* Five rows over four features; row 3 is empty. */
static const int64_t rowptr[N + 1] = {0, 2, 5, 6, 6, 8};
static const int32_t col[8] = {0, 3, 1, 2, 3, 0, 1, 2};
static const double val[8] = {1.5, -0.5, 2.0, 1.0, 0.25, -1.0, 0.5, 3.0};
static const int32_t cls[N] = {0, 2, 1, 1, 2};

/* The same SAGA steps with dense updates. */
static double plain_saga(const int32_t *order, int64_t first, int64_t last, double *w,
                         const double *mu, double *dmu, double *snap, double n, double lr,
                         double l2) {
  double loss = 0;
  for (int64_t p = first; p < last; p++) {
    int64_t r = order[p];
    double s[C], g[C], chg[C], top = -INFINITY, z = 0;
    for (int k = 0; k < C; k++) {
      s[k] = w[D * C + k];
      for (int64_t e = rowptr[r]; e < rowptr[r + 1]; e++) s[k] += w[col[e] * C + k] * val[e];
      top = fmax(top, s[k]);
    }
    for (int k = 0; k < C; k++) z += exp(s[k] - top);
    loss += top + log(z) - s[cls[r]];
    for (int k = 0; k < C; k++) {
      g[k] = exp(s[k] - top) / z - (k == cls[r]);
      chg[k] = g[k] - snap[r * C + k];
      snap[r * C + k] = g[k];
    }
    for (int j = 0; j < D * C; j++) w[j] -= lr * (mu[j] + l2 * w[j]);
    for (int k = 0; k < C; k++) {
      for (int64_t e = rowptr[r]; e < rowptr[r + 1]; e++) {
        w[col[e] * C + k] -= lr * chg[k] * val[e];
        dmu[col[e] * C + k] += chg[k] * val[e] / n;
      }
      w[D * C + k] -= lr * (chg[k] + mu[D * C + k]);
      dmu[D * C + k] += chg[k] / n;
    }
  }
  return loss;
}

/* passes passes over order[1 .. len - 1] (rows may repeat: each visit
 * replaces the row's snapshot, as in the plain steps). */
static void compare(const int32_t *order, int64_t len, double lr, double l2, int passes) {
  double w[W] = {0}, v[W] = {0}, mu[W], dmu[W] = {0}, dmu2[W] = {0};
  double snap[N * C] = {0}, snap2[N * C] = {0}, work[3 * C];
  for (int j = 0; j < W; j++) mu[j] = 0.01 * (j % 7) - 0.02, w[j] = v[j] = 0.1 * (j % 5) - 0.2;
  for (int t = 0; t < passes; t++) {
    double a = pmls_softmax_saga(C, D, rowptr, col, val, cls, order, 1, len, w, mu, dmu, snap, 10.0,
                                 lr, l2, work);
    double b = plain_saga(order, 1, len, v, mu, dmu2, snap2, 10.0, lr, l2);
    CHECK_NEAR(a, b, 1e-10 * fmax(1, fabs(b)));
  }
  for (int j = 0; j < W; j++) {
    CHECK_NEAR(w[j], v[j], 1e-10 * fmax(1, fabs(v[j])));
    CHECK_NEAR(dmu[j], dmu2[j], 1e-12);
  }
  for (int i = 0; i < N * C; i++) CHECK_NEAR(snap[i], snap2[i], 1e-12);
}

static void t_saga_plain(void) {
  const int32_t order[N] = {3, 1, 4, 0, 2};
  compare(order, N, 0.3, 0.05, 6);
}

/* A shrink of 1e-12 a step takes a below 1e-100 within the pass, and 40
 * steps would take it past the smallest double: the kernel must settle on
 * the way and still agree. */
static void t_saga_rescale(void) {
  int32_t order[41];
  for (int i = 0; i < 41; i++) order[i] = (i * 3) % N;
  compare(order, 41, 0.5, 2 * (1 - 1e-12), 2);
}

static void t_eval(void) {
  double w[W], work[C], prob[N];
  int32_t pred[N];
  int64_t correct = -1;
  for (int j = 0; j < W; j++) w[j] = 0.3 * ((j * 7) % 5) - 0.6;
  double loss = pmls_softmax_eval(C, D, N, rowptr, col, val, cls, w, pred, prob, &correct, work);
  double want = 0;
  int64_t right = 0;
  for (int r = 0; r < N; r++) {
    double s[C], z = 0;
    int best = 0;
    for (int k = 0; k < C; k++) {
      s[k] = w[D * C + k];
      for (int64_t e = rowptr[r]; e < rowptr[r + 1]; e++) s[k] += w[col[e] * C + k] * val[e];
      z += exp(s[k]);
      if (s[k] > s[best]) best = k;
    }
    want += log(z) - s[cls[r]];
    right += best == cls[r];
    CHECK_EQ_INT(pred[r], best);
    CHECK_NEAR(prob[r], exp(s[best]) / z, 1e-14);
  }
  CHECK_NEAR(loss, want, 1e-12);
  CHECK_EQ_INT(correct, right);
  /* no labels: no loss; features at or past d weigh nothing */
  CHECK_EQ_DBL(pmls_softmax_eval(C, D, N, rowptr, col, val, NULL, w, NULL, NULL, NULL, work), 0.0);
  double w1[2 * C], wz[W];
  memcpy(wz, w, sizeof wz);
  for (int j = C; j < D * C; j++) wz[j] = 0; /* features 1 .. D - 1 weigh 0 */
  for (int k = 0; k < C; k++) w1[k] = w[k], w1[C + k] = w[D * C + k];
  CHECK_EQ_DBL(pmls_softmax_eval(C, 1, N, rowptr, col, val, cls, w1, NULL, NULL, NULL, work),
               pmls_softmax_eval(C, D, N, rowptr, col, val, cls, wz, NULL, NULL, NULL, work));
}

static const th_case cases[] = {
    {"softmax: a SAGA pass equals the plain steps", t_saga_plain},
    {"softmax: the same when a is rescaled on the way", t_saga_rescale},
    {"softmax: evaluation against hand sums", t_eval},
};

TH_MAIN(cases)
