/* rounds.c -- scheduled model parallelism: the rounds of STRADS.
 *
 * A scheduler node (a thread that runs the script's schedule and pull) and
 * the workers (threads that run its push) exchange rounds directly, over the
 * job's transport: the node sends each worker a ROUND (the variables, the
 * worker's share, and every commit made since its last ROUND), each worker
 * answers with a PARTIAL, and the node commits the combined result. Commits
 * ride on the next ROUND rather than in messages of their own: at pipeline
 * depth 0 that next ROUND is exactly when a worker needs them, and at depth
 * D it is what makes a push miss at most D earlier rounds. A final ROUND
 * marked STOP carries the last commits and the node's counters.
 *
 * Workers keep a copy of the whole model. Commits are applied only between
 * pushes (in pmls_round_next), never while a push runs, so a push sees one
 * consistent model. Partials are summed in worker order once all are in, so
 * a run's result does not depend on which worker answered first. */
#include <stdlib.h>
#include <string.h>

#include "../client/client_int.h"
#include "../runtime/engine.h"

enum { ROUND_STOP = 1, ROUND_AGNOSTIC = 2, ROUND_COMMITS = 4 };
#define MAX_NOTES 32

/* ---- the model spec ------------------------------------------------------ */

int pmls_model_declare(pmls_engine *e, const pmls_model_spec *spec) {
  if (!spec) return pmi_fail(e->err, PMLS_EINVAL, "missing model spec");
  pmls_model_spec s = *spec;
  if (s.width == 0) s.width = 1;
  if (s.vars < 1 || s.vars > ((int64_t)1 << 40))
    return pmi_fail(e->err, PMLS_EINVAL, "bad model vars %lld (1..2^40)",
                    (long long)s.vars);
  if (s.width < 1 || s.width > 65536)
    return pmi_fail(e->err, PMLS_EINVAL, "bad model width %d (1..65536)",
                    s.width);
  if (s.extra < 0 || s.extra > 65536)
    return pmi_fail(e->err, PMLS_EINVAL, "bad model extra %d (0..65536)",
                    s.extra);
  if (s.sched_lo == 0 && s.sched_hi == 0) s.sched_hi = s.vars;
  if (s.sched_lo < 0 || s.sched_hi > s.vars || s.sched_lo >= s.sched_hi)
    return pmi_fail(e->err, PMLS_EINVAL, "bad schedulable range [%lld, %lld) "
                    "of %lld variables", (long long)s.sched_lo,
                    (long long)s.sched_hi, (long long)s.vars);
  if (s.per_round == 0) s.per_round = s.sched_hi - s.sched_lo;
  if (s.per_round < 1)
    return pmi_fail(e->err, PMLS_EINVAL, "bad per_round %lld (>= 1)",
                    (long long)s.per_round);
  if (s.pipeline < 0 || s.pipeline > 64)
    return pmi_fail(e->err, PMLS_EINVAL, "bad pipeline depth %d (0..64)",
                    s.pipeline);
  if (s.sched_hi - s.sched_lo < e->schedulers)
    return pmi_fail(e->err, PMLS_EINVAL, "%d scheduler nodes for %lld "
                    "schedulable variables: each node needs one at least",
                    e->schedulers, (long long)(s.sched_hi - s.sched_lo));
  pthread_mutex_lock(&e->mu);
  int again = e->model.declared;
  if (!again) {
    e->model.spec = s;
    e->model.declared = 1;
    e->model.passes = calloc((size_t)e->workers, sizeof *e->model.passes);
  }
  pthread_mutex_unlock(&e->mu);
  if (again) return pmi_fail(e->err, PMLS_ESTATE, "the model is already declared");
  if (!e->model.passes) return pmi_fail(e->err, PMLS_ENOMEM, "out of memory");
  return PMLS_OK;
}

int pmls_model_spec_of(pmls_engine *e, pmls_model_spec *out) {
  if (!e->model.declared)
    return pmi_fail(e->err, PMLS_ESTATE, "no model declared");
  *out = e->model.spec;
  return PMLS_OK;
}

const double *pmls_model_values(pmls_engine *e) { return e->model.final; }

void pmi_model_free(pmls_engine *e) {
  free(e->model.final);
  free(e->model.passes);
}

/* Node k of K schedules an even share of the schedulable range. */
static void node_range(const pmls_model_spec *s, int k, int K, int64_t *lo,
                       int64_t *hi) {
  int64_t span = s->sched_hi - s->sched_lo;
  *lo = s->sched_lo + span * k / K;
  *hi = s->sched_lo + span * (k + 1) / K;
}

void pmi_model_finals(pmls_engine *e) {
  pmi_model *m = &e->model;
  if (!m->declared || !m->have_stats) return;
  pmi_metrics *mt = e->metrics;
  pmi_metrics_set_final(mt, "rounds", (double)m->rounds);
  pmi_metrics_set_final(mt, "updates", (double)m->updates);
  double n = m->pushes ? (double)m->pushes : 1.0;
  double mean = m->stale_sum / n;
  pmi_metrics_set_final(mt, "round_staleness_mean", mean);
  pmi_metrics_set_final(mt, "round_staleness_var",
                        m->stale_sumsq / n - mean * mean);
  pmi_metrics_set_final(mt, "round_staleness_max", (double)m->stale_max);
  if (m->spec.agnostic && e->workers > 0) {
    int64_t lo = m->passes[0], hi = m->passes[0];
    for (int w = 1; w < e->workers; w++) {
      if (m->passes[w] < lo) lo = m->passes[w];
      if (m->passes[w] > hi) hi = m->passes[w];
    }
    pmi_metrics_set_final(mt, "passes_min", (double)lo);
    pmi_metrics_set_final(mt, "passes_max", (double)hi);
  }
}

/* ---- the scheduler node -------------------------------------------------- */

typedef struct {
  int64_t round, n;
  int64_t *vars;
  int nseg;
  int32_t *seg_worker;
  int64_t *seg_lo, *seg_hi;
  unsigned char *have, *ready;
  int got, nready, ended;
  double *sum, *parts; /* parts: P rows of n * width + extra */
  size_t capvars, capseg; /* what vars/sum/parts and the segments hold */
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
  int64_t next_round, through, sent_through;
  int sent_initial, stopped;
  pmi_buf pend; /* commits since the last ROUND: (var, width deltas) */
  int64_t npend;
  pmi_buf out;
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

static int dead_error(pmls_engine *e, char *err) {
  return pmi_fail(err, PMLS_ESTATE, "run aborted: %s", e->dead_why);
}

/* Receives one message within the run's timeout, waking every slice to see
 * whether the job died. `what` names what is awaited, for the error. */
static int recv_within(pmls_engine *e, int sock, double deadline,
                       pmi_traffic *t, char *err, const char *what,
                       void **msg, size_t *len) {
  for (;;) {
    if (atomic_load(&e->dead)) return dead_error(e, err);
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

static int send_to(pmls_engine *e, int sock, pmi_buf *b, pmi_traffic *t,
                   const char *peer, char *err) {
  if (atomic_load(&e->dead)) return dead_error(e, err);
  int rc = pmi_msg_send_until(sock, b, t, peer, err, e->cfg.timeout_ms,
                              &e->dead);
  if (rc != PMLS_OK && atomic_load(&e->dead)) return dead_error(e, err);
  return rc;
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
  pmi_buf_free(&s->pend);
  pmi_buf_free(&s->out);
  free(s);
  return PMLS_OK;
}

/* Waits for every worker's SHELLO and connects to each. */
static int meet_workers(pmls_sched *s) {
  pmls_engine *e = s->e;
  const pmls_model_spec *m = &e->model.spec;
  int met = 0;
  double deadline = pmi_now() + e->cfg.timeout_ms / 1000.0;
  while (met < s->P) {
    void *msg;
    size_t len;
    char what[96];
    snprintf(what, sizeof what, "the workers to reach scheduler node %d (%d "
             "of %d did)", s->node, met, s->P);
    int rc = recv_within(e, s->sock, deadline, &s->traffic, s->err, what, &msg,
                         &len);
    if (rc) return rc;
    pmi_hdr h;
    pmi_rd rd;
    rc = pmi_msg_open(msg, len, e->job, &h, &rd, s->err);
    if (rc == PMLS_OK && h.type != PMI_MSG_SHELLO)
      rc = pmi_fail(s->err, PMLS_EPROTO, "scheduler node %d: a %s before the "
                    "workers said hello", s->node, pmi_msg_type_name(h.type));
    if (rc) {
      pmi_msg_free(msg);
      return rc;
    }
    int w = pmi_get_i32(&rd);
    char addr[PMI_ADDR_MAX];
    pmi_get_str(&rd, addr, sizeof addr);
    int64_t vars = pmi_get_i64(&rd);
    int width = pmi_get_i32(&rd), extra = pmi_get_i32(&rd);
    int depth = pmi_get_i32(&rd), K = pmi_get_i32(&rd);
    int bad = rd.bad;
    pmi_msg_free(msg);
    if (bad || w < 0 || w >= s->P)
      return pmi_fail(s->err, PMLS_EPROTO, "scheduler node %d: malformed "
                      "hello (worker %d)", s->node, w);
    if (vars != m->vars || width != m->width || extra != m->extra ||
        depth != m->pipeline || K != s->K)
      return pmi_fail(s->err, PMLS_EINVAL, "worker %d declared a model of %lld "
                      "variables x %d (extra %d, pipeline %d, %d nodes); "
                      "scheduler node %d has %lld x %d (extra %d, pipeline "
                      "%d, %d nodes): every process must declare the same "
                      "model", w, (long long)vars, width, extra, depth, K,
                      s->node, (long long)m->vars, m->width, m->extra,
                      m->pipeline, s->K);
    if (s->push[w] >= 0) continue; /* said twice */
    s->push[w] = pmi_sock_push(addr, pmi_send_slice(e->cfg.timeout_ms), s->err);
    if (s->push[w] < 0) return PMLS_ENET;
    met++;
  }
  return PMLS_OK;
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
  const pmls_model_spec *m = &e->model.spec;
  pmls_sched *s = calloc(1, sizeof *s);
  if (!s) return pmi_fail(e->err, PMLS_ENOMEM, "out of memory");
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
  s->sock = e->sched_sock[node];
  e->sched_sock[node] = -1;
  s->next_round = node;
  s->through = s->sent_through = -1;
  s->push = malloc((size_t)s->P * sizeof *s->push);
  s->model = calloc((size_t)(s->vars * s->width), sizeof *s->model);
  s->slots = calloc((size_t)s->depth + 1, sizeof *s->slots);
  s->passes = calloc((size_t)s->P, sizeof *s->passes);
  if (!s->push || !s->model || !s->slots || !s->passes) {
    pmls_sched_close(s);
    return pmi_fail(e->err, PMLS_ENOMEM, "out of memory for a scheduler node");
  }
  for (int w = 0; w < s->P; w++) s->push[w] = -1;
  int rc = meet_workers(s);
  if (rc) {
    snprintf(e->err, sizeof e->err, "%s", s->err);
    pmls_sched_close(s);
    return rc;
  }
  *out = s;
  return PMLS_OK;
}

static int pend_change(pmls_sched *s, int64_t var, const double *delta) {
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

/* The part of a ROUND every worker shares: node, round, commits. */
static void begin_round(pmls_sched *s, int flags, int64_t round) {
  pmi_msg_begin(&s->out, s->e->job, PMI_MSG_ROUND, -1);
  ((pmi_hdr *)s->out.data)->flags = (uint16_t)flags;
  pmi_put_i32(&s->out, s->node);
  pmi_put_i64(&s->out, round);
  pmi_put_i64(&s->out, s->through);
  s->sent_through = s->through;
  pmi_put_i64(&s->out, s->npend);
  pmi_buf_put(&s->out, s->pend.data, s->pend.len);
}

/* Grows *p to n elements of size elem (realloc keeps the old ones). */
static int resize(void *p, size_t n, size_t elem) {
  void *q = realloc(*(void **)p, (n ? n : 1) * elem);
  if (!q) return -1;
  *(void **)p = q;
  return 0;
}

/* Makes room in a slot for a round of n variables and nseg segments. */
static int slot_reserve(const pmls_sched *s, slot *sl, int64_t n, int nseg) {
  if ((size_t)n > sl->capvars) {
    size_t row = (size_t)n * (size_t)s->width + (size_t)s->extra;
    if (resize(&sl->vars, (size_t)n, sizeof *sl->vars) ||
        resize(&sl->sum, row, sizeof *sl->sum) ||
        resize(&sl->parts, row * (size_t)s->P, sizeof *sl->parts))
      return -1;
    sl->capvars = (size_t)n;
  }
  if ((size_t)nseg > sl->capseg) {
    if (resize(&sl->seg_worker, (size_t)nseg, sizeof *sl->seg_worker) ||
        resize(&sl->seg_lo, (size_t)nseg, sizeof *sl->seg_lo) ||
        resize(&sl->seg_hi, (size_t)nseg, sizeof *sl->seg_hi))
      return -1;
    sl->capseg = (size_t)nseg;
  }
  if (!sl->have && !(sl->have = calloc((size_t)s->P, 1))) return -1;
  if (!sl->ready && !(sl->ready = calloc((size_t)s->P, 1))) return -1;
  return 0;
}

/* Sends the message in s->out to every worker. */
static int send_all(pmls_sched *s) {
  for (int w = 0; w < s->P; w++) {
    char peer[32];
    snprintf(peer, sizeof peer, "worker %d", w);
    int rc = send_to(s->e, s->push[w], &s->out, &s->traffic, peer, s->err);
    if (rc) return rc;
  }
  return PMLS_OK;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t c = *cap ? *cap : 16;
  while (c < need) c *= 2;
  void *q = realloc(*p, c * elem);
  if (!q) return -1;
  *p = q;
  *cap = c;
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
  memset(sl->have, 0, (size_t)s->P);
  memset(sl->ready, 0, (size_t)s->P);
  sl->got = sl->nready = sl->ended = 0;

  begin_round(s, s->agnostic ? ROUND_AGNOSTIC : 0, sl->round);
  pmi_put_i64(&s->out, n);
  pmi_buf_put(&s->out, vars, (size_t)n * sizeof *vars);
  size_t prefix = s->out.len;
  int rc = PMLS_OK;
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
    rc = send_to(e, s->push[w], &s->out, &s->traffic, peer, s->err);
  }
  if (rc) return rc;
  s->pend.len = 0;
  s->npend = 0;
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

static int take_partial(pmls_sched *s, pmi_rd *rd) {
  int w = pmi_get_i32(rd);
  int64_t round = pmi_get_i64(rd);
  int stale = pmi_get_i32(rd), passes = pmi_get_i32(rd);
  uint32_t count = pmi_get_u32(rd);
  slot *sl = slot_of_round(s, round);
  if (rd->bad || w < 0 || w >= s->P || !sl || sl->have[w])
    return pmi_fail(s->err, PMLS_EPROTO, "scheduler node %d: unexpected "
                    "partial (worker %d, round %lld)", s->node, w,
                    (long long)round);
  size_t want = share_values(s, sl, w);
  const unsigned char *p = pmi_get_bytes(rd, (size_t)count * sizeof(double));
  if (!p || count != want)
    return pmi_fail(s->err, PMLS_EPROTO, "scheduler node %d: worker %d's "
                    "partial of round %lld has %u values, %zu expected",
                    s->node, w, (long long)round, count, want);
  size_t row = (size_t)sl->n * (size_t)s->width + (size_t)s->extra;
  double *dst = sl->parts + (size_t)w * row;
  memset(dst, 0, row * sizeof *dst);
  if (sl->nseg == 0) {
    memcpy(dst, p, want * sizeof *dst);
  } else {
    size_t off = 0;
    for (int g = 0; g < sl->nseg; g++) {
      if (sl->seg_worker[g] != w) continue;
      size_t k = (size_t)(sl->seg_hi[g] - sl->seg_lo[g]) * (size_t)s->width;
      memcpy(dst + (size_t)sl->seg_lo[g] * (size_t)s->width,
             p + off * sizeof(double), k * sizeof(double));
      off += k;
    }
    memcpy(dst + (size_t)sl->n * (size_t)s->width, p + off * sizeof(double),
           (size_t)s->extra * sizeof(double));
  }
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

static int take_ready(pmls_sched *s, pmi_rd *rd) {
  int w = pmi_get_i32(rd);
  int64_t round = pmi_get_i64(rd);
  slot *sl = slot_of_round(s, round);
  if (rd->bad || w < 0 || w >= s->P || !sl)
    return pmi_fail(s->err, PMLS_EPROTO, "scheduler node %d: unexpected "
                    "ready (worker %d, round %lld)", s->node, w,
                    (long long)round);
  if (sl->ready[w]) return PMLS_OK;
  sl->ready[w] = 1;
  if (++sl->nready < s->P || sl->ended) return PMLS_OK;
  sl->ended = 1;
  pmi_msg_begin(&s->out, s->e->job, PMI_MSG_ENDROUND, -1);
  pmi_put_i64(&s->out, round);
  return send_all(s);
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
    pmi_hdr h;
    pmi_rd rd;
    rc = pmi_msg_open(msg, len, e->job, &h, &rd, s->err);
    if (rc == PMLS_OK) {
      if (h.type == PMI_MSG_PARTIAL) rc = take_partial(s, &rd);
      else if (h.type == PMI_MSG_READY) rc = take_ready(s, &rd);
      else if (h.type != PMI_MSG_SHELLO) /* a repeated hello is harmless */
        rc = pmi_fail(s->err, PMLS_EPROTO, "scheduler node %d: unexpected %s",
                      s->node, pmi_msg_type_name(h.type));
    }
    pmi_msg_free(msg);
    if (rc) return rc;
    deadline = pmi_now() + e->cfg.timeout_ms / 1000.0;
  }
  /* Summed in worker order: the result does not depend on arrival order. */
  size_t row = (size_t)sl->n * (size_t)s->width + (size_t)s->extra;
  memcpy(sl->sum, sl->parts, row * sizeof *sl->sum);
  for (int w = 1; w < s->P; w++) {
    const double *p = sl->parts + (size_t)w * row;
    for (size_t i = 0; i < row; i++) sl->sum[i] += p[i];
  }
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
  return sl->parts + (size_t)worker * row;
}

int pmls_sched_commit(pmls_sched *s, const double *values) {
  if (!s->collected)
    return pmi_fail(s->err, PMLS_ESTATE, "commit before collect");
  slot *sl = &s->slots[s->first];
  size_t nv = (size_t)sl->n * (size_t)s->width;
  if (grow((void **)&s->deltas, &s->capdeltas, nv, sizeof *s->deltas))
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
  if (!s->npend && s->through == s->sent_through) return PMLS_OK;
  begin_round(s, ROUND_COMMITS, -1);
  int rc = send_all(s);
  if (rc) return rc;
  s->pend.len = 0;
  s->npend = 0;
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
  begin_round(s, ROUND_STOP, s->next_round - s->K);
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
  int rc = send_all(s);
  /* nanomsg drops what is unsent when a socket closes: wait until every
   * worker says it has the STOP. */
  int byes = 0;
  double deadline = pmi_now() + s->e->cfg.timeout_ms / 1000.0;
  while (rc == PMLS_OK && byes < s->P) {
    void *msg;
    size_t len;
    rc = recv_within(s->e, s->sock, deadline, &s->traffic, s->err,
                     "the workers to take the last round", &msg, &len);
    if (rc) break;
    pmi_hdr h;
    pmi_rd rd;
    rc = pmi_msg_open(msg, len, s->e->job, &h, &rd, s->err);
    if (rc == PMLS_OK && h.type == PMI_MSG_SBYE) byes++;
    pmi_msg_free(msg);
  }
  return rc;
}

/* ---- the worker's side --------------------------------------------------- */

typedef struct {
  void *msg;
  const unsigned char *payload;
  size_t len;    /* of the payload */
  size_t body;   /* where the round part starts, past the commits */
  int64_t round;
  int node;
} queued;

typedef struct pmi_rounds {
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
  int64_t next_t, ended_round;
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
  int agnostic;
  int64_t staleness;
  /* commits applied since the last round, handed to the script */
  int64_t nchanged;
  int64_t *changed;
  size_t capchanged;
  double *deltas;
  size_t capdeltas;
  pmi_buf out;
  pmi_traffic traffic;
} pmi_rounds;

static char *cerr(pmls_client *c) { return pmi_client_errbuf(c); }

int pmls_round_join(pmls_client *c) {
  pmls_engine *e = pmi_client_engine(c);
  int worker = pmls_client_worker(c);
  pmi_rounds **slotp = pmi_client_rounds(c);
  if (worker < 0)
    return pmi_fail(cerr(c), PMLS_EINVAL, "only worker clients take rounds");
  if (!e->model.declared)
    return pmi_fail(cerr(c), PMLS_ESTATE, "no model declared");
  if (*slotp) return PMLS_OK;
  const pmls_model_spec *m = &e->model.spec;
  pmi_rounds *r = calloc(1, sizeof *r);
  if (!r) return pmi_fail(cerr(c), PMLS_ENOMEM, "out of memory");
  *slotp = r;
  r->e = e;
  r->worker = worker;
  r->K = e->schedulers;
  r->width = m->width;
  r->extra = m->extra;
  r->depth = m->pipeline;
  r->nvars = m->vars;
  r->sock = -1;
  r->ended_round = -1;
  r->round = -1;
  r->push = malloc((size_t)r->K * sizeof *r->push);
  r->model = calloc((size_t)(r->nvars * r->width), sizeof *r->model);
  r->through = malloc((size_t)r->K * sizeof *r->through);
  r->last = malloc((size_t)r->K * sizeof *r->last);
  r->stopped = calloc((size_t)r->K, 1);
  if (!r->push || !r->model || !r->through || !r->last || !r->stopped)
    return pmi_fail(cerr(c), PMLS_ENOMEM, "out of memory for the model copy");
  for (int k = 0; k < r->K; k++) {
    r->push[k] = -1;
    r->through[k] = -1;
    r->last[k] = INT64_MAX;
  }
  char name[48], addr[PMI_ADDR_MAX];
  snprintf(name, sizeof name, "w%d-r", worker);
  r->sock = pmi_job_bind(e, name, 200, addr, cerr(c));
  if (r->sock < 0) return PMLS_ENET;
  for (int k = 0; k < r->K; k++) {
    r->push[k] = pmi_sock_push(e->server_addr[e->servers + k],
                               pmi_send_slice(e->cfg.timeout_ms), cerr(c));
    if (r->push[k] < 0) return PMLS_ENET;
    pmi_msg_begin(&r->out, e->job, PMI_MSG_SHELLO, worker);
    pmi_put_i32(&r->out, worker);
    pmi_put_str(&r->out, addr);
    pmi_put_i64(&r->out, m->vars);
    pmi_put_i32(&r->out, m->width);
    pmi_put_i32(&r->out, m->extra);
    pmi_put_i32(&r->out, m->pipeline);
    pmi_put_i32(&r->out, r->K);
    char peer[48];
    snprintf(peer, sizeof peer, "scheduler node %d", k);
    int rc = send_to(e, r->push[k], &r->out, &r->traffic, peer, cerr(c));
    if (rc) return rc;
  }
  return PMLS_OK;
}

void pmi_rounds_free(pmls_client *c) {
  pmi_rounds **slotp = pmi_client_rounds(c);
  pmi_rounds *r = *slotp;
  if (!r) return;
  *slotp = NULL;
  pmls_engine *e = r->e;
  pthread_mutex_lock(&e->mu);
  if (!e->model.final && r->model && r->next_t > 0) {
    e->model.final = r->model; /* the engine keeps it for finish */
    r->model = NULL;
  }
  pthread_mutex_unlock(&e->mu);
  if (r->push) /* their SBYE may still be on its way */
    for (int k = 0; k < r->K; k++) pmi_engine_park(e, r->push[k]);
  pmi_sock_close(r->sock);
  for (size_t i = 0; i < r->nq; i++) pmi_msg_free(r->q[i].msg);
  for (size_t i = 0; i < r->nheld; i++) pmi_msg_free(r->held[i]);
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
}

/* Appends a commit to the changes handed to the script and applies it to
 * the model copy. src points into a message, maybe unaligned: it is copied
 * bytewise first. */
static int note_change(pmi_rounds *r, int64_t var, const void *src) {
  if (grow((void **)&r->changed, &r->capchanged, (size_t)r->nchanged + 1,
           sizeof *r->changed) ||
      grow((void **)&r->deltas, &r->capdeltas,
           (size_t)(r->nchanged + 1) * (size_t)r->width, sizeof *r->deltas))
    return -1;
  double *d = r->deltas + r->nchanged * r->width;
  memcpy(d, src, (size_t)r->width * sizeof *d);
  r->changed[r->nchanged++] = var;
  double *x = r->model + var * r->width;
  for (int c = 0; c < r->width; c++) x[c] += d[c];
  return 0;
}

/* Worker 0 (in rank 0) hands the node's counters to the engine. */
static void take_stop_stats(pmi_rounds *r, pmi_rd *rd) {
  pmls_engine *e = r->e;
  pmi_model *m = &e->model;
  int64_t rounds = pmi_get_i64(rd), updates = pmi_get_i64(rd);
  int64_t pushes = pmi_get_i64(rd);
  double sum = pmi_get_f64(rd), sumsq = pmi_get_f64(rd);
  int64_t mx = pmi_get_i64(rd), hist[17];
  for (int i = 0; i < 17; i++) hist[i] = pmi_get_i64(rd);
  int P = pmi_get_i32(rd);
  if (rd->bad || P != e->workers) return;
  pthread_mutex_lock(&e->mu);
  for (int w = 0; w < P; w++) m->passes[w] += pmi_get_i64(rd);
  m->rounds += rounds;
  m->updates += updates;
  m->pushes += pushes;
  m->stale_sum += sum;
  m->stale_sumsq += sumsq;
  if (mx > m->stale_max) m->stale_max = mx;
  for (int i = 0; i < 17; i++) m->stale_hist[i] += hist[i];
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

/* Looks at a received message: applies a ROUND's commits at once and queues
 * its round; notes an ENDROUND. Takes ownership of msg. */
static int take_message(pmls_client *c, pmi_rounds *r, void *msg, size_t len) {
  pmi_hdr h;
  pmi_rd rd;
  int rc = pmi_msg_open(msg, len, r->e->job, &h, &rd, cerr(c));
  if (rc) {
    pmi_msg_free(msg);
    return rc;
  }
  if (h.type == PMI_MSG_ENDROUND) {
    int64_t round = pmi_get_i64(&rd);
    if (!rd.bad && round > r->ended_round) r->ended_round = round;
    pmi_msg_free(msg);
    return PMLS_OK;
  }
  if (h.type != PMI_MSG_ROUND) {
    pmi_msg_free(msg);
    return pmi_fail(cerr(c), PMLS_EPROTO, "worker %d: unexpected %s from a "
                    "scheduler node", r->worker, pmi_msg_type_name(h.type));
  }
  int node = pmi_get_i32(&rd);
  int64_t round = pmi_get_i64(&rd), through = pmi_get_i64(&rd);
  int64_t nchg = pmi_get_i64(&rd);
  if (rd.bad || node < 0 || node >= r->K || nchg < 0) {
    pmi_msg_free(msg);
    return pmi_fail(cerr(c), PMLS_EPROTO, "worker %d: malformed ROUND",
                    r->worker);
  }
  for (int64_t i = 0; i < nchg && !rd.bad; i++) {
    int64_t var = pmi_get_i64(&rd);
    const void *p = pmi_get_bytes(&rd, (size_t)r->width * sizeof(double));
    if (!p || var < 0 || var >= r->nvars) {
      rd.bad = 1;
      break;
    }
    if (note_change(r, var, p)) {
      pmi_msg_free(msg);
      return pmi_fail(cerr(c), PMLS_ENOMEM, "out of memory");
    }
  }
  if (rd.bad) {
    pmi_msg_free(msg);
    return pmi_fail(cerr(c), PMLS_EPROTO, "worker %d: malformed commits in a "
                    "ROUND from node %d", r->worker, node);
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
    return send_to(r->e, r->push[node], &r->out, &r->traffic,
                   "a scheduler node", cerr(c));
  }
  if (grow((void **)&r->q, &r->capq, r->nq + 1, sizeof *r->q)) {
    pmi_msg_free(msg);
    return pmi_fail(cerr(c), PMLS_ENOMEM, "out of memory");
  }
  r->q[r->nq++] = (queued){msg, rd.p, rd.len, rd.off, round, node};
  return PMLS_OK;
}

/* Rounds of every node up to the result have reached this worker's copy. */
static int64_t complete_through(const pmi_rounds *r) {
  int64_t first_missing = INT64_MAX;
  for (int k = 0; k < r->K; k++) {
    if (r->stopped[k]) continue;
    int64_t f = r->through[k] < 0 ? k : r->through[k] + r->K;
    if (f < first_missing) first_missing = f;
  }
  return first_missing == INT64_MAX ? INT64_MAX : first_missing - 1;
}

/* Decodes the round part of a queued ROUND into the current round. */
static int open_round(pmls_client *c, pmi_rounds *r, queued *qm) {
  pmi_rd rd = {qm->payload, qm->len, qm->body, 0};
  int64_t n = pmi_get_i64(&rd);
  if (rd.bad || n < 1 || n > (int64_t)(pmi_rd_left(&rd) / sizeof(int64_t)))
    return pmi_fail(cerr(c), PMLS_EPROTO, "worker %d: malformed round",
                    r->worker);
  if (grow((void **)&r->vars, &r->capvars, (size_t)n, sizeof *r->vars))
    return pmi_fail(cerr(c), PMLS_ENOMEM, "out of memory");
  memcpy(r->vars, pmi_get_bytes(&rd, (size_t)n * sizeof(int64_t)),
         (size_t)n * sizeof(int64_t));
  int nseg = pmi_get_i32(&rd);
  if (rd.bad || nseg < 0 || nseg > (int)(pmi_rd_left(&rd) / 24))
    return pmi_fail(cerr(c), PMLS_EPROTO, "worker %d: malformed round share",
                    r->worker);
  if ((size_t)nseg > r->capseg) {
    if (resize(&r->seg_lo, (size_t)nseg, sizeof *r->seg_lo) ||
        resize(&r->seg_hi, (size_t)nseg, sizeof *r->seg_hi) ||
        resize(&r->seg_row, (size_t)nseg, sizeof *r->seg_row) ||
        resize(&r->seg_col, (size_t)nseg, sizeof *r->seg_col))
      return pmi_fail(cerr(c), PMLS_ENOMEM, "out of memory");
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
    return pmi_fail(cerr(c), PMLS_EPROTO, "worker %d: malformed round share",
                    r->worker);
  size_t full = (size_t)n * (size_t)r->width + (size_t)r->extra;
  if (grow((void **)&r->partial, &r->cappartial, full, sizeof *r->partial))
    return pmi_fail(cerr(c), PMLS_ENOMEM, "out of memory");
  memset(r->partial, 0, full * sizeof *r->partial);
  r->round = qm->round;
  r->n = n;
  r->nseg = nseg;
  r->nvalues = values;
  return PMLS_OK;
}

static int receive_one(pmls_client *c, pmi_rounds *r, int wait_ms) {
  void *msg;
  size_t len;
  pmi_sock_set_rcvtimeo(r->sock, wait_ms);
  int rc = pmi_msg_recv(r->sock, &msg, &len, &r->traffic, cerr(c));
  if (rc) return rc;
  return take_message(c, r, msg, len);
}

int pmls_round_next(pmls_client *c, pmls_round *out) {
  pmi_rounds *r = *pmi_client_rounds(c);
  if (!r) return pmi_fail(cerr(c), PMLS_ESTATE, "round_next before join");
  pmls_engine *e = r->e;
  r->nchanged = 0;
  for (size_t i = 0; i < r->nheld; i++) { /* in the order they came */
    int rc = take_message(c, r, r->held[i], r->heldlen[i]);
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
      int rc = open_round(c, r, qm);
      pmi_msg_free(qm->msg);
      *qm = r->q[--r->nq];
      if (rc) return rc;
      int64_t stale = done == INT64_MAX ? 0 : (r->next_t - 1) - done;
      r->staleness = stale < 0 ? 0 : stale;
      r->agnostic = e->model.spec.agnostic;
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
    if (atomic_load(&e->dead)) return dead_error(e, cerr(c));
    int left = (int)((deadline - pmi_now()) * 1000.0) + 1;
    if (left <= 0)
      return pmi_fail(cerr(c), PMLS_ETIMEDOUT, "worker %d: timed out after %d "
                      "ms waiting for round %lld from scheduler node %lld: a "
                      "peer is dead or too slow (see --timeout)", r->worker,
                      e->cfg.timeout_ms, (long long)r->next_t,
                      (long long)(r->next_t % r->K));
    int rc = receive_one(c, r, left < PMI_SEND_SLICE_MS ? left
                                                         : PMI_SEND_SLICE_MS);
    if (rc == PMLS_ETIMEDOUT) continue;
    if (rc) return rc;
    deadline = pmi_now() + e->cfg.timeout_ms / 1000.0;
  }
}

const double *pmls_round_model(pmls_client *c) {
  pmi_rounds *r = *pmi_client_rounds(c);
  return r ? r->model : NULL;
}

double *pmls_round_partial(pmls_client *c) {
  pmi_rounds *r = *pmi_client_rounds(c);
  return r && r->round >= 0 ? r->partial : NULL;
}

int pmls_round_ready(pmls_client *c) {
  pmi_rounds *r = *pmi_client_rounds(c);
  if (!r || r->round < 0)
    return pmi_fail(cerr(c), PMLS_ESTATE, "ready outside a round");
  pmi_msg_begin(&r->out, r->e->job, PMI_MSG_READY, r->worker);
  pmi_put_i32(&r->out, r->worker);
  pmi_put_i64(&r->out, r->round);
  int node = (int)(r->round % r->K);
  return send_to(r->e, r->push[node], &r->out, &r->traffic, "a scheduler node",
                 cerr(c));
}

int pmls_round_over(pmls_client *c) {
  pmi_rounds *r = *pmi_client_rounds(c);
  if (!r || r->round < 0) return 1;
  if (atomic_load(&r->e->dead)) return 1; /* the send will say why */
  while (r->ended_round < r->round) {
    void *msg;
    size_t len;
    pmi_sock_set_rcvtimeo(r->sock, 0);
    int rc = pmi_msg_recv(r->sock, &msg, &len, &r->traffic, cerr(c));
    if (rc == PMLS_ETIMEDOUT) return 0;
    if (rc) return 1;
    pmi_hdr h;
    pmi_rd rd;
    if (pmi_msg_open(msg, len, r->e->job, &h, &rd, cerr(c)) == PMLS_OK &&
        h.type == PMI_MSG_ENDROUND) {
      int64_t round = pmi_get_i64(&rd);
      if (!rd.bad && round > r->ended_round) r->ended_round = round;
      pmi_msg_free(msg);
      continue;
    }
    /* Anything else waits for pmls_round_next (which also reports it if
     * it is malformed). */
    if (grow((void **)&r->held, &r->capheld, r->nheld + 1, sizeof *r->held) ||
        grow((void **)&r->heldlen, &r->capheldlen, r->nheld + 1,
             sizeof *r->heldlen)) {
      pmi_msg_free(msg);
      return 1; /* the send will fail and say so */
    }
    r->held[r->nheld] = msg;
    r->heldlen[r->nheld++] = len;
  }
  return 1;
}

int pmls_round_send(pmls_client *c, int passes) {
  pmi_rounds *r = *pmi_client_rounds(c);
  if (!r || r->round < 0)
    return pmi_fail(cerr(c), PMLS_ESTATE, "send outside a round");
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
  if (bad) return pmi_fail(cerr(c), PMLS_ENOMEM, "out of memory");
  int node = (int)(r->round % r->K);
  char peer[48];
  snprintf(peer, sizeof peer, "scheduler node %d", node);
  return send_to(r->e, r->push[node], &r->out, &r->traffic, peer, cerr(c));
}
