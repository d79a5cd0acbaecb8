/* client_int.h -- what the engine needs from a client beyond pmls.h. */
#ifndef PMI_CLIENT_INT_H
#define PMI_CLIENT_INT_H

#include "../runtime/engine.h"

/* Sends a TABLE declaration to every shard and waits for each to ack. */
int pmi_client_declare_table(pmls_client *c, int id, const pmi_table_meta *t);

/* What the rounds of scheduled models (sched/rounds.c) keep per client. */
struct pmi_rounds;
pmls_engine *pmi_client_engine(pmls_client *c);
char *pmi_client_errbuf(pmls_client *c);
struct pmi_rounds **pmi_client_rounds(pmls_client *c);

#endif
