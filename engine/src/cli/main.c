/* main.c -- the `pmls` command: a small C host that embeds LuaJIT.
 *
 * It parses the engine's own options (workers, seed, metrics, ...) wherever
 * they appear after the script, hands every other argument to the script's
 * option parser, creates an engine and runs the script on it; `pmls plot`
 * runs the Lua module pmls.plot (runtime/tool.c). Exit codes:
 * 0 success, 1 an error while running, 2 a usage error. Everything else --
 * the engine, the Lua runtime -- lives in libpmls, which host applications
 * link the same way. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "pmls.h"
#include "launch.h"
#include "options.h"
#include "signals.h"
#include "../net/net.h"
#include "../runtime/tool.h"

#define EXIT_USAGE 2

static void usage(FILE *f) {
  fprintf(f, "usage: pmls run [engine options] SCRIPT.lua [options]   run a model script\n"
             "       pmls run [engine options] MODEL [options]        run an installed\n"
             "                                       model by name (see PMLS_MODEL_PATH)\n"
             "       pmls plot METRICS.jsonl... [options] [KEY...]\n"
             "                                       plot runs' metrics and staleness\n"
             "                                       (see 'pmls plot --help')\n"
             "       pmls version (-V, --version)    print the version\n"
             "       pmls help                       this text\n"
             "       pmls completion                 a bash completion script\n"
             "       pmls man                        the man page (roff)\n\n");
  pl_opt_help(f);
  fprintf(f, "\nEnvironment:\n"
             "  PMLS_MODEL_PATH      directories (':'-separated) searched for\n"
             "                       MODEL.lua before the installed models\n"
             "  PMLS_LUA_PATH        where the pmls Lua package is, when moved\n"
             "                       (see docs/embedding.md)\n");
}

static int usage_error(const char *fmt, const char *a, const char *b) {
  fputs("pmls: ", stderr);
  fprintf(stderr, fmt, a, b);
  fputs(" (see 'pmls help')\n", stderr);
  return EXIT_USAGE;
}

static int is_file(const char *path) {
  FILE *f = fopen(path, "r");
  if (f) fclose(f);
  return f != NULL;
}

/* A script argument that is no file and no path names a model: NAME.lua in
 * each directory of $PMLS_MODEL_PATH (':'-separated), then in the install
 * prefix this command belongs to (BIN/../share/pmls/models), then in the
 * build tree it was built in (build/bin/../../models). On failure `out`
 * lists where it looked. */
static int find_model(const char *name, char *out, size_t cap) {
  char dirs[3][PATH_MAX + 32];
  int ndirs = 0;
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    slash = strrchr(exe, '/');
    if (slash) {
      *slash = 0; /* the prefix, or build/ */
      snprintf(dirs[ndirs++], sizeof dirs[0], "%s/share/pmls/models", exe);
      slash = strrchr(exe, '/');
      if (slash) {
        *slash = 0;
        snprintf(dirs[ndirs++], sizeof dirs[0], "%s/models", exe);
      }
    }
  }
  size_t len = strlen(name);
  const char *ext = len > 4 && strcmp(name + len - 4, ".lua") == 0 ? "" : ".lua";
  char looked[4096] = "", cand[2 * PATH_MAX];
  size_t used = 0;
  const char *env = getenv("PMLS_MODEL_PATH");
  for (const char *p = env ? env : ""; *p;) {
    int k = (int)strcspn(p, ":");
    if (k > 0) {
      snprintf(cand, sizeof cand, "%.*s/%s%s", k, p, name, ext);
      if (is_file(cand)) return snprintf(out, cap, "%s", cand) >= (int)cap;
      used += (size_t)snprintf(looked + used, sizeof looked - used, "%s%.*s",
                               used ? ", " : "", k, p);
      if (used >= sizeof looked) used = sizeof looked - 1;
    }
    p += k;
    if (*p) p++;
  }
  if (!env || !*env)
    used += (size_t)snprintf(looked + used, sizeof looked - used,
                             "%sPMLS_MODEL_PATH (unset)", used ? ", " : "");
  for (int d = 0; d < ndirs; d++) {
    if (used >= sizeof looked) used = sizeof looked - 1;
    snprintf(cand, sizeof cand, "%s/%s%s", dirs[d], name, ext);
    if (is_file(cand)) return snprintf(out, cap, "%s", cand) >= (int)cap;
    used += (size_t)snprintf(looked + used, sizeof looked - used, ", %s", dirs[d]);
  }
  snprintf(out, cap, "%s", looked);
  return -1;
}

/* Whether a failure of a rank > 0 is one that rank 0 may not live to
 * report: a dead or unreachable peer, here or as the cause of the abort
 * this rank echoes. */
static int rank0_may_not_say(int rc, int cause) {
  int code = rc == PMLS_EABORTED ? cause : rc;
  return code == PMLS_EDEAD || code == PMLS_ETIMEDOUT || code == PMLS_ENET ||
         code == PMLS_EPROTO;
}

static const char *rank_suffix(int rank) {
  static char buf[32];
  snprintf(buf, sizeof buf, " on rank %d", rank);
  return buf;
}

/* Applies engine option o with value v to the run's settings. */
typedef struct {
  pmls_config *cfg;
  int procs, help;
  const char *transport, *hostfile, *master;
  const char *secret_file;
  int restarts;
} run_opts;

static int apply(run_opts *ro, const pl_opt *o, const char *v) {
  long long n = 0;
  char err[256];
  if (pl_opt_value(o, v, &n, err, sizeof err)) {
    fprintf(stderr, "pmls: %s (see 'pmls help')\n", err);
    return -1;
  }
  pmls_config *cfg = ro->cfg;
  switch (o->id) {
  case OPT_WORKERS: cfg->workers = (int)n; break;
  case OPT_PROCS: ro->procs = (int)n; break;
  case OPT_TRANSPORT: ro->transport = v; break;
  case OPT_HOSTFILE: ro->hostfile = v; break;
  case OPT_MASTER:
    if (strncmp(v, "tcp://", 6) != 0 && strncmp(v, "ipc://", 6) != 0) {
      fprintf(stderr, "pmls: bad value '%s' for --master: tcp://HOST:PORT or "
              "ipc:///DIR/NAME expected (see 'pmls help')\n", v);
      return -1;
    }
    ro->master = v;
    break;
  case OPT_BIND: cfg->bind_host = v; break;
  case OPT_HEARTBEAT: cfg->heartbeat_ms = (int)(n * 1000); break;
  case OPT_SERVERS: cfg->servers = (int)n; break;
  case OPT_SCHEDULERS: cfg->schedulers = (int)n; break;
  case OPT_STALENESS: cfg->staleness = (int)n; break;
  case OPT_CONSISTENCY: {
    static const char *const models[] = {"ssp", "bsp", "essp", "async"};
    for (int m = 0; m < 4; m++)
      if (strcmp(v, models[m]) == 0) cfg->consistency = m;
    break;
  }
  case OPT_SEED: cfg->seed = (uint64_t)n; break;
  case OPT_METRICS: cfg->metrics_path = v; break;
  case OPT_CHECKPOINT: cfg->checkpoint_dir = v; break;
  case OPT_CHECKPOINT_EVERY: cfg->checkpoint_every = n; break;
  case OPT_RESUME: cfg->resume_dir = v; break;
  case OPT_RESTARTS: ro->restarts = (int)n; break;
  case OPT_TIMEOUT: cfg->timeout_ms = (int)(n * 1000); break;
  case OPT_QUIET: cfg->quiet = cfg->quiet ? 2 : 1; break; /* -q -q: silent */
  case OPT_SILENT: cfg->quiet = 2; break;
  case OPT_TRACE: cfg->trace = 1; break;
  case OPT_SECRET_FILE: ro->secret_file = v; break;
  case OPT_HELP: ro->help = 1; break;
  case OPT_COUNT: break;
  }
  return 0;
}

/* Where this rank's secret comes from: the launcher that started it (its
 * own, or the pipe it inherited), a file, or, for a one-process job that no
 * one else joins, a fresh one. */
static int job_secret(const run_opts *ro, pl_job *job, int launched, int procs,
                      unsigned char *buf, size_t cap, size_t *len, char *err,
                      size_t errlen) {
  const char *fd = getenv("PMLS_SECRET_FD");
  const char *file = ro->secret_file ? ro->secret_file
                                     : getenv("PMLS_SECRET_FILE");
  if (launched) {
    memcpy(buf, job->secret, sizeof job->secret);
    *len = sizeof job->secret;
    return 0;
  }
  if (fd && *fd) {
    char *end;
    long n = strtol(fd, &end, 10);
    unsetenv("PMLS_SECRET_FD"); /* the script's children have no such fd */
    if (*end || n < 0 || n > INT_MAX) {
      snprintf(err, errlen, "bad PMLS_SECRET_FD '%s'", fd);
      return -1;
    }
    return pl_secret_fd((int)n, buf, cap, len, err, errlen);
  }
  if (file && *file) return pl_secret_file(file, buf, cap, len, err, errlen);
  if (procs <= 1) {
    pl_secret_new(job);
    memcpy(buf, job->secret, sizeof job->secret);
    *len = sizeof job->secret;
    return 0;
  }
  snprintf(err, errlen, "a tcp job admits only the holders of its secret: "
           "give every rank the same file with --secret-file PATH or "
           "PMLS_SECRET_FILE (mode 0600; e.g. head -c 32 /dev/urandom > "
           "PATH; chmod 600 PATH) (see 'pmls help')");
  return -1;
}

/* After a failed checkpointed run: the command that goes on from its last
 * snapshot (the same command, an earlier --resume left out). */
static void print_resume(char **command, const char *dir) {
  char latest[4096];
  snprintf(latest, sizeof latest, "%s/latest", dir);
  if (access(latest, R_OK) != 0) return; /* no snapshot was written */
  fputs("pmls: resume with:", stderr);
  for (int i = 0; command[i]; i++) {
    if (strcmp(command[i], "--resume") == 0 && command[i + 1]) {
      i++;
      continue;
    }
    if (strncmp(command[i], "--resume=", 9) == 0) continue;
    int plain = command[i][0] != 0 && strspn(command[i], "abcdefghijklmnopqrstuvwxyz"
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./,:+@%") == strlen(command[i]);
    fprintf(stderr, plain ? " %s" : " '%s'", command[i]);
  }
  fprintf(stderr, " --resume %s\n", dir);
}

/* --restarts: the failed job runs again from its last snapshot, as this
 * same command with --resume DIR and one restart fewer (execv: the engine
 * and the ranks are gone, the ipc directory removed). Returns only if
 * there is no snapshot or the exec failed. */
static void restart(char **command, const char *dir, int left) {
  char latest[4096], count[16];
  snprintf(latest, sizeof latest, "%s/latest", dir);
  if (access(latest, R_OK) != 0) return;
  int n = 0;
  while (command[n]) n++;
  char **args = calloc((size_t)n + 5, sizeof *args);
  if (!args) return;
  int k = 0;
  for (int i = 0; i < n; i++) {
    if ((strcmp(command[i], "--resume") == 0 || strcmp(command[i], "--restarts") == 0) &&
        i + 1 < n) {
      i++;
      continue;
    }
    if (strncmp(command[i], "--resume=", 9) == 0 || strncmp(command[i], "--restarts=", 11) == 0)
      continue;
    args[k++] = command[i];
  }
  snprintf(count, sizeof count, "%d", left - 1);
  args[k++] = "--restarts";
  args[k++] = count;
  args[k++] = "--resume";
  args[k++] = (char *)dir;
  fprintf(stderr, "pmls: restarting from the last snapshot in %s (%d restart%s left)\n",
          dir, left - 1, left - 1 == 1 ? "" : "s");
  fflush(NULL);
  execv("/proc/self/exe", args);
  fprintf(stderr, "pmls: cannot restart: %s\n", strerror(errno));
  free(args);
}

static int run_job(int argc, char **argv, pl_guard *guard) {
  /* The command as typed ("pmls run" and all): the other ranks run it. */
  char **command = argv - 2;
  pmls_config cfg;
  pmls_config_init(&cfg);
  run_opts ro = {&cfg, 0, 0, "ipc", NULL, NULL, NULL, 0};
  /* Engine options may come before the script: there, anything else is a
   * mistake (the script's options follow it). */
  int first = 0;
  while (first < argc && argv[first][0] == '-' && strcmp(argv[first], "--") != 0) {
    const char *v;
    const pl_opt *o = pl_opt_match(argc, argv, &first, &v);
    if (!o) {
      const char *near = pl_opt_suggest(argv[first]);
      fprintf(stderr, "pmls: unknown engine option '%s'%s%s%s before the "
              "script (the script's own options follow it; see 'pmls help')\n",
              argv[first], near ? " (did you mean --" : "", near ? near : "",
              near ? "?)" : "");
      return EXIT_USAGE;
    }
    if (apply(&ro, o, v)) return EXIT_USAGE;
    first++;
  }
  if (first < argc && strcmp(argv[first], "--") == 0) first++;
  if (first >= argc) {
    if (ro.help) {
      usage(stdout);
      return 0;
    }
    return usage_error("missing script%s%s: usage: pmls run SCRIPT.lua [options]",
                       "", "");
  }
  const char *script = argv[first];
  char model[4096];
  if (!is_file(script)) {
    if (strchr(script, '/'))
      return usage_error("cannot open script '%s': %s", script, strerror(errno));
    if (find_model(script, model, sizeof model))
      return usage_error("no script file or model named '%s' (looked in %s)",
                         script, model);
    script = model;
  }
  argc -= first;
  argv += first;

  const char **rest = calloc((size_t)argc + 2, sizeof *rest);
  int nrest = 0, only_script = 0;
  if (ro.help) rest[nrest++] = "--help"; /* asked before the script */
  for (int i = 1; i < argc; i++) {
    const char *v = NULL, *opt = argv[i];
    const pl_opt *o;
    if (only_script) {
      rest[nrest++] = opt;
    } else if (strcmp(opt, "--") == 0) {
      only_script = 1;
    } else if ((o = pl_opt_match(argc, argv, &i, &v)) && o->id != OPT_HELP) {
      if (apply(&ro, o, v)) {
        free(rest);
        return EXIT_USAGE;
      }
    } else {
      if (o) ro.help = 1; /* -h and --help also reach the script */
      rest[nrest++] = opt;
    }
  }
  int help = ro.help, procs = ro.procs;
  const char *transport = ro.transport, *hostfile = ro.hostfile,
             *master = ro.master;

  /* Which process of which job is this? */
  pl_job job = {0};
  int launched = 0, local_procs = 1;
  char err[512], master_buf[300];
  if (!help) cfg.master = master; /* wins over PMLS_MASTER */
  if (!help && pmls_config_from_env(&cfg, err, sizeof err)) {
    fprintf(stderr, "pmls: %s\n", err);
    return EXIT_USAGE;
  }
  if (help) {
    /* --help needs no job: this process alone lists the options. */
  } else if (cfg.procs > 0) { /* a launcher started this process */
    if (procs && procs != cfg.procs) {
      fprintf(stderr, "pmls: -p %d, but the launcher started %d processes "
              "(see 'pmls help')\n", procs, cfg.procs);
      return EXIT_USAGE;
    }
  } else if (procs > 1 || hostfile) {
    pl_host *hosts = NULL;
    int nhosts = 0, slots = 0;
    if (hostfile) {
      if (pl_read_hostfile(hostfile, &hosts, &nhosts, err, sizeof err)) {
        fprintf(stderr, "pmls: %s\n", err);
        return EXIT_USAGE;
      }
      for (int h = 0; h < nhosts; h++) slots += hosts[h].slots;
      if (!procs) procs = slots;
      transport = "tcp";
    }
    /* A tcp master must be reachable from the other hosts: take the address
     * this host uses to reach the first of them. */
    char host[64] = "127.0.0.1";
    if (cfg.bind_host) {
      snprintf(host, sizeof host, "%s", cfg.bind_host);
    } else {
      for (int h = 0; h < nhosts; h++)
        if (pl_route_to(hosts[h].host, host, sizeof host) == 0 &&
            strncmp(host, "127.", 4) != 0)
          break;
    }
    if (master) {
      snprintf(master_buf, sizeof master_buf, "%s", master);
    } else if (pl_master(&job, transport, host, master_buf, sizeof master_buf,
                         err, sizeof err)) {
      fprintf(stderr, "pmls: %s\n", err);
      free(hosts);
      return 1;
    }
    /* Nothing starts that could not open its sockets: the processes on
     * this host share its cores unless -w says otherwise. */
    pmls_config shape = cfg;
    shape.procs = procs;
    if (!shape.workers) {
      long cores = sysconf(_SC_NPROCESSORS_ONLN);
      int here = pl_local_procs(hosts, nhosts, procs, 0);
      shape.workers = cores > here ? (int)(cores / here) : 1;
    }
    if (pmls_config_check(&shape, NULL, NULL, err, sizeof err)) {
      fprintf(stderr, "pmls: %s\n", err);
      free(hosts);
      return EXIT_USAGE;
    }
    job.procs = procs;
    if (strncmp(master_buf, "tcp://", 6) == 0) pl_secret_new(&job);
    job.pids = calloc((size_t)procs, sizeof *job.pids);
    /* The other ranks start now, before this process opens any socket. */
    if (!job.pids || pl_spawn(&job, command, master_buf, hosts, nhosts, err,
                              sizeof err)) {
      fprintf(stderr, "pmls: %s\n", job.pids ? err : "out of memory");
      int st;
      pl_guard_detach(guard); /* this process says why */
      if (job.pids) pl_wait(&job, 0, -1, "a rank could not start", &st);
      free(job.pids);
      free(hosts);
      return 1;
    }
    pl_guard_watch_ranks(guard, &job);
    local_procs = pl_local_procs(hosts, nhosts, procs, 0);
    free(hosts);
    launched = 1;
    cfg.procs = procs;
    cfg.rank = 0;
    cfg.master = master_buf;
  } /* else with --master: a one-process job on that transport */
  /* Without -w, the processes on this host share its cores: cores / P
   * workers each (a launcher's child is told P in PMLS_LOCAL_PROCS). */
  const char *local_env = getenv("PMLS_LOCAL_PROCS");
  if (!launched && local_env) local_procs = atoi(local_env);
  if (!help && cfg.workers == 0) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    cfg.workers = local_procs > 1 ? (int)(cores / local_procs) : (int)cores;
    if (cfg.workers < 1) cfg.workers = 1;
  }
  const char *quiet_usage = getenv("PMLS_RANK"); /* rank 0 says it */

  /* A tcp job admits only the holders of its secret (docs/security.md). */
  static unsigned char secret[PMI_SECRET_MAX + 1];
  if (!help && cfg.master && strncmp(cfg.master, "tcp://", 6) == 0) {
    size_t n = 0;
    if (job_secret(&ro, &job, launched, cfg.procs, secret, sizeof secret, &n,
                   err, sizeof err)) {
      fprintf(stderr, "pmls: %s\n", err);
      free(rest);
      if (launched) {
        int st;
        pl_wait(&job, 0, -1, "the job's secret is missing", &st);
        free(job.pids);
      }
      return EXIT_USAGE;
    }
    cfg.secret = secret;
    cfg.secret_len = n;
  }

  pmls_engine *e;
  int rc = pmls_engine_create(&e, &cfg, err, sizeof err);
  sodium_memzero(secret, sizeof secret); /* the engine keeps a key, not it */
  sodium_memzero(job.secret, sizeof job.secret);
  if (rc) {
    free(rest);
    int status = rc == PMLS_EINVAL ? EXIT_USAGE : 1;
    if (rc == PMLS_EIO && strncmp(err, "--resume ", 9) == 0) {
      fprintf(stderr, "pmls: error: %s\n", err); /* no snapshot to go on from */
    } else if (rc == PMLS_EIO && cfg.metrics_path) {
      fprintf(stderr, "pmls: bad value for --metrics: %s\n", err);
      status = EXIT_USAGE;
    } else {
      fprintf(stderr, "pmls: %s\n", err);
    }
    if (launched) {
      int st;
      pl_guard_detach(guard); /* this process said why */
      pl_wait(&job, 0, -1, "the engine could not start", &st);
      free(job.pids);
    }
    return status;
  }
  pl_guard_attach(guard, e);
  rc = pmls_run_script(e, script, nrest, rest);
  int stop_rank = -1, stop_sig = pmls_stopped(e, &stop_rank);
  free(rest);
  int status = 0;
  char who_prefix[32] = "";
  if (cfg.rank > 0) snprintf(who_prefix, sizeof who_prefix, "rank %d: ", cfg.rank);
  if (stop_sig) {
    /* One line for the job: rank 0 says it, and a rank > 0 only for a
     * signal sent to it by someone other than the launcher. */
    if (cfg.rank == 0 || (stop_rank == cfg.rank && !pl_guard_from_parent(guard)))
      fprintf(stderr, "pmls: %sstopped by SIG%s%s\n", who_prefix,
              sigabbrev_np(stop_sig) ? sigabbrev_np(stop_sig) : "?",
              stop_rank > 0 && stop_rank != cfg.rank ? rank_suffix(stop_rank) : "");
    status = 128 + stop_sig;
  } else if (rc == PMLS_EUSAGE) {
    if (!(quiet_usage && cfg.rank > 0))
      fprintf(stderr, "pmls: %s (see 'pmls run %s --help')\n", pmls_errmsg(e),
              script);
    status = EXIT_USAGE;
  } else if (rc && cfg.rank > 0 && !rank0_may_not_say(rc, pmls_abort_cause(e))) {
    /* Rank 0 reports the job's failure once, with its root cause "(on
     * rank N)"; a rank > 0 speaks only when rank 0 may not be there to. */
    status = 1;
  } else if (rc) {
    /* One line that names file:line, then the traceback (none for an
     * input error: a data file's fault, not the script's). */
    const char *msg = pmls_errmsg(e);
    const char *nl = strchr(msg, '\n');
    fprintf(stderr, "pmls: %serror: %.*s\n", who_prefix,
            nl ? (int)(nl - msg) : (int)strlen(msg), msg);
    if (nl) fprintf(stderr, "%s\n", nl + 1);
    if (cfg.rank == 0 && cfg.checkpoint_dir) print_resume(command, cfg.checkpoint_dir);
    status = 1;
  } else if (help) {
    printf("\n");
    pl_opt_help(stdout);
  }
  pl_guard_detach(guard);
  pmls_engine_destroy(e);
  if (launched) {
    int st;
    int bad = stop_sig ? pl_wait(&job, 2000, -1, "the stop", &st)
              : status ? pl_wait(&job, 3000, -1, "the job failed", &st)
                       : pl_wait(&job, 5000, 1000, "the job ended", &st);
    if (bad && status == 0) {
      fprintf(stderr, "pmls: rank %d exited with status %d\n", bad, st);
      status = st == EXIT_USAGE ? EXIT_USAGE : 1;
    }
    free(job.pids);
  }
  if (status == 1 && cfg.rank == 0 && ro.restarts > 0 && cfg.checkpoint_dir &&
      (launched || cfg.procs <= 1))
    restart(command, cfg.checkpoint_dir, ro.restarts);
  return status;
}

static int cmd_run(int argc, char **argv) {
  /* Before any thread or rank exists: every thread inherits the mask. */
  pl_guard *guard = pl_guard_start();
  /* A job holds a few descriptors per socket: take what the hard limit
   * allows (the ranks inherit it), as servers do. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  /* The script's option parser suggests among these too. */
  char flags[1024];
  pl_opt_flags(flags, sizeof flags);
  setenv("PMLS_ENGINE_FLAGS", flags, 1);
  /* A rank this command's launcher started (it alone sets
   * PMLS_LOCAL_PROCS with PMLS_RANK) cleans up after a launcher that died. */
  pid_t launcher = getenv("PMLS_RANK") && getenv("PMLS_LOCAL_PROCS") ? getppid() : 0;
  int status = run_job(argc, argv, guard);
  if (launcher && getppid() != launcher)
    pl_remove_orphan_ipc_dir(getenv("PMLS_MASTER"));
  int sig = pl_guard_signal(guard);
  pl_guard_stop(guard);
  return sig && status == 0 ? 128 + sig : status;
}

/* jemalloc's options for the command (it reads this symbol at start; the
 * MALLOC_CONF variable still wins). Freed pages go back to the system
 * within a second instead of ten: a run's transient buffers (a parse, a
 * clock's messages) would otherwise stay resident for most of a short job
 * and count as its memory. */
const char *malloc_conf = "dirty_decay_ms:1000,muzzy_decay_ms:0";

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "run") == 0) return cmd_run(argc - 2, argv + 2);
  if (strcmp(cmd, "plot") == 0) return pmi_run_tool("pmls.plot", argc - 2, argv + 2);
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0 ||
      strcmp(cmd, "-V") == 0) {
    printf("pmls %s\n", pmls_version());
    return 0;
  }
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
      strcmp(cmd, "-h") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(cmd, "completion") == 0) {
    pl_opt_completion(stdout);
    return 0;
  }
  if (strcmp(cmd, "man") == 0) {
    pl_opt_man(stdout, pmls_version());
    return 0;
  }
  return usage_error("unknown command '%s'%s", cmd, "");
}
