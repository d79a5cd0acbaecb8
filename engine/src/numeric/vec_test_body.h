/* vec_test_body.h -- vec_test.c's checks for one element type, included
 * once for double and once for float after defining T, SFX ("f64" or
 * "f32"), KERNEL(ops, name) (the table's name_f64 or name_f32), LANES
 * (vec.h's partial sums), EPS (the type's epsilon), BATCH_TOLERANCE and
 * FN(name).
 *
 * Every check runs one version (a pmi_vec_ops table) against a plain
 * loop written here from pmls.h's definitions, on random data at every
 * length in `sizes` and at start offsets of 0..3 elements (so no start is
 * aligned to a vector), with guard elements before and after each array
 * that must not move; and holds its results to the scalar table's, bit for
 * bit. */

/* A buffer of n elements at offset off (0..3) from a 64-byte boundary,
 * with GUARD sentinel elements on either side. */
static T *FN(buffer)(int64_t n, int off) {
  size_t bytes = ((size_t)(n + 2 * GUARD + 4) * sizeof(T) + 63) / 64 * 64;
  T *base = aligned_alloc(64, bytes);
  if (!base || nbuffers == MAX_BUFFERS) abort();
  T *p = base + GUARD + off; /* GUARD elements span whole 64-byte lines */
  for (int64_t i = -GUARD; i < n + GUARD; i++) p[i] = (T)SENTINEL;
  buffers[nbuffers++] = base;
  return p;
}

/* The dot product in vec.h's layout, written out: LANES partial sums in
 * T, term i into sum i mod LANES, folded by halving. */
static double FN(layout_dot)(int64_t n, const T *x, const T *y) {
  T acc[LANES] = {0};
  for (int64_t i = 0; i < n; i++) acc[i % LANES] += x[i] * y[i];
  for (int h = LANES / 2; h >= 1; h /= 2)
    for (int j = 0; j < h; j++) acc[j] += acc[j + h];
  return (double)acc[0];
}

static void FN(fill)(T *p, int64_t n, double lo, double hi) {
  for (int64_t i = 0; i < n; i++) p[i] = (T)(lo + (hi - lo) * uniform());
}

static int FN(guards_intact)(const T *p, int64_t n) {
  for (int64_t i = 1; i <= GUARD; i++)
    if (p[-i] != (T)SENTINEL || p[n - 1 + i] != (T)SENTINEL) return 0;
  return 1;
}

static void FN(check_dot)(const pmi_vec_ops *o) {
  free_buffers(); /* what a failed check before left */
  for (int s = 0; s < NSIZES; s++)
    for (int off = 0; off < 4; off++) {
      int64_t n = sizes[s];
      T *x = FN(buffer)(n, off), *y = FN(buffer)(n, (off + 1) % 4);
      FN(fill)(x, n, -1, 1);
      FN(fill)(y, n, -2, 2);
      long double exact = 0, magnitude = 0;
      for (int64_t i = 0; i < n; i++) {
        exact += (long double)x[i] * y[i];
        magnitude += fabsl((long double)x[i] * y[i]);
      }
      WHERE("%s dot_%s n=%lld off=%d", o->isa, SFX, (long long)n, off);
      double got = KERNEL(o, dot)(n, x, y);
      double bound = ((double)n / LANES + 6) * EPS * (double)magnitude;
      CHECK_HERE(fabsl((long double)got - exact) <= bound);
      CHECK_HERE(got == FN(layout_dot)(n, x, y));
      CHECK_HERE(got == KERNEL(&pmi_vec_scalar, dot)(n, x, y));
      CHECK_HERE(FN(guards_intact)(x, n) && FN(guards_intact)(y, n));
      free_buffers();
    }
}

static void FN(check_axpy_scale)(const pmi_vec_ops *o) {
  free_buffers(); /* what a failed check before left */
  for (int s = 0; s < NSIZES; s++)
    for (int off = 0; off < 4; off++) {
      int64_t n = sizes[s];
      T *x = FN(buffer)(n, off), *y = FN(buffer)(n, 3 - off);
      T *want = FN(buffer)(n, 0);
      FN(fill)(x, n, -1, 1);
      FN(fill)(y, n, -3, 3);
      T a = (T)(uniform() - 0.3);
      for (int64_t i = 0; i < n; i++) want[i] = y[i] + a * x[i];
      WHERE("%s axpy_%s n=%lld off=%d", o->isa, SFX, (long long)n, off);
      KERNEL(o, axpy)(n, a, x, y);
      CHECK_HERE(n == 0 || memcmp(y, want, (size_t)n * sizeof(T)) == 0);
      CHECK_HERE(FN(guards_intact)(x, n) && FN(guards_intact)(y, n));
      for (int64_t i = 0; i < n; i++) want[i] = a * y[i];
      WHERE("%s scale_%s n=%lld off=%d", o->isa, SFX, (long long)n, off);
      KERNEL(o, scale)(n, a, y);
      CHECK_HERE(n == 0 || memcmp(y, want, (size_t)n * sizeof(T)) == 0);
      CHECK_HERE(FN(guards_intact)(y, n));
      free_buffers();
    }
}

/* A row's value, pmls.h's view + scale * delta (scale * delta without a
 * view), in T. */
static void FN(value)(int32_t k, const T *view, const T *delta, T s, T *out) {
  for (int32_t f = 0; f <= k; f++)
    out[f] = view ? view[f] + s * delta[f] : s * delta[f];
}

/* The step's e from a sequential sum in long double, and the bound on the
 * kernel's distance from it: the dot's (pmls.h) plus the few additions of
 * pred in double. */
static long double FN(ref_error)(int32_t k, const T *u, const T *v,
                                 double rating, double mu, double *bound) {
  long double dot = 0, magnitude = 0;
  for (int32_t f = 0; f < k; f++) {
    dot += (long double)u[f] * v[f];
    magnitude += fabsl((long double)u[f] * v[f]);
  }
  long double pred = (long double)mu + u[k] + v[k] + dot;
  *bound = ((double)k / LANES + 6) * EPS * (double)magnitude +
           8 * DBL_EPSILON * (fabs(mu) + fabs((double)u[k]) + fabs((double)v[k]) +
                              (double)magnitude + fabs(rating));
  return (long double)rating - pred;
}

/* pmls.h's update of the deltas, from the values u, v before the step and
 * the step's e. */
static void FN(ref_update)(int32_t k, const T *u, const T *v, T *udelta,
                           T *idelta, double e, double us, double is,
                           double lr_u, double lr_i, double lambda) {
  T te = (T)e, gu = (T)(lr_u / us), gi = (T)(lr_i / is), lam = (T)lambda;
  for (int32_t f = 0; f < k; f++) {
    udelta[f] += gu * (te * v[f] - lam * u[f]);
    idelta[f] += gi * (te * u[f] - lam * v[f]);
  }
  udelta[k] += gu * (te - lam * u[k]);
  idelta[k] += gi * (te - lam * v[k]);
}

static void FN(check_sgd_mf)(const pmi_vec_ops *o) {
  free_buffers(); /* what a failed check before left */
  static const double scales[][2] = {{1, 1}, {1, 4}, {0.75, 3}};
  for (int s = 0; s < NSIZES; s++)
    for (int off = 0; off < 4; off++)
      for (int views = 0; views < 4; views++)
        for (int sc = 0; sc < 3; sc++) {
          int32_t k = (int32_t)sizes[s], width = k + 1;
          double us = scales[sc][0], is = scales[sc][1];
          T *uview = views & 1 ? FN(buffer)(width, off) : NULL;
          T *iview = views & 2 ? FN(buffer)(width, (off + 1) % 4) : NULL;
          T *udelta = FN(buffer)(width, (off + 2) % 4);
          T *idelta = FN(buffer)(width, (off + 3) % 4);
          if (uview) FN(fill)(uview, width, -0.5, 0.5);
          if (iview) FN(fill)(iview, width, -0.5, 0.5);
          FN(fill)(udelta, width, -0.1, 0.1);
          FN(fill)(idelta, width, -0.1, 0.1);
          T *u = FN(buffer)(width, 0), *v = FN(buffer)(width, 0);
          FN(value)(k, uview, udelta, (T)us, u);
          FN(value)(k, iview, idelta, (T)is, v);
          T *uwant = FN(buffer)(width, 0), *iwant = FN(buffer)(width, 0);
          T *uscalar = FN(buffer)(width, 0), *iscalar = FN(buffer)(width, 0);
          memcpy(uwant, udelta, (size_t)width * sizeof(T));
          memcpy(iwant, idelta, (size_t)width * sizeof(T));
          memcpy(uscalar, udelta, (size_t)width * sizeof(T));
          memcpy(iscalar, idelta, (size_t)width * sizeof(T));
          double rating = 1 + 4 * uniform(), mu = 3.5, bound;
          long double want_e = FN(ref_error)(k, u, v, rating, mu, &bound);
          WHERE("%s sgd_mf_%s k=%d off=%d views=%d scales=%g,%g", o->isa, SFX,
                k, off, views, us, is);
          double e = KERNEL(o, sgd_mf)(k, uview, udelta, us, iview, idelta,
                                        is, rating, mu, 0.05, 0.2, 0.1);
          CHECK_HERE(fabsl((long double)e - want_e) <= bound);
          /* pred sums the factors as the dot kernel does */
          CHECK_HERE(e == rating - (mu + (double)u[k] + (double)v[k] +
                                    FN(layout_dot)(k, u, v)));
          FN(ref_update)(k, u, v, uwant, iwant, e, us, is, 0.05, 0.2, 0.1);
          CHECK_HERE(memcmp(udelta, uwant, (size_t)width * sizeof(T)) == 0);
          CHECK_HERE(memcmp(idelta, iwant, (size_t)width * sizeof(T)) == 0);
          double e_scalar = KERNEL(&pmi_vec_scalar, sgd_mf)(
              k, uview, uscalar, us, iview, iscalar, is, rating, mu, 0.05, 0.2, 0.1);
          CHECK_HERE(e == e_scalar);
          CHECK_HERE(memcmp(udelta, uscalar, (size_t)width * sizeof(T)) == 0);
          CHECK_HERE(memcmp(idelta, iscalar, (size_t)width * sizeof(T)) == 0);
          CHECK_HERE(FN(guards_intact)(udelta, width) && FN(guards_intact)(idelta, width));
          CHECK_HERE(!uview || FN(guards_intact)(uview, width));
          CHECK_HERE(!iview || FN(guards_intact)(iview, width));
          free_buffers();
        }
}

/* One batch's rows: NUSERS user and NITEMS item slots, each row at its own
 * offset; user slot 2 has no view. */
typedef struct {
  T *uview[NUSERS], *udelta[NUSERS], *iview[NITEMS], *idelta[NITEMS];
} FN(rows);

static void FN(rows_new)(FN(rows) *r, int32_t width) {
  for (int s = 0; s < NUSERS; s++) {
    r->uview[s] = s == 2 ? NULL : FN(buffer)(width, s % 4);
    if (r->uview[s]) FN(fill)(r->uview[s], width, -0.5, 0.5);
    r->udelta[s] = FN(buffer)(width, (s + 1) % 4);
    FN(fill)(r->udelta[s], width, -0.05, 0.05);
  }
  for (int s = 0; s < NITEMS; s++) {
    r->iview[s] = FN(buffer)(width, (s + 2) % 4);
    FN(fill)(r->iview[s], width, -0.5, 0.5);
    r->idelta[s] = FN(buffer)(width, (s + 3) % 4);
    FN(fill)(r->idelta[s], width, -0.05, 0.05);
  }
}

/* A copy of r's deltas (the views are shared: nothing writes them). */
static void FN(rows_copy)(FN(rows) *dst, const FN(rows) *r, int32_t width) {
  *dst = *r;
  for (int s = 0; s < NUSERS; s++) {
    dst->udelta[s] = FN(buffer)(width, 3 - s % 4);
    memcpy(dst->udelta[s], r->udelta[s], (size_t)width * sizeof(T));
  }
  for (int s = 0; s < NITEMS; s++) {
    dst->idelta[s] = FN(buffer)(width, s % 4);
    memcpy(dst->idelta[s], r->idelta[s], (size_t)width * sizeof(T));
  }
}

static int FN(rows_equal)(const FN(rows) *a, const FN(rows) *b, int32_t width) {
  for (int s = 0; s < NUSERS; s++)
    if (memcmp(a->udelta[s], b->udelta[s], (size_t)width * sizeof(T))) return 0;
  for (int s = 0; s < NITEMS; s++)
    if (memcmp(a->idelta[s], b->idelta[s], (size_t)width * sizeof(T))) return 0;
  return 1;
}

/* The largest distance between two copies' deltas. */
static double FN(rows_distance)(const FN(rows) *a, const FN(rows) *b, int32_t width) {
  double d = 0;
  for (int s = 0; s < NUSERS; s++)
    for (int32_t f = 0; f < width; f++)
      d = fmax(d, fabs((double)a->udelta[s][f] - (double)b->udelta[s][f]));
  for (int s = 0; s < NITEMS; s++)
    for (int32_t f = 0; f < width; f++)
      d = fmax(d, fabs((double)a->idelta[s][f] - (double)b->idelta[s][f]));
  return d;
}

static void FN(check_sgd_mf_batch)(const pmi_vec_ops *o) {
  free_buffers(); /* what a failed check before left */
  static const int32_t ks[] = {0, 5, 32, 33, 65};
  enum { N = 300 };
  int32_t uslot[N], islot[N], order[N];
  double rating[N];
  const double us = 1, is = 4, mu = 3.5, lr_u = 0.02, lr_i = 0.08, lambda = 0.05;
  for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++)
    for (int variant = 0; variant < 3; variant++) {
      /* 0: an order; 1: no order; 2: an order and no item views. */
      int32_t k = ks[ki], width = k + 1;
      for (int m = 0; m < N; m++) {
        uslot[m] = (int32_t)(uniform() * NUSERS);
        islot[m] = (int32_t)(uniform() * NITEMS);
        rating[m] = 1 + 4 * uniform();
        order[m] = m;
      }
      for (int m = N - 1; m > 0; m--) {
        int j = (int)(uniform() * (m + 1));
        int32_t t = order[m];
        order[m] = order[j];
        order[j] = t;
      }
      const int32_t *ord = variant == 1 ? NULL : order;
      FN(rows) start, got, steps, scalar, ref;
      FN(rows_new)(&start, width);
      if (variant == 2)
        for (int s = 0; s < NITEMS; s++) start.iview[s] = NULL;
      FN(rows_copy)(&got, &start, width);
      FN(rows_copy)(&steps, &start, width);
      FN(rows_copy)(&scalar, &start, width);
      FN(rows_copy)(&ref, &start, width);
      const T *const *iviews = variant == 2 ? NULL : (const T *const *)got.iview;
      WHERE("%s sgd_mf_batch_%s k=%d variant=%d", o->isa, SFX, k, variant);
      double sse = KERNEL(o, sgd_mf_batch)(
          k, N, ord, uslot, islot, rating, (const T *const *)got.uview,
          got.udelta, us, iviews, got.idelta, is, mu, lr_u, lr_i, lambda);
      /* The same as one step at a time, in order, with this version. */
      double sse_steps = 0;
      for (int m = 0; m < N; m++) {
        int r = ord ? ord[m] : m, a = uslot[r], b = islot[r];
        double e = KERNEL(o, sgd_mf)(k, steps.uview[a], steps.udelta[a], us,
                                      steps.iview[b], steps.idelta[b], is,
                                      rating[r], mu, lr_u, lr_i, lambda);
        sse_steps += e * e;
      }
      CHECK_HERE(sse == sse_steps);
      CHECK_HERE(FN(rows_equal)(&got, &steps, width));
      /* The same as the scalar version's batch. */
      double sse_scalar = KERNEL(&pmi_vec_scalar, sgd_mf_batch)(
          k, N, ord, uslot, islot, rating, (const T *const *)scalar.uview,
          scalar.udelta, us, iviews, scalar.idelta, is, mu, lr_u, lr_i, lambda);
      CHECK_HERE(sse == sse_scalar);
      CHECK_HERE(FN(rows_equal)(&got, &scalar, width));
      /* Near the plain loop's, which sums each dot in sequence. */
      double sse_ref = 0;
      T *u = FN(buffer)(width, 0), *v = FN(buffer)(width, 0);
      for (int m = 0; m < N; m++) {
        int r = ord ? ord[m] : m, a = uslot[r], b = islot[r];
        FN(value)(k, ref.uview[a], ref.udelta[a], (T)us, u);
        FN(value)(k, ref.iview[b], ref.idelta[b], (T)is, v);
        double bound;
        double e = (double)FN(ref_error)(k, u, v, rating[r], mu, &bound);
        FN(ref_update)(k, u, v, ref.udelta[a], ref.idelta[b], e, us, is, lr_u,
                       lr_i, lambda);
        sse_ref += e * e;
      }
      CHECK_HERE(fabs(sse - sse_ref) <= BATCH_TOLERANCE * sse_ref);
      CHECK_HERE(FN(rows_distance)(&got, &ref, width) <= BATCH_TOLERANCE);
      for (int s = 0; s < NUSERS; s++)
        CHECK_HERE(FN(guards_intact)(got.udelta[s], width));
      for (int s = 0; s < NITEMS; s++)
        CHECK_HERE(FN(guards_intact)(got.idelta[s], width));
      free_buffers();
    }
}
