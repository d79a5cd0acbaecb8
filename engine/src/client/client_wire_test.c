/* client_wire_test.c -- a client's receive path facing messages no shard
 * sends: garbage, another job's, unknown types, and replies whose counts
 * lie. Each is dropped and counted (pmls_stats.messages_dropped), never
 * used, and the client's reads go on with the real replies (issue 14: one
 * garbage message to a worker's reply socket used to end the job). The
 * forged messages go through a bare nanomsg PUSH socket to a worker's
 * inproc reply address. A socket reads its pipes in turn, so a forged
 * message queued first is not always read first: each read here is parked
 * at the shard (BSP, the other worker one clock behind) and released by a
 * thread only once the client has counted the forged message dropped, so
 * the real reply cannot exist before the forgery is read. A forgery taken
 * any other way (used, or thrown away uncounted) leaves the read to time
 * out, and the case fails.
 */
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>

#include <pthread.h>

#include "client_state.h"
#include "fixtures.h"
#include "harness.h"

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

static int64_t dropped(pmls_engine *e) {
  pmls_stats st;
  pmls_engine_stats(e, &st);
  return st.messages_dropped;
}

#define CHECK_RC(c, call)                                                      \
  do {                                                                         \
    int rc_ = (call);                                                          \
    if (rc_ != PMLS_OK) {                                                      \
      th_fail(__FILE__, __LINE__, "%s: %s", #call, pmls_client_errmsg(c));     \
      return;                                                                  \
    }                                                                          \
  } while (0)

/* Two workers of one process on one shard, BSP; a host client's values
 * already applied. w0 reads; w1 holds the global clock back until the
 * releaser moves it. */
typedef struct {
  pmls_engine *e;
  pmls_client *w0, *w1;
  int raw;
} scene;

static int scene_open(scene *sc, void (*fill)(pmls_engine *, pmls_client *)) {
  memset(sc, 0, sizeof *sc);
  sc->raw = -1;
  pmls_config cfg = config(2, 1);
  cfg.consistency = PMLS_BSP;
  char err[512];
  if (pmls_engine_create(&sc->e, &cfg, err, sizeof err) != PMLS_OK) return -1;
  pmls_client *h = NULL;
  if (pmls_client_open(sc->e, -1, &h) != PMLS_OK) return -1;
  fill(sc->e, h);
  if (pmls_client_close(h) != PMLS_OK ||
      pmls_client_open(sc->e, 0, &sc->w0) != PMLS_OK ||
      pmls_client_open(sc->e, 1, &sc->w1) != PMLS_OK)
    return -1;
  sc->raw = raw_push(sc->w0->addr);
  return sc->raw >= 0 ? 0 : -1;
}

static void scene_close(scene *sc) {
  if (sc->raw >= 0) nn_close(sc->raw);
  pmls_client_close(sc->w0);
  pmls_client_close(sc->w1);
  pmls_engine_destroy(sc->e);
}

typedef struct {
  scene *sc;
  int64_t target;
  int rc;
  pthread_t th;
} releaser;

static void *release_main(void *arg) {
  releaser *r = arg;
  for (int i = 0; i < 20000 && dropped(r->sc->e) < r->target; i++) sleep_ms(1);
  r->rc = dropped(r->sc->e) >= r->target ? pmls_clock(r->sc->w1) : PMLS_ETIMEDOUT;
  return NULL;
}

/* w0 moves to its next clock, so its next read waits for w1's; w1 moves
 * there once `target` messages have been dropped. */
static void release_after(releaser *r, scene *sc, int64_t target) {
  r->sc = sc;
  r->target = target;
  r->rc = -1;
  if (pmls_clock(sc->w0) != PMLS_OK) return;
  pthread_create(&r->th, NULL, release_main, r);
}

static int released(releaser *r) {
  pthread_join(r->th, NULL);
  return r->rc;
}

/* ---- undecodable messages ------------------------------------------------ */

static void fill_t(pmls_engine *e, pmls_client *h) {
  int t = table(e, "t", dense(4, 3, PMLS_F64));
  double row[3] = {1, 2, 3};
  if (t == 0) pmls_inc_dense(h, t, 1, row);
}

static void t_garbage_on_reply_socket_dropped(void) {
  scene sc;
  CHECK(scene_open(&sc, fill_t) == 0);
  pmls_engine *e = sc.e;
  pmi_buf b = {0};
  pmi_msg_begin(&b, e->job, PMI_MSG_ACK, -1);
  pmi_put_i32(&b, PMI_MSG_WAIT);
  pmi_hdr good;
  memcpy(&good, b.data, sizeof good);
  good.len = 4;
  enum { N = 6 };
  for (int i = 0; i < N; i++) {
    pmi_hdr h = good;
    size_t len = b.len;
    switch (i) {
    case 0: h.magic = 0xdeadbeefu; break;
    case 1: h.job ^= 1; break;
    case 2: h.type = 99; break;
    case 3: h.len = 400; break;
    case 4: len = 7; break;
    case 5: h.type = 0; break;
    }
    memcpy(b.data, &h, sizeof h);
    CHECK_EQ_INT(nn_send(sc.raw, b.data, len, 0), (int)len);
  }
  releaser r;
  release_after(&r, &sc, N);
  double got[3];
  int rc = pmls_get_dense(sc.w0, 0, 1, got);
  CHECK_EQ_INT(released(&r), PMLS_OK);
  CHECK_RC(sc.w0, rc);
  for (int j = 0; j < 3; j++) CHECK_EQ_DBL(got[j], j + 1);
  CHECK_EQ_INT(dropped(e), N);
  pmi_buf_free(&b);
  scene_close(&sc);
}

/* The error for another job's message must not hand out this job's id. */
static void t_wrong_job_error_hides_the_id(void) {
  pmi_buf b = {0};
  pmi_msg_begin(&b, 0x0e6695dbu, PMI_MSG_ACK, -1);
  ((pmi_hdr *)b.data)->len = 0;
  pmi_hdr h;
  pmi_rd rd;
  char err[PMI_ERRLEN] = "";
  CHECK_EQ_INT(pmi_msg_open(b.data, b.len, 0x1234abcdu, &h, &rd, err),
               PMLS_EPROTO);
  CHECK_STR_CONTAINS(err, "another job");
  CHECK(!strstr(err, "1234abcd") && !strstr(err, "1234ABCD"));
  CHECK(!strstr(err, "0e6695db"));
  pmi_buf_free(&b);
}

/* ---- replies whose counts lie -------------------------------------------- */

static void row_head(pmi_buf *b, uint32_t job, uint32_t req, int table,
                     int64_t row, int32_t nstamps) {
  pmi_msg_begin(b, job, PMI_MSG_ROW, -1);
  pmi_put_u32(b, req);
  pmi_put_i32(b, table);
  pmi_put_i64(b, row);
  pmi_put_i64(b, 0); /* clock */
  pmi_put_i64(b, 0); /* stamp */
  pmi_put_i32(b, nstamps);
  for (int32_t i = 0; i < nstamps; i++) pmi_put_i64(b, 0);
}

static int send_sealed(int raw, pmi_buf *b) {
  ((pmi_hdr *)b->data)->len = (uint32_t)(b->len - sizeof(pmi_hdr));
  return nn_send(raw, b->data, b->len, 0) == (int)b->len ? 0 : -1;
}

static void fill_sp_t(pmls_engine *e, pmls_client *h) {
  pmls_table_spec sps = dense(4, 8, PMLS_F64);
  sps.layout = PMLS_SPARSE;
  int sp = table(e, "sp", sps);
  int t = table(e, "t", dense(8, 2, PMLS_F64));
  if (sp != 0 || t != 1) return;
  pmls_inc_one(h, sp, 2, 5, 7.0);
  for (int64_t r = 0; r < 8; r++) pmls_inc_one(h, t, r, 1, (double)r);
}

/* A sparse ROW whose pair count is 2^62: n * 4 wrapped to 0 bytes, and the
 * merge loop then read 2^62 pairs past the message. Also a count over the
 * table's columns, a negative key, a pair cut short; a dense ROW one
 * element short, and one of another row. */
static void t_lying_row_replies_dropped(void) {
  scene sc;
  CHECK(scene_open(&sc, fill_sp_t) == 0);
  pmls_engine *e = sc.e;
  pmls_client *w = sc.w0;
  int sp = 0, t = 1;
  pmi_buf b = {0};
  enum { SPARSE_LIES = 4, DENSE_LIES = 2 };
  for (int i = 0; i < SPARSE_LIES + DENSE_LIES; i++) {
    uint32_t req = w->next_req;
    if (i < SPARSE_LIES) {
      row_head(&b, e->job, req, sp, 2, 0);
      switch (i) {
      case 0: pmi_put_i64(&b, (int64_t)1 << 62); break;
      case 1: pmi_put_i64(&b, 9); break; /* more pairs than 8 columns */
      case 2: /* a negative key: the map's empty mark */
        pmi_put_i64(&b, 1);
        pmi_put_i32(&b, -1);
        pmi_put_f64(&b, 1e9);
        break;
      case 3: /* one pair promised, half of one sent */
        pmi_put_i64(&b, 1);
        pmi_put_i32(&b, 3);
        break;
      }
    } else {
      row_head(&b, e->job, req, t, i == SPARSE_LIES ? 2 : 3, 2);
      double d[2] = {1e9, 1e9};
      pmi_put_bytes(&b, d, i == SPARSE_LIES ? 8 : 16);
    }
    CHECK_EQ_INT(send_sealed(sc.raw, &b), 0);
    releaser r;
    release_after(&r, &sc, i + 1);
    int rc;
    if (i < SPARSE_LIES) {
      int32_t keys[8];
      double vals[8];
      int64_t n = -1;
      rc = pmls_get_sparse(w, sp, 2, keys, vals, 8, &n);
      CHECK_EQ_INT(released(&r), PMLS_OK);
      CHECK_RC(w, rc);
      CHECK_EQ_INT(n, 1);
      CHECK_EQ_INT(keys[0], 5);
      CHECK_EQ_DBL(vals[0], 7.0);
    } else {
      double got[2] = {-1, -1};
      rc = pmls_get_dense(w, t, 2, got);
      CHECK_EQ_INT(released(&r), PMLS_OK);
      CHECK_RC(w, rc);
      CHECK_EQ_DBL(got[0], 0);
      CHECK_EQ_DBL(got[1], 2.0);
    }
  }
  CHECK_EQ_INT(dropped(e), SPARSE_LIES + DENSE_LIES);
  pmi_buf_free(&b);
  scene_close(&sc);
}

/* A ROWS piece that claims more rows than it carries, rows not asked,
 * bytes past its rows, or rows out of order: dropped, and get_many takes
 * the real piece. */
static void t_lying_rows_replies_dropped(void) {
  scene sc;
  CHECK(scene_open(&sc, fill_sp_t) == 0);
  pmls_engine *e = sc.e;
  pmls_client *w = sc.w0;
  int t = 1;
  pmi_buf b = {0};
  enum { LIES = 4 };
  for (int i = 0; i < LIES; i++) {
    pmi_msg_begin(&b, e->job, PMI_MSG_ROWS, -1);
    pmi_put_u32(&b, w->next_req);
    pmi_put_i32(&b, t);
    pmi_put_i64(&b, 0); /* clock */
    pmi_put_i64(&b, 0); /* stamp */
    pmi_put_i32(&b, 2); /* the process's two workers' stamps */
    pmi_put_i64(&b, 0);
    pmi_put_i64(&b, 0);
    pmi_put_i64(&b, i == 3 ? 1 : 0); /* at */
    pmi_put_i64(&b, i == 0 ? 3 : 1); /* rows */
    pmi_put_i64(&b, i == 1 ? 6 : 4); /* the first row asked is 4 */
    double d[2] = {1e9, 1e9};
    pmi_put_bytes(&b, d, sizeof d);
    if (i == 2) pmi_put_i64(&b, 77); /* bytes past its rows */
    CHECK_EQ_INT(send_sealed(sc.raw, &b), 0);
    releaser r;
    release_after(&r, &sc, i + 1);
    int64_t rows[1] = {4};
    double got[2] = {-1, -1};
    int rc = pmls_get_many(w, t, 1, rows, got);
    CHECK_EQ_INT(released(&r), PMLS_OK);
    CHECK_RC(w, rc);
    CHECK_EQ_DBL(got[0], 0);
    CHECK_EQ_DBL(got[1], 4.0);
  }
  CHECK_EQ_INT(dropped(e), LIES);
  pmi_buf_free(&b);
  scene_close(&sc);
}

static const th_case cases[] = {
    {"garbage on a worker's reply socket is dropped, counted; the worker goes on", t_garbage_on_reply_socket_dropped},
    {"another job's message: the error never prints this job's id", t_wrong_job_error_hides_the_id},
    {"ROW replies with lying counts, keys or lengths are dropped", t_lying_row_replies_dropped},
    {"ROWS pieces with lying counts, rows or order are dropped", t_lying_rows_replies_dropped},
};

TH_MAIN(cases)
