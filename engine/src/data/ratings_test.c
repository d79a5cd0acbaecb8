/* ratings_test.c -- the rating reader through pmls.h: the arrays of a
 * fixture exactly (whitespace and tabs, comments, blank lines, CRLF, no
 * final newline, 3 and 4 fields, ids 0 and the largest, ratings equal to
 * strtod's bit for bit), plain and gzip; the
 * comma-separated form with its header; each malformed line its exact
 * "path:LINE:" message, long tokens cut and small buffers NUL-terminated; a
 * damaged archive an error, never fewer ratings; lines over 2 MiB; and the
 * engine's copy: shared between reads and threads, read again once
 * rewritten, a failure not kept. */
#include <pthread.h>
#include <unistd.h>

#include "datafiles.h"

#define ID_RANGE "(integer in [0, 268435453] expected)"
#define FIELDS "expected 'user item rating [timestamp]', got"

static const char FIXTURE[] =
    "# MovieLens u.data style, then odd but valid lines\n" /* 1 */
    "196\t242\t3\t881250949\n"                             /* 2 */
    "\n"                                                   /* 3 */
    "  0  0 -0 \r\n"                                       /* 4 */
    "268435453 7 1e-3 # late comment\n"                    /* 5 */
    " \t \n"                                               /* 6 */
    "5 268435453 1.6E1 1.5e9\n"                            /* 7 */
    "6 9 5.#glued\n"                                       /* 8 */
    "7 8 1234567890123456789012345 12\r";                  /* 9, no '\n' */

static const int32_t USER[] = {196, 0, 268435453, 5, 6, 7};
static const int32_t ITEM[] = {242, 0, 7, 268435453, 9, 8};
static const char *const RATING[] = {"3",    "-0", "1e-3",
                                     "16", "5",  "1234567890123456789012345"};

static void expect_fixture(const char *path) {
  pmls_triplets *t = NULL;
  char err[512] = "";
  int rc = pmls_triplets_read(path, &t, err, sizeof err);
  if (rc != PMLS_OK) th_fail(__FILE__, __LINE__, "rc %d: %s", rc, err);
  if (th_failed()) return;
  int64_t n = t->n, max_user = t->max_user, max_item = t->max_item, bad = -1;
  for (int i = 0; i < 6 && bad < 0 && n == 6; i++)
    if (t->user[i] != USER[i] || t->item[i] != ITEM[i] ||
        !df_same_bits(t->rating[i], RATING[i]))
      bad = i;
  pmls_triplets_free(t);
  CHECK_EQ_INT(n, 6);
  CHECK_EQ_INT(bad, -1); /* the first rating that differs */
  CHECK_EQ_INT(max_user, 268435453);
  CHECK_EQ_INT(max_item, 268435453);
}

static void t_fixture_plain_and_gzip(void) {
  char path[512];
  CHECK(df_write_str(df_path(path, "fixture.data"), FIXTURE) == 0);
  expect_fixture(path);
  CHECK(!th_failed() && df_write_gz(df_path(path, "fixture.data.gz"), FIXTURE,
                                    strlen(FIXTURE)) == 0);
  expect_fixture(path);
  /* An empty file, or one of comments only, is no data set (bounds_test.c
   * has every form). */
  pmls_triplets *t = NULL;
  char err[512];
  CHECK(df_write_str(df_path(path, "empty.data"), "# nothing\n\n") == 0);
  CHECK_EQ_INT(pmls_triplets_read(path, &t, err, sizeof err), PMLS_EINVAL);
  CHECK(t == NULL);
}

static void t_comma_separated_with_header(void) {
  static const char CSV[] = "userId,movieId,rating,timestamp\r\n"
                            "1,31,2.5,1260759144\r\n"
                            "# a comment\n"
                            " 1 , 1029 ,3.0\n"
                            "7,0,4.5,\t1260759182 # tail\n";
  char path[512], err[512];
  CHECK(df_write_str(df_path(path, "ratings.csv"), CSV) == 0);
  pmls_triplets *t = NULL;
  CHECK_EQ_INT(pmls_triplets_read(path, &t, err, sizeof err), PMLS_OK);
  int ok = t->n == 3 && t->user[0] == 1 && t->item[0] == 31 &&
           t->rating[0] == 2.5 && t->user[1] == 1 && t->item[1] == 1029 &&
           t->rating[1] == 3.0 && t->user[2] == 7 && t->item[2] == 0 &&
           t->rating[2] == 4.5 && t->max_user == 7 && t->max_item == 1029;
  pmls_triplets_free(t);
  CHECK(ok);
  /* A header is only the first line; whitespace headers work alike. */
  CHECK(df_write_str(path, "user item rating\n1 2 3\n") == 0);
  CHECK_EQ_INT(pmls_triplets_read(path, &t, err, sizeof err), PMLS_OK);
  ok = t->n == 1 && t->user[0] == 1;
  pmls_triplets_free(t);
  CHECK(ok);
  static const struct { const char *text, *msg; } cases[] = {
      {"u,i,r\n1,2,3\nu,i,r\n", "3: bad user id 'u' " ID_RANGE},
      {"1,2,3\n1 2 3\n", "2: " FIELDS " 1 fields"},
      {"1,,3\n", "1: bad item id '' " ID_RANGE},
      {"1,2,3,\n", "1: bad timestamp '' (decimal number expected)"},
      {"1,2,3,4,5\n", "1: " FIELDS " 5 fields"},
      {"1 2,3,4\n", "1: bad user id '1 2' " ID_RANGE},
      {"1 2 3,5\n", "1: " FIELDS " 2 fields"},
      {"u i\n", "1: " FIELDS " 2 fields"}, /* too short to be a header */
      {"u i 3\n", "1: bad user id 'u' " ID_RANGE},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    CHECK(df_write_str(path, cases[i].text) == 0);
    t = (pmls_triplets *)&err;
    CHECK_EQ_INT(pmls_triplets_read(path, &t, err, sizeof err), PMLS_EINVAL);
    CHECK(t == NULL);
    CHECK_MSG(err, "%s:%s", path, cases[i].msg);
  }
}

static void t_malformed_lines(void) {
  static const struct { const char *text, *msg; } cases[] = {
      {"1 2 3\n1 2\n", "2: " FIELDS " 2 fields"},
      {"1 2 3 4 5\n", "1: " FIELDS " 5 fields"},
      {"# only\n1 # 2 3\n", "2: " FIELDS " 1 fields"},
      {"\n-1 2 3\n", "2: bad user id '-1' " ID_RANGE},
      {"+1 2 3\n", "1: bad user id '+1' " ID_RANGE},
      {"2147483648 2 3\n", "1: bad user id '2147483648' " ID_RANGE},
      {"1 b 3\n", "1: bad item id 'b' " ID_RANGE},
      {"1 2.5 3\n", "1: bad item id '2.5' " ID_RANGE},
      {"1 0x1 3\n", "1: bad item id '0x1' " ID_RANGE},
      {"1 2 3\n1 2 x\n", "2: bad rating 'x' (finite decimal number expected)"},
      {"1 2 nan\n", "1: bad rating 'nan' (finite decimal number expected)"},
      {"1 2 -inf\n", "1: bad rating '-inf' (finite decimal number expected)"},
      {"1 2 1e400\n", "1: bad rating '1e400' (finite decimal number expected)"},
      {"1 2 1e\n", "1: bad rating '1e' (finite decimal number expected)"},
      {"1 2 0b12\n", "1: bad rating '0b12' (finite decimal number expected)"},
      {"1 2 3 soon\n", "1: bad timestamp 'soon' (decimal number expected)"},
      {"1 2 3 1e999\r\n", "1: bad timestamp '1e999' (decimal number expected)"},
  };
  char path[512], err[512];
  df_path(path, "bad.data");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pmls_triplets *t = (pmls_triplets *)&err;
    CHECK(df_write_str(path, cases[i].text) == 0);
    int rc = pmls_triplets_read(path, &t, err, sizeof err);
    if (rc != PMLS_EINVAL || t != NULL)
      th_fail(__FILE__, __LINE__, "case %zu: rc %d, t %p", i, rc, (void *)t);
    if (th_failed()) return;
    CHECK_MSG(err, "%s:%s", path, cases[i].msg);
  }
  /* The same inside a gzip file, at the same line. */
  CHECK(df_write_gz(df_path(path, "bad.data.gz"), "1 2 3\n\n1 x 3\n", 13) == 0);
  pmls_triplets *t = NULL;
  CHECK_EQ_INT(pmls_triplets_read(path, &t, err, sizeof err), PMLS_EINVAL);
  CHECK_MSG(err, "%s:3: bad item id 'x' " ID_RANGE, path);
}

static void t_missing_and_damaged_files(void) {
  char path[512], err[512];
  pmls_triplets *t = (pmls_triplets *)&err;
  CHECK_EQ_INT(pmls_triplets_read(df_path(path, "none.data"), &t, err,
                                  sizeof err), PMLS_EIO);
  CHECK(t == NULL);
  CHECK_MSG(err, "%s:0: cannot open: No such file or directory", path);
  CHECK(df_write_str(df_path(path, "plain.data.gz"), "1 2 3\n") == 0);
  CHECK_EQ_INT(pmls_triplets_read(path, &t, err, sizeof err), PMLS_EIO);
  CHECK_MSG(err, "%s:0: cannot decompress: not in gzip format", path);
  /* Cut inside the data: an error, not the ratings before the cut; and a
   * garbage line inflated before the damage is blamed on the archive. */
  enum { LINES = 100000 };
  char *text = malloc((size_t)LINES * 32);
  CHECK(text != NULL);
  size_t len = 0;
  uint64_t x = 99;
  for (int i = 0; i < LINES; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    len += (size_t)sprintf(text + len, "%d %llu %d\n", i,
                           (unsigned long long)(x >> 44), i % 5 + 1);
  }
  int wrote = df_write_gz(df_path(path, "cut.data.gz"), text, len);
  free(text);
  CHECK(wrote == 0);
  CHECK(truncate(path, df_size(path) / 2) == 0);
  CHECK_EQ_INT(pmls_triplets_read(path, &t, err, sizeof err), PMLS_EIO);
  CHECK(t == NULL);
  CHECK_STR_CONTAINS(err, ": cannot decompress: unexpected end of file");
  CHECK(strncmp(err, path, strlen(path)) == 0);
  CHECK_EQ_INT(pmls_triplets_read(NULL, &t, err, sizeof err), PMLS_EINVAL);
  CHECK_MSG(err, "(null):0: missing path or out");
}

static void t_long_tokens_small_buffers_huge_lines(void) {
  char path[512], err[512], x100[101], small[65], text[300];
  memset(x100, '7', 100);
  x100[100] = small[64] = 0;
  snprintf(text, sizeof text, "%s 1 2\n", x100);
  CHECK(df_write_str(df_path(path, "long.data"), text) == 0);
  pmls_triplets *t = NULL;
  CHECK_EQ_INT(pmls_triplets_read(path, &t, err, sizeof err), PMLS_EINVAL);
  CHECK_MSG(err, "%s:1: bad user id '%.80s' " ID_RANGE, path, x100);
  /* errlen 16: the first 15 bytes and a NUL, nothing written beyond. */
  memset(small, 'Z', sizeof small - 1);
  CHECK_EQ_INT(pmls_triplets_read(path, &t, small, 16), PMLS_EINVAL);
  CHECK(small[15] == 0 && strncmp(small, err, 15) == 0);
  CHECK(strspn(small + 16, "Z") == sizeof small - 17);
  CHECK_EQ_INT(pmls_triplets_read(path, &t, NULL, 0), PMLS_EINVAL);
  CHECK(t == NULL);
  /* Lines over 2 MiB: blanks between the fields, and a long comment. */
  enum { PAD = 3 << 20 };
  char *big = malloc(2 * (size_t)PAD + 64);
  CHECK(big != NULL);
  size_t len = (size_t)sprintf(big, "1 2 3\n4");
  memset(big + len, ' ', PAD), len += PAD;
  len += (size_t)sprintf(big + len, "5 2.5\n#");
  memset(big + len, 'c', PAD), len += PAD;
  len += (size_t)sprintf(big + len, "\n6 7 0.5");
  int ok = df_write(df_path(path, "huge.data"), big, len) == 0 &&
           df_write_gz(df_path(text, "huge.data.gz"), big, len) == 0;
  free(big);
  CHECK(ok);
  const char *paths[] = {path, text};
  for (int k = 0; k < 2; k++) {
    CHECK_EQ_INT(pmls_triplets_read(paths[k], &t, err, sizeof err), PMLS_OK);
    ok = t->n == 3 && t->user[1] == 4 && t->item[1] == 5 &&
         t->rating[1] == 2.5 && t->user[2] == 6 && t->rating[2] == 0.5;
    pmls_triplets_free(t);
    CHECK(ok);
  }
}

/* Past the first capacity, ids and ratings land where they belong. */
static void t_many_ratings(void) {
  enum { N = 300000 };
  char path[512], err[512], *text = malloc((size_t)N * 40);
  CHECK(text != NULL);
  size_t len = 0;
  for (int i = 0; i < N; i++)
    len += (size_t)sprintf(text + len, "%d\t%d\t%d.%d\t%d\n", i % 943,
                           (i * 7) % 1682, i % 5 + 1, i % 10, 880000000 + i);
  int wrote = df_write(df_path(path, "many.data"), text, len);
  free(text);
  CHECK(wrote == 0);
  pmls_triplets *t = NULL;
  CHECK_EQ_INT(pmls_triplets_read(path, &t, err, sizeof err), PMLS_OK);
  int64_t bad = t->n == N ? -1 : -2;
  for (int i = 0; i < N && bad == -1; i++) {
    char want[32];
    snprintf(want, sizeof want, "%d.%d", i % 5 + 1, i % 10);
    if (t->user[i] != i % 943 || t->item[i] != (i * 7) % 1682 ||
        !df_same_bits(t->rating[i], want))
      bad = i;
  }
  int max_ok = t->max_user == 942 && t->max_item == 1681;
  pmls_triplets_free(t);
  CHECK_EQ_INT(bad, -1);
  CHECK(max_ok);
}

/* ---- the engine's copy ---------------------------------------------------- */

static void cache_cases(pmls_engine *e) {
  char path[512], other[512], err[512];
  const pmls_triplets *a = NULL, *b = NULL, *c = NULL;
  CHECK(df_write_str(df_path(path, "cache.data"), "1 2 3\n4 5 6\n") == 0);
  CHECK_EQ_INT(pmls_engine_read_triplets(e, path, &a, err, sizeof err), PMLS_OK);
  CHECK_EQ_INT(pmls_engine_read_triplets(e, path, &b, err, sizeof err), PMLS_OK);
  CHECK(a == b && a->n == 2);
  CHECK_EQ_INT(pmls_engine_read_triplets(e, df_path(other, "./cache.data"), &b,
                                         err, sizeof err), PMLS_OK);
  CHECK(a == b);
  /* The same file read as Matrix Market is another entry (and fails). */
  const pmls_csr *m = (const pmls_csr *)&err;
  CHECK_EQ_INT(pmls_engine_read_mm(e, path, &m, err, sizeof err), PMLS_EINVAL);
  CHECK(m == NULL);
  CHECK_STR_CONTAINS(err, ":1: not a Matrix Market file");
  /* Rewritten: read again; the old copy stays valid. */
  CHECK(df_write_str(path, "1 2 3\n4 5 6\n7 8 9\n") == 0);
  CHECK_EQ_INT(pmls_engine_read_triplets(e, path, &c, err, sizeof err), PMLS_OK);
  CHECK(c != a && c->n == 3 && c->max_user == 7 && a->n == 2);
  /* A failed read is not kept: fixed, the file reads. */
  CHECK(df_write_str(df_path(path, "fixme.data"), "1 x 3\n") == 0);
  CHECK_EQ_INT(pmls_engine_read_triplets(e, path, &b, err, sizeof err),
               PMLS_EINVAL);
  CHECK(b == NULL);
  CHECK_MSG(err, "%s:1: bad item id 'x' " ID_RANGE, path);
  CHECK(df_write_str(path, "1 9 3\n") == 0);
  CHECK_EQ_INT(pmls_engine_read_triplets(e, path, &b, err, sizeof err), PMLS_OK);
  CHECK(b && b->n == 1 && b->max_item == 9);
  CHECK_EQ_INT(pmls_engine_read_triplets(e, df_path(path, "none.data"), &b, err,
                                         sizeof err), PMLS_EIO);
  CHECK_MSG(err, "%s:0: cannot open: No such file or directory", path);
  CHECK_EQ_INT(pmls_engine_read_triplets(NULL, path, &b, err, sizeof err),
               PMLS_EINVAL);
}

static void t_engine_cache(void) {
  pmls_engine *e = df_engine();
  CHECK(e != NULL);
  cache_cases(e);
  pmls_engine_destroy(e); /* frees every copy (ASan checks leaks) */
}

typedef struct {
  pmls_engine *e;
  const char *path;
  pthread_barrier_t *go;
  const pmls_triplets *t;
  int rc;
  char err[512];
} reader_job;

static void *reader(void *arg) {
  reader_job *j = arg;
  pthread_barrier_wait(j->go);
  j->rc = pmls_engine_read_triplets(j->e, j->path, &j->t, j->err, sizeof j->err);
  return NULL;
}

static void t_engine_cache_threads(void) {
  enum { THREADS = 4, N = 100000 };
  char path[512], *text = malloc((size_t)N * 24);
  CHECK(text != NULL);
  size_t len = 0;
  for (int i = 0; i < N; i++)
    len += (size_t)sprintf(text + len, "%d %d %d\n", i % 1000, i % 77, i % 5);
  int wrote = df_write_gz(df_path(path, "shared.data.gz"), text, len) == 0;
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
    if (failed < 0 && (jobs[i].rc != PMLS_OK || !jobs[i].t)) failed = i;
    same = same && jobs[i].t == jobs[0].t;
  }
  int64_t n = failed < 0 ? jobs[0].t->n : -1;
  int64_t max_user = failed < 0 ? jobs[0].t->max_user : -1;
  pmls_engine_destroy(e);
  if (failed >= 0)
    th_fail(__FILE__, __LINE__, "reader %d: rc %d: %s", failed,
            jobs[failed].rc, jobs[failed].err);
  CHECK(same); /* one parse, shared */
  CHECK(n == N && max_user == 999);
}

static const th_case cases[] = {
    {"ratings: fixture exact, doubles as strtod, plain and gzip", t_fixture_plain_and_gzip},
    {"ratings: comma-separated with a header line", t_comma_separated_with_header},
    {"ratings: every malformed line has its path:LINE: message", t_malformed_lines},
    {"ratings: missing, not gzip, truncated: PMLS_EIO, never fewer ratings", t_missing_and_damaged_files},
    {"ratings: long tokens cut, small buffers, lines over 2 MiB", t_long_tokens_small_buffers_huge_lines},
    {"ratings: 300000 ratings past the first capacity", t_many_ratings},
    {"engine: cache by file and reader, rewritten read again, failures not kept", t_engine_cache},
    {"engine: 4 threads asking at once share one parse", t_engine_cache_threads},
};

TH_MAIN(cases)
