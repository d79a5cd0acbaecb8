/* launch.c -- how `pmls run` becomes a job of several processes.
 *
 * Every process of a job runs the same command line; what differs is its
 * rank, the job size and rank 0's (master) address, which reach it through
 * the environment: PMLS_RANK / PMLS_SIZE / PMLS_MASTER when pmls started it,
 * or the variables mpirun and srun set (the master then comes from
 * PMLS_MASTER or --master), read by pmls_config_from_env
 * (runtime/launch_env.c). With -p or --hostfile this process is rank 0 and
 * starts the others itself: fork/exec on this host (before any nanomsg
 * socket exists here, since nanomsg does not survive a fork), ssh for other
 * hosts. The engine's rendezvous (runtime/job.c) does the rest. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "launch.h"
#include "../net/net.h"

int pl_read_hostfile(const char *path, pl_host **hosts, int *n, char *err,
                     size_t errlen) {
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "cannot open hostfile '%s': %s", path, strerror(errno));
    return -1;
  }
  pl_host *list = NULL;
  int count = 0, line = 0, rc = 0;
  char buf[1024];
  while (rc == 0 && fgets(buf, sizeof buf, f)) {
    line++;
    char *hash = strchr(buf, '#');
    if (hash) *hash = 0;
    char host[256], extra[64], more[8];
    int k = sscanf(buf, "%255s %63s %7s", host, extra, more);
    if (k <= 0) continue;
    int slots = 1;
    if (k == 3) {
      snprintf(err, errlen, "%s:%d: too many fields (HOST [SLOTS] expected)",
               path, line);
      rc = -1;
      break;
    }
    if (k == 2) {
      const char *v = strncmp(extra, "slots=", 6) == 0 ? extra + 6 : extra;
      char *end;
      long s = strtol(v, &end, 10);
      if (!*v || *end || s < 1 || s > 4096) {
        snprintf(err, errlen, "%s:%d: bad slot count '%s' (a number from 1 to "
                 "4096, or slots=N)", path, line, extra);
        rc = -1;
        break;
      }
      slots = (int)s;
    }
    pl_host *p = realloc(list, (size_t)(count + 1) * sizeof *p);
    if (!p) {
      snprintf(err, errlen, "out of memory reading '%s'", path);
      rc = -1;
      break;
    }
    list = p;
    snprintf(list[count].host, sizeof list[count].host, "%s", host);
    list[count++].slots = slots;
  }
  fclose(f);
  if (rc == 0 && count == 0) {
    snprintf(err, errlen, "%s: no hosts listed", path);
    rc = -1;
  }
  if (rc) {
    free(list);
    return -1;
  }
  *hosts = list;
  *n = count;
  return 0;
}

/* ---- addresses ----------------------------------------------------------- */

int pl_route_to(const char *host, char *out, size_t outlen) {
  char ip[64];
  return pmi_resolve_ipv4(host, ip, sizeof ip) ? -1
                                               : pmi_route_to(ip, out, outlen);
}

int pl_master(pl_job *job, const char *transport, const char *host, char *out,
              size_t outlen, char *err, size_t errlen) {
  if (strcmp(transport, "ipc") == 0) {
    char dir[] = "/tmp/pmls-XXXXXX";
    if (!mkdtemp(dir)) {
      snprintf(err, errlen, "cannot make a directory for the job's sockets: %s",
               strerror(errno));
      return -1;
    }
    snprintf(job->ipc_dir, sizeof job->ipc_dir, "%s", dir);
    snprintf(out, outlen, "ipc://%s/master", dir);
    return 0;
  }
  char ip[64];
  if (pmi_resolve_ipv4(host, ip, sizeof ip)) {
    snprintf(err, errlen, "cannot resolve '%s'", host);
    return -1;
  }
  int port = pmi_free_tcp_port(ip);
  if (port < 0) {
    snprintf(err, errlen, "cannot find a free tcp port on %s: %s", host,
             strerror(errno));
    return -1;
  }
  snprintf(out, outlen, "tcp://%s:%d", ip, port);
  return 0;
}

/* ---- the job's secret ----------------------------------------------------
 *
 * A tcp job admits only peers that hold its secret (net/auth.c). The
 * launcher makes one per job and writes it on a pipe to each rank it starts:
 * a local rank inherits the read end and is told its number in
 * PMLS_SECRET_FD; an ssh rank reads it on its standard input, which ssh
 * forwards. Never on a command line (ps shows those to every user) nor in
 * the environment (kept for the process's whole life and copied to its
 * children). Ranks started by others read a file only their user can read. */

void pl_secret_new(pl_job *job) {
  if (sodium_init() < 0) abort(); /* cannot happen on Linux with getrandom */
  randombytes_buf(job->secret, sizeof job->secret);
  job->has_secret = 1;
}

static int read_all(int fd, unsigned char *buf, size_t cap, size_t *len) {
  size_t n = 0;
  while (n < cap) {
    ssize_t k = read(fd, buf + n, cap - n);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return -1;
    if (k == 0) break;
    n += (size_t)k;
  }
  *len = n;
  return 0;
}

static int secret_len_ok(const char *what, size_t n, size_t cap, char *err,
                         size_t errlen) {
  if (n >= PMI_SECRET_MIN && n < cap && n <= PMI_SECRET_MAX) return 0;
  snprintf(err, errlen, "%s: a secret must hold %d to %d bytes (%s%zu), e.g. "
           "head -c 32 /dev/urandom", what, PMI_SECRET_MIN, PMI_SECRET_MAX,
           n >= cap ? "more than " : "", n >= cap ? cap - 1 : n);
  return -1;
}

int pl_secret_file(const char *path, unsigned char *buf, size_t cap,
                   size_t *len, char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    snprintf(err, errlen, "cannot open the secret file '%s': %s", path,
             strerror(errno));
    return -1;
  }
  struct stat st;
  int rc = -1;
  if (fstat(fd, &st) < 0) {
    snprintf(err, errlen, "cannot stat the secret file '%s': %s", path,
             strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "the secret file '%s' is not a regular file", path);
  } else if (st.st_uid != geteuid()) {
    snprintf(err, errlen, "the secret file '%s' belongs to another user "
             "(uid %d)", path, (int)st.st_uid);
  } else if (st.st_mode & 077) {
    snprintf(err, errlen, "the secret file '%s' has mode %04o: others can "
             "read or change it; make it 0600 (chmod 600 '%s')", path,
             (unsigned)(st.st_mode & 07777), path);
  } else if (read_all(fd, buf, cap, len) < 0) {
    snprintf(err, errlen, "cannot read the secret file '%s': %s", path,
             strerror(errno));
  } else {
    rc = secret_len_ok(path, *len, cap, err, errlen);
  }
  close(fd);
  return rc;
}

int pl_secret_fd(int fd, unsigned char *buf, size_t cap, size_t *len,
                 char *err, size_t errlen) {
  int rc = read_all(fd, buf, cap, len);
  close(fd);
  if (rc < 0) {
    snprintf(err, errlen, "cannot read the job's secret from the launcher "
             "(PMLS_SECRET_FD=%d): %s", fd, strerror(errno));
    return -1;
  }
  return secret_len_ok("the job's secret from the launcher", *len, cap, err,
                       errlen);
}

/* ---- starting ranks ------------------------------------------------------ */

static int is_local(const char *host) {
  char me[256] = "";
  gethostname(me, sizeof me - 1);
  return strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
         strcmp(host, me) == 0;
}

/* Appends s to the command in single quotes, safe for any shell. */
static int shell_quote(char *cmd, size_t cap, size_t *len, const char *s) {
  if (*len + 3 >= cap) return -1;
  cmd[(*len)++] = '\'';
  for (; *s; s++) {
    if (*s == '\'') {
      if (*len + 5 >= cap) return -1;
      memcpy(cmd + *len, "'\\''", 4);
      *len += 4;
    } else {
      if (*len + 2 >= cap) return -1;
      cmd[(*len)++] = *s;
    }
  }
  cmd[(*len)++] = '\'';
  cmd[(*len)++] = ' ';
  cmd[*len] = 0;
  return 0;
}

static void set_rank_env(int rank, int procs, const char *master) {
  char r[16], p[16];
  snprintf(r, sizeof r, "%d", rank);
  snprintf(p, sizeof p, "%d", procs);
  setenv("PMLS_RANK", r, 1);
  setenv("PMLS_SIZE", p, 1);
  setenv("PMLS_MASTER", master, 1);
}

/* The host index of each rank, as pl_spawn assigns them (-1: past the
 * slots). Rank 0, this process, takes the first slot. */
static int host_of(const pl_host *hosts, int nhosts, int rank) {
  int host = 0, used = 1;
  for (int r = 1; r <= rank; r++) {
    while (host < nhosts && used >= hosts[host].slots) {
      host++;
      used = 0;
    }
    if (host == nhosts) return -1;
    used++;
  }
  return host;
}

int pl_local_procs(const pl_host *hosts, int nhosts, int procs, int rank) {
  if (!hosts) return procs > 0 ? procs : 1;
  int mine = host_of(hosts, nhosts, rank), n = 0;
  for (int r = 0; r < procs; r++) n += host_of(hosts, nhosts, r) == mine;
  return n > 0 ? n : 1;
}

int pl_spawn(pl_job *job, char **argv, const char *master, const pl_host *hosts,
             int nhosts, char *err, size_t errlen) {
  char exe[PATH_MAX], cwd[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0 || !getcwd(cwd, sizeof cwd)) {
    snprintf(err, errlen, "cannot tell where the pmls command lives: %s",
             strerror(errno));
    return -1;
  }
  exe[n] = 0;
  fflush(NULL); /* or buffered output would be written twice */
  pid_t parent = getpid();
  int host = 0, used = 1; /* rank 0 (this process) takes the first slot */
  for (int r = 1; r < job->procs; r++) {
    const char *where = NULL;
    if (hosts) {
      while (host < nhosts && used >= hosts[host].slots) {
        host++;
        used = 0;
      }
      if (host == nhosts) {
        snprintf(err, errlen, "the hostfile has fewer slots than %d processes",
                 job->procs);
        return -1;
      }
      used++;
      where = is_local(hosts[host].host) ? NULL : hosts[host].host;
    }
    char cmd[16384];
    size_t len = 0;
    if (where) {
      len = (size_t)snprintf(cmd, sizeof cmd, "cd ");
      int bad = shell_quote(cmd, sizeof cmd, &len, cwd);
      len += (size_t)snprintf(cmd + len, sizeof cmd - len,
                              "&& %sPMLS_RANK=%d PMLS_SIZE=%d PMLS_LOCAL_PROCS=%d "
                              "PMLS_MASTER=", job->has_secret ? "PMLS_SECRET_FD=0 " : "",
                              r, job->procs,
                              pl_local_procs(hosts, nhosts, job->procs, r));
      bad |= shell_quote(cmd, sizeof cmd, &len, master);
      bad |= shell_quote(cmd, sizeof cmd, &len, exe);
      for (int i = 1; argv[i] && !bad; i++)
        bad |= shell_quote(cmd, sizeof cmd, &len, argv[i]);
      if (bad) {
        snprintf(err, errlen, "the command line is too long to send over ssh");
        return -1;
      }
    }
    int secret_pipe[2] = {-1, -1};
    if (job->has_secret) {
      /* 32 bytes fit any pipe's buffer: written before the fork, the rank
       * reads them whenever it starts. */
      if (pipe2(secret_pipe, O_CLOEXEC) < 0 ||
          write(secret_pipe[1], job->secret, sizeof job->secret) !=
              (ssize_t)sizeof job->secret) {
        snprintf(err, errlen, "cannot make a pipe for rank %d's secret: %s", r,
                 strerror(errno));
        if (secret_pipe[0] >= 0) close(secret_pipe[0]);
        if (secret_pipe[1] >= 0) close(secret_pipe[1]);
        return -1;
      }
      close(secret_pipe[1]);
    }
    pid_t pid = fork();
    if (pid < 0) {
      snprintf(err, errlen, "cannot start rank %d: %s", r, strerror(errno));
      if (secret_pipe[0] >= 0) close(secret_pipe[0]);
      return -1;
    }
    if (pid > 0 && secret_pipe[0] >= 0) close(secret_pipe[0]);
    if (pid == 0) {
      /* The launcher blocks the stop signals for its own watcher thread;
       * a rank starts with them as a new process has them. A local rank
       * also ends (SIGTERM, a clean stop) when the launcher dies, even by
       * SIGKILL, rather than waiting out the heartbeat timeout. */
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, NULL);
      if (!where) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(1); /* it died before prctl */
      }
      /* A terminal's Ctrl-C reaches the launcher alone, which passes the
       * stop on: one line for the job, not one per rank. */
      setpgid(0, 0);
      if (where) {
        if (secret_pipe[0] >= 0) dup2(secret_pipe[0], 0); /* clears CLOEXEC */
        const char *ssh = getenv("PMLS_SSH");
        if (!ssh || !*ssh) ssh = "ssh";
        execlp(ssh, ssh, where, cmd, (char *)NULL);
        fprintf(stderr, "pmls: cannot run '%s' to start rank %d on %s: %s\n",
                ssh, r, where, strerror(errno));
      } else {
        set_rank_env(r, job->procs, master);
        char local[16];
        snprintf(local, sizeof local, "%d",
                 pl_local_procs(hosts, nhosts, job->procs, r));
        setenv("PMLS_LOCAL_PROCS", local, 1);
        if (secret_pipe[0] >= 0) {
          char fd[16];
          snprintf(fd, sizeof fd, "%d", secret_pipe[0]);
          setenv("PMLS_SECRET_FD", fd, 1);
          fcntl(secret_pipe[0], F_SETFD, 0); /* this one survives exec */
        }
        execv(exe, argv);
        fprintf(stderr, "pmls: cannot start rank %d: %s\n", r, strerror(errno));
      }
      _exit(127);
    }
    job->pids[r] = pid;
  }
  return 0;
}

/* Removes the sockets in dir, then dir: only sockets, so that a directory
 * that is not a job's (a wrong PMLS_MASTER) loses nothing and stays. */
static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *ent;
  char path[PATH_MAX];
  while ((ent = readdir(d)) != NULL) {
    if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0) continue;
    snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

void pl_remove_ipc_dir(pl_job *job) {
  if (job->ipc_dir[0]) remove_dir(job->ipc_dir);
}

void pl_remove_orphan_ipc_dir(const char *master) {
  if (!master || strncmp(master, "ipc://", 6) != 0) return;
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", master + 6);
  char *slash = strrchr(dir, '/');
  if (!slash) return;
  *slash = 0;
  const char *base = strrchr(dir, '/');
  if (base && strncmp(base + 1, "pmls-", 5) == 0) remove_dir(dir);
}

double pl_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int pl_wait(pl_job *job, int grace_ms, int say_ms, const char *why,
            int *status) {
  int bad = 0;
  *status = 0;
  /* Every wait is bounded: a rank stopped (SIGSTOP) or stuck in its script
   * after the job ended would otherwise hold the launcher for ever. One
   * that outlives the grace period is killed, so nothing is left behind. */
  double start = pl_now();
  double give_up = start + grace_ms / 1000.0;
  int said = say_ms < 0, killed = 0;
  for (int r = 1; r < job->procs; r++) {
    if (job->pids[r] <= 0) continue;
    int st = 0;
    for (;;) {
      pid_t got = waitpid(job->pids[r], &st, WNOHANG);
      if (got == job->pids[r]) break;
      if (got < 0 && errno != EINTR) break;
      double now = pl_now();
      if (!said && (now - start) * 1000.0 >= say_ms) {
        fprintf(stderr, "pmls: waiting for rank %d (pid %d) to exit (%s; at "
                "most %.0f s)\n", r, (int)job->pids[r], why, grace_ms / 1000.0);
        said = 1;
      }
      if (!killed && now >= give_up) {
        /* The grace period is over for every rank still running. */
        for (int q = r; q < job->procs; q++) {
          if (job->pids[q] <= 0 || waitpid(job->pids[q], &st, WNOHANG) != 0)
            continue;
          fprintf(stderr, "pmls: rank %d (pid %d) was still running %.0f s "
                  "after %s: killed\n", q, (int)job->pids[q], grace_ms / 1000.0,
                  why);
          kill(job->pids[q], SIGKILL);
        }
        killed = 1;
        continue;
      }
      usleep(20000);
    }
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (code && !bad) {
      bad = r;
      *status = code;
    }
  }
  pl_remove_ipc_dir(job);
  return bad;
}
