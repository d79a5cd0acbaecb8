/* store.h -- the in-memory pieces of the parameter store: typed element
 * arithmetic, a map from row ids to row storage, and the sparse row (a map
 * from int32 column keys to typed values). Servers keep rows in these; the
 * client oplog coalesces increments in the same structures. */
#ifndef PMI_STORE_H
#define PMI_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "pmls.h"

/* ---- typed element arithmetic ------------------------------------------ */

int pmi_dtype_valid(int dtype);
const char *pmi_dtype_name(int dtype);
/* dst[i] += src[i] for n elements of dtype (integers wrap like C unsigned). */
void pmi_add(pmls_dtype t, void *restrict dst, const void *restrict src,
             int64_t n);
/* out[i] = a[i] + b[i]: a copy and an add in one pass. */
void pmi_sum(pmls_dtype t, void *restrict out, const void *restrict a,
             const void *restrict b, int64_t n);
/* dst[i] += alpha * x[i], rounded to nearest for integer types. */
void pmi_add_scaled(pmls_dtype t, void *restrict dst,
                    const double *restrict x, double alpha, int64_t n);
void pmi_add_at(pmls_dtype t, void *dst, int64_t i, double delta);
void pmi_add_at_typed(pmls_dtype t, void *dst, int64_t i, const void *delta);
double pmi_get_at(pmls_dtype t, const void *src, int64_t i);
int pmi_is_zero(pmls_dtype t, const void *src, int64_t i);
/* How many of the n elements of src are not zero. */
int64_t pmi_count_nonzero(pmls_dtype t, const void *src, int64_t n);
/* 1 when one of `looks` evenly spaced elements of the n of src (the first
 * among them) is zero: whether a count may be worth its pass. */
int pmi_any_zero_of(pmls_dtype t, const void *src, int64_t n, int64_t looks);
/* Writes the nonzero elements of the n of src as (column, value) pairs,
 * the columns (int32) at keys and the values at vals, both of any
 * alignment; returns how many. */
int64_t pmi_pairs_of(pmls_dtype t, void *restrict keys, void *restrict vals,
                     const void *restrict src, int32_t n);
/* dst[col] += value for n (column, value) pairs laid out as pmi_pairs_of
 * writes them (any alignment); the columns must be within dst's row. */
void pmi_add_pairs(pmls_dtype t, void *restrict dst, const void *restrict keys,
                   const void *restrict vals, int64_t n);

/* ---- row map: int64 row id -> pointer -----------------------------------
 *
 * Two forms behind one interface. Hashed (the default): open addressing over
 * cap slots. Direct (pmi_rowmap_direct, for ids known to lie in 0..n-1, the
 * rows of a declared table): vals[id] itself, with a bit per id saying which
 * are present and the present ids listed in keys in the order they came, so
 * that a lookup is one load and a clear or a walk touches only what is
 * there. A value may be NULL; get answers NULL for it as for an absent id. */

typedef struct {
  int64_t *keys;  /* hashed: each slot's key; direct: the ids present */
  void **vals;    /* hashed: each slot's value; direct: indexed by id */
  size_t cap, count; /* hashed: cap is a power of two, empty slots hold
                      * INT64_MIN; direct: cap is the room in keys */
  int64_t direct; /* > 0: direct over ids 0..direct-1 */
  uint64_t *present; /* direct: one bit per id */
} pmi_rowmap;

void pmi_rowmap_init(pmi_rowmap *m);
void pmi_rowmap_free(pmi_rowmap *m);             /* does not free values */
/* Makes an empty map direct over ids 0..n-1 when that is worth it for rows
 * of row_bytes each (its index, 8 bytes an id and paged in as used, then
 * costs at most a quarter of the rows themselves, or little anyway, and
 * never more than 64 MiB); stays
 * hashed otherwise, or when out of memory. A map used already is left as it
 * is. Lookups of ids outside 0..n-1 find nothing; inserting one fails. */
void pmi_rowmap_direct(pmi_rowmap *m, int64_t n, size_t row_bytes);
/* pmi_rowmap_direct over the rows of a table, for a map that has never held
 * a row; called before each insertion, so the test of a map in use (every
 * increment's) is inline. */
void pmi_rowmap_choose(pmi_rowmap *m, const pmls_table_spec *spec);
static inline void pmi_rowmap_for_table(pmi_rowmap *m,
                                        const pmls_table_spec *spec) {
  if (!m->direct && !m->cap) pmi_rowmap_choose(m, spec);
}
void *pmi_rowmap_hashed_get(const pmi_rowmap *m, int64_t key);
static inline void *pmi_rowmap_get(const pmi_rowmap *m, int64_t key) {
  if (m->direct > 0)
    return (uint64_t)key < (uint64_t)m->direct ? m->vals[key] : NULL;
  return pmi_rowmap_hashed_get(m, key);
}
/* The value slot of key, to update in place; NULL when absent. */
void **pmi_rowmap_ref(pmi_rowmap *m, int64_t key);
int pmi_rowmap_put(pmi_rowmap *m, int64_t key, void *val); /* 0 or -1 */
/* The value slot of key, made (holding NULL) when absent, in one probe;
 * *added (when added is not NULL) says which. NULL when out of memory. The
 * slot is valid until the next insertion. */
void **pmi_rowmap_slot(pmi_rowmap *m, int64_t key, int *added);
void pmi_rowmap_clear(pmi_rowmap *m);
/* Walks the present ids, giving each one's value slot: `size_t at = 0;
 * while ((slot = pmi_rowmap_next(m, &at, &key)))`. No insertion meanwhile. */
void **pmi_rowmap_next(pmi_rowmap *m, size_t *at, int64_t *key);
#define PMI_ROWMAP_EMPTY INT64_MIN

/* ---- sparse row: int32 key -> typed value -------------------------------- */

typedef struct {
  int32_t *keys;          /* empty slots hold -1 (column keys are >= 0) */
  unsigned char *vals;    /* cap * elem bytes */
  uint32_t cap, count;
  uint8_t dtype, elem;
} pmi_kv;

int pmi_kv_init(pmi_kv *m, pmls_dtype t);
void pmi_kv_free(pmi_kv *m);
void pmi_kv_clear(pmi_kv *m);
/* Slot for key, created (zero) if absent; NULL when out of memory. */
void *pmi_kv_slot(pmi_kv *m, int32_t key);
const void *pmi_kv_find(const pmi_kv *m, int32_t key);
/* Writes up to cap (key, value) pairs in key order; returns the count, or
 * -1 when out of memory. */
int64_t pmi_kv_export(const pmi_kv *m, int32_t *keys, void *vals, int64_t cap);

/* ---- row initialisation -------------------------------------------------- */

/* Fills a dense row per the table's init rule, reproducibly from the seed,
 * table id and row id (so the row does not depend on which server owns it). */
void pmi_row_init(const pmls_table_spec *spec, uint64_t seed, int table,
                  int64_t row, void *dst);

#endif
