/* steps.c -- the steps of a run between the processes of a job, and the
 * job's end. Each step is a DONE message naming its phase and its run (an
 * engine counts the runs it begins; every rank makes the same runs, one
 * after the other), with rank 0 in the middle:
 *
 *  - begun: rank 0 tells every rank it has begun run n, and a rank waits
 *    for that before its own setup. So nothing of run n on any rank
 *    overlaps what rank 0 did before it: its previous run's finish, or its
 *    host filling a table for the run.
 *  - ready: every rank says it has run its setup and opened its clients, or
 *    why it could not; rank 0 answers each with the verdict. No worker
 *    starts anywhere before every worker of the job has said HELLO to every
 *    shard: a worker that rejoins in a later run holds the others back only
 *    from its HELLO on, and another rank's worker that clocked first would
 *    have got ahead of it. A setup that fails thus stops the run on every
 *    rank before any worker ran, and the job lives on for another run.
 *  - workers: a rank's workers are done. The message carries the rank's
 *    statistics counted since its previous one, which rank 0 adds up, so
 *    nothing is counted twice however many runs there are. Rank 0 waits for
 *    every rank's, picks the root cause of a failure among this run's
 *    reports only, and runs finish.
 *  - the job's end: each rank closes (CLOSED), rank 0 says FINISH, each
 *    acknowledges it (FINISHED), and every process stops its shards. nanomsg
 *    has no linger: a message still queued when its socket closes can be
 *    lost, which is why every step is acknowledged.
 * A failing worker aborts the job on every node (job.c): no step waits for
 * a rank that cannot answer, and the engines run nothing more. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "job_state.h"

/* ---- messages ------------------------------------------------------------ */

static void begin_done(pmls_engine *e, int phase, uint32_t run, int status,
                       const char *msg) {
  pmi_job *j = e->jobst;
  pmi_msg_begin(&j->out, e->job, PMI_MSG_DONE, e->rank);
  pmi_put_u8(&j->out, (uint8_t)phase);
  pmi_put_u32(&j->out, run);
  pmi_put_i32(&j->out, status);
  pmi_put_str(&j->out, msg ? msg : "");
}

static void to_master(pmls_engine *e) {
  pmi_job *j = e->jobst;
  char err[PMI_ERRLEN];
  /* A stopped rank (its launcher may be the one that died) or one whose
   * master is dead does not wait a heartbeat timeout on a send. */
  if (atomic_load(&e->stop_signal) || j->gone[0]) {
    pmi_msg_offer(j->master_sock, &j->out);
    return;
  }
  if (pmi_job_send(j, j->master_sock, "the master", err))
    fprintf(stderr, "pmls: rank %d: %s\n", e->rank, err);
}

/* Rank 0: the DONE being built goes to every rank. */
static void to_ranks(pmls_engine *e) {
  pmi_job *j = e->jobst;
  for (int r = 1; r < e->procs; r++) {
    if (j->peer_push[r] < 0) continue;
    if (atomic_load(&e->dead) || j->gone[r])
      pmi_msg_offer(j->peer_push[r], &j->out); /* it may be the dead one */
    else
      pmi_job_send(j, j->peer_push[r], "a rank", NULL);
  }
}

/* What changed in a table's counters since `then`. A maximum stays the
 * maximum: merged as one, it may be sent again. */
static void acc_since(pmi_table_acc *d, const pmi_table_acc *now,
                      const pmi_table_acc *then) {
  d->reads = now->reads - then->reads;
  d->increments = now->increments - then->increments;
  d->cache_hits = now->cache_hits - then->cache_hits;
  d->stale_n = now->stale_n - then->stale_n;
  d->stale_max = now->stale_max;
  for (int i = 0; i < 17; i++)
    d->stale_hist[i] = now->stale_hist[i] - then->stale_hist[i];
  d->stale_sum = now->stale_sum - then->stale_sum;
  d->stale_sumsq = now->stale_sumsq - then->stale_sumsq;
  d->bytes_sent = now->bytes_sent - then->bytes_sent;
  d->bytes_received = now->bytes_received - then->bytes_received;
}

/* Rank > 0: its statistics since its previous DONE_WORKERS. */
static void put_stats(pmls_engine *e, const pmls_stats *st) {
  pmi_job *j = e->jobst;
  pmi_put_i64(&j->out, st->messages_sent - j->sent.messages_sent);
  pmi_put_i64(&j->out, st->bytes_sent - j->sent.bytes_sent);
  pmi_put_i64(&j->out, st->messages_received - j->sent.messages_received);
  pmi_put_i64(&j->out, st->bytes_received - j->sent.bytes_received);
  pmi_put_i64(&j->out, st->rows_read - j->sent.rows_read);
  pmi_put_i64(&j->out, st->rows_incremented - j->sent.rows_incremented);
  j->sent = *st;
  int n = pmi_engine_ntables(e);
  pmi_put_i32(&j->out, n);
  pthread_mutex_lock(&e->mu);
  for (int i = 0; i < n; i++) {
    pmi_table_acc d;
    acc_since(&d, &e->table_acc[i], &j->sent_acc[i]);
    j->sent_acc[i] = e->table_acc[i];
    pmi_put_bytes(&j->out, &d, sizeof d);
  }
  pthread_mutex_unlock(&e->mu);
}

static int count_ok(int64_t v) { return v >= 0 && v <= (INT64_C(1) << 53); }

/* Rank 0: adds a rank's statistics to the job's. */
static void merge_stats(pmls_engine *e, pmi_rd *rd) {
  pmi_traffic t;
  t.messages_sent = pmi_get_i64(rd);
  t.bytes_sent = pmi_get_i64(rd);
  t.messages_received = pmi_get_i64(rd);
  t.bytes_received = pmi_get_i64(rd);
  int64_t rows_read = pmi_get_i64(rd), rows_inc = pmi_get_i64(rd);
  int n = pmi_get_i32(rd);
  pmi_table_acc acc[PMI_MAX_TABLES];
  memset(acc, 0, sizeof acc);
  for (int i = 0; i < n && i < PMI_MAX_TABLES && !rd->bad; i++) {
    const void *p = pmi_get_bytes(rd, sizeof acc[i]);
    if (p) memcpy(&acc[i], p, sizeof acc[i]);
  }
  /* Counts of a run are far below 2^53: a DONE claiming more (or less
   * than 0) is refused, so no sum of them can overflow (the fuzzer's
   * counters of -7.5e18 did: signed overflow). */
  int ok = count_ok(t.messages_sent) && count_ok(t.bytes_sent) &&
           count_ok(t.messages_received) && count_ok(t.bytes_received) &&
           count_ok(rows_read) && count_ok(rows_inc);
  for (int i = 0; i < n && i < PMI_MAX_TABLES; i++) {
    const pmi_table_acc *a = &acc[i];
    ok &= count_ok(a->reads) && count_ok(a->increments) &&
          count_ok(a->cache_hits) && count_ok(a->stale_n) &&
          count_ok(a->stale_max) && count_ok(a->bytes_sent) &&
          count_ok(a->bytes_received);
    for (int k = 0; k < 17; k++) ok &= count_ok(a->stale_hist[k]);
  }
  if (!ok) rd->bad = 1;
  if (rd->bad) return;
  pthread_mutex_lock(&e->mu);
  e->closed_traffic.messages_sent += t.messages_sent;
  e->closed_traffic.bytes_sent += t.bytes_sent;
  e->closed_traffic.messages_received += t.messages_received;
  e->closed_traffic.bytes_received += t.bytes_received;
  e->closed_rows_read += rows_read;
  e->closed_rows_inc += rows_inc;
  for (int i = 0; i < n && i < PMI_MAX_TABLES; i++)
    pmi_table_acc_merge(&e->table_acc[i], &acc[i]);
  pthread_mutex_unlock(&e->mu);
}

void pmi_job_on_done(pmls_engine *e, const pmi_hdr *h, pmi_rd *rd) {
  pmi_job *j = e->jobst;
  int from = h->src, phase = pmi_get_u8(rd);
  uint32_t run = pmi_get_u32(rd);
  int status = pmi_get_i32(rd);
  char text[PMI_ERRLEN];
  pmi_get_str(rd, text, sizeof text);
  if (rd->bad) return;
  pmi_step *step = NULL;
  if (e->rank == 0) {
    if (phase == DONE_WORKERS && run > j->workers[from].run) {
      merge_stats(e, rd);
      if (!rd->bad) step = &j->workers[from];
    } else if (phase == DONE_READY) {
      step = &j->ready[from];
    } else if ((phase == DONE_CLOSED || phase == DONE_FINISHED) &&
               phase > j->phase[from]) {
      j->phase[from] = (unsigned char)phase;
    }
  } else if (from == 0) {
    if (phase == DONE_READY) step = &j->verdict;
    else if (phase == DONE_BEGUN && run > j->begun) j->begun = run;
    else if (phase == DONE_CLOSED) j->master_closed = 1;
  }
  /* Each run's report replaces the last one: a failure is told once. */
  if (step && run > step->run) {
    step->run = run;
    step->status = status;
    snprintf(step->why, sizeof step->why, "%s", text);
  }
  pthread_cond_broadcast(&j->cv);
}

/* ---- waiting ------------------------------------------------------------- */

/* Whether rank r is past `phase` of `run`, or never will be: it was found
 * dead, or closed its engine before. */
static int rank_past(const pmi_job *j, int r, int phase, uint32_t run) {
  if (j->gone[r]) return 1;
  if (phase == DONE_READY || phase == DONE_WORKERS) {
    const pmi_step *s = phase == DONE_READY ? &j->ready[r] : &j->workers[r];
    return s->run >= run || j->phase[r] >= DONE_CLOSED;
  }
  return j->phase[r] >= phase;
}

/* Rank 0: waits until every rank is past `phase` of `run`. Once the job is
 * dead it waits only a little longer (the others' reports still tell the
 * cause), since a dead rank never answers. */
static void wait_ranks(pmls_engine *e, int phase, uint32_t run) {
  pmi_job *j = e->jobst;
  struct timespec until = {0, 0};
  for (;;) {
    int all = 1;
    for (int r = 1; r < e->procs; r++) all &= rank_past(j, r, phase, run);
    if (all) return;
    if (!atomic_load(&e->dead)) {
      pthread_cond_wait(&j->cv, &j->mu);
      continue;
    }
    if (until.tv_sec == 0) {
      clock_gettime(CLOCK_REALTIME, &until);
      until.tv_sec += 2;
    }
    if (pthread_cond_timedwait(&j->cv, &j->mu, &until) == ETIMEDOUT) return;
  }
}

/* Rank > 0: waits until rank 0's word for `run` (in *field) came; 0 if the
 * job died or rank 0 closed first (say_why_not tells which). */
static int wait_master(pmls_engine *e, const uint32_t *field, uint32_t run) {
  pmi_job *j = e->jobst;
  while (*field < run && !atomic_load(&e->dead) && !j->master_closed &&
         !j->finished)
    pthread_cond_wait(&j->cv, &j->mu);
  return *field >= run;
}

static int say_why_not(pmls_engine *e, uint32_t run) {
  if (atomic_load(&e->dead))
    return pmi_fail(e->err, e->dead_code, "%s", e->dead_why);
  return pmi_fail(e->err, PMLS_ESTATE, "rank %d: rank 0 closed its engine "
                  "before run %u (every rank of a job makes the same runs)",
                  e->rank, run);
}

/* ---- the root cause ------------------------------------------------------ */

/* Rank 0: the root cause among its own status and this run's reports of one
 * step: its own failure unless it only echoes another's (PMLS_EABORTED);
 * then the first rank whose failure is not an echo; with no failure here,
 * any rank's. Returns the rank picked, with its code in *code and its
 * message, naming it, in e->err; -1 if none. */
static int pick_cause(pmls_engine *e, int own, const pmi_step *steps,
                      uint32_t run, int *code) {
  int own_failed = own > 0, own_echo = own == PMLS_EABORTED, pick = -1;
  for (int r = 1; r < e->procs && pick < 0 && (!own_failed || own_echo); r++)
    if (steps[r].run == run && steps[r].status > 0 &&
        steps[r].status != PMLS_EABORTED)
      pick = r;
  for (int r = 1; r < e->procs && pick < 0 && !own_failed; r++)
    if (steps[r].run == run && steps[r].status > 0) pick = r;
  if (pick > 0) {
    *code = steps[pick].status == PMLS_EUSAGE ? PMLS_ESCRIPT
                                              : steps[pick].status;
    /* After the first line, so that file:line stays in front and the
     * traceback below it. */
    const char *why = steps[pick].why;
    const char *nl = strchr(why, '\n');
    pmi_fail(e->err, *code, "%.*s (on rank %d)%s",
             nl ? (int)(nl - why) : (int)strlen(why), why, pick, nl ? nl : "");
  }
  return pick;
}

/* "rank R failed: " and the first line of msg. */
static void failed_line(char *out, size_t cap, int rank, const char *msg) {
  const char *nl = strchr(msg, '\n');
  snprintf(out, cap, "rank %d failed: %.*s", rank,
           nl ? (int)(nl - msg) : (int)strlen(msg), msg);
}

/* ---- the steps of a run -------------------------------------------------- */

int pmi_job_run_begin(pmls_engine *e) {
  pmi_job *j = e->jobst;
  if (!j || !j->running) return PMLS_OK;
  pthread_mutex_lock(&j->mu);
  uint32_t run = ++j->runs;
  int rc = PMLS_OK;
  if (e->rank == 0) {
    begin_done(e, DONE_BEGUN, run, 0, "");
    to_ranks(e);
  } else if (!wait_master(e, &j->begun, run)) {
    rc = say_why_not(e, run);
  }
  pthread_mutex_unlock(&j->mu);
  return rc;
}

/* Rank 0: the verdict of the ready step, from its own status and the
 * ranks'; in e->err (why) and `tell` (for the others) when it is a
 * failure. */
static int ready_verdict(pmls_engine *e, int own, uint32_t run, char *tell,
                         size_t cap) {
  pmi_job *j = e->jobst;
  int code = own > 0 ? own : PMLS_OK;
  int pick = pick_cause(e, own, j->ready, run, &code);
  if (pick > 0) failed_line(tell, cap, pick, j->ready[pick].why);
  else if (own > 0) failed_line(tell, cap, 0, e->err);
  for (int r = 1; r < e->procs && code == PMLS_OK; r++)
    if (!j->gone[r] && j->ready[r].run < run)
      code = pmi_fail(e->err, PMLS_ESTATE, "rank %d closed its engine before "
                      "run %u (every rank of a job makes the same runs)", r,
                      run);
  if (code == PMLS_OK && atomic_load(&e->dead))
    code = pmi_fail(e->err, e->dead_code, "%s", e->dead_why);
  if (code != PMLS_OK && pick < 0 && own <= 0) snprintf(tell, cap, "%s", e->err);
  for (int r = 1; r < e->procs && code == PMLS_OK && own != PMLS_SKIP; r++)
    if (j->ready[r].run == run && j->ready[r].status == PMLS_SKIP)
      code = PMLS_SKIP;
  return code == PMLS_OK ? own : code;
}

int pmi_job_run_ready(pmls_engine *e, int status, const char *msg) {
  pmi_job *j = e->jobst;
  if (!j || !j->running) return status;
  pthread_mutex_lock(&j->mu);
  uint32_t run = j->runs;
  int rc;
  if (e->rank != 0) {
    begin_done(e, DONE_READY, run, status, status > 0 ? msg : "");
    to_master(e);
    int got = wait_master(e, &j->verdict.run, run);
    if (status > 0) /* this rank's own failure, its message in e->err */
      rc = status;
    else if (!got)
      rc = say_why_not(e, run);
    else if (j->verdict.status <= 0) /* go, or nothing to run anywhere */
      rc = j->verdict.status;
    else
      rc = pmi_fail(e->err, PMLS_EABORTED, "run %u did not start: %s", run,
                    j->verdict.why);
  } else {
    wait_ranks(e, DONE_READY, run);
    char tell[PMI_ERRLEN] = "";
    rc = ready_verdict(e, status, run, tell, sizeof tell);
    begin_done(e, DONE_READY, run, rc, rc > 0 ? tell : "");
    to_ranks(e);
  }
  pthread_mutex_unlock(&j->mu);
  return rc;
}

int pmi_job_workers_done(pmls_engine *e, int status, const char *msg,
                         const pmls_stats *st) {
  pmi_job *j = e->jobst;
  if (!j || !j->running) return PMLS_OK;
  msg = msg ? msg : "";
  if (status) {
    char why[PMI_ERRLEN];
    failed_line(why, sizeof why, e->rank, msg);
    pmi_proc_abort(e, status, why);
  }
  pthread_mutex_lock(&j->mu);
  uint32_t run = j->runs;
  int rc = PMLS_OK;
  if (e->rank != 0) {
    begin_done(e, DONE_WORKERS, run, status, msg);
    put_stats(e, st);
    to_master(e);
  } else {
    wait_ranks(e, DONE_WORKERS, run);
    int code = PMLS_OK;
    if (pick_cause(e, status, j->workers, run, &code) > 0) rc = code;
    if (rc == PMLS_OK && atomic_load(&e->dead)) {
      rc = e->dead_code;
      if (!status) pmi_fail(e->err, rc, "%s", e->dead_why);
    }
  }
  pthread_mutex_unlock(&j->mu);
  return rc;
}

/* ---- the job's end ------------------------------------------------------- */

void pmi_job_end(pmls_engine *e) {
  pmi_job *j = e->jobst;
  if (!j) return;
  if (j->running) {
    pthread_mutex_lock(&j->mu);
    if (e->rank != 0) {
      if (!atomic_load(&e->dead)) {
        begin_done(e, DONE_CLOSED, j->runs, 0, "");
        to_master(e);
      }
      while (!j->finished && !atomic_load(&e->dead))
        pthread_cond_wait(&j->cv, &j->mu);
      if (j->finished) {
        begin_done(e, DONE_FINISHED, j->runs, 0, "");
        to_master(e);
      }
    } else {
      /* A rank waiting for a run that will not come hears that none will.
       * After a failure the others are only told to go: they have nothing
       * left that rank 0 needs. */
      if (!atomic_load(&e->dead)) {
        begin_done(e, DONE_CLOSED, j->runs, 0, "");
        to_ranks(e);
        wait_ranks(e, DONE_CLOSED, 0);
      }
      pmi_msg_begin(&j->out, e->job, PMI_MSG_FINISH, 0);
      to_ranks(e);
      /* Rank 0 leaves last, once every rank has its FINISH; an answer lost
       * in a closing socket costs this wait at most. */
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      until.tv_sec += 2;
      for (;;) {
        int all = 1;
        for (int r = 1; r < e->procs; r++)
          all &= j->phase[r] >= DONE_FINISHED || j->gone[r];
        if (all || atomic_load(&e->dead) ||
            pthread_cond_timedwait(&j->cv, &j->mu, &until) == ETIMEDOUT)
          break;
      }
    }
    pthread_mutex_unlock(&j->mu);
    atomic_store(&j->stop, 1);
    pthread_join(j->thread, NULL);
    e->on_abort = NULL;
  }
  pmi_job_free(j, e);
  e->jobst = NULL;
}
