/* signals.c -- a clean stop for `pmls run`, and a launcher that notices at
 * once when a rank it started dies.
 *
 * The engine's threads cannot take signals safely (a handler may run in the
 * middle of a nanomsg call or a Lua trace), so the command blocks SIGINT,
 * SIGTERM, SIGHUP and SIGCHLD before any thread exists and one thread waits
 * for them with sigtimedwait. On a stop signal it calls pmls_stop, which
 * ends the run on every rank the way a failing node would and carries the
 * signal, so every rank exits with 128 + signo; the launcher also passes the
 * signal on to the ranks it started, in case one is stuck where the abort
 * cannot reach it. If the process has not ended a few seconds later, or a
 * second signal comes, it ends at once: the ranks it started are killed and
 * the job's ipc directory removed, so nothing is left behind.
 *
 * SIGCHLD tells the launcher that a rank it started has ended. A rank
 * killed by a signal cannot say so itself, so the launcher aborts the run
 * with that cause right away instead of waiting for the heartbeat timeout.
 * A rank that exited with an error code normally said why in its own abort
 * first; the launcher only speaks for it if the run is still going half a
 * second later. The exit is only looked at (WNOWAIT): pl_wait reaps. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "signals.h"

#define STOP_GRACE_S 3.0  /* a stopped job that has not ended by then is killed */
#define EXIT_SPEAK_S 0.5  /* how long a rank's own abort may take to arrive */
/* A second stop signal ends the process at once -- a user pressing Ctrl-C
 * again -- unless it follows the first within this: a rank's parent-death
 * signal comes once per thread of the launcher as they die. */
#define AGAIN_AFTER_S 0.3

struct pl_guard {
  pthread_t thread;
  pthread_mutex_t mu; /* guards e */
  pmls_engine *e;
  int starting; /* guarded by mu: ranks run, no engine attached yet */
  pl_job *_Atomic job; /* set once its ranks run (pl_guard_watch_ranks) */
  sigset_t set, old;
  _Atomic int done;
  _Atomic int signo;
  _Atomic int from_parent; /* the stop signal came from the launcher */
  double *speak_at; /* per rank: when to report its error exit (0: never) */
  int *exit_code;
  unsigned char *seen;
};

static const char *sig_name(int sig) {
  const char *a = sigabbrev_np(sig);
  return a ? a : "?";
}

static void end_before_start(pl_guard *g, const char *why, int status);

/* Before the engine exists (the ranks are still joining) there is no run
 * to abort: the job ends here, or rank 0 would wait out the join timeout. */
static void rank_died(pl_guard *g, int rank, const char *why, int status) {
  pthread_mutex_lock(&g->mu);
  if (g->e) pmls_peer_died(g->e, rank, why);
  else if (g->starting) end_before_start(g, why, status);
  pthread_mutex_unlock(&g->mu);
}

void pl_guard_forward(pl_guard *g, int sig) {
  pl_job *job = g ? atomic_load(&g->job) : NULL;
  if (!job) return;
  for (int r = 1; r < job->procs; r++)
    if (job->pids[r] > 0 && !g->seen[r]) kill(job->pids[r], sig);
}

/* The job did not stop in time: nothing of it may be left running. */
static void end_now(pl_guard *g, int sig, int again) {
  if (again)
    fprintf(stderr, "pmls: SIG%s again: ending the job now\n", sig_name(again));
  else
    fprintf(stderr, "pmls: the job did not stop within %.0f s of SIG%s: ending "
            "it\n", STOP_GRACE_S, sig_name(sig));
  pl_guard_forward(g, SIGKILL);
  pl_job *job = atomic_load(&g->job);
  if (job) pl_remove_ipc_dir(job);
  _exit(128 + sig);
}

static void end_before_start(pl_guard *g, const char *why, int status) {
  fprintf(stderr, "pmls: %s before the job started\n", why);
  pl_guard_forward(g, SIGKILL);
  pl_job *job = atomic_load(&g->job);
  if (job) pl_remove_ipc_dir(job);
  _exit(status > 0 && status < 126 ? status : 1);
}

static void look_at_ranks(pl_guard *g, double now) {
  pl_job *job = atomic_load(&g->job);
  if (!job) return;
  for (int r = 1; r < job->procs; r++) {
    if (job->pids[r] <= 0) continue;
    if (!g->seen[r]) {
      siginfo_t info;
      memset(&info, 0, sizeof info);
      if (waitid(P_PID, (id_t)job->pids[r], &info, WEXITED | WNOHANG | WNOWAIT) ||
          info.si_pid != job->pids[r])
        continue;
      g->seen[r] = 1;
      char why[160];
      if (info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED) {
        snprintf(why, sizeof why, "rank %d (pid %d) was killed by SIG%s", r,
                 (int)job->pids[r], sig_name(info.si_status));
        rank_died(g, r, why, 1);
      } else if (info.si_status != 0) {
        g->exit_code[r] = info.si_status;
        g->speak_at[r] = now + EXIT_SPEAK_S;
      }
    }
    if (g->speak_at[r] > 0 && now >= g->speak_at[r]) {
      g->speak_at[r] = 0;
      char why[160];
      snprintf(why, sizeof why, "rank %d (pid %d) exited with status %d", r,
               (int)job->pids[r], g->exit_code[r]);
      rank_died(g, r, why, g->exit_code[r]);
    }
  }
}

static void *watch(void *arg) {
  pl_guard *g = arg;
  double end_at = 0, first_at = 0;
  while (!atomic_load(&g->done)) {
    struct timespec wait = {0, 100 * 1000 * 1000};
    siginfo_t info;
    int sig = sigtimedwait(&g->set, &info, &wait);
    double now = pl_now();
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
      int first = 0;
      if (atomic_compare_exchange_strong(&g->signo, &first, sig)) {
        atomic_store(&g->from_parent, info.si_pid == getppid());
        pthread_mutex_lock(&g->mu);
        if (g->e) pmls_stop(g->e, sig);
        pthread_mutex_unlock(&g->mu);
        pl_guard_forward(g, sig);
        end_at = now + STOP_GRACE_S;
        first_at = now;
      } else if (now - first_at >= AGAIN_AFTER_S) {
        end_now(g, atomic_load(&g->signo), sig); /* no more waiting */
      }
    }
    look_at_ranks(g, now);
    if (end_at > 0 && now >= end_at) end_now(g, atomic_load(&g->signo), 0);
  }
  return NULL;
}

pl_guard *pl_guard_start(void) {
  pl_guard *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  pthread_mutex_init(&g->mu, NULL);
  sigemptyset(&g->set);
  sigaddset(&g->set, SIGINT);
  sigaddset(&g->set, SIGTERM);
  sigaddset(&g->set, SIGHUP);
  sigaddset(&g->set, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &g->set, &g->old);
  if (pthread_create(&g->thread, NULL, watch, g)) {
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
    pthread_mutex_destroy(&g->mu);
    free(g);
    return NULL;
  }
  return g;
}

int pl_guard_watch_ranks(pl_guard *g, pl_job *job) {
  if (!g || !job || job->procs < 2 || atomic_load(&g->job)) return 0;
  size_t n = (size_t)job->procs;
  g->speak_at = calloc(n, sizeof *g->speak_at);
  g->exit_code = calloc(n, sizeof *g->exit_code);
  g->seen = calloc(n, 1);
  if (!g->speak_at || !g->exit_code || !g->seen) return -1;
  pthread_mutex_lock(&g->mu);
  g->starting = 1;
  pthread_mutex_unlock(&g->mu);
  atomic_store(&g->job, job); /* the arrays above are ready first */
  return 0;
}

void pl_guard_attach(pl_guard *g, pmls_engine *e) {
  if (!g) return;
  pthread_mutex_lock(&g->mu);
  g->e = e;
  g->starting = 0;
  int sig = atomic_load(&g->signo);
  if (sig) pmls_stop(e, sig); /* it came while the engine was being made */
  pthread_mutex_unlock(&g->mu);
}

void pl_guard_detach(pl_guard *g) {
  if (!g) return;
  pthread_mutex_lock(&g->mu);
  g->e = NULL;
  g->starting = 0;
  pthread_mutex_unlock(&g->mu);
}

int pl_guard_signal(pl_guard *g) { return g ? atomic_load(&g->signo) : 0; }

int pl_guard_from_parent(pl_guard *g) {
  return g ? atomic_load(&g->from_parent) : 0;
}

void pl_guard_stop(pl_guard *g) {
  if (!g) return;
  atomic_store(&g->done, 1);
  /* Wakes the watcher now rather than at the end of its 100 ms wait, which
   * every command paid on exit (half of a 0.1 s job on average): a SIGCHLD
   * of its own is one it waits for, and a look at the ranks costs nothing. */
  pthread_kill(g->thread, SIGCHLD);
  pthread_join(g->thread, NULL);
  pthread_sigmask(SIG_SETMASK, &g->old, NULL);
  pthread_mutex_destroy(&g->mu);
  free(g->speak_at);
  free(g->exit_code);
  free(g->seen);
  free(g);
}
