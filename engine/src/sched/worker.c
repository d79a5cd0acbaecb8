/* worker.c -- a worker's side of scheduled model parallelism: the handle a
 * worker thread opens on its client to take part in the rounds of the
 * scheduler nodes (pmls_rounds_open in pmls.h).
 *
 * The handle keeps a copy of the whole model. A ROUND's commits (and the
 * values its node broadcast) are applied only between pushes, in
 * pmls_round_next, never while a push runs, so a push sees one consistent
 * model; messages that arrive while an agnostic push polls for the end of
 * its round are held for the next pmls_round_next. Rounds come from K nodes
 * and are run in order: round t waits until the commits of every round up
 * to t - 1 - depth are in. The handle is apart from the client because it
 * is a different conversation (with the scheduler nodes, not the shards):
 * it takes the engine and the worker's id from the client when it opens
 * and never touches the client again, so the two close in either order.
 * A message the handle cannot use is dropped and counted, as on every other
 * socket, never the end of the job; a ROUND is checked whole before any of
 * its commits is applied. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "wire.h"
#include "../client/client.h"
#include "../proc/proc.h"
#include "../metrics/metrics.h"

/* Polls of pmls_round_over that find the round still running between two
 * yields of the thread. Agnostic pushes poll every few hundred updates; on
 * a machine with no core to spare, workers that never yield delay the
 * scheduler node's thread and so the end of the round they wait for (-p 2
 * on 2 cores ran 4x slower), while yielding at every poll hands too much
 * time to other processes. */
#define POLLS_PER_YIELD 16

typedef struct {
  void *msg;
  const unsigned char *payload;
  size_t len;    /* of the payload */
  size_t body;   /* where the round part starts, past commits and broadcast */
  int64_t round;
  int node;
} queued;

/* What one node broadcast last. */
typedef struct {
  double *values;
  int64_t n;
  int heard;
} received;

struct pmls_rounds {
  pmls_engine *e;
  int worker, K, width, extra, depth;
  int64_t nvars;
  int sock;
  int *push;
  double *model;
  queued *q;      /* ROUNDs whose commits are applied, waiting their turn */
  size_t nq, capq;
  /* Messages received during a push (while polling for ENDROUND): their
   * commits wait for the next pmls_round_next, so a push sees one model. */
  void **held;
  size_t *heldlen;
  size_t nheld, capheld, capheldlen;
  int64_t *through, *last;
  unsigned char *stopped;
  received *heard; /* per node */
  int64_t next_t, ended_round;
  int polls;       /* of pmls_round_over since the thread last yielded */
  /* the current round */
  int64_t round, n;
  int64_t *vars;
  size_t capvars;
  int nseg;
  int64_t *seg_lo, *seg_hi;
  int32_t *seg_row, *seg_col;
  size_t capseg;
  double *partial;
  size_t cappartial, nvalues;
  int agnostic, ready;
  int64_t staleness;
  /* commits applied since the last round, handed to the script (unless
   * it said it has no use for them: then they are only applied) */
  int keep_changes;
  int64_t nchanged;
  int64_t *changed;
  size_t capchanged;
  double *deltas;
  size_t capdeltas;
  pmi_buf out;
  pmi_traffic traffic;
  char err[PMI_ERRLEN];
};

const char *pmls_rounds_errmsg(const pmls_rounds *r) { return r->err; }

int pmls_rounds_keep_changes(pmls_rounds *r, int keep) {
  if (!r) return PMLS_EINVAL;
  r->keep_changes = keep != 0;
  if (!r->keep_changes) { /* what was kept goes */
    free(r->changed);
    free(r->deltas);
    r->changed = NULL;
    r->deltas = NULL;
    r->capchanged = r->capdeltas = 0;
    r->nchanged = 0;
  }
  return PMLS_OK;
}

int pmls_rounds_close(pmls_rounds *r) {
  if (!r) return PMLS_OK;
  pmls_engine *e = r->e;
  pmi_model_release(e, r->worker, &r->model, r->next_t > 0);
  if (r->push) /* their SBYE may still be on its way */
    for (int k = 0; k < r->K; k++) pmi_proc_linger(e, r->push[k]);
  pmi_sock_close(r->sock);
  for (size_t i = 0; i < r->nq; i++) pmi_msg_free(r->q[i].msg);
  for (size_t i = 0; i < r->nheld; i++) pmi_msg_free(r->held[i]);
  if (r->heard)
    for (int k = 0; k < r->K; k++) free(r->heard[k].values);
  free(r->heard);
  free(r->held);
  free(r->heldlen);
  free(r->q);
  free(r->push);
  free(r->model);
  free(r->through);
  free(r->last);
  free(r->stopped);
  free(r->vars);
  free(r->seg_lo);
  free(r->seg_hi);
  free(r->seg_row);
  free(r->seg_col);
  free(r->partial);
  free(r->changed);
  free(r->deltas);
  pmi_buf_free(&r->out);
  free(r);
  return PMLS_OK;
}

/* Binds the worker's round address and says hello to every node. */
static int meet_nodes(pmls_rounds *r) {
  pmls_engine *e = r->e;
  const pmls_model_spec *m = &e->model.spec;
  char name[48], addr[PMI_ADDR_MAX];
  snprintf(name, sizeof name, "w%d-r", r->worker);
  r->sock = pmi_proc_bind(e, name, 200, addr, r->err);
  if (r->sock < 0) return PMLS_ENET;
  for (int k = 0; k < r->K; k++) {
    r->push[k] = pmi_sock_push(e->server_addr[e->servers + k],
                               pmi_send_slice(e->cfg.timeout_ms), r->err);
    if (r->push[k] < 0) return PMLS_ENET;
    pmi_msg_begin(&r->out, e->job, PMI_MSG_SHELLO, r->worker);
    pmi_put_i32(&r->out, r->worker);
    pmi_put_str(&r->out, addr);
    pmi_put_i64(&r->out, m->vars);
    pmi_put_i32(&r->out, m->width);
    pmi_put_i32(&r->out, m->extra);
    pmi_put_i32(&r->out, m->pipeline);
    pmi_put_i32(&r->out, r->K);
    char peer[48];
    snprintf(peer, sizeof peer, "scheduler node %d", k);
    int rc = pmi_sched_send(e, r->push[k], &r->out, &r->traffic, peer, r->err);
    if (rc) return rc;
  }
  return PMLS_OK;
}

int pmls_rounds_open(pmls_client *c, pmls_rounds **out) {
  if (!c) return PMLS_EINVAL; /* no handle to say it in */
  char *cerr = pmi_client_errbuf(c);
  if (!out)
    return pmi_fail(cerr, PMLS_EINVAL, "bad argument 'out' to rounds_open: "
                    "NULL");
  *out = NULL;
  pmls_engine *e = pmi_client_engine(c);
  int worker = pmls_client_worker(c);
  if (worker < 0)
    return pmi_fail(cerr, PMLS_EINVAL, "bad argument 'c' to rounds_open: a "
                    "host client (only worker clients take rounds)");
  if (!e->model.declared)
    return pmi_fail(cerr, PMLS_ESTATE, "rounds_open: no model declared "
                    "(declare it in setup)");
  int rc = pmi_model_claim(e, worker, cerr);
  if (rc) return rc;
  const pmls_model_spec *m = &e->model.spec;
  pmls_rounds *r = calloc(1, sizeof *r);
  if (!r) {
    pmi_model_release(e, worker, &(double *){NULL}, 0);
    return pmi_fail(cerr, PMLS_ENOMEM, "out of memory");
  }
  r->e = e;
  r->worker = worker;
  r->K = e->schedulers;
  r->width = m->width;
  r->extra = m->extra;
  r->depth = m->pipeline;
  r->nvars = m->vars;
  r->sock = -1;
  r->keep_changes = 1;
  r->ended_round = -1;
  r->round = -1;
  r->push = malloc((size_t)r->K * sizeof *r->push);
  r->model = calloc((size_t)(r->nvars * r->width), sizeof *r->model);
  r->through = malloc((size_t)r->K * sizeof *r->through);
  r->last = malloc((size_t)r->K * sizeof *r->last);
  r->stopped = calloc((size_t)r->K, 1);
  r->heard = calloc((size_t)r->K, sizeof *r->heard);
  if (!r->push || !r->model || !r->through || !r->last || !r->stopped ||
      !r->heard) {
    pmls_rounds_close(r);
    return pmi_fail(cerr, PMLS_ENOMEM, "out of memory for the model copy");
  }
  for (int k = 0; k < r->K; k++) {
    r->push[k] = -1;
    r->through[k] = -1;
    r->last[k] = INT64_MAX;
  }
  rc = meet_nodes(r);
  if (rc) {
    snprintf(cerr, PMI_ERRLEN, "%s", r->err);
    pmls_rounds_close(r);
    return rc;
  }
  *out = r;
  return PMLS_OK;
}

/* Appends a commit to the changes handed to the script and applies it to
 * the model copy. src points into a message, maybe unaligned: it is copied
 * bytewise first. */
static int note_change(pmls_rounds *r, int64_t var, const void *src) {
  double *x = r->model + var * r->width;
  if (!r->keep_changes) {
    /* A round's commits are the model's size: not copied for nobody. */
    const unsigned char *b = src;
    for (int c = 0; c < r->width; c++) {
      double d;
      memcpy(&d, b + (size_t)c * sizeof d, sizeof d);
      x[c] += d;
    }
    return 0;
  }
  if (pmi_sched_grow((void **)&r->changed, &r->capchanged,
                     (size_t)r->nchanged + 1, sizeof *r->changed) ||
      pmi_sched_grow((void **)&r->deltas, &r->capdeltas,
                     (size_t)(r->nchanged + 1) * (size_t)r->width,
                     sizeof *r->deltas))
    return -1;
  double *d = r->deltas + r->nchanged * r->width;
  memcpy(d, src, (size_t)r->width * sizeof *d);
  r->changed[r->nchanged++] = var;
  for (int c = 0; c < r->width; c++) x[c] += d[c];
  return 0;
}

/* A node's counters are counts: at most 2^53 (no run gets near), added
 * saturating, so a forged STOP cannot overflow them (the fuzzer's counters
 * of -6.7e18 did: signed overflow). */
#define MAX_COUNT (INT64_C(1) << 53)
static int count_ok(int64_t v) { return v >= 0 && v <= MAX_COUNT; }
static void add_count(int64_t *to, int64_t v) {
  *to = *to > INT64_MAX - v ? INT64_MAX : *to + v;
}

/* Worker 0 (in rank 0) hands the node's counters to the engine. */
static void take_stop_stats(pmls_rounds *r, pmi_rd *rd) {
  pmls_engine *e = r->e;
  pmi_model *m = &e->model;
  int64_t rounds = pmi_get_i64(rd), updates = pmi_get_i64(rd);
  int64_t pushes = pmi_get_i64(rd);
  double sum = pmi_get_f64(rd), sumsq = pmi_get_f64(rd);
  int64_t mx = pmi_get_i64(rd), hist[17];
  int counts = count_ok(rounds) && count_ok(updates) && count_ok(pushes) &&
               count_ok(mx);
  for (int i = 0; i < 17; i++) counts &= count_ok(hist[i] = pmi_get_i64(rd));
  int P = pmi_get_i32(rd);
  pmi_rd passes = *rd;
  for (int w = 0; w < P && !passes.bad; w++)
    counts &= count_ok(pmi_get_i64(&passes));
  if (rd->bad || passes.bad || P != e->workers || !counts) return;
  pthread_mutex_lock(&e->mu);
  for (int w = 0; w < P; w++) add_count(&m->passes[w], pmi_get_i64(rd));
  add_count(&m->rounds, rounds);
  add_count(&m->updates, updates);
  add_count(&m->pushes, pushes);
  m->stale_sum += sum;
  m->stale_sumsq += sumsq;
  if (mx > m->stale_max) m->stale_max = mx;
  for (int i = 0; i < 17; i++) add_count(&m->stale_hist[i], hist[i]);
  m->have_stats = 1;
  int notes = pmi_get_i32(rd);
  for (int i = 0; i < notes && !rd->bad; i++) {
    char name[PMI_NAME_MAX];
    pmi_get_str(rd, name, sizeof name);
    double v = pmi_get_f64(rd);
    if (!rd->bad && e->rank == 0) pmi_metrics_set_final(e->metrics, name, v);
  }
  pthread_mutex_unlock(&e->mu);
}

/* Keeps the values node `node` broadcast, replacing what it sent before.
 * src may be unaligned: it is copied bytewise. */
static int take_broadcast(pmls_rounds *r, int node, pmi_rd *rd) {
  int64_t n = pmi_get_i64(rd);
  if (rd->bad || n < 0 || n > PMLS_BROADCAST_MAX) return rd->bad = 1, -1;
  const void *src = pmi_get_bytes(rd, (size_t)n * sizeof(double));
  if (!src) return -1;
  received *h = &r->heard[node];
  if (pmi_sched_resize(&h->values, (size_t)n, sizeof *h->values)) return -1;
  memcpy(h->values, src, (size_t)n * sizeof(double));
  h->n = n;
  h->heard = 1;
  return 0;
}

/* Counts and tells a message the worker drops (pmi_msg_dropped): one it
 * cannot use -- garbage, another job's, a type no node sends a worker, a
 * malformed ROUND -- which must not end the job, as it would not on any
 * other socket (docs/security.md). Nothing of it was applied. */
static int drop(pmls_rounds *r, void *msg, const char *why) {
  char who[48];
  snprintf(who, sizeof who, "worker %d: rounds", r->worker);
  pmi_msg_dropped(&r->e->dropped, who, why);
  pmi_msg_free(msg);
  return PMLS_OK;
}

/* A round's variables and this worker's share, as open_round reads them:
 * 0 when they are whole and consistent. */
static int share_ok(pmi_rd rd) {
  int64_t n = pmi_get_i64(&rd);
  if (rd.bad || n < 1 || n > (int64_t)(pmi_rd_left(&rd) / sizeof(int64_t)))
    return -1;
  pmi_get_bytes(&rd, (size_t)n * sizeof(int64_t));
  int nseg = pmi_get_i32(&rd);
  if (rd.bad || nseg < 0 || nseg > (int)(pmi_rd_left(&rd) / 24)) return -1;
  for (int g = 0; g < nseg; g++) {
    int64_t lo = pmi_get_i64(&rd), hi = pmi_get_i64(&rd);
    pmi_get_i32(&rd);
    pmi_get_i32(&rd);
    if (lo < 0 || hi > n || lo > hi) return -1;
  }
  return rd.bad ? -1 : 0;
}

/* The rest of a ROUND after its counts, walked without applying anything
 * (a ROUND is applied whole or not at all): 0 when every commit names a
 * variable of the model and carries its values, the broadcast fits, and a
 * round's share is whole. */
static int round_ok(const pmls_rounds *r, int flags, pmi_rd rd, int64_t nchg) {
  size_t each = sizeof(int64_t) + (size_t)r->width * sizeof(double);
  if (nchg < 0 || (uint64_t)nchg > pmi_rd_left(&rd) / each) return -1;
  for (int64_t i = 0; i < nchg; i++) {
    int64_t var = pmi_get_i64(&rd);
    if (!pmi_get_bytes(&rd, (size_t)r->width * sizeof(double)) || var < 0 ||
        var >= r->nvars)
      return -1;
  }
  if (flags & ROUND_BROADCAST) {
    int64_t n = pmi_get_i64(&rd);
    if (rd.bad || n < 0 || n > PMLS_BROADCAST_MAX ||
        !pmi_get_bytes(&rd, (size_t)n * sizeof(double)))
      return -1;
  }
  if (!(flags & (ROUND_COMMITS | ROUND_STOP))) return share_ok(rd);
  return rd.bad ? -1 : 0;
}

/* Looks at a received message: applies a ROUND's commits at once and queues
 * its round; notes an ENDROUND; drops what it cannot use. Takes ownership
 * of msg. Fails only when memory runs out or a send fails. */
static int take_message(pmls_rounds *r, void *msg, size_t len) {
  pmi_hdr h;
  pmi_rd rd;
  char why[PMI_ERRLEN];
  if (pmi_msg_open(msg, len, r->e->job, &h, &rd, why) != PMLS_OK)
    return drop(r, msg, why);
  if (h.type == PMI_MSG_ENDROUND) {
    int64_t round = pmi_get_i64(&rd);
    if (rd.bad) return drop(r, msg, "a malformed ENDROUND");
    if (round > r->ended_round) r->ended_round = round;
    pmi_msg_free(msg);
    return PMLS_OK;
  }
  if (h.type != PMI_MSG_ROUND) {
    snprintf(why, sizeof why, "%s, which no scheduler node sends a worker",
             pmi_msg_type_name(h.type));
    return drop(r, msg, why);
  }
  int node = pmi_get_i32(&rd);
  int64_t round = pmi_get_i64(&rd), through = pmi_get_i64(&rd);
  int64_t nchg = pmi_get_i64(&rd);
  /* Rounds count up from 0 one at a time: anything near the top of int64
   * is forged, and would overflow the arithmetic of complete_through. */
  const int64_t round_max = (int64_t)1 << 53;
  if (rd.bad || node < 0 || node >= r->K || nchg < 0 || round < -1 ||
      round > round_max || through < -1 || through > round_max ||
      round_ok(r, h.flags, rd, nchg)) {
    snprintf(why, sizeof why, "a malformed ROUND (node %d)", node);
    return drop(r, msg, why);
  }
  for (int64_t i = 0; i < nchg; i++) {
    int64_t var = pmi_get_i64(&rd);
    const void *p = pmi_get_bytes(&rd, (size_t)r->width * sizeof(double));
    if (note_change(r, var, p)) {
      pmi_msg_free(msg);
      return pmi_fail(r->err, PMLS_ENOMEM, "out of memory");
    }
  }
  if ((h.flags & ROUND_BROADCAST) && take_broadcast(r, node, &rd)) {
    pmi_msg_free(msg);
    return pmi_fail(r->err, PMLS_ENOMEM, "worker %d: no memory for the "
                    "broadcast in a ROUND from node %d", r->worker, node);
  }
  if (through > r->through[node]) r->through[node] = through;
  if (h.flags & ROUND_COMMITS) {
    pmi_msg_free(msg);
    return PMLS_OK;
  }
  if (h.flags & ROUND_STOP) {
    r->stopped[node] = 1;
    r->last[node] = round;
    if (r->worker == 0) take_stop_stats(r, &rd);
    pmi_msg_free(msg);
    /* The node closes its sockets only once every worker has its STOP. */
    pmi_msg_begin(&r->out, r->e->job, PMI_MSG_SBYE, r->worker);
    pmi_put_i32(&r->out, r->worker);
    return pmi_sched_send(r->e, r->push[node], &r->out, &r->traffic,
                          "a scheduler node", r->err);
  }
  if (pmi_sched_grow((void **)&r->q, &r->capq, r->nq + 1, sizeof *r->q)) {
    pmi_msg_free(msg);
    return pmi_fail(r->err, PMLS_ENOMEM, "out of memory");
  }
  r->q[r->nq++] = (queued){msg, rd.p, rd.len, rd.off, round, node};
  return PMLS_OK;
}

int pmi_rounds_take(pmls_rounds *r, void *msg, size_t len) {
  return take_message(r, msg, len);
}

/* Rounds of every node up to the result have reached this worker's copy. */
static int64_t complete_through(const pmls_rounds *r) {
  int64_t first_missing = INT64_MAX;
  for (int k = 0; k < r->K; k++) {
    if (r->stopped[k]) continue;
    int64_t f = r->through[k] < 0 ? k : r->through[k] + r->K;
    if (f < first_missing) first_missing = f;
  }
  return first_missing == INT64_MAX ? INT64_MAX : first_missing - 1;
}

/* Decodes the round part of a queued ROUND into the current round. */
static int open_round(pmls_rounds *r, queued *qm) {
  pmi_rd rd = {qm->payload, qm->len, qm->body, 0};
  int64_t n = pmi_get_i64(&rd);
  if (rd.bad || n < 1 || n > (int64_t)(pmi_rd_left(&rd) / sizeof(int64_t)))
    return pmi_fail(r->err, PMLS_EPROTO, "worker %d: malformed round",
                    r->worker);
  if (pmi_sched_grow((void **)&r->vars, &r->capvars, (size_t)n,
                     sizeof *r->vars))
    return pmi_fail(r->err, PMLS_ENOMEM, "out of memory");
  memcpy(r->vars, pmi_get_bytes(&rd, (size_t)n * sizeof(int64_t)),
         (size_t)n * sizeof(int64_t));
  int nseg = pmi_get_i32(&rd);
  if (rd.bad || nseg < 0 || nseg > (int)(pmi_rd_left(&rd) / 24))
    return pmi_fail(r->err, PMLS_EPROTO, "worker %d: malformed round share",
                    r->worker);
  if ((size_t)nseg > r->capseg) {
    if (pmi_sched_resize(&r->seg_lo, (size_t)nseg, sizeof *r->seg_lo) ||
        pmi_sched_resize(&r->seg_hi, (size_t)nseg, sizeof *r->seg_hi) ||
        pmi_sched_resize(&r->seg_row, (size_t)nseg, sizeof *r->seg_row) ||
        pmi_sched_resize(&r->seg_col, (size_t)nseg, sizeof *r->seg_col))
      return pmi_fail(r->err, PMLS_ENOMEM, "out of memory");
    r->capseg = (size_t)nseg;
  }
  size_t values = (size_t)r->extra;
  for (int g = 0; g < nseg; g++) {
    r->seg_lo[g] = pmi_get_i64(&rd);
    r->seg_hi[g] = pmi_get_i64(&rd);
    r->seg_row[g] = pmi_get_i32(&rd);
    r->seg_col[g] = pmi_get_i32(&rd);
    if (r->seg_lo[g] < 0 || r->seg_hi[g] > n || r->seg_lo[g] > r->seg_hi[g])
      rd.bad = 1;
    else values += (size_t)(r->seg_hi[g] - r->seg_lo[g]) * (size_t)r->width;
  }
  if (rd.bad)
    return pmi_fail(r->err, PMLS_EPROTO, "worker %d: malformed round share",
                    r->worker);
  size_t full = (size_t)n * (size_t)r->width + (size_t)r->extra;
  if (pmi_sched_grow((void **)&r->partial, &r->cappartial, full,
                     sizeof *r->partial))
    return pmi_fail(r->err, PMLS_ENOMEM, "out of memory");
  memset(r->partial, 0, full * sizeof *r->partial);
  r->round = qm->round;
  r->n = n;
  r->nseg = nseg;
  r->nvalues = values;
  return PMLS_OK;
}

static int receive_one(pmls_rounds *r, int wait_ms) {
  void *msg;
  size_t len;
  pmi_sock_set_rcvtimeo(r->sock, wait_ms);
  int rc = pmi_msg_recv(r->sock, &msg, &len, &r->traffic, r->err);
  if (rc) return rc;
  return take_message(r, msg, len);
}

int pmls_round_next(pmls_rounds *r, pmls_round *out) {
  if (!out)
    return pmi_fail(r->err, PMLS_EINVAL, "bad argument 'out' to round_next: "
                    "NULL");
  pmls_engine *e = r->e;
  r->nchanged = 0;
  for (size_t i = 0; i < r->nheld; i++) { /* in the order they came */
    int rc = take_message(r, r->held[i], r->heldlen[i]);
    r->held[i] = NULL;
    if (rc) {
      for (size_t k = i + 1; k < r->nheld; k++) pmi_msg_free(r->held[k]);
      r->nheld = 0;
      return rc;
    }
  }
  r->nheld = 0;
  double deadline = pmi_now() + e->cfg.timeout_ms / 1000.0;
  memset(out, 0, sizeof *out);
  for (;;) {
    /* Skip the rounds of nodes that stopped before them. */
    int all_stopped = 1;
    for (int k = 0; k < r->K; k++) all_stopped &= r->stopped[k];
    int64_t max_last = -1;
    for (int k = 0; k < r->K; k++)
      if (r->last[k] > max_last) max_last = r->last[k];
    while (r->stopped[r->next_t % r->K] && r->next_t > r->last[r->next_t % r->K] &&
           !(all_stopped && r->next_t > max_last))
      r->next_t++;
    if (all_stopped && r->next_t > max_last) {
      r->round = -1; /* no round to be in any more */
      out->round = -1;
      out->nchanged = r->nchanged;
      out->changed = r->changed;
      out->deltas = r->deltas;
      return PMLS_OK;
    }
    queued *qm = NULL;
    for (size_t i = 0; i < r->nq; i++)
      if (r->q[i].round == r->next_t) qm = &r->q[i];
    int64_t done = complete_through(r);
    if (qm && (done == INT64_MAX || done >= r->next_t - 1 - r->depth)) {
      int rc = open_round(r, qm);
      pmi_msg_free(qm->msg);
      *qm = r->q[--r->nq];
      if (rc) return rc;
      int64_t stale = done == INT64_MAX ? 0 : (r->next_t - 1) - done;
      r->staleness = stale < 0 ? 0 : stale;
      r->agnostic = e->model.spec.agnostic;
      r->ready = 0;
      r->next_t++;
      out->round = r->round;
      out->n = r->n;
      out->vars = r->vars;
      out->nseg = r->nseg;
      out->seg_lo = r->seg_lo;
      out->seg_hi = r->seg_hi;
      out->seg_row = r->seg_row;
      out->seg_col = r->seg_col;
      out->nchanged = r->nchanged;
      out->changed = r->changed;
      out->deltas = r->deltas;
      out->staleness = r->staleness;
      out->agnostic = r->agnostic;
      return PMLS_OK;
    }
    if (atomic_load(&e->dead)) return pmi_sched_dead(e, r->err);
    int left = (int)((deadline - pmi_now()) * 1000.0) + 1;
    if (left <= 0)
      return pmi_fail(r->err, PMLS_ETIMEDOUT, "worker %d: timed out after %d "
                      "ms waiting for round %lld from scheduler node %lld: a "
                      "peer is dead or too slow (see --timeout)", r->worker,
                      e->cfg.timeout_ms, (long long)r->next_t,
                      (long long)(r->next_t % r->K));
    int rc = receive_one(r, left < PMI_SEND_SLICE_MS ? left
                                                         : PMI_SEND_SLICE_MS);
    if (rc == PMLS_ETIMEDOUT) continue;
    if (rc) return rc;
    deadline = pmi_now() + e->cfg.timeout_ms / 1000.0;
  }
}

const double *pmls_round_model(const pmls_rounds *r) { return r->model; }

int pmls_rounds_stopped(const pmls_rounds *r) {
  int n = 0;
  for (int k = 0; k < r->K; k++) n += r->stopped[k] != 0;
  return n;
}

int pmls_rounds_resume(pmls_rounds *r, int64_t round, const double *model) {
  if (r->next_t != 0 || r->round != -1)
    return pmi_fail(r->err, PMLS_ESTATE, "resume after the first round");
  if (round < 0 || round > ((int64_t)1 << 53) || !model)
    return pmi_fail(r->err, PMLS_EINVAL, "bad argument to resume: round "
                    "%lld, model %s", (long long)round, model ? "set" : "NULL");
  memcpy(r->model, model, (size_t)(r->nvars * r->width) * sizeof *r->model);
  r->next_t = round;
  /* node k's last round before `round`, whose commits are in the copy */
  for (int k = 0; k < r->K; k++) {
    int64_t t = round - 1 - ((round - 1 - k) % r->K + r->K) % r->K;
    r->through[k] = t < 0 ? -1 : t;
  }
  return PMLS_OK;
}

double *pmls_round_partial(pmls_rounds *r) {
  return r->round >= 0 ? r->partial : NULL;
}

const double *pmls_rounds_received(pmls_rounds *r, int node, int64_t *n) {
  if (n) *n = 0;
  if (node < 0 || node >= r->K) {
    pmi_fail(r->err, PMLS_EINVAL, "bad argument 'node' to rounds_received: "
             "%d (0..%d)", node, r->K - 1);
    return NULL;
  }
  const received *h = &r->heard[node];
  if (!h->heard) return NULL;
  if (n) *n = h->n;
  return h->values;
}

int pmls_round_ready(pmls_rounds *r) {
  if (r->round < 0)
    return pmi_fail(r->err, PMLS_ESTATE, "ready outside a round");
  pmi_msg_begin(&r->out, r->e->job, PMI_MSG_READY, r->worker);
  pmi_put_i32(&r->out, r->worker);
  pmi_put_i64(&r->out, r->round);
  int node = (int)(r->round % r->K);
  int rc = pmi_sched_send(r->e, r->push[node], &r->out, &r->traffic,
                          "a scheduler node", r->err);
  if (rc == PMLS_OK) r->ready = 1;
  return rc;
}

/* Receives one message within wait_ms: an ENDROUND is noted, anything else
 * waits for pmls_round_next (which also drops it if it is malformed). */
static int poll_end(pmls_rounds *r, int wait_ms) {
  void *msg;
  size_t len;
  pmi_sock_set_rcvtimeo(r->sock, wait_ms);
  int rc = pmi_msg_recv(r->sock, &msg, &len, &r->traffic, r->err);
  if (rc) return rc;
  pmi_hdr h;
  pmi_rd rd;
  if (pmi_msg_open(msg, len, r->e->job, &h, &rd, r->err) == PMLS_OK &&
      h.type == PMI_MSG_ENDROUND) {
    int64_t round = pmi_get_i64(&rd);
    if (!rd.bad && round > r->ended_round) r->ended_round = round;
    pmi_msg_free(msg);
    return PMLS_OK;
  }
  if (pmi_sched_grow((void **)&r->held, &r->capheld, r->nheld + 1,
                     sizeof *r->held) ||
      pmi_sched_grow((void **)&r->heldlen, &r->capheldlen, r->nheld + 1,
                     sizeof *r->heldlen)) {
    pmi_msg_free(msg);
    return pmi_fail(r->err, PMLS_ENOMEM, "out of memory");
  }
  r->held[r->nheld] = msg;
  r->heldlen[r->nheld++] = len;
  return PMLS_OK;
}

int pmls_round_over(pmls_rounds *r) {
  if (r->round < 0) return 1;
  if (atomic_load(&r->e->dead)) return 1; /* the send will say why */
  while (r->ended_round < r->round) {
    int rc = poll_end(r, 0);
    if (rc == PMLS_ETIMEDOUT) {
      if (++r->polls >= POLLS_PER_YIELD) {
        r->polls = 0;
        sched_yield();
      }
      return 0;
    }
    if (rc) return 1; /* the send will fail and say so */
  }
  return 1;
}

int pmls_round_wait_over(pmls_rounds *r) {
  if (r->round < 0)
    return pmi_fail(r->err, PMLS_ESTATE, "wait_over outside a round");
  if (!r->ready)
    return pmi_fail(r->err, PMLS_ESTATE, "wait_over before ready: the round "
                    "ends once every worker is ready");
  pmls_engine *e = r->e;
  double deadline = pmi_now() + e->cfg.timeout_ms / 1000.0;
  while (r->ended_round < r->round) {
    if (atomic_load(&e->dead)) return pmi_sched_dead(e, r->err);
    int left = (int)((deadline - pmi_now()) * 1000.0) + 1;
    if (left <= 0)
      return pmi_fail(r->err, PMLS_ETIMEDOUT, "worker %d: timed out after %d "
                      "ms waiting for the end of round %lld: a peer is dead "
                      "or too slow (see --timeout)", r->worker,
                      e->cfg.timeout_ms, (long long)r->round);
    int rc = poll_end(r, left < PMI_SEND_SLICE_MS ? left : PMI_SEND_SLICE_MS);
    if (rc && rc != PMLS_ETIMEDOUT) return rc;
  }
  return PMLS_OK;
}

int pmls_round_send(pmls_rounds *r, int passes) {
  if (r->round < 0)
    return pmi_fail(r->err, PMLS_ESTATE, "send outside a round");
  pmi_msg_begin(&r->out, r->e->job, PMI_MSG_PARTIAL, r->worker);
  pmi_put_i32(&r->out, r->worker);
  pmi_put_i64(&r->out, r->round);
  pmi_put_i32(&r->out, (int32_t)r->staleness);
  pmi_put_i32(&r->out, passes);
  pmi_put_u32(&r->out, (uint32_t)r->nvalues);
  int bad = 0;
  for (int g = 0; g < r->nseg; g++)
    bad |= pmi_buf_put(&r->out, r->partial + r->seg_lo[g] * r->width,
                       (size_t)(r->seg_hi[g] - r->seg_lo[g]) * (size_t)r->width *
                           sizeof(double));
  bad |= pmi_buf_put(&r->out, r->partial + r->n * r->width,
                     (size_t)r->extra * sizeof(double));
  if (bad) return pmi_fail(r->err, PMLS_ENOMEM, "out of memory");
  int node = (int)(r->round % r->K);
  char peer[48];
  snprintf(peer, sizeof peer, "scheduler node %d", node);
  return pmi_sched_send(r->e, r->push[node], &r->out, &r->traffic, peer,
                        r->err);
}
