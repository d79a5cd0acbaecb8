/* checkpoint.c -- the file chores that make a checkpoint durable: making a
 * directory, fsyncing a file or a directory, and a rename whose new name is
 * on disk when it returns; and finding the snapshot a run resumes from,
 * which the engine needs before any thread starts (its shards' vector
 * clocks begin at the snapshot's clock). The snapshot itself (what is written, when, the
 * barriers around it) is lua/pmls/checkpoint.lua; Lua has no fsync and no
 * mkdir, and a snapshot is only "the last complete one" if its files and
 * its name survive a crash in that order: files synced, then the
 * directory renamed, then the directory holding it synced
 * (docs/fault-tolerance.md). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pmls.h"
#include "../util/util.h"

static int io_error(char *err, size_t errlen, const char *path, const char *what) {
  char buf[PMI_ERRLEN];
  pmi_fail(buf, PMLS_EIO, "%s: %s: %s", path, what, strerror(errno));
  if (err && errlen) snprintf(err, errlen, "%s", buf);
  return PMLS_EIO;
}

static int bad_path(char *err, size_t errlen) {
  if (err && errlen) snprintf(err, errlen, "missing path");
  return PMLS_EINVAL;
}

int pmls_fs_mkdir(const char *path, char *err, size_t errlen) {
  if (!path || !path[0]) return bad_path(err, errlen);
  if (mkdir(path, 0700) == 0) return PMLS_OK;
  struct stat st;
  if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return PMLS_OK;
  if (errno == EEXIST) errno = ENOTDIR;
  return io_error(err, errlen, path, "cannot make the directory");
}

int pmls_fs_sync(const char *path, char *err, size_t errlen) {
  if (!path || !path[0]) return bad_path(err, errlen);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error(err, errlen, path, "cannot open");
  int rc = fsync(fd);
  /* some file systems refuse fsync on a directory: their rename is as
   * durable as they get */
  if (rc != 0 && (errno == EINVAL || errno == EROFS)) rc = 0;
  int saved = errno;
  close(fd);
  errno = saved;
  return rc ? io_error(err, errlen, path, "cannot sync") : PMLS_OK;
}

int pmls_fs_rename(const char *from, const char *to, char *err, size_t errlen) {
  if (!from || !from[0] || !to || !to[0]) return bad_path(err, errlen);
  if (rename(from, to) != 0) return io_error(err, errlen, from, "cannot rename");
  char dir[4096];
  const char *slash = strrchr(to, '/');
  if (!slash) snprintf(dir, sizeof dir, ".");
  else if (slash == to) snprintf(dir, sizeof dir, "/");
  else if ((size_t)(slash - to) < sizeof dir) snprintf(dir, sizeof dir, "%.*s", (int)(slash - to), to);
  else {
    errno = ENAMETOOLONG;
    return io_error(err, errlen, to, "cannot sync its directory");
  }
  return pmls_fs_sync(dir, err, errlen);
}

/* ---- finding the snapshot to resume from --------------------------------- */

#define MANIFEST_MAX (1 << 20) /* a manifest is a few lines a worker */
#define FORMAT "pmls-checkpoint 1"

/* The whole of a small file, NUL-terminated, or NULL (errno set). */
static char *slurp(const char *path, size_t max, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = malloc(max + 1);
  size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
  fclose(f);
  if (!buf) return NULL;
  if (n > max) {
    free(buf);
    errno = EFBIG;
    return NULL;
  }
  buf[n] = 0;
  *len = n;
  return buf;
}

static int name_ok(const char *name) {
  if (!name[0] || name[0] == '.') return 0;
  for (const char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
      return 0;
  return 1;
}

/* Checks dir/name: 0 and *out filled, or -1 with why. */
static int check_snapshot(const char *dir, const char *name, pmls_snapshot *out,
                          char *why, size_t whylen) {
  char path[4096 + 64];
  if ((size_t)snprintf(out->path, sizeof out->path, "%s/%s", dir, name) >= sizeof out->path) {
    snprintf(why, whylen, "%s/%s: path too long", dir, name);
    return -1;
  }
  snprintf(path, sizeof path, "%s/manifest", out->path);
  size_t len;
  char *text = slurp(path, MANIFEST_MAX, &len);
  if (!text) {
    snprintf(why, whylen, "%s: no manifest (the snapshot was not finished)", out->path);
    return -1;
  }
  int rc = -1, line = 0, ended = 0, have = 0;
  char *save = NULL;
  for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    line++;
    char key[32], arg[256];
    long long v;
    if (ended) {
      snprintf(why, whylen, "%s:%d: text after 'end'", path, line);
      goto out;
    }
    if (line == 1) {
      if (strcmp(l, FORMAT) != 0) {
        snprintf(why, whylen, "%s:1: not a '" FORMAT "' manifest", path);
        goto out;
      }
    } else if (strcmp(l, "end") == 0) {
      ended = 1;
    } else if (sscanf(l, "file %255s %lld", arg, &v) == 2) {
      struct stat st;
      if (!name_ok(arg) || v < 0) {
        snprintf(why, whylen, "%s:%d: bad file entry", path, line);
        goto out;
      }
      snprintf(path, sizeof path, "%s/%s", out->path, arg);
      if (stat(path, &st) != 0 || (long long)st.st_size != v) {
        if (stat(path, &st) != 0)
          snprintf(why, whylen, "%s: missing", path);
        else
          snprintf(why, whylen, "%s: %lld bytes, the manifest says %lld", path,
                   (long long)st.st_size, v);
        goto out;
      }
      snprintf(path, sizeof path, "%s/manifest", out->path);
    } else if (sscanf(l, "%31s %lld", key, &v) == 2 && v >= 0 && v <= ((long long)1 << 40)) {
      if (strcmp(key, "clock") == 0) out->clock = v, have |= 1;
      else if (strcmp(key, "engine_clock") == 0) out->engine_clock = v, have |= 2;
      else if (strcmp(key, "workers") == 0 && v >= 1 && v <= 1 << 22) out->workers = (int32_t)v, have |= 4;
      else if (strcmp(key, "procs") == 0 && v >= 1 && v <= 4096) out->procs = (int32_t)v, have |= 8;
      else {
        snprintf(why, whylen, "%s:%d: unknown or bad entry '%.40s'", path, line, l);
        goto out;
      }
    } else {
      snprintf(why, whylen, "%s:%d: unknown or bad entry '%.40s'", path, line, l);
      goto out;
    }
  }
  if (!ended || have != 15)
    snprintf(why, whylen, "%s: cut short (no clock, engine_clock, workers, procs or 'end')", path);
  else
    rc = 0;
out:
  free(text);
  return rc;
}

int pmls_checkpoint_find(const char *dir, pmls_snapshot *out, char *err,
                         size_t errlen) {
  if (!dir || !dir[0] || !out) return bad_path(err, errlen);
  memset(out, 0, sizeof *out);
  char path[4096 + 16];
  snprintf(path, sizeof path, "%s/latest", dir);
  size_t len;
  char *latest = slurp(path, 4096, &len);
  if (!latest) {
    struct stat st;
    int there = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
    if (err && errlen)
      snprintf(err, errlen, "--resume %s: %s", dir,
               there ? "no checkpoint in it (no 'latest')" : "no such directory");
    return PMLS_EIO;
  }
  char why[1024];
  size_t used = 0;
  int found = 0;
  char *save = NULL;
  for (char *l = strtok_r(latest, "\n", &save); l && !found; l = strtok_r(NULL, "\n", &save)) {
    int64_t digits = (int64_t)strspn(l + (strncmp(l, "ckpt-", 5) == 0 ? 5 : 0), "0123456789");
    if (strncmp(l, "ckpt-", 5) != 0 || digits == 0 || l[5 + digits] != 0 || digits > 18)
      snprintf(why, sizeof why, "%s/latest: bad entry '%.40s'", dir, l);
    else if (check_snapshot(dir, l, out, why, sizeof why) == 0)
      found = 1;
    if (!found && used < sizeof out->refused - 1) {
      int n = snprintf(out->refused + used, sizeof out->refused - used, "%s%s",
                       used ? "; " : "", why);
      used += n > 0 ? (size_t)n : 0;
      if (used >= sizeof out->refused) used = sizeof out->refused - 1;
    }
  }
  free(latest);
  if (!found) {
    if (err && errlen)
      snprintf(err, errlen, "--resume %s: no complete checkpoint (%s)", dir,
               out->refused[0] ? out->refused : "'latest' is empty");
    return PMLS_EIO;
  }
  return PMLS_OK;
}
