/* proc.h -- the process context: what every node of one PMLS process shares.
 *
 * This is the lowest floor above util, store and net. The server shards, the
 * clients, the scheduler and the job all work on one `struct pmls_engine`
 * (the public handle is this context), but none of them owns it: runtime/
 * creates it, starts the nodes and tears them down. What lives here is what
 * they all read or must agree on:
 *  - the configuration and the job's shape (procs, ranks, workers, shards);
 *  - the directory: where every shard and scheduler node listens, and how
 *    this process names and binds its own sockets (pmi_proc_bind);
 *  - the table registry and its per-table statistics;
 *  - the registry of local clients, so a failure can wake every one;
 *  - the dead flag: once set, the run is over for every node, with a code
 *    that says why (pmi_proc_abort);
 *  - sockets that must stay open until the engine goes (pmi_proc_linger).
 * The objects of higher floors (shards, cache, feed, job, metrics) are only
 * opaque pointers here. */
#ifndef PMI_PROC_H
#define PMI_PROC_H

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

/* The staleness histograms' buckets: staleness 0..15, then one for 16 or
 * more (docs/metrics.md). */
#define PMI_STALE_BUCKETS 17

/* Per-table counters a client keeps and merges into its engine on close. */
typedef struct {
  int64_t reads, increments, cache_hits;
  int64_t stale_n, stale_max, stale_hist[PMI_STALE_BUCKETS];
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
  int64_t rounds, updates, pushes, stale_max, stale_hist[PMI_STALE_BUCKETS];
  double stale_sum, stale_sumsq;
  int64_t *passes;            /* per worker of the job (agnostic rounds) */
  unsigned char *taken;       /* per worker of the job: its rounds' state */
  int have_stats;
} pmi_model;

/* How this process's addresses are made (see pmi_proc_bind). */
enum { PMI_INPROC = 0, PMI_IPC = 1, PMI_TCP = 2 };

typedef struct {
  int id;
  int sock; /* PUSH to the client's reply address, for waking it */
} pmi_local_client;

/* Called once when the run dies, before the flag is set: the job tells the
 * other processes. Set by job/ (a lower floor must not call up into it). */
typedef void (*pmi_abort_hook)(pmls_engine *e, int code, const char *why);

typedef struct pmi_server pmi_server;
typedef struct pmi_job pmi_job;
typedef struct pmi_feed pmi_feed;
typedef struct pmi_cache pmi_cache;
typedef struct pmi_metrics pmi_metrics;
typedef struct pmi_dataset pmi_dataset;

struct pmls_engine {
  /* ---- configuration and the job's shape ---- */
  pmls_config cfg;       /* strings below are owned copies */
  char *metrics_path;
  char *checkpoint_dir, *resume_dir;
  pmls_snapshot *snapshot; /* the one a resuming run starts from */
  char *lua_path;
  char *master, *bind_host;
  uint32_t job;          /* stamps every message of this run */
  int workers, servers;  /* in the whole job */
  int schedulers;        /* scheduler nodes in the job */
  int procs, rank;       /* processes in the job, and which one this is */
  int local_workers, first_worker; /* this process's slice of the workers */
  double t0;             /* when the engine started, for time_s */

  /* ---- addresses ---- */
  int transport;         /* PMI_INPROC, PMI_IPC or PMI_TCP */
  char addr_prefix[PMI_ADDR_MAX - 40]; /* inproc: room for "-s<n>" / "-c<n>" */
  char ipc_dir[PMI_ADDR_MAX];          /* ipc: the directory of the sockets */
  char host[128];        /* tcp: the numeric address this process binds */
  /* The job's directory: the shards' addresses, then the scheduler nodes'
   * (entry servers + k); see pmi_addr_owner. */
  char (*server_addr)[PMI_ADDR_MAX];
  char feed_addr[PMI_ADDR_MAX];
  char ctl_addr[PMI_ADDR_MAX]; /* where rank 0 reaches this process */
  /* Rank 0 of a job of processes: each rank's host name, by rank (its
   * own, then each from its JOIN), for the metrics header; else NULL. */
  char (*hosts)[PMI_HOST_MAX];

  pthread_mutex_t mu;    /* guards the fields below that are not atomic */

  /* ---- the table registry ----
   * Tables are appended and never changed, so readers need no lock: they
   * read `ntables` (acquire) and then only entries below it. */
  pmi_table_meta tables[PMI_MAX_TABLES];
  _Atomic int ntables;
  pmi_table_acc table_acc[PMI_MAX_TABLES]; /* from clients already closed */

  /* ---- local clients ---- */
  unsigned char *worker_taken; /* per local worker: 0 free, 1 open, 2 ran */
  int next_host_id;
  pmi_local_client *clients;   /* woken when the run dies (jobs of peers) */
  int nclients, capclients;
  pmi_traffic closed_traffic;  /* from clients already closed */
  int64_t closed_rows_read, closed_rows_inc;

  /* Sockets whose last message may still be queued: nanomsg drops what is
   * unsent when a socket closes, so they close with the engine. */
  int *lingering;
  int nlingering, caplingering;

  /* ---- the dead flag ---- */
  _Atomic int dead;      /* the run was aborted: a peer died or failed */
  int dead_code;         /* why, as a code (PMLS_EABORTED, PMLS_EDEAD, ...) */
  char dead_why[PMI_ERRLEN];
  pmi_abort_hook on_abort;
  /* A stop by signal (pmls_stop), here or on another rank: which signal and
   * the rank it hit; it travels in ABORT. stop_signal is 0 until then. */
  _Atomic int stop_signal;
  int stop_rank;

  /* Messages this process's nodes dropped: undecodable, or refused with no
   * one to answer (pmi_msg_dropped). */
  _Atomic int64_t dropped;

  /* ---- parts owned by higher floors ---- */
  pmi_server **srv;      /* this process's shards (NULL: hosted elsewhere) */
  int *sched_sock;       /* bound PULL sockets of this process's nodes, or -1 */
  pmi_model model;
  pmls_client *ctl;      /* the engine's own client: declares tables */
  pmi_metrics *metrics;
  pmi_cache *cache;      /* rows shared by this process's workers */
  /* Data files read through the engine (data/libsvm.c), shared read-only
   * by the process's threads until the engine is destroyed. */
  pthread_mutex_t data_mu;
  pmi_dataset *datasets;
  pmi_job *jobst;        /* the other processes; NULL for inproc */
  pmi_feed *feed;        /* receives ESSP pushes into the cache */
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

/* Binds a PULL socket named `name` on this process's transport; returns it
 * (or -1 with err) and its address in addr. */
int pmi_proc_bind(pmls_engine *e, const char *name, int rcvtimeo_ms,
                  char addr[PMI_ADDR_MAX], char *err);

/* The local clients a dying run must wake (only in jobs with peers: in one
 * process the shards' answers wake them). */
void pmi_proc_add_client(pmls_engine *e, int id, const char *addr);
void pmi_proc_remove_client(pmls_engine *e, int id);
/* Sends every registered client an ERR with code and why. */
void pmi_proc_wake_clients(pmls_engine *e, int code, const char *why);

/* The dead flag. pmi_proc_abort ends the run for every node: the hook tells
 * the other processes, then the flag is set (first caller's code and why
 * win). pmi_proc_mark_dead only sets the flag; it returns 1 if it did. */
static inline int pmi_proc_dead(const pmls_engine *e) {
  return atomic_load(&((pmls_engine *)e)->dead);
}
void pmi_proc_abort(pmls_engine *e, int code, const char *why);
int pmi_proc_mark_dead(pmls_engine *e, int code, const char *why);
/* Fills err with "run aborted: <why>" and returns PMLS_EABORTED. */
int pmi_proc_dead_error(pmls_engine *e, char *err);

/* Keeps sock open until pmi_proc_close_lingering (at engine destroy). */
void pmi_proc_linger(pmls_engine *e, int sock);
void pmi_proc_close_lingering(pmls_engine *e);

/* A table's statistics from the closed clients' counters. */
int pmi_proc_table_stats(pmls_engine *e, int table, pmls_table_stats *out);

#endif
