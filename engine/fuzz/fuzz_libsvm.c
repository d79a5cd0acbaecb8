/* fuzz_libsvm.c -- the libsvm reader (data/libsvm.c) on any bytes, plain or
 * gzip (the reader tells them by their first bytes). */
#include "readers.h"

static fuzz_file file;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  return fuzz_file_open(&file, "libsvm");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_file_set(&file, data, size);
  pmls_csr *m = NULL;
  char err[512] = "";
  int rc = pmls_csr_read_libsvm(file.path, &m, err, sizeof err);
  if (rc != PMLS_OK) {
    fuzz_check_error(rc, file.path, err);
    return 0;
  }
  fuzz_check_csr(m, 1);
  FUZZ_CHECK(m->line != NULL);
  pmls_csr_free(m);
  return 0;
}
