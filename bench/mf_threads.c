/* mf_threads.c -- what two cores of this machine give the SGD kernel
 * alone, without the engine: the reference beside mf_epoch's -w 2 / -w 1.
 *
 * What it measures: the engine's own step (pmls_sgd_mf_batch_f64, the one
 * models/mf_sgd.lua runs) over the rating set, once in one plain thread
 * over every rating, once in two plain threads each over the ratings of
 * its users (u % 2, as mf_sgd's two workers take them), each thread with
 * item deltas of its own, as each worker has. The ratings are grouped in
 * blocks of users x items as mf_sgd groups them (block_kb 1024, rank + 1
 * doubles a row) and the blocks and each block's ratings are put in a
 * random order once. No store, no messages, no Lua: what is left is the
 * kernel and the machine (two threads share the L3 cache, the memory bus
 * and, on a shared VM, whatever the host gives the second core).
 *
 * Why: the issue's -w 2 >= 1.8 x -w 1 is a target for the engine; this says
 * how much of it the hardware grants the kernel in the same minutes. The
 * two sides alternate (ROUNDS pairs, the first untimed), and the ratio is
 * the median of the pairs' (one thread's time / two threads' time).
 *
 * Output, one line of key=value (bench/mf_report.lua reads it):
 * one_thread_s, two_threads_s (medians, per epoch), ratio, rounds.
 *
 * Usage: mf_threads [-r RANK] [-e EPOCHS] [-n ROUNDS] TRAIN */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pmls.h"

#define BLOCK_KB 1024
#define LR 0.015
#define LAMBDA 0.05

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void die(const char *what) {
  fprintf(stderr, "mf_threads: %s\n", what);
  exit(1);
}

static void *alloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size);
  if (!p) die("out of memory");
  return p;
}

static uint64_t next(uint64_t *s) { /* splitmix64 */
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static void shuffle(int32_t *a, int64_t n, uint64_t *s) {
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)(next(s) % (uint64_t)(i + 1));
    int32_t t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

/* One worker's share: its ratings in block order, its rows' views, its
 * deltas. */
typedef struct {
  const pmls_triplets *tr;
  int rank, epochs, workers;
  int32_t *order;
  int64_t *start, nblocks;
  double **uview, **udelta, **iview, **idelta;
  double seconds;
} share;

static void share_init(share *s, const pmls_triplets *tr, int rank, int epochs,
                       int me, int workers, double **uview, double **iview,
                       int64_t users, int64_t items, uint64_t *rng) {
  memset(s, 0, sizeof *s);
  s->tr = tr, s->rank = rank, s->epochs = epochs, s->workers = workers;
  int64_t per = BLOCK_KB * 1024 / 2 / ((int64_t)(rank + 1) * 8);
  if (per < 16) per = 16;
  int64_t mine = (users - 1 - me) / workers + 1;
  int64_t ub = (mine + per - 1) / per, ib = (items + per - 1) / per;
  s->nblocks = ub * ib;
  s->start = alloc((size_t)s->nblocks + 1, sizeof *s->start);
  int64_t *fill = alloc((size_t)s->nblocks, sizeof *fill), count = 0;
  int64_t *block_of = alloc((size_t)tr->n, sizeof *block_of);
  for (int64_t n = 0; n < tr->n; n++) {
    block_of[n] = -1;
    if (tr->user[n] % workers != me) continue;
    int64_t lu = tr->user[n] / workers / per, li = tr->item[n] / per;
    block_of[n] = (lu < ub - 1 ? lu : ub - 1) * ib + (li < ib - 1 ? li : ib - 1);
    s->start[block_of[n] + 1]++;
    count++;
  }
  for (int64_t b = 1; b <= s->nblocks; b++) s->start[b] += s->start[b - 1];
  s->order = alloc((size_t)count, sizeof *s->order);
  for (int64_t n = 0; n < tr->n; n++)
    if (block_of[n] >= 0) s->order[s->start[block_of[n]] + fill[block_of[n]]++] = (int32_t)n;
  for (int64_t b = 0; b < s->nblocks; b++)
    shuffle(s->order + s->start[b], s->start[b + 1] - s->start[b], rng);
  free(fill);
  free(block_of);
  s->uview = uview, s->iview = iview;
  s->udelta = alloc((size_t)users, sizeof *s->udelta);
  s->idelta = alloc((size_t)items, sizeof *s->idelta);
  for (int64_t u = me; u < users; u += workers)
    s->udelta[u] = alloc((size_t)rank + 1, sizeof(double));
  for (int64_t i = 0; i < items; i++)
    s->idelta[i] = alloc((size_t)rank + 1, sizeof(double));
}

static void *share_run(void *arg) {
  share *s = arg;
  double t0 = now();
  for (int e = 0; e < s->epochs; e++)
    for (int64_t b = 0; b < s->nblocks; b++) {
      int64_t lo = s->start[b], n = s->start[b + 1] - lo;
      if (n > 0)
        pmls_sgd_mf_batch_f64(s->rank, n, s->order + lo, s->tr->user, s->tr->item,
                              s->tr->rating, (const double *const *)s->uview,
                              s->udelta, 1, (const double *const *)s->iview,
                              s->idelta, s->workers, 3.6, LR, LR * s->workers,
                              LAMBDA);
    }
  s->seconds = (now() - t0) / s->epochs;
  return NULL;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv) {
  int rank = 32, epochs = 2, rounds = 5, opt;
  while ((opt = getopt(argc, argv, "r:e:n:")) != -1) {
    if (opt == 'r') rank = atoi(optarg);
    else if (opt == 'e') epochs = atoi(optarg);
    else if (opt == 'n') rounds = atoi(optarg);
    else die("usage: mf_threads [-r RANK] [-e EPOCHS] [-n ROUNDS] TRAIN");
  }
  if (optind != argc - 1 || rank < 1 || epochs < 1 || rounds < 1)
    die("usage: mf_threads [-r RANK] [-e EPOCHS] [-n ROUNDS] TRAIN");
  char err[512];
  pmls_triplets *tr;
  if (pmls_triplets_read(argv[optind], &tr, err, sizeof err)) die(err);
  int64_t users = tr->max_user + 1, items = tr->max_item + 1;
  uint64_t rng = 2026;
  double **uview = alloc((size_t)users, sizeof *uview);
  double **iview = alloc((size_t)items, sizeof *iview);
  for (int64_t u = 0; u < users; u++) {
    uview[u] = alloc((size_t)rank + 1, sizeof(double));
    for (int c = 0; c <= rank; c++) uview[u][c] = (double)(next(&rng) >> 11) * 0x1p-53 * 0.2 - 0.1;
  }
  for (int64_t i = 0; i < items; i++) {
    iview[i] = alloc((size_t)rank + 1, sizeof(double));
    for (int c = 0; c <= rank; c++) iview[i][c] = (double)(next(&rng) >> 11) * 0x1p-53 * 0.2 - 0.1;
  }
  share one, two[2];
  share_init(&one, tr, rank, epochs, 0, 1, uview, iview, users, items, &rng);
  for (int w = 0; w < 2; w++)
    share_init(&two[w], tr, rank, epochs, w, 2, uview, iview, users, items, &rng);
  double *t1 = alloc((size_t)rounds, sizeof *t1), *t2 = alloc((size_t)rounds, sizeof *t2);
  double *ratio = alloc((size_t)rounds, sizeof *ratio);
  for (int r = -1; r < rounds; r++) { /* round -1 warms up, untimed */
    for (int side = 0; side < 2; side++) {
      if ((side == 0) == (r % 2 == 0)) {
        share_run(&one);
        if (r >= 0) t1[r] = one.seconds;
      } else {
        pthread_t th[2];
        double t0 = now();
        for (int w = 0; w < 2; w++)
          if (pthread_create(&th[w], NULL, share_run, &two[w])) die("cannot start a thread");
        for (int w = 0; w < 2; w++) pthread_join(th[w], NULL);
        if (r >= 0) t2[r] = (now() - t0) / epochs;
      }
    }
    if (r >= 0) ratio[r] = t1[r] / t2[r];
  }
  printf("one_thread_s=%.4f two_threads_s=%.4f ratio=%.3f rounds=%d\n", median(t1, rounds),
         median(t2, rounds), median(ratio, rounds), rounds);
  pmls_triplets_free(tr);
  return 0;
}
