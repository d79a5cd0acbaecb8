/* fuzz.h -- what the fuzz harnesses of engine/fuzz/ share: the one entry
 * point libFuzzer calls, the way an input becomes a sequence of messages,
 * and a data file made of an input.
 *
 * A message harness reads its input as records, each one message:
 *
 *   u8 type, u16 flags, i32 src, u16 n, n payload bytes (little-endian)
 *
 * and builds the header itself (the magic, the node's job id, the payload
 * length; the flags are a ROUND's), so the fuzzer spends its time in the handlers instead of
 * guessing a random job id. A record of type 0xff carries a whole message,
 * header and all, as it came: that is how garbage reaches the header check.
 * Harness code only; everything is static so each harness takes what it
 * uses. */
#ifndef PMI_FUZZ_H
#define PMI_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pmls.h"
#include "../src/net/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_RAW 0xff

/* ---- the node under test -------------------------------------------------- */

/* An engine of one process for a harness (quiet, short timeouts), or the
 * harness ends: nothing can be fuzzed without it. */
static inline pmls_engine *fuzz_engine(const char *who, int workers,
                                       int servers, int schedulers) {
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = workers;
  cfg.servers = servers;
  cfg.schedulers = schedulers;
  cfg.quiet = 2;
  cfg.timeout_ms = 2000;
  pmls_engine *e = NULL;
  char err[512];
  if (pmls_engine_create(&e, &cfg, err, sizeof err) != PMLS_OK) {
    fprintf(stderr, "%s: %s\n", who, err);
    abort();
  }
  return e;
}

/* A socket bound at addr that a thread of its own empties for ever: where
 * a harness sends what a node answers, in place of an address a fuzzed
 * string names. Harnesses that use it include <pthread.h>. */
#ifdef _PTHREAD_H
static void *fuzz_drain(void *arg) {
  int sock = (int)(intptr_t)arg;
  for (;;) {
    void *m;
    size_t len;
    char err[PMI_ERRLEN];
    if (pmi_msg_recv(sock, &m, &len, NULL, err) == PMLS_OK) pmi_msg_free(m);
  }
  return NULL;
}

static inline int fuzz_sink(const char *addr) {
  char err[PMI_ERRLEN];
  int sock = pmi_sock_pull(addr, 1000, err);
  pthread_t t;
  if (sock < 0 || pthread_create(&t, NULL, fuzz_drain, (void *)(intptr_t)sock))
    abort();
  return sock;
}
#endif

/* ---- records -> messages ------------------------------------------------- */

typedef struct {
  const uint8_t *p;
  size_t len, off;
} fuzz_in;

/* The next record as a message in b (job's header); 0 at the end. */
static inline int fuzz_next(fuzz_in *in, uint32_t job, pmi_buf *b) {
  if (in->len - in->off < 9) return 0;
  const uint8_t *r = in->p + in->off;
  int type = r[0];
  uint16_t flags = (uint16_t)(r[1] | r[2] << 8);
  int32_t src;
  memcpy(&src, r + 3, 4);
  size_t n = (size_t)r[7] | (size_t)r[8] << 8;
  in->off += 9;
  if (n > in->len - in->off) n = in->len - in->off;
  b->len = 0;
  if (type == FUZZ_RAW) {
    pmi_buf_reserve(b, sizeof(pmi_hdr)); /* never NULL, even for 0 bytes */
    if (n) pmi_buf_put(b, in->p + in->off, n);
  } else {
    pmi_msg_begin(b, job, type, src);
    pmi_buf_put(b, in->p + in->off, n);
    pmi_hdr h;
    memcpy(&h, b->data, sizeof h);
    h.len = (uint32_t)(b->len - sizeof h);
    h.flags = flags;
    memcpy(b->data, &h, sizeof h);
  }
  in->off += n;
  return 1;
}

/* Appends a record to out (the seed generator, gen_corpus.c). */
static inline void fuzz_record_flags(pmi_buf *out, int type, int flags,
                                     int32_t src, const void *payload,
                                     size_t n) {
  uint8_t head[9];
  head[0] = (uint8_t)type;
  head[1] = (uint8_t)(flags & 0xff);
  head[2] = (uint8_t)(flags >> 8);
  memcpy(head + 3, &src, 4);
  head[7] = (uint8_t)(n & 0xff);
  head[8] = (uint8_t)(n >> 8);
  pmi_buf_put(out, head, sizeof head);
  pmi_buf_put(out, payload, n);
}
static inline void fuzz_record(pmi_buf *out, int type, int32_t src,
                               const void *payload, size_t n) {
  fuzz_record_flags(out, type, 0, src, payload, n);
}

/* ---- an input as a data file --------------------------------------------- */

/* The readers take a path: the input goes into a memory file, named by its
 * /proc/self/fd path (a regular file, so the readers' size checks apply). */
typedef struct {
  int fd;
  char path[64];
} fuzz_file;

static inline int fuzz_file_open(fuzz_file *f, const char *name) {
  f->fd = memfd_create(name, 0);
  if (f->fd < 0) {
    perror("memfd_create");
    abort();
  }
  snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
  return 0;
}

static inline void fuzz_file_set(fuzz_file *f, const void *data, size_t n) {
  if (ftruncate(f->fd, 0) || (n && pwrite(f->fd, data, n, 0) != (ssize_t)n)) {
    perror("fuzz file");
    abort();
  }
}

/* Splits an input at its first FUZZ_SPLIT (a NUL alone would cut gzip
 * data): the part before it, and after it (or NULL when there is none). */
#define FUZZ_SPLIT "\0VOCAB\0"
static inline const uint8_t *fuzz_split(const uint8_t *data, size_t size,
                                        size_t *first, size_t *rest) {
  const size_t m = sizeof FUZZ_SPLIT - 1;
  const uint8_t *z = memmem(data, size, FUZZ_SPLIT, m);
  if (!z) {
    *first = size;
    *rest = 0;
    return NULL;
  }
  *first = (size_t)(z - data);
  *rest = size - *first - m;
  return z + m;
}

#endif
