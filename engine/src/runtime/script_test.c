/* script_test.c -- pmls_run_script on small model scripts written to temp
 * files: a run whose finish reads back what the workers added, the options
 * (usage errors name the option), script errors (the message carries
 * file:line), and a worker failing while another is blocked in a read (the
 * run must end at once and name the failing worker).
 *
 * Run from the repository root: the Lua package is taken from ./lua and
 * ./build/lua (the test binary links libpmls statically, so the package's
 * own search relative to the library does not apply). The binary does not
 * export pmls_* either, so the package's FFI calls go to a second copy of
 * the engine code, build/lib/libpmls.so (not sanitized in the -san build). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fixtures.h"
#include "harness.h"
#include "pmls.h"

static pmls_engine *script_engine(int workers, int timeout_ms) {
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = workers;
  cfg.servers = 2;
  cfg.quiet = 2;
  cfg.timeout_ms = timeout_ms;
  cfg.lua_path = repo_lua_path();
  pmls_engine *e = NULL;
  char err[512];
  if (pmls_engine_create(&e, &cfg, err, sizeof err)) {
    fprintf(stderr, "script_test: cannot create an engine: %s\n", err);
    return NULL;
  }
  return e;
}

/* Writes text to a new temp file; the path goes to out (PATH_MAX). */
static int write_script(const char *text, char *out) {
  snprintf(out, PATH_MAX, "/tmp/pmls-script-XXXXXX.lua");
  int fd = mkstemps(out, 4);
  if (fd < 0) return -1;
  size_t n = strlen(text);
  int ok = write(fd, text, n) == (ssize_t)n;
  close(fd);
  return ok ? 0 : -1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- a whole run ----------------------------------------------------------- */

static const char COUNTER[] =
    "local pmls = require \"pmls\"\n"
    "local app = pmls.app \"t\"\n"
    "app:option(\"incs\", 3, \"increments per worker\", {type=\"int\"})\n"
    "function app:setup(ctx)\n"
    "  ctx:table(\"t\", {rows=4, cols=2, dtype=\"int64\"})\n"
    "end\n"
    "function app:worker(ctx)\n"
    "  local T = ctx:table(\"t\")\n"
    "  for i = 1, ctx.opt.incs do\n"
    "    assert(T:inc(0, 1, 1))\n"
    "    if i % 5 == 0 then assert(ctx:clock()) end\n"
    "  end\n"
    "  assert(ctx:clock())\n"
    "end\n"
    "function app:finish(ctx)\n"
    "  local T = ctx:table(\"t\")\n"
    "  local v = tonumber(assert(T:get(0))[1])\n"
    "  if v ~= ctx.workers * ctx.opt.incs then\n"
    "    error(\"finish read \" .. v)\n"
    "  end\n"
    "  assert(T:inc(1, 0, v)) -- finish saw the workers' total\n"
    "end\n"
    "return app\n";

static void t_run_counter(void) {
  static const struct { int workers; const char *incs; int64_t per; } rows[] = {
      {1, NULL, 3}, {2, "17", 17}, {3, "250", 250}};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    char path[PATH_MAX];
    CHECK_EQ_INT(write_script(COUNTER, path), 0);
    pmls_engine *e = script_engine(rows[i].workers, 10000);
    CHECK(e != NULL);
    const char *argv[2] = {"--incs", rows[i].incs};
    int rc = pmls_run_script(e, path, rows[i].incs ? 2 : 0, argv);
    unlink(path);
    if (rc != PMLS_OK) {
      th_fail(__FILE__, __LINE__, "run with %d workers: %d %s",
              rows[i].workers, rc, pmls_errmsg(e));
      pmls_engine_destroy(e);
      return;
    }
    int t = -1;
    pmls_client *h = NULL;
    int64_t row0[2] = {-1, -1}, row1[2] = {-1, -1};
    int ok = pmls_table_find(e, "t", &t) == PMLS_OK &&
             pmls_client_open(e, -1, &h) == PMLS_OK &&
             pmls_get_dense(h, t, 0, row0) == PMLS_OK &&
             pmls_get_dense(h, t, 1, row1) == PMLS_OK;
    pmls_client_close(h);
    pmls_stats st;
    pmls_engine_stats(e, &st);
    pmls_engine_destroy(e);
    CHECK(ok);
    CHECK_EQ_INT(row0[1], rows[i].workers * rows[i].per);
    CHECK_EQ_INT(row0[0], 0);
    CHECK_EQ_INT(row1[0], rows[i].workers * rows[i].per);
    CHECK_EQ_INT(st.clocks, rows[i].per / 5 + 1);
  }
}

/* ---- usage errors ------------------------------------------------------------ */

static void t_usage_errors(void) {
  static const struct {
    const char *argv[3];
    int argc;
    const char *says;
  } rows[] = {
      {{"--bogus", "1"}, 2, "unknown option '--bogus'"},
      {{"--incs=2", "--nope"}, 2, "unknown option '--nope'"},
      {{"--incs", "abc"}, 2, "bad value 'abc' for --incs"},
      {{"--incs", "1.5"}, 2, "--incs"},
      {{"--incs"}, 1, "--incs needs a value"},
      {{"stray"}, 1, "unexpected argument 'stray'"},
  };
  char path[PATH_MAX];
  CHECK_EQ_INT(write_script(COUNTER, path), 0);
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    pmls_engine *e = script_engine(1, 10000);
    if (!e) break;
    int rc = pmls_run_script(e, path, rows[i].argc, rows[i].argv);
    int tables = pmls_table_count(e);
    if (rc != PMLS_EUSAGE || !strstr(pmls_errmsg(e), rows[i].says))
      th_fail(__FILE__, __LINE__, "argv[0] '%s': want PMLS_EUSAGE and \"%s\", "
              "got %d \"%s\"", rows[i].argv[0], rows[i].says, rc,
              pmls_errmsg(e));
    pmls_engine_destroy(e);
    if (th_failed()) break;
    CHECK_EQ_INT(tables, 0); /* setup did not run */
  }
  unlink(path);
}

/* ---- script errors carry file:line ---------------------------------------- */

static const char HEAD[] =
    "local pmls = require \"pmls\"\n"         /* 1 */
    "local app = pmls.app \"t\"\n";           /* 2 */

typedef struct {
  const char *what;
  const char *body; /* after HEAD; the faulty line's number is `line` */
  int line;
  const char *says;
} error_row;

/* Runs each script; the first line of the message (a traceback may follow)
 * must point at the script's faulty line, not into the pmls package. Every
 * failing row is reported, one after the other. */
static void check_errors(const error_row *rows, size_t n) {
  char report[2048] = "";
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    char text[2048], path[PATH_MAX], where[PATH_MAX + 16];
    snprintf(text, sizeof text, "%s%s", HEAD, rows[i].body);
    CHECK_EQ_INT(write_script(text, path), 0);
    snprintf(where, sizeof where, "%s:%d:", path, rows[i].line);
    pmls_engine *e = script_engine(2, 10000);
    if (!e) unlink(path);
    CHECK(e != NULL);
    int rc = pmls_run_script(e, path, 0, NULL);
    unlink(path);
    char msg[4096];
    snprintf(msg, sizeof msg, "%s", pmls_errmsg(e));
    pmls_engine_destroy(e);
    char *nl = strchr(msg, '\n');
    if (nl) *nl = 0;
    if (rc != PMLS_ESCRIPT || !strstr(msg, where) || !strstr(msg, rows[i].says)) {
      size_t room = sizeof report - off;
      int k = snprintf(report + off, room, "%s[%s: want PMLS_ESCRIPT, \"%s\" "
                       "and \"%s\" on the first line; got %d \"%s\"]",
                       off ? "; " : "", rows[i].what, where, rows[i].says, rc,
                       msg);
      off += k > 0 && (size_t)k < room ? (size_t)k : room - 1;
    }
  }
  if (off) th_fail(__FILE__, __LINE__, "%s", report);
}

static void t_script_errors_name_file_line(void) {
  static const error_row rows[] = {
      {"error at load", "local x = nil\nlocal y = x + 1\nreturn app\n", 4,
       "arithmetic"},
      {"syntax error", "function app:worker(ctx)\n  local = 1\nend\nreturn app\n",
       4, "near"},
      {"error in setup",
       "function app:setup(ctx)\n  error(\"setup broke\")\nend\n"
       "function app:worker(ctx) end\nreturn app\n",
       4, "setup broke"},
      {"error in a worker",
       "function app:worker(ctx)\n  local t = nil\n  t.x = 1\nend\nreturn app\n",
       5, "(in worker "},
      {"error in finish",
       "function app:worker(ctx) end\nfunction app:finish(ctx)\n"
       "  error(\"finish broke\")\nend\nreturn app\n",
       5, "finish broke"},
  };
  check_errors(rows, sizeof rows / sizeof rows[0]);
}

/* Misuse caught by the pmls package (a bad spec, a bad row) is blamed on the
 * script line that made the call, like Lua's own "bad argument" errors. */
static void t_misuse_errors_name_script_line(void) {
  static const error_row rows[] = {
      {"bad table spec in setup",
       "function app:setup(ctx)\n  ctx:table(\"t\", {rows=0, cols=2})\nend\n"
       "function app:worker(ctx) end\nreturn app\n",
       4, "bad rows 0"},
      {"unknown spec field in setup",
       "function app:setup(ctx)\n  ctx:table(\"t\", {rows=2, colz=2})\nend\n"
       "function app:worker(ctx) end\nreturn app\n",
       4, "colz"},
      {"bad row to inc in a worker",
       "function app:setup(ctx) ctx:table(\"t\", {rows=4, cols=2}) end\n"
       "function app:worker(ctx)\n  ctx:table(\"t\"):inc(10, 0, 1)\nend\n"
       "return app\n",
       5, "row 10 out of range"},
      {"bad row to get in a worker",
       "function app:setup(ctx) ctx:table(\"t\", {rows=4, cols=2}) end\n"
       "function app:worker(ctx)\n  ctx:table(\"t\"):get(-1)\nend\n"
       "return app\n",
       5, "row -1 out of range"},
  };
  check_errors(rows, sizeof rows / sizeof rows[0]);
}

static void t_script_not_an_app_or_missing(void) {
  char path[PATH_MAX];
  CHECK_EQ_INT(write_script("return 42\n", path), 0);
  pmls_engine *e = script_engine(1, 10000);
  CHECK(e != NULL);
  int rc = pmls_run_script(e, path, 0, NULL);
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", pmls_errmsg(e));
  unlink(path);
  int rc2 = pmls_run_script(e, "/nonexistent/model.lua", 0, NULL);
  char msg2[1024];
  snprintf(msg2, sizeof msg2, "%s", pmls_errmsg(e));
  pmls_engine_destroy(e);
  CHECK_EQ_INT(rc, PMLS_ESCRIPT);
  CHECK_STR_CONTAINS(msg, "must return an app");
  CHECK_EQ_INT(rc2, PMLS_EIO);
  CHECK_STR_CONTAINS(msg2, "/nonexistent/model.lua");
}

/* ---- a failing worker ends the run while another waits -------------------- */

static const char BLOCKED[] =
    "local pmls = require \"pmls\"\n"                                  /* 1 */
    "local ffi = require \"ffi\"\n"                                    /* 2 */
    "ffi.cdef \"int usleep(unsigned int)\"\n"                          /* 3 */
    "local app = pmls.app \"t\"\n"                                     /* 4 */
    "function app:setup(ctx)\n"                                        /* 5 */
    "  ctx:table(\"t\", {rows=1, cols=1, dtype=\"int64\", staleness=0})\n"
    "end\n"                                                            /* 7 */
    "function app:worker(ctx)\n"                                       /* 8 */
    "  local T = ctx:table(\"t\")\n"                                   /* 9 */
    "  if ctx.worker == 0 then\n"                                      /* 10 */
    "    ffi.C.usleep(300000) -- let worker 1 block in its read\n"     /* 11 */
    "    error(\"deliberate failure\")\n"                              /* 12 */
    "  end\n"                                                          /* 13 */
    "  assert(ctx:clock())\n"                                          /* 14 */
    "  assert(T:get(0)) -- waits for worker 0's first clock\n"         /* 15 */
    "end\n"
    "return app\n";

static void t_worker_error_while_other_blocks(void) {
  char path[PATH_MAX], where[PATH_MAX + 16];
  CHECK_EQ_INT(write_script(BLOCKED, path), 0);
  snprintf(where, sizeof where, "%s:12:", path);
  /* A read that is never answered would give up after 4 s: well past what
   * "promptly" allows below. */
  pmls_engine *e = script_engine(2, 4000);
  CHECK(e != NULL);
  double t0 = now_s();
  int rc = pmls_run_script(e, path, 0, NULL);
  double took = now_s() - t0;
  char msg[4096];
  snprintf(msg, sizeof msg, "%s", pmls_errmsg(e));
  unlink(path);
  pmls_engine_destroy(e);
  CHECK_EQ_INT(rc, PMLS_ESCRIPT);
  CHECK(took < 2.0);
  CHECK_STR_CONTAINS(msg, "deliberate failure");
  CHECK_STR_CONTAINS(msg, where);
  CHECK_STR_CONTAINS(msg, "worker 0");
  /* the first line gives the root cause, not worker 1's "run aborted" echo */
  char *nl = strchr(msg, '\n');
  if (nl) *nl = 0;
  CHECK_STR_CONTAINS(msg, "deliberate failure");
  CHECK(!strstr(msg, "run aborted"));
}

static const th_case cases[] = {
    {"run: finish reads back workers x increments", t_run_counter},
    {"usage errors name the option (PMLS_EUSAGE)", t_usage_errors},
    {"script errors give PMLS_ESCRIPT and file:line", t_script_errors_name_file_line},
    {"misuse errors from the package name the script's file:line", t_misuse_errors_name_script_line},
    {"a script that returns no app, a missing script", t_script_not_an_app_or_missing},
    {"a worker error ends a run while another worker blocks", t_worker_error_while_other_blocks},
};

TH_MAIN(cases)
