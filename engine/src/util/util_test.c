/* util_test.c -- the engine's random generator against the published
 * reference of its algorithm. pmi_rng is splitmix64, the same algorithm as
 * the Lua package's pmls.rng (spec/rng_spec.lua checks that one against the
 * same values): row initialisation and the tests' random inputs depend on
 * its stream, so a change to it must fail here, not as drifted numbers. */
#include <stdint.h>

#include "harness.h"
#include "util.h"

/* Vigna's splitmix64.c from the seed 1477776061723855037 (as published by
 * the rand_xoshiro crate's `reference` test). */
static const uint64_t REFERENCE[] = {
    1985237415132408290ULL,  2979275885539914483ULL, 13511426838097143398ULL,
    8488337342461049707ULL, 15141737807933549159ULL, 17093170987380407015ULL};

static void t_rng_matches_reference(void) {
  pmi_rng r = {1477776061723855037ULL};
  for (size_t i = 0; i < sizeof REFERENCE / sizeof REFERENCE[0]; i++)
    CHECK(pmi_rng_next(&r) == REFERENCE[i]);
}

static void t_uniform_is_top_53_bits(void) {
  pmi_rng r = {1477776061723855037ULL};
  for (size_t i = 0; i < sizeof REFERENCE / sizeof REFERENCE[0]; i++) {
    double u = pmi_rng_uniform(&r);
    CHECK_EQ_DBL(u, (double)(REFERENCE[i] >> 11) / 9007199254740992.0);
    CHECK(u >= 0 && u < 1);
  }
}

static const th_case cases[] = {
    {"rng: splitmix64's reference outputs", t_rng_matches_reference},
    {"rng: uniform takes the top 53 bits of each output", t_uniform_is_top_53_bits},
};

TH_MAIN(cases)
