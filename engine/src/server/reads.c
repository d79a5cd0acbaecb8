/* reads.c -- how a shard answers reads: one row (GET) or many rows of one
 * table in one request (GETS), each at a minimum clock. A read whose clock
 * the shard's global clock has reached is answered at once; the others are
 * parked until it has, which is how the SSP bound is enforced without any
 * worker ever waiting on another directly. Under ESSP the shard also pushes
 * fresh copies of the rows a process reads to that process whenever its
 * global clock advances, so most reads there never leave the process. */
#include <stdlib.h>
#include <string.h>

#include "server_state.h"


static int64_t seq_of(const pmi_server *s, int client) {
  return client >= 0 && client < s->nclients ? s->last_seq[client] : 0;
}

/* A ROW carries, besides the copy's clock, how many of each client's OPLOG
 * messages it includes (its stamps): the reader's own, and those of the
 * workers [stamp_lo, stamp_lo + stamp_n) that share the reader's cache. A
 * client adds back exactly its increments the copy does not hold yet. */
static void reply_row(pmi_server *s, int client, uint32_t req, int table,
                      int64_t row, int32_t stamp_lo, int32_t stamp_n) {
  srv_table *t = &s->tables[table];
  void *p = srv_row_storage(s, table, row);
  if (!p) {
    srv_reply_err(s, client, req, PMLS_ENOMEM, "out of memory for a row");
    return;
  }
  size_t elem = pmls_dtype_size(t->spec.dtype);
  pmi_msg_begin(&s->out, s->e->job, PMI_MSG_ROW, -1);
  pmi_put_u32(&s->out, req);
  pmi_put_i32(&s->out, table);
  pmi_put_i64(&s->out, row);
  pmi_put_i64(&s->out, srv_copy_clock(s));
  pmi_put_i64(&s->out, seq_of(s, client));
  pmi_put_i32(&s->out, stamp_n);
  for (int32_t i = 0; i < stamp_n; i++)
    pmi_put_i64(&s->out, seq_of(s, stamp_lo + i));
  if (t->spec.layout == PMLS_DENSE) {
    pmi_put_bytes(&s->out, p, (size_t)t->spec.cols * elem);
  } else {
    pmi_kv *kv = p;
    int64_t n = kv->count;
    pmi_put_i64(&s->out, n);
    if (pmi_buf_reserve(&s->out, (size_t)n * (4 + elem))) {
      srv_reply_err(s, client, req, PMLS_ENOMEM, "out of memory for a reply");
      return;
    }
    int32_t *keys = (int32_t *)(s->out.data + s->out.len);
    void *vals = s->out.data + s->out.len + (size_t)n * 4;
    pmi_kv_export(kv, keys, vals, n);
    s->out.len += (size_t)n * (4 + elem);
  }
  srv_send_to(s, client);
}

/* ROWS replies answer a GETS: rows of one table at one clock with
 * one set of stamps, (row id, data) after (row id, data), in the order
 * asked, cut into messages of about ROWS_CHUNK_BYTES, each saying where in
 * the request its rows start. A clock's working set is then a few messages
 * per shard instead of a round trip per row; the cut keeps each message's
 * buffers small enough for the allocator to reuse (a message of many MB is
 * fresh pages, faulted in, every time). */
#define ROWS_CHUNK_BYTES PMI_BATCH_BYTES /* the receive bound counts on it */

/* A ROWS piece's head: the read, the copy's clock and stamps, and where in
 * the request its rows start (its row count follows). */
static void piece_begin(pmi_server *s, const pending_get *g, int64_t at) {
  pmi_buf *o = &s->out;
  pmi_msg_begin(o, s->e->job, PMI_MSG_ROWS, -1);
  pmi_put_u32(o, g->req);
  pmi_put_i32(o, g->table);
  pmi_put_i64(o, srv_copy_clock(s));
  pmi_put_i64(o, seq_of(s, g->client));
  pmi_put_i32(o, g->stamp_n);
  for (int32_t i = 0; i < g->stamp_n; i++)
    pmi_put_i64(o, seq_of(s, g->stamp_lo + i));
  pmi_put_i64(o, at);
}

/* The ROWS pieces of a sparse table: each row its id, its pair count and
 * the pairs (keys, then values), a piece cut once it passes
 * ROWS_CHUNK_BYTES. */
static void reply_sparse_rows(pmi_server *s, const pending_get *g) {
  srv_table *t = &s->tables[g->table];
  size_t elem = pmls_dtype_size(t->spec.dtype);
  pmi_buf *o = &s->out;
  int64_t at = 0;
  while (at < g->nrows) {
    piece_begin(s, g, at);
    size_t count_at = o->len;
    pmi_put_i64(o, 0); /* the piece's rows, set below */
    int64_t n = 0;
    while (at + n < g->nrows && (n == 0 || o->len < ROWS_CHUNK_BYTES)) {
      pmi_kv *kv = srv_row_storage(s, g->table, g->rows[at + n]);
      if (!kv) {
        srv_reply_err(s, g->client, g->req, PMLS_ENOMEM, "out of memory for a row");
        return;
      }
      int64_t pairs = kv->count;
      pmi_put_i64(o, g->rows[at + n]);
      pmi_put_i64(o, pairs);
      if (pmi_buf_reserve(o, (size_t)pairs * (4 + elem))) {
        srv_reply_err(s, g->client, g->req, PMLS_ENOMEM, "out of memory for a reply");
        return;
      }
      pmi_kv_export(kv, (int32_t *)(void *)(o->data + o->len),
                    o->data + o->len + (size_t)pairs * 4, pairs);
      o->len += (size_t)pairs * (4 + elem);
      n++;
    }
    memcpy(o->data + count_at, &n, 8);
    srv_send_to(s, g->client);
    at += n;
  }
}

static void reply_rows(pmi_server *s, const pending_get *g) {
  srv_table *t = &s->tables[g->table];
  if (t->spec.layout == PMLS_SPARSE) {
    reply_sparse_rows(s, g);
    return;
  }
  size_t bytes = (size_t)t->spec.cols * pmls_dtype_size(t->spec.dtype);
  int64_t per = (int64_t)(ROWS_CHUNK_BYTES / (8 + bytes));
  if (per < 1) per = 1;
  pmi_buf *o = &s->out;
  int64_t at = 0;
  do {
    int64_t n = g->nrows - at < per ? g->nrows - at : per;
    piece_begin(s, g, at);
    pmi_put_i64(o, n);
    if (pmi_buf_reserve(o, (size_t)n * (8 + bytes))) {
      srv_reply_err(s, g->client, g->req, PMLS_ENOMEM, "out of memory for a reply");
      return;
    }
    for (int64_t i = at; i < at + n; i++) {
      void *p = srv_row_storage(s, g->table, g->rows[i]);
      if (!p) {
        srv_reply_err(s, g->client, g->req, PMLS_ENOMEM, "out of memory for a row");
        return;
      }
      pmi_put_i64(o, g->rows[i]);
      pmi_put_bytes(o, p, bytes);
    }
    srv_send_to(s, g->client);
    at += n;
  } while (at < g->nrows);
}

/* Answers a parked or fresh read whose clock has come. */
static void answer(pmi_server *s, const pending_get *g) {
  if (g->rows) reply_rows(s, g);
  else reply_row(s, g->client, g->req, g->table, g->row, g->stamp_lo, g->stamp_n);
}

static int clock_reached(const pmi_server *s, int64_t min_clock) {
  return min_clock <= srv_copy_clock(s) || s->global_clock == INT64_MAX;
}


/* ---- ESSP pushes --------------------------------------------------------- */

/* Notes that the reader's process caches the row: it gets every fresh copy. */
static void subscribe(pmi_server *s, int table, int64_t row, int client) {
  if (client < 0 || client >= s->nclients || s->client_rank[client] < 0) return;
  int rank = s->client_rank[client];
  srv_table *t = &s->tables[table];
  unsigned char *bits = pmi_rowmap_get(&t->subs, row);
  if (!bits) {
    bits = calloc((size_t)(s->e->procs + 7) / 8, 1);
    pmi_rowmap_for_table(&t->subs, &t->spec);
    if (!bits || pmi_rowmap_put(&t->subs, row, bits)) {
      free(bits);
      return; /* no push for this row: reads still fetch it */
    }
    s->nsubs++;
  }
  bits[rank / 8] |= (unsigned char)(1u << (rank % 8));
}

static int rank_running(const pmi_server *s, int rank) {
  for (int i = 0; i < s->feed_n[rank]; i++) {
    int w = s->feed_lo[rank] + i;
    if (w >= 0 && w < s->e->workers && !s->done[w]) return 1;
  }
  return 0;
}

/* The global clock advanced: every process gets a fresh copy of each ESSP
 * row it holds, stamped like a reply to its workers, in messages of about
 * PMI_BATCH_BYTES (each with the clock and stamps, so each stands alone):
 * the receive bound (net.h) counts on that cut. */
static void push_begin(pmi_server *s, int r, int64_t clock) {
  pmi_msg_begin(&s->out, s->e->job, PMI_MSG_PUSH, -1);
  pmi_put_i64(&s->out, clock);
  pmi_put_i32(&s->out, s->feed_n[r]);
  for (int i = 0; i < s->feed_n[r]; i++)
    pmi_put_i64(&s->out, seq_of(s, s->feed_lo[r] + i));
}

static void push_send(pmi_server *s, int r) {
  pthread_mutex_lock(&s->traffic_mu);
  int rc = pmi_msg_send(s->feed_sock[r], &s->out, &s->traffic, "", NULL);
  s->pushes += rc == PMLS_OK;
  pthread_mutex_unlock(&s->traffic_mu);
}

void srv_push_fresh(pmi_server *s) {
  if (!s->nsubs || s->aborted) return;
  int64_t clock = srv_copy_clock(s);
  for (int r = 0; r < s->e->procs; r++) {
    if (s->feed_sock[r] < 0 || !rank_running(s, r)) continue;
    push_begin(s, r, clock);
    size_t head = s->out.len;
    for (int id = 0; id < PMI_MAX_TABLES; id++) {
      srv_table *t = &s->tables[id];
      if (!t->declared || !t->essp) continue;
      size_t bytes = (size_t)t->spec.cols * pmls_dtype_size(t->spec.dtype);
      size_t at = 0;
      int64_t row;
      void **slot;
      while ((slot = pmi_rowmap_next(&t->subs, &at, &row))) {
        const unsigned char *bits = *slot;
        if (!bits || !(bits[r / 8] & (1u << (r % 8)))) continue;
        void *p = srv_row_storage(s, id, row);
        if (!p) continue;
        pmi_put_i32(&s->out, id);
        pmi_put_i64(&s->out, row);
        pmi_put_bytes(&s->out, p, bytes);
        if (s->out.len - head >= PMI_BATCH_BYTES) {
          push_send(s, r);
          push_begin(s, r, clock);
        }
      }
    }
    if (s->out.len > head) push_send(s, r);
  }
}

/* Holds a read (or barrier) until the global clock reaches its minimum. */
void srv_park(pmi_server *s, pending_get g) {
  if (s->npending == s->cappending) {
    size_t cap = s->cappending ? s->cappending * 2 : 64;
    pending_get *p = realloc(s->pending, cap * sizeof *p);
    if (!p) {
      srv_reply_err(s, g.client, g.req, PMLS_ENOMEM, "out of memory for a read");
      free(g.rows);
      return;
    }
    s->pending = p;
    s->cappending = cap;
  }
  s->pending[s->npending++] = g;
}

/* The stamps a read asks for are those of a process's workers, a slice of
 * [0, workers): checked here, so that stamp_lo + i never overflows. */
static int stamps_ok(const pmi_server *s, int32_t lo, int32_t n) {
  return lo >= 0 && n >= 0 && lo <= s->e->workers && n <= s->e->workers - lo;
}

void srv_on_get(pmi_server *s, const pmi_hdr *h, pmi_rd *rd) {
  uint32_t req = pmi_get_u32(rd);
  int table = pmi_get_i32(rd);
  int64_t row = pmi_get_i64(rd);
  int64_t min_clock = pmi_get_i64(rd);
  int32_t stamp_lo = pmi_get_i32(rd), stamp_n = pmi_get_i32(rd);
  char why[256];
  if (!stamps_ok(s, stamp_lo, stamp_n)) rd->bad = 1;
  if (rd->bad) {
    srv_reply_err(s, h->src, req, PMLS_EPROTO, "malformed GET message");
    return;
  }
  if (s->aborted) {
    srv_reply_err(s, h->src, req, PMLS_EABORTED, s->abort_msg);
    return;
  }
  if (srv_check_row(s, table, row, why, sizeof why)) {
    srv_reply_err(s, h->src, req, PMLS_EINVAL, why);
    return;
  }
  if (s->tables[table].essp && stamp_n > 0) subscribe(s, table, row, h->src);
  if (clock_reached(s, min_clock)) {
    reply_row(s, h->src, req, table, row, stamp_lo, stamp_n);
    return;
  }
  srv_park(s, (pending_get){h->src, req, table, row, min_clock, stamp_lo, stamp_n,
                            NULL, 0});
}

/* GETS: many rows of one table at one minimum clock. Every row is
 * checked before any is answered: a bad one fails the whole request, named. */
void srv_on_gets(pmi_server *s, const pmi_hdr *h, pmi_rd *rd) {
  uint32_t req = pmi_get_u32(rd);
  int table = pmi_get_i32(rd);
  int64_t min_clock = pmi_get_i64(rd);
  int32_t stamp_lo = pmi_get_i32(rd), stamp_n = pmi_get_i32(rd);
  int64_t n = pmi_get_i64(rd);
  char why[256];
  if (!stamps_ok(s, stamp_lo, stamp_n) || n < 0 ||
      (size_t)n > pmi_rd_left(rd) / 8)
    rd->bad = 1;
  const unsigned char *ids = rd->bad ? NULL : pmi_get_bytes(rd, (size_t)n * 8);
  if (rd->bad || !ids) {
    srv_reply_err(s, h->src, req, PMLS_EPROTO, "malformed GETS message");
    return;
  }
  if (s->aborted) {
    srv_reply_err(s, h->src, req, PMLS_EABORTED, s->abort_msg);
    return;
  }
  /* The table before anything is looked up in it: a GETS of no rows
   * checks none of them (the fuzzer's table id 3670016 read past the
   * tables). */
  if (table < 0 || table >= PMI_MAX_TABLES || !s->tables[table].declared) {
    snprintf(why, sizeof why, "unknown table id %d", table);
    srv_reply_err(s, h->src, req, PMLS_EINVAL, why);
    return;
  }
  int64_t *rows = malloc((size_t)(n ? n : 1) * sizeof *rows);
  if (!rows) {
    srv_reply_err(s, h->src, req, PMLS_ENOMEM, "out of memory for a read");
    return;
  }
  memcpy(rows, ids, (size_t)n * 8);
  for (int64_t i = 0; i < n; i++) {
    if (srv_check_row(s, table, rows[i], why, sizeof why)) {
      free(rows);
      srv_reply_err(s, h->src, req, PMLS_EINVAL, why);
      return;
    }
  }
  /* Sparse rows are not cached, so not pushed either. */
  if (s->tables[table].essp && stamp_n > 0 &&
      s->tables[table].spec.layout == PMLS_DENSE)
    for (int64_t i = 0; i < n; i++) subscribe(s, table, rows[i], h->src);
  pending_get g = {h->src, req, table, 0, min_clock, stamp_lo, stamp_n, rows, n};
  if (clock_reached(s, min_clock)) {
    reply_rows(s, &g);
    free(rows);
    return;
  }
  srv_park(s, g);
}

/* Answers every parked read whose clock has come (all of them, with an
 * ERR, once the run is aborted). */
void srv_serve_pending(pmi_server *s) {
  size_t keep = 0;
  for (size_t i = 0; i < s->npending; i++) {
    pending_get g = s->pending[i];
    if (s->aborted)
      srv_reply_err(s, g.client, g.req, PMLS_EABORTED, s->abort_msg);
    else if (clock_reached(s, g.min_clock) && g.table < 0)
      srv_reply_ack(s, g.client, PMI_MSG_WAIT);
    else if (clock_reached(s, g.min_clock))
      answer(s, &g);
    else {
      s->pending[keep++] = g;
      continue;
    }
    free(g.rows);
  }
  s->npending = keep;
}

/* Forgets a client's parked reads (it closed: nobody waits for them). */
void srv_drop_pending(pmi_server *s, int client) {
  size_t keep = 0;
  for (size_t i = 0; i < s->npending; i++) {
    if (s->pending[i].client != client) s->pending[keep++] = s->pending[i];
    else free(s->pending[i].rows);
  }
  s->npending = keep;
}

