/* round.c -- what a scheduler node sends its workers: a ROUND per
 * dispatched round (the variables, the worker's share, every commit made
 * since its last ROUND, and what it broadcast since), a commits-only ROUND
 * on flush, and a final ROUND marked STOP with the last commits and the
 * node's counters.
 *
 * Commits and broadcasts ride on the next ROUND rather than in messages of
 * their own: at pipeline depth 0 that next ROUND is exactly when a worker
 * needs them, and at depth D it is what makes a push miss at most D earlier
 * rounds. They wait in the node's pend buffer, after a gap where the
 * ROUND's head is written when it goes out, so the model-sized commits are
 * never copied into a second buffer. The node's state is node.h; what it
 * gathers back is collect.c. */
#include <stdlib.h>
#include <string.h>

#include "node.h"
#include "round.h"
#include "collect.h"
#include "wire.h"

/* A ROUND's head: the message header, node, round, through, npend. */
#define ROUND_HEAD (sizeof(pmi_hdr) + sizeof(int32_t) + 3 * sizeof(int64_t))

static int pend_reserve_head(pmls_sched *s) {
  static const unsigned char zeros[ROUND_HEAD];
  return s->pend.len ? 0 : pmi_buf_put(&s->pend, zeros, sizeof zeros);
}

int pmi_round_pend(pmls_sched *s, int64_t var, const double *delta) {
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
    if (nonzero && pmi_round_pend(s, v, x))
      return pmi_fail(s->err, PMLS_ENOMEM, "out of memory");
  }
  return PMLS_OK;
}

/* The part of a ROUND every worker shares: node, round, commits, and the
 * broadcast values if there are new ones. The head goes into pend's gap
 * and pend is lent to out (end_round gives it back), so the ROUND is built
 * with no copy of the commits. Fails only when out of memory. */
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
int pmi_round_send_all(pmls_sched *s) {
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
    sl->part_off[w + 1] = sl->part_off[w] + pmi_collect_share(s, sl, w);
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

int pmls_sched_flush(pmls_sched *s) {
  if (s->stopped)
    return pmi_fail(s->err, PMLS_ESTATE, "flush after stop");
  if (!s->npend && !s->bcast_pending && s->through == s->sent_through)
    return PMLS_OK;
  if (begin_round(s, ROUND_COMMITS, -1)) {
    end_round(s, 0);
    return pmi_fail(s->err, PMLS_ENOMEM, "out of memory");
  }
  int rc = pmi_round_send_all(s);
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

int pmls_sched_resume(pmls_sched *s, int64_t round) {
  if (s->sent_initial || s->count || s->rounds || s->stopped)
    return pmi_fail(s->err, PMLS_ESTATE, "resume after the first round");
  if (round < 0 || round % s->K != s->node || round > ((int64_t)1 << 53))
    return pmi_fail(s->err, PMLS_EINVAL, "bad argument 'round' to resume: "
                    "%lld is not a round of node %d of %d", (long long)round,
                    s->node, s->K);
  s->next_round = round;
  s->through = s->sent_through = round - s->K; /* -1 or less: none yet */
  if (s->through < -1) s->through = s->sent_through = -1;
  s->sent_initial = 1; /* the workers resume with their own model copies */
  s->pend.len = 0;
  s->npend = 0;
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
  int rc = bad ? pmi_fail(s->err, PMLS_ENOMEM, "out of memory") : pmi_round_send_all(s);
  end_round(s, rc == PMLS_OK);
  /* nanomsg drops what is unsent when a socket closes: wait until every
   * worker says it has the STOP. */
  double deadline = pmi_now() + s->e->cfg.timeout_ms / 1000.0;
  while (rc == PMLS_OK && s->byes < s->P)
    rc = pmi_node_take(s, deadline, "the workers to take the last round");
  return rc;
}
