/* gen_corpus.c -- writes the seed corpora of the message harnesses
 * (engine/fuzz/corpus/NAME/) with the wire helpers the nodes themselves
 * use, so each seed is a conversation a real peer could hold: `make
 * fuzz-corpus` (the data readers' seeds are small files written by hand).
 * Each seed is a sequence of records (fuzz.h). */
#include <errno.h>
#include <sys/stat.h>

#include "fuzz.h"

static const char *root;
static pmi_buf out, p;

static void begin(void) { out.len = 0; }

/* Starts a record's payload; rec() appends it as a message of `type`. */
static void pay(void) { p.len = 0; }
static void rec(int type, int32_t src) { fuzz_record(&out, type, src, p.data, p.len); }

static void save(const char *harness, const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", root, harness);
  if (mkdir(path, 0755) && errno != EEXIST) {
    perror(path);
    exit(1);
  }
  snprintf(path, sizeof path, "%s/%s/%s", root, harness, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(out.data, 1, out.len, f) != out.len || fclose(f)) {
    perror(path);
    exit(1);
  }
}

/* ---- server -------------------------------------------------------------- */

static void hello(int32_t client, int32_t lo, int32_t n, int feed) {
  pay();
  pmi_put_str(&p, "inproc://reply");
  pmi_put_i32(&p, 0);
  pmi_put_i32(&p, lo);
  pmi_put_i32(&p, n);
  pmi_put_str(&p, feed ? "inproc://feed" : "");
  rec(PMI_MSG_HELLO, client);
}

static void table(int32_t id, int64_t rows, int32_t cols, int dtype, int layout,
                  int consistency, const char *name) {
  pay();
  pmi_put_i32(&p, id);
  pmi_put_i64(&p, rows);
  pmi_put_i32(&p, cols);
  pmi_put_i32(&p, dtype);
  pmi_put_i32(&p, layout);
  pmi_put_i32(&p, 0);   /* staleness */
  pmi_put_i32(&p, 0);   /* init: zeros */
  pmi_put_f64(&p, 0.0); /* init scale */
  pmi_put_i32(&p, consistency);
  pmi_put_str(&p, name);
  rec(PMI_MSG_TABLE, 0);
}

static void oplog_dense(int32_t client, int64_t seq, int32_t t, int64_t row,
                        int32_t cols) {
  pay();
  pmi_put_i64(&p, seq);
  pmi_put_i32(&p, t);
  pmi_put_i64(&p, row);
  pmi_put_u8(&p, 0);
  pmi_put_i32(&p, cols);
  for (int32_t j = 0; j < cols; j++) pmi_put_f64(&p, 0.5 * (j + 1));
  /* and a pairs entry */
  pmi_put_i32(&p, t);
  pmi_put_i64(&p, row + 1);
  pmi_put_u8(&p, 1);
  pmi_put_i32(&p, 2);
  pmi_put_i32(&p, 0);
  pmi_put_i32(&p, cols - 1);
  pmi_put_f64(&p, 1.0);
  pmi_put_f64(&p, -2.0);
  rec(PMI_MSG_OPLOG, client);
}

static void oplog_sparse(int32_t client, int64_t seq, int32_t t, int64_t row) {
  pay();
  pmi_put_i64(&p, seq);
  pmi_put_i32(&p, t);
  pmi_put_i64(&p, row);
  pmi_put_u8(&p, 1);
  pmi_put_i32(&p, 3);
  int32_t keys[3] = {7, 3, 900};
  pmi_put_bytes(&p, keys, sizeof keys);
  for (int i = 0; i < 3; i++) pmi_put_f64(&p, i + 0.25);
  rec(PMI_MSG_OPLOG, client);
}

static void init_row(int32_t client, int32_t t, int64_t row, int32_t cols) {
  pay();
  pmi_put_i32(&p, t);
  pmi_put_i64(&p, row);
  for (int32_t j = 0; j < cols; j++) pmi_put_f64(&p, j);
  rec(PMI_MSG_INIT, client);
}

static void get(int32_t client, uint32_t req, int32_t t, int64_t row,
                int64_t min_clock, int32_t lo, int32_t n) {
  pay();
  pmi_put_u32(&p, req);
  pmi_put_i32(&p, t);
  pmi_put_i64(&p, row);
  pmi_put_i64(&p, min_clock);
  pmi_put_i32(&p, lo);
  pmi_put_i32(&p, n);
  rec(PMI_MSG_GET, client);
}

static void gets(int32_t client, uint32_t req, int32_t t, int64_t min_clock,
                 int32_t lo, int32_t n, int64_t nrows) {
  pay();
  pmi_put_u32(&p, req);
  pmi_put_i32(&p, t);
  pmi_put_i64(&p, min_clock);
  pmi_put_i32(&p, lo);
  pmi_put_i32(&p, n);
  pmi_put_i64(&p, nrows);
  for (int64_t i = 0; i < nrows; i++) pmi_put_i64(&p, i);
  rec(PMI_MSG_GETS, client);
}

static void clock_msg(int32_t w, int64_t clock, int reports) {
  pay();
  pmi_put_i64(&p, clock);
  pmi_put_u32(&p, (uint32_t)reports);
  for (int i = 0; i < reports; i++) {
    pmi_put_str(&p, i ? "loss" : "rmse");
    pmi_put_f64(&p, 1.0 / (clock + i));
  }
  rec(PMI_MSG_CLOCK, w);
}

static void wait_msg(int32_t w, int64_t k) {
  pay();
  pmi_put_i64(&p, k);
  rec(PMI_MSG_WAIT, w);
}

static void server_seeds(void) {
  /* A dense table: HELLOs, increments, clocks with reports, reads. */
  begin();
  hello(0, 0, 2, 0);
  hello(1, 0, 2, 0);
  table(0, 8, 3, PMLS_F64, PMLS_DENSE, -1, "w");
  oplog_dense(0, 1, 0, 2, 3);
  clock_msg(0, 1, 2);
  get(1, 5, 0, 2, 1, 0, 2); /* parked until worker 1 clocks */
  clock_msg(1, 1, 1);
  gets(0, 6, 0, 1, 0, 2, 4);
  pay();
  rec(PMI_MSG_BYE, 0);
  pay();
  rec(PMI_MSG_BYE, 1);
  save("server", "dense_session");

  /* A sparse table, f32 and ints, INIT. */
  begin();
  hello(0, 0, 1, 0);
  table(1, 100, 1000, PMLS_F64, PMLS_SPARSE, -1, "sp");
  table(2, 4, 5, PMLS_F32, PMLS_DENSE, -1, "f");
  table(3, 4, 2, PMLS_I64, PMLS_DENSE, -1, "n");
  oplog_sparse(0, 1, 1, 42);
  init_row(0, 3, 1, 2);
  get(0, 9, 1, 42, 0, 0, 1);
  wait_msg(0, 0);
  clock_msg(0, 1, 0);
  save("server", "sparse_init");

  /* ESSP: a feed address, subscriptions, pushes when clocks advance. */
  begin();
  hello(0, 0, 2, 1);
  hello(1, 0, 2, 1);
  table(0, 16, 4, PMLS_F64, PMLS_DENSE, PMLS_ESSP, "e");
  get(0, 1, 0, 3, 0, 0, 2);
  gets(1, 2, 0, 0, 0, 2, 3);
  clock_msg(0, 1, 1);
  clock_msg(1, 1, 1);
  clock_msg(0, 2, 1);
  clock_msg(1, 2, 1);
  save("server", "essp_push");

  /* An abort wakes the parked reads; then a STOP. */
  begin();
  hello(0, 0, 2, 0);
  table(0, 4, 2, PMLS_F64, PMLS_DENSE, -1, "a");
  get(0, 3, 0, 1, 5, 0, 1);
  wait_msg(0, 4);
  pay();
  pmi_put_str(&p, "worker 1 failed: test");
  rec(PMI_MSG_ABORT, 1);
  pay();
  rec(PMI_MSG_STOP, -1);
  save("server", "abort_stop");

  /* Garbage: a raw record with a bad magic, a truncated one. */
  begin();
  const char junk[] = "PMLS-not-a-header-at-all-0123456789";
  fuzz_record(&out, FUZZ_RAW, 0, junk, sizeof junk - 1);
  fuzz_record(&out, FUZZ_RAW, 0, junk, 5);
  clock_msg(0, 1000000, 1);
  save("server", "garbage");
}

/* ---- client -------------------------------------------------------------- */

/* A client seed starts with the call (op) and the row it reads. */
static void call(int op, int row) {
  uint8_t head[2] = {(uint8_t)op, (uint8_t)row};
  pmi_buf_put(&out, head, 2);
}

static void row_reply(uint32_t req, int32_t t, int64_t row, int32_t nstamps,
                      int cols, int f32) {
  pay();
  pmi_put_u32(&p, req);
  pmi_put_i32(&p, t);
  pmi_put_i64(&p, row);
  pmi_put_i64(&p, 3); /* the copy's clock */
  pmi_put_i64(&p, 0); /* the reader's stamp */
  pmi_put_i32(&p, nstamps);
  for (int32_t i = 0; i < nstamps; i++) pmi_put_i64(&p, 0);
  for (int j = 0; j < cols; j++) {
    if (f32) {
      float v = (float)j;
      pmi_put_bytes(&p, &v, 4);
    } else {
      pmi_put_f64(&p, j * 1.5);
    }
  }
  rec(PMI_MSG_ROW, -1);
}

static void rows_reply(uint32_t req, int32_t t, int32_t nstamps, int64_t at,
                       int64_t nrows, const int64_t *ids, int cols) {
  pay();
  pmi_put_u32(&p, req);
  pmi_put_i32(&p, t);
  pmi_put_i64(&p, 2);
  pmi_put_i64(&p, 0);
  pmi_put_i32(&p, nstamps);
  for (int32_t i = 0; i < nstamps; i++) pmi_put_i64(&p, 0);
  pmi_put_i64(&p, at);
  pmi_put_i64(&p, nrows);
  for (int64_t i = 0; i < nrows; i++) {
    pmi_put_i64(&p, ids[i]);
    for (int j = 0; j < cols; j++) pmi_put_f64(&p, j + 0.5);
  }
  rec(PMI_MSG_ROWS, -1);
}

static void err_reply(uint32_t req, int code, const char *msg) {
  pay();
  pmi_put_u32(&p, req);
  pmi_put_i32(&p, code);
  pmi_put_str(&p, msg);
  rec(PMI_MSG_ERR, -1);
}

static void client_seeds(void) {
  const uint32_t R = 0xffffffffu; /* the harness writes the call's id */
  begin();
  call(0, 3);
  row_reply(R, 0, 3, 0, 4, 0);
  save("client", "host_dense_row");
  begin();
  call(1, 2);
  row_reply(R, 1, 2, 0, 3, 1);
  save("client", "host_f32_row");
  begin();
  call(2, 5);
  pay();
  pmi_put_u32(&p, R);
  pmi_put_i32(&p, 2);
  pmi_put_i64(&p, 5);
  pmi_put_i64(&p, 1);
  pmi_put_i64(&p, 0);
  pmi_put_i32(&p, 0);
  pmi_put_i64(&p, 2); /* pairs */
  int32_t keys[2] = {4, 49};
  pmi_put_bytes(&p, keys, sizeof keys);
  pmi_put_f64(&p, 1.0);
  pmi_put_f64(&p, 2.0);
  rec(PMI_MSG_ROW, -1);
  save("client", "host_sparse_row");
  begin();
  call(3, 0);
  int64_t ids[2] = {0, 1};
  rows_reply(R, 0, 0, 0, 1, ids, 4);
  rows_reply(R - 1, 0, 0, 0, 2, ids, 4);
  save("client", "host_rows");
  begin();
  call(4, 7);
  row_reply(R, 0, 7, 1, 4, 0);
  save("client", "worker_row");
  begin();
  call(5, 1);
  int64_t wids[2] = {1, 2};
  rows_reply(R, 0, 1, 0, 2, wids, 4);
  save("client", "worker_views");
  begin();
  call(7, 0);
  err_reply(0, PMLS_EABORTED, "run aborted: worker 3 failed");
  pay();
  pmi_put_i32(&p, PMI_MSG_BYE);
  rec(PMI_MSG_ACK, -1);
  save("client", "barrier_err_ack");
  begin();
  call(0, 9);
  err_reply(R, PMLS_EINVAL, "row 9 refused");
  fuzz_record(&out, FUZZ_RAW, 0, "garbage", 7);
  save("client", "err_garbage");
}

/* ---- feed ---------------------------------------------------------------- */

static void push(int64_t clock, int32_t nstamps, int32_t t, int nrows, int cols,
                 int f32) {
  pay();
  pmi_put_i64(&p, clock);
  pmi_put_i32(&p, nstamps);
  for (int32_t i = 0; i < nstamps; i++) pmi_put_i64(&p, i);
  for (int r = 0; r < nrows; r++) {
    pmi_put_i32(&p, t);
    pmi_put_i64(&p, r);
    for (int j = 0; j < cols; j++) {
      if (f32) {
        float v = (float)j;
        pmi_put_bytes(&p, &v, 4);
      } else {
        pmi_put_f64(&p, j);
      }
    }
  }
  rec(PMI_MSG_PUSH, -1);
}

static void feed_seeds(void) {
  begin();
  push(1, 2, 0, 3, 4, 0);
  push(2, 2, 1, 2, 3, 1);
  save("feed", "two_pushes");
  begin();
  push(5, 2, 0, 8, 4, 0);
  push(3, 2, 0, 2, 4, 0); /* older: the cache keeps the newer */
  push(6, 1, 0, 1, 4, 0); /* wrong stamp count */
  push(7, 2, 2, 1, 100, 0); /* a sparse table */
  save("feed", "old_and_bad");
}

/* ---- rounds (a worker's side of scheduled rounds) ------------------------ */

/* A ROUND of node `node` for `round`: commits to vars 0..nchg-1, maybe a
 * broadcast, then (unless COMMITS or STOP) n variables and nseg segments. */
static void round_msg(int flags, int32_t node, int64_t round, int64_t through,
                      int nchg, int nb, int n, int nseg) {
  pay();
  pmi_put_i32(&p, node);
  pmi_put_i64(&p, round);
  pmi_put_i64(&p, through);
  pmi_put_i64(&p, nchg);
  for (int i = 0; i < nchg; i++) {
    pmi_put_i64(&p, i * 3);
    pmi_put_f64(&p, 0.5);
    pmi_put_f64(&p, -0.5);
  }
  if (flags & 8) {
    pmi_put_i64(&p, nb);
    for (int i = 0; i < nb; i++) pmi_put_f64(&p, i);
  }
  if (flags & 1) { /* STOP: the node's counters */
    for (int i = 0; i < 3; i++) pmi_put_i64(&p, 10 + i);
    pmi_put_f64(&p, 1.0);
    pmi_put_f64(&p, 2.0);
    for (int i = 0; i < 18; i++) pmi_put_i64(&p, i);
    pmi_put_i32(&p, 1);   /* workers */
    pmi_put_i64(&p, 4);   /* passes */
    pmi_put_i32(&p, 1);   /* notes */
    pmi_put_str(&p, "objective");
    pmi_put_f64(&p, 0.25);
  } else if (!(flags & 4)) {
    pmi_put_i64(&p, n);
    for (int i = 0; i < n; i++) pmi_put_i64(&p, i + 1);
    pmi_put_i32(&p, nseg ? nseg : 1);
    for (int g = 0; g < (nseg ? nseg : 1); g++) {
      pmi_put_i64(&p, nseg ? g * n / nseg : 0);
      pmi_put_i64(&p, nseg ? (g + 1) * n / nseg : n);
      pmi_put_i32(&p, -1);
      pmi_put_i32(&p, -1);
    }
  }
  fuzz_record_flags(&out, PMI_MSG_ROUND, flags, -1, p.data, p.len);
}

static void rounds_seeds(void) {
  begin();
  round_msg(0, 0, 0, -1, 2, 0, 4, 0);
  round_msg(0, 1, 1, -1, 0, 0, 3, 2);
  save("rounds", "two_nodes");
  begin();
  round_msg(8, 0, 0, -1, 1, 5, 2, 1); /* with a broadcast */
  round_msg(4, 1, -1, 1, 3, 0, 0, 0); /* commits only */
  pay();
  pmi_put_i64(&p, 0);
  rec(PMI_MSG_ENDROUND, -1);
  save("rounds", "broadcast_commits_end");
  begin();
  round_msg(0, 0, 0, -1, 0, 0, 2, 0);
  round_msg(1, 0, 2, 0, 1, 0, 0, 0); /* STOP with counters */
  round_msg(1, 1, 1, -1, 0, 0, 0, 0);
  save("rounds", "stop");
}

/* ---- sched (a scheduler node's side of scheduled rounds) ---------------- */

/* The harness's model: 32 variables x 2, 1 extra, pipeline 1, 2 nodes. */
static void shello(int32_t w, int64_t vars) {
  pay();
  pmi_put_i32(&p, w);
  pmi_put_str(&p, "inproc://worker-rounds");
  pmi_put_i64(&p, vars);
  pmi_put_i32(&p, 2);
  pmi_put_i32(&p, 1);
  pmi_put_i32(&p, 1);
  pmi_put_i32(&p, 2);
  rec(PMI_MSG_SHELLO, w);
}

static void partial(int32_t w, int64_t round, int32_t stale, uint32_t values) {
  pay();
  pmi_put_i32(&p, w);
  pmi_put_i64(&p, round);
  pmi_put_i32(&p, stale);
  pmi_put_i32(&p, 1); /* passes */
  pmi_put_u32(&p, values);
  for (uint32_t i = 0; i < values; i++) pmi_put_f64(&p, 0.25 * i);
  rec(PMI_MSG_PARTIAL, w);
}

static void ready(int32_t w, int64_t round) {
  pay();
  pmi_put_i32(&p, w);
  pmi_put_i64(&p, round);
  rec(PMI_MSG_READY, w);
}

static void sched_seeds(void) {
  const uint8_t node0 = 0, node1 = 1, agnostic = 2, split = 4;
  begin();
  pmi_buf_put(&out, &node0, 1);
  shello(0, 32);
  shello(1, 32);
  for (int r = 0; r < 4; r++) { /* node 0's rounds 0, 2, 4, 6 */
    partial(0, 2 * r, r, 9);
    partial(1, 2 * r, 0, 9);
  }
  save("sched", "four_rounds");
  begin();
  pmi_buf_put(&out, &node1, 1);
  shello(1, 32);
  shello(0, 32);
  shello(0, 32);           /* said twice */
  partial(1, 3, 1, 9);     /* the second outstanding round first */
  partial(0, 3, 1, 9);
  partial(0, 1, 0, 9);
  partial(1, 1, 0, 9);
  save("sched", "node1_out_of_order");
  begin();
  pmi_buf_put(&out, &agnostic, 1);
  shello(0, 32);
  shello(1, 32);
  ready(0, 0);
  ready(1, 0);
  ready(1, 0);             /* once is enough */
  partial(0, 0, 0, 9);
  partial(1, 0, 0, 9);
  save("sched", "agnostic_ready");
  begin();
  pmi_buf_put(&out, &split, 1);
  shello(0, 32);
  shello(1, 32);
  partial(0, 0, 0, 3);     /* segment [0, 1) x 2 + extra */
  partial(1, 0, 2, 7);     /* segment [1, 4) x 2 + extra */
  save("sched", "split_segments");
  /* What must be dropped, not end the job: garbage, a partial before the
   * meeting, a goodbye before the STOP, a message no node is sent, a
   * partial of the wrong size, of no round, and twice; then the run. */
  begin();
  pmi_buf_put(&out, &node0, 1);
  pay();
  pmi_put_str(&p, "garbage");
  fuzz_record(&out, FUZZ_RAW, 0, p.data, p.len);
  partial(0, 0, 0, 9);
  pay();
  pmi_put_i32(&p, 0);
  rec(PMI_MSG_SBYE, 0);
  shello(0, 32);
  pay();
  pmi_put_i64(&p, 0);
  rec(PMI_MSG_ROUND, 0);
  shello(7, 32);           /* no such worker */
  shello(1, 32);
  partial(0, 0, 0, 8);
  partial(0, 5, 0, 9);
  partial(0, 0, 0, 9);
  partial(0, 0, 0, 9);
  partial(1, 0, 0, 9);
  save("sched", "dropped");
  begin();
  pmi_buf_put(&out, &node0, 1);
  shello(0, 32);
  shello(1, 31);           /* another model: the one error */
  save("sched", "hello_other_model");
}

/* ---- job (the node thread) ---------------------------------------------- */

static void done_msg(int32_t from, int phase, uint32_t run, int32_t status,
                     const char *text, int stats) {
  pay();
  pmi_put_u8(&p, (uint8_t)phase);
  pmi_put_u32(&p, run);
  pmi_put_i32(&p, status);
  pmi_put_str(&p, text);
  if (stats) {
    for (int i = 0; i < 6; i++) pmi_put_i64(&p, 100 + i);
    pmi_put_i32(&p, 0); /* tables */
  }
  rec(PMI_MSG_DONE, from);
}

static void job_seeds(void) {
  uint8_t rank0 = 0, rank1 = 1;
  begin();
  pmi_buf_put(&out, &rank0, 1);
  done_msg(1, 4, 1, 0, "", 0);         /* ready */
  done_msg(2, 4, 1, 0, "", 0);
  done_msg(1, 1, 1, 0, "", 1);         /* workers, with statistics */
  done_msg(2, 1, 1, 5, "worker 2 failed", 1);
  done_msg(1, 2, 1, 0, "", 0);         /* closed */
  done_msg(1, 3, 1, 0, "", 0);         /* finished */
  pay();
  rec(PMI_MSG_BEAT, 2);
  save("job", "rank0_steps");
  begin();
  pmi_buf_put(&out, &rank1, 1);
  done_msg(0, 5, 1, 0, "", 0);         /* begun */
  done_msg(0, 4, 1, 0, "", 0);         /* the verdict */
  done_msg(0, 2, 1, 0, "", 0);
  pay();
  rec(PMI_MSG_FINISH, 0);
  save("job", "rank1_steps");
  begin();
  pmi_buf_put(&out, &rank0, 1);
  pay();
  pmi_put_str(&p, "stopped by SIGINT");
  pmi_put_i32(&p, 2);
  pmi_put_i32(&p, 1);
  rec(PMI_MSG_ABORT, 1);
  save("job", "abort_signal");
}

/* ---- join (the rendezvous) ---------------------------------------------- */

/* A JOIN as rank r of fuzz_join.c's job (3 ranks, 1 worker each, 3
 * shards, 2 scheduler nodes: rank 1 owns entries 1 and 4, rank 2 entry
 * 2), its addresses under prefix. */
static void join_msg(int32_t r, int32_t procs, const char *prefix,
                     const char *host) {
  char a[256];
  pay();
  pmi_put_i32(&p, r);
  pmi_put_i32(&p, procs);
  pmi_put_i32(&p, 1); /* workers */
  pmi_put_i32(&p, 3); /* servers */
  pmi_put_i32(&p, 2); /* schedulers */
  snprintf(a, sizeof a, "%s/r%d", prefix, r);
  pmi_put_str(&p, a);
  pmi_put_i32(&p, r == 1 ? 2 : 1);
  for (int s = r; s < 5; s += 3) {
    pmi_put_i32(&p, s);
    snprintf(a, sizeof a, "%s/e%d", prefix, s);
    pmi_put_str(&p, a);
  }
  pmi_put_str(&p, host);
  rec(PMI_MSG_JOIN, r);
}

static void dir_msg(int32_t status, const char *text, const char *prefix) {
  char a[256];
  pay();
  pmi_put_i32(&p, status);
  pmi_put_str(&p, text);
  pmi_put_u32(&p, 0x5eed1234u);
  pmi_put_i32(&p, 5);
  for (int s = 0; s < 5; s++) {
    snprintf(a, sizeof a, "%s/d%d", prefix, s);
    pmi_put_str(&p, a);
  }
  rec(PMI_MSG_DIR, 0);
}

static void join_seeds(void) {
  const char *ipc = "ipc:///tmp/pmls-fuzz", *tcp = "tcp://127.0.0.1:7200";
  uint8_t side = 0;
  begin();
  pmi_buf_put(&out, &side, 1);
  join_msg(2, 3, ipc, "node-b");
  join_msg(1, 3, ipc, "node-a.example.org");
  save("join", "rank0_ipc");
  side = 2;
  begin();
  pmi_buf_put(&out, &side, 1);
  join_msg(1, 3, tcp, "a");
  join_msg(1, 3, tcp, "a"); /* said again: counts once */
  join_msg(2, 3, tcp, "b_2");
  save("join", "rank0_tcp_twice");
  side = 0;
  begin();
  pmi_buf_put(&out, &side, 1);
  pay();
  pmi_put_str(&p, "garbage");
  rec(FUZZ_RAW, 0);
  join_msg(1, 3, tcp, "a");     /* of another transport: dropped */
  join_msg(1, 3, ipc, "bad host"); /* dropped */
  join_msg(2, 4, ipc, "b");     /* other options: refused */
  save("join", "rank0_dropped_refused");
  side = 1;
  begin();
  pmi_buf_put(&out, &side, 1);
  pay();
  rec(PMI_MSG_BEAT, 0);
  dir_msg(0, "", tcp);          /* of another transport: dropped */
  dir_msg(0, "", ipc);
  save("join", "rank1_dir");
  side = 3;
  begin();
  pmi_buf_put(&out, &side, 1);
  dir_msg(6, "rank 0: rank 2 was\nstarted with 4 processes", tcp);
  save("join", "rank1_refused");
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR (engine/fuzz/corpus)\n", argv[0]);
    return 2;
  }
  root = argv[1];
  server_seeds();
  client_seeds();
  feed_seeds();
  rounds_seeds();
  sched_seeds();
  job_seeds();
  join_seeds();
  pmi_buf_free(&out);
  pmi_buf_free(&p);
  return 0;
}
