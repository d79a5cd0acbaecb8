/* checkpoint_test.c -- the durable file chores of checkpoints: a directory
 * made (twice is fine, over a file is an error), files and directories
 * synced, a rename that replaces the old name, and every error path naming
 * the path (a missing file, a missing directory, no path at all). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "pmls.h"

static char base[64];

static void make_base(void) {
  snprintf(base, sizeof base, "/tmp/pmls-ckpt-test-XXXXXX");
  CHECK(mkdtemp(base) != NULL);
}

static void put(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  fputs(text, f);
  fclose(f);
}

static void t_mkdir_sync_rename(void) {
  make_base();
  char d[128], f[160], g[160], err[512];
  snprintf(d, sizeof d, "%s/tmp-1", base);
  CHECK_EQ_INT(pmls_fs_mkdir(d, err, sizeof err), PMLS_OK);
  CHECK_EQ_INT(pmls_fs_mkdir(d, err, sizeof err), PMLS_OK); /* exists: fine */
  snprintf(f, sizeof f, "%s/a", d);
  put(f, "one");
  CHECK_EQ_INT(pmls_fs_sync(f, err, sizeof err), PMLS_OK);
  CHECK_EQ_INT(pmls_fs_sync(d, err, sizeof err), PMLS_OK);
  snprintf(g, sizeof g, "%s/ckpt-1", base);
  CHECK_EQ_INT(pmls_fs_rename(d, g, err, sizeof err), PMLS_OK);
  struct stat st;
  CHECK(stat(g, &st) == 0 && S_ISDIR(st.st_mode));
  CHECK(stat(d, &st) != 0);
  /* a rename replaces a file: the "latest" pointer's update */
  char p[160], q[160];
  snprintf(p, sizeof p, "%s/latest.tmp", base);
  snprintf(q, sizeof q, "%s/latest", base);
  put(q, "old");
  put(p, "new");
  CHECK_EQ_INT(pmls_fs_rename(p, q, err, sizeof err), PMLS_OK);
  FILE *r = fopen(q, "r");
  char buf[8] = {0};
  CHECK(r && fread(buf, 1, 7, r) == 3);
  fclose(r);
  CHECK(strcmp(buf, "new") == 0);
  unlink(q);
  snprintf(f, sizeof f, "%s/a", g);
  unlink(f);
  rmdir(g);
  rmdir(base);
}

static void t_errors_name_the_path(void) {
  make_base();
  char f[160], err[512];
  snprintf(f, sizeof f, "%s/file", base);
  put(f, "x");
  CHECK_EQ_INT(pmls_fs_mkdir(f, err, sizeof err), PMLS_EIO); /* a file is there */
  CHECK_STR_CONTAINS(err, "/file: cannot make the directory");
  char m[160];
  snprintf(m, sizeof m, "%s/none/deeper", base);
  CHECK_EQ_INT(pmls_fs_mkdir(m, err, sizeof err), PMLS_EIO);
  CHECK_STR_CONTAINS(err, "none/deeper");
  CHECK_EQ_INT(pmls_fs_sync(m, err, sizeof err), PMLS_EIO);
  CHECK_STR_CONTAINS(err, "cannot open");
  CHECK_EQ_INT(pmls_fs_rename(m, f, err, sizeof err), PMLS_EIO);
  CHECK_STR_CONTAINS(err, "cannot rename");
  CHECK_EQ_INT(pmls_fs_mkdir(NULL, err, sizeof err), PMLS_EINVAL);
  CHECK_EQ_INT(pmls_fs_sync("", err, sizeof err), PMLS_EINVAL);
  CHECK_EQ_INT(pmls_fs_rename(f, NULL, err, sizeof err), PMLS_EINVAL);
  unlink(f);
  rmdir(base);
}

static void t_engine_keeps_the_options(void) {
  pmls_config cfg;
  pmls_config_init(&cfg);
  CHECK(cfg.checkpoint_every == 10 && !cfg.checkpoint_dir && !cfg.resume_dir);
  cfg.workers = 1;
  char dir[] = "/tmp/somewhere", res[] = "/tmp/else";
  cfg.checkpoint_dir = dir;
  cfg.checkpoint_every = 3;
  cfg.resume_dir = res;
  pmls_engine *e;
  char err[512];
  CHECK_EQ_INT(pmls_engine_create(&e, &cfg, err, sizeof err), PMLS_OK);
  dir[1] = res[1] = 'X'; /* the engine holds copies */
  int64_t every = 0;
  CHECK(strcmp(pmls_engine_checkpoint(e, &every), "/tmp/somewhere") == 0 && every == 3);
  CHECK(strcmp(pmls_engine_resume(e), "/tmp/else") == 0);
  pmls_engine_destroy(e);
  cfg.checkpoint_dir = NULL;
  cfg.resume_dir = NULL;
  CHECK_EQ_INT(pmls_engine_create(&e, &cfg, err, sizeof err), PMLS_OK);
  CHECK(pmls_engine_checkpoint(e, &every) == NULL && every == 0 && !pmls_engine_resume(e));
  pmls_engine_destroy(e);
  cfg.checkpoint_every = -1;
  CHECK(pmls_engine_create(&e, &cfg, err, sizeof err) != PMLS_OK);
  CHECK_STR_CONTAINS(err, "bad checkpoint");
}

static const th_case cases[] = {
    {"checkpoint files: mkdir, sync, rename durably", t_mkdir_sync_rename},
    {"checkpoint files: every error names its path", t_errors_name_the_path},
    {"checkpoint options: the engine keeps copies", t_engine_keeps_the_options},
};

TH_MAIN(cases)
