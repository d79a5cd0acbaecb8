/* collect.h -- what collect.c (a scheduler node's gathering) lends the
 * rest of the node: the size of a worker's partial, and the handlers of a
 * PARTIAL and a READY. Private to engine/src/sched. */
#ifndef PMI_SCHED_COLLECT_H
#define PMI_SCHED_COLLECT_H

#include <stddef.h>

#include "node.h"

/* Values worker w's PARTIAL of the round in sl must carry: its share times
 * width, then extra. */
size_t pmi_collect_share(const pmls_sched *s, const slot *sl, int w);
/* A worker's PARTIAL, or READY of an agnostic round: dropped (and counted)
 * unless an outstanding round expects it; an error only when a send fails. */
int pmi_collect_partial(pmls_sched *s, pmi_rd *rd);
int pmi_collect_ready(pmls_sched *s, pmi_rd *rd);

#endif
