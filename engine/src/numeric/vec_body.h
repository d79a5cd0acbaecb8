/* vec_body.h -- the vector kernels of pmls.h written once, for one element
 * type and one instruction set. vec_scalar.c, vec_avx2.c and vec_avx512.c
 * include it once per element type, after defining
 *   T, V, W        the element type, the vector type and its lane count
 *   NACC           partial-sum vectors: PMI_VEC_LANES_* / W (vec.h)
 *   FN(name)       this instantiation's name for name
 *   VEC_ATTR       the functions' attributes (their target, or nothing)
 *   VZERO(), VSET1(x), VLOAD(p), VSTORE(p, v), VADD(a, b), VSUB(a, b),
 *   VMUL(a, b)     lane-wise operations; loads and stores need no alignment
 *   VLOADN(p, r), VSTOREN(p, r, v)
 *                  the first r < W lanes (loads give 0 in the others, stores
 *                  leave the memory past them alone)
 *   VHSUM(v)       the sum of v's lanes in halving order: lane j += lane
 *                  j + W/2, then j + W/4, ..., then lane 0 + lane 1
 * The scalar file makes V = T and W = 1, so the same text is the plain
 * loop. Every macro rounds once per operation, as C's own operators do
 * (-std=c11 keeps GCC from contracting a * b + c into an FMA), so the
 * versions differ only in how many lanes one instruction covers, never in
 * a result's bits: the dot products follow vec.h's layout, the rest is
 * element-wise.
 *
 * The sgd_mf step, for the rows u (user) and v (item), each view + scale *
 * delta (a missing view is zero, and then the value is scale * delta):
 *   dot  = the k factors' products, summed in vec.h's layout, in T
 *   pred = mu + u[k] + v[k] + dot        (in double, left to right)
 *   e    = rating - pred                 (double; returned)
 *   udelta[f] += gu * (e v[f] - lambda u[f])   f < k
 *   udelta[k] += gu * (e - lambda u[k])
 * and the same for idelta with gi and u, v swapped, all from the values
 * before the step, in T, with e, gu = lr_u / uscale, gi = lr_i / iscale
 * (divided in double) and lambda rounded to T. */

/* The row's value at [f, f + W): view + s * delta, or s * delta. */
VEC_ATTR static inline V FN(value)(const T *view, int64_t f, V delta, V s) {
  return view ? VADD(VLOAD(view + f), VMUL(s, delta)) : VMUL(s, delta);
}

/* The same for the r < W lanes from f. */
VEC_ATTR static inline V FN(value_n)(const T *view, int64_t f, int r, V delta,
                                     V s) {
  return view ? VADD(VLOADN(view + f, r), VMUL(s, delta)) : VMUL(s, delta);
}

/* Folds the partial sums in vec.h's tree (acc is consumed). */
VEC_ATTR static inline T FN(fold)(V *acc) {
  for (int h = NACC / 2; h >= 1; h /= 2)
    for (int j = 0; j < h; j++) acc[j] = VADD(acc[j], acc[j + h]);
  return VHSUM(acc[0]);
}

VEC_ATTR static T FN(dot_lanes)(int64_t n, const T *x, const T *y) {
  V acc[NACC];
  for (int j = 0; j < NACC; j++) acc[j] = VZERO();
  int64_t i = 0;
  for (; i + NACC * W <= n; i += NACC * W)
    for (int j = 0; j < NACC; j++)
      acc[j] = VADD(acc[j], VMUL(VLOAD(x + i + j * W), VLOAD(y + i + j * W)));
  int j = 0;
  for (; i + W <= n; i += W, j++)
    acc[j] = VADD(acc[j], VMUL(VLOAD(x + i), VLOAD(y + i)));
  if (i < n) {
    int r = (int)(n - i);
    acc[j] = VADD(acc[j], VMUL(VLOADN(x + i, r), VLOADN(y + i, r)));
  }
  return FN(fold)(acc);
}

VEC_ATTR static double FN(dot)(int64_t n, const T *x, const T *y) {
  return (double)FN(dot_lanes)(n, x, y);
}

VEC_ATTR static void FN(axpy)(int64_t n, T a, const T *x, T *y) {
  V va = VSET1(a);
  int64_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W)
    for (int j = 0; j < 4 * W; j += W)
      VSTORE(y + i + j, VADD(VLOAD(y + i + j), VMUL(va, VLOAD(x + i + j))));
  for (; i + W <= n; i += W)
    VSTORE(y + i, VADD(VLOAD(y + i), VMUL(va, VLOAD(x + i))));
  if (i < n) {
    int r = (int)(n - i);
    VSTOREN(y + i, r, VADD(VLOADN(y + i, r), VMUL(va, VLOADN(x + i, r))));
  }
}

VEC_ATTR static void FN(scale)(int64_t n, T a, T *x) {
  V va = VSET1(a);
  int64_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W)
    for (int j = 0; j < 4 * W; j += W)
      VSTORE(x + i + j, VMUL(va, VLOAD(x + i + j)));
  for (; i + W <= n; i += W) VSTORE(x + i, VMUL(va, VLOAD(x + i)));
  if (i < n) {
    int r = (int)(n - i);
    VSTOREN(x + i, r, VMUL(va, VLOADN(x + i, r)));
  }
}

/* One step (see the top). Inlined into the batch, so that a batch's steps
 * pay for neither a call nor the scales' conversion. */
VEC_ATTR static inline __attribute__((always_inline)) double
FN(sgd_step)(int32_t k, const T *uview, T *udelta, T us, const T *iview,
             T *idelta, T is, double rating, double mu, T gu, T gi, T lam) {
  V vus = VSET1(us), vis = VSET1(is);
  V acc[NACC];
  for (int j = 0; j < NACC; j++) acc[j] = VZERO();
  int64_t f = 0;
  int j = 0;
  for (; f + W <= k; f += W, j = (j + 1) % NACC) {
    V u = FN(value)(uview, f, VLOAD(udelta + f), vus);
    V v = FN(value)(iview, f, VLOAD(idelta + f), vis);
    acc[j] = VADD(acc[j], VMUL(u, v));
  }
  if (f < k) {
    int r = (int)(k - f);
    V u = FN(value_n)(uview, f, r, VLOADN(udelta + f, r), vus);
    V v = FN(value_n)(iview, f, r, VLOADN(idelta + f, r), vis);
    acc[j] = VADD(acc[j], VMUL(u, v));
  }
  T ub = uview ? uview[k] + us * udelta[k] : us * udelta[k];
  T vb = iview ? iview[k] + is * idelta[k] : is * idelta[k];
  double pred = mu + (double)ub + (double)vb + (double)FN(fold)(acc);
  double e = rating - pred;
  T te = (T)e;
  V ve = VSET1(te), vgu = VSET1(gu), vgi = VSET1(gi), vlam = VSET1(lam);
  for (f = 0; f + W <= k; f += W) {
    V ud = VLOAD(udelta + f), id = VLOAD(idelta + f);
    V u = FN(value)(uview, f, ud, vus), v = FN(value)(iview, f, id, vis);
    VSTORE(udelta + f, VADD(ud, VMUL(vgu, VSUB(VMUL(ve, v), VMUL(vlam, u)))));
    VSTORE(idelta + f, VADD(id, VMUL(vgi, VSUB(VMUL(ve, u), VMUL(vlam, v)))));
  }
  if (f < k) {
    int r = (int)(k - f);
    V ud = VLOADN(udelta + f, r), id = VLOADN(idelta + f, r);
    V u = FN(value_n)(uview, f, r, ud, vus), v = FN(value_n)(iview, f, r, id, vis);
    VSTOREN(udelta + f, r,
            VADD(ud, VMUL(vgu, VSUB(VMUL(ve, v), VMUL(vlam, u)))));
    VSTOREN(idelta + f, r,
            VADD(id, VMUL(vgi, VSUB(VMUL(ve, u), VMUL(vlam, v)))));
  }
  udelta[k] += gu * (te - lam * ub);
  idelta[k] += gi * (te - lam * vb);
  return e;
}

VEC_ATTR static double FN(sgd_mf)(int32_t k, const T *uview, T *udelta,
                                  double uscale, const T *iview, T *idelta,
                                  double iscale, double rating, double mu,
                                  double lr_u, double lr_i, double lambda) {
  return FN(sgd_step)(k, uview, udelta, (T)uscale, iview, idelta, (T)iscale,
                      rating, mu, (T)(lr_u / uscale), (T)(lr_i / iscale),
                      (T)lambda);
}

VEC_ATTR static double FN(sgd_mf_batch)(
    int32_t k, int64_t n, const int32_t *order, const int32_t *uslot,
    const int32_t *islot, const double *rating, const T *const *uviews,
    T *const *udeltas, double uscale, const T *const *iviews,
    T *const *ideltas, double iscale, double mu, double lr_u, double lr_i,
    double lambda) {
  T us = (T)uscale, is = (T)iscale, lam = (T)lambda;
  T gu = (T)(lr_u / uscale), gi = (T)(lr_i / iscale);
  size_t row_bytes = (size_t)(k + 1) * sizeof(T);
  double sse = 0;
  for (int64_t m = 0; m < n; m++) {
    if (m + PMI_VEC_AHEAD < n) {
      int64_t r = order ? order[m + PMI_VEC_AHEAD] : m + PMI_VEC_AHEAD;
      int32_t a = uslot[r], b = islot[r];
      if (uviews) pmi_vec_prefetch(uviews[a], row_bytes, 0);
      if (iviews) pmi_vec_prefetch(iviews[b], row_bytes, 0);
      pmi_vec_prefetch(udeltas[a], row_bytes, 1);
      pmi_vec_prefetch(ideltas[b], row_bytes, 1);
    }
    int64_t r = order ? order[m] : m;
    int32_t a = uslot[r], b = islot[r];
    double e = FN(sgd_step)(k, uviews ? uviews[a] : NULL, udeltas[a], us,
                            iviews ? iviews[b] : NULL, ideltas[b], is,
                            rating[r], mu, gu, gi, lam);
    sse += e * e;
  }
  return sse;
}
