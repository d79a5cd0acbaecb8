/* server_fake.h -- what the server tests (engine/src/server/) share: engines and tables made
 * for a test, a capture of stderr, and a fake client that speaks the wire
 * protocol through the internal pmi_msg_* helpers, so a test can send what
 * no real client would (bad table ids, rows, columns, HELLOs, TABLEs) and
 * read the shard's answers. Test code only (server_test.c,
 * server_rows_test.c); everything is static inline so each test takes what
 * it uses. */
#ifndef PMI_SERVER_FAKE_H
#define PMI_SERVER_FAKE_H

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

#include "fixtures.h"
#include "harness.h"
#include "pmls.h"
#include "../src/proc/proc.h"
#include "../src/server/server.h"

/* ---- helpers ------------------------------------------------------------- */

#define FAKE_ID 1000 /* a client id no real client of these engines uses */

static inline pmls_engine *engine_of(pmls_config cfg) {
  pmls_engine *e = NULL;
  char err[512] = "";
  if (pmls_engine_create(&e, &cfg, err, sizeof err) != PMLS_OK) {
    fprintf(stderr, "server_test: cannot create an engine: %s\n", err);
    return NULL;
  }
  return e;
}

static inline pmls_table_spec spec_of(int64_t rows, int32_t cols, pmls_layout l) {
  pmls_table_spec s;
  pmls_table_spec_init(&s);
  s.rows = rows;
  s.cols = cols;
  s.dtype = PMLS_F64;
  s.layout = l;
  return s;
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
static inline void check_serves(pmls_client *w, pmls_client *h, int table_id,
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

static inline int capture_begin(capture *c) {
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
static inline int capture_wait(capture *c, const char *a, const char *b, int ms,
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

static inline void capture_end(capture *c) {
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

static inline void hello_msg(fake *f, int32_t src, const char *addr, int32_t rank) {
  pmi_msg_begin(&f->b, f->e->job, PMI_MSG_HELLO, src);
  pmi_put_str(&f->b, addr);
  pmi_put_i32(&f->b, rank);
  pmi_put_i32(&f->b, 0); /* first worker */
  pmi_put_i32(&f->b, 0); /* workers */
  pmi_put_str(&f->b, ""); /* no push receiver */
}

/* A TABLE declaring table id with spec s under name (NULL: none, a
 * malformed one). */
static inline void table_msg(fake *f, int id, const char *name,
                             pmls_table_spec s) {
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

static inline int fake_send(fake *f, int shard) {
  char err[PMI_ERRLEN];
  int rc = pmi_msg_send(f->push[shard], &f->b, NULL, "server", err);
  if (rc) fprintf(stderr, "server_test: %s\n", err);
  return rc;
}

/* Opens the sockets; with hello, says HELLO to every shard. */
static inline int fake_open(fake *f, pmls_engine *e, int id, int hello) {
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

static inline void fake_close(fake *f) {
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

static inline void fake_recv(fake *f, reply *r, int cols, int ms) {
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

static inline void get_msg(fake *f, uint32_t req, int table_id, int64_t row,
                    int32_t stamp_n) {
  pmi_msg_begin(&f->b, f->e->job, PMI_MSG_GET, f->id);
  pmi_put_u32(&f->b, req);
  pmi_put_i32(&f->b, table_id);
  pmi_put_i64(&f->b, row);
  pmi_put_i64(&f->b, 0); /* min clock */
  pmi_put_i32(&f->b, 0); /* stamp_lo */
  pmi_put_i32(&f->b, stamp_n);
}

static inline void oplog_begin(fake *f, int64_t seq) {
  pmi_msg_begin(&f->b, f->e->job, PMI_MSG_OPLOG, f->id);
  pmi_put_i64(&f->b, seq);
}

/* An OPLOG entry: its header says `n` elements of `kind`; `npairs`
 * (column, float64) pairs follow, all the columns first. */
static inline void entry_pairs(pmi_buf *b, int table_id, int64_t row, int kind,
                        int32_t n, int32_t npairs, const int32_t *cols,
                        const double *vals) {
  pmi_put_i32(b, table_id);
  pmi_put_i64(b, row);
  pmi_put_u8(b, (uint8_t)kind);
  pmi_put_i32(b, n);
  pmi_put_bytes(b, cols, (size_t)npairs * 4);
  pmi_put_bytes(b, vals, (size_t)npairs * 8);
}

static inline void entry_dense(pmi_buf *b, int table_id, int64_t row, int32_t n,
                        const double *vals) {
  pmi_put_i32(b, table_id);
  pmi_put_i64(b, row);
  pmi_put_u8(b, 0);
  pmi_put_i32(b, n);
  pmi_put_bytes(b, vals, (size_t)n * 8);
}

/* A row of `table_id` that shard `shard` owns, or -1. */
static inline int64_t row_of_shard(const pmls_engine *e, int table_id, int64_t rows,
                            int shard) {
  for (int64_t r = 0; r < rows; r++)
    if (pmi_shard_of(e, table_id, r) == shard) return r;
  return -1;
}

#endif
