/* cache.c -- the process cache. Every worker thread of a process reads rows
 * through it, so a row fetched once serves every worker whose staleness bound
 * it meets: with staleness s, most reads touch only local memory and only the
 * first reader after the bound runs out pays a round trip. A copy is replaced
 * only by a newer one, so the clocks and stamps a reader sees never go back,
 * which is what lets a client drop the increments a copy already holds.
 * Each table has a reader-writer lock: hits (the common case) share it.
 * The cache also keeps where each local worker stood when its client
 * closed, since its stamps count that worker's messages: the worker's next
 * client (a later run) goes on from there. */
#include <stdlib.h>
#include <string.h>

#include "cache.h"

typedef struct {
  int64_t clock;
  int64_t *stamps; /* nworkers entries, then the row data */
} entry;

typedef struct {
  pthread_rwlock_t lock;
  pmi_rowmap rows;
  int used;
} cache_table;

typedef struct {
  int saved;
  int64_t clock;
  int64_t *seq; /* per shard */
} position;

struct pmi_cache {
  int nworkers;
  cache_table tables[PMI_MAX_TABLES];
  pthread_mutex_t positions_mu;
  position *positions; /* per local worker, made at the first save */
};

pmi_cache *pmi_cache_new(int nworkers) {
  pmi_cache *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->nworkers = nworkers;
  pthread_mutex_init(&c->positions_mu, NULL);
  for (int t = 0; t < PMI_MAX_TABLES; t++) {
    pthread_rwlock_init(&c->tables[t].lock, NULL);
    pmi_rowmap_init(&c->tables[t].rows);
  }
  return c;
}

void pmi_cache_free(pmi_cache *c) {
  if (!c) return;
  for (int t = 0; t < PMI_MAX_TABLES; t++) {
    cache_table *ct = &c->tables[t];
    for (size_t i = 0; i < ct->rows.cap; i++)
      if (ct->rows.keys[i] != PMI_ROWMAP_EMPTY) free(ct->rows.vals[i]);
    pmi_rowmap_free(&ct->rows);
    pthread_rwlock_destroy(&ct->lock);
  }
  for (int w = 0; c->positions && w < c->nworkers; w++) free(c->positions[w].seq);
  free(c->positions);
  pthread_mutex_destroy(&c->positions_mu);
  free(c);
}

int pmi_cache_save_position(pmi_cache *c, int worker, int64_t clock,
                            int nshards, const int64_t *seq) {
  if (worker < 0 || worker >= c->nworkers) return -1;
  int rc = 0;
  pthread_mutex_lock(&c->positions_mu);
  if (!c->positions) c->positions = calloc((size_t)c->nworkers, sizeof *c->positions);
  position *p = c->positions ? &c->positions[worker] : NULL;
  if (p && !p->seq) p->seq = malloc((size_t)nshards * sizeof *p->seq);
  if (p && p->seq) {
    p->saved = 1;
    p->clock = clock;
    memcpy(p->seq, seq, (size_t)nshards * sizeof *seq);
  } else {
    rc = -1;
  }
  pthread_mutex_unlock(&c->positions_mu);
  return rc;
}

int pmi_cache_position(pmi_cache *c, int worker, int64_t *clock, int nshards,
                       int64_t *seq) {
  if (worker < 0 || worker >= c->nworkers) return 0;
  int found = 0;
  pthread_mutex_lock(&c->positions_mu);
  if (c->positions && c->positions[worker].saved) {
    *clock = c->positions[worker].clock;
    memcpy(seq, c->positions[worker].seq, (size_t)nshards * sizeof *seq);
    found = 1;
  }
  pthread_mutex_unlock(&c->positions_mu);
  return found;
}

static size_t row_bytes(const pmls_table_spec *spec) {
  return (size_t)spec->cols * pmls_dtype_size(spec->dtype);
}

int pmi_cache_get(pmi_cache *c, int table, const pmls_table_spec *spec,
                  int64_t row, int64_t min_clock, int worker, const void *plus,
                  void *out, int64_t *clock_out, int64_t *stamp_out) {
  cache_table *ct = &c->tables[table];
  int hit = 0;
  pthread_rwlock_rdlock(&ct->lock);
  entry *en = pmi_rowmap_get(&ct->rows, row);
  if (en && en->clock >= min_clock) {
    if (plus)
      pmi_sum(spec->dtype, out, en->stamps + c->nworkers, plus, spec->cols);
    else
      memcpy(out, en->stamps + c->nworkers, row_bytes(spec));
    *clock_out = en->clock;
    *stamp_out = en->stamps[worker];
    hit = 1;
  }
  pthread_rwlock_unlock(&ct->lock);
  return hit;
}

/* Keeps the copy if it is newer; the caller holds the table's write lock. */
static void put_locked(pmi_cache *c, cache_table *ct, const pmls_table_spec *spec,
                       int64_t row, int64_t clock, const int64_t *stamps,
                       const void *data) {
  size_t stamp_bytes = (size_t)c->nworkers * sizeof(int64_t);
  entry *en = pmi_rowmap_get(&ct->rows, row);
  if (!en) {
    en = malloc(sizeof *en + stamp_bytes + row_bytes(spec));
    if (en && pmi_rowmap_put(&ct->rows, row, en)) {
      free(en);
      en = NULL;
    }
    if (en) {
      en->stamps = (int64_t *)(en + 1);
      en->clock = INT64_MIN;
    }
  }
  /* Same clock: the later reply is at least as recent (more stamps). */
  if (en && clock >= en->clock) {
    int newer = 1;
    for (int w = 0; w < c->nworkers; w++) newer &= stamps[w] >= en->stamps[w];
    if (newer || clock > en->clock) {
      en->clock = clock;
      memcpy(en->stamps, stamps, stamp_bytes);
      memcpy(en->stamps + c->nworkers, data, row_bytes(spec));
    }
  }
}

void pmi_cache_put(pmi_cache *c, int table, const pmls_table_spec *spec,
                   int64_t row, int64_t clock, const int64_t *stamps,
                   const void *data) {
  cache_table *ct = &c->tables[table];
  pthread_rwlock_wrlock(&ct->lock);
  put_locked(c, ct, spec, row, clock, stamps, data);
  pthread_rwlock_unlock(&ct->lock);
}

void pmi_cache_put_many(pmi_cache *c, int table, const pmls_table_spec *spec,
                        int64_t n, const int64_t *rows, int64_t clock,
                        const int64_t *stamps, const void *const *data) {
  cache_table *ct = &c->tables[table];
  pthread_rwlock_wrlock(&ct->lock);
  for (int64_t i = 0; i < n; i++)
    put_locked(c, ct, spec, rows[i], clock, stamps, data[i]);
  pthread_rwlock_unlock(&ct->lock);
}
