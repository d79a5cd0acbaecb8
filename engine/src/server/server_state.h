/* server_state.h -- the inside of a server shard, shared by the files that
 * make it up (server/ only): server.c (the loop, clocks, increments) and
 * reads.c (reads, parked reads, ESSP pushes). */
#ifndef PMI_SERVER_STATE_H
#define PMI_SERVER_STATE_H

#include <stdatomic.h>

#include "server.h"

#include "../metrics/metrics.h"

typedef struct {
  int declared;
  pmls_table_spec spec;
  char name[PMI_NAME_MAX];
  pmi_rowmap rows; /* row id -> dense bytes, or pmi_kv* for sparse rows */
  int essp;        /* dense and ESSP: rows are pushed to their holders */
  pmi_rowmap subs; /* ESSP: row id -> bitset of the processes holding it */
} srv_table;

typedef struct {
  int client;
  uint32_t req;  /* 0 with table -1: a barrier WAIT, answered with an ACK */
  int table;
  int64_t row, min_clock;
  int32_t stamp_lo, stamp_n;
  int64_t *rows; /* a GETS: its nrows row ids (owned); NULL for a GET */
  int64_t nrows;
} pending_get;

struct pmi_server {
  pmls_engine *e;
  int shard;
  pthread_t thread;
  _Atomic int stop_asked; /* the loop ends at its next wake-up */
  int pull;
  char addr[PMI_ADDR_MAX];
  char name[32];

  srv_table tables[PMI_MAX_TABLES];
  int *reply_sock; /* by client id; -1 = not connected */
  int *client_rank; /* by client id: its process */
  int *feed_sock;   /* by process: its push receiver (ESSP); -1 = none */
  int *feed_lo, *feed_n; /* by process: its workers, for a push's stamps */
  int nsubs;        /* ESSP rows subscribed, over all tables */
  int64_t *last_seq; /* by client id: the last OPLOG message applied */
  int nclients;

  int64_t *vclock;        /* clock() calls seen per worker */
  unsigned char *done;    /* worker said BYE: no longer holds others back */
  int64_t global_clock;   /* min over workers still running */
  int64_t max_clock;

  pending_get *pending;
  size_t npending, cappending;

  int aborted;
  char abort_msg[PMI_ERRLEN];

  pmi_buf out;
  pmi_traffic traffic;
  int64_t pushes;             /* PUSH messages sent */
  pthread_mutex_t traffic_mu; /* traffic is read by other threads for stats */
  char err[PMI_ERRLEN];
};

/* server.c */
void srv_send_to(pmi_server *s, int client);
void srv_reply_err(pmi_server *s, int client, uint32_t req, int code,
                   const char *msg);
void srv_reply_ack(pmi_server *s, int client, int what);
int64_t srv_copy_clock(const pmi_server *s);
void *srv_row_storage(pmi_server *s, int table, int64_t row);
int srv_check_row(pmi_server *s, int table, int64_t row, char *why,
                  size_t whylen);

/* reads.c */
void srv_on_get(pmi_server *s, const pmi_hdr *h, pmi_rd *rd);
void srv_on_gets(pmi_server *s, const pmi_hdr *h, pmi_rd *rd);
void srv_park(pmi_server *s, pending_get g);
void srv_serve_pending(pmi_server *s);
void srv_drop_pending(pmi_server *s, int client);
void srv_push_fresh(pmi_server *s);

#endif
