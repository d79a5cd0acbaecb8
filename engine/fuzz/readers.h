/* readers.h -- what the harnesses of the data file readers share: the
 * memory file an input is written to, and the checks every parse must pass
 * (a failure names the file and a line; a success keeps every invariant
 * pmls.h promises). A broken invariant aborts, which the fuzzer reports as
 * a crash with the input that made it. Harness code only. */
#ifndef PMI_FUZZ_READERS_H
#define PMI_FUZZ_READERS_H

#include "fuzz.h"

#define FUZZ_CHECK(cond)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "fuzz: %s:%d: broken: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* A failed read says "path:LINE: what" (LINE 0 when no line is to blame). */
static inline void fuzz_check_error(int rc, const char *path, const char *err) {
  if (getenv("PMLS_FUZZ_VERBOSE")) fprintf(stderr, "fuzz: %s\n", err);
  FUZZ_CHECK(rc == PMLS_EINVAL || rc == PMLS_EIO || rc == PMLS_ENOMEM);
  size_t n = strlen(path);
  FUZZ_CHECK(strncmp(err, path, n) == 0 && err[n] == ':');
  const char *p = err + n + 1;
  FUZZ_CHECK(*p >= '0' && *p <= '9');
  while (*p >= '0' && *p <= '9') p++;
  FUZZ_CHECK(*p == ':');
}

/* A CSR matrix as pmls.h describes it: offsets from 0 to nnz, columns
 * increasing within a row and below d, values finite. */
static inline void fuzz_check_csr(const pmls_csr *m, int labels) {
  FUZZ_CHECK(m->n >= 1 && m->d >= 0 && m->nnz >= 0);
  FUZZ_CHECK(m->rowptr[0] == 0 && m->rowptr[m->n] == m->nnz);
  for (int64_t i = 0; i < m->n; i++) {
    FUZZ_CHECK(m->rowptr[i] <= m->rowptr[i + 1]);
    if (labels) FUZZ_CHECK(m->y[i] - m->y[i] == 0); /* finite */
    for (int64_t k = m->rowptr[i]; k < m->rowptr[i + 1]; k++) {
      FUZZ_CHECK(m->col[k] >= 0 && m->col[k] < m->d);
      FUZZ_CHECK(k == m->rowptr[i] || m->col[k - 1] < m->col[k]);
      FUZZ_CHECK(m->val[k] - m->val[k] == 0);
    }
  }
}

#endif
