/* scan.h -- what the C parsers of data files share (data/ only): a parse
 * failure that says "path:LINE: what" with the offending token quoted, and
 * the byte scanning of whitespace-separated numeric tokens. Static inline:
 * the parsers call these once per token, on their hot path. */
#ifndef PMI_DATA_SCAN_H
#define PMI_DATA_SCAN_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../util/util.h"

#define TOKEN_SHOWN 80 /* longest token quoted in a message */

/* A parse failure: "path:LINE: what", with the offending token quoted. */
typedef struct {
  char *buf;
  size_t cap;
  const char *path;
  int64_t line;
} failure;

static inline int fail_at(const failure *f, int code, const char *fmt,
                          ...) PMI_PRINTF(3, 4);
static inline int fail_at(const failure *f, int code, const char *fmt, ...) {
  if (!f->buf || !f->cap) return code;
  int used = snprintf(f->buf, f->cap, "%s:%lld: ", f->path, (long long)f->line);
  if (used >= 0 && (size_t)used < f->cap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->buf + used, f->cap - (size_t)used, fmt, ap);
    va_end(ap);
  }
  return code;
}

static inline int is_space(unsigned char c) { return c == ' ' || (c >= 9 && c <= 13); }

static inline const char *skip_spaces(const char *s, const char *end) {
  while (s < end && is_space((unsigned char)*s)) s++;
  return s;
}

static inline const char *token_end(const char *s, const char *end) {
  while (s < end && !is_space((unsigned char)*s)) s++;
  return s;
}

static inline int shown(const char *s, const char *end) {
  return end - s > TOKEN_SHOWN ? TOKEN_SHOWN : (int)(end - s);
}

/* Reads the decimal digits at *s into *v and moves *s past them; returns
 * how many there were. Past 18 digits *v is meaningless (the unsigned sum
 * wraps), and callers refuse the number. */
static inline int scan_digits(const char **s, const char *end, int64_t *v) {
  const char *p = *s;
  uint64_t x = 0;
  unsigned d;
  while (p < end && (d = (unsigned char)*p - (unsigned)'0') < 10) {
    x = x * 10 + d;
    p++;
  }
  int n = p - *s > 19 ? 19 : (int)(p - *s);
  *s = p;
  *v = (int64_t)(x & (UINT64_MAX >> 1));
  return n;
}

/* The number of the token at *s if it is an integer in [lo, hi] followed
 * by a space or the end (or by `stop`, when not 0); -1 otherwise. */
static inline int64_t scan_int(const char **s, const char *end, int64_t lo,
                               int64_t hi, char stop) {
  int64_t v;
  int digits = scan_digits(s, end, &v);
  int ended = *s == end || is_space((unsigned char)**s) ||
              (stop && **s == stop);
  return digits > 0 && digits <= 18 && ended && v >= lo && v <= hi ? v : -1;
}

static inline int grow(void **p, int64_t count, size_t size) {
  void *q = realloc(*p, (size_t)count * size);
  if (!q) return -1;
  *p = q;
  return 0;
}

#endif
