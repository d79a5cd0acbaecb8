/* feed.h -- the receiver of ESSP pushes, one per process (see feed.c). */
#ifndef PMI_FEED_H
#define PMI_FEED_H

#include "../proc/proc.h"

typedef struct pmi_feed pmi_feed;

/* Binds the receiver (its address into addr) and starts its thread. */
pmi_feed *pmi_feed_start(pmls_engine *e, char addr[PMI_ADDR_MAX], char *err);
void pmi_feed_stop(pmi_feed *f);
/* One message, as the receiver's thread takes it (the fuzz harness feeds
 * it directly: engine/fuzz/fuzz_feed.c). */
void pmi_feed_handle(pmi_feed *f, const void *msg, size_t len);
int64_t pmi_feed_rows(const pmi_feed *f); /* row copies received so far */

#endif
