/* text.c -- reads a data file line by line, plain or gzip-compressed.
 *
 * Every reader of data files (the libsvm parser here, the Lua readers of
 * Matrix Market and rating files) goes through this one source. zlib
 * inflates in process: the readers used to pipe through a `gzip -dc`
 * child, which cost a fork per read, in every worker thread, after the
 * transport had started, and needed a side file to learn gzip's exit
 * status. Here a damaged archive is reported where it is found, with the
 * line reached, so it can never load as a shorter data set.
 *
 * Inflating costs about twice what parsing does (20news: 40 ms against
 * 22 ms), so a thread of the reader's own inflates ahead into a few
 * blocks while the caller parses the lines of the previous ones: the read
 * then takes about as long as inflating alone. Only that thread touches
 * the gzFile until it is joined. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../util/util.h"

#define TEXT_BLOCK (1 << 20)
#define TEXT_BLOCKS 4 /* inflated ahead of the parser at most */

typedef struct {
  char *data;
  size_t len;
} block;

struct pmls_text {
  /* The inflating thread and what it hands over, under mu. */
  gzFile in;
  pthread_t thread;
  int started;
  pthread_mutex_t mu;
  pthread_cond_t filled, emptied;
  block blocks[TEXT_BLOCKS];
  int head, count;        /* filled blocks: head, head + 1, ... */
  int done, cancel;       /* done: no more blocks will come */
  int read_rc;            /* how the reading ended (PMLS_OK at the end) */
  char read_what[32], read_why[PMI_ERRLEN];

  /* The caller's side. */
  char *buf;
  size_t cap, start, end; /* unread bytes are buf[start, end) */
  int eof;
  int failed;             /* the error code returned once, then again */
  int64_t line;
  char *path;
  char err[PMI_ERRLEN];
};

static int text_fail(pmls_text *t, int code, const char *what,
                     const char *why) {
  snprintf(t->err, sizeof t->err, "%s:%lld: %s: %s", t->path,
           (long long)t->line, what, why);
  t->failed = code;
  return code;
}

static int has_gz_suffix(const char *path) {
  size_t len = strlen(path);
  return len > 3 && strcmp(path + len - 3, ".gz") == 0;
}

/* Why gzread failed, as the message to show. */
static void read_failure(pmls_text *t, char *what, size_t whatlen, char *why,
                         size_t whylen) {
  int zerr = Z_OK;
  const char *msg = gzerror(t->in, &zerr);
  if (zerr == Z_ERRNO) {
    snprintf(what, whatlen, "cannot read");
    snprintf(why, whylen, "%s", strerror(errno));
    return;
  }
  /* zlib says "PATH: unexpected end of file" for a truncated archive; the
   * path is already at the front of our message. */
  size_t plen = strlen(t->path);
  if (msg && strncmp(msg, t->path, plen) == 0 && strncmp(msg + plen, ": ", 2) == 0)
    msg += plen + 2;
  snprintf(what, whatlen, "cannot decompress");
  snprintf(why, whylen, "%s", msg && *msg ? msg : "unknown error");
}

static void *inflater(void *arg) {
  pmls_text *t = arg;
  for (;;) {
    pthread_mutex_lock(&t->mu);
    while (t->count == TEXT_BLOCKS && !t->cancel)
      pthread_cond_wait(&t->emptied, &t->mu);
    int slot = (t->head + t->count) % TEXT_BLOCKS;
    int cancel = t->cancel;
    pthread_mutex_unlock(&t->mu);
    if (cancel) break;
    block *b = &t->blocks[slot];
    int got = gzread(t->in, b->data, TEXT_BLOCK);
    int zerr = Z_OK;
    if (got <= 0) gzerror(t->in, &zerr);
    char what[32] = "", why[PMI_ERRLEN] = "";
    if (got < 0 || zerr != Z_OK) read_failure(t, what, sizeof what, why, sizeof why);
    pthread_mutex_lock(&t->mu);
    if (got > 0) {
      b->len = (size_t)got;
      t->count++;
    } else {
      t->done = 1;
      if (*what) {
        t->read_rc = PMLS_EIO;
        snprintf(t->read_what, sizeof t->read_what, "%s", what);
        snprintf(t->read_why, sizeof t->read_why, "%s", why);
      }
    }
    pthread_cond_signal(&t->filled);
    int finished = t->done;
    pthread_mutex_unlock(&t->mu);
    if (finished) break;
  }
  return NULL;
}

int pmls_text_open(const char *path, pmls_text **out, char *err,
                   size_t errlen) {
  if (out) *out = NULL;
  if (!path || !out) {
    if (err && errlen) snprintf(err, errlen, "missing path or out");
    return PMLS_EINVAL;
  }
  pmls_text *t = calloc(1, sizeof *t);
  int ok = t != NULL;
  if (ok) {
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->filled, NULL);
    pthread_cond_init(&t->emptied, NULL);
    t->path = strdup(path);
    t->buf = malloc(TEXT_BLOCK);
    t->cap = TEXT_BLOCK;
    ok = t->path && t->buf;
    for (int i = 0; ok && i < TEXT_BLOCKS; i++)
      ok = (t->blocks[i].data = malloc(TEXT_BLOCK)) != NULL;
  }
  if (!ok) {
    pmls_text_close(t);
    if (err && errlen) snprintf(err, errlen, "%s:0: out of memory", path);
    return PMLS_ENOMEM;
  }
  errno = 0;
  t->in = gzopen(path, "rb");
  int rc = PMLS_OK;
  if (!t->in)
    rc = text_fail(t, PMLS_EIO, "cannot open",
                   errno ? strerror(errno) : "out of memory");
  else if (gzbuffer(t->in, 256 * 1024), has_gz_suffix(path) && gzdirect(t->in))
    /* gzread passes data that is not gzip through as text; a file named
     * .gz that is not gzip is a damaged archive, not a data set. */
    rc = text_fail(t, PMLS_EIO, "cannot decompress", "not in gzip format");
  else if (pthread_create(&t->thread, NULL, inflater, t) != 0)
    rc = text_fail(t, PMLS_ENOMEM, "cannot read", "cannot start a thread");
  else
    t->started = 1;
  if (rc != PMLS_OK) {
    if (err && errlen) snprintf(err, errlen, "%s", t->err);
    pmls_text_close(t);
    return rc;
  }
  *out = t;
  return PMLS_OK;
}

/* Appends the next inflated block after the unread bytes, making room
 * (and growing the buffer when a line spans more than it holds). */
static int refill(pmls_text *t) {
  pthread_mutex_lock(&t->mu);
  while (t->count == 0 && !t->done) pthread_cond_wait(&t->filled, &t->mu);
  if (t->count == 0) { /* done, and every block taken */
    int rc = t->read_rc;
    pthread_mutex_unlock(&t->mu);
    if (rc != PMLS_OK) return text_fail(t, rc, t->read_what, t->read_why);
    t->eof = 1;
    return PMLS_OK;
  }
  block *b = &t->blocks[t->head];
  pthread_mutex_unlock(&t->mu);
  if (t->start > 0) {
    memmove(t->buf, t->buf + t->start, t->end - t->start);
    t->end -= t->start;
    t->start = 0;
  }
  if (t->cap - t->end < b->len) {
    size_t want = t->cap * 2 > t->end + b->len ? t->cap * 2 : t->end + b->len;
    char *bigger = realloc(t->buf, want);
    if (!bigger) return text_fail(t, PMLS_ENOMEM, "line too long", "out of memory");
    t->buf = bigger;
    t->cap = want;
  }
  memcpy(t->buf + t->end, b->data, b->len);
  t->end += b->len;
  pthread_mutex_lock(&t->mu);
  t->head = (t->head + 1) % TEXT_BLOCKS;
  t->count--;
  pthread_cond_signal(&t->emptied);
  pthread_mutex_unlock(&t->mu);
  return PMLS_OK;
}

int pmls_text_line(pmls_text *t, const char **line, size_t *len) {
  if (!t || !line || !len) return PMLS_EINVAL;
  *line = NULL;
  *len = 0;
  if (t->failed) return t->failed;
  for (;;) {
    char *from = t->buf + t->start;
    size_t have = t->end - t->start;
    char *nl = have ? memchr(from, '\n', have) : NULL;
    if (nl || (t->eof && have)) {
      size_t n = nl ? (size_t)(nl - from) : have;
      t->start += nl ? n + 1 : n;
      t->line++;
      *line = from;
      *len = n;
      return PMLS_OK;
    }
    if (t->eof) return PMLS_OK;
    int rc = refill(t);
    if (rc != PMLS_OK) return rc;
  }
}

const char *pmls_text_errmsg(const pmls_text *t) { return t ? t->err : ""; }
int64_t pmls_text_lineno(const pmls_text *t) { return t ? t->line : 0; }

void pmls_text_close(pmls_text *t) {
  if (!t) return;
  if (t->started) {
    pthread_mutex_lock(&t->mu);
    t->cancel = 1;
    pthread_cond_signal(&t->emptied);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
  }
  if (t->in) gzclose_r(t->in);
  for (int i = 0; i < TEXT_BLOCKS; i++) free(t->blocks[i].data);
  pthread_cond_destroy(&t->filled);
  pthread_cond_destroy(&t->emptied);
  pthread_mutex_destroy(&t->mu);
  free(t->buf);
  free(t->path);
  free(t);
}
