/* ratings.c -- reads rating files (`user item rating [timestamp]`) into
 * three coordinate arrays.
 *
 * Matrix factorisation reads millions of ratings, and the Lua reader this
 * replaces cost the setup and every worker a parse of its own: on a 4.5 M
 * rating set the first clock ended 10 s into the run. Here the engine
 * parses the file once, in C over its line reader (text.c: plain or gzip),
 * and may keep the arrays (pmls_engine_read_triplets) for every thread of
 * the process, read-only.
 *
 * Whatever the Lua reader read, this reads alike, with the same messages:
 * fields split at whitespace, '#' starts a comment, blank lines skipped, 3
 * or 4 fields, ids kept as written, a finite rating, a timestamp that is a
 * number (not kept). Three rules are newer than the Lua reader, each after a
 * hand-made file passed as data: numbers are decimals (reader.c: `0x10` was
 * a rating of 16); ids stay below PMI_MAX_DIM, so that max_id + 1 rows fit
 * the arrays a model keeps (2^31 - 1 gave a raw LuaJIT error in a worker);
 * and a file with no rating is an error, not an empty set (a model divided
 * by zero and ended with exit 0 and a NaN RMSE). It also reads what the Lua reader
 * refused and MovieLens ships as CSV (ratings.csv): when the first line that
 * is not blank or a comment holds a comma, commas separate the fields of
 * every line (blanks around a field are dropped), and that first line is a
 * header when it has 3 or 4 fields that all start with a letter. No line the
 * Lua reader read has either: an id or a number never holds a comma or
 * starts with a letter. Tokens longer than 80 bytes are quoted cut, as in
 * the libsvm reader's messages.
 *
 * The usual line (3 or 4 valid fields, one separator between them, no
 * comment) is read in one scan; any other goes through the general path,
 * which says what is wrong, so both give the same answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data.h"
#include "reader.h"

#define FIELDS "'user item rating [timestamp]'"
#define ID_RANGE "(integer in [0, " PMI_MAX_ID_TEXT "] expected)"

/* The arrays as the reader fills them (pub is the first member). */
typedef struct {
  pmls_triplets pub;
  int32_t *user, *item;
  double *rating;
  int64_t n, cap, max_user, max_item;
  int started; /* the first data line (header or not) was seen */
  int64_t header_line; /* the header's line, 0 when there is none */
  int comma;   /* fields are separated by commas */
  int64_t file_bytes; /* a plain file's size (0: gzip or unknown) */
  int64_t bytes_seen; /* of the lines parsed so far */
} triplets_owned;

typedef struct {
  const char *s, *end;
} field;

/* Whitespace-separated fields of [s, end) up to a '#'; s is past leading
 * blanks. Returns how many there are; the first 4 go to out. */
static int split_blank(const char *s, const char *end, field *out) {
  int n = 0;
  while (s < end && *s != '#') {
    const char *t = s;
    while (t < end && *t != '#' && !pmi_is_space((unsigned char)*t)) t++;
    if (n < 4) out[n] = (field){s, t};
    n++;
    s = pmi_skip_spaces(t, end);
  }
  return n;
}

/* Comma-separated fields up to a '#', each without its surrounding blanks
 * (an empty field counts). */
static int split_comma(const char *s, const char *end, field *out) {
  int n = 0;
  for (;;) {
    s = pmi_skip_spaces(s, end);
    const char *t = s;
    while (t < end && *t != ',' && *t != '#') t++;
    const char *stop = t;
    while (stop > s && pmi_is_space((unsigned char)stop[-1])) stop--;
    if (n < 4) out[n] = (field){s, stop};
    n++;
    if (t == end || *t != ',') return n;
    s = t + 1;
  }
}

static int has_comma(const char *s, const char *end) {
  for (; s < end && *s != '#'; s++)
    if (*s == ',') return 1;
  return 0;
}

static int is_letter(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_header(const field *fields, int n) {
  if (n < 3 || n > 4) return 0;
  for (int i = 0; i < n; i++)
    if (fields[i].s == fields[i].end || !is_letter((unsigned char)*fields[i].s))
      return 0;
  return 1;
}

/* Room for one more rating. Doubling from a small start would copy the
 * arrays again and again and leave the freed copies resident: once the
 * first block of lines is in, a plain file's size says about how many
 * lines it has, and the arrays are sized for them (trim gives back the
 * rest; a wrong guess only means doubling from there). */
static int reserve(triplets_owned *t) {
  if (t->n < t->cap) return 0;
  int64_t cap = t->cap ? 2 * t->cap : 65536;
  if (t->cap && t->file_bytes > 0 && t->bytes_seen > 0 && t->cap == 65536) {
    double lines = (double)t->n * (double)t->file_bytes / (double)t->bytes_seen;
    int64_t guess = (int64_t)(lines * 1.02) + 4096;
    if (guess > cap) cap = guess;
  }
  if (pmi_grow((void **)&t->user, cap, sizeof *t->user) ||
      pmi_grow((void **)&t->item, cap, sizeof *t->item) ||
      pmi_grow((void **)&t->rating, cap, sizeof *t->rating))
    return -1;
  t->cap = cap;
  return 0;
}

#define QUOTED(fl) pmi_shown((fl).s, (fl).end), (fl).s

/* Ends a field: a blank or a comma, by the file's form. */
static int is_separator(const triplets_owned *t, unsigned char c) {
  return t->comma ? c == ',' : pmi_is_space(c);
}

/* An id below PMI_MAX_DIM followed by a separator; *s moves past both. */
static int fast_id(const triplets_owned *t, const char **s, const char *end,
                   int64_t *out) {
  const char *k = *s;
  int64_t v = 0;
  for (; k < end && pmi_is_digit((unsigned char)*k) && k - *s < 10; k++)
    v = v * 10 + (*k - '0');
  if (k == *s || k == end || v >= PMI_MAX_DIM || !is_separator(t, (unsigned char)*k))
    return 0;
  *s = t->comma ? k + 1 : pmi_skip_spaces(k, end);
  *out = v;
  return 1;
}

/* A number up to a separator or the end; *s moves to what ends it. 0 if
 * it is not one or a '#' or a blank in a comma-separated line ends it. */
static int fast_number(const char **s, const char *end, double *out) {
  const char *k = pmi_scan_decimal(*s, end, out);
  if (k && (k == end || pmi_is_space((unsigned char)*k) || *k == ',')) {
    *s = k;
    return 1;
  }
  k = *s;
  while (k < end && !pmi_is_space((unsigned char)*k) && *k != ',' && *k != '#')
    k++;
  if (k == *s || (k < end && *k == '#') ||
      !pmi_parse_number(*s, k, out))
    return 0;
  *s = k;
  return 1;
}

/* The usual line in one scan (s past leading blanks); 0 sends it to the
 * general path. */
static int parse_fast(triplets_owned *t, const char *s, const char *end,
                      int64_t *user, int64_t *item, double *rating) {
  double timestamp;
  if (!fast_id(t, &s, end, user) || !fast_id(t, &s, end, item) ||
      !fast_number(&s, end, rating))
    return 0;
  if (t->comma) {
    if (s < end && *s == ',') {
      s++;
      if (!fast_number(&s, end, &timestamp)) return 0;
    }
  } else if ((s = pmi_skip_spaces(s, end)) < end &&
             !fast_number(&s, end, &timestamp)) {
    return 0;
  }
  return pmi_skip_spaces(s, end) == end;
}

static int parse_line(void *state, const char *s, const char *end,
                      const pmi_failure *f) {
  triplets_owned *t = state;
  t->bytes_seen += end - s + 1;
  s = pmi_skip_spaces(s, end);
  if (s == end || *s == '#') return PMLS_OK;
  field fl[4];
  if (!t->started) {
    t->started = 1;
    t->comma = has_comma(s, end);
    if (is_header(fl, t->comma ? split_comma(s, end, fl)
                               : split_blank(s, end, fl))) {
      t->header_line = f->line;
      return PMLS_OK;
    }
  }
  int64_t user, item;
  double rating, timestamp;
  if (parse_fast(t, s, end, &user, &item, &rating)) goto keep;
  int n = t->comma ? split_comma(s, end, fl) : split_blank(s, end, fl);
  if (n < 3 || n > 4)
    return pmi_fail_at(f, PMLS_EINVAL, "expected " FIELDS ", got %d fields", n);
  if (!pmi_parse_count(fl[0].s, fl[0].end, PMI_MAX_DIM - 1, &user))
    return pmi_fail_at(f, PMLS_EINVAL, "bad user id '%.*s' " ID_RANGE,
                       QUOTED(fl[0]));
  if (!pmi_parse_count(fl[1].s, fl[1].end, PMI_MAX_DIM - 1, &item))
    return pmi_fail_at(f, PMLS_EINVAL, "bad item id '%.*s' " ID_RANGE,
                       QUOTED(fl[1]));
  if (!pmi_parse_number(fl[2].s, fl[2].end, &rating))
    return pmi_fail_at(f, PMLS_EINVAL,
                       "bad rating '%.*s' (finite decimal number expected)",
                       QUOTED(fl[2]));
  if (n == 4 && !pmi_parse_number(fl[3].s, fl[3].end, &timestamp))
    return pmi_fail_at(f, PMLS_EINVAL, "bad timestamp '%.*s' (decimal number expected)",
                       QUOTED(fl[3]));
keep:
  if (reserve(t)) return pmi_fail_at(f, PMLS_ENOMEM, "out of memory");
  t->user[t->n] = (int32_t)user;
  t->item[t->n] = (int32_t)item;
  t->rating[t->n++] = rating;
  if (user > t->max_user) t->max_user = user;
  if (item > t->max_item) t->max_item = item;
  return PMLS_OK;
}

static void owned_free(triplets_owned *t) {
  if (!t) return;
  free(t->user);
  free(t->item);
  free(t->rating);
  free(t);
}

/* The size of a file that is not gzip (its first bytes are not the gzip
 * magic), or 0. */
static int64_t plain_file_bytes(const char *path) {
  struct stat st;
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  unsigned char magic[2] = {0, 0};
  size_t got = fread(magic, 1, 2, f);
  int plain = !(got == 2 && magic[0] == 0x1f && magic[1] == 0x8b);
  int64_t size = plain && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode)
                     ? (int64_t)st.st_size : 0;
  fclose(f);
  return size;
}

/* Gives back what the doubling left unused. */
static void trim(triplets_owned *t) {
  int64_t n = t->n ? t->n : 1;
  if (n == t->cap) return;
  pmi_grow((void **)&t->user, n, sizeof *t->user);
  pmi_grow((void **)&t->item, n, sizeof *t->item);
  pmi_grow((void **)&t->rating, n, sizeof *t->rating);
}

int pmls_triplets_read(const char *path, pmls_triplets **out, char *err,
                       size_t errlen) {
  pmi_failure f = {err, errlen, path ? path : "(null)", 0};
  if (out) *out = NULL;
  if (!path || !out) return pmi_fail_at(&f, PMLS_EINVAL, "missing path or out");
  triplets_owned *t = calloc(1, sizeof *t);
  if (!t || reserve(t)) {
    owned_free(t);
    return pmi_fail_at(&f, PMLS_ENOMEM, "out of memory");
  }
  t->file_bytes = plain_file_bytes(path);
  int64_t lines;
  int rc = pmi_read_lines(path, parse_line, t, &lines, err, errlen);
  if (rc == PMLS_OK && t->n == 0) {
    f.line = t->header_line ? t->header_line : lines;
    rc = pmi_fail_at(&f, PMLS_EINVAL, "%s", t->header_line
                         ? "a header and no ratings"
                         : lines ? "no ratings (only comments and blank lines)"
                                 : "empty file (no ratings)");
  }
  if (rc != PMLS_OK) {
    owned_free(t);
    return rc;
  }
  trim(t);
  t->pub = (pmls_triplets){.n = t->n, .max_user = t->max_user,
                           .max_item = t->max_item, .user = t->user,
                           .item = t->item, .rating = t->rating};
  *out = &t->pub;
  return PMLS_OK;
}

void pmls_triplets_free(pmls_triplets *t) {
  owned_free((triplets_owned *)t); /* pub is the first member */
}

/* ---- the engine's copy (cache.c) ---------------------------------------- */

static int load_triplets(const char *path, void **out, char *err,
                         size_t errlen) {
  pmls_triplets *t = NULL;
  int rc = pmls_triplets_read(path, &t, err, errlen);
  *out = t;
  return rc;
}

static void free_triplets(void *t) { pmls_triplets_free(t); }

int pmls_engine_read_triplets(pmls_engine *e, const char *path,
                              const pmls_triplets **out, char *err,
                              size_t errlen) {
  pmi_failure f = {err, errlen, path ? path : "(null)", 0};
  if (out) *out = NULL;
  if (!e || !path || !out)
    return pmi_fail_at(&f, PMLS_EINVAL, "missing engine, path or out");
  void *t = NULL;
  int rc = pmi_data_cached(e, path, load_triplets, free_triplets, &t, err,
                           errlen);
  *out = t;
  return rc;
}
