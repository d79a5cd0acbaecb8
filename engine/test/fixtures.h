/* fixtures.h -- what the C tests of the engine's modules share to set a
 * scene through the public API: a quiet engine of W workers and S shards
 * with a timeout (a lost update fails a read instead of hanging), dense
 * table specs, and the typed scalar access of the dtype-driven cases.
 * Header-only and static inline, so each test binary takes what it uses. */
#ifndef PMLS_TEST_FIXTURES_H
#define PMLS_TEST_FIXTURES_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "pmls.h"

static inline pmls_config config(int workers, int servers) {
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = workers;
  cfg.servers = servers;
  cfg.quiet = 2;
  cfg.timeout_ms = 10000; /* a lost update fails a read instead of hanging */
  return cfg;
}

static inline pmls_engine *engine(int workers, int servers) {
  pmls_config cfg = config(workers, servers);
  pmls_engine *e = NULL;
  char err[512] = "";
  if (pmls_engine_create(&e, &cfg, err, sizeof err) != PMLS_OK) {
    fprintf(stderr, "test: cannot create an engine: %s\n", err);
    return NULL;
  }
  return e;
}

/* The package.path of a test run from the repository root: the Lua package
 * from ./lua and ./build/lua (a test binary links libpmls statically, so
 * the package's own search relative to the library does not apply). */
static inline const char *repo_lua_path(void) {
  static char path[3 * 4096 + 64];
  char cwd[4096];
  if (!path[0] && getcwd(cwd, sizeof cwd))
    snprintf(path, sizeof path, "%s/lua/?.lua;%s/lua/?/init.lua;%s/build/lua/?.lua",
             cwd, cwd, cwd);
  return path;
}

static inline pmls_table_spec dense(int64_t rows, int32_t cols, pmls_dtype t) {
  pmls_table_spec s;
  pmls_table_spec_init(&s);
  s.rows = rows;
  s.cols = cols;
  s.dtype = t;
  return s;
}

static inline int table(pmls_engine *e, const char *name, pmls_table_spec s) {
  int id = -1;
  if (pmls_table_create(e, name, &s, &id) != PMLS_OK) {
    fprintf(stderr, "test: table '%s': %s\n", name, pmls_errmsg(e));
    return -1;
  }
  return id;
}

static inline void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* A typed scalar <-> double, for the table-driven dtype cases. */
static inline void set_elem(pmls_dtype t, void *row, int i, double v) {
  switch (t) {
  case PMLS_F64: ((double *)row)[i] = v; break;
  case PMLS_F32: ((float *)row)[i] = (float)v; break;
  case PMLS_I32: ((int32_t *)row)[i] = (int32_t)v; break;
  case PMLS_I64: ((int64_t *)row)[i] = (int64_t)v; break;
  }
}

static inline double elem(pmls_dtype t, const void *row, int i) {
  switch (t) {
  case PMLS_F64: return ((const double *)row)[i];
  case PMLS_F32: return ((const float *)row)[i];
  case PMLS_I32: return ((const int32_t *)row)[i];
  case PMLS_I64: return (double)((const int64_t *)row)[i];
  }
  return -1;
}

#endif
