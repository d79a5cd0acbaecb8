/* views.c -- a client's hot path over many rows: batched reads, row views
 * and pointers to pending increments.
 *
 * A clock's working set is read in one GETS request per shard instead of a
 * round trip per row (pmls_get_many copies it out; pmls_view_many hands out
 * pointers). A view is the process cache's own copy of the row, read in
 * place: no copy, and no hash lookup after the first, until the worker's
 * next clock(), which releases it (the cache never overwrites a viewed copy,
 * cache.c). A copy that lacks some of this client's sent increments cannot
 * be shown as it is, so such a row is copied into the client's view arena
 * with them added, or read again from its shard when the history kept only
 * their version: views always hold every increment this client sent.
 * What it has not sent yet is the row's pending increment, which
 * pmls_delta_* hands out as a writable pointer into the oplog: the row as
 * this worker sees it is view + delta, and an update is written into the
 * delta in place. While delta pointers are out the oplog is not flushed
 * before clock(), so they stay valid. */
#include "client_state.h"

/* ---- the view arena ------------------------------------------------------ */

#define ARENA_CHUNK (1u << 20)

/* Room for bytes (8-byte aligned) until the next release. */
static void *arena_take(pmls_client *c, size_t bytes) {
  view_arena *a = &c->arena;
  bytes = (bytes + 7) & ~(size_t)7;
  while (a->cur < a->n) {
    arena_chunk *ch = &a->chunks[a->cur];
    if (ch->size - ch->used >= bytes) {
      void *p = ch->data + ch->used;
      ch->used += bytes;
      return p;
    }
    a->cur++;
  }
  if (a->n == a->cap) {
    int cap = a->cap ? 2 * a->cap : 8;
    arena_chunk *p = realloc(a->chunks, (size_t)cap * sizeof *p);
    if (!p) return NULL;
    a->chunks = p;
    a->cap = cap;
  }
  size_t size = bytes > ARENA_CHUNK ? bytes : ARENA_CHUNK;
  unsigned char *data = malloc(size);
  if (!data) return NULL;
  a->chunks[a->n] = (arena_chunk){data, size, bytes};
  a->cur = a->n++;
  return data;
}

void pmi_views_release(pmls_client *c) {
  view_arena *a = &c->arena;
  for (int i = 0; i < a->n; i++) a->chunks[i].used = 0;
  a->cur = 0;
  if (c->worker >= 0) pmi_cache_release(c->e->cache, c->worker - c->e->first_worker);
}

void pmi_views_free(pmls_client *c) {
  pmi_views_release(c);
  for (int i = 0; i < c->arena.n; i++) free(c->arena.chunks[i].data);
  free(c->arena.chunks);
  free(c->many.shard_of);
  free(c->many.order);
  free(c->many.start);
  free(c->many.received);
  free(c->many.views);
  free(c->many.clocks);
  free(c->many.stamp_of);
  free(c->many.ids);
  free((void *)c->many.data);
  free(c->sparse.keys);
  free(c->sparse.vals);
  free(c->sparse.at);
  free(c->sparse.n);
  memset(&c->arena, 0, sizeof c->arena);
  memset(&c->many, 0, sizeof c->many);
  memset(&c->sparse, 0, sizeof c->sparse);
}

void pmls_release_views(pmls_client *c) { pmi_views_release(c); }

/* ---- batched reads ------------------------------------------------------- */

/* What a many-row read does with each row once it has a copy of it. */
typedef enum { AS_COPY, AS_VIEW } read_kind;


/* Hands row i its copy `data` (clock, stamp): a copy into out (with every
 * increment of this client, sent or not; data may already be that row of
 * out) or a view (with the sent ones). `pinned` is NOT_PINNED, or for the
 * cache's own copy what pmi_hist_check said of it (the caller has asked
 * already): a pinned copy is shown as it is when it lacks none of them. */
enum { NOT_PINNED = -1 };
static int deliver(pmls_client *c, int table, const pmi_table_meta *t,
                   read_kind kind, int64_t i, int64_t row, const void *data,
                   int64_t clock, int64_t stamp, int pinned, void *out,
                   const void **views) {
  size_t bytes = row_bytes_of(t);
  c->rows_read++;
  c->acc[table].reads++;
  pmi_client_record_staleness(c, table, clock);
  if (kind == AS_VIEW) {
    if (pinned == HIST_NONE) {
      views[i] = data;
      return PMLS_OK;
    }
    void *copy = arena_take(c, bytes);
    if (!copy) return pmi_fail(c->err, PMLS_ENOMEM, "out of memory for a view");
    memcpy(copy, data, bytes);
    views[i] = copy;
    return pmi_hist_apply(c, table, t, row, stamp, copy, NULL);
  }
  void *dst = (unsigned char *)out + (size_t)i * bytes;
  if (dst != data) memcpy(dst, data, bytes);
  int rc = pmi_hist_apply(c, table, t, row, stamp, dst, NULL);
  if (rc) return rc;
  void *own = pmi_oplog_data(pmi_rowmap_get(&c->oplog[table], row));
  if (own) pmi_add(t->spec.dtype, dst, own, t->spec.cols);
  return PMLS_OK;
}

/* Parses one ROWS reply of shard s, a piece of its answer for the rows
 * idx[0..count) asked of it: caches the copies and delivers them. Returns
 * the rows it carried in *got. A malformed reply is found before anything
 * of it is used: *malformed is then set, with the error. */
static int take_reply(pmls_client *c, int table, const pmi_table_meta *t,
                      read_kind kind, const int64_t *rows, const int64_t *idx,
                      int64_t count, int shard, pmi_rd *rd, void *out,
                      const void **views, int64_t *got, int *malformed) {
  *malformed = 1;
  int worker = c->worker >= 0;
  int32_t nstamps = worker ? c->e->local_workers : 0;
  size_t bytes = row_bytes_of(t);
  pmi_get_u32(rd);
  int rt = pmi_get_i32(rd);
  int64_t clock = pmi_get_i64(rd);
  int64_t stamp = pmi_get_i64(rd);
  int32_t n = pmi_get_i32(rd);
  for (int32_t j = 0; j < n && j < nstamps; j++) c->stamps[j] = pmi_get_i64(rd);
  int64_t at = pmi_get_i64(rd), nrows = pmi_get_i64(rd);
  if (rd->bad || rt != table || n != nstamps || at < 0 || nrows < 1 ||
      nrows > count - at)
    return pmi_fail(c->err, PMLS_EPROTO, "malformed ROWS reply from server %d",
                    shard);
  if ((size_t)nrows > pmi_rd_left(rd) / (8 + bytes))
    return pmi_fail(c->err, PMLS_EPROTO, "malformed ROWS reply from server "
                    "%d (%lld rows in %zu bytes)", shard, (long long)nrows,
                    pmi_rd_left(rd));
  *got = nrows;
  many_scratch *m = &c->many;
  if (pmi_grow((void **)&m->ids, &m->cap_ids, nrows, sizeof *m->ids) ||
      pmi_grow((void **)&m->data, &m->cap_data, nrows, sizeof *m->data)) {
    *malformed = 0;
    return pmi_fail(c->err, PMLS_ENOMEM, "out of memory for a many-row read");
  }
  for (int64_t k = 0; k < nrows; k++) {
    int64_t i = idx[at + k];
    m->ids[k] = pmi_get_i64(rd);
    m->data[k] = pmi_get_bytes(rd, bytes);
    if (!m->data[k] || m->ids[k] != rows[i])
      return pmi_fail(c->err, PMLS_EPROTO, "malformed ROWS reply from server "
                      "%d (row %lld where %lld was asked)", shard,
                      (long long)m->ids[k], (long long)rows[i]);
  }
  if (pmi_rd_left(rd) != 0)
    return pmi_fail(c->err, PMLS_EPROTO, "malformed ROWS reply from server "
                    "%d (%zu bytes past its rows)", shard, pmi_rd_left(rd));
  *malformed = 0;
  c->acc[table].bytes_received += (int64_t)rd->len;
  int local = c->worker - c->e->first_worker;
  /* Workers cache the copies (a view is of whatever the cache holds then,
   * at least as recent as the reply), all under one lock. */
  if (worker && kind == AS_VIEW)
    pmi_cache_put_view_many(c->e->cache, table, &t->spec, nrows, m->ids, clock,
                            c->stamps, m->data, local, m->views, m->clocks,
                            m->stamp_of);
  else if (worker)
    pmi_cache_put_many(c->e->cache, table, &t->spec, nrows, m->ids, clock,
                       c->stamps, m->data);
  for (int64_t k = 0; k < nrows; k++) {
    int64_t i = idx[at + k];
    int pinned = worker && kind == AS_VIEW && m->views[k];
    int rc = pinned ? deliver(c, table, t, kind, i, m->ids[k], m->views[k],
                              m->clocks[k], m->stamp_of[k],
                              pmi_hist_check(c, table, t, m->ids[k], m->stamp_of[k]),
                              out, views)
                    : deliver(c, table, t, kind, i, m->ids[k], m->data[k],
                              clock, stamp, NOT_PINNED, out, views);
    if (rc) return rc;
  }
  return PMLS_OK;
}

typedef struct {
  int table;
  const pmi_table_meta *t;
  read_kind kind;
  const int64_t *rows;
  void *out;
  const void **views;
} view_piece_args;

static int take_view_piece(pmls_client *c, void *arg, int shard,
                           const int64_t *order, int64_t count, pmi_rd *rd,
                           int64_t *got, int *malformed) {
  view_piece_args *a = arg;
  return take_reply(c, a->table, a->t, a->kind, a->rows, order, count, shard, rd,
                    a->out, a->views, got, malformed);
}

/* The batched read behind get_many and view_many: cache hits first, then
 * one GETS per shard for the rest, all sent before any reply is awaited. */
static int read_many(pmls_client *c, int table, int64_t n, const int64_t *rows,
                     read_kind kind, void *out, const void **views) {
  const pmi_table_meta *t = table_of(c, table);
  if (!t) return PMLS_EINVAL;
  if (n < 0) return pmi_fail(c->err, PMLS_EINVAL, "bad row count %lld", (long long)n);
  if (t->spec.layout != PMLS_DENSE)
    return pmi_fail(c->err, PMLS_EINVAL, "table '%s' is sparse: many-row reads "
                    "and views are for dense tables", t->name);
  for (int64_t i = 0; i < n; i++) {
    const pmi_table_meta *same;
    int bad = check_row(c, table, rows[i], &same);
    if (bad) return bad;
  }
  int worker = c->worker >= 0;
  int local = c->worker - c->e->first_worker;
  int64_t min_clock = worker ? c->clock - bound_of(c, t) : 0;
  int64_t cache_min = worker ? c->clock - cache_bound_of(c, t) : 0;
  int servers = c->e->servers;
  many_scratch *m = &c->many;
  if (pmi_grow((void **)&m->shard_of, &m->cap_rows, n, sizeof *m->shard_of) ||
      pmi_grow((void **)&m->order, &m->cap_order, n, sizeof *m->order) ||
      pmi_grow((void **)&m->start, &m->cap_start, servers + 1, sizeof *m->start) ||
      pmi_grow((void **)&m->received, &m->cap_received, servers, sizeof *m->received) ||
      pmi_grow((void **)&m->views, &m->cap_views, n, sizeof *m->views) ||
      pmi_grow((void **)&m->clocks, &m->cap_clocks, n, sizeof *m->clocks) ||
      pmi_grow((void **)&m->stamp_of, &m->cap_stamp_of, n, sizeof *m->stamp_of))
    return pmi_fail(c->err, PMLS_ENOMEM, "out of memory for a many-row read");
  for (int s = 0; s <= servers; s++) m->start[s] = 0;
  if (worker && kind == AS_VIEW)
    pmi_cache_view_many(c->e->cache, table, n, rows, cache_min, local, m->views,
                        m->clocks, m->stamp_of);
  int64_t misses = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t row = rows[i];
    int hit = 0;
    if (worker && kind == AS_VIEW) {
      int verdict = m->views[i] ? pmi_hist_check(c, table, t, row, m->stamp_of[i])
                                : HIST_REFRESH;
      hit = verdict != HIST_REFRESH;
      if (hit) {
        int rc = deliver(c, table, t, kind, i, row, m->views[i], m->clocks[i],
                         m->stamp_of[i], verdict, out, views);
        if (rc) return rc;
      }
    } else if (worker) {
      void *dst = (unsigned char *)out + (size_t)i * row_bytes_of(t);
      int64_t clock, stamp;
      hit = pmi_cache_get(c->e->cache, table, &t->spec, row, cache_min, local,
                          NULL, dst, &clock, &stamp) &&
            pmi_hist_check(c, table, t, row, stamp) != HIST_REFRESH;
      if (hit) {
        int rc = deliver(c, table, t, kind, i, row, dst, clock, stamp, NOT_PINNED,
                         out, views);
        if (rc) return rc;
      }
    }
    if (hit) {
      c->acc[table].cache_hits++;
      m->shard_of[i] = -1;
      continue;
    }
    int s = pmi_shard_of(c->e, table, row);
    m->shard_of[i] = s;
    m->start[s + 1]++;
    misses++;
  }
  if (misses == 0) return PMLS_OK;
  /* The misses grouped by shard, in the order asked (a counting sort). */
  for (int s = 0; s < servers; s++) m->start[s + 1] += m->start[s];
  for (int64_t i = 0; i < n; i++)
    if (m->shard_of[i] >= 0) m->order[m->start[m->shard_of[i]]++] = i;
  for (int s = servers; s > 0; s--) m->start[s] = m->start[s - 1];
  m->start[0] = 0;
  view_piece_args a = {table, t, kind, rows, out, views};
  return pmi_gets_many(c, table, t, rows, misses, min_clock,
                       worker ? c->e->local_workers : 0, take_view_piece, &a);
}

/* Sends one GETS per shard for its rows order[start[s] .. start[s + 1])
 * and hands every ROWS piece that comes back to take(), each shard's in
 * the order sent, until `total` rows have come; a piece that is not the
 * next of its shard, or that take() finds malformed, is dropped (counted)
 * and the wait goes on. */
int pmi_gets_many(pmls_client *c, int table, const pmi_table_meta *t,
                  const int64_t *rows, int64_t total, int64_t min_clock,
                  int32_t nstamps, piece_fn take, void *arg) {
  many_scratch *m = &c->many;
  int servers = c->e->servers;
  /* One request id per shard, none of them 0 (the id of unasked errors):
   * a span that would wrap starts again from 1. */
  if (c->next_req == 0 || c->next_req > UINT32_MAX - (uint32_t)servers)
    c->next_req = 1;
  uint32_t first_req = c->next_req;
  int asked = 0;
  for (int s = 0; s < servers; s++) {
    int64_t count = m->start[s + 1] - m->start[s];
    uint32_t req = first_req + (uint32_t)s;
    if (count == 0) continue;
    pmi_msg_begin(&c->out, c->e->job, PMI_MSG_GETS, c->id);
    pmi_put_u32(&c->out, req);
    pmi_put_i32(&c->out, table);
    pmi_put_i64(&c->out, min_clock);
    pmi_put_i32(&c->out, c->e->first_worker);
    pmi_put_i32(&c->out, nstamps);
    pmi_put_i64(&c->out, count);
    if (pmi_buf_reserve(&c->out, (size_t)count * 8))
      return pmi_fail(c->err, PMLS_ENOMEM, "out of memory for a message");
    for (int64_t k = m->start[s]; k < m->start[s + 1]; k++)
      pmi_put_i64(&c->out, rows[m->order[k]]);
    int rc = pmi_client_send(c, s, &c->out);
    if (rc) return rc;
    asked++;
  }
  c->next_req = first_req + (uint32_t)servers;
  char what[160];
  snprintf(what, sizeof what, "%d server%s (%lld rows of table '%s' at clock "
           ">= %lld)", asked, asked == 1 ? "" : "s", (long long)total,
           t->name, (long long)min_clock);
  /* The replies come in pieces, from any shard in any order; a piece may
   * not claim rows another already brought (received counts them). */
  for (int s = 0; s < servers; s++) m->received[s] = 0;
  for (int64_t left = total; left > 0;) {
    void *msg;
    pmi_rd rd;
    int rc = pmi_client_await_span(c, first_req, (uint32_t)servers,
                                   PMI_MSG_ROWS, what, &msg, &rd);
    if (rc) return rc;
    pmi_rd peek = rd;
    int s = (int)(pmi_get_u32(&peek) - first_req);
    pmi_get_i32(&peek);
    pmi_get_i64(&peek);
    pmi_get_i64(&peek);
    int32_t ns = pmi_get_i32(&peek);
    for (int32_t j = 0; j < ns && !peek.bad; j++) pmi_get_i64(&peek);
    int64_t at = pmi_get_i64(&peek);
    int64_t got = 0;
    int malformed = 1;
    if (peek.bad || at != m->received[s])
      rc = pmi_fail(c->err, PMLS_EPROTO, "ROWS reply from server %d out of "
                    "order (rows from %lld, %lld expected)", s,
                    (long long)at, (long long)m->received[s]);
    else
      rc = take(c, arg, s, m->order + m->start[s], m->start[s + 1] - m->start[s],
                &rd, &got, &malformed);
    pmi_msg_free(msg);
    /* No shard sends such a piece (its pieces come in order on one pipe):
     * it is dropped, and the wait goes on for the real one. */
    if (rc && malformed) {
      pmi_client_dropped(c, c->err);
      continue;
    }
    if (rc) return rc;
    m->received[s] += got;
    left -= got;
  }
  return PMLS_OK;
}

int pmls_get_many(pmls_client *c, int table, int64_t n, const int64_t *rows,
                  void *out) {
  return read_many(c, table, n, rows, AS_COPY, out, NULL);
}

int pmls_view_many(pmls_client *c, int table, int64_t n, const int64_t *rows,
                   const void **views) {
  return read_many(c, table, n, rows, AS_VIEW, NULL, views);
}

int pmls_view_dense(pmls_client *c, int table, int64_t row, const void **view) {
  return read_many(c, table, 1, &row, AS_VIEW, NULL, view);
}

/* ---- pending increments -------------------------------------------------- */

int pmls_delta_many(pmls_client *c, int table, int64_t n, const int64_t *rows,
                    void **deltas) {
  const pmi_table_meta *t = table_of(c, table);
  if (!t) return PMLS_EINVAL;
  if (n < 0) return pmi_fail(c->err, PMLS_EINVAL, "bad row count %lld", (long long)n);
  if (t->spec.layout != PMLS_DENSE)
    return pmi_fail(c->err, PMLS_EINVAL, "table '%s' is sparse: delta pointers "
                    "are for dense tables", t->name);
  for (int64_t i = 0; i < n; i++) {
    const pmi_table_meta *same;
    int bad = check_row(c, table, rows[i], &same);
    if (bad) return bad;
    void **slot = pmi_oplog_row(c, table, t, rows[i]);
    if (!slot) return PMLS_ENOMEM;
    deltas[i] = pmi_oplog_data(*slot);
    c->rows_inc++;
    c->acc[table].increments++;
  }
  c->deltas_out = 1;
  return PMLS_OK;
}

int pmls_delta_dense(pmls_client *c, int table, int64_t row, void **delta) {
  return pmls_delta_many(c, table, 1, &row, delta);
}
