/* server.h -- a server shard (see server.c): started on its bound socket by
 * the runtime, stopped by a STOP message, then joined. */
#ifndef PMI_SERVER_H
#define PMI_SERVER_H

#include "../proc/proc.h"

/* Starts the shard's thread on its already-bound PULL socket. */
int pmi_server_start(pmls_engine *e, int shard, int sock, pmi_server **out,
                     char *err);
void pmi_server_join(pmi_server *s);
void pmi_server_traffic(pmi_server *s, pmi_traffic *sum);

#endif
