/* reader.h -- what the C readers of data files (ratings.c, mm.c, corpus.c,
 * libsvm.c) share: the scanning of one line's bytes, decimal numbers read
 * exactly, the bounds every id and size is held to, the "path:LINE: what"
 * message, and the loop over a file's lines (reader.c). */
#ifndef PMI_DATA_READER_H
#define PMI_DATA_READER_H

#include <stddef.h>
#include <stdint.h>

#include "../util/util.h"

#define PMI_TOKEN_SHOWN 80 /* longest token quoted in a message */

/* The largest dimension (rows, columns, users, items, documents, words) a
 * data set may have, so the largest id is one less. Models keep FFI arrays
 * of one 8-byte element per row or column, and per row plus one (CSR
 * offsets); LuaJIT makes no FFI object of 2^31 bytes or more, so past this
 * a run ended in a raw "size of C type is unknown or too large" naming no
 * file. (2^31 - 1) / 8 - 1: int64_t[PMI_MAX_DIM + 1] still fits. */
#define PMI_MAX_DIM INT64_C(268435454)
#define PMI_MAX_DIM_TEXT "268435454"
#define PMI_MAX_ID_TEXT "268435453"

/* The most bytes of text a file can hold: a plain file's size, or for gzip
 * its size times deflate's largest ratio (1032:1, and a little for the
 * headers); -1 when it cannot be told (not a regular file). Bounds what a
 * header's counts may claim before a byte of the data is read. */
int64_t pmi_text_capacity(const char *path);

/* Rows (documents) a header may declare for a file of `bytes` of text: one
 * a byte, or 65536 (1 MiB of offsets) for any file. Rows no entry names are
 * legal, yet each costs 16 bytes in the arrays built from the header. */
#define PMI_FLOOR_ROWS 65536
static inline int64_t pmi_rows_allowed(int64_t bytes) {
  return bytes > PMI_FLOOR_ROWS ? bytes : PMI_FLOOR_ROWS;
}

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

/* [s, end) as a decimal integer in [0, max] (max <= INT32_MAX) into *out;
 * 0 if it is not one (empty, a sign, any other byte, or too large). */
static inline int pmi_parse_count(const char *s, const char *end, int64_t max,
                                  int64_t *out) {
  if (s == end) return 0;
  int64_t v = 0;
  for (; s < end; s++) {
    if (!pmi_is_digit((unsigned char)*s)) return 0;
    v = v * 10 + (*s - '0');
    if (v > max) return 0;
  }
  *out = v;
  return 1;
}

/* [s, end) as a finite decimal number into *out: [sign] digits [. digits]
 * [e|E [sign] digits], a digit before or after the point. 0 if it is not
 * one: hex (0x10), inf, nan, LuaJIT's 0b101 and anything else strtod or
 * tonumber would also take are refused, since a data file that holds them
 * is damaged or not what it is named, not a rating of 16. Short mantissas
 * are exact; the rest is strtod's, which rounds correctly. */
int pmi_parse_c_number(const char *s, const char *end, double *out);

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

/* pmi_parse_c_number with plain decimals on the inline fast path first;
 * exponents and long mantissas take the slow path in reader.c. */
static inline int pmi_parse_number(const char *s, const char *end,
                                   double *out) {
  if (pmi_scan_decimal(s, end, out) == end) return 1;
  return pmi_parse_c_number(s, end, out);
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
