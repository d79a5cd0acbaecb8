/* node.c -- a scheduler node of scheduled model parallelism (STRADS): the
 * thread that runs the script's schedule and pull. Node k of K owns an even
 * share of the schedulable variables and runs rounds k, k + K, k + 2K, ...
 *
 * It sends each worker a ROUND (the variables, the worker's share, every
 * commit made since its last ROUND, and what it broadcast since), collects
 * a PARTIAL from every worker, and commits the combined result. Commits and
 * broadcasts ride on the next ROUND rather than in messages of their own:
 * at pipeline depth 0 that next ROUND is exactly when a worker needs them,
 * and at depth D it is what makes a push miss at most D earlier rounds. A
 * final ROUND marked STOP carries the last commits and the node's counters.
 * Partials are summed in worker order once all are in, so a run's result
 * does not depend on which worker answered first. The worker's end of these
 * messages is worker.c; the model both read is model.c.
 *
 * Every message the node receives goes through one handler
 * (pmi_sched_handle), whether the node is meeting its workers, collecting
 * or stopping: a message that does not decode, or that no round of this
 * node expects, is dropped and counted (the engine's messages_dropped),
 * never the end of the job, since anyone who can reach the socket can send
 * it. The fuzz harness (engine/fuzz/fuzz_sched.c) drives the same handler. */
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "../proc/proc.h"
#include "../metrics/metrics.h"

#define MAX_NOTES 32

/* Node k of K schedules an even share of the schedulable range. */
static void node_range(const pmls_model_spec *s, int k, int K, int64_t *lo,
                       int64_t *hi) {
  int64_t span = s->sched_hi - s->sched_lo;
  *lo = s->sched_lo + span * k / K;
  *hi = s->sched_lo + span * (k + 1) / K;
}

typedef struct {
  int64_t round, n;
  int64_t *vars;
  int nseg;
  int32_t *seg_worker;
  int64_t *seg_lo, *seg_hi;
  unsigned char *have, *ready;
  int got, nready, ended;
  /* parts: each worker's partial as it came, worker w's at part_off[w]
   * (its segments' values, then extra): with segments that is about one
   * model's worth in all, not P dense rows of n * width + extra. */
  double *sum, *parts;
  size_t *part_off; /* P + 1 offsets into parts */
  size_t capvars, capseg, capparts; /* what vars/sum, segments, parts hold */
} slot;

struct pmls_sched {
  pmls_engine *e;
  int node, K, P, width, extra, depth, agnostic;
  int64_t vars, lo, hi;
  int sock;
  int *push;
  double *model, *deltas;
  size_t capdeltas;
  slot *slots;
  int first, count, collected;
  int met, byes;        /* workers met (SHELLO), workers that took the STOP */
  unsigned char *bye;   /* which workers sent their SBYE */
  int64_t next_round, through, sent_through;
  int sent_initial, stopped;
  /* Commits since the last ROUND, (var, width deltas) each, after a gap of
   * ROUND_HEAD bytes: a ROUND is built in place around them (its head
   * written into the gap), so the model-sized commits of a round are never
   * copied into a second buffer. Empty (len 0) when there are none. */
  pmi_buf pend;
  int64_t npend;
  double *bcast; /* values broadcast since the last ROUND */
  int64_t nbcast;
  int bcast_pending;
  pmi_buf out; /* the message being built; a ROUND's is pend, lent */
  int lent;     /* out and pend are swapped while a ROUND goes out */
  double *dense_parts; /* pmls_sched_partial's rows, made when first asked */
  size_t capdense;     /* the row length they were made for */
  size_t out_commits; /* while lent: where the commits end in out */
  pmi_traffic traffic;
  /* counters for the final metrics */
  int64_t rounds, updates, pushes, stale_max, stale_hist[17];
  double stale_sum, stale_sumsq;
  int64_t *passes;
  char note_name[MAX_NOTES][PMI_NAME_MAX];
  double note_value[MAX_NOTES];
  int nnotes;
  char err[PMI_ERRLEN];
};

const char *pmls_sched_errmsg(const pmls_sched *s) { return s->err; }

int pmls_sched_node(const pmls_sched *s) { return s->node; }

void pmls_sched_range(const pmls_sched *s, int64_t *lo, int64_t *hi) {
  *lo = s->lo;
  *hi = s->hi;
}

double *pmls_sched_model(pmls_sched *s) { return s->model; }
const double *pmls_sched_deltas(const pmls_sched *s) { return s->deltas; }
int pmls_sched_outstanding(const pmls_sched *s) { return s->count; }

/* Receives one message within the run's timeout, waking every slice to see
 * whether the job died. `what` names what is awaited, for the error. */
static int recv_within(pmls_engine *e, int sock, double deadline,
                       pmi_traffic *t, char *err, const char *what,
                       void **msg, size_t *len) {
  for (;;) {
    if (atomic_load(&e->dead)) return pmi_sched_dead(e, err);
    int left = (int)((deadline - pmi_now()) * 1000.0) + 1;
    if (left > PMI_SEND_SLICE_MS) left = PMI_SEND_SLICE_MS;
    if (left < 1) left = 1;
    pmi_sock_set_rcvtimeo(sock, left);
    int rc = pmi_msg_recv(sock, msg, len, t, err);
    if (rc == PMLS_OK) return rc;
    if (rc != PMLS_ETIMEDOUT) return rc;
    if (pmi_now() >= deadline)
      return pmi_fail(err, PMLS_ETIMEDOUT, "timed out after %d ms waiting for "
                      "%s: a peer is dead or too slow (see --timeout)",
                      e->cfg.timeout_ms, what);
  }
}

static void slot_free(slot *sl) {
  free(sl->vars);
  free(sl->seg_worker);
  free(sl->seg_lo);
  free(sl->seg_hi);
  free(sl->have);
  free(sl->ready);
  free(sl->sum);
  free(sl->parts);
  free(sl->part_off);
}

int pmls_sched_close(pmls_sched *s) {
  if (!s) return PMLS_OK;
  if (s->push)
    for (int w = 0; w < s->P; w++) pmi_sock_close(s->push[w]);
  pmi_sock_close(s->sock);
  if (s->slots)
    for (int i = 0; i <= s->depth; i++) slot_free(&s->slots[i]);
  free(s->slots);
  free(s->push);
  free(s->model);
  free(s->deltas);
  free(s->passes);
  free(s->bye);
  free(s->bcast);
  free(s->dense_parts);
  pmi_buf_free(&s->pend);
  pmi_buf_free(&s->out);
  free(s);
  return PMLS_OK;
}

/* Counts and tells a message this node drops (pmi_msg_dropped). */
static void node_dropped(pmls_sched *s, const char *why) {
  char who[32];
  snprintf(who, sizeof who, "scheduler node %d", s->node);
  pmi_msg_dropped(&s->e->dropped, who, why);
}

/* A worker's SHELLO: its round address and the model it declared. A
 * hello that does not decode, names no worker of the job or an address
 * nanomsg refuses is dropped; a repeated one is harmless. A well-formed
 * hello of another model is the one error: a worker of this job declared
 * something else, and the run cannot go on. */
static int take_hello(pmls_sched *s, pmi_rd *rd) {
  const pmls_model_spec *m = &s->e->model.spec;
  int w = pmi_get_i32(rd);
  char addr[PMI_ADDR_MAX];
  pmi_get_str(rd, addr, sizeof addr);
  int64_t vars = pmi_get_i64(rd);
  int width = pmi_get_i32(rd), extra = pmi_get_i32(rd);
  int depth = pmi_get_i32(rd), K = pmi_get_i32(rd);
  char why[PMI_ERRLEN];
  if (rd->bad || w < 0 || w >= s->P) {
    snprintf(why, sizeof why, "malformed hello (worker %d)", w);
    node_dropped(s, why);
    return PMLS_OK;
  }
  if (s->push[w] >= 0) return PMLS_OK; /* said twice */
  if (vars != m->vars || width != m->width || extra != m->extra ||
      depth != m->pipeline || K != s->K)
    return pmi_fail(s->err, PMLS_EINVAL, "worker %d declared a model of %lld "
                    "variables x %d (extra %d, pipeline %d, %d nodes); "
                    "scheduler node %d has %lld x %d (extra %d, pipeline "
                    "%d, %d nodes): every process must declare the same "
                    "model", w, (long long)vars, width, extra, depth, K,
                    s->node, (long long)m->vars, m->width, m->extra,
                    m->pipeline, s->K);
  s->push[w] = pmi_sock_push(addr, pmi_send_slice(s->e->cfg.timeout_ms), why);
  if (s->push[w] < 0) {
    node_dropped(s, why);
    return PMLS_OK;
  }
  s->met++;
  return PMLS_OK;
}

/* A worker's SBYE: it has the node's STOP. Counted once per worker, and
 * only once the node has stopped. */
static int take_bye(pmls_sched *s, pmi_rd *rd) {
  int w = pmi_get_i32(rd);
  if (rd->bad || w < 0 || w >= s->P || !s->stopped) {
    char why[96];
    snprintf(why, sizeof why, "unexpected goodbye (worker %d)", w);
    node_dropped(s, why);
    return PMLS_OK;
  }
  if (!s->bye[w]) {
    s->bye[w] = 1;
    s->byes++;
  }
  return PMLS_OK;
}

static int take_partial(pmls_sched *s, pmi_rd *rd);
static int take_ready(pmls_sched *s, pmi_rd *rd);

int pmi_sched_handle(pmls_sched *s, const void *msg, size_t len) {
  pmi_hdr h;
  pmi_rd rd;
  char why[PMI_ERRLEN];
  if (pmi_msg_open(msg, len, s->e->job, &h, &rd, why) != PMLS_OK) {
    node_dropped(s, why);
    return PMLS_OK;
  }
  if (s->stopped && (h.type == PMI_MSG_PARTIAL || h.type == PMI_MSG_READY ||
                     h.type == PMI_MSG_SHELLO))
    return PMLS_OK; /* late news of a round already committed */
  switch (h.type) {
  case PMI_MSG_SHELLO: return take_hello(s, &rd);
  case PMI_MSG_PARTIAL: return take_partial(s, &rd);
  case PMI_MSG_READY: return take_ready(s, &rd);
  case PMI_MSG_SBYE: return take_bye(s, &rd);
  default:
    snprintf(why, sizeof why, "unexpected %s", pmi_msg_type_name(h.type));
    node_dropped(s, why);
    return PMLS_OK;
  }
}

int pmi_sched_met(const pmls_sched *s) { return s->met == s->P; }

int pmi_sched_complete(const pmls_sched *s) {
  return s->count > 0 && s->slots[s->first].got == s->P;
}

/* Waits for every worker's SHELLO and connects to each. */
static int meet_workers(pmls_sched *s) {
  pmls_engine *e = s->e;
  double deadline = pmi_now() + e->cfg.timeout_ms / 1000.0;
  while (s->met < s->P) {
    void *msg;
    size_t len;
    char what[96];
    snprintf(what, sizeof what, "the workers to reach scheduler node %d (%d "
             "of %d did)", s->node, s->met, s->P);
    int rc = recv_within(e, s->sock, deadline, &s->traffic, s->err, what, &msg,
                         &len);
    if (rc) return rc;
    rc = pmi_sched_handle(s, msg, len);
    pmi_msg_free(msg);
    if (rc) return rc;
  }
  return PMLS_OK;
}

pmls_sched *pmi_sched_new(pmls_engine *e, int node, int sock, char *err) {
  const pmls_model_spec *m = &e->model.spec;
  pmls_sched *s = calloc(1, sizeof *s);
  if (!s) {
    pmi_fail(err, PMLS_ENOMEM, "out of memory");
    return NULL;
  }
  s->e = e;
  s->node = node;
  s->K = e->schedulers;
  s->P = e->workers;
  s->width = m->width;
  s->extra = m->extra;
  s->depth = m->pipeline;
  s->agnostic = m->agnostic;
  s->vars = m->vars;
  node_range(m, node, s->K, &s->lo, &s->hi);
  s->sock = sock;
  s->next_round = node;
  s->through = s->sent_through = -1;
  s->push = malloc((size_t)s->P * sizeof *s->push);
  s->model = calloc((size_t)(s->vars * s->width), sizeof *s->model);
  s->slots = calloc((size_t)s->depth + 1, sizeof *s->slots);
  s->passes = calloc((size_t)s->P, sizeof *s->passes);
  s->bye = calloc((size_t)s->P, 1);
  if (s->push)
    for (int w = 0; w < s->P; w++) s->push[w] = -1;
  if (!s->push || !s->model || !s->slots || !s->passes || !s->bye) {
    s->sock = -1; /* the caller's still */
    pmls_sched_close(s);
    pmi_fail(err, PMLS_ENOMEM, "out of memory for a scheduler node");
    return NULL;
  }
  return s;
}

int pmls_sched_open(pmls_engine *e, int node, pmls_sched **out) {
  *out = NULL;
  if (!e->model.declared)
    return pmi_fail(e->err, PMLS_ESTATE, "no model declared (declare it in "
                    "setup)");
  if (node < 0 || node >= e->schedulers ||
      pmi_addr_owner(e, e->servers + node) != e->rank ||
      e->sched_sock[node] < 0)
    return pmi_fail(e->err, PMLS_EINVAL, "scheduler node %d is not hosted by "
                    "this process (or already open)", node);
  pmls_sched *s = pmi_sched_new(e, node, e->sched_sock[node], e->err);
  if (!s) return PMLS_ENOMEM;
  e->sched_sock[node] = -1;
  int rc = meet_workers(s);
  if (rc) {
    snprintf(e->err, sizeof e->err, "%s", s->err);
    pmls_sched_close(s);
    return rc;
  }
  *out = s;
  return PMLS_OK;
}

/* A ROUND's head: the message header, node, round, through, npend. */
#define ROUND_HEAD (sizeof(pmi_hdr) + sizeof(int32_t) + 3 * sizeof(int64_t))

static int pend_reserve_head(pmls_sched *s) {
  static const unsigned char zeros[ROUND_HEAD];
  return s->pend.len ? 0 : pmi_buf_put(&s->pend, zeros, sizeof zeros);
}

static int pend_change(pmls_sched *s, int64_t var, const double *delta) {
  if (pend_reserve_head(s)) return -1;
  s->npend++;
  return pmi_put_i64(&s->pend, var) ||
         pmi_buf_put(&s->pend, delta, (size_t)s->width * sizeof *delta);
}

/* The initial model: what this node's script set before its first round
 * (node 0 also speaks for the variables no node schedules). */
static int pend_initial(pmls_sched *s) {
  const pmls_model_spec *m = &s->e->model.spec;
  for (int64_t v = 0; v < s->vars; v++) {
    int mine = (v >= s->lo && v < s->hi) ||
               (s->node == 0 && (v < m->sched_lo || v >= m->sched_hi));
    if (!mine) continue;
    const double *x = s->model + v * s->width;
    int nonzero = 0;
    for (int c = 0; c < s->width; c++) nonzero |= x[c] != 0.0;
    if (nonzero && pend_change(s, v, x))
      return pmi_fail(s->err, PMLS_ENOMEM, "out of memory");
  }
  return PMLS_OK;
}

/* The part of a ROUND every worker shares: node, round, commits, and the
 * broadcast values if there are new ones. The head goes into pend's gap
 * and pend is lent to out (end_round gives it back), so the ROUND is built
 * with no copy of the commits. Fails only when out of memory. */
static size_t share_values(const pmls_sched *s, const slot *sl, int w);

static int begin_round(pmls_sched *s, int flags, int64_t round) {
  if (pend_reserve_head(s)) return -1;
  if (s->bcast_pending) flags |= ROUND_BROADCAST;
  size_t len = s->pend.len;
  /* Rewinding to the gap and writing the head there cannot reallocate. */
  pmi_msg_begin(&s->pend, s->e->job, PMI_MSG_ROUND, -1);
  ((pmi_hdr *)s->pend.data)->flags = (uint16_t)flags;
  pmi_put_i32(&s->pend, s->node);
  pmi_put_i64(&s->pend, round);
  pmi_put_i64(&s->pend, s->through);
  pmi_put_i64(&s->pend, s->npend);
  s->pend.len = len;
  s->sent_through = s->through;
  pmi_buf t = s->out;
  s->out = s->pend;
  s->pend = t;
  s->lent = 1;
  s->out_commits = len;
  if (flags & ROUND_BROADCAST)
    return pmi_put_i64(&s->out, s->nbcast) ||
           pmi_buf_put(&s->out, s->bcast, (size_t)s->nbcast * sizeof *s->bcast);
  return 0;
}

/* The ROUND begun is done with: pend comes back from out. `sent`: it went
 * out, so later ROUNDs carry only what is new; otherwise the commits stay
 * pending. */
static void end_round(pmls_sched *s, int sent) {
  if (!s->lent) return;
  pmi_buf t = s->pend;
  s->pend = s->out;
  s->out = t;
  s->lent = 0;
  s->out.len = 0;
  if (sent) {
    s->pend.len = 0;
    s->npend = 0;
    s->bcast_pending = 0;
  } else {
    s->pend.len = s->out_commits;
  }
}

/* Makes room in a slot for a round of n variables and nseg segments. */
static int slot_reserve(const pmls_sched *s, slot *sl, int64_t n, int nseg) {
  if ((size_t)n > sl->capvars) {
    size_t row = (size_t)n * (size_t)s->width + (size_t)s->extra;
    if (pmi_sched_resize(&sl->vars, (size_t)n, sizeof *sl->vars) ||
        pmi_sched_resize(&sl->sum, row, sizeof *sl->sum))
      return -1;
    sl->capvars = (size_t)n;
  }
  if ((size_t)nseg > sl->capseg) {
    if (pmi_sched_resize(&sl->seg_worker, (size_t)nseg,
                         sizeof *sl->seg_worker) ||
        pmi_sched_resize(&sl->seg_lo, (size_t)nseg, sizeof *sl->seg_lo) ||
        pmi_sched_resize(&sl->seg_hi, (size_t)nseg, sizeof *sl->seg_hi))
      return -1;
    sl->capseg = (size_t)nseg;
  }
  if (!sl->part_off &&
      !(sl->part_off = calloc((size_t)s->P + 1, sizeof *sl->part_off)))
    return -1;
  if (!sl->have && !(sl->have = calloc((size_t)s->P, 1))) return -1;
  if (!sl->ready && !(sl->ready = calloc((size_t)s->P, 1))) return -1;
  return 0;
}

/* Sends the message in s->out to every worker. */
static int send_all(pmls_sched *s) {
  for (int w = 0; w < s->P; w++) {
    char peer[32];
    snprintf(peer, sizeof peer, "worker %d", w);
    int rc = pmi_sched_send(s->e, s->push[w], &s->out, &s->traffic, peer,
                            s->err);
    if (rc) return rc;
  }
  return PMLS_OK;
}

/* Whether two segments of one worker share a variable (its partial holds
 * one value per variable, so they would be counted twice): *g1, *g2 name
 * such a pair, or *g1 = -1. Sorts indices by (worker, lo). -1: no memory. */
typedef struct {
  const int32_t *worker;
  const int64_t *lo;
} seg_order;

static int seg_cmp(const void *a, const void *b, void *arg) {
  const seg_order *o = arg;
  int x = *(const int *)a, y = *(const int *)b;
  if (o->worker[x] != o->worker[y]) return o->worker[x] < o->worker[y] ? -1 : 1;
  if (o->lo[x] != o->lo[y]) return o->lo[x] < o->lo[y] ? -1 : 1;
  return (x > y) - (x < y);
}

static int segments_overlap(const int32_t *worker, const int64_t *lo,
                            const int64_t *hi, int nseg, int *g1, int *g2) {
  *g1 = *g2 = -1;
  if (nseg < 2) return 0;
  int *idx = malloc((size_t)nseg * sizeof *idx);
  if (!idx) return -1;
  for (int g = 0; g < nseg; g++) idx[g] = g;
  seg_order o = {worker, lo};
  qsort_r(idx, (size_t)nseg, sizeof *idx, seg_cmp, &o);
  int far = idx[0]; /* the worker's segment reaching furthest so far */
  for (int k = 1; k < nseg; k++) {
    int b = idx[k];
    if (worker[b] != worker[far]) {
      far = b;
      continue;
    }
    if (lo[b] < hi[far] && lo[b] < hi[b]) {
      *g1 = far < b ? far : b;
      *g2 = far < b ? b : far;
      break;
    }
    if (hi[b] > hi[far]) far = b;
  }
  free(idx);
  return 0;
}

int pmls_sched_dispatch(pmls_sched *s, const int64_t *vars, int64_t n,
                        int nseg, const int32_t *seg_worker,
                        const int64_t *seg_lo, const int64_t *seg_hi,
                        const int32_t *seg_row, const int32_t *seg_col,
                        int64_t *round_out) {
  pmls_engine *e = s->e;
  if (s->stopped)
    return pmi_fail(s->err, PMLS_ESTATE, "dispatch after stop");
  if (s->count > s->depth)
    return pmi_fail(s->err, PMLS_ESTATE, "dispatch with %d rounds outstanding "
                    "(pipeline depth %d): collect first", s->count, s->depth);
  if (n < 1 || n > e->model.spec.per_round)
    return pmi_fail(s->err, PMLS_EINVAL, "bad round size %lld (1..%lld)",
                    (long long)n, (long long)e->model.spec.per_round);
  for (int64_t k = 0; k < n; k++)
    if (vars[k] < 0 || vars[k] >= s->vars)
      return pmi_fail(s->err, PMLS_EINVAL, "variable %lld out of range "
                      "(0..%lld)", (long long)vars[k], (long long)s->vars - 1);
  if (nseg < 0) return pmi_fail(s->err, PMLS_EINVAL, "bad nseg %d", nseg);
  for (int g = 0; g < nseg; g++)
    if (seg_worker[g] < 0 || seg_worker[g] >= s->P || seg_lo[g] < 0 ||
        seg_hi[g] > n || seg_lo[g] > seg_hi[g])
      return pmi_fail(s->err, PMLS_EINVAL, "bad segment %d (worker %d, "
                      "[%lld, %lld) of %lld)", g, seg_worker[g],
                      (long long)seg_lo[g], (long long)seg_hi[g], (long long)n);
  int g1, g2;
  if (segments_overlap(seg_worker, seg_lo, seg_hi, nseg, &g1, &g2) < 0)
    return pmi_fail(s->err, PMLS_ENOMEM, "out of memory");
  if (g1 >= 0)
    return pmi_fail(s->err, PMLS_EINVAL, "segments %d and %d give worker %d "
                    "variables [%lld, %lld) and [%lld, %lld): a worker's "
                    "segments must not overlap", g1, g2, seg_worker[g1],
                    (long long)seg_lo[g1], (long long)seg_hi[g1],
                    (long long)seg_lo[g2], (long long)seg_hi[g2]);
  if (!s->sent_initial) {
    int rc = pend_initial(s);
    if (rc) return rc;
    s->sent_initial = 1;
  }
  slot *sl = &s->slots[(s->first + s->count) % (s->depth + 1)];
  if (slot_reserve(s, sl, n, nseg))
    return pmi_fail(s->err, PMLS_ENOMEM, "out of memory for a round");
  sl->round = s->next_round;
  sl->n = n;
  sl->nseg = nseg;
  memcpy(sl->vars, vars, (size_t)n * sizeof *vars);
  for (int g = 0; g < nseg; g++) {
    sl->seg_worker[g] = seg_worker[g];
    sl->seg_lo[g] = seg_lo[g];
    sl->seg_hi[g] = seg_hi[g];
  }
  sl->part_off[0] = 0;
  for (int w = 0; w < s->P; w++)
    sl->part_off[w + 1] = sl->part_off[w] + share_values(s, sl, w);
  if (sl->part_off[s->P] > sl->capparts) {
    if (pmi_sched_resize(&sl->parts, sl->part_off[s->P], sizeof *sl->parts))
      return pmi_fail(s->err, PMLS_ENOMEM, "out of memory for a round");
    sl->capparts = sl->part_off[s->P];
  }
  memset(sl->have, 0, (size_t)s->P);
  memset(sl->ready, 0, (size_t)s->P);
  sl->got = sl->nready = sl->ended = 0;

  int rc = PMLS_OK;
  if (begin_round(s, s->agnostic ? ROUND_AGNOSTIC : 0, sl->round) ||
      pmi_put_i64(&s->out, n) ||
      pmi_buf_put(&s->out, vars, (size_t)n * sizeof *vars))
    rc = pmi_fail(s->err, PMLS_ENOMEM, "out of memory");
  size_t prefix = s->out.len;
  for (int w = 0; w < s->P && rc == PMLS_OK; w++) {
    s->out.len = prefix;
    int mine = 0, bad = 0;
    for (int g = 0; g < nseg; g++) mine += seg_worker[g] == w;
    if (nseg == 0) {
      bad |= pmi_put_i32(&s->out, 1) || pmi_put_i64(&s->out, 0) ||
             pmi_put_i64(&s->out, n) || pmi_put_i32(&s->out, -1) ||
             pmi_put_i32(&s->out, -1);
    } else {
      bad |= pmi_put_i32(&s->out, mine);
      for (int g = 0; g < nseg; g++) {
        if (seg_worker[g] != w) continue;
        bad |= pmi_put_i64(&s->out, seg_lo[g]) ||
               pmi_put_i64(&s->out, seg_hi[g]) ||
               pmi_put_i32(&s->out, seg_row ? seg_row[g] : -1) ||
               pmi_put_i32(&s->out, seg_col ? seg_col[g] : -1);
      }
    }
    if (bad) {
      rc = pmi_fail(s->err, PMLS_ENOMEM, "out of memory");
      break;
    }
    char peer[32];
    snprintf(peer, sizeof peer, "worker %d", w);
    rc = pmi_sched_send(e, s->push[w], &s->out, &s->traffic, peer, s->err);
  }
  end_round(s, rc == PMLS_OK);
  if (rc) return rc;
  s->count++;
  if (round_out) *round_out = s->next_round;
  s->next_round += s->K;
  return PMLS_OK;
}

/* Values a worker's PARTIAL must carry: its share times width, then extra. */
static size_t share_values(const pmls_sched *s, const slot *sl, int w) {
  if (sl->nseg == 0) return (size_t)sl->n * (size_t)s->width + (size_t)s->extra;
  size_t v = 0;
  for (int g = 0; g < sl->nseg; g++)
    if (sl->seg_worker[g] == w)
      v += (size_t)(sl->seg_hi[g] - sl->seg_lo[g]) * (size_t)s->width;
  return v + (size_t)s->extra;
}

static slot *slot_of_round(pmls_sched *s, int64_t round) {
  for (int i = 0; i < s->count; i++) {
    slot *sl = &s->slots[(s->first + i) % (s->depth + 1)];
    if (sl->round == round) return sl;
  }
  return NULL;
}

/* A worker's PARTIAL of an outstanding round. One that does not decode,
 * names no worker, no outstanding round, a round the worker already
 * answered, or carries the wrong number of values is dropped. */
static int take_partial(pmls_sched *s, pmi_rd *rd) {
  int w = pmi_get_i32(rd);
  int64_t round = pmi_get_i64(rd);
  int stale = pmi_get_i32(rd), passes = pmi_get_i32(rd);
  uint32_t count = pmi_get_u32(rd);
  slot *sl = slot_of_round(s, round);
  char why[160];
  if (rd->bad || w < 0 || w >= s->P || !sl || sl->have[w]) {
    snprintf(why, sizeof why, "unexpected partial (worker %d, round %lld)", w,
             (long long)round);
    node_dropped(s, why);
    return PMLS_OK;
  }
  size_t want = share_values(s, sl, w);
  const unsigned char *p = pmi_get_bytes(rd, (size_t)count * sizeof(double));
  if (!p || count != want) {
    snprintf(why, sizeof why, "worker %d's partial of round %lld has %u "
             "values, %zu expected", w, (long long)round, count, want);
    node_dropped(s, why);
    return PMLS_OK;
  }
  memcpy(sl->parts + sl->part_off[w], p, want * sizeof(double));
  sl->have[w] = 1;
  sl->got++;
  s->pushes++;
  if (stale < 0) stale = 0;
  s->stale_sum += stale;
  s->stale_sumsq += (double)stale * stale;
  if (stale > s->stale_max) s->stale_max = stale;
  s->stale_hist[stale < 16 ? stale : 16]++;
  if (passes > 0) s->passes[w] += passes;
  return PMLS_OK;
}

/* A worker's READY of an agnostic round: once every worker said it, the
 * node ends the round (ENDROUND). One of no outstanding round is dropped. */
static int take_ready(pmls_sched *s, pmi_rd *rd) {
  int w = pmi_get_i32(rd);
  int64_t round = pmi_get_i64(rd);
  slot *sl = slot_of_round(s, round);
  if (rd->bad || w < 0 || w >= s->P || !sl) {
    char why[96];
    snprintf(why, sizeof why, "unexpected ready (worker %d, round %lld)", w,
             (long long)round);
    node_dropped(s, why);
    return PMLS_OK;
  }
  if (sl->ready[w]) return PMLS_OK;
  sl->ready[w] = 1;
  if (++sl->nready < s->P || sl->ended) return PMLS_OK;
  sl->ended = 1;
  pmi_msg_begin(&s->out, s->e->job, PMI_MSG_ENDROUND, -1);
  pmi_put_i64(&s->out, round);
  return send_all(s);
}

/* The round's sum: the workers' partials added in worker order, so the
 * result does not depend on arrival order. It is what adding P dense rows
 * (zeros outside each share) gives: +0.0 where no worker wrote, and where
 * one did, its value (after + 0.0 when P > 1, as the dense sum had it). */
static void sum_parts(const pmls_sched *s, slot *sl) {
  size_t vals = (size_t)sl->n * (size_t)s->width, extra = (size_t)s->extra;
  double *sum = sl->sum;
  if (sl->nseg == 0) {
    memcpy(sum, sl->parts, (vals + extra) * sizeof *sum);
    for (int w = 1; w < s->P; w++) {
      const double *p = sl->parts + sl->part_off[w];
      for (size_t i = 0; i < vals + extra; i++) sum[i] += p[i];
    }
    return;
  }
  for (size_t i = 0; i < vals; i++) sum[i] = 0.0;
  for (int w = 0; w < s->P; w++) {
    const double *p = sl->parts + sl->part_off[w];
    for (int g = 0; g < sl->nseg; g++) {
      if (sl->seg_worker[g] != w) continue;
      size_t k = (size_t)(sl->seg_hi[g] - sl->seg_lo[g]) * (size_t)s->width;
      double *d = sum + (size_t)sl->seg_lo[g] * (size_t)s->width;
      if (s->P == 1)
        memcpy(d, p, k * sizeof *d);
      else
        for (size_t i = 0; i < k; i++) d[i] += p[i];
      p += k;
    }
    /* every worker sends extra: worker 0's first, as the dense sum did */
    for (size_t j = 0; j < extra; j++)
      sum[vals + j] = w == 0 ? p[j] : sum[vals + j] + p[j];
  }
}

int pmls_sched_collect(pmls_sched *s, pmls_collected *out) {
  pmls_engine *e = s->e;
  if (s->count == 0)
    return pmi_fail(s->err, PMLS_ESTATE, "collect with no round outstanding");
  slot *sl = &s->slots[s->first];
  double deadline = pmi_now() + e->cfg.timeout_ms / 1000.0;
  while (sl->got < s->P) {
    char what[96];
    int missing = -1;
    for (int w = 0; w < s->P && missing < 0; w++)
      if (!sl->have[w]) missing = w;
    snprintf(what, sizeof what, "worker %d's partial of round %lld", missing,
             (long long)sl->round);
    void *msg;
    size_t len;
    int rc = recv_within(e, s->sock, deadline, &s->traffic, s->err, what, &msg,
                         &len);
    if (rc) return rc;
    rc = pmi_sched_handle(s, msg, len);
    pmi_msg_free(msg);
    if (rc) return rc;
    deadline = pmi_now() + e->cfg.timeout_ms / 1000.0;
  }
  sum_parts(s, sl);
  s->collected = 1;
  out->round = sl->round;
  out->n = sl->n;
  out->vars = sl->vars;
  out->sum = sl->sum;
  return PMLS_OK;
}

const double *pmls_sched_partial(pmls_sched *s, int worker) {
  if (!s->collected || worker < 0 || worker >= s->P) return NULL;
  slot *sl = &s->slots[s->first];
  size_t row = (size_t)sl->n * (size_t)s->width + (size_t)s->extra;
  if (!s->dense_parts || row > s->capdense) {
    free(s->dense_parts);
    s->dense_parts = malloc(row * (size_t)s->P * sizeof *s->dense_parts);
    s->capdense = s->dense_parts ? row : 0;
    if (!s->dense_parts) return NULL;
  }
  double *dst = s->dense_parts + (size_t)worker * row;
  const double *p = sl->parts + sl->part_off[worker];
  memset(dst, 0, row * sizeof *dst);
  if (sl->nseg == 0) {
    memcpy(dst, p, row * sizeof *dst);
    return dst;
  }
  for (int g = 0; g < sl->nseg; g++) {
    if (sl->seg_worker[g] != worker) continue;
    size_t k = (size_t)(sl->seg_hi[g] - sl->seg_lo[g]) * (size_t)s->width;
    memcpy(dst + (size_t)sl->seg_lo[g] * (size_t)s->width, p, k * sizeof *p);
    p += k;
  }
  memcpy(dst + (size_t)sl->n * (size_t)s->width, p, (size_t)s->extra * sizeof *p);
  return dst;
}

int pmls_sched_commit(pmls_sched *s, const double *values) {
  if (!s->collected)
    return pmi_fail(s->err, PMLS_ESTATE, "commit before collect");
  slot *sl = &s->slots[s->first];
  size_t nv = (size_t)sl->n * (size_t)s->width;
  if (pmi_sched_grow((void **)&s->deltas, &s->capdeltas, nv, sizeof *s->deltas))
    return pmi_fail(s->err, PMLS_ENOMEM, "out of memory");
  for (int64_t k = 0; k < sl->n; k++) {
    double *x = s->model + sl->vars[k] * s->width;
    double *d = s->deltas + k * s->width;
    const double *v = values + k * s->width;
    int nonzero = 0;
    for (int c = 0; c < s->width; c++) {
      d[c] = v[c] - x[c];
      x[c] += d[c];
      nonzero |= d[c] != 0.0;
    }
    if (nonzero && pend_change(s, sl->vars[k], d))
      return pmi_fail(s->err, PMLS_ENOMEM, "out of memory");
  }
  s->through = sl->round;
  s->rounds++;
  s->updates += sl->n;
  s->collected = 0;
  s->first = (s->first + 1) % (s->depth + 1);
  s->count--;
  return PMLS_OK;
}

int pmls_sched_add(pmls_sched *s, int64_t var, const double *delta) {
  if (var < 0 || var >= s->vars)
    return pmi_fail(s->err, PMLS_EINVAL, "variable %lld out of range (0..%lld)",
                    (long long)var, (long long)s->vars - 1);
  double *x = s->model + var * s->width;
  for (int c = 0; c < s->width; c++) x[c] += delta[c];
  if (pend_change(s, var, delta))
    return pmi_fail(s->err, PMLS_ENOMEM, "out of memory");
  return PMLS_OK;
}

int pmls_sched_flush(pmls_sched *s) {
  if (s->stopped)
    return pmi_fail(s->err, PMLS_ESTATE, "flush after stop");
  if (!s->npend && !s->bcast_pending && s->through == s->sent_through)
    return PMLS_OK;
  if (begin_round(s, ROUND_COMMITS, -1)) {
    end_round(s, 0);
    return pmi_fail(s->err, PMLS_ENOMEM, "out of memory");
  }
  int rc = send_all(s);
  end_round(s, rc == PMLS_OK);
  return rc;
}

int pmls_sched_broadcast(pmls_sched *s, const double *values, int64_t n) {
  if (s->stopped)
    return pmi_fail(s->err, PMLS_ESTATE, "broadcast after stop");
  if (n < 0 || n > PMLS_BROADCAST_MAX)
    return pmi_fail(s->err, PMLS_EINVAL, "bad argument 'n' to broadcast: "
                    "%lld values (0..%d)", (long long)n, PMLS_BROADCAST_MAX);
  if (n > 0 && !values)
    return pmi_fail(s->err, PMLS_EINVAL, "bad argument 'values' to "
                    "broadcast: NULL for %lld values", (long long)n);
  if (pmi_sched_resize(&s->bcast, (size_t)n, sizeof *s->bcast))
    return pmi_fail(s->err, PMLS_ENOMEM, "out of memory");
  if (n > 0) memcpy(s->bcast, values, (size_t)n * sizeof *values);
  s->nbcast = n;
  s->bcast_pending = 1;
  return PMLS_OK;
}

int pmls_sched_note(pmls_sched *s, const char *name, double value) {
  int i;
  for (i = 0; i < s->nnotes; i++)
    if (strcmp(s->note_name[i], name) == 0) break;
  if (i == MAX_NOTES)
    return pmi_fail(s->err, PMLS_EINVAL, "too many notes (%d)", MAX_NOTES);
  if (!name[0] || strlen(name) >= PMI_NAME_MAX)
    return pmi_fail(s->err, PMLS_EINVAL, "bad note name '%s'", name);
  snprintf(s->note_name[i], PMI_NAME_MAX, "%s", name);
  s->note_value[i] = value;
  if (i == s->nnotes) s->nnotes++;
  return PMLS_OK;
}

int pmls_sched_stop(pmls_sched *s) {
  if (s->stopped) return PMLS_OK;
  if (s->count)
    return pmi_fail(s->err, PMLS_ESTATE, "stop with %d rounds outstanding: "
                    "collect and commit them first", s->count);
  if (!s->sent_initial) {
    int rc = pend_initial(s);
    if (rc) return rc;
    s->sent_initial = 1;
  }
  s->stopped = 1;
  int bad = begin_round(s, ROUND_STOP, s->next_round - s->K);
  pmi_put_i64(&s->out, s->rounds);
  pmi_put_i64(&s->out, s->updates);
  pmi_put_i64(&s->out, s->pushes);
  pmi_put_f64(&s->out, s->stale_sum);
  pmi_put_f64(&s->out, s->stale_sumsq);
  pmi_put_i64(&s->out, s->stale_max);
  for (int i = 0; i < 17; i++) pmi_put_i64(&s->out, s->stale_hist[i]);
  pmi_put_i32(&s->out, s->P);
  for (int w = 0; w < s->P; w++) pmi_put_i64(&s->out, s->passes[w]);
  pmi_put_i32(&s->out, s->nnotes);
  for (int i = 0; i < s->nnotes; i++) {
    pmi_put_str(&s->out, s->note_name[i]);
    pmi_put_f64(&s->out, s->note_value[i]);
  }
  int rc = bad ? pmi_fail(s->err, PMLS_ENOMEM, "out of memory") : send_all(s);
  end_round(s, rc == PMLS_OK);
  /* nanomsg drops what is unsent when a socket closes: wait until every
   * worker says it has the STOP. */
  double deadline = pmi_now() + s->e->cfg.timeout_ms / 1000.0;
  while (rc == PMLS_OK && s->byes < s->P) {
    void *msg;
    size_t len;
    rc = recv_within(s->e, s->sock, deadline, &s->traffic, s->err,
                     "the workers to take the last round", &msg, &len);
    if (rc) break;
    rc = pmi_sched_handle(s, msg, len);
    pmi_msg_free(msg);
  }
  return rc;
}
