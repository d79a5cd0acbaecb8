/* util.c -- error formatting, clocks and the normal sampler shared by every
 * module. Kept free of engine state so unit tests can use it alone. */
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int pmi_fail(char *buf, int code, const char *fmt, ...) {
  if (buf) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, PMI_ERRLEN, fmt, ap);
    va_end(ap);
  }
  return code;
}

double pmi_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double pmls_now(void) { return pmi_now(); }

double pmls_thread_time(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A signal cuts nanosleep short: sleep what is left, so the caller's pause
 * is as long as it asked for (a straggler's stretch must not shrink). */
void pmls_sleep(double seconds) {
  if (!(seconds > 0)) return;
  if (seconds > 1e9) seconds = 1e9;
  struct timespec req, rem;
  req.tv_sec = (time_t)seconds;
  req.tv_nsec = (long)((seconds - (double)req.tv_sec) * 1e9);
  if (req.tv_nsec > 999999999) req.tv_nsec = 999999999;
  while (nanosleep(&req, &rem) != 0 && errno == EINTR) req = rem;
}

double pmi_rng_normal(pmi_rng *r) {
  /* Box-Muller; one draw per call keeps the stream position simple to
   * reason about (each row init consumes a fixed number of draws). */
  double u1 = pmi_rng_uniform(r), u2 = pmi_rng_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

int pmi_buf_reserve(pmi_buf *b, size_t extra) {
  if (b->len + extra <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : b->alloc && b->alloc->first ? b->alloc->first
                                                              : 256;
  while (cap < b->len + extra) cap *= 2;
  unsigned char *p = b->alloc ? b->alloc->grow(b->data, b->len, cap)
                             : realloc(b->data, cap);
  if (!p) return -1;
  b->data = p;
  b->cap = cap;
  return 0;
}

int pmi_buf_put(pmi_buf *b, const void *p, size_t n) {
  if (pmi_buf_reserve(b, n)) return -1;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

void pmi_buf_free(pmi_buf *b) {
  if (b->alloc) {
    if (b->data) b->alloc->release(b->data);
  } else {
    free(b->data);
  }
  b->data = NULL;
  b->len = b->cap = 0;
}
