/* npy_test.c -- the .npy and .npz codecs (npy.c, npz.c) and the table
 * dump / fill (runtime/table_io.c) through pmls.h: round trips of every
 * dtype and of 0 to 3 dimensions (empty arrays too), the exact header numpy
 * writes, archives stored and deflated; then every malformed file the
 * readers refuse, each with its message naming the file (and member), and
 * a table dumped, saved, read back and filled into another table. */
#include "datafiles.h"

static char err[1024];

static pmls_array arr(pmls_dtype t, int ndim, const int64_t *shape,
                      void *data) {
  pmls_array a;
  memset(&a, 0, sizeof a);
  a.dtype = t, a.ndim = ndim, a.data = data;
  for (int k = 0; k < ndim; k++) a.shape[k] = shape[k];
  return a;
}

static int same(const pmls_array *a, const pmls_array *b) {
  if (a->dtype != b->dtype || a->ndim != b->ndim) return 0;
  for (int k = 0; k < a->ndim; k++)
    if (a->shape[k] != b->shape[k]) return 0;
  int64_t n = pmls_array_count(a) * (int64_t)pmls_dtype_size(a->dtype);
  return n == 0 || memcmp(a->data, b->data, (size_t)n) == 0;
}

static void t_round_trips(void) {
  double d[12];
  float f[12];
  int32_t i4[12];
  int64_t i8[12];
  for (int k = 0; k < 12; k++)
    d[k] = k * 0.1 - 0.5, f[k] = (float)k / 3, i4[k] = -k, i8[k] = (int64_t)k << 40;
  void *data[4] = {d, f, i4, i8};
  static const int64_t shapes[][3] = {{0}, {12}, {3, 4}, {2, 3, 2}, {0, 5}};
  static const int ndims[] = {0, 1, 2, 3, 2};
  char path[512];
  df_path(path, "a.npy");
  for (int t = 0; t < 4; t++)
    for (int s = 0; s < 5; s++) {
      pmls_array a = arr((pmls_dtype)t, ndims[s], shapes[s], data[t]), b;
      CHECK_EQ_INT(pmls_npy_write(path, &a, err, sizeof err), PMLS_OK);
      CHECK_EQ_INT(pmls_npy_read(path, &b, err, sizeof err), PMLS_OK);
      CHECK(same(&a, &b));
      CHECK_EQ_INT(df_size(path) % 64, (long)(pmls_array_count(&a) *
                                             (int64_t)pmls_dtype_size(a.dtype)) % 64);
      pmls_array_free(&b);
      CHECK(b.data == NULL && b.ndim == 0);
    }
}

/* The bytes numpy.save writes for a 2 x 3 float64 array. */
static void t_header_is_numpys(void) {
  double d[6] = {1, 2, 3, 4, 5, 6};
  int64_t shape[2] = {2, 3};
  pmls_array a = arr(PMLS_F64, 2, shape, d);
  char path[512];
  df_path(path, "h.npy");
  CHECK_EQ_INT(pmls_npy_write(path, &a, err, sizeof err), PMLS_OK);
  CHECK_EQ_INT(df_size(path), 128 + 48);
  FILE *f = fopen(path, "rb");
  char h[128];
  CHECK(f && fread(h, 1, 128, f) == 128);
  fclose(f);
  CHECK(memcmp(h, "\x93NUMPY\x01\x00\x76\x00", 10) == 0);
  const char *dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
  CHECK(memcmp(h + 10, dict, strlen(dict)) == 0);
  for (size_t k = 10 + strlen(dict); k < 127; k++) CHECK(h[k] == ' ');
  CHECK(h[127] == '\n');
  /* a 1-d shape is (n,) */
  a.ndim = 1, a.shape[0] = 6;
  CHECK_EQ_INT(pmls_npy_write(path, &a, err, sizeof err), PMLS_OK);
  f = fopen(path, "rb");
  CHECK(f && fread(h, 1, 128, f) >= 64);
  fclose(f);
  CHECK(memmem(h, 128, "'shape': (6,), }", 16) != NULL);
}

static void t_npz_round_trip(void) {
  double L[6] = {1, 2, 3, 4, 5, 6.5};
  float R[4] = {1, -1, 0.5f, 2};
  double mu = 3.25;
  int64_t sl[2] = {3, 2}, sr[1] = {4};
  pmls_array as[3] = {arr(PMLS_F64, 2, sl, L), arr(PMLS_F32, 1, sr, R),
                      arr(PMLS_F64, 0, NULL, &mu)};
  const char *names[3] = {"L", "R_items", "mu"};
  char path[512];
  df_path(path, "m.npz");
  for (int deflate = 0; deflate < 2; deflate++) {
    CHECK_EQ_INT(pmls_npz_write(path, 3, names, as, deflate, err, sizeof err), PMLS_OK);
    pmls_npz *z = NULL;
    CHECK_EQ_INT(pmls_npz_read(path, &z, err, sizeof err), PMLS_OK);
    CHECK_EQ_INT(pmls_npz_count(z), 3);
    for (int i = 0; i < 3; i++) {
      CHECK(strcmp(pmls_npz_name(z, i), names[i]) == 0);
      CHECK(same(pmls_npz_array(z, i), &as[i]));
      CHECK(pmls_npz_find(z, names[i]) == pmls_npz_array(z, i));
    }
    CHECK(pmls_npz_find(z, "nope") == NULL && pmls_npz_array(z, 3) == NULL);
    pmls_npz_free(z);
  }
  /* an empty archive is one */
  CHECK_EQ_INT(pmls_npz_write(path, 0, NULL, NULL, 0, err, sizeof err), PMLS_OK);
  pmls_npz *z = NULL;
  CHECK_EQ_INT(pmls_npz_read(path, &z, err, sizeof err), PMLS_OK);
  CHECK_EQ_INT(pmls_npz_count(z), 0);
  pmls_npz_free(z);
  /* bad names and arrays are refused before anything is written */
  const char *bad[2] = {"a/b", "x"};
  CHECK_EQ_INT(pmls_npz_write(path, 2, bad, as, 0, err, sizeof err), PMLS_EINVAL);
  CHECK_STR_CONTAINS(err, "member name 'a/b'");
  const char *twice[2] = {"x", "x"};
  CHECK_EQ_INT(pmls_npz_write(path, 2, twice, as, 0, err, sizeof err), PMLS_EINVAL);
  CHECK_STR_CONTAINS(err, "given twice");
  pmls_array neg = arr(PMLS_F64, 1, sr, L);
  neg.shape[0] = -1;
  CHECK_EQ_INT(pmls_npy_write(path, &neg, err, sizeof err), PMLS_EINVAL);
  neg.shape[0] = 1, neg.ndim = 9;
  CHECK_EQ_INT(pmls_npy_write(path, &neg, err, sizeof err), PMLS_EINVAL);
  CHECK_EQ_INT(pmls_npy_write("/nonexistent/dir/x.npy", &as[0], err, sizeof err), PMLS_EIO);
  CHECK_STR_CONTAINS(err, "/nonexistent/dir/x.npy.tmp: ");
}

/* A .npy of magic, version and the header dict h (padded), then n bytes. */
static size_t make_npy(unsigned char *out, const char *h, size_t data) {
  size_t n = strlen(h);
  memcpy(out, "\x93NUMPY\x01\x00", 8);
  out[8] = (unsigned char)(n & 0xff), out[9] = (unsigned char)(n >> 8);
  memcpy(out + 10, h, n);
  memset(out + 10 + n, 0, data);
  return 10 + n + data;
}

static void bad_npy(const void *bytes, size_t len, int code, const char *want) {
  char path[512];
  df_path(path, "bad.npy");
  CHECK_EQ_INT(df_write(path, bytes, len), 0);
  pmls_array a;
  CHECK_EQ_INT(pmls_npy_read(path, &a, err, sizeof err), code);
  CHECK(a.data == NULL);
  char full[1024];
  snprintf(full, sizeof full, "%s: %s", path, want);
  if (strncmp(err, full, strlen(full)) != 0)
    th_fail(__FILE__, __LINE__, "got \"%s\", want \"%s...\"", err, full);
}

static void t_malformed_npy(void) {
  unsigned char b[70000];
  bad_npy("\x93NUMP", 5, PMLS_EINVAL, "not a .npy file (too short)");
  bad_npy("PK\3\4xxxxxxxxxxxx", 16, PMLS_EINVAL, "not a .npy file (bad magic)");
  if (th_failed()) return;
  size_t n = make_npy(b, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16);
  b[6] = 4;
  bad_npy(b, n, PMLS_EINVAL, "format version 4.0 is not supported");
  if (th_failed()) return;
  /* version 2: a 4-byte header length, bounded */
  memcpy(b, "\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12);
  bad_npy(b, 64, PMLS_EINVAL, "header of 2147483647 bytes (at most 65535)");
  if (th_failed()) return;
  memcpy(b, "\x93NUMPY\x01\x00\xff\x00", 10);
  bad_npy(b, 40, PMLS_EINVAL, "truncated (the header says 255 bytes, 30 follow)");
  if (th_failed()) return;
  static const struct { const char *h; size_t data; const char *want; } cases[] = {
      {"[1, 2]", 0, "header is not a dict"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x': 1}", 16,
       "malformed header (key 'x' unknown or repeated)"},
      {"{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': ()}", 8,
       "malformed header (key 'descr' unknown or repeated)"},
      {"{'descr': '<f8', 'shape': (2,)}", 16, "header lacks 'fortran_order'"},
      {"{'fortran_order': False, 'shape': (2,)}", 16, "header lacks 'descr'"},
      {"{'descr': '<f8', 'fortran_order': False}", 8, "header lacks 'shape'"},
      {"{'descr': '>f8', 'fortran_order': False, 'shape': (2,)}", 16,
       "big-endian data ('>f8') is not supported"},
      {"{'descr': '<c16', 'fortran_order': False, 'shape': (2,)}", 32,
       "dtype '<c16' is not supported"},
      {"{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,)}", 16,
       "malformed header ('descr' is not a string"},
      {"{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2)}", 32,
       "Fortran order is not supported"},
      {"{'descr': '<f8', 'fortran_order': 0, 'shape': (2,)}", 16,
       "malformed header ('fortran_order' is not a boolean)"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': [2]}", 16,
       "malformed header ('shape' is not a tuple)"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (-2,)}", 16,
       "malformed header (shape: a dimension is not an integer"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,)}", 16,
       "malformed header (shape: a dimension is not an integer"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", 16,
       "shape too large (its product overflows)"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}", 8,
       "more than 8 dimensions"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (3,)}", 16,
       "truncated (the shape needs 24 bytes of data, the file has 16)"},
      {"{'descr': '<i4', 'fortran_order': False, 'shape': (3,)}", 16,
       "bytes after the data (the shape needs 12 bytes of data, the file has 16)"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,), } x", 16,
       "malformed header (bytes after the dict)"},
      {"{'descr': '<f8' 'fortran_order': False}", 16,
       "malformed header (',' or '}' expected)"},
      {"{'descr: '<f8'}", 16, "malformed header (a key expected)"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    n = make_npy(b, cases[k].h, cases[k].data);
    bad_npy(b, n, PMLS_EINVAL, cases[k].want);
    if (th_failed()) return;
  }
  /* the good one these variations start from is good */
  n = make_npy(b, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16);
  pmls_array a;
  CHECK_EQ_INT(pmls_npy_parse(b, n, "mem", &a, err, sizeof err), PMLS_OK);
  CHECK(a.ndim == 1 && a.shape[0] == 2 && a.dtype == PMLS_F64);
  pmls_array_free(&a);
  CHECK_EQ_INT(pmls_npy_read("/nonexistent.npy", &a, err, sizeof err), PMLS_EIO);
  CHECK_STR_CONTAINS(err, "/nonexistent.npy: ");
}

/* Writes a good 2-member archive into buf; returns its length. */
static size_t good_npz(unsigned char *buf, size_t cap, int deflate) {
  double L[4] = {1, 2, 3, 4};
  int64_t s[1] = {4};
  pmls_array as[2] = {arr(PMLS_F64, 1, s, L), arr(PMLS_F64, 1, s, L)};
  const char *names[2] = {"a", "b"};
  char path[512];
  df_path(path, "good.npz");
  if (pmls_npz_write(path, 2, names, as, deflate, err, sizeof err)) return 0;
  FILE *f = fopen(path, "rb");
  size_t n = f ? fread(buf, 1, cap, f) : 0;
  if (f) fclose(f);
  return n;
}

static void bad_npz(const void *bytes, size_t len, const char *want) {
  char path[512];
  df_path(path, "bad.npz");
  CHECK_EQ_INT(df_write(path, bytes, len), 0);
  pmls_npz *z = (pmls_npz *)1;
  CHECK_EQ_INT(pmls_npz_read(path, &z, err, sizeof err), PMLS_EINVAL);
  CHECK(z == NULL);
  char full[1024];
  snprintf(full, sizeof full, "%s%s", path, want);
  if (strncmp(err, full, strlen(full)) != 0)
    th_fail(__FILE__, __LINE__, "got \"%s\", want \"%s...\"", err, full);
}

static void t_malformed_npz(void) {
  unsigned char g[4096], b[4096];
  size_t n = good_npz(g, sizeof g, 0);
  CHECK(n > 200);
  /* where things are: member a's local header at 0, its data at 35 */
  size_t cd = g[n - 6] | (size_t)g[n - 5] << 8;
  bad_npz("PK", 2, ": not a .npz file (too short for a zip)");
  memset(b, 'x', 100);
  bad_npz(b, 100, ": not a .npz file (no zip end record)");
  if (th_failed()) return;
  /* cut before the end record: no end record */
  bad_npz(g, n - 10, ": not a .npz file (no zip end record)");
  /* a flipped data byte: the CRC */
  memcpy(b, g, n);
  b[35 + 128] ^= 1;
  bad_npz(b, n, ":a.npy: CRC mismatch");
  /* a directory that lies outside the file */
  memcpy(b, g, n);
  b[n - 6] = 0xff, b[n - 5] = 0xff;
  bad_npz(b, n, ": damaged zip (central directory outside the file)");
  memcpy(b, g, n);
  b[n - 12] = 0xff, b[n - 11] = 0xff, b[n - 14] = 0xff, b[n - 13] = 0xff;
  bad_npz(b, n, ": zip64 archives are not supported");
  memcpy(b, g, n);
  b[n - 12] = 0x10, b[n - 11] = 0x10, b[n - 14] = 0x10, b[n - 13] = 0x10;
  bad_npz(b, n, ": 4112 members (at most 4096)");
  if (th_failed()) return;
  /* member a: encrypted, another method, a size beyond the file, a name */
  memcpy(b, g, n);
  b[cd + 8] = 1;
  bad_npz(b, n, ":a.npy: encrypted");
  memcpy(b, g, n);
  b[cd + 10] = 12;
  bad_npz(b, n, ":a.npy: compression method 12");
  memcpy(b, g, n);
  b[cd + 23] = 0x7f, b[cd + 27] = 0x7f;
  bad_npz(b, n, ":a.npy: truncated (the member needs");
  memcpy(b, g, n);
  b[cd + 20] = 1;
  bad_npz(b, n, ":a.npy: damaged zip (stored sizes differ)");
  memcpy(b, g, n);
  b[cd + 42] = 7;
  bad_npz(b, n, ":a.npy: damaged zip (local header)");
  memcpy(b, g, n);
  b[cd + 46 + 2] = 'x';
  bad_npz(b, n, ": member 0 is not NAME.npy");
  if (th_failed()) return;
  /* b renamed a: repeated */
  size_t cd2 = cd + 46 + 5;
  memcpy(b, g, n);
  b[cd2 + 46] = 'a';
  bad_npz(b, n, ":a.npy: member repeated");
  /* a member that is not a .npy */
  memcpy(b, g, n);
  b[30 + 5 + 1] = 'X';
  bad_npz(b, n, ":a.npy: CRC mismatch");
  if (th_failed()) return;
  /* deflated: the stated size cannot come from so few bytes; damaged data */
  n = good_npz(g, sizeof g, 1);
  cd = g[n - 6] | (size_t)g[n - 5] << 8;
  memcpy(b, g, n);
  b[cd + 26] = 0x7f;
  bad_npz(b, n, ":a.npy: damaged zip (");
  memcpy(b, g, n);
  b[cd + 24] ^= 1; /* one byte more or less than it inflates to */
  bad_npz(b, n, ":a.npy: damaged deflate data");
  memcpy(b, g, n);
  memset(b + 35, 0xff, 8);
  bad_npz(b, n, ":a.npy: damaged deflate data");
  pmls_npz *z = NULL;
  CHECK_EQ_INT(pmls_npz_read("/nonexistent.npz", &z, err, sizeof err), PMLS_EIO);
}

/* A table dumped, written, read and filled into another: the same rows. */
static void t_table_dump_fill(void) {
  pmls_engine *e = df_engine();
  CHECK(e != NULL);
  pmls_table_spec s;
  pmls_table_spec_init(&s);
  s.rows = 5000, s.cols = 3, s.dtype = PMLS_F32, s.init = 1, s.init_scale = 1;
  int a, b, other;
  CHECK_EQ_INT(pmls_table_create(e, "a", &s, &a), PMLS_OK);
  s.init = 0;
  CHECK_EQ_INT(pmls_table_create(e, "b", &s, &b), PMLS_OK);
  s.cols = 4;
  CHECK_EQ_INT(pmls_table_create(e, "other", &s, &other), PMLS_OK);
  pmls_client *c = NULL;
  CHECK_EQ_INT(pmls_client_open(e, -1, &c), PMLS_OK);
  pmls_array t, back, again;
  CHECK_EQ_INT(pmls_table_dump(c, a, &t), PMLS_OK);
  CHECK(t.ndim == 2 && t.shape[0] == 5000 && t.shape[1] == 3 && t.dtype == PMLS_F32);
  char path[512];
  df_path(path, "t.npy");
  CHECK_EQ_INT(pmls_npy_write(path, &t, err, sizeof err), PMLS_OK);
  CHECK_EQ_INT(pmls_npy_read(path, &back, err, sizeof err), PMLS_OK);
  CHECK_EQ_INT(pmls_table_fill(c, b, &back), PMLS_OK);
  CHECK_EQ_INT(pmls_table_dump(c, b, &again), PMLS_OK);
  CHECK(same(&t, &again));
  CHECK(((float *)t.data)[4999 * 3 + 2] != 0);
  CHECK_EQ_INT(pmls_table_fill(c, other, &back), PMLS_EINVAL);
  CHECK_STR_CONTAINS(pmls_client_errmsg(c), "table 'other' is 5000 x 4, the array is (5000, 3)");
  pmls_array_free(&t), pmls_array_free(&back), pmls_array_free(&again);
  CHECK_EQ_INT(pmls_table_dump(c, 7, &again), PMLS_EINVAL);
  pmls_client_close(c);
  pmls_engine_destroy(e);
}

static const th_case cases[] = {
    {"npy round trips: every dtype, 0 to 3 dimensions, empty", t_round_trips},
    {"npy header: the bytes numpy writes", t_header_is_numpys},
    {"npz round trips, stored and deflated; bad names refused", t_npz_round_trip},
    {"npy malformed: every header and length error names the file", t_malformed_npy},
    {"npz malformed: directory, sizes, CRC, methods, names", t_malformed_npz},
    {"table dump -> npy -> fill: the same rows; a shape mismatch named", t_table_dump_fill},
};
TH_MAIN(cases)
