/* server_test.c -- a server shard facing bad input and faults. Every bad
 * message must end in an error that names the shard and the cause -- on
 * stderr when there is no one to answer, in an ERR reply when there is --
 * never in a hang, a crash or a silent loss, and the shard keeps serving
 * afterwards. Raw messages come from a bare nanomsg PUSH socket (malformed
 * headers) or from a fake client that speaks the protocol through the
 * internal pmi_msg_* helpers (bad table ids, rows, columns, HELLOs, TABLEs);
 * what the shards hold afterwards is read back through real clients, so a
 * lost or an invented increment shows. Also: rows larger than nanomsg's
 * default 1 MiB receive limit over ipc:// and tcp://, and a table declared
 * twice with different shapes (by a fake client, and by two ranks). */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>

#include "harness.h"
#include "pmls.h"
#include "../proc/proc.h"
#include "server.h"

/* ---- helpers ------------------------------------------------------------- */

#define FAKE_ID 1000 /* a client id no real client of these engines uses */

static pmls_config config(int workers, int servers) {
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = workers;
  cfg.servers = servers;
  cfg.quiet = 1;
  cfg.timeout_ms = 5000; /* a lost reply fails a read instead of hanging */
  return cfg;
}

static pmls_engine *engine_of(pmls_config cfg) {
  pmls_engine *e = NULL;
  char err[512] = "";
  if (pmls_engine_create(&e, &cfg, err, sizeof err) != PMLS_OK) {
    fprintf(stderr, "server_test: cannot create an engine: %s\n", err);
    return NULL;
  }
  return e;
}

static pmls_table_spec spec_of(int64_t rows, int32_t cols, pmls_layout l) {
  pmls_table_spec s;
  pmls_table_spec_init(&s);
  s.rows = rows;
  s.cols = cols;
  s.dtype = PMLS_F64;
  s.layout = l;
  return s;
}

static int table(pmls_engine *e, const char *name, pmls_table_spec s) {
  int id = -1;
  if (pmls_table_create(e, name, &s, &id) != PMLS_OK) {
    fprintf(stderr, "server_test: table '%s': %s\n", name, pmls_errmsg(e));
    return -1;
  }
  return id;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* A client call that must succeed; on failure the case fails with the
 * client's message. */
#define CHECK_OK(c, call)                                                      \
  do {                                                                         \
    int rc_ = (call);                                                          \
    if (rc_ != PMLS_OK) {                                                      \
      th_fail(__FILE__, __LINE__, "%s: %s: %s", #call, pmls_strerror(rc_),     \
              pmls_client_errmsg(c));                                          \
      return;                                                                  \
    }                                                                          \
  } while (0)

/* The engine still serves: the worker adds delta at (row, col) of a dense
 * float64 table and clocks; then the worker and a host client both read the
 * row and see exactly `expect` (updated here). */
static void check_serves(pmls_client *w, pmls_client *h, int table_id,
                         int64_t row, int cols, double *expect, int col,
                         double delta) {
  CHECK_OK(w, pmls_inc_one(w, table_id, row, col, delta));
  expect[col] += delta;
  CHECK_OK(w, pmls_clock(w));
  double got[16];
  CHECK(cols <= 16);
  CHECK_OK(w, pmls_get_dense(w, table_id, row, got));
  for (int j = 0; j < cols; j++) CHECK_EQ_DBL(got[j], expect[j]);
  CHECK_OK(h, pmls_get_dense(h, table_id, row, got));
  for (int j = 0; j < cols; j++) CHECK_EQ_DBL(got[j], expect[j]);
}

/* ---- capturing stderr ---------------------------------------------------- */

/* The shards report what they cannot answer on stderr. A capture points fd 2
 * at a temporary file until capture_end; capture_wait polls the file, since
 * a shard's thread prints in its own time. */
typedef struct {
  int saved, fd;
  char path[64];
} capture;

static int capture_begin(capture *c) {
  snprintf(c->path, sizeof c->path, "/tmp/pmls-server-test-XXXXXX");
  c->fd = mkstemp(c->path);
  if (c->fd < 0) return -1;
  fflush(stderr);
  c->saved = dup(2);
  if (c->saved < 0 || dup2(c->fd, 2) < 0) {
    close(c->fd);
    unlink(c->path);
    return -1;
  }
  return 0;
}

/* Waits up to ms for a line of the capture that holds both a and b, and
 * copies it (or, if none came, everything captured) into out. */
static int capture_wait(capture *c, const char *a, const char *b, int ms,
                        char *out, size_t cap) {
  static char text[16384];
  double until = pmi_now() + ms / 1000.0;
  for (;;) {
    ssize_t n = pread(c->fd, text, sizeof text - 1, 0);
    text[n > 0 ? n : 0] = 0;
    for (char *line = text; line && *line;) {
      char *nl = strchr(line, '\n');
      size_t len = nl ? (size_t)(nl - line) : strlen(line);
      char one[2048];
      snprintf(one, sizeof one, "%.*s", (int)len, line);
      if (strstr(one, a) && strstr(one, b)) {
        snprintf(out, cap, "%s", one);
        return 1;
      }
      line = nl ? nl + 1 : NULL;
    }
    if (pmi_now() >= until) {
      snprintf(out, cap, "%s", text[0] ? text : "(nothing on stderr)");
      return 0;
    }
    sleep_ms(5);
  }
}

static void capture_end(capture *c) {
  fflush(stderr);
  dup2(c->saved, 2);
  close(c->saved);
  close(c->fd);
  unlink(c->path);
}

/* ---- a fake client ------------------------------------------------------- */

/* Speaks the client protocol by hand: one PULL socket for replies, a PUSH
 * socket per shard, and a message buffer built with the pmi_msg_* helpers. */
typedef struct {
  pmls_engine *e;
  int id;
  int pull;
  int push[2];
  char addr[PMI_ADDR_MAX];
  pmi_buf b;
} fake;

static int fake_serial;

static void hello_msg(fake *f, int32_t src, const char *addr, int32_t rank) {
  pmi_msg_begin(&f->b, f->e->job, PMI_MSG_HELLO, src);
  pmi_put_str(&f->b, addr);
  pmi_put_i32(&f->b, rank);
  pmi_put_i32(&f->b, 0); /* first worker */
  pmi_put_i32(&f->b, 0); /* workers */
  pmi_put_str(&f->b, ""); /* no push receiver */
}

static int fake_send(fake *f, int shard) {
  char err[PMI_ERRLEN];
  int rc = pmi_msg_send(f->push[shard], &f->b, NULL, "server", err);
  if (rc) fprintf(stderr, "server_test: %s\n", err);
  return rc;
}

/* Opens the sockets; with hello, says HELLO to every shard. */
static int fake_open(fake *f, pmls_engine *e, int id, int hello) {
  memset(f, 0, sizeof *f);
  f->e = e;
  f->id = id;
  f->pull = f->push[0] = f->push[1] = -1;
  snprintf(f->addr, sizeof f->addr, "inproc://pmls-server-test-%d-%d",
           (int)getpid(), fake_serial++);
  char err[PMI_ERRLEN];
  f->pull = pmi_sock_pull(f->addr, 3000, err);
  if (f->pull < 0) return -1;
  for (int s = 0; s < e->servers && s < 2; s++) {
    f->push[s] = pmi_sock_push(e->server_addr[s], 2000, err);
    if (f->push[s] < 0) return -1;
    if (!hello) continue;
    hello_msg(f, id, f->addr, 0);
    if (fake_send(f, s)) return -1;
  }
  return 0;
}

static void fake_close(fake *f) {
  for (int s = 0; s < 2; s++) pmi_sock_close(f->push[s]);
  pmi_sock_close(f->pull);
  pmi_buf_free(&f->b);
}

typedef struct {
  int type; /* 0: nothing came in time; -1: not a message of this job */
  uint32_t req;
  int code;                  /* ERR */
  char msg[PMI_ERRLEN + 64]; /* ERR */
  int what;                  /* ACK */
  int table;                 /* ROW of a dense float64 row of <= 16 cols */
  int64_t row;
  double vals[16];
} reply;

static void fake_recv(fake *f, reply *r, int cols, int ms) {
  memset(r, 0, sizeof *r);
  pmi_sock_set_rcvtimeo(f->pull, ms);
  void *m;
  size_t len;
  char err[PMI_ERRLEN];
  if (pmi_msg_recv(f->pull, &m, &len, NULL, err) != PMLS_OK) return;
  pmi_hdr h;
  pmi_rd rd;
  if (pmi_msg_open(m, len, f->e->job, &h, &rd, err) != PMLS_OK) {
    r->type = -1;
    snprintf(r->msg, sizeof r->msg, "%s", err);
    pmi_msg_free(m);
    return;
  }
  r->type = h.type;
  if (h.type == PMI_MSG_ERR) {
    r->req = pmi_get_u32(&rd);
    r->code = pmi_get_i32(&rd);
    pmi_get_str(&rd, r->msg, sizeof r->msg);
  } else if (h.type == PMI_MSG_ACK) {
    r->what = pmi_get_i32(&rd);
  } else if (h.type == PMI_MSG_ROW) {
    r->req = pmi_get_u32(&rd);
    r->table = pmi_get_i32(&rd);
    r->row = pmi_get_i64(&rd);
    pmi_get_i64(&rd); /* the copy's clock */
    pmi_get_i64(&rd); /* the reader's stamp */
    int32_t n = pmi_get_i32(&rd);
    for (int32_t i = 0; i < n && !rd.bad; i++) pmi_get_i64(&rd);
    for (int j = 0; j < cols && j < 16; j++) r->vals[j] = pmi_get_f64(&rd);
  }
  if (rd.bad) {
    r->type = -1;
    snprintf(r->msg, sizeof r->msg, "a short %s reply",
             pmi_msg_type_name(h.type));
  }
  pmi_msg_free(m);
}

static void get_msg(fake *f, uint32_t req, int table_id, int64_t row,
                    int32_t stamp_n) {
  pmi_msg_begin(&f->b, f->e->job, PMI_MSG_GET, f->id);
  pmi_put_u32(&f->b, req);
  pmi_put_i32(&f->b, table_id);
  pmi_put_i64(&f->b, row);
  pmi_put_i64(&f->b, 0); /* min clock */
  pmi_put_i32(&f->b, 0); /* stamp_lo */
  pmi_put_i32(&f->b, stamp_n);
}

static void oplog_begin(fake *f, int64_t seq) {
  pmi_msg_begin(&f->b, f->e->job, PMI_MSG_OPLOG, f->id);
  pmi_put_i64(&f->b, seq);
}

/* An OPLOG entry: its header says `n` elements of `kind`; `npairs`
 * (column, float64) pairs follow, all the columns first. */
static void entry_pairs(pmi_buf *b, int table_id, int64_t row, int kind,
                        int32_t n, int32_t npairs, const int32_t *cols,
                        const double *vals) {
  pmi_put_i32(b, table_id);
  pmi_put_i64(b, row);
  pmi_put_u8(b, (uint8_t)kind);
  pmi_put_i32(b, n);
  pmi_put_bytes(b, cols, (size_t)npairs * 4);
  pmi_put_bytes(b, vals, (size_t)npairs * 8);
}

static void entry_dense(pmi_buf *b, int table_id, int64_t row, int32_t n,
                        const double *vals) {
  pmi_put_i32(b, table_id);
  pmi_put_i64(b, row);
  pmi_put_u8(b, 0);
  pmi_put_i32(b, n);
  pmi_put_bytes(b, vals, (size_t)n * 8);
}

/* A row of `table_id` that shard `shard` owns, or -1. */
static int64_t row_of_shard(const pmls_engine *e, int table_id, int64_t rows,
                            int shard) {
  for (int64_t r = 0; r < rows; r++)
    if (pmi_shard_of(e, table_id, r) == shard) return r;
  return -1;
}

/* ---- malformed messages: dropped, reported on stderr --------------------- */

enum {
  M_SHORT,     /* fewer bytes than a header */
  M_EMPTY,     /* no bytes at all */
  M_LEN_BIG,   /* the header promises more payload than came */
  M_LEN_SMALL, /* the header promises less payload than came */
  M_MAGIC,     /* not a PMLS message */
  M_SWAPPED,   /* a PMLS message of the other byte order */
  M_JOB,       /* a message of another job */
  M_TYPE0,
  M_TYPE99,
  M_TYPE_PAST_LAST
};

/* A valid OPLOG that would add 1000 to (row 3, col 0) of table 0, then
 * spoilt as `how` says. Returns its length. */
static size_t raw_message(pmls_engine *e, int how, unsigned char *out,
                          size_t cap) {
  pmi_buf b = {0};
  pmi_msg_begin(&b, e->job, PMI_MSG_OPLOG, 0);
  pmi_put_i64(&b, 0);
  int32_t col = 0;
  double v = 1000;
  entry_pairs(&b, 0, 3, 1, 1, 1, &col, &v);
  pmi_hdr h;
  memcpy(&h, b.data, sizeof h);
  h.len = (uint32_t)(b.len - sizeof h);
  size_t len = b.len;
  switch (how) {
  case M_SHORT: len = 10; break;
  case M_EMPTY: len = 0; break;
  case M_LEN_BIG: h.len += 100; break;
  case M_LEN_SMALL: h.len -= 1; break;
  case M_MAGIC: h.magic = 0xdeadbeefu; break;
  case M_SWAPPED: h.magic = __builtin_bswap32(PMI_MAGIC); break;
  case M_JOB: h.job ^= 0x5a5a5a5au; break;
  case M_TYPE0: h.type = 0; break;
  case M_TYPE99: h.type = 99; break;
  case M_TYPE_PAST_LAST: h.type = PMI_MSG_LAST + 1; break;
  }
  memcpy(b.data, &h, sizeof h);
  if (len > cap) len = cap;
  memcpy(out, b.data, len);
  pmi_buf_free(&b);
  return len;
}

static int raw_push(const char *addr) {
  int s = nn_socket(AF_SP, NN_PUSH);
  if (s < 0) return -1;
  int ms = 2000;
  if (nn_setsockopt(s, NN_SOL_SOCKET, NN_SNDTIMEO, &ms, sizeof ms) < 0 ||
      nn_connect(s, addr) < 0) {
    nn_close(s);
    return -1;
  }
  return s;
}

static void t_malformed_messages_dropped_with_cause(void) {
  static const struct {
    int how;
    const char *cause;
  } rows[] = {
      {M_SHORT, "truncated message: 10 bytes, header needs 24"},
      {M_EMPTY, "truncated message: 0 bytes, header needs 24"},
      {M_LEN_BIG, "truncated OPLOG message: header says 137 payload bytes, "
                  "got 37"},
      {M_LEN_SMALL, "OPLOG message: header says 36 payload bytes, got 37"},
      {M_MAGIC, "malformed message: bad magic 0xdeadbeef"},
      {M_SWAPPED, "malformed message: bad magic 0x504d4c53"},
      {M_JOB, "message from another job"},
      {M_TYPE0, "malformed message: unknown type 0"},
      {M_TYPE99, "malformed message: unknown type 99"},
      {M_TYPE_PAST_LAST, NULL}, /* "unknown type <PMI_MSG_LAST + 1>" */
  };
  char past_last[64];
  snprintf(past_last, sizeof past_last, "malformed message: unknown type %d",
           PMI_MSG_LAST + 1);
  pmls_engine *e = engine_of(config(1, 1));
  CHECK(e != NULL);
  int t = table(e, "t", spec_of(4, 3, PMLS_DENSE));
  CHECK_EQ_INT(t, 0);
  pmls_client *w = NULL, *h = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &w), PMLS_OK);
  CHECK_EQ_INT(pmls_client_open(e, -1, &h), PMLS_OK);
  int raw = raw_push(e->server_addr[0]);
  CHECK(raw >= 0);
  double expect[3] = {0, 0, 0};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    unsigned char msg[256];
    size_t len = raw_message(e, rows[i].how, msg, sizeof msg);
    capture cap;
    CHECK(capture_begin(&cap) == 0);
    int sent = nn_send(raw, msg, len, 0);
    char line[2048];
    const char *cause = rows[i].cause ? rows[i].cause : past_last;
    int seen = capture_wait(&cap, "pmls: server 0: dropped a message: ",
                            cause, 2000, line, sizeof line);
    capture_end(&cap);
    CHECK_EQ_INT(sent, (int)len);
    if (!seen) {
      th_fail(__FILE__, __LINE__, "row %zu: want \"pmls: server 0: dropped a "
              "message: %s\" on stderr, got \"%s\"", i, cause, line);
      return;
    }
    /* The shard goes on serving, and applied nothing of the message. */
    check_serves(w, h, t, 1, 3, expect, (int)(i % 3), 1.0 + (double)i);
    if (th_failed()) return;
  }
  double canary[3] = {-1, -1, -1};
  CHECK_OK(h, pmls_get_dense(h, t, 3, canary));
  for (int j = 0; j < 3; j++) CHECK_EQ_DBL(canary[j], 0);
  nn_close(raw);
  CHECK_OK(w, pmls_client_close(w));
  CHECK_OK(h, pmls_client_close(h));
  pmls_engine_destroy(e);
}

/* ---- requests the shard cannot answer ------------------------------------ */

/* A sender that never said HELLO has no reply socket: what the shard would
 * have answered (a refusal, above all) must still show, on stderr. */
static void t_unanswerable_errors_not_silent(void) {
  pmls_engine *e = engine_of(config(1, 1));
  CHECK(e != NULL);
  int t = table(e, "t", spec_of(4, 3, PMLS_DENSE));
  CHECK_EQ_INT(t, 0);
  fake f;
  CHECK(fake_open(&f, e, 5000, 0) == 0); /* no HELLO */
  static const struct {
    const char *what;
    int type;
    int32_t src;
    const char *says;
  } rows[] = {
      {"increments refused (row out of range) for a client without HELLO",
       PMI_MSG_OPLOG, 5000, "row 9 out of range"},
      {"a server-to-client message type from an anonymous sender",
       PMI_MSG_ROW, -1, "unexpected"},
  };
  char fails[4096] = "";
  size_t off = 0;
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    pmi_msg_begin(&f.b, e->job, rows[i].type, rows[i].src);
    if (rows[i].type == PMI_MSG_OPLOG) {
      pmi_put_i64(&f.b, 1);
      int32_t col = 0;
      double v = 1000;
      entry_pairs(&f.b, t, 9, 1, 1, 1, &col, &v);
    } else {
      pmi_put_u32(&f.b, 1);
    }
    capture cap;
    CHECK(capture_begin(&cap) == 0);
    int rc = fake_send(&f, 0);
    char line[2048];
    int seen = capture_wait(&cap, "server 0", rows[i].says, 1000, line,
                            sizeof line);
    capture_end(&cap);
    CHECK_EQ_INT(rc, PMLS_OK);
    if (!seen && off < sizeof fails)
      off += (size_t)snprintf(fails + off, sizeof fails - off, "%s: want "
                              "\"server 0\" and \"%s\" on stderr, got \"%s\"; ",
                              rows[i].what, rows[i].says, line);
  }
  fake_close(&f);
  /* Nothing was applied, and the shard still serves. */
  pmls_client *h = NULL;
  CHECK_EQ_INT(pmls_client_open(e, -1, &h), PMLS_OK);
  double got[3] = {-1, -1, -1};
  CHECK_OK(h, pmls_get_dense(h, t, 3, got));
  for (int j = 0; j < 3; j++) CHECK_EQ_DBL(got[j], 0);
  CHECK_OK(h, pmls_client_close(h));
  pmls_engine_destroy(e);
  if (fails[0]) th_fail(__FILE__, __LINE__, "%s", fails);
}

/* ---- bad table ids, rows and columns: ERR, nothing applied --------------- */

enum { ROWS = 16, COLS = 4, SPCOLS = 16 };

static void t_bad_rows_and_tables_answered_with_err(void) {
  pmls_engine *e = engine_of(config(1, 2));
  CHECK(e != NULL);
  int t = table(e, "t", spec_of(ROWS, COLS, PMLS_DENSE));
  int sp = table(e, "sp", spec_of(ROWS, SPCOLS, PMLS_SPARSE));
  CHECK_EQ_INT(t, 0);
  CHECK_EQ_INT(sp, 1);
  int64_t own[2], sp_own[2];
  for (int s = 0; s < 2; s++) {
    own[s] = row_of_shard(e, t, ROWS, s);
    sp_own[s] = row_of_shard(e, sp, ROWS, s);
    CHECK(own[s] >= 0 && sp_own[s] >= 0);
  }
  fake f;
  CHECK(fake_open(&f, e, FAKE_ID, 1) == 0);
  double want[ROWS][COLS];
  memset(want, 0, sizeof want);

  /* Control: the fake client's framing is right, so what is refused below
   * is refused for its content. A dense entry and a pair, then a read. */
  double d[COLS] = {1, 2, 3, 4};
  int32_t c2 = 2;
  double v5 = 5;
  oplog_begin(&f, 1);
  entry_dense(&f.b, t, own[0], COLS, d);
  entry_pairs(&f.b, t, own[0], 1, 1, 1, &c2, &v5);
  CHECK_EQ_INT(fake_send(&f, 0), PMLS_OK);
  for (int j = 0; j < COLS; j++) want[own[0]][j] += d[j];
  want[own[0]][2] += 5;
  get_msg(&f, 77, t, own[0], 0);
  CHECK_EQ_INT(fake_send(&f, 0), PMLS_OK);
  reply r;
  fake_recv(&f, &r, COLS, 3000);
  CHECK_EQ_INT(r.type, PMI_MSG_ROW);
  CHECK_EQ_INT(r.req, 77);
  CHECK_EQ_INT(r.table, t);
  CHECK_EQ_INT(r.row, own[0]);
  for (int j = 0; j < COLS; j++) CHECK_EQ_DBL(r.vals[j], want[own[0]][j]);

  /* GETs: an ERR that echoes the request and names the shard and cause. */
  char other0[96], other1[96];
  snprintf(other0, sizeof other0, "row %lld of table 't' belongs to another "
           "shard", (long long)own[1]);
  snprintf(other1, sizeof other1, "row %lld of table 't' belongs to another "
           "shard", (long long)own[0]);
  const struct {
    const char *what;
    int shard, table;
    int64_t row;
    int32_t stamp_n;
    int code;
    const char *says;
  } gets[] = {
      {"unknown table", 0, 7, 0, 0, PMLS_EINVAL, "unknown table id 7"},
      {"negative table", 1, -1, 0, 0, PMLS_EINVAL, "unknown table id -1"},
      {"table id past the limit", 0, 300, 0, 0, PMLS_EINVAL,
       "unknown table id 300"},
      {"row past the end", 0, 0, ROWS, 0, PMLS_EINVAL,
       "row 16 out of range for table 't' (rows 0..15)"},
      {"negative row", 1, 0, -1, 0, PMLS_EINVAL,
       "row -1 out of range for table 't' (rows 0..15)"},
      {"sparse row past the end", 1, 1, 1LL << 40, 0, PMLS_EINVAL,
       "row 1099511627776 out of range for table 'sp'"},
      {"row of shard 1 asked of shard 0", 0, 0, own[1], 0, PMLS_EINVAL, other0},
      {"row of shard 0 asked of shard 1", 1, 0, own[0], 0, PMLS_EINVAL, other1},
      {"negative stamp count", 0, 0, own[0], -1, PMLS_EPROTO,
       "malformed GET message"},
  };
  for (size_t i = 0; i < sizeof gets / sizeof gets[0]; i++) {
    uint32_t req = 100 + (uint32_t)i;
    get_msg(&f, req, gets[i].table, gets[i].row, gets[i].stamp_n);
    CHECK_EQ_INT(fake_send(&f, gets[i].shard), PMLS_OK);
    fake_recv(&f, &r, COLS, 3000);
    char prefix[32];
    snprintf(prefix, sizeof prefix, "server %d: ", gets[i].shard);
    if (r.type != PMI_MSG_ERR || r.req != req || r.code != gets[i].code ||
        strncmp(r.msg, prefix, strlen(prefix)) != 0 ||
        !strstr(r.msg, gets[i].says)) {
      th_fail(__FILE__, __LINE__, "GET %s: want ERR %u code %d \"%s...%s\", "
              "got %s %u code %d \"%s\"", gets[i].what, req, gets[i].code,
              prefix, gets[i].says, r.type ? pmi_msg_type_name(r.type)
              : "nothing", r.req, r.code, r.msg);
      return;
    }
  }

  /* OPLOGs: an ERR (request 0) naming the shard and the cause, before the
   * answer to a read sent after it on the same pipe; nothing applied. */
  const int32_t cols_ok[1] = {1}, col4[1] = {4}, colneg[1] = {-1},
                col16[1] = {16};
  const double v1000[1] = {1000};
  const double dense3[3] = {1000, 1000, 1000};
  const double dense16[SPCOLS] = {1000};
  char other_inc[128];
  snprintf(other_inc, sizeof other_inc, "increment refused: row %lld of table "
           "'t' belongs to another shard", (long long)own[1]);
  const struct {
    const char *what;
    int shard, table;
    int64_t row;
    int kind;
    int32_t n, npairs;
    const int32_t *cols;
    const double *vals;
    int code;
    const char *says;
  } oplogs[] = {
      {"unknown table", 0, 7, 0, 1, 1, 1, cols_ok, v1000, PMLS_EINVAL,
       "increment refused: unknown table id 7"},
      {"row past the end", 0, 0, ROWS, 1, 1, 1, cols_ok, v1000, PMLS_EINVAL,
       "increment refused: row 16 out of range for table 't' (rows 0..15)"},
      {"negative row", 1, 0, -3, 1, 1, 1, cols_ok, v1000, PMLS_EINVAL,
       "increment refused: row -3 out of range for table 't'"},
      {"row of another shard", 0, 0, own[1], 1, 1, 1, cols_ok, v1000,
       PMLS_EINVAL, other_inc},
      {"column past the end", 0, 0, own[0], 1, 1, 1, col4, v1000, PMLS_EINVAL,
       "increment to column 4 out of range for table 't' (cols 0..3) refused"},
      {"negative column", 1, 0, own[1], 1, 1, 1, colneg, v1000, PMLS_EINVAL,
       "increment to column -1 out of range for table 't'"},
      {"sparse column past the end", 0, 1, sp_own[0], 1, 1, 1, col16, v1000,
       PMLS_EINVAL, "column 16 out of range for table 'sp' (cols 0..15)"},
      {"dense entry of the wrong width", 0, 0, own[0], 0, 3, 0, NULL, dense3,
       PMLS_EPROTO, "malformed OPLOG message"},
      {"dense entry into a sparse table", 1, 1, sp_own[1], 0, SPCOLS, 0, NULL,
       dense16, PMLS_EPROTO, "malformed OPLOG message"},
      {"pair count past the message's end", 0, 0, own[0], 1, 1 << 20, 1,
       cols_ok, v1000, PMLS_EPROTO, "malformed OPLOG message"},
      {"negative pair count", 0, 0, own[0], 1, -1, 1, cols_ok, v1000,
       PMLS_EPROTO, "malformed OPLOG message"},
      {"unknown entry kind", 1, 0, own[1], 7, 1, 1, cols_ok, v1000,
       PMLS_EPROTO, "malformed OPLOG message"},
  };
  char fails[8192] = "";
  size_t off = 0;
  for (size_t i = 0; i < sizeof oplogs / sizeof oplogs[0]; i++) {
    int s = oplogs[i].shard;
    oplog_begin(&f, 2 + (int64_t)i);
    if (oplogs[i].kind == 0)
      entry_dense(&f.b, oplogs[i].table, oplogs[i].row, oplogs[i].n,
                  oplogs[i].vals);
    else
      entry_pairs(&f.b, oplogs[i].table, oplogs[i].row, oplogs[i].kind,
                  oplogs[i].n, oplogs[i].npairs, oplogs[i].cols,
                  oplogs[i].vals);
    CHECK_EQ_INT(fake_send(&f, s), PMLS_OK);
    uint32_t probe = 900 + (uint32_t)i;
    get_msg(&f, probe, t, own[s], 0);
    CHECK_EQ_INT(fake_send(&f, s), PMLS_OK);
    reply first, second;
    fake_recv(&f, &first, COLS, 3000);
    if (first.type == PMI_MSG_ERR) fake_recv(&f, &second, COLS, 3000);
    else second = first;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "server %d: ", s);
    if (first.type != PMI_MSG_ERR || first.req != 0 ||
        first.code != oplogs[i].code ||
        strncmp(first.msg, prefix, strlen(prefix)) != 0 ||
        !strstr(first.msg, oplogs[i].says)) {
      if (off < sizeof fails)
        off += (size_t)snprintf(
            fails + off, sizeof fails - off, "[OPLOG %s: want ERR code %d "
            "\"%s...%s\" before the probe's ROW, got %s code %d \"%s\"] ",
            oplogs[i].what, oplogs[i].code, prefix, oplogs[i].says,
            first.type ? pmi_msg_type_name(first.type) : "nothing", first.code,
            first.msg);
    }
    /* The probe's ROW still comes: the shard went on. */
    CHECK_EQ_INT(second.type, PMI_MSG_ROW);
    CHECK_EQ_INT(second.req, probe);
  }

  /* Nothing refused was applied: every row reads exactly what the control
   * added, through a real client; and the shards still serve clients. */
  pmls_client *w = NULL, *h = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &w), PMLS_OK);
  CHECK_EQ_INT(pmls_client_open(e, -1, &h), PMLS_OK);
  for (int64_t row = 0; row < ROWS; row++) {
    double got[COLS];
    CHECK_OK(h, pmls_get_dense(h, t, row, got));
    for (int j = 0; j < COLS; j++) {
      if (got[j] != want[row][j] && off < sizeof fails) {
        off += (size_t)snprintf(fails + off, sizeof fails - off, "[t row %lld "
                                "col %d: want %g, got %g] ", (long long)row, j,
                                want[row][j], got[j]);
      }
    }
    int32_t keys[SPCOLS];
    double vals[SPCOLS];
    int64_t n = -1;
    CHECK_OK(h, pmls_get_sparse(h, sp, row, keys, vals, SPCOLS, &n));
    if (n != 0 && off < sizeof fails)
      off += (size_t)snprintf(fails + off, sizeof fails - off, "[sp row %lld: "
                              "want no keys, got %lld (key %d = %g)] ",
                              (long long)row, (long long)n, keys[0], vals[0]);
    /* The shards go on from what they hold, refused or not. */
    memcpy(want[row], got, sizeof got);
  }
  for (int s = 0; s < 2; s++) {
    check_serves(w, h, t, own[s], COLS, want[own[s]], s + 1, 0.5);
    if (th_failed()) return;
  }
  fake_close(&f);
  CHECK_OK(w, pmls_client_close(w));
  CHECK_OK(h, pmls_client_close(h));
  pmls_engine_destroy(e);
  if (fails[0]) th_fail(__FILE__, __LINE__, "%s", fails);
}

/* An OPLOG holding a refused entry is refused whole: no entry of it (before
 * or after the bad one, or in the same entry) is applied. */
static void t_refused_oplog_applies_nothing(void) {
  pmls_engine *e = engine_of(config(1, 1));
  CHECK(e != NULL);
  int t = table(e, "t", spec_of(4, COLS, PMLS_DENSE));
  CHECK_EQ_INT(t, 0);
  fake f;
  CHECK(fake_open(&f, e, FAKE_ID, 1) == 0);
  const int32_t c0[1] = {0}, c0_and_9[2] = {0, 9};
  const double v1[2] = {1, 1};
  static const char *const what[] = {
      "a good entry, then one for a row out of range",
      "one entry: a good column and one out of range",
      "one for a row out of range, then a good entry",
      "a good entry, then one for an unknown table",
  };
  char fails[4096] = "";
  size_t off = 0;
  for (int i = 0; i < 4; i++) {
    oplog_begin(&f, 1 + i);
    switch (i) {
    case 0:
      entry_pairs(&f.b, t, 1, 1, 1, 1, c0, v1);
      entry_pairs(&f.b, t, 4, 1, 1, 1, c0, v1);
      break;
    case 1: entry_pairs(&f.b, t, 1, 1, 2, 2, c0_and_9, v1); break;
    case 2:
      entry_pairs(&f.b, t, 4, 1, 1, 1, c0, v1);
      entry_pairs(&f.b, t, 1, 1, 1, 1, c0, v1);
      break;
    case 3:
      entry_pairs(&f.b, t, 1, 1, 1, 1, c0, v1);
      entry_pairs(&f.b, 9, 1, 1, 1, 1, c0, v1);
      break;
    }
    CHECK_EQ_INT(fake_send(&f, 0), PMLS_OK);
    get_msg(&f, 50 + (uint32_t)i, t, 1, 0);
    CHECK_EQ_INT(fake_send(&f, 0), PMLS_OK);
    reply r;
    fake_recv(&f, &r, COLS, 3000);
    int got_err = r.type == PMI_MSG_ERR && r.code == PMLS_EINVAL &&
                  strstr(r.msg, "server 0: ") && strstr(r.msg, "refused");
    while (r.type == PMI_MSG_ERR) fake_recv(&f, &r, COLS, 3000);
    CHECK_EQ_INT(r.type, PMI_MSG_ROW);
    CHECK_EQ_INT(r.req, 50 + i);
    if ((!got_err || r.vals[0] != 0) && off < sizeof fails)
      off += (size_t)snprintf(fails + off, sizeof fails - off, "[%s: want an "
                              "ERR saying \"refused\" and row 1 col 0 still 0, "
                              "got %s and %g] ", what[i],
                              got_err ? "the ERR" : "no such ERR", r.vals[0]);
    if (r.vals[0] != 0) {
      /* Undo what was applied, so the next row starts from 0. */
      oplog_begin(&f, 100 + i);
      double back = -r.vals[0];
      entry_pairs(&f.b, t, 1, 1, 1, 1, c0, &back);
      CHECK_EQ_INT(fake_send(&f, 0), PMLS_OK);
    }
  }
  fake_close(&f);
  pmls_engine_destroy(e);
  if (fails[0]) th_fail(__FILE__, __LINE__, "%s", fails);
}

/* ---- malformed HELLOs ---------------------------------------------------- */

static void t_malformed_hello_does_not_crash(void) {
  pmls_engine *e = engine_of(config(1, 1));
  CHECK(e != NULL);
  int t = table(e, "t", spec_of(4, 3, PMLS_DENSE));
  CHECK_EQ_INT(t, 0);
  pmls_client *w = NULL, *h = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &w), PMLS_OK);
  CHECK_EQ_INT(pmls_client_open(e, -1, &h), PMLS_OK);
  fake f;
  CHECK(fake_open(&f, e, FAKE_ID, 0) == 0);
  enum { H_EMPTY, H_ADDR_ONLY, H_STR_PAST_END, H_RANK, H_NO_ADDR };
  static const struct {
    const char *what;
    int how;
    int32_t src, rank;
    const char *addr;
    const char *says;
  } rows[] = {
      {"no payload", H_EMPTY, 1001, 0, NULL,
       "server 0: dropped a malformed HELLO from client 1001"},
      {"cut after the address", H_ADDR_ONLY, 1002, 0, NULL,
       "server 0: dropped a malformed HELLO from client 1002"},
      {"address longer than the message", H_STR_PAST_END, 1003, 0, NULL,
       "server 0: dropped a malformed HELLO from client 1003"},
      {"rank 1 of a one-process job", H_RANK, 1004, 1, NULL,
       "server 0: dropped a malformed HELLO from client 1004"},
      {"negative rank", H_RANK, 1005, -1, NULL,
       "server 0: dropped a malformed HELLO from client 1005"},
      {"negative client id", H_RANK, -7, 0, NULL,
       "server 0: dropped a malformed HELLO from client -7"},
      {"client id past the limit", H_RANK, (1 << 20) + 1, 0, NULL,
       "server 0: dropped a malformed HELLO from client 1048577"},
      {"a reply address that cannot be connected", H_NO_ADDR, 1006, 0,
       "bogus://nowhere", "bogus://nowhere"},
  };
  double expect[3] = {0, 0, 0};
  char fails[4096] = "";
  size_t off = 0;
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    pmi_msg_begin(&f.b, e->job, PMI_MSG_HELLO, rows[i].src);
    switch (rows[i].how) {
    case H_EMPTY: break;
    case H_ADDR_ONLY: pmi_put_str(&f.b, f.addr); break;
    case H_STR_PAST_END:
      pmi_put_u16(&f.b, 500);
      pmi_put_bytes(&f.b, "abc", 3);
      break;
    case H_RANK: hello_msg(&f, rows[i].src, f.addr, rows[i].rank); break;
    case H_NO_ADDR: hello_msg(&f, rows[i].src, rows[i].addr, 0); break;
    }
    capture cap;
    CHECK(capture_begin(&cap) == 0);
    int rc = fake_send(&f, 0);
    char line[2048];
    int seen = capture_wait(&cap, "pmls: server 0", rows[i].says, 1000, line,
                            sizeof line);
    capture_end(&cap);
    CHECK_EQ_INT(rc, PMLS_OK);
    if (!seen && off < sizeof fails)
      off += (size_t)snprintf(fails + off, sizeof fails - off, "[HELLO %s: "
                              "want \"%s\" on stderr, got \"%s\"] ",
                              rows[i].what, rows[i].says, line);
    check_serves(w, h, t, 2, 3, expect, (int)(i % 3), 1.0);
    if (th_failed()) return;
  }
  /* A good HELLO after all that is answered. */
  hello_msg(&f, FAKE_ID, f.addr, 0);
  CHECK_EQ_INT(fake_send(&f, 0), PMLS_OK);
  get_msg(&f, 7, t, 2, 0);
  CHECK_EQ_INT(fake_send(&f, 0), PMLS_OK);
  reply r;
  fake_recv(&f, &r, 3, 3000);
  CHECK_EQ_INT(r.type, PMI_MSG_ROW);
  CHECK_EQ_INT(r.req, 7);
  for (int j = 0; j < 3; j++) CHECK_EQ_DBL(r.vals[j], expect[j]);
  fake_close(&f);
  CHECK_OK(w, pmls_client_close(w));
  CHECK_OK(h, pmls_client_close(h));
  pmls_engine_destroy(e);
  if (fails[0]) th_fail(__FILE__, __LINE__, "%s", fails);
}

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

static void table_msg(fake *f, int id, const char *name, pmls_table_spec s) {
  pmi_msg_begin(&f->b, f->e->job, PMI_MSG_TABLE, f->id);
  pmi_put_i32(&f->b, id);
  pmi_put_i64(&f->b, s.rows);
  pmi_put_i32(&f->b, s.cols);
  pmi_put_i32(&f->b, (int32_t)s.dtype);
  pmi_put_i32(&f->b, (int32_t)s.layout);
  pmi_put_i32(&f->b, s.staleness);
  pmi_put_i32(&f->b, s.init);
  pmi_put_f64(&f->b, s.init_scale);
  pmi_put_i32(&f->b, s.consistency);
  if (name) pmi_put_str(&f->b, name);
}

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
    {"malformed messages are dropped with 'server 0' and the cause on stderr", t_malformed_messages_dropped_with_cause},
    {"errors for a sender without HELLO still show on stderr", t_unanswerable_errors_not_silent},
    {"bad table ids, rows, columns: ERR naming them, nothing applied", t_bad_rows_and_tables_answered_with_err},
    {"an OPLOG with a refused entry applies nothing of it", t_refused_oplog_applies_nothing},
    {"malformed HELLOs are reported and do not crash the shard", t_malformed_hello_does_not_crash},
    {"rows over 1 MiB over ipc:// and tcp://, exact", t_rows_over_1mib_ipc_and_tcp},
    {"a table redeclared with another shape is refused naming it", t_table_redeclared_with_another_shape},
    {"two ranks declaring a table differently: refused naming it", t_two_ranks_disagree_on_a_table},
};

TH_MAIN(cases)
