/* corpus_test.c -- the corpus readers through pmls.h: a UCI docword file and
 * an LDA-C file give their arrays exactly (empty documents inside and at
 * the end, words sorted within a document by either of the reader's two
 * sorts, blank lines skipped, CRLF, no final newline), plain and gzip, with
 * and without a vocabulary (its words exact, its size checked against the
 * documents); every malformed line and every mismatch has its exact
 * "path:LINE:" message, a damaged archive is an error, never fewer
 * documents; the engine keeps one parse of the documents and one of the
 * vocabulary, shared by path spellings, by reads with and without the
 * vocabulary and by threads asking at once, and never keeps a failure.
 * Files live in a mkdtemp directory removed at exit. */
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

static int write_gz(const char *path, const char *s) {
  return df_write_gz(path, s, strlen(s));
}

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

#define RANGE32 "2147483647"
#define DIM "268435454" /* reader.h's PMI_MAX_DIM */

typedef int (*reader_fn)(const char *, const char *, pmls_corpus **, char *,
                         size_t);

/* The first index where the arrays differ, or -1. */
static int64_t diff64(const int64_t *a, const int64_t *b, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (a[i] != b[i]) return i;
  return -1;
}
static int64_t diff32(const int32_t *a, const int32_t *b, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (a[i] != b[i]) return i;
  return -1;
}

typedef struct {
  int64_t docs, words, nnz, tokens;
  const int64_t *docptr, *line;
  const int32_t *word, *count;
} expected;

static void check_corpus(const pmls_corpus *c, const expected *x) {
  CHECK_EQ_INT(c->docs, x->docs);
  CHECK_EQ_INT(c->words, x->words);
  CHECK_EQ_INT(c->nnz, x->nnz);
  CHECK_EQ_INT(c->tokens, x->tokens);
  CHECK_EQ_INT(diff64(c->docptr, x->docptr, x->docs + 1), -1);
  CHECK_EQ_INT(diff64(c->line, x->line, x->docs), -1);
  CHECK_EQ_INT(diff32(c->word, x->word, x->nnz), -1);
  CHECK_EQ_INT(diff32(c->count, x->count, x->nnz), -1);
}

/* Reads path (with vocab, may be NULL) and checks it against x. */
static void expect_read(reader_fn read, const char *path, const char *vocab,
                        const expected *x) {
  pmls_corpus *c = NULL;
  char err[512] = "";
  int rc = read(path, vocab, &c, err, sizeof err);
  if (rc != PMLS_OK) th_fail(__FILE__, __LINE__, "rc %d: %s", rc, err);
  if (th_failed()) return;
  check_corpus(c, x);
  int no_vocab = c->vocab_offset == NULL && c->vocab_text == NULL;
  pmls_corpus_free(c);
  if (th_failed()) return;
  CHECK(no_vocab == (vocab == NULL));
}

/* Reads path expecting PMLS_EINVAL (or code) and "path:msg". */
static void expect_error(reader_fn read, const char *path, const char *vocab,
                         int code, const char *msg) {
  pmls_corpus *c = (pmls_corpus *)&code; /* must be reset to NULL */
  char err[512] = "";
  int rc = read(path, vocab, &c, err, sizeof err);
  if (rc != code || c != NULL)
    th_fail(__FILE__, __LINE__, "rc %d (want %d), c %p: %s", rc, code,
            (void *)c, err);
  if (th_failed()) return;
  CHECK_MSG(err, "%s", msg);
}

/* Names the table row that failed, in front of its failure. */
static void fail_case(size_t i) {
  char why[sizeof th_state.why];
  snprintf(why, sizeof why, "%s", th_state.why);
  th_state.failed = 0;
  th_fail(__FILE__, __LINE__, "case %zu: %s", i, why);
}

/* ---- UCI docword ---------------------------------------------------------- */

static const char DOCWORD[] =
    "4\n5\n6\n"         /* lines 1-3: D = 4 (doc 2 and doc 4 empty), W, NNZ */
    "1 2 3\n"           /* 4 */
    "1 5 1\r\n"         /* 5 */
    "\n"                /* 6 */
    "3 4 2\n"           /* 7: doc 3 out of order */
    "3 1 1\n"           /* 8 */
    "  3 2 7  \n"       /* 9 */
    "3 3 1";            /* 10, no final newline */

static const int64_t DW_DOCPTR[] = {0, 2, 2, 6, 6}, DW_LINE[] = {4, 0, 7, 0};
static const int32_t DW_WORD[] = {1, 4, 0, 1, 2, 3}, DW_COUNT[] = {3, 1, 1, 7, 1, 2};
static const expected DW = {4, 5, 6, 15, DW_DOCPTR, DW_LINE, DW_WORD, DW_COUNT};

static const char VOCAB5[] = "alpha\nbeta\r\n  gamma \n\xCE\xB4\nepsilon";
static const char *const VOCAB5_WORDS[] = {"alpha", "beta", "gamma", "\xCE\xB4",
                                           "epsilon"};

static void t_docword_exact(void) {
  char path[512], gz[512], vocab[512], vgz[512];
  CHECK(df_write_str(df_path(path, "fixture.docword"), DOCWORD) == 0);
  CHECK(write_gz(df_path(gz, "fixture.docword.gz"), DOCWORD) == 0);
  CHECK(df_write_str(df_path(vocab, "fixture.vocab"), VOCAB5) == 0);
  CHECK(write_gz(df_path(vgz, "fixture.vocab.gz"), VOCAB5) == 0);
  expect_read(pmls_corpus_read_docword, path, NULL, &DW);
  expect_read(pmls_corpus_read_docword, gz, NULL, &DW);
  expect_read(pmls_corpus_read_docword, gz, vgz, &DW);
  if (th_failed()) return;
  /* The vocabulary: offsets into one buffer of NUL-terminated words, each
   * line stripped of surrounding whitespace (and a CR). */
  pmls_corpus *c = NULL;
  char err[512];
  CHECK_EQ_INT(pmls_corpus_read_docword(path, vocab, &c, err, sizeof err), PMLS_OK);
  int same = c->vocab_offset[0] == 0;
  for (int w = 0; w < 5 && same; w++)
    same = strcmp(c->vocab_text + c->vocab_offset[w], VOCAB5_WORDS[w]) == 0 &&
           c->vocab_offset[w + 1] - c->vocab_offset[w] ==
               (int64_t)strlen(VOCAB5_WORDS[w]) + 1;
  pmls_corpus_free(c);
  CHECK(same);
  /* Empty corpora (D = 0, or no entries) are errors: bounds_test.c. */
}

static void t_docword_errors(void) {
  static const struct { const char *text, *msg; } cases[] = {
      {"", "0: missing header line for D, the number of documents (the file "
           "ends before it)"},
      {"3\n\n5\n", "3: missing header line for NNZ, the number of entries "
                   "(the file ends before it)"},
      {"x\n", "1: bad header line 'x' for D, the number of documents (integer "
              "in [0, " DIM "] expected)"},
      {"3\n-1\n", "2: bad header line '-1' for W, the vocabulary size (integer "
                  "in [0, " DIM "] expected)"},
      {"3\n5 6 \r\n", "2: bad header line '5 6' for W, the vocabulary size "
                      "(integer in [0, " DIM "] expected)"},
      {"3\n2147483648\n", "2: bad header line '2147483648' for W, the "
                          "vocabulary size (integer in [0, " DIM "] expected)"},
      {"1\n1\n1e3\n", "3: bad header line '1e3' for NNZ, the number of entries "
                      "(integer in [0, 1152921504606846976] expected)"},
      {"2\n2\n1\n1 1\n", "4: expected 'docID wordID count', got '1 1'"},
      {"2\n2\n1\n1 1 1 1\r\n", "4: expected 'docID wordID count', got '1 1 1 1'"},
      {"2\n2\n1\n0 1 1\n", "4: bad document id '0' (integer in [1, 2] expected)"},
      {"2\n2\n1\n3 1 1", "4: bad document id '3' (integer in [1, 2] expected)"},
      {"2\n2\n1\n1.0 1 1", "4: bad document id '1.0' (integer in [1, 2] expected)"},
      {"2\n2\n1\n1 3 1", "4: bad word id '3' (integer in [1, 2] expected)"},
      {"2\n2\n1\n1 -2 1", "4: bad word id '-2' (integer in [1, 2] expected)"},
      {"2\n2\n1\n1 1 0", "4: bad count '0' (integer in [1, " RANGE32 "] expected)"},
      {"2\n2\n1\n1 1 x", "4: bad count 'x' (integer in [1, " RANGE32 "] expected)"},
      {"2\n2\n1\n1 1 2147483648", "4: bad count '2147483648' (integer in [1, "
                                  RANGE32 "] expected)"},
      {"2\n2\n1\n1 1 99999999999999999999", "4: bad count "
          "'99999999999999999999' (integer in [1, " RANGE32 "] expected)"},
      {"2\n2\n1\n1 1 1\n2 2 1\n", "5: more entries than the header's NNZ = 1"},
      {"2\n2\n3\n1 1 1\n\n2 2 1\n\n", "7: 2 entries, fewer than the header's NNZ = 3"},
      {"2\n2\n2\n2 1 1\n1 2 1\n", "5: document 1 after document 2 (entries "
                                  "must be grouped by document, in increasing order)"},
      {"2\n3\n2\n1 2 1\n1 2 5\n", "5: repeated entry for document 1 and word "
                                  "2 (first on line 4)"},
      /* Found when the document closes (bitmap sort), at the second line. */
      {"2\n3\n4\n1 2 1\n1 1 1\n1 2 5\n2 1 1\n", "6: repeated entry for "
                                               "document 1 and word 2 (first on line 4)"},
      /* ... at the end of the file, the smallest repeated word first. */
      {"1\n3\n4\n1 3 1\n1 2 1\n1 3 2\n1 2 5", "7: repeated entry for "
          "document 1 and word 2 (first on line 5)"},
      /* ... over a wide range (key sort). */
      {"1\n100000\n3\n1 90000 1\n1 1 1\n1 90000 2\n", "6: repeated entry for "
          "document 1 and word 90000 (first on line 4)"},
  };
  char path[512];
  df_path(path, "bad.docword");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s:%s", path, cases[i].msg);
    CHECK(df_write_str(path, cases[i].text) == 0);
    expect_error(pmls_corpus_read_docword, path, NULL, PMLS_EINVAL, msg);
    if (th_failed()) return fail_case(i);
  }
}

static void t_vocab_errors(void) {
  char path[512], vocab[512], msg[1024];
  CHECK(df_write_str(df_path(path, "v.docword"), DOCWORD) == 0);
  df_path(vocab, "bad.vocab");
  CHECK(df_write_str(vocab, "a\nb\nc\nd\n") == 0);
  snprintf(msg, sizeof msg, "%s:4: fewer words than the W = 5 of %s", vocab, path);
  expect_error(pmls_corpus_read_docword, path, vocab, PMLS_EINVAL, msg);
  CHECK(df_write_str(vocab, "a\nb\nc\nd\ne\nf\ng") == 0);
  snprintf(msg, sizeof msg, "%s:6: more words than the W = 5 of %s", vocab, path);
  expect_error(pmls_corpus_read_docword, path, vocab, PMLS_EINVAL, msg);
  CHECK(df_write_str(vocab, "") == 0);
  snprintf(msg, sizeof msg, "%s:0: empty file (a vocabulary of one word per "
           "line expected)", vocab);
  expect_error(pmls_corpus_read_docword, path, vocab, PMLS_EINVAL, msg);
  /* Line k is word k - 1: a blank line would shift every later id. */
  CHECK(df_write_str(vocab, "a\n \r\nb\n") == 0);
  snprintf(msg, sizeof msg, "%s:2: empty word (one word per line expected: "
           "line k is word id k - 1)", vocab);
  expect_error(pmls_corpus_read_docword, path, vocab, PMLS_EINVAL, msg);
  CHECK(df_write_str(vocab, "a\nb\tc\n") == 0);
  snprintf(msg, sizeof msg, "%s:2: word 'b\tc' holds whitespace (one word per "
           "line expected)", vocab);
  expect_error(pmls_corpus_read_docword, path, vocab, PMLS_EINVAL, msg);
  snprintf(msg, sizeof msg, "%s:0: cannot open: No such file or directory",
           df_path(vocab, "none.vocab"));
  expect_error(pmls_corpus_read_docword, path, vocab, PMLS_EIO, msg);
  /* A byte order mark is not part of the first word. */
  pmls_corpus *c = NULL;
  char err[512];
  CHECK(df_write_str(df_path(vocab, "bom.vocab"), "\xEF\xBB\xBF" "a\nb\nc\nd\ne\n") == 0);
  CHECK_EQ_INT(pmls_corpus_read_docword(path, vocab, &c, err, sizeof err), PMLS_OK);
  int ok = strcmp(c->vocab_text, "a") == 0 && c->vocab_offset[5] == 10;
  pmls_corpus_free(c);
  CHECK(ok);
}

/* ---- LDA-C ---------------------------------------------------------------- */

static const char LDAC[] =
    "2 3:1 0:2\n"   /* line 1: doc 0, out of order */
    "\n"            /* 2: skipped */
    "0\r\n"         /* 3: doc 1, empty */
    " 1  7:5 \n"    /* 4: doc 2 */
    "3 2:1 1:1 4:3"; /* 5: doc 3, no final newline */

static const int64_t LC_DOCPTR[] = {0, 2, 2, 3, 6}, LC_LINE[] = {1, 3, 4, 5};
static const int32_t LC_WORD[] = {0, 3, 7, 1, 2, 4}, LC_COUNT[] = {2, 1, 5, 1, 1, 3};

static void t_ldac_exact(void) {
  char path[512], gz[512], vocab[512];
  expected x = {4, 8, 6, 13, LC_DOCPTR, LC_LINE, LC_WORD, LC_COUNT};
  CHECK(df_write_str(df_path(path, "fixture.ldac"), LDAC) == 0);
  CHECK(write_gz(df_path(gz, "fixture.ldac.gz"), LDAC) == 0);
  expect_read(pmls_corpus_read_ldac, path, NULL, &x);
  expect_read(pmls_corpus_read_ldac, gz, NULL, &x);
  /* A vocabulary sets W, which may exceed the largest id + 1. */
  CHECK(df_write_str(df_path(vocab, "ten.vocab"), "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n") == 0);
  x.words = 10;
  expect_read(pmls_corpus_read_ldac, gz, vocab, &x);
  CHECK(df_write_str(vocab, "a\nb\nc\nd\ne\nf\ng\n") == 0);
  char msg[1024];
  snprintf(msg, sizeof msg, "%s:4: word id 7 is not in the vocabulary (%s has "
           "7 words)", path, vocab);
  expect_error(pmls_corpus_read_ldac, path, vocab, PMLS_EINVAL, msg);
  /* No document at all is an error: bounds_test.c. */
}

static void t_ldac_errors(void) {
  static const struct { const char *text, *msg; } cases[] = {
      {"x 1:1", "1: bad number of terms 'x' (integer in [0, " RANGE32 "] expected)"},
      {"-1", "1: bad number of terms '-1' (integer in [0, " RANGE32 "] expected)"},
      {"1:1", "1: bad number of terms '1:1' (integer in [0, " RANGE32 "] expected)"},
      {"1 1:1\n1 5", "2: missing ':' in '5' (word:count expected)"},
      {"1 a:1", "1: bad word id 'a' in 'a:1' (integer in [0, 268435453] expected)"},
      {"1 -1:1", "1: bad word id '-1' in '-1:1' (integer in [0, 268435453] expected)"},
      {"1 2147483647:1", "1: bad word id '2147483647' in '2147483647:1' "
                         "(integer in [0, 268435453] expected)"},
      {"1 :1", "1: bad word id '' in ':1' (integer in [0, 268435453] expected)"},
      {"1 3:0", "1: bad count '0' in '3:0' (integer in [1, " RANGE32 "] expected)"},
      {"1 3:", "1: bad count '' in '3:' (integer in [1, " RANGE32 "] expected)"},
      {"1 3:1:2", "1: bad count '1:2' in '3:1:2' (integer in [1, " RANGE32 "] expected)"},
      {"1 3:1.5", "1: bad count '1.5' in '3:1.5' (integer in [1, " RANGE32 "] expected)"},
      {"2 3:1", "1: the line starts with N = 2 but has 1 word:count pairs"},
      {"1 3:1 4:1\r\n", "1: the line starts with N = 1 but has 2 word:count pairs"},
      {"2 3:1 3:2", "1: repeated word id 3"},
      {"\n4 5:1 3:1 5:2 1:1", "2: repeated word id 5"},
      {"3 1000000:1 1:1 1000000:2", "1: repeated word id 1000000"},
  };
  char path[512];
  df_path(path, "bad.ldac");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s:%s", path, cases[i].msg);
    CHECK(df_write_str(path, cases[i].text) == 0);
    expect_error(pmls_corpus_read_ldac, path, NULL, PMLS_EINVAL, msg);
    if (th_failed()) return fail_case(i);
  }
}

/* Long documents in random order through both sorts: a bitmap over a
 * narrow range, sorted keys over a wide one. The words come out increasing
 * and each count stays with its word. */
static void t_ldac_sorts(void) {
  enum { N = 5000 };
  static int32_t words[N];
  char path[512], err[512];
  char *text = malloc((size_t)N * 2 * 24 + 64);
  CHECK(text != NULL);
  size_t len = 0;
  uint64_t x = 99;
  for (int doc = 0; doc < 2; doc++) {
    int32_t spread = doc == 0 ? 3 : 4000; /* range 15,000 or 20,000,000 */
    for (int i = 0; i < N; i++) words[i] = i * spread + (int32_t)(x % 2);
    for (int i = N - 1; i > 0; i--) { /* Fisher-Yates */
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      int j = (int)((x >> 33) % (uint64_t)(i + 1));
      int32_t t = words[i];
      words[i] = words[j];
      words[j] = t;
    }
    len += (size_t)sprintf(text + len, "%d", N);
    for (int i = 0; i < N; i++)
      len += (size_t)sprintf(text + len, " %d:%d", words[i], words[i] % 7 + 1);
    text[len++] = '\n';
  }
  text[len] = 0;
  int wrote = df_write_str(df_path(path, "long.ldac"), text) == 0;
  free(text);
  CHECK(wrote);
  pmls_corpus *c = NULL;
  CHECK_EQ_INT(pmls_corpus_read_ldac(path, NULL, &c, err, sizeof err), PMLS_OK);
  int64_t bad = c->docs == 2 && c->nnz == 2 * N && c->docptr[1] == N ? -1 : -2;
  for (int64_t k = 0; k < c->nnz && bad == -1; k++)
    if ((k % N > 0 && c->word[k] <= c->word[k - 1]) ||
        c->count[k] != c->word[k] % 7 + 1 ||
        c->word[k] / (k < N ? 3 : 4000) != k % N)
      bad = k;
  pmls_corpus_free(c);
  CHECK_EQ_INT(bad, -1);
}

/* ---- both formats --------------------------------------------------------- */

static void t_damaged_and_small_buffers(void) {
  char path[512], msg[1024], err[512], small[65];
  /* Truncated archives: PMLS_EIO, never fewer documents. */
  CHECK(write_gz(df_path(path, "cut.docword.gz"), DOCWORD) == 0);
  CHECK(truncate(path, df_size(path) - 6) == 0);
  pmls_corpus *c = NULL;
  CHECK_EQ_INT(pmls_corpus_read_docword(path, NULL, &c, err, sizeof err), PMLS_EIO);
  CHECK(c == NULL);
  CHECK_STR_CONTAINS(err, ": cannot decompress: unexpected end of file");
  CHECK(write_gz(df_path(path, "cut.ldac.gz"), LDAC) == 0);
  CHECK(truncate(path, df_size(path) - 6) == 0);
  CHECK_EQ_INT(pmls_corpus_read_ldac(path, NULL, &c, err, sizeof err), PMLS_EIO);
  CHECK_STR_CONTAINS(err, ": cannot decompress: unexpected end of file");
  snprintf(msg, sizeof msg, "%s:0: cannot open: No such file or directory",
           df_path(path, "none.ldac"));
  expect_error(pmls_corpus_read_ldac, path, NULL, PMLS_EIO, msg);
  CHECK(df_write_str(df_path(path, "plain.gz"), LDAC) == 0);
  snprintf(msg, sizeof msg, "%s:0: cannot decompress: not in gzip format", path);
  expect_error(pmls_corpus_read_ldac, path, NULL, PMLS_EIO, msg);
  /* Long tokens are quoted to 80 characters. */
  char line[300], x100[101];
  memset(x100, '7', 100);
  x100[100] = 0;
  snprintf(line, sizeof line, "1 1:%s\n", x100);
  CHECK(df_write_str(df_path(path, "long.ldac"), line) == 0);
  snprintf(msg, sizeof msg, "%s:1: bad count '%.80s' in '1:%.78s' (integer in "
           "[1, " RANGE32 "] expected)", path, x100, x100);
  expect_error(pmls_corpus_read_ldac, path, NULL, PMLS_EINVAL, msg);
  /* errlen 16: the first 15 bytes and a NUL, nothing written beyond. */
  memset(small, 'Z', sizeof small - 1);
  small[64] = 0;
  CHECK_EQ_INT(pmls_corpus_read_ldac(path, NULL, &c, small, 16), PMLS_EINVAL);
  CHECK(small[15] == 0 && strncmp(small, msg, 15) == 0);
  CHECK(strspn(small + 16, "Z") == sizeof small - 17);
  CHECK_EQ_INT(pmls_corpus_read_ldac(path, NULL, &c, NULL, 0), PMLS_EINVAL);
  CHECK_EQ_INT(pmls_corpus_read_ldac(NULL, NULL, &c, err, sizeof err), PMLS_EINVAL);
  CHECK_EQ_INT(pmls_corpus_read_docword(path, NULL, NULL, err, sizeof err), PMLS_EINVAL);
  pmls_corpus_free(NULL);
}

/* ---- the engine's copies ---------------------------------------------------- */

static pmls_engine *engine1(void) { /* one worker, quiet */
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = 1;
  cfg.quiet = 2;
  pmls_engine *e = NULL;
  char err[512] = "";
  if (pmls_engine_create(&e, &cfg, err, sizeof err) != PMLS_OK)
    fprintf(stderr, "corpus_test: cannot create an engine: %s\n", err);
  return e;
}

static void cache_cases(pmls_engine *e) {
  char path[512], other[512], vocab[512], err[512], msg[1024];
  pmls_corpus a, b, v;
  CHECK(df_write_str(df_path(path, "cache.docword"), DOCWORD) == 0);
  CHECK(df_write_str(df_path(vocab, "cache.vocab"), VOCAB5) == 0);
  CHECK_EQ_INT(pmls_engine_read_docword(e, path, NULL, &a, err, sizeof err), PMLS_OK);
  check_corpus(&a, &DW);
  if (th_failed()) return;
  CHECK(a.vocab_offset == NULL && a.vocab_text == NULL);
  /* Another spelling, and the same file with its vocabulary: one parse of
   * the documents. */
  CHECK(strstr(df_path(other, "./cache.docword"), "/./"));
  CHECK_EQ_INT(pmls_engine_read_docword(e, other, vocab, &v, err, sizeof err), PMLS_OK);
  CHECK(v.docptr == a.docptr && v.word == a.word && v.count == a.count &&
        v.line == a.line && v.words == 5);
  CHECK(v.vocab_text && strcmp(v.vocab_text + v.vocab_offset[4], "epsilon") == 0);
  CHECK_EQ_INT(pmls_engine_read_docword(e, path, vocab, &b, err, sizeof err), PMLS_OK);
  CHECK(b.vocab_text == v.vocab_text && b.vocab_offset == v.vocab_offset);
  /* The same file read as LDA-C is another entry (and here an error). */
  snprintf(msg, sizeof msg, "%s:1: the line starts with N = 4 but has 0 "
           "word:count pairs", path);
  CHECK_EQ_INT(pmls_engine_read_ldac(e, path, NULL, &b, err, sizeof err), PMLS_EINVAL);
  CHECK_MSG(err, "%s", msg);
  CHECK(b.docptr == NULL && b.docs == 0);
  /* A vocabulary that does not fit, then fixed: failures are not kept. */
  CHECK(df_write_str(df_path(other, "short.vocab"), "a\nb\n") == 0);
  CHECK_EQ_INT(pmls_engine_read_docword(e, path, other, &b, err, sizeof err), PMLS_EINVAL);
  CHECK_MSG(err, "%s:2: fewer words than the W = 5 of %s", other, path);
  CHECK(b.docptr == NULL);
  CHECK(df_write_str(df_path(other, "fixme.docword"), "1\n1\n1\n1 2 1\n") == 0);
  CHECK_EQ_INT(pmls_engine_read_docword(e, other, NULL, &b, err, sizeof err), PMLS_EINVAL);
  CHECK_MSG(err, "%s:4: bad word id '2' (integer in [1, 1] expected)", other);
  CHECK(df_write_str(other, "1\n2\n1\n1 2 1\n") == 0);
  CHECK_EQ_INT(pmls_engine_read_docword(e, other, NULL, &b, err, sizeof err), PMLS_OK);
  CHECK(b.docs == 1 && b.words == 2 && b.nnz == 1 && b.word[0] == 1);
  /* Rewritten (another size): read again; the old arrays stay valid. */
  CHECK(df_write_str(path, "1\n1\n1\n1 1 9\n") == 0);
  CHECK_EQ_INT(pmls_engine_read_docword(e, path, NULL, &b, err, sizeof err), PMLS_OK);
  CHECK(b.docptr != a.docptr && b.nnz == 1 && b.count[0] == 9);
  check_corpus(&a, &DW);
  if (th_failed()) return;
  /* LDA-C: the vocabulary's size checked on every request. */
  expected x = {4, 8, 6, 13, LC_DOCPTR, LC_LINE, LC_WORD, LC_COUNT};
  CHECK(df_write_str(df_path(path, "cache.ldac"), LDAC) == 0);
  CHECK_EQ_INT(pmls_engine_read_ldac(e, path, NULL, &a, err, sizeof err), PMLS_OK);
  check_corpus(&a, &x);
  if (th_failed()) return;
  CHECK_EQ_INT(pmls_engine_read_ldac(e, path, vocab, &b, err, sizeof err), PMLS_EINVAL);
  CHECK_MSG(err, "%s:4: word id 7 is not in the vocabulary (%s has 5 words)",
            path, vocab);
  CHECK_EQ_INT(pmls_engine_read_ldac(e, NULL, NULL, &b, err, sizeof err), PMLS_EINVAL);
  CHECK_EQ_INT(pmls_engine_read_ldac(NULL, path, NULL, &b, err, sizeof err), PMLS_EINVAL);
  CHECK_EQ_INT(pmls_engine_read_docword(e, df_path(path, "none"), NULL, &b, err, sizeof err),
               PMLS_EIO);
  CHECK_MSG(err, "%s:0: cannot open: No such file or directory", path);
}

static void t_engine_cache(void) {
  pmls_engine *e = engine1();
  CHECK(e != NULL);
  cache_cases(e);
  pmls_engine_destroy(e); /* frees every copy (ASan checks leaks) */
}

typedef struct {
  pmls_engine *e;
  const char *path, *vocab;
  pthread_barrier_t *go;
  pmls_corpus c;
  int rc;
  char err[512];
} reader_job;

static void *reader(void *arg) {
  reader_job *j = arg;
  pthread_barrier_wait(j->go);
  j->rc = pmls_engine_read_docword(j->e, j->path, j->vocab, &j->c, j->err,
                                   sizeof j->err);
  return NULL;
}

static void t_engine_cache_threads(void) {
  enum { THREADS = 4, DOCS = 20000, W = 300 };
  char path[512], vocab[512];
  char *text = malloc((size_t)DOCS * 3 * 24 + 64);
  CHECK(text != NULL);
  size_t len = (size_t)sprintf(text, "%d\n%d\n%d\n", DOCS, W, 3 * DOCS);
  for (int d = 1; d <= DOCS; d++)
    for (int k = 0; k < 3; k++)
      len += (size_t)sprintf(text + len, "%d %d %d\n", d, (d + 97 * k) % W + 1, k + 1);
  int wrote = write_gz(df_path(path, "shared.docword.gz"), text) == 0;
  for (len = 0; len < W; len++) text[2 * len] = 'w', text[2 * len + 1] = '\n';
  text[2 * W] = 0;
  wrote = wrote && df_write_str(df_path(vocab, "shared.vocab"), text) == 0;
  free(text);
  CHECK(wrote);
  pmls_engine *e = engine1();
  CHECK(e != NULL);
  pthread_barrier_t go;
  pthread_barrier_init(&go, NULL, THREADS);
  reader_job jobs[THREADS];
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    jobs[i] = (reader_job){.e = e, .path = path, .vocab = i % 2 ? vocab : NULL,
                           .go = &go, .rc = -1};
    pthread_create(&th[i], NULL, reader, &jobs[i]);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  pthread_barrier_destroy(&go);
  int same = 1, failed = -1;
  for (int i = 0; i < THREADS; i++) {
    if (failed < 0 && jobs[i].rc != PMLS_OK) failed = i;
    same = same && jobs[i].c.docptr == jobs[0].c.docptr &&
           jobs[i].c.word == jobs[0].c.word &&
           jobs[i].c.vocab_text == jobs[i % 2].c.vocab_text;
  }
  int64_t docs = jobs[0].c.docs, nnz = jobs[0].c.nnz, tokens = jobs[0].c.tokens;
  int vocab_ok = jobs[1].c.vocab_text && !jobs[0].c.vocab_text;
  pmls_engine_destroy(e);
  if (failed >= 0)
    th_fail(__FILE__, __LINE__, "reader %d: rc %d: %s", failed,
            jobs[failed].rc, jobs[failed].err);
  CHECK(same); /* one parse of each file, shared */
  CHECK(vocab_ok);
  CHECK(docs == DOCS && nnz == 3 * DOCS && tokens == 6 * DOCS);
}

static const th_case cases[] = {
    {"docword: arrays exact, plain and gzip, with the vocabulary's words", t_docword_exact},
    {"docword: every malformed line has its path:LINE: message", t_docword_errors},
    {"vocabulary: size against W, blank lines and spaces refused", t_vocab_errors},
    {"ldac: arrays exact, plain and gzip, the vocabulary sets W", t_ldac_exact},
    {"ldac: every malformed line has its path:LINE: message", t_ldac_errors},
    {"ldac: long shuffled documents sorted by bitmap and by keys", t_ldac_sorts},
    {"both: damaged archives, missing files, long tokens, small buffers", t_damaged_and_small_buffers},
    {"engine: documents and vocabulary kept apart, failures not kept", t_engine_cache},
    {"engine: 4 threads asking at once share one parse", t_engine_cache_threads},
};

TH_MAIN(cases)
