/* round.h -- what round.c (a scheduler node's sends) lends collect.c:
 * queuing a commit for the next ROUND and sending one message to every
 * worker. Private to engine/src/sched. */
#ifndef PMI_SCHED_ROUND_H
#define PMI_SCHED_ROUND_H

#include <stdint.h>

#include "node.h"

/* Queues variable var's change (width doubles) for the next ROUND. -1: no
 * memory. */
int pmi_round_pend(pmls_sched *s, int64_t var, const double *delta);
/* Sends the message in s->out to every worker. */
int pmi_round_send_all(pmls_sched *s);

#endif
