/* fuzz_mm.c -- the Matrix Market reader (data/mm.c) on any bytes, with
 * and without the limits a label file is read under (the input's first
 * byte chooses). */
#include "readers.h"

static fuzz_file file;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  return fuzz_file_open(&file, "mm");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_file_set(&file, data, size);
  pmls_mm_limits lim = {-1, -1, NULL};
  int limited = size > 0 && (data[0] & 1) == 0 && data[0] != '%';
  if (limited) {
    lim.max_cols = 1 + data[0] % 7;
    lim.label_rows = data[0] & 2 ? 3 : -1;
    lim.labels_for = "data.mtx";
  }
  pmls_csr *m = NULL;
  char err[512] = "";
  int rc = pmls_csr_read_mm(file.path, limited ? &lim : NULL, &m, err,
                            sizeof err);
  if (rc != PMLS_OK) {
    fuzz_check_error(rc, file.path, err);
    return 0;
  }
  fuzz_check_csr(m, 0);
  if (limited) {
    FUZZ_CHECK(m->d <= lim.max_cols);
    if (lim.label_rows >= 0) FUZZ_CHECK(m->n == lim.label_rows && m->d == 1);
  }
  pmls_csr_free(m);
  return 0;
}
