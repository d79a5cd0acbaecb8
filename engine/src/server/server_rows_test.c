/* server_rows_test.c -- what the shards must get right beyond bad input:
 * rows larger than nanomsg's default 1 MiB receive limit over ipc:// and
 * tcp://, exact; a table declared twice with different shapes (by a fake
 * client, and by two ranks) refused naming it; rows spread evenly over the
 * shards whatever their ids. */
#include "server_fake.h"

/* ---- rows over 1 MiB through ipc:// and tcp:// ---------------------------- */

static int free_tcp_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *x;
  while ((x = readdir(d)) != NULL) {
    if (!strcmp(x->d_name, ".") || !strcmp(x->d_name, "..")) continue;
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, x->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

enum { BIG_COLS = 300000, BIG_PAIRS = 150000 };

/* Counts the elements of got that differ from want, and notes the first. */
static int64_t mismatches(const double *got, const double *want, int64_t n,
                          int64_t *first) {
  int64_t bad = 0;
  *first = -1;
  for (int64_t j = 0; j < n; j++) {
    if (got[j] != want[j]) {
      if (*first < 0) *first = j;
      bad++;
    }
  }
  return bad;
}

#define CHECK_ROW(got, want, n)                                                \
  do {                                                                         \
    int64_t first_;                                                            \
    int64_t bad_ = mismatches(got, want, n, &first_);                          \
    if (bad_) {                                                                \
      th_fail(__FILE__, __LINE__, "%s: %lld of %lld elements differ, first at "\
              "%lld: %.17g != %.17g", #got, (long long)bad_, (long long)(n),   \
              (long long)first_, got[first_], want[first_]);                   \
      return;                                                                  \
    }                                                                          \
  } while (0)

static void big_rows_on(pmls_engine *e, const char *scheme) {
  CHECK(strncmp(e->server_addr[0], scheme, strlen(scheme)) == 0);
  int t = table(e, "big", spec_of(2, BIG_COLS, PMLS_DENSE));
  int sp = table(e, "bigsp", spec_of(1, 2 * BIG_PAIRS, PMLS_SPARSE));
  CHECK_EQ_INT(t, 0);
  CHECK_EQ_INT(sp, 1);
  double *delta = malloc(BIG_COLS * sizeof *delta);
  double *want = malloc(BIG_COLS * sizeof *want);
  double *got = malloc(BIG_COLS * sizeof *got);
  int32_t *keys = malloc(BIG_PAIRS * sizeof *keys);
  double *vals = malloc(BIG_PAIRS * sizeof *vals);
  int32_t *got_keys = malloc(BIG_PAIRS * sizeof *got_keys);
  double *got_vals = malloc(BIG_PAIRS * sizeof *got_vals);
  CHECK(delta && want && got && keys && vals && got_keys && got_vals);
  for (int j = 0; j < BIG_COLS; j++) delta[j] = j + 0.25;
  for (int k = 0; k < BIG_PAIRS; k++) {
    keys[k] = 2 * k + 1;
    vals[k] = -k - 0.5;
  }
  pmls_client *w = NULL, *h = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &w), PMLS_OK);
  CHECK_EQ_INT(pmls_client_open(e, -1, &h), PMLS_OK);
  /* A worker: one 2.4 MB OPLOG, then 2.4 MB ROW replies. */
  CHECK_OK(w, pmls_inc_dense(w, t, 1, delta));
  CHECK_OK(w, pmls_clock(w));
  CHECK_OK(w, pmls_get_dense(w, t, 1, got));
  CHECK_ROW(got, delta, BIG_COLS);
  CHECK_OK(h, pmls_get_dense(h, t, 1, got));
  CHECK_ROW(got, delta, BIG_COLS);
  CHECK_OK(w, pmls_inc_dense(w, t, 1, delta));
  CHECK_OK(w, pmls_clock(w));
  for (int j = 0; j < BIG_COLS; j++) want[j] = 2 * delta[j];
  memset(got, 0, BIG_COLS * sizeof *got);
  CHECK_OK(w, pmls_get_dense(w, t, 1, got)); /* refetched: a newer clock */
  CHECK_ROW(got, want, BIG_COLS);
  /* A host client: its increments reach the shard when it closes. */
  CHECK_OK(h, pmls_inc_dense(h, t, 0, delta));
  CHECK_OK(h, pmls_inc_pairs(h, sp, 0, BIG_PAIRS, keys, vals));
  CHECK_OK(h, pmls_client_close(h));
  h = NULL;
  CHECK_EQ_INT(pmls_client_open(e, -1, &h), PMLS_OK);
  memset(got, 0, BIG_COLS * sizeof *got);
  CHECK_OK(h, pmls_get_dense(h, t, 0, got));
  CHECK_ROW(got, delta, BIG_COLS);
  int64_t n = -1;
  CHECK_OK(h, pmls_get_sparse(h, sp, 0, got_keys, got_vals, BIG_PAIRS, &n));
  CHECK_EQ_INT(n, BIG_PAIRS);
  /* Keys come back in any order: index them by key. */
  for (int64_t k = 0; k < n; k++) {
    int32_t key = got_keys[k];
    CHECK(key >= 1 && key < 2 * BIG_PAIRS && key % 2 == 1);
    CHECK_EQ_DBL(got_vals[k], vals[(key - 1) / 2]);
  }
  CHECK_OK(w, pmls_get_dense(w, t, 0, got));
  CHECK_ROW(got, delta, BIG_COLS);
  CHECK_OK(w, pmls_client_close(w));
  CHECK_OK(h, pmls_client_close(h));
  free(delta);
  free(want);
  free(got);
  free(keys);
  free(vals);
  free(got_keys);
  free(got_vals);
}

static void t_rows_over_1mib_ipc_and_tcp(void) {
  static const char *const schemes[] = {"ipc://", "tcp://"};
  for (int i = 0; i < 2; i++) {
    char dir[128], master[PMI_ADDR_MAX];
    dir[0] = 0;
    if (i == 0) {
      snprintf(dir, sizeof dir, "/tmp/pmls-test-%d", (int)getpid());
      remove_dir(dir);
      CHECK(mkdir(dir, 0700) == 0);
      snprintf(master, sizeof master, "ipc://%s/m", dir);
    } else {
      int port = free_tcp_port();
      CHECK(port > 0);
      snprintf(master, sizeof master, "tcp://127.0.0.1:%d", port);
    }
    pmls_config cfg = config(1, 1);
    cfg.procs = 1;
    cfg.rank = 0;
    cfg.master = master;
    pmls_engine *e = engine_of(cfg);
    if (e) {
      big_rows_on(e, schemes[i]);
      pmls_engine_destroy(e);
    }
    if (dir[0]) remove_dir(dir);
    if (!e) th_fail(__FILE__, __LINE__, "no engine at %s", master);
    if (th_failed()) return;
  }
}

/* ---- a table declared twice with different shapes ------------------------ */


static void t_table_redeclared_with_another_shape(void) {
  pmls_engine *e = engine_of(config(1, 2));
  CHECK(e != NULL);
  pmls_table_spec w4 = spec_of(4, 4, PMLS_DENSE);
  int t = table(e, "w", w4);
  CHECK_EQ_INT(t, 0);
  fake f;
  CHECK(fake_open(&f, e, FAKE_ID, 1) == 0);
  pmls_table_spec cols8 = w4, f32 = w4, rows5 = w4, sparse = w4, stale = w4;
  cols8.cols = 8;
  f32.dtype = PMLS_F32;
  rows5.rows = 5;
  sparse.layout = PMLS_SPARSE;
  stale.staleness = 3;
  const char *other = "table 0 is 'w' here, but client 1000 declares it as "
                      "'w' with another shape";
  const struct {
    const char *what;
    int id;
    const char *name;
    pmls_table_spec spec;
    int type, code;
    const char *says;
  } rows[] = {
      {"the same declaration again", 0, "w", w4, PMI_MSG_ACK, 0, NULL},
      {"more columns", 0, "w", cols8, PMI_MSG_ERR, PMLS_EINVAL, other},
      {"another dtype", 0, "w", f32, PMI_MSG_ERR, PMLS_EINVAL, other},
      {"more rows", 0, "w", rows5, PMI_MSG_ERR, PMLS_EINVAL, other},
      {"sparse", 0, "w", sparse, PMI_MSG_ERR, PMLS_EINVAL, other},
      {"another staleness", 0, "w", stale, PMI_MSG_ERR, PMLS_EINVAL, other},
      {"another name", 0, "v", w4, PMI_MSG_ERR, PMLS_EINVAL,
       "table 0 is 'w' here, but client 1000 declares it as 'v'"},
      {"no name", 0, NULL, w4, PMI_MSG_ERR, PMLS_EPROTO,
       "malformed TABLE message"},
      {"table id past the limit", PMI_MAX_TABLES, "w", w4, PMI_MSG_ERR,
       PMLS_EPROTO, "malformed TABLE message"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    for (int s = 0; s < 2; s++) {
      table_msg(&f, rows[i].id, rows[i].name, rows[i].spec);
      CHECK_EQ_INT(fake_send(&f, s), PMLS_OK);
      reply r;
      fake_recv(&f, &r, 0, 3000);
      char prefix[32];
      snprintf(prefix, sizeof prefix, "server %d: ", s);
      int ok = r.type == rows[i].type &&
               (r.type == PMI_MSG_ACK
                    ? r.what == PMI_MSG_TABLE
                    : r.code == rows[i].code &&
                          strncmp(r.msg, prefix, strlen(prefix)) == 0 &&
                          strstr(r.msg, rows[i].says) != NULL);
      if (!ok) {
        th_fail(__FILE__, __LINE__, "TABLE %s at shard %d: want %s%s%s%s, got "
                "%s \"%s\"", rows[i].what, s, pmi_msg_type_name(rows[i].type),
                rows[i].says ? " \"" : "", rows[i].says ? rows[i].says : "",
                rows[i].says ? "\"" : "", r.type ? pmi_msg_type_name(r.type)
                : "nothing", r.msg);
        return;
      }
    }
  }
  fake_close(&f);
  /* The table keeps its first shape: 4 columns on both shards. */
  pmls_client *w = NULL, *h = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &w), PMLS_OK);
  CHECK_EQ_INT(pmls_client_open(e, -1, &h), PMLS_OK);
  for (int64_t row = 0; row < 4; row++) {
    double expect[4] = {0, 0, 0, 0};
    check_serves(w, h, t, row, 4, expect, 3, 2.5);
    if (th_failed()) return;
  }
  CHECK_OK(w, pmls_client_close(w));
  CHECK_OK(h, pmls_client_close(h));
  pmls_engine_destroy(e);
}

/* Two ranks of one job (two engines of this process, over ipc://) declare
 * the same table with different shapes: the second is refused naming it. */
typedef struct {
  pmls_config cfg;
  pmls_engine *e;
  int rc;
  char err[512];
} rank_arg;

static void *create_rank(void *p) {
  rank_arg *a = p;
  a->rc = pmls_engine_create(&a->e, &a->cfg, a->err, sizeof a->err);
  return NULL;
}

static void *destroy_rank(void *p) {
  pmls_engine_destroy(((rank_arg *)p)->e);
  return NULL;
}

static void t_two_ranks_disagree_on_a_table(void) {
  char dir[128], master[PMI_ADDR_MAX];
  snprintf(dir, sizeof dir, "/tmp/pmls-test-%d-ranks", (int)getpid());
  remove_dir(dir);
  CHECK(mkdir(dir, 0700) == 0);
  snprintf(master, sizeof master, "ipc://%s/m", dir);
  rank_arg r[2];
  for (int k = 0; k < 2; k++) {
    memset(&r[k], 0, sizeof r[k]);
    r[k].cfg = config(1, 2);
    r[k].cfg.procs = 2;
    r[k].cfg.rank = k;
    r[k].cfg.master = master;
  }
  pthread_t th;
  CHECK(pthread_create(&th, NULL, create_rank, &r[1]) == 0);
  create_rank(&r[0]);
  pthread_join(th, NULL);
  int rc0 = -1, rc1 = -1, rc1_again = -1;
  char msg1[1024] = "", msg1_again[1024] = "";
  if (r[0].rc == PMLS_OK && r[1].rc == PMLS_OK) {
    pmls_table_spec s4 = spec_of(4, 4, PMLS_DENSE), s8 = spec_of(4, 8, PMLS_DENSE);
    rc0 = pmls_table_create(r[0].e, "w", &s4, NULL);
    rc1 = pmls_table_create(r[1].e, "w", &s8, NULL);
    snprintf(msg1, sizeof msg1, "%s", pmls_errmsg(r[1].e));
    /* Declared as rank 0 has it, the table is accepted after all. */
    rc1_again = pmls_table_create(r[1].e, "w", &s4, NULL);
    snprintf(msg1_again, sizeof msg1_again, "%s", pmls_errmsg(r[1].e));
  }
  int have[2] = {r[0].rc == PMLS_OK, r[1].rc == PMLS_OK};
  if (have[0] && have[1]) {
    CHECK(pthread_create(&th, NULL, destroy_rank, &r[1]) == 0);
    pmls_engine_destroy(r[0].e);
    pthread_join(th, NULL);
  } else {
    for (int k = 0; k < 2; k++)
      if (have[k]) pmls_engine_destroy(r[k].e);
  }
  remove_dir(dir);
  if (!have[0] || !have[1]) {
    th_fail(__FILE__, __LINE__, "cannot start two ranks: \"%s\" / \"%s\"",
            r[0].err, r[1].err);
    return;
  }
  CHECK_EQ_INT(rc0, PMLS_OK);
  CHECK_EQ_INT(rc1, PMLS_EINVAL);
  CHECK_STR_CONTAINS(msg1, "table 0 is 'w' here");
  CHECK_STR_CONTAINS(msg1, "declares it as 'w' with another shape");
  if (rc1_again != PMLS_OK)
    th_fail(__FILE__, __LINE__, "rank 1 declaring 'w' as rank 0 has it after "
            "a refusal: want PMLS_OK, got %d \"%s\"", rc1_again, msg1_again);
}

/* ---- the cases ------------------------------------------------------------ */

/* ---- sharding ------------------------------------------------------------ */

/* Rows must spread evenly over the shards whatever their ids: consecutive,
 * strided by the shard count or a power of two, huge, or clustered. Each
 * shard's count must stay within 6 standard deviations of n/K (a binomial
 * spread), which an id-modulo sharding fails at once on strided ids. */
static void t_rows_spread_evenly_over_shards(void) {
  static const int ks[] = {2, 3, 7, 16};
  static const struct {
    const char *name;
    int64_t start, stride;
  } patterns[] = {{"consecutive", 0, 1},          {"stride K", 0, -1},
                  {"stride 1024", 0, 1024},        {"stride 2^32", 0, 1LL << 32},
                  {"near 2^40", 1LL << 40, 1},     {"stride 7919", 123, 7919}};
  const int64_t n = 20000;
  for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
    pmls_engine layout;
    memset(&layout, 0, sizeof layout);
    layout.servers = ks[ki];
    for (size_t pi = 0; pi < sizeof patterns / sizeof patterns[0]; pi++) {
      int64_t count[16] = {0};
      int64_t stride = patterns[pi].stride < 0 ? ks[ki] : patterns[pi].stride;
      for (int table = 0; table < 2; table++) {
        memset(count, 0, sizeof count);
        for (int64_t i = 0; i < n; i++) {
          int s = pmi_shard_of(&layout, table, patterns[pi].start + i * stride);
          CHECK(s >= 0 && s < ks[ki]);
          count[s]++;
        }
        double mean = (double)n / ks[ki];
        double sd = sqrt(mean * (1.0 - 1.0 / ks[ki]));
        for (int s = 0; s < ks[ki]; s++) {
          if (fabs((double)count[s] - mean) <= 6 * sd) continue;
          th_fail(__FILE__, __LINE__, "%s ids, K=%d, table %d: shard %d holds "
                  "%lld of %lld rows (expected %.0f +- %.0f)",
                  patterns[pi].name, ks[ki], table, s, (long long)count[s],
                  (long long)n, mean, 6 * sd);
          return;
        }
      }
    }
  }
}

static const th_case cases[] = {
    {"rows spread evenly over shards whatever their ids", t_rows_spread_evenly_over_shards},
    {"rows over 1 MiB over ipc:// and tcp://, exact", t_rows_over_1mib_ipc_and_tcp},
    {"a table redeclared with another shape is refused naming it", t_table_redeclared_with_another_shape},
    {"two ranks declaring a table differently: refused naming it", t_two_ranks_disagree_on_a_table},
};

TH_MAIN(cases)
