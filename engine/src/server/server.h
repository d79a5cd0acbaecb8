/* server.h -- a server shard (see server.c): started on its bound socket by
 * the runtime, stopped by a STOP message, then joined. */
#ifndef PMI_SERVER_H
#define PMI_SERVER_H

#include "../proc/proc.h"

/* Starts the shard's thread on its already-bound PULL socket. */
int pmi_server_start(pmls_engine *e, int shard, int sock, pmi_server **out,
                     char *err);
/* Asks the loop to end at its next wake-up (within its 1 s receive
 * timeout): the way to stop a shard when no STOP can be sent to it, as when
 * the process is out of sockets. */
void pmi_server_ask_stop(pmi_server *s);
void pmi_server_join(pmi_server *s);
/* The pieces of a shard without its thread, for the fuzz harness
 * (engine/fuzz/): a shard that owns no socket, each message handed to it
 * as the loop would (returns 1 for STOP), and its end. */
pmi_server *pmi_server_new(pmls_engine *e, int shard, char *err);
int pmi_server_handle(pmi_server *s, const void *msg, size_t len);
void pmi_server_free(pmi_server *s);
void pmi_server_traffic(pmi_server *s, pmi_traffic *sum);

#endif
