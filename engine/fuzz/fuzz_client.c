/* fuzz_client.c -- a client's handling of replies (client/oplog.c's wait,
 * client/rows.c's ROW check, client/views.c's and client/sparse_many.c's
 * ROWS pieces, the cache they fill) on any sequence of messages. The messages are put on the client's
 * reply socket first, then the client makes one call that waits for a
 * reply (the input's first byte chooses which, the second the row): it
 * takes the fuzzed messages before the real shard's answer, which comes
 * after them, so a forged reply that passes the checks is used and one
 * that does not is dropped and the wait goes on.
 *
 * A reply's request id cannot be guessed across inputs (it moves with
 * every call), so the harness writes it: a ROW, ROWS or ERR whose first
 * field is 0xffffffff - k (k < 4) gets the id of the call's k-th request.
 * The engine has two shards and one worker; the host client reads without
 * the cache, the worker through it. */
#include <nanomsg/nn.h>

#include "fuzz.h"
#include "../src/client/client_state.h"

static pmls_engine *eng;
static pmls_client *host, *worker;
static int dense, f32, sparse;
static int inject = -1;

static int declare(const char *name, int64_t rows, int32_t cols,
                   pmls_dtype dtype, pmls_layout layout) {
  pmls_table_spec s;
  pmls_table_spec_init(&s);
  s.rows = rows;
  s.cols = cols;
  s.dtype = dtype;
  s.layout = layout;
  int id;
  if (pmls_table_create(eng, name, &s, &id) != PMLS_OK) {
    fprintf(stderr, "fuzz_client: %s\n", pmls_errmsg(eng));
    abort();
  }
  return id;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = 1;
  cfg.servers = 2;
  cfg.quiet = 2;
  cfg.timeout_ms = 300; /* a forged piece can leave a read waiting for rows */
  char err[512];
  if (pmls_engine_create(&eng, &cfg, err, sizeof err) != PMLS_OK) {
    fprintf(stderr, "fuzz_client: %s\n", err);
    abort();
  }
  dense = declare("d", 16, 4, PMLS_F64, PMLS_DENSE);
  f32 = declare("f", 16, 3, PMLS_F32, PMLS_DENSE);
  sparse = declare("s", 16, 50, PMLS_F64, PMLS_SPARSE);
  if (pmls_client_open(eng, -1, &host) || pmls_client_open(eng, 0, &worker))
    abort();
  return 0;
}

/* Points the injecting socket at client c. */
static void inject_to(pmls_client *c) {
  static pmls_client *at;
  if (at == c) return;
  char err[PMI_ERRLEN];
  pmi_sock_close(inject);
  inject = pmi_sock_push(c->addr, 1000, err);
  if (inject < 0) abort();
  at = c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  int op = data[0] % 8;
  int64_t row = data[1] % 16;
  pmls_client *c = op < 4 ? host : worker;
  inject_to(c);
  /* What an earlier input left unread (replies to a call a forged reply
   * answered) goes first, so each input starts from an empty socket. */
  for (void *m; nn_recv(c->pull, &m, NN_MSG, NN_DONTWAIT) >= 0;) nn_freemsg(m);
  /* The ids the call will use (views.c restarts a span that would wrap). */
  uint32_t first = c->next_req;
  if (first == 0 || first > UINT32_MAX - 4) first = 1;
  fuzz_in in = {data + 2, size - 2, 0};
  pmi_buf b = {0};
  while (fuzz_next(&in, eng->job, &b)) {
    pmi_hdr h;
    if (b.len >= sizeof h + 4) {
      memcpy(&h, b.data, sizeof h);
      uint32_t req;
      memcpy(&req, b.data + sizeof h, 4);
      if ((h.type == PMI_MSG_ROW || h.type == PMI_MSG_ROWS ||
           h.type == PMI_MSG_ERR) && req >= UINT32_MAX - 3) {
        req = first + (UINT32_MAX - req);
        memcpy(b.data + sizeof h, &req, 4);
      }
    }
    if (nn_send(inject, b.data, b.len, 0) < 0) break;
  }
  pmi_buf_free(&b);
  double out[16 * 4];
  int32_t keys[64];
  double vals[64];
  int64_t n, offsets[5];
  int64_t rows[4] = {row, (row + 1) % 16, (row + 5) % 16, row};
  const void *views[4];
  switch (op) {
  case 0: pmls_get_dense(c, dense, row, out); break;
  case 1: pmls_get_dense(c, f32, row, out); break;
  case 2: /* the sparse reads: one row, or four in one request per shard */
    if (row % 2) pmls_get_sparse(c, sparse, row, keys, vals, 64, &n);
    else pmls_get_sparse_many(c, sparse, 4, rows, offsets, keys, vals, 64);
    break;
  case 3: pmls_get_many(c, dense, 4, rows, out); break;
  case 4: pmls_get_dense(c, dense, row, out); break;
  case 5: pmls_view_many(c, dense, 4, rows, views); break;
  case 6: pmls_get_many(c, f32, 3, rows, out); break;
  case 7: pmls_barrier(c); break;
  }
  pmls_release_views(c);
  /* A forged ERR with request 0 marks the client failed, which only
   * clock() heeds: no input should spoil the next. */
  c->failed = 0;
  return 0;
}
