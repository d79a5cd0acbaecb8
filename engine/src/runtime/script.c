/* script.c -- runs a model script on the engine.
 *
 * A script is loaded once per lua_State: once on the calling thread, which
 * parses its options and runs its setup (declare tables and metrics) and,
 * after the workers, its finish; and once on each worker thread, each with
 * its own lua_State, where the worker function runs. Threads never share a
 * Lua state, so the JIT compiles each worker's loop independently, and the
 * only shared object is the engine, reached through the FFI. The Lua side of
 * this protocol lives in lua/pmls/runtime.lua; this file only creates the
 * states and threads and turns Lua errors into codes and messages.
 *
 * When a worker fails, it aborts the run on every shard before it stops, so
 * the other workers' blocked reads fail at once instead of waiting for a
 * clock that will never come; the error reported is the first failure, not
 * the "run aborted" echoes it causes. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "engine.h"
#include "lua_path.h"

/* ---- Lua states ---------------------------------------------------------- */

/* Keeps usage errors (tables with a `usage` field) as they are, so the
 * caller can tell them from script errors; adds a traceback to the rest. */
static int message_handler(lua_State *L) {
  if (lua_istable(L, 1)) {
    lua_getfield(L, 1, "usage");
    if (!lua_isnil(L, -1)) {
      lua_pop(L, 1);
      return 1;
    }
    lua_pop(L, 1);
  }
  const char *msg = lua_tostring(L, 1);
  if (!msg) msg = "(error object is not a string)";
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static lua_State *new_state(pmls_engine *e, char *err) {
  char path[3 * PATH_MAX + 128];
  if (pmi_lua_path(e->lua_path, path, sizeof path)) {
    pmi_fail(err, PMLS_EIO, "cannot find the pmls Lua package (looked in %s; "
             "set PMLS_LUA_PATH to its directory)", path);
    return NULL;
  }
  lua_State *L = luaL_newstate();
  if (!L) {
    pmi_fail(err, PMLS_ENOMEM, "cannot create a Lua state");
    return NULL;
  }
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s;%s", path, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);
  return L;
}

/* Calls runtime[fn] with the nargs values on the stack. On failure returns
 * PMLS_EUSAGE or PMLS_ESCRIPT with a malloc'd message in *msg. */
static int call_runtime(lua_State *L, const char *fn, int nargs, int nres,
                        char **msg) {
  lua_pushcfunction(L, message_handler);
  int h = lua_gettop(L) - nargs;
  lua_insert(L, h);
  lua_getglobal(L, "require");
  lua_pushstring(L, "pmls.runtime");
  int rc = lua_pcall(L, 1, 1, h);
  if (rc == 0) {
    lua_getfield(L, -1, fn);
    lua_remove(L, -2);
    lua_insert(L, h + 1);
    rc = lua_pcall(L, nargs, nres, h);
  } else {
    lua_insert(L, h + 1);
    lua_settop(L, h + 1);
  }
  if (rc == 0) {
    lua_remove(L, h);
    return PMLS_OK;
  }
  int code = PMLS_ESCRIPT;
  const char *text;
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "usage");
    text = lua_tostring(L, -1);
    code = PMLS_EUSAGE;
  } else {
    text = lua_tostring(L, -1);
  }
  *msg = strdup(text ? text : "unknown error");
  lua_settop(L, h - 1);
  return code;
}

/* ---- workers ------------------------------------------------------------- */

typedef struct {
  pmls_engine *e;
  pmls_client *c;
  int worker;
  int node;          /* a scheduler node's thread: its index; else -1 */
  const char *path;
  const char *blob;
  size_t bloblen;
  pthread_t thread;
  int rc;
  char *msg;
  double failed_at;
} worker_job;

static void worker_fail(worker_job *j, int rc, char *msg) {
  j->rc = rc;
  j->msg = msg;
  j->failed_at = pmi_now();
  char why[PMI_ERRLEN];
  const char *nl = strchr(msg, '\n');
  int len = nl ? (int)(nl - msg) : (int)strlen(msg);
  if (j->node >= 0)
    snprintf(why, sizeof why, "scheduler node %d failed: %.*s", j->node, len,
             msg);
  else
    snprintf(why, sizeof why, "worker %d failed: %.*s", j->worker, len, msg);
  pmls_abort(j->c, why);
  /* Rounds wait on the scheduler nodes and workers directly, not on the
   * shards that the abort wakes: they learn of it from the engine. */
  if (j->e->model.declared) pmi_engine_abort(j->e, why);
}

static void *worker_main(void *arg) {
  worker_job *j = arg;
  char err[PMI_ERRLEN];
  lua_State *L = new_state(j->e, err);
  pmls_sched *node = NULL;
  int rc = L ? PMLS_OK : PMLS_ESCRIPT;
  if (!L) {
    worker_fail(j, rc, strdup(err));
  } else if (j->node >= 0 &&
             (rc = pmls_sched_open(j->e, j->node, &node)) != PMLS_OK) {
    worker_fail(j, rc, strdup(j->e->err));
  } else {
    if (node) lua_pushlightuserdata(L, node);
    lua_pushlightuserdata(L, j->c);
    lua_pushlightuserdata(L, j->e);
    lua_pushstring(L, j->path);
    lua_pushlstring(L, j->blob, j->bloblen);
    char *msg = NULL;
    rc = node ? call_runtime(L, "scheduler", 5, 0, &msg)
              : call_runtime(L, "worker", 4, 0, &msg);
    if (rc) worker_fail(j, rc, msg);
  }
  if (L) lua_close(L);
  pmls_sched_close(node);
  if (j->node >= 0) { /* a host client: only the abort path used it */
    pmls_client_close(j->c);
    return NULL;
  }
  rc = pmls_client_close(j->c);
  if (rc && !j->rc) {
    j->rc = rc;
    j->msg = strdup(j->e->err);
    j->failed_at = pmi_now();
  }
  return NULL;
}

static int is_echo(const char *msg) { return strstr(msg, "run aborted") != NULL; }

/* Picks the root cause: the earliest failure that is not an abort echo. */
static worker_job *first_failure(worker_job *jobs, int n) {
  worker_job *best = NULL;
  for (int i = 0; i < n; i++) {
    worker_job *j = &jobs[i];
    if (!j->rc) continue;
    if (!best || (is_echo(best->msg) && !is_echo(j->msg)) ||
        (is_echo(best->msg) == is_echo(j->msg) && j->failed_at < best->failed_at))
      best = j;
  }
  return best;
}

/* Runs the workers of this process and, for a scheduled model, the
 * scheduler nodes it hosts (each on a thread of its own). */
static int run_workers(pmls_engine *e, const char *path, const char *blob,
                       size_t bloblen) {
  int n = e->local_workers;
  if (e->model.declared)
    for (int k = 0; k < e->schedulers; k++)
      n += pmi_addr_owner(e, e->servers + k) == e->rank;
  worker_job *jobs = calloc((size_t)n, sizeof *jobs);
  if (!jobs) return pmi_fail(e->err, PMLS_ENOMEM, "out of memory");
  int rc = PMLS_OK, started = 0, k = 0;
  for (int w = 0; w < n && rc == PMLS_OK; w++) {
    int worker = -1, node = -1;
    if (w < e->local_workers) {
      worker = e->first_worker + w;
    } else {
      while (pmi_addr_owner(e, e->servers + k) != e->rank) k++;
      node = k++;
    }
    jobs[w] = (worker_job){e, NULL, worker, node, path, blob, bloblen,
                           0, 0, NULL, 0};
    rc = pmls_client_open(e, worker, &jobs[w].c);
  }
  for (int w = 0; w < n && rc == PMLS_OK; w++) {
    if (pthread_create(&jobs[w].thread, NULL, worker_main, &jobs[w])) {
      rc = pmi_fail(e->err, PMLS_ENOMEM, "cannot start worker thread %d", w);
      if (jobs[0].c) pmls_abort(jobs[0].c, "could not start every worker");
      break;
    }
    started++;
  }
  for (int w = 0; w < started; w++) pthread_join(jobs[w].thread, NULL);
  for (int w = started; w < n; w++) pmls_client_close(jobs[w].c);
  worker_job *bad = rc == PMLS_OK ? first_failure(jobs, n) : NULL;
  if (bad) {
    rc = bad->rc == PMLS_EUSAGE ? PMLS_ESCRIPT : bad->rc;
    snprintf(e->err, sizeof e->err, "%s", bad->msg);
    /* Say which worker, after the first line so file:line stays in front. */
    char *nl = strchr(e->err, '\n');
    char tail[PMI_ERRLEN];
    snprintf(tail, sizeof tail, "%s", nl ? nl : "");
    if (nl) *nl = 0;
    size_t len = strlen(e->err);
    if (bad->node >= 0)
      snprintf(e->err + len, sizeof e->err - len, " (in scheduler node %d)%s",
               bad->node, tail);
    else
      snprintf(e->err + len, sizeof e->err - len, " (in worker %d)%s",
               bad->worker, tail);
  }
  for (int w = 0; w < n; w++) free(jobs[w].msg);
  free(jobs);
  return rc;
}

/* ---- the whole run ------------------------------------------------------- */

static int fail_with(pmls_engine *e, int rc, char *msg) {
  snprintf(e->err, sizeof e->err, "%s", msg ? msg : "unknown error");
  free(msg);
  return rc;
}

int pmls_run_script(pmls_engine *e, const char *path, int argc,
                    const char *const *argv) {
  if (!path) return pmi_fail(e->err, PMLS_EINVAL, "missing script path");
  FILE *f = fopen(path, "r");
  if (!f)
    return pmi_fail(e->err, PMLS_EIO, "cannot open script '%s': %s", path,
                    strerror(errno));
  fclose(f);
  char err[PMI_ERRLEN];
  lua_State *L = new_state(e, err);
  if (!L) return pmi_fail(e->err, PMLS_ESCRIPT, "%s", err);

  lua_pushlightuserdata(L, e);
  lua_pushstring(L, path);
  lua_createtable(L, argc, 0);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i + 1);
  }
  char *msg = NULL;
  int rc = call_runtime(L, "prepare", 3, 1, &msg);
  if (rc) {
    lua_close(L);
    rc = fail_with(e, rc, msg);
    pmi_job_workers_done(e, rc, e->err); /* the other ranks must not wait */
    return rc;
  }
  if (lua_isnil(L, -1)) { /* --help was shown */
    lua_close(L);
    pmi_job_workers_done(e, PMLS_OK, NULL);
    return PMLS_OK;
  }
  size_t bloblen;
  const char *blob = lua_tolstring(L, -1, &bloblen);
  rc = run_workers(e, path, blob, bloblen);
  /* In a job of several processes, rank 0 runs the script's finish once
   * every rank's workers are done; the others' part ends here (their shards
   * keep serving until rank 0 says FINISH, in pmls_engine_destroy). */
  int others = pmi_job_workers_done(e, rc, e->err);
  if (rc == PMLS_OK) rc = others;
  if (rc == PMLS_OK && e->rank == 0) {
    pmls_client *host;
    rc = pmls_client_open(e, -1, &host);
    if (rc == PMLS_OK) {
      lua_pushlightuserdata(L, host);
      lua_pushlightuserdata(L, e);
      lua_pushstring(L, path);
      lua_pushlstring(L, blob, bloblen);
      rc = call_runtime(L, "finish", 4, 0, &msg);
      int crc = pmls_client_close(host);
      if (rc) rc = fail_with(e, rc == PMLS_EUSAGE ? PMLS_ESCRIPT : rc, msg);
      else rc = crc;
    }
  }
  lua_close(L);
  if (rc == PMLS_OK && e->rank == 0) {
    pmi_model_finals(e);
    pmls_stats st;
    pmls_engine_stats(e, &st);
    rc = pmi_metrics_write_final(e->metrics, e, &st);
    if (rc) pmi_fail(e->err, rc, "cannot write the metrics file '%s'",
                     e->metrics_path);
  }
  return rc;
}
