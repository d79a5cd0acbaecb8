/* mm_test.c -- the Matrix Market reader through pmls.h: a coordinate
 * fixture's CSR arrays exactly (unsorted rows sorted, an empty row,
 * comments, CRLF, no final newline, any case in the header), plain and
 * gzip; the same matrix from row-major, column-major and shuffled files;
 * arrays, pattern, integer, symmetric and skew-symmetric expanded; every
 * malformed file its exact "path:LINE:" message, the limits (columns, label
 * shape) at the size line; a damaged archive an error; lines over 2 MiB;
 * and the engine's copy shared between threads. */
#include <pthread.h>
#include <unistd.h>

#include "datafiles.h"

#define GENERAL "%%MatrixMarket matrix coordinate real general\n"
#define ARRAY "%%MatrixMarket matrix array real general\n"
#define HEADER_TEXT                                                          \
  "'%%MatrixMarket matrix coordinate|array real|integer|pattern "           \
  "general|symmetric|skew-symmetric'"

static const char FIXTURE[] = "%%MatrixMarket Matrix COORDINATE real General\n"
                              "% a comment\n"
                              "%another\n"
                              "4 5 6\r\n"
                              "1 5 2.5\n"
                              "\n"
                              "1 2 -1\n"
                              "2 1 3e2\r\n"
                              "4 4 0.125\n"
                              "   % among the entries\n"
                              "1 3 7\n"
                              "4 1 -0";

/* Reads path into a matrix, or fails the case with the message. */
static pmls_csr *read_ok(const char *path) {
  pmls_csr *m = NULL;
  char err[512] = "";
  int rc = pmls_csr_read_mm(path, NULL, &m, err, sizeof err);
  if (rc != PMLS_OK) th_fail(__FILE__, __LINE__, "rc %d: %s", rc, err);
  return m;
}

/* The matrix is rows x cols with these dense values (row-major), its rows
 * strictly increasing in column, y zero and line NULL. */
static int is_dense(const pmls_csr *m, int64_t rows, int64_t cols,
                    const double *want) {
  if (!m || m->n != rows || m->d != cols || m->line || m->rowptr[0] != 0)
    return 0;
  int64_t nonzero = 0;
  for (int64_t r = 0; r < rows; r++) {
    if (m->y[r] != 0) return 0;
    int64_t t = m->rowptr[r];
    for (int64_t c = 0; c < cols; c++) {
      double v = 0;
      if (t < m->rowptr[r + 1] && m->col[t] == c) v = m->val[t++];
      if (memcmp(&v, &want[r * cols + c], sizeof v) != 0) return 0;
    }
    if (t != m->rowptr[r + 1]) return 0; /* a column out of order */
    nonzero = t;
  }
  return nonzero == m->nnz;
}

static void t_fixture_plain_and_gzip(void) {
  static const int64_t rowptr[] = {0, 3, 4, 4, 6};
  static const int32_t col[] = {1, 2, 4, 0, 0, 3};
  static const char *const val[] = {"-1", "7", "2.5", "3e2", "-0", "0.125"};
  char path[512];
  const char *names[] = {"fixture.mtx", "fixture.mtx.gz"};
  for (int k = 0; k < 2; k++) {
    df_path(path, names[k]);
    CHECK((k ? df_write_gz(path, FIXTURE, strlen(FIXTURE))
             : df_write_str(path, FIXTURE)) == 0);
    pmls_csr *m = read_ok(path);
    if (th_failed()) return;
    int ok = m->n == 4 && m->d == 5 && m->nnz == 6 && m->line == NULL;
    for (int i = 0; ok && i <= 4; i++) ok = m->rowptr[i] == rowptr[i];
    for (int i = 0; ok && i < 6; i++)
      ok = m->col[i] == col[i] && df_same_bits(m->val[i], val[i]);
    for (int i = 0; ok && i < 4; i++) ok = m->y[i] == 0;
    pmls_csr_free(m);
    CHECK(ok);
  }
}

static void t_orders_and_kinds(void) {
  static const double dense3[] = {1, 0, 2, 0, 3, 0, 4, 5, 6};
  const char *orders[] = {
      GENERAL "3 3 6\n1 1 1\n1 3 2\n2 2 3\n3 1 4\n3 2 5\n3 3 6\n",
      GENERAL "3 3 6\n1 1 1\n3 1 4\n2 2 3\n3 2 5\n1 3 2\n3 3 6\n",
      GENERAL "3 3 6\n3 3 6\n1 3 2\n3 1 4\n1 1 1\n3 2 5\n2 2 3\n"};
  char path[512];
  df_path(path, "kinds.mtx");
  for (int k = 0; k < 3; k++) {
    CHECK(df_write_str(path, orders[k]) == 0);
    pmls_csr *m = read_ok(path);
    int ok = is_dense(m, 3, 3, dense3);
    pmls_csr_free(m);
    if (!ok) th_fail(__FILE__, __LINE__, "order %d", k);
    if (th_failed()) return;
  }
  static const struct {
    const char *text;
    int64_t rows, cols, nnz;
    double dense[9];
  } kinds[] = {
      {ARRAY "2 3\n1\n2\n0\n4\n5\n-6.5\n", 2, 3, 6, {1, 0, 5, 2, 4, -6.5}},
      {ARRAY "% y\n4 1\n0.5\n-2\n0\n1e3", 4, 1, 4, {0.5, -2, 0, 1000}},
      {"%%MatrixMarket matrix coordinate pattern general\n2 3 3\n2 3\n1 1\n2 1\n",
       2, 3, 3, {1, 0, 0, 1, 0, 1}},
      {"%%MatrixMarket matrix coordinate integer general\n2 2 2\n1 2 -3\n2 2 40\n",
       2, 2, 2, {0, -3, 0, 40}},
      {"%%MatrixMarket matrix coordinate real symmetric\n3 3 4\n1 1 1\n2 1 2\n"
       "3 2 3\n3 3 4\n", 3, 3, 6, {1, 2, 0, 2, 0, 3, 0, 3, 4}},
      {"%%MatrixMarket matrix coordinate real skew-symmetric\n3 3 2\n2 1 5\n"
       "3 1 -1\n", 3, 3, 4, {0, -5, 1, 5, 0, 0, -1, 0, 0}},
      {"%%MatrixMarket matrix array real symmetric\n3 3\n1\n2\n3\n4\n5\n6\n",
       3, 3, 9, {1, 2, 3, 2, 4, 5, 3, 5, 6}},
      {"%%MatrixMarket matrix array real skew-symmetric\n3 3\n1\n2\n3\n", 3, 3, 6,
       {0, -1, -2, 1, 0, -3, 2, 3, 0}},
  };
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    CHECK(df_write_str(path, kinds[k].text) == 0);
    pmls_csr *m = read_ok(path);
    /* Arrays keep their zeros: the dense check counts stored entries. */
    int ok = m && m->nnz == kinds[k].nnz && m->n == kinds[k].rows;
    if (ok && kinds[k].nnz < kinds[k].rows * kinds[k].cols)
      ok = is_dense(m, kinds[k].rows, kinds[k].cols, kinds[k].dense);
    for (int64_t r = 0; ok && r < m->n; r++)
      for (int64_t t = m->rowptr[r]; ok && t < m->rowptr[r + 1]; t++)
        ok = m->val[t] == kinds[k].dense[r * kinds[k].cols + m->col[t]] &&
             (t == m->rowptr[r] || m->col[t] > m->col[t - 1]);
    pmls_csr_free(m);
    if (!ok) th_fail(__FILE__, __LINE__, "kind %zu", k);
    if (th_failed()) return;
  }
}

static void t_malformed_files(void) {
  static const struct { const char *text, *msg; } cases[] = {
      {"", "0: empty file (Matrix Market header " HEADER_TEXT " expected)"},
      {"3 3 1\n1 1 1\n", "1: not a Matrix Market file (first line " HEADER_TEXT " expected)"},
      {"\n", "1: not a Matrix Market file (first line " HEADER_TEXT " expected)"},
      {"%%MatrixMarket matrix coordinate real\n1 1 0\n",
       "1: malformed header '%%MatrixMarket matrix coordinate real' (" HEADER_TEXT " expected)"},
      {"%%MatrixMarket VECTOR coordinate real general\n",
       "1: unsupported object 'vector' in the header (only 'matrix' is read)"},
      {"%%MatrixMarket matrix sparse real general\n",
       "1: unknown format 'sparse' in the header ('coordinate' or 'array' expected)"},
      {"%%MatrixMarket matrix coordinate complex general\n",
       "1: unsupported field 'complex' in the header ('real', 'integer' or 'pattern' expected)"},
      {"%%MatrixMarket matrix array pattern general\n",
       "1: field 'pattern' needs format 'coordinate', not 'array'"},
      {"%%MatrixMarket matrix coordinate real hermitian\n",
       "1: unsupported symmetry 'hermitian' in the header ('general', 'symmetric' or "
       "'skew-symmetric' expected)"},
      {GENERAL "% only comments\n",
       "2: missing size line 'rows columns entries' after the header"},
      {GENERAL "% c\n 3 x 1 \r\n",
       "3: bad size line '3 x 1' ('rows columns entries' as non-negative integers expected)"},
      {GENERAL "3 3\n", "2: bad size line '3 3' ('rows columns entries' as non-negative"
                        " integers expected)"},
      {ARRAY "2 1 2\n", "2: bad size line '2 1 2' ('rows columns' as non-negative integers expected)"},
      {"%%MatrixMarket matrix coordinate real symmetric\n2 3 1\n",
       "2: a symmetric matrix must be square, got 2 x 3"},
      {GENERAL "2 2 5\n", "2: declares 5 entries, more than a general 2 x 2 matrix holds (4)"},
      {GENERAL "3 3 2\n1 1 1\n0 2 1\n",
       "4: row index '0' out of range (integer in [1, 3] expected)"},
      {GENERAL "3 3 1\n4 1 1\n", "3: row index '4' out of range (integer in [1, 3] expected)"},
      {GENERAL "3 2 1\n1 3 1\n",
       "3: column index '3' out of range (integer in [1, 2] expected)"},
      {GENERAL "3 3 1\n1 b 1\n", "3: column index 'b' out of range (integer in [1, 3] expected)"},
      {GENERAL "3 3 1\n1.5 1 1\n", "3: row index '1.5' out of range (integer in [1, 3] expected)"},
      {GENERAL "3 3 2\n1 1 1\n2 2\n", "4: expected 'row column value', got 2 fields"},
      {GENERAL "3 3 1\n1 1 1 1\n", "3: expected 'row column value', got 4 fields"},
      {"%%MatrixMarket matrix coordinate pattern general\n2 2 1\n1 1 1\n",
       "3: expected 'row column', got 3 fields"},
      {GENERAL "3 3 1\n1 1 abc\n", "3: bad value 'abc' (finite decimal number expected)"},
      {GENERAL "3 3 1\n1 1 1e999\n", "3: bad value '1e999' (finite decimal number expected)"},
      {"%%MatrixMarket matrix coordinate integer general\n2 2 1\n1 1 1.5\n",
       "3: bad value '1.5' (integer expected in an 'integer' matrix)"},
      {"%%MatrixMarket matrix coordinate real symmetric\n3 3 2\n1 1 1\n1 2 1\n",
       "4: entry (1, 2) is not in the lower triangle, the only part a symmetric matrix stores"},
      {"%%MatrixMarket matrix coordinate real skew-symmetric\n3 3 1\n2 2 1\n",
       "3: entry (2, 2) is not in the strictly lower triangle, the only part a "
       "skew-symmetric matrix stores"},
      {GENERAL "3 3 2\n1 1 1\n2 2 1\n% c\n3 3 1\n",
       "6: more entries than the 2 the size line (line 2) declares"},
      {GENERAL "3 3 3\n1 1 1\n2 2 1\n\n", "5: expected 3 entries (size line, line 2), got 2"},
      {GENERAL "3 3 3\n1 2 1\n1 3 1\n1 2 5\n", "5: duplicate entry (1, 2)"},
      {"%%MatrixMarket matrix coordinate real symmetric\n3 3 3\n3 1 1\n2 2 1\n3 1 5\n",
       "5: duplicate entry (3, 1)"},
      {ARRAY "2 2\n1\n2\n3\n", "5: expected 4 values (size line, line 2), got 3"},
      {ARRAY "2 1\n1\n2\n3\n", "5: more values than the 2 the size line (line 2) declares"},
      {ARRAY "2 1\n1 2\n", "3: expected one value per line, got 2 fields"},
      {ARRAY "2 1\n1\nx\n", "4: bad value 'x' (finite decimal number expected)"},
      {"%%MatrixMarket matrix array real skew-symmetric\n2 2\n1\n2\n",
       "4: more values than the 1 the size line (line 2) declares"},
  };
  char path[512], err[512];
  df_path(path, "bad.mtx");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pmls_csr *m = (pmls_csr *)&err;
    CHECK(df_write_str(path, cases[i].text) == 0);
    int rc = pmls_csr_read_mm(path, NULL, &m, err, sizeof err);
    if (rc != PMLS_EINVAL || m != NULL)
      th_fail(__FILE__, __LINE__, "case %zu: rc %d, m %p", i, rc, (void *)m);
    if (th_failed()) return;
    CHECK_MSG(err, "%s:%s", path, cases[i].msg);
  }
}

static void t_limits(void) {
  char path[512], err[512];
  pmls_csr *m = NULL;
  /* Columns over the limit: refused at the size line, before a bad entry. */
  CHECK(df_write_str(df_path(path, "wide.mtx"), GENERAL "2 9 1\n1 1 x\n") == 0);
  pmls_mm_limits cols = {.max_cols = 4, .label_rows = -1};
  CHECK_EQ_INT(pmls_csr_read_mm(path, &cols, &m, err, sizeof err), PMLS_EINVAL);
  CHECK_MSG(err, "%s:2: matrix has 9 columns, more than opts.d = 4", path);
  CHECK_EQ_INT(pmls_csr_read_mm(path, NULL, &m, err, sizeof err), PMLS_EINVAL);
  CHECK_MSG(err, "%s:3: bad value 'x' (finite decimal number expected)", path);
  cols.max_cols = 9;
  CHECK(df_write_str(path, GENERAL "2 9 1\n1 9 2\n") == 0);
  CHECK_EQ_INT(pmls_csr_read_mm(path, &cols, &m, err, sizeof err), PMLS_OK);
  CHECK(m->d == 9 && m->nnz == 1 && m->col[0] == 8);
  pmls_csr_free(m);
  /* A label file: n x 1 for the data's n rows. */
  pmls_mm_limits labels = {.max_cols = -1, .label_rows = 3, .labels_for = "x.mtx"};
  CHECK(df_write_str(df_path(path, "y.mtx"), ARRAY "% c\n2 1\n1\n2\n") == 0);
  CHECK_EQ_INT(pmls_csr_read_mm(path, &labels, &m, err, sizeof err), PMLS_EINVAL);
  CHECK_MSG(err, "%s:3: 2 labels (a 2 x 1 matrix) for the 3 rows of x.mtx", path);
  CHECK(df_write_str(path, ARRAY "3 2\n1\n2\n3\n4\n5\n6\n") == 0);
  CHECK_EQ_INT(pmls_csr_read_mm(path, &labels, &m, err, sizeof err), PMLS_EINVAL);
  CHECK_MSG(err, "%s:2: labels must be an n x 1 matrix, got 3 x 2", path);
  CHECK(df_write_str(path, ARRAY "3 1\n1\n-1\n0.5\n") == 0);
  CHECK_EQ_INT(pmls_csr_read_mm(path, &labels, &m, err, sizeof err), PMLS_OK);
  CHECK(m->nnz == 3 && m->val[1] == -1 && m->val[2] == 0.5);
  pmls_csr_free(m);
}

static void t_damaged_files_and_huge_lines(void) {
  char path[512], gz[512], err[512];
  pmls_csr *m = (pmls_csr *)&err;
  CHECK_EQ_INT(pmls_csr_read_mm(df_path(path, "none.mtx"), NULL, &m, err,
                                sizeof err), PMLS_EIO);
  CHECK(m == NULL);
  CHECK_MSG(err, "%s:0: cannot open: No such file or directory", path);
  CHECK(df_write_str(df_path(path, "plain.mtx.gz"), GENERAL) == 0);
  CHECK_EQ_INT(pmls_csr_read_mm(path, NULL, &m, err, sizeof err), PMLS_EIO);
  CHECK_MSG(err, "%s:0: cannot decompress: not in gzip format", path);
  CHECK(df_write_gz(df_path(path, "bad.mtx.gz"), GENERAL "2 2 1\n\n1 3 1\n",
                    strlen(GENERAL) + 13) == 0);
  CHECK_EQ_INT(pmls_csr_read_mm(path, NULL, &m, err, sizeof err), PMLS_EINVAL);
  CHECK_MSG(err, "%s:4: column index '3' out of range (integer in [1, 2] expected)",
            path);
  /* A long comment and a long run of blanks inside an entry, over 2 MiB
   * each; then the same archive cut short is an error, not fewer entries. */
  enum { PAD = 3 << 20 };
  char *big = malloc(2 * (size_t)PAD + 256);
  CHECK(big != NULL);
  size_t len = (size_t)sprintf(big, "%s3 3 3\n%%", GENERAL);
  memset(big + len, 'c', PAD), len += PAD;
  len += (size_t)sprintf(big + len, "\n1 1 1\n2");
  memset(big + len, ' ', PAD), len += PAD;
  len += (size_t)sprintf(big + len, "2 0.5\n3 3 -2");
  int ok = df_write(df_path(path, "huge.mtx"), big, len) == 0 &&
           df_write_gz(df_path(gz, "huge.mtx.gz"), big, len) == 0;
  free(big);
  CHECK(ok);
  static const double want[] = {1, 0, 0, 0, 0.5, 0, 0, 0, -2};
  const char *paths[] = {path, gz};
  for (int k = 0; k < 2; k++) {
    m = read_ok(paths[k]);
    ok = is_dense(m, 3, 3, want);
    pmls_csr_free(m);
    CHECK(ok);
  }
  CHECK(truncate(gz, df_size(gz) - 6) == 0);
  CHECK_EQ_INT(pmls_csr_read_mm(gz, NULL, &m, err, sizeof err), PMLS_EIO);
  CHECK(m == NULL);
  CHECK_STR_CONTAINS(err, ": cannot decompress: unexpected end of file");
  /* Long tokens are quoted cut to 80 bytes; small buffers stay in bounds. */
  char text[400], x100[101], small[65];
  memset(x100, 'y', 100);
  x100[100] = small[64] = 0;
  snprintf(text, sizeof text, "%s1 1 1\n1 1 %s\n", GENERAL, x100);
  CHECK(df_write_str(df_path(path, "long.mtx"), text) == 0);
  CHECK_EQ_INT(pmls_csr_read_mm(path, NULL, &m, err, sizeof err), PMLS_EINVAL);
  CHECK_MSG(err, "%s:3: bad value '%.80s' (finite decimal number expected)", path, x100);
  memset(small, 'Z', sizeof small - 1);
  CHECK_EQ_INT(pmls_csr_read_mm(path, NULL, &m, small, 16), PMLS_EINVAL);
  CHECK(small[15] == 0 && strncmp(small, err, 15) == 0);
  CHECK(strspn(small + 16, "Z") == sizeof small - 17);
  CHECK_EQ_INT(pmls_csr_read_mm(NULL, NULL, &m, err, sizeof err), PMLS_EINVAL);
  CHECK_MSG(err, "(null):0: missing path or out");
}

/* ---- the engine's copy ---------------------------------------------------- */

typedef struct {
  pmls_engine *e;
  const char *path;
  pthread_barrier_t *go;
  const pmls_csr *m;
  int rc;
  char err[512];
} reader_job;

static void *reader(void *arg) {
  reader_job *j = arg;
  pthread_barrier_wait(j->go);
  j->rc = pmls_engine_read_mm(j->e, j->path, &j->m, j->err, sizeof j->err);
  return NULL;
}

static void t_engine_cache_threads(void) {
  enum { THREADS = 4, ROWS = 20000, COLS = 50 };
  char path[512], *text = malloc((size_t)ROWS * 3 * 32 + 128);
  CHECK(text != NULL);
  /* Column-major, as many writers produce it. */
  size_t len = (size_t)sprintf(text, "%s%d %d %d\n", GENERAL, ROWS, COLS, 3 * ROWS);
  for (int c = 1; c <= COLS; c++)
    for (int r = 1; r <= ROWS; r++)
      if ((r * 7 + c) % COLS < 3)
        len += (size_t)sprintf(text + len, "%d %d %d.25\n", r, c, r % 100);
  int wrote = df_write_gz(df_path(path, "shared.mtx.gz"), text, len) == 0;
  free(text);
  CHECK(wrote);
  pmls_engine *e = df_engine();
  CHECK(e != NULL);
  pthread_barrier_t go;
  pthread_barrier_init(&go, NULL, THREADS);
  reader_job jobs[THREADS];
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    jobs[i] = (reader_job){.e = e, .path = path, .go = &go, .rc = -1};
    pthread_create(&th[i], NULL, reader, &jobs[i]);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  pthread_barrier_destroy(&go);
  int same = 1, failed = -1;
  for (int i = 0; i < THREADS; i++) {
    if (failed < 0 && (jobs[i].rc != PMLS_OK || !jobs[i].m)) failed = i;
    same = same && jobs[i].m == jobs[0].m;
  }
  int sorted = failed < 0 && jobs[0].m->n == ROWS && jobs[0].m->nnz == 3 * ROWS;
  for (int64_t r = 0; sorted && r < ROWS; r++) {
    const pmls_csr *m = jobs[0].m;
    for (int64_t t = m->rowptr[r]; sorted && t < m->rowptr[r + 1]; t++)
      sorted = (t == m->rowptr[r] || m->col[t] > m->col[t - 1]) &&
               m->val[t] == (double)((r + 1) % 100) + 0.25;
  }
  /* The limits do not apply to the kept copy; a second read shares it. */
  const pmls_csr *again = NULL;
  int rc = pmls_engine_read_mm(e, path, &again, jobs[0].err, sizeof jobs[0].err);
  int shared = rc == PMLS_OK && again == jobs[0].m;
  pmls_engine_destroy(e); /* frees the copy (ASan checks leaks) */
  if (failed >= 0)
    th_fail(__FILE__, __LINE__, "reader %d: rc %d: %s", failed,
            jobs[failed].rc, jobs[failed].err);
  CHECK(same); /* one parse, shared */
  CHECK(sorted);
  CHECK(shared);
}

static const th_case cases[] = {
    {"mm: fixture exact, doubles as strtod, plain and gzip", t_fixture_plain_and_gzip},
    {"mm: any entry order; array, pattern, integer, symmetric, skew", t_orders_and_kinds},
    {"mm: every malformed file has its path:LINE: message", t_malformed_files},
    {"mm: column and label limits at the size line", t_limits},
    {"mm: missing, not gzip, truncated; lines over 2 MiB; long tokens", t_damaged_files_and_huge_lines},
    {"engine: 4 threads asking at once share one parse", t_engine_cache_threads},
};

TH_MAIN(cases)
