/* datafiles.h -- what the C tests of the data readers share: files written
 * into a mkdtemp directory removed at exit (plain or gzip), a quiet engine,
 * the bits of a double, and CHECK_MSG for exact messages. Header-only and
 * static inline, like fixtures.h. */
#ifndef PMLS_TEST_DATAFILES_H
#define PMLS_TEST_DATAFILES_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "harness.h"
#include "pmls.h"

static char df_dir[64];

static inline int df_rm_one(const char *p, const struct stat *st, int flag,
                            struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(p);
}
static inline void df_rm_dir(void) {
  nftw(df_dir, df_rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* dir/name into out (a buffer of 512), creating the directory once. */
static inline const char *df_path(char *out, const char *name) {
  if (!df_dir[0]) {
    strcpy(df_dir, "/tmp/pmls_data_test.XXXXXX");
    if (!mkdtemp(df_dir)) perror("mkdtemp"), exit(2);
    atexit(df_rm_dir);
  }
  snprintf(out, 512, "%s/%s", df_dir, name);
  return out;
}

static inline int df_write(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t put = fwrite(data, 1, len, f);
  return fclose(f) == 0 && put == len ? 0 : -1;
}
static inline int df_write_str(const char *path, const char *s) {
  return df_write(path, s, strlen(s));
}
static inline int df_write_gz(const char *path, const void *data, size_t len) {
  gzFile g = gzopen(path, "wb");
  if (!g) return -1;
  int put = len ? gzwrite(g, data, (unsigned)len) : 0;
  return gzclose(g) == Z_OK && (size_t)put == len ? 0 : -1;
}
static inline long df_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* a and the strtod of text are the same double, bit for bit. */
static inline int df_same_bits(double a, const char *text) {
  double b = strtod(text, NULL);
  return memcmp(&a, &b, sizeof a) == 0;
}

static inline pmls_engine *df_engine(void) { /* one worker, quiet */
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = 1;
  cfg.quiet = 2;
  pmls_engine *e = NULL;
  char err[512] = "";
  if (pmls_engine_create(&e, &cfg, err, sizeof err) != PMLS_OK)
    fprintf(stderr, "cannot create an engine: %s\n", err);
  return e;
}

/* Fails the case unless got is the printf of the rest (shows both). */
#define CHECK_MSG(got, ...)                                                    \
  do {                                                                         \
    char want_[1024];                                                          \
    snprintf(want_, sizeof want_, __VA_ARGS__);                                \
    if (strcmp((got), want_) != 0) {                                           \
      th_fail(__FILE__, __LINE__, "got \"%s\", want \"%s\"", (got), want_);    \
      return;                                                                  \
    }                                                                          \
  } while (0)

#endif
