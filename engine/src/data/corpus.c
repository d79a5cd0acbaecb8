/* corpus.c -- reads bag-of-words corpora: UCI docword and LDA-C files, and
 * their vocabularies, into one document-term representation.
 *
 * Topic models read corpora of a million entries and more (20news: 1.0 M
 * entries, 14 MB of text), from every worker of a process; like libsvm.c,
 * the parse is C over the engine's line reader (text.c: plain or gzip) and
 * the engine keeps it (pmls_engine_read_docword / _ldac), so a process
 * parses each file once and its threads share it read-only. The documents
 * and the vocabulary are two cache entries (the cache knows one file per
 * entry), joined and checked against each other on every request: that is
 * O(1), or one scan of the entries when an LDA-C word id is out of the
 * vocabulary's range.
 *
 * Both formats give the same arrays (CSR by document: docptr, word,
 * count). A docword file must group its entries by document in increasing
 * order, as UCI's files do: a document out of order is an error at its
 * line, so the reader never buffers the file to sort it. The words of one
 * document may come in any order and are sorted (a repeated word is an
 * error naming both lines). The header's D, W and NNZ bound the ids and
 * the entries; the entries are counted against NNZ. The header is held to
 * what the file can hold before anything is sized from it (reader.h): D and
 * W below PMI_MAX_DIM, at most one document a byte of text (each costs 16
 * bytes even when empty), no more entries than its bytes can write (6 a
 * line), and none of them 0: an empty corpus is an error, as is an LDA-C
 * file without a word or an empty vocabulary. The vocabulary's line
 * k is word k - 1, so a blank line there is an error, not skipped. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "reader.h"

#define INT32_RANGE "2147483647"

typedef struct {
  int64_t docs, words, nnz, tokens;
  int64_t *docptr, *line; /* docs + 1, docs */
  int32_t *word, *count;
} corpus_body;

typedef struct {
  int64_t n;
  int64_t *offset; /* n + 1 */
  char *text;
} vocab_list;

/* The end of the token at s: the next space, or end. */
static const char *token_end(const char *s, const char *end) {
  while (s < end && !pmi_is_space((unsigned char)*s)) s++;
  return s;
}

/* Reads the decimal digits at *s into *v and moves *s past them; returns
 * how many there were. Past 18 digits *v is meaningless (the unsigned sum
 * wraps), and callers refuse the number. */
static inline int scan_digits(const char **s, const char *end, int64_t *v) {
  const char *p = *s;
  uint64_t x = 0;
  unsigned d;
  while (p < end && (d = (unsigned char)*p - (unsigned)'0') < 10) {
    x = x * 10 + d;
    p++;
  }
  int n = p - *s > 19 ? 19 : (int)(p - *s);
  *s = p;
  *v = (int64_t)(x & (UINT64_MAX >> 1));
  return n;
}

/* The number of the token at *s if it is an integer in [lo, hi] followed
 * by a space or the end (or by `stop`, when not 0); -1 otherwise. */
static inline int64_t scan_int(const char **s, const char *end, int64_t lo,
                               int64_t hi, char stop) {
  int64_t v;
  int digits = scan_digits(s, end, &v);
  int ended = *s == end || pmi_is_space((unsigned char)**s) ||
              (stop && **s == stop);
  return digits > 0 && digits <= 18 && ended && v >= lo && v <= hi ? v : -1;
}

static void body_free(corpus_body *c) {
  if (!c) return;
  free(c->docptr);
  free(c->line);
  free(c->word);
  free(c->count);
  free(c);
}

static void vocab_free(vocab_list *v) {
  if (!v) return;
  free(v->offset);
  free(v->text);
  free(v);
}

/* ---- building the documents ----------------------------------------------- */

typedef struct {
  corpus_body *c;           /* c->docs: documents closed so far */
  int64_t doc_cap, nnz_cap;
  int64_t open;             /* the document being read, or -1 */
  int64_t start;            /* its first entry */
  int32_t last_word;
  int in_order;
  int64_t *entry_line;      /* docword: the line of each of its entries */
  int64_t entry_cap;
  int64_t max_word;         /* the largest word id seen, or -1 */
  uint64_t *keys;           /* sorting a document: word << 32 | position */
  int64_t *scratch;         /* its counts or lines while they are moved */
  int64_t scratch_cap;
  uint64_t *bits;           /* or its words as a bitmap of their range, */
  uint32_t *first;          /* with the position of each word's entry */
  int64_t range_cap;
  /* docword only */
  int header_lines;         /* of D, W, NNZ, read so far */
  int64_t header[3], d_line; /* and the line of D */
  int64_t capacity;         /* the most bytes of text the file can hold */
  int64_t text_bytes;       /* of the lines read so far */
} builder;

/* Sorts n distinct keys in increasing order: quicksort (median of three,
 * recursing into the smaller side) down to insertion sort; qsort's
 * callback per comparison cost twice as much. */
static void sort_keys(uint64_t *a, int64_t n) {
  while (n > 24) {
    uint64_t x = a[0], y = a[n / 2], z = a[n - 1];
    uint64_t pivot = x < y ? (y < z ? y : x < z ? z : x)
                           : (x < z ? x : y < z ? z : y);
    int64_t i = -1, j = n;
    for (;;) {
      do i++; while (a[i] < pivot);
      do j--; while (a[j] > pivot);
      if (i >= j) break;
      uint64_t t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    int64_t left = j + 1; /* [0, left) and [left, n) */
    if (left < n - left) {
      sort_keys(a, left);
      a += left;
      n -= left;
    } else {
      sort_keys(a + left, n - left);
      n = left;
    }
  }
  for (int64_t i = 1; i < n; i++) {
    uint64_t v = a[i];
    int64_t j = i;
    for (; j > 0 && a[j - 1] > v; j--) a[j] = a[j - 1];
    a[j] = v;
  }
}

/* Room for document index `doc` (and the offset after it). */
static int reserve_docs(builder *b, int64_t doc) {
  if (doc + 1 < b->doc_cap) return 0;
  int64_t cap = b->doc_cap ? 2 * b->doc_cap : 4096;
  if (cap < doc + 2) cap = doc + 2;
  if (pmi_grow((void **)&b->c->docptr, cap, sizeof *b->c->docptr) ||
      pmi_grow((void **)&b->c->line, cap, sizeof *b->c->line))
    return -1;
  b->doc_cap = cap;
  return 0;
}

static int reserve_more(builder *b, int docword) {
  corpus_body *c = b->c;
  if (c->nnz >= b->nnz_cap) {
    /* docword's NNZ bounds the entries (it is checked before this). */
    int64_t cap = b->nnz_cap ? 2 * b->nnz_cap : 65536;
    if (docword && cap > b->header[2]) cap = b->header[2];
    if (pmi_grow((void **)&c->word, cap, sizeof *c->word) ||
        pmi_grow((void **)&c->count, cap, sizeof *c->count))
      return -1;
    b->nnz_cap = cap;
  }
  if (docword && c->nnz - b->start >= b->entry_cap) {
    int64_t cap = b->entry_cap ? 2 * b->entry_cap : 1024;
    if (pmi_grow((void **)&b->entry_line, cap, sizeof *b->entry_line)) return -1;
    b->entry_cap = cap;
  }
  return 0;
}

static inline int reserve_entry(builder *b, int docword) {
  if (b->c->nnz < b->nnz_cap && (!docword || b->c->nnz - b->start < b->entry_cap))
    return 0;
  return reserve_more(b, docword);
}

/* Documents [c->docs, upto) are empty. */
static int fill_empty(builder *b, int64_t upto) {
  corpus_body *c = b->c;
  if (upto > c->docs && reserve_docs(b, upto - 1)) return -1;
  for (; c->docs < upto; c->docs++) {
    c->line[c->docs] = 0;
    c->docptr[c->docs + 1] = c->nnz;
  }
  return 0;
}

/* Documents [c->docs, doc) are empty; doc opens at `line`. */
static int open_doc(builder *b, int64_t doc, int64_t line) {
  corpus_body *c = b->c;
  if (fill_empty(b, doc) || reserve_docs(b, doc)) return -1;
  c->line[doc] = line;
  b->open = doc;
  b->start = c->nnz;
  b->in_order = 1;
  b->last_word = -1;
  return 0;
}

/* Appends a word of the open document: 0, or (when it repeats the entry
 * just before it, which it then does not append) that entry's position in
 * the document + 1. */
static inline int64_t add_entry(builder *b, int32_t word, int32_t count,
                                int64_t line) {
  corpus_body *c = b->c;
  int64_t k = c->nnz - b->start;
  if (word <= b->last_word) {
    if (word == b->last_word) return k;
    b->in_order = 0;
  }
  b->last_word = word;
  if (word > b->max_word) b->max_word = word;
  c->word[c->nnz] = word;
  c->count[c->nnz] = count;
  if (b->entry_line) b->entry_line[k] = line;
  c->nnz++;
  c->tokens += count;
  return 0;
}

static int reserve_scratch(builder *b, int64_t n, int64_t range) {
  if (n > b->scratch_cap) {
    if (pmi_grow((void **)&b->keys, n, sizeof *b->keys) ||
        pmi_grow((void **)&b->scratch, n, sizeof *b->scratch))
      return -1;
    b->scratch_cap = n;
  }
  if (range > b->range_cap) {
    if (pmi_grow((void **)&b->bits, (range + 63) / 64, sizeof *b->bits) ||
        pmi_grow((void **)&b->first, range, sizeof *b->first))
      return -1;
    b->range_cap = range;
  }
  return 0;
}

/* Puts the open document's n entries in the order of b->keys (word << 32 |
 * position), or finds the smallest repeated word: then *dup_first and
 * *dup_second are the positions of its first two entries and nothing moved.
 * A document whose words span a range of at most 512 n goes through a bitmap
 * of that range, in O(n + range / 64) (AP: 134 words in 10,473, three times
 * faster than sorting them); others sort their keys. */
static int sort_doc(builder *b, int64_t n, int64_t *dup_first,
                    int64_t *dup_second) {
  int32_t *w = b->c->word + b->start;
  int32_t lo = w[0], hi = w[0];
  for (int64_t i = 1; i < n; i++) {
    if (w[i] < lo) lo = w[i];
    if (w[i] > hi) hi = w[i];
  }
  int64_t range = (int64_t)hi - lo + 1;
  int bitmap = range <= 512 * n;
  if (reserve_scratch(b, n, bitmap ? range : 0)) return PMLS_ENOMEM;
  uint64_t *keys = b->keys;
  if (bitmap) {
    uint64_t *bits = b->bits;
    int64_t words = (range + 63) / 64, best = range;
    memset(bits, 0, (size_t)words * sizeof *bits);
    for (int64_t i = 0; i < n; i++) {
      int64_t r = w[i] - lo;
      uint64_t m = UINT64_C(1) << (r & 63);
      if (bits[r >> 6] & m) {
        if (r < best) best = r, *dup_second = i;
        continue;
      }
      bits[r >> 6] |= m;
      b->first[r] = (uint32_t)i;
    }
    if (best < range) {
      *dup_first = b->first[best];
      return PMLS_EINVAL;
    }
    int64_t j = 0;
    for (int64_t q = 0; q < words; q++)
      for (uint64_t x = bits[q]; x; x &= x - 1) {
        int64_t r = q * 64 + __builtin_ctzll(x);
        keys[j++] = (uint64_t)(lo + r) << 32 | b->first[r];
      }
  } else {
    for (int64_t i = 0; i < n; i++) keys[i] = (uint64_t)w[i] << 32 | (uint64_t)i;
    sort_keys(keys, n);
    for (int64_t i = 1; i < n; i++)
      if (keys[i] >> 32 == keys[i - 1] >> 32) {
        *dup_first = (int64_t)(keys[i - 1] & UINT32_MAX);
        *dup_second = (int64_t)(keys[i] & UINT32_MAX);
        return PMLS_EINVAL;
      }
  }
  return PMLS_OK;
}

/* Closes the open document, sorting its words when they came out of order.
 * On a repeated word returns PMLS_EINVAL with the positions (within the
 * document, in file order) of its first two entries. */
static int close_doc(builder *b, int64_t *dup_first, int64_t *dup_second) {
  corpus_body *c = b->c;
  int64_t n = c->nnz - b->start;
  if (!b->in_order) {
    if (n > UINT32_MAX) return PMLS_ENOMEM; /* no key for the position */
    int rc = sort_doc(b, n, dup_first, dup_second);
    if (rc != PMLS_OK) return rc;
    /* The counts, then the lines, follow the words through one scratch. */
    int32_t *w = c->word + b->start, *k = c->count + b->start;
    const uint64_t *keys = b->keys;
    int32_t *counts = (int32_t *)b->scratch;
    memcpy(counts, k, (size_t)n * sizeof *k);
    for (int64_t i = 0; i < n; i++) {
      w[i] = (int32_t)(keys[i] >> 32);
      k[i] = counts[keys[i] & UINT32_MAX];
    }
    if (b->entry_line) {
      memcpy(b->scratch, b->entry_line, (size_t)n * sizeof *b->entry_line);
      for (int64_t i = 0; i < n; i++)
        b->entry_line[i] = b->scratch[keys[i] & UINT32_MAX];
    }
  }
  c->docptr[b->open + 1] = c->nnz;
  c->docs = b->open + 1;
  b->open = -1;
  return PMLS_OK;
}

/* ---- reading a file line by line ------------------------------------------ */

/* Feeds every line of path to parse (reader.c), then calls finish (if any)
 * with the last line number; the message is "path:LINE: what" either way. */
static int read_lines(const char *path, pmi_line_fn parse,
                      int (*finish)(void *, const pmi_failure *), void *state,
                      char *err, size_t errlen) {
  int64_t lines = 0;
  int rc = pmi_read_lines(path, parse, state, &lines, err, errlen);
  if (rc == PMLS_OK && finish) {
    pmi_failure f = {err, errlen, path, lines};
    rc = finish(state, &f);
  }
  return rc;
}

/* Frees what only the parse needed. */
static void builder_done(builder *b) {
  free(b->entry_line);
  free(b->keys);
  free(b->scratch);
  free(b->bits);
  free(b->first);
  b->entry_line = NULL;
  b->keys = NULL;
  b->scratch = NULL;
  b->bits = NULL;
  b->first = NULL;
}

static void builder_discard(builder *b) {
  builder_done(b);
  body_free(b->c);
  b->c = NULL;
}

/* ---- UCI docword ---------------------------------------------------------- */

static const char *const HEADER_NAMES[3] = {
    "D, the number of documents", "W, the vocabulary size",
    "NNZ, the number of entries"};

static int docword_header(builder *b, const char *s, const char *end,
                          const pmi_failure *f) {
  static const int64_t MAX[3] = {PMI_MAX_DIM, PMI_MAX_DIM, INT64_C(1) << 60};
  int i = b->header_lines;
  const char *p = s;
  int64_t v = scan_int(&p, end, 0, MAX[i], 0);
  if (v < 0 || pmi_skip_spaces(p, end) != end) {
    const char *t = end;
    while (t > s && pmi_is_space((unsigned char)t[-1])) t--;
    return pmi_fail_at(f, PMLS_EINVAL, "bad header line '%.*s' for %s (integer "
                   "in [0, %lld] expected)", pmi_shown(s, t), s, HEADER_NAMES[i],
                   (long long)MAX[i]);
  }
  int64_t cap = b->capacity, most = (cap + 1) / 6; /* "1 1 1\n" */
  if (v == 0)
    return pmi_fail_at(f, PMLS_EINVAL, "%s is 0: an empty data set",
                       HEADER_NAMES[i]);
  if (i == 0 && cap >= 0 && v > pmi_rows_allowed(cap))
    return pmi_fail_at(f, PMLS_EINVAL, "D = %lld documents, more than the file "
                       "can hold (one a byte of text, %lld at most)",
                       (long long)v, (long long)pmi_rows_allowed(cap));
  if (i == 2 && cap >= 0 && v > most)
    return pmi_fail_at(f, PMLS_EINVAL, "NNZ = %lld entries, more than the "
                       "file can hold (%lld at most in its %lld bytes of text)",
                       (long long)v, (long long)most, (long long)cap);
  if (i == 0) b->d_line = f->line;
  b->header[b->header_lines++] = v;
  return PMLS_OK;
}

static int repeated_docword(const builder *b, int32_t word, int64_t first,
                            int64_t line, const pmi_failure *f) {
  pmi_failure at = *f;
  at.line = line;
  return pmi_fail_at(&at, PMLS_EINVAL, "repeated entry for document %lld and word "
                 "%lld (first on line %lld)", (long long)b->open + 1,
                 (long long)word + 1, (long long)first);
}

/* Closes the open document of a docword file. */
static int docword_close(builder *b, const pmi_failure *f) {
  int64_t first, second;
  int rc = close_doc(b, &first, &second);
  if (rc == PMLS_ENOMEM) return pmi_fail_at(f, rc, "out of memory");
  if (rc != PMLS_OK)
    return repeated_docword(b, b->c->word[b->start + first],
                            b->entry_line[first], b->entry_line[second], f);
  return PMLS_OK;
}

static int docword_line(void *state, const char *s, const char *end,
                        const pmi_failure *f) {
  builder *b = state;
  b->text_bytes += end - s + 1;
  s = pmi_skip_spaces(s, end);
  if (s == end) return PMLS_OK;
  if (b->header_lines < 3) return docword_header(b, s, end, f);
  static const char *const NAMES[3] = {"document id", "word id", "count"};
  const int64_t max[3] = {b->header[0], b->header[1], INT32_MAX};
  int64_t v[3];
  const char *p = s;
  int fields = 0;
  for (; fields < 3; fields++) {
    p = pmi_skip_spaces(p, end);
    if (p == end) break;
    const char *t = p;
    v[fields] = scan_int(&p, end, 1, max[fields], 0);
    if (v[fields] < 0)
      return pmi_fail_at(f, PMLS_EINVAL, "bad %s '%.*s' (integer in [1, %lld] "
                     "expected)", NAMES[fields], pmi_shown(t, token_end(t, end)),
                     t, (long long)max[fields]);
  }
  if (fields < 3 || pmi_skip_spaces(p, end) != end) {
    const char *t = end;
    while (t > s && pmi_is_space((unsigned char)t[-1])) t--;
    return pmi_fail_at(f, PMLS_EINVAL, "expected 'docID wordID count', got "
                   "'%.*s'", pmi_shown(s, t), s);
  }
  corpus_body *c = b->c;
  if (c->nnz == b->header[2])
    return pmi_fail_at(f, PMLS_EINVAL, "more entries than the header's NNZ = %lld",
                   (long long)b->header[2]);
  int64_t doc = v[0] - 1;
  if (doc != b->open) {
    if (doc < b->open)
      return pmi_fail_at(f, PMLS_EINVAL, "document %lld after document %lld "
                     "(entries must be grouped by document, in increasing "
                     "order)", (long long)v[0], (long long)b->open + 1);
    if (b->open >= 0) {
      int rc = docword_close(b, f);
      if (rc != PMLS_OK) return rc;
    }
    if (open_doc(b, doc, f->line)) return pmi_fail_at(f, PMLS_ENOMEM, "out of memory");
  }
  if (reserve_entry(b, 1)) return pmi_fail_at(f, PMLS_ENOMEM, "out of memory");
  int64_t k = add_entry(b, (int32_t)(v[1] - 1), (int32_t)v[2], f->line);
  if (k > 0)
    return repeated_docword(b, (int32_t)(v[1] - 1), b->entry_line[k - 1],
                            f->line, f);
  return PMLS_OK;
}

static int docword_finish(void *state, const pmi_failure *f) {
  builder *b = state;
  if (b->header_lines < 3)
    return pmi_fail_at(f, PMLS_EINVAL, "missing header line for %s (the file ends "
                   "before it)", HEADER_NAMES[b->header_lines]);
  corpus_body *c = b->c;
  if (b->open >= 0) {
    int rc = docword_close(b, f);
    if (rc != PMLS_OK) return rc;
  }
  if (c->nnz < b->header[2])
    return pmi_fail_at(f, PMLS_EINVAL, "%lld entries, fewer than the header's "
                   "NNZ = %lld", (long long)c->nnz, (long long)b->header[2]);
  if (b->header[0] > pmi_rows_allowed(b->text_bytes)) {
    /* A gzip file's capacity is loose; its text is known now. */
    pmi_failure at = *f;
    at.line = b->d_line;
    return pmi_fail_at(&at, PMLS_EINVAL, "D = %lld documents, more than the "
                       "file holds (one a byte of text, %lld at most)",
                       (long long)b->header[0],
                       (long long)pmi_rows_allowed(b->text_bytes));
  }
  if (fill_empty(b, b->header[0])) return pmi_fail_at(f, PMLS_ENOMEM, "out of memory");
  c->words = b->header[1];
  return PMLS_OK;
}

/* ---- LDA-C ---------------------------------------------------------------- */

/* What is wrong with the word:count pair at t. */
static int bad_pair(const char *t, const char *end, const pmi_failure *f) {
  const char *te = token_end(t, end), *colon = memchr(t, ':', (size_t)(te - t));
  if (!colon)
    return pmi_fail_at(f, PMLS_EINVAL, "missing ':' in '%.*s' (word:count "
                   "expected)", pmi_shown(t, te), t);
  const char *p = t;
  if (scan_int(&p, end, 0, PMI_MAX_DIM - 1, ':') < 0 || p != colon)
    return pmi_fail_at(f, PMLS_EINVAL, "bad word id '%.*s' in '%.*s' (integer "
                   "in [0, " PMI_MAX_ID_TEXT "] expected)", pmi_shown(t, colon), t,
                   pmi_shown(t, te), t);
  return pmi_fail_at(f, PMLS_EINVAL, "bad count '%.*s' in '%.*s' (integer in "
                 "[1, " INT32_RANGE "] expected)", pmi_shown(colon + 1, te),
                 colon + 1, pmi_shown(t, te), t);
}

static int ldac_line(void *state, const char *s, const char *end,
                     const pmi_failure *f) {
  builder *b = state;
  s = pmi_skip_spaces(s, end);
  if (s == end) return PMLS_OK;
  const char *p = s;
  int64_t n = scan_int(&p, end, 0, INT32_MAX, 0);
  if (n < 0)
    return pmi_fail_at(f, PMLS_EINVAL, "bad number of terms '%.*s' (integer in "
                   "[0, " INT32_RANGE "] expected)", pmi_shown(s, token_end(s, end)), s);
  corpus_body *c = b->c;
  if (open_doc(b, c->docs, f->line)) return pmi_fail_at(f, PMLS_ENOMEM, "out of memory");
  int64_t pairs = 0;
  for (p = pmi_skip_spaces(p, end); p < end; p = pmi_skip_spaces(p, end), pairs++) {
    const char *t = p;
    int64_t word = scan_int(&p, end, 0, PMI_MAX_DIM - 1, ':'), count = -1;
    if (word >= 0 && p < end && *p == ':') {
      p++;
      count = scan_int(&p, end, 1, INT32_MAX, 0);
    }
    if (count < 0) return bad_pair(t, end, f);
    if (reserve_entry(b, 0)) return pmi_fail_at(f, PMLS_ENOMEM, "out of memory");
    if (add_entry(b, (int32_t)word, (int32_t)count, f->line) > 0)
      return pmi_fail_at(f, PMLS_EINVAL, "repeated word id %lld", (long long)word);
  }
  if (pairs != n)
    return pmi_fail_at(f, PMLS_EINVAL, "the line starts with N = %lld but has "
                   "%lld word:count pairs", (long long)n, (long long)pairs);
  int64_t first, second;
  int rc = close_doc(b, &first, &second);
  if (rc == PMLS_ENOMEM) return pmi_fail_at(f, rc, "out of memory");
  if (rc != PMLS_OK)
    return pmi_fail_at(f, rc, "repeated word id %lld",
                   (long long)c->word[b->start + first]);
  return PMLS_OK;
}

static int ldac_finish(void *state, const pmi_failure *f) {
  corpus_body *c = ((builder *)state)->c;
  if (c->docs == 0)
    return pmi_fail_at(f, PMLS_EINVAL, "%s", f->line ? "no documents (only "
                       "blank lines)" : "empty file (no documents)");
  if (c->nnz == 0)
    return pmi_fail_at(f, PMLS_EINVAL, "no words in any of the %lld documents "
                       "(an empty data set)", (long long)c->docs);
  c->words = ((builder *)state)->max_word + 1;
  return PMLS_OK;
}

/* Parses a docword or an LDA-C file into *out. */
static int read_body(const char *path, int docword, corpus_body **out,
                     char *err, size_t errlen) {
  pmi_failure f = {err, errlen, path ? path : "(null)", 0};
  *out = NULL;
  builder b = {.open = -1, .max_word = -1,
               .capacity = docword ? pmi_text_capacity(path) : -1};
  b.c = calloc(1, sizeof *b.c);
  if (!b.c || reserve_docs(&b, 0)) {
    builder_discard(&b);
    return pmi_fail_at(&f, PMLS_ENOMEM, "out of memory");
  }
  b.c->docptr[0] = 0;
  int rc = read_lines(path, docword ? docword_line : ldac_line,
                      docword ? docword_finish : ldac_finish, &b, err, errlen);
  builder_done(&b);
  if (rc != PMLS_OK) {
    builder_discard(&b);
    return rc;
  }
  *out = b.c;
  return PMLS_OK;
}

/* ---- vocabulary ----------------------------------------------------------- */

typedef struct {
  vocab_list *v;
  int64_t cap, text_len, text_cap;
} vocab_builder;

static int vocab_line(void *state, const char *s, const char *end,
                      const pmi_failure *f) {
  vocab_builder *vb = state;
  if (f->line == 1 && end - s >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
    s += 3; /* a UTF-8 byte order mark */
  s = pmi_skip_spaces(s, end);
  while (end > s && pmi_is_space((unsigned char)end[-1])) end--;
  if (s == end)
    return pmi_fail_at(f, PMLS_EINVAL, "empty word (one word per line expected: "
                   "line k is word id k - 1)");
  if (token_end(s, end) != end)
    return pmi_fail_at(f, PMLS_EINVAL, "word '%.*s' holds whitespace (one word "
                   "per line expected)", pmi_shown(s, end), s);
  vocab_list *v = vb->v;
  if (v->n == PMI_MAX_DIM)
    return pmi_fail_at(f, PMLS_EINVAL, "more than " PMI_MAX_DIM_TEXT " words");
  int64_t len = end - s;
  if (v->n + 1 >= vb->cap) {
    int64_t cap = vb->cap ? 2 * vb->cap : 4096;
    if (pmi_grow((void **)&v->offset, cap, sizeof *v->offset))
      return pmi_fail_at(f, PMLS_ENOMEM, "out of memory");
    vb->cap = cap;
  }
  if (vb->text_len + len + 1 > vb->text_cap) {
    int64_t cap = vb->text_cap ? 2 * vb->text_cap : 65536;
    while (cap < vb->text_len + len + 1) cap *= 2;
    if (pmi_grow((void **)&v->text, cap, 1)) return pmi_fail_at(f, PMLS_ENOMEM, "out of memory");
    vb->text_cap = cap;
  }
  memcpy(v->text + vb->text_len, s, (size_t)len);
  v->text[vb->text_len + len] = 0;
  vb->text_len += len + 1;
  v->offset[++v->n] = vb->text_len;
  return PMLS_OK;
}

static int read_vocab(const char *path, vocab_list **out, char *err,
                      size_t errlen) {
  pmi_failure f = {err, errlen, path, 0};
  *out = NULL;
  vocab_builder vb = {0};
  vb.v = calloc(1, sizeof *vb.v);
  vb.cap = 4096;
  if (!vb.v || !(vb.v->offset = malloc((size_t)vb.cap * sizeof *vb.v->offset))) {
    vocab_free(vb.v);
    return pmi_fail_at(&f, PMLS_ENOMEM, "out of memory");
  }
  vb.v->offset[0] = 0;
  int rc = read_lines(path, vocab_line, NULL, &vb, err, errlen);
  if (rc == PMLS_OK && vb.v->n == 0)
    rc = pmi_fail_at(&f, PMLS_EINVAL, "empty file (a vocabulary of one word "
                     "per line expected)");
  if (rc == PMLS_OK && !vb.v->text && !(vb.v->text = calloc(1, 1)))
    rc = pmi_fail_at(&f, PMLS_ENOMEM, "out of memory");
  if (rc != PMLS_OK) {
    vocab_free(vb.v);
    return rc;
  }
  *out = vb.v;
  return PMLS_OK;
}

/* ---- documents and vocabulary together ------------------------------------- */

/* Fills *out from c and v (may be NULL) once they fit each other. */
static int join(const corpus_body *c, const vocab_list *v, int docword,
                const char *path, const char *vocab_path, pmls_corpus *out,
                char *err, size_t errlen) {
  *out = (pmls_corpus){.docs = c->docs, .words = c->words, .nnz = c->nnz,
                       .tokens = c->tokens, .docptr = c->docptr,
                       .word = c->word, .count = c->count, .line = c->line};
  if (!v) return PMLS_OK;
  if (docword && v->n != c->words) {
    pmi_failure f = {err, errlen, vocab_path, v->n < c->words ? v->n : c->words + 1};
    *out = (pmls_corpus){0};
    return pmi_fail_at(&f, PMLS_EINVAL, "%s words than the W = %lld of %s",
                   v->n < c->words ? "fewer" : "more", (long long)c->words,
                   path);
  }
  if (!docword && c->words > v->n) {
    int64_t k = 0, doc = 0;
    while (c->word[k] < v->n) k++;
    while (c->docptr[doc + 1] <= k) doc++;
    pmi_failure f = {err, errlen, path, c->line[doc]};
    *out = (pmls_corpus){0};
    return pmi_fail_at(&f, PMLS_EINVAL, "word id %d is not in the vocabulary (%s "
                   "has %lld words)", c->word[k], vocab_path, (long long)v->n);
  }
  out->words = v->n;
  out->vocab_offset = v->offset;
  out->vocab_text = v->text;
  return PMLS_OK;
}

typedef struct {
  pmls_corpus pub; /* first: pmls_corpus_free casts back */
  corpus_body *body;
  vocab_list *vocab;
} corpus_owned;

static int read_corpus(const char *path, const char *vocab, int docword,
                       pmls_corpus **out, char *err, size_t errlen) {
  pmi_failure f = {err, errlen, path ? path : "(null)", 0};
  if (out) *out = NULL;
  if (!path || !out) return pmi_fail_at(&f, PMLS_EINVAL, "missing path or out");
  corpus_owned *o = calloc(1, sizeof *o);
  if (!o) return pmi_fail_at(&f, PMLS_ENOMEM, "out of memory");
  int rc = read_body(path, docword, &o->body, err, errlen);
  if (rc == PMLS_OK && vocab) rc = read_vocab(vocab, &o->vocab, err, errlen);
  if (rc == PMLS_OK)
    rc = join(o->body, o->vocab, docword, path, vocab, &o->pub, err, errlen);
  if (rc != PMLS_OK) {
    pmls_corpus_free(&o->pub);
    return rc;
  }
  *out = &o->pub;
  return PMLS_OK;
}

int pmls_corpus_read_docword(const char *path, const char *vocab,
                             pmls_corpus **out, char *err, size_t errlen) {
  return read_corpus(path, vocab, 1, out, err, errlen);
}

int pmls_corpus_read_ldac(const char *path, const char *vocab,
                          pmls_corpus **out, char *err, size_t errlen) {
  return read_corpus(path, vocab, 0, out, err, errlen);
}

void pmls_corpus_free(pmls_corpus *c) {
  if (!c) return;
  corpus_owned *o = (corpus_owned *)c;
  body_free(o->body);
  vocab_free(o->vocab);
  free(o);
}

/* ---- the engine's copies (cache.c) ---------------------------------------- */

static int load_docword(const char *path, void **out, char *err, size_t errlen) {
  return read_body(path, 1, (corpus_body **)out, err, errlen);
}
static int load_ldac(const char *path, void **out, char *err, size_t errlen) {
  return read_body(path, 0, (corpus_body **)out, err, errlen);
}
static int load_vocab(const char *path, void **out, char *err, size_t errlen) {
  return read_vocab(path, (vocab_list **)out, err, errlen);
}
static void free_body(void *c) { body_free(c); }
static void free_vocab(void *v) { vocab_free(v); }

static int engine_read(pmls_engine *e, const char *path, const char *vocab,
                       int docword, pmls_corpus *out, char *err,
                       size_t errlen) {
  pmi_failure f = {err, errlen, path ? path : "(null)", 0};
  if (out) *out = (pmls_corpus){0};
  if (!e || !path || !out)
    return pmi_fail_at(&f, PMLS_EINVAL, "missing engine, path or out");
  void *body = NULL, *words = NULL;
  int rc = pmi_data_cached(e, path, docword ? load_docword : load_ldac,
                           free_body, &body, err, errlen);
  if (rc == PMLS_OK && vocab)
    rc = pmi_data_cached(e, vocab, load_vocab, free_vocab, &words, err, errlen);
  if (rc != PMLS_OK) return rc;
  return join(body, words, docword, path, vocab, out, err, errlen);
}

int pmls_engine_read_docword(pmls_engine *e, const char *path,
                             const char *vocab, pmls_corpus *out, char *err,
                             size_t errlen) {
  return engine_read(e, path, vocab, 1, out, err, errlen);
}

int pmls_engine_read_ldac(pmls_engine *e, const char *path, const char *vocab,
                          pmls_corpus *out, char *err, size_t errlen) {
  return engine_read(e, path, vocab, 0, out, err, errlen);
}
