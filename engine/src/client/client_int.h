/* client_int.h -- what the engine needs from a client beyond pmls.h. */
#ifndef PMI_CLIENT_INT_H
#define PMI_CLIENT_INT_H

#include "../runtime/engine.h"

/* Sends a TABLE declaration to every shard and waits for each to ack. */
int pmi_client_declare_table(pmls_client *c, int id, const pmi_table_meta *t);

/* What a worker's rounds (sched/worker.c) take from its client when they
 * open: the engine, and where to say why they could not. */
pmls_engine *pmi_client_engine(pmls_client *c);
char *pmi_client_errbuf(pmls_client *c);

#endif
