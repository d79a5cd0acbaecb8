/* mf_serial.c -- the plain serial SGD loop the mf benchmarks compare with.
 *
 * What it is: matrix factorization with biases, r(u, i) ~ mu + b_u + b_i +
 * L[u]·R[i], trained the way a user would write it in C on one core: read
 * the rating file with fscanf, shuffle the ratings each epoch (splitmix64,
 * fixed seed), step every rating once per epoch. The update is exactly
 * models/mf_sgd.lua's with one worker (lr 0.015, lambda 0.05, no decay;
 * the L and R rows, bias in the last column, start uniform in [-0.1, 0.1);
 * mu is the mean training rating; both steps use the old L[u]), and the
 * test RMSE clips predictions to [1, 5] like mf_sgd's finish.
 *
 * Why: the targets for mf_sgd and mf_block are ratios against this
 * loop (docs/benchmarks.md, mf_epoch and mf_job), so it must be what a
 * competent user writes without tuning: plain C, -O3, no intrinsics, no
 * threads. The type is double; built with -DMF_FLOAT32 the same code runs
 * in float (ratings and parameters; sums too).
 *
 * Output, one line of key=value (bench/mf.sh reads it): read_s (fscanf of
 * both files), train_s (the epochs, shuffles included), ratings_per_s
 * (training ratings x epochs / train_s), train_rmse (last epoch, each error
 * before its step), test_rmse, peak_rss_mb (getrusage).
 *
 * Usage: mf_serial [-r RANK] [-e EPOCHS] [-s SEED] [-v] TRAIN TEST; -v
 * prints each epoch's training and test RMSE to stderr (the time to
 * compute the latter is not counted in train_s). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#ifdef MF_FLOAT32
typedef float real;
#define REAL_NAME "float32"
#else
typedef double real;
#define REAL_NAME "float64"
#endif

#define LR 0.015
#define LAMBDA 0.05
#define INIT 0.1

typedef struct {
  int n, cap, max_user, max_item;
  int *user, *item;
  real *rating;
} ratings_t;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng_state;
static uint64_t rng_next(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static double rng_uniform(void) { return (double)(rng_next() >> 11) * 0x1p-53; }

static void *grow(void *p, size_t size) {
  p = realloc(p, size);
  if (!p) {
    fprintf(stderr, "mf_serial: out of memory\n");
    exit(1);
  }
  return p;
}

/* "user item rating [anything]" per line; the rest of a line is skipped. */
static ratings_t read_ratings(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    perror(path);
    exit(1);
  }
  ratings_t d = {0, 0, -1, -1, NULL, NULL, NULL};
  int u, i;
  double r;
  while (fscanf(f, "%d %d %lf%*[^\n]", &u, &i, &r) == 3) {
    if (u < 0 || i < 0) {
      fprintf(stderr, "%s:%d: negative id\n", path, d.n + 1);
      exit(1);
    }
    if (d.n == d.cap) {
      d.cap = d.cap ? 2 * d.cap : 1 << 16;
      d.user = grow(d.user, (size_t)d.cap * sizeof *d.user);
      d.item = grow(d.item, (size_t)d.cap * sizeof *d.item);
      d.rating = grow(d.rating, (size_t)d.cap * sizeof *d.rating);
    }
    d.user[d.n] = u;
    d.item[d.n] = i;
    d.rating[d.n] = (real)r;
    d.n++;
    if (u > d.max_user) d.max_user = u;
    if (i > d.max_item) d.max_item = i;
  }
  if (!feof(f)) {
    fprintf(stderr, "%s:%d: not \"user item rating\"\n", path, d.n + 1);
    exit(1);
  }
  fclose(f);
  return d;
}

static real *factors(int rows, int width) {
  real *m = grow(NULL, (size_t)rows * width * sizeof *m);
  for (size_t k = 0; k < (size_t)rows * width; k++) m[k] = (real)(INIT * (2 * rng_uniform() - 1));
  return m;
}

/* The RMSE over the held-out ratings, predictions clipped to [1, 5]. */
static double test_error(const ratings_t *test, const real *L, const real *R, real mu, int rank) {
  int width = rank + 1;
  double se = 0;
  for (int n = 0; n < test->n; n++) {
    const real *lu = L + (size_t)test->user[n] * width;
    const real *ri = R + (size_t)test->item[n] * width;
    real pred = mu + lu[rank] + ri[rank];
    for (int f = 0; f < rank; f++) pred += lu[f] * ri[f];
    if (pred < 1) pred = 1;
    if (pred > 5) pred = 5;
    double e = (double)test->rating[n] - (double)pred;
    se += e * e;
  }
  return test->n ? sqrt(se / test->n) : NAN;
}

static int usage(const char *self) {
  fprintf(stderr, "usage: %s [-r RANK] [-e EPOCHS] [-s SEED] [-v] TRAIN TEST\n", self);
  return 2;
}

int main(int argc, char **argv) {
  int rank = 32, epochs = 20, verbose = 0, opt;
  uint64_t seed = 1;
  while ((opt = getopt(argc, argv, "r:e:s:v")) != -1) {
    switch (opt) {
    case 'r': rank = atoi(optarg); break;
    case 'e': epochs = atoi(optarg); break;
    case 's': seed = strtoull(optarg, NULL, 10); break;
    case 'v': verbose = 1; break;
    default: return usage(argv[0]);
    }
  }
  if (argc - optind != 2 || rank < 1 || epochs < 1) return usage(argv[0]);
  rng_state = seed;

  double t0 = now();
  ratings_t train = read_ratings(argv[optind]);
  ratings_t test = read_ratings(argv[optind + 1]);
  double read_s = now() - t0;
  if (train.n == 0) {
    fprintf(stderr, "mf_serial: no training ratings\n");
    return 1;
  }

  int users = (train.max_user > test.max_user ? train.max_user : test.max_user) + 1;
  int items = (train.max_item > test.max_item ? train.max_item : test.max_item) + 1;
  int width = rank + 1; /* the last column is the bias */
  real *L = factors(users, width), *R = factors(items, width);
  real mu = 0;
  for (int n = 0; n < train.n; n++) mu += train.rating[n];
  mu /= (real)train.n;
  int *order = grow(NULL, (size_t)train.n * sizeof *order);
  for (int n = 0; n < train.n; n++) order[n] = n;

  const real lr = (real)LR, lambda = (real)LAMBDA;
  real train_se = 0;
  t0 = now();
  for (int epoch = 0; epoch < epochs; epoch++) {
    for (int n = train.n - 1; n > 0; n--) {
      int j = (int)(rng_next() % (uint64_t)(n + 1));
      int t = order[n];
      order[n] = order[j];
      order[j] = t;
    }
    train_se = 0;
    for (int m = 0; m < train.n; m++) {
      int n = order[m];
      real *lu = L + (size_t)train.user[n] * width;
      real *ri = R + (size_t)train.item[n] * width;
      real pred = mu + lu[rank] + ri[rank];
      for (int f = 0; f < rank; f++) pred += lu[f] * ri[f];
      real e = train.rating[n] - pred;
      train_se += e * e;
      for (int f = 0; f < rank; f++) {
        real lf = lu[f], rf = ri[f];
        lu[f] = lf + lr * (e * rf - lambda * lf);
        ri[f] = rf + lr * (e * lf - lambda * rf);
      }
      lu[rank] += lr * (e - lambda * lu[rank]);
      ri[rank] += lr * (e - lambda * ri[rank]);
    }
    if (verbose) {
      double t1 = now();
      fprintf(stderr, "epoch %d: train_rmse %.4f test_rmse %.4f\n", epoch + 1,
              sqrt((double)train_se / train.n), test_error(&test, L, R, mu, rank));
      t0 += now() - t1;
    }
  }
  double train_s = now() - t0;

  double test_rmse = test_error(&test, L, R, mu, rank);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("type=%s rank=%d epochs=%d ratings=%d read_s=%.3f train_s=%.3f ratings_per_s=%.0f "
         "train_rmse=%.4f test_rmse=%.4f peak_rss_mb=%.1f\n",
         REAL_NAME, rank, epochs, train.n, read_s, train_s, (double)train.n * epochs / train_s,
         sqrt((double)train_se / train.n), test_rmse,
         (double)ru.ru_maxrss / 1024.0);
  free(L), free(R), free(order);
  free(train.user), free(train.item), free(train.rating);
  free(test.user), free(test.item), free(test.rating);
  return 0;
}
