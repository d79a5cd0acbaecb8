/* engine.h -- the engine's internal state, shared by the modules that make
 * up one PMLS process: the server shards (server/), the clients of worker
 * and host threads (client/), metrics, and the Lua script runtime. */
#ifndef PMI_ENGINE_H
#define PMI_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "pmls.h"
#include "../net/net.h"
#include "../store/store.h"
#include "../util/util.h"

#define PMI_MAX_TABLES 256
#define PMI_NAME_MAX 64
#define PMI_ADDR_MAX 200

typedef struct {
  char name[PMI_NAME_MAX];
  pmls_table_spec spec;
} pmi_table_meta;

/* Per-table counters a client keeps and merges into its engine on close. */
typedef struct {
  int64_t reads, increments, cache_hits;
  int64_t stale_n, stale_max, stale_hist[17];
  double stale_sum, stale_sumsq;
  int64_t bytes_sent, bytes_received;
} pmi_table_acc;

void pmi_table_acc_merge(pmi_table_acc *into, const pmi_table_acc *from);

/* The scheduled model (sched/model.c): its spec, which workers took their
 * rounds, and what the run's schedulers and workers tell about it for the
 * final metrics. */
typedef struct {
  int declared;
  pmls_model_spec spec;
  double *final;              /* a local worker's copy when it ended */
  int64_t rounds, updates, pushes, stale_max, stale_hist[17];
  double stale_sum, stale_sumsq;
  int64_t *passes;            /* per worker of the job (agnostic rounds) */
  unsigned char *taken;       /* per worker of the job: its rounds' state */
  int have_stats;
} pmi_model;

typedef struct pmi_server pmi_server;
typedef struct pmi_job pmi_job;
typedef struct pmi_feed pmi_feed;
typedef struct pmi_cache pmi_cache;
typedef struct pmi_metrics pmi_metrics;
typedef struct pmi_dataset pmi_dataset;

struct pmls_engine {
  pmls_config cfg;       /* strings below are owned copies */
  char *metrics_path;
  char *lua_path;
  char *master, *bind_host;
  uint32_t job;          /* stamps every message of this run */
  char addr_prefix[PMI_ADDR_MAX - 40]; /* room for "-s<n>" / "-c<n>" */
  int workers, servers;  /* in the whole job */
  int schedulers;        /* scheduler nodes in the job */
  int procs, rank;       /* processes in the job, and which one this is */
  int local_workers, first_worker; /* this process's slice of the workers */
  double t0;             /* when the engine started, for time_s */

  pthread_mutex_t mu;    /* guards the fields below that are not atomic */
  /* Tables are appended and never changed, so readers need no lock: they
   * read `ntables` (acquire) and then only entries below it. */
  pmi_table_meta tables[PMI_MAX_TABLES];
  _Atomic int ntables;

  pmi_server **srv;
  /* The job's directory: the shards' addresses, then the scheduler nodes'
   * (entry servers + k); see pmi_addr_owner. */
  char (*server_addr)[PMI_ADDR_MAX];
  int *sched_sock;       /* bound PULL sockets of this process's nodes, or -1 */
  /* Sockets whose last message may still be queued: nanomsg drops what is
   * unsent when a socket closes, so they close with the engine. */
  int *parked;
  int nparked, capparked;
  pmi_model model;
  pmls_client *ctl;      /* the engine's own client: declares tables */
  unsigned char *worker_taken;
  int next_host_id;

  pmi_metrics *metrics;
  pmi_traffic closed_traffic; /* from clients already closed */
  int64_t closed_rows_read, closed_rows_inc;
  pmi_table_acc table_acc[PMI_MAX_TABLES]; /* from clients already closed */
  pmi_cache *cache;      /* rows shared by this process's workers */
  /* Data files read through the engine (data/libsvm.c), shared read-only
   * by the process's threads until the engine is destroyed. */
  pthread_mutex_t data_mu;
  pmi_dataset *datasets;
  pmi_job *jobst;        /* the other processes; NULL for inproc */
  pmi_feed *feed;        /* receives ESSP pushes into the cache */
  char feed_addr[PMI_ADDR_MAX];
  char ctl_addr[PMI_ADDR_MAX]; /* where rank 0 reaches this process */
  _Atomic int dead;      /* the job was aborted: a peer died or failed */
  char dead_why[PMI_ERRLEN];
  char err[4096];        /* large enough for a script error's traceback */
};

static inline int pmi_engine_ntables(const pmls_engine *e) {
  return atomic_load_explicit(&((pmls_engine *)e)->ntables,
                              memory_order_acquire);
}

/* Which server shard owns a row: hashed, so rows spread evenly whatever
 * their ids (consecutive ids, strided ids, a few hot ids). */
static inline int pmi_shard_of(const pmls_engine *e, int table, int64_t row) {
  return (int)(pmi_mix64((uint64_t)row * 0x9e3779b97f4a7c15ULL ^
                         (uint64_t)table) % (uint64_t)e->servers);
}

/* Which process hosts a shard. */
static inline int pmi_owner_of(const pmls_engine *e, int shard) {
  return shard % e->procs;
}

/* Directory entries: shards first, then scheduler nodes; entry i lives in
 * process (i or i - servers) mod procs. */
static inline int pmi_addr_count(const pmls_engine *e) {
  return e->servers + e->schedulers;
}
static inline int pmi_addr_owner(const pmls_engine *e, int i) {
  return (i < e->servers ? i : i - e->servers) % e->procs;
}
static inline int pmi_addr_name(const pmls_engine *e, int i, char *out,
                                size_t cap) {
  return i < e->servers ? snprintf(out, cap, "s%d", i)
                        : snprintf(out, cap, "k%d", i - e->servers);
}

/* ---- the job: addresses, rendezvous, peers (runtime/job.c) --------------- */
/* Binds a PULL socket named `name` on this process's transport; returns it
 * (or -1) and its address in addr. */
int pmi_job_bind(pmls_engine *e, const char *name, int rcvtimeo_ms,
                 char addr[PMI_ADDR_MAX], char *err);
/* Binds the directory entries this process hosts (socks, one per entry,
 * -1 for the others' entries) and meets the other processes. */
int pmi_job_start(pmls_engine *e, int *socks, char *why);
/* Ends the run for every node: the scheduled rounds cannot go on. */
void pmi_engine_abort(pmls_engine *e, const char *why);
void pmi_job_register(pmls_engine *e, int client, const char *addr);
void pmi_job_unregister(pmls_engine *e, int client);
void pmi_job_abort(pmls_engine *e, const char *why);
/* This process's workers are done (status: how they ended). On rank 0 it
 * waits for every rank and returns the first failure among them. */
int pmi_job_workers_done(pmls_engine *e, int status, const char *msg);
void pmi_job_end(pmls_engine *e);

/* ---- server shards (server/server.c) ------------------------------------- */
/* Starts the shard's thread on its already-bound PULL socket. */
int pmi_server_start(pmls_engine *e, int shard, int sock, pmi_server **out,
                     char *err);
void pmi_server_join(pmi_server *s);
void pmi_server_traffic(pmi_server *s, pmi_traffic *sum);

/* ---- sockets closed with the engine (runtime/engine.c) ------------------- */
void pmi_engine_park(pmls_engine *e, int sock); /* close it at the end */

/* ---- data files (data/libsvm.c) ----------------------------------------- */
void pmi_datasets_free(pmls_engine *e);

/* ---- metrics (runtime/metrics.c) ----------------------------------------- */
pmi_metrics *pmi_metrics_new(const char *path, int quiet, double t0, char *err);
void pmi_metrics_free(pmi_metrics *m);
int pmi_metrics_declare(pmi_metrics *m, const char *name, pmls_agg agg);
void pmi_metrics_report(pmi_metrics *m, int64_t clock, const char *name,
                        double value);
void pmi_metrics_complete(pmi_metrics *m, int64_t clock);
void pmi_metrics_set_final(pmi_metrics *m, const char *name, double value);
int64_t pmi_metrics_clocks(pmi_metrics *m);
int pmi_metrics_write_final(pmi_metrics *m, pmls_engine *e, const pmls_stats *st);

#endif
