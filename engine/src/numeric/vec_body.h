/* vec_body.h -- the vector kernels of pmls.h written once, for one element
 * type and one instruction set. vec_scalar.c, vec_avx2.c and vec_avx512.c
 * include it once per element type, after defining
 *   T, V, W        the element type, the vector type and its lane count
 *   NACC           partial-sum vectors, a number: PMI_VEC_LANES_* / W
 *   FN(name)       this instantiation's name for name
 *   VEC_ATTR       the functions' attributes (their target, or nothing)
 *   VZERO(), VSET1(x), VLOAD(p), VSTORE(p, v), VADD(a, b), VSUB(a, b),
 *   VMUL(a, b)     lane-wise operations; loads and stores need no alignment
 *   VLOADN(p, r), VSTOREN(p, r, v)
 *                  the first r < W lanes (loads give 0 in the others, stores
 *                  leave the memory past them alone)
 *   VHSUM(v)       the sum of v's lanes in halving order: lane j += lane
 *                  j + W/2, then j + W/4, ..., then lane 0 + lane 1
 *   VEC_KEEP_GROUP 1 when a group's 5 NACC vectors fit in the registers
 * The scalar file makes V = T and W = 1 and gets the dot product and the
 * step as plain loops over the same partial sums; the vector files get
 * them in groups of NACC vectors, unrolled so that the sums stay in
 * registers. Every macro rounds once per operation, as C's own operators
 * do (-std=c11 keeps GCC from contracting a * b + c into an FMA), so the
 * versions differ only in how many lanes one instruction covers, never in
 * a result's bits: the dot products follow vec.h's layout (element i into
 * sum i mod LANES, that is vector (i / W) mod NACC, lane i mod W), the
 * rest is element-wise.
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

_Static_assert(NACC * W == (sizeof(T) == 8 ? PMI_VEC_LANES_F64 : PMI_VEC_LANES_F32),
               "NACC vectors of W lanes are vec.h's partial sums");

/* Unrolls the loop over a group's NACC vectors (GCC would not, with the
 * branches inside, and would keep the vectors in memory). */
#define VEC_PRAGMA(x) _Pragma(#x)
#define VEC_UNROLL_BY(n) VEC_PRAGMA(GCC unroll n)
#undef VEC_UNROLL
#define VEC_UNROLL VEC_UNROLL_BY(NACC)

#if W == 1

/* The plain loops. */

VEC_ATTR static double FN(dot)(int64_t n, const T *x, const T *y) {
  T acc[NACC] = {0};
  for (int64_t i = 0; i < n; i++) acc[i % NACC] += x[i] * y[i];
  for (int h = NACC / 2; h >= 1; h /= 2)
    for (int j = 0; j < h; j++) acc[j] += acc[j + h];
  return (double)acc[0];
}

/* Not inlined into the batch: GCC compiles these loops worse inside the
 * batch's loop (a batch of scalar steps took 1.3x the time of as many
 * calls, bench/bench_kernels.c). */
static __attribute__((noinline)) double
FN(sgd_step)(int32_t k, const T *uview, T *udelta, T us, const T *iview,
             T *idelta, T is, double rating, double mu, T gu, T gi, T lam) {
  T acc[NACC] = {0};
  for (int64_t f = 0; f < k; f++) {
    T u = uview ? uview[f] + us * udelta[f] : us * udelta[f];
    T v = iview ? iview[f] + is * idelta[f] : is * idelta[f];
    acc[f % NACC] += u * v;
  }
  for (int h = NACC / 2; h >= 1; h /= 2)
    for (int j = 0; j < h; j++) acc[j] += acc[j + h];
  T ub = uview ? uview[k] + us * udelta[k] : us * udelta[k];
  T vb = iview ? iview[k] + is * idelta[k] : is * idelta[k];
  double e = rating - (mu + (double)ub + (double)vb + (double)acc[0]);
  T te = (T)e;
  for (int64_t f = 0; f < k; f++) {
    T u = uview ? uview[f] + us * udelta[f] : us * udelta[f];
    T v = iview ? iview[f] + is * idelta[f] : is * idelta[f];
    udelta[f] += gu * (te * v - lam * u);
    idelta[f] += gi * (te * u - lam * v);
  }
  udelta[k] += gu * (te - lam * ub);
  idelta[k] += gi * (te - lam * vb);
  return e;
}

#else

/* The vector forms. */

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

VEC_ATTR static double FN(dot)(int64_t n, const T *x, const T *y) {
  V acc[NACC];
  VEC_UNROLL
  for (int j = 0; j < NACC; j++) acc[j] = VZERO();
  int64_t i = 0;
  for (; i + NACC * W <= n; i += NACC * W) {
    VEC_UNROLL
    for (int j = 0; j < NACC; j++)
      acc[j] = VADD(acc[j], VMUL(VLOAD(x + i + j * W), VLOAD(y + i + j * W)));
  }
  VEC_UNROLL
  for (int j = 0; j < NACC; j++) {
    int64_t at = i + (int64_t)j * W, left = n - at;
    if (left >= W)
      acc[j] = VADD(acc[j], VMUL(VLOAD(x + at), VLOAD(y + at)));
    else if (left > 0)
      acc[j] = VADD(acc[j], VMUL(VLOADN(x + at, (int)left), VLOADN(y + at, (int)left)));
  }
  return (double)FN(fold)(acc);
}

/* A block of a row pair at [at, at + W), or its first left < W lanes
 * (zeros past them; all zeros when left <= 0): the deltas and the values.
 * Every block of a group is loaded, even an empty one, so that the group's
 * vectors are plain variables to the compiler, kept in registers: adding
 * an empty block's 0 to a partial sum changes nothing (a sum that starts
 * at +0 is never -0). */
VEC_ATTR static inline __attribute__((always_inline)) void
FN(load_pair)(const T *uview, const T *udelta, V vus, const T *iview,
              const T *idelta, V vis, int64_t at, int64_t left, V *ud, V *id,
              V *u, V *v) {
  if (left >= W) {
    *ud = VLOAD(udelta + at);
    *id = VLOAD(idelta + at);
    *u = FN(value)(uview, at, *ud, vus);
    *v = FN(value)(iview, at, *id, vis);
  } else if (left > 0) {
    int r = (int)left;
    *ud = VLOADN(udelta + at, r);
    *id = VLOADN(idelta + at, r);
    *u = FN(value_n)(uview, at, r, *ud, vus);
    *v = FN(value_n)(iview, at, r, *id, vis);
  } else {
    *ud = *id = *u = *v = VZERO();
  }
}

/* The step's update of that block (see the top). */
VEC_ATTR static inline __attribute__((always_inline)) void
FN(step_pair)(T *udelta, T *idelta, int64_t at, int64_t left, V ud, V id, V u,
              V v, V ve, V vgu, V vgi, V vlam) {
  V nu = VADD(ud, VMUL(vgu, VSUB(VMUL(ve, v), VMUL(vlam, u))));
  V ni = VADD(id, VMUL(vgi, VSUB(VMUL(ve, u), VMUL(vlam, v))));
  if (left >= W) {
    VSTORE(udelta + at, nu);
    VSTORE(idelta + at, ni);
  } else {
    VSTOREN(udelta + at, (int)left, nu);
    VSTOREN(idelta + at, (int)left, ni);
  }
}

/* One step (see the top). Inlined into the batch, so that a batch's steps
 * pay for neither a call nor the scales' conversion. With VEC_KEEP_GROUP
 * (AVX-512: 32 registers), the last group of NACC vectors (the whole row
 * when k <= 32 in f64, k <= 64 in f32) keeps its values in registers from
 * the dot product to the update, and only the groups before it are read
 * again for the update; without it (AVX2: 16 registers, fewer than the
 * group's 40 vectors) every block is. Either way the blocks go into the
 * partial sums as in dot. */
VEC_ATTR static inline __attribute__((always_inline)) double
FN(sgd_step_views)(int32_t k, const T *uview, T *udelta, T us,
                   const T *iview, T *idelta, T is, double rating, double mu,
                   T gu, T gi, T lam) {
  V vus = VSET1(us), vis = VSET1(is);
  V acc[NACC], ud[NACC], id[NACC], u[NACC], v[NACC];
  VEC_UNROLL
  for (int j = 0; j < NACC; j++) acc[j] = VZERO();
  int64_t group = 0; /* where the last group starts */
  if (k > NACC * W)
    for (; group + NACC * W <= k; group += NACC * W) {
      VEC_UNROLL
      for (int j = 0; j < NACC; j++) {
        V bu, bv, bud, bid;
        FN(load_pair)(uview, udelta, vus, iview, idelta, vis, group + j * W, W,
                      &bud, &bid, &bu, &bv);
        acc[j] = VADD(acc[j], VMUL(bu, bv));
      }
    }
  VEC_UNROLL
  for (int j = 0; j < NACC; j++) {
    int64_t at = group + (int64_t)j * W;
    FN(load_pair)(uview, udelta, vus, iview, idelta, vis, at, k - at, &ud[j],
                  &id[j], &u[j], &v[j]);
    acc[j] = VADD(acc[j], VMUL(u[j], v[j]));
  }
  T ub = uview ? uview[k] + us * udelta[k] : us * udelta[k];
  T vb = iview ? iview[k] + is * idelta[k] : is * idelta[k];
  double pred = mu + (double)ub + (double)vb + (double)FN(fold)(acc);
  double e = rating - pred;
  T te = (T)e;
  V ve = VSET1(te), vgu = VSET1(gu), vgi = VSET1(gi), vlam = VSET1(lam);
  int64_t kept = VEC_KEEP_GROUP ? group : k; /* blocks from here are in registers */
  for (int64_t at = 0; at < kept; at += W) {
    V bu, bv, bud, bid;
    FN(load_pair)(uview, udelta, vus, iview, idelta, vis, at, k - at, &bud,
                  &bid, &bu, &bv);
    FN(step_pair)(udelta, idelta, at, k - at, bud, bid, bu, bv, ve, vgu, vgi,
                  vlam);
  }
  if (VEC_KEEP_GROUP) {
    VEC_UNROLL
    for (int j = 0; j < NACC; j++) {
      int64_t at = group + (int64_t)j * W, left = k - at;
      if (left > 0)
        FN(step_pair)(udelta, idelta, at, left, ud[j], id[j], u[j], v[j], ve,
                      vgu, vgi, vlam);
    }
  }
  udelta[k] += gu * (te - lam * ub);
  idelta[k] += gi * (te - lam * vb);
  return e;
}

/* sgd_step_views with each view known to be there or not, so that no
 * loop asks. */
VEC_ATTR static inline __attribute__((always_inline)) double
FN(sgd_step)(int32_t k, const T *uview, T *udelta, T us, const T *iview,
             T *idelta, T is, double rating, double mu, T gu, T gi, T lam) {
  if (uview && iview)
    return FN(sgd_step_views)(k, uview, udelta, us, iview, idelta, is, rating,
                              mu, gu, gi, lam);
  if (uview)
    return FN(sgd_step_views)(k, uview, udelta, us, NULL, idelta, is, rating,
                              mu, gu, gi, lam);
  if (iview)
    return FN(sgd_step_views)(k, NULL, udelta, us, iview, idelta, is, rating,
                              mu, gu, gi, lam);
  return FN(sgd_step_views)(k, NULL, udelta, us, NULL, idelta, is, rating, mu,
                            gu, gi, lam);
}

#endif

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
    /* Through an order, the ratings' own entries are scattered too: they
     * are asked for further ahead, so that the rows' addresses are at hand
     * when those are asked for. */
    if (order && m + 4 * PMI_VEC_AHEAD < n) {
      int64_t r = order[m + 4 * PMI_VEC_AHEAD];
      __builtin_prefetch(uslot + r, 0, PMI_VEC_LOCALITY);
      __builtin_prefetch(islot + r, 0, PMI_VEC_LOCALITY);
      __builtin_prefetch(rating + r, 0, PMI_VEC_LOCALITY);
    }
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
