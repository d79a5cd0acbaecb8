/* feed.h -- the receiver of ESSP pushes, one per process (see feed.c). */
#ifndef PMI_FEED_H
#define PMI_FEED_H

#include "../proc/proc.h"

typedef struct pmi_feed pmi_feed;

/* Binds the receiver (its address into addr) and starts its thread. */
pmi_feed *pmi_feed_start(pmls_engine *e, char addr[PMI_ADDR_MAX], char *err);
void pmi_feed_stop(pmi_feed *f);
int64_t pmi_feed_rows(const pmi_feed *f); /* row copies received so far */

#endif
