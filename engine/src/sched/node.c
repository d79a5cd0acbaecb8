/* node.c -- a scheduler node of scheduled model parallelism (STRADS): its
 * lifetime and its mailbox. Node k of K owns an even share of the
 * schedulable variables and runs rounds k, k + K, k + 2K, ...; this file
 * opens it (meeting every worker: each says SHELLO and the node connects to
 * its round address), closes it, and takes every message it receives.
 *
 * Every message the node receives goes through one handler
 * (pmi_sched_handle), whether the node is meeting its workers, collecting
 * or stopping: a message that does not decode, or that no round of this
 * node expects, is dropped and counted (the engine's messages_dropped),
 * never the end of the job, since anyone who can reach the socket can send
 * it. The fuzz harness (engine/fuzz/fuzz_sched.c) drives the same handler.
 * What the node sends is round.c (dispatch, flush, broadcast, stop); what
 * it gathers is collect.c (partials, their sum, the commit). The state the
 * three share is node.h; the worker's end of the messages is worker.c. */
#include <stdlib.h>
#include <string.h>

#include "node.h"
#include "collect.h"
#include "wire.h"
#include "../proc/proc.h"
#include "../metrics/metrics.h"

/* Node k of K schedules an even share of the schedulable range. */
static void node_range(const pmls_model_spec *s, int k, int K, int64_t *lo,
                       int64_t *hi) {
  int64_t span = s->sched_hi - s->sched_lo;
  *lo = s->sched_lo + span * k / K;
  *hi = s->sched_lo + span * (k + 1) / K;
}

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
int pmi_node_recv(pmls_engine *e, int sock, double deadline, pmi_traffic *t,
                  char *err, const char *what, void **msg, size_t *len) {
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

/* Receives one message for node s within the deadline and handles it. */
int pmi_node_take(pmls_sched *s, double deadline, const char *what) {
  void *msg;
  size_t len;
  int rc = pmi_node_recv(s->e, s->sock, deadline, &s->traffic, s->err, what,
                         &msg, &len);
  if (rc) return rc;
  rc = pmi_sched_handle(s, msg, len);
  pmi_msg_free(msg);
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
void pmi_node_dropped(pmls_sched *s, const char *why) {
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
    pmi_node_dropped(s, why);
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
    pmi_node_dropped(s, why);
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
    pmi_node_dropped(s, why);
    return PMLS_OK;
  }
  if (!s->bye[w]) {
    s->bye[w] = 1;
    s->byes++;
  }
  return PMLS_OK;
}

int pmi_sched_handle(pmls_sched *s, const void *msg, size_t len) {
  pmi_hdr h;
  pmi_rd rd;
  char why[PMI_ERRLEN];
  if (pmi_msg_open(msg, len, s->e->job, &h, &rd, why) != PMLS_OK) {
    pmi_node_dropped(s, why);
    return PMLS_OK;
  }
  if (s->stopped && (h.type == PMI_MSG_PARTIAL || h.type == PMI_MSG_READY ||
                     h.type == PMI_MSG_SHELLO))
    return PMLS_OK; /* late news of a round already committed */
  switch (h.type) {
  case PMI_MSG_SHELLO: return take_hello(s, &rd);
  case PMI_MSG_PARTIAL: return pmi_collect_partial(s, &rd);
  case PMI_MSG_READY: return pmi_collect_ready(s, &rd);
  case PMI_MSG_SBYE: return take_bye(s, &rd);
  default:
    snprintf(why, sizeof why, "unexpected %s", pmi_msg_type_name(h.type));
    pmi_node_dropped(s, why);
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
    char what[96];
    snprintf(what, sizeof what, "the workers to reach scheduler node %d (%d "
             "of %d did)", s->node, s->met, s->P);
    int rc = pmi_node_take(s, deadline, what);
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
