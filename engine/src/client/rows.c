/* rows.c -- a client's reads and increments of rows.
 *
 * A read asks the owning shard for the row at a minimum clock (the worker's
 * clock minus the table's staleness), or takes the process cache's copy
 * when it is recent enough, and adds the client's own increments the copy
 * lacks, so a worker always sees its own updates. Increments go into the
 * oplog (oplog.c). Every call checks its table, row and column first and
 * names the bad one: PMLS_EINVAL for a table id, PMLS_ERANGE for an index. */
#include "client_state.h"

/* ---- reads --------------------------------------------------------------- */

/* Checks a ROW reply to a read of (table, row) whole and positions rd at
 * its row data: 0, or -1 when it is malformed (rd and the outputs are then
 * left anywhere). A sparse row's pair count is bounded by the table's
 * columns and the bytes that follow, before anything is sized by it. */
static int row_reply_ok(pmls_client *c, int table, const pmi_table_meta *t,
                        int64_t row, int32_t nstamps, pmi_rd *rd,
                        int64_t *copy_clock, int64_t *stamp) {
  pmi_get_u32(rd);
  int rt = pmi_get_i32(rd);
  int64_t rr = pmi_get_i64(rd);
  *copy_clock = pmi_get_i64(rd);
  *stamp = pmi_get_i64(rd);
  int32_t n = pmi_get_i32(rd);
  if (rd->bad || rt != table || rr != row || n != nstamps) return -1;
  for (int32_t i = 0; i < n; i++) c->stamps[i] = pmi_get_i64(rd);
  if (rd->bad) return -1;
  size_t elem = pmls_dtype_size(t->spec.dtype);
  if (t->spec.layout == PMLS_DENSE)
    return pmi_rd_left(rd) == (size_t)t->spec.cols * elem ? 0 : -1;
  pmi_rd body = *rd;
  int64_t pairs = pmi_get_i64(&body);
  if (body.bad || pairs < 0 || pairs > t->spec.cols ||
      pmi_rd_left(&body) != (size_t)pairs * (4 + elem))
    return -1;
  /* Keys index the merge below (a negative one is the map's empty mark). */
  const unsigned char *keys = pmi_get_bytes(&body, (size_t)pairs * 4);
  for (int64_t i = 0; i < pairs; i++) {
    int32_t key;
    memcpy(&key, keys + i * 4, 4);
    if (key < 0 || key >= t->spec.cols) return -1;
  }
  return 0;
}

/* Asks the row's shard for a copy at min_clock or later. On success the
 * reader is positioned at the row data; *copy_clock and *stamp (this
 * client's OPLOG messages the copy holds) are filled, and c->stamps holds
 * the stamps of the process's workers when `for_cache`. A malformed reply
 * is dropped (counted) and the wait goes on for the real one. */
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
  int rc = pmi_client_send(c, shard, &c->out);
  if (rc) return rc;
  char what[160];
  snprintf(what, sizeof what, "server %d (row %lld of table '%s' at clock "
           ">= %lld)", shard, (long long)row, t->name, (long long)min_clock);
  for (;;) {
    rc = pmi_client_await(c, req, PMI_MSG_ROW, what, msg, rd);
    if (rc) return rc;
    size_t total = rd->len;
    if (row_reply_ok(c, table, t, row, nstamps, rd, copy_clock, stamp) == 0) {
      c->acc[table].bytes_received += (int64_t)total;
      return PMLS_OK;
    }
    char why[256];
    snprintf(why, sizeof why, "malformed ROW reply for row %lld of table '%s'",
             (long long)row, t->name);
    pmi_client_dropped(c, why);
    pmi_msg_free(*msg);
  }
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
  void *own = pmi_oplog_data(pmi_rowmap_get(&c->oplog[table], row));
  const void *plus = own && !pmi_rowmap_get(&c->hist[table], row) ? own : NULL;
  int hit = worker && pmi_cache_get(c->e->cache, table, &t->spec, row,
                                    cache_min, c->worker - c->e->first_worker,
                                    plus, out, &copy_clock, &stamp);
  /* A copy lacking sent increments the history kept only the version of
   * is no use: the shard's copy holds them. */
  if (hit && !plus && pmi_hist_check(c, table, t, row, stamp) == HIST_REFRESH)
    hit = 0;
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
  pmi_client_record_staleness(c, table, copy_clock);
  if (hit && plus) return PMLS_OK; /* own increments already added */
  int rc = pmi_hist_apply(c, table, t, row, stamp, out, NULL);
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
  int64_t n = pmi_get_i64(&rd); /* bounded by fetch: 0..cols, all present */
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
  pmi_client_record_staleness(c, table, copy_clock);
  rc = pmi_hist_apply(c, table, t, row, stamp, NULL, merged);
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
  return pmi_oplog_maybe_flush(c);
}

int pmls_inc_dense(pmls_client *c, int table, int64_t row, const void *delta) {
  const pmi_table_meta *t;
  int bad = check_row(c, table, row, &t);
  if (bad) return bad;
  if (t->spec.layout != PMLS_DENSE)
    return pmi_fail(c->err, PMLS_EINVAL, "table '%s' is sparse: increment it "
                    "with (column, delta) pairs", t->name);
  int fresh;
  void **slot = pmi_oplog_row_fresh(c, table, t, row, &fresh);
  if (!slot) return PMLS_ENOMEM;
  if (fresh)
    memcpy(*slot, delta, (size_t)t->spec.cols * pmls_dtype_size(t->spec.dtype));
  else
    pmi_add(t->spec.dtype, pmi_oplog_data(*slot), delta, t->spec.cols);
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
  void **slot = pmi_oplog_row(c, table, t, row);
  if (!slot) return PMLS_ENOMEM;
  pmi_add_scaled(t->spec.dtype, pmi_oplog_data(*slot), x, alpha, t->spec.cols);
  return counted(c, table);
}

/* Adds already-checked (column, delta) pairs to the row's oplog entry. */
static int add_pairs(pmls_client *c, int table, const pmi_table_meta *t,
                     int64_t row, int64_t n, const int32_t *cols,
                     const void *deltas) {
  void **entry = pmi_oplog_row(c, table, t, row);
  if (!entry) return PMLS_ENOMEM;
  void *p = pmi_oplog_data(*entry);
  if (t->spec.layout == PMLS_DENSE && !((uintptr_t)*entry & OPLOG_PAIRS)) {
    *entry = (void *)((uintptr_t)p | OPLOG_PAIRS);
    c->order[table].tagged++; /* the flush looks this table's entries up */
  }
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
  int rc = c->oplog_bytes ? pmi_oplog_flush(c) : PMLS_OK;
  if (rc) return rc;
  int shard = pmi_shard_of(c->e, table, row);
  pmi_msg_begin(&c->out, c->e->job, PMI_MSG_INIT, c->id);
  pmi_put_i32(&c->out, table);
  pmi_put_i64(&c->out, row);
  if (pmi_put_bytes(&c->out, values, row_bytes_of(t)))
    return pmi_fail(c->err, PMLS_ENOMEM, "out of memory for a message");
  return pmi_client_send(c, shard, &c->out);
}

