/* wire.h -- what the scheduler node (node.c, round.c, collect.c) and the
 * worker side (worker.c) share about the messages of a round: the flags of
 * a ROUND, and the send and buffer chores both ends do the same way.
 *
 * A ROUND is: node (i32), round (i64), the node's last committed round
 * (i64), the commits since its last ROUND (i64 count, then per commit the
 * variable (i64) and `width` doubles); with ROUND_BROADCAST, the values the
 * node broadcast (i64 count, then the doubles); then the part that depends
 * on the flags: a round's variables and the worker's share, the node's
 * counters (STOP), or nothing (COMMITS). */
#ifndef PMI_SCHED_WIRE_H
#define PMI_SCHED_WIRE_H

#include <stdlib.h>

#include "../proc/proc.h"
#include "../metrics/metrics.h"

enum {
  ROUND_STOP = 1,      /* the node's last ROUND: its counters follow */
  ROUND_AGNOSTIC = 2,  /* workers push until the node says ENDROUND */
  ROUND_COMMITS = 4,   /* commits only, no round (pmls_sched_flush) */
  ROUND_BROADCAST = 8  /* carries the values of pmls_sched_broadcast */
};

static inline int pmi_sched_dead(pmls_engine *e, char *err) {
  return pmi_proc_dead_error(e, err);
}

/* Sends within the run's timeout; a send cut short because the job died
 * says so rather than naming the peer. */
static inline int pmi_sched_send(pmls_engine *e, int sock, pmi_buf *b,
                                 pmi_traffic *t, const char *peer, char *err) {
  if (atomic_load(&e->dead)) return pmi_sched_dead(e, err);
  int rc = pmi_msg_send_until(sock, b, t, peer, err, e->cfg.timeout_ms,
                              &e->dead);
  if (rc != PMLS_OK && atomic_load(&e->dead)) return pmi_sched_dead(e, err);
  return rc;
}

/* Grows *p to hold `need` elements (doubling: for buffers refilled every
 * round). */
static inline int pmi_sched_grow(void **p, size_t *cap, size_t need,
                                 size_t elem) {
  if (need <= *cap) return 0;
  size_t c = *cap ? *cap : 16;
  while (c < need) c *= 2;
  void *q = realloc(*p, c * elem);
  if (!q) return -1;
  *p = q;
  *cap = c;
  return 0;
}

/* Resizes *p to exactly n elements (realloc keeps the old ones). */
static inline int pmi_sched_resize(void *p, size_t n, size_t elem) {
  void *q = realloc(*(void **)p, (n ? n : 1) * elem);
  if (!q) return -1;
  *(void **)p = q;
  return 0;
}

/* A message as a worker's rounds take it off their socket (worker.c), for
 * the fuzz harness (engine/fuzz/fuzz_rounds.c): takes ownership of msg, a
 * nanomsg message. */
int pmi_rounds_take(pmls_rounds *r, void *msg, size_t len);

/* A scheduler node without its meeting (node.c), for the fuzz harness
 * (engine/fuzz/fuzz_sched.c) and the wire tests: a node on `sock` (-1: no
 * socket), every message handed to it as its loops would (an error only
 * when the run cannot go on; what it drops is counted), whether it has met
 * every worker and whether its oldest round has every partial. Ended by
 * pmls_sched_close. */
pmls_sched *pmi_sched_new(pmls_engine *e, int node, int sock, char *err);
int pmi_sched_handle(pmls_sched *s, const void *msg, size_t len);
int pmi_sched_met(const pmls_sched *s);
int pmi_sched_complete(const pmls_sched *s);

#endif
