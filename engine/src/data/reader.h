/* reader.h -- what the C readers of data files (ratings.c, mm.c, corpus.c)
 * share: the scanning of one line's bytes, numbers read exactly as the Lua
 * readers they replace read them, the "path:LINE: what" message, and the
 * loop over a file's lines (reader.c). */
#ifndef PMI_DATA_READER_H
#define PMI_DATA_READER_H

#include <stddef.h>
#include <stdint.h>

#include "../util/util.h"

#define PMI_TOKEN_SHOWN 80 /* longest token quoted in a message */

static inline int pmi_is_space(unsigned char c) {
  return c == ' ' || (c >= 9 && c <= 13);
}
static inline int pmi_is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static inline const char *pmi_skip_spaces(const char *s, const char *end) {
  while (s < end && pmi_is_space((unsigned char)*s)) s++;
  return s;
}

/* The length to quote of the token [s, end): at most PMI_TOKEN_SHOWN. */
static inline int pmi_shown(const char *s, const char *end) {
  return end - s > PMI_TOKEN_SHOWN ? PMI_TOKEN_SHOWN : (int)(end - s);
}

/* [s, end) as a decimal integer in [0, INT32_MAX] into *out; 0 if it is
 * not one (empty, a sign, any other byte, or too large). */
static inline int pmi_parse_count(const char *s, const char *end,
                                  int64_t *out) {
  if (s == end) return 0;
  int64_t v = 0;
  for (; s < end; s++) {
    if (!pmi_is_digit((unsigned char)*s)) return 0;
    v = v * 10 + (*s - '0');
    if (v > INT32_MAX) return 0;
  }
  *out = v;
  return 1;
}

/* [s, end) as a finite number as C reads it into *out (decimals exactly,
 * then strtod: hex, long mantissas, large exponents); 0 if it is not one.
 * The libsvm reader's numbers. */
int pmi_parse_c_number(const char *s, const char *end, double *out);
/* The same plus LuaJIT's binary integers (0b101): what tonumber accepts. */
int pmi_parse_number_slow(const char *s, const char *end, double *out);

/* A plain decimal at s: [sign] digits [. digits], at least one digit and
 * fewer than 16 (so below 2^53: every partial sum is exact), read into *out
 * with one correctly rounded division. Returns the byte that ends it, or
 * NULL when s does not start with one; the caller decides whether that byte
 * may end a number. */
static inline const char *pmi_scan_decimal(const char *s, const char *end,
                                           double *out) {
  static const double pow10[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,
                                   1e6, 1e7, 1e8,  1e9,  1e10, 1e11,
                                   1e12, 1e13, 1e14, 1e15};
  int negative = 0;
  if (s < end && (*s == '-' || *s == '+')) negative = *s++ == '-';
  uint64_t mantissa = 0;
  int digits = 0, scale = 0;
  for (; s < end && pmi_is_digit((unsigned char)*s); s++, digits++)
    mantissa = mantissa * 10 + (uint64_t)(*s - '0');
  if (s < end && *s == '.')
    for (s++; s < end && pmi_is_digit((unsigned char)*s); s++, digits++)
      mantissa = mantissa * 10 + (uint64_t)(*s - '0'), scale--;
  if (digits == 0 || digits >= 16) return NULL;
  double v = (double)mantissa;
  if (scale < 0) v /= pow10[-scale];
  *out = negative ? -v : v;
  return s;
}

/* [s, end) as a finite number into *out; 0 if it is not one: the double
 * LuaJIT's tonumber gives, bit for bit (decimals, hex, and LuaJIT's binary
 * integers such as 0b101). Plain decimals take pmi_scan_decimal; anything
 * else (exponents, long mantissas, hex) the slow path in reader.c. */
static inline int pmi_parse_number(const char *s, const char *end,
                                   double *out) {
  if (pmi_scan_decimal(s, end, out) == end) return 1;
  return pmi_parse_number_slow(s, end, out);
}

/* Where a parse is and what to say when it fails. */
typedef struct {
  char *buf;
  size_t cap;
  const char *path;
  int64_t line;
} pmi_failure;

/* Writes "path:LINE: what" into f->buf (when there is one); returns code. */
int pmi_fail_at(const pmi_failure *f, int code, const char *fmt, ...)
    PMI_PRINTF(3, 4);

/* Hands every line of path (plain or gzip, through text.c) to each_line,
 * with f->line its number; stops at the first code other than PMLS_OK.
 * *lines is the number of lines read. A parse error in a damaged archive
 * is blamed on the archive (PMLS_EIO): zlib may inflate a garbage line
 * before it finds the damage. */
typedef int (*pmi_line_fn)(void *state, const char *line, const char *end,
                           const pmi_failure *f);
int pmi_read_lines(const char *path, pmi_line_fn each_line, void *state,
                   int64_t *lines, char *err, size_t errlen);

/* Grows *p to count elements of size bytes (realloc); -1 when out of
 * memory, *p unchanged. */
int pmi_grow(void **p, int64_t count, size_t size);

#endif
