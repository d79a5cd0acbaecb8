/* text.c -- reads a data file line by line, plain or gzip-compressed.
 *
 * Every reader of data files (the libsvm parser here, the Lua readers of
 * Matrix Market and rating files) goes through this one source. zlib
 * inflates in process: the readers used to pipe through a `gzip -dc`
 * child, which cost a fork per read, in every worker thread, after the
 * transport had started, and needed a side file to learn gzip's exit
 * status. Here a damaged archive is reported where it is found, with the
 * line reached, so it can never load as a shorter data set. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../util/util.h"

#define TEXT_CHUNK (1 << 20)

struct pmls_text {
  gzFile in;
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

int pmls_text_open(const char *path, pmls_text **out, char *err,
                   size_t errlen) {
  if (out) *out = NULL;
  if (!path || !out) {
    if (err && errlen) snprintf(err, errlen, "missing path or out");
    return PMLS_EINVAL;
  }
  pmls_text *t = calloc(1, sizeof *t);
  if (t) t->path = strdup(path);
  if (t) t->buf = malloc(TEXT_CHUNK);
  if (!t || !t->path || !t->buf) {
    if (t) {
      free(t->path);
      free(t->buf);
      free(t);
    }
    if (err && errlen) snprintf(err, errlen, "%s:0: out of memory", path);
    return PMLS_ENOMEM;
  }
  t->cap = TEXT_CHUNK;
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
  if (rc != PMLS_OK) {
    if (err && errlen) snprintf(err, errlen, "%s", t->err);
    pmls_text_close(t);
    return rc;
  }
  *out = t;
  return PMLS_OK;
}

/* Reads more input after the unread bytes, growing the buffer when a
 * line fills it. */
static int refill(pmls_text *t) {
  if (t->start > 0) {
    memmove(t->buf, t->buf + t->start, t->end - t->start);
    t->end -= t->start;
    t->start = 0;
  }
  if (t->end == t->cap) {
    char *bigger = t->cap < (size_t)INT_MAX ? realloc(t->buf, 2 * t->cap) : NULL;
    if (!bigger) return text_fail(t, PMLS_ENOMEM, "line too long", "out of memory");
    t->buf = bigger;
    t->cap *= 2;
  }
  size_t room = t->cap - t->end;
  int got = gzread(t->in, t->buf + t->end, room > INT_MAX ? INT_MAX : (unsigned)room);
  int zerr = Z_OK;
  const char *why = got <= 0 ? gzerror(t->in, &zerr) : NULL;
  if (got < 0 || zerr != Z_OK) {
    if (zerr == Z_ERRNO) return text_fail(t, PMLS_EIO, "cannot read", strerror(errno));
    /* zlib says "PATH: unexpected end of file" for a truncated archive;
     * the path is already at the front of the message. */
    size_t plen = strlen(t->path);
    if (why && strncmp(why, t->path, plen) == 0 && strncmp(why + plen, ": ", 2) == 0)
      why += plen + 2;
    return text_fail(t, PMLS_EIO, "cannot decompress", why ? why : "unknown error");
  }
  if (got == 0) t->eof = 1;
  t->end += (size_t)got;
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
  if (t->in) gzclose_r(t->in);
  free(t->buf);
  free(t->path);
  free(t);
}
