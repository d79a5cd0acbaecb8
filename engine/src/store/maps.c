/* maps.c -- the two maps of the store: row id -> row storage, and the
 * sparse row (column key -> value). Both hash with open addressing and
 * linear probing over power-of-two tables: rows and keys are only ever added
 * or cleared all at once (an oplog is emptied at each flush; server rows
 * live as long as the table), so no deletion and no tombstones are needed,
 * and a probe touches one or two cache lines. The row map has a second,
 * direct form for the rows of a declared table, whose ids are known to lie
 * in 0..rows-1: the value array indexed by id. A client looks a row up in
 * its oplog, its history and the process cache for every read and
 * increment; hashed, those lookups were a third of a cached update of a
 * 64-double row (perf, bench_views). */
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "../util/util.h"

/* ---- row map ------------------------------------------------------------- */

void pmi_rowmap_init(pmi_rowmap *m) { memset(m, 0, sizeof *m); }

void pmi_rowmap_free(pmi_rowmap *m) {
  free(m->keys);
  free(m->vals);
  free(m->present);
  memset(m, 0, sizeof *m);
}

/* Indexes of at most DIRECT_SMALL bytes are direct whatever the rows weigh;
 * none is larger than DIRECT_MAX, since rows used at random cost a page of
 * index each (4 KiB for 8 bytes): a huge table read sparsely, or a forged
 * declaration, must not turn into gigabytes of index. */
#define DIRECT_SMALL ((size_t)4 << 20)
#define DIRECT_MAX ((size_t)64 << 20)

void pmi_rowmap_direct(pmi_rowmap *m, int64_t n, size_t row_bytes) {
  if (m->direct || m->cap || n <= 0 || (uint64_t)n > DIRECT_MAX / 8) return;
  size_t index = (size_t)n * sizeof(void *);
  if (index > DIRECT_SMALL && (size_t)n * row_bytes / 4 < index) return;
  /* calloc's zero pages: an index costs the pages of the ids used. */
  void **vals = calloc((size_t)n, sizeof *vals);
  uint64_t *present = calloc(((size_t)n + 63) / 64, sizeof *present);
  if (!vals || !present) {
    free(vals);
    free(present);
    return;
  }
  m->vals = vals;
  m->present = present;
  m->direct = n;
}

void pmi_rowmap_choose(pmi_rowmap *m, const pmls_table_spec *spec) {
  /* A sparse row's weight is unknown here: its head, the least it takes. */
  size_t row_bytes = spec->layout == PMLS_DENSE
                         ? (size_t)spec->cols * pmls_dtype_size(spec->dtype)
                         : sizeof(pmi_kv);
  pmi_rowmap_direct(m, spec->rows, row_bytes);
}

static int is_present(const pmi_rowmap *m, int64_t key) {
  return (m->present[(uint64_t)key >> 6] >> ((uint64_t)key & 63)) & 1;
}

static void **direct_slot(pmi_rowmap *m, int64_t key, int *added) {
  if ((uint64_t)key >= (uint64_t)m->direct) return NULL;
  if (!is_present(m, key)) {
    if (m->count == m->cap) {
      size_t cap = m->cap ? 2 * m->cap : 64;
      int64_t *keys = realloc(m->keys, cap * sizeof *keys);
      if (!keys) return NULL;
      m->keys = keys;
      m->cap = cap;
    }
    m->keys[m->count++] = key; /* vals[key] is NULL: calloc'd or cleared */
    m->present[(uint64_t)key >> 6] |= (uint64_t)1 << ((uint64_t)key & 63);
    if (added) *added = 1;
  }
  return &m->vals[key];
}

void **pmi_rowmap_next(pmi_rowmap *m, size_t *at, int64_t *key) {
  if (m->direct) {
    if (*at >= m->count) return NULL;
    *key = m->keys[(*at)++];
    return &m->vals[*key];
  }
  while (*at < m->cap) {
    size_t i = (*at)++;
    if (m->keys[i] == PMI_ROWMAP_EMPTY) continue;
    *key = m->keys[i];
    return &m->vals[i];
  }
  return NULL;
}

/* Keys in runs of 8 (r & ~7 the same) share one hashed home and keep their
 * order after it: rows touched one after the other (a flush, a pass over a
 * table, a shard applying an OPLOG) then probe one cache line of keys and
 * one of values per 8 rows, not one each per row scattered over the table.
 * Runs still land at random, so strided or clustered ids spread as before. */
static size_t rowmap_index(int64_t key, size_t cap) {
  uint64_t k = (uint64_t)key;
  return (size_t)((pmi_mix64(k >> 3) << 3) | (k & 7)) & (cap - 1);
}

void *pmi_rowmap_hashed_get(const pmi_rowmap *m, int64_t key) {
  if (!m->cap) return NULL;
  for (size_t i = rowmap_index(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
    if (m->keys[i] == key) return m->vals[i];
    if (m->keys[i] == PMI_ROWMAP_EMPTY) return NULL;
  }
}

void **pmi_rowmap_ref(pmi_rowmap *m, int64_t key) {
  if (m->direct)
    return (uint64_t)key < (uint64_t)m->direct && is_present(m, key)
               ? &m->vals[key]
               : NULL;
  if (!m->cap) return NULL;
  for (size_t i = rowmap_index(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
    if (m->keys[i] == key) return &m->vals[i];
    if (m->keys[i] == PMI_ROWMAP_EMPTY) return NULL;
  }
}

static int rowmap_grow(pmi_rowmap *m) {
  size_t cap = m->cap ? m->cap * 2 : 16;
  int64_t *keys = malloc(cap * sizeof *keys);
  void **vals = malloc(cap * sizeof *vals);
  if (!keys || !vals) {
    free(keys);
    free(vals);
    return -1;
  }
  for (size_t i = 0; i < cap; i++) keys[i] = PMI_ROWMAP_EMPTY;
  for (size_t i = 0; i < m->cap; i++) {
    if (m->keys[i] == PMI_ROWMAP_EMPTY) continue;
    size_t j = rowmap_index(m->keys[i], cap);
    while (keys[j] != PMI_ROWMAP_EMPTY) j = (j + 1) & (cap - 1);
    keys[j] = m->keys[i];
    vals[j] = m->vals[i];
  }
  free(m->keys);
  free(m->vals);
  m->keys = keys;
  m->vals = vals;
  m->cap = cap;
  return 0;
}

int pmi_rowmap_put(pmi_rowmap *m, int64_t key, void *val) {
  if (m->direct) {
    void **slot = direct_slot(m, key, NULL);
    if (!slot) return -1;
    *slot = val;
    return 0;
  }
  if ((m->count + 1) * 4 > m->cap * 3 && rowmap_grow(m)) return -1;
  size_t i = rowmap_index(key, m->cap);
  while (m->keys[i] != PMI_ROWMAP_EMPTY && m->keys[i] != key)
    i = (i + 1) & (m->cap - 1);
  if (m->keys[i] == PMI_ROWMAP_EMPTY) m->count++;
  m->keys[i] = key;
  m->vals[i] = val;
  return 0;
}

void **pmi_rowmap_slot(pmi_rowmap *m, int64_t key, int *added) {
  if (added) *added = 0;
  if (m->direct) return direct_slot(m, key, added);
  for (;;) {
    if (m->cap) {
      size_t i = rowmap_index(key, m->cap);
      while (m->keys[i] != key && m->keys[i] != PMI_ROWMAP_EMPTY) i = (i + 1) & (m->cap - 1);
      if (m->keys[i] == key) return &m->vals[i];
      /* A present key is found without growing: a lookup never reallocates. */
      if ((m->count + 1) * 4 <= m->cap * 3) {
        m->keys[i] = key;
        m->vals[i] = NULL;
        m->count++;
        if (added) *added = 1;
        return &m->vals[i];
      }
    }
    if (rowmap_grow(m)) return NULL;
  }
}

void pmi_rowmap_clear(pmi_rowmap *m) {
  if (m->direct) {
    for (size_t i = 0; i < m->count; i++) {
      uint64_t k = (uint64_t)m->keys[i];
      m->vals[k] = NULL;
      m->present[k >> 6] &= ~((uint64_t)1 << (k & 63));
    }
    m->count = 0;
    return;
  }
  for (size_t i = 0; i < m->cap; i++) m->keys[i] = PMI_ROWMAP_EMPTY;
  m->count = 0;
}

/* ---- sparse row ---------------------------------------------------------- */

int pmi_kv_init(pmi_kv *m, pmls_dtype t) {
  memset(m, 0, sizeof *m);
  m->dtype = (uint8_t)t;
  m->elem = (uint8_t)pmls_dtype_size(t);
  return 0;
}

void pmi_kv_free(pmi_kv *m) {
  free(m->keys);
  free(m->vals);
  m->keys = NULL;
  m->vals = NULL;
  m->cap = m->count = 0;
}

void pmi_kv_clear(pmi_kv *m) {
  if (!m->cap) return;
  for (uint32_t i = 0; i < m->cap; i++) m->keys[i] = -1;
  memset(m->vals, 0, (size_t)m->cap * m->elem);
  m->count = 0;
}

static uint32_t kv_index(int32_t key, uint32_t cap) {
  return (uint32_t)(((uint32_t)key * 2654435761u) >> 7) & (cap - 1);
}

static int kv_grow(pmi_kv *m) {
  uint32_t cap = m->cap ? m->cap * 2 : 8;
  int32_t *keys = malloc((size_t)cap * sizeof *keys);
  unsigned char *vals = calloc(cap, m->elem);
  if (!keys || !vals) {
    free(keys);
    free(vals);
    return -1;
  }
  for (uint32_t i = 0; i < cap; i++) keys[i] = -1;
  for (uint32_t i = 0; i < m->cap; i++) {
    if (m->keys[i] < 0) continue;
    uint32_t j = kv_index(m->keys[i], cap);
    while (keys[j] >= 0) j = (j + 1) & (cap - 1);
    keys[j] = m->keys[i];
    memcpy(vals + (size_t)j * m->elem, m->vals + (size_t)i * m->elem, m->elem);
  }
  free(m->keys);
  free(m->vals);
  m->keys = keys;
  m->vals = vals;
  m->cap = cap;
  return 0;
}

void *pmi_kv_slot(pmi_kv *m, int32_t key) {
  if ((m->count + 1) * 4 > m->cap * 3 && kv_grow(m)) return NULL;
  uint32_t i = kv_index(key, m->cap);
  while (m->keys[i] >= 0 && m->keys[i] != key) i = (i + 1) & (m->cap - 1);
  if (m->keys[i] < 0) {
    m->keys[i] = key;
    m->count++;
  }
  return m->vals + (size_t)i * m->elem;
}

const void *pmi_kv_find(const pmi_kv *m, int32_t key) {
  if (!m->cap) return NULL;
  for (uint32_t i = kv_index(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
    if (m->keys[i] == key) return m->vals + (size_t)i * m->elem;
    if (m->keys[i] < 0) return NULL;
  }
}

/* Sorts n packed (key << 32 | slot) entries by key: insertion for a few,
 * else LSD radix over the key's four bytes (keys are >= 0, slots unique),
 * which is what a shard does for every sparse row it sends (qsort with a
 * comparator call per step was four tenths of an LDA run's time at K =
 * 1000 on sparse word rows). tmp holds n entries. */
static void sort_packed(uint64_t *a, uint64_t *tmp, int64_t n, uint32_t keybits) {
  if (n <= 48) {
    for (int64_t i = 1; i < n; i++) {
      uint64_t x = a[i];
      int64_t j = i;
      for (; j > 0 && a[j - 1] > x; j--) a[j] = a[j - 1];
      a[j] = x;
    }
    return;
  }
  for (int shift = 32; shift < 64; shift += 8) {
    if (!((keybits >> (shift - 32)) & 0xff)) continue; /* every key has this byte 0 */
    int64_t count[257] = {0};
    for (int64_t i = 0; i < n; i++) count[((a[i] >> shift) & 0xff) + 1]++;
    for (int b = 0; b < 256; b++) count[b + 1] += count[b];
    for (int64_t i = 0; i < n; i++) tmp[count[(a[i] >> shift) & 0xff]++] = a[i];
    memcpy(a, tmp, (size_t)n * sizeof *a);
  }
}

int64_t pmi_kv_export(const pmi_kv *m, int32_t *keys, void *vals, int64_t cap) {
  if (m->count == 0 || cap <= 0) return 0;
  uint64_t *all = malloc((size_t)m->count * 2 * sizeof *all);
  if (!all) return -1;
  int64_t n = 0;
  uint32_t keybits = 0;
  for (uint32_t i = 0; i < m->cap; i++)
    if (m->keys[i] >= 0) {
      all[n++] = (uint64_t)(uint32_t)m->keys[i] << 32 | i;
      keybits |= (uint32_t)m->keys[i];
    }
  /* Key order makes reads deterministic whatever the insertion history. */
  sort_packed(all, all + m->count, n, keybits);
  if (n > cap) n = cap;
  for (int64_t k = 0; k < n; k++) {
    int32_t key = (int32_t)(all[k] >> 32);
    uint32_t slot = (uint32_t)all[k];
    memcpy(keys + k, &key, sizeof key); /* keys may be unaligned */
    memcpy((unsigned char *)vals + (size_t)k * m->elem, m->vals + (size_t)slot * m->elem,
           m->elem);
  }
  free(all);
  return n;
}
