/* engine.c -- creating and tearing down an engine, and the table registry.
 *
 * An engine is one PMLS process's share of a job: its server shards (threads
 * bound at their own addresses), the clients its threads open, the metrics
 * sink. Tables are declared through the engine's own control client: the
 * declaration travels to every shard as a TABLE message and is acknowledged,
 * the same path a multi-process job uses, so there is no second code path
 * for "local" tables. */
#include <limits.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../client/cache.h"
#include "../client/client.h"
#include "../client/feed.h"
#include "../data/data.h"
#include "../job/job.h"
#include "../metrics/metrics.h"
#include "../proc/proc.h"
#include "../sched/model.h"
#include "../server/server.h"

#define PMLS_VERSION_STRING "0.1.0"

const char *pmls_version(void) { return PMLS_VERSION_STRING; }

const char *pmls_strerror(int code) {
  switch (code) {
  case PMLS_OK: return "ok";
  case PMLS_EINVAL: return "invalid argument";
  case PMLS_ENOMEM: return "out of memory";
  case PMLS_ENET: return "network error";
  case PMLS_ETIMEDOUT: return "timed out";
  case PMLS_EUSAGE: return "usage error";
  case PMLS_ESCRIPT: return "script error";
  case PMLS_ESTATE: return "not allowed in this state";
  case PMLS_EIO: return "i/o error";
  case PMLS_EPROTO: return "protocol error";
  case PMLS_ERANGE: return "index out of range";
  case PMLS_EABORTED: return "run aborted by another node";
  case PMLS_EDEAD: return "a peer process died";
  case PMLS_ESTOPPED: return "stopped by a signal";
  case PMLS_EVALUE: return "a metric is NaN or infinite";
  }
  return "unknown error";
}

void pmls_config_init(pmls_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->seed = 1;
  cfg->checkpoint_every = 10;
  cfg->timeout_ms = 60000;
}

void pmls_table_spec_init(pmls_table_spec *spec) {
  memset(spec, 0, sizeof *spec);
  spec->rows = 1;
  spec->cols = 1;
  spec->dtype = PMLS_F64;
  spec->layout = PMLS_DENSE;
  spec->staleness = -1;
  spec->consistency = -1;
  spec->init_scale = 1.0;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static void engine_free(pmls_engine *e) {
  pmi_metrics_free(e->metrics);
  pmi_cache_free(e->cache);
  free(e->metrics_path);
  free(e->checkpoint_dir);
  free(e->resume_dir);
  free(e->snapshot);
  free(e->lua_path);
  free(e->master);
  free(e->bind_host);
  free(e->srv);
  free(e->server_addr);
  free(e->hosts);
  if (e->sched_sock)
    for (int k = 0; k < e->schedulers; k++) pmi_sock_close(e->sched_sock[k]);
  free(e->sched_sock);
  pmi_proc_close_lingering(e);
  for (int i = 0; i < e->nclients; i++) pmi_sock_close(e->clients[i].sock);
  free(e->clients);
  pmi_model_free(e);
  free(e->worker_taken);
  pmi_datasets_free(e);
  pthread_mutex_destroy(&e->data_mu);
  pthread_mutex_destroy(&e->mu);
  free(e);
}

static void stop_servers(pmls_engine *e) {
  for (int s = 0; s < e->servers; s++) {
    if (!e->srv[s]) continue; /* hosted by another process */
    int sock = pmi_sock_push(e->server_addr[s], 1000, NULL);
    pmi_buf b = {0};
    pmi_msg_begin(&b, e->job, PMI_MSG_STOP, -1);
    if (sock < 0 || pmi_msg_send(sock, &b, NULL, "server", NULL) != PMLS_OK)
      pmi_server_ask_stop(e->srv[s]); /* no STOP can reach it */
    pmi_buf_free(&b);
    pmi_server_join(e->srv[s]); /* STOP was delivered once the thread ends */
    e->srv[s] = NULL;
    pmi_sock_close(sock);
  }
}

/* ---- what a process opens ------------------------------------------------- */

enum { NN_SOCKETS_MAX = 512, FDS_PER_SOCKET = 3, FDS_BESIDE = 64 };

/* The sockets of the busiest process (it hosts a shard, the master and the
 * scheduler), counted as the modules open them: a shard's reply socket to
 * every client of the job and its push to every process's feed; each
 * local client's push to every shard and its own pull (workers and one
 * host client); the job's pushes to every rank and every shard; the pulls
 * bound for the shards, the control address, the feed, the master and the
 * schedulers. A scheduler's pushes to its workers are left out: only
 * scheduled models open them, and a failure there is reported when it
 * happens. */
static long sockets_needed(long procs, long workers, long servers,
                           long schedulers) {
  long local_servers = (servers + procs - 1) / procs;
  long clients = workers + 1;
  return local_servers * (procs * clients + procs) + clients * (servers + 1) +
         procs + servers + local_servers + schedulers + 8;
}

int pmls_config_check(const pmls_config *cfg, int *sockets, int *fds,
                      char *err, size_t errlen) {
  long procs = cfg->procs > 0 ? cfg->procs : 1;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  long workers = cfg->workers > 0 ? cfg->workers : (cores > 0 ? cores : 1);
  int spread = cfg->servers > 0;
  long servers = spread ? cfg->servers : procs;
  long schedulers = cfg->schedulers > 0 ? cfg->schedulers : 1;
  long need = sockets_needed(procs, workers, servers, schedulers);
  long need_fds = FDS_PER_SOCKET * need + FDS_BESIDE;
  struct rlimit rl;
  long fd_limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                      ? (long)rl.rlim_cur : LONG_MAX;
  if (sockets) *sockets = (int)need;
  if (fds) *fds = (int)need_fds;
  int by_sockets = need > NN_SOCKETS_MAX;
  if (!by_sockets && need_fds <= fd_limit) return PMLS_OK;
  /* The largest job of this shape that fits. */
  long fit = procs - 1;
  while (fit > 1) {
    long n = sockets_needed(fit, workers, spread ? servers : fit, schedulers);
    if (n <= NN_SOCKETS_MAX && FDS_PER_SOCKET * n + FDS_BESIDE <= fd_limit) break;
    fit--;
  }
  char what[160];
  if (by_sockets)
    snprintf(what, sizeof what, "about %ld nanomsg sockets in a process, and "
             "nanomsg allows %d", need, NN_SOCKETS_MAX);
  else
    snprintf(what, sizeof what, "about %ld file descriptors in a process, and "
             "the limit (ulimit -n) is %ld", need_fds, fd_limit);
  if (err && errlen)
    snprintf(err, errlen, "%ld processes of %ld worker%s each need %s: use "
             "at most -p %ld with -w %ld, or fewer workers per process%s",
             procs, workers, workers == 1 ? "" : "s", what, fit, workers,
             by_sockets ? "" : ", or raise the limit");
  return PMLS_EINVAL;
}

int pmls_engine_create(pmls_engine **out, const pmls_config *cfg, char *err,
                       size_t errlen) {
  char why[PMI_ERRLEN] = "";
  int rc = PMLS_EINVAL;
  *out = NULL;
  pmls_config def;
  if (!cfg) {
    pmls_config_init(&def);
    cfg = &def;
  }
  if (cfg->workers < 0 || cfg->workers > 4096) {
    pmi_fail(why, rc, "bad workers %d (0..4096; 0 = one per core)", cfg->workers);
    goto out;
  }
  if (cfg->servers < 0 || cfg->servers > 1024) {
    pmi_fail(why, rc, "bad servers %d (0..1024)", cfg->servers);
    goto out;
  }
  if (cfg->staleness < 0) {
    pmi_fail(why, rc, "bad staleness %d (must be >= 0)", cfg->staleness);
    goto out;
  }
  if (cfg->consistency < PMLS_SSP || cfg->consistency > PMLS_ASYNC) {
    pmi_fail(why, rc, "bad consistency %d", cfg->consistency);
    goto out;
  }
  if (cfg->timeout_ms < 0) {
    pmi_fail(why, rc, "bad timeout %d ms", cfg->timeout_ms);
    goto out;
  }
  int procs = cfg->procs ? cfg->procs : 1;
  if (procs < 1 || procs > 4096 || cfg->rank < 0 || cfg->rank >= procs) {
    pmi_fail(why, rc, "bad rank %d of %d processes", cfg->rank, cfg->procs);
    goto out;
  }
  if (cfg->schedulers < 0 || cfg->schedulers > 1024) {
    pmi_fail(why, rc, "bad schedulers %d (0..1024)", cfg->schedulers);
    goto out;
  }
  if (cfg->heartbeat_ms < 0) {
    pmi_fail(why, rc, "bad heartbeat timeout %d ms", cfg->heartbeat_ms);
    goto out;
  }
  if (cfg->checkpoint_every < 0 || cfg->start_clock < 0 ||
      cfg->start_clock > ((int64_t)1 << 40) || (cfg->checkpoint_dir && !cfg->checkpoint_dir[0]) ||
      (cfg->resume_dir && !cfg->resume_dir[0])) {
    pmi_fail(why, rc, "bad checkpoint: a directory must be named, the "
             "interval be >= 0 clocks and the start clock 0..2^40");
    goto out;
  }
  if (pmls_config_check(cfg, NULL, NULL, why, sizeof why)) goto out;
  /* The snapshot a run resumes from, before the shards exist: their vector
   * clocks start at its clock. */
  pmls_snapshot *snap = NULL;
  if (cfg->resume_dir) {
    snap = calloc(1, sizeof *snap);
    rc = snap ? pmls_checkpoint_find(cfg->resume_dir, snap, why, sizeof why)
              : pmi_fail(why, PMLS_ENOMEM, "out of memory");
    if (rc) {
      free(snap);
      goto out;
    }
  }
  pmls_engine *e = calloc(1, sizeof *e);
  if (!e) {
    free(snap);
    rc = pmi_fail(why, PMLS_ENOMEM, "out of memory for an engine");
    goto out;
  }
  pthread_mutex_init(&e->mu, NULL);
  pthread_mutex_init(&e->data_mu, NULL);
  e->cfg = *cfg;
  e->procs = procs;
  e->rank = cfg->rank;
  /* Only rank 0 speaks: it completes the clocks and writes the metrics. */
  e->metrics_path = e->rank == 0 ? dup_or_null(cfg->metrics_path) : NULL;
  if (e->rank != 0) e->cfg.quiet = 2;
  e->lua_path = dup_or_null(cfg->lua_path);
  e->checkpoint_dir = dup_or_null(cfg->checkpoint_dir);
  e->resume_dir = dup_or_null(cfg->resume_dir);
  e->cfg.checkpoint_dir = e->checkpoint_dir;
  e->cfg.resume_dir = e->resume_dir;
  e->snapshot = snap;
  if (snap) e->cfg.start_clock = snap->engine_clock;
  e->master = dup_or_null(cfg->master);
  e->bind_host = dup_or_null(cfg->bind_host);
  e->cfg.metrics_path = e->metrics_path;
  e->cfg.lua_path = e->lua_path;
  e->cfg.master = e->master;
  e->cfg.bind_host = e->bind_host;
  if (e->cfg.timeout_ms == 0) e->cfg.timeout_ms = 60000;
  if (e->cfg.heartbeat_ms == 0) e->cfg.heartbeat_ms = 10000;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  e->local_workers = cfg->workers ? cfg->workers : (int)(cores > 0 ? cores : 1);
  e->workers = e->local_workers * procs;
  e->first_worker = e->local_workers * e->rank;
  e->servers = cfg->servers ? cfg->servers : procs;
  e->schedulers = cfg->schedulers ? cfg->schedulers : 1;
  e->cfg.schedulers = e->schedulers;
  e->cfg.workers = e->local_workers;
  e->cfg.servers = e->servers;
  e->cfg.procs = procs;
  e->t0 = pmi_now();
  /* The job id only has to differ between jobs that could reach each other;
   * time, pid and the engine's address make collisions negligible. In a job
   * of several processes, rank 0's id reaches the others in the DIR. */
  e->job = (uint32_t)pmi_mix64((uint64_t)(e->t0 * 1e9) ^
                               ((uint64_t)getpid() << 32) ^ (uintptr_t)e);
  snprintf(e->addr_prefix, sizeof e->addr_prefix, "inproc://pmls-%08x-%p",
           e->job, (void *)e);
  e->srv = calloc((size_t)e->servers, sizeof *e->srv);
  int naddr = pmi_addr_count(e);
  e->server_addr = calloc((size_t)naddr, sizeof *e->server_addr);
  e->sched_sock = malloc((size_t)e->schedulers * sizeof *e->sched_sock);
  e->worker_taken = calloc((size_t)e->local_workers, 1);
  int *socks = malloc((size_t)naddr * sizeof *socks);
  e->metrics = pmi_metrics_new(e->metrics_path, e, e->cfg.quiet, e->t0, why);
  if (e->metrics) pmi_metrics_start_at(e->metrics, e->cfg.start_clock);
  e->cache = pmi_cache_new(e->local_workers);
  if (!e->srv || !e->server_addr || !e->worker_taken || 
      !e->metrics ||
      !e->cache || !socks || !e->sched_sock) {
    rc = e->metrics ? pmi_fail(why, PMLS_ENOMEM, "out of memory") : PMLS_EIO;
    free(socks);
    engine_free(e);
    goto out;
  }
  for (int i = 0; i < naddr; i++) socks[i] = -1;
  for (int k = 0; k < e->schedulers; k++) e->sched_sock[k] = -1;
  if (e->cfg.master) {
    rc = pmi_job_start(e, socks, why);
  } else if (procs > 1) {
    rc = pmi_fail(why, PMLS_EINVAL, "a job of %d processes needs a master "
                  "address (ipc:// or tcp://)", procs);
  } else {
    rc = PMLS_OK;
    for (int i = 0; i < naddr && rc == PMLS_OK; i++) {
      char name[32];
      pmi_addr_name(e, i, name, sizeof name);
      socks[i] = pmi_proc_bind(e, name, 1000, e->server_addr[i], why);
      if (socks[i] < 0) rc = PMLS_ENET;
    }
  }
  for (int s = 0; s < e->servers && rc == PMLS_OK; s++) {
    if (socks[s] < 0) continue; /* another process hosts it */
    rc = pmi_server_start(e, s, socks[s], &e->srv[s], why);
    if (rc == PMLS_OK) socks[s] = -1; /* the shard owns it now */
  }
  for (int k = 0; k < e->schedulers; k++) { /* the nodes open them later */
    e->sched_sock[k] = socks[e->servers + k];
    socks[e->servers + k] = -1;
  }
  for (int i = 0; i < naddr; i++) pmi_sock_close(socks[i]);
  free(socks);
  if (rc == PMLS_OK) {
    e->feed = pmi_feed_start(e, e->feed_addr, why);
    if (!e->feed) rc = PMLS_ENET;
  }
  if (rc == PMLS_OK) {
    rc = pmls_client_open(e, -1, &e->ctl);
    if (rc) snprintf(why, sizeof why, "%s", e->err);
  }
  if (rc) {
    pmi_job_end(e);
    stop_servers(e);
    pmi_feed_stop(e->feed);
    engine_free(e);
    goto out;
  }
  *out = e;
  return PMLS_OK;
out:
  if (err && errlen) snprintf(err, errlen, "%s", why);
  return rc;
}

void pmls_engine_destroy(pmls_engine *e) {
  if (!e) return;
  pmls_client_close(e->ctl);
  pmi_job_end(e); /* waits for the other processes to be done with ours */
  stop_servers(e);
  pmi_feed_stop(e->feed);
  engine_free(e);
}

int pmls_engine_abort(pmls_engine *e, int code, const char *why) {
  if (!e || code <= 0) return PMLS_EINVAL;
  pmi_proc_abort(e, code, why && *why ? why : pmls_strerror(code));
  return PMLS_OK;
}

int pmls_peer_died(pmls_engine *e, int rank, const char *why) {
  if (!e || rank < 0 || rank >= e->procs) return PMLS_EINVAL;
  pmi_job_peer_died(e, rank, why && *why ? why : "a rank died");
  return PMLS_OK;
}

int pmls_stop(pmls_engine *e, int signo) {
  if (!e || signo <= 0 || signo >= NSIG) return PMLS_EINVAL;
  pthread_mutex_lock(&e->mu);
  int first = atomic_load(&e->stop_signal) == 0;
  if (first) {
    e->stop_rank = e->rank;
    atomic_store(&e->stop_signal, signo);
  }
  pthread_mutex_unlock(&e->mu);
  const char *abbrev = sigabbrev_np(signo);
  char why[96];
  snprintf(why, sizeof why, "stopped by SIG%s on rank %d", abbrev ? abbrev : "?",
           e->rank);
  pmi_proc_abort(e, PMLS_ESTOPPED, why);
  return PMLS_OK;
}

int pmls_stopped(const pmls_engine *e, int *from_rank) {
  pmls_engine *m = (pmls_engine *)e;
  pthread_mutex_lock(&m->mu);
  int signo = atomic_load(&m->stop_signal);
  if (from_rank) *from_rank = signo ? m->stop_rank : -1;
  pthread_mutex_unlock(&m->mu);
  return signo;
}

int pmls_abort_cause(const pmls_engine *e) {
  pmls_engine *m = (pmls_engine *)e;
  if (!atomic_load(&m->dead)) return PMLS_OK;
  pthread_mutex_lock(&m->mu);
  int code = m->dead_code;
  pthread_mutex_unlock(&m->mu);
  return code;
}

const char *pmls_errmsg(const pmls_engine *e) { return e->err; }
int pmls_engine_workers(const pmls_engine *e) { return e->workers; }
int pmls_engine_procs(const pmls_engine *e) { return e->procs; }
int pmls_engine_rank(const pmls_engine *e) { return e->rank; }
int pmls_engine_schedulers(const pmls_engine *e) { return e->schedulers; }

int pmls_engine_local_workers(const pmls_engine *e, int *first_worker) {
  if (first_worker) *first_worker = e->first_worker;
  return e->local_workers;
}
uint64_t pmls_engine_seed(const pmls_engine *e) { return e->cfg.seed; }
const char *pmls_engine_checkpoint(const pmls_engine *e, int64_t *every) {
  if (every) *every = e->cfg.checkpoint_dir ? e->cfg.checkpoint_every : 0;
  return e->cfg.checkpoint_dir;
}
const char *pmls_engine_resume(const pmls_engine *e) { return e->cfg.resume_dir; }
int64_t pmls_engine_start_clock(const pmls_engine *e) { return e->cfg.start_clock; }
const pmls_snapshot *pmls_engine_snapshot(const pmls_engine *e) { return e->snapshot; }

int pmls_engine_stats(pmls_engine *e, pmls_stats *out) {
  memset(out, 0, sizeof *out);
  pmi_traffic t = {0};
  for (int s = 0; s < e->servers; s++)
    if (e->srv[s]) pmi_server_traffic(e->srv[s], &t);
  pthread_mutex_lock(&e->mu);
  t.messages_sent += e->closed_traffic.messages_sent;
  t.bytes_sent += e->closed_traffic.bytes_sent;
  t.messages_received += e->closed_traffic.messages_received;
  t.bytes_received += e->closed_traffic.bytes_received;
  out->rows_read = e->closed_rows_read;
  out->rows_incremented = e->closed_rows_inc;
  pthread_mutex_unlock(&e->mu);
  out->messages_sent = t.messages_sent;
  out->bytes_sent = t.bytes_sent;
  out->messages_received = t.messages_received;
  out->bytes_received = t.bytes_received;
  out->messages_dropped = atomic_load(&e->dropped);
  out->clocks = pmi_metrics_clocks(e->metrics);
  return PMLS_OK;
}

/* ---- tables -------------------------------------------------------------- */

static int valid_name(const char *name) {
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n >= PMI_NAME_MAX) return 0;
  for (size_t i = 0; i < n; i++) {
    char ch = name[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.'))
      return 0;
  }
  return 1;
}

int pmls_table_create(pmls_engine *e, const char *name,
                      const pmls_table_spec *spec, int *id_out) {
  if (!valid_name(name))
    return pmi_fail(e->err, PMLS_EINVAL, "bad table name '%s' (1..%d letters, "
                    "digits, '_', '-' or '.')", name ? name : "",
                    PMI_NAME_MAX - 1);
  if (!spec) return pmi_fail(e->err, PMLS_EINVAL, "missing table spec");
  if (spec->rows < 1)
    return pmi_fail(e->err, PMLS_EINVAL, "bad rows %lld for table '%s' (must "
                    "be >= 1)", (long long)spec->rows, name);
  if (spec->cols < 1)
    return pmi_fail(e->err, PMLS_EINVAL, "bad cols %d for table '%s' (must be "
                    ">= 1)", spec->cols, name);
  if (!pmi_dtype_valid(spec->dtype))
    return pmi_fail(e->err, PMLS_EINVAL, "bad dtype %d for table '%s'",
                    (int)spec->dtype, name);
  if (spec->layout != PMLS_DENSE && spec->layout != PMLS_SPARSE)
    return pmi_fail(e->err, PMLS_EINVAL, "bad layout %d for table '%s'",
                    (int)spec->layout, name);
  if (spec->staleness < -1)
    return pmi_fail(e->err, PMLS_EINVAL, "bad staleness %d for table '%s'",
                    spec->staleness, name);
  if (spec->consistency < -1 || spec->consistency > PMLS_ASYNC)
    return pmi_fail(e->err, PMLS_EINVAL, "bad consistency %d for table '%s'",
                    spec->consistency, name);
  if (spec->init < 0 || spec->init > 2 || !(spec->init_scale >= 0))
    return pmi_fail(e->err, PMLS_EINVAL, "bad init for table '%s'", name);
  if (spec->init && spec->layout == PMLS_SPARSE)
    return pmi_fail(e->err, PMLS_EINVAL, "table '%s': random init needs a "
                    "dense table", name);
  pthread_mutex_lock(&e->mu);
  int n = pmi_engine_ntables(e);
  int rc = PMLS_OK;
  for (int i = 0; i < n; i++)
    if (strcmp(e->tables[i].name, name) == 0)
      rc = pmi_fail(e->err, PMLS_EINVAL, "table '%s' is already declared", name);
  if (rc == PMLS_OK && n == PMI_MAX_TABLES)
    rc = pmi_fail(e->err, PMLS_EINVAL, "too many tables (at most %d)",
                  PMI_MAX_TABLES);
  if (rc == PMLS_OK) {
    snprintf(e->tables[n].name, PMI_NAME_MAX, "%s", name);
    e->tables[n].spec = *spec;
    rc = pmi_client_declare_table(e->ctl, n, &e->tables[n]);
    if (rc) snprintf(e->err, sizeof e->err, "%s", pmls_client_errmsg(e->ctl));
    else atomic_store_explicit(&e->ntables, n + 1, memory_order_release);
  }
  pthread_mutex_unlock(&e->mu);
  if (rc == PMLS_OK && id_out) *id_out = n;
  return rc;
}

int pmls_table_find(pmls_engine *e, const char *name, int *id_out) {
  int n = pmi_engine_ntables(e);
  for (int i = 0; name && i < n; i++) {
    if (strcmp(e->tables[i].name, name) == 0) {
      *id_out = i;
      return PMLS_OK;
    }
  }
  *id_out = -1;
  return pmi_fail(e->err, PMLS_EINVAL, "no table named '%s'", name ? name : "");
}

int pmls_table_spec_of(pmls_engine *e, int table, pmls_table_spec *out) {
  if (table < 0 || table >= pmi_engine_ntables(e))
    return pmi_fail(e->err, PMLS_EINVAL, "bad table id %d (%d declared)", table,
                    pmi_engine_ntables(e));
  *out = e->tables[table].spec;
  return PMLS_OK;
}

int pmls_table_count(pmls_engine *e) { return pmi_engine_ntables(e); }

int pmls_table_stats_of(pmls_engine *e, int table, pmls_table_stats *out) {
  return pmi_proc_table_stats(e, table, out);
}

const char *pmls_table_name(pmls_engine *e, int table) {
  if (table < 0 || table >= pmi_engine_ntables(e)) return NULL;
  return e->tables[table].name;
}

int pmls_metric_declare(pmls_engine *e, const char *name, pmls_agg agg) {
  if (!valid_name(name))
    return pmi_fail(e->err, PMLS_EINVAL, "bad metric name '%s'", name ? name : "");
  if (agg < PMLS_AGG_MEAN || agg > PMLS_AGG_TOTAL)
    return pmi_fail(e->err, PMLS_EINVAL, "bad aggregation %d for metric '%s'",
                    (int)agg, name);
  if (pmi_metrics_declare(e->metrics, name, agg))
    return pmi_fail(e->err, PMLS_EINVAL, "too many metrics");
  return PMLS_OK;
}
