/* checkpoint.c -- the file chores that make a checkpoint durable: making a
 * directory, fsyncing a file or a directory, and a rename whose new name is
 * on disk when it returns. The snapshot itself (what is written, when, the
 * barriers around it) is lua/pmls/checkpoint.lua; Lua has no fsync and no
 * mkdir, and a snapshot is only "the last complete one" if its files and
 * its name survive a crash in that order: files synced, then the
 * directory renamed, then the directory holding it synced
 * (docs/fault-tolerance.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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
