/* server_test.c -- a server shard facing bad input. Every bad message must
 * end in an error that names the shard and the cause -- on stderr when there
 * is no one to answer, in an ERR reply when there is -- never in a hang, a
 * crash or a silent loss, and the shard keeps serving afterwards. Raw
 * messages come from a bare nanomsg PUSH socket (malformed headers) or from
 * the fake client of server_fake.h (bad table ids, rows, columns, HELLOs);
 * what the shards hold afterwards is read back through real clients, so a
 * lost or an invented increment shows. server_rows_test.c has the rest. */
#include "server_fake.h"

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

static const th_case cases[] = {
    {"malformed messages are dropped with 'server 0' and the cause on stderr", t_malformed_messages_dropped_with_cause},
    {"errors for a sender without HELLO still show on stderr", t_unanswerable_errors_not_silent},
    {"bad table ids, rows, columns: ERR naming them, nothing applied", t_bad_rows_and_tables_answered_with_err},
    {"an OPLOG with a refused entry applies nothing of it", t_refused_oplog_applies_nothing},
    {"malformed HELLOs are reported and do not crash the shard", t_malformed_hello_does_not_crash},
};

TH_MAIN(cases)
