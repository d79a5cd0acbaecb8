/* engine_test.c -- the engine through its public API only (pmls.h):
 * creating engines and tables, the table registry and its errors, the
 * defaults, the metrics file and the statistics. What clients do with rows
 * is in client/client_test.c and client/consistency_test.c. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>

#include "fixtures.h"
#include "harness.h"
#include "pmls.h"

/* ---- engine creation ----------------------------------------------------- */

static void t_engine_create_rejects_bad_config(void) {
  static const struct {
    const char *field;
    int value;
    const char *says;
  } rows[] = {
      {"workers", -1, "bad workers -1"},  {"workers", 4097, "bad workers 4097"},
      {"servers", -1, "bad servers -1"},  {"servers", 1025, "bad servers 1025"},
      {"staleness", -1, "bad staleness -1"},
      {"timeout_ms", -5, "bad timeout -5"},
      {"consistency", -1, "bad consistency -1"},
      {"consistency", 4, "bad consistency 4"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    pmls_config cfg = config(1, 1);
    if (!strcmp(rows[i].field, "workers")) cfg.workers = rows[i].value;
    if (!strcmp(rows[i].field, "servers")) cfg.servers = rows[i].value;
    if (!strcmp(rows[i].field, "staleness")) cfg.staleness = rows[i].value;
    if (!strcmp(rows[i].field, "timeout_ms")) cfg.timeout_ms = rows[i].value;
    if (!strcmp(rows[i].field, "consistency")) cfg.consistency = rows[i].value;
    pmls_engine *e = (pmls_engine *)&cfg; /* must be reset to NULL */
    char err[256] = "";
    int rc = pmls_engine_create(&e, &cfg, err, sizeof err);
    if (rc == PMLS_OK) pmls_engine_destroy(e);
    CHECK_EQ_INT(rc, PMLS_EINVAL);
    CHECK(e == NULL);
    CHECK_STR_CONTAINS(err, rows[i].says);
  }
  /* a metrics file that cannot be opened */
  pmls_config cfg = config(1, 1);
  cfg.metrics_path = "/nonexistent-dir/pmls/metrics.json";
  pmls_engine *e = NULL;
  char err[256] = "";
  int rc = pmls_engine_create(&e, &cfg, err, sizeof err);
  if (rc == PMLS_OK) pmls_engine_destroy(e);
  CHECK_EQ_INT(rc, PMLS_EIO);
  CHECK_STR_CONTAINS(err, "/nonexistent-dir/pmls/metrics.json");
  /* a small error buffer gets a truncated, terminated message */
  cfg = config(-1, 1);
  char tiny[8];
  memset(tiny, 'x', sizeof tiny);
  CHECK_EQ_INT(pmls_engine_create(&e, &cfg, tiny, sizeof tiny), PMLS_EINVAL);
  CHECK(memchr(tiny, 0, sizeof tiny) != NULL);
  CHECK_STR_CONTAINS(tiny, "bad");
}

static void t_engine_basics(void) {
  CHECK(pmls_version() && pmls_version()[0]);
  static const struct { int code; const char *says; } codes[] = {
      {PMLS_OK, "ok"},         {PMLS_EINVAL, "invalid"},
      {PMLS_ETIMEDOUT, "timed out"}, {PMLS_EUSAGE, "usage"},
      {PMLS_ESCRIPT, "script"}, {PMLS_EPROTO, "protocol"},
      {12345, "unknown"}};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
    CHECK_STR_CONTAINS(pmls_strerror(codes[i].code), codes[i].says);
  static const struct { pmls_dtype t; size_t size; } sizes[] = {
      {PMLS_F64, 8}, {PMLS_F32, 4}, {PMLS_I32, 4}, {PMLS_I64, 8}};
  for (size_t i = 0; i < 4; i++)
    CHECK_EQ_INT(pmls_dtype_size(sizes[i].t), sizes[i].size);
  pmls_config cfg = config(3, 2);
  cfg.seed = 99;
  pmls_engine *e = NULL;
  char err[256];
  CHECK_EQ_INT(pmls_engine_create(&e, &cfg, err, sizeof err), PMLS_OK);
  CHECK_EQ_INT(pmls_engine_workers(e), 3);
  CHECK_EQ_INT(pmls_engine_seed(e), 99);
  CHECK_EQ_INT(pmls_table_count(e), 0);
  pmls_engine_destroy(e);
  pmls_engine_destroy(NULL); /* a no-op */
}

/* ---- tables -------------------------------------------------------------- */

static void t_table_create_errors(void) {
  pmls_engine *e = engine(1, 2);
  CHECK(e != NULL);
  CHECK(table(e, "taken", dense(4, 4, PMLS_F64)) == 0);
  static const struct {
    const char *name;
    const char *field;
    int value;
    const char *says;
  } rows[] = {
      {"", NULL, 0, "bad table name ''"},
      {NULL, NULL, 0, "bad table name"},
      {"has space", NULL, 0, "bad table name 'has space'"},
      {"semi;colon", NULL, 0, "bad table name"},
      {"a123456789012345678901234567890123456789012345678901234567890123", NULL,
       0, "bad table name"}, /* 64 characters, one too many */
      {"taken", NULL, 0, "table 'taken' is already declared"},
      {"r0", "rows", 0, "bad rows 0 for table 'r0'"},
      {"rneg", "rows", -5, "bad rows -5"},
      {"c0", "cols", 0, "bad cols 0 for table 'c0'"},
      {"cneg", "cols", -1, "bad cols -1"},
      {"dt", "dtype", 7, "bad dtype 7 for table 'dt'"},
      {"dtneg", "dtype", -1, "bad dtype -1"},
      {"lay", "layout", 2, "bad layout 2 for table 'lay'"},
      {"st", "staleness", -2, "bad staleness -2 for table 'st'"},
      {"in", "init", 3, "bad init for table 'in'"},
      {"sparse_init", "sparse_init", 1, "random init needs a dense table"},
      {"cons", "consistency", 9, "bad consistency 9 for table 'cons'"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    pmls_table_spec s = dense(10, 3, PMLS_F64);
    const char *f = rows[i].field;
    int v = rows[i].value;
    if (f && !strcmp(f, "rows")) s.rows = v;
    if (f && !strcmp(f, "cols")) s.cols = v;
    if (f && !strcmp(f, "dtype")) s.dtype = (pmls_dtype)v;
    if (f && !strcmp(f, "layout")) s.layout = (pmls_layout)v;
    if (f && !strcmp(f, "staleness")) s.staleness = v;
    if (f && !strcmp(f, "init")) s.init = v;
    if (f && !strcmp(f, "consistency")) s.consistency = v;
    if (f && !strcmp(f, "sparse_init")) s.layout = PMLS_SPARSE, s.init = v;
    int id = 12345;
    int rc = pmls_table_create(e, rows[i].name, &s, &id);
    if (rc != PMLS_EINVAL || !strstr(pmls_errmsg(e), rows[i].says)) {
      th_fail(__FILE__, __LINE__, "table '%s' (%s = %d): want PMLS_EINVAL and "
              "\"%s\", got %d \"%s\"", rows[i].name ? rows[i].name : "(null)",
              f ? f : "name", v, rows[i].says, rc, pmls_errmsg(e));
      break;
    }
    CHECK_EQ_INT(id, 12345); /* untouched on failure */
  }
  CHECK_EQ_INT(pmls_table_count(e), 1); /* no failed declaration counted */
  pmls_engine_destroy(e);
}

static void t_table_registry(void) {
  pmls_engine *e = engine(1, 3);
  CHECK(e != NULL);
  static const struct { const char *name; int64_t rows; int32_t cols; pmls_dtype t; } rows[] = {
      {"w", 1, 10, PMLS_F64}, {"counts.v2", 1000000, 3, PMLS_I64},
      {"Emb_1-x", 50, 64, PMLS_F32}};
  for (int i = 0; i < 3; i++)
    CHECK_EQ_INT(table(e, rows[i].name, dense(rows[i].rows, rows[i].cols, rows[i].t)), i);
  CHECK_EQ_INT(pmls_table_count(e), 3);
  for (int i = 0; i < 3; i++) {
    int id = -1;
    CHECK_EQ_INT(pmls_table_find(e, rows[i].name, &id), PMLS_OK);
    CHECK_EQ_INT(id, i);
    CHECK(strcmp(pmls_table_name(e, i), rows[i].name) == 0);
    pmls_table_spec s;
    CHECK_EQ_INT(pmls_table_spec_of(e, i, &s), PMLS_OK);
    CHECK_EQ_INT(s.rows, rows[i].rows);
    CHECK_EQ_INT(s.cols, rows[i].cols);
    CHECK_EQ_INT(s.dtype, rows[i].t);
  }
  int id = 7;
  CHECK_EQ_INT(pmls_table_find(e, "nope", &id), PMLS_EINVAL);
  CHECK_EQ_INT(id, -1);
  CHECK_STR_CONTAINS(pmls_errmsg(e), "no table named 'nope'");
  pmls_table_spec s;
  CHECK_EQ_INT(pmls_table_spec_of(e, 3, &s), PMLS_EINVAL);
  CHECK_STR_CONTAINS(pmls_errmsg(e), "bad table id 3");
  CHECK(pmls_table_name(e, 3) == NULL);
  CHECK(pmls_table_name(e, -1) == NULL);
  pmls_engine_destroy(e);
}

/* A uniform-init table starts the same on every engine with the same seed
 * (and differently with another), within [-scale, scale). */
static void read_init_row(uint64_t seed, int64_t row, double *out) {
  pmls_config cfg = config(1, 2);
  cfg.seed = seed;
  pmls_engine *e = NULL;
  char err[256];
  if (pmls_engine_create(&e, &cfg, err, sizeof err)) return;
  pmls_table_spec s = dense(100, 16, PMLS_F64);
  s.init = 1;
  s.init_scale = 0.1;
  int t = table(e, "init", s);
  pmls_client *c = NULL;
  pmls_client_open(e, -1, &c);
  if (c && t >= 0) pmls_get_dense(c, t, row, out);
  pmls_client_close(c);
  pmls_engine_destroy(e);
}

static void t_table_init_reproducible(void) {
  double a[16], b[16], other_seed[16], other_row[16];
  for (int j = 0; j < 16; j++) a[j] = b[j] = other_seed[j] = other_row[j] = 99;
  read_init_row(5, 42, a);
  read_init_row(5, 42, b);
  read_init_row(6, 42, other_seed);
  read_init_row(5, 43, other_row);
  CHECK(memcmp(a, b, sizeof a) == 0);
  CHECK(memcmp(a, other_seed, sizeof a) != 0);
  CHECK(memcmp(a, other_row, sizeof a) != 0);
  int distinct = 0;
  for (int j = 0; j < 16; j++) {
    CHECK(a[j] >= -0.1 && a[j] < 0.1);
    distinct += j > 0 && a[j] != a[j - 1];
  }
  CHECK(distinct > 10);
}

static void t_table_stats(void) {
  pmls_engine *e = engine(1, 2);
  CHECK(e != NULL);
  int a = table(e, "a", dense(4, 2, PMLS_F64));
  int b = table(e, "b", dense(4, 2, PMLS_F64));
  CHECK(a == 0 && b == 1);
  pmls_client *w = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &w), PMLS_OK);
  double d[2] = {1, 1}, out[2];
  for (int k = 0; k < 4; k++) {
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(pmls_inc_dense(w, a, i, d), PMLS_OK);
    CHECK_EQ_INT(pmls_inc_dense(w, b, 0, d), PMLS_OK);
    CHECK_EQ_INT(pmls_get_dense(w, a, 1, out), PMLS_OK);
    CHECK_EQ_INT(pmls_clock(w), PMLS_OK);
  }
  CHECK_EQ_INT(pmls_client_close(w), PMLS_OK);
  pmls_table_stats sa, sb;
  CHECK_EQ_INT(pmls_table_stats_of(e, a, &sa), PMLS_OK);
  CHECK_EQ_INT(pmls_table_stats_of(e, b, &sb), PMLS_OK);
  CHECK_EQ_INT(sa.increments, 12);
  CHECK_EQ_INT(sa.reads, 4);
  CHECK_EQ_INT(sb.increments, 4);
  CHECK_EQ_INT(sb.reads, 0);
  CHECK_EQ_INT(sa.staleness_max, 0); /* one worker, BSP: never stale */
  CHECK_EQ_INT(sa.staleness_hist[0], 4);
  CHECK(sa.bytes_sent > 0 && sb.bytes_sent > 0);
  CHECK_EQ_INT(pmls_table_stats_of(e, 2, &sa), PMLS_EINVAL);
  CHECK_STR_CONTAINS(pmls_errmsg(e), "bad table id 2");
  pmls_engine_destroy(e);
}

static void t_engine_defaults(void) {
  pmls_config cfg;
  pmls_config_init(&cfg);
  CHECK_EQ_INT(cfg.workers, 0);
  CHECK_EQ_INT(cfg.staleness, 0);
  CHECK(cfg.metrics_path == NULL && cfg.lua_path == NULL);
  cfg.quiet = 2;
  pmls_engine *e = NULL;
  char err[256];
  CHECK_EQ_INT(pmls_engine_create(&e, &cfg, err, sizeof err), PMLS_OK);
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  CHECK_EQ_INT(pmls_engine_workers(e), cores > 0 ? cores : 1);
  pmls_engine_destroy(e);
  CHECK_EQ_INT(pmls_engine_create(&e, NULL, err, sizeof err), PMLS_OK);
  CHECK(pmls_engine_workers(e) >= 1);
  pmls_engine_destroy(e);
  pmls_table_spec s;
  pmls_table_spec_init(&s);
  CHECK_EQ_INT(s.rows, 1);
  CHECK_EQ_INT(s.cols, 1);
  CHECK_EQ_INT(s.dtype, PMLS_F64);
  CHECK_EQ_INT(s.layout, PMLS_DENSE);
  CHECK_EQ_INT(s.staleness, -1);
  CHECK_EQ_INT(s.init, 0);
}

/* Workers' reports combine per clock (mean or sum, as declared) into one
 * JSON line per completed clock in the metrics file. */
static void t_metrics_file_per_clock(void) {
  char path[] = "/tmp/pmls-engine-metrics-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  pmls_config cfg = config(2, 2);
  cfg.metrics_path = path;
  pmls_engine *e = NULL;
  char err[256];
  int rc = pmls_engine_create(&e, &cfg, err, sizeof err);
  if (rc) unlink(path);
  CHECK_EQ_INT(rc, PMLS_OK);
  CHECK_EQ_INT(pmls_metric_declare(e, "loss", PMLS_AGG_MEAN), PMLS_OK);
  CHECK_EQ_INT(pmls_metric_declare(e, "n", PMLS_AGG_SUM), PMLS_OK);
  CHECK_EQ_INT(pmls_metric_declare(e, "bad name", PMLS_AGG_SUM), PMLS_EINVAL);
  CHECK_STR_CONTAINS(pmls_errmsg(e), "bad metric name");
  CHECK_EQ_INT(pmls_metric_declare(e, "x", (pmls_agg)7), PMLS_EINVAL);
  pmls_client *w[2] = {NULL, NULL};
  for (int i = 0; i < 2; i++) CHECK_EQ_INT(pmls_client_open(e, i, &w[i]), PMLS_OK);
  for (int k = 1; k <= 3; k++)
    for (int i = 0; i < 2; i++) {
      CHECK_EQ_INT(pmls_report(w[i], "loss", k * (i + 1)), PMLS_OK);
      CHECK_EQ_INT(pmls_report(w[i], "n", 10 * (i + 1)), PMLS_OK);
      CHECK_EQ_INT(pmls_clock(w[i]), PMLS_OK);
    }
  for (int i = 0; i < 2; i++) CHECK_EQ_INT(pmls_client_close(w[i]), PMLS_OK);
  pmls_stats st;
  pmls_engine_stats(e, &st);
  pmls_engine_destroy(e);
  FILE *f = fopen(path, "r");
  char text[4096] = "";
  size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
  text[n] = 0;
  if (f) fclose(f);
  unlink(path);
  CHECK_EQ_INT(st.clocks, 3);
  /* loss: mean of k and 2k = 1.5k; n: 10 + 20 */
  static const char *const want[] = {
      "\"clock\":1,", "\"loss\":1.5", "\"clock\":2,", "\"loss\":3,",
      "\"clock\":3,", "\"loss\":4.5", "\"n\":30"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    CHECK_STR_CONTAINS(text, want[i]);
  int lines = 0;
  for (char *p = text; *p; p++) lines += *p == '\n';
  CHECK_EQ_INT(lines, 3);
}

static void t_stats_count_reads_and_increments(void) {
  pmls_engine *e = engine(1, 1);
  CHECK(e != NULL);
  int t = table(e, "t", dense(4, 2, PMLS_F64));
  CHECK(t == 0);
  pmls_stats st;
  CHECK_EQ_INT(pmls_engine_stats(e, &st), PMLS_OK);
  CHECK_EQ_INT(st.rows_read, 0);
  CHECK_EQ_INT(st.rows_incremented, 0);
  CHECK_EQ_INT(st.clocks, 0);
  pmls_client *w = NULL, *h = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &w), PMLS_OK);
  CHECK_EQ_INT(pmls_client_open(e, -1, &h), PMLS_OK);
  double d[2] = {1, 2}, out[2];
  for (int i = 0; i < 7; i++) CHECK_EQ_INT(pmls_inc_dense(w, t, i % 4, d), PMLS_OK);
  for (int i = 0; i < 3; i++) CHECK_EQ_INT(pmls_inc_one(h, t, 0, 0, 1), PMLS_OK);
  for (int i = 0; i < 5; i++) CHECK_EQ_INT(pmls_get_dense(w, t, i % 4, out), PMLS_OK);
  CHECK_EQ_INT(pmls_clock(w), PMLS_OK);
  CHECK_EQ_INT(pmls_clock(w), PMLS_OK);
  CHECK_EQ_INT(pmls_get_dense(h, t, 1, out), PMLS_OK);
  /* failed calls are not counted */
  CHECK_EQ_INT(pmls_get_dense(h, t, 9, out), PMLS_ERANGE);
  CHECK_EQ_INT(pmls_inc_dense(h, t, 9, d), PMLS_ERANGE);
  CHECK_EQ_INT(pmls_client_close(w), PMLS_OK);
  CHECK_EQ_INT(pmls_client_close(h), PMLS_OK);
  CHECK_EQ_INT(pmls_engine_stats(e, &st), PMLS_OK);
  CHECK_EQ_INT(st.rows_incremented, 10);
  CHECK_EQ_INT(st.rows_read, 6);
  CHECK_EQ_INT(st.clocks, 2);
  pmls_engine_destroy(e);
}

/* ---- what a process can open ------------------------------------------- */

static void t_config_check_names_the_limit(void) {
  pmls_config cfg = config(1, 0);
  cfg.procs = 2;
  int sockets = 0, fds = 0;
  char err[512] = "";
  CHECK_EQ_INT(pmls_config_check(&cfg, &sockets, &fds, err, sizeof err), PMLS_OK);
  CHECK(sockets > 0 && fds > sockets);
  int small = sockets;
  cfg.procs = 100;
  CHECK_EQ_INT(pmls_config_check(&cfg, &sockets, NULL, err, sizeof err), PMLS_EINVAL);
  CHECK(sockets > small);
  CHECK(strstr(err, "100 processes of 1 worker each") != NULL);
  CHECK(strstr(err, "nanomsg allows 512") != NULL);
  /* The job it says fits does, and one more process does not. */
  const char *at = strstr(err, "at most -p ");
  CHECK(at != NULL);
  if (!at) return;
  int fit = atoi(at + strlen("at most -p "));
  CHECK(fit > 1 && fit < 100);
  cfg.procs = fit;
  CHECK_EQ_INT(pmls_config_check(&cfg, NULL, NULL, err, sizeof err), PMLS_OK);
  cfg.procs = fit + 1;
  CHECK_EQ_INT(pmls_config_check(&cfg, NULL, NULL, err, sizeof err), PMLS_EINVAL);
  /* More workers per process fit fewer processes. */
  cfg.workers = 8;
  cfg.procs = fit;
  CHECK_EQ_INT(pmls_config_check(&cfg, NULL, NULL, err, sizeof err), PMLS_EINVAL);
  CHECK(strstr(err, "workers each") != NULL);
  /* The engine refuses it too, before opening anything. */
  pmls_engine *e = (pmls_engine *)&cfg;
  cfg.rank = 0;
  cfg.master = "ipc:///nonexistent/pmls-test";
  CHECK_EQ_INT(pmls_engine_create(&e, &cfg, err, sizeof err), PMLS_EINVAL);
  CHECK(e == NULL);
}

/* Out of sockets while a client opens: each step fails with a code and a
 * message, never a NULL client with PMLS_OK (a client whose second push
 * could not be made used to be, and the caller crashed on it). The sweep
 * stays with client opens that run out before their first HELLO: the
 * client's sockets are its reply PULL and one PUSH per shard (client.c),
 * all made before any HELLO; it fails at each of the first SERVERS. An open that gets them all has shards make
 * sockets of their own at its HELLO, and with none left nanomsg itself
 * may crash in their threads (seen: nn_connect and nn_send reaching a
 * bad function pointer in nn_ctx_leave, 1 run in 20 under ASan), as it
 * may abort when sockets run out while an engine's shards are being made
 * (sock.c:1085): what the up-front check (pmls_config_check) is for. So
 * the open that succeeds runs with every socket given back. */
static void t_out_of_sockets_fails_cleanly(void) {
  enum { MAX = 1024, SERVERS = 4 };
  static int held[MAX];
  pmls_config cfg = config(1, SERVERS);
  cfg.timeout_ms = 1000; /* a lost reply is a timeout: keep it short */
  pmls_engine *e = NULL;
  char err[512] = "";
  CHECK_EQ_INT(pmls_engine_create(&e, &cfg, err, sizeof err), PMLS_OK);
  if (!e) return;
  /* The engine's own control client said HELLO at create, and a shard that
   * takes it while the sockets are gone cannot answer and ends the run. A
   * worker's open and close first, acknowledged by every shard, comes after
   * it on each shard in time. */
  pmls_client *w = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &w), PMLS_OK);
  if (w) CHECK_EQ_INT(pmls_client_close(w), PMLS_OK);
  /* Up to one short of the client's 1 + SERVERS: the engine's own threads
   * may give a socket back meanwhile (a lingering one closed), and an open
   * that then got them all would reach its HELLOs. */
  for (int spare = 0; spare < SERVERS; spare++) {
    int n = 0;
    while (n < MAX && (held[n] = nn_socket(AF_SP, NN_PUSH)) >= 0) n++;
    for (int i = 0; i < spare && n > 0; i++) nn_close(held[--n]);
    w = NULL;
    int rc = pmls_client_open(e, 0, &w);
    CHECK(rc != PMLS_OK);
    CHECK(w == NULL);
    CHECK(pmls_errmsg(e)[0] != 0);
    if (w) pmls_client_close(w);
    while (n > 0) nn_close(held[--n]);
  }
  /* With the sockets back, the same worker opens (no failed open took it). */
  w = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &w), PMLS_OK);
  CHECK(w != NULL);
  if (w) CHECK_EQ_INT(pmls_client_close(w), PMLS_OK);
  pmls_engine_destroy(e);
}

static const th_case cases[] = {
    {"engine create rejects bad config values with a message", t_engine_create_rejects_bad_config},
    {"engine basics: version, strerror, dtype sizes, accessors", t_engine_basics},
    {"table_create errors name the problem", t_table_create_errors},
    {"table registry: find, spec_of, count, name", t_table_registry},
    {"uniform init is reproducible from the seed", t_table_init_reproducible},
    {"defaults: config, table spec, one worker per core", t_engine_defaults},
    {"metrics file: one line per clock, mean and sum over workers", t_metrics_file_per_clock},
    {"stats count rows read and incremented after close", t_stats_count_reads_and_increments},
    {"per-table stats: reads, increments, staleness", t_table_stats},
    {"config check: the sockets a job needs, the limit, what fits", t_config_check_names_the_limit},
    {"out of sockets: a client open fails with a code, never a NULL client", t_out_of_sockets_fails_cleanly},
};

TH_MAIN(cases)
