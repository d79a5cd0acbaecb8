/* server.c -- a server shard: one thread that owns the rows hashed to it.
 *
 * It is the authority on clocks. Every worker's clock() reaches every shard
 * as a CLOCK message on the same pipe as that worker's increments, after
 * them, so when the shard has seen clock k from every worker it holds every
 * update made before clock k: the minimum over the vector clock (the global
 * clock) is the clock of any row copy it sends. Reads (reads.c) ask for a
 * minimum clock and are answered or parked against it. Shard 0 also
 * combines the per-clock reports of the workers into metrics, since it sees
 * every CLOCK anyway.
 *
 * Everything arrives through one PULL socket; replies go out through a PUSH
 * socket per client, connected when the client says HELLO. Bad requests (a
 * table id or row this shard does not know) are answered with an ERR that
 * names them, never applied. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server_state.h"
#include "../metrics/metrics.h"

/* ---- replies ------------------------------------------------------------- */

/* Replies wait for a slow client up to the timeout, but not for one whose
 * process is known to be dead: the shard must go on serving the others.
 * Once the job is dead nothing is sent at all: its clients are closing
 * without waiting for answers, and nanomsg can crash sending over inproc
 * to a socket that is being closed (engine_test's out-of-sockets case: an
 * ACK to a BYE after another shard aborted the job, 1 run in 20). */
void srv_send_to(pmi_server *s, int client) {
  if (client < 0 || client >= s->nclients || s->reply_sock[client] < 0) return;
  if (atomic_load(&s->e->dead)) return;
  char peer[48];
  snprintf(peer, sizeof peer, "client %d", client);
  pmi_traffic sent = {0};
  int rc = pmi_msg_send_until(s->reply_sock[client], &s->out, &sent, peer,
                              s->err, s->e->cfg.timeout_ms, &s->e->dead);
  pthread_mutex_lock(&s->traffic_mu);
  s->traffic.messages_sent += sent.messages_sent;
  s->traffic.bytes_sent += sent.bytes_sent;
  pthread_mutex_unlock(&s->traffic_mu);
  if (rc != PMLS_OK && !s->e->cfg.quiet && !atomic_load(&s->e->dead))
    fprintf(stderr, "pmls: %s: %s\n", s->name, s->err);
}

void srv_reply_err(pmi_server *s, int client, uint32_t req, int code,
                      const char *msg) {
  pmi_msg_begin(&s->out, s->e->job, PMI_MSG_ERR, -1);
  pmi_put_u32(&s->out, req);
  pmi_put_i32(&s->out, code);
  char full[PMI_ERRLEN + 64];
  snprintf(full, sizeof full, "%s: %s", s->name, msg);
  if (client < 0 || client >= s->nclients || s->reply_sock[client] < 0) {
    /* No one to answer: the error must still show somewhere. */
    fprintf(stderr, "pmls: %s: cannot answer client %d (no HELLO from it): "
            "%s\n", s->name, client, msg);
    return;
  }
  pmi_put_str(&s->out, full);
  srv_send_to(s, client);
}

void srv_reply_ack(pmi_server *s, int client, int what) {
  pmi_msg_begin(&s->out, s->e->job, PMI_MSG_ACK, -1);
  pmi_put_i32(&s->out, what);
  srv_send_to(s, client);
}

/* The clock a copy sent now is "at": every update before it is included. */
int64_t srv_copy_clock(const pmi_server *s) {
  return s->global_clock == INT64_MAX ? s->max_clock : s->global_clock;
}

void *srv_row_storage(pmi_server *s, int table, int64_t row) {
  srv_table *t = &s->tables[table];
  void *p = pmi_rowmap_get(&t->rows, row);
  if (p) return p;
  if (t->spec.layout == PMLS_SPARSE) {
    pmi_kv *kv = malloc(sizeof *kv);
    if (!kv) return NULL;
    pmi_kv_init(kv, t->spec.dtype);
    p = kv;
  } else {
    p = malloc((size_t)t->spec.cols * pmls_dtype_size(t->spec.dtype));
    if (!p) return NULL;
    pmi_row_init(&t->spec, s->e->cfg.seed, table, row, p);
  }
  pmi_rowmap_for_table(&t->rows, &t->spec);
  if (pmi_rowmap_put(&t->rows, row, p)) {
    if (t->spec.layout == PMLS_SPARSE) pmi_kv_free(p);
    free(p);
    return NULL;
  }
  return p;
}


int srv_check_row(pmi_server *s, int table, int64_t row, char *why,
                     size_t whylen) {
  if (table < 0 || table >= PMI_MAX_TABLES || !s->tables[table].declared) {
    snprintf(why, whylen, "unknown table id %d", table);
    return -1;
  }
  srv_table *t = &s->tables[table];
  if (row < 0 || row >= t->spec.rows) {
    snprintf(why, whylen, "row %lld out of range for table '%s' (rows 0..%lld)",
             (long long)row, t->name, (long long)t->spec.rows - 1);
    return -1;
  }
  if (pmi_shard_of(s->e, table, row) != s->shard) {
    snprintf(why, whylen, "row %lld of table '%s' belongs to another shard",
             (long long)row, t->name);
    return -1;
  }
  return 0;
}

/* ---- handlers ------------------------------------------------------------ */

static void advance_clock(pmi_server *s);

static void on_hello(pmi_server *s, const pmi_hdr *h, pmi_rd *rd) {
  char addr[PMI_ADDR_MAX], feed[PMI_ADDR_MAX];
  pmi_get_str(rd, addr, sizeof addr);
  int rank = pmi_get_i32(rd), lo = pmi_get_i32(rd), n = pmi_get_i32(rd);
  pmi_get_str(rd, feed, sizeof feed);
  if (rd->bad || h->src < 0 || h->src > 1 << 20 || rank < 0 ||
      rank >= s->e->procs || lo < 0 || n < 0 || lo > s->e->workers - n) {
    fprintf(stderr, "pmls: %s: dropped a malformed HELLO from client %d\n",
            s->name, h->src);
    return;
  }
  if (h->src >= s->nclients) {
    int cap = h->src + 16;
    int *p = realloc(s->reply_sock, (size_t)cap * sizeof *p);
    if (!p) return;
    s->reply_sock = p;
    int *r = realloc(s->client_rank, (size_t)cap * sizeof *r);
    if (!r) return;
    s->client_rank = r;
    int64_t *q = realloc(s->last_seq, (size_t)cap * sizeof *q);
    if (!q) return;
    s->last_seq = q;
    for (int i = s->nclients; i < cap; i++) {
      p[i] = -1;
      r[i] = -1;
      q[i] = 0;
    }
    s->nclients = cap;
  }
  pmi_sock_close(s->reply_sock[h->src]);
  int timeout = s->e->cfg.timeout_ms;
  s->reply_sock[h->src] = pmi_sock_push(addr, pmi_send_slice(timeout), s->err);
  if (s->reply_sock[h->src] < 0 && errno != EMFILE && errno != ENFILE) {
    /* A bad address: a forged HELLO must not end the job. */
    fprintf(stderr, "pmls: %s: cannot answer client %d: %s\n", s->name,
            h->src, s->err);
  } else if (s->reply_sock[h->src] < 0) {
    /* Out of sockets or descriptors: the client would wait for ever, so
     * the run cannot go on. */
    char why[PMI_ERRLEN + 64];
    snprintf(why, sizeof why, "%s: cannot answer client %d: %s", s->name,
             h->src, s->err);
    pmi_proc_abort(s->e, PMLS_ENET, why);
  }
  s->client_rank[h->src] = rank;
  /* A worker that said BYE in an earlier run is back: from now on it holds
   * the global clock back again, at the clock it left with. */
  if (h->src < s->e->workers && s->done[h->src]) {
    s->done[h->src] = 0;
    advance_clock(s);
  }
  if (s->feed_sock[rank] < 0 && feed[0]) {
    /* Pushes are offers: a receiver that is slow or gone must not hold
     * this shard up, so the wait for it is short. */
    s->feed_sock[rank] = pmi_sock_push(feed, 100, s->err);
    s->feed_lo[rank] = lo;
    s->feed_n[rank] = n;
  }
}

static void on_table(pmi_server *s, const pmi_hdr *h, pmi_rd *rd) {
  int id = pmi_get_i32(rd);
  pmls_table_spec spec;
  memset(&spec, 0, sizeof spec);
  spec.rows = pmi_get_i64(rd);
  spec.cols = pmi_get_i32(rd);
  spec.dtype = (pmls_dtype)pmi_get_i32(rd);
  spec.layout = (pmls_layout)pmi_get_i32(rd);
  spec.staleness = pmi_get_i32(rd);
  spec.init = pmi_get_i32(rd);
  spec.init_scale = pmi_get_f64(rd);
  spec.consistency = pmi_get_i32(rd);
  char name[PMI_NAME_MAX];
  pmi_get_str(rd, name, sizeof name);
  if (rd->bad || id < 0 || id >= PMI_MAX_TABLES) {
    srv_reply_err(s, h->src, 0, PMLS_EPROTO, "malformed TABLE message");
    return;
  }
  char why[256];
  if (pmi_table_spec_check(&spec, s->e->workers, why, sizeof why)) {
    char msg[320];
    snprintf(msg, sizeof msg, "TABLE %d refused: %s", id, why);
    srv_reply_err(s, h->src, 0, PMLS_EINVAL, msg);
    return;
  }
  srv_table *t = &s->tables[id];
  int model = spec.consistency >= 0 ? spec.consistency : s->e->cfg.consistency;
  /* Every process declares the tables its script declares; they must agree,
   * or the ranks run different scripts or options. */
  if (t->declared) {
    if (strcmp(t->name, name) != 0 || !pmi_table_spec_same(&t->spec, &spec)) {
      snprintf(why, sizeof why, "table %d is '%s' here, but client %d "
               "declares it as '%s' with another shape (every process must "
               "run the same script with the same options)", id, t->name,
               h->src, name);
      srv_reply_err(s, h->src, 0, PMLS_EINVAL, why);
      return;
    }
    srv_reply_ack(s, h->src, PMI_MSG_TABLE);
    return;
  }
  /* Rows of the table may now arrive here, in OPLOG and INIT messages. */
  pmi_net_allow(pmi_msg_bound_row(pmi_table_row_max(&spec), s->e->workers));
  t->spec = spec;
  snprintf(t->name, sizeof t->name, "%s", name);
  pmi_rowmap_init(&t->rows);
  pmi_rowmap_init(&t->subs);
  t->essp = model == PMLS_ESSP && spec.layout == PMLS_DENSE;
  t->declared = 1;
  srv_reply_ack(s, h->src, PMI_MSG_TABLE);
}
/* Checks the OPLOG entry at rd and steps past it. Returns 0, or the error
 * code with why filled (a bad entry may leave rd anywhere). */
static int check_entry(pmi_server *s, pmi_rd *rd, char *why, size_t whylen) {
  int table = pmi_get_i32(rd);
  int64_t row = pmi_get_i64(rd);
  int kind = pmi_get_u8(rd);
  int32_t n = pmi_get_i32(rd);
  if (rd->bad || n < 0 || (kind != 0 && kind != 1)) {
    snprintf(why, whylen, "malformed OPLOG message (entry kind %d, %d "
             "elements)", kind, n);
    return PMLS_EPROTO;
  }
  if (srv_check_row(s, table, row, why, whylen)) return PMLS_EINVAL;
  srv_table *t = &s->tables[table];
  size_t elem = pmls_dtype_size(t->spec.dtype);
  if (kind == 0) {
    if (n != t->spec.cols || t->spec.layout != PMLS_DENSE ||
        !pmi_get_bytes(rd, (size_t)n * elem)) {
      snprintf(why, whylen, "malformed OPLOG message (a dense entry of %d "
               "elements for row %lld of table '%s')", n, (long long)row,
               t->name);
      return PMLS_EPROTO;
    }
    return 0;
  }
  const int32_t *cols = pmi_get_bytes(rd, (size_t)n * 4);
  if (!cols || !pmi_get_bytes(rd, (size_t)n * elem)) {
    snprintf(why, whylen, "malformed OPLOG message (%d pairs past its end "
             "for row %lld of table '%s')", n, (long long)row, t->name);
    return PMLS_EPROTO;
  }
  for (int32_t i = 0; i < n; i++) {
    int32_t col;
    memcpy(&col, cols + i, sizeof col);
    if (col < 0 || col >= t->spec.cols) {
      snprintf(why, whylen, "increment to column %d out of range for table "
               "'%s' (cols 0..%d) refused", col, t->name, t->spec.cols - 1);
      return PMLS_EINVAL;
    }
  }
  return 0;
}

/* Applies a checked entry. */
static void apply_entry(pmi_server *s, pmi_rd *rd) {
  int table = pmi_get_i32(rd);
  int64_t row = pmi_get_i64(rd);
  int kind = pmi_get_u8(rd);
  int32_t n = pmi_get_i32(rd);
  srv_table *t = &s->tables[table];
  size_t elem = pmls_dtype_size(t->spec.dtype);
  void *p = srv_row_storage(s, table, row);
  if (kind == 0) {
    const void *delta = pmi_get_bytes(rd, (size_t)n * elem);
    if (p) pmi_add(t->spec.dtype, p, delta, n);
    return;
  }
  const int32_t *cols = pmi_get_bytes(rd, (size_t)n * 4);
  const unsigned char *vals = pmi_get_bytes(rd, (size_t)n * elem);
  if (p && t->spec.layout == PMLS_DENSE) { /* columns checked in range */
    pmi_add_pairs(t->spec.dtype, p, cols, vals, n);
    return;
  }
  for (int32_t i = 0; p && i < n; i++) {
    int32_t col;
    memcpy(&col, cols + i, sizeof col);
    void *slot = pmi_kv_slot(p, col);
    if (slot) pmi_add(t->spec.dtype, slot, vals + (size_t)i * elem, 1);
  }
}

/* An OPLOG is applied whole or not at all: every entry is checked first, so
 * a refusal never leaves part of a message applied. */
static void on_oplog(pmi_server *s, const pmi_hdr *h, pmi_rd *rd) {
  char why[256];
  int64_t seq = pmi_get_i64(rd);
  if (rd->bad) {
    srv_reply_err(s, h->src, 0, PMLS_EPROTO, "malformed OPLOG message");
    return;
  }
  if (h->src >= 0 && h->src < s->nclients && seq > s->last_seq[h->src])
    s->last_seq[h->src] = seq;
  pmi_rd check = *rd;
  int entries = 0;
  while (pmi_rd_left(&check) > 0) {
    int code = check_entry(s, &check, why, sizeof why);
    if (code) {
      char msg[400];
      snprintf(msg, sizeof msg, "increment refused: %s (none of the %d+ "
               "entries of this OPLOG applied)", why, entries + 1);
      srv_reply_err(s, h->src, 0, code, msg);
      return;
    }
    entries++;
  }
  while (pmi_rd_left(rd) > 0) apply_entry(s, rd);
}

/* A row's first value: applied only to a row nothing has reached yet (no
 * read, increment or earlier INIT made it), so that every process's setup
 * may send the same one and none overwrites what workers added since. */
static void on_init(pmi_server *s, const pmi_hdr *h, pmi_rd *rd) {
  char why[256];
  int table = pmi_get_i32(rd);
  int64_t row = pmi_get_i64(rd);
  if (rd->bad) {
    srv_reply_err(s, h->src, 0, PMLS_EPROTO, "malformed INIT message");
    return;
  }
  if (s->aborted) return;
  if (srv_check_row(s, table, row, why, sizeof why)) {
    srv_reply_err(s, h->src, 0, PMLS_EINVAL, why);
    return;
  }
  srv_table *t = &s->tables[table];
  size_t bytes = (size_t)t->spec.cols * pmls_dtype_size(t->spec.dtype);
  const void *values = pmi_get_bytes(rd, bytes);
  if (t->spec.layout != PMLS_DENSE || !values || pmi_rd_left(rd) != 0) {
    snprintf(why, sizeof why, "malformed INIT message (row %lld of table '%s' "
             "needs %d dense elements)", (long long)row, t->name, t->spec.cols);
    srv_reply_err(s, h->src, 0, PMLS_EPROTO, why);
    return;
  }
  if (pmi_rowmap_get(&t->rows, row)) return; /* touched already: keep it */
  void *p = srv_row_storage(s, table, row);
  if (!p) {
    srv_reply_err(s, h->src, 0, PMLS_ENOMEM, "out of memory for a row");
    return;
  }
  memcpy(p, values, bytes);
}


static void advance_clock(pmi_server *s) {
  int64_t g = INT64_MAX;
  for (int w = 0; w < s->e->workers; w++)
    if (!s->done[w] && s->vclock[w] < g) g = s->vclock[w];
  if (g == s->global_clock) return;
  int64_t upto = g == INT64_MAX ? s->max_clock : g;
  if (s->shard == 0 && s->e->metrics) {
    int64_t from = s->global_clock == INT64_MAX ? upto : s->global_clock;
    for (int64_t k = from + 1; k <= upto; k++)
      pmi_metrics_complete(s->e->metrics, k);
  }
  s->global_clock = g;
  srv_serve_pending(s);
  srv_push_fresh(s);
}

/* Metric names go into the metrics JSON as keys: pmls_report's safe set. */
static int report_name_ok(const char *name) {
  if (!name[0]) return 0;
  for (const char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
      return 0;
  return 1;
}

/* A worker's clock() calls reach a shard in order on one pipe, numbered
 * from its first (or, for a worker that rejoins, from where its last client
 * stopped) by one: a CLOCK that is not the worker's previous one plus one
 * is no clock of that worker. Refusing it is also what bounds everything a
 * clock sizes: advance_clock's catch-up loop and the metrics slots can
 * never be ahead of the CLOCK messages the shard received. The message is
 * checked whole (reports too) before any of it is used. */
static void on_clock(pmi_server *s, const pmi_hdr *h, pmi_rd *rd) {
  int64_t clock = pmi_get_i64(rd);
  uint32_t nrep = pmi_get_u32(rd);
  int w = h->src;
  char why[160];
  if (rd->bad || w < 0 || w >= s->e->workers || nrep > PMI_MAX_REPORTS ||
      nrep > pmi_rd_left(rd) / 10) {
    snprintf(why, sizeof why, "malformed CLOCK message from client %d", w);
    pmi_msg_dropped(&s->e->dropped, s->name, why);
    return;
  }
  if (clock != s->vclock[w] + 1) {
    snprintf(why, sizeof why, "CLOCK %lld from worker %d, whose last clock "
             "here is %lld", (long long)clock, w, (long long)s->vclock[w]);
    pmi_msg_dropped(&s->e->dropped, s->name, why);
    return;
  }
  pmi_rd check = *rd;
  for (uint32_t i = 0; i < nrep && !check.bad; i++) {
    char name[PMI_NAME_MAX];
    pmi_get_str(&check, name, sizeof name);
    pmi_get_f64(&check);
    if (!check.bad && !report_name_ok(name)) check.bad = 1;
  }
  if (check.bad || pmi_rd_left(&check) != 0) {
    snprintf(why, sizeof why, "malformed reports in CLOCK %lld from worker %d",
             (long long)clock, w);
    pmi_msg_dropped(&s->e->dropped, s->name, why);
    return;
  }
  for (uint32_t i = 0; i < nrep; i++) {
    char name[PMI_NAME_MAX];
    pmi_get_str(rd, name, sizeof name);
    double v = pmi_get_f64(rd);
    if (s->shard == 0 && s->e->metrics)
      pmi_metrics_report(s->e->metrics, clock, name, v);
  }
  s->vclock[w] = clock;
  if (clock > s->max_clock) s->max_clock = clock;
  advance_clock(s);
}

static void on_bye(pmi_server *s, const pmi_hdr *h) {
  if (h->src >= 0 && h->src < s->e->workers) {
    s->done[h->src] = 1;
    advance_clock(s);
  }
  srv_reply_ack(s, h->src, PMI_MSG_BYE);
  /* A closed client reads nothing more: answering its parked reads would
   * block this shard on a send to nobody. Its ACK was sent above; the socket
   * stays open (nanomsg may still be delivering it) but is never used again. */
  srv_drop_pending(s, h->src);
}

static void on_wait(pmi_server *s, const pmi_hdr *h, pmi_rd *rd) {
  int64_t k = pmi_get_i64(rd);
  if (rd->bad) {
    srv_reply_err(s, h->src, 0, PMLS_EPROTO, "malformed WAIT message");
    return;
  }
  srv_park(s, (pending_get){h->src, 0, -1, 0, k, 0, 0, NULL, 0});
  srv_serve_pending(s);
}

static void on_abort(pmi_server *s, pmi_rd *rd) {
  char why[PMI_ERRLEN - 32];
  pmi_get_str(rd, why, sizeof why);
  if (!s->aborted) {
    s->aborted = 1;
    snprintf(s->abort_msg, sizeof s->abort_msg, "run aborted: %s", why);
  }
  srv_serve_pending(s);
}

/* ---- the loop ------------------------------------------------------------ */

int pmi_server_handle(pmi_server *s, const void *msg, size_t len) {
  pmi_hdr h;
  pmi_rd rd;
  if (pmi_msg_open(msg, len, s->e->job, &h, &rd, s->err) != PMLS_OK) {
    /* The sender is unknown or untrusted, so there is no one to answer. */
    pmi_msg_dropped(&s->e->dropped, s->name, s->err);
    return 0;
  }
  switch (h.type) {
  case PMI_MSG_HELLO: on_hello(s, &h, &rd); break;
  case PMI_MSG_TABLE: on_table(s, &h, &rd); break;
  case PMI_MSG_GET: srv_on_get(s, &h, &rd); break;
  case PMI_MSG_GETS: srv_on_gets(s, &h, &rd); break;
  case PMI_MSG_OPLOG: on_oplog(s, &h, &rd); break;
  case PMI_MSG_CLOCK: on_clock(s, &h, &rd); break;
  case PMI_MSG_BYE: on_bye(s, &h); break;
  case PMI_MSG_ABORT: on_abort(s, &rd); break;
  case PMI_MSG_WAIT: on_wait(s, &h, &rd); break;
  case PMI_MSG_INIT: on_init(s, &h, &rd); break;
  case PMI_MSG_STOP: return 1;
  default: {
    /* Not a message a shard is sent: an ERR to its claimed sender would
     * let anyone fail that client. */
    char why[80];
    snprintf(why, sizeof why, "unexpected %s message from client %d",
             pmi_msg_type_name(h.type), h.src);
    pmi_msg_dropped(&s->e->dropped, s->name, why);
  }
  }
  return 0;
}

static void *server_main(void *arg) {
  pmi_server *s = arg;
  for (;;) {
    void *msg;
    size_t len;
    pmi_traffic rx = {0};
    int rc = pmi_msg_recv(s->pull, &msg, &len, &rx, s->err);
    if (rc == PMLS_ETIMEDOUT) {
      if (atomic_load(&s->stop_asked)) break;
      continue;
    }
    if (rc != PMLS_OK) {
      fprintf(stderr, "pmls: %s: %s\n", s->name, s->err);
      break;
    }
    pthread_mutex_lock(&s->traffic_mu);
    s->traffic.messages_received += rx.messages_received;
    s->traffic.bytes_received += rx.bytes_received;
    pthread_mutex_unlock(&s->traffic_mu);
    int stop = pmi_server_handle(s, msg, len);
    pmi_msg_free(msg);
    if (stop) break;
  }
  return NULL;
}

pmi_server *pmi_server_new(pmls_engine *e, int shard, char *err) {
  pmi_server *s = calloc(1, sizeof *s);
  if (!s) {
    pmi_fail(err, PMLS_ENOMEM, "out of memory for a server");
    return NULL;
  }
  s->e = e;
  s->shard = shard;
  s->pull = -1;
  /* a reply goes to one client: nanomsg takes its memory, no copy */
  pmi_msg_reply_buf_init(&s->out);
  snprintf(s->name, sizeof s->name, "server %d", shard);
  snprintf(s->addr, sizeof s->addr, "%s", e->server_addr[shard]);
  s->vclock = calloc((size_t)e->workers, sizeof *s->vclock);
  s->done = calloc((size_t)e->workers, 1);
  s->feed_sock = malloc((size_t)e->procs * sizeof *s->feed_sock);
  s->feed_lo = calloc((size_t)e->procs, sizeof *s->feed_lo);
  s->feed_n = calloc((size_t)e->procs, sizeof *s->feed_n);
  for (int r = 0; s->feed_sock && r < e->procs; r++) s->feed_sock[r] = -1;
  pthread_mutex_init(&s->traffic_mu, NULL);
  /* a resumed run's workers go on from the snapshot's clock */
  for (int w = 0; s->vclock && w < e->workers; w++) s->vclock[w] = e->cfg.start_clock;
  s->global_clock = s->max_clock = e->cfg.start_clock;
  if (!s->vclock || !s->done || !s->feed_sock || !s->feed_lo || !s->feed_n) {
    pmi_server_free(s);
    pmi_fail(err, PMLS_ENOMEM, "out of memory for a server");
    return NULL;
  }
  return s;
}

int pmi_server_start(pmls_engine *e, int shard, int sock, pmi_server **out,
                     char *err) {
  pmi_server *s = pmi_server_new(e, shard, err);
  if (!s) return PMLS_ENOMEM;
  s->pull = sock;
  if (pthread_create(&s->thread, NULL, server_main, s)) {
    s->pull = -1; /* the caller's still */
    pmi_server_free(s);
    return pmi_fail(err, PMLS_ENOMEM, "cannot start the server thread");
  }
  *out = s;
  return PMLS_OK;
}

void pmi_server_ask_stop(pmi_server *s) { atomic_store(&s->stop_asked, 1); }

void pmi_server_join(pmi_server *s) {
  pthread_join(s->thread, NULL);
  pmi_server_free(s);
}

void pmi_server_free(pmi_server *s) {
  pmi_sock_close(s->pull);
  for (int i = 0; i < s->nclients; i++) pmi_sock_close(s->reply_sock[i]);
  free(s->reply_sock);
  free(s->client_rank);
  free(s->last_seq);
  for (int r = 0; s->feed_sock && r < s->e->procs; r++)
    pmi_sock_close(s->feed_sock[r]);
  free(s->feed_sock);
  free(s->feed_lo);
  free(s->feed_n);
  for (int t = 0; t < PMI_MAX_TABLES; t++) {
    srv_table *tb = &s->tables[t];
    if (!tb->declared) continue;
    size_t at = 0;
    int64_t row;
    void **slot;
    while ((slot = pmi_rowmap_next(&tb->rows, &at, &row))) {
      if (tb->spec.layout == PMLS_SPARSE && *slot) pmi_kv_free(*slot);
      free(*slot);
    }
    pmi_rowmap_free(&tb->rows);
    at = 0;
    while ((slot = pmi_rowmap_next(&tb->subs, &at, &row))) free(*slot);
    pmi_rowmap_free(&tb->subs);
  }
  for (size_t i = 0; i < s->npending; i++) free(s->pending[i].rows);
  free(s->pending);
  free(s->vclock);
  free(s->done);
  pmi_buf_free(&s->out);
  pthread_mutex_destroy(&s->traffic_mu);
  free(s);
}

void pmi_server_traffic(pmi_server *s, pmi_traffic *sum) {
  pthread_mutex_lock(&s->traffic_mu);
  sum->messages_sent += s->traffic.messages_sent;
  sum->bytes_sent += s->traffic.bytes_sent;
  sum->messages_received += s->traffic.messages_received;
  sum->bytes_received += s->traffic.bytes_received;
  pthread_mutex_unlock(&s->traffic_mu);
}
