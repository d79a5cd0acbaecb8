/* common.h -- what the micro-benchmarks share: a monotonic clock, medians,
 * the verdict against a target, a small JSON writer for
 * build/bench/<name>.json, the row each benchmark adds to the summary that
 * bench/run.sh prints, and a check that an engine really bound ipc sockets.
 *
 * Why ratios: the machine is shared and noisy (figures move by up to 2x from
 * run to run), so every benchmark times a reference in the same process,
 * interleaved with the subject, and reports the median over repeats of the
 * paired ratio. Absolute times are recorded too, for reading, not judging.
 *
 * Environment: PMLS_BENCH_OUT (default build/bench) is where the JSON goes,
 * PMLS_BENCH_SUMMARY (default $PMLS_BENCH_OUT/summary.tsv) collects one
 * "name<TAB>ratio<TAB>op<TAB>target<TAB>status<TAB>note" line per result,
 * PMLS_BENCH_REPEATS (default 7) sets the repeats. */
#ifndef PMLS_BENCH_COMMON_H
#define PMLS_BENCH_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pmls.h"

/* ---- time, statistics ---------------------------------------------------- */

static inline double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The median of n values (n >= 1); the input is left as it was. */
static inline double bench_median(const double *v, int n) {
  double *s = malloc((size_t)n * sizeof *s);
  if (!s) return NAN;
  memcpy(s, v, (size_t)n * sizeof *s);
  qsort(s, (size_t)n, sizeof *s, bench_cmp_double);
  double m = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
  free(s);
  return m;
}

static inline int bench_env_int(const char *name, int def, int lo, int hi) {
  const char *s = getenv(name);
  if (!s || !*s) return def;
  char *end;
  long v = strtol(s, &end, 10);
  if (*end || v < lo || v > hi) {
    fprintf(stderr, "bench: ignoring %s=%s (want %d..%d)\n", name, s, lo, hi);
    return def;
  }
  return (int)v;
}

static inline int bench_repeats(void) {
  return bench_env_int("PMLS_BENCH_REPEATS", 7, 1, 101);
}

__attribute__((format(printf, 1, 2), noreturn)) static inline void
bench_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "bench: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

/* Calls fail loudly: a benchmark that measured an error measured nothing. */
#define BENCH_CLIENT_OK(c, call)                                              \
  do {                                                                        \
    int rc_ = (call);                                                         \
    if (rc_ != PMLS_OK)                                                       \
      bench_die("%s:%d: %s: %s", __FILE__, __LINE__, #call,                   \
                pmls_client_errmsg(c));                                       \
  } while (0)
#define BENCH_ENGINE_OK(e, call)                                              \
  do {                                                                        \
    int rc_ = (call);                                                         \
    if (rc_ != PMLS_OK)                                                       \
      bench_die("%s:%d: %s: %s", __FILE__, __LINE__, #call, pmls_errmsg(e));  \
  } while (0)

/* ---- output locations ---------------------------------------------------- */

static inline const char *bench_out_dir(void) {
  const char *d = getenv("PMLS_BENCH_OUT");
  return d && *d ? d : "build/bench";
}

/* mkdir -p for the output directory (one level below an existing one is
 * all run.sh needs, but a nested path costs nothing to support). */
static inline void bench_mkdirs(const char *path) {
  char p[512];
  snprintf(p, sizeof p, "%s", path);
  for (char *q = p + 1; *q; q++) {
    if (*q != '/') continue;
    *q = 0;
    mkdir(p, 0755);
    *q = '/';
  }
  mkdir(p, 0755);
}

/* ---- verdicts and the summary row ---------------------------------------- */

/* op is ">=" (higher is better) or "<=" (lower is better). */
static inline const char *bench_verdict(double ratio, const char *op,
                                        double target) {
  if (!isfinite(ratio)) return "ERROR";
  int ok = op[0] == '>' ? ratio >= target : ratio <= target;
  return ok ? "PASS" : "BELOW";
}

static inline void bench_summary(const char *name, double ratio, const char *op,
                                 double target, const char *status,
                                 const char *note) {
  char path[600];
  const char *p = getenv("PMLS_BENCH_SUMMARY");
  if (!p || !*p) {
    snprintf(path, sizeof path, "%s/summary.tsv", bench_out_dir());
    p = path;
  }
  FILE *f = fopen(p, "a");
  if (!f) {
    fprintf(stderr, "bench: cannot append to %s: %s\n", p, strerror(errno));
    return;
  }
  if (isfinite(ratio))
    fprintf(f, "%s\t%.3f\t%s\t%g\t%s\t%s\n", name, ratio, op, target, status,
            note ? note : "");
  else
    fprintf(f, "%s\t-\t%s\t%g\t%s\t%s\n", name, op, target, status,
            note ? note : "");
  fclose(f);
}

/* ---- a small JSON writer ------------------------------------------------- */

typedef struct {
  FILE *f;
  int depth;
  int need_comma[32];
} bench_json;

static inline void bj_sep(bench_json *j) {
  if (j->need_comma[j->depth]) fputc(',', j->f);
  j->need_comma[j->depth] = 1;
}

static inline void bj_str_raw(bench_json *j, const char *s) {
  fputc('"', j->f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') fprintf(j->f, "\\%c", ch);
    else if (ch < 0x20) fprintf(j->f, "\\u%04x", ch);
    else fputc(ch, j->f);
  }
  fputc('"', j->f);
}

static inline void bj_key(bench_json *j, const char *key) {
  bj_sep(j);
  if (key) {
    bj_str_raw(j, key);
    fputc(':', j->f);
  }
}

/* Opens <out>/<name>.json with its top-level object. */
static inline int bj_open(bench_json *j, const char *name) {
  memset(j, 0, sizeof *j);
  char path[600];
  bench_mkdirs(bench_out_dir());
  snprintf(path, sizeof path, "%s/%s.json", bench_out_dir(), name);
  j->f = fopen(path, "w");
  if (!j->f) {
    fprintf(stderr, "bench: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  fputc('{', j->f);
  return 0;
}

static inline void bj_num(bench_json *j, const char *key, double v) {
  if (!j->f) return;
  bj_key(j, key);
  if (isfinite(v)) fprintf(j->f, "%.6g", v);
  else fputs("null", j->f);
}

static inline void bj_int(bench_json *j, const char *key, int64_t v) {
  if (!j->f) return;
  bj_key(j, key);
  fprintf(j->f, "%lld", (long long)v);
}

static inline void bj_str(bench_json *j, const char *key, const char *s) {
  if (!j->f) return;
  bj_key(j, key);
  if (s) bj_str_raw(j, s);
  else fputs("null", j->f);
}

static inline void bj_bool(bench_json *j, const char *key, int v) {
  if (!j->f) return;
  bj_key(j, key);
  fputs(v ? "true" : "false", j->f);
}

/* key is NULL inside an array. */
static inline void bj_begin(bench_json *j, const char *key, char bracket) {
  if (!j->f) return;
  bj_key(j, key);
  fputc(bracket, j->f);
  j->need_comma[++j->depth] = 0;
}

static inline void bj_end(bench_json *j, char bracket) {
  if (!j->f) return;
  fputc(bracket, j->f);
  j->depth--;
}

static inline void bj_nums(bench_json *j, const char *key, const double *v,
                           int n) {
  bj_begin(j, key, '[');
  for (int i = 0; i < n; i++) bj_num(j, NULL, v[i]);
  bj_end(j, ']');
}

static inline void bj_close(bench_json *j) {
  if (!j->f) return;
  fputs("}\n", j->f);
  fclose(j->f);
  j->f = NULL;
}

/* ---- engines ------------------------------------------------------------- */

static inline pmls_engine *bench_engine(const pmls_config *cfg) {
  pmls_engine *e = NULL;
  char err[1024] = "";
  if (pmls_engine_create(&e, cfg, err, sizeof err) != PMLS_OK)
    bench_die("cannot create an engine: %s", err);
  return e;
}

/* A dense float64 table of `bytes` / (8 cols) rows (returned in *rows),
 * initialised at random, with staleness 1000: the hot-path benchmarks call
 * no clock while timing, so every read after the first pass is a hit. */
static inline int bench_hit_table(pmls_engine *e, int cols, int64_t bytes,
                                  int64_t *rows) {
  pmls_table_spec spec;
  pmls_table_spec_init(&spec);
  spec.rows = *rows = bytes / (cols * (int64_t)sizeof(double));
  spec.cols = cols;
  spec.dtype = PMLS_F64;
  spec.staleness = 1000;
  spec.init = 1;
  spec.init_scale = 0.1;
  char name[32];
  snprintf(name, sizeof name, "w%d", cols);
  int table = -1;
  BENCH_ENGINE_OK(e, pmls_table_create(e, name, &spec, &table));
  return table;
}

/* A per-process scratch directory for ipc:// addresses: raw sockets live in
 * it, and each engine gets a subdirectory of its own (an engine puts all its
 * sockets next to its master address, so two engines must not share one). */
static inline const char *bench_ipc_dir(void) {
  static char dir[128];
  if (!dir[0]) {
    snprintf(dir, sizeof dir, "/tmp/pmls-bench-%d", (int)getpid());
    mkdir(dir, 0700);
  }
  return dir;
}

/* Writes the master address of engine number `serial` into out. */
static inline void bench_ipc_master(int serial, char *out, size_t cap) {
  char sub[256];
  snprintf(sub, sizeof sub, "%s/e%d", bench_ipc_dir(), serial);
  mkdir(sub, 0700);
  snprintf(out, cap, "ipc://%s/m", sub);
}

static inline void bench_rm_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *de;
    char p[512];
    while ((de = readdir(d))) {
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
        continue;
      snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
      struct stat st;
      if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) bench_rm_tree(p);
      else unlink(p);
    }
    closedir(d);
  }
  rmdir(dir);
}

static inline void bench_ipc_cleanup(void) { bench_rm_tree(bench_ipc_dir()); }

/* How many Unix-domain sockets with a path this process holds whose path
 * does not start with `except` (the benchmark's own raw sockets): read from
 * the socket inodes behind /proc/self/fd and the paths in /proc/net/unix.
 * An engine asked for ipc:// that holds none is still on inproc://. The
 * first such path is copied into `first` (may be NULL). */
static inline int bench_own_unix_paths(const char *except, char *first,
                                       size_t cap) {
  unsigned long inodes[4096];
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  struct dirent *de;
  while ((de = readdir(d)) && n < 4096) {
    char p[300], target[128];
    snprintf(p, sizeof p, "/proc/self/fd/%s", de->d_name);
    ssize_t len = readlink(p, target, sizeof target - 1);
    if (len <= 0) continue;
    target[len] = 0;
    unsigned long ino;
    if (sscanf(target, "socket:[%lu]", &ino) == 1) inodes[n++] = ino;
  }
  closedir(d);
  FILE *f = fopen("/proc/net/unix", "r");
  if (!f) return -1;
  char line[1024];
  int found = 0;
  if (first && cap) first[0] = 0;
  while (fgets(line, sizeof line, f)) {
    /* Num RefCount Protocol Flags Type St Inode Path */
    unsigned long ino;
    char path[700] = "";
    if (sscanf(line, "%*s %*s %*s %*s %*s %*s %lu %699s", &ino, path) < 2)
      continue;
    if (path[0] != '/' ||
        (except && strncmp(path, except, strlen(except)) == 0))
      continue;
    for (int i = 0; i < n; i++) {
      if (inodes[i] != ino) continue;
      if (!found && first && cap) snprintf(first, cap, "%s", path);
      found++;
      break;
    }
  }
  fclose(f);
  return found;
}

#endif
