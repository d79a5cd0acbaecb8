/* script.c -- runs a model script on the engine.
 *
 * A script is loaded once per lua_State: once on the calling thread, which
 * parses its options and runs its setup (declare tables and metrics) and,
 * after the workers, its finish; and once on each worker thread, each with
 * its own lua_State, where the worker function runs. Threads never share a
 * Lua state, so the JIT compiles each worker's loop independently, and the
 * only shared object is the engine, reached through the FFI. The Lua side of
 * this protocol lives in lua/pmls/runtime.lua. This file only makes and
 * drives the states and turns Lua errors into codes and messages; the
 * threads, the first failure and the end of the run are run.c's (pmls_run). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lua_path.h"
#include "../proc/proc.h"

/* ---- Lua states ---------------------------------------------------------- */

/* Whether msg is an input error: a message a data reader returned
 * (pmls.failure), raised by the script as it was (assert puts the script's
 * position in front). If so, pushes the reader's message and returns 1. */
static int push_input_error(lua_State *L, int msg) {
  if (lua_type(L, msg) != LUA_TSTRING) return 0;
  int top = lua_gettop(L);
  lua_getglobal(L, "require");
  lua_pushstring(L, "pmls.failure");
  if (lua_pcall(L, 1, 1, 0) == 0 && lua_istable(L, -1)) {
    lua_getfield(L, -1, "is_input");
    lua_pushvalue(L, msg);
    if (lua_pcall(L, 1, 1, 0) == 0 && lua_isstring(L, -1)) {
      lua_replace(L, top + 1);
      lua_settop(L, top + 1);
      return 1;
    }
  }
  lua_settop(L, top);
  return 0;
}

/* Keeps usage errors (tables with a `usage` field) as they are, so the
 * caller can tell them from script errors; turns an input error into a
 * table with an `input` field, with no traceback (unless the engine was
 * asked for one: --trace); adds a traceback to the rest. */
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
  lua_getfield(L, LUA_REGISTRYINDEX, "pmls.trace");
  int trace = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (push_input_error(L, 1)) {
    int input = lua_gettop(L);
    lua_createtable(L, 0, 1);
    if (trace) luaL_traceback(L, L, lua_tostring(L, input), 1);
    else lua_pushvalue(L, input);
    lua_setfield(L, -2, "input");
    return 1;
  }
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
  lua_pushboolean(L, e->cfg.trace);
  lua_setfield(L, LUA_REGISTRYINDEX, "pmls.trace");
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s;%s", path, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);
  return L;
}

/* Calls runtime[fn] with the nargs values on the stack. On failure returns
 * PMLS_EUSAGE, PMLS_EIO (an input error) or PMLS_ESCRIPT with a malloc'd
 * message in *msg. */
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
    code = PMLS_EUSAGE;
    if (lua_isnil(L, -1)) { /* an input error: a data file's fault */
      lua_pop(L, 1);
      lua_getfield(L, -1, "input");
      code = PMLS_EIO;
    }
    text = lua_tostring(L, -1);
  } else {
    text = lua_tostring(L, -1);
  }
  *msg = strdup(text ? text : "unknown error");
  lua_settop(L, h - 1);
  return code;
}

/* Copies a message made by call_runtime into a callback's buffer. */
static int failed_with(int rc, char *msg, char *err, size_t errlen) {
  snprintf(err, errlen, "%s", msg ? msg : "unknown error");
  free(msg);
  return rc;
}

/* ---- the callbacks of pmls_run ------------------------------------------- */

typedef struct {
  pmls_engine *e;
  const char *path;
  int argc;
  const char *const *argv;
  lua_State *L;      /* the calling thread's state: setup and finish */
  const char *blob;  /* what setup hands every other state (in L) */
  size_t bloblen;
} script_run;

static int setup_fn(pmls_engine *e, void *ud, char *err, size_t errlen) {
  script_run *s = ud;
  lua_pushlightuserdata(s->L, e);
  lua_pushstring(s->L, s->path);
  lua_createtable(s->L, s->argc, 0);
  for (int i = 0; i < s->argc; i++) {
    lua_pushstring(s->L, s->argv[i]);
    lua_rawseti(s->L, -2, i + 1);
  }
  char *msg = NULL;
  int rc = call_runtime(s->L, "prepare", 3, 1, &msg);
  if (rc) return failed_with(rc, msg, err, errlen);
  if (lua_isnil(s->L, -1)) return PMLS_SKIP; /* --help was shown */
  s->blob = lua_tolstring(s->L, -1, &s->bloblen); /* stays on L's stack */
  return PMLS_OK;
}

/* Runs runtime[fn](handles..., engine, path, blob) on a new state. */
static int in_new_state(script_run *s, const char *fn, void *node,
                        pmls_client *c, char *err, size_t errlen) {
  char why[PMI_ERRLEN];
  lua_State *L = new_state(s->e, why);
  if (!L) return failed_with(PMLS_ESCRIPT, strdup(why), err, errlen);
  if (node) lua_pushlightuserdata(L, node);
  lua_pushlightuserdata(L, c);
  lua_pushlightuserdata(L, s->e);
  lua_pushstring(L, s->path);
  lua_pushlstring(L, s->blob, s->bloblen);
  char *msg = NULL;
  int rc = call_runtime(L, fn, node ? 5 : 4, 0, &msg);
  lua_close(L);
  return rc ? failed_with(rc, msg, err, errlen) : PMLS_OK;
}

static int worker_fn(pmls_client *c, void *ud, char *err, size_t errlen) {
  return in_new_state(ud, "worker", NULL, c, err, errlen);
}

static int scheduler_fn(pmls_sched *node, pmls_client *c, void *ud, char *err,
                        size_t errlen) {
  return in_new_state(ud, "scheduler", node, c, err, errlen);
}

static int finish_fn(pmls_client *host, void *ud, char *err, size_t errlen) {
  script_run *s = ud;
  lua_pushlightuserdata(s->L, host);
  lua_pushlightuserdata(s->L, s->e);
  lua_pushstring(s->L, s->path);
  lua_pushlstring(s->L, s->blob, s->bloblen);
  char *msg = NULL;
  int rc = call_runtime(s->L, "finish", 4, 0, &msg);
  return rc ? failed_with(rc, msg, err, errlen) : PMLS_OK;
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
  script_run s = {e, path, argc, argv, new_state(e, err), NULL, 0};
  if (!s.L) return pmi_fail(e->err, PMLS_ESCRIPT, "%s", err);
  static const pmls_run_fns fns = {setup_fn, worker_fn, scheduler_fn,
                                   finish_fn};
  int rc = pmls_run(e, &fns, &s);
  lua_close(s.L);
  return rc;
}
