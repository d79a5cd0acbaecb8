/* run.c -- the run lifecycle: one process's part of a job, from setup to the
 * final metrics, for work given as C functions (pmls_run).
 *
 * Setup runs on the calling thread. Then one thread per local worker, each
 * with its own client, and for a scheduled model one thread per scheduler
 * node this process hosts. The first thread to fail aborts the run on every
 * node (the shards, the scheduler nodes, the other processes), so nobody
 * waits for a clock that will never come. Which failure is the root cause
 * is decided from the order of events and the codes, never from messages:
 * a thread that fails after another failed, after the run died, or because
 * a call told it the run was aborted (PMLS_EABORTED) only echoes a failure.
 * In a job of several processes no worker starts before every rank is set
 * up with its clients open (a setup that fails on one rank stops the run
 * on all, before any worker ran); at the end, rank 0 hears how every
 * rank's workers ended (job/) and picks the root cause among the ranks the
 * same way; it runs finish once every rank's workers are done, then writes
 * the final metrics. Runs in sequence on one engine go through the same
 * path (job/ numbers them). script.c drives Lua states through this; a host
 * can call it with C functions of its own. */
#include <stdlib.h>
#include <string.h>

#include "../client/client.h"
#include "../job/job.h"
#include "../metrics/metrics.h"
#include "../proc/proc.h"
#include "../sched/model.h"

#define MSG_MAX 4096 /* a script error with its traceback */

typedef struct run run;

typedef struct {
  run *r;
  pmls_client *c;
  int worker;        /* a worker's id, or -1 */
  int node;          /* a scheduler node's index, or -1 */
  pthread_t thread;
  int rc;
  int echo;          /* failed only because another node had */
  double failed_at;
  char msg[MSG_MAX];
} node_thread;

struct run {
  pmls_engine *e;
  const pmls_run_fns *fns;
  void *ud;
  _Atomic int failed; /* a thread of this process has failed */
  node_thread *ts;    /* the workers, then the scheduler nodes hosted here */
  int n;
};

/* Records a thread's failure and ends the run for every node. The decision
 * echo-or-cause is taken before this thread's own abort goes out. */
static void thread_failed(node_thread *t, int rc) {
  run *r = t->r;
  pmls_engine *e = r->e;
  t->rc = rc;
  t->failed_at = pmi_now();
  if (!t->msg[0]) snprintf(t->msg, sizeof t->msg, "%s", pmls_strerror(rc));
  int prior = atomic_exchange(&r->failed, 1);
  t->echo = rc == PMLS_EABORTED || prior || pmi_proc_dead(e) ||
            (t->c && pmi_client_saw_abort(t->c));
  char why[PMI_ERRLEN];
  const char *nl = strchr(t->msg, '\n');
  int len = nl ? (int)(nl - t->msg) : (int)strlen(t->msg);
  if (t->node >= 0)
    snprintf(why, sizeof why, "scheduler node %d failed: %.*s", t->node, len,
             t->msg);
  else
    snprintf(why, sizeof why, "worker %d failed: %.*s", t->worker, len, t->msg);
  if (t->c) pmls_abort(t->c, why);
  /* Rounds wait on the scheduler nodes and workers directly, not on the
   * shards that the abort wakes: they learn of it from the dead flag. */
  if (e->model.declared) pmi_proc_abort(e, t->echo ? PMLS_EABORTED : rc, why);
}

static void *thread_main(void *arg) {
  node_thread *t = arg;
  run *r = t->r;
  pmls_engine *e = r->e;
  int rc = PMLS_OK;
  if (t->node >= 0) {
    pmls_sched *s = NULL;
    rc = pmls_sched_open(e, t->node, &s);
    if (rc) snprintf(t->msg, sizeof t->msg, "%s", e->err);
    else if (r->fns->scheduler)
      rc = r->fns->scheduler(s, t->c, r->ud, t->msg, sizeof t->msg);
    if (rc) thread_failed(t, rc);
    pmls_sched_close(s);
    pmls_client_close(t->c); /* a host client: only the abort path used it */
    t->c = NULL;
    return NULL;
  }
  if (r->fns->worker) rc = r->fns->worker(t->c, r->ud, t->msg, sizeof t->msg);
  if (rc) thread_failed(t, rc);
  rc = pmls_client_close(t->c);
  t->c = NULL;
  if (rc && !t->rc) {
    t->rc = rc;
    snprintf(t->msg, sizeof t->msg, "%s", e->err);
    t->failed_at = pmi_now();
    t->echo = rc == PMLS_EABORTED;
  }
  return NULL;
}

/* The root cause: the earliest failure that is not an echo, else the
 * earliest echo. */
static node_thread *root_cause(node_thread *ts, int n) {
  node_thread *best = NULL;
  for (int i = 0; i < n; i++) {
    node_thread *t = &ts[i];
    if (!t->rc) continue;
    if (!best || (best->echo && !t->echo) ||
        (best->echo == t->echo && t->failed_at < best->failed_at))
      best = t;
  }
  return best;
}

/* Opens a client for each of this process's workers and the scheduler
 * nodes it hosts, before any thread starts: a worker that rejoins from an
 * earlier run holds the others back from its open on. */
static int open_nodes(run *r) {
  pmls_engine *e = r->e;
  int n = e->local_workers;
  if (e->model.declared)
    for (int k = 0; k < e->schedulers; k++)
      n += pmi_addr_owner(e, e->servers + k) == e->rank;
  r->ts = calloc((size_t)n, sizeof *r->ts);
  if (!r->ts) return pmi_fail(e->err, PMLS_ENOMEM, "out of memory");
  r->n = n;
  int rc = PMLS_OK;
  for (int i = 0, k = 0; i < n && rc == PMLS_OK; i++) {
    node_thread *t = &r->ts[i];
    t->r = r;
    t->worker = t->node = -1;
    if (i < e->local_workers) {
      t->worker = e->first_worker + i;
    } else {
      while (pmi_addr_owner(e, e->servers + k) != e->rank) k++;
      t->node = k++;
    }
    rc = pmls_client_open(e, t->worker, &t->c);
  }
  return rc;
}

/* Closes the clients of a run whose threads did not start. */
static void close_nodes(run *r) {
  for (int i = 0; i < r->n; i++) pmls_client_close(r->ts[i].c);
  free(r->ts);
  r->ts = NULL;
}

/* Runs this process's workers and the scheduler nodes it hosts, each on a
 * thread of its own; returns the root cause of any failure. */
static int run_threads(run *r) {
  pmls_engine *e = r->e;
  node_thread *ts = r->ts;
  int n = r->n, rc = PMLS_OK, started = 0;
  for (int i = 0; i < n && rc == PMLS_OK; i++) {
    if (pthread_create(&ts[i].thread, NULL, thread_main, &ts[i])) {
      rc = pmi_fail(e->err, PMLS_ENOMEM, "cannot start worker thread %d", i);
      if (ts[0].c) pmls_abort(ts[0].c, "could not start every worker");
      break;
    }
    started++;
  }
  for (int i = 0; i < started; i++) pthread_join(ts[i].thread, NULL);
  for (int i = started; i < n; i++) pmls_client_close(ts[i].c);
  node_thread *bad = rc == PMLS_OK ? root_cause(ts, n) : NULL;
  if (bad) {
    rc = bad->echo ? PMLS_EABORTED
                   : bad->rc == PMLS_EUSAGE ? PMLS_ESCRIPT : bad->rc;
    snprintf(e->err, sizeof e->err, "%s", bad->msg);
    /* Say which thread, after the first line so file:line stays in front. */
    char *nl = strchr(e->err, '\n');
    char tail[MSG_MAX];
    snprintf(tail, sizeof tail, "%s", nl ? nl : "");
    if (nl) *nl = 0;
    size_t len = strlen(e->err);
    if (bad->node >= 0)
      snprintf(e->err + len, sizeof e->err - len, " (in scheduler node %d)%s",
               bad->node, tail);
    else
      snprintf(e->err + len, sizeof e->err - len, " (in worker %d)%s",
               bad->worker, tail);
  }
  free(ts);
  r->ts = NULL;
  return rc;
}

/* Tells the other ranks how this one's workers ended; on rank 0, returns
 * the job's root cause. */
static int workers_done(pmls_engine *e, int rc) {
  pmls_stats st;
  pmls_engine_stats(e, &st);
  return pmi_job_workers_done(e, rc, e->err, &st);
}

static int finish(run *r) {
  pmls_engine *e = r->e;
  if (!r->fns->finish) return PMLS_OK;
  pmls_client *host;
  int rc = pmls_client_open(e, -1, &host);
  if (rc) return rc;
  char *msg = calloc(1, MSG_MAX);
  if (!msg) {
    pmls_client_close(host);
    return pmi_fail(e->err, PMLS_ENOMEM, "out of memory");
  }
  rc = r->fns->finish(host, r->ud, msg, MSG_MAX);
  int crc = pmls_client_close(host);
  if (rc) {
    if (rc == PMLS_EUSAGE) rc = PMLS_ESCRIPT;
    snprintf(e->err, sizeof e->err, "%s", msg[0] ? msg : pmls_strerror(rc));
  } else {
    rc = crc;
  }
  free(msg);
  return rc;
}

int pmls_run(pmls_engine *e, const pmls_run_fns *fns, void *ud) {
  if (!fns) return pmi_fail(e->err, PMLS_EINVAL, "missing run functions");
  /* An abort is final for the shards and the other processes of the job. */
  if (pmi_proc_dead(e))
    return pmi_fail(e->err, PMLS_ESTATE, "an earlier run on this engine was "
                    "aborted (%s): another run needs a new engine",
                    e->dead_why);
  run r = {e, fns, ud, 0, NULL, 0};
  int rc = pmi_job_run_begin(e);
  if (rc) return rc;
  char *msg = calloc(1, MSG_MAX);
  if (!msg) rc = pmi_fail(e->err, PMLS_ENOMEM, "out of memory");
  else if (fns->setup) rc = fns->setup(e, ud, msg, MSG_MAX);
  if (rc && rc != PMLS_SKIP && msg)
    snprintf(e->err, sizeof e->err, "%s", msg[0] ? msg : pmls_strerror(rc));
  if (rc == PMLS_OK) rc = open_nodes(&r);
  /* No worker of the job starts before every rank is set up, its clients
   * open; if one cannot be, none starts (PMLS_SKIP: nothing to run). */
  rc = pmi_job_run_ready(e, rc, e->err);
  if (rc) {
    if (msg) snprintf(msg, MSG_MAX, "%s", e->err); /* closing may write it */
    if (r.ts) close_nodes(&r);
    if (msg) snprintf(e->err, sizeof e->err, "%s", msg);
  }
  free(msg);
  if (rc) return rc == PMLS_SKIP ? PMLS_OK : rc;
  rc = run_threads(&r);
  /* In a job of several processes, rank 0 runs finish once every rank's
   * workers are done; the others' part ends here (their shards keep serving
   * until rank 0 says FINISH, in pmls_engine_destroy). */
  int others = workers_done(e, rc);
  if (rc == PMLS_OK || (rc == PMLS_EABORTED && others)) rc = others;
  if (rc == PMLS_OK && e->rank == 0) rc = finish(&r);
  if (rc == PMLS_OK && e->rank == 0) {
    pmi_model_finals(e);
    pmls_stats st;
    pmls_engine_stats(e, &st);
    /* PMLS_EVALUE (a NaN or infinite metric) comes with its message. */
    rc = pmi_metrics_write_final(e->metrics, e, &st, e->err);
    if (rc == PMLS_EIO) pmi_fail(e->err, rc, "cannot write the metrics file "
                                 "'%s'", e->metrics_path);
  }
  return rc;
}
