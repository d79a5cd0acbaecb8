/* util.h -- small helpers every module shares: error text, time, hashing,
 * the deterministic random generator and a growable byte buffer. Internal
 * names start with pmi_ (public ones are pmls_*, see pmls.h). */
#ifndef PMI_UTIL_H
#define PMI_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "pmls.h"

#define PMI_ERRLEN 512

#if defined(__GNUC__)
#define PMI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PMI_PRINTF(a, b)
#endif

/* Formats into a caller-owned error buffer and returns `code`, so error
 * paths read `return pmi_fail(buf, PMLS_EINVAL, "...")`. */
int pmi_fail(char *buf, int code, const char *fmt, ...) PMI_PRINTF(3, 4);

double pmi_now(void); /* monotonic seconds */

static inline uint64_t pmi_mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

/* splitmix64 (Steele, Lea and Flood, OOPSLA 2014; Vigna's reference
 * splitmix64.c): the state advances by the golden-ratio gamma and each
 * output is the state through pmi_mix64. Tiny, fast and reproducible across
 * platforms. The Lua package's pmls.rng is the same algorithm; both are
 * checked against the reference outputs (util_test.c, spec/rng_spec.lua). */
typedef struct { uint64_t s; } pmi_rng;
static inline uint64_t pmi_rng_next(pmi_rng *r) {
  r->s += 0x9e3779b97f4a7c15ULL;
  return pmi_mix64(r->s);
}
static inline double pmi_rng_uniform(pmi_rng *r) { /* [0, 1) */
  return (double)(pmi_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}
double pmi_rng_normal(pmi_rng *r);

/* A growable byte buffer used to build messages. Its memory comes from
 * malloc, or from `alloc` when set: net.h's pmi_msg_buf_init makes it a
 * nanomsg message, which a send can hand over without a copy. */
typedef struct pmi_buf_alloc {
  /* Like realloc (old NULL: a new block); NULL when out of memory. */
  void *(*grow)(void *old, size_t len, size_t cap);
  void (*release)(void *p);
  size_t first; /* the capacity of a new block (0: 256 bytes) */
} pmi_buf_alloc;

typedef struct {
  unsigned char *data;
  size_t len, cap;
  const pmi_buf_alloc *alloc; /* NULL: malloc */
} pmi_buf;

int pmi_buf_reserve(pmi_buf *b, size_t extra);
int pmi_buf_put(pmi_buf *b, const void *p, size_t n);
void pmi_buf_free(pmi_buf *b);

#endif
