/* fuzz_feed.c -- the process's receiver of ESSP pushes (client/feed.c) on
 * any sequence of messages, handed to the engine's own receiver as its
 * thread would (pmi_feed_handle): PUSH messages whose rows go into the
 * process cache, and anything else a peer may send. The engine has two
 * local workers and three tables (dense float64, dense float32, sparse).
 * A STOP is the one message left out: it would end the receiver's thread,
 * which is what it is for. */
#include "fuzz.h"
#include "../src/client/feed.h"

static pmls_engine *eng;

static void declare(const char *name, int64_t rows, int32_t cols,
                    pmls_dtype dtype, pmls_layout layout) {
  pmls_table_spec s;
  pmls_table_spec_init(&s);
  s.rows = rows;
  s.cols = cols;
  s.dtype = dtype;
  s.layout = layout;
  int id;
  if (pmls_table_create(eng, name, &s, &id) != PMLS_OK) {
    fprintf(stderr, "fuzz_feed: %s\n", pmls_errmsg(eng));
    abort();
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = 2;
  cfg.servers = 1;
  cfg.quiet = 2;
  cfg.consistency = PMLS_ESSP;
  char err[512];
  if (pmls_engine_create(&eng, &cfg, err, sizeof err) != PMLS_OK || !eng->feed) {
    fprintf(stderr, "fuzz_feed: %s\n", err);
    abort();
  }
  declare("d", 8, 4, PMLS_F64, PMLS_DENSE);
  declare("f", 4, 3, PMLS_F32, PMLS_DENSE);
  declare("s", 8, 100, PMLS_F64, PMLS_SPARSE);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_in in = {data, size, 0};
  pmi_buf b = {0};
  while (fuzz_next(&in, eng->job, &b)) {
    pmi_hdr h;
    if (b.len >= sizeof h) {
      memcpy(&h, b.data, sizeof h);
      if (h.type == PMI_MSG_STOP) continue;
    }
    pmi_feed_handle(eng->feed, b.data, b.len);
  }
  pmi_buf_free(&b);
  return 0;
}
