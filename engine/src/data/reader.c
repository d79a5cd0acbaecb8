/* reader.c -- the parts of the data readers that are not per format:
 * numbers off the fast path, what a file can hold, messages, the line loop.
 *
 * A number in a data file is a decimal: the readers once took whatever
 * LuaJIT's tonumber or strtod took, so `0x10` was a rating of 16 and `0b1`
 * a label of 1, which no tool that writes these formats means. The text is
 * checked against the decimal grammar here, then read exactly (a short
 * mantissa times or over an exact power of ten is one correctly rounded
 * operation) or by strtod, which rounds correctly too, so the doubles are
 * those of any correct reader. strtod follows the C locale's decimal point,
 * which the engine never changes. */
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data.h"
#include "reader.h"

static const double POW10[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

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
  if (digits == 0) return 0;
  if (k < end && (*k == 'e' || *k == 'E')) {
    k++;
    int exp_negative = 0, exp_digits = 0, exponent = 0;
    if (k < end && (*k == '-' || *k == '+')) exp_negative = *k++ == '-';
    for (; k < end && pmi_is_digit((unsigned char)*k); k++, exp_digits++)
      if (exponent < 100000) exponent = exponent * 10 + (*k - '0');
    if (exp_digits == 0) return 0;
    scale += exp_negative ? -exponent : exponent;
  }
  /* Whatever else strtod reads (hex, inf, nan) is not a decimal. */
  if (k != end) return 0;
  if (digits < 19 && mantissa < (UINT64_C(1) << 53)) {
    double v = (double)mantissa;
    int exact = 1;
    if (scale < 0 && scale >= -22) v /= POW10[-scale];
    else if (scale > 0 && scale <= 22) v *= POW10[scale];
    else if (scale != 0) exact = 0;
    if (exact && v < HUGE_VAL) {
      *out = negative ? -v : v;
      return 1;
    }
  }
  /* Long mantissas, large exponents: strtod on a terminated copy. */
  char small[128];
  size_t len = (size_t)(end - s);
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

int64_t pmi_text_capacity(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  unsigned char magic[2] = {0, 0};
  int64_t size = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
  ssize_t got = size >= 0 ? read(fd, magic, sizeof magic) : -1;
  close(fd);
  if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
    return size > INT64_MAX / 1033 ? INT64_MAX : size * 1033;
  return size;
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
