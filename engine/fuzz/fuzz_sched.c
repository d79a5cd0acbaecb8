/* fuzz_sched.c -- a scheduler node's side of scheduled rounds
 * (sched/node.c) on any sequence of messages from its workers: SHELLO (the
 * meeting: a worker's address and the model it declared), PARTIAL, READY,
 * SBYE and whatever else a peer may send, each handed to the node's handler
 * as its loops would (pmi_sched_handle).
 *
 * Each input gets a fresh node (pmi_sched_new: no socket, no meeting) of a
 * one-process engine with two workers and two scheduler nodes (model: 32
 * variables x 2, 1 extra, pipeline depth 1). The input's first byte
 * chooses which node it is (bit 0), whether its rounds are agnostic
 * (bit 1) and whether a round is split into one segment per worker
 * (bit 2); the rest are records (fuzz.h). Once the node has met both
 * workers the harness dispatches rounds as a script would, up to the
 * pipeline's depth and four in all, and collects and commits each round
 * as soon as it has every partial, so partials meet real outstanding
 * rounds. A handler's error must be the one a well-formed hello of
 * another model earns; anything else that is wrong must be dropped.
 *
 * One thing is the harness's, not the node's: the address a SHELLO names
 * is replaced by a sink socket the harness drains on a thread of its own,
 * so the node's ROUNDs and ENDROUNDs go somewhere that is always ready
 * (never to a host a fuzzed string names). The STOP and its wait for every
 * SBYE need the node's socket, which this node has not: an SBYE here is
 * one that comes before the STOP. */
#include <pthread.h>

#include "fuzz.h"
#include "../src/sched/wire.h"

#define SINK "inproc://pmls-fuzz-sched-sink"
#define ROUNDS 4

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "fuzz: %s:%d: broken: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                 \
    }                                                                          \
  } while (0)

static pmls_engine *eng;
static int sink = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  eng = fuzz_engine("fuzz_sched", 2, 1, 2);
  pmls_model_spec m;
  memset(&m, 0, sizeof m);
  m.vars = 32;
  m.width = 2;
  m.extra = 1;
  m.per_round = 8;
  m.pipeline = 1;
  if (pmls_model_declare(eng, &m) != PMLS_OK) {
    fprintf(stderr, "fuzz_sched: %s\n", pmls_errmsg(eng));
    abort();
  }
  sink = fuzz_sink(SINK);
  return 0;
}

/* The SHELLO in b with its address replaced by the sink's; left alone when
 * it does not decode, since the node then drops it before it connects. */
static void redirect_hello(pmi_buf *b, pmi_buf *tmp) {
  pmi_rd rd = {b->data + sizeof(pmi_hdr), b->len - sizeof(pmi_hdr), 0, 0};
  int32_t w = pmi_get_i32(&rd);
  char addr[PMI_ADDR_MAX];
  pmi_get_str(&rd, addr, sizeof addr);
  if (rd.bad) return;
  pmi_hdr h;
  memcpy(&h, b->data, sizeof h);
  pmi_msg_begin(tmp, h.job, h.type, h.src);
  pmi_put_i32(tmp, w);
  pmi_put_str(tmp, SINK);
  pmi_put_bytes(tmp, rd.p + rd.off, pmi_rd_left(&rd));
  h.len = (uint32_t)(tmp->len - sizeof h);
  memcpy(tmp->data, &h, sizeof h);
  b->len = 0;
  pmi_buf_put(b, tmp->data, tmp->len);
}

static int is_hello(const pmi_buf *b, uint32_t job) {
  if (b->len < sizeof(pmi_hdr)) return 0;
  pmi_hdr h;
  memcpy(&h, b->data, sizeof h);
  return h.magic == PMI_MAGIC && h.job == job && h.type == PMI_MSG_SHELLO &&
         h.len == b->len - sizeof h;
}

/* Round r: four variables of the node's own rounds, whole or in one
 * segment per worker. */
static int dispatch(pmls_sched *s, int r, int split) {
  int64_t vars[4];
  for (int k = 0; k < 4; k++) vars[k] = (r * 4 + k * 7) % 32;
  const int32_t seg_worker[2] = {0, 1};
  const int64_t seg_lo[2] = {0, 1}, seg_hi[2] = {1, 4};
  return pmls_sched_dispatch(s, vars, 4, split ? 2 : 0, seg_worker, seg_lo,
                             seg_hi, NULL, NULL, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int node = data[0] & 1, split = (data[0] >> 2) & 1;
  eng->model.spec.agnostic = (data[0] >> 1) & 1;
  char err[PMI_ERRLEN];
  pmls_sched *s = pmi_sched_new(eng, node, -1, err);
  if (!s) {
    fprintf(stderr, "fuzz_sched: %s\n", err);
    abort();
  }
  fuzz_in in = {data + 1, size - 1, 0};
  pmi_buf b = {0}, tmp = {0};
  int dispatched = 0;
  while (fuzz_next(&in, eng->job, &b)) {
    while (pmi_sched_met(s) && dispatched < ROUNDS &&
           pmls_sched_outstanding(s) <= 1) {
      CHECK(dispatch(s, dispatched, split) == PMLS_OK);
      dispatched++;
    }
    if (is_hello(&b, eng->job)) redirect_hello(&b, &tmp);
    int rc = pmi_sched_handle(s, b.data, b.len);
    if (rc != PMLS_OK) {
      /* The one message that ends a run: a worker of another model. */
      CHECK(rc == PMLS_EINVAL &&
            strstr(pmls_sched_errmsg(s), "every process must declare"));
      break;
    }
    while (pmi_sched_complete(s)) {
      pmls_collected got;
      CHECK(pmls_sched_collect(s, &got) == PMLS_OK);
      CHECK(got.n == 4);
      CHECK(pmls_sched_commit(s, got.sum) == PMLS_OK);
    }
  }
  pmi_buf_free(&b);
  pmi_buf_free(&tmp);
  pmls_sched_close(s);
  eng->model.spec.agnostic = 0;
  return 0;
}
