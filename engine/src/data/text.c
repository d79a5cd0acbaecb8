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
 * Inflating costs about twice what parsing does (figures in
 * docs/benchmarks.md, "Figures behind the code"), so a thread of the
 * reader's own inflates ahead into a few blocks while the caller parses the
 * lines of the previous ones: the read then takes about as long as
 * inflating alone. Only that thread touches
 * the file until it is joined.
 *
 * zlib's inflate is driven directly rather than through gzread, which
 * skips whatever follows the last gzip member when it is not gzip: a
 * damaged or appended-to archive would load short without a word. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "../util/util.h"
#include "data.h"

#define TEXT_BLOCK (1 << 20)
#define TEXT_BLOCKS 4 /* inflated ahead of the parser at most */
#define RAW_CHUNK (256 * 1024)

typedef struct {
  char *data;
  size_t len;
} block;

struct pmls_text {
  /* The file, which only the inflating thread reads once it started. */
  int fd;
  int gzip;               /* the content is gzip (else it is passed through) */
  unsigned char *raw;     /* bytes read from the file */
  size_t raw_len, raw_pos;
  int raw_eof;
  z_stream zs;
  int zs_ready, in_member;

  /* The inflating thread and what it hands over, under mu. */
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

/* A failure of the reading thread, to be reported after the lines that
 * came before it. */
typedef struct {
  const char *what;
  char why[PMI_ERRLEN];
} read_error;

static int read_fail(read_error *re, const char *what, const char *why) {
  re->what = what;
  snprintf(re->why, sizeof re->why, "%s", why);
  return PMLS_EIO;
}

/* Reads more raw bytes (after the unconsumed ones); raw_eof at the end. */
static int read_raw(pmls_text *t, read_error *re) {
  if (t->raw_pos < t->raw_len) {
    memmove(t->raw, t->raw + t->raw_pos, t->raw_len - t->raw_pos);
    t->raw_len -= t->raw_pos;
  } else {
    t->raw_len = 0;
  }
  t->raw_pos = 0;
  ssize_t got;
  do got = read(t->fd, t->raw + t->raw_len, RAW_CHUNK - t->raw_len);
  while (got < 0 && errno == EINTR);
  if (got < 0) return read_fail(re, "cannot read", strerror(errno));
  if (got == 0) t->raw_eof = 1;
  t->raw_len += (size_t)got;
  return PMLS_OK;
}

static int is_gzip_magic(const unsigned char *p, size_t len) {
  return len >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

/* Fills out with up to cap bytes of text; *got = 0 at the end. */
static int produce(pmls_text *t, char *out, size_t cap, size_t *got,
                   read_error *re) {
  *got = 0;
  if (!t->gzip) {
    /* Plain text: what open() read to sniff the format, then straight
     * into the block. */
    size_t n = t->raw_len - t->raw_pos < cap ? t->raw_len - t->raw_pos : cap;
    memcpy(out, t->raw + t->raw_pos, n);
    t->raw_pos += n;
    while (n < cap && !t->raw_eof) {
      ssize_t r = read(t->fd, out + n, cap - n);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        *got = n;
        return read_fail(re, "cannot read", strerror(errno));
      }
      if (r == 0) t->raw_eof = 1;
      n += (size_t)r;
    }
    *got = n;
    return PMLS_OK;
  }
  z_stream *zs = &t->zs;
  zs->next_out = (unsigned char *)out;
  zs->avail_out = (uInt)cap;
  int rc = PMLS_OK;
  while (rc == PMLS_OK && zs->avail_out > 0) {
    if (!t->in_member) {
      /* Between members: another one, or the end of the file. */
      if (t->raw_len - t->raw_pos < 2 && !t->raw_eof) {
        rc = read_raw(t, re);
        continue;
      }
      if (t->raw_pos == t->raw_len) break;
      if (!is_gzip_magic(t->raw + t->raw_pos, t->raw_len - t->raw_pos)) {
        rc = read_fail(re, "cannot decompress",
                       "trailing garbage after the compressed data");
        break;
      }
      if (inflateReset(zs) != Z_OK) {
        rc = read_fail(re, "cannot decompress", "cannot reset zlib");
        break;
      }
      t->in_member = 1;
    }
    if (t->raw_pos == t->raw_len) {
      rc = t->raw_eof ? read_fail(re, "cannot decompress", "unexpected end of file")
                      : read_raw(t, re);
      continue;
    }
    zs->next_in = t->raw + t->raw_pos;
    zs->avail_in = (uInt)(t->raw_len - t->raw_pos);
    int ret = inflate(zs, Z_NO_FLUSH);
    t->raw_pos = t->raw_len - zs->avail_in;
    if (ret == Z_STREAM_END) t->in_member = 0;
    else if (ret == Z_MEM_ERROR) rc = read_fail(re, "cannot decompress", "out of memory");
    else if (ret != Z_OK && ret != Z_BUF_ERROR)
      rc = read_fail(re, "cannot decompress", zs->msg ? zs->msg : "corrupt data");
  }
  /* What was inflated before a failure still counts: its lines come first. */
  *got = cap - zs->avail_out;
  return rc;
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
    read_error re = {NULL, ""};
    size_t got = 0;
    int rc = produce(t, b->data, TEXT_BLOCK, &got, &re);
    pthread_mutex_lock(&t->mu);
    /* Lines inflated before a failure are delivered before it. */
    if (got > 0) {
      b->len = got;
      t->count++;
    }
    if (rc != PMLS_OK || got == 0) {
      t->done = 1;
      if (rc != PMLS_OK) {
        t->read_rc = rc;
        snprintf(t->read_what, sizeof t->read_what, "%s", re.what);
        snprintf(t->read_why, sizeof t->read_why, "%s", re.why);
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
    t->fd = -1;
    t->path = strdup(path);
    t->buf = malloc(TEXT_BLOCK);
    t->cap = TEXT_BLOCK;
    t->raw = malloc(RAW_CHUNK);
    ok = t->path && t->buf && t->raw;
    for (int i = 0; ok && i < TEXT_BLOCKS; i++)
      ok = (t->blocks[i].data = malloc(TEXT_BLOCK)) != NULL;
  }
  if (!ok) {
    pmls_text_close(t);
    if (err && errlen) snprintf(err, errlen, "%s:0: out of memory", path);
    return PMLS_ENOMEM;
  }
  int rc = PMLS_OK;
  read_error re = {NULL, ""};
  t->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (t->fd < 0) {
    rc = text_fail(t, PMLS_EIO, "cannot open", strerror(errno));
  } else if (read_raw(t, &re) != PMLS_OK) {
    rc = text_fail(t, PMLS_EIO, re.what, re.why);
  } else if (is_gzip_magic(t->raw, t->raw_len)) {
    t->gzip = 1;
    if (inflateInit2(&t->zs, 15 + 16) != Z_OK) /* gzip wrapper only */
      rc = text_fail(t, PMLS_ENOMEM, "cannot decompress", "out of memory");
    else
      t->zs_ready = 1;
  } else if (has_gz_suffix(path)) {
    /* A file named .gz that is not gzip is a damaged archive, not a data
     * set to read as text. */
    rc = text_fail(t, PMLS_EIO, "cannot decompress", "not in gzip format");
  }
  if (rc == PMLS_OK) {
    if (pthread_create(&t->thread, NULL, inflater, t) != 0)
      rc = text_fail(t, PMLS_ENOMEM, "cannot read", "cannot start a thread");
    else
      t->started = 1;
  }
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

int pmi_text_check_name(const char *path, char *err, size_t errlen) {
  if (!has_gz_suffix(path)) return PMLS_OK;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  unsigned char magic[2];
  ssize_t got = fd < 0 ? -1 : read(fd, magic, sizeof magic);
  const char *what = fd < 0 ? "cannot open" : got < 0 ? "cannot read" : NULL;
  const char *why = what ? strerror(errno) : NULL;
  if (fd >= 0) close(fd);
  if (!what && is_gzip_magic(magic, got < 0 ? 0 : (size_t)got)) return PMLS_OK;
  if (err && errlen)
    snprintf(err, errlen, "%s:0: %s: %s", path, what ? what : "cannot decompress",
             what ? why : "not in gzip format");
  return PMLS_EIO;
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
  if (t->zs_ready) inflateEnd(&t->zs);
  if (t->fd >= 0) close(t->fd);
  free(t->raw);
  for (int i = 0; i < TEXT_BLOCKS; i++) free(t->blocks[i].data);
  pthread_cond_destroy(&t->filled);
  pthread_cond_destroy(&t->emptied);
  pthread_mutex_destroy(&t->mu);
  free(t->buf);
  free(t->path);
  free(t);
}
