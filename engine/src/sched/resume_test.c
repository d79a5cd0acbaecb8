/* resume_test.c -- a scheduled run that goes on from a checkpoint, through
 * the public API only (pmls.h): pmls_sched_resume and pmls_rounds_resume
 * start the node and the worker at the snapshot's round, every earlier
 * round counted as committed (no staleness), no initial model sent (the
 * worker has its copy), and both refuse once a round went out; the worker
 * counts the nodes that stopped (pmls_rounds_stopped). The worker
 * runs on a thread of its own and records what went wrong in its job
 * struct; the case checks it after joining it. Whole resumed runs of the
 * shipped models are spec/sched_checkpoint_spec.lua. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "fixtures.h"
#include "harness.h"
#include "pmls.h"

typedef struct {
  pmls_engine *e;
  int64_t round, stale, nchanged, again_rc, stopped_before, stopped_after;
  double seen[4], after[4];
  char why[512]; /* the worker's failure, empty if none */
} resume_job;

/* Resumes at round 5 with the model 1, 2, 3, 4, pushes 10 x its copy. */
static void *resume_worker_main(void *arg) {
  resume_job *j = arg;
  pmls_client *c = NULL;
  pmls_rounds *r = NULL;
  pmls_round info;
  const double copy[4] = {1, 2, 3, 4};
  if (pmls_client_open(j->e, 0, &c) != PMLS_OK ||
      pmls_rounds_open(c, &r) != PMLS_OK ||
      pmls_rounds_resume(r, 5, copy) != PMLS_OK) {
    snprintf(j->why, sizeof j->why, "worker: no resume: %s",
             r ? pmls_rounds_errmsg(r) : pmls_client_errmsg(c));
  } else {
    j->again_rc = pmls_rounds_resume(r, 5, copy) == PMLS_OK;
    if (pmls_round_next(r, &info) != PMLS_OK) {
      snprintf(j->why, sizeof j->why, "worker: round_next: %s",
               pmls_rounds_errmsg(r));
    } else {
      j->stopped_before = pmls_rounds_stopped(r);
      j->round = info.round;
      j->stale = info.staleness;
      j->nchanged = info.nchanged;
      const double *m = pmls_round_model(r);
      double *out = pmls_round_partial(r);
      for (int k = 0; k < 4; k++) {
        j->seen[k] = m[k];
        out[k] = 10 * m[k];
      }
      if (pmls_round_send(r, 1) != PMLS_OK ||
          pmls_round_next(r, &info) != PMLS_OK || info.round != -1)
        snprintf(j->why, sizeof j->why, "worker: send or end: %s",
                 pmls_rounds_errmsg(r));
      for (int k = 0; k < 4; k++) j->after[k] = pmls_round_model(r)[k];
      j->stopped_after = pmls_rounds_stopped(r);
    }
  }
  pmls_rounds_close(r);
  pmls_client_close(c);
  return NULL;
}

static void t_resume(void) {
  pmls_config cfg = config(1, 1);
  pmls_engine *e = NULL;
  char err[512] = "";
  CHECK_EQ_INT(pmls_engine_create(&e, &cfg, err, sizeof err), PMLS_OK);
  pmls_model_spec s;
  memset(&s, 0, sizeof s);
  s.vars = 4;
  s.width = 1;
  CHECK_EQ_INT(pmls_model_declare(e, &s), PMLS_OK);
  resume_job job = {.e = e, .round = -2};
  pthread_t t;
  CHECK(pthread_create(&t, NULL, resume_worker_main, &job) == 0);
  pmls_sched *node = NULL;
  int orc = pmls_sched_open(e, 0, &node), rc = PMLS_OK, bad_rc = 0, late_rc = 0;
  int64_t sent = -1, got_round = -1;
  double sum[4] = {0};
  if (orc == PMLS_OK) {
    double *m = pmls_sched_model(node);
    for (int k = 0; k < 4; k++) m[k] = k + 1; /* not sent: the worker has it */
    bad_rc = pmls_sched_resume(node, -1);
    rc = pmls_sched_resume(node, 5);
    int64_t vars[4] = {0, 1, 2, 3};
    pmls_collected got = {0};
    if (rc == PMLS_OK)
      rc = pmls_sched_dispatch(node, vars, 4, 0, NULL, NULL, NULL, NULL, NULL,
                               &sent);
    late_rc = pmls_sched_resume(node, 6);
    if (rc == PMLS_OK) rc = pmls_sched_collect(node, &got);
    if (rc == PMLS_OK) {
      got_round = got.round;
      memcpy(sum, got.sum, sizeof sum);
      double values[4] = {7, 7, 7, 7};
      rc = pmls_sched_commit(node, values);
    }
    if (rc == PMLS_OK) rc = pmls_sched_stop(node);
  }
  pmls_sched_close(node);
  pthread_join(t, NULL);
  CHECK_EQ_INT(orc, PMLS_OK);
  CHECK_EQ_INT(bad_rc, PMLS_EINVAL);
  CHECK_EQ_INT(rc, PMLS_OK);
  CHECK_EQ_INT(late_rc, PMLS_ESTATE);
  if (job.why[0]) {
    th_fail(__FILE__, __LINE__, "%s", job.why);
    return;
  }
  CHECK_EQ_INT(job.again_rc, 0); /* a second resume of the worker: refused */
  CHECK_EQ_INT(sent, 5);
  CHECK_EQ_INT(got_round, 5);
  CHECK_EQ_INT(job.round, 5);
  CHECK_EQ_INT(job.stale, 0);
  CHECK_EQ_INT(job.nchanged, 0); /* no initial model came */
  CHECK_EQ_INT(job.stopped_before, 0);
  CHECK_EQ_INT(job.stopped_after, 1); /* the node's STOP */
  for (int k = 0; k < 4; k++) {
    CHECK_EQ_DBL(job.seen[k], k + 1.0);
    CHECK_EQ_DBL(sum[k], 10.0 * (k + 1));
    CHECK_EQ_DBL(job.after[k], 7.0);
  }
  pmls_engine_destroy(e);
}

static const th_case cases[] = {
    {"resume: the next round is the snapshot's, no initial model, copies kept", t_resume},
};

TH_MAIN(cases)
