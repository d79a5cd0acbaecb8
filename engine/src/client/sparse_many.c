/* sparse_many.c -- batched reads of sparse rows (pmls_get_sparse_many).
 *
 * The process cache holds dense rows only, so every read of a sparse row
 * asks its shard. One row at a time that is a round trip a row; a clock's
 * working set of sparse rows (LDA's word-topic rows at large K, say) goes
 * here in one GETS per shard instead, answered in ROWS pieces of (id, pair
 * count, keys, values) entries (server/reads.c). Each row comes out as
 * get_sparse reads it: the shard's copy at the read bound or later, plus
 * what of this client's increments the copy lacks (sent ones kept by the
 * history, and pending ones), merged; a row with neither is taken as the
 * shard wrote it. A piece is checked whole before any of it is used. */
#include "client_state.h"

typedef struct {
  int table;
  const pmi_table_meta *t;
  const int64_t *rows;
} piece_args;

/* One ROWS piece from shard `shard` for the rows order[0 .. count) of the
 * request (indices into rows), as pmi_gets_many hands it. Appends each
 * row's pairs to the scratch and notes where (at, n); *got is the piece's
 * rows. A malformed piece sets *malformed and changes nothing. */
static int take_piece(pmls_client *c, void *arg, int shard, const int64_t *order,
                      int64_t count, pmi_rd *rd, int64_t *got, int *malformed) {
  const piece_args *a = arg;
  int table = a->table;
  const pmi_table_meta *t = a->t;
  const int64_t *rows = a->rows;
  *malformed = 1;
  size_t elem = pmls_dtype_size(t->spec.dtype);
  int32_t cols = t->spec.cols;
  pmi_get_u32(rd);
  int rt = pmi_get_i32(rd);
  int64_t copy_clock = pmi_get_i64(rd);
  int64_t stamp = pmi_get_i64(rd);
  int32_t nstamps = pmi_get_i32(rd);
  int64_t at = pmi_get_i64(rd), nrows = pmi_get_i64(rd);
  if (rd->bad || rt != table || nstamps != 0 || at < 0 || nrows < 1 ||
      nrows > count - at)
    return pmi_fail(c->err, PMLS_EPROTO, "malformed ROWS reply from server %d",
                    shard);
  /* First the whole piece: ids in the order asked, counts and keys in range. */
  pmi_rd check = *rd;
  for (int64_t k = 0; k < nrows; k++) {
    int64_t id = pmi_get_i64(&check), n = pmi_get_i64(&check);
    if (check.bad || id != rows[order[at + k]] || n < 0 || n > cols ||
        (size_t)n * (4 + elem) > pmi_rd_left(&check))
      return pmi_fail(c->err, PMLS_EPROTO, "malformed ROWS reply from server "
                      "%d (row %lld)", shard, (long long)id);
    const unsigned char *keys = pmi_get_bytes(&check, (size_t)n * 4);
    for (int64_t j = 0; j < n; j++) {
      int32_t key;
      memcpy(&key, keys + j * 4, 4);
      if (key < 0 || key >= cols)
        return pmi_fail(c->err, PMLS_EPROTO, "malformed ROWS reply from server "
                        "%d (row %lld, column %d)", shard, (long long)id, key);
    }
    pmi_get_bytes(&check, (size_t)n * elem);
  }
  if (pmi_rd_left(&check) != 0)
    return pmi_fail(c->err, PMLS_EPROTO, "malformed ROWS reply from server %d "
                    "(%zu bytes past its rows)", shard, pmi_rd_left(&check));
  *malformed = 0;
  c->acc[table].bytes_received += (int64_t)rd->len;
  sparse_scratch *sp = &c->sparse;
  pmi_kv *merged = &c->scratch;
  for (int64_t k = 0; k < nrows; k++) {
    int64_t row = pmi_get_i64(rd), n = pmi_get_i64(rd);
    const unsigned char *keys = pmi_get_bytes(rd, (size_t)n * 4);
    const unsigned char *vals = pmi_get_bytes(rd, (size_t)n * elem);
    int64_t i = order[at + k];
    void **hist = pmi_rowmap_ref(&c->hist[table], row);
    pmi_kv *own = pmi_rowmap_get(&c->oplog[table], row);
    pmi_client_record_staleness(c, table, copy_clock);
    c->rows_read++;
    c->acc[table].reads++;
    if (!(hist && *hist) && !(own && own->count)) {
      if (pmi_grow((void **)&sp->keys, &sp->cap_keys, sp->used + n, 4) ||
          pmi_grow((void **)&sp->vals, &sp->cap_vals, sp->used + n, elem))
        return pmi_fail(c->err, PMLS_ENOMEM, "out of memory for a many-row read");
      if (n > 0) {
        memcpy(sp->keys + sp->used, keys, (size_t)n * 4);
        memcpy(sp->vals + (size_t)sp->used * elem, vals, (size_t)n * elem);
      }
      sp->at[i] = sp->used;
      sp->n[i] = n;
      sp->used += n;
      continue;
    }
    /* The copy plus this client's increments it lacks, as get_sparse. */
    if (merged->dtype != t->spec.dtype) {
      pmi_kv_free(merged);
      pmi_kv_init(merged, t->spec.dtype);
    } else {
      pmi_kv_clear(merged);
    }
    for (int64_t j = 0; j < n; j++) {
      int32_t key;
      memcpy(&key, keys + j * 4, 4);
      void *slot = pmi_kv_slot(merged, key);
      if (!slot) return pmi_fail(c->err, PMLS_ENOMEM, "out of memory reading a row");
      pmi_add(t->spec.dtype, slot, vals + (size_t)j * elem, 1);
    }
    int rc = pmi_hist_apply(c, table, t, row, stamp, NULL, merged);
    if (rc) return rc;
    for (uint32_t j = 0; own && j < own->cap; j++) {
      if (own->keys[j] < 0) continue;
      void *slot = pmi_kv_slot(merged, own->keys[j]);
      if (!slot) return pmi_fail(c->err, PMLS_ENOMEM, "out of memory reading a row");
      pmi_add(t->spec.dtype, slot, own->vals + (size_t)j * elem, 1);
    }
    int64_t m = merged->count;
    if (pmi_grow((void **)&sp->keys, &sp->cap_keys, sp->used + m, 4) ||
        pmi_grow((void **)&sp->vals, &sp->cap_vals, sp->used + m, elem))
      return pmi_fail(c->err, PMLS_ENOMEM, "out of memory for a many-row read");
    sp->at[i] = sp->used;
    sp->n[i] = pmi_kv_export(merged, sp->keys + sp->used,
                             sp->vals + (size_t)sp->used * elem, m);
    sp->used += sp->n[i];
  }
  *got = nrows;
  return PMLS_OK;
}

int pmls_get_sparse_many(pmls_client *c, int table, int64_t n,
                         const int64_t *rows, int64_t *offsets, int32_t *keys,
                         void *vals, int64_t cap) {
  const pmi_table_meta *t = table_of(c, table);
  if (!t) return PMLS_EINVAL;
  if (n < 0) return pmi_fail(c->err, PMLS_EINVAL, "bad row count %lld", (long long)n);
  if (t->spec.layout != PMLS_SPARSE)
    return pmi_fail(c->err, PMLS_EINVAL, "table '%s' is dense: read many of its "
                    "rows with get_many", t->name);
  if (cap < 0) return pmi_fail(c->err, PMLS_EINVAL, "bad capacity %lld", (long long)cap);
  if (!offsets || (n > 0 && !rows) || (cap > 0 && (!keys || !vals)))
    return pmi_fail(c->err, PMLS_EINVAL, "missing array (rows, offsets, keys or "
                    "values)");
  for (int64_t i = 0; i < n; i++) {
    const pmi_table_meta *same;
    int bad = check_row(c, table, rows[i], &same);
    if (bad) return bad;
  }
  offsets[0] = 0;
  if (n == 0) return PMLS_OK;
  int worker = c->worker >= 0;
  int64_t min_clock = worker ? c->clock - bound_of(c, t) : 0;
  int servers = c->e->servers;
  size_t elem = pmls_dtype_size(t->spec.dtype);
  many_scratch *m = &c->many;
  sparse_scratch *sp = &c->sparse;
  if (pmi_grow((void **)&m->shard_of, &m->cap_rows, n, sizeof *m->shard_of) ||
      pmi_grow((void **)&m->order, &m->cap_order, n, sizeof *m->order) ||
      pmi_grow((void **)&m->start, &m->cap_start, servers + 1, sizeof *m->start) ||
      pmi_grow((void **)&m->received, &m->cap_received, servers, sizeof *m->received) ||
      pmi_grow((void **)&sp->at, &sp->cap_at, n, sizeof *sp->at) ||
      pmi_grow((void **)&sp->n, &sp->cap_n, n, sizeof *sp->n))
    return pmi_fail(c->err, PMLS_ENOMEM, "out of memory for a many-row read");
  sp->used = 0;
  /* The rows grouped by shard, in the order asked (a counting sort). */
  for (int s = 0; s <= servers; s++) m->start[s] = 0;
  for (int64_t i = 0; i < n; i++) {
    m->shard_of[i] = pmi_shard_of(c->e, table, rows[i]);
    m->start[m->shard_of[i] + 1]++;
  }
  for (int s = 0; s < servers; s++) m->start[s + 1] += m->start[s];
  for (int64_t i = 0; i < n; i++) m->order[m->start[m->shard_of[i]]++] = i;
  for (int s = servers; s > 0; s--) m->start[s] = m->start[s - 1];
  m->start[0] = 0;
  piece_args a = {table, t, rows};
  int rc = pmi_gets_many(c, table, t, rows, n, min_clock, 0, take_piece, &a);
  if (rc) return rc;
  for (int64_t i = 0; i < n; i++) offsets[i + 1] = offsets[i] + sp->n[i];
  if (offsets[n] > cap)
    return pmi_fail(c->err, PMLS_EINVAL, "the %lld rows hold %lld pairs, more "
                    "than the capacity %lld given", (long long)n,
                    (long long)offsets[n], (long long)cap);
  for (int64_t i = 0; i < n; i++) {
    if (sp->n[i] == 0) continue;
    memcpy(keys + offsets[i], sp->keys + sp->at[i], (size_t)sp->n[i] * 4);
    memcpy((unsigned char *)vals + (size_t)offsets[i] * elem,
           sp->vals + (size_t)sp->at[i] * elem, (size_t)sp->n[i] * elem);
  }
  return PMLS_OK;
}
