/* host.c -- a C program that embeds PMLS (docs/embedding.md walks through it).
 *
 * It makes a small regression problem, hands it to the engine in a table,
 * puts a starting point into a second table, runs train.lua on the engine's
 * worker threads to fit the weights and reads them back. The same program
 * is one rank of a job of several processes: started by mpirun or srun
 * (each rank finds its place in the environment), or by itself with
 * --procs N, which starts ranks 1..N-1 before any engine exists (the
 * engine's sockets do not survive a fork).
 *
 *   cc -o host host.c $(pkg-config --cflags --libs pmls)
 *   ./host                        one process, two worker threads
 *   ./host --procs 2              two processes on this host
 *   PMLS_MASTER=tcp://node0:29500 srun -n 4 ./host
 *
 * It prints the weights and exits 0 when they match the ones the data was
 * made from, 1 when they do not or something failed, 2 on a bad option. */
#define _POSIX_C_SOURCE 200809L /* fork, setenv, mkdtemp, readlink */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pmls.h>

#define N_EXAMPLES 400
#define N_FEATURES 5
#define TEXT_(x) #x
#define TEXT(x) TEXT_(x) /* a number macro's digits, as a string literal */

static const double true_w[N_FEATURES] = {1.0, -2.0, 0.5, 3.0, -1.0};

/* Uniform in [-1, 1) from a fixed seed, the same in every run. */
static double next_uniform(uint64_t *state) {
  *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(*state >> 11) / 4503599627370496.0 - 1.0;
}

/* Rank 0's part: every example (features, then target) and the start. */
static int fill_tables(pmls_engine *e, int examples, int w) {
  pmls_client *c;
  if (pmls_client_open(e, -1, &c) != PMLS_OK) {
    fprintf(stderr, "host: cannot open a client: %s\n", pmls_errmsg(e));
    return -1;
  }
  uint64_t seed = 42;
  double row[N_FEATURES + 1], start[N_FEATURES];
  int rc = PMLS_OK;
  for (int i = 0; i < N_EXAMPLES && rc == PMLS_OK; i++) {
    row[N_FEATURES] = 0;
    for (int j = 0; j < N_FEATURES; j++) {
      row[j] = next_uniform(&seed);
      row[N_FEATURES] += true_w[j] * row[j];
    }
    rc = pmls_inc_dense(c, examples, i, row); /* rows start at zero */
  }
  for (int j = 0; j < N_FEATURES; j++) start[j] = 1.0; /* an earlier guess */
  if (rc == PMLS_OK) rc = pmls_inc_dense(c, w, 0, start);
  if (rc != PMLS_OK)
    fprintf(stderr, "host: cannot fill the tables: %s\n", pmls_client_errmsg(c));
  /* Closing returns once every increment is applied on its shard. */
  int closed = pmls_client_close(c);
  if (rc == PMLS_OK && closed != PMLS_OK)
    fprintf(stderr, "host: %s\n", pmls_errmsg(e));
  return rc == PMLS_OK && closed == PMLS_OK ? 0 : -1;
}

/* Rank 0's part after the run: the fitted weights, against the true ones. */
static int check_weights(pmls_engine *e, int w) {
  pmls_client *c;
  double got[N_FEATURES];
  if (pmls_client_open(e, -1, &c) != PMLS_OK) {
    fprintf(stderr, "host: cannot open a client: %s\n", pmls_errmsg(e));
    return -1;
  }
  int rc = pmls_get_dense(c, w, 0, got);
  if (rc != PMLS_OK)
    fprintf(stderr, "host: cannot read w: %s\n", pmls_client_errmsg(c));
  pmls_client_close(c);
  if (rc != PMLS_OK) return -1;
  double worst = 0;
  printf("host: %d process(es) x %d workers fitted w =", pmls_engine_procs(e),
         pmls_engine_workers(e) / pmls_engine_procs(e));
  for (int j = 0; j < N_FEATURES; j++) {
    double off = got[j] > true_w[j] ? got[j] - true_w[j] : true_w[j] - got[j];
    printf(" %.6f", got[j]);
    if (off > worst) worst = off;
  }
  printf("\nhost: largest error against the true weights %.3g\n", worst);
  return worst < 1e-6 ? 0 : -1;
}

/* --procs N: this process becomes rank 0 and starts ranks 1..N-1 running
 * this same command line, telling them their place as pmls -p does. */
static int start_ranks(int procs, char **argv, pid_t *pids, char *dir) {
  char master[300], number[16];
  if (!mkdtemp(dir)) {
    perror("host: cannot make a directory for the job's sockets");
    return -1;
  }
  snprintf(master, sizeof master, "ipc://%s/master", dir);
  snprintf(number, sizeof number, "%d", procs);
  setenv("PMLS_MASTER", master, 1);
  setenv("PMLS_SIZE", number, 1);
  fflush(NULL); /* or buffered output would be written twice */
  for (int r = 1; r < procs; r++) {
    pids[r] = fork();
    if (pids[r] < 0) {
      perror("host: fork");
      return -1;
    }
    if (pids[r] == 0) {
      snprintf(number, sizeof number, "%d", r);
      setenv("PMLS_RANK", number, 1);
      execv("/proc/self/exe", argv);
      perror("host: cannot start a rank");
      _exit(127);
    }
  }
  setenv("PMLS_RANK", "0", 1);
  return 0;
}

static int wait_ranks(int procs, const pid_t *pids, const char *dir) {
  int bad = 0;
  for (int r = 1; r < procs; r++) {
    int status = 0;
    if (pids[r] > 0 && (waitpid(pids[r], &status, 0) < 0 ||
                        !WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
      fprintf(stderr, "host: rank %d failed\n", r);
      bad = 1;
    }
  }
  DIR *d = opendir(dir); /* the job's ipc sockets */
  struct dirent *ent;
  char path[4200];
  while (d && (ent = readdir(d)) != NULL) {
    if (ent->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
    unlink(path);
  }
  if (d) closedir(d);
  rmdir(dir);
  return bad;
}

int main(int argc, char **argv) {
  int procs = 1, workers = 2;
  char script[4096] = "";
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--procs") == 0 && i + 1 < argc) {
      procs = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc) {
      workers = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--script") == 0 && i + 1 < argc) {
      snprintf(script, sizeof script, "%s", argv[++i]);
    } else {
      fprintf(stderr, "usage: host [--procs N] [--workers W] [--script PATH]\n");
      return 2;
    }
  }
  if (procs < 1 || procs > 64 || workers < 1) {
    fprintf(stderr, "host: --procs 1..64 and --workers >= 1 expected\n");
    return 2;
  }
  if (!script[0]) { /* train.lua beside this program */
    ssize_t n = readlink("/proc/self/exe", script, sizeof script - 16);
    script[n > 0 ? n : 0] = 0;
    char *slash = strrchr(script, '/');
    snprintf(slash ? slash + 1 : script, 16, "train.lua");
  }

  /* Which process of which job is this? A launcher (mpirun, srun, or this
   * program's rank 0) said so in the environment; if none did and --procs
   * asks for more, this process is rank 0 and starts the others now. */
  pmls_config cfg;
  char err[512];
  pid_t pids[64] = {0};
  char dir[] = "/tmp/pmls-host-XXXXXX";
  int started = 0;
  pmls_config_init(&cfg);
  cfg.workers = workers;
  cfg.quiet = 2;
  if (pmls_config_from_env(&cfg, err, sizeof err) != PMLS_OK) {
    fprintf(stderr, "host: %s\n", err);
    return 2;
  }
  if (cfg.procs == 0 && procs > 1) {
    if (start_ranks(procs, argv, pids, dir) != 0) return 1;
    started = 1;
    if (pmls_config_from_env(&cfg, err, sizeof err) != PMLS_OK) {
      fprintf(stderr, "host: %s\n", err);
      return 1;
    }
  }

  pmls_engine *e;
  if (pmls_engine_create(&e, &cfg, err, sizeof err) != PMLS_OK) {
    fprintf(stderr, "host: cannot create the engine: %s\n", err);
    if (started) wait_ranks(procs, pids, dir);
    return 1;
  }
  /* Every rank declares the same tables, in the same order. */
  pmls_table_spec spec;
  int examples = -1, w = -1, status = 0;
  pmls_table_spec_init(&spec); /* dense float64, zeros */
  spec.rows = N_EXAMPLES;
  spec.cols = N_FEATURES + 1;
  int rc = pmls_table_create(e, "examples", &spec, &examples);
  spec.rows = 1;
  spec.cols = N_FEATURES;
  if (rc == PMLS_OK) rc = pmls_table_create(e, "w", &spec, &w);
  if (rc != PMLS_OK) {
    fprintf(stderr, "host: %s\n", pmls_errmsg(e));
    status = 1;
  }
  int rank = pmls_engine_rank(e);
  if (status == 0 && rank == 0 && fill_tables(e, examples, w) != 0) status = 1;
  if (status == 0) {
    /* The script's own options, as `pmls run train.lua --clocks 100 ...`:
     * it declares the tables with the sizes it is given, the host's. */
    const char *const script_args[] = {"--clocks", "100",
                                       "--examples", TEXT(N_EXAMPLES),
                                       "--features", TEXT(N_FEATURES)};
    rc = pmls_run_script(e, script, 6, script_args);
    if (rc != PMLS_OK) {
      fprintf(stderr, "host: rank %d: %s: %s\n", rank, pmls_strerror(rc),
              pmls_errmsg(e));
      status = 1;
    }
  }
  if (status == 0 && rank == 0 && check_weights(e, w) != 0) status = 1;
  pmls_engine_destroy(e);
  if (started && wait_ranks(procs, pids, dir)) status = 1;
  return status;
}
