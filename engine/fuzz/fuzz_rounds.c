/* fuzz_rounds.c -- a worker's side of scheduled rounds (sched/worker.c) on
 * any sequence of messages from its scheduler nodes: ROUND (commits,
 * broadcasts, the round and the worker's share; the STOP, COMMITS and
 * BROADCAST flags), ENDROUND and whatever else a peer may send. Each input
 * opens the worker's rounds afresh (model: 32 variables x 2, 1 extra, two
 * scheduler nodes), hands every message to them as their socket would
 * (pmi_rounds_take), then asks for the next rounds and answers each, as a
 * script's loop does: round_next decodes a queued round and its share,
 * round_send packs the partial by it. The run's timeout is 1 ms there, so
 * a round that never comes is a timeout, not a wait. What the worker sends
 * (SHELLO, PARTIAL, SBYE) lands on the nodes' sockets, which the harness
 * empties. */
#include <nanomsg/nn.h>

#include "fuzz.h"
#include "../src/sched/wire.h"

static pmls_engine *eng;
static pmls_client *worker;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  eng = fuzz_engine("fuzz_rounds", 1, 1, 2);
  pmls_model_spec m;
  memset(&m, 0, sizeof m);
  m.vars = 32;
  m.width = 2;
  m.extra = 1;
  m.per_round = 8;
  m.pipeline = 1;
  if (pmls_model_declare(eng, &m) != PMLS_OK ||
      pmls_client_open(eng, 0, &worker) != PMLS_OK) {
    fprintf(stderr, "fuzz_rounds: %s\n", pmls_errmsg(eng));
    abort();
  }
  return 0;
}

static void drain_nodes(void) {
  for (int k = 0; k < eng->schedulers; k++)
    for (void *m; nn_recv(eng->sched_sock[k], &m, NN_MSG, NN_DONTWAIT) >= 0;)
      nn_freemsg(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pmls_rounds *r = NULL;
  if (pmls_rounds_open(worker, &r) != PMLS_OK) {
    fprintf(stderr, "fuzz_rounds: %s\n", pmls_client_errmsg(worker));
    abort();
  }
  fuzz_in in = {data, size, 0};
  pmi_buf b = {0};
  while (fuzz_next(&in, eng->job, &b)) {
    void *m = nn_allocmsg(b.len ? b.len : 1, 0);
    if (!m) abort();
    memcpy(m, b.data, b.len);
    pmi_rounds_take(r, m, b.len);
  }
  pmi_buf_free(&b);
  int saved = eng->cfg.timeout_ms;
  eng->cfg.timeout_ms = 1;
  for (int i = 0; i < 4; i++) {
    pmls_round out;
    if (pmls_round_next(r, &out) != PMLS_OK || out.round < 0) break;
    double *partial = pmls_round_partial(r);
    if (partial)
      for (int64_t k = 0; k < out.n * 2 + 1; k++) partial[k] = (double)k;
    if (pmls_round_send(r, 1) != PMLS_OK) break;
  }
  eng->cfg.timeout_ms = saved;
  pmls_rounds_close(r);
  /* Its pushes to the nodes linger until the engine goes: here they would
   * pile up to nanomsg's limit of sockets, input after input. */
  pmi_proc_close_lingering(eng);
  /* A worker takes a model's rounds once: the next input is a new one. */
  eng->model.taken[0] = 0; /* ROUNDS_FREE, model.c */
  drain_nodes();
  return 0;
}
