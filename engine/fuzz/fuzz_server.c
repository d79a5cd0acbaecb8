/* fuzz_server.c -- a server shard's message handlers (server/server.c,
 * server/reads.c) on any sequence of messages: HELLO, TABLE, GET, GETS,
 * OPLOG, INIT, CLOCK (with reports, into the metrics), BYE, WAIT, ABORT and
 * whatever else a peer may send. Each input gets a fresh shard 0 (no
 * thread, no socket: pmi_server_new) of a one-process engine with two
 * workers, and fresh metrics, and is handed to it message by message as
 * the shard's loop would (pmi_server_handle).
 *
 * Two things are the harness's, not the shard's: every address a HELLO
 * names is replaced by a sink socket the harness drains on a thread of its
 * own, so the shard's replies and pushes go somewhere that is always ready
 * (never to a host a fuzzed string names); and a TABLE whose row is over
 * 64 KiB is skipped, since a declared table legitimately makes each row
 * that size (docs/security.md: a forged TABLE is the authentication's to
 * stop), and rows of a gigabyte would only measure the machine. */
#include <pthread.h>

#include "fuzz.h"
#include "../src/metrics/metrics.h"
#include "../src/server/server.h"

#define SINK "inproc://pmls-fuzz-sink"
#define ROW_LIMIT (64 * 1024)

static pmls_engine *eng;
static int sink = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  eng = fuzz_engine("fuzz_server", 2, 1, 0);
  sink = fuzz_sink(SINK);
  return 0;
}

/* The HELLO in b with both addresses replaced by the sink's (the feed's
 * only when it names one); left alone when it does not decode, since the
 * shard then drops it before it connects anywhere. */
static void redirect_hello(pmi_buf *b, pmi_buf *tmp) {
  pmi_rd rd = {b->data + sizeof(pmi_hdr), b->len - sizeof(pmi_hdr), 0, 0};
  char addr[PMI_ADDR_MAX], feed[PMI_ADDR_MAX];
  pmi_get_str(&rd, addr, sizeof addr);
  int32_t rank = pmi_get_i32(&rd), lo = pmi_get_i32(&rd), n = pmi_get_i32(&rd);
  pmi_get_str(&rd, feed, sizeof feed);
  if (rd.bad) return;
  pmi_hdr h;
  memcpy(&h, b->data, sizeof h);
  pmi_msg_begin(tmp, h.job, h.type, h.src);
  pmi_put_str(tmp, SINK);
  pmi_put_i32(tmp, rank);
  pmi_put_i32(tmp, lo);
  pmi_put_i32(tmp, n);
  pmi_put_str(tmp, feed[0] ? SINK : "");
  pmi_put_bytes(tmp, rd.p + rd.off, pmi_rd_left(&rd));
  h.len = (uint32_t)(tmp->len - sizeof h);
  memcpy(tmp->data, &h, sizeof h);
  b->len = 0;
  pmi_buf_put(b, tmp->data, tmp->len);
}

/* 1 when b is a TABLE whose row is over ROW_LIMIT (see the top). */
static int big_table(const pmi_buf *b) {
  pmi_rd rd = {b->data + sizeof(pmi_hdr), b->len - sizeof(pmi_hdr), 0, 0};
  pmi_get_i32(&rd);
  pmls_table_spec spec;
  pmls_table_spec_init(&spec);
  spec.rows = pmi_get_i64(&rd);
  spec.cols = pmi_get_i32(&rd);
  spec.dtype = (pmls_dtype)pmi_get_i32(&rd);
  spec.layout = (pmls_layout)pmi_get_i32(&rd);
  if (rd.bad || spec.cols < 0 || spec.dtype < 0 || spec.dtype > PMLS_I64 ||
      (spec.layout != PMLS_DENSE && spec.layout != PMLS_SPARSE))
    return 0; /* refused by the shard anyway */
  return pmi_table_row_max(&spec) > ROW_LIMIT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[PMI_ERRLEN];
  pmi_metrics *saved = eng->metrics;
  eng->metrics = pmi_metrics_new(NULL, NULL, 2, 0, err);
  pmi_server *s = pmi_server_new(eng, 0, err);
  if (!s || !eng->metrics) abort();
  fuzz_in in = {data, size, 0};
  pmi_buf b = {0}, tmp = {0};
  while (fuzz_next(&in, eng->job, &b)) {
    pmi_hdr h;
    if (b.len < sizeof h) {
      pmi_server_handle(s, b.data, b.len);
      continue;
    }
    memcpy(&h, b.data, sizeof h);
    if (h.magic == PMI_MAGIC && h.type == PMI_MSG_HELLO) redirect_hello(&b, &tmp);
    if (h.magic == PMI_MAGIC && h.type == PMI_MSG_TABLE && big_table(&b)) continue;
    if (pmi_server_handle(s, b.data, b.len)) break;
  }
  pmi_buf_free(&b);
  pmi_buf_free(&tmp);
  pmi_server_free(s);
  pmi_metrics_free(eng->metrics);
  eng->metrics = saved;
  return 0;
}
