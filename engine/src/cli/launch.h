/* launch.h -- starting the processes of a job from the `pmls` command. */
#ifndef PMLS_LAUNCH_H
#define PMLS_LAUNCH_H

#include <stddef.h>
#include <sys/types.h>

typedef struct {
  char host[256];
  int slots;
} pl_host;

/* Reads a hostfile: "HOST [SLOTS]" or "HOST slots=N" per line, '#'
 * comments. Errors name the file and line. */
int pl_read_hostfile(const char *path, pl_host **hosts, int *n, char *err,
                     size_t errlen);

typedef struct {
  pid_t *pids; /* by rank; 0 for rank 0 (this process) */
  int procs;
  char ipc_dir[256]; /* made for an ipc job, removed at the end */
  /* A tcp job's secret (made by pl_secret_new): pl_spawn hands it to every
   * rank on a pipe, never on a command line or in the environment. */
  unsigned char secret[32];
  int has_secret;
} pl_job;

/* ---- the job's secret (tcp) ---------------------------------------------- */

/* A fresh random secret for a job this process launches. */
void pl_secret_new(pl_job *job);
/* Reads a secret file another launcher made: a regular file only its owner
 * can read or write (mode 0600 or stricter), of PMI_SECRET_MIN to
 * PMI_SECRET_MAX bytes. 0, or -1 with a message that says what to fix. */
int pl_secret_file(const char *path, unsigned char *buf, size_t cap,
                   size_t *len, char *err, size_t errlen);
/* Reads the secret a launcher wrote on inherited descriptor fd (named by
 * PMLS_SECRET_FD), then closes it. */
int pl_secret_fd(int fd, unsigned char *buf, size_t cap, size_t *len,
                 char *err, size_t errlen);

/* Picks the master address for a job this process launches: an ipc
 * directory of its own, or a free tcp port on `host`. */
int pl_master(pl_job *job, const char *transport, const char *host,
              char *out, size_t outlen, char *err, size_t errlen);

/* Starts ranks 1..procs-1 running `argv` again (this very command line),
 * told their rank, the job size and the master through the environment:
 * locally with fork/exec, or on hosts[] with $PMLS_SSH (default ssh). No
 * nanomsg socket may exist yet in this process. */
int pl_spawn(pl_job *job, char **argv, const char *master,
             const pl_host *hosts, int nhosts, char *err, size_t errlen);

/* How many of the job's procs processes run on the host of `rank`, ranks
 * taking the hostfile's slots in order (all of them without hosts): what
 * shares this host's cores. */
int pl_local_procs(const pl_host *hosts, int nhosts, int procs, int rank);

/* Waits for the ranks started; returns the first failing rank (its exit
 * status in *status) or 0. Ranks still running after grace_ms are killed,
 * and said to be (why: what they were given the time for); one still
 * running after say_ms is said to be waited for (say_ms < 0: silent). */
int pl_wait(pl_job *job, int grace_ms, int say_ms, const char *why,
            int *status);

/* Seconds on the monotonic clock: what the launcher's waits count in. */
double pl_now(void);

/* Removes the job's ipc directory and the sockets in it (if it made one). */
void pl_remove_ipc_dir(pl_job *job);

/* A rank whose launcher died removes the job's ipc directory (named by the
 * master address, ipc:///tmp/pmls-XXXXXX/master) in its place. */
void pl_remove_orphan_ipc_dir(const char *master);

/* The local address that routes to host (for a tcp master). */
int pl_route_to(const char *host, char *out, size_t outlen);

#endif
