/* mm.c -- reads Matrix Market `matrix` files into a CSR matrix.
 *
 * The Lasso reads its design matrix as Matrix Market, and the setup, every
 * worker and every scheduler node used to parse it again in Lua. Here it is
 * parsed in C over the engine's line reader (text.c: plain or gzip) and may
 * be kept by the engine (pmls_engine_read_mm) for the threads of a process,
 * as libsvm files are; the result is a pmls_csr, so a model gets the same
 * shape from either format.
 *
 * The Lua reader this replaces set the rules, and they are kept, messages
 * included: the header `%%MatrixMarket matrix coordinate|array real|integer|
 * pattern general|symmetric|skew-symmetric` in any case; '%' lines and
 * blank lines skipped; the size line; entries checked one by one at their
 * line (indices in range, values finite, integer values whole, only the
 * stored triangle of a symmetric matrix, no more and no fewer than
 * declared); an array lists its values column by column. Entries are kept
 * in file order, mirrors of symmetric ones after them. A row-major file
 * (most are) is then the CSR arrays already; otherwise a stable counting
 * sort on rows places them, so column-major files come out sorted and other
 * orders are sorted per row. The size line is held to what the file can
 * hold, at its line and before anything is sized from it: dimensions below
 * PMI_MAX_DIM, no more entries than its bytes can write (6 a line, 4 for
 * a pattern, 2 an array value), at most one row per byte (or 65536: rows
 * no entry names still cost 16 bytes each in the CSR arrays), and at least
 * one entry, since an empty design matrix is no data set (a label file may
 * leave every label 0). A 58-byte file declaring 10^8 rows took 2.35 GB.
 * A repeated entry is reported at the line of its
 * second occurrence, which a second pass over the file finds: keeping every
 * entry's line would cost a third more memory for an error path. Tokens are
 * quoted up to 80 bytes, as in the libsvm reader's messages.
 *
 * The usual entry line, `row column value` with valid numbers, takes a
 * path that reads it in one scan; any other line goes through the general
 * one, which says what is wrong, so both give the same answer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data.h"
#include "reader.h"

#define HEADER                                                              \
  "'%%%%MatrixMarket matrix coordinate|array real|integer|pattern "         \
  "general|symmetric|skew-symmetric'"

enum { GENERAL, SYMMETRIC, SKEW };
static const char *const SYMMETRY_NAMES[] = {"general", "symmetric",
                                             "skew-symmetric"};

typedef struct {
  const pmls_mm_limits *limits;
  int stage; /* 0: header next, 1: size line next, 2: entries */
  int coordinate, pattern, integer, symmetry;
  int64_t rows, cols, expected, size_line, count;
  int64_t array_row, array_col; /* where the next array value goes */
  int64_t capacity;   /* the most bytes of text the file can hold, or -1 */
  int64_t text_bytes; /* of the lines read so far, newlines counted */
  /* The entries in file order. */
  int32_t *erow, *ecol;
  double *eval;
  int64_t stored, cap;
  int row_major; /* so far each entry comes after the one before in CSR */
  /* The second pass, which finds the line of the entry (find_row,
   * find_col) written a second time; find_row < 0 in the first pass. */
  int64_t find_row, find_col, seen, found_line;
} mm_state;

#define FOUND 1000 /* stops the second pass: not an error code */

typedef struct {
  const char *s, *end;
} word;

/* The whitespace-separated words of [s, end): how many, the first max. */
static int split_words(const char *s, const char *end, word *out, int max) {
  int n = 0;
  for (s = pmi_skip_spaces(s, end); s < end; s = pmi_skip_spaces(s, end)) {
    const char *t = s;
    while (t < end && !pmi_is_space((unsigned char)*t)) t++;
    if (n < max) out[n] = (word){s, t};
    n++;
    s = t;
  }
  return n;
}

static int word_is(word w, const char *lower) {
  size_t len = strlen(lower);
  return (size_t)(w.end - w.s) == len && strncasecmp(w.s, lower, len) == 0;
}

/* A word lower-cased into buf (cut to what a message shows). */
static const char *lowered(word w, char *buf) {
  int n = pmi_shown(w.s, w.end);
  for (int i = 0; i < n; i++) {
    char c = w.s[i];
    buf[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
  }
  buf[n] = 0;
  return buf;
}

/* The line without its leading and trailing blanks. */
static word trimmed(const char *s, const char *end) {
  s = pmi_skip_spaces(s, end);
  while (end > s && pmi_is_space((unsigned char)end[-1])) end--;
  return (word){s, end};
}

#define QUOTED(w) pmi_shown((w).s, (w).end), (w).s

static int parse_header(mm_state *m, const char *s, const char *end,
                        const pmi_failure *f) {
  word w[5];
  char text[PMI_TOKEN_SHOWN + 1];
  int n = split_words(s, end, w, 5);
  if (n == 0 || !word_is(w[0], "%%matrixmarket"))
    return pmi_fail_at(f, PMLS_EINVAL,
                       "not a Matrix Market file (first line " HEADER
                       " expected)");
  if (n != 5)
    return pmi_fail_at(f, PMLS_EINVAL, "malformed header '%.*s' (" HEADER
                       " expected)", QUOTED(trimmed(s, end)));
  if (!word_is(w[1], "matrix"))
    return pmi_fail_at(f, PMLS_EINVAL, "unsupported object '%s' in the header "
                       "(only 'matrix' is read)", lowered(w[1], text));
  m->coordinate = word_is(w[2], "coordinate");
  if (!m->coordinate && !word_is(w[2], "array"))
    return pmi_fail_at(f, PMLS_EINVAL, "unknown format '%s' in the header "
                       "('coordinate' or 'array' expected)", lowered(w[2], text));
  m->pattern = word_is(w[3], "pattern");
  m->integer = word_is(w[3], "integer");
  if (!m->pattern && !m->integer && !word_is(w[3], "real"))
    return pmi_fail_at(f, PMLS_EINVAL, "unsupported field '%s' in the header "
                       "('real', 'integer' or 'pattern' expected)",
                       lowered(w[3], text));
  if (m->pattern && !m->coordinate)
    return pmi_fail_at(f, PMLS_EINVAL,
                       "field 'pattern' needs format 'coordinate', not '%s'",
                       lowered(w[2], text));
  if (word_is(w[4], "general")) m->symmetry = GENERAL;
  else if (word_is(w[4], "symmetric")) m->symmetry = SYMMETRIC;
  else if (word_is(w[4], "skew-symmetric")) m->symmetry = SKEW;
  else
    return pmi_fail_at(f, PMLS_EINVAL, "unsupported symmetry '%s' in the "
                       "header ('general', 'symmetric' or 'skew-symmetric' "
                       "expected)", lowered(w[4], text));
  m->stage = 1;
  return PMLS_OK;
}

static const char *size_text(const mm_state *m) {
  return m->coordinate ? "'rows columns entries'" : "'rows columns'";
}

/* What the size line claims, held to what the file can hold (when its
 * capacity is known), at the size line. */
static int check_claims(const mm_state *m, int64_t rows, int64_t cols,
                        int64_t entries, const pmi_failure *f) {
  const char *what = m->coordinate ? "entries" : "values";
  if (entries == 0 && !(m->coordinate && m->limits &&
                        m->limits->label_rows >= 0))
    return pmi_fail_at(f, PMLS_EINVAL, "the size line declares no %s (a %lld "
                       "x %lld matrix with none is an empty data set)", what,
                       (long long)rows, (long long)cols);
  if (m->capacity < 0) return PMLS_OK;
  int64_t per_line = !m->coordinate ? 2 : m->pattern ? 4 : 6;
  /* The last line needs no newline. */
  int64_t most = (m->capacity + 1) / per_line;
  if (entries > most)
    return pmi_fail_at(f, PMLS_EINVAL, "declares %lld %s, more than the file "
                       "can hold (%lld at most in its %lld bytes of text)",
                       (long long)entries, what, (long long)most,
                       (long long)m->capacity);
  if (!(m->limits && m->limits->label_rows >= 0) &&
      rows > pmi_rows_allowed(m->capacity))
    return pmi_fail_at(f, PMLS_EINVAL, "declares %lld rows, more than the file "
                       "can hold (one a byte of text, %lld at most)",
                       (long long)rows, (long long)pmi_rows_allowed(m->capacity));
  return PMLS_OK;
}

/* The size line, and the checks that follow from it (at its line). */
static int parse_size(mm_state *m, const char *s, const char *end,
                      const pmi_failure *f) {
  word w[4];
  int n = split_words(s, end, w, 4), want = m->coordinate ? 3 : 2;
  int64_t rows, cols, declared = 0;
  if (n != want || !pmi_parse_count(w[0].s, w[0].end, INT32_MAX, &rows) ||
      !pmi_parse_count(w[1].s, w[1].end, INT32_MAX, &cols) ||
      (m->coordinate &&
       !pmi_parse_count(w[2].s, w[2].end, INT32_MAX, &declared)))
    return pmi_fail_at(f, PMLS_EINVAL, "bad size line '%.*s' (%s as "
                       "non-negative integers expected)",
                       QUOTED(trimmed(s, end)), size_text(m));
  if (rows > PMI_MAX_DIM || cols > PMI_MAX_DIM)
    return pmi_fail_at(f, PMLS_EINVAL, "a %lld x %lld matrix is larger than "
                       "the engine reads (at most " PMI_MAX_DIM_TEXT " rows "
                       "and columns)", (long long)rows, (long long)cols);
  const char *symmetry = SYMMETRY_NAMES[m->symmetry];
  if (m->symmetry != GENERAL && rows != cols)
    return pmi_fail_at(f, PMLS_EINVAL, "a %s matrix must be square, got %lld "
                       "x %lld", symmetry, (long long)rows, (long long)cols);
  const pmls_mm_limits *lim = m->limits;
  if (lim && lim->max_cols >= 0 && cols > lim->max_cols)
    return pmi_fail_at(f, PMLS_EINVAL, "matrix has %lld columns, more than "
                       "opts.d = %lld", (long long)cols,
                       (long long)lim->max_cols);
  if (lim && lim->label_rows >= 0) {
    if (cols != 1)
      return pmi_fail_at(f, PMLS_EINVAL, "labels must be an n x 1 matrix, got "
                         "%lld x %lld", (long long)rows, (long long)cols);
    if (rows != lim->label_rows)
      return pmi_fail_at(f, PMLS_EINVAL, "%lld labels (a %lld x 1 matrix) for "
                         "the %lld rows of %s", (long long)rows,
                         (long long)rows, (long long)lim->label_rows,
                         lim->labels_for ? lim->labels_for : "the data");
  }
  int64_t holds = m->symmetry == GENERAL ? rows * cols
                  : m->symmetry == SKEW  ? rows * (rows - 1) / 2
                                         : rows * (rows + 1) / 2;
  if (m->coordinate && declared > holds)
    return pmi_fail_at(f, PMLS_EINVAL, "declares %lld entries, more than a %s "
                       "%lld x %lld matrix holds (%lld)", (long long)declared,
                       symmetry, (long long)rows, (long long)cols,
                       (long long)holds);
  int rc = check_claims(m, rows, cols, m->coordinate ? declared : holds, f);
  if (rc != PMLS_OK) return rc;
  m->rows = rows;
  m->cols = cols;
  m->expected = m->coordinate ? declared : holds;
  m->size_line = f->line;
  m->array_row = m->symmetry == SKEW ? 1 : 0;
  m->stage = 2;
  return PMLS_OK;
}

static int reserve(mm_state *m, int64_t more) {
  if (m->stored + more <= m->cap) return 0;
  int64_t cap = m->cap ? 2 * m->cap : 4096;
  /* The declared count is a hint, not a promise worth gigabytes. */
  int64_t hint = m->expected * (m->symmetry == GENERAL ? 1 : 2);
  if (!m->cap && hint > cap) cap = hint < (1 << 22) ? hint : (1 << 22);
  if (pmi_grow((void **)&m->erow, cap, sizeof *m->erow) ||
      pmi_grow((void **)&m->ecol, cap, sizeof *m->ecol) ||
      pmi_grow((void **)&m->eval, cap, sizeof *m->eval))
    return -1;
  m->cap = cap;
  return 0;
}

static void store(mm_state *m, int64_t r, int64_t c, double v) {
  int64_t t = m->stored;
  if (t > 0 && (r < m->erow[t - 1] || (r == m->erow[t - 1] && c <= m->ecol[t - 1])))
    m->row_major = 0;
  m->erow[t] = (int32_t)r;
  m->ecol[t] = (int32_t)c;
  m->eval[t] = v;
  m->stored = t + 1;
}

/* Keeps the entry (0-based r, c) of the current line, and its mirror. */
static int add_entry(mm_state *m, int64_t r, int64_t c, double v,
                     const pmi_failure *f) {
  if (m->find_row >= 0) {
    m->count++;
    if (r == m->find_row && c == m->find_col && ++m->seen == 2) {
      m->found_line = f->line;
      return FOUND;
    }
    return PMLS_OK;
  }
  if (reserve(m, 2)) return pmi_fail_at(f, PMLS_ENOMEM, "out of memory");
  store(m, r, c, v);
  if (m->symmetry != GENERAL && r != c)
    store(m, c, r, m->symmetry == SKEW ? -v : v);
  m->count++;
  return PMLS_OK;
}

/* A decimal index in [1, limit] ending at a blank (or, when at_end, at the
 * end of the line); *s moves past it. 0 when it is not one. */
static int64_t fast_index(const char **s, const char *end, int64_t limit,
                          int at_end) {
  const char *k = *s;
  int64_t v = 0;
  for (; k < end && pmi_is_digit((unsigned char)*k) && k - *s < 10; k++)
    v = v * 10 + (*k - '0');
  if (k == *s || v < 1 || v > limit) return 0;
  if (k < end ? !pmi_is_space((unsigned char)*k) : !at_end) return 0;
  *s = pmi_skip_spaces(k, end);
  return v;
}

/* `row column [value]` read in one scan, when the line is well formed and
 * fits the matrix; 0 sends it to the general path. */
static int parse_entry_fast(mm_state *m, const char *s, const char *end,
                            int64_t *r, int64_t *c, double *v) {
  if (m->count == m->expected) return 0;
  s = pmi_skip_spaces(s, end);
  if (!(*r = fast_index(&s, end, m->rows, 0))) return 0;
  if (!(*c = fast_index(&s, end, m->cols, m->pattern))) return 0;
  if (m->symmetry != GENERAL && (*r < *c || (m->symmetry == SKEW && *r == *c)))
    return 0;
  *v = 1;
  if (!m->pattern) {
    const char *t = pmi_scan_decimal(s, end, v);
    if (!t || (t < end && !pmi_is_space((unsigned char)*t))) {
      for (t = s; t < end && !pmi_is_space((unsigned char)*t);) t++;
      if (t == s || !pmi_parse_number(s, t, v)) return 0;
    }
    if (m->integer && *v != floor(*v)) return 0;
    s = pmi_skip_spaces(t, end);
  }
  return s == end;
}

static int parse_entry(mm_state *m, const char *s, const char *end,
                       const pmi_failure *f) {
  int64_t r, c;
  double v;
  if (m->coordinate && parse_entry_fast(m, s, end, &r, &c, &v))
    return add_entry(m, r - 1, c - 1, v, f);
  word w[4];
  int n = split_words(s, end, w, 4);
  int want = m->coordinate ? (m->pattern ? 2 : 3) : 1;
  const char *what = m->coordinate ? "entries" : "values";
  if (n != want)
    return pmi_fail_at(f, PMLS_EINVAL, "expected %s, got %d fields",
                       m->coordinate ? (m->pattern ? "'row column'"
                                                   : "'row column value'")
                                     : "one value per line", n);
  if (m->count == m->expected)
    return pmi_fail_at(f, PMLS_EINVAL, "more %s than the %lld the size line "
                       "(line %lld) declares", what, (long long)m->expected,
                       (long long)m->size_line);
  if (m->coordinate) {
    if (!pmi_parse_count(w[0].s, w[0].end, INT32_MAX, &r) || r < 1 ||
        r > m->rows)
      return pmi_fail_at(f, PMLS_EINVAL, "row index '%.*s' out of range "
                         "(integer in [1, %lld] expected)", QUOTED(w[0]),
                         (long long)m->rows);
    if (!pmi_parse_count(w[1].s, w[1].end, INT32_MAX, &c) || c < 1 ||
        c > m->cols)
      return pmi_fail_at(f, PMLS_EINVAL, "column index '%.*s' out of range "
                         "(integer in [1, %lld] expected)", QUOTED(w[1]),
                         (long long)m->cols);
    if (m->symmetry != GENERAL && (r < c || (m->symmetry == SKEW && r == c)))
      return pmi_fail_at(f, PMLS_EINVAL, "entry (%lld, %lld) is not in the "
                         "%slower triangle, the only part a %s matrix stores",
                         (long long)r, (long long)c,
                         m->symmetry == SKEW ? "strictly " : "",
                         SYMMETRY_NAMES[m->symmetry]);
    r--, c--;
  } else {
    r = m->array_row++;
    c = m->array_col;
    if (m->array_row == m->rows) {
      m->array_col++;
      m->array_row = m->symmetry == GENERAL ? 0
                     : m->symmetry == SKEW  ? m->array_col + 1
                                            : m->array_col;
    }
  }
  v = 1;
  if (!m->pattern) {
    word t = w[want - 1];
    if (!pmi_parse_number(t.s, t.end, &v))
      return pmi_fail_at(f, PMLS_EINVAL, "bad value '%.*s' (finite decimal "
                         "number expected)", QUOTED(t));
    if (m->integer && v != floor(v))
      return pmi_fail_at(f, PMLS_EINVAL, "bad value '%.*s' (integer expected "
                         "in an 'integer' matrix)", QUOTED(t));
  }
  return add_entry(m, r, c, v, f);
}

static int parse_line(void *state, const char *s, const char *end,
                      const pmi_failure *f) {
  mm_state *m = state;
  m->text_bytes += end - s + 1;
  if (m->stage == 0) return parse_header(m, s, end, f);
  const char *first = pmi_skip_spaces(s, end);
  if (first == end || *first == '%') return PMLS_OK;
  return m->stage == 1 ? parse_size(m, s, end, f) : parse_entry(m, s, end, f);
}

/* Shellsort of one row's entries by column, the values moved along. */
static void sort_row(int32_t *col, double *val, int64_t count) {
  int64_t gap = 1;
  while (gap * 3 + 1 < count) gap = gap * 3 + 1;
  for (; gap >= 1; gap = (gap - 1) / 3) {
    for (int64_t i = gap; i < count; i++) {
      int32_t c = col[i];
      double v = val[i];
      int64_t k = i;
      for (; k >= gap && col[k - gap] > c; k -= gap) {
        col[k] = col[k - gap];
        val[k] = val[k - gap];
      }
      col[k] = c;
      val[k] = v;
    }
  }
}

/* The file line where the entry (i, j) is written a second time, from a
 * second pass over the file (0 if it is not found: the file changed). */
static int64_t second_line(const char *path, const mm_state *first, int64_t i,
                           int64_t j) {
  mm_state m = {.limits = first->limits, .capacity = -1, .find_row = i,
                .find_col = j};
  int64_t lines;
  int rc = pmi_read_lines(path, parse_line, &m, &lines, NULL, 0);
  return rc == FOUND ? m.found_line : 0;
}

/* A row-major file's entries are its CSR arrays: they are handed over
 * (trimmed), and rowptr counts the rows. */
static void take_row_major(mm_state *m, int64_t *rowptr, int32_t **col,
                           double **val) {
  for (int64_t t = 0; t < m->stored; t++) rowptr[m->erow[t] + 1]++;
  for (int64_t r = 0; r < m->rows; r++) rowptr[r + 1] += rowptr[r];
  int64_t keep = m->stored ? m->stored : 1;
  if (keep < m->cap) {
    pmi_grow((void **)&m->ecol, keep, sizeof *m->ecol);
    pmi_grow((void **)&m->eval, keep, sizeof *m->eval);
  }
  *col = m->ecol;
  *val = m->eval;
  m->ecol = NULL;
  m->eval = NULL;
}

/* Places entries of any order by a stable counting sort on rows, sorts the
 * rows that need it, and finds a repeated entry. */
static int place_by_rows(mm_state *m, int64_t *rowptr, int32_t *col,
                         double *val, const char *path, pmi_failure *f) {
  int64_t rows = m->rows;
  int64_t *next = malloc(((size_t)rows + 1) * sizeof *next);
  if (!next) return pmi_fail_at(f, PMLS_ENOMEM, "out of memory");
  for (int64_t t = 0; t < m->stored; t++) rowptr[m->erow[t] + 1]++;
  for (int64_t r = 0; r < rows; r++) rowptr[r + 1] += rowptr[r];
  memcpy(next, rowptr, ((size_t)rows + 1) * sizeof *next);
  for (int64_t t = 0; t < m->stored; t++) {
    int64_t slot = next[m->erow[t]]++;
    col[slot] = m->ecol[t];
    val[slot] = m->eval[t];
  }
  free(next);
  for (int64_t r = 0; r < rows; r++) {
    int64_t first = rowptr[r], last = rowptr[r + 1], t = first + 1;
    while (t < last && col[t] > col[t - 1]) t++;
    if (t >= last) continue;
    sort_row(col + first, val + first, last - first);
    for (t = first + 1; t < last; t++) {
      if (col[t] != col[t - 1]) continue;
      /* Reported as written: a mirror lies above the diagonal. */
      int64_t i = r, j = col[t];
      if (m->symmetry != GENERAL && i < j) i = j, j = r;
      f->line = second_line(path, m, i, j);
      return pmi_fail_at(f, PMLS_EINVAL, "duplicate entry (%lld, %lld)",
                         (long long)i + 1, (long long)j + 1);
    }
  }
  return PMLS_OK;
}

/* The entries as a CSR matrix in out. */
static int build(mm_state *m, pmls_csr *out, const char *path, pmi_failure *f) {
  int64_t rows = m->rows, nnz = m->stored;
  int64_t *rowptr = calloc((size_t)rows + 1, sizeof *rowptr);
  double *y = calloc(rows ? (size_t)rows : 1, sizeof *y);
  int32_t *col = NULL;
  double *val = NULL;
  int rc = PMLS_OK;
  if (!rowptr || !y) {
    rc = pmi_fail_at(f, PMLS_ENOMEM, "out of memory");
  } else if (m->row_major) {
    take_row_major(m, rowptr, &col, &val);
  } else {
    col = malloc((nnz ? (size_t)nnz : 1) * sizeof *col);
    val = malloc((nnz ? (size_t)nnz : 1) * sizeof *val);
    rc = col && val ? place_by_rows(m, rowptr, col, val, path, f)
                    : pmi_fail_at(f, PMLS_ENOMEM, "out of memory");
  }
  if (rc != PMLS_OK) {
    free(rowptr), free(col), free(val), free(y);
    return rc;
  }
  *out = (pmls_csr){.n = rows, .d = m->cols, .nnz = nnz, .y = y,
                    .rowptr = rowptr, .col = col, .val = val, .line = NULL};
  return PMLS_OK;
}

static void state_free(mm_state *m) {
  free(m->erow);
  free(m->ecol);
  free(m->eval);
}

int pmls_csr_read_mm(const char *path, const pmls_mm_limits *limits,
                     pmls_csr **out, char *err, size_t errlen) {
  pmi_failure f = {err, errlen, path ? path : "(null)", 0};
  if (out) *out = NULL;
  if (!path || !out) return pmi_fail_at(&f, PMLS_EINVAL, "missing path or out");
  mm_state m = {.limits = limits, .row_major = 1, .find_row = -1,
                .capacity = pmi_text_capacity(path)};
  int rc = pmi_read_lines(path, parse_line, &m, &f.line, err, errlen);
  if (rc == PMLS_OK && m.stage == 0) {
    f.line = 0;
    rc = pmi_fail_at(&f, PMLS_EINVAL, "empty file (Matrix Market header "
                     HEADER " expected)");
  } else if (rc == PMLS_OK && m.stage == 1) {
    rc = pmi_fail_at(&f, PMLS_EINVAL, "missing size line %s after the header",
                     size_text(&m));
  } else if (rc == PMLS_OK && m.count < m.expected) {
    rc = pmi_fail_at(&f, PMLS_EINVAL, "expected %lld %s (size line, line "
                     "%lld), got %lld", (long long)m.expected,
                     m.coordinate ? "entries" : "values",
                     (long long)m.size_line, (long long)m.count);
  } else if (rc == PMLS_OK && !(limits && limits->label_rows >= 0) &&
             m.rows > pmi_rows_allowed(m.text_bytes)) {
    /* A gzip file's capacity is a loose bound: its text is known now,
     * before the rows size anything. */
    f.line = m.size_line;
    rc = pmi_fail_at(&f, PMLS_EINVAL, "declares %lld rows, more than the file "
                     "holds (one a byte of text, %lld at most)",
                     (long long)m.rows, (long long)pmi_rows_allowed(m.text_bytes));
  }
  pmls_csr *csr = rc == PMLS_OK ? malloc(sizeof *csr) : NULL;
  if (rc == PMLS_OK && !csr) rc = pmi_fail_at(&f, PMLS_ENOMEM, "out of memory");
  if (rc == PMLS_OK) rc = build(&m, csr, path, &f);
  state_free(&m);
  if (rc != PMLS_OK) {
    free(csr);
    return rc;
  }
  *out = csr;
  return PMLS_OK;
}

/* ---- the engine's copy (cache.c) ---------------------------------------- */

static int load_mm(const char *path, void **out, char *err, size_t errlen) {
  pmls_csr *m = NULL;
  int rc = pmls_csr_read_mm(path, NULL, &m, err, errlen);
  *out = m;
  return rc;
}

int pmls_engine_read_mm(pmls_engine *e, const char *path,
                        const pmls_csr **out, char *err, size_t errlen) {
  return pmi_engine_read_csr(e, path, load_mm, out, err, errlen);
}
