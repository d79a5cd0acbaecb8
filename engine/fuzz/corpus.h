/* corpus.h -- the corpus readers' harnesses (fuzz_docword.c, fuzz_ldac.c):
 * an input is the documents, then optionally FUZZ_SPLIT (fuzz.h) and a
 * vocabulary file. */
#ifndef PMI_FUZZ_CORPUS_H
#define PMI_FUZZ_CORPUS_H

#include "readers.h"

typedef int (*corpus_read)(const char *, const char *, pmls_corpus **, char *,
                           size_t);

static fuzz_file body, vocab;

static inline void corpus_open(void) {
  fuzz_file_open(&body, "docs");
  fuzz_file_open(&vocab, "vocab");
}

static inline void corpus_one(corpus_read read, const uint8_t *data,
                              size_t size) {
  size_t n1, n2;
  const uint8_t *rest = fuzz_split(data, size, &n1, &n2);
  fuzz_file_set(&body, data, n1);
  if (rest) fuzz_file_set(&vocab, rest, n2);
  pmls_corpus *c = NULL;
  char err[512] = "";
  int rc = read(body.path, rest ? vocab.path : NULL, &c, err, sizeof err);
  if (rc != PMLS_OK) {
    /* The vocabulary's errors name the vocabulary. */
    fuzz_check_error(rc, strncmp(err, vocab.path, strlen(vocab.path)) == 0
                             ? vocab.path : body.path, err);
    return;
  }
  FUZZ_CHECK(c->docs >= 1 && c->words >= 0 && c->nnz >= 0);
  FUZZ_CHECK(c->docptr[0] == 0 && c->docptr[c->docs] == c->nnz);
  int64_t tokens = 0;
  for (int64_t d = 0; d < c->docs; d++) {
    FUZZ_CHECK(c->docptr[d] <= c->docptr[d + 1]);
    for (int64_t k = c->docptr[d]; k < c->docptr[d + 1]; k++) {
      FUZZ_CHECK(c->word[k] >= 0 && c->word[k] < c->words);
      FUZZ_CHECK(k == c->docptr[d] || c->word[k - 1] < c->word[k]);
      FUZZ_CHECK(c->count[k] >= 1);
      tokens += c->count[k];
    }
  }
  FUZZ_CHECK(tokens == c->tokens);
  FUZZ_CHECK((c->vocab_offset != NULL) == (rest != NULL));
  if (c->vocab_offset)
    for (int64_t w = 0; w < c->words; w++)
      FUZZ_CHECK(c->vocab_offset[w] < c->vocab_offset[w + 1]);
  pmls_corpus_free(c);
}

#endif
