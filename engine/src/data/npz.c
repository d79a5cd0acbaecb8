/* npz.c -- NumPy's .npz archives: several named arrays in one zip file.
 *
 * A model of several tables (matrix factorization's L, R, biases and mean)
 * is saved as one .npz: a zip whose members are NAME.npy (npy.c), which
 * numpy.load opens as a dict. The zip is written here rather than through a
 * library because what it needs is small and fixed: local headers, the
 * members stored or deflated by zlib (already a dependency, for gzip data
 * files), a central directory and its end record, every date 1980-01-01 so
 * that one model always gives the same bytes. No zip64: a member or an
 * archive past 4 GiB is refused with that reason.
 *
 * Reading trusts nothing in the file: the end record is looked for in the
 * last 64 KiB + 22 bytes only; the directory, each local header and each
 * member's data must lie inside the file; sizes are taken from the central
 * directory (numpy's writer, Python's zipfile, leaves them out of the local
 * header), with its zip64 extra field read where a size says 0xFFFFFFFF;
 * stored members must have equal sizes, deflated ones inflate to exactly
 * their stated size (which is bounded by deflate's largest ratio before
 * anything is allocated), and the CRC must match. Encrypted members, other
 * methods, more than 4096 members, names that are not NAME.npy or repeat
 * are errors naming the archive and the member. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "npy.h"

#define MAX_MEMBERS 4096
#define MAX_NAME 200
#define U32_MAX_SIZE 0xFFFFFFFFull

struct pmls_npz {
  int n;
  char **names;
  pmls_array *arrays;
};

static void put16(unsigned char *p, unsigned v) {
  p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
}
static void put32(unsigned char *p, uint32_t v) {
  for (int k = 0; k < 4; k++) p[k] = (unsigned char)(v >> (8 * k));
}
static unsigned get16(const unsigned char *p) { return p[0] | (unsigned)p[1] << 8; }
static uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}
static uint64_t get64(const unsigned char *p) {
  return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static int good_name(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n < 1 || n > MAX_NAME) return 0;
  for (size_t k = 0; k < n; k++) {
    char c = s[k];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
      return 0;
  }
  return 1;
}

/* ---- writing ---------------------------------------------------------- */

typedef struct {
  uint32_t crc, csize, usize, offset;
  unsigned method;
} member_info;

/* Deflates hdr + data into a new buffer (*out, *outlen). */
static int deflate_member(const char *hdr, size_t hlen, const void *data,
                          size_t dlen, unsigned char **out, size_t *outlen) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return PMLS_ENOMEM;
  size_t cap = deflateBound(&z, (uLong)(hlen + dlen));
  unsigned char *buf = malloc(cap);
  if (!buf) {
    deflateEnd(&z);
    return PMLS_ENOMEM;
  }
  z.next_out = buf, z.avail_out = (uInt)cap;
  z.next_in = (Bytef *)hdr, z.avail_in = (uInt)hlen;
  int zr = deflate(&z, Z_NO_FLUSH);
  if (zr == Z_OK) {
    z.next_in = (Bytef *)data, z.avail_in = (uInt)dlen;
    zr = deflate(&z, Z_FINISH);
  }
  *outlen = z.total_out;
  deflateEnd(&z);
  if (zr != Z_STREAM_END) {
    free(buf);
    return PMLS_ENOMEM;
  }
  *out = buf;
  return PMLS_OK;
}

static int write_member(FILE *f, const char *tmp, const char *name,
                        const pmls_array *a, int deflate, uint64_t *offset,
                        member_info *mi, char *err, size_t errlen) {
  char hdr[PMI_NPY_PREAMBLE_MAX + 256];
  size_t hlen = pmi_npy_header(a, hdr, sizeof hdr, err, errlen);
  if (!hlen) return PMLS_EINVAL;
  int64_t bytes = pmi_npy_bytes(a);
  if (bytes > 0 && !a->data)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, name, "no data");
  uint64_t usize = hlen + (uint64_t)bytes;
  if (usize >= U32_MAX_SIZE || *offset >= U32_MAX_SIZE)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, tmp, "member %s.npy: past "
                        "4 GiB, which needs zip64 (not written)", name);
  uLong crc = crc32(0L, (const Bytef *)hdr, (uInt)hlen);
  if (bytes) crc = crc32(crc, a->data, (uInt)bytes);
  unsigned char *packed = NULL;
  size_t csize = (size_t)usize;
  if (deflate) {
    int rc = deflate_member(hdr, hlen, a->data, (size_t)bytes, &packed, &csize);
    if (rc) return pmi_npy_fail(err, errlen, rc, tmp, "deflate failed");
  }
  size_t nlen = strlen(name) + 4;
  unsigned char local[30];
  memset(local, 0, sizeof local);
  put32(local, 0x04034b50);
  put16(local + 4, 20);
  put16(local + 8, deflate ? 8 : 0);
  put16(local + 12, 0x21); /* 1980-01-01 */
  put32(local + 14, (uint32_t)crc);
  put32(local + 18, (uint32_t)csize);
  put32(local + 22, (uint32_t)usize);
  put16(local + 26, (unsigned)nlen);
  int ok = fwrite(local, 1, 30, f) == 30 && fputs(name, f) >= 0 &&
           fputs(".npy", f) >= 0;
  if (ok && packed) ok = fwrite(packed, 1, csize, f) == csize;
  else if (ok)
    ok = fwrite(hdr, 1, hlen, f) == hlen &&
         (!bytes || fwrite(a->data, 1, (size_t)bytes, f) == (size_t)bytes);
  free(packed);
  if (!ok) return pmi_npy_fail(err, errlen, PMLS_EIO, tmp, "write failed");
  mi->crc = (uint32_t)crc, mi->csize = (uint32_t)csize;
  mi->usize = (uint32_t)usize, mi->offset = (uint32_t)*offset;
  mi->method = deflate ? 8 : 0;
  *offset += 30 + nlen + csize;
  return PMLS_OK;
}

int pmls_npz_write(const char *path, int n, const char *const *names,
                   const pmls_array *arrays, int deflate, char *err,
                   size_t errlen) {
  if (n < 0 || n > MAX_MEMBERS || (n && (!names || !arrays)))
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, "npz", "bad member count "
                        "or arrays (0..%d)", MAX_MEMBERS);
  for (int i = 0; i < n; i++) {
    if (!good_name(names[i]))
      return pmi_npy_fail(err, errlen, PMLS_EINVAL, "npz", "member name '%s':"
                          " 1..%d letters, digits, '_', '-' or '.'",
                          names[i] ? names[i] : "(null)", MAX_NAME);
    for (int j = 0; j < i; j++)
      if (strcmp(names[i], names[j]) == 0)
        return pmi_npy_fail(err, errlen, PMLS_EINVAL, "npz", "member name "
                            "'%s' given twice", names[i]);
  }
  member_info *mi = calloc(n ? (size_t)n : 1, sizeof *mi);
  if (!mi) return pmi_npy_fail(err, errlen, PMLS_ENOMEM, "npz", "out of memory");
  char tmp[4096];
  FILE *f = pmi_npy_create(path, tmp, sizeof tmp, err, errlen);
  if (!f) {
    free(mi);
    return path && *path ? PMLS_EIO : PMLS_EINVAL;
  }
  uint64_t offset = 0;
  int rc = PMLS_OK;
  for (int i = 0; i < n && rc == PMLS_OK; i++)
    rc = write_member(f, tmp, names[i], &arrays[i], deflate, &offset, &mi[i],
                      err, errlen);
  uint64_t cd_start = offset;
  for (int i = 0; i < n && rc == PMLS_OK; i++) {
    unsigned char c[46];
    memset(c, 0, sizeof c);
    size_t nlen = strlen(names[i]) + 4;
    put32(c, 0x02014b50);
    put16(c + 4, 20);
    put16(c + 6, 20);
    put16(c + 10, mi[i].method);
    put16(c + 14, 0x21);
    put32(c + 16, mi[i].crc);
    put32(c + 20, mi[i].csize);
    put32(c + 24, mi[i].usize);
    put16(c + 28, (unsigned)nlen);
    put32(c + 42, mi[i].offset);
    if (fwrite(c, 1, 46, f) != 46 || fputs(names[i], f) < 0 ||
        fputs(".npy", f) < 0)
      rc = pmi_npy_fail(err, errlen, PMLS_EIO, tmp, "write failed");
    offset += 46 + nlen;
  }
  if (rc == PMLS_OK && offset >= U32_MAX_SIZE)
    rc = pmi_npy_fail(err, errlen, PMLS_EINVAL, tmp, "archive past 4 GiB, "
                      "which needs zip64 (not written)");
  if (rc == PMLS_OK) {
    unsigned char e[22];
    memset(e, 0, sizeof e);
    put32(e, 0x06054b50);
    put16(e + 8, (unsigned)n);
    put16(e + 10, (unsigned)n);
    put32(e + 12, (uint32_t)(offset - cd_start));
    put32(e + 16, (uint32_t)cd_start);
    if (fwrite(e, 1, 22, f) != 22)
      rc = pmi_npy_fail(err, errlen, PMLS_EIO, tmp, "write failed");
  }
  free(mi);
  return pmi_npy_commit(f, tmp, path, rc, err, errlen);
}

/* ---- reading ---------------------------------------------------------- */

void pmls_npz_free(pmls_npz *z) {
  if (!z) return;
  for (int i = 0; i < z->n; i++) {
    free(z->names[i]);
    pmls_array_free(&z->arrays[i]);
  }
  free(z->names);
  free(z->arrays);
  free(z);
}

int pmls_npz_count(const pmls_npz *z) { return z ? z->n : 0; }

const char *pmls_npz_name(const pmls_npz *z, int i) {
  return z && i >= 0 && i < z->n ? z->names[i] : NULL;
}

const pmls_array *pmls_npz_array(const pmls_npz *z, int i) {
  return z && i >= 0 && i < z->n ? &z->arrays[i] : NULL;
}

const pmls_array *pmls_npz_find(const pmls_npz *z, const char *name) {
  if (!z || !name) return NULL;
  for (int i = 0; i < z->n; i++)
    if (strcmp(z->names[i], name) == 0) return &z->arrays[i];
  return NULL;
}

/* The zip64 extra field's values for the fields that say 0xFFFFFFFF. */
static int zip64_sizes(const unsigned char *x, size_t xlen, uint64_t *usize,
                       uint64_t *csize, uint64_t *off) {
  while (xlen >= 4) {
    unsigned id = get16(x), len = get16(x + 2);
    if (len > xlen - 4) return 0;
    if (id == 1) {
      const unsigned char *p = x + 4;
      size_t left = len;
      uint64_t *fields[3] = {usize, csize, off};
      for (int k = 0; k < 3; k++) {
        if (*fields[k] != U32_MAX_SIZE) continue;
        if (left < 8) return 0;
        *fields[k] = get64(p);
        p += 8, left -= 8;
      }
      return 1;
    }
    x += 4 + len, xlen -= 4 + len;
  }
  return 0;
}

/* Member i of the archive buf[0 .. len - 1], whose central entry is at c. */
static int read_member(const unsigned char *buf, size_t len, size_t c,
                       const char *path, pmls_npz *z, char *err,
                       size_t errlen, size_t *next) {
  if (len - c < 46 || get32(buf + c) != 0x02014b50)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, path, "damaged zip "
                        "(central directory entry %d)", z->n);
  unsigned flags = get16(buf + c + 8), method = get16(buf + c + 10);
  uint32_t crc = get32(buf + c + 16);
  uint64_t csize = get32(buf + c + 20), usize = get32(buf + c + 24);
  size_t nlen = get16(buf + c + 28), xlen = get16(buf + c + 30),
         clen = get16(buf + c + 32);
  uint64_t off = get32(buf + c + 42);
  if (len - c - 46 < nlen + xlen + clen)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, path, "damaged zip "
                        "(central directory entry %d)", z->n);
  char name[MAX_NAME + 8];
  if (nlen < 5 || nlen > MAX_NAME + 4 ||
      memcmp(buf + c + 46 + nlen - 4, ".npy", 4) != 0)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, path, "member %d is not "
                        "NAME.npy (1..%d bytes)", z->n, MAX_NAME + 4);
  memcpy(name, buf + c + 46, nlen);
  name[nlen] = 0;
  char what[4096 + MAX_NAME + 8];
  snprintf(what, sizeof what, "%s:%s", path, name);
  name[nlen - 4] = 0;
  if (!good_name(name))
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, what, "bad member name");
  if (pmls_npz_find(z, name))
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, what, "member repeated");
  if ((csize == U32_MAX_SIZE || usize == U32_MAX_SIZE ||
       off == U32_MAX_SIZE) &&
      !zip64_sizes(buf + c + 46 + nlen, xlen, &usize, &csize, &off))
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, what, "damaged zip64 "
                        "extra field");
  if (flags & 1)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, what, "encrypted");
  if (method != 0 && method != 8)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, what, "compression method "
                        "%u (stored or deflated only)", method);
  if (off > len || len - off < 30 || get32(buf + off) != 0x04034b50)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, what, "damaged zip (local "
                        "header)");
  size_t lnlen = get16(buf + off + 26), lxlen = get16(buf + off + 28);
  uint64_t data = off + 30 + lnlen + lxlen;
  if (data > len || csize > len - data)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, what, "truncated (the "
                        "member needs %llu bytes past offset %llu)",
                        (unsigned long long)csize, (unsigned long long)data);
  if (method == 0 && csize != usize)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, what, "damaged zip "
                        "(stored sizes differ)");
  /* deflate expands at most 1032:1 */
  if (method == 8 && usize > csize * 1032 + 64)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, what, "damaged zip "
                        "(%llu bytes cannot inflate to %llu)",
                        (unsigned long long)csize, (unsigned long long)usize);
  if (usize > U32_MAX_SIZE * 16)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, what, "member too large");
  const unsigned char *bytes = buf + data;
  unsigned char *inflated = NULL;
  if (method == 8) {
    inflated = malloc(usize ? (size_t)usize : 1);
    if (!inflated) return pmi_npy_fail(err, errlen, PMLS_ENOMEM, what,
                                       "out of memory");
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, -15) != Z_OK) {
      free(inflated);
      return pmi_npy_fail(err, errlen, PMLS_ENOMEM, what, "inflate failed");
    }
    s.next_in = (Bytef *)bytes, s.avail_in = (uInt)csize;
    s.next_out = inflated, s.avail_out = (uInt)usize;
    int zr = inflate(&s, Z_FINISH);
    uint64_t got = s.total_out;
    inflateEnd(&s);
    if (zr != Z_STREAM_END || got != usize) {
      free(inflated);
      return pmi_npy_fail(err, errlen, PMLS_EINVAL, what, "damaged deflate "
                          "data");
    }
    bytes = inflated;
  }
  int rc = PMLS_OK;
  if (crc32(crc32(0L, NULL, 0), bytes, (uInt)usize) != crc)
    rc = pmi_npy_fail(err, errlen, PMLS_EINVAL, what, "CRC mismatch "
                      "(damaged member)");
  if (rc == PMLS_OK) {
    z->names[z->n] = strdup(name);
    if (!z->names[z->n])
      rc = pmi_npy_fail(err, errlen, PMLS_ENOMEM, what, "out of memory");
  }
  if (rc == PMLS_OK) {
    rc = pmls_npy_parse(bytes, (size_t)usize, what, &z->arrays[z->n], err,
                        errlen);
    if (rc == PMLS_OK) z->n++;
    else free(z->names[z->n]), z->names[z->n] = NULL;
  }
  free(inflated);
  *next = c + 46 + nlen + xlen + clen;
  return rc;
}

static int parse_zip(const unsigned char *buf, size_t len, const char *path,
                     pmls_npz *z, char *err, size_t errlen) {
  if (len < 22)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, path, "not a .npz file "
                        "(too short for a zip)");
  size_t lo = len - 22 > 65535 ? len - 22 - 65535 : 0, e = len - 22;
  while (get32(buf + e) != 0x06054b50 && e > lo) e--;
  if (get32(buf + e) != 0x06054b50)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, path, "not a .npz file "
                        "(no zip end record)");
  unsigned entries = get16(buf + e + 10);
  uint64_t cd_size = get32(buf + e + 12), cd_off = get32(buf + e + 16);
  if (entries == 0xFFFF || cd_off == U32_MAX_SIZE)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, path, "zip64 archives are "
                        "not supported");
  if (get16(buf + e + 4) != 0 || get16(buf + e + 6) != 0 ||
      get16(buf + e + 8) != entries)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, path, "multi-disk zip");
  if (entries > MAX_MEMBERS)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, path, "%u members (at most"
                        " %d)", entries, MAX_MEMBERS);
  if (cd_off > e || cd_size > e - cd_off)
    return pmi_npy_fail(err, errlen, PMLS_EINVAL, path, "damaged zip "
                        "(central directory outside the file)");
  z->names = calloc(entries ? entries : 1, sizeof *z->names);
  z->arrays = calloc(entries ? entries : 1, sizeof *z->arrays);
  if (!z->names || !z->arrays)
    return pmi_npy_fail(err, errlen, PMLS_ENOMEM, path, "out of memory");
  size_t c = (size_t)cd_off, end = (size_t)(cd_off + cd_size);
  for (unsigned i = 0; i < entries; i++) {
    int rc = read_member(buf, end, c, path, z, err, errlen, &c);
    if (rc) return rc;
  }
  return PMLS_OK;
}

int pmls_npz_read(const char *path, pmls_npz **out, char *err,
                  size_t errlen) {
  if (!out) return pmi_npy_fail(err, errlen, PMLS_EINVAL, "out", "missing");
  *out = NULL;
  unsigned char *buf;
  size_t len;
  int rc = pmi_npy_slurp(path, (size_t)1 << 40, &buf, &len, err, errlen);
  if (rc) return rc;
  pmls_npz *z = calloc(1, sizeof *z);
  if (!z) rc = pmi_npy_fail(err, errlen, PMLS_ENOMEM, path, "out of memory");
  else rc = parse_zip(buf, len, path, z, err, errlen);
  free(buf);
  if (rc) pmls_npz_free(z);
  else *out = z;
  return rc;
}
