/* libsvm_test.c -- the data-file readers through pmls.h: the text reader
 * splits lines exactly (empty lines, CR kept, no final newline, lines over
 * 1 and 2 MiB) and gives the same lines from gzip, while a damaged archive
 * (not gzip, truncated, corrupt) or a missing file is an error with its
 * "path:LINE:" message, never a shorter data set, and closing early stops
 * the thread that inflates ahead; the libsvm parser gives the CSR arrays
 * exactly, doubles equal to strtod's bit for bit, and each malformed line
 * its exact message, truncated safely to small buffers; the engine's cache
 * shares one parse between path spellings and threads, reads a rewritten
 * file again and never keeps a failed read. Files live in a mkdtemp
 * directory removed at exit. */
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "datafiles.h"
#include "harness.h"
#include "pmls.h"

/* ---- helpers ------------------------------------------------------------- */

#define RANGE "(integer in [1, 268435454] expected)"
#define FINITE "(finite decimal number expected)"

/* Fails the case unless got is the printf of the rest (shows both). */
#define CHECK_MSG(got, ...)                                                    \
  do {                                                                         \
    char want_[1024];                                                          \
    snprintf(want_, sizeof want_, __VA_ARGS__);                                \
    if (strcmp((got), want_) != 0) {                                           \
      th_fail(__FILE__, __LINE__, "got \"%s\", want \"%s\"", (got), want_);    \
      return;                                                                  \
    }                                                                          \
  } while (0)

/* ---- text reader ---------------------------------------------------------- */

/* Checks the reader yields exactly the '\n'-separated lines of data (a
 * final newline ends the last line), numbered 1.., then NULL twice. */
static void expect_lines(const char *path, const char *data, size_t len) {
  pmls_text *t = NULL;
  char err[512] = "";
  CHECK_EQ_INT(pmls_text_open(path, &t, err, sizeof err), PMLS_OK);
  size_t at = 0, n = 0;
  int64_t k = 0, bad = -1;
  const char *line = NULL;
  while (at < len && bad < 0) {
    const char *nl = memchr(data + at, '\n', len - at);
    size_t want = nl ? (size_t)(nl - (data + at)) : len - at;
    int rc = pmls_text_line(t, &line, &n);
    k++;
    if (rc != PMLS_OK || !line || n != want || memcmp(line, data + at, want) ||
        pmls_text_lineno(t) != k)
      bad = k;
    at += want + (nl != NULL);
  }
  int end = pmls_text_line(t, &line, &n) == PMLS_OK && !line && !n;
  end = end && pmls_text_line(t, &line, &n) == PMLS_OK && !line && !n;
  int64_t lineno = pmls_text_lineno(t);
  pmls_text_close(t);
  CHECK_EQ_INT(bad, -1); /* the first line that differs */
  CHECK(end);
  CHECK_EQ_INT(lineno, k);
}

static void t_text_lines_plain_and_gzip(void) {
  const size_t L1 = 1536 * 1024, L2 = 2560 * 1024; /* over 1 and 2 MiB */
  char *data = malloc(L1 + L2 + 64), path[512];
  CHECK(data != NULL);
  size_t len = (size_t)sprintf(data, "first\n\nthird\r\n");
  for (size_t i = 0; i < L1; i++) data[len++] = (char)('a' + i % 26);
  data[len++] = '\n';
  for (size_t i = 0; i < L2; i++) data[len++] = (char)('A' + i % 23);
  len += (size_t)sprintf(data + len, "\n\n last\r");
  int ok = df_write(df_path(path, "lines.txt"), data, len) == 0;
  if (ok) expect_lines(path, data, len);
  ok = ok && !th_failed() && df_write_gz(df_path(path, "lines.gz"), data, len) == 0;
  if (ok) expect_lines(path, data, len);
  free(data);
  CHECK(ok);
  /* A final newline does not make an empty last line; an empty file and
   * an empty archive have no line. */
  CHECK(df_write_str(df_path(path, "two.txt"), "a\nb\n") == 0);
  expect_lines(path, "a\nb\n", 4);
  CHECK(!th_failed() && df_write_str(df_path(path, "empty.txt"), "") == 0);
  expect_lines(path, "", 0);
  CHECK(!th_failed() && df_write_gz(df_path(path, "empty.gz"), "", 0) == 0);
  expect_lines(path, "", 0);
}

static void t_text_open_errors(void) {
  char path[512], err[512];
  pmls_text *t = (pmls_text *)&err; /* must be reset to NULL */
  CHECK(df_write_str(df_path(path, "plain.gz"), "1 1:1\n") == 0);
  CHECK_EQ_INT(pmls_text_open(path, &t, err, sizeof err), PMLS_EIO);
  CHECK(t == NULL);
  CHECK_MSG(err, "%s:0: cannot decompress: not in gzip format", path);
  t = (pmls_text *)&err;
  CHECK_EQ_INT(pmls_text_open(df_path(path, "none.txt"), &t, err, sizeof err),
               PMLS_EIO);
  CHECK(t == NULL);
  CHECK_MSG(err, "%s:0: cannot open: No such file or directory", path);
  /* A directory cannot be read: the reader finds out when it opens it. */
  CHECK_EQ_INT(pmls_text_open(df_dir, &t, err, sizeof err), PMLS_EIO);
  CHECK(t == NULL);
  CHECK_MSG(err, "%s:0: cannot read: Is a directory", df_dir);
}

/* Reads path to the end or the first error; returns the code, with the
 * lines read, the message, and whether a second call repeats the error
 * with a NULL line and the same message. */
static int read_until_error(const char *path, int64_t *lines, char *msg,
                            int *repeats) {
  pmls_text *t;
  int rc = pmls_text_open(path, &t, msg, 512);
  if (rc != PMLS_OK) return -1;
  const char *line;
  size_t n;
  while ((rc = pmls_text_line(t, &line, &n)) == PMLS_OK && line) {
  }
  *lines = pmls_text_lineno(t);
  snprintf(msg, 512, "%s", pmls_text_errmsg(t));
  line = "x";
  *repeats = pmls_text_line(t, &line, &n) == rc && !line &&
             strcmp(msg, pmls_text_errmsg(t)) == 0;
  pmls_text_close(t);
  return rc;
}

static void t_text_damaged_gzip(void) {
  enum { LINES = 200000 };
  char *data = malloc((size_t)LINES * 24), path[512], msg[512];
  CHECK(data != NULL);
  size_t len = 0;
  uint64_t x = 12345;
  for (int i = 0; i < LINES; i++) { /* poorly compressible */
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    len += (size_t)sprintf(data + len, "%d %llu\n", i, (unsigned long long)(x >> 20));
  }
  int wrote = df_write_gz(df_path(path, "full.gz"), data, len);
  free(data);
  CHECK(wrote == 0 && df_size(path) > 100000);
  int64_t lines = 0;
  int repeats = 0;
  /* Cut in the middle: some lines, then the error, never a short file. */
  CHECK(truncate(path, df_size(path) / 2) == 0);
  CHECK_EQ_INT(read_until_error(path, &lines, msg, &repeats), PMLS_EIO);
  CHECK(lines > 0 && lines < LINES && repeats);
  CHECK_MSG(msg, "%s:%lld: cannot decompress: unexpected end of file", path,
            (long long)lines);
  /* Only the trailer (CRC and length) missing: every line, then the error. */
  CHECK(df_write_gz(path, "1 1:1\n2 2:2\n", 12) == 0);
  CHECK(truncate(path, df_size(path) - 4) == 0);
  CHECK_EQ_INT(read_until_error(path, &lines, msg, &repeats), PMLS_EIO);
  CHECK(repeats);
  CHECK_MSG(msg, "%s:2: cannot decompress: unexpected end of file", path);
  /* A flipped byte in the CRC: the data inflates, the check fails. */
  CHECK(df_write_gz(path, "1 1:1\n2 2:2\n", 12) == 0);
  FILE *f = fopen(path, "r+b");
  CHECK(f != NULL);
  int c = (fseek(f, -8, SEEK_END), fgetc(f));
  int put = fseek(f, -8, SEEK_END) == 0 && fputc(c ^ 0xff, f) != EOF;
  CHECK(fclose(f) == 0 && c != EOF && put);
  CHECK_EQ_INT(read_until_error(path, &lines, msg, &repeats), PMLS_EIO);
  CHECK(repeats);
  CHECK_STR_CONTAINS(msg, ": cannot decompress: incorrect data check");
  /* Bytes appended after the last member: zlib's gzread would drop them
   * silently; two members in a row are one file. */
  CHECK(df_write_gz(path, "1 1:1\n2 2:2\n", 12) == 0);
  FILE *g = fopen(path, "ab");
  CHECK(g != NULL && fputs("3 3:3\n", g) >= 0 && fclose(g) == 0);
  CHECK_EQ_INT(read_until_error(path, &lines, msg, &repeats), PMLS_EIO);
  CHECK(repeats);
  CHECK_MSG(msg, "%s:2: cannot decompress: trailing garbage after the compressed data", path);
  char second[512];
  CHECK(df_write_gz(df_path(second, "second.gz"), "3 3:3\n", 6) == 0);
  CHECK(df_write_gz(path, "1 1:1\n2 2:2\n", 12) == 0);
  FILE *in = fopen(second, "rb");
  g = fopen(path, "ab");
  CHECK(in != NULL && g != NULL);
  for (int ch; (ch = fgetc(in)) != EOF;) fputc(ch, g);
  CHECK(fclose(in) == 0 && fclose(g) == 0);
  CHECK_EQ_INT(read_until_error(path, &lines, msg, &repeats), PMLS_OK);
  CHECK(lines == 3);
}

/* Closing before the end stops the thread inflating ahead, also when it
 * waits for room (a hang fails the case by its timeout; ASan checks leaks). */
static void t_text_close_early(void) {
  enum { BIG = 12 << 20 };
  char *data = malloc(BIG), path[512], err[512];
  CHECK(data != NULL);
  for (size_t i = 0; i < BIG; i++) data[i] = i % 64 == 63 ? '\n' : 'a';
  memcpy(data, "1 x:1 ", 6); /* a libsvm error on line 1 */
  int ok = df_write(df_path(path, "big.txt"), data, BIG) == 0 &&
           df_write_gz(df_path(path, "big.gz"), data, BIG) == 0;
  free(data);
  CHECK(ok);
  const char *names[] = {"big.txt", "big.gz"};
  for (int i = 0; i < 2; i++) {
    pmls_text *t = NULL;
    const char *line;
    size_t n;
    CHECK_EQ_INT(pmls_text_open(df_path(path, names[i]), &t, err, sizeof err), PMLS_OK);
    pmls_text_close(t); /* before any line */
    CHECK_EQ_INT(pmls_text_open(path, &t, err, sizeof err), PMLS_OK);
    int rc = pmls_text_line(t, &line, &n);
    usleep(50 * 1000); /* the reader fills its blocks and waits */
    pmls_text_close(t);
    CHECK(rc == PMLS_OK && n == 63);
    pmls_csr *m = NULL;
    CHECK_EQ_INT(pmls_csr_read_libsvm(path, &m, err, sizeof err), PMLS_EINVAL);
    CHECK_MSG(err, "%s:1: bad feature index 'x' in 'x:1' " RANGE, path);
  }
}

/* ---- libsvm parser -------------------------------------------------------- */

static const char FIXTURE[] =
    "# a header comment\n"                              /* line 1 */
    "1 qid:3 3:0.5 1:1e-3 2:.5 # trailing comment\n"    /* 2: row 0 */
    "-1 5:1E+2 4:-2\r\n"                                /* 3: row 1 */
    "\n"                                                /* 4 */
    "+1\n"                                              /* 5: row 2, empty */
    " \t \n"                                            /* 6 */
    "1.6e1 9:16. 6:1234567890123456789012345 8:+1 7:-0\n" /* 7: row 3 */
    "2.5 10:17e22 11:9007199254740993 12:4.9e-324 13:1.7976931348623157e308 "
    "14:0.1e-5 15:3.14159 16:0.0000000000000000000123#c"; /* 8: row 4 */

static const char *const FIXTURE_Y[] = {"1", "-1", "+1", "16", "2.5"};
static const char *const FIXTURE_VAL[] = { /* in column order */
    "1e-3", ".5", "0.5", "-2", "1E+2", "1234567890123456789012345", "-0", "+1",
    "0x10", "17e22", "9007199254740993", "4.9e-324", "1.7976931348623157e308",
    "0.1e-5", "3.14159", "0.0000000000000000000123"};

static int same_bits(double a, const char *text) {
  double b = strtod(text, NULL);
  return memcmp(&a, &b, sizeof a) == 0;
}

static void expect_fixture(const char *path) {
  static const int64_t rowptr[] = {0, 3, 5, 5, 9, 16}, line[] = {2, 3, 5, 7, 8};
  pmls_csr *m = NULL;
  char err[512] = "";
  int rc = pmls_csr_read_libsvm(path, &m, err, sizeof err);
  if (rc != PMLS_OK) th_fail(__FILE__, __LINE__, "rc %d: %s", rc, err);
  if (th_failed()) return;
  int64_t n = m->n, d = m->d, nnz = m->nnz, bad = m->rowptr[0] == 0 ? -1 : 0;
  for (int i = 0; i < 5 && bad < 0 && n == 5; i++)
    if (!same_bits(m->y[i], FIXTURE_Y[i]) || m->line[i] != line[i] ||
        m->rowptr[i + 1] != rowptr[i + 1])
      bad = i;
  for (int k = 0; k < 16 && bad < 0 && nnz == 16; k++)
    if (m->col[k] != k || !same_bits(m->val[k], FIXTURE_VAL[k])) bad = 100 + k;
  pmls_csr_free(m);
  CHECK(n == 5 && d == 16 && nnz == 16);
  CHECK_EQ_INT(bad, -1); /* row i, or 100 + entry k */
}

static void t_libsvm_fixture(void) {
  char path[512], err[512];
  CHECK(df_write_str(df_path(path, "fixture.svm"), FIXTURE) == 0);
  expect_fixture(path);
  CHECK(!th_failed() &&
        df_write_gz(df_path(path, "fixture.svm.gz"), FIXTURE, strlen(FIXTURE)) == 0);
  expect_fixture(path);
  if (th_failed()) return;
  /* The largest index (reader.h's PMI_MAX_DIM). */
  pmls_csr *m = NULL;
  CHECK(df_write_str(df_path(path, "max.svm"), "0 268435454:1\n") == 0);
  CHECK_EQ_INT(pmls_csr_read_libsvm(path, &m, err, sizeof err), PMLS_OK);
  int ok = m->d == 268435454 && m->nnz == 1 && m->col[0] == 268435453;
  pmls_csr_free(m);
  CHECK(ok);
}

static void t_libsvm_errors(void) {
  static const struct { const char *text, *msg; } cases[] = {
      {"1 1:1\nabc 1:1\n", "2: bad label 'abc' " FINITE},
      {"NaN 1:1", "1: bad label 'NaN' " FINITE},
      {"-inf 1:1", "1: bad label '-inf' " FINITE},
      {"1 5", "1: missing ':' in feature '5'"},
      {"1 0:1", "1: bad feature index '0' in '0:1' " RANGE},
      {"1 -1:1", "1: bad feature index '-1' in '-1:1' " RANGE},
      {"1 a:1", "1: bad feature index 'a' in 'a:1' " RANGE},
      {"1 2147483648:1", "1: bad feature index '2147483648' in '2147483648:1' " RANGE},
      {"1 3:", "1: missing value in '3:'"},
      {"1 3:1.2.3", "1: bad feature value '1.2.3' in '3:1.2.3' " FINITE},
      {"1 3:1e400", "1: bad feature value '1e400' in '3:1e400' " FINITE},
      {"1 3:nan", "1: bad feature value 'nan' in '3:nan' " FINITE},
      {"1 2:1 2:2", "1: duplicate feature index 2"},
      {"# c\n\n1 1:1\n1 3:1 1:1 3:2\r\n", "4: duplicate feature index 3"},
  };
  char path[512], err[512];
  df_path(path, "bad.svm");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pmls_csr *m = (pmls_csr *)&err;
    err[0] = 0;
    CHECK(df_write_str(path, cases[i].text) == 0);
    int rc = pmls_csr_read_libsvm(path, &m, err, sizeof err);
    if (rc != PMLS_EINVAL || m != NULL)
      th_fail(__FILE__, __LINE__, "case %zu: rc %d, m %p", i, rc, (void *)m);
    if (th_failed()) return;
    CHECK_MSG(err, "%s:%s", path, cases[i].msg);
  }
  /* A truncated archive through the parser: PMLS_EIO, not fewer rows. */
  CHECK(df_write_gz(df_path(path, "cut.svm.gz"), FIXTURE, strlen(FIXTURE)) == 0);
  CHECK(truncate(path, df_size(path) - 6) == 0);
  pmls_csr *m = NULL;
  CHECK_EQ_INT(pmls_csr_read_libsvm(path, &m, err, sizeof err), PMLS_EIO);
  CHECK(m == NULL);
  CHECK_STR_CONTAINS(err, ": cannot decompress: unexpected end of file");
}

static void t_libsvm_long_tokens_and_small_buffers(void) {
  char path[512], text[400], err[512], x100[101], small[65];
  memset(x100, 'x', 100);
  x100[100] = small[64] = 0;
  snprintf(text, sizeof text, "%s 1:1\n", x100);
  CHECK(df_write_str(df_path(path, "long.svm"), text) == 0);
  pmls_csr *m = NULL;
  CHECK_EQ_INT(pmls_csr_read_libsvm(path, &m, err, sizeof err), PMLS_EINVAL);
  CHECK_MSG(err, "%s:1: bad label '%.80s' " FINITE, path, x100);
  snprintf(text, sizeof text, "1 7:%s\n", x100);
  CHECK(df_write_str(path, text) == 0);
  CHECK_EQ_INT(pmls_csr_read_libsvm(path, &m, err, sizeof err), PMLS_EINVAL);
  CHECK_MSG(err, "%s:1: bad feature value '%.80s' in '7:%.78s' " FINITE, path,
            x100, x100);
  /* errlen 16: the first 15 bytes and a NUL, nothing written beyond. */
  memset(small, 'Z', sizeof small - 1);
  CHECK_EQ_INT(pmls_csr_read_libsvm(path, &m, small, 16), PMLS_EINVAL);
  CHECK(small[15] == 0 && strncmp(small, err, 15) == 0);
  CHECK(strspn(small + 16, "Z") == sizeof small - 17);
  memset(small, 'Z', sizeof small - 1);
  CHECK_EQ_INT(pmls_csr_read_libsvm(df_path(path, "none.svm"), &m, small, 16),
               PMLS_EIO);
  CHECK(small[15] == 0 && strncmp(small, path, 15) == 0);
  CHECK(strspn(small + 16, "Z") == sizeof small - 17);
  CHECK_EQ_INT(pmls_csr_read_libsvm(df_path(path, "long.svm"), &m, NULL, 0),
               PMLS_EINVAL);
  CHECK(m == NULL);
  /* A valid number of 131 characters (1e-129) takes strtod's path whole. */
  char digits[200] = "1 1:0.";
  memset(digits + 6, '0', 128);
  snprintf(digits + 134, sizeof digits - 134, "1\n");
  CHECK(df_write_str(df_path(path, "longnumber.svm"), digits) == 0);
  CHECK_EQ_INT(pmls_csr_read_libsvm(path, &m, err, sizeof err), PMLS_OK);
  CHECK(m && m->nnz == 1 && m->val[0] == strtod(digits + 4, NULL) && m->val[0] > 0);
  pmls_csr_free(m);
}

/* ---- the engine's cache ---------------------------------------------------- */

static pmls_engine *engine1(void) { /* one worker, quiet */
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = 1;
  cfg.quiet = 2;
  pmls_engine *e = NULL;
  char err[512] = "";
  if (pmls_engine_create(&e, &cfg, err, sizeof err) != PMLS_OK)
    fprintf(stderr, "libsvm_test: cannot create an engine: %s\n", err);
  return e;
}

static void cache_cases(pmls_engine *e) {
  char path[512], other[512], err[512];
  const pmls_csr *a = NULL, *b = NULL, *c = NULL;
  CHECK(df_write_str(df_path(path, "cache.svm"), "1 1:1\n-1 2:2\n") == 0);
  CHECK_EQ_INT(pmls_engine_read_libsvm(e, path, &a, err, sizeof err), PMLS_OK);
  CHECK_EQ_INT(pmls_engine_read_libsvm(e, path, &b, err, sizeof err), PMLS_OK);
  CHECK(a == b && a->n == 2);
  CHECK(strstr(df_path(other, "./cache.svm"), "/./"));
  CHECK_EQ_INT(pmls_engine_read_libsvm(e, other, &b, err, sizeof err), PMLS_OK);
  CHECK(a == b);
  /* Rewritten (another size): read again; the old copy stays valid. */
  CHECK(df_write_str(path, "1 1:1\n-1 2:2\n1 3:3\n") == 0);
  CHECK_EQ_INT(pmls_engine_read_libsvm(e, path, &c, err, sizeof err), PMLS_OK);
  CHECK(c != a && c->n == 3 && c->d == 3 && a->n == 2 && a->d == 2);
  /* A failed read is not kept: fixed, the file reads. */
  CHECK(df_write_str(df_path(path, "fixme.svm"), "1 x:1\n") == 0);
  CHECK_EQ_INT(pmls_engine_read_libsvm(e, path, &b, err, sizeof err), PMLS_EINVAL);
  CHECK_EQ_INT(pmls_engine_read_libsvm(e, path, &b, err, sizeof err), PMLS_EINVAL);
  CHECK(b == NULL);
  CHECK_MSG(err, "%s:1: bad feature index 'x' in 'x:1' " RANGE, path);
  CHECK(df_write_str(path, "1 4:1\n") == 0);
  CHECK_EQ_INT(pmls_engine_read_libsvm(e, path, &b, err, sizeof err), PMLS_OK);
  CHECK(b && b->n == 1 && b->d == 4);
  CHECK_EQ_INT(pmls_engine_read_libsvm(e, df_path(path, "none.svm"), &b, err,
                                       sizeof err), PMLS_EIO);
  CHECK(b == NULL);
  CHECK_MSG(err, "%s:0: cannot open: No such file or directory", path);
  /* The .gz rule follows the name asked for, whatever the cache holds: a
   * link named .gz to a plain file that was read is still refused. */
  char alias[512];
  CHECK(symlink(df_path(path, "cache.svm"), df_path(alias, "alias.svm.gz")) == 0);
  CHECK_EQ_INT(pmls_engine_read_libsvm(e, path, &b, err, sizeof err), PMLS_OK);
  CHECK_EQ_INT(pmls_engine_read_libsvm(e, alias, &b, err, sizeof err), PMLS_EIO);
  CHECK(b == NULL);
  CHECK_MSG(err, "%s:0: cannot decompress: not in gzip format", alias);
}

static void t_engine_cache(void) {
  pmls_engine *e = engine1();
  CHECK(e != NULL);
  cache_cases(e);
  pmls_engine_destroy(e); /* frees every copy (ASan checks leaks) */
}

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
  j->rc = pmls_engine_read_libsvm(j->e, j->path, &j->m, j->err, sizeof j->err);
  return NULL;
}

static void t_engine_cache_threads(void) {
  enum { THREADS = 4, ROWS = 50000 };
  char path[512], *text = malloc((size_t)ROWS * 32);
  CHECK(text != NULL);
  size_t len = 0;
  for (int i = 0; i < ROWS; i++)
    len += (size_t)sprintf(text + len, "%d %d:0.%d %d:%d\n", i % 2, i % 7 + 1, i,
                           i % 9 + 8, i);
  int wrote = df_write_gz(df_path(path, "shared.svm.gz"), text, len) == 0;
  free(text);
  CHECK(wrote);
  pmls_engine *e = engine1();
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
  int64_t n = failed < 0 ? jobs[0].m->n : -1, d = failed < 0 ? jobs[0].m->d : -1;
  pmls_engine_destroy(e);
  if (failed >= 0)
    th_fail(__FILE__, __LINE__, "reader %d: rc %d: %s", failed,
            jobs[failed].rc, jobs[failed].err);
  CHECK(same); /* one parse, shared */
  CHECK(n == ROWS && d == 16);
}

static const th_case cases[] = {
    {"text: exact lines, CR kept, 1 and 2 MiB lines, plain and gzip", t_text_lines_plain_and_gzip},
    {"text: not gzip, missing file, unreadable: PMLS_EIO with path:0:", t_text_open_errors},
    {"text: truncated or corrupt gzip is an error, never a short file", t_text_damaged_gzip},
    {"text: closing early stops the inflating thread", t_text_close_early},
    {"libsvm: fixture arrays exact, doubles equal strtod bit for bit", t_libsvm_fixture},
    {"libsvm: every malformed line has its path:LINE: message", t_libsvm_errors},
    {"libsvm: long tokens quoted truncated, small buffers NUL-terminated", t_libsvm_long_tokens_and_small_buffers},
    {"engine: cache by file identity, rewritten read again, failures not kept", t_engine_cache},
    {"engine: 4 threads asking at once share one parse", t_engine_cache_threads},
};

TH_MAIN(cases)
