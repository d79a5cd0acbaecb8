/* main.c -- the `pmls` command: a small C host that embeds LuaJIT.
 *
 * It parses the engine's own options (workers, seed, metrics, ...) wherever
 * they appear after the script, hands every other argument to the script's
 * option parser, creates an engine and runs the script on it. Exit codes:
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
#include <sys/wait.h>
#include <unistd.h>

#include "pmls.h"
#include "launch.h"
#include "signals.h"

#define EXIT_USAGE 2

static const char engine_help[] =
    "Engine options (every run):\n"
    "  -w, --workers N      worker threads per process (default: this host's\n"
    "                       cores shared among its processes: cores / P)\n"
    "  -p, --procs P        processes on this host, over ipc:// (default: 1)\n"
    "      --transport T    ipc or tcp (on 127.0.0.1) for -p (default: ipc)\n"
    "      --hostfile FILE  start processes on the hosts listed (one per line,\n"
    "                       'HOST [SLOTS]'), over ssh and tcp://; rank 0 is\n"
    "                       this process and takes the first slot\n"
    "      --master ADDR    rank 0's address (tcp://HOST:PORT or ipc:///DIR/NAME)\n"
    "                       for ranks started by mpirun or srun (or PMLS_MASTER)\n"
    "      --bind HOST      the address this process listens on (tcp)\n"
    "      --heartbeat-timeout SECS  a silent peer is dead after this (default: 10)\n"
    "      --servers K      server shards (default: one per process)\n"
    "      --schedulers K   scheduler nodes for scheduled (push/pull) models;\n"
    "                       node k runs in process k mod P (default: 1)\n"
    "      --staleness S    default SSP staleness bound for tables (default: 0)\n"
    "      --consistency M  default model for tables: ssp, bsp, essp or async\n"
    "                       (default: ssp; see docs/consistency.md)\n"
    "      --seed N         base random seed handed to the script (default: 1)\n"
    "      --metrics PATH   append one JSON object per clock to PATH\n"
    "      --timeout SECS   how long a read may wait for a peer (default: 60)\n"
    "  -q, --quiet          no progress lines\n"
    "  -h, --help           list the script's options and these\n";

static void usage(FILE *f) {
  fprintf(f, "usage: pmls run SCRIPT.lua [options]   run a model script\n"
             "       pmls run MODEL [options]        run an installed model by name\n"
             "                                       (see PMLS_MODEL_PATH below)\n"
             "       pmls version                    print the version\n"
             "       pmls help                       this text\n\n%s\n"
             "Environment:\n"
             "  PMLS_MODEL_PATH      directories (':'-separated) searched for\n"
             "                       MODEL.lua before the installed models\n"
             "  PMLS_LUA_PATH        where the pmls Lua package is, when moved\n"
             "                       (see docs/embedding.md)\n",
          engine_help);
}

static int usage_error(const char *fmt, const char *a, const char *b) {
  fputs("pmls: ", stderr);
  fprintf(stderr, fmt, a, b);
  fputs(" (see 'pmls help')\n", stderr);
  return EXIT_USAGE;
}

/* Parses a whole decimal number in [lo, hi]. */
static int parse_int(const char *s, long long lo, long long hi, long long *out) {
  if (!s || !*s) return -1;
  errno = 0;
  char *end;
  long long v = strtoll(s, &end, 10);
  if (errno || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

/* Matches "-w N", "--workers N" and "--workers=N"; *val gets the value. */
static int take(int argc, char **argv, int *i, const char *shrt,
                const char *lng, const char **val) {
  const char *a = argv[*i];
  size_t n = strlen(lng);
  if ((shrt && strcmp(a, shrt) == 0) || strcmp(a, lng) == 0) {
    *val = *i + 1 < argc ? argv[++*i] : NULL;
    return 1;
  }
  if (strncmp(a, lng, n) == 0 && a[n] == '=') {
    *val = a + n + 1;
    return 1;
  }
  return 0;
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

static const char *rank_suffix(int rank) {
  static char buf[32];
  snprintf(buf, sizeof buf, " on rank %d", rank);
  return buf;
}

static int run_job(int argc, char **argv, pl_guard *guard) {
  if (argc < 1 || argv[0][0] == '-')
    return usage_error("missing script%s%s: usage: pmls run SCRIPT.lua [options]",
                       "", "");
  const char *script = argv[0];
  char model[4096];
  if (!is_file(script)) {
    if (strchr(script, '/'))
      return usage_error("cannot open script '%s': %s", script, strerror(errno));
    if (find_model(script, model, sizeof model))
      return usage_error("no script file or model named '%s' (looked in %s)",
                         script, model);
    script = model;
  }

  pmls_config cfg;
  pmls_config_init(&cfg);
  const char **rest = calloc((size_t)argc + 1, sizeof *rest);
  int nrest = 0, help = 0, only_script = 0, procs = 0;
  const char *transport = "ipc", *hostfile = NULL, *master = NULL;
  for (int i = 1; i < argc; i++) {
    const char *v = NULL, *opt = argv[i];
    long long n;
    if (only_script) {
      rest[nrest++] = opt;
    } else if (strcmp(opt, "--") == 0) {
      only_script = 1;
    } else if (take(argc, argv, &i, "-w", "--workers", &v)) {
      if (parse_int(v, 1, 4096, &n))
        return usage_error("bad value '%s' for %s: a whole number from 1 to 4096 "
                           "expected", v ? v : "", "--workers");
      cfg.workers = (int)n;
    } else if (take(argc, argv, &i, "-p", "--procs", &v)) {
      if (parse_int(v, 1, 4096, &n))
        return usage_error("bad value '%s' for %s: a whole number from 1 to 4096 "
                           "expected", v ? v : "", "--procs");
      procs = (int)n;
    } else if (take(argc, argv, &i, NULL, "--transport", &v)) {
      if (!v || (strcmp(v, "ipc") != 0 && strcmp(v, "tcp") != 0))
        return usage_error("bad value '%s' for %s: ipc or tcp expected",
                           v ? v : "", "--transport");
      transport = v;
    } else if (take(argc, argv, &i, NULL, "--hostfile", &v)) {
      if (!v || !*v) return usage_error("option %s needs a value%s", "--hostfile", "");
      hostfile = v;
    } else if (take(argc, argv, &i, NULL, "--master", &v)) {
      if (!v || (strncmp(v, "tcp://", 6) != 0 && strncmp(v, "ipc://", 6) != 0))
        return usage_error("bad value '%s' for %s: tcp://HOST:PORT or "
                           "ipc:///DIR/NAME expected", v ? v : "", "--master");
      master = v;
    } else if (take(argc, argv, &i, NULL, "--bind", &v)) {
      if (!v || !*v) return usage_error("option %s needs a value%s", "--bind", "");
      cfg.bind_host = v;
    } else if (take(argc, argv, &i, NULL, "--heartbeat-timeout", &v)) {
      if (parse_int(v, 1, 86400, &n))
        return usage_error("bad value '%s' for %s: seconds from 1 to 86400 "
                           "expected", v ? v : "", "--heartbeat-timeout");
      cfg.heartbeat_ms = (int)(n * 1000);
    } else if (take(argc, argv, &i, NULL, "--servers", &v)) {
      if (parse_int(v, 1, 1024, &n))
        return usage_error("bad value '%s' for %s: a whole number from 1 to 1024 "
                           "expected", v ? v : "", "--servers");
      cfg.servers = (int)n;
    } else if (take(argc, argv, &i, NULL, "--schedulers", &v)) {
      if (parse_int(v, 1, 1024, &n))
        return usage_error("bad value '%s' for %s: a whole number from 1 to 1024 "
                           "expected", v ? v : "", "--schedulers");
      cfg.schedulers = (int)n;
    } else if (take(argc, argv, &i, NULL, "--staleness", &v)) {
      if (parse_int(v, 0, INT_MAX, &n))
        return usage_error("bad value '%s' for %s: a whole number >= 0 expected",
                           v ? v : "", "--staleness");
      cfg.staleness = (int)n;
    } else if (take(argc, argv, &i, NULL, "--consistency", &v)) {
      static const char *const models[] = {"ssp", "bsp", "essp", "async"};
      int found = -1;
      for (int m = 0; m < 4; m++)
        if (v && strcmp(v, models[m]) == 0) found = m;
      if (found < 0)
        return usage_error("bad value '%s' for %s: ssp, bsp, essp or async "
                           "expected", v ? v : "", "--consistency");
      cfg.consistency = found;
    } else if (take(argc, argv, &i, NULL, "--seed", &v)) {
      if (parse_int(v, 0, LLONG_MAX, &n))
        return usage_error("bad value '%s' for %s: a whole number >= 0 expected",
                           v ? v : "", "--seed");
      cfg.seed = (uint64_t)n;
    } else if (take(argc, argv, &i, NULL, "--timeout", &v)) {
      if (parse_int(v, 1, 86400, &n))
        return usage_error("bad value '%s' for %s: seconds from 1 to 86400 "
                           "expected", v ? v : "", "--timeout");
      cfg.timeout_ms = (int)(n * 1000);
    } else if (take(argc, argv, &i, NULL, "--metrics", &v)) {
      if (!v || !*v)
        return usage_error("option %s needs a value%s", "--metrics", "");
      cfg.metrics_path = v;
    } else if (strcmp(opt, "-q") == 0 || strcmp(opt, "--quiet") == 0) {
      cfg.quiet = 1;
    } else {
      if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) help = 1;
      rest[nrest++] = opt;
    }
  }

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
    job.procs = procs;
    job.pids = calloc((size_t)procs, sizeof *job.pids);
    /* The other ranks start now, before this process opens any socket. */
    if (!job.pids || pl_spawn(&job, argv - 2, master_buf, hosts, nhosts, err,
                              sizeof err)) {
      fprintf(stderr, "pmls: %s\n", job.pids ? err : "out of memory");
      int st;
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

  pmls_engine *e;
  int rc = pmls_engine_create(&e, &cfg, err, sizeof err);
  if (rc) {
    free(rest);
    int status = rc == PMLS_EINVAL ? EXIT_USAGE : 1;
    if (rc == PMLS_EIO && cfg.metrics_path) {
      fprintf(stderr, "pmls: bad value for --metrics: %s\n", err);
      status = EXIT_USAGE;
    } else {
      fprintf(stderr, "pmls: %s\n", err);
    }
    if (launched) {
      int st;
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
  } else if (rc) {
    /* One line that names file:line, then the traceback. */
    const char *msg = pmls_errmsg(e);
    const char *nl = strchr(msg, '\n');
    fprintf(stderr, "pmls: %serror: %.*s\n", who_prefix,
            nl ? (int)(nl - msg) : (int)strlen(msg), msg);
    if (nl) fprintf(stderr, "%s\n", nl + 1);
    status = 1;
  } else if (help) {
    printf("\n%s", engine_help);
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
  return status;
}

static int cmd_run(int argc, char **argv) {
  /* Before any thread or rank exists: every thread inherits the mask. */
  pl_guard *guard = pl_guard_start();
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
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    printf("pmls %s\n", pmls_version());
    return 0;
  }
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
      strcmp(cmd, "-h") == 0) {
    usage(stdout);
    return 0;
  }
  return usage_error("unknown command '%s'%s", cmd, "");
}
