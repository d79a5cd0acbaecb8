/* msg_test.c -- the wire format (building, opening and reading messages) and
 * the nanomsg transport underneath it. The reader must turn every malformed
 * or foreign message into an error and never read out of bounds: the
 * malformed inputs are built in heap buffers of their exact size, so the
 * sanitizer build catches any read past them. */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "net.h"

#define JOB 0x1234abcdu

/* Fills in the header's payload length, as pmi_msg_send does. */
static void seal(pmi_buf *b) {
  ((pmi_hdr *)b->data)->len = (uint32_t)(b->len - sizeof(pmi_hdr));
}

/* A heap copy of exactly n bytes, so ASan sees any read past the end. */
static unsigned char *exact_copy(const void *p, size_t n) {
  unsigned char *q = malloc(n ? n : 1);
  if (n) memcpy(q, p, n);
  return q;
}

/* ---- roundtrip ------------------------------------------------------------ */

static void t_roundtrip_every_field(void) {
  static const uint8_t u8s[] = {0, 1, 127, 255};
  static const uint16_t u16s[] = {0, 1, 0x8000, 65535};
  static const uint32_t u32s[] = {0, 1, 0x80000000u, UINT32_MAX};
  static const int32_t i32s[] = {0, -1, INT32_MIN, INT32_MAX};
  static const int64_t i64s[] = {0, -1, INT64_MIN, INT64_MAX};
  static const double f64s[] = {0.0, -0.0, 1.5, -1e-300, DBL_MAX, -INFINITY};
  static char longstr[70000];
  memset(longstr, 'x', sizeof longstr - 1);
  const char *strs[] = {"", "hello", "with\0nul", "ünïcode", longstr};
  size_t str_lens[] = {0, 5, 4, strlen("ünïcode"), 65535}; /* capped */
  const unsigned char bytes[] = {1, 2, 3, 0, 255};

  pmi_buf b = {0};
  pmi_msg_begin(&b, JOB, PMI_MSG_OPLOG, 42);
  CHECK_EQ_INT(pmi_msg_payload(&b), 0);
  for (int i = 0; i < 4; i++) CHECK_EQ_INT(pmi_put_u8(&b, u8s[i]), 0);
  for (int i = 0; i < 4; i++) CHECK_EQ_INT(pmi_put_u16(&b, u16s[i]), 0);
  for (int i = 0; i < 4; i++) CHECK_EQ_INT(pmi_put_u32(&b, u32s[i]), 0);
  for (int i = 0; i < 4; i++) CHECK_EQ_INT(pmi_put_i32(&b, i32s[i]), 0);
  for (int i = 0; i < 4; i++) CHECK_EQ_INT(pmi_put_i64(&b, i64s[i]), 0);
  for (int i = 0; i < 6; i++) CHECK_EQ_INT(pmi_put_f64(&b, f64s[i]), 0);
  CHECK_EQ_INT(pmi_put_f64(&b, NAN), 0);
  for (int i = 0; i < 5; i++) CHECK_EQ_INT(pmi_put_str(&b, strs[i]), 0);
  CHECK_EQ_INT(pmi_put_bytes(&b, bytes, sizeof bytes), 0);
  size_t want_payload = 4 + 8 + 16 + 16 + 32 + 7 * 8 + sizeof bytes;
  for (int i = 0; i < 5; i++) want_payload += 2 + str_lens[i];
  CHECK_EQ_INT(pmi_msg_payload(&b), want_payload);
  seal(&b);

  unsigned char *msg = exact_copy(b.data, b.len);
  pmi_hdr h;
  pmi_rd rd;
  char err[PMI_ERRLEN] = "";
  CHECK_EQ_INT(pmi_msg_open(msg, b.len, JOB, &h, &rd, err), PMLS_OK);
  CHECK_EQ_INT(h.magic, PMI_MAGIC);
  CHECK_EQ_INT(h.job, JOB);
  CHECK_EQ_INT(h.type, PMI_MSG_OPLOG);
  CHECK_EQ_INT(h.src, 42);
  CHECK_EQ_INT(h.len, want_payload);
  CHECK_EQ_INT(pmi_rd_left(&rd), want_payload);
  for (int i = 0; i < 4; i++) CHECK_EQ_INT(pmi_get_u8(&rd), u8s[i]);
  for (int i = 0; i < 4; i++) CHECK_EQ_INT(pmi_get_u16(&rd), u16s[i]);
  for (int i = 0; i < 4; i++) CHECK_EQ_INT(pmi_get_u32(&rd), u32s[i]);
  for (int i = 0; i < 4; i++) CHECK_EQ_INT(pmi_get_i32(&rd), i32s[i]);
  for (int i = 0; i < 4; i++) CHECK_EQ_INT(pmi_get_i64(&rd), i64s[i]);
  for (int i = 0; i < 6; i++) {
    double v = pmi_get_f64(&rd);
    CHECK(memcmp(&v, &f64s[i], sizeof v) == 0); /* bit-exact, -0.0 too */
  }
  CHECK(isnan(pmi_get_f64(&rd)));
  static char out[70000];
  for (int i = 0; i < 5; i++) {
    CHECK_EQ_INT(pmi_get_str(&rd, out, sizeof out), 0);
    CHECK_EQ_INT(strlen(out), str_lens[i]);
    CHECK(strncmp(out, strs[i], str_lens[i]) == 0);
  }
  const unsigned char *p = pmi_get_bytes(&rd, sizeof bytes);
  CHECK(p != NULL);
  CHECK(memcmp(p, bytes, sizeof bytes) == 0);
  CHECK_EQ_INT(pmi_rd_left(&rd), 0);
  CHECK_EQ_INT(rd.bad, 0);
  free(msg);
  pmi_buf_free(&b);
}

/* A header-only message opens with an empty payload; reading it sets bad. */
static void t_empty_payload(void) {
  static const int types[] = {PMI_MSG_HELLO, PMI_MSG_BYE, PMI_MSG_STOP};
  for (size_t i = 0; i < 3; i++) {
    pmi_buf b = {0};
    pmi_msg_begin(&b, JOB, types[i], -1);
    seal(&b);
    unsigned char *msg = exact_copy(b.data, b.len);
    pmi_hdr h;
    pmi_rd rd;
    char err[PMI_ERRLEN] = "";
    CHECK_EQ_INT(pmi_msg_open(msg, b.len, JOB, &h, &rd, err), PMLS_OK);
    CHECK_EQ_INT(h.type, types[i]);
    CHECK_EQ_INT(h.src, -1);
    CHECK_EQ_INT(pmi_rd_left(&rd), 0);
    CHECK_EQ_INT(pmi_get_u8(&rd), 0);
    CHECK_EQ_INT(rd.bad, 1);
    free(msg);
    pmi_buf_free(&b);
  }
}

static void t_type_names(void) {
  static const struct { int type; const char *name; } rows[] = {
      {PMI_MSG_HELLO, "HELLO"}, {PMI_MSG_GET, "GET"},   {PMI_MSG_ROW, "ROW"},
      {PMI_MSG_OPLOG, "OPLOG"}, {PMI_MSG_STOP, "STOP"}, {0, "unknown"},
      {PMI_MSG_LAST + 1, "unknown"}, {-3, "unknown"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    CHECK(strcmp(pmi_msg_type_name(rows[i].type), rows[i].name) == 0);
}

/* ---- what pmi_msg_open refuses --------------------------------------------- */

/* A GET with a 12-byte payload, then one corruption per row. */
enum { CUT = 1, MAGIC, JOBID, TYPE, LONGER, SHORTER };

static void t_open_rejects(void) {
  static const struct {
    const char *what;
    int how;
    uint32_t arg;
    const char *says;
  } rows[] = {
      {"empty", CUT, 0, "truncated message"},
      {"shorter than a header", CUT, sizeof(pmi_hdr) - 1, "truncated message"},
      {"bad magic", MAGIC, 0x504d4c53u, "bad magic"},
      {"zero magic", MAGIC, 0, "bad magic"},
      {"another job", JOBID, JOB + 1, "another job"},
      {"type 0", TYPE, 0, "unknown type 0"},
      {"type past the last", TYPE, PMI_MSG_LAST + 1, "unknown type"},
      {"type 65535", TYPE, 65535, "unknown type 65535"},
      {"payload cut by a byte", CUT, sizeof(pmi_hdr) + 11, "truncated GET"},
      {"payload missing", CUT, sizeof(pmi_hdr), "truncated GET"},
      {"header says more", LONGER, 13, "truncated GET"},
      {"header says less", SHORTER, 4, "GET"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    pmi_buf b = {0};
    pmi_msg_begin(&b, JOB, PMI_MSG_GET, 3);
    pmi_put_u32(&b, 7);
    pmi_put_i64(&b, 99);
    seal(&b);
    size_t len = b.len;
    pmi_hdr *hp = (pmi_hdr *)b.data;
    switch (rows[i].how) {
    case CUT: len = rows[i].arg; break;
    case MAGIC: hp->magic = rows[i].arg; break;
    case JOBID: hp->job = rows[i].arg; break;
    case TYPE: hp->type = (uint16_t)rows[i].arg; break;
    case LONGER: hp->len = rows[i].arg; break;
    case SHORTER: hp->len = rows[i].arg; break;
    }
    unsigned char *msg = exact_copy(b.data, len);
    pmi_hdr h;
    pmi_rd rd = {NULL, 0, 0, 0};
    char err[PMI_ERRLEN] = "";
    int rc = pmi_msg_open(msg, len, JOB, &h, &rd, err);
    free(msg);
    pmi_buf_free(&b);
    if (rc != PMLS_EPROTO || !strstr(err, rows[i].says)) {
      th_fail(__FILE__, __LINE__, "%s: want PMLS_EPROTO and \"%s\", got %d "
              "\"%s\"", rows[i].what, rows[i].says, rc, err);
      return;
    }
  }
}

/* ---- reading past the end ---------------------------------------------- */

static pmi_rd reader_over(const unsigned char *p, size_t n) {
  pmi_rd r = {p, n, 0, 0};
  return r;
}

static void t_read_past_end(void) {
  /* every getter on a 3-byte payload that holds less than it needs */
  static const unsigned char three[3] = {0xaa, 0xbb, 0xcc};
  unsigned char *p = exact_copy(three, 3);
  static const char *const getters[] = {"u32", "i32", "i64", "f64"};
  for (int g = 0; g < 4; g++) {
    pmi_rd r = reader_over(p, 3);
    double v = 0;
    switch (g) {
    case 0: v = pmi_get_u32(&r); break;
    case 1: v = pmi_get_i32(&r); break;
    case 2: v = (double)pmi_get_i64(&r); break;
    case 3: v = pmi_get_f64(&r); break;
    }
    if (v != 0 || r.bad != 1 || r.off != 0) {
      th_fail(__FILE__, __LINE__, "get_%s past the end: value %g bad %d off %zu",
              getters[g], v, r.bad, r.off);
      free(p);
      return;
    }
    /* bad is sticky: even a read that would fit now returns zero */
    CHECK_EQ_INT(pmi_get_u8(&r), 0);
    CHECK_EQ_INT(r.bad, 1);
    CHECK(pmi_get_bytes(&r, 0) == NULL);
  }
  /* reads that fit, then one that does not */
  pmi_rd r = reader_over(p, 3);
  CHECK_EQ_INT(pmi_get_u16(&r), 0xbbaa);
  CHECK_EQ_INT(pmi_get_u8(&r), 0xcc);
  CHECK_EQ_INT(r.bad, 0);
  CHECK_EQ_INT(pmi_rd_left(&r), 0);
  CHECK_EQ_INT(pmi_get_u8(&r), 0);
  CHECK_EQ_INT(r.bad, 1);
  /* absurd lengths do not wrap around */
  static const size_t sizes[] = {4, 1000, SIZE_MAX, SIZE_MAX - 1,
                                 (size_t)1 << 63};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    pmi_rd q = reader_over(p, 3);
    pmi_get_u8(&q); /* off = 1 */
    CHECK(pmi_get_bytes(&q, sizes[i]) == NULL);
    CHECK_EQ_INT(q.bad, 1);
    CHECK_EQ_INT(q.off, 1);
  }
  free(p);
}

static void t_read_str_malformed(void) {
  /* a string whose length prefix claims more than is there */
  static const unsigned char claim[] = {100, 0, 'a', 'b', 'c'};
  unsigned char *p = exact_copy(claim, sizeof claim);
  pmi_rd r = reader_over(p, sizeof claim);
  char out[8] = "zzzzzzz";
  CHECK_EQ_INT(pmi_get_str(&r, out, sizeof out), -1);
  CHECK_EQ_INT(out[0], 0);
  CHECK_EQ_INT(r.bad, 1);
  free(p);
  /* only one byte of the length prefix */
  p = exact_copy(claim, 1);
  r = reader_over(p, 1);
  CHECK_EQ_INT(pmi_get_str(&r, out, sizeof out), -1);
  CHECK_EQ_INT(r.bad, 1);
  free(p);
  /* a string longer than the output: truncated and terminated */
  static const unsigned char hello[] = {5, 0, 'h', 'e', 'l', 'l', 'o', '!'};
  p = exact_copy(hello, sizeof hello);
  r = reader_over(p, sizeof hello);
  char small[4];
  CHECK_EQ_INT(pmi_get_str(&r, small, sizeof small), 0);
  CHECK(strcmp(small, "hel") == 0);
  CHECK_EQ_INT(r.off, 7); /* the whole string was consumed */
  CHECK_EQ_INT(pmi_get_u8(&r), '!');
  free(p);
}

/* cap 0 means "no room at all": the failure path honours it (it writes
 * nothing), so the success path must too. */
static void t_read_str_cap_zero(void) {
  static const unsigned char hello[] = {5, 0, 'h', 'e', 'l', 'l', 'o'};
  unsigned char *p = exact_copy(hello, sizeof hello);
  pmi_rd r = reader_over(p, sizeof hello);
  char guard[16];
  memset(guard, '#', sizeof guard);
  pmi_get_str(&r, guard, 0);
  free(p);
  for (size_t i = 0; i < sizeof guard; i++) CHECK_EQ_INT(guard[i], '#');
}

/* ---- transport -------------------------------------------------------------- */

static void t_transport_inproc_roundtrip(void) {
  char err[PMI_ERRLEN] = "";
  const char *addr = "inproc://msg-test-roundtrip";
  int pull = pmi_sock_pull(addr, 2000, err);
  CHECK(pull >= 0);
  int push = pmi_sock_push(addr, 2000, err);
  CHECK(push >= 0);
  pmi_traffic tx = {0}, rx = {0};
  pmi_buf b = {0};
  for (int i = 0; i < 3; i++) {
    pmi_msg_begin(&b, JOB, PMI_MSG_CLOCK, i);
    pmi_put_i64(&b, 1000 + i);
    pmi_put_str(&b, "reports");
    CHECK_EQ_INT(pmi_msg_send(push, &b, &tx, "test", err), PMLS_OK);
  }
  for (int i = 0; i < 3; i++) { /* in order on one pipe */
    void *msg = NULL;
    size_t len = 0;
    CHECK_EQ_INT(pmi_msg_recv(pull, &msg, &len, &rx, err), PMLS_OK);
    pmi_hdr h;
    pmi_rd rd;
    int rc = pmi_msg_open(msg, len, JOB, &h, &rd, err);
    int64_t clock = pmi_get_i64(&rd);
    char s[16];
    pmi_get_str(&rd, s, sizeof s);
    int bad = rd.bad;
    pmi_msg_free(msg);
    CHECK_EQ_INT(rc, PMLS_OK);
    CHECK_EQ_INT(h.type, PMI_MSG_CLOCK);
    CHECK_EQ_INT(h.src, i);
    CHECK_EQ_INT(clock, 1000 + i);
    CHECK(strcmp(s, "reports") == 0);
    CHECK_EQ_INT(bad, 0);
  }
  size_t one = sizeof(pmi_hdr) + 8 + 2 + 7;
  CHECK_EQ_INT(tx.messages_sent, 3);
  CHECK_EQ_INT(tx.bytes_sent, 3 * one);
  CHECK_EQ_INT(rx.messages_received, 3);
  CHECK_EQ_INT(rx.bytes_received, 3 * one);
  /* nothing more: the receive times out and says so */
  void *msg = NULL;
  size_t len;
  pmi_sock_close(pull);
  pull = pmi_sock_pull("inproc://msg-test-empty", 50, err);
  CHECK(pull >= 0);
  CHECK_EQ_INT(pmi_msg_recv(pull, &msg, &len, &rx, err), PMLS_ETIMEDOUT);
  CHECK_STR_CONTAINS(err, "timed out");
  pmi_buf_free(&b);
  pmi_sock_close(push);
  pmi_sock_close(pull);
}

static void t_transport_bind_twice(void) {
  char err[PMI_ERRLEN] = "";
  int a = pmi_sock_pull("inproc://msg-test-twice", 100, err);
  CHECK(a >= 0);
  int b = pmi_sock_pull("inproc://msg-test-twice", 100, err);
  pmi_sock_close(a);
  CHECK_EQ_INT(b, -1);
  CHECK_STR_CONTAINS(err, "address already in use");
  CHECK_STR_CONTAINS(err, "inproc://msg-test-twice");
  err[0] = 0;
  CHECK_EQ_INT(pmi_sock_pull("bogus://nowhere", 100, err), -1);
  CHECK_STR_CONTAINS(err, "bogus://nowhere");
}

/* Sends small messages (type WAIT, payload k) until one arrives, and
 * returns the first that does: after a refused message nanomsg drops the
 * connection and the sender reconnects, so the first few may be lost. */
static int first_after(int push, int pull, void **msg, size_t *len) {
  char err[PMI_ERRLEN];
  pmi_buf b = {0};
  int rc = PMLS_ETIMEDOUT;
  pmi_sock_set_rcvtimeo(pull, 300);
  for (int k = 0; k < 100 && rc == PMLS_ETIMEDOUT; k++) {
    pmi_msg_begin(&b, JOB, PMI_MSG_WAIT, -1);
    pmi_put_i64(&b, k);
    if (pmi_msg_send(push, &b, NULL, "test", err) != PMLS_OK) continue;
    rc = pmi_msg_recv(pull, msg, len, NULL, err);
  }
  pmi_buf_free(&b);
  return rc;
}

/* A 3 MiB message is over the bound of a process that declared nothing
 * (PMI_RCVMAX_CONTROL): it is refused, and the socket goes on serving. Once
 * the bound is raised (as declaring a table with 3 MiB rows does) the same
 * message arrives whole, on the same socket. */
static void t_transport_large_over_ipc(void) {
  char addr[128], err[PMI_ERRLEN] = "";
  snprintf(addr, sizeof addr, "ipc:///tmp/pmls-msg-test-%d.ipc", (int)getpid());
  int pull = pmi_sock_pull(addr, 3000, err);
  CHECK(pull >= 0);
  int push = pmi_sock_push(addr, 3000, err);
  CHECK(push >= 0);
  enum { BIG = 3 << 20 };
  CHECK(pmi_net_rcvmax() < BIG);
  unsigned char *payload = malloc(BIG);
  for (size_t i = 0; i < BIG; i++) payload[i] = (unsigned char)(i * 31 + 7);
  pmi_buf b = {0};
  pmi_msg_begin(&b, JOB, PMI_MSG_ROW, -1);
  pmi_put_bytes(&b, payload, BIG);
  int refused_send = pmi_msg_send(push, &b, NULL, "test", err);
  void *msg = NULL;
  size_t len = 0;
  int after = first_after(push, pull, &msg, &len);
  size_t after_len = len;
  if (after == PMLS_OK) pmi_msg_free(msg);

  pmi_net_allow(sizeof(pmi_hdr) + BIG);
  pmi_msg_begin(&b, JOB, PMI_MSG_ROW, -1);
  pmi_put_bytes(&b, payload, BIG);
  pmi_sock_set_rcvtimeo(pull, 5000);
  int src = pmi_msg_send(push, &b, NULL, "test", err);
  msg = NULL;
  len = 0;
  int rrc = src == PMLS_OK ? pmi_msg_recv(pull, &msg, &len, NULL, err) : -1;
  int same = 0;
  if (rrc == PMLS_OK) {
    pmi_hdr h;
    pmi_rd rd;
    if (pmi_msg_open(msg, len, JOB, &h, &rd, err) == PMLS_OK) {
      const void *p = pmi_get_bytes(&rd, BIG);
      same = p && memcmp(p, payload, BIG) == 0;
    }
    pmi_msg_free(msg);
  }
  free(payload);
  pmi_buf_free(&b);
  pmi_sock_close(push);
  pmi_sock_close(pull);
  unlink(addr + strlen("ipc://"));
  CHECK_EQ_INT(refused_send, PMLS_OK); /* nanomsg took it; the receiver refused */
  CHECK_EQ_INT(after, PMLS_OK);
  CHECK_EQ_INT(after_len, sizeof(pmi_hdr) + 8); /* a small one came first */
  CHECK(pmi_net_rcvmax() >= sizeof(pmi_hdr) + BIG);
  CHECK_EQ_INT(src, PMLS_OK);
  CHECK_EQ_INT(rrc, PMLS_OK);
  CHECK_EQ_INT(len, sizeof(pmi_hdr) + BIG);
  CHECK(same);
}

/* A message buffer (pmi_msg_buf_init) is handed to nanomsg by a send that
 * succeeds: the bytes arrive as built and the buffer is left empty, ready
 * for the next message, on ipc (written from that memory) and on inproc
 * (the memory itself goes to the receiver). A send that fails leaves it
 * whole: it can grow past the size it was sent at and be sent again. */
static void t_transport_message_buffer_handed_over(void) {
  char ipc[128], err[PMI_ERRLEN] = "";
  snprintf(ipc, sizeof ipc, "ipc:///tmp/pmls-msg-test-mb-%d.ipc", (int)getpid());
  const char *addrs[] = {ipc, "inproc://msg-test-msgbuf"};
  for (int a = 0; a < 2; a++) {
    int pull = pmi_sock_pull(addrs[a], 2000, err);
    CHECK(pull >= 0);
    int push = pmi_sock_push(addrs[a], 2000, err);
    CHECK(push >= 0);
    pmi_buf b = {0};
    pmi_msg_buf_init(&b);
    CHECK(pmi_msg_buf_is(&b));
    pmi_traffic tx = {0};
    enum { N = 3, WIDE = 3 << 18 }; /* the last is past the first capacity */
    for (int i = 0; i < N; i++) {
      size_t n = i == N - 1 ? WIDE : (size_t)(100 * (i + 1));
      pmi_msg_begin(&b, JOB, PMI_MSG_OPLOG, i);
      for (size_t k = 0; k < n; k++) pmi_put_u8(&b, (uint8_t)(k * 7 + i));
      CHECK_EQ_INT(pmi_msg_send(push, &b, &tx, "test", err), PMLS_OK);
      CHECK(b.data == NULL);
      CHECK_EQ_INT(b.len, 0);
      CHECK(pmi_msg_buf_is(&b));
    }
    CHECK_EQ_INT(tx.messages_sent, N);
    CHECK_EQ_INT(tx.bytes_sent, N * sizeof(pmi_hdr) + 100 + 200 + WIDE);
    pmi_net_allow(sizeof(pmi_hdr) + WIDE);
    for (int i = 0; i < N; i++) {
      void *msg = NULL;
      size_t len = 0;
      CHECK_EQ_INT(pmi_msg_recv(pull, &msg, &len, NULL, err), PMLS_OK);
      size_t n = i == N - 1 ? WIDE : (size_t)(100 * (i + 1));
      pmi_hdr h;
      pmi_rd rd;
      CHECK_EQ_INT(pmi_msg_open(msg, len, JOB, &h, &rd, err), PMLS_OK);
      CHECK_EQ_INT(h.src, i);
      CHECK_EQ_INT(len, sizeof(pmi_hdr) + n);
      const unsigned char *p = pmi_get_bytes(&rd, n);
      int same = p != NULL;
      for (size_t k = 0; same && k < n; k++) same = p[k] == (uint8_t)(k * 7 + i);
      CHECK(same);
      pmi_msg_free(msg);
    }
    pmi_sock_close(pull);
    pmi_sock_close(push);
    /* No peer: an offer fails, and the buffer is still the message. */
    push = pmi_sock_push(addrs[a], 100, err);
    CHECK(push >= 0);
    pmi_msg_begin(&b, JOB, PMI_MSG_OPLOG, 7);
    pmi_put_i64(&b, 42);
    size_t len0 = b.len;
    CHECK_EQ_INT(pmi_msg_offer(push, &b), -1);
    CHECK(b.data != NULL);
    CHECK_EQ_INT(b.len, len0);
    CHECK_EQ_INT(pmi_msg_send(push, &b, NULL, "test", err), PMLS_ETIMEDOUT);
    for (int k = 0; k < 5000; k++) pmi_put_i64(&b, k); /* grows past the cut */
    pull = pmi_sock_pull(addrs[a], 2000, err);
    CHECK(pull >= 0);
    int rc = PMLS_ETIMEDOUT;
    for (int k = 0; k < 50 && rc == PMLS_ETIMEDOUT; k++)
      rc = pmi_msg_send(push, &b, NULL, "test", err);
    CHECK_EQ_INT(rc, PMLS_OK);
    CHECK(b.data == NULL);
    void *msg = NULL;
    size_t len = 0;
    CHECK_EQ_INT(pmi_msg_recv(pull, &msg, &len, NULL, err), PMLS_OK);
    pmi_hdr h;
    pmi_rd rd;
    CHECK_EQ_INT(pmi_msg_open(msg, len, JOB, &h, &rd, err), PMLS_OK);
    int ok = pmi_get_i64(&rd) == 42;
    for (int k = 0; k < 5000; k++) ok &= pmi_get_i64(&rd) == k;
    CHECK(ok && !rd.bad && pmi_rd_left(&rd) == 0);
    pmi_msg_free(msg);
    pmi_buf_free(&b);
    pmi_sock_close(pull);
    pmi_sock_close(push);
  }
  unlink(ipc + strlen("ipc://"));
}

/* The bound only grows and stops at nanomsg's INT_MAX. */
static void t_transport_bound_monotone(void) {
  size_t before = pmi_net_rcvmax();
  CHECK(before >= PMI_RCVMAX_CONTROL);
  pmi_net_allow(10);
  CHECK_EQ_INT(pmi_net_rcvmax(), before);
  pmi_net_allow(SIZE_MAX);
  CHECK_EQ_INT(pmi_net_rcvmax(), INT32_MAX);
}

/* What a TABLE may declare: the engine's rules, and a row that fits one
 * message; a 3e8-column float64 row (2.4 GB) does not. */
static void t_table_spec_check(void) {
  pmls_table_spec ok = {.rows = 10, .cols = 4, .dtype = PMLS_F64,
                        .layout = PMLS_DENSE, .staleness = -1,
                        .consistency = -1};
  char why[256] = "";
  CHECK_EQ_INT(pmi_table_spec_check(&ok, 4, why, sizeof why), 0);
  CHECK_EQ_INT(pmi_table_row_max(&ok), 32);
  pmls_table_spec sp = ok;
  sp.layout = PMLS_SPARSE;
  CHECK_EQ_INT(pmi_table_row_max(&sp), 48);
  pmls_table_spec big = ok;
  big.cols = 300000000;
  CHECK_EQ_INT(pmi_table_spec_check(&big, 4, why, sizeof why), -1);
  CHECK_STR_CONTAINS(why, "more than one message can carry");
  pmls_table_spec fits = ok;
  fits.cols = 3 << 17; /* a 3 MiB row */
  CHECK_EQ_INT(pmi_table_spec_check(&fits, 4, why, sizeof why), 0);
  const struct { const char *what; pmls_table_spec s; } bad[] = {
      {"rows < 1", {.rows = 0, .cols = 1, .dtype = PMLS_F64}},
      {"cols < 1", {.rows = 1, .cols = -5, .dtype = PMLS_F64}},
      {"bad dtype", {.rows = 1, .cols = 1, .dtype = (pmls_dtype)77}},
      {"bad layout", {.rows = 1, .cols = 1, .layout = (pmls_layout)9}},
      {"bad staleness", {.rows = 1, .cols = 1, .staleness = -2}},
      {"bad consistency", {.rows = 1, .cols = 1, .consistency = 12}},
      {"bad init", {.rows = 1, .cols = 1, .init = 1, .init_scale = -1}},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    why[0] = 0;
    CHECK_EQ_INT(pmi_table_spec_check(&bad[i].s, 4, why, sizeof why), -1);
    CHECK_STR_CONTAINS(why, bad[i].what);
  }
  pmls_table_spec a = ok, c = ok;
  CHECK(pmi_table_spec_same(&a, &c));
  c.init_scale = 0.5;
  CHECK(!pmi_table_spec_same(&a, &c));
}

static const th_case cases[] = {
    {"roundtrip of every field type", t_roundtrip_every_field},
    {"header-only messages", t_empty_payload},
    {"message type names", t_type_names},
    {"open rejects short, bad magic, another job, unknown type, bad length", t_open_rejects},
    {"reading past the end sets bad, reads nothing", t_read_past_end},
    {"strings: bad length prefix, truncation to the output", t_read_str_malformed},
    {"strings: pmi_get_str with cap 0 writes nothing", t_read_str_cap_zero},
    {"transport: inproc roundtrip in order, traffic, timeout", t_transport_inproc_roundtrip},
    {"transport: binding an address twice names it", t_transport_bind_twice},
    {"transport: a 3 MiB message is refused over the bound, arrives whole once it is raised", t_transport_large_over_ipc},
    {"transport: a message buffer is handed over by a send, kept by a failed one", t_transport_message_buffer_handed_over},
    {"transport: the receive bound only grows, up to INT_MAX", t_transport_bound_monotone},
    {"TABLE specs: the engine's rules and a row that fits a message", t_table_spec_check},
};

TH_MAIN(cases)
