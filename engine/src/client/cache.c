/* cache.c -- the process cache. Every worker thread of a process reads rows
 * through it, so a row fetched once serves every worker whose staleness bound
 * it meets: with staleness s, most reads touch only local memory and only the
 * first reader after the bound runs out pays a round trip. A copy is replaced
 * only by a newer one, so the clocks and stamps a reader sees never go back,
 * which is what lets a client drop the increments a copy already holds.
 * Each table has a reader-writer lock: hits (the common case) share it.
 * A worker may also hold views: pointers to cached copies it reads in place
 * until its next clock(). A copy a worker may still be viewing is never
 * overwritten: a newer one takes its place in the map and the old one is
 * retired, freed once every worker that held views when it was retired has
 * released them (an epoch scheme, so a hit never takes more than the read
 * lock). A copy whose viewers have all released since is overwritten in
 * place, as one nobody viewed.
 * The cache also keeps where each local worker stood when its client
 * closed, since its stamps count that worker's messages: the worker's next
 * client (a later run) goes on from there. */
#include <stdlib.h>
#include <string.h>

#include "cache.h"

typedef struct {
  int64_t clock;
  _Atomic int64_t viewed_in; /* the latest hold it was viewed in, -1: none */
  int64_t *stamps;    /* nworkers entries, then the row data */
} entry;

/* A replaced copy that a view may still point at. */
typedef struct retired {
  struct retired *next;
  int64_t epoch; /* the cache's epoch when it was replaced */
  entry *en;
} retired;

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
  /* Views: epoch hands out tickets, to holds and retirements alike; hold[w]
   * is the ticket of worker w's hold (taken at its first view since it last
   * released; INT64_MAX when it holds none). A view in hold h comes before
   * any retirement r of that copy, so h < r: the copy is freed once every
   * hold is > r. */
  _Atomic int64_t epoch;
  _Atomic int64_t *hold;
  pthread_mutex_t retired_mu;
  retired *retired_head, *retired_tail;
};

pmi_cache *pmi_cache_new(int nworkers) {
  pmi_cache *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->nworkers = nworkers;
  c->hold = malloc((size_t)(nworkers > 0 ? nworkers : 1) * sizeof *c->hold);
  if (!c->hold) {
    free(c);
    return NULL;
  }
  for (int w = 0; w < nworkers; w++) atomic_init(&c->hold[w], INT64_MAX);
  pthread_mutex_init(&c->retired_mu, NULL);
  pthread_mutex_init(&c->positions_mu, NULL);
  for (int t = 0; t < PMI_MAX_TABLES; t++) {
    pthread_rwlock_init(&c->tables[t].lock, NULL);
    pmi_rowmap_init(&c->tables[t].rows);
  }
  return c;
}

/* Frees a table's copies and its map. */
static void free_rows(pmi_rowmap *m) {
  size_t at = 0;
  int64_t row;
  void **slot;
  while ((slot = pmi_rowmap_next(m, &at, &row))) free(*slot);
  pmi_rowmap_free(m);
}

void pmi_cache_free(pmi_cache *c) {
  if (!c) return;
  for (int t = 0; t < PMI_MAX_TABLES; t++) {
    cache_table *ct = &c->tables[t];
    free_rows(&ct->rows);
    pthread_rwlock_destroy(&ct->lock);
  }
  for (int w = 0; c->positions && w < c->nworkers; w++) free(c->positions[w].seq);
  free(c->positions);
  pthread_mutex_destroy(&c->positions_mu);
  while (c->retired_head) {
    retired *r = c->retired_head;
    c->retired_head = r->next;
    free(r->en);
    free(r);
  }
  pthread_mutex_destroy(&c->retired_mu);
  free((void *)c->hold);
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

/* Frees the retired copies no view can point at any more. */
static void reclaim(pmi_cache *c) {
  /* A copy retired after this point may be viewed by a worker whose hold
   * is taken after the loop below read it: only older ones may go. */
  int64_t lowest = atomic_load(&c->epoch);
  for (int w = 0; w < c->nworkers; w++) {
    int64_t h = atomic_load(&c->hold[w]);
    if (h < lowest) lowest = h;
  }
  pthread_mutex_lock(&c->retired_mu);
  while (c->retired_head && c->retired_head->epoch < lowest) {
    retired *r = c->retired_head;
    c->retired_head = r->next;
    if (!c->retired_head) c->retired_tail = NULL;
    free(r->en);
    free(r);
  }
  pthread_mutex_unlock(&c->retired_mu);
}

/* Whether a worker may still be viewing the copy: one whose hold is not
 * later than the latest hold the copy was viewed in. */
static int may_be_viewed(pmi_cache *c, entry *en) {
  int64_t v = atomic_load(&en->viewed_in);
  if (v < 0) return 0;
  for (int w = 0; w < c->nworkers; w++)
    if (atomic_load(&c->hold[w]) <= v) return 1;
  return 0;
}

/* A viewed copy is about to be replaced: a fresh entry takes its place in
 * the map and the old one waits on the retired list. Returns the entry to
 * fill, or NULL when out of memory (the old copy then stays, still valid). */
static entry *replace_viewed(pmi_cache *c, cache_table *ct, int64_t row,
                             entry *old, size_t stamp_bytes, size_t data_bytes) {
  entry *en = malloc(sizeof *en + stamp_bytes + data_bytes);
  retired *r = malloc(sizeof *r);
  if (!en || !r) {
    free(en);
    free(r);
    return NULL;
  }
  /* the data is about to be overwritten: only the header and stamps */
  memcpy(en, old, sizeof *en + stamp_bytes);
  en->stamps = (int64_t *)(en + 1);
  atomic_init(&en->viewed_in, -1);
  void **slot = pmi_rowmap_ref(&ct->rows, row);
  *slot = en;
  r->en = old;
  r->next = NULL;
  r->epoch = atomic_fetch_add(&c->epoch, 1);
  pthread_mutex_lock(&c->retired_mu);
  if (c->retired_tail) c->retired_tail->next = r;
  else c->retired_head = r;
  c->retired_tail = r;
  pthread_mutex_unlock(&c->retired_mu);
  return en;
}

/* Keeps the copy if it is newer; the caller holds the table's write lock.
 * Returns the row's entry (NULL when out of memory). */
static entry *put_locked(pmi_cache *c, cache_table *ct,
                         const pmls_table_spec *spec, int64_t row,
                         int64_t clock, const int64_t *stamps,
                         const void *data) {
  size_t stamp_bytes = (size_t)c->nworkers * sizeof(int64_t);
  entry *en = pmi_rowmap_get(&ct->rows, row);
  if (!en) {
    en = malloc(sizeof *en + stamp_bytes + row_bytes(spec));
    pmi_rowmap_for_table(&ct->rows, spec);
    if (en && pmi_rowmap_put(&ct->rows, row, en)) {
      free(en);
      en = NULL;
    }
    if (en) {
      en->stamps = (int64_t *)(en + 1);
      en->clock = INT64_MIN;
      atomic_init(&en->viewed_in, -1);
    }
  }
  /* Same clock: the later reply is at least as recent (more stamps). */
  if (en && clock >= en->clock) {
    int newer = 1;
    for (int w = 0; w < c->nworkers; w++) newer &= stamps[w] >= en->stamps[w];
    if ((newer || clock > en->clock) && may_be_viewed(c, en))
      en = replace_viewed(c, ct, row, en, stamp_bytes, row_bytes(spec));
    if (en && (newer || clock > en->clock)) {
      en->clock = clock;
      memcpy(en->stamps, stamps, stamp_bytes);
      memcpy(en->stamps + c->nworkers, data, row_bytes(spec));
    }
  }
  return en;
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

/* Hands out a view of en to `worker`; the caller holds the table's lock.
 * The hold is taken before the pointer leaves the lock: a replacement
 * (under the write lock) then sees it and keeps this copy. */
static const void *view_locked(pmi_cache *c, entry *en, int worker) {
  int64_t h = atomic_load(&c->hold[worker]);
  if (h == INT64_MAX) {
    h = atomic_fetch_add(&c->epoch, 1);
    atomic_store(&c->hold[worker], h);
  }
  /* viewed_in only grows: readers of one copy race under the read lock */
  int64_t seen = atomic_load(&en->viewed_in);
  while (seen < h && !atomic_compare_exchange_weak(&en->viewed_in, &seen, h)) {
  }
  return en->stamps + c->nworkers;
}

int64_t pmi_cache_view_many(pmi_cache *c, int table, int64_t n,
                            const int64_t *rows, int64_t min_clock, int worker,
                            const void **views, int64_t *clocks,
                            int64_t *stamps) {
  cache_table *ct = &c->tables[table];
  int64_t hits = 0;
  pthread_rwlock_rdlock(&ct->lock);
  for (int64_t i = 0; i < n; i++) {
    entry *en = pmi_rowmap_get(&ct->rows, rows[i]);
    views[i] = NULL;
    if (!en || en->clock < min_clock) continue;
    views[i] = view_locked(c, en, worker);
    clocks[i] = en->clock;
    stamps[i] = en->stamps[worker];
    hits++;
  }
  pthread_rwlock_unlock(&ct->lock);
  return hits;
}

void pmi_cache_put_view_many(pmi_cache *c, int table,
                             const pmls_table_spec *spec, int64_t n,
                             const int64_t *rows, int64_t clock,
                             const int64_t *stamps, const void *const *data,
                             int worker, const void **views, int64_t *clocks,
                             int64_t *stamps_out) {
  cache_table *ct = &c->tables[table];
  pthread_rwlock_wrlock(&ct->lock);
  for (int64_t i = 0; i < n; i++) {
    entry *en = put_locked(c, ct, spec, rows[i], clock, stamps, data[i]);
    views[i] = NULL;
    if (!en || en->clock < clock) continue; /* out of memory: not cached */
    views[i] = view_locked(c, en, worker);
    clocks[i] = en->clock;
    stamps_out[i] = en->stamps[worker];
  }
  pthread_rwlock_unlock(&ct->lock);
}

int pmi_cache_view(pmi_cache *c, int table, int64_t row, int64_t min_clock,
                   int worker, const void **view, int64_t *clock_out,
                   int64_t *stamp_out) {
  return (int)pmi_cache_view_many(c, table, 1, &row, min_clock, worker, view,
                                  clock_out, stamp_out);
}

void pmi_cache_drop_rows(pmi_cache *c) {
  for (int t = 0; t < PMI_MAX_TABLES; t++) {
    cache_table *ct = &c->tables[t];
    pthread_rwlock_wrlock(&ct->lock);
    /* A worker of a next run may already hold views: then they stay. */
    int held = 0;
    for (int w = 0; w < c->nworkers; w++) held |= atomic_load(&c->hold[w]) != INT64_MAX;
    if (!held) {
      free_rows(&ct->rows);
      pmi_rowmap_init(&ct->rows);
    }
    pthread_rwlock_unlock(&ct->lock);
  }
  reclaim(c);
}

void pmi_cache_release(pmi_cache *c, int worker) {
  if (worker < 0 || worker >= c->nworkers) return;
  if (atomic_load(&c->hold[worker]) == INT64_MAX) return;
  atomic_store(&c->hold[worker], INT64_MAX);
  reclaim(c);
}
