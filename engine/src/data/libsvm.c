/* libsvm.c -- reads libsvm / svmlight files into a CSR matrix with labels.
 *
 * Parsing is where a short Lasso or logistic-regression job spends most of
 * its time: 20news's 16 MB of text took the LuaJIT reader 0.09 s of CPU plus
 * a gzip child, and every worker thread, scheduler node and the setup read
 * the file again. So the engine parses it in C, from the lines of its own
 * reader (text.c: plain or gzip, inflated in process), and keeps what it
 * read (pmls_engine_read_libsvm): the threads of one process share one
 * parse, read-only.
 *
 * The format and the messages are those of the Lua reader this replaces:
 * `label index:value ...` per line, indices from 1, '#' starts a comment,
 * `qid:` tokens are skipped, blank lines are allowed, rows may list their
 * indices in any order (they are sorted; a repeated index is an error).
 * Numbers are decimals (reader.c: no hex, inf or nan), read exactly, so the
 * doubles are those of any correct reader (checked on every libsvm file of
 * ../shared/data). strtod follows the C locale's decimal point, which the
 * engine never changes; a host that sets LC_NUMERIC to a comma locale would
 * see its slow-path numbers refused. Indices stay within PMI_MAX_DIM, the
 * widest matrix a model can keep arrays for, and a file without a row is
 * an error: an empty data set trains nothing and a model would divide by
 * its zero rows. */
#include <stdlib.h>
#include <string.h>

#include "../proc/proc.h"
#include "data.h"
#include "reader.h"

typedef struct {
  double *y;
  int64_t *rowptr, *line;
  int32_t *col;
  double *val;
  int64_t n, nnz, row_cap, nnz_cap;
  int64_t max_index;
} builder;

/* pmls_csr with owned (writable) arrays: what the reader fills. */
typedef struct {
  pmls_csr pub;
  builder b;
} csr_owned;

static int reserve_rows(builder *b) {
  if (b->n < b->row_cap) return 0;
  int64_t cap = b->row_cap ? 2 * b->row_cap : 1024;
  if (pmi_grow((void **)&b->y, cap, sizeof *b->y) ||
      pmi_grow((void **)&b->line, cap, sizeof *b->line) ||
      pmi_grow((void **)&b->rowptr, cap + 1, sizeof *b->rowptr))
    return -1;
  b->row_cap = cap;
  return 0;
}

static int reserve_entry(builder *b) {
  if (b->nnz < b->nnz_cap) return 0;
  int64_t cap = b->nnz_cap ? 2 * b->nnz_cap : 16384;
  if (pmi_grow((void **)&b->col, cap, sizeof *b->col) ||
      pmi_grow((void **)&b->val, cap, sizeof *b->val))
    return -1;
  b->nnz_cap = cap;
  return 0;
}

/* Sorts one row's entries by column (rows are almost always written in
 * order, so insertion sort); returns the first repeated column or -1. */
static int64_t sort_row(int32_t *col, double *val, int64_t count) {
  for (int64_t i = 1; i < count; i++) {
    int32_t c = col[i];
    double v = val[i];
    int64_t j = i;
    for (; j > 0 && col[j - 1] > c; j--) {
      col[j] = col[j - 1];
      val[j] = val[j - 1];
    }
    col[j] = c;
    val[j] = v;
  }
  for (int64_t i = 1; i < count; i++)
    if (col[i] == col[i - 1]) return col[i];
  return -1;
}

static const char *token_end(const char *s, const char *end) {
  while (s < end && *s != '#' && !pmi_is_space((unsigned char)*s)) s++;
  return s;
}

/* Parses one line [s, end) into the builder (state). */
static int parse_line(void *state, const char *s, const char *end,
                      const pmi_failure *f) {
  builder *b = state;
  s = pmi_skip_spaces(s, end);
  if (s == end || *s == '#') return PMLS_OK;
  const char *t = token_end(s, end);
  double label;
  if (!pmi_parse_c_number(s, t, &label))
    return pmi_fail_at(f, PMLS_EINVAL, "bad label '%.*s' (finite decimal number expected)",
                    pmi_shown(s, t), s);
  if (reserve_rows(b)) return pmi_fail_at(f, PMLS_ENOMEM, "out of memory");
  int64_t row_start = b->nnz, last = 0;
  int in_order = 1;
  for (s = pmi_skip_spaces(t, end); s < end && *s != '#';
       s = pmi_skip_spaces(t, end)) {
    t = token_end(s, end);
    if (t - s > 3 && memcmp(s, "qid:", 4) == 0) continue;
    const char *colon = memchr(s, ':', (size_t)(t - s));
    if (!colon)
      return pmi_fail_at(f, PMLS_EINVAL, "missing ':' in feature '%.*s'",
                      pmi_shown(s, t), s);
    int64_t index = 0;
    if (!pmi_parse_count(s, colon, PMI_MAX_DIM, &index) || index == 0)
      return pmi_fail_at(f, PMLS_EINVAL,
                     "bad feature index '%.*s' in '%.*s' (integer in [1, "
                     PMI_MAX_DIM_TEXT "] expected)", pmi_shown(s, colon), s,
                      pmi_shown(s, t), s);
    if (colon + 1 == t)
      return pmi_fail_at(f, PMLS_EINVAL, "missing value in '%.*s'", pmi_shown(s, t), s);
    double value;
    if (!pmi_parse_c_number(colon + 1, t, &value))
      return pmi_fail_at(f, PMLS_EINVAL,
                     "bad feature value '%.*s' in '%.*s' (finite decimal "
                     "number expected)", pmi_shown(colon + 1, t), colon + 1, pmi_shown(s, t), s);
    if (reserve_entry(b)) return pmi_fail_at(f, PMLS_ENOMEM, "out of memory");
    b->col[b->nnz] = (int32_t)(index - 1);
    b->val[b->nnz++] = value;
    if (index <= last) in_order = 0;
    last = index;
    if (index > b->max_index) b->max_index = index;
  }
  if (!in_order) {
    int64_t dup = sort_row(b->col + row_start, b->val + row_start,
                           b->nnz - row_start);
    if (dup >= 0)
      return pmi_fail_at(f, PMLS_EINVAL, "duplicate feature index %lld",
                     (long long)dup + 1);
  }
  b->y[b->n] = label;
  b->line[b->n] = f->line;
  b->rowptr[++b->n] = b->nnz;
  return PMLS_OK;
}

static void builder_free(builder *b) {
  free(b->y);
  free(b->rowptr);
  free(b->line);
  free(b->col);
  free(b->val);
}

int pmls_csr_read_libsvm(const char *path, pmls_csr **out, char *err,
                         size_t errlen) {
  pmi_failure f = {err, errlen, path ? path : "(null)", 0};
  if (out) *out = NULL;
  if (!path || !out) return pmi_fail_at(&f, PMLS_EINVAL, "missing path or out");
  csr_owned *m = calloc(1, sizeof *m);
  builder *b = m ? &m->b : NULL;
  int rc;
  if (!m || reserve_rows(b)) {
    rc = pmi_fail_at(&f, PMLS_ENOMEM, "out of memory");
  } else {
    b->rowptr[0] = 0;
    rc = pmi_read_lines(path, parse_line, b, &f.line, err, errlen);
  }
  if (rc == PMLS_OK && b->n == 0)
    rc = pmi_fail_at(&f, PMLS_EINVAL, "%s", f.line
                     ? "no rows (only comments and blank lines)"
                     : "empty file (no rows)");
  if (rc != PMLS_OK) {
    if (b) builder_free(b);
    free(m);
    return rc;
  }
  m->pub = (pmls_csr){.n = b->n, .d = b->max_index, .nnz = b->nnz,
                      .y = b->y, .rowptr = b->rowptr, .col = b->col,
                      .val = b->val, .line = b->line};
  *out = &m->pub;
  return PMLS_OK;
}

/* Frees the arrays the public struct names and the struct: every reader
 * that makes a pmls_csr (libsvm here, Matrix Market in mm.c) allocates it
 * so, with pmls_csr first in the block, so one free serves them all. */
void pmls_csr_free(pmls_csr *m) {
  if (!m) return;
  free((void *)m->y);
  free((void *)m->rowptr);
  free((void *)m->line);
  free((void *)m->col);
  free((void *)m->val);
  free(m);
}

/* ---- the engine's copy (cache.c) ---------------------------------------- */

static int load_libsvm(const char *path, void **out, char *err, size_t errlen) {
  pmls_csr *m = NULL;
  int rc = pmls_csr_read_libsvm(path, &m, err, errlen);
  *out = m;
  return rc;
}

static void free_csr(void *m) { pmls_csr_free(m); }

int pmi_engine_read_csr(pmls_engine *e, const char *path, pmi_data_load load,
                        const pmls_csr **out, char *err, size_t errlen) {
  pmi_failure f = {err, errlen, path ? path : "(null)", 0};
  if (out) *out = NULL;
  if (!e || !path || !out)
    return pmi_fail_at(&f, PMLS_EINVAL, "missing engine, path or out");
  void *m = NULL;
  int rc = pmi_data_cached(e, path, load, free_csr, &m, err, errlen);
  *out = m;
  return rc;
}

int pmls_engine_read_libsvm(pmls_engine *e, const char *path,
                            const pmls_csr **out, char *err, size_t errlen) {
  return pmi_engine_read_csr(e, path, load_libsvm, out, err, errlen);
}
