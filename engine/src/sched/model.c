/* model.c -- the scheduled model of a process: its declaration, checked
 * once in setup and read by every scheduler node and worker afterwards;
 * which workers have taken their rounds; and what the run leaves behind for
 * finish and the final metrics (the last copy of the model, the nodes'
 * counters). It is apart from the node and the worker side because both
 * read it and neither owns it: the engine does, from setup to destroy. */
#include <stdlib.h>

#include "model.h"

enum { ROUNDS_FREE = 0, ROUNDS_OPEN = 1, ROUNDS_CLOSED = 2 };

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
    e->model.taken = calloc((size_t)e->workers, 1);
  }
  pthread_mutex_unlock(&e->mu);
  if (again)
    return pmi_fail(e->err, PMLS_ESTATE, "the model is already declared");
  if (!e->model.passes || !e->model.taken)
    return pmi_fail(e->err, PMLS_ENOMEM, "out of memory");
  /* The receive bound (net.h) must let the model's messages through: a
   * ROUND holds the initial model and commits (variable id and width
   * doubles each), a PARTIAL a round's variables and the extras. */
  size_t var = 8 + 8 * (size_t)s.width;
  pmi_net_allow(PMI_RCVMAX_CONTROL + 2 * (size_t)s.vars * var +
                (size_t)s.per_round * (var + 8) + 8 * (size_t)s.extra +
                8 * (size_t)PMLS_BROADCAST_MAX + 8 * (size_t)e->workers);
  return PMLS_OK;
}

int pmls_model_spec_of(pmls_engine *e, pmls_model_spec *out) {
  if (!e->model.declared)
    return pmi_fail(e->err, PMLS_ESTATE, "no model declared");
  *out = e->model.spec;
  return PMLS_OK;
}

const double *pmls_model_values(pmls_engine *e) { return e->model.final; }

int pmi_model_claim(pmls_engine *e, int worker, char *err) {
  pthread_mutex_lock(&e->mu);
  int was = e->model.taken[worker];
  if (was == ROUNDS_FREE) e->model.taken[worker] = ROUNDS_OPEN;
  pthread_mutex_unlock(&e->mu);
  if (was == ROUNDS_OPEN)
    return pmi_fail(err, PMLS_ESTATE, "worker %d's rounds are already open "
                    "(one handle per worker)", worker);
  if (was == ROUNDS_CLOSED)
    return pmi_fail(err, PMLS_ESTATE, "worker %d's rounds were opened and "
                    "closed: a worker takes the rounds of a model once",
                    worker);
  return PMLS_OK;
}

void pmi_model_release(pmls_engine *e, int worker, double **copy,
                       int saw_rounds) {
  pthread_mutex_lock(&e->mu);
  e->model.taken[worker] = ROUNDS_CLOSED;
  if (!e->model.final && *copy && saw_rounds) {
    e->model.final = *copy; /* the engine keeps it for finish */
    *copy = NULL;
  }
  pthread_mutex_unlock(&e->mu);
}

void pmi_model_free(pmls_engine *e) {
  free(e->model.final);
  free(e->model.passes);
  free(e->model.taken);
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
