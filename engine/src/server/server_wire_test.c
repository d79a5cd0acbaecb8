/* server_wire_test.c -- the bounds on what a message may make a node do
 * (docs/security.md, "Message bounds"). Each case is a reproducer from
 * issue 14's probing and fuzzing, sent as the prober sent it: a raw TCP
 * frame, or a message built by hand through the fake client of
 * server_fake.h. Every one must be refused or dropped, never crash the
 * process or size an allocation or a loop, and the node must go on
 * serving real clients afterwards. */
#include <errno.h>
#include <sys/time.h>

#include "server_fake.h"

/* A one-process engine on tcp://127.0.0.1, so its shards are tcp sockets. */
static pmls_engine *tcp_engine(int workers, int servers, char *master,
                               size_t cap) {
  int port = pmi_free_tcp_port("127.0.0.1");
  if (port <= 0) return NULL;
  snprintf(master, cap, "tcp://127.0.0.1:%d", port);
  pmls_config cfg = config(workers, servers);
  cfg.procs = 1;
  cfg.rank = 0;
  cfg.master = master;
  return engine_of(cfg);
}

static int port_of(const char *addr) {
  const char *colon = strrchr(addr, ':');
  return colon ? atoi(colon + 1) : -1;
}

/* Reads what the peer sends until it closes the connection: 1 when it did
 * (EOF or reset), 0 when it kept it open for 10 s. */
static int peer_closes(int fd) {
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[256];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) continue; /* the SP header nanomsg answers with */
    if (n == 0) return 1;
    return errno == ECONNRESET;
  }
}

/* ---- the length prefix: bounded by what the job can send ----------------- */

/* The reproducer: an SP header for a PUSH peer, then a length prefix
 * of 2^63 - 1. nanomsg used to abort the process on the allocation. */
static void t_huge_length_prefix_refused(void) {
  char master[PMI_ADDR_MAX];
  pmls_engine *e = tcp_engine(1, 1, master, sizeof master);
  CHECK(e != NULL);
  int t = table(e, "t", spec_of(4, 3, PMLS_DENSE));
  CHECK_EQ_INT(t, 0);
  pmls_client *w = NULL, *h = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &w), PMLS_OK);
  CHECK_EQ_INT(pmls_client_open(e, -1, &h), PMLS_OK);
  double expect[3] = {0, 0, 0};
  check_serves(w, h, t, 1, 3, expect, 0, 1.0);
  if (th_failed()) return;

  static const unsigned char frames[][16] = {
      {0, 'S', 'P', 0, 0, 0x50, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff,
       0xff, 0xff},
      /* 3 GiB: over the bound, under nanomsg's INT_MAX */
      {0, 'S', 'P', 0, 0, 0x50, 0, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port_of(e->server_addr[0]));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(send(fd, frames[i], sizeof frames[i], 0) == (ssize_t)sizeof frames[i]);
    int closed = peer_closes(fd);
    close(fd);
    if (!closed) {
      th_fail(__FILE__, __LINE__, "frame %zu: want the shard to drop the "
              "connection, it kept it open", i);
      return;
    }
    /* Alive, and the same socket serves real clients. */
    check_serves(w, h, t, 1, 3, expect, (int)i + 1, 2.0);
    if (th_failed()) return;
  }
  CHECK_OK(w, pmls_client_close(w));
  CHECK_OK(h, pmls_client_close(h));
  pmls_engine_destroy(e);
}

/* A row bigger than one ROWS or OPLOG piece still travels whole over tcp:
 * declaring its table raised the bound. */
static void t_large_row_still_arrives(void) {
  char master[PMI_ADDR_MAX];
  pmls_engine *e = tcp_engine(1, 1, master, sizeof master);
  CHECK(e != NULL);
  enum { COLS = 3 << 17 }; /* 3 MiB of float64 */
  int t = table(e, "big", spec_of(2, COLS, PMLS_DENSE));
  CHECK_EQ_INT(t, 0);
  CHECK(pmi_net_rcvmax() > (size_t)COLS * 8);
  pmls_client *w = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &w), PMLS_OK);
  double *row = malloc((size_t)COLS * 8), *got = malloc((size_t)COLS * 8);
  for (int j = 0; j < COLS; j++) row[j] = j * 0.5;
  CHECK_OK(w, pmls_inc_dense(w, t, 1, row));
  CHECK_OK(w, pmls_clock(w));
  CHECK_OK(w, pmls_get_dense(w, t, 1, got));
  int same = memcmp(row, got, (size_t)COLS * 8) == 0;
  free(row);
  free(got);
  CHECK(same);
  CHECK_OK(w, pmls_client_close(w));
  pmls_engine_destroy(e);
}

/* ---- TABLE: what it may declare ------------------------------------------ */

/* From the fuzzer: cols = 3e8 made each row a 2.4 GB allocation. A spec the
 * engine would refuse, or whose row no message can carry, is refused with
 * an ERR, and the table stays undeclared. */
static void t_table_spec_refused(void) {
  pmls_engine *e = engine_of(config(1, 1));
  CHECK(e != NULL);
  int t = table(e, "t", spec_of(4, 3, PMLS_DENSE));
  CHECK_EQ_INT(t, 0);
  fake f;
  CHECK(fake_open(&f, e, FAKE_ID, 1) == 0);
  pmls_table_spec huge = spec_of(10, 300000000, PMLS_DENSE);
  pmls_table_spec norows = spec_of(0, 3, PMLS_DENSE);
  pmls_table_spec negcols = spec_of(4, -3, PMLS_DENSE);
  pmls_table_spec dtype = spec_of(4, 3, PMLS_DENSE);
  dtype.dtype = (pmls_dtype)42;
  const struct {
    const char *what;
    pmls_table_spec spec;
    const char *says;
  } rows[] = {
      {"3e8 float64 columns", huge, "more than one message can carry"},
      {"no rows", norows, "rows < 1"},
      {"negative columns", negcols, "cols < 1"},
      {"unknown dtype", dtype, "bad dtype"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    table_msg(&f, 5, "forged", rows[i].spec);
    CHECK_EQ_INT(fake_send(&f, 0), PMLS_OK);
    reply r;
    fake_recv(&f, &r, 3, 3000);
    if (r.type != PMI_MSG_ERR || r.code != PMLS_EINVAL ||
        !strstr(r.msg, rows[i].says)) {
      th_fail(__FILE__, __LINE__, "TABLE %s: want ERR \"%s\", got %s \"%s\"",
              rows[i].what, rows[i].says,
              r.type ? pmi_msg_type_name(r.type) : "nothing", r.msg);
      return;
    }
    get_msg(&f, 40 + (uint32_t)i, 5, 0, 0);
    CHECK_EQ_INT(fake_send(&f, 0), PMLS_OK);
    fake_recv(&f, &r, 3, 3000);
    CHECK_EQ_INT(r.type, PMI_MSG_ERR);
    CHECK_STR_CONTAINS(r.msg, "unknown table id 5");
  }
  fake_close(&f);
  pmls_engine_destroy(e);
}


/* ---- CLOCK: the worker's previous clock plus one, or dropped ------------- */

static void clock_msg(fake *f, int32_t worker, int64_t clock, uint32_t nrep,
                      const char *name, double v) {
  pmi_msg_begin(&f->b, f->e->job, PMI_MSG_CLOCK, worker);
  pmi_put_i64(&f->b, clock);
  pmi_put_u32(&f->b, nrep);
  if (name) {
    pmi_put_str(&f->b, name);
    pmi_put_f64(&f->b, v);
  }
}

/* From the fuzzer: CLOCK 2^56 wrapped the metrics slots' size (an
 * out-of-bounds write), > 2^62 spun their doubling loop, and CLOCK 10^12
 * then BYE ran the metrics' clock completion 10^12 times. A worker's clocks
 * reach a shard one by one, so only its previous clock + 1 is taken; the
 * rest (and a CLOCK whose reports do not decode) is dropped and counted,
 * and the shard goes on with the real worker's clocks. */
static void t_clock_not_next_dropped(void) {
  pmls_engine *e = engine_of(config(2, 1));
  CHECK(e != NULL);
  int t = table(e, "t", spec_of(4, 3, PMLS_DENSE));
  CHECK_EQ_INT(t, 0);
  pmls_client *w = NULL, *h = NULL;
  CHECK_EQ_INT(pmls_client_open(e, 0, &w), PMLS_OK);
  CHECK_EQ_INT(pmls_client_open(e, -1, &h), PMLS_OK);
  fake f;
  CHECK(fake_open(&f, e, FAKE_ID, 0) == 0);
  static const struct {
    const char *what;
    int64_t clock;
    uint32_t nrep;
    const char *name;
    const char *says;
  } rows[] = {
      {"clock 2^56", (int64_t)1 << 56, 0, NULL, "CLOCK 72057594037927936 from worker 1"},
      {"clock 2^62 + 1", ((int64_t)1 << 62) + 1, 0, NULL, "CLOCK 4611686018427387905"},
      {"clock 10^12", 1000000000000LL, 0, NULL, "CLOCK 1000000000000 from worker 1"},
      {"clock INT64_MAX", INT64_MAX, 0, NULL, "CLOCK 9223372036854775807"},
      {"clock 0 (not after 0)", 0, 0, NULL, "CLOCK 0 from worker 1, whose last clock here is 0"},
      {"clock -5", -5, 0, NULL, "CLOCK -5 from worker 1"},
      {"2^32-1 reports", 1, UINT32_MAX, NULL, "malformed CLOCK message from client 1"},
      {"65 reports", 1, 65, NULL, "malformed CLOCK message from client 1"},
      {"a report past the end", 1, 2, "loss", "malformed CLOCK message from client 1"},
      {"a report name that is not a key", 1, 1, "lo\"ss", "malformed reports in CLOCK 1"},
  };
  pmls_stats st;
  char fails[4096] = "";
  size_t off = 0;
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    clock_msg(&f, 1, rows[i].clock, rows[i].nrep, rows[i].name, 1.5);
    capture cap;
    CHECK(capture_begin(&cap) == 0);
    CHECK_EQ_INT(fake_send(&f, 0), PMLS_OK);
    char line[2048];
    int seen = capture_wait(&cap, "pmls: server 0: dropped a message: ",
                            rows[i].says, 2000, line, sizeof line);
    capture_end(&cap);
    if (!seen && off < sizeof fails)
      off += (size_t)snprintf(fails + off, sizeof fails - off, "[%s: want "
                              "\"%s\" on stderr, got \"%s\"] ", rows[i].what,
                              rows[i].says, line);
  }
  CHECK_EQ_INT(pmls_engine_stats(e, &st), PMLS_OK);
  CHECK_EQ_INT(st.messages_dropped, (int64_t)(sizeof rows / sizeof rows[0]));
  CHECK_EQ_INT(st.clocks, 0);
  /* The real clocks go on: worker 1's next clock is 1, and it is taken. */
  clock_msg(&f, 1, 1, 1, "loss", 2.5);
  CHECK_EQ_INT(fake_send(&f, 0), PMLS_OK);
  double expect[3] = {0, 0, 0};
  check_serves(w, h, t, 2, 3, expect, 0, 1.0);
  if (th_failed()) return;
  /* Worker 1 leaves (its BYE has no one to be acknowledged to), then worker
   * 0: the clocks the shard completes are the ones the workers made. */
  pmi_msg_begin(&f.b, e->job, PMI_MSG_BYE, 1);
  capture cap;
  CHECK(capture_begin(&cap) == 0);
  CHECK_EQ_INT(fake_send(&f, 0), PMLS_OK);
  char line[2048];
  capture_wait(&cap, "cannot answer client 1", "", 2000, line, sizeof line);
  capture_end(&cap);
  check_serves(w, h, t, 2, 3, expect, 1, 1.0);
  if (th_failed()) return;
  CHECK_OK(w, pmls_client_close(w));
  CHECK_EQ_INT(pmls_engine_stats(e, &st), PMLS_OK);
  CHECK_EQ_INT(st.messages_dropped, (int64_t)(sizeof rows / sizeof rows[0]));
  CHECK(st.clocks >= 1 && st.clocks <= 2);
  CHECK_OK(h, pmls_client_close(h));
  fake_close(&f);
  pmls_engine_destroy(e);
  if (fails[0]) th_fail(__FILE__, __LINE__, "%s", fails);
}

/* ---- GET and GETS: the stamps asked for are a slice of the workers ------- */

/* From the fuzzer: stamp_lo + i overflowed (signed) for a stamp_lo near
 * INT32_MAX. A slice outside [0, workers) is a malformed read. */
static void t_stamp_slice_checked(void) {
  pmls_engine *e = engine_of(config(2, 1));
  CHECK(e != NULL);
  int t = table(e, "t", spec_of(4, 3, PMLS_DENSE));
  CHECK_EQ_INT(t, 0);
  fake f;
  CHECK(fake_open(&f, e, FAKE_ID, 1) == 0);
  const struct {
    int gets;
    int32_t lo, n;
    int good;
  } rows[] = {
      {0, INT32_MAX, 2, 0}, {0, INT32_MAX - 1, 2, 0}, {0, -1, 1, 0},
      {0, 1, 2, 0},         {0, 0, 3, 0},             {0, 0, 1 << 16, 0},
      {1, INT32_MAX, 2, 0}, {1, 2, 1, 0},             {0, 0, 2, 1},
      {0, 2, 0, 1},         {1, 1, 1, 1},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    uint32_t req = 60 + (uint32_t)i;
    if (rows[i].gets) {
      pmi_msg_begin(&f.b, e->job, PMI_MSG_GETS, f.id);
      pmi_put_u32(&f.b, req);
      pmi_put_i32(&f.b, t);
      pmi_put_i64(&f.b, 0);
      pmi_put_i32(&f.b, rows[i].lo);
      pmi_put_i32(&f.b, rows[i].n);
      pmi_put_i64(&f.b, 1);
      pmi_put_i64(&f.b, 2);
    } else {
      get_msg(&f, req, t, 2, rows[i].n);
      memcpy(f.b.data + f.b.len - 8, &rows[i].lo, 4); /* its stamp_lo */
    }
    CHECK_EQ_INT(fake_send(&f, 0), PMLS_OK);
    reply r;
    fake_recv(&f, &r, 3, 3000);
    int want = rows[i].good ? (rows[i].gets ? PMI_MSG_ROWS : PMI_MSG_ROW)
                            : PMI_MSG_ERR;
    if (r.type != want || (want == PMI_MSG_ERR && !strstr(r.msg, "malformed"))) {
      th_fail(__FILE__, __LINE__, "%s stamps [%d, +%d): want %s, got %s \"%s\"",
              rows[i].gets ? "GETS" : "GET", rows[i].lo, rows[i].n,
              pmi_msg_type_name(want), r.type > 0 ? pmi_msg_type_name(r.type)
              : "nothing", r.msg);
      return;
    }
  }
  fake_close(&f);
  pmls_engine_destroy(e);
}

/* From the fuzzer (engine/fuzz/corpus/server/gets_no_rows): a GETS of no
 * rows checked none, so its table id was never checked either, and the
 * layout test read s->tables[3670016]. Every bad table id is refused. */
static void t_gets_no_rows_table_checked(void) {
  pmls_engine *e = engine_of(config(1, 1));
  CHECK(e != NULL);
  int t = table(e, "t", spec_of(4, 3, PMLS_DENSE));
  CHECK_EQ_INT(t, 0);
  fake f;
  CHECK(fake_open(&f, e, FAKE_ID, 1) == 0);
  const int32_t ids[] = {3670016, -1, PMI_MAX_TABLES, 7, t};
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    pmi_msg_begin(&f.b, e->job, PMI_MSG_GETS, f.id);
    pmi_put_u32(&f.b, 70 + (uint32_t)i);
    pmi_put_i32(&f.b, ids[i]);
    pmi_put_i64(&f.b, 0); /* min clock */
    pmi_put_i32(&f.b, 0);
    pmi_put_i32(&f.b, 0);
    pmi_put_i64(&f.b, 0); /* no rows */
    CHECK_EQ_INT(fake_send(&f, 0), PMLS_OK);
    reply r;
    fake_recv(&f, &r, 3, 3000);
    int good = ids[i] == t;
    if (good ? r.type != PMI_MSG_ROWS
             : r.type != PMI_MSG_ERR || !strstr(r.msg, "unknown table id")) {
      th_fail(__FILE__, __LINE__, "GETS of no rows of table %d: got %s \"%s\"",
              ids[i], r.type > 0 ? pmi_msg_type_name(r.type) : "nothing", r.msg);
      return;
    }
  }
  fake_close(&f);
  pmls_engine_destroy(e);
}

static const th_case cases[] = {
    {"tcp: a length prefix of 2^63-1 or 3 GiB drops the connection, the shard serves on", t_huge_length_prefix_refused},
    {"tcp: a 3 MiB row still arrives whole", t_large_row_still_arrives},
    {"TABLE: a spec the engine refuses, or a 2.4 GB row, is refused", t_table_spec_refused},
    {"CLOCK: only the worker's previous clock + 1; the rest dropped and counted", t_clock_not_next_dropped},
    {"GET/GETS: stamps outside the workers are a malformed read", t_stamp_slice_checked},
    {"GETS of no rows: an unknown table id is refused, not looked up", t_gets_no_rows_table_checked},
};

TH_MAIN(cases)
