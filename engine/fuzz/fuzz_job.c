/* fuzz_job.c -- a process's node thread (job/job.c, job/steps.c) on any
 * sequence of messages from the other ranks: DONE of every phase (rank 0
 * adds a rank's statistics from phase 1), FINISH, ABORT (with a signal and
 * the rank it hit), BEAT and whatever else a peer may send, handed to the
 * handler as the thread would (pmi_job_handle), with the job's lock taken
 * there.
 *
 * A job needs processes to meet; this one is made by hand instead: a
 * one-process engine given a job of three ranks (the job state job.c would
 * have made after the rendezvous, without sockets: every message the
 * handler sends is an offer to a socket of -1, which it skips). The
 * input's first byte chooses whether this process is rank 0 or rank 1.
 * After each input the engine is made alive again (an ABORT ends a job
 * for good) and its local client's wake-up is read. The rendezvous messages themselves (JOIN, DIR) are read in
 * the rendezvous loops, not here. */
#include <nanomsg/nn.h>

#include "fuzz.h"
#include "../src/client/client_state.h"
#include "../src/job/job_state.h"

#define P 3

static pmls_engine *eng;
static pmi_job job;
static double last_heard[P];
static unsigned char phase[P], gone[P];
static pmi_step ready[P], workers[P];
static pmi_table_acc sent_acc[PMI_MAX_TABLES];
static int peer_push[P] = {-1, -1, -1}, shard_push[1] = {-1};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = 1;
  cfg.servers = 1;
  cfg.quiet = 2;
  char err[512];
  if (pmls_engine_create(&eng, &cfg, err, sizeof err) != PMLS_OK) {
    fprintf(stderr, "fuzz_job: %s\n", err);
    abort();
  }
  pthread_mutex_init(&job.mu, NULL);
  pthread_cond_init(&job.cv, NULL);
  job.master_sock = job.ctl_pull = -1;
  job.peer_push = peer_push;
  job.shard_push = shard_push;
  job.last_heard = last_heard;
  job.phase = phase;
  job.gone = gone;
  job.ready = ready;
  job.workers = workers;
  job.sent_acc = sent_acc;
  job.running = 1;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  /* The engine's own shard and feed read procs: it is this job's only
   * while the handler runs. */
  int procs = eng->procs, rank = eng->rank;
  eng->jobst = &job;
  eng->procs = P;
  eng->rank = data[0] & 1;
  fuzz_in in = {data + 1, size - 1, 0};
  pmi_buf b = {0};
  while (fuzz_next(&in, eng->job, &b)) pmi_job_handle(eng, b.data, b.len);
  pmi_buf_free(&b);
  eng->procs = procs;
  eng->rank = rank;
  eng->jobst = NULL;
  pmi_buf_free(&job.out);
  /* An abort woke the engine's local client with an ERR: read it. */
  for (void *m; nn_recv(eng->ctl->pull, &m, NN_MSG, NN_DONTWAIT) >= 0;)
    nn_freemsg(m);
  /* Each accepted DONE adds its counts (each at most 2^53, steps.c) to
   * the engine's: input after input they would overflow sums no job
   * makes. */
  memset(&eng->closed_traffic, 0, sizeof eng->closed_traffic);
  eng->closed_rows_read = eng->closed_rows_inc = 0;
  memset(eng->table_acc, 0, PMI_MAX_TABLES * sizeof *eng->table_acc);
  atomic_store(&eng->dead, 0);
  atomic_store(&eng->stop_signal, 0);
  memset(phase, 0, sizeof phase);
  memset(ready, 0, sizeof ready);
  memset(workers, 0, sizeof workers);
  memset(&job.verdict, 0, sizeof job.verdict);
  job.begun = 0;
  job.master_closed = job.finished = 0;
  return 0;
}
