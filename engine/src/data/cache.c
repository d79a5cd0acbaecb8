/* cache.c -- the engine's copies of the data files it read.
 *
 * A model's setup, every worker and every scheduler node of a process ask
 * for the same file; parsing it once per thread would cost the process that
 * many parses and copies. So the engine keeps one parse per file and format,
 * shared read-only by the process's threads until the engine is destroyed.
 * An entry is keyed by what identifies the file's content (device, inode,
 * size, modification time), so another spelling of the path shares it and
 * a rewritten file is read again; and by the reader (its load function), so
 * one file read as two formats is two entries. The lock is held while
 * parsing: threads that want the same file wait for the one parse instead
 * of making their own. A failed read is not kept. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data.h"

struct pmi_dataset {
  pmi_dataset *next;
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
  pmi_data_load load;
  pmi_data_free release;
  void *data;
};

int pmi_data_cached(pmls_engine *e, const char *path, pmi_data_load load,
                    pmi_data_free release, void **out, char *err,
                    size_t errlen) {
  *out = NULL;
  struct stat st;
  if (stat(path, &st) != 0) {
    if (err && errlen)
      snprintf(err, errlen, "%s:0: cannot open: %s", path, strerror(errno));
    return PMLS_EIO;
  }
  /* The cache knows files by content; the .gz rule is about the name. */
  int named = pmi_text_check_name(path, err, errlen);
  if (named != PMLS_OK) return named;
  pthread_mutex_lock(&e->data_mu);
  pmi_dataset *d = e->datasets;
  for (; d; d = d->next)
    if (d->load == load && d->dev == st.st_dev && d->ino == st.st_ino &&
        d->size == st.st_size && d->mtime.tv_sec == st.st_mtim.tv_sec &&
        d->mtime.tv_nsec == st.st_mtim.tv_nsec)
      break;
  int rc = PMLS_OK;
  if (!d) {
    void *data = NULL;
    rc = load(path, &data, err, errlen);
    if (rc == PMLS_OK) {
      d = calloc(1, sizeof *d);
      if (!d) {
        release(data);
        rc = PMLS_ENOMEM;
        if (err && errlen) snprintf(err, errlen, "%s:0: out of memory", path);
      } else {
        *d = (pmi_dataset){e->datasets, st.st_dev, st.st_ino, st.st_size,
                           st.st_mtim, load, release, data};
        e->datasets = d;
      }
    }
  }
  if (d) *out = d->data;
  pthread_mutex_unlock(&e->data_mu);
  return rc;
}

void pmi_datasets_free(pmls_engine *e) {
  while (e->datasets) {
    pmi_dataset *d = e->datasets;
    e->datasets = d->next;
    d->release(d->data);
    free(d);
  }
}
