/* checkpoint_test.c -- the durable file chores of checkpoints: a directory
 * made (twice is fine, over a file is an error), files and directories
 * synced, a rename that replaces the old name, and every error path naming
 * the path (a missing file, a missing directory, no path at all); the
 * snapshot a resume picks (the newest whole one: a missing manifest, a
 * file of another size, a manifest cut short or with unknown entries, a
 * bad 'latest' entry each refused and said); and an engine started at a
 * clock: its workers' clocks go on from there on every shard (a read at
 * staleness 0 is answered, a clock() is accepted), the metrics number the
 * clocks from it, and a resuming engine takes the snapshot's clock. */
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

static void os_rm_rf(const char *dir) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
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
  char dir[] = "/tmp/somewhere";
  cfg.checkpoint_dir = dir;
  cfg.checkpoint_every = 3;
  pmls_engine *e;
  char err[512];
  CHECK_EQ_INT(pmls_engine_create(&e, &cfg, err, sizeof err), PMLS_OK);
  dir[1] = 'X'; /* the engine holds a copy */
  int64_t every = 0;
  CHECK(strcmp(pmls_engine_checkpoint(e, &every), "/tmp/somewhere") == 0 && every == 3);
  CHECK(pmls_engine_resume(e) == NULL && pmls_engine_snapshot(e) == NULL);
  CHECK(pmls_engine_start_clock(e) == 0);
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

static void put_manifest(const char *dir, const char *name, const char *body) {
  char p[256];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  CHECK_EQ_INT(pmls_fs_mkdir(p, NULL, 0), PMLS_OK);
  char f[300];
  snprintf(f, sizeof f, "%s/data", p);
  put(f, "12345");
  snprintf(f, sizeof f, "%s/manifest", p);
  put(f, body);
}

static void t_find_picks_the_newest_whole_one(void) {
  make_base();
  char err[4096], p[256];
  pmls_snapshot s;
  snprintf(p, sizeof p, "%s/none", base);
  CHECK_EQ_INT(pmls_checkpoint_find(p, &s, err, sizeof err), PMLS_EIO);
  CHECK_STR_CONTAINS(err, "none: no such directory");
  CHECK_EQ_INT(pmls_checkpoint_find(base, &s, err, sizeof err), PMLS_EIO);
  CHECK_STR_CONTAINS(err, "no checkpoint in it (no 'latest')");
  const char *good = "pmls-checkpoint 1\nclock 4\nengine_clock 9\nworkers 3\nprocs 3\n"
                     "file data 5\nend\n";
  put_manifest(base, "ckpt-4", good);
  put_manifest(base, "ckpt-8", "pmls-checkpoint 1\nclock 8\nengine_clock 17\nworkers 3\n"
                               "procs 3\nfile data 6\nend\n"); /* a size that differs */
  put_manifest(base, "ckpt-12", "pmls-checkpoint 1\nclock 12\nengine_clock 25\n"); /* cut */
  put_manifest(base, "ckpt-16", "pmls-checkpoint 1\nclock 16\nspeed 3\nend\n");
  put_manifest(base, "ckpt-20", "pmls-checkpoint 2\n");
  put_manifest(base, "ckpt-24", "pmls-checkpoint 1\nclock 4\nengine_clock 9\nworkers 3\nprocs 3\n"
                                "file ../x 5\nend\n");
  snprintf(p, sizeof p, "%s/latest", base);
  put(p, "ckpt-99\nckpt-x\nckpt-24\nckpt-20\nckpt-16\nckpt-12\nckpt-8\nckpt-4\n");
  CHECK_EQ_INT(pmls_checkpoint_find(base, &s, err, sizeof err), PMLS_OK);
  CHECK(s.clock == 4 && s.engine_clock == 9 && s.workers == 3 && s.procs == 3);
  CHECK_STR_CONTAINS(s.path, "/ckpt-4");
  CHECK_STR_CONTAINS(s.refused, "ckpt-99: no manifest");
  CHECK_STR_CONTAINS(s.refused, "latest: bad entry 'ckpt-x'");
  CHECK_STR_CONTAINS(s.refused, "ckpt-24/manifest:6: bad file entry");
  CHECK_STR_CONTAINS(s.refused, "ckpt-20/manifest:1: not a 'pmls-checkpoint 1' manifest");
  CHECK_STR_CONTAINS(s.refused, "ckpt-16/manifest:3: unknown or bad entry 'speed 3'");
  CHECK_STR_CONTAINS(s.refused, "ckpt-12/manifest: cut short");
  CHECK_STR_CONTAINS(s.refused, "ckpt-8/data: 5 bytes, the manifest says 6");
  put(p, "ckpt-8\n");
  CHECK_EQ_INT(pmls_checkpoint_find(base, &s, err, sizeof err), PMLS_EIO);
  CHECK_STR_CONTAINS(err, "no complete checkpoint (");
  CHECK_STR_CONTAINS(err, "the manifest says 6)");
  put(p, "");
  CHECK_EQ_INT(pmls_checkpoint_find(base, &s, err, sizeof err), PMLS_EIO);
  CHECK_STR_CONTAINS(err, "'latest' is empty");
  /* a resuming engine takes the snapshot's clock, or fails with the reason */
  put(p, "ckpt-4\n");
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = 1;
  cfg.resume_dir = base;
  pmls_engine *e;
  CHECK_EQ_INT(pmls_engine_create(&e, &cfg, err, sizeof err), PMLS_OK);
  CHECK(pmls_engine_start_clock(e) == 9);
  CHECK(pmls_engine_snapshot(e) && pmls_engine_snapshot(e)->clock == 4);
  CHECK(strcmp(pmls_engine_resume(e), base) == 0);
  pmls_engine_destroy(e);
  put(p, "ckpt-8\n");
  CHECK(pmls_engine_create(&e, &cfg, err, sizeof err) == PMLS_EIO);
  CHECK_STR_CONTAINS(err, "--resume ");
  os_rm_rf(base);
}

static void t_start_clock(void) {
  make_base();
  char metrics[160], err[512];
  snprintf(metrics, sizeof metrics, "%s/m.json", base);
  pmls_config cfg;
  pmls_config_init(&cfg);
  cfg.workers = 2;
  cfg.start_clock = 40;
  cfg.quiet = 1;
  cfg.metrics_path = metrics;
  pmls_engine *e;
  CHECK_EQ_INT(pmls_engine_create(&e, &cfg, err, sizeof err), PMLS_OK);
  CHECK_EQ_INT(pmls_metric_declare(e, "x", PMLS_AGG_SUM), PMLS_OK);
  pmls_table_spec spec;
  pmls_table_spec_init(&spec);
  spec.rows = 1;
  spec.cols = 1;
  spec.staleness = 0;
  int t;
  CHECK_EQ_INT(pmls_table_create(e, "t", &spec, &t), PMLS_OK);
  pmls_client *a, *b;
  CHECK_EQ_INT(pmls_client_open(e, 0, &a), PMLS_OK);
  CHECK_EQ_INT(pmls_client_open(e, 1, &b), PMLS_OK);
  double one = 1, got = 0;
  for (int k = 0; k < 3; k++) {
    CHECK_EQ_INT(pmls_inc_dense(a, t, 0, &one), PMLS_OK);
    CHECK_EQ_INT(pmls_inc_dense(b, t, 0, &one), PMLS_OK);
    CHECK_EQ_INT(pmls_report(a, "x", 1), PMLS_OK);
    CHECK_EQ_INT(pmls_clock(a), PMLS_OK); /* CLOCK 41, 42, 43: accepted */
    CHECK_EQ_INT(pmls_clock(b), PMLS_OK);
  }
  CHECK(pmls_client_clock(a) == 3); /* clock() calls of this client */
  /* staleness 0 at clock 43: the shards' global clock is there */
  CHECK_EQ_INT(pmls_get_dense(a, t, 0, &got), PMLS_OK);
  CHECK_EQ_DBL(got, 6);
  CHECK_EQ_INT(pmls_client_close(a), PMLS_OK);
  CHECK_EQ_INT(pmls_client_close(b), PMLS_OK);
  pmls_engine_destroy(e);
  FILE *f = fopen(metrics, "r");
  char line[256] = "";
  CHECK(f && fgets(line, sizeof line, f));
  fclose(f);
  CHECK_STR_CONTAINS(line, "{\"clock\":41,");
  cfg.start_clock = -1;
  CHECK(pmls_engine_create(&e, &cfg, err, sizeof err) != PMLS_OK);
  os_rm_rf(base);
}

static const th_case cases[] = {
    {"checkpoint files: mkdir, sync, rename durably", t_mkdir_sync_rename},
    {"checkpoint files: every error names its path", t_errors_name_the_path},
    {"checkpoint options: the engine keeps copies", t_engine_keeps_the_options},
    {"checkpoint find: the newest whole snapshot, the others said", t_find_picks_the_newest_whole_one},
    {"start clock: shards, clients and metrics go on from it", t_start_clock},
};

TH_MAIN(cases)
