/* kernels_test.c -- pmls_axpy against the plain loop it stands for, bit for
 * bit on every length around the SIMD widths. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "pmls.h"
#include "../util/util.h"

static pmi_rng rng = {88172645463325252ull};
static double uniform(void) { return pmi_rng_uniform(&rng); }

static void t_axpy_matches_loop(void) {
  double x[67], y[67], want[67];
  for (int n = 0; n <= 65; n++) {
    for (int i = 0; i < 67; i++) {
      x[i] = uniform() - 0.5;
      y[i] = want[i] = uniform() * 3;
    }
    double a = uniform() - 0.25;
    for (int i = 0; i < n; i++) want[i] += a * x[i];
    pmls_axpy(n, a, x, y);
    CHECK(memcmp(want, y, sizeof y) == 0); /* and nothing past n moved */
  }
}

static const th_case cases[] = {
    {"axpy: the plain loop's result, bit for bit, n = 0..65", t_axpy_matches_loop},
};

TH_MAIN(cases)
