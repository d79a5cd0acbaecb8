/* job.h -- this process's part in a job of several (see job.c): the
 * rendezvous, the node thread watching the peers, the end-of-run steps. */
#ifndef PMI_JOB_H
#define PMI_JOB_H

#include "../proc/proc.h"

/* Sets up the transport from the master address, binds the directory
 * entries this process hosts (socks, one per entry, -1 for the others'
 * entries) and meets the other processes. A one-process job without a
 * master does nothing here. */
int pmi_job_start(pmls_engine *e, int *socks, char *why);
/* This process's workers are done: status is how they ended (a code, with
 * msg), st this process's totals. On rank 0 it waits for every rank and
 * returns the root cause among them (the first failure that is not an
 * echo of another's abort), with its message in e->err. */
int pmi_job_workers_done(pmls_engine *e, int status, const char *msg,
                         const pmls_stats *st);
/* The last steps: every rank closed, rank 0's FINISH; then the thread. */
void pmi_job_end(pmls_engine *e);

#endif
