/*
 * pmls.h -- the public contract of the PMLS engine.
 *
 * This is the only header a host application (or the Lua layer) needs. It is
 * kept plain C on purpose: the build turns the part between the CDEF markers
 * into the `ffi.cdef` text of the Lua package, so the C API and the Lua
 * binding cannot drift apart.
 *
 * Conventions
 *  - Every call takes its handle first (an engine, or a client that belongs to
 *    an engine). There is no hidden global state.
 *  - Calls return PMLS_OK (0) or an error code; the message for the last
 *    failure is kept per handle: pmls_errmsg(engine) for engine calls,
 *    pmls_client_errmsg(client) for row calls. A client belongs to one thread,
 *    so its message is never overwritten by another thread.
 *  - Row and column indices are 0-based. Row payloads use the table's element
 *    type (double, float, int32_t or int64_t).
 *  - Nothing reached from here calls back into Lua; the Lua runtime is only
 *    entered by pmls_run_script, which drives its own lua_States.
 */
#ifndef PMLS_H
#define PMLS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* PMLS_CDEF_BEGIN */

enum {
  PMLS_OK = 0,
  PMLS_EINVAL = 1,    /* a bad argument: table id, row, column, size, name */
  PMLS_ENOMEM = 2,    /* allocation failed */
  PMLS_ENET = 3,      /* the transport failed (socket, bind, connect, send) */
  PMLS_ETIMEDOUT = 4, /* a peer did not answer in time */
  PMLS_EUSAGE = 5,    /* a bad command line: unknown option, bad value */
  PMLS_ESCRIPT = 6,   /* a model script raised an error */
  PMLS_ESTATE = 7,    /* the call is not allowed now (e.g. run aborted) */
  PMLS_EIO = 8,       /* a file could not be read or written */
  PMLS_EPROTO = 9,    /* a malformed message or one from another job */
  PMLS_ERANGE = 10,   /* a row or column index outside its table */
  PMLS_EABORTED = 11, /* the run was aborted because another node failed */
  PMLS_EDEAD = 12,    /* a peer process died (no heartbeat) */
  PMLS_ESTOPPED = 13, /* the job was stopped by a signal (pmls_stop) */
  PMLS_EVALUE = 14    /* a metric is NaN or infinite */
};

typedef enum {
  PMLS_F64 = 0,
  PMLS_F32 = 1,
  PMLS_I32 = 2,
  PMLS_I64 = 3
} pmls_dtype;

typedef enum {
  PMLS_DENSE = 0,  /* every row holds `cols` elements */
  PMLS_SPARSE = 1  /* rows map int32 column keys to elements */
} pmls_layout;

/* How the values workers report in one clock combine. In the final metrics
 * object every metric carries its last clock's value, except a total,
 * which carries the sum over the run's clocks. */
typedef enum {
  PMLS_AGG_MEAN = 0, /* the mean over workers */
  PMLS_AGG_SUM = 1,  /* the sum over workers */
  PMLS_AGG_LAST = 2, /* the value reported last in the clock */
  PMLS_AGG_MIN = 3,  /* the least over workers */
  PMLS_AGG_MAX = 4,  /* the greatest over workers */
  PMLS_AGG_TOTAL = 5 /* the sum over workers; final: the sum over clocks */
} pmls_agg;

typedef enum {
  PMLS_SSP = 0,  /* reads at most `staleness` clocks old (0 = BSP) */
  PMLS_BSP = 1,  /* staleness 0 whatever the table says */
  PMLS_ESSP = 2, /* the SSP bound, with servers pushing fresh rows */
  PMLS_ASYNC = 3 /* no bound on reads; the write path loses nothing */
} pmls_consistency;

typedef struct pmls_engine pmls_engine;
typedef struct pmls_client pmls_client;

typedef struct pmls_config {
  int workers;              /* worker threads; 0 = one per online core */
  int servers;              /* server shards (threads); 0 = 1 */
  uint64_t seed;            /* base seed handed to scripts */
  const char *metrics_path; /* append one JSON object per clock; NULL = none */
  int quiet;                /* 0: progress and final lines; 1: the final
                               line only; 2: none */
  int trace;                /* a traceback for input errors too (see
                               pmls_run_script) */
  int staleness;            /* default SSP bound for tables (0 = BSP) */
  int consistency;          /* default pmls_consistency for tables */
  int timeout_ms;           /* how long a read may wait for a peer; 0 = 60000 */
  const char *lua_path;     /* where the pmls Lua package lives; NULL = find it */
  /* A job of several processes (see docs/architecture.md, "Rendezvous"):
   * procs processes, this one being `rank`, each with `workers` worker
   * threads, meet at rank 0's `master` address ("ipc:///path" or
   * "tcp://host:port"). procs <= 1 with master NULL is a one-process job on
   * inproc://; a master address makes even a one-process job use its
   * transport (ipc or tcp), which is how tests and benchmarks exercise it. */
  int procs;                /* processes in the job; 0 = 1 */
  int rank;                 /* this process, 0..procs-1 */
  const char *master;       /* rank 0's rendezvous address; NULL = inproc */
  const char *bind_host;    /* tcp: the address this process binds and
                               announces; NULL = the one that reaches master */
  int heartbeat_ms;         /* a peer silent this long is dead; 0 = 10000 */
  int schedulers;           /* scheduler nodes (model parallelism); node k
                               lives in process k mod procs; 0 = 1 */
  /* tcp: the job's secret, the same bytes in every process (16 to 4096;
   * docs/security.md). Every tcp message then carries a MAC under a key
   * derived from it and the master address, and one that fails is dropped.
   * Read while pmls_engine_create runs. NULL = unauthenticated tcp. */
  const void *secret;
  size_t secret_len;
  /* Checkpoints (docs/fault-tolerance.md): a snapshot into checkpoint_dir
   * every checkpoint_every clocks (0 = none), and a run that goes on from
   * the last complete one in resume_dir; both NULL = off. */
  const char *checkpoint_dir;
  int64_t checkpoint_every;
  const char *resume_dir;
  /* The clock every worker starts at (a resumed run: the snapshot's): the
   * shards' vector clocks and the clients' counters begin there, and the
   * metrics number clocks on from it. 0 = a fresh run. */
  int64_t start_clock;
} pmls_config;

typedef struct pmls_table_spec {
  int64_t rows;
  int32_t cols;      /* dense: elements per row; sparse: upper bound on keys */
  pmls_dtype dtype;
  pmls_layout layout;
  int staleness;     /* -1 = the engine's default */
  int consistency;   /* a pmls_consistency, or -1 = the engine's default */
  int init;          /* 0 = zeros, 1 = uniform in [-init_scale, init_scale),
                        2 = normal(0, init_scale); drawn per row from the
                        engine seed, so every deployment starts alike */
  double init_scale;
} pmls_table_spec;

typedef struct pmls_stats {
  int64_t clocks;            /* global clocks completed */
  int64_t rows_read;
  int64_t rows_incremented;  /* row increments issued by clients */
  int64_t messages_sent;
  int64_t bytes_sent;
  int64_t messages_received;
  int64_t bytes_received;
  int64_t messages_dropped;  /* received but undecodable or refused unanswered
                                (docs/security.md) */
} pmls_stats;

const char *pmls_version(void);
const char *pmls_strerror(int code);
size_t pmls_dtype_size(pmls_dtype dtype);

/* Engine lifetime. On failure *out is NULL and err (if given) holds why. */
void pmls_config_init(pmls_config *cfg);
void pmls_table_spec_init(pmls_table_spec *spec);
int pmls_engine_create(pmls_engine **out, const pmls_config *cfg, char *err,
                       size_t errlen);
void pmls_engine_destroy(pmls_engine *e);
/* Whether one process of a job shaped as cfg says (procs, workers per
 * process, servers, schedulers; 0 = the defaults) can open what it needs:
 * nanomsg gives a process at most 512 sockets, and each holds a few file
 * descriptors under RLIMIT_NOFILE. A shard answers every client of the job
 * and every client talks to every shard, so the need grows with procs x
 * workers. PMLS_OK, or PMLS_EINVAL with err saying the need, the limit and
 * the largest -p that fits. pmls_engine_create checks it; a launcher asks
 * before it starts any process. *sockets and *fds (if given) get the
 * estimate. */
int pmls_config_check(const pmls_config *cfg, int *sockets, int *fds,
                      char *err, size_t errlen);
/* Takes this process's place in a job from what its launcher set: rank and
 * size from PMLS_RANK/PMLS_SIZE (pmls -p, or a host that starts its own
 * ranks), OMPI_COMM_WORLD_RANK/SIZE (Open MPI's mpirun), PMI_RANK/PMI_SIZE
 * (MPICH) or SLURM_PROCID/SLURM_NTASKS (srun), the first found, and rank
 * 0's address from PMLS_MASTER unless cfg->master is set already. Sets
 * cfg->procs, rank and master (pointing into the environment) and returns
 * PMLS_OK; with no launcher it changes nothing and returns PMLS_OK (then
 * cfg->procs stays as it was). PMLS_EINVAL, with why in err, for a rank
 * outside 0..size-1 or a job of several processes with no master. */
int pmls_config_from_env(pmls_config *cfg, char *err, size_t errlen);
const char *pmls_errmsg(const pmls_engine *e);
int pmls_engine_workers(const pmls_engine *e);  /* in the whole job */
int pmls_engine_procs(const pmls_engine *e);
int pmls_engine_rank(const pmls_engine *e);
/* This process's workers are first_worker .. first_worker + local - 1. */
int pmls_engine_local_workers(const pmls_engine *e, int *first_worker);
uint64_t pmls_engine_seed(const pmls_engine *e);
/* The checkpoint directory (NULL = none) and its interval in clocks. */
const char *pmls_engine_checkpoint(const pmls_engine *e, int64_t *every);
/* The directory a run resumes from, or NULL. */
const char *pmls_engine_resume(const pmls_engine *e);
/* The clock this engine's workers start at (pmls_config.start_clock, or
 * the snapshot's when resuming). */
int64_t pmls_engine_start_clock(const pmls_engine *e);

/* A complete checkpoint (docs/fault-tolerance.md): the directory, the
 * model's clock (clock() calls of the model) and the engine's clock there
 * (which counts the snapshots' barriers too), the workers that wrote it,
 * and why newer ones named by DIR/latest were refused ("" if none). */
typedef struct pmls_snapshot {
  char path[4096];
  int64_t clock;
  int64_t engine_clock;
  int32_t workers;
  int32_t procs;
  char refused[2048];
} pmls_snapshot;
/* The newest snapshot of dir whose manifest is whole and whose files have
 * the sizes it gives; PMLS_EIO with "--resume DIR: why" when there is none.
 * A resuming engine does this when it is created and keeps the answer:
 * pmls_engine_snapshot (NULL when not resuming). */
int pmls_checkpoint_find(const char *dir, pmls_snapshot *out, char *err,
                         size_t errlen);
const pmls_snapshot *pmls_engine_snapshot(const pmls_engine *e);
int pmls_engine_stats(pmls_engine *e, pmls_stats *out);

/* What reads of one table observed: staleness = the reader's clock minus the
 * clock of the copy it read (host reads are not counted). */
typedef struct pmls_table_stats {
  int64_t reads, increments, cache_hits;
  int64_t staleness_max;
  double staleness_mean, staleness_var;
  int64_t staleness_hist[17]; /* staleness 0..15, then 16 or more */
  int64_t bytes_sent, bytes_received;
} pmls_table_stats;
int pmls_table_stats_of(pmls_engine *e, int table, pmls_table_stats *out);

/* Tables are declared before the workers that use them start, and live as
 * long as the engine: later script runs on it attach to them. */
int pmls_table_create(pmls_engine *e, const char *name,
                      const pmls_table_spec *spec, int *id_out);
int pmls_table_find(pmls_engine *e, const char *name, int *id_out);
int pmls_table_spec_of(pmls_engine *e, int table, pmls_table_spec *out);
int pmls_table_count(pmls_engine *e);
const char *pmls_table_name(pmls_engine *e, int table);

/* Metrics: workers report named values per clock; how they combine. */
int pmls_metric_declare(pmls_engine *e, const char *name, pmls_agg agg);
/* Starts a run's metrics: writes its header object to the metrics file
 * (version, command line, options_json -- one JSON object on one line, or
 * NULL -- and the deployment) and sets the clocks the run expects for the
 * progress lines (0: unknown). PMLS_EINVAL for a bad argument, PMLS_EIO
 * when the file cannot be written. */
int pmls_metrics_header(pmls_engine *e, const char *options_json,
                        int64_t clocks);

/* Clients: each thread that touches the store holds its own. worker is
 * 0..workers-1 for a worker (it takes part in the clocks) or -1 for a host
 * client that only reads and increments. A worker has one client at a
 * time. A worker that ran before (an earlier run on this engine) rejoins
 * where its last client left: the engine's clocks go on, and it holds the
 * other workers back again from its open on; open every worker's client of
 * a run before any of them clocks (pmls_run does, on every rank of a job,
 * before any worker of the job starts). */
int pmls_client_open(pmls_engine *e, int worker, pmls_client **out);
int pmls_client_close(pmls_client *c);
const char *pmls_client_errmsg(const pmls_client *c);
int pmls_client_worker(const pmls_client *c);
/* The clock() calls made through this client. */
int64_t pmls_client_clock(const pmls_client *c);
/* The clock of the copy the client's last successful read came from (every
 * update made before that clock is in it), counted like pmls_client_clock
 * from this client's first clock; -1 before any read. */
int64_t pmls_client_last_copy_clock(const pmls_client *c);

/* Row access. Reads see every earlier increment of this client. */
int pmls_get_dense(pmls_client *c, int table, int64_t row, void *out);
int pmls_get_sparse(pmls_client *c, int table, int64_t row, int32_t *keys,
                    void *vals, int64_t cap, int64_t *n_out);
int pmls_inc_dense(pmls_client *c, int table, int64_t row, const void *delta);
int pmls_inc_scaled(pmls_client *c, int table, int64_t row, const double *x,
                    double alpha);
int pmls_inc_pairs(pmls_client *c, int table, int64_t row, int64_t n,
                   const int32_t *cols, const void *deltas);
int pmls_inc_one(pmls_client *c, int table, int64_t row, int32_t col,
                 double delta);
/* Gives a dense row its first value: the row takes `values` (cols elements)
 * if no read, increment or init has reached it yet, and stays as it is
 * otherwise. So every process of a job may init the same rows (each runs
 * the script's setup) without adding up or overwriting what workers have
 * added; the first init to arrive counts. A client's own earlier increments
 * reach the row first. Applied once the client is closed, at the latest. */
int pmls_init_dense(pmls_client *c, int table, int64_t row, const void *values);

/* The hot path over many rows of a dense table (the rows given as n ids).
 *  - get_many: copies the rows into out (n * cols elements, row after row),
 *    each as get_dense would, in one request per shard for those the
 *    process cache cannot serve.
 *  - view_many / view_dense: fills views[i] with a read-only pointer to row
 *    rows[i] as this worker sees it minus its pending increment: every
 *    increment it sent is in it, those since its last clock() are not. The
 *    pointer is the process cache's own copy when it holds every sent
 *    increment (no copy made), or else a copy with them added. It obeys the
 *    read bound like get_dense and stays valid and unchanged until the
 *    client's next pmls_clock (or pmls_release_views; for a host client,
 *    which has no clocks, only the latter).
 *  - delta_many / delta_dense: fills deltas[i] with a writable pointer to
 *    this client's pending increment of the row (zeros if it has none), so
 *    an update is written in place: what is added there is sent at the next
 *    clock(), like inc_dense. So view[f] + delta[f] is the row as get_dense
 *    would read it. The pointers stay valid until the next pmls_clock or
 *    pmls_init_dense (the oplog is not flushed early while they are out).
 * The row value types are the table's dtype; errors as for get_dense. */
int pmls_get_many(pmls_client *c, int table, int64_t n, const int64_t *rows,
                  void *out);
/* get_many for a sparse table: rows[0..n) each as get_sparse reads it, in
 * one request per shard (sparse rows are not cached: every one is asked
 * for). Row i's (key, value) pairs go to keys / vals[offsets[i] ..
 * offsets[i + 1]), offsets[0] = 0 (n + 1 entries); cap is the room of keys
 * and vals, in pairs. When the rows hold more than cap pairs it returns
 * PMLS_EINVAL with offsets filled and nothing else written, so a caller
 * can size its arrays from offsets[n] and ask again. */
int pmls_get_sparse_many(pmls_client *c, int table, int64_t n,
                         const int64_t *rows, int64_t *offsets, int32_t *keys,
                         void *vals, int64_t cap);
int pmls_view_many(pmls_client *c, int table, int64_t n, const int64_t *rows,
                   const void **views);
int pmls_view_dense(pmls_client *c, int table, int64_t row, const void **view);
int pmls_delta_many(pmls_client *c, int table, int64_t n, const int64_t *rows,
                    void **deltas);
int pmls_delta_dense(pmls_client *c, int table, int64_t row, void **delta);
void pmls_release_views(pmls_client *c);
/* A named value: a worker's, sent with its next pmls_clock; a host
 * client's (worker -1), a final one. A NaN or infinite value returns
 * PMLS_EVALUE ("metric 'NAME' is NaN at clock K") and fails the run: it
 * still travels, so the run's final metrics fail even if the caller goes
 * on. */
int pmls_report(pmls_client *c, const char *name, double value);
int pmls_clock(pmls_client *c);
/* clock(), then wait until every worker of the job has reached this clock:
 * after it returns, reads at staleness 0 see every update made before. */
int pmls_barrier(pmls_client *c);
int pmls_abort(pmls_client *c, const char *why);

/* Ending a run from outside its nodes, from any thread of the host (never
 * from a signal handler: call these from a thread that waits for signals).
 * pmls_engine_abort ends the run on every rank of the job with code (> 0)
 * as its cause and why as the message, as a failing node would: the
 * launcher uses it when it sees a rank die. pmls_stop does the same for a
 * stop by signal signo, cause PMLS_ESTOPPED; every rank learns the signal,
 * and pmls_stopped returns it (0 if none) with the rank it was sent to
 * (from_rank may be NULL), so each can exit with 128 + signo. */
int pmls_engine_abort(pmls_engine *e, int code, const char *why);
/* On rank 0: the process of rank ended abnormally (its launcher saw it).
 * The job stops waiting on it and the run ends with PMLS_EDEAD and why. */
int pmls_peer_died(pmls_engine *e, int rank, const char *why);
int pmls_stop(pmls_engine *e, int signo);
int pmls_stopped(const pmls_engine *e, int *from_rank);
/* Why the engine's run was aborted, as a code (PMLS_EDEAD for a dead peer,
 * the failing node's code, ...), or PMLS_OK if it was not. */
int pmls_abort_cause(const pmls_engine *e);

/* A run of this process's part of a job, with the work given as C
 * functions (pmls_run). Every function returns PMLS_OK or an error code
 * and may write why into err (errlen bytes). NULL functions are skipped.
 *  - setup: on the calling thread of every rank, before any worker starts
 *    (declare tables and metrics, fill tables through a host client).
 *    Returning PMLS_SKIP ends the run at once, successfully, with nothing
 *    run (a --help, say).
 *  - worker: on one thread per local worker, with that worker's client.
 *  - scheduler: for a declared model, on one thread per scheduler node this
 *    process hosts, with the node's handle (see pmls_sched_open).
 *  - finish: on rank 0 only, once every rank's workers are done, with a host
 *    client that can read every row.
 * No worker of the job starts before every rank's setup succeeded (a setup
 * that fails stops the run on every rank, and the job lives on). The first
 * failure of a worker ends the run on every node of the job; the run returns
 * its root cause (never the PMLS_EABORTED echoes it caused), with the
 * message in pmls_errmsg. On rank 0 the final metrics are written last. */
enum { PMLS_SKIP = -1 };
typedef struct pmls_sched pmls_sched;
typedef struct pmls_run_fns {
  int (*setup)(pmls_engine *e, void *ud, char *err, size_t errlen);
  int (*worker)(pmls_client *c, void *ud, char *err, size_t errlen);
  int (*scheduler)(pmls_sched *s, pmls_client *c, void *ud, char *err,
                   size_t errlen);
  int (*finish)(pmls_client *c, void *ud, char *err, size_t errlen);
} pmls_run_fns;
int pmls_run(pmls_engine *e, const pmls_run_fns *fns, void *ud);

/* Runs a model script through pmls_run: its setup and finish on the calling
 * thread, its worker function on `workers` threads, each with its own
 * lua_State. argv holds the script's own options. Returns PMLS_EUSAGE for a
 * bad option, PMLS_EIO when the script raised a data reader's error as it
 * was ("path:LINE: what", no traceback unless cfg.trace), PMLS_ESCRIPT when
 * the script raised an error of its own (pmls_errmsg has
 * it), or the code of the failure that ended the run.
 * An engine may run scripts one after the other: a table the script
 * declares that exists already with the same spec (the host's, or an
 * earlier run's) is attached to, so a host can fill a table that a script
 * then trains; clocks go on, each run writes a final metrics object of its
 * own. In a job of several processes every rank makes the same runs in the
 * same order (rank 0 begins each before the others set up). A scheduled
 * model is one run per engine, and no run follows an aborted one. */
int pmls_run_script(pmls_engine *e, const char *path, int argc,
                    const char *const *argv);


/* ---- scheduled model parallelism (STRADS; docs/scheduling.md) -----------
 *
 * A model of `vars` variables, each `width` doubles, is updated in rounds:
 * a scheduler node picks variables (schedule), every worker computes a
 * partial update for them from its data (push), the scheduler combines the
 * partials and commits new values (pull), and the commits reach every
 * worker's copy of the model before its next push (at most `pipeline`
 * rounds late). Scheduler node k owns the variables of range k of the
 * schedulable range and runs rounds k, k + K, k + 2K, ... for K nodes. */
typedef struct pmls_model_spec {
  int64_t vars;       /* model variables 0..vars-1 */
  int32_t width;      /* doubles per variable, in the model and a partial */
  int32_t extra;      /* doubles every partial adds, summed over workers */
  int64_t per_round;  /* most variables in one round */
  int pipeline;       /* rounds a push may miss the commits of (0 = none) */
  int64_t sched_lo, sched_hi; /* the variables schedulers pick from;
                                 both 0 = all */
  int agnostic;       /* a worker done with its share early keeps pushing
                         until every worker is done (block scheduling) */
} pmls_model_spec;

/* Declares the model (in setup, before the workers start). */
int pmls_model_declare(pmls_engine *e, const pmls_model_spec *spec);
int pmls_model_spec_of(pmls_engine *e, pmls_model_spec *out);
/* After a run: the final model (vars * width values) as the workers of
 * this process last saw it, or NULL. */
const double *pmls_model_values(pmls_engine *e);
int pmls_engine_schedulers(const pmls_engine *e);

/* The scheduler node's side (pmls_sched is declared with pmls_run). */
typedef struct pmls_collected {
  int64_t round;
  int64_t n;
  const int64_t *vars;
  const double *sum;  /* n * width values, then extra: the workers' sum */
} pmls_collected;

/* Opens node `node` of this process and waits for every worker's hello. */
int pmls_sched_open(pmls_engine *e, int node, pmls_sched **out);
int pmls_sched_close(pmls_sched *s);
const char *pmls_sched_errmsg(const pmls_sched *s);
int pmls_sched_node(const pmls_sched *s);
void pmls_sched_range(const pmls_sched *s, int64_t *lo, int64_t *hi);
/* The model (vars * width); its range is this node's to change. Values set
 * before the first dispatch are the workers' initial model. */
double *pmls_sched_model(pmls_sched *s);
/* Sends a round of n variables to the workers: with nseg = 0 every worker
 * gets them all; otherwise segment g gives worker seg_worker[g] the
 * variables vars[seg_lo[g] .. seg_hi[g]-1] and the block (seg_row[g],
 * seg_col[g]); one worker's segments must not overlap (PMLS_EINVAL). */
int pmls_sched_dispatch(pmls_sched *s, const int64_t *vars, int64_t n,
                        int nseg, const int32_t *seg_worker,
                        const int64_t *seg_lo, const int64_t *seg_hi,
                        const int32_t *seg_row, const int32_t *seg_col,
                        int64_t *round_out);
int pmls_sched_outstanding(const pmls_sched *s); /* dispatched, uncommitted */
/* Waits for every worker's partial of the oldest outstanding round. */
int pmls_sched_collect(pmls_sched *s, pmls_collected *out);
/* Worker w's own partial of the collected round (zeros outside its share),
 * valid until the commit; NULL when out of memory or w is bad. */
const double *pmls_sched_partial(pmls_sched *s, int worker);
/* Commits the collected round: values holds the new n * width values. The
 * changes (new - old) are then in pmls_sched_deltas until the next commit. */
int pmls_sched_commit(pmls_sched *s, const double *values);
const double *pmls_sched_deltas(const pmls_sched *s);
/* Adds delta (width values) to any variable, sent with the next commit. */
int pmls_sched_add(pmls_sched *s, int64_t var, const double *delta);
/* Sends the commits made since the last round now, not with the next round:
 * for a node that dispatches no more rounds while others still run. */
int pmls_sched_flush(pmls_sched *s);
/* A named figure for the final metrics (the scheduler's own counters). */
int pmls_sched_note(pmls_sched *s, const char *name, double value);
/* Sends n values (0..PMLS_BROADCAST_MAX) to every worker with this node's
 * next ROUND (or flush, or stop), to be read there with
 * pmls_rounds_received: a few figures, not a model. A second broadcast
 * before that ROUND replaces the first. */
enum { PMLS_BROADCAST_MAX = 1024 };
int pmls_sched_broadcast(pmls_sched *s, const double *values, int64_t n);
/* No more rounds from this node: sends the last commits and the end. */
int pmls_sched_stop(pmls_sched *s);
/* A node that goes on from a checkpoint: before its first dispatch, its
 * next round is `round` (one of this node's: round % nodes == node), every
 * earlier one counts as committed, and what its model holds is not sent as
 * an initial model (the workers resume with their own copies,
 * pmls_rounds_resume). PMLS_ESTATE once a round went out. */
int pmls_sched_resume(pmls_sched *s, int64_t round);

/* The worker's side: a handle of its own, opened on the worker's client. */
typedef struct pmls_rounds pmls_rounds;
typedef struct pmls_round {
  int64_t round;        /* -1: every scheduler has stopped */
  int64_t n;
  const int64_t *vars;
  int nseg;             /* this worker's share of vars */
  const int64_t *seg_lo, *seg_hi;
  const int32_t *seg_row, *seg_col;
  int64_t nchanged;     /* commits applied since the last round */
  const int64_t *changed;
  const double *deltas; /* nchanged * width */
  int64_t staleness;    /* earlier rounds whose commits this push misses */
  int agnostic;
} pmls_round;

/* Joins the scheduler nodes as the client's worker (once per worker and
 * model; errors in pmls_client_errmsg). The handle needs the client only
 * to open: either may be closed first. Close it when the worker is done:
 * the first worker handle of a process to close leaves its model copy to
 * pmls_model_values. */
int pmls_rounds_open(pmls_client *c, pmls_rounds **out);
int pmls_rounds_close(pmls_rounds *r);
const char *pmls_rounds_errmsg(const pmls_rounds *r);
/* Waits for the next round, first applying the commits that came. */
int pmls_round_next(pmls_rounds *r, pmls_round *out);
/* keep = 0: round_next applies the commits to the model copy without
 * listing them (nchanged stays 0), for a worker with no use for them --
 * the list is as large as the part of the model a round changes. */
int pmls_rounds_keep_changes(pmls_rounds *r, int keep);
const double *pmls_round_model(const pmls_rounds *r); /* this worker's copy */
double *pmls_round_partial(pmls_rounds *r);  /* n * width + extra, zeroed */
/* Agnostic rounds: ready says this worker finished its first pass; over
 * is 1 once the scheduler has ended the round (every worker was ready),
 * and yields the thread now and then while it is 0 (workers that poll in
 * a loop must not starve the node's thread); wait_over blocks until then. */
int pmls_round_ready(pmls_rounds *r);
int pmls_round_over(pmls_rounds *r);
int pmls_round_wait_over(pmls_rounds *r);
int pmls_round_send(pmls_rounds *r, int passes);
/* What scheduler node `node` broadcast last, as of the last round_next
 * (*n values), or NULL before its first broadcast or for a bad node. */
const double *pmls_rounds_received(pmls_rounds *r, int node, int64_t *n);
/* A worker that goes on from a checkpoint: before its first round_next,
 * its next round is `round`, the commits of every earlier one are in, and
 * its model copy is `model` (vars * width values). PMLS_ESTATE after the
 * first round_next. */
int pmls_rounds_resume(pmls_rounds *r, int64_t round, const double *model);
/* How many scheduler nodes have sent their last round (STOP) so far. */
int pmls_rounds_stopped(const pmls_rounds *r);

/* ---- For model scripts ----
 * What a script reaches through the FFI besides the API above: they take
 * the caller's memory, never allocate and never call back. */

/* Seconds on the monotonic clock (the engine's own timer). */
double pmls_now(void);
/* Seconds of CPU time the calling thread has used. */
double pmls_thread_time(void);
/* Sleeps the calling thread for `seconds` (nothing for seconds <= 0), the
 * whole time even when signals interrupt it. */
void pmls_sleep(double seconds);

/* y[i] += a * x[i] for i < n (x and y do not overlap). */
void pmls_axpy(int64_t n, double a, const double *x, double *y);

/* ---- Vector kernels ----
 * In double (_f64) and float (_f32), with the SIMD of the CPU the program
 * runs on (AVX-512 or AVX2, chosen at first use) or plain C. Every version
 * returns the same bits: a dot product adds its terms into 32 (f64) or 64
 * (f32) partial sums, term i into sum i mod that, folded pairwise (sum j +=
 * sum j + half, halving); each multiply and add rounds once (no FMA). So a
 * dot differs from a sequential loop's by rounding only, within about
 * (n / lanes + 6) * epsilon * sum |x[i] y[i]|. The f32 kernels compute in
 * float (dot returns its float sum as a double). Arrays of one call do not
 * overlap; none needs any alignment; n = 0 is allowed. */
double pmls_dot_f64(int64_t n, const double *x, const double *y);
double pmls_dot_f32(int64_t n, const float *x, const float *y);
/* y[i] += a * x[i]; pmls_axpy is pmls_axpy_f64. */
void pmls_axpy_f64(int64_t n, double a, const double *x, double *y);
void pmls_axpy_f32(int64_t n, float a, const float *x, float *y);
/* x[i] *= a. */
void pmls_scale_f64(int64_t n, double a, double *x);
void pmls_scale_f32(int64_t n, float a, float *x);
/* One SGD step of matrix factorisation with biases on a user row u and an
 * item row v of k + 1 elements (k factors, then the bias). A row's value is
 * view + scale * delta (view NULL: scale * delta), so a worker steps a row
 * it reads as a snapshot (view) and writes as a pending increment (delta);
 * a plain row is its own delta with scale 1 and no view. With the values
 * before the step,
 *   e = rating - (mu + u[k] + v[k] + dot(u, v over the k factors))
 *   udelta[f] += (lr_u / uscale) * (e v[f] - lambda u[f])   for f < k
 *   udelta[k] += (lr_u / uscale) * (e - lambda u[k])
 * and the same for idelta with lr_i / iscale, u and v swapped: the row's
 * value moves by lr_u (e v - lambda u). Returns e. In f32 the row
 * arithmetic is in float (e, the scales, lr / scale and lambda rounded to
 * float), pred and e in double. The four rows do not overlap; scales are
 * finite and non-zero. */
double pmls_sgd_mf_f64(int32_t k, const double *uview, double *udelta,
                       double uscale, const double *iview, double *idelta,
                       double iscale, double rating, double mu, double lr_u,
                       double lr_i, double lambda);
double pmls_sgd_mf_f32(int32_t k, const float *uview, float *udelta,
                       double uscale, const float *iview, float *idelta,
                       double iscale, double rating, double mu, double lr_u,
                       double lr_i, double lambda);
/* n of those steps in turn, each seeing the ones before: step m takes the
 * rating r = order[m] (order NULL: r = m), the user rows of slot uslot[r]
 * (uviews[slot], udeltas[slot]) and the item rows of slot islot[r], and
 * rating[r]. uviews or iviews NULL: no views at all; a NULL entry: that row
 * has none. The scales are per table. Returns the sum of the steps' e^2
 * (in order); the result and the rows are those of n pmls_sgd_mf calls. */
double pmls_sgd_mf_batch_f64(int32_t k, int64_t n, const int32_t *order,
                             const int32_t *uslot, const int32_t *islot,
                             const double *rating, const double *const *uviews,
                             double *const *udeltas, double uscale,
                             const double *const *iviews,
                             double *const *ideltas, double iscale, double mu,
                             double lr_u, double lr_i, double lambda);
double pmls_sgd_mf_batch_f32(int32_t k, int64_t n, const int32_t *order,
                             const int32_t *uslot, const int32_t *islot,
                             const double *rating, const float *const *uviews,
                             float *const *udeltas, double uscale,
                             const float *const *iviews, float *const *ideltas,
                             double iscale, double mu, double lr_u, double lr_i,
                             double lambda);
/* Which versions run: "avx512", "avx2" or "scalar". The choice is made at
 * the first kernel call: the best the CPU has, or scalar when the
 * environment has PMLS_SCALAR set (and not "0"). force_scalar(1) selects
 * the plain C versions from then on, force_scalar(0) the CPU's best
 * (whatever PMLS_SCALAR says); the results are the same bits either way.
 * Safe from any thread; a call in flight finishes with the old choice. */
const char *pmls_kernels_isa(void);
void pmls_kernels_force_scalar(int on);
/* Kernels that serve one model (the Lasso's Gram matrix) are declared in
 * pmlsaux.h. */

/* ---- Data files ----
 * Text files are read plain or gzip-compressed (inflated in process: no
 * child, so reading is safe once the transport runs). pmls_text_line
 * sets *line to the next line (without its newline; valid until the next
 * call) or to NULL at the end; on failure it returns an error code with
 * "path:LINE: what" in pmls_text_errmsg: a truncated or corrupt archive is
 * an error, never a short file. */
typedef struct pmls_text pmls_text;
int pmls_text_open(const char *path, pmls_text **out, char *err,
                   size_t errlen);
int pmls_text_line(pmls_text *t, const char **line, size_t *len);
const char *pmls_text_errmsg(const pmls_text *t);
int64_t pmls_text_lineno(const pmls_text *t); /* lines returned so far */
void pmls_text_close(pmls_text *t);

/* A corpus of documents as bags of words: UCI bag-of-words (docword.*.txt:
 * the lines D, W and NNZ, then `docID wordID count` per line, ids from 1,
 * grouped by document in increasing order, the words of a document in any
 * order) or LDA-C (`N w:c w:c ...` per document, word ids from 0, N the
 * number of pairs). Plain or gzip-compressed; blank lines are skipped. A
 * vocabulary file (vocab.*.txt: line k is the word of id k - 1) is
 * optional: with docword it must hold W words, with LDA-C it sets W and
 * every word id must be below it. */
typedef struct pmls_corpus {
  int64_t docs;           /* D */
  int64_t words;          /* W: docword's header, the vocabulary's size, or
                             (LDA-C without one) the largest word id + 1 */
  int64_t nnz;            /* entries: distinct (document, word) pairs */
  int64_t tokens;         /* the sum of the counts */
  const int64_t *docptr;  /* docs + 1 offsets into word and count */
  const int32_t *word;    /* 0-based, increasing within a document */
  const int32_t *count;   /* >= 1 */
  const int64_t *line;    /* docs: the file line of each document (docword:
                             its first entry's; 0 for an empty one) */
  const int64_t *vocab_offset; /* NULL without a vocabulary, else words + 1
                                  offsets: word w is the NUL-terminated
                                  string at vocab_text + vocab_offset[w] */
  const char *vocab_text;
} pmls_corpus;

/* Reads a corpus (vocab may be NULL) the caller frees with
 * pmls_corpus_free. On failure returns PMLS_EIO (cannot open, read or
 * decompress), PMLS_EINVAL (a malformed line, or a vocabulary that does not
 * fit) or PMLS_ENOMEM, with "path:LINE: what" in err. */
int pmls_corpus_read_docword(const char *path, const char *vocab,
                             pmls_corpus **out, char *err, size_t errlen);
int pmls_corpus_read_ldac(const char *path, const char *vocab,
                          pmls_corpus **out, char *err, size_t errlen);
void pmls_corpus_free(pmls_corpus *c);
/* The same, kept by the engine until it is destroyed: the documents and
 * the vocabulary are kept apart, each parsed once per file (as for libsvm)
 * and shared read-only by the process's threads, and *out (the caller's
 * struct) is filled with the engine's arrays. Never pass it to
 * pmls_corpus_free. */
int pmls_engine_read_docword(pmls_engine *e, const char *path,
                             const char *vocab, pmls_corpus *out, char *err,
                             size_t errlen);
int pmls_engine_read_ldac(pmls_engine *e, const char *path, const char *vocab,
                          pmls_corpus *out, char *err, size_t errlen);

/* A libsvm / svmlight file (`label index:value ...`, indices from 1) as a
 * CSR matrix with one label per row. Plain or gzip-compressed; '#' starts a
 * comment, `qid:` tokens are skipped, a row's indices are sorted. */
typedef struct pmls_csr {
  int64_t n;              /* rows */
  int64_t d;              /* columns: the largest index in the file */
  int64_t nnz;            /* entries */
  const double *y;        /* n labels */
  const int64_t *rowptr;  /* n + 1 offsets into col and val */
  const int32_t *col;     /* 0-based, increasing within a row */
  const double *val;
  const int64_t *line;    /* each row's file line (NULL: Matrix Market) */
} pmls_csr;

/* Reads a file into a matrix the caller frees with pmls_csr_free. On
 * failure returns PMLS_EIO (cannot open, read or decompress), PMLS_EINVAL
 * (a malformed line) or PMLS_ENOMEM, with "path:LINE: what" in err. Every
 * reader below refuses (PMLS_EINVAL) an empty data set, a number that is
 * not a decimal (0x10, inf, nan), an id or dimension past 268435454 and a
 * header promising more than its file can hold (docs/writing-models.md). */
int pmls_csr_read_libsvm(const char *path, pmls_csr **out, char *err,
                         size_t errlen);
void pmls_csr_free(pmls_csr *m);
/* The same, kept by the engine until it is destroyed: every thread of the
 * process that asks for the same file (same device, inode, size and
 * modification time) gets the same read-only matrix, parsed once. */
int pmls_engine_read_libsvm(pmls_engine *e, const char *path,
                            const pmls_csr **out, char *err, size_t errlen);

/* A rating file (MovieLens style: `user item rating [timestamp]` a line,
 * separated by whitespace, or by commas when the first line has one) as
 * three coordinate arrays in file order. Ids are kept as written (0 is an
 * id); '#' starts a comment; a first line of 3 or 4 words that all start
 * with a letter is a header (`userId,movieId,rating,timestamp`). */
typedef struct pmls_triplets {
  int64_t n;              /* ratings */
  int64_t max_user;       /* the largest id in the file */
  int64_t max_item;
  const int32_t *user;    /* n >= 1 ids in [0, 268435453] */
  const int32_t *item;
  const double *rating;   /* finite */
} pmls_triplets;

/* Reads and frees as the libsvm calls do (errors "path:LINE: what"). */
int pmls_triplets_read(const char *path, pmls_triplets **out, char *err,
                       size_t errlen);
void pmls_triplets_free(pmls_triplets *t);
int pmls_engine_read_triplets(pmls_engine *e, const char *path,
                              const pmls_triplets **out, char *err,
                              size_t errlen);

/* A Matrix Market `matrix` file, coordinate or array, real / integer /
 * pattern (every value 1), general, symmetric or skew-symmetric (expanded
 * to the whole matrix), as a pmls_csr: y all zeros, line NULL, d the
 * declared columns. Lines starting with '%' and blank lines are skipped
 * after the header; entries may come in any order (a repeated one is an
 * error). limits may be NULL; its checks come where the size line is read,
 * before the entries, with the messages of the Lua reader's options. */
typedef struct pmls_mm_limits {
  int64_t max_cols;       /* refuse more columns than this (< 0: any) */
  int64_t label_rows;     /* a label file: must be label_rows x 1 (< 0: any) */
  const char *labels_for; /* the data file of those rows, for messages */
} pmls_mm_limits;
int pmls_csr_read_mm(const char *path, const pmls_mm_limits *limits,
                     pmls_csr **out, char *err, size_t errlen);
/* The matrix is freed with pmls_csr_free, as a libsvm one. */
/* The whole file kept by the engine (no limits), as for libsvm. */
int pmls_engine_read_mm(pmls_engine *e, const char *path,
                        const pmls_csr **out, char *err, size_t errlen);

/* ---- Arrays as files: NumPy .npy and .npz ----
 * What a model learned is written as NumPy arrays, which Python
 * (numpy.load), R (RcppCNPy, reticulate) and Julia (NPZ.jl) read
 * (docs/saved-models.md). An array is C-ordered (row-major), little-endian,
 * of one of the four element types, with 0 to 8 dimensions. .npy holds one
 * array (format 1.0, or 2.0 when the header needs it); .npz is a zip of
 * NAME.npy members, stored or deflated (zlib), without zip64. Readers check
 * everything a file claims before it sizes anything: the magic, a header of
 * at most 65535 bytes, the dtype (<f8 <f4 <i4 <i8; big-endian and Fortran
 * order are refused, with what to do), the shape (no overflow of its
 * product), the data's length against the file, the zip's directory, sizes
 * and CRC. Failures return PMLS_EIO (cannot open, read or write),
 * PMLS_EINVAL (a malformed or unsupported file, or a bad argument) or
 * PMLS_ENOMEM, with "path: what" (for a member "path:NAME.npy: what") in
 * err. Writes go to PATH.tmp, are synced, and are renamed over PATH, so a
 * reader never sees half a file. */
enum { PMLS_ARRAY_MAXDIM = 8 };
typedef struct pmls_array {
  pmls_dtype dtype;
  int32_t ndim;                       /* 0 (a scalar) .. PMLS_ARRAY_MAXDIM */
  int64_t shape[8];                   /* shape[0 .. ndim - 1] >= 0 */
  void *data;                         /* the elements, C order */
} pmls_array;

/* Elements in the array: the product of its shape (1 for a scalar), or -1
 * for a bad ndim or shape (negative, or a product past 2^62 bytes). */
int64_t pmls_array_count(const pmls_array *a);
/* Frees data a reader or pmls_table_dump allocated, and zeroes *a. */
void pmls_array_free(pmls_array *a);
int pmls_npy_write(const char *path, const pmls_array *a, char *err,
                   size_t errlen);
/* *out gets freshly allocated data (pmls_array_free). */
int pmls_npy_read(const char *path, pmls_array *out, char *err,
                  size_t errlen);
/* The same from len bytes in memory; `what` names them in messages. */
int pmls_npy_parse(const void *bytes, size_t len, const char *what,
                   pmls_array *out, char *err, size_t errlen);

/* n arrays as NAME.npy members, in this order; names are 1 to 200 letters,
 * digits, '_', '-' or '.', all different. deflate != 0 compresses them. */
int pmls_npz_write(const char *path, int n, const char *const *names,
                   const pmls_array *arrays, int deflate, char *err,
                   size_t errlen);
typedef struct pmls_npz pmls_npz;
/* Reads every member (at most 4096, each a .npy) into memory. */
int pmls_npz_read(const char *path, pmls_npz **out, char *err,
                  size_t errlen);
int pmls_npz_count(const pmls_npz *z);
const char *pmls_npz_name(const pmls_npz *z, int i); /* without ".npy" */
const pmls_array *pmls_npz_array(const pmls_npz *z, int i);
/* The member of that name (without ".npy"), or NULL. */
const pmls_array *pmls_npz_find(const pmls_npz *z, const char *name);
void pmls_npz_free(pmls_npz *z);

/* A dense table and an array. pmls_table_dump reads every row (one batched
 * read, as pmls_get_many) into a new rows x cols array of the table's
 * dtype. pmls_table_fill gives every row its first value (pmls_init_dense)
 * from an array of shape rows x cols (or rows, for one column) of any
 * dtype, converted to the table's; another shape is PMLS_EINVAL naming
 * both. Errors are in pmls_client_errmsg. */
int pmls_table_dump(pmls_client *c, int table, pmls_array *out);
int pmls_table_fill(pmls_client *c, int table, const pmls_array *a);

/* Durable files for checkpoints (no engine needed). pmls_fs_mkdir makes a
 * directory (mode 0700; one that exists is fine); pmls_fs_sync fsyncs a
 * file or a directory; pmls_fs_rename renames from to to and then fsyncs
 * the directory that holds to, so the new name survives a crash. Errors
 * are PMLS_EIO with "PATH: why" in err. */
int pmls_fs_mkdir(const char *path, char *err, size_t errlen);
int pmls_fs_sync(const char *path, char *err, size_t errlen);
int pmls_fs_rename(const char *from, const char *to, char *err, size_t errlen);

/* PMLS_CDEF_END */

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif
