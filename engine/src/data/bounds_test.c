/* bounds_test.c -- the hand-made data files of issue 14, each in every
 * format it applies to (rating triplets, comma-separated with a header,
 * Matrix Market, libsvm, UCI docword with its vocabulary, LDA-C), plain and
 * gzip: an empty data set is an error naming the file (and the header's
 * line when there is one); a header never promises more than the file can
 * hold (a 58-byte Matrix Market file declaring 10^8 rows took 2.35 GB), nor
 * fewer entries than it holds; ids and dimensions past what a model can
 * keep arrays for (2^31 - 1 ended in a raw LuaJIT error) are refused where
 * they are written; and a number is a decimal (`0x10` was a rating of 16;
 * inf, nan and LuaJIT's 0b101 too). Every refusal is "path:LINE: what". */
#include <unistd.h>

#include "datafiles.h"

enum { RATINGS, MM, LIBSVM, DOCWORD, LDAC, VOCAB };
static const char *const KIND_NAME[] = {"ratings", "mm",   "libsvm",
                                        "docword", "ldac", "vocab"};

static const char DOCWORD_OK[] = "2\n3\n2\n1 1 1\n2 3 1\n";

/* Reads path as kind: PMLS_OK (what was read then freed) or the code, with
 * the message in err. A vocabulary is read with the docword file above. */
static int read_as(int kind, const char *path, char *err, size_t errlen) {
  int rc;
  err[0] = 0;
  if (kind == RATINGS) {
    pmls_triplets *t = NULL;
    rc = pmls_triplets_read(path, &t, err, errlen);
    pmls_triplets_free(t);
  } else if (kind == MM || kind == LIBSVM) {
    pmls_csr *m = NULL;
    rc = kind == MM ? pmls_csr_read_mm(path, NULL, &m, err, errlen)
                    : pmls_csr_read_libsvm(path, &m, err, errlen);
    pmls_csr_free(m);
  } else {
    pmls_corpus *c = NULL;
    char docs[512];
    if (kind == VOCAB) df_write_str(df_path(docs, "vocab_docs.txt"), DOCWORD_OK);
    rc = kind == LDAC ? pmls_corpus_read_ldac(path, NULL, &c, err, errlen)
         : kind == VOCAB
             ? pmls_corpus_read_docword(docs, path, &c, err, errlen)
             : pmls_corpus_read_docword(path, NULL, &c, err, errlen);
    pmls_corpus_free(c);
  }
  return rc;
}

/* Writes text as name (gzip when gz), reads it as kind and checks that it
 * fails with "path:LINE: what" (want: the part after the path and ':'). */
static void refused(int kind, const char *name, int gz, const char *text,
                    const char *want) {
  char path[512], err[1024];
  char file[128];
  snprintf(file, sizeof file, "%s%s", name, gz ? ".gz" : "");
  df_path(path, file);
  int put = gz ? df_write_gz(path, text, strlen(text)) : df_write_str(path, text);
  CHECK(put == 0);
  int rc = read_as(kind, path, err, sizeof err);
  if (rc == PMLS_OK)
    th_fail(__FILE__, __LINE__, "%s %s: read, want \"%s\"", KIND_NAME[kind],
            file, want);
  if (th_failed()) return;
  CHECK_EQ_INT(rc, PMLS_EINVAL);
  CHECK_MSG(err, "%s:%s", path, want);
}

/* The same file plain and gzip'd (the line is the same in both). */
static void refused_both(int kind, const char *name, const char *text,
                         const char *want) {
  refused(kind, name, 0, text, want);
  if (th_failed()) return;
  refused(kind, name, 1, text, want);
}

static void accepted(int kind, const char *name, const char *text) {
  char path[512], err[1024];
  CHECK(df_write_str(df_path(path, name), text) == 0);
  int rc = read_as(kind, path, err, sizeof err);
  if (rc != PMLS_OK)
    th_fail(__FILE__, __LINE__, "%s %s: rc %d: %s", KIND_NAME[kind], name, rc,
            err);
}

#define MMH "%%MatrixMarket matrix coordinate real general\n"

static void t_empty_data_sets(void) {
  refused_both(RATINGS, "empty.txt", "", "0: empty file (no ratings)");
  refused_both(RATINGS, "comments.txt", "# u i r\n\n  \n",
               "3: no ratings (only comments and blank lines)");
  refused_both(RATINGS, "header.csv", "userId,movieId,rating,timestamp\n",
               "1: a header and no ratings");
  refused_both(RATINGS, "header2.csv", "# MovieLens\nuser,item,rating\n\n",
               "2: a header and no ratings");
  refused_both(MM, "empty.mtx", MMH "100000000 1 0\n",
               "2: the size line declares no entries (a 100000000 x 1 matrix "
               "with none is an empty data set)");
  refused_both(MM, "empty_array.mtx",
               "%%MatrixMarket matrix array real general\n0 3\n",
               "2: the size line declares no values (a 0 x 3 matrix with none "
               "is an empty data set)");
  refused_both(LIBSVM, "empty.svm", "", "0: empty file (no rows)");
  refused_both(LIBSVM, "comments.svm", "# nothing\n\n",
               "2: no rows (only comments and blank lines)");
  refused_both(DOCWORD, "d0.txt", "0\n3\n0\n",
               "1: D, the number of documents is 0: an empty data set");
  refused_both(DOCWORD, "w0.txt", "2\n0\n0\n",
               "2: W, the vocabulary size is 0: an empty data set");
  refused_both(DOCWORD, "nnz0.txt", "2\n3\n0\n",
               "3: NNZ, the number of entries is 0: an empty data set");
  refused_both(LDAC, "empty.ldac", "", "0: empty file (no documents)");
  refused_both(LDAC, "blank.ldac", "\n \n", "2: no documents (only blank lines)");
  refused_both(LDAC, "noterms.ldac", "0\n0\n",
               "2: no words in any of the 2 documents (an empty data set)");
  refused_both(VOCAB, "vocab.txt", "",
               "0: empty file (a vocabulary of one word per line expected)");
}

/* 160 bytes that deflate cannot shrink much, so that a gzip file's bound on
 * its text (its size times 1033) passes 65536 while the text stays short:
 * letters for a '%' comment, or blanks for a line a docword file skips. */
static const char *pad(int blanks) {
  static char out[161];
  uint64_t x = 88172645463325252u;
  for (int i = 0; i < 160; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    out[i] = blanks ? " \t\v\f\r"[x % 5] : (char)('a' + x % 26);
  }
  return out;
}

static void t_header_promises_more_than_the_file_holds(void) {
  /* The 58 bytes: 10^8 rows and one entry (none is "empty"). */
  refused(MM, "rows.mtx", 0, MMH "100000000 1 1\n1 1 1\n",
          "2: declares 100000000 rows, more than the file can hold (one a byte "
          "of text, 65536 at most)");
  refused(MM, "entries.mtx", 0, MMH "1000 1000 1000000\n1 1 1\n",
          "2: declares 1000000 entries, more than the file can hold (11 at most "
          "in its 70 bytes of text)");
  refused(MM, "array.mtx", 0,
          "%%MatrixMarket matrix array real general\n100 100\n1\n",
          "2: declares 10000 values, more than the file can hold (26 at most "
          "in its 51 bytes of text)");
  /* gzip: the text is not known at the size line, so the rows are checked
   * once it is read, before anything is sized from them. */
  char text[512];
  snprintf(text, sizeof text, "%s65537 1 1\n%%%s\n1 1 1\n", MMH, pad(0));
  refused(MM, "rows_gz.mtx", 1, text,
          "2: declares 65537 rows, more than the file holds (one a byte of "
          "text, 65536 at most)");
  refused(MM, "entries_gz.mtx", 1, MMH "3 3 5\n1 1 1\n",
          "3: expected 5 entries (size line, line 2), got 1");
  /* And fewer than it holds. */
  refused_both(MM, "fewer.mtx", MMH "3 3 1\n1 1 1\n2 2 2\n",
               "4: more entries than the 1 the size line (line 2) declares");
  refused(DOCWORD, "docs.txt", 0, "100000000\n3\n1\n1 1 1\n",
          "1: D = 100000000 documents, more than the file can hold (one a byte "
          "of text, 65536 at most)");
  refused(DOCWORD, "nnz.txt", 0, "2\n3\n1000000\n1 1 1\n",
          "3: NNZ = 1000000 entries, more than the file can hold (3 at most in "
          "its 18 bytes of text)");
  snprintf(text, sizeof text, "65537\n%s\n3\n1\n1 1 1\n", pad(1));
  refused(DOCWORD, "docs_gz.txt", 1, text,
          "1: D = 65537 documents, more than the file holds (one a byte of "
          "text, 65536 at most)");
  refused_both(DOCWORD, "fewer.txt", "2\n3\n1\n1 1 1\n2 3 1\n",
               "5: more entries than the header's NNZ = 1");
  /* What a short file may still declare: empty rows and documents. */
  accepted(MM, "sparse.mtx", MMH "65536 70000 1\n65536 70000 1\n");
  accepted(DOCWORD, "sparse.txt", "65536\n70000\n1\n65536 70000 1\n");
}

static void t_ids_and_sizes_beyond_the_engine(void) {
  refused_both(RATINGS, "user.txt", "1 1 3\n2147483647 0 3\n",
               "2: bad user id '2147483647' (integer in [0, 268435453] "
               "expected)");
  refused_both(RATINGS, "item.csv", "u,i,r\n1,268435454,3\n",
               "2: bad item id '268435454' (integer in [0, 268435453] "
               "expected)");
  accepted(RATINGS, "top.txt", "268435453 268435453 3\n");
  refused_both(MM, "huge.mtx", MMH "2147483647 1 1\n1 1 1\n",
               "2: a 2147483647 x 1 matrix is larger than the engine reads (at "
               "most 268435454 rows and columns)");
  refused_both(MM, "cols.mtx", MMH "1 268435455 1\n1 1 1\n",
               "2: a 1 x 268435455 matrix is larger than the engine reads (at "
               "most 268435454 rows and columns)");
  refused_both(LIBSVM, "index.svm", "1 1:1\n-1 2147483647:1\n",
               "2: bad feature index '2147483647' in '2147483647:1' (integer "
               "in [1, 268435454] expected)");
  accepted(LIBSVM, "top.svm", "1 268435454:1\n");
  refused_both(DOCWORD, "bigd.txt", "2147483647\n3\n1\n1 1 1\n",
               "1: bad header line '2147483647' for D, the number of documents "
               "(integer in [0, 268435454] expected)");
  refused_both(DOCWORD, "bigw.txt", "1\n2147483647\n1\n1 1 1\n",
               "2: bad header line '2147483647' for W, the vocabulary size "
               "(integer in [0, 268435454] expected)");
  refused_both(LDAC, "word.ldac", "1 0:1\n1 2147483646:1\n",
               "2: bad word id '2147483646' in '2147483646:1' (integer in [0, "
               "268435453] expected)");
  accepted(LDAC, "top.ldac", "1 268435453:1\n");
}

/* Forms strtod or LuaJIT's tonumber take that are not decimals. */
static const char *const NOT_DECIMAL[] = {
    "0x10", "0X1p4", "inf", "-inf", "Infinity", "nan", "NAN(1)",
    "0b101", "1e", "1e+", ".", "+", "-", "1..2", "1e5.5", "0x"};
/* Decimals that must still be read, and as strtod reads them. */
static const char *const DECIMAL[] = {
    "3", "-0", "+2", ".5", "5.", "1e5", "1E-3", "2.5e+2",
    "1234567890123456789012345", "0.1000000000000000055511151231257827",
    "1e-400", "00012"};

#define COUNT(a) (sizeof(a) / sizeof(a)[0])

static void t_numbers_are_decimal(void) {
  char text[256], want[256], name[64];
  for (size_t i = 0; i < COUNT(NOT_DECIMAL); i++) {
    const char *x = NOT_DECIMAL[i];
    snprintf(name, sizeof name, "hex%zu", i);
    snprintf(text, sizeof text, "1 1 3\n0 0 %s\n", x);
    snprintf(want, sizeof want, "2: bad rating '%s' (finite decimal number "
             "expected)", x);
    refused_both(RATINGS, name, text, want);
    snprintf(text, sizeof text, "u,i,r,t\n0,0,3,%s\n", x);
    snprintf(want, sizeof want, "2: bad timestamp '%s' (decimal number "
             "expected)", x);
    refused_both(RATINGS, name, text, want);
    snprintf(text, sizeof text, "%s2 2 2\n1 1 1\n2 2 %s\n", MMH, x);
    snprintf(want, sizeof want, "4: bad value '%s' (finite decimal number "
             "expected)", x);
    refused_both(MM, name, text, want);
    snprintf(text, sizeof text, "1 1:1\n%s 2:1\n", x);
    snprintf(want, sizeof want, "2: bad label '%s' (finite decimal number "
             "expected)", x);
    refused_both(LIBSVM, name, text, want);
    snprintf(text, sizeof text, "1 1:%s\n", x);
    snprintf(want, sizeof want, "1: bad feature value '%s' in '1:%s' (finite "
             "decimal number expected)", x, x);
    refused_both(LIBSVM, name, text, want);
    if (th_failed()) return;
  }
  for (size_t i = 0; i < COUNT(DECIMAL); i++) {
    const char *x = DECIMAL[i];
    char path[512], err[512];
    snprintf(text, sizeof text, "0 0 %s\n", x);
    CHECK(df_write_str(df_path(path, "dec.txt"), text) == 0);
    pmls_triplets *t = NULL;
    int rc = pmls_triplets_read(path, &t, err, sizeof err);
    if (rc != PMLS_OK) th_fail(__FILE__, __LINE__, "'%s': %s", x, err);
    if (th_failed()) return;
    int same = df_same_bits(t->rating[0], x);
    pmls_triplets_free(t);
    if (!same) th_fail(__FILE__, __LINE__, "'%s' read as another double", x);
    snprintf(text, sizeof text, "%s 1:%s\n", x, x);
    CHECK(df_write_str(df_path(path, "dec.svm"), text) == 0);
    pmls_csr *m = NULL;
    rc = pmls_csr_read_libsvm(path, &m, err, sizeof err);
    if (rc != PMLS_OK) th_fail(__FILE__, __LINE__, "'%s': %s", x, err);
    if (th_failed()) return;
    same = df_same_bits(m->y[0], x) && df_same_bits(m->val[0], x);
    pmls_csr_free(m);
    if (!same) th_fail(__FILE__, __LINE__, "'%s' read as another double", x);
    if (th_failed()) return;
  }
}

static const th_case cases[] = {
    {"empty data sets are errors", t_empty_data_sets},
    {"a header never promises more than the file holds",
     t_header_promises_more_than_the_file_holds},
    {"ids and sizes beyond the engine", t_ids_and_sizes_beyond_the_engine},
    {"numbers are decimal", t_numbers_are_decimal},
};
TH_MAIN(cases)
