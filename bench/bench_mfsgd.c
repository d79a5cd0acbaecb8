/* bench_mfsgd.c -- mf_sgd scaling from one process to two.
 *
 * What it measures: whole runs of the real command on MovieLens-100K,
 *   pmls run models/mf_sgd.lua --data ua.base --test ua.test --rank 32
 *        --epochs 20 --consistency essp --staleness 2 -w 1 -p 1
 *                                     (the reference)
 *   ... the same with -p 2            (the subject)
 * timed from spawn to exit (start-up, data loading and the rendezvous
 * included: what a user waits for). Throughput is training ratings processed
 * per second (ratings in ua.base x epochs / wall time), so the ratio is
 * wall(-p 1) / wall(-p 2); the target is >= 1.7. Runs are paired
 * and alternate which goes first, after one untimed warm-up run (the page
 * cache, the JIT's first traces are then the same for both); the result is
 * the median of the paired ratios. The test RMSE of each run is read from
 * its metrics file and recorded, so a faster run that learns less is seen.
 *
 * Usage: bench_mfsgd PMLS SCRIPT BASE TEST. Repeats:
 * PMLS_BENCH_MF_REPEATS (default 5 pairs; after 3 pairs, no new pair starts
 * once 60 s have gone, which keeps `make bench` within its time budget). */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common.h"

#define RUN_TIMEOUT_S 180

extern char **environ;

static const char *pmls_cmd, *script, *base, *test;
static char log_path[600];

/* Runs one training; returns its wall time, and its test RMSE (NAN when the
 * metrics file does not carry it). Exits on a failed or hung run. */
static double run_once(int procs, int serial, double *rmse, double *train) {
  char metrics[600], p_arg[16];
  snprintf(metrics, sizeof metrics, "%s/mf_sgd-p%d-%d.jsonl", bench_out_dir(),
           procs, serial);
  unlink(metrics);
  snprintf(p_arg, sizeof p_arg, "%d", procs);
  const char *argv[] = {pmls_cmd, "run", script, "--data", base, "--test",
                        test, "--rank", "32", "--epochs", "20", "-w", "1",
                        "-p", p_arg, "--consistency", "essp", "--staleness",
                        "2", "-q", "--metrics", metrics, NULL};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log_path,
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  /* Its own process group, so a hung run and its children can be ended. */
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&at, 0);
  double t0 = bench_now();
  pid_t pid;
  int rc = posix_spawn(&pid, pmls_cmd, &fa, &at, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  if (rc) bench_die("cannot run %s: %s", pmls_cmd, strerror(rc));
  int status = 0;
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0) bench_die("waitpid: %s", strerror(errno));
    if (bench_now() - t0 > RUN_TIMEOUT_S) {
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      bench_die("mf_sgd -p %d did not finish in %d s (see %s)", procs,
                RUN_TIMEOUT_S, log_path);
    }
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  double t = bench_now() - t0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    bench_die("mf_sgd -p %d failed (status %d; see %s)", procs, status,
              log_path);
  *rmse = NAN;
  *train = NAN;
  /* Training time: from the end of clock 1 to the end of the last clock
   * (what the metrics lines say), so start-up, data loading and the final
   * evaluation are left out. */
  double first = NAN, last = NAN;
  FILE *f = fopen(metrics, "r");
  if (f) {
    char line[8192];
    while (fgets(line, sizeof line, f)) {
      const char *k = strstr(line, "\"test_rmse\":");
      if (k) *rmse = strtod(k + 12, NULL);
      const char *c = strstr(line, "{\"clock\":"), *ts = strstr(line, "\"time_s\":");
      if (c == line && ts) {
        double when = strtod(ts + 9, NULL);
        if (strtol(c + 9, NULL, 10) == 1) first = when;
        last = when;
      }
    }
    fclose(f);
  }
  *train = last - first;
  return t;
}

static int64_t count_lines(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  int64_t n = 0;
  int ch, last = '\n';
  while ((ch = getc(f)) != EOF) {
    if (ch == '\n') n++;
    last = ch;
  }
  if (last != '\n') n++;
  fclose(f);
  return n;
}

static void skip(const char *why) {
  printf("mf_sgd scaling: skipped (%s)\n", why);
  bench_summary("mf_sgd scaling p2/p1", NAN, ">=", 1.7, "SKIP", why);
  bench_json j;
  bj_open(&j, "mf_sgd_scaling");
  bj_str(&j, "name", "mf_sgd_scaling");
  bj_str(&j, "op", ">=");
  bj_num(&j, "target", 1.7);
  bj_str(&j, "status", "SKIP");
  bj_str(&j, "skipped", why);
  bj_close(&j);
  exit(0);
}

int main(int argc, char **argv) {
  if (argc != 5) bench_die("usage: bench_mfsgd PMLS SCRIPT BASE TEST");
  pmls_cmd = argv[1];
  script = argv[2];
  base = argv[3];
  test = argv[4];
  if (access(pmls_cmd, X_OK) != 0) skip("no pmls command built");
  if (access(base, R_OK) != 0 || access(test, R_OK) != 0)
    skip("MovieLens-100K ua.base/ua.test not found");
  int R = bench_env_int("PMLS_BENCH_MF_REPEATS", 5, 1, 51);
  bench_mkdirs(bench_out_dir());
  snprintf(log_path, sizeof log_path, "%s/mf_sgd.log", bench_out_dir());
  unlink(log_path);
  int64_t ratings = count_lines(base);
  double *t1 = calloc((size_t)R, sizeof(double));
  double *t2 = calloc((size_t)R, sizeof(double));
  double *ratio = calloc((size_t)R, sizeof(double));
  double *rmse1 = calloc((size_t)R, sizeof(double));
  double *rmse2 = calloc((size_t)R, sizeof(double));
  double *tr1 = calloc((size_t)R, sizeof(double));
  double *tr2 = calloc((size_t)R, sizeof(double));
  double *wall_ratio = calloc((size_t)R, sizeof(double));
  double warm_rmse, warm_train;
  run_once(1, 0, &warm_rmse, &warm_train);
  double started = bench_now();
  int R_max = R;
  for (int r = 0; r < R; r++) {
    /* Keep `make bench` short when runs are slow: at least 3 pairs, then
     * stop once 60 s have gone. */
    if (r >= 3 && bench_now() - started > 60) {
      R = r;
      break;
    }
    if (r % 2 == 0) {
      t1[r] = run_once(1, r + 1, &rmse1[r], &tr1[r]);
      t2[r] = run_once(2, r + 1, &rmse2[r], &tr2[r]);
    } else {
      t2[r] = run_once(2, r + 1, &rmse2[r], &tr2[r]);
      t1[r] = run_once(1, r + 1, &rmse1[r], &tr1[r]);
    }
    ratio[r] = tr1[r] / tr2[r];
    wall_ratio[r] = t1[r] / t2[r];
  }
  double m = bench_median(ratio, R), m1 = bench_median(tr1, R),
         m2 = bench_median(tr2, R), mw = bench_median(wall_ratio, R);
  double r1 = bench_median(rmse1, R), r2 = bench_median(rmse2, R);
  double work = (double)ratings * 20 * 79 / 80; /* clocks 2..80 */
  const char *verdict = bench_verdict(m, ">=", 1.7);
  char note[200];
  snprintf(note, sizeof note, "training %.2f s -p 1, %.2f s -p 2 (wall ratio "
           "%.2f); test RMSE %.3f / %.3f", m1, m2, mw, r1, r2);
  printf("%-34s ratio %.3f (training: -p 1 %.2f s, %.0f ratings/s / -p 2 "
         "%.2f s, %.0f ratings/s; wall time ratio %.3f; test RMSE %.4f vs "
         "%.4f) target >= 1.7 %s\n", "mf_sgd scaling p2/p1", m, m1, work / m1,
         m2, work / m2, mw, r1, r2, verdict);
  bench_summary("mf_sgd scaling p2/p1", m, ">=", 1.7, verdict, note);
  bench_json j;
  bj_open(&j, "mf_sgd_scaling");
  bj_str(&j, "name", "mf_sgd_scaling");
  bj_str(&j, "what", "mf_sgd on ua.base, rank 32, 20 epochs, -w 1, essp s=2: "
                     "training ratings per second (clock 1 to the last "
                     "clock) with -p 2 over -p 1; wall_ratio: spawn to exit");
  bj_num(&j, "wall_ratio", mw);
  bj_str(&j, "op", ">=");
  bj_num(&j, "target", 1.7);
  bj_int(&j, "repeats", R);
  bj_int(&j, "repeats_asked", R_max);
  bj_int(&j, "train_ratings", ratings);
  bj_num(&j, "ratio", m);
  bj_str(&j, "status", verdict);
  bj_num(&j, "p1_train_s", m1);
  bj_num(&j, "p2_train_s", m2);
  bj_num(&j, "p1_ratings_per_s", work / m1);
  bj_num(&j, "p2_ratings_per_s", work / m2);
  bj_num(&j, "p1_test_rmse", r1);
  bj_num(&j, "p2_test_rmse", r2);
  bj_nums(&j, "ratios", ratio, R);
  bj_nums(&j, "p1_wall", t1, R);
  bj_nums(&j, "p2_wall", t2, R);
  bj_close(&j);
  free(t1);
  free(t2);
  free(ratio);
  free(tr1);
  free(tr2);
  free(wall_ratio);
  free(rmse1);
  free(rmse2);
  return 0;
}
