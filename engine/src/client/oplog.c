/* oplog.c -- what a client sends and what it keeps of it.
 *
 * Increments are coalesced per row in the client's oplog (commutative adds,
 * so order does not matter) and leave in batches of OPLOG messages: at
 * clock(), or earlier when the oplog grows past a size bound. A sent
 * increment stays in the history of its row until a copy that holds it is
 * read or the staleness bound guarantees every copy does, so a read can add
 * back what the copy lacks. Replies come back through await(), which also
 * ends every wait at once when the run dies. */
#include "client_state.h"

/* A delta is done with: a dense one is kept for reuse (up to a bound). */
void pmi_client_drop_delta(pmls_client *c, int table, const pmi_table_meta *t,
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

/* Spare history entries wait on a stack, not a list threaded through
 * them: taking one then reads the stack, not the cold entry (a dependent
 * cache miss per row of a flush). */
hist_entry *pmi_hist_new(pmls_client *c) {
  if (c->free_hist.n) return c->free_hist.items[--c->free_hist.n];
  return malloc(sizeof(hist_entry));
}

void pmi_hist_release(pmls_client *c, hist_entry *h) {
  spare_hist *f = &c->free_hist;
  if (f->n == f->cap) {
    size_t cap = f->cap ? 2 * f->cap : 256;
    hist_entry **p = realloc(f->items, cap * sizeof *p);
    if (!p) {
      free(h);
      return;
    }
    f->items = p;
    f->cap = cap;
  }
  f->items[f->n++] = h;
}

void pmi_hist_forget(pmls_client *c, int table, const pmi_table_meta *t,
                     hist_entry *h) {
  if (h->delta) {
    c->hist_bytes -= h->bytes;
    pmi_client_drop_delta(c, table, t, h->delta);
  }
  pmi_hist_release(c, h);
}

int pmi_hist_check(pmls_client *c, int table, const pmi_table_meta *t,
                   int64_t row, int64_t stamp) {
  void **slot = pmi_rowmap_ref(&c->hist[table], row);
  if (!slot) return HIST_NONE;
  int what = HIST_NONE;
  hist_entry **link = (hist_entry **)slot;
  while (*link) {
    hist_entry *h = *link;
    if (h->seq <= stamp) {
      *link = h->next;
      pmi_hist_forget(c, table, t, h);
      continue;
    }
    if (!h->delta) return HIST_REFRESH;
    what = HIST_ADD;
    link = &h->next;
  }
  return what;
}

/* ---- sending ------------------------------------------------------------- */

/* The run is over because some node failed: the caller's failure is an
 * echo of that one, which the run's root-cause policy must know. */
int pmi_client_aborted(pmls_client *c) {
  c->saw_abort = 1;
  return pmi_proc_dead_error(c->e, c->err);
}

int pmi_client_send(pmls_client *c, int shard, pmi_buf *b) {
  pmls_engine *e = c->e;
  char peer[48];
  snprintf(peer, sizeof peer, "server %d", shard);
  int rc = atomic_load(&e->dead)
               ? PMLS_EABORTED
               : pmi_msg_send_until(c->push[shard], b, &c->traffic, peer,
                                    c->err, e->cfg.timeout_ms, &e->dead);
  /* A send cut short by the job's death reports the death, its cause. */
  if (rc != PMLS_OK && atomic_load(&e->dead))
    return pmi_client_aborted(c);
  return rc;
}

/* Handles an ERR that arrived on its own (req 0): a shard refused increments
 * or a message. Returns the error code to surface. */
int pmi_client_async_error(pmls_client *c, pmi_rd *rd) {
  pmi_get_u32(rd);
  int code = pmi_get_i32(rd);
  char msg[PMI_ERRLEN];
  pmi_get_str(rd, msg, sizeof msg);
  c->failed = 1;
  if (code == PMLS_EABORTED) c->saw_abort = 1;
  return pmi_fail(c->err, code ? code : PMLS_EPROTO, "%s", msg);
}

void pmi_client_dropped(pmls_client *c, const char *why) {
  char who[32];
  snprintf(who, sizeof who, "client %d", c->id);
  pmi_msg_dropped(&c->e->dropped, who, why);
}

/* Waits for the reply to `req` (a ROW or ACK). The returned message is the
 * caller's to free. */
int pmi_client_await(pmls_client *c, uint32_t req, int want, const char *what,
                     void **msg_out, pmi_rd *rd_out) {
  return pmi_client_await_span(c, req, 1, want, what, msg_out, rd_out);
}

int pmi_client_await_span(pmls_client *c, uint32_t req, uint32_t span, int want,
                          const char *what, void **msg_out, pmi_rd *rd_out) {
  double deadline = pmi_now() + c->e->cfg.timeout_ms / 1000.0;
  for (;;) {
    void *msg;
    size_t len;
    /* Wait at most the time left, so a timeout is honoured to the ms, and
     * in slices, so a job that died (a peer that will never answer) ends
     * the wait with that cause. */
    if (atomic_load(&c->e->dead))
      return pmi_client_aborted(c);
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
    char why[PMI_ERRLEN];
    if (pmi_msg_open(msg, len, c->e->job, &h, &rd, why) != PMLS_OK) {
      /* Garbage on the reply socket is no reply: the wait goes on. */
      pmi_client_dropped(c, why);
      pmi_msg_free(msg);
      continue;
    }
    if (h.type == PMI_MSG_ERR) {
      pmi_rd peek = rd;
      uint32_t r = pmi_get_u32(&peek);
      int mine = r - req < span;
      if (r == 0 || mine) {
        rc = pmi_client_async_error(c, &rd);
        if (mine) c->failed = 0; /* a failed read is the caller's error */
        pmi_msg_free(msg);
        return rc;
      }
    } else if (h.type == want) {
      pmi_rd peek = rd;
      if (want == PMI_MSG_ACK || pmi_get_u32(&peek) - req < span) {
        *msg_out = msg;
        *rd_out = rd;
        return PMLS_OK;
      }
    }
    pmi_msg_free(msg); /* a stale reply to an abandoned request */
  }
}

/* ---- the oplog ----------------------------------------------------------- */

/* The slot of the row's oplog entry, made (zeroed) when missing. */
void **pmi_oplog_row(pmls_client *c, int table, const pmi_table_meta *t,
                     int64_t row) {
  return pmi_oplog_row_fresh(c, table, t, row, NULL);
}

void **pmi_oplog_row_fresh(pmls_client *c, int table, const pmi_table_meta *t,
                           int64_t row, int *fresh) {
  if (fresh) *fresh = 0;
  pmi_rowmap *m = &c->oplog[table];
  oplog_order *o = &c->order[table];
  /* Room in the order first, so that a failure leaves no half-made entry. */
  if (o->n == o->cap) {
    size_t cap = o->cap ? 2 * o->cap : 256;
    oplog_item *p = realloc(o->items, cap * sizeof *p);
    if (!p) {
      pmi_fail(c->err, PMLS_ENOMEM, "out of memory for the oplog");
      return NULL;
    }
    o->items = p;
    o->cap = cap;
  }
  pmi_rowmap_for_table(m, &t->spec);
  void **slot = pmi_rowmap_slot(m, row, NULL);
  if (!slot) {
    pmi_fail(c->err, PMLS_ENOMEM, "out of memory for the oplog");
    return NULL;
  }
  if (*slot) return slot;
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
      if (!fresh) memset(p, 0, bytes);
    } else {
      p = fresh ? malloc(bytes) : calloc(1, bytes);
    }
    if (p && fresh) *fresh = 1;
  }
  if (!p) {
    /* The map has no deletion: the key stays with a NULL value, which
     * every reader takes for no entry and the next call fills. */
    pmi_fail(c->err, PMLS_ENOMEM, "out of memory for the oplog");
    return NULL;
  }
  *slot = p;
  o->items[o->n].row = row;
  o->items[o->n++].entry = p;
  c->oplog_bytes += bytes + 16;
  return slot;
}

/* An OPLOG entry: table i32, row i64, kind u8 (0 dense, 1 pairs), count
 * i32, then the elements or the (column, value) pairs (server.c). */
#define ENTRY_HEAD 17
/* Elements of a wide whole-row delta looked at before its zeros are
 * counted (a narrow one is counted: one pass over a few elements). */
#define SAMPLES 16

/* Appends one row's delta to the shard's batch, as the whole row or as
 * (column, value) pairs, whichever is smaller on the wire, written straight
 * into the batch (a nanomsg message, sent without a copy: transport.c).
 * The delta is dropped once written unless the history keeps it (`kept`). */
static int send_row(pmls_client *c, int table, const pmi_table_meta *t,
                    int64_t row, void *entry, int kept) {
  void *delta = pmi_oplog_data(entry);
  int shard = pmi_shard_of(c->e, table, row);
  pmi_buf *b = &c->batch[shard];
  pmls_dtype dt = t->spec.dtype;
  int32_t cols = t->spec.cols;
  size_t elem = pmls_dtype_size(dt), whole = (size_t)cols * elem;
  if (b->len == 0) {
    pmi_msg_begin(b, c->e->job, PMI_MSG_OPLOG, c->id);
    if (pmi_put_i64(b, c->shard_seq[shard] + 1)) goto out_of_memory;
  }
  size_t start = b->len;
  int64_t n;
  uint8_t kind = 1;
  unsigned char *body;
  if (t->spec.layout == PMLS_SPARSE) {
    n = ((pmi_kv *)delta)->count;
    if (pmi_buf_reserve(b, ENTRY_HEAD + (size_t)n * (4 + elem)))
      goto out_of_memory;
    body = b->data + start + ENTRY_HEAD;
    if (pmi_kv_export(delta, (int32_t *)(void *)body, body + (size_t)n * 4,
                      n) < 0)
      goto out_of_memory;
  } else {
    /* A whole-row delta (inc_dense, delta_many) is copied first: it is all
     * nonzero when the worker changed all of it, and then no count is
     * made of a wide one (a count costs as much as the copy: the streaming
     * of wide rows). After the copy, in cache, a narrow row is counted, a
     * wide one when one of a few evenly spaced elements is zero (a row a
     * sweep changed in a few places, or not at all); pairs are written over
     * the copy when smaller (an unchanged row: an empty list). Increments
     * at columns (OPLOG_PAIRS: few in most rows) are counted first, so
     * that a few pairs never make room for a whole wide row. */
    int at_cols = ((uintptr_t)entry & OPLOG_PAIRS) != 0;
    n = cols;
    if (at_cols) n = pmi_count_nonzero(dt, delta, cols);
    if (!at_cols || (size_t)n * (4 + elem) >= whole) {
      if (pmi_buf_reserve(b, ENTRY_HEAD + whole)) goto out_of_memory;
      body = b->data + start + ENTRY_HEAD;
      memcpy(body, delta, whole);
      if (!at_cols && (cols <= 4 * SAMPLES ||
                       pmi_any_zero_of(dt, delta, cols, SAMPLES)))
        n = pmi_count_nonzero(dt, delta, cols);
    }
    if ((size_t)n * (4 + elem) >= whole) {
      kind = 0;
      n = cols;
    } else { /* pairs never outgrow the row: room made for it is enough */
      if (pmi_buf_reserve(b, ENTRY_HEAD + (size_t)n * (4 + elem)))
        goto out_of_memory;
      body = b->data + start + ENTRY_HEAD;
      pmi_pairs_of(dt, body, body + (size_t)n * 4, delta, cols);
    }
  }
  unsigned char *head = b->data + start;
  int32_t tab = table, count = (int32_t)n;
  memcpy(head, &tab, 4);
  memcpy(head + 4, &row, 8);
  head[12] = kind;
  memcpy(head + 13, &count, 4);
  b->len = start + ENTRY_HEAD + (kind ? (size_t)n * (4 + elem) : whole);
  if (!kept) pmi_client_drop_delta(c, table, t, delta);
  c->acc[table].bytes_sent += (int64_t)(b->len - start);
  if (b->len >= BATCH_BYTES) {
    int rc = pmi_client_send(c, shard, b);
    b->len = 0;
    c->shard_seq[shard]++;
    if (rc) return rc;
  }
  return PMLS_OK;
out_of_memory:
  if (!kept) pmi_client_drop_delta(c, table, t, delta);
  return pmi_fail(c->err, PMLS_ENOMEM, "out of memory for a batch");
}

/* Sends one row's delta and keeps it in the row's history: a copy of it
 * while the history is under its bound, its version past it. */
int pmi_oplog_batch_row(pmls_client *c, int table, const pmi_table_meta *t,
                        int64_t row, void *entry) {
  void *delta = pmi_oplog_data(entry);
  /* What clock() sends of a table read at staleness 0 is in every copy a
   * read may use from then on (they are at the new clock, after this
   * CLOCK on the same pipe): it needs no history, not even a version. */
  if (c->closing_clock && bound_of(c, t) == 0)
    return send_row(c, table, t, row, entry, 0);
  hist_entry *h = pmi_hist_new(c);
  if (!h) return pmi_fail(c->err, PMLS_ENOMEM, "out of memory for the oplog");
  h->seq = c->shard_seq[pmi_shard_of(c->e, table, row)] + 1;
  h->interval = c->clock;
  h->bytes = t->spec.layout == PMLS_SPARSE
                 ? sizeof(pmi_kv) + (size_t)((pmi_kv *)delta)->cap *
                                        (4 + pmls_dtype_size(t->spec.dtype))
                 : row_bytes_of(t);
  int keep = c->hist_bytes + h->bytes <= HIST_BYTES_MAX;
  h->delta = keep ? delta : NULL;
  pmi_rowmap_for_table(&c->hist[table], &t->spec);
  void **slot = pmi_rowmap_slot(&c->hist[table], row, NULL); /* one probe */
  if (!slot) {
    pmi_hist_release(c, h);
    pmi_client_drop_delta(c, table, t, delta);
    return pmi_fail(c->err, PMLS_ENOMEM, "out of memory for the oplog");
  }
  h->next = *slot;
  *slot = h;
  if (keep) c->hist_bytes += h->bytes;
  return send_row(c, table, t, row, entry, keep);
}

int pmi_oplog_flush(pmls_client *c) {
  int rc = PMLS_OK;
  int ntables = pmi_engine_ntables(c->e);
  for (int t = 0; t < ntables; t++) {
    pmi_rowmap *m = &c->oplog[t];
    oplog_order *o = &c->order[t];
    const pmi_table_meta *meta = &c->e->tables[t];
    for (size_t k = 0; k < o->n; k++) {
      int64_t row = o->items[k].row;
      void *entry = o->tagged ? pmi_rowmap_get(m, row) : o->items[k].entry;
      /* On success the delta moves into the history. */
      if (rc == PMLS_OK) rc = pmi_oplog_batch_row(c, t, meta, row, entry);
      else pmi_client_drop_delta(c, t, meta, pmi_oplog_data(entry));
    }
    o->n = 0;
    o->tagged = 0;
    pmi_rowmap_clear(m);
  }
  c->oplog_bytes = 0;
  c->deltas_out = 0;
  for (int s = 0; s < c->e->servers; s++) {
    if (c->batch[s].len == 0) continue;
    int r = pmi_client_send(c, s, &c->batch[s]);
    c->batch[s].len = 0;
    c->shard_seq[s]++;
    if (rc == PMLS_OK) rc = r;
  }
  return rc;
}

/* Not while delta pointers are out: they point into the oplog's rows. */
int pmi_oplog_maybe_flush(pmls_client *c) {
  return c->oplog_bytes >= OPLOG_FLUSH_BYTES && !c->deltas_out
             ? pmi_oplog_flush(c) : PMLS_OK;
}

/* Drops the sent increments of `table` that every copy a read may still use
 * holds: those made before clock interval `before`, or carried by an OPLOG
 * message up to `upto_seq` (for one row, when the map has one entry). */
void pmi_hist_drop(pmls_client *c, int table, int64_t before, int64_t upto_seq) {
  pmi_rowmap *m = &c->hist[table];
  if (!m->count) return;
  const pmi_table_meta *t = &c->e->tables[table];
  size_t at = 0;
  int64_t row;
  void **slot;
  while ((slot = pmi_rowmap_next(m, &at, &row))) {
    hist_entry **link = (hist_entry **)slot;
    while (*link) {
      hist_entry *h = *link;
      if (h->interval < before || h->seq <= upto_seq) {
        *link = h->next;
        pmi_hist_forget(c, table, t, h);
      } else {
        link = &h->next;
      }
    }
  }
}

/* For one row read from a copy holding this client's OPLOG messages up to
 * `stamp`: forgets what the copy holds and adds the rest into out (dense) or
 * merged (sparse). The copy and every later one hold the forgotten part. */
int pmi_hist_apply(pmls_client *c, int table, const pmi_table_meta *t,
                   int64_t row, int64_t stamp, void *out, pmi_kv *merged) {
  void **slot = pmi_rowmap_ref(&c->hist[table], row);
  if (!slot) return PMLS_OK;
  size_t elem = pmls_dtype_size(t->spec.dtype);
  hist_entry **link = (hist_entry **)slot;
  while (*link) {
    hist_entry *h = *link;
    if (h->seq <= stamp) {
      *link = h->next;
      pmi_hist_forget(c, table, t, h);
      continue;
    }
    if (!h->delta)
      return pmi_fail(c->err, PMLS_EPROTO, "a copy of row %lld of table '%s' "
                      "from its shard lacks this client's OPLOG %lld",
                      (long long)row, t->name, (long long)h->seq);
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

void pmi_client_record_staleness(pmls_client *c, int table, int64_t copy_clock) {
  c->last_copy_clock = copy_clock;
  if (c->worker < 0) return;
  int64_t st = c->clock - copy_clock;
  if (st < 0) st = 0;
  pmi_table_acc *a = &c->acc[table];
  a->stale_n++;
  a->stale_sum += (double)st;
  a->stale_sumsq += (double)st * (double)st;
  if (st > a->stale_max) a->stale_max = st;
  a->stale_hist[st < PMI_STALE_BUCKETS - 1 ? st : PMI_STALE_BUCKETS - 1]++;
  c->clock_reads++;
  c->clock_staleness += (double)st;
}

