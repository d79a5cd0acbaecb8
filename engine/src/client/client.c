/* client.c -- the handle a thread uses to read and increment rows.
 *
 * Increments are coalesced per row in the client's oplog (commutative adds,
 * so order does not matter) and leave in batches: at clock(), or earlier
 * when the oplog grows past a size bound. clock() sends the oplog to every
 * shard and then a CLOCK message on the same pipes, so a shard always holds a
 * worker's increments before the clock that closes them; that ordering is
 * what lets a shard stamp a row copy with the global clock.
 *
 * A read asks the owning shard for the row at a minimum clock (the worker's
 * clock minus the table's staleness) and adds the client's own increments
 * still waiting in the oplog, so a worker always sees its own updates.
 * The oplog is per client (not per process) on purpose: if another thread
 * flushed this worker's increments, they could reach a shard after this
 * worker's CLOCK and the copy's clock would be a lie. */
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "client.h"
#include "../metrics/metrics.h"

#define OPLOG_FLUSH_BYTES (8u << 20)
#define BATCH_BYTES (4u << 20)
#define MAX_REPORTS 64
/* Async tables have no read bound, but a worker keeps its sent increments
 * only this many clocks; a copy older than that is refetched. */
#define ASYNC_HORIZON 64

typedef struct hist_entry {
  struct hist_entry *next;
  int64_t seq;      /* the OPLOG message (to the row's shard) that carried it */
  int64_t interval; /* the clock interval the increments were made in */
  void *delta;      /* dense bytes, or a pmi_kv for sparse tables */
} hist_entry;

typedef struct {
  char name[PMI_NAME_MAX];
  double value;
} report;

typedef struct {
  void **items;
  int n, cap;
} spare_list;

#define SPARE_BYTES_MAX (32u << 20)

struct pmls_client {
  pmls_engine *e;
  int id, worker;
  int64_t clock;
  int64_t first_clock; /* where this client started: a later run's worker
                          goes on from its last client's clock */
  int pull;
  int *push; /* per shard */
  char addr[PMI_ADDR_MAX];
  uint32_t next_req;
  pmi_rowmap oplog[PMI_MAX_TABLES];
  size_t oplog_bytes;
  /* Increments already sent, per row, newest first, until a copy that holds
   * them is read or the staleness bound guarantees every copy does. */
  pmi_rowmap hist[PMI_MAX_TABLES];
  int64_t *shard_seq;   /* OPLOG messages sent to each shard */
  int64_t *stamps;      /* scratch for a reply's stamps */
  pmi_table_acc *acc;   /* per-table statistics, merged into the engine */
  int64_t last_copy_clock; /* of the last successful read, -1 before */
  int64_t clock_reads;  /* reads in the current clock, for the progress line */
  double clock_staleness;
  pmi_buf out;
  pmi_buf *batch; /* per shard, OPLOG messages being filled */
  report reports[MAX_REPORTS];
  int nreports;
  pmi_kv scratch; /* merges sparse rows on read */
  /* Delta buffers and history records come back here when dropped and are
   * reused, so a clock's oplog does not cost a malloc and fresh pages per
   * row. */
  spare_list spare[PMI_MAX_TABLES];
  size_t spare_bytes;
  hist_entry *free_hist;
  pmi_traffic traffic;
  int64_t rows_read, rows_inc;
  int failed; /* a shard refused increments: the run cannot be trusted */
  int saw_abort; /* a call failed because the run was aborted elsewhere */
  char err[PMI_ERRLEN];
};

pmls_engine *pmi_client_engine(pmls_client *c) { return c->e; }
char *pmi_client_errbuf(pmls_client *c) { return c->err; }

/* ---- argument checks: errors name the argument and its bad value --------- */

static const pmi_table_meta *table_of(pmls_client *c, int table) {
  int n = pmi_engine_ntables(c->e);
  if (table < 0 || table >= n) {
    pmi_fail(c->err, PMLS_EINVAL, "bad table id %d (%d table%s declared)",
             table, n, n == 1 ? "" : "s");
    return NULL;
  }
  return &c->e->tables[table];
}

/* PMLS_OK with the table in *out, or the code of what is wrong: a bad
 * table id (PMLS_EINVAL) or a row outside the table (PMLS_ERANGE). */
static int check_row(pmls_client *c, int table, int64_t row,
                     const pmi_table_meta **out) {
  const pmi_table_meta *t = *out = table_of(c, table);
  if (!t) return PMLS_EINVAL;
  if (row < 0 || row >= t->spec.rows)
    return pmi_fail(c->err, PMLS_ERANGE, "row %lld out of range for table "
                    "'%s' (rows 0..%lld)", (long long)row, t->name,
                    (long long)t->spec.rows - 1);
  return PMLS_OK;
}

static int check_col(pmls_client *c, const pmi_table_meta *t, int64_t col) {
  if (col < 0 || col >= t->spec.cols)
    return pmi_fail(c->err, PMLS_ERANGE, "column %lld out of range for table "
                    "'%s' (cols 0..%d)", (long long)col, t->name,
                    t->spec.cols - 1);
  return PMLS_OK;
}

static int consistency_of(const pmls_client *c, const pmi_table_meta *t) {
  return t->spec.consistency >= 0 ? t->spec.consistency : c->e->cfg.consistency;
}

/* How many clocks old a copy a read waits for may be. */
static int64_t bound_of(const pmls_client *c, const pmi_table_meta *t) {
  int consistency = consistency_of(c, t);
  if (consistency == PMLS_BSP) return 0;
  if (consistency == PMLS_ASYNC) return ASYNC_HORIZON;
  return t->spec.staleness >= 0 ? t->spec.staleness : c->e->cfg.staleness;
}

/* How many clocks old a cached copy may be before a read refreshes it.
 * Async reads do not wait (up to the horizon) but still refresh once per
 * clock, or a worker would never see the others' progress. */
static int64_t cache_bound_of(const pmls_client *c, const pmi_table_meta *t) {
  int64_t b = bound_of(c, t);
  return consistency_of(c, t) == PMLS_ASYNC ? 1 : b;
}

static size_t row_bytes_of(const pmi_table_meta *t) {
  return (size_t)t->spec.cols * pmls_dtype_size(t->spec.dtype);
}

/* A delta is done with: a dense one is kept for reuse (up to a bound). */
static void drop_delta(pmls_client *c, int table, const pmi_table_meta *t,
                       void *delta) {
  if (t->spec.layout == PMLS_SPARSE) {
    pmi_kv_free(delta);
    free(delta);
    return;
  }
  spare_list *l = &c->spare[table];
  size_t bytes = row_bytes_of(t);
  if (c->spare_bytes + bytes <= SPARE_BYTES_MAX) {
    if (l->n == l->cap) {
      int cap = l->cap ? 2 * l->cap : 64;
      void **p = realloc(l->items, (size_t)cap * sizeof *p);
      if (p) {
        l->items = p;
        l->cap = cap;
      }
    }
    if (l->n < l->cap) {
      l->items[l->n++] = delta;
      c->spare_bytes += bytes;
      return;
    }
  }
  free(delta);
}

static hist_entry *hist_new(pmls_client *c) {
  hist_entry *h = c->free_hist;
  if (h) {
    c->free_hist = h->next;
    return h;
  }
  return malloc(sizeof *h);
}

static void hist_release(pmls_client *c, hist_entry *h) {
  h->next = c->free_hist;
  c->free_hist = h;
}

/* ---- sending ------------------------------------------------------------- */

/* The run is over because some node failed: the caller's failure is an
 * echo of that one, which the run's root-cause policy must know. */
static int aborted_error(pmls_client *c) {
  c->saw_abort = 1;
  return pmi_proc_dead_error(c->e, c->err);
}

static int send_shard(pmls_client *c, int shard, pmi_buf *b) {
  pmls_engine *e = c->e;
  char peer[48];
  snprintf(peer, sizeof peer, "server %d", shard);
  int rc = atomic_load(&e->dead)
               ? PMLS_EABORTED
               : pmi_msg_send_until(c->push[shard], b, &c->traffic, peer,
                                    c->err, e->cfg.timeout_ms, &e->dead);
  /* A send cut short by the job's death reports the death, its cause. */
  if (rc != PMLS_OK && atomic_load(&e->dead))
    return aborted_error(c);
  return rc;
}

/* Handles an ERR that arrived on its own (req 0): a shard refused increments
 * or a message. Returns the error code to surface. */
static int take_async_error(pmls_client *c, pmi_rd *rd) {
  pmi_get_u32(rd);
  int code = pmi_get_i32(rd);
  char msg[PMI_ERRLEN];
  pmi_get_str(rd, msg, sizeof msg);
  c->failed = 1;
  if (code == PMLS_EABORTED) c->saw_abort = 1;
  return pmi_fail(c->err, code ? code : PMLS_EPROTO, "%s", msg);
}

/* Waits for the reply to `req` (a ROW or ACK). The returned message is the
 * caller's to free. */
static int await(pmls_client *c, uint32_t req, int want, const char *what,
                 void **msg_out, pmi_rd *rd_out) {
  double deadline = pmi_now() + c->e->cfg.timeout_ms / 1000.0;
  for (;;) {
    void *msg;
    size_t len;
    /* Wait at most the time left, so a timeout is honoured to the ms, and
     * in slices, so a job that died (a peer that will never answer) ends
     * the wait with that cause. */
    if (atomic_load(&c->e->dead))
      return aborted_error(c);
    int left_ms = (int)((deadline - pmi_now()) * 1000.0) + 1;
    if (left_ms < 1) left_ms = 1;
    if (left_ms > 200) left_ms = 200;
    pmi_sock_set_rcvtimeo(c->pull, left_ms);
    int rc = pmi_msg_recv(c->pull, &msg, &len, &c->traffic, c->err);
    if (rc == PMLS_ETIMEDOUT) {
      if (pmi_now() < deadline) continue;
      return pmi_fail(c->err, PMLS_ETIMEDOUT, "timed out after %d ms waiting "
                      "for %s: a peer is dead or too slow (see --timeout)",
                      c->e->cfg.timeout_ms, what);
    }
    if (rc != PMLS_OK) return rc;
    pmi_hdr h;
    pmi_rd rd;
    rc = pmi_msg_open(msg, len, c->e->job, &h, &rd, c->err);
    if (rc != PMLS_OK) {
      pmi_msg_free(msg);
      return rc;
    }
    if (h.type == PMI_MSG_ERR) {
      pmi_rd peek = rd;
      uint32_t r = pmi_get_u32(&peek);
      if (r == 0 || r == req) {
        rc = take_async_error(c, &rd);
        if (r == req) c->failed = 0; /* a failed read is the caller's error */
        pmi_msg_free(msg);
        return rc;
      }
    } else if (h.type == want) {
      pmi_rd peek = rd;
      if (want == PMI_MSG_ACK || pmi_get_u32(&peek) == req) {
        *msg_out = msg;
        *rd_out = rd;
        return PMLS_OK;
      }
    }
    pmi_msg_free(msg); /* a stale reply to an abandoned request */
  }
}

/* ---- the oplog ----------------------------------------------------------- */

/* An oplog entry of a dense table carries a tag in its pointer's low bit
 * (buffers are at least 8-byte aligned): set when the row got (column,
 * delta) pairs since the last flush. Only such rows are scanned for the
 * cheaper encoding; the rest, incremented whole, go out whole unscanned. */
#define OPLOG_PAIRS ((uintptr_t)1)

static void *oplog_data(void *entry) {
  return (void *)((uintptr_t)entry & ~OPLOG_PAIRS);
}

/* The slot of the row's oplog entry, made (zeroed) when missing. */
static void **oplog_row(pmls_client *c, int table, const pmi_table_meta *t,
                        int64_t row) {
  pmi_rowmap *m = &c->oplog[table];
  void **slot = pmi_rowmap_ref(m, row);
  if (slot) return slot;
  void *p;
  size_t bytes;
  if (t->spec.layout == PMLS_SPARSE) {
    bytes = sizeof(pmi_kv);
    pmi_kv *kv = malloc(bytes);
    if (kv) pmi_kv_init(kv, t->spec.dtype);
    p = kv;
  } else {
    bytes = row_bytes_of(t);
    spare_list *l = &c->spare[table];
    if (l->n > 0) {
      p = l->items[--l->n];
      c->spare_bytes -= bytes;
      memset(p, 0, bytes);
    } else {
      p = calloc(1, bytes);
    }
  }
  if (!p || pmi_rowmap_put(m, row, p)) {
    free(p);
    pmi_fail(c->err, PMLS_ENOMEM, "out of memory for the oplog");
    return NULL;
  }
  c->oplog_bytes += bytes + 16;
  return pmi_rowmap_ref(m, row);
}

/* Appends one row's delta to the shard's batch, as the whole row or as
 * (column, value) pairs, whichever is smaller on the wire. */
static int batch_row(pmls_client *c, int table, const pmi_table_meta *t,
                     int64_t row, void *entry) {
  void *delta = oplog_data(entry);
  int shard = pmi_shard_of(c->e, table, row);
  pmi_buf *b = &c->batch[shard];
  size_t elem = pmls_dtype_size(t->spec.dtype);
  if (b->len == 0) {
    pmi_msg_begin(b, c->e->job, PMI_MSG_OPLOG, c->id);
    pmi_put_i64(b, c->shard_seq[shard] + 1);
  }
  size_t start = b->len;
  hist_entry *h = hist_new(c);
  if (!h) return pmi_fail(c->err, PMLS_ENOMEM, "out of memory for the oplog");
  h->seq = c->shard_seq[shard] + 1;
  h->interval = c->clock;
  h->delta = delta;
  h->next = pmi_rowmap_get(&c->hist[table], row);
  if (pmi_rowmap_put(&c->hist[table], row, h)) {
    hist_release(c, h);
    return pmi_fail(c->err, PMLS_ENOMEM, "out of memory for the oplog");
  }
  int64_t n = 0;
  if (t->spec.layout == PMLS_SPARSE) {
    n = ((pmi_kv *)delta)->count;
  } else if (!((uintptr_t)entry & OPLOG_PAIRS)) {
    n = t->spec.cols; /* whole-row increments only: send the whole row */
  } else {
    for (int32_t j = 0; j < t->spec.cols; j++)
      n += !pmi_is_zero(t->spec.dtype, delta, j);
  }
  int dense = t->spec.layout == PMLS_DENSE &&
              (size_t)n * (4 + elem) >= (size_t)t->spec.cols * elem;
  int rc = 0;
  rc |= pmi_put_i32(b, table);
  rc |= pmi_put_i64(b, row);
  rc |= pmi_put_u8(b, dense ? 0 : 1);
  if (dense) {
    rc |= pmi_put_i32(b, t->spec.cols);
    rc |= pmi_put_bytes(b, delta, (size_t)t->spec.cols * elem);
  } else if (t->spec.layout == PMLS_SPARSE) {
    pmi_kv *kv = delta;
    rc |= pmi_put_i32(b, (int32_t)n);
    if (pmi_buf_reserve(b, (size_t)n * (4 + elem))) return PMLS_ENOMEM;
    int32_t *keys = (int32_t *)(b->data + b->len);
    unsigned char *vals = b->data + b->len + (size_t)n * 4;
    pmi_kv_export(kv, keys, vals, n);
    b->len += (size_t)n * (4 + elem);
  } else {
    rc |= pmi_put_i32(b, (int32_t)n);
    if (pmi_buf_reserve(b, (size_t)n * (4 + elem))) return PMLS_ENOMEM;
    int32_t *keys = (int32_t *)(b->data + b->len);
    unsigned char *vals = b->data + b->len + (size_t)n * 4;
    int64_t k = 0;
    for (int32_t j = 0; j < t->spec.cols; j++) {
      if (pmi_is_zero(t->spec.dtype, delta, j)) continue;
      memcpy(keys + k, &j, 4);
      memcpy(vals + (size_t)k * elem, (unsigned char *)delta + (size_t)j * elem,
             elem);
      k++;
    }
    b->len += (size_t)n * (4 + elem);
  }
  if (rc) return pmi_fail(c->err, PMLS_ENOMEM, "out of memory for a batch");
  c->acc[table].bytes_sent += (int64_t)(b->len - start);
  if (b->len >= BATCH_BYTES) {
    rc = send_shard(c, shard, b);
    b->len = 0;
    c->shard_seq[shard]++;
    if (rc) return rc;
  }
  return PMLS_OK;
}

static int oplog_flush(pmls_client *c) {
  int rc = PMLS_OK;
  int ntables = pmi_engine_ntables(c->e);
  for (int t = 0; t < ntables; t++) {
    pmi_rowmap *m = &c->oplog[t];
    const pmi_table_meta *meta = &c->e->tables[t];
    for (size_t i = 0; i < m->cap; i++) {
      if (m->keys[i] == PMI_ROWMAP_EMPTY) continue;
      /* On success the delta moves into the history. */
      if (rc == PMLS_OK) rc = batch_row(c, t, meta, m->keys[i], m->vals[i]);
      else drop_delta(c, t, meta, oplog_data(m->vals[i]));
    }
    pmi_rowmap_clear(m);
  }
  c->oplog_bytes = 0;
  for (int s = 0; s < c->e->servers; s++) {
    if (c->batch[s].len == 0) continue;
    int r = send_shard(c, s, &c->batch[s]);
    c->batch[s].len = 0;
    c->shard_seq[s]++;
    if (rc == PMLS_OK) rc = r;
  }
  return rc;
}

static int maybe_flush(pmls_client *c) {
  return c->oplog_bytes >= OPLOG_FLUSH_BYTES ? oplog_flush(c) : PMLS_OK;
}

/* Drops the sent increments of `table` that every copy a read may still use
 * holds: those made before clock interval `before`, or carried by an OPLOG
 * message up to `upto_seq` (for one row, when the map has one entry). */
static void hist_drop(pmls_client *c, int table, int64_t before, int64_t upto_seq) {
  pmi_rowmap *m = &c->hist[table];
  if (!m->cap) return;
  const pmi_table_meta *t = &c->e->tables[table];
  for (size_t i = 0; i < m->cap; i++) {
    if (m->keys[i] == PMI_ROWMAP_EMPTY) continue;
    hist_entry **link = (hist_entry **)&m->vals[i];
    while (*link) {
      hist_entry *h = *link;
      if (h->interval < before || h->seq <= upto_seq) {
        *link = h->next;
        drop_delta(c, table, t, h->delta);
        hist_release(c, h);
      } else {
        link = &h->next;
      }
    }
  }
}

/* For one row read from a copy holding this client's OPLOG messages up to
 * `stamp`: forgets what the copy holds and adds the rest into out (dense) or
 * merged (sparse). The copy and every later one hold the forgotten part. */
static int hist_apply(pmls_client *c, int table, const pmi_table_meta *t,
                      int64_t row, int64_t stamp, void *out, pmi_kv *merged) {
  void **slot = pmi_rowmap_ref(&c->hist[table], row);
  if (!slot) return PMLS_OK;
  size_t elem = pmls_dtype_size(t->spec.dtype);
  hist_entry **link = (hist_entry **)slot;
  while (*link) {
    hist_entry *h = *link;
    if (h->seq <= stamp) {
      *link = h->next;
      drop_delta(c, table, t, h->delta);
      hist_release(c, h);
      continue;
    }
    if (t->spec.layout == PMLS_DENSE) {
      pmi_add(t->spec.dtype, out, h->delta, t->spec.cols);
    } else {
      pmi_kv *kv = h->delta;
      for (uint32_t k = 0; k < kv->cap; k++) {
        if (kv->keys[k] < 0) continue;
        void *v = pmi_kv_slot(merged, kv->keys[k]);
        if (!v) return pmi_fail(c->err, PMLS_ENOMEM, "out of memory reading a row");
        pmi_add(t->spec.dtype, v, kv->vals + (size_t)k * elem, 1);
      }
    }
    link = &h->next;
  }
  return PMLS_OK;
}

static void record_staleness(pmls_client *c, int table, int64_t copy_clock) {
  c->last_copy_clock = copy_clock;
  if (c->worker < 0) return;
  int64_t st = c->clock - copy_clock;
  if (st < 0) st = 0;
  pmi_table_acc *a = &c->acc[table];
  a->stale_n++;
  a->stale_sum += (double)st;
  a->stale_sumsq += (double)st * (double)st;
  if (st > a->stale_max) a->stale_max = st;
  a->stale_hist[st < 16 ? st : 16]++;
  c->clock_reads++;
  c->clock_staleness += (double)st;
}

/* ---- open and close ------------------------------------------------------ */

int pmls_client_open(pmls_engine *e, int worker, pmls_client **out) {
  *out = NULL;
  int local = worker - e->first_worker;
  if (worker < -1 || (worker >= 0 && (local < 0 || local >= e->local_workers)))
    return pmi_fail(e->err, PMLS_EINVAL, "bad worker %d (this process has "
                    "workers %d..%d, or -1 for a host client)", worker,
                    e->first_worker, e->first_worker + e->local_workers - 1);
  pthread_mutex_lock(&e->mu);
  int id, rejoin = 0, before = 0;
  if (worker >= 0) {
    before = e->worker_taken[local];
    if (before == 1 || before == 3) {
      pthread_mutex_unlock(&e->mu);
      /* A closed worker's clocks are final on the servers: a client that
       * started again at clock 0 would break the read bound. */
      return pmi_fail(e->err, before == 1 ? PMLS_EINVAL : PMLS_ESTATE,
                      before == 1 ? "worker %d already has a client"
                                  : "worker %d has already run in this engine "
                                    "and where it stood was lost (clocks "
                                    "cannot restart)", worker);
    }
    /* A worker that ran before (an earlier script run) rejoins: it goes on
     * from the clock its last client ended at (see below). */
    rejoin = before == 2;
    if (rejoin && e->procs > 1) {
      pthread_mutex_unlock(&e->mu);
      /* the end-of-run protocol between the processes is one per engine */
      return pmi_fail(e->err, PMLS_ESTATE, "worker %d has already run: a job "
                      "of several processes runs one script", worker);
    }
    e->worker_taken[local] = 1;
    id = worker;
  } else {
    /* Host clients of different processes interleave: ids stay unique
     * across the job without asking anyone. */
    id = e->workers + e->next_host_id++ * e->procs + e->rank;
  }
  pthread_mutex_unlock(&e->mu);

  pmls_client *c = calloc(1, sizeof *c);
  int rc = PMLS_ENOMEM;
  if (!c) goto fail;
  c->e = e;
  c->id = id;
  c->worker = worker;
  c->pull = -1;
  c->next_req = 1;
  c->last_copy_clock = -1;
  c->push = malloc((size_t)e->servers * sizeof *c->push);
  c->batch = calloc((size_t)e->servers, sizeof *c->batch);
  c->shard_seq = calloc((size_t)e->servers, sizeof *c->shard_seq);
  c->stamps = calloc((size_t)e->local_workers + 1, sizeof *c->stamps);
  c->acc = calloc(PMI_MAX_TABLES, sizeof *c->acc);
  if (!c->push || !c->batch || !c->shard_seq || !c->stamps || !c->acc) goto fail;
  for (int s = 0; s < e->servers; s++) c->push[s] = -1;
  if (rejoin && !pmi_cache_position(e->cache, local, &c->clock, e->servers,
                                    c->shard_seq)) {
    rc = pmi_fail(e->err, PMLS_ESTATE, "worker %d: where it stood is lost", worker);
    goto fail;
  }
  c->first_clock = c->clock;
  pmi_kv_init(&c->scratch, PMLS_F64);
  char name[32];
  snprintf(name, sizeof name, "c%d", id);
  rc = PMLS_ENET;
  c->pull = pmi_proc_bind(e, name, 500, c->addr, e->err);
  if (c->pull < 0) goto fail;
  for (int s = 0; s < e->servers; s++) {
    c->push[s] = pmi_sock_push(e->server_addr[s],
                               pmi_send_slice(e->cfg.timeout_ms), e->err);
    if (c->push[s] < 0) goto fail;
    pmi_msg_begin(&c->out, e->job, PMI_MSG_HELLO, id);
    pmi_put_str(&c->out, c->addr);
    pmi_put_i32(&c->out, e->rank);
    pmi_put_i32(&c->out, e->first_worker);
    pmi_put_i32(&c->out, e->local_workers);
    pmi_put_str(&c->out, e->feed_addr);
    rc = send_shard(c, s, &c->out);
    if (rc) {
      snprintf(e->err, sizeof e->err, "%s", c->err);
      goto fail;
    }
  }
  /* A rejoining worker holds the others back again from its HELLO on; a
   * WAIT that every shard answers after it proves each has taken it, so no
   * worker of the new run gets ahead before this one is counted. */
  for (int s = 0; rejoin && s < e->servers && rc == PMLS_OK; s++) {
    pmi_msg_begin(&c->out, e->job, PMI_MSG_WAIT, id);
    pmi_put_i64(&c->out, 0);
    rc = send_shard(c, s, &c->out);
  }
  for (int s = 0; rejoin && s < e->servers && rc == PMLS_OK; s++) {
    void *msg;
    pmi_rd rd;
    rc = await(c, 0, PMI_MSG_ACK, "the servers to take a worker back", &msg, &rd);
    if (rc == PMLS_OK) pmi_msg_free(msg);
  }
  if (rc) {
    snprintf(e->err, sizeof e->err, "%s", c->err);
    goto fail;
  }
  pmi_proc_add_client(e, id, c->addr);
  *out = c;
  return PMLS_OK;
fail:
  if (rc == PMLS_ENOMEM) pmi_fail(e->err, rc, "out of memory for a client");
  if (c) {
    for (int s = 0; c->push && s < e->servers; s++) pmi_sock_close(c->push[s]);
    pmi_sock_close(c->pull);
    free(c->push);
    free(c->batch);
    free(c->shard_seq);
    free(c->stamps);
    free(c->acc);
    pmi_buf_free(&c->out);
    free(c);
  }
  if (worker >= 0) {
    pthread_mutex_lock(&e->mu);
    e->worker_taken[local] = (unsigned char)before;
    pthread_mutex_unlock(&e->mu);
  }
  return rc;
}

int pmls_client_close(pmls_client *c) {
  if (!c) return PMLS_OK;
  pmls_engine *e = c->e;
  pmi_proc_remove_client(e, c->id);
  int rc = atomic_load(&e->dead) ? PMLS_OK : oplog_flush(c);
  /* BYE is acknowledged by every shard, so when close returns every increment
   * of this client has been applied (nanomsg cannot be trusted to deliver
   * what is still queued when a socket closes). */
  for (int s = 0; s < e->servers && rc == PMLS_OK; s++) {
    pmi_msg_begin(&c->out, e->job, PMI_MSG_BYE, c->id);
    rc = send_shard(c, s, &c->out);
  }
  for (int s = 0; s < e->servers && rc == PMLS_OK; s++) {
    void *msg;
    pmi_rd rd;
    rc = await(c, 0, PMI_MSG_ACK, "the servers to acknowledge close", &msg, &rd);
    if (rc == PMLS_OK) pmi_msg_free(msg);
  }
  if (rc == PMLS_OK && c->failed) rc = PMLS_EINVAL;
  if (rc == PMLS_OK && atomic_load(&e->dead))
    rc = aborted_error(c);
  for (int s = 0; s < e->servers; s++) pmi_sock_close(c->push[s]);
  pmi_sock_close(c->pull);
  pthread_mutex_lock(&e->mu);
  e->closed_traffic.messages_sent += c->traffic.messages_sent;
  e->closed_traffic.bytes_sent += c->traffic.bytes_sent;
  e->closed_traffic.messages_received += c->traffic.messages_received;
  e->closed_traffic.bytes_received += c->traffic.bytes_received;
  e->closed_rows_read += c->rows_read;
  e->closed_rows_inc += c->rows_inc;
  for (int t = 0; t < PMI_MAX_TABLES; t++)
    pmi_table_acc_merge(&e->table_acc[t], &c->acc[t]);
  if (c->worker >= 0) {
    int local = c->worker - e->first_worker;
    /* ran: a later client of this worker rejoins (see open), unless its
     * position is lost; then it is refused, as clocks cannot restart */
    e->worker_taken[local] =
        pmi_cache_save_position(e->cache, local, c->clock, e->servers,
                                c->shard_seq) ? 3 : 2;
  }
  if (rc != PMLS_OK) snprintf(e->err, sizeof e->err, "%s", c->err);
  pthread_mutex_unlock(&e->mu);
  for (int t = 0; t < PMI_MAX_TABLES; t++) {
    pmi_rowmap *m = &c->oplog[t];
    for (size_t i = 0; i < m->cap; i++) /* left unsent only when the job died */
      if (m->keys[i] != PMI_ROWMAP_EMPTY)
        drop_delta(c, t, &e->tables[t], oplog_data(m->vals[i]));
    pmi_rowmap_free(m);
    hist_drop(c, t, INT64_MAX, INT64_MAX);
    pmi_rowmap_free(&c->hist[t]);
    for (int i = 0; i < c->spare[t].n; i++) free(c->spare[t].items[i]);
    free(c->spare[t].items);
  }
  while (c->free_hist) {
    hist_entry *h = c->free_hist;
    c->free_hist = h->next;
    free(h);
  }
  for (int s = 0; s < e->servers; s++) pmi_buf_free(&c->batch[s]);
  free(c->batch);
  free(c->shard_seq);
  free(c->stamps);
  free(c->acc);
  free(c->push);
  pmi_kv_free(&c->scratch);
  pmi_buf_free(&c->out);
  free(c);
  return rc;
}

const char *pmls_client_errmsg(const pmls_client *c) { return c->err; }
int pmls_client_worker(const pmls_client *c) { return c->worker; }
int pmi_client_saw_abort(const pmls_client *c) { return c->saw_abort; }
int64_t pmls_client_clock(const pmls_client *c) {
  return c->clock - c->first_clock;
}
int64_t pmls_client_last_copy_clock(const pmls_client *c) {
  return c->last_copy_clock < 0 ? -1 : c->last_copy_clock - c->first_clock;
}

/* ---- reads --------------------------------------------------------------- */

/* Asks the row's shard for a copy at min_clock or later. On success the
 * reader is positioned at the row data; *copy_clock and *stamp (this
 * client's OPLOG messages the copy holds) are filled, and c->stamps holds
 * the stamps of the process's workers when `for_cache`. */
static int fetch(pmls_client *c, int table, const pmi_table_meta *t,
                 int64_t row, int64_t min_clock, int for_cache, void **msg,
                 pmi_rd *rd, int64_t *copy_clock, int64_t *stamp) {
  int shard = pmi_shard_of(c->e, table, row);
  uint32_t req = c->next_req++;
  if (c->next_req == 0) c->next_req = 1;
  int32_t nstamps = for_cache ? c->e->local_workers : 0;
  pmi_msg_begin(&c->out, c->e->job, PMI_MSG_GET, c->id);
  pmi_put_u32(&c->out, req);
  pmi_put_i32(&c->out, table);
  pmi_put_i64(&c->out, row);
  pmi_put_i64(&c->out, min_clock);
  pmi_put_i32(&c->out, c->e->first_worker);
  pmi_put_i32(&c->out, nstamps);
  int rc = send_shard(c, shard, &c->out);
  if (rc) return rc;
  char what[160];
  snprintf(what, sizeof what, "server %d (row %lld of table '%s' at clock "
           ">= %lld)", shard, (long long)row, t->name, (long long)min_clock);
  rc = await(c, req, PMI_MSG_ROW, what, msg, rd);
  if (rc) return rc;
  size_t total = rd->len;
  pmi_get_u32(rd);
  int rt = pmi_get_i32(rd);
  int64_t rr = pmi_get_i64(rd);
  *copy_clock = pmi_get_i64(rd);
  *stamp = pmi_get_i64(rd);
  int32_t n = pmi_get_i32(rd);
  for (int32_t i = 0; i < n && i < nstamps; i++) c->stamps[i] = pmi_get_i64(rd);
  if (rd->bad || rt != table || rr != row || n != nstamps) {
    pmi_msg_free(*msg);
    return pmi_fail(c->err, PMLS_EPROTO, "malformed ROW reply from server %d",
                    shard);
  }
  c->acc[table].bytes_received += (int64_t)total;
  return PMLS_OK;
}

int pmls_get_dense(pmls_client *c, int table, int64_t row, void *out) {
  const pmi_table_meta *t;
  int bad = check_row(c, table, row, &t);
  if (bad) return bad;
  if (t->spec.layout != PMLS_DENSE)
    return pmi_fail(c->err, PMLS_EINVAL, "table '%s' is sparse: read it with "
                    "get_sparse", t->name);
  int worker = c->worker >= 0;
  int64_t min_clock = worker ? c->clock - bound_of(c, t) : 0;
  int64_t cache_min = worker ? c->clock - cache_bound_of(c, t) : 0;
  int64_t copy_clock, stamp;
  /* Workers share the process cache; a host client always asks the shard,
   * since it has no clock to bound how old a copy may be. When none of this
   * worker's sent increments wait to be added back, its unsent ones are
   * added while copying (one pass; the same sum in the same order). */
  void *own = oplog_data(pmi_rowmap_get(&c->oplog[table], row));
  const void *plus = own && !pmi_rowmap_get(&c->hist[table], row) ? own : NULL;
  int hit = worker && pmi_cache_get(c->e->cache, table, &t->spec, row,
                                    cache_min, c->worker - c->e->first_worker,
                                    plus, out, &copy_clock, &stamp);
  if (hit) {
    c->acc[table].cache_hits++;
  } else {
    void *msg;
    pmi_rd rd;
    int rc = fetch(c, table, t, row, min_clock, worker, &msg, &rd, &copy_clock,
                   &stamp);
    if (rc) return rc;
    size_t bytes = (size_t)t->spec.cols * pmls_dtype_size(t->spec.dtype);
    const void *p = pmi_get_bytes(&rd, bytes);
    if (!p) {
      pmi_msg_free(msg);
      return pmi_fail(c->err, PMLS_EPROTO, "truncated ROW reply for row %lld "
                      "of table '%s'", (long long)row, t->name);
    }
    memcpy(out, p, bytes);
    pmi_msg_free(msg);
    if (worker)
      pmi_cache_put(c->e->cache, table, &t->spec, row, copy_clock, c->stamps,
                    out);
  }
  c->rows_read++;
  c->acc[table].reads++;
  record_staleness(c, table, copy_clock);
  if (hit && plus) return PMLS_OK; /* own increments already added */
  int rc = hist_apply(c, table, t, row, stamp, out, NULL);
  if (rc) return rc;
  if (own) pmi_add(t->spec.dtype, out, own, t->spec.cols);
  return PMLS_OK;
}

int pmls_get_sparse(pmls_client *c, int table, int64_t row, int32_t *keys,
                    void *vals, int64_t cap, int64_t *n_out) {
  *n_out = 0;
  const pmi_table_meta *t;
  int bad = check_row(c, table, row, &t);
  if (bad) return bad;
  if (t->spec.layout != PMLS_SPARSE)
    return pmi_fail(c->err, PMLS_EINVAL, "table '%s' is dense: read it with "
                    "get_dense", t->name);
  if (cap < 0)
    return pmi_fail(c->err, PMLS_EINVAL, "bad capacity %lld", (long long)cap);
  /* Sparse rows are not cached yet: every read asks the shard. */
  int64_t min_clock = c->worker >= 0 ? c->clock - bound_of(c, t) : 0;
  int64_t copy_clock, stamp;
  void *msg;
  pmi_rd rd;
  int rc = fetch(c, table, t, row, min_clock, 0, &msg, &rd, &copy_clock, &stamp);
  if (rc) return rc;
  c->rows_read++;
  c->acc[table].reads++;
  size_t elem = pmls_dtype_size(t->spec.dtype);
  int64_t n = pmi_get_i64(&rd);
  const int32_t *k = n >= 0 ? pmi_get_bytes(&rd, (size_t)n * 4) : NULL;
  const unsigned char *v = n >= 0 ? pmi_get_bytes(&rd, (size_t)n * elem) : NULL;
  if (!k || !v) {
    pmi_msg_free(msg);
    return pmi_fail(c->err, PMLS_EPROTO, "truncated ROW reply for row %lld of "
                    "table '%s'", (long long)row, t->name);
  }
  pmi_kv *merged = &c->scratch;
  if (merged->dtype != t->spec.dtype) {
    pmi_kv_free(merged);
    pmi_kv_init(merged, t->spec.dtype);
  } else {
    pmi_kv_clear(merged);
  }
  for (int64_t i = 0; i < n; i++) {
    int32_t key;
    memcpy(&key, k + i, 4);
    void *slot = pmi_kv_slot(merged, key);
    if (!slot) {
      pmi_msg_free(msg);
      return pmi_fail(c->err, PMLS_ENOMEM, "out of memory reading a row");
    }
    pmi_add(t->spec.dtype, slot, v + (size_t)i * elem, 1);
  }
  pmi_msg_free(msg);
  record_staleness(c, table, copy_clock);
  rc = hist_apply(c, table, t, row, stamp, NULL, merged);
  if (rc) return rc;
  pmi_kv *own = pmi_rowmap_get(&c->oplog[table], row);
  for (uint32_t i = 0; own && i < own->cap; i++) {
    if (own->keys[i] < 0) continue;
    void *slot = pmi_kv_slot(merged, own->keys[i]);
    if (!slot) return pmi_fail(c->err, PMLS_ENOMEM, "out of memory reading a row");
    pmi_add(t->spec.dtype, slot, own->vals + (size_t)i * elem, 1);
  }
  if ((int64_t)merged->count > cap)
    return pmi_fail(c->err, PMLS_EINVAL, "row %lld of table '%s' has %u keys, "
                    "more than the capacity %lld given", (long long)row,
                    t->name, merged->count, (long long)cap);
  *n_out = pmi_kv_export(merged, keys, vals, cap);
  return PMLS_OK;
}

/* ---- increments ---------------------------------------------------------- */

/* Every increment call ends here: count it, flush if the oplog is full. */
static int counted(pmls_client *c, int table) {
  c->rows_inc++;
  c->acc[table].increments++;
  return maybe_flush(c);
}

int pmls_inc_dense(pmls_client *c, int table, int64_t row, const void *delta) {
  const pmi_table_meta *t;
  int bad = check_row(c, table, row, &t);
  if (bad) return bad;
  if (t->spec.layout != PMLS_DENSE)
    return pmi_fail(c->err, PMLS_EINVAL, "table '%s' is sparse: increment it "
                    "with (column, delta) pairs", t->name);
  void **slot = oplog_row(c, table, t, row);
  if (!slot) return PMLS_ENOMEM;
  pmi_add(t->spec.dtype, oplog_data(*slot), delta, t->spec.cols);
  return counted(c, table);
}

int pmls_inc_scaled(pmls_client *c, int table, int64_t row, const double *x,
                    double alpha) {
  const pmi_table_meta *t;
  int bad = check_row(c, table, row, &t);
  if (bad) return bad;
  if (t->spec.layout != PMLS_DENSE)
    return pmi_fail(c->err, PMLS_EINVAL, "table '%s' is sparse: inc_scaled "
                    "needs a dense table", t->name);
  void **slot = oplog_row(c, table, t, row);
  if (!slot) return PMLS_ENOMEM;
  pmi_add_scaled(t->spec.dtype, oplog_data(*slot), x, alpha, t->spec.cols);
  return counted(c, table);
}

/* Adds already-checked (column, delta) pairs to the row's oplog entry. */
static int add_pairs(pmls_client *c, int table, const pmi_table_meta *t,
                     int64_t row, int64_t n, const int32_t *cols,
                     const void *deltas) {
  void **entry = oplog_row(c, table, t, row);
  if (!entry) return PMLS_ENOMEM;
  void *p = oplog_data(*entry);
  if (t->spec.layout == PMLS_DENSE) *entry = (void *)((uintptr_t)p | OPLOG_PAIRS);
  size_t elem = pmls_dtype_size(t->spec.dtype);
  const unsigned char *d = deltas;
  for (int64_t i = 0; i < n; i++) {
    if (t->spec.layout == PMLS_DENSE) {
      pmi_add_at_typed(t->spec.dtype, p, cols[i], d + (size_t)i * elem);
    } else {
      pmi_kv *kv = p;
      uint32_t before = kv->cap;
      void *slot = pmi_kv_slot(kv, cols[i]);
      if (!slot) return pmi_fail(c->err, PMLS_ENOMEM, "out of memory for the oplog");
      c->oplog_bytes += (size_t)(kv->cap - before) * (4 + elem);
      pmi_add(t->spec.dtype, slot, d + (size_t)i * elem, 1);
    }
  }
  return counted(c, table);
}

int pmls_inc_pairs(pmls_client *c, int table, int64_t row, int64_t n,
                   const int32_t *cols, const void *deltas) {
  const pmi_table_meta *t;
  int bad = check_row(c, table, row, &t);
  if (bad) return bad;
  if (n < 0)
    return pmi_fail(c->err, PMLS_EINVAL, "bad pair count %lld", (long long)n);
  for (int64_t i = 0; i < n; i++)
    if (check_col(c, t, cols[i])) return PMLS_ERANGE;
  return add_pairs(c, table, t, row, n, cols, deltas);
}

int pmls_inc_one(pmls_client *c, int table, int64_t row, int32_t col,
                 double delta) {
  const pmi_table_meta *t;
  int bad = check_row(c, table, row, &t);
  if (bad) return bad;
  if (check_col(c, t, col)) return PMLS_ERANGE;
  _Alignas(8) unsigned char typed[8];
  memset(typed, 0, sizeof typed);
  pmi_add_at(t->spec.dtype, typed, 0, delta);
  return add_pairs(c, table, t, row, 1, &col, typed);
}

/* ---- first values -------------------------------------------------------- */

/* The row takes `values` only if nothing has reached it yet, so every
 * process's setup may give the same first values and the first to arrive
 * counts, never overwriting what a worker already added. This client's own
 * increments go out first: a row it incremented is not untouched. The
 * shard does not answer; close (BYE) waits until it has applied it. */
int pmls_init_dense(pmls_client *c, int table, int64_t row, const void *values) {
  const pmi_table_meta *t;
  int bad = check_row(c, table, row, &t);
  if (bad) return bad;
  if (t->spec.layout != PMLS_DENSE)
    return pmi_fail(c->err, PMLS_EINVAL, "table '%s' is sparse: init gives "
                    "dense rows their first values", t->name);
  if (!values) return pmi_fail(c->err, PMLS_EINVAL, "missing values");
  int rc = c->oplog_bytes ? oplog_flush(c) : PMLS_OK;
  if (rc) return rc;
  int shard = pmi_shard_of(c->e, table, row);
  pmi_msg_begin(&c->out, c->e->job, PMI_MSG_INIT, c->id);
  pmi_put_i32(&c->out, table);
  pmi_put_i64(&c->out, row);
  if (pmi_put_bytes(&c->out, values, row_bytes_of(t)))
    return pmi_fail(c->err, PMLS_ENOMEM, "out of memory for a message");
  return send_shard(c, shard, &c->out);
}

/* ---- clocks, reports, abort ---------------------------------------------- */

int pmls_report(pmls_client *c, const char *name, double value) {
  size_t len = name ? strlen(name) : 0;
  int ok = len > 0 && len < PMI_NAME_MAX;
  for (size_t i = 0; ok && i < len; i++) {
    char ch = name[i];
    ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.';
  }
  /* Names go into the metrics JSON as keys, so they are kept to a safe set. */
  if (!ok)
    return pmi_fail(c->err, PMLS_EINVAL, "bad metric name '%s' (1..%d letters, "
                    "digits, '_', '-' or '.')", name ? name : "", PMI_NAME_MAX - 1);
  if (c->worker < 0) {
    pmi_metrics_set_final(c->e->metrics, name, value); /* has its own lock */
    return PMLS_OK;
  }
  for (int i = 0; i < c->nreports; i++) {
    if (strcmp(c->reports[i].name, name) == 0) {
      c->reports[i].value = value; /* the last value of a clock counts */
      return PMLS_OK;
    }
  }
  if (c->nreports == MAX_REPORTS)
    return pmi_fail(c->err, PMLS_EINVAL, "too many metrics in one clock "
                    "(at most %d)", MAX_REPORTS);
  snprintf(c->reports[c->nreports].name, PMI_NAME_MAX, "%s", name);
  c->reports[c->nreports++].value = value;
  return PMLS_OK;
}

int pmls_clock(pmls_client *c) {
  if (c->worker < 0)
    return pmi_fail(c->err, PMLS_ESTATE, "a host client does not take part "
                    "in clocks");
  if (c->failed) return PMLS_EINVAL;
  int rc = oplog_flush(c);
  if (rc) return rc;
  c->clock++;
  if (c->clock_reads > 0) {
    int have = 0;
    for (int i = 0; i < c->nreports; i++)
      have |= strcmp(c->reports[i].name, "staleness") == 0;
    if (!have) pmls_report(c, "staleness", c->clock_staleness / (double)c->clock_reads);
  }
  c->clock_reads = 0;
  c->clock_staleness = 0;
  int ntables = pmi_engine_ntables(c->e);
  for (int t = 0; t < ntables; t++)
    hist_drop(c, t, c->clock - bound_of(c, &c->e->tables[t]), INT64_MIN);
  for (int s = 0; s < c->e->servers; s++) {
    pmi_msg_begin(&c->out, c->e->job, PMI_MSG_CLOCK, c->id);
    pmi_put_i64(&c->out, c->clock);
    int nrep = s == 0 ? c->nreports : 0;
    pmi_put_u32(&c->out, (uint32_t)nrep);
    for (int i = 0; i < nrep; i++) {
      pmi_put_str(&c->out, c->reports[i].name);
      pmi_put_f64(&c->out, c->reports[i].value);
    }
    rc = send_shard(c, s, &c->out);
    if (rc) return rc;
  }
  c->nreports = 0;
  return PMLS_OK;
}

int pmls_barrier(pmls_client *c) {
  int rc = pmls_clock(c);
  if (rc) return rc;
  /* Every shard must have seen every worker's CLOCK before any read after
   * the barrier, whichever shard it asks: each answers when it has. */
  for (int s = 0; s < c->e->servers && rc == PMLS_OK; s++) {
    pmi_msg_begin(&c->out, c->e->job, PMI_MSG_WAIT, c->id);
    pmi_put_i64(&c->out, c->clock);
    rc = send_shard(c, s, &c->out);
  }
  for (int s = 0; s < c->e->servers && rc == PMLS_OK; s++) {
    void *msg;
    pmi_rd rd;
    rc = await(c, 0, PMI_MSG_ACK, "the other workers at a barrier", &msg, &rd);
    if (rc == PMLS_OK) pmi_msg_free(msg);
  }
  return rc;
}

int pmls_abort(pmls_client *c, const char *why) {
  int rc = PMLS_OK;
  if (atomic_load(&c->e->dead)) return PMLS_OK; /* already over */
  for (int s = 0; s < c->e->servers; s++) {
    pmi_msg_begin(&c->out, c->e->job, PMI_MSG_ABORT, c->id);
    pmi_put_str(&c->out, why ? why : "aborted");
    int r = send_shard(c, s, &c->out);
    if (rc == PMLS_OK) rc = r;
  }
  return rc;
}


/* ---- control ------------------------------------------------------------- */

int pmi_client_declare_table(pmls_client *c, int id, const pmi_table_meta *t) {
  for (int s = 0; s < c->e->servers; s++) {
    pmi_msg_begin(&c->out, c->e->job, PMI_MSG_TABLE, c->id);
    pmi_put_i32(&c->out, id);
    pmi_put_i64(&c->out, t->spec.rows);
    pmi_put_i32(&c->out, t->spec.cols);
    pmi_put_i32(&c->out, (int32_t)t->spec.dtype);
    pmi_put_i32(&c->out, (int32_t)t->spec.layout);
    pmi_put_i32(&c->out, t->spec.staleness);
    pmi_put_i32(&c->out, t->spec.init);
    pmi_put_f64(&c->out, t->spec.init_scale);
    pmi_put_i32(&c->out, t->spec.consistency);
    pmi_put_str(&c->out, t->name);
    int rc = send_shard(c, s, &c->out);
    if (rc) return rc;
  }
  /* Every shard answers: take every answer, so none is left behind to be
   * mistaken for the answer to a later request; report the first error. */
  int first = PMLS_OK;
  char why[PMI_ERRLEN];
  for (int s = 0; s < c->e->servers; s++) {
    void *msg;
    pmi_rd rd;
    int rc = await(c, 0, PMI_MSG_ACK, "a table declaration", &msg, &rd);
    if (rc == PMLS_OK) pmi_msg_free(msg);
    else if (first == PMLS_OK) {
      first = rc;
      snprintf(why, sizeof why, "%s", c->err);
    }
    if (rc == PMLS_ETIMEDOUT || rc == PMLS_ENET) break;
  }
  if (first) snprintf(c->err, sizeof c->err, "%s", why);
  return first;
}
