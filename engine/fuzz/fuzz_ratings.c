/* fuzz_ratings.c -- the rating triplets reader (data/ratings.c) on any
 * bytes: a success holds ids within the bounds and finite ratings. */
#include "readers.h"

static fuzz_file file;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  return fuzz_file_open(&file, "ratings");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_file_set(&file, data, size);
  pmls_triplets *t = NULL;
  char err[512] = "";
  int rc = pmls_triplets_read(file.path, &t, err, sizeof err);
  if (rc != PMLS_OK) {
    fuzz_check_error(rc, file.path, err);
    return 0;
  }
  FUZZ_CHECK(t->n >= 1);
  int64_t mu = -1, mi = -1;
  for (int64_t k = 0; k < t->n; k++) {
    FUZZ_CHECK(t->user[k] >= 0 && t->user[k] <= 268435453);
    FUZZ_CHECK(t->item[k] >= 0 && t->item[k] <= 268435453);
    FUZZ_CHECK(t->rating[k] - t->rating[k] == 0);
    if (t->user[k] > mu) mu = t->user[k];
    if (t->item[k] > mi) mi = t->item[k];
  }
  FUZZ_CHECK(mu == t->max_user && mi == t->max_item);
  pmls_triplets_free(t);
  return 0;
}
