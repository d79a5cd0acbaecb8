/* npy.c -- NumPy's .npy format: one array per file, written and read.
 *
 * A trained model has to be a file that other tools read. .npy is the
 * de-facto standard for dense arrays (numpy.load in Python, RcppCNPy in R,
 * NPZ.jl in Julia), and small: a magic string, a version, a header that is a
 * Python dict literal ({'descr': '<f8', 'fortran_order': False, 'shape':
 * (3, 4), }) padded with spaces to a multiple of 64 bytes, then the raw
 * elements. We write format 1.0 and read 1.0, 2.0 and 3.0.
 *
 * The reader treats the file as hostile: the header length is bounded
 * before it is read, the dict is parsed by a small strict scanner (the keys
 * we know, each once; string, boolean and tuple-of-integers values only),
 * the dtype is one of the engine's four, little-endian or native, C order;
 * the shape's product and its size in bytes are checked for overflow and
 * must equal the bytes that follow, so a truncated file (or one with bytes
 * after the data) is an error that names it, never a short array. The host
 * is little-endian (checked when compiling), so data is copied as it is. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "npy.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c copies elements as they are: it needs a little-endian host"
#endif

static const char MAGIC[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

int pmi_npy_fail(char *err, size_t errlen, int code, const char *what,
                 const char *fmt, ...) {
  if (err && errlen) {
    int off = snprintf(err, errlen, "%s: ", what ? what : "(null)");
    if (off < 0) off = 0;
    if ((size_t)off < errlen) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(err + off, errlen - (size_t)off, fmt, ap);
      va_end(ap);
    }
  }
  return code;
}

static const char *descr_of(pmls_dtype t) {
  switch (t) {
  case PMLS_F64: return "<f8";
  case PMLS_F32: return "<f4";
  case PMLS_I32: return "<i4";
  case PMLS_I64: return "<i8";
  }
  return NULL;
}

int64_t pmls_array_count(const pmls_array *a) {
  if (!a || a->ndim < 0 || a->ndim > PMLS_ARRAY_MAXDIM) return -1;
  int64_t n = 1;
  for (int k = 0; k < a->ndim; k++) {
    if (a->shape[k] < 0) return -1;
    if (__builtin_mul_overflow(n, a->shape[k], &n)) return -1;
  }
  /* 8 bytes an element at most: keep the byte count below 2^62 */
  if (n > (INT64_C(1) << 59)) return -1;
  return n;
}

int64_t pmi_npy_bytes(const pmls_array *a) {
  int64_t n = pmls_array_count(a);
  if (n < 0 || !descr_of(a->dtype)) return -1;
  return n * (int64_t)pmls_dtype_size(a->dtype);
}

void pmls_array_free(pmls_array *a) {
  if (!a) return;
  free(a->data);
  memset(a, 0, sizeof *a);
}

/* ---- writing ---------------------------------------------------------- */

size_t pmi_npy_header(const pmls_array *a, char *hdr, size_t cap, char *err,
                      size_t errlen) {
  if (pmi_npy_bytes(a) < 0) {
    pmi_npy_fail(err, errlen, PMLS_EINVAL, "array",
                 "bad dtype, ndim (0..8) or shape (negative or too large)");
    return 0;
  }
  char dict[256];
  int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, "
                   "'shape': (", descr_of(a->dtype));
  for (int k = 0; k < a->ndim; k++)
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s%lld",
                  k ? ", " : "", (long long)a->shape[k]);
  n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }",
                a->ndim == 1 ? "," : "");
  /* preamble 10 bytes (1.0), then dict, spaces, '\n': a multiple of 64 */
  size_t total = (10 + (size_t)n + 1 + 63) / 64 * 64;
  if (total > cap) {
    pmi_npy_fail(err, errlen, PMLS_EINVAL, "array", "header too long");
    return 0;
  }
  size_t hlen = total - 10;
  memcpy(hdr, MAGIC, 6);
  hdr[6] = 1, hdr[7] = 0;
  hdr[8] = (char)(hlen & 0xff), hdr[9] = (char)(hlen >> 8);
  memcpy(hdr + 10, dict, (size_t)n);
  memset(hdr + 10 + n, ' ', total - 10 - (size_t)n - 1);
  hdr[total - 1] = '\n';
  return total;
}

FILE *pmi_npy_create(const char *path, char *tmp, size_t tmpcap, char *err,
                     size_t errlen) {
  if (!path || !*path) {
    pmi_npy_fail(err, errlen, PMLS_EINVAL, "path", "missing");
    return NULL;
  }
  if ((size_t)snprintf(tmp, tmpcap, "%s.tmp", path) >= tmpcap) {
    pmi_npy_fail(err, errlen, PMLS_EINVAL, path, "path too long");
    return NULL;
  }
  FILE *f = fopen(tmp, "wb");
  if (!f) pmi_npy_fail(err, errlen, PMLS_EIO, tmp, "%s", strerror(errno));
  return f;
}

int pmi_npy_commit(FILE *f, const char *tmp, const char *path, int rc,
                   char *err, size_t errlen) {
  if (rc == PMLS_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
    rc = pmi_npy_fail(err, errlen, PMLS_EIO, tmp, "%s", strerror(errno));
  if (fclose(f) != 0 && rc == PMLS_OK)
    rc = pmi_npy_fail(err, errlen, PMLS_EIO, tmp, "%s", strerror(errno));
  if (rc == PMLS_OK && rename(tmp, path) != 0)
    rc = pmi_npy_fail(err, errlen, PMLS_EIO, path, "%s", strerror(errno));
  if (rc != PMLS_OK) remove(tmp);
  return rc;
}

int pmls_npy_write(const char *path, const pmls_array *a, char *err,
                   size_t errlen) {
  char hdr[PMI_NPY_PREAMBLE_MAX + 256];
  if (!a) return pmi_npy_fail(err, errlen, PMLS_EINVAL, "array", "missing");
  size_t hlen = pmi_npy_header(a, hdr, sizeof hdr, err, errlen);
  if (!hlen) return PMLS_EINVAL;
  int64_t bytes = pmi_npy_bytes(a);
  if (bytes > 0 && !a->data)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, "array", "no data");
  char tmp[4096];
  FILE *f = pmi_npy_create(path, tmp, sizeof tmp, err, errlen);
  if (!f) return path && *path ? PMLS_EIO : PMLS_EINVAL;
  int rc = PMLS_OK;
  if (fwrite(hdr, 1, hlen, f) != hlen ||
      (bytes > 0 && fwrite(a->data, 1, (size_t)bytes, f) != (size_t)bytes))
    rc = pmi_npy_fail(err, errlen, PMLS_EIO, tmp, "%s", strerror(errno));
  return pmi_npy_commit(f, tmp, path, rc, err, errlen);
}

/* ---- reading ---------------------------------------------------------- */

typedef struct {
  const char *p, *end;
} scan;

static void skip_space(scan *s) {
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' ||
                           *s->p == '\r'))
    s->p++;
}

static int eat(scan *s, char c) {
  skip_space(s);
  if (s->p < s->end && *s->p == c) {
    s->p++;
    return 1;
  }
  return 0;
}

/* A quoted string (' or "), without escapes, into out[cap]. */
static int string_of(scan *s, char *out, size_t cap) {
  skip_space(s);
  if (s->p >= s->end || (*s->p != '\'' && *s->p != '"')) return 0;
  char q = *s->p++;
  size_t n = 0;
  while (s->p < s->end && *s->p != q) {
    if (*s->p == '\\' || n + 1 >= cap) return 0;
    out[n++] = *s->p++;
  }
  if (s->p >= s->end) return 0;
  s->p++;
  out[n] = 0;
  return 1;
}

static int word(scan *s, const char *w) {
  skip_space(s);
  size_t n = strlen(w);
  if ((size_t)(s->end - s->p) >= n && memcmp(s->p, w, n) == 0) {
    s->p += n;
    return 1;
  }
  return 0;
}

/* A decimal integer >= 0 that fits int64 (numpy may write 3L in old files). */
static int integer(scan *s, int64_t *v) {
  skip_space(s);
  if (s->p >= s->end || *s->p < '0' || *s->p > '9') return 0;
  int64_t x = 0;
  while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
    if (__builtin_mul_overflow(x, 10, &x) ||
        __builtin_add_overflow(x, *s->p - '0', &x))
      return 0;
    s->p++;
  }
  if (s->p < s->end && *s->p == 'L') s->p++;
  *v = x;
  return 1;
}

static int dtype_of(const char *d, pmls_dtype *t) {
  static const struct { const char *code; pmls_dtype t; } known[] = {
      {"f8", PMLS_F64}, {"f4", PMLS_F32}, {"i4", PMLS_I32}, {"i8", PMLS_I64}};
  if (d[0] != '<' && d[0] != '=') return 0;
  for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
    if (strcmp(d + 1, known[k].code) == 0) {
      *t = known[k].t;
      return 1;
    }
  return 0;
}

/* Parses the dict of h[0 .. len - 1] into *a (no data). */
static int parse_dict(const char *h, size_t len, const char *what,
                      pmls_array *a, char *err, size_t errlen) {
  scan s = {h, h + len};
  int have_descr = 0, have_order = 0, have_shape = 0;
  if (!eat(&s, '{'))
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, what, "header is not a dict");
  while (!eat(&s, '}')) {
    char key[32], val[32];
    if (!string_of(&s, key, sizeof key) || !eat(&s, ':'))
      return pmi_npy_fail(err, errlen, PMLS_EINVAL, what,
                          "malformed header (a key expected)");
    if (strcmp(key, "descr") == 0 && !have_descr) {
      if (!string_of(&s, val, sizeof val))
        return pmi_npy_fail(err, errlen, PMLS_EINVAL, what,
                            "malformed header ('descr' is not a string: "
                            "structured dtypes are not supported)");
      char little[32];
      snprintf(little, sizeof little, "<%s", val + 1);
      if (val[0] == '>' && dtype_of(little, &a->dtype))
        return pmi_npy_fail(err, errlen, PMLS_EINVAL, what,
                            "big-endian data ('%s') is not supported: save "
                            "arr.astype('<%s')", val, val + 1);
      if (!dtype_of(val, &a->dtype))
        return pmi_npy_fail(err, errlen, PMLS_EINVAL, what,
                            "dtype '%s' is not supported (<f8, <f4, <i4 or "
                            "<i8)", val);
      have_descr = 1;
    } else if (strcmp(key, "fortran_order") == 0 && !have_order) {
      if (word(&s, "True"))
        return pmi_npy_fail(err, errlen, PMLS_EINVAL, what,
                            "Fortran order is not supported: save "
                            "numpy.ascontiguousarray(arr)");
      if (!word(&s, "False"))
        return pmi_npy_fail(err, errlen, PMLS_EINVAL, what,
                            "malformed header ('fortran_order' is not a "
                            "boolean)");
      have_order = 1;
    } else if (strcmp(key, "shape") == 0 && !have_shape) {
      if (!eat(&s, '('))
        return pmi_npy_fail(err, errlen, PMLS_EINVAL, what,
                            "malformed header ('shape' is not a tuple)");
      a->ndim = 0;
      while (!eat(&s, ')')) {
        int64_t v;
        if (a->ndim >= PMLS_ARRAY_MAXDIM)
          return pmi_npy_fail(err, errlen, PMLS_EINVAL, what,
                              "more than %d dimensions", PMLS_ARRAY_MAXDIM);
        if (!integer(&s, &v))
          return pmi_npy_fail(err, errlen, PMLS_EINVAL, what,
                              "malformed header (shape: a dimension is not "
                              "an integer in 0..2^63-1)");
        a->shape[a->ndim++] = v;
        if (!eat(&s, ',')) {
          if (!eat(&s, ')'))
            return pmi_npy_fail(err, errlen, PMLS_EINVAL, what,
                                "malformed header (shape)");
          break;
        }
      }
      have_shape = 1;
    } else {
      return pmi_npy_fail(err, errlen, PMLS_EINVAL, what,
                          "malformed header (key '%s' unknown or repeated)",
                          key);
    }
    if (!eat(&s, ',')) {
      if (!eat(&s, '}'))
        return pmi_npy_fail(err, errlen, PMLS_EINVAL, what,
                            "malformed header (',' or '}' expected)");
      break;
    }
  }
  skip_space(&s);
  if (s.p != s.end)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, what,
                        "malformed header (bytes after the dict)");
  if (!have_descr || !have_order || !have_shape)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, what,
                        "header lacks '%s'", !have_descr ? "descr"
                        : !have_order ? "fortran_order" : "shape");
  return PMLS_OK;
}

int pmls_npy_parse(const void *bytes, size_t len, const char *what,
                   pmls_array *out, char *err, size_t errlen) {
  if (!out) return pmi_npy_fail(err, errlen, PMLS_EINVAL, what, "no output");
  memset(out, 0, sizeof *out);
  if (!bytes && len)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, what, "no bytes");
  const unsigned char *b = bytes;
  if (len < 10 || memcmp(b, MAGIC, 6) != 0)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, what,
                        len < 10 ? "not a .npy file (too short)"
                                 : "not a .npy file (bad magic)");
  size_t pre, hlen;
  if (b[6] == 1) {
    pre = 10, hlen = (size_t)b[8] | (size_t)b[9] << 8;
  } else if (b[6] == 2 || b[6] == 3) {
    if (len < 12)
      return pmi_npy_fail(err, errlen, PMLS_EINVAL, what,
                          "truncated (in the preamble)");
    pre = 12;
    uint32_t h = (uint32_t)b[8] | (uint32_t)b[9] << 8 |
                 (uint32_t)b[10] << 16 | (uint32_t)b[11] << 24;
    if (h > PMI_NPY_MAX_HEADER)
      return pmi_npy_fail(err, errlen, PMLS_EINVAL, what,
                          "header of %u bytes (at most %u)", (unsigned)h,
                          PMI_NPY_MAX_HEADER);
    hlen = h;
  } else {
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, what,
                        "format version %d.%d is not supported (1.0 to 3.0)",
                        b[6], b[7]);
  }
  if (len - pre < hlen)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, what,
                        "truncated (the header says %zu bytes, %zu follow)",
                        hlen, len - pre);
  pmls_array a;
  memset(&a, 0, sizeof a);
  int rc = parse_dict((const char *)b + pre, hlen, what, &a, err, errlen);
  if (rc) return rc;
  int64_t need = pmi_npy_bytes(&a);
  if (need < 0)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, what,
                        "shape too large (its product overflows)");
  size_t have = len - pre - hlen;
  if ((uint64_t)need != have)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, what,
                        "%s (the shape needs %lld bytes of data, the file "
                        "has %zu)", (uint64_t)need > have ? "truncated"
                        : "bytes after the data", (long long)need, have);
  a.data = malloc(need ? (size_t)need : 1);
  if (!a.data) return pmi_npy_fail(err, errlen, PMLS_ENOMEM, what,
                                   "out of memory for %lld bytes",
                                   (long long)need);
  if (need) memcpy(a.data, b + pre + hlen, (size_t)need);
  *out = a;
  return PMLS_OK;
}

int pmi_npy_slurp(const char *path, size_t max, unsigned char **out,
                  size_t *len, char *err, size_t errlen) {
  *out = NULL, *len = 0;
  if (!path) return pmi_npy_fail(err, errlen, PMLS_EINVAL, "path", "missing");
  FILE *f = fopen(path, "rb");
  if (!f) return pmi_npy_fail(err, errlen, PMLS_EIO, path, "%s",
                              strerror(errno));
  int rc = PMLS_OK;
  long size = -1;
  if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
      fseek(f, 0, SEEK_SET) != 0) {
    rc = pmi_npy_fail(err, errlen, PMLS_EIO, path, "cannot tell its size "
                      "(not a regular file?)");
  } else if ((unsigned long)size > max) {
    rc = pmi_npy_fail(err, errlen, PMLS_EINVAL, path, "%ld bytes: too large",
                      size);
  } else {
    unsigned char *buf = malloc(size ? (size_t)size : 1);
    if (!buf) {
      rc = pmi_npy_fail(err, errlen, PMLS_ENOMEM, path, "out of memory");
    } else if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
      free(buf);
      rc = pmi_npy_fail(err, errlen, PMLS_EIO, path, "short read");
    } else {
      *out = buf, *len = (size_t)size;
    }
  }
  fclose(f);
  return rc;
}

int pmls_npy_read(const char *path, pmls_array *out, char *err,
                  size_t errlen) {
  if (!out) return pmi_npy_fail(err, errlen, PMLS_EINVAL, "out", "missing");
  memset(out, 0, sizeof *out);
  unsigned char *buf;
  size_t len;
  int rc = pmi_npy_slurp(path, (size_t)1 << 40, &buf, &len, err, errlen);
  if (rc) return rc;
  rc = pmls_npy_parse(buf, len, path, out, err, errlen);
  free(buf);
  return rc;
}
