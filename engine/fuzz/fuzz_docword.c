/* fuzz_docword.c -- the UCI docword reader (data/corpus.c) on any bytes,
 * with a vocabulary after the input's FUZZ_SPLIT. */
#include "corpus.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  corpus_open();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  corpus_one(pmls_corpus_read_docword, data, size);
  return 0;
}
