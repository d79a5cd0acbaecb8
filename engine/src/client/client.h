/* client.h -- what the floors above need from a client beyond pmls.h. */
#ifndef PMI_CLIENT_H
#define PMI_CLIENT_H

#include "../proc/proc.h"

/* Sends a TABLE declaration to every shard and waits for each to ack. */
int pmi_client_declare_table(pmls_client *c, int id, const pmi_table_meta *t);

/* 1 once a call of this client failed because the run had been aborted by
 * another node (PMLS_EABORTED): its failure is an echo, not a cause. */
int pmi_client_saw_abort(const pmls_client *c);

/* What a worker's rounds (sched/worker.c) take from its client when they
 * open: the engine, and where to say why they could not. */
pmls_engine *pmi_client_engine(pmls_client *c);
char *pmi_client_errbuf(pmls_client *c);

#endif
