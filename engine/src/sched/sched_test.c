/* sched_test.c -- scheduled model parallelism through the public API only
 * (pmls.h): the model spec and its errors; a worker's rounds handle (open
 * and close, the errors that name the bad argument, calls outside a round,
 * a client closed before its handle); whole runs of one and two scheduler
 * nodes in which every push checks that the commits of every earlier round
 * are in its copy of the model; the node-to-workers broadcast; and the end
 * of an agnostic round, polled and awaited. Scheduler nodes and workers run
 * on threads of their own and record what went wrong in their job struct;
 * the case checks it after joining them. */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixtures.h"
#include "harness.h"
#include "pmls.h"

/* ---- helpers ------------------------------------------------------------- */

static pmls_engine *sched_engine(int workers, int schedulers) {
  pmls_config cfg = config(workers, 1);
  cfg.schedulers = schedulers;
  pmls_engine *e = NULL;
  char err[512] = "";
  if (pmls_engine_create(&e, &cfg, err, sizeof err) != PMLS_OK) {
    fprintf(stderr, "sched_test: cannot create an engine: %s\n", err);
    return NULL;
  }
  return e;
}

static pmls_model_spec model(int64_t vars, int32_t width, int32_t extra) {
  pmls_model_spec s;
  memset(&s, 0, sizeof s);
  s.vars = vars;
  s.width = width;
  s.extra = extra;
  return s;
}

/* What a thread saw go wrong: the first failure, for the case to report. */
typedef struct {
  int failed;
  char why[512];
} verdict;

__attribute__((format(printf, 2, 3))) static void fail(verdict *v,
                                                       const char *fmt, ...) {
  if (v->failed) return;
  v->failed = 1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(v->why, sizeof v->why, fmt, ap);
  va_end(ap);
}

#define CHECK_VERDICT(v)                                                       \
  do {                                                                         \
    if ((v).failed) {                                                          \
      th_fail(__FILE__, __LINE__, "%s", (v).why);                              \
      return;                                                                  \
    }                                                                          \
  } while (0)

/* ---- the model spec ------------------------------------------------------ */

static void t_model_declare_errors(void) {
  pmls_engine *e = sched_engine(2, 2);
  CHECK(e != NULL);
  pmls_model_spec got;
  CHECK_EQ_INT(pmls_model_spec_of(e, &got), PMLS_ESTATE);
  CHECK_STR_CONTAINS(pmls_errmsg(e), "no model declared");
  CHECK_EQ_INT(pmls_model_declare(e, NULL), PMLS_EINVAL);
  CHECK_STR_CONTAINS(pmls_errmsg(e), "missing model spec");
  static const struct {
    int64_t vars;
    int32_t width, extra;
    int64_t per_round, lo, hi;
    int pipeline;
    const char *says;
  } bad[] = {
      {0, 1, 0, 0, 0, 0, 0, "bad model vars 0"},
      {10, -1, 0, 0, 0, 0, 0, "bad model width -1"},
      {10, 1, -2, 0, 0, 0, 0, "bad model extra -2"},
      {10, 1, 0, 0, 4, 11, 0, "bad schedulable range [4, 11) of 10"},
      {10, 1, 0, -3, 0, 0, 0, "bad per_round -3"},
      {10, 1, 0, 0, 0, 0, 65, "bad pipeline depth 65"},
      {10, 1, 0, 0, 3, 4, 0, "2 scheduler nodes for 1 schedulable"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    pmls_model_spec s = model(bad[i].vars, bad[i].width, bad[i].extra);
    s.per_round = bad[i].per_round;
    s.sched_lo = bad[i].lo;
    s.sched_hi = bad[i].hi;
    s.pipeline = bad[i].pipeline;
    CHECK_EQ_INT(pmls_model_declare(e, &s), PMLS_EINVAL);
    CHECK_STR_CONTAINS(pmls_errmsg(e), bad[i].says);
  }
  pmls_model_spec s = model(10, 0, 1);
  CHECK_EQ_INT(pmls_model_declare(e, &s), PMLS_OK);
  CHECK_EQ_INT(pmls_model_declare(e, &s), PMLS_ESTATE);
  CHECK_STR_CONTAINS(pmls_errmsg(e), "already declared");
  CHECK_EQ_INT(pmls_model_spec_of(e, &got), PMLS_OK);
  CHECK_EQ_INT(got.width, 1);      /* 0 means 1 */
  CHECK_EQ_INT(got.sched_hi, 10);  /* 0, 0 means every variable */
  CHECK_EQ_INT(got.per_round, 10); /* 0 means the whole range */
  CHECK(pmls_model_values(e) == NULL);
  pmls_engine_destroy(e);
}

/* ---- the worker's handle ------------------------------------------------- */

static void t_rounds_open_errors(void) {
  pmls_engine *e = sched_engine(2, 1);
  CHECK(e != NULL);
  pmls_client *w0 = NULL, *w1 = NULL, *host = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &w0), PMLS_OK);
  CHECK_EQ_INT(pmls_client_open(e, 1, &w1), PMLS_OK);
  CHECK_EQ_INT(pmls_client_open(e, -1, &host), PMLS_OK);
  pmls_rounds *r = NULL;
  CHECK_EQ_INT(pmls_rounds_open(w0, &r), PMLS_ESTATE);
  CHECK_STR_CONTAINS(pmls_client_errmsg(w0), "no model declared");
  CHECK(r == NULL);
  pmls_model_spec s = model(4, 1, 0);
  CHECK_EQ_INT(pmls_model_declare(e, &s), PMLS_OK);
  CHECK_EQ_INT(pmls_rounds_open(NULL, &r), PMLS_EINVAL);
  CHECK_EQ_INT(pmls_rounds_open(w0, NULL), PMLS_EINVAL);
  CHECK_STR_CONTAINS(pmls_client_errmsg(w0), "bad argument 'out'");
  CHECK_EQ_INT(pmls_rounds_open(host, &r), PMLS_EINVAL);
  CHECK_STR_CONTAINS(pmls_client_errmsg(host), "bad argument 'c'");
  CHECK_STR_CONTAINS(pmls_client_errmsg(host), "host client");
  CHECK(r == NULL);
  CHECK_EQ_INT(pmls_rounds_open(w0, &r), PMLS_OK);
  CHECK(r != NULL);
  pmls_rounds *again = NULL;
  CHECK_EQ_INT(pmls_rounds_open(w0, &again), PMLS_ESTATE);
  CHECK_STR_CONTAINS(pmls_client_errmsg(w0), "worker 0's rounds are already open");
  CHECK(again == NULL);
  CHECK_EQ_INT(pmls_rounds_close(r), PMLS_OK);
  /* The nodes know one address per worker: no second handle, ever. */
  CHECK_EQ_INT(pmls_rounds_open(w0, &again), PMLS_ESTATE);
  CHECK_STR_CONTAINS(pmls_client_errmsg(w0), "opened and closed");
  /* The other worker is not affected. */
  CHECK_EQ_INT(pmls_rounds_open(w1, &r), PMLS_OK);
  CHECK_EQ_INT(pmls_rounds_close(r), PMLS_OK);
  CHECK_EQ_INT(pmls_rounds_close(NULL), PMLS_OK);
  CHECK(pmls_model_values(e) == NULL); /* no handle saw a round */
  CHECK_EQ_INT(pmls_client_close(w0), PMLS_OK);
  CHECK_EQ_INT(pmls_client_close(w1), PMLS_OK);
  CHECK_EQ_INT(pmls_client_close(host), PMLS_OK);
  pmls_engine_destroy(e);
}

static void t_rounds_outside_a_round(void) {
  pmls_engine *e = sched_engine(1, 1);
  CHECK(e != NULL);
  pmls_model_spec s = model(3, 2, 1);
  CHECK_EQ_INT(pmls_model_declare(e, &s), PMLS_OK);
  pmls_client *c = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &c), PMLS_OK);
  pmls_rounds *r = NULL;
  CHECK_EQ_INT(pmls_rounds_open(c, &r), PMLS_OK);
  const double *m = pmls_round_model(r);
  CHECK(m != NULL);
  for (int i = 0; i < 6; i++) CHECK_EQ_DBL(m[i], 0.0);
  CHECK(pmls_round_partial(r) == NULL);
  CHECK_EQ_INT(pmls_round_over(r), 1);
  CHECK_EQ_INT(pmls_round_ready(r), PMLS_ESTATE);
  CHECK_STR_CONTAINS(pmls_rounds_errmsg(r), "ready outside a round");
  CHECK_EQ_INT(pmls_round_send(r, 1), PMLS_ESTATE);
  CHECK_STR_CONTAINS(pmls_rounds_errmsg(r), "send outside a round");
  CHECK_EQ_INT(pmls_round_wait_over(r), PMLS_ESTATE);
  CHECK_STR_CONTAINS(pmls_rounds_errmsg(r), "wait_over outside a round");
  CHECK_EQ_INT(pmls_round_next(r, NULL), PMLS_EINVAL);
  CHECK_STR_CONTAINS(pmls_rounds_errmsg(r), "bad argument 'out'");
  int64_t n = 7;
  CHECK(pmls_rounds_received(r, 0, &n) == NULL); /* nothing broadcast yet */
  CHECK_EQ_INT(n, 0);
  n = 7;
  CHECK(pmls_rounds_received(r, 1, &n) == NULL);
  CHECK_EQ_INT(n, 0);
  CHECK_STR_CONTAINS(pmls_rounds_errmsg(r), "bad argument 'node'");
  CHECK_STR_CONTAINS(pmls_rounds_errmsg(r), "1 (0..0)");
  CHECK(pmls_rounds_received(r, -1, NULL) == NULL);
  CHECK_EQ_INT(pmls_rounds_close(r), PMLS_OK);
  CHECK_EQ_INT(pmls_client_close(c), PMLS_OK);
  pmls_engine_destroy(e);
}

/* ---- whole runs ---------------------------------------------------------- */

enum { RVARS = 12, MAXW = 4 };

typedef struct {
  pmls_engine *e;
  int node, K, P, rounds; /* rounds per node */
  int broadcast;          /* broadcast before the first and after each round */
  verdict v;
} node_job;

/* Every variable starts at its index; each round adds the workers'
 * partials, w + 1 from worker w. */
static void *node_main(void *arg) {
  node_job *j = arg;
  pmls_sched *s = NULL;
  if (pmls_sched_open(j->e, j->node, &s) != PMLS_OK) {
    fail(&j->v, "node %d: open: %s", j->node, pmls_errmsg(j->e));
    return NULL;
  }
  int64_t lo, hi, vars[RVARS];
  pmls_sched_range(s, &lo, &hi);
  double *m = pmls_sched_model(s), values[RVARS];
  for (int64_t v = lo; v < hi; v++) m[v] = (double)v;
  int64_t n = hi - lo;
  for (int64_t k = 0; k < n; k++) vars[k] = lo + k;
  double first = j->node * 1000.0 - 1;
  if (j->broadcast && pmls_sched_broadcast(s, &first, 1) != PMLS_OK)
    fail(&j->v, "node %d: broadcast: %s", j->node, pmls_sched_errmsg(s));
  int expect = j->P * (j->P + 1) / 2;
  for (int i = 0; i < j->rounds && !j->v.failed; i++) {
    int64_t round = -1;
    pmls_collected got;
    if (pmls_sched_dispatch(s, vars, n, 0, NULL, NULL, NULL, NULL, NULL,
                            &round) != PMLS_OK ||
        pmls_sched_collect(s, &got) != PMLS_OK) {
      fail(&j->v, "node %d: round %d: %s", j->node, i, pmls_sched_errmsg(s));
      break;
    }
    if (round != j->node + (int64_t)i * j->K || got.round != round)
      fail(&j->v, "node %d: round %lld (collected %lld), %lld expected",
           j->node, (long long)round, (long long)got.round,
           (long long)(j->node + i * j->K));
    for (int64_t k = 0; k < n; k++) {
      if (got.sum[k] != expect)
        fail(&j->v, "node %d round %lld: sum[%lld] = %g, %d expected",
             j->node, (long long)round, (long long)k, got.sum[k], expect);
      values[k] = m[got.vars[k]] + got.sum[k];
    }
    if (got.sum[n] != j->P)
      fail(&j->v, "node %d: extra %g, %d expected", j->node, got.sum[n], j->P);
    if (pmls_sched_commit(s, values) != PMLS_OK)
      fail(&j->v, "node %d: commit: %s", j->node, pmls_sched_errmsg(s));
    double said[2] = {j->node * 1000.0 + (double)round, 0.5 * (double)round};
    if (j->broadcast && pmls_sched_broadcast(s, said, 2) != PMLS_OK)
      fail(&j->v, "node %d: broadcast: %s", j->node, pmls_sched_errmsg(s));
  }
  double last = 42;
  if (j->broadcast && j->node == 0 && pmls_sched_broadcast(s, &last, 1))
    fail(&j->v, "node 0: broadcast: %s", pmls_sched_errmsg(s));
  if (pmls_sched_stop(s) != PMLS_OK)
    fail(&j->v, "node %d: stop: %s", j->node, pmls_sched_errmsg(s));
  if (j->broadcast && pmls_sched_broadcast(s, &last, 1) != PMLS_ESTATE)
    fail(&j->v, "node %d: a broadcast after stop was taken", j->node);
  pmls_sched_close(s);
  return NULL;
}

typedef struct {
  pmls_engine *e;
  int worker, K, rounds, broadcast;
  int close_client_first;
  int drop_changes; /* pmls_rounds_keep_changes(r, 0) */
  int64_t seen; /* rounds this worker pushed */
  int64_t listed; /* commits round_next listed */
  verdict v;
} worker_job;

/* Rounds of node k below round t: what variable v of node k holds then. */
static int64_t rounds_of_node_below(int k, int K, int64_t t) {
  return t > k ? (t - k + K - 1) / K : 0;
}

static int node_of_var(int64_t v, int K) {
  for (int k = 0; k < K; k++)
    if (v < (int64_t)RVARS * (k + 1) / K) return k;
  return K - 1;
}

/* The broadcast node k made last before round t's push: after its last
 * round below t, or before its first round. NAN: not known yet (a node
 * whose first round comes later may or may not have said it). */
static double expected_broadcast(int k, int K, int rounds, int64_t t) {
  /* Node 0 broadcasts 42 before it stops: its STOP carries the commits of
   * its last round, so every later round has seen it. */
  if (k == 0 && t > (int64_t)(rounds - 1) * K) return 42;
  for (int64_t r = t - 1; r >= 0; r--)
    if (r % K == k) return k * 1000.0 + (double)r;
  return t == k ? k * 1000.0 - 1 : NAN;
}

static void check_broadcasts(worker_job *j, pmls_rounds *r, int64_t t) {
  for (int k = 0; k < j->K; k++) {
    int64_t n = -1;
    const double *got = pmls_rounds_received(r, k, &n);
    double want = expected_broadcast(k, j->K, j->rounds, t);
    if (want != want) {
      if (got && !(n == 1 && got[0] == k * 1000.0 - 1))
        fail(&j->v, "worker %d round %lld: node %d's broadcast is %g, before "
             "its first round", j->worker, (long long)t, k, got[0]);
      continue;
    }
    int64_t want_n = t > k && want != 42 ? 2 : 1;
    if (!got || n != want_n || got[0] != want ||
        (n == 2 && got[1] != 0.5 * (want - k * 1000.0)))
      fail(&j->v, "worker %d round %lld: node %d's broadcast %g (%lld "
           "values), %g (%lld) expected", j->worker, (long long)t, k,
           got ? got[0] : -1.0, (long long)n, want, (long long)want_n);
  }
}

static void *worker_main(void *arg) {
  worker_job *j = arg;
  pmls_client *c = NULL;
  pmls_rounds *r = NULL;
  if (pmls_client_open(j->e, j->worker, &c) != PMLS_OK ||
      pmls_rounds_open(c, &r) != PMLS_OK) {
    fail(&j->v, "worker %d: open: %s", j->worker,
         c ? pmls_client_errmsg(c) : pmls_errmsg(j->e));
    pmls_client_close(c);
    return NULL;
  }
  if (j->close_client_first && pmls_client_close(c) != PMLS_OK)
    fail(&j->v, "worker %d: client close: %s", j->worker,
         pmls_client_errmsg(c));
  if (j->close_client_first) c = NULL;
  if (j->drop_changes) pmls_rounds_keep_changes(r, 0);
  const double *m = pmls_round_model(r);
  int P = pmls_engine_workers(j->e);
  double step = P * (P + 1) / 2; /* what a round adds to each variable */
  pmls_round info;
  for (;;) {
    if (pmls_round_next(r, &info) != PMLS_OK) {
      fail(&j->v, "worker %d: next: %s", j->worker, pmls_rounds_errmsg(r));
      break;
    }
    int64_t t = info.round < 0 ? (int64_t)j->rounds * j->K : info.round;
    j->listed += info.nchanged;
    if (info.round >= 0 && info.round != j->seen)
      fail(&j->v, "worker %d: round %lld, %lld expected", j->worker,
           (long long)info.round, (long long)j->seen);
    for (int64_t v = 0; v < RVARS; v++) {
      int k = node_of_var(v, j->K);
      double want = (double)v + step * (double)rounds_of_node_below(k, j->K, t);
      /* A node's initial values come with its first ROUND: before its
       * first round they may not be in yet. */
      if (t < k && m[v] == 0.0) continue;
      if (m[v] != want)
        fail(&j->v, "worker %d before round %lld: model[%lld] = %g, %g "
             "expected", j->worker, (long long)t, (long long)v, m[v], want);
    }
    if (info.round < 0) break;
    if (info.staleness != 0)
      fail(&j->v, "worker %d: staleness %lld at depth 0", j->worker,
           (long long)info.staleness);
    if (j->broadcast) check_broadcasts(j, r, t);
    double *out = pmls_round_partial(r);
    for (int64_t k = 0; k < info.n; k++) out[k] = j->worker + 1;
    out[info.n] = 1;
    if (pmls_round_send(r, 1) != PMLS_OK) {
      fail(&j->v, "worker %d: send: %s", j->worker, pmls_rounds_errmsg(r));
      break;
    }
    j->seen++;
  }
  if (j->broadcast) {
    int64_t n = 0;
    const double *got = pmls_rounds_received(r, 0, &n);
    if (!got || n != 1 || got[0] != 42)
      fail(&j->v, "worker %d: node 0's broadcast with its STOP is %g, 42 "
           "expected", j->worker, got ? got[0] : -1.0);
  }
  pmls_rounds_close(r);
  if (c && pmls_client_close(c) != PMLS_OK)
    fail(&j->v, "worker %d: client close: %s", j->worker,
         pmls_client_errmsg(c));
  return NULL;
}

typedef struct {
  int P, K, rounds, broadcast, close_client_first, drop_changes;
} run_spec;

static void run(const run_spec *rs) {
  pmls_engine *e = sched_engine(rs->P, rs->K);
  CHECK(e != NULL);
  pmls_model_spec s = model(RVARS, 1, 1);
  CHECK_EQ_INT(pmls_model_declare(e, &s), PMLS_OK);
  node_job nodes[2];
  worker_job workers[MAXW];
  pthread_t nt[2], wt[MAXW];
  for (int k = 0; k < rs->K; k++) {
    nodes[k] = (node_job){e, k, rs->K, rs->P, rs->rounds, rs->broadcast, {0}};
    CHECK(pthread_create(&nt[k], NULL, node_main, &nodes[k]) == 0);
  }
  for (int w = 0; w < rs->P; w++) {
    workers[w] = (worker_job){e, w, rs->K, rs->rounds, rs->broadcast,
                              rs->close_client_first && w == 1,
                              rs->drop_changes && w == 1, 0, 0, {0}};
    CHECK(pthread_create(&wt[w], NULL, worker_main, &workers[w]) == 0);
  }
  for (int k = 0; k < rs->K; k++) pthread_join(nt[k], NULL);
  for (int w = 0; w < rs->P; w++) pthread_join(wt[w], NULL);
  for (int k = 0; k < rs->K; k++) CHECK_VERDICT(nodes[k].v);
  for (int w = 0; w < rs->P; w++) {
    CHECK_VERDICT(workers[w].v);
    CHECK_EQ_INT(workers[w].seen, (int64_t)rs->rounds * rs->K);
    /* Every round commits every variable; one that keeps no changes gets
     * them applied (checked above) but listed never. */
    if (rs->drop_changes && w == 1) CHECK_EQ_INT(workers[w].listed, 0);
    else CHECK(workers[w].listed >= (int64_t)rs->rounds * RVARS);
  }
  /* The first handle to close left its copy of the model to the engine. */
  const double *final = pmls_model_values(e);
  CHECK(final != NULL);
  for (int v = 0; v < RVARS; v++)
    CHECK_EQ_DBL(final[v], v + rs->P * (rs->P + 1) / 2.0 * rs->rounds);
  pmls_engine_destroy(e);
}

static void t_run_changes_not_kept(void) {
  run(&(run_spec){.P = 2, .K = 2, .rounds = 4, .drop_changes = 1});
}

static void t_run_one_node(void) {
  run(&(run_spec){.P = 2, .K = 1, .rounds = 5});
}

static void t_run_two_nodes(void) {
  run(&(run_spec){.P = 2, .K = 2, .rounds = 4});
}

static void t_run_client_closed_first(void) {
  run(&(run_spec){.P = 2, .K = 1, .rounds = 3, .close_client_first = 1});
}

static void t_broadcast_one_node(void) {
  run(&(run_spec){.P = 2, .K = 1, .rounds = 4, .broadcast = 1});
}

static void t_broadcast_two_nodes(void) {
  run(&(run_spec){.P = 3, .K = 2, .rounds = 4, .broadcast = 1});
}

static void t_broadcast_errors(void) {
  pmls_engine *e = sched_engine(1, 1);
  CHECK(e != NULL);
  pmls_model_spec s = model(RVARS, 1, 1);
  CHECK_EQ_INT(pmls_model_declare(e, &s), PMLS_OK);
  /* A node that runs no round: the worker sees only its STOP. */
  worker_job wj = {.e = e, .worker = 0, .K = 1};
  pthread_t wt;
  CHECK(pthread_create(&wt, NULL, worker_main, &wj) == 0);
  pmls_sched *node = NULL;
  int rc[7] = {0};
  char msg[5][256] = {""};
  int orc = pmls_sched_open(e, 0, &node);
  if (orc == PMLS_OK) {
    double *m = pmls_sched_model(node), v[2] = {1, 2};
    for (int k = 0; k < RVARS; k++) m[k] = k;
    rc[0] = pmls_sched_broadcast(node, v, PMLS_BROADCAST_MAX + 1);
    snprintf(msg[0], sizeof msg[0], "%s", pmls_sched_errmsg(node));
    rc[1] = pmls_sched_broadcast(node, v, -1);
    snprintf(msg[1], sizeof msg[1], "%s", pmls_sched_errmsg(node));
    rc[2] = pmls_sched_broadcast(node, NULL, 2);
    snprintf(msg[2], sizeof msg[2], "%s", pmls_sched_errmsg(node));
    rc[3] = pmls_sched_broadcast(node, NULL, 0); /* nothing, but said */
    rc[4] = pmls_sched_stop(node);
    snprintf(msg[3], sizeof msg[3], "%s", pmls_sched_errmsg(node));
    rc[5] = pmls_sched_broadcast(node, v, 1);
    snprintf(msg[4], sizeof msg[4], "%s", pmls_sched_errmsg(node));
  }
  pmls_sched_close(node);
  pthread_join(wt, NULL);
  CHECK_EQ_INT(orc, PMLS_OK);
  CHECK_VERDICT(wj.v);
  CHECK_EQ_INT(rc[0], PMLS_EINVAL);
  CHECK_STR_CONTAINS(msg[0], "bad argument 'n' to broadcast: 1025 values (0..1024)");
  CHECK_EQ_INT(rc[1], PMLS_EINVAL);
  CHECK_STR_CONTAINS(msg[1], "-1 values");
  CHECK_EQ_INT(rc[2], PMLS_EINVAL);
  CHECK_STR_CONTAINS(msg[2], "bad argument 'values' to broadcast");
  CHECK_EQ_INT(rc[3], PMLS_OK);
  CHECK_EQ_INT(rc[4], PMLS_OK);
  CHECK_EQ_INT(rc[5], PMLS_ESTATE);
  CHECK_STR_CONTAINS(msg[4], "broadcast after stop");
  pmls_engine_destroy(e);
}

/* ---- the end of an agnostic round ---------------------------------------- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
  pmls_engine *e;
  int worker, late_ms;
  int before_ready, polled, waited, over_after, sent;
  double wait_s;
  char msg[256];
  verdict v;
} agnostic_job;

/* Worker 1 is ready late_ms after worker 0, which polls once (the round is
 * not over: worker 1 is not ready) and then waits for the end. */
static void *agnostic_main(void *arg) {
  agnostic_job *j = arg;
  pmls_client *c = NULL;
  pmls_rounds *r = NULL;
  pmls_round info;
  if (pmls_client_open(j->e, j->worker, &c) != PMLS_OK ||
      pmls_rounds_open(c, &r) != PMLS_OK ||
      pmls_round_next(r, &info) != PMLS_OK || info.round != 0 ||
      !info.agnostic) {
    fail(&j->v, "worker %d: no agnostic round 0: %s", j->worker,
         r ? pmls_rounds_errmsg(r) : pmls_client_errmsg(c));
  } else {
    double *out = pmls_round_partial(r);
    for (int64_t k = 0; k < info.n; k++) out[k] = 1;
    j->before_ready = pmls_round_wait_over(r);
    snprintf(j->msg, sizeof j->msg, "%s", pmls_rounds_errmsg(r));
    if (j->late_ms) sleep_ms(j->late_ms);
    if (pmls_round_ready(r) != PMLS_OK)
      fail(&j->v, "worker %d: ready: %s", j->worker, pmls_rounds_errmsg(r));
    if (j->worker == 0) {
      j->polled = pmls_round_over(r);
      double t0 = now_s();
      j->waited = pmls_round_wait_over(r);
      j->wait_s = now_s() - t0;
    } else {
      while (!pmls_round_over(r)) {
      }
    }
    j->over_after = pmls_round_over(r);
    j->sent = pmls_round_send(r, 1);
    if (pmls_round_next(r, &info) != PMLS_OK || info.round != -1)
      fail(&j->v, "worker %d: no end after round 0: %s", j->worker,
           pmls_rounds_errmsg(r));
  }
  pmls_rounds_close(r);
  pmls_client_close(c);
  return NULL;
}

static void t_agnostic_round_end(void) {
  enum { LATE_MS = 150 };
  pmls_engine *e = sched_engine(2, 1);
  CHECK(e != NULL);
  pmls_model_spec s = model(4, 1, 0);
  s.agnostic = 1;
  CHECK_EQ_INT(pmls_model_declare(e, &s), PMLS_OK);
  agnostic_job jobs[2] = {{.e = e, .worker = 0}, {.e = e, .worker = 1,
                                                  .late_ms = LATE_MS}};
  pthread_t t[2];
  for (int w = 0; w < 2; w++)
    CHECK(pthread_create(&t[w], NULL, agnostic_main, &jobs[w]) == 0);
  pmls_sched *node = NULL;
  int orc = pmls_sched_open(e, 0, &node), rc = PMLS_OK;
  pmls_collected got = {0};
  double sum0 = -1; /* got.sum lives until the node closes */
  if (orc == PMLS_OK) {
    int64_t vars[4] = {0, 1, 2, 3};
    double values[4] = {0};
    rc = pmls_sched_dispatch(node, vars, 4, 0, NULL, NULL, NULL, NULL, NULL,
                             NULL);
    if (rc == PMLS_OK) rc = pmls_sched_collect(node, &got);
    if (rc == PMLS_OK) sum0 = got.sum[0];
    if (rc == PMLS_OK) rc = pmls_sched_commit(node, values);
    if (rc == PMLS_OK) rc = pmls_sched_stop(node);
  }
  pmls_sched_close(node);
  for (int w = 0; w < 2; w++) pthread_join(t[w], NULL);
  CHECK_EQ_INT(orc, PMLS_OK);
  CHECK_EQ_INT(rc, PMLS_OK);
  for (int w = 0; w < 2; w++) {
    CHECK_VERDICT(jobs[w].v);
    CHECK_EQ_INT(jobs[w].before_ready, PMLS_ESTATE);
    CHECK_STR_CONTAINS(jobs[w].msg, "wait_over before ready");
    CHECK_EQ_INT(jobs[w].over_after, 1);
    CHECK_EQ_INT(jobs[w].sent, PMLS_OK);
  }
  CHECK_EQ_INT(jobs[0].polled, 0); /* worker 1 was not ready yet */
  CHECK_EQ_INT(jobs[0].waited, PMLS_OK);
  CHECK(jobs[0].wait_s > 0.5 * LATE_MS / 1000.0);
  CHECK_EQ_DBL(sum0, 2.0);
  pmls_engine_destroy(e);
}

/* ---- segmented rounds ------------------------------------------------------ */

typedef struct {
  pmls_engine *e;
  int worker;
  verdict v;
} seg_job;

/* Writes (w + 1) * 100 + k at every position k of its share and w + 1 in
 * the extra slot. */
static void *seg_worker_main(void *arg) {
  seg_job *j = arg;
  pmls_client *c = NULL;
  pmls_rounds *r = NULL;
  pmls_round info;
  if (pmls_client_open(j->e, j->worker, &c) != PMLS_OK ||
      pmls_rounds_open(c, &r) != PMLS_OK ||
      pmls_round_next(r, &info) != PMLS_OK || info.round != 0) {
    fail(&j->v, "worker %d: no round 0: %s", j->worker,
         r ? pmls_rounds_errmsg(r) : pmls_client_errmsg(c));
  } else {
    double *out = pmls_round_partial(r);
    for (int g = 0; g < info.nseg; g++)
      for (int64_t k = info.seg_lo[g]; k < info.seg_hi[g]; k++)
        out[k] = (j->worker + 1) * 100.0 + (double)k;
    out[info.n] = j->worker + 1;
    if (pmls_round_send(r, 1) != PMLS_OK ||
        pmls_round_next(r, &info) != PMLS_OK || info.round != -1)
      fail(&j->v, "worker %d: send or end: %s", j->worker,
           pmls_rounds_errmsg(r));
  }
  pmls_rounds_close(r);
  pmls_client_close(c);
  return NULL;
}

static void t_segments(void) {
  pmls_engine *e = sched_engine(2, 1);
  CHECK(e != NULL);
  pmls_model_spec s = model(RVARS, 1, 1);
  CHECK_EQ_INT(pmls_model_declare(e, &s), PMLS_OK);
  seg_job jobs[2] = {{.e = e, .worker = 0}, {.e = e, .worker = 1}};
  pthread_t t[2];
  for (int w = 0; w < 2; w++)
    CHECK(pthread_create(&t[w], NULL, seg_worker_main, &jobs[w]) == 0);
  pmls_sched *node = NULL;
  int orc = pmls_sched_open(e, 0, &node), rc = PMLS_OK, overlap_rc = 0;
  char overlap_msg[256] = "";
  double sum[RVARS + 1], part[2][RVARS + 1];
  int64_t vars[RVARS];
  for (int k = 0; k < RVARS; k++) vars[k] = k;
  if (orc == PMLS_OK) {
    /* worker 0 gets [0, 4) and [8, 12), worker 1 [4, 8) */
    int32_t sw[3] = {0, 1, 0};
    int64_t lo[3] = {0, 4, 8}, hi[3] = {4, 8, 12};
    /* an overlap within one worker's share is refused, nothing sent */
    int32_t bw[3] = {1, 0, 1};
    int64_t blo[3] = {0, 4, 2}, bhi[3] = {3, 8, 4};
    overlap_rc = pmls_sched_dispatch(node, vars, RVARS, 3, bw, blo, bhi, NULL,
                                     NULL, NULL);
    snprintf(overlap_msg, sizeof overlap_msg, "%s", pmls_sched_errmsg(node));
    pmls_collected got = {0};
    rc = pmls_sched_dispatch(node, vars, RVARS, 3, sw, lo, hi, NULL, NULL,
                             NULL);
    if (rc == PMLS_OK) rc = pmls_sched_collect(node, &got);
    if (rc == PMLS_OK) {
      memcpy(sum, got.sum, sizeof sum);
      for (int w = 0; w < 2; w++) {
        const double *p = pmls_sched_partial(node, w);
        if (p) memcpy(part[w], p, sizeof part[w]);
        else rc = PMLS_ENOMEM;
      }
    }
    double values[RVARS] = {0};
    if (rc == PMLS_OK) rc = pmls_sched_commit(node, values);
    if (rc == PMLS_OK) rc = pmls_sched_stop(node);
  }
  pmls_sched_close(node);
  for (int w = 0; w < 2; w++) pthread_join(t[w], NULL);
  CHECK_EQ_INT(orc, PMLS_OK);
  CHECK_EQ_INT(overlap_rc, PMLS_EINVAL);
  CHECK_STR_CONTAINS(overlap_msg, "segments 0 and 2 give worker 1 variables "
                                  "[0, 3) and [2, 4)");
  CHECK_EQ_INT(rc, PMLS_OK);
  for (int w = 0; w < 2; w++) CHECK_VERDICT(jobs[w].v);
  for (int k = 0; k < RVARS; k++) {
    int owner = k >= 4 && k < 8 ? 1 : 0;
    CHECK_EQ_DBL(sum[k], (owner + 1) * 100.0 + k);
    CHECK_EQ_DBL(part[owner][k], (owner + 1) * 100.0 + k);
    CHECK_EQ_DBL(part[1 - owner][k], 0.0);
  }
  CHECK_EQ_DBL(sum[RVARS], 3.0);
  CHECK_EQ_DBL(part[0][RVARS], 1.0);
  CHECK_EQ_DBL(part[1][RVARS], 2.0);
  pmls_engine_destroy(e);
}

static const th_case cases[] = {
    {"model declare: errors name the field, defaults filled in", t_model_declare_errors},
    {"rounds open: errors name the argument, one handle per worker", t_rounds_open_errors},
    {"rounds handle outside a round: ESTATE with a message, bad node", t_rounds_outside_a_round},
    {"one node, two workers: every push sees every earlier commit", t_run_one_node},
    {"two nodes, two workers: rounds in order, commits of both nodes", t_run_two_nodes},
    {"a worker that keeps no changes: commits applied to its copy, none listed", t_run_changes_not_kept},
    {"a client closed before its rounds handle: the rounds go on", t_run_client_closed_first},
    {"broadcast: one node, the values of the round before, STOP's too", t_broadcast_one_node},
    {"broadcast: two nodes, three workers, each node's values apart", t_broadcast_two_nodes},
    {"broadcast errors name the argument; none after stop", t_broadcast_errors},
    {"agnostic round: over is 0 until every worker is ready, wait_over blocks", t_agnostic_round_end},
    {"segments: each worker's share summed, partial dense, overlaps refused", t_segments},
};

TH_MAIN(cases)
