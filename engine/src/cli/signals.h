/* signals.h -- how the `pmls` command stops on a signal and watches the
 * ranks it started. */
#ifndef PMLS_SIGNALS_H
#define PMLS_SIGNALS_H

#include "pmls.h"
#include "launch.h"

typedef struct pl_guard pl_guard;

/* Blocks SIGINT, SIGTERM, SIGHUP and SIGCHLD in the calling thread -- call
 * it before any other thread exists, so every thread inherits the mask --
 * and starts the thread that waits for them. Returns NULL if the thread
 * cannot start (signals then act as they would without it). */
pl_guard *pl_guard_start(void);

/* From now on the guard watches the ranks job started (job->pids filled)
 * and kills them if a stop does not end the job in time; job must outlive
 * the guard. -1: out of memory (the ranks are then not watched). */
int pl_guard_watch_ranks(pl_guard *g, pl_job *job);

/* The engine a signal stops (pmls_stop) and a dead rank aborts
 * (pmls_engine_abort), from attach until detach. Detach before destroying
 * it: a signal after that ends the process at once. */
void pl_guard_attach(pl_guard *g, pmls_engine *e);
void pl_guard_detach(pl_guard *g);

/* The signal that stopped this process (0: none), and whether the process
 * that started this one sent it (a launcher passing a stop on). */
int pl_guard_signal(pl_guard *g);
int pl_guard_from_parent(pl_guard *g);

/* Sends sig to every rank still running (the launcher's part of a stop). */
void pl_guard_forward(pl_guard *g, int sig);

/* Ends the thread and restores the signal mask. */
void pl_guard_stop(pl_guard *g);

#endif
