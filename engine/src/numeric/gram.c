/* gram.c -- pmls_gram_add (pmlsaux.h): the rows of a column set's Gram
 * matrix from CSR data, for the Lasso's working-set solver
 * (models/lib/lasso_ws.lua), which grows the set and needs G = X_W'X_W of
 * it. It is C because its pair loop is branchy and indirect, which the JIT
 * handles poorly; it serves that one model, so it is declared in the
 * auxiliary header, not in pmls.h. Built with -O3 but without -ffast-math
 * or contraction into FMA, so sums come out as the plain loop's. */
#include "../../include/pmlsaux.h"

/* A row's entries in the set are gathered with the new ones first; each
 * new entry then pairs with every old one and with the new ones before it
 * (each unordered pair once), adding below the diagonal only: the caller
 * mirrors the new rows afterwards. */
void pmls_gram_add(int64_t nrows, const int64_t *rowptr, const int32_t *col,
                   const double *val, const int32_t *pos, int32_t first_new,
                   double *G, int64_t stride, int32_t *scratch_pos,
                   double *scratch_val) {
  for (int64_t i = 0; i < nrows; i++) {
    int64_t cnt = 0, nnew = 0;
    for (int64_t k = rowptr[i]; k < rowptr[i + 1]; k++) {
      int32_t a = pos[col[k]];
      if (a < 0) continue;
      scratch_pos[cnt] = a;
      scratch_val[cnt] = val[k];
      if (a >= first_new) { /* swap it into the new ones' prefix */
        scratch_pos[cnt] = scratch_pos[nnew];
        scratch_val[cnt] = scratch_val[nnew];
        scratch_pos[nnew] = a;
        scratch_val[nnew++] = val[k];
      }
      cnt++;
    }
    for (int64_t u = 0; u < nnew; u++) {
      int32_t a = scratch_pos[u];
      double x = scratch_val[u];
      double *row = G + (int64_t)a * stride;
      for (int64_t v = nnew; v < cnt; v++) row[scratch_pos[v]] += x * scratch_val[v];
      for (int64_t v = 0; v <= u; v++) {
        int32_t b = scratch_pos[v];
        if (b <= a) row[b] += x * scratch_val[v];
        else G[(int64_t)b * stride + a] += x * scratch_val[v];
      }
    }
  }
}
