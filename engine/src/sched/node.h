/* node.h -- the state of a scheduler node (pmls_sched), which node.c (its
 * lifetime and mailbox), round.c (what it sends) and collect.c (what it
 * gathers) share, and node.c's own helpers. Private to engine/src/sched. */
#ifndef PMI_SCHED_NODE_H
#define PMI_SCHED_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "../proc/proc.h"
#include "../metrics/metrics.h"

#define MAX_NOTES 32

typedef struct {
  int64_t round, n;
  int64_t *vars;
  int nseg;
  int32_t *seg_worker;
  int64_t *seg_lo, *seg_hi;
  unsigned char *have, *ready;
  int got, nready, ended;
  /* parts: each worker's partial as it came, worker w's at part_off[w]
   * (its segments' values, then extra): with segments that is about one
   * model's worth in all, not P dense rows of n * width + extra. */
  double *sum, *parts;
  size_t *part_off; /* P + 1 offsets into parts */
  size_t capvars, capseg, capparts; /* what vars/sum, segments, parts hold */
} slot;

struct pmls_sched {
  pmls_engine *e;
  int node, K, P, width, extra, depth, agnostic;
  int64_t vars, lo, hi;
  int sock;
  int *push;
  double *model, *deltas;
  size_t capdeltas;
  slot *slots;
  int first, count, collected;
  int met, byes;        /* workers met (SHELLO), workers that took the STOP */
  unsigned char *bye;   /* which workers sent their SBYE */
  int64_t next_round, through, sent_through;
  int sent_initial, stopped;
  /* Commits since the last ROUND, (var, width deltas) each, after a gap of
   * ROUND_HEAD bytes: a ROUND is built in place around them (its head
   * written into the gap), so the model-sized commits of a round are never
   * copied into a second buffer. Empty (len 0) when there are none. */
  pmi_buf pend;
  int64_t npend;
  double *bcast; /* values broadcast since the last ROUND */
  int64_t nbcast;
  int bcast_pending;
  pmi_buf out; /* the message being built; a ROUND's is pend, lent */
  int lent;     /* out and pend are swapped while a ROUND goes out */
  double *dense_parts; /* pmls_sched_partial's rows, made when first asked */
  size_t capdense;     /* the row length they were made for */
  size_t out_commits; /* while lent: where the commits end in out */
  pmi_traffic traffic;
  /* counters for the final metrics */
  int64_t rounds, updates, pushes, stale_max, stale_hist[17];
  double stale_sum, stale_sumsq;
  int64_t *passes;
  char note_name[MAX_NOTES][PMI_NAME_MAX];
  double note_value[MAX_NOTES];
  int nnotes;
  char err[PMI_ERRLEN];
};

/* Receives one message within the run's timeout, waking every slice to see
 * whether the job died. `what` names what is awaited, for the error. */
int pmi_node_recv(pmls_engine *e, int sock, double deadline, pmi_traffic *t,
                  char *err, const char *what, void **msg, size_t *len);
/* Receives one message for node s within the deadline and handles it. */
int pmi_node_take(pmls_sched *s, double deadline, const char *what);
/* Counts and tells a message this node drops (pmi_msg_dropped). */
void pmi_node_dropped(pmls_sched *s, const char *why);

#endif
