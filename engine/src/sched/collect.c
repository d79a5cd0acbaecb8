/* collect.c -- what a scheduler node gathers: a PARTIAL from every worker
 * for its oldest outstanding round (or, for an agnostic round, a READY
 * from each, after which it says ENDROUND), their sum, and the commit of
 * the script's result into the node's copy of the model (queued for the
 * next ROUND by round.c). Partials are summed in worker order once all are
 * in, so a run's result does not depend on which worker answered first. A
 * partial that no outstanding round expects is dropped and counted
 * (node.c's mailbox hands them here). The node's state is node.h. */
#include <stdlib.h>
#include <string.h>

#include "node.h"
#include "round.h"
#include "collect.h"
#include "wire.h"

/* Values a worker's PARTIAL must carry: its share times width, then extra. */
size_t pmi_collect_share(const pmls_sched *s, const slot *sl, int w) {
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
int pmi_collect_partial(pmls_sched *s, pmi_rd *rd) {
  int w = pmi_get_i32(rd);
  int64_t round = pmi_get_i64(rd);
  int stale = pmi_get_i32(rd), passes = pmi_get_i32(rd);
  uint32_t count = pmi_get_u32(rd);
  slot *sl = slot_of_round(s, round);
  char why[160];
  if (rd->bad || w < 0 || w >= s->P || !sl || sl->have[w]) {
    snprintf(why, sizeof why, "unexpected partial (worker %d, round %lld)", w,
             (long long)round);
    pmi_node_dropped(s, why);
    return PMLS_OK;
  }
  size_t want = pmi_collect_share(s, sl, w);
  const unsigned char *p = pmi_get_bytes(rd, (size_t)count * sizeof(double));
  if (!p || count != want) {
    snprintf(why, sizeof why, "worker %d's partial of round %lld has %u "
             "values, %zu expected", w, (long long)round, count, want);
    pmi_node_dropped(s, why);
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
int pmi_collect_ready(pmls_sched *s, pmi_rd *rd) {
  int w = pmi_get_i32(rd);
  int64_t round = pmi_get_i64(rd);
  slot *sl = slot_of_round(s, round);
  if (rd->bad || w < 0 || w >= s->P || !sl) {
    char why[96];
    snprintf(why, sizeof why, "unexpected ready (worker %d, round %lld)", w,
             (long long)round);
    pmi_node_dropped(s, why);
    return PMLS_OK;
  }
  if (sl->ready[w]) return PMLS_OK;
  sl->ready[w] = 1;
  if (++sl->nready < s->P || sl->ended) return PMLS_OK;
  sl->ended = 1;
  pmi_msg_begin(&s->out, s->e->job, PMI_MSG_ENDROUND, -1);
  pmi_put_i64(&s->out, round);
  return pmi_round_send_all(s);
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
    int rc = pmi_node_take(s, deadline, what);
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
    if (nonzero && pmi_round_pend(s, sl->vars[k], d))
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
  if (pmi_round_pend(s, var, delta))
    return pmi_fail(s->err, PMLS_ENOMEM, "out of memory");
  return PMLS_OK;
}

