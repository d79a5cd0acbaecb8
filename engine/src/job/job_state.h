/* job_state.h -- the inside of a job, shared by the files of job/ only:
 * job.c (the rendezvous, the node thread, the job's start) and steps.c (the
 * steps of each run between the ranks, and the job's end). */
#ifndef PMI_JOB_STATE_H
#define PMI_JOB_STATE_H

#include "job.h"

/* The phase of a DONE message: which step of a run, or of the job's end, it
 * acknowledges. Ranks > 0 send READY and WORKERS once per run, CLOSED and
 * FINISHED once at the end; rank 0 sends BEGUN and READY once per run, and
 * CLOSED when its engine closes. Every DONE names its run. */
enum {
  DONE_WORKERS = 1,  /* rank -> 0: the run's workers are done (statistics) */
  DONE_CLOSED = 2,   /* rank -> 0, or 0 -> rank: the engine closes */
  DONE_FINISHED = 3, /* rank -> 0: FINISH came */
  DONE_READY = 4,    /* rank -> 0: set up, clients open (or why not);
                        0 -> rank: every rank is (the verdict) */
  DONE_BEGUN = 5     /* 0 -> rank: rank 0 has begun the run */
};

/* What was last heard of one step of a run from one rank (on rank 0), or of
 * rank 0's verdict (on the others). */
typedef struct {
  uint32_t run; /* the run it was for; 0: none yet */
  int status;
  char why[PMI_ERRLEN];
} pmi_step;

struct pmi_job {
  char master[PMI_ADDR_MAX];
  int master_sock;            /* rank 0: PULL at master; others: PUSH to it */
  int ctl_pull;               /* rank > 0: where rank 0 reaches this process */
  int *peer_push;             /* rank 0: PUSH to each rank's control socket */
  int *shard_push;            /* to every shard, for aborting the job */
  int beat_ms, timeout_ms;

  pthread_t thread;
  int running;
  _Atomic int stop;
  pthread_mutex_t mu; /* guards everything below */
  pthread_cond_t cv;
  double *last_heard;         /* per rank, by the node thread */
  unsigned char *phase;       /* rank 0: the job's end each rank reached
                                 (DONE_CLOSED, DONE_FINISHED) */
  unsigned char *gone;        /* ranks found dead: no one waits for them */
  uint32_t runs;              /* runs begun on this engine */
  pmi_step *ready, *workers;  /* rank 0: per rank, its latest of each */
  pmi_step verdict;           /* rank > 0: rank 0's latest READY */
  uint32_t begun;             /* rank > 0: the latest run rank 0 began */
  int master_closed;          /* rank > 0: rank 0's engine closes */
  int finished;               /* rank > 0: FINISH came */
  pmls_stats sent;            /* rank > 0: the totals its last DONE_WORKERS */
  pmi_table_acc *sent_acc;    /*   counted, and per table */
  pmi_buf out;
};

/* Rank 0's side of the rendezvous so far: which ranks joined (rank 0
 * too) and where each one's DIR goes. */
typedef struct {
  int njoined;
  unsigned char *joined;     /* per rank */
  char (*ctl)[PMI_ADDR_MAX]; /* per rank: its control socket */
} pmi_rendezvous;
/* Makes rv (its arrays given, e->procs long) a rendezvous where only rank
 * 0 has joined. */
void pmi_rendezvous_init(pmls_engine *e, pmi_rendezvous *rv);
/* Rank 0: one message at the master address during the rendezvous (job.c
 * says what is taken, dropped or refused); PMLS_OK, or why the job cannot
 * start. Also the fuzz harness's way in (engine/fuzz/fuzz_join.c). */
int pmi_job_take_join(pmls_engine *e, pmi_rendezvous *rv, const void *msg,
                      size_t len, char *why);
/* Rank > 0: one message while waiting for the DIR: PMLS_OK (the directory
 * taken), PMLS_SKIP (dropped) or why the job failed to start. */
int pmi_job_take_dir(pmls_engine *e, const void *msg, size_t len, char *why);

/* A DONE message, called by the node thread with j->mu held. */
void pmi_job_on_done(pmls_engine *e, const pmi_hdr *h, pmi_rd *rd);
/* A message handed to the node thread's handler (job.c), as if it came on
 * its socket: for the fuzz harness. */
void pmi_job_handle(pmls_engine *e, const void *msg, size_t len);
int pmi_job_send(pmi_job *j, int sock, const char *peer, char *err);
void pmi_job_free(pmi_job *j, const pmls_engine *e);

#endif
