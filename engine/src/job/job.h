/* job.h -- this process's part in a job of several (see job.c): the
 * rendezvous, the node thread watching the peers, the steps of each run
 * and the job's end (steps.c). Every rank makes the same runs, in the same
 * order; in a one-process job every step returns at once. */
#ifndef PMI_JOB_H
#define PMI_JOB_H

#include "../proc/proc.h"

/* Sets up the transport from the master address, binds the directory
 * entries this process hosts (socks, one per entry, -1 for the others'
 * entries) and meets the other processes. A one-process job without a
 * master does nothing here. */
int pmi_job_start(pmls_engine *e, int *socks, char *why);
/* A run begins, before its setup: rank 0 tells the others; a rank > 0
 * waits until rank 0 has begun it. Returns PMLS_OK, or why the run cannot
 * begin (the job died, or rank 0 closed its engine), with e->err. */
int pmi_job_run_begin(pmls_engine *e);
/* This process is set up for the run and its clients are open (status
 * PMLS_OK), has nothing to run (PMLS_SKIP) or could not get there (a code,
 * with msg). Every rank hears every rank's: returns PMLS_OK when the
 * workers may start, PMLS_SKIP when nothing runs, or else the failure: this
 * rank's own status, or (with e->err) the root cause on rank 0 and
 * PMLS_EABORTED on the others. Nothing is aborted: no worker ran. */
int pmi_job_run_ready(pmls_engine *e, int status, const char *msg);
/* This process's workers are done: status is how they ended (a code, with
 * msg), st this process's totals. On rank 0 it waits for every rank and
 * returns the root cause among this run's reports (the first failure that
 * is not an echo of another's abort), with its message in e->err. */
int pmi_job_workers_done(pmls_engine *e, int status, const char *msg,
                         const pmls_stats *st);
/* The last steps: every rank closed, rank 0's FINISH; then the thread. */
void pmi_job_end(pmls_engine *e);

/* Rank 0: the launcher saw rank end abnormally. Nobody waits on it any
 * more, and the run ends with PMLS_EDEAD and why unless it ended already. */
void pmi_job_peer_died(pmls_engine *e, int rank, const char *why);

#endif
