/* launch_env.c -- a process's place in a job, from what its launcher set.
 *
 * Every process of a job runs the same program; what tells them apart is
 * their rank, the job size and rank 0's (master) address. A launcher puts
 * the first two in the environment under names of its own -- pmls -p and
 * hosts that start their own ranks use PMLS_RANK / PMLS_SIZE, mpirun and
 * srun theirs -- but none passes rank 0's address, so that comes from
 * PMLS_MASTER (or the caller). This is a library call rather than part of
 * the pmls command so that a host program joins a job launched by mpirun or
 * srun exactly as `pmls run` does. The rendezvous itself is runtime/job.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "pmls.h"

static const char *const launchers[][3] = {
    {"PMLS_RANK", "PMLS_SIZE", "pmls"},
    {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "mpirun (Open MPI)"},
    {"PMI_RANK", "PMI_SIZE", "mpirun (PMI)"},
    {"SLURM_PROCID", "SLURM_NTASKS", "srun (Slurm)"},
};

static int whole_number(const char *s, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < 0 || v > 1 << 20) return -1;
  *out = v;
  return 0;
}

int pmls_config_from_env(pmls_config *cfg, char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  for (size_t i = 0; i < sizeof launchers / sizeof launchers[0]; i++) {
    const char *r = getenv(launchers[i][0]), *s = getenv(launchers[i][1]);
    if (!r || !s || !*r || !*s) continue;
    const char *who = launchers[i][2];
    long rank, size;
    if (whole_number(r, &rank) || whole_number(s, &size) || size < 1 ||
        rank >= size) {
      if (err)
        snprintf(err, errlen, "bad rank from %s: %s=%s, %s=%s (a rank in "
                 "0..size-1 expected)", who, launchers[i][0], r,
                 launchers[i][1], s);
      return PMLS_EINVAL;
    }
    const char *master = cfg->master;
    if (!master || !*master) master = getenv("PMLS_MASTER");
    if (master && !*master) master = NULL;
    if (size > 1 && !master) {
      if (err)
        snprintf(err, errlen, "rank %ld of %ld, started by %s, does not know "
                 "where rank 0 is: set PMLS_MASTER=tcp://HOST:PORT (rank 0's "
                 "host and a free port; see docs/architecture.md)", rank, size,
                 who);
      return PMLS_EINVAL;
    }
    cfg->procs = (int)size;
    cfg->rank = (int)rank;
    cfg->master = master;
    return PMLS_OK;
  }
  return PMLS_OK;
}
