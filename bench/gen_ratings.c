/* gen_ratings.c -- the synthetic rating set of the mf benchmarks.
 *
 * What it writes: 5,000,000 distinct (user, item) ratings of 50,000 users
 * and 20,000 items, split into exactly 4,500,000 training and 500,000 test
 * lines "user item rating" (ids from 0, rating with three decimals), both
 * files sorted by user, then item, like MovieLens' ua.base. A rating is
 *   3 + 0.25 * U[u]·V[i] + 0.3 * noise, clipped to [1, 5],
 * with standard normal noise and true factors U, V of rank 16 whose
 * spectrum decays like real rating matrices' do: factor f of both is
 * normal with variance c_f^2, c_f^4 = 16 w_f / sum(w), w_f = 2^-f, so each
 * factor carries half the signal variance of the one before and the dot
 * product has variance 16 (the 0.25 gives the ratings a spread of about
 * one star around 3; ~6 % of them are clipped). With equal factors the
 * serial loop of bench/mf_serial.c, at mf_sgd's settings, is still far
 * from converged after 20 epochs (test RMSE 0.47); with this spectrum it
 * reaches 0.38 (the noise alone is 0.3). Item
 * popularity is Zipf-Mandelbrot, p(rank r) ~ 1 / (r + 50): the top item is
 * rated by ~9,700 users (a fifth; the many ratings of the most active
 * users can name it only once), the last by ~30; user activity is skewed
 * the same way, 1 / (r + 200), from ~4,500 ratings down to 18, 100 on
 * average. Ranks are a random permutation of the ids, so popularity is not
 * tied to id order. A user's items are drawn without replacement (a
 * duplicate is drawn again), so no (user, item) pair repeats within or
 * across the two files. The test lines are an exact 10 % sample of all
 * ratings, chosen uniformly (selection sampling).
 *
 * Why synthetic: the targets are set on a set of this size and
 * shape (MovieLens-100K is too small to time training, the larger ones are
 * not shipped), and a generator of a few kilobytes can be committed where
 * 60 MB of data cannot. Why this way: the output must be the same on every
 * machine, so the random numbers are splitmix64's (integer arithmetic), the
 * normals are Irwin-Hall sums of 12 uniforms (not Box-Muller: libm's log
 * and cos may differ in the last bit between implementations; sqrt, which
 * IEEE 754 rounds exactly, is the only libm call), and everything else is
 * IEEE double arithmetic in a fixed order. Build it with
 * -ffp-contract=off (bench/mf.sh does): a fused multiply-add would round
 * differently on machines that have one.
 *
 * Usage: gen_ratings TRAIN TEST [SEED] (link with -lm). Each file is written to
 * FILE.tmp and renamed when complete, so an interrupted run leaves none. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USERS 50000
#define ITEMS 20000
#define TOTAL 5000000
#define TEST_LINES 500000
#define RANK 16
#define SIGNAL_SCALE 0.25 /* 1 / sqrt(RANK): the dot product's std to 1 */
#define SPECTRUM_DECAY 0.5 /* w_(f+1) / w_f */
#define NOISE 0.3
#define ITEM_SHIFT 50.0
#define USER_SHIFT 200.0
#define DEFAULT_SEED 20240612u

typedef struct {
  uint64_t s;
} rng_t;

static uint64_t rng_next(rng_t *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Uniform in [0, 1), exactly: 53 random bits. */
static double rng_uniform(rng_t *r) { return (double)(rng_next(r) >> 11) * 0x1p-53; }

/* Uniform in [0, n) without modulo bias (rejection). */
static uint32_t rng_below(rng_t *r, uint32_t n) {
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = rng_next(r);
  while (x >= limit);
  return (uint32_t)(x % n);
}

/* Approximately standard normal: mean 0, variance 1, in [-6, 6]. */
static double rng_normal(rng_t *r) {
  double s = 0;
  for (int k = 0; k < 12; k++) s += rng_uniform(r);
  return s - 6.0;
}

/* An independent stream per purpose, so that changing how one part draws
 * leaves the others as they were. */
static rng_t stream(uint64_t seed, uint64_t purpose) {
  rng_t r = {seed * 0x2545f4914f6cdd1dull + purpose};
  rng_next(&r);
  return r;
}

static void permute(uint32_t *v, uint32_t n, rng_t *r) {
  for (uint32_t k = 0; k < n; k++) v[k] = k;
  for (uint32_t k = n - 1; k > 0; k--) {
    uint32_t j = rng_below(r, k + 1);
    uint32_t t = v[k];
    v[k] = v[j];
    v[j] = t;
  }
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

static FILE *open_tmp(const char *path, char *tmp, size_t size) {
  snprintf(tmp, size, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    perror(tmp);
    exit(1);
  }
  setvbuf(f, NULL, _IOFBF, 1 << 20);
  return f;
}

static void close_rename(FILE *f, const char *tmp, const char *path) {
  if (ferror(f) | fclose(f) || rename(tmp, path) != 0) {
    perror(path);
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: %s TRAIN TEST [SEED]\n", argv[0]);
    return 2;
  }
  uint64_t seed = argc == 4 ? strtoull(argv[3], NULL, 10) : DEFAULT_SEED;
  rng_t r_rank = stream(seed, 1), r_vfac = stream(seed, 2), r_ufac = stream(seed, 3);
  rng_t r_pick = stream(seed, 4), r_noise = stream(seed, 5), r_split = stream(seed, 6);

  uint32_t *item_of_rank = malloc(ITEMS * sizeof *item_of_rank);
  uint32_t *rank_of_user = malloc(USERS * sizeof *rank_of_user);
  double *item_cdf = malloc(ITEMS * sizeof *item_cdf);
  double *V = malloc((size_t)ITEMS * RANK * sizeof *V);
  uint32_t *count = malloc(USERS * sizeof *count);
  uint32_t *seen = calloc(ITEMS, sizeof *seen);
  uint32_t *mine = malloc(ITEMS * sizeof *mine);
  if (!item_of_rank || !rank_of_user || !item_cdf || !V || !count || !seen || !mine) {
    fprintf(stderr, "gen_ratings: out of memory\n");
    return 1;
  }
  permute(item_of_rank, ITEMS, &r_rank);
  permute(rank_of_user, USERS, &r_rank);

  double total = 0;
  for (uint32_t k = 0; k < ITEMS; k++) item_cdf[k] = (total += 1.0 / (k + ITEM_SHIFT));
  double c[RANK], w = 1, wsum_f = 0;
  for (int f = 0; f < RANK; f++, w *= SPECTRUM_DECAY) wsum_f += (c[f] = w);
  for (int f = 0; f < RANK; f++) c[f] = sqrt(sqrt(RANK * c[f] / wsum_f));
  for (size_t k = 0; k < (size_t)ITEMS * RANK; k++) V[k] = c[k % RANK] * rng_normal(&r_vfac);

  /* Ratings per user: its share of TOTAL, rounded down; what rounding
   * left over goes, one each, to the most active users. */
  double wsum = 0;
  for (uint32_t k = 0; k < USERS; k++) wsum += 1.0 / (k + USER_SHIFT);
  uint32_t *user_of_rank = malloc(USERS * sizeof *user_of_rank);
  if (!user_of_rank) return 1;
  uint64_t assigned = 0;
  for (uint32_t u = 0; u < USERS; u++) {
    count[u] = (uint32_t)(TOTAL * (1.0 / (rank_of_user[u] + USER_SHIFT)) / wsum);
    assigned += count[u];
    user_of_rank[rank_of_user[u]] = u;
  }
  for (uint32_t k = 0; assigned < TOTAL; k++, assigned++) count[user_of_rank[k]]++;

  char train_tmp[4096], test_tmp[4096];
  FILE *train = open_tmp(argv[1], train_tmp, sizeof train_tmp);
  FILE *test = open_tmp(argv[2], test_tmp, sizeof test_tmp);
  uint64_t left = TOTAL, test_left = TEST_LINES;
  double U[RANK];
  for (uint32_t u = 0; u < USERS; u++) {
    for (int f = 0; f < RANK; f++) U[f] = c[f] * rng_normal(&r_ufac);
    for (uint32_t n = 0; n < count[u]; n++) {
      uint32_t i;
      do {
        double x = rng_uniform(&r_pick) * total;
        uint32_t lo = 0, hi = ITEMS - 1; /* first rank whose cdf > x */
        while (lo < hi) {
          uint32_t mid = lo + (hi - lo) / 2;
          if (item_cdf[mid] > x) hi = mid;
          else lo = mid + 1;
        }
        i = item_of_rank[lo];
      } while (seen[i] == u + 1);
      seen[i] = u + 1;
      mine[n] = i;
    }
    qsort(mine, count[u], sizeof *mine, cmp_u32);
    for (uint32_t n = 0; n < count[u]; n++) {
      uint32_t i = mine[n];
      const double *v = V + (size_t)i * RANK;
      double dot = 0;
      for (int f = 0; f < RANK; f++) dot += U[f] * v[f];
      double rating = 3.0 + SIGNAL_SCALE * dot + NOISE * rng_normal(&r_noise);
      if (rating < 1.0) rating = 1.0;
      if (rating > 5.0) rating = 5.0;
      /* Selection sampling: exactly TEST_LINES of TOTAL, each equally. */
      int to_test = (double)test_left > rng_uniform(&r_split) * (double)left;
      if (to_test) test_left--;
      left--;
      fprintf(to_test ? test : train, "%u %u %.3f\n", u, i, rating);
    }
  }
  close_rename(train, train_tmp, argv[1]);
  close_rename(test, test_tmp, argv[2]);
  free(item_of_rank), free(rank_of_user), free(user_of_rank), free(item_cdf);
  free(V), free(count), free(seen), free(mine);
  return 0;
}
