/* reader.c -- the parts of the rating and Matrix Market readers that are
 * not per format: numbers off the fast path, messages, the line loop.
 *
 * The readers replace Lua parsers whose numbers were LuaJIT's tonumber, so
 * a number here is the double tonumber gives for the same text. For
 * decimals and hex that is strtod's (both round correctly), with an exact
 * shortcut for short mantissas; LuaJIT also reads binary integers (0b101),
 * which strtod does not, so they are read here. strtod follows the C
 * locale's decimal point, which the engine never changes. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "reader.h"

static const double POW10[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* [sign] 0b digits: at most 64 significant bits, rounded to a double as
 * LuaJIT does. -1 when the text is not of that form, else 0 or 1. */
static int parse_binary(const char *s, const char *end, double *out) {
  const char *k = s;
  int negative = 0;
  if (k < end && (*k == '-' || *k == '+')) negative = *k++ == '-';
  if (end - k < 2 || k[0] != '0' || (k[1] != 'b' && k[1] != 'B')) return -1;
  k += 2;
  if (k == end) return 0;
  uint64_t v = 0;
  int bits = 0;
  for (; k < end; k++) {
    if (*k != '0' && *k != '1') return 0;
    if (v || *k == '1') bits++;
    if (bits > 64) return 0;
    v = v << 1 | (uint64_t)(*k - '0');
  }
  double d = (double)v;
  *out = negative ? -d : d;
  return 1;
}

int pmi_parse_c_number(const char *s, const char *end, double *out) {
  const char *k = s;
  int negative = 0;
  if (k < end && (*k == '-' || *k == '+')) negative = *k++ == '-';
  uint64_t mantissa = 0;
  int digits = 0, scale = 0;
  for (; k < end && pmi_is_digit((unsigned char)*k); k++, digits++)
    if (digits < 19) mantissa = mantissa * 10 + (uint64_t)(*k - '0');
  if (k < end && *k == '.')
    for (k++; k < end && pmi_is_digit((unsigned char)*k); k++, digits++, scale--)
      if (digits < 19) mantissa = mantissa * 10 + (uint64_t)(*k - '0');
  int exact = digits > 0 && digits < 19;
  if (digits > 0 && k < end && (*k == 'e' || *k == 'E')) {
    k++;
    int exp_negative = 0, exp_digits = 0, exponent = 0;
    if (k < end && (*k == '-' || *k == '+')) exp_negative = *k++ == '-';
    for (; k < end && pmi_is_digit((unsigned char)*k); k++, exp_digits++)
      if (exponent < 100000) exponent = exponent * 10 + (*k - '0');
    if (exp_digits == 0) exact = 0;
    scale += exp_negative ? -exponent : exponent;
  }
  if (exact && k == end && mantissa < (UINT64_C(1) << 53)) {
    double v = (double)mantissa;
    if (scale < 0 && scale >= -22) v /= POW10[-scale];
    else if (scale > 0 && scale <= 22) v *= POW10[scale];
    else if (scale != 0) exact = 0;
    if (exact && v < HUGE_VAL) {
      *out = negative ? -v : v;
      return 1;
    }
  }
  /* Long mantissas, large exponents, hex: strtod on a terminated copy. */
  char small[128];
  size_t len = (size_t)(end - s);
  if (len == 0) return 0;
  char *buf = len < sizeof small ? small : malloc(len + 1);
  if (!buf) return 0;
  memcpy(buf, s, len);
  buf[len] = 0;
  char *stop;
  double v = strtod(buf, &stop);
  int ok = stop == buf + len && isfinite(v);
  if (buf != small) free(buf);
  if (ok) *out = v;
  return ok;
}

int pmi_parse_number_slow(const char *s, const char *end, double *out) {
  int binary = parse_binary(s, end, out); /* looks at three bytes at most */
  if (binary >= 0) return binary;
  return pmi_parse_c_number(s, end, out);
}

int pmi_fail_at(const pmi_failure *f, int code, const char *fmt, ...) {
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

int pmi_grow(void **p, int64_t count, size_t size) {
  void *q = realloc(*p, (size_t)count * size);
  if (!q) return -1;
  *p = q;
  return 0;
}

int pmi_read_lines(const char *path, pmi_line_fn each_line, void *state,
                   int64_t *lines, char *err, size_t errlen) {
  *lines = 0;
  pmls_text *in;
  int rc = pmls_text_open(path, &in, err, errlen);
  if (rc != PMLS_OK) return rc;
  pmi_failure f = {err, errlen, path, 0};
  const char *line;
  size_t len;
  for (;;) {
    rc = pmls_text_line(in, &line, &len);
    if (rc != PMLS_OK) {
      if (err && errlen) snprintf(err, errlen, "%s", pmls_text_errmsg(in));
      break;
    }
    if (!line) break;
    f.line = pmls_text_lineno(in);
    rc = each_line(state, line, line + len, &f);
    if (rc != PMLS_OK) break;
  }
  *lines = pmls_text_lineno(in);
  if (rc == PMLS_EINVAL) {
    while (pmls_text_line(in, &line, &len) == PMLS_OK && line) {
    }
    if (*pmls_text_errmsg(in)) {
      rc = PMLS_EIO;
      if (err && errlen) snprintf(err, errlen, "%s", pmls_text_errmsg(in));
    }
  }
  pmls_text_close(in);
  return rc;
}
