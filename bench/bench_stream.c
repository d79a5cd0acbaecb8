/* bench_stream.c -- streaming row increments to a server shard, against raw
 * nanomsg PUSH/PULL carrying the same bytes.
 *
 * What it measures: the write path of a worker end to end. One worker client
 * increments every row of a dense float64 table once (pmls_inc_dense: into
 * the oplog, which flushes itself, in OPLOG batches of about 1 MiB, whenever
 * it holds 8 MiB), then calls pmls_barrier: clock() sends what is left and a
 * CLOCK, and the barrier returns only when the shard has acknowledged that
 * clock, so every increment has been applied by then (a shard handles one
 * worker's messages in order). 64 MiB of row data per repeat. The
 * reference, timed in the same run and interleaved with it, is nanomsg
 * alone: a PUSH socket sends the same number of messages with the same total
 * bytes (taken from the engine's own traffic counters, pmls_engine_stats) to
 * a PULL socket (NN_RCVMAXSIZE -1) whose thread counts them and answers with
 * a small acknowledgement at the end. ratio = raw time / engine time
 * (= engine throughput / raw throughput); the target is >= 0.7.
 *
 * Transport: the engine is asked for ipc:// through pmls_config.master (one
 * process, rank 0 of 1). Whether it really bound ipc sockets is checked from
 * /proc (the sockets this process holds); the raw reference uses the
 * transport the engine actually used, and the result names it, so an engine
 * that still ignores `master` is compared with inproc and says so. Two row
 * widths: 32 doubles (like mf_sgd's rank-32 rows: per-row costs dominate) and
 * 1024 (8 KiB rows: bytes dominate); each is a summary row.
 *
 * Then the cost of authenticated tcp (issue 14, target >= 0.8): the same
 * rounds on a tcp engine with a secret against one without (run_auth). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>

#include "common.h"

#define PAYLOAD_BYTES (64 << 20)

/* ---- the raw reference --------------------------------------------------- */

typedef struct {
  int pull, ack;      /* the receiver's sockets */
  int64_t per_round;  /* messages that make one repeat */
  int rounds;         /* repeats to serve before exiting */
  int64_t bytes_seen;
} receiver;

static void *receiver_main(void *arg) {
  receiver *r = arg;
  for (int round = 0; round < r->rounds; round++) {
    for (int64_t m = 0; m < r->per_round; m++) {
      void *p = NULL;
      int n = nn_recv(r->pull, &p, NN_MSG, 0);
      if (n < 0) bench_die("raw receiver: %s", nn_strerror(nn_errno()));
      r->bytes_seen += n;
      nn_freemsg(p);
    }
    char ok = 'k';
    if (nn_send(r->ack, &ok, 1, 0) != 1)
      bench_die("raw receiver ack: %s", nn_strerror(nn_errno()));
  }
  return NULL;
}

static int raw_sock(int type, const char *addr, int bind) {
  int s = nn_socket(AF_SP, type);
  if (s < 0) bench_die("nn_socket: %s", nn_strerror(nn_errno()));
  int unlimited = -1;
  if (type == NN_PULL &&
      nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVMAXSIZE, &unlimited,
                    sizeof unlimited) < 0)
    bench_die("NN_RCVMAXSIZE: %s", nn_strerror(nn_errno()));
  if ((bind ? nn_bind(s, addr) : nn_connect(s, addr)) < 0)
    bench_die("%s %s: %s", bind ? "bind" : "connect", addr,
              nn_strerror(nn_errno()));
  return s;
}

/* One repeat of the reference: k messages, their sizes as the engine's. */
static double raw_round(int push, int ack_pull, const unsigned char *buf,
                        int64_t k, const size_t *sizes) {
  double t = bench_now();
  for (int64_t m = 0; m < k; m++)
    if (nn_send(push, buf, sizes[m], 0) < 0)
      bench_die("raw send: %s", nn_strerror(nn_errno()));
  char okb;
  if (nn_recv(ack_pull, &okb, 1, 0) != 1)
    bench_die("raw ack: %s", nn_strerror(nn_errno()));
  return bench_now() - t;
}

/* ---- the engine ---------------------------------------------------------- */

static double engine_round(pmls_client *c, int table, int64_t rows,
                           const double *delta) {
  double t = bench_now();
  for (int64_t r = 0; r < rows; r++)
    BENCH_CLIENT_OK(c, pmls_inc_dense(c, table, r, delta));
  BENCH_CLIENT_OK(c, pmls_barrier(c));
  return bench_now() - t;
}

typedef struct {
  int cols;
  int64_t rows;
  int ipc;             /* the engine really used ipc sockets */
  char transport[16];
  int64_t msgs;        /* OPLOG messages per repeat */
  int64_t bytes;       /* their bytes */
  double ratio, t_raw, t_eng;
  double *ratios;
} result;

static void run_width(int cols, int R, int serial, result *res) {
  memset(res, 0, sizeof *res);
  res->cols = cols;
  res->rows = PAYLOAD_BYTES / ((int64_t)cols * 8);
  res->ratios = calloc((size_t)R, sizeof(double));
  double *t_raw = calloc((size_t)R, sizeof(double));
  double *t_eng = calloc((size_t)R, sizeof(double));

  char master[256], rawp[256];
  bench_ipc_master(serial, master, sizeof master);
  snprintf(rawp, sizeof rawp, "%s/raw%d", bench_ipc_dir(), serial);
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = 1;
  cfg.servers = 1;
  cfg.quiet = 2;
  cfg.procs = 1;
  cfg.rank = 0;
  cfg.master = master;
  pmls_engine *e = bench_engine(&cfg);
  pmls_table_spec spec;
  pmls_table_spec_init(&spec);
  spec.rows = res->rows;
  spec.cols = cols;
  spec.dtype = PMLS_F64;
  spec.staleness = 0;
  int table;
  BENCH_ENGINE_OK(e, pmls_table_create(e, "stream", &spec, &table));
  pmls_client *c = NULL;
  BENCH_ENGINE_OK(e, pmls_client_open(e, 0, &c));
  double *delta = malloc((size_t)cols * sizeof *delta);
  for (int j = 0; j < cols; j++) delta[j] = 1e-6 * (double)(j + 1);

  /* Warm-up (allocates the shard's rows) and the traffic of one repeat. */
  engine_round(c, table, res->rows, delta);
  pmls_stats s0, s1;
  BENCH_ENGINE_OK(e, pmls_engine_stats(e, &s0));
  engine_round(c, table, res->rows, delta);
  BENCH_ENGINE_OK(e, pmls_engine_stats(e, &s1));
  char path[256];
  res->ipc = bench_own_unix_paths(rawp, path, sizeof path) > 0;
  snprintf(res->transport, sizeof res->transport, "%s",
           res->ipc ? "ipc" : "inproc");
  /* The shard received the OPLOG batches, then a CLOCK and a WAIT (small:
   * their bytes are left in, a few dozen in megabytes). */
  res->msgs = (s1.messages_received - s0.messages_received) - 2;
  res->bytes = s1.bytes_received - s0.bytes_received;
  if (res->msgs < 1) bench_die("stream: the engine sent no OPLOG message");
  size_t *sizes = malloc((size_t)res->msgs * sizeof *sizes);
  size_t each = (size_t)(res->bytes / res->msgs);
  for (int64_t m = 0; m < res->msgs; m++) sizes[m] = each;
  sizes[res->msgs - 1] += (size_t)(res->bytes - (int64_t)each * res->msgs);
  unsigned char *buf = malloc(sizes[res->msgs - 1]);
  memset(buf, 0x5a, sizes[res->msgs - 1]);

  char a_data[300], a_ack[300];
  if (res->ipc) {
    snprintf(a_data, sizeof a_data, "ipc://%s-data", rawp);
    snprintf(a_ack, sizeof a_ack, "ipc://%s-ack", rawp);
  } else {
    snprintf(a_data, sizeof a_data, "inproc://bench-raw%d-data", serial);
    snprintf(a_ack, sizeof a_ack, "inproc://bench-raw%d-ack", serial);
  }
  receiver rv = {.per_round = res->msgs, .rounds = R + 1};
  rv.pull = raw_sock(NN_PULL, a_data, 1);
  int ack_pull = raw_sock(NN_PULL, a_ack, 1);
  rv.ack = raw_sock(NN_PUSH, a_ack, 0);
  int push = raw_sock(NN_PUSH, a_data, 0);
  pthread_t th;
  if (pthread_create(&th, NULL, receiver_main, &rv))
    bench_die("cannot start the receiver thread");
  raw_round(push, ack_pull, buf, res->msgs, sizes); /* warm-up */

  for (int r = 0; r < R; r++) {
    if (r % 2 == 0) {
      t_raw[r] = raw_round(push, ack_pull, buf, res->msgs, sizes);
      t_eng[r] = engine_round(c, table, res->rows, delta);
    } else {
      t_eng[r] = engine_round(c, table, res->rows, delta);
      t_raw[r] = raw_round(push, ack_pull, buf, res->msgs, sizes);
    }
    res->ratios[r] = t_raw[r] / t_eng[r];
  }
  pthread_join(th, NULL);
  if (rv.bytes_seen != (int64_t)(R + 1) * res->bytes)
    bench_die("raw receiver saw %lld bytes, expected %lld",
              (long long)rv.bytes_seen, (long long)(R + 1) * res->bytes);
  nn_close(push);
  nn_close(rv.pull);
  nn_close(rv.ack);
  nn_close(ack_pull);

  /* Every increment arrived exactly once: row 0 holds (R + 2) deltas. */
  BENCH_CLIENT_OK(c, pmls_client_close(c));
  pmls_client *h = NULL;
  BENCH_ENGINE_OK(e, pmls_client_open(e, -1, &h));
  double *row = malloc((size_t)cols * sizeof *row);
  BENCH_CLIENT_OK(h, pmls_get_dense(h, table, res->rows - 1, row));
  double want = (double)(R + 2) * delta[cols - 1];
  if (row[cols - 1] < want * (1 - 1e-9) || row[cols - 1] > want * (1 + 1e-9))
    bench_die("stream: row holds %.17g, expected %.17g", row[cols - 1], want);
  BENCH_CLIENT_OK(h, pmls_client_close(h));
  pmls_engine_destroy(e);

  res->ratio = bench_median(res->ratios, R);
  res->t_raw = bench_median(t_raw, R);
  res->t_eng = bench_median(t_eng, R);
  free(row);
  free(sizes);
  free(buf);
  free(delta);
  free(t_raw);
  free(t_eng);
}

/* ---- the cost of authentication (tcp) ------------------------------------
 *
 * Two one-process engines on tcp://127.0.0.1, the same tables and rounds,
 * timed interleaved: one without a secret (in a child process), one with
 * (every message sealed and checked, net/auth.c). ratio =
 * unauthenticated time / authenticated time. */

static int free_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t n = sizeof a;
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 ||
      getsockname(s, (struct sockaddr *)&a, &n) < 0)
    bench_die("no free tcp port: %s", strerror(errno));
  close(s);
  return ntohs(a.sin_port);
}

typedef struct {
  pmls_engine *e;
  pmls_client *c;
  int table[2];
} tcp_engine;

static void tcp_engine_open(tcp_engine *t, const int *widths, int nw,
                            const void *secret, size_t secret_len) {
  char master[64];
  snprintf(master, sizeof master, "tcp://127.0.0.1:%d", free_port());
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = 1;
  cfg.servers = 1;
  cfg.quiet = 2;
  cfg.procs = 1;
  cfg.master = master;
  cfg.secret = secret;
  cfg.secret_len = secret_len;
  t->e = bench_engine(&cfg);
  for (int w = 0; w < nw; w++) {
    pmls_table_spec spec;
    pmls_table_spec_init(&spec);
    spec.rows = PAYLOAD_BYTES / ((int64_t)widths[w] * 8);
    spec.cols = widths[w];
    spec.dtype = PMLS_F64;
    spec.staleness = 0;
    char name[32];
    snprintf(name, sizeof name, "stream%d", widths[w]);
    BENCH_ENGINE_OK(t->e, pmls_table_create(t->e, name, &spec, &t->table[w]));
  }
  BENCH_ENGINE_OK(t->e, pmls_client_open(t->e, 0, &t->c));
}

typedef struct {
  int cols;
  double ratio, t_plain, t_auth;
  int64_t dropped;
  double *ratios;
} auth_result;

/* The unauthenticated engine runs in a child process, forked before this
 * one makes any socket: a process serves one tcp job, and once a secret is
 * set every tcp socket it makes is authenticated. The two take turns, one
 * round each, over a pipe: the parent names the width, the child answers
 * with its round's time. */
static void plain_child(const int *widths, int nw, int cmd, int ans) {
  tcp_engine plain;
  tcp_engine_open(&plain, widths, nw, NULL, 0);
  unsigned char w;
  while (read(cmd, &w, 1) == 1 && w < nw) {
    int64_t rows = PAYLOAD_BYTES / ((int64_t)widths[w] * 8);
    double *delta = malloc((size_t)widths[w] * sizeof *delta);
    for (int j = 0; j < widths[w]; j++) delta[j] = 1e-6 * (double)(j + 1);
    double t = engine_round(plain.c, plain.table[w], rows, delta);
    free(delta);
    if (write(ans, &t, sizeof t) != (ssize_t)sizeof t) break;
  }
  BENCH_CLIENT_OK(plain.c, pmls_client_close(plain.c));
  pmls_engine_destroy(plain.e);
  _exit(0);
}

static double plain_round(int cmd, int ans, int w) {
  unsigned char c = (unsigned char)w;
  double t;
  if (write(cmd, &c, 1) != 1 || read(ans, &t, sizeof t) != (ssize_t)sizeof t)
    bench_die("tcp+auth: the unauthenticated engine's process is gone");
  return t;
}

static void run_auth(const int *widths, int nw, int R, auth_result *out) {
  static const char secret[] = "bench_stream: the secret of its tcp+auth engine";
  int to_child[2], from_child[2];
  if (pipe(to_child) || pipe(from_child)) bench_die("pipe: %s", strerror(errno));
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) bench_die("fork: %s", strerror(errno));
  if (pid == 0) {
    close(to_child[1]);
    close(from_child[0]);
    plain_child(widths, nw, to_child[0], from_child[1]);
  }
  close(to_child[0]);
  close(from_child[1]);
  int cmd = to_child[1], ans = from_child[0];
  tcp_engine auth;
  tcp_engine_open(&auth, widths, nw, secret, sizeof secret);
  for (int w = 0; w < nw; w++) {
    int cols = widths[w];
    int64_t rows = PAYLOAD_BYTES / ((int64_t)cols * 8);
    double *delta = malloc((size_t)cols * sizeof *delta);
    for (int j = 0; j < cols; j++) delta[j] = 1e-6 * (double)(j + 1);
    double *tp = calloc((size_t)R, sizeof(double));
    double *ta = calloc((size_t)R, sizeof(double));
    auth_result *r = &out[w];
    r->cols = cols;
    r->ratios = calloc((size_t)R, sizeof(double));
    plain_round(cmd, ans, w); /* warm-up */
    engine_round(auth.c, auth.table[w], rows, delta);
    for (int k = 0; k < R; k++) {
      if (k % 2 == 0) {
        tp[k] = plain_round(cmd, ans, w);
        ta[k] = engine_round(auth.c, auth.table[w], rows, delta);
      } else {
        ta[k] = engine_round(auth.c, auth.table[w], rows, delta);
        tp[k] = plain_round(cmd, ans, w);
      }
      r->ratios[k] = tp[k] / ta[k];
    }
    r->ratio = bench_median(r->ratios, R);
    r->t_plain = bench_median(tp, R);
    r->t_auth = bench_median(ta, R);
    free(tp);
    free(ta);
    free(delta);
  }
  unsigned char quit = 255;
  if (write(cmd, &quit, 1) != 1) bench_die("tcp+auth: child gone");
  close(cmd);
  close(ans);
  int st;
  waitpid(pid, &st, 0);
  pmls_stats stats;
  BENCH_ENGINE_OK(auth.e, pmls_engine_stats(auth.e, &stats));
  for (int w = 0; w < nw; w++) out[w].dropped = stats.messages_dropped;
  BENCH_CLIENT_OK(auth.c, pmls_client_close(auth.c));
  pmls_engine_destroy(auth.e);
}

int main(void) {
  const int R = bench_repeats();
  const int widths[] = {32, 1024};
  enum { NW = 2 };
  result res[NW];
  auth_result ares[NW];
  run_auth(widths, NW, R, ares); /* first: it forks */
  for (int w = 0; w < NW; w++) run_width(widths[w], R, w, &res[w]);
  bench_ipc_cleanup();
  for (int w = 0; w < NW; w++) {
    auth_result *a = &ares[w];
    if (a->dropped) bench_die("tcp+auth: %lld messages dropped",
                              (long long)a->dropped);
    const char *verdict = bench_verdict(a->ratio, ">=", 0.8);
    char name[80], note[200];
    snprintf(name, sizeof name, "stream_inc tcp+auth cols=%d", a->cols);
    snprintf(note, sizeof note, "authenticated %.1f ms, unauthenticated %.1f "
             "ms per 64 MiB", a->t_auth * 1e3, a->t_plain * 1e3);
    printf("%-34s ratio %.3f (tcp %.1f ms / tcp+auth %.1f ms) target >= 0.8 "
           "%s\n", name, a->ratio, a->t_plain * 1e3, a->t_auth * 1e3, verdict);
    bench_summary(name, a->ratio, ">=", 0.8, verdict, note);
  }

  bench_json j;
  bj_open(&j, "stream_inc");
  bj_str(&j, "name", "stream_inc");
  bj_str(&j, "what", "worker inc_dense over every row + barrier (all "
                     "applied) vs raw nanomsg PUSH/PULL, same messages");
  bj_str(&j, "op", ">=");
  bj_num(&j, "target", 0.7);
  bj_int(&j, "repeats", R);
  bj_int(&j, "payload_bytes", PAYLOAD_BYTES);
  bj_str(&j, "headline", "cols=1024");
  bj_begin(&j, "sizes", '[');
  double headline = NAN;
  for (int w = 0; w < NW; w++) {
    result *r = &res[w];
    const char *verdict = bench_verdict(r->ratio, ">=", 0.7);
    double eng_gbs = (double)r->bytes / r->t_eng / 1e9;
    double raw_gbs = (double)r->bytes / r->t_raw / 1e9;
    if (r->cols == 1024) headline = r->ratio;
    char name[80], note[200];
    snprintf(name, sizeof name, "stream_inc %s cols=%d", r->transport, r->cols);
    snprintf(note, sizeof note, "%.2f GB/s engine, %.2f GB/s raw%s", eng_gbs,
             raw_gbs, r->ipc ? "" : "; engine ignored master: not ipc");
    printf("%-34s ratio %.3f (raw %.1f ms / engine %.1f ms for %lld msgs, "
           "%.1f MiB; %.2f vs %.2f GB/s) target >= 0.7 %s%s\n",
           name, r->ratio, r->t_raw * 1e3, r->t_eng * 1e3, (long long)r->msgs,
           (double)r->bytes / 1048576.0, eng_gbs, raw_gbs, verdict,
           r->ipc ? "" : " [engine on inproc: ipc not verified]");
    bench_summary(name, r->ratio, ">=", 0.7, verdict, note);
    bj_begin(&j, NULL, '{');
    bj_int(&j, "cols", r->cols);
    bj_int(&j, "rows", r->rows);
    bj_str(&j, "transport", r->transport);
    bj_bool(&j, "ipc_verified", r->ipc);
    bj_int(&j, "messages", r->msgs);
    bj_int(&j, "bytes", r->bytes);
    bj_num(&j, "ratio", r->ratio);
    bj_str(&j, "status", verdict);
    bj_num(&j, "engine_s", r->t_eng);
    bj_num(&j, "raw_s", r->t_raw);
    bj_num(&j, "engine_GBps", eng_gbs);
    bj_num(&j, "raw_GBps", raw_gbs);
    bj_nums(&j, "ratios", r->ratios, R);
    bj_end(&j, '}');
    free(r->ratios);
  }
  bj_end(&j, ']');
  bj_begin(&j, "auth", '[');
  for (int w = 0; w < NW; w++) {
    auth_result *a = &ares[w];
    bj_begin(&j, NULL, '{');
    bj_int(&j, "cols", a->cols);
    bj_num(&j, "ratio", a->ratio);
    bj_num(&j, "target", 0.8);
    bj_str(&j, "status", bench_verdict(a->ratio, ">=", 0.8));
    bj_num(&j, "tcp_s", a->t_plain);
    bj_num(&j, "tcp_auth_s", a->t_auth);
    bj_nums(&j, "ratios", a->ratios, R);
    bj_end(&j, '}');
    free(a->ratios);
  }
  bj_end(&j, ']');
  bj_num(&j, "ratio", headline);
  bj_str(&j, "status", bench_verdict(headline, ">=", 0.7));
  bj_close(&j);
  return 0;
}
