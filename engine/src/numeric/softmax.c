/* softmax.c -- the kernels of multinomial logistic regression
 * (models/mlr.lua, pmlsaux.h): a variance-reduced (SAGA) pass over CSR rows
 * and the evaluation of a model (log-loss, the predicted class and its
 * probability). Every row costs C times its nonzeros, C the classes, in
 * loops over the C weights of one feature, which sit side by side (the
 * weights are feature-major: w[j * C + k] for feature j and class k, the
 * biases at w[d * C + k]); the JIT would run these C-long inner loops with
 * a guard per element, here GCC vectorizes them (-O3 in the Makefile).
 * They take the caller's memory and never allocate. */
#include <math.h>

#include "../../include/pmlsaux.h"

/* Scores s[k] = w_k . x + b_k are turned into probabilities in place:
 * returns log sum_k exp(s[k]), computed from the largest score so that no
 * exp overflows. */
static double softmax_in_place(int32_t C, double *s) {
  double top = s[0];
  for (int32_t k = 1; k < C; k++) top = s[k] > top ? s[k] : top;
  double z = 0;
  for (int32_t k = 0; k < C; k++) {
    s[k] = exp(s[k] - top);
    z += s[k];
  }
  double inv = 1 / z;
  for (int32_t k = 0; k < C; k++) s[k] *= inv;
  return top + log(z);
}

/* Between the updates of its rows' features every weight follows
 * w <- (1 - lr l2) w - lr mu, so the non-bias weights are held as
 * a v + c mu (v in w's own storage): a step is two scalar updates and the
 * row's own features. settle() turns v back into plain weights. */
static void settle(int64_t n, double *w, const double *mu, double a, double c) {
  for (int64_t i = 0; i < n; i++) w[i] = a * w[i] + c * mu[i];
}

/* One pass of SAGA: see pmlsaux.h. The scratch `work` holds 3 C doubles:
 * the row's scores (then probabilities, then v's step per unit of x), its
 * scores against mu (then dmu's step) and the change of its derivative. */
double pmls_softmax_saga(int32_t C, int32_t d, const int64_t *rowptr,
                         const int32_t *col, const double *val, const int32_t *cls,
                         const int32_t *order, int64_t first, int64_t last, double *w,
                         const double *mu, double *dmu, double *snap, double n,
                         double lr, double l2, double *work) {
  const double shrink = 1 - lr * l2;
  const int64_t nw = (int64_t)d * C;
  double *sv = work, *sm = work + C, *chg = work + 2 * C;
  double *bias = w + nw;
  const double *mu_bias = mu + nw;
  double a = 1, c = 0, loss = 0;
  const double per_row = 1 / n;
  for (int64_t p = first; p < last; p++) {
    int64_t r = order ? order[p] : p;
    int64_t from = rowptr[r], to = rowptr[r + 1];
    for (int32_t k = 0; k < C; k++) sv[k] = 0, sm[k] = 0;
    for (int64_t e = from; e < to; e++) {
      const double x = val[e];
      const double *vj = w + (int64_t)col[e] * C, *mj = mu + (int64_t)col[e] * C;
      for (int32_t k = 0; k < C; k++) {
        sv[k] += vj[k] * x;
        sm[k] += mj[k] * x;
      }
    }
    for (int32_t k = 0; k < C; k++) sv[k] = a * sv[k] + c * sm[k] + bias[k];
    const int32_t y = cls[r];
    const double score_y = sv[y];
    loss += softmax_in_place(C, sv) - score_y;
    /* The derivative of the row's loss by its scores is p - e_y; the step
     * follows its change since the row's last visit, plus mu. */
    double *sr = snap + r * C;
    for (int32_t k = 0; k < C; k++) {
      double g = sv[k] - (k == y);
      chg[k] = g - sr[k];
      sr[k] = g;
    }
    a *= shrink;
    c = c * shrink - lr;
    const double on_v = -lr / a;
    for (int32_t k = 0; k < C; k++) {
      sm[k] = chg[k] * per_row; /* dmu's change per unit of x */
      sv[k] = chg[k] * on_v;    /* v's */
    }
    for (int64_t e = from; e < to; e++) {
      const double x = val[e];
      double *vj = w + (int64_t)col[e] * C, *dj = dmu + (int64_t)col[e] * C;
      for (int32_t k = 0; k < C; k++) {
        vj[k] += sv[k] * x;
        dj[k] += sm[k] * x;
      }
    }
    for (int32_t k = 0; k < C; k++) {
      dmu[nw + k] += sm[k];
      bias[k] -= lr * (chg[k] + mu_bias[k]);
    }
    if (a < 1e-100) { /* before v would have to hold weights too large for a double */
      settle(nw, w, mu, a, c);
      a = 1, c = 0;
    }
  }
  settle(nw, w, mu, a, c);
  return loss;
}

double pmls_softmax_eval(int32_t C, int32_t d, int64_t nrows, const int64_t *rowptr,
                         const int32_t *col, const double *val, const int32_t *cls,
                         const double *w, int32_t *pred, double *prob, int64_t *correct,
                         double *work) {
  const double *bias = w + (int64_t)d * C;
  double loss = 0;
  int64_t right = 0;
  for (int64_t r = 0; r < nrows; r++) {
    for (int32_t k = 0; k < C; k++) work[k] = bias[k];
    for (int64_t e = rowptr[r]; e < rowptr[r + 1]; e++) {
      if (col[e] >= d) continue; /* a feature the model never saw weighs 0 */
      const double x = val[e];
      const double *wj = w + (int64_t)col[e] * C;
      for (int32_t k = 0; k < C; k++) work[k] += wj[k] * x;
    }
    const double score_y = cls ? work[cls[r]] : 0;
    const double lse = softmax_in_place(C, work);
    int32_t best = 0; /* the first of equally likely classes */
    for (int32_t k = 1; k < C; k++) best = work[k] > work[best] ? k : best;
    if (cls) {
      loss += lse - score_y;
      right += best == cls[r];
    }
    if (pred) pred[r] = best;
    if (prob) prob[r] = work[best];
  }
  if (correct) *correct = right;
  return loss;
}
