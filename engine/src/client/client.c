/* client.c -- the handle a thread uses to read and increment rows: its
 * life (open: HELLO to every shard; close: flush, BYE, acknowledged), its
 * clocks, reports, barrier and abort, and the engine's table declarations.
 *
 * clock() sends the oplog to every shard and then a CLOCK message on the
 * same pipes, so a shard always holds a worker's increments before the
 * clock that closes them; that ordering is what lets a shard stamp a row
 * copy with the global clock. The oplog is per client (not per process) on
 * purpose: if another thread flushed this worker's increments, they could
 * reach a shard after this worker's CLOCK and the copy's clock would be a
 * lie. Reads and increments are in rows.c, the oplog and sending in
 * oplog.c; client_state.h is the client's inside they share. */
#include "client_state.h"
#include "../metrics/metrics.h"

pmls_engine *pmi_client_engine(pmls_client *c) { return c->e; }
char *pmi_client_errbuf(pmls_client *c) { return c->err; }

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
  for (int s = 0; s < e->servers; s++) {
    c->push[s] = -1;
    pmi_msg_buf_init(&c->batch[s]); /* sent once each: handed to nanomsg */
  }
  if (worker >= 0) c->clock = e->cfg.start_clock; /* a resumed run's */
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
  /* Every socket first, then the HELLOs: a shard told of this client
   * connects back to c->addr, and closing that inproc endpoint while a
   * shard connects to it trips nanomsg's asserts, so once a HELLO is out
   * the open must not fail for want of a socket. */
  for (int s = 0; s < e->servers; s++) {
    c->push[s] = pmi_sock_push(e->server_addr[s],
                               pmi_send_slice(e->cfg.timeout_ms), e->err);
    if (c->push[s] < 0) goto fail;
  }
  for (int s = 0; s < e->servers; s++) {
    pmi_msg_begin(&c->out, e->job, PMI_MSG_HELLO, id);
    pmi_put_str(&c->out, c->addr);
    pmi_put_i32(&c->out, e->rank);
    pmi_put_i32(&c->out, e->first_worker);
    pmi_put_i32(&c->out, e->local_workers);
    pmi_put_str(&c->out, e->feed_addr);
    rc = pmi_client_send(c, s, &c->out);
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
    rc = pmi_client_send(c, s, &c->out);
  }
  for (int s = 0; rejoin && s < e->servers && rc == PMLS_OK; s++) {
    void *msg;
    pmi_rd rd;
    rc = pmi_client_await(c, 0, PMI_MSG_ACK, "the servers to take a worker back", &msg, &rd);
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
  int rc = atomic_load(&e->dead) ? PMLS_OK : pmi_oplog_flush(c);
  /* BYE is acknowledged by every shard, so when close returns every increment
   * of this client has been applied (nanomsg cannot be trusted to deliver
   * what is still queued when a socket closes). */
  for (int s = 0; s < e->servers && rc == PMLS_OK; s++) {
    pmi_msg_begin(&c->out, e->job, PMI_MSG_BYE, c->id);
    rc = pmi_client_send(c, s, &c->out);
  }
  for (int s = 0; s < e->servers && rc == PMLS_OK; s++) {
    void *msg;
    pmi_rd rd;
    rc = pmi_client_await(c, 0, PMI_MSG_ACK, "the servers to acknowledge close", &msg, &rd);
    if (rc == PMLS_OK) pmi_msg_free(msg);
  }
  if (rc == PMLS_OK && c->failed) rc = PMLS_EINVAL;
  if (rc == PMLS_OK && atomic_load(&e->dead))
    rc = pmi_client_aborted(c);
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
  int workers_left = 0;
  if (c->worker >= 0) {
    int local = c->worker - e->first_worker;
    /* ran: a later client of this worker rejoins (see open), unless its
     * position is lost; then it is refused, as clocks cannot restart */
    e->worker_taken[local] =
        pmi_cache_save_position(e->cache, local, c->clock, e->servers,
                                c->shard_seq) ? 3 : 2;
    for (int w = 0; w < e->local_workers; w++) workers_left += e->worker_taken[w] == 1;
  }
  if (rc != PMLS_OK) snprintf(e->err, sizeof e->err, "%s", c->err);
  pthread_mutex_unlock(&e->mu);
  for (int t = 0; t < PMI_MAX_TABLES; t++) {
    pmi_rowmap *m = &c->oplog[t];
    size_t at = 0;
    int64_t row;
    void **slot;
    while ((slot = pmi_rowmap_next(m, &at, &row))) /* unsent: the job died */
      if (*slot) pmi_client_drop_delta(c, t, &e->tables[t], pmi_oplog_data(*slot));
    pmi_rowmap_free(m);
    free(c->order[t].items);
    pmi_hist_drop(c, t, INT64_MAX, INT64_MAX);
    pmi_rowmap_free(&c->hist[t]);
    for (int i = 0; i < c->spare[t].n; i++) free(c->spare[t].items[i]);
    free(c->spare[t].items);
  }
  pmi_views_free(c);
  /* The last worker of the process is done: its cached copies go (finish
   * and the next run read what they need), so they do not add to finish's
   * memory. */
  if (c->worker >= 0 && workers_left == 0) pmi_cache_drop_rows(e->cache);
  while (c->free_hist.n) free(c->free_hist.items[--c->free_hist.n]);
  free(c->free_hist.items);
  for (int s = 0; s < e->servers; s++) pmi_buf_free(&c->batch[s]);
  free(c->batch);
  free(c->shard_seq);
  free(c->stamps);
  free(c->acc);
  free(c->stale_sent);
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

/* ---- clocks, reports, abort ---------------------------------------------- */

int pmls_report(pmls_client *c, const char *name, double value) {
  size_t len = name ? strlen(name) : 0;
  int ok = len > 0 && len < PMI_NAME_MAX;
  for (size_t i = 0; ok && i < len; i++) {
    char ch = name[i];
    ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.';
  }
  /* Names go into the metrics JSON as keys, so they are kept to a safe set;
   * the staleness histogram's are the engine's own (add_stale_reports). */
  if (ok && strncmp(name, PMI_STALE_PREFIX, strlen(PMI_STALE_PREFIX)) == 0) ok = 0;
  if (!ok)
    return pmi_fail(c->err, PMLS_EINVAL, "bad metric name '%s' (1..%d letters, "
                    "digits, '_', '-' or '.')", name ? name : "", PMI_NAME_MAX - 1);
  /* A NaN or infinite value fails here, and is kept all the same: the
   * metrics then fail the run at its end even if the caller ignores this
   * (on rank 0 for a final value; at shard 0 for a worker's, whatever its
   * rank). The clock is the one the value will be sent with. */
  int bad = pmi_metrics_check(c->err, name, value,
                              c->worker < 0 ? -1 : c->clock + 1);
  if (c->worker < 0) {
    pmi_metrics_set_final(c->e->metrics, name, value); /* has its own lock */
    return bad;
  }
  for (int i = 0; i < c->nreports; i++) {
    if (strcmp(c->reports[i].name, name) == 0) {
      c->reports[i].value = value; /* the last value of a clock counts */
      return bad;
    }
  }
  if (c->nreports == MAX_REPORTS)
    return pmi_fail(c->err, PMLS_EINVAL, "too many metrics in one clock "
                    "(at most %d)", MAX_REPORTS);
  snprintf(c->reports[c->nreports].name, PMI_NAME_MAX, "%s", name);
  c->reports[c->nreports++].value = value;
  return bad;
}

/* The clock's staleness histogram, per table and bucket read in it, as
 * reports for shard 0's metrics (PMI_STALE_PREFIX "T.B" = count). With no
 * room left among the reports, that clock's histogram is not sent. */
static void add_stale_reports(pmls_client *c) {
  if (!c->stale_sent) c->stale_sent = calloc(PMI_MAX_TABLES, sizeof *c->stale_sent);
  if (!c->stale_sent) return;
  int ntables = pmi_engine_ntables(c->e), need = 0;
  for (int t = 0; t < ntables; t++)
    for (int b = 0; b < PMI_STALE_BUCKETS; b++) need += c->acc[t].stale_hist[b] != c->stale_sent[t][b];
  int room = need <= MAX_REPORTS - c->nreports;
  for (int t = 0; t < ntables; t++)
    for (int b = 0; b < PMI_STALE_BUCKETS; b++) {
      int64_t d = c->acc[t].stale_hist[b] - c->stale_sent[t][b];
      c->stale_sent[t][b] = c->acc[t].stale_hist[b];
      if (!d || !room) continue;
      report *r = &c->reports[c->nreports++];
      snprintf(r->name, PMI_NAME_MAX, PMI_STALE_PREFIX "%d.%d", t, b);
      r->value = (double)d;
    }
}

int pmls_clock(pmls_client *c) {
  if (c->worker < 0)
    return pmi_fail(c->err, PMLS_ESTATE, "a host client does not take part "
                    "in clocks");
  if (c->failed) return PMLS_EINVAL;
  c->closing_clock = 1;
  int rc = pmi_oplog_flush(c);
  c->closing_clock = 0;
  pmi_views_release(c);
  if (rc) return rc;
  c->clock++;
  if (c->clock_reads > 0) {
    int have = 0;
    for (int i = 0; i < c->nreports; i++)
      have |= strcmp(c->reports[i].name, "staleness") == 0;
    if (!have) pmls_report(c, "staleness", c->clock_staleness / (double)c->clock_reads);
  }
  add_stale_reports(c);
  c->clock_reads = 0;
  c->clock_staleness = 0;
  int ntables = pmi_engine_ntables(c->e);
  for (int t = 0; t < ntables; t++)
    pmi_hist_drop(c, t, c->clock - bound_of(c, &c->e->tables[t]), INT64_MIN);
  for (int s = 0; s < c->e->servers; s++) {
    pmi_msg_begin(&c->out, c->e->job, PMI_MSG_CLOCK, c->id);
    pmi_put_i64(&c->out, c->clock);
    int nrep = s == 0 ? c->nreports : 0;
    pmi_put_u32(&c->out, (uint32_t)nrep);
    for (int i = 0; i < nrep; i++) {
      pmi_put_str(&c->out, c->reports[i].name);
      pmi_put_f64(&c->out, c->reports[i].value);
    }
    rc = pmi_client_send(c, s, &c->out);
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
    rc = pmi_client_send(c, s, &c->out);
  }
  for (int s = 0; s < c->e->servers && rc == PMLS_OK; s++) {
    void *msg;
    pmi_rd rd;
    rc = pmi_client_await(c, 0, PMI_MSG_ACK, "the other workers at a barrier", &msg, &rd);
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
    int r = pmi_client_send(c, s, &c->out);
    if (rc == PMLS_OK) rc = r;
  }
  return rc;
}


/* ---- control ------------------------------------------------------------- */

int pmi_client_declare_table(pmls_client *c, int id, const pmi_table_meta *t) {
  char why[PMI_ERRLEN];
  if (pmi_table_spec_check(&t->spec, c->e->workers, why, sizeof why))
    return pmi_fail(c->err, PMLS_EINVAL, "table '%s': %s", t->name, why);
  /* This process may receive the table's rows from now on (replies, pushes,
   * and at its shards increments from other processes). */
  pmi_net_allow(pmi_msg_bound_row(pmi_table_row_max(&t->spec), c->e->workers));
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
    int rc = pmi_client_send(c, s, &c->out);
    if (rc) return rc;
  }
  /* Every shard answers: take every answer, so none is left behind to be
   * mistaken for the answer to a later request; report the first error. */
  int first = PMLS_OK;
  for (int s = 0; s < c->e->servers; s++) {
    void *msg;
    pmi_rd rd;
    int rc = pmi_client_await(c, 0, PMI_MSG_ACK, "a table declaration", &msg, &rd);
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
