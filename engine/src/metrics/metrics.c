/* metrics.c -- what a run reports while it runs. Workers attach named values
 * to their clock() calls; server shard 0 feeds them here, and when the global
 * clock passes k the values of clock k are combined over the workers that
 * reported them (as declared: mean, sum, total, last, min or max), shown on
 * stderr as a progress line and appended as one JSON object to the metrics
 * file. A run's objects begin with its header (pmls_metrics_header: the
 * version, command line, options and deployment, so that runs appended to
 * one file can be told apart) and end with one that carries "final": true,
 * each metric's last value (a total's sum over the clocks), the run's
 * totals and what the script reported after its workers finished. Each
 * clock's object also holds the staleness histogram of every table read in
 * it: the workers send their per-clock counts as reserved reports
 * (PMI_STALE_PREFIX), which never become metrics.
 *
 * Progress lines are rate-limited (PROGRESS_GAP_S apart at most, the last
 * clock's always shown before the final line), say "clock k/N" when the
 * script declared N, and then an estimate of the time left.
 *
 * The clock numbers come off the wire, so they size nothing: the values of
 * the clocks not yet completed live in a ring that covers at most
 * PMI_METRICS_WINDOW clocks past the last completed one (workers that share
 * SSP tables are a few clocks apart; with async tables, or none, a worker
 * may run further ahead, and its reports beyond the window are refused and
 * counted). A slot is cleared when its clock completes, so the memory
 * follows the workers' spread, not the number of clocks. A NaN or infinite
 * value is never passed off as data: JSON has no such number, so it is
 * written as null, and the first one is kept, named with its clock, to fail
 * the run when its final object is written. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"

#define MAX_METRICS 64
#define MIN_SLOTS 16
#define NBUCKETS 17
#define PROGRESS_GAP_S 0.25 /* at most 4 progress lines a second */
#define CMDLINE_MAX 65536   /* of /proc/self/cmdline, for the header */

/* One accumulator per metric is enough, since each has one kind: the sum
 * (mean, sum), the latest value (last), or the least or greatest (min, max). */
typedef struct {
  int64_t clock; /* the clock whose values these are; 0 = free */
  double acc[MAX_METRICS];
  int count[MAX_METRICS];
  int64_t *hist; /* staleness counts: NBUCKETS per table, hist_tables of them */
  int hist_tables;
} clock_slot;

struct pmi_metrics {
  pthread_mutex_t mu;
  FILE *file;
  int quiet; /* 0: progress and the final line; 1: the final line; 2: none */
  double t0;
  pmls_engine *e; /* for table names; NULL in tests */
  /* Progress of the current run: clocks since `base`, of `expected` (0:
   * unknown); the first clock's time, for the estimate; the last line
   * shown and the latest one, held back by the rate limit. */
  int64_t base, expected;
  double t_first, t_shown;
  char held[1024];
  int holding;
  char names[MAX_METRICS][PMI_NAME_MAX];
  pmls_agg agg[MAX_METRICS];
  int nmetrics;
  /* Clock k at ring[k & (cap - 1)]; every clock held is in
   * (completed, completed + cap], so no two share a slot. */
  clock_slot *ring;
  int64_t cap; /* 0, or a power of two up to PMI_METRICS_WINDOW */
  int64_t completed;
  int64_t refused; /* reports outside the window */
  int bad;         /* bad_msg names the first NaN or infinite value */
  char bad_msg[PMI_ERRLEN];
  double overall[MAX_METRICS]; /* over the completed clocks, by kind */
  int has_overall[MAX_METRICS];
  char final_names[MAX_METRICS][PMI_NAME_MAX];
  double final_values[MAX_METRICS];
  int nfinal;
};

pmi_metrics *pmi_metrics_new(const char *path, pmls_engine *e, int quiet,
                              double t0, char *err) {
  pmi_metrics *m = calloc(1, sizeof *m);
  if (!m) {
    pmi_fail(err, PMLS_ENOMEM, "out of memory for metrics");
    return NULL;
  }
  if (path) {
    m->file = fopen(path, "a");
    if (!m->file) {
      pmi_fail(err, PMLS_EIO, "cannot open metrics file '%s': %s", path,
               strerror(errno));
      free(m);
      return NULL;
    }
  }
  pthread_mutex_init(&m->mu, NULL);
  m->quiet = quiet;
  m->t0 = t0;
  m->e = e;
  m->t_first = -1;
  m->t_shown = -1e30;
  return m;
}

void pmi_metrics_free(pmi_metrics *m) {
  if (!m) return;
  if (m->file) fclose(m->file);
  pthread_mutex_destroy(&m->mu);
  for (int64_t j = 0; j < m->cap; j++) free(m->ring[j].hist);
  free(m->ring);
  free(m);
}

int pmi_metrics_check(char *err, const char *name, double v, int64_t clock) {
  if (isfinite(v)) return PMLS_OK;
  const char *what = isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf";
  if (clock < 0)
    return pmi_fail(err, PMLS_EVALUE, "metric '%s' is %s in the final metrics",
                    name, what);
  return pmi_fail(err, PMLS_EVALUE, "metric '%s' is %s at clock %lld", name,
                  what, (long long)clock);
}

/* Keeps the first NaN or infinite value of the run; the caller holds mu. */
static int note_bad(pmi_metrics *m, const char *name, double v, int64_t clock) {
  char msg[PMI_ERRLEN];
  int rc = pmi_metrics_check(msg, name, v, clock);
  if (rc && !m->bad) {
    m->bad = 1;
    memcpy(m->bad_msg, msg, sizeof msg);
  }
  return rc;
}

static int find_or_add(pmi_metrics *m, const char *name, pmls_agg agg) {
  for (int i = 0; i < m->nmetrics; i++)
    if (strcmp(m->names[i], name) == 0) return i;
  if (m->nmetrics == MAX_METRICS) return -1;
  snprintf(m->names[m->nmetrics], PMI_NAME_MAX, "%s", name);
  m->agg[m->nmetrics] = agg;
  return m->nmetrics++;
}

int pmi_metrics_declare(pmi_metrics *m, const char *name, pmls_agg agg) {
  pthread_mutex_lock(&m->mu);
  int i = find_or_add(m, name, agg);
  if (i >= 0) m->agg[i] = agg;
  pthread_mutex_unlock(&m->mu);
  return i < 0 ? -1 : 0;
}

/* Folds value into acc, which holds what came before it. */
static double combine(pmls_agg agg, double acc, double value) {
  switch (agg) {
  case PMLS_AGG_LAST: return value;
  case PMLS_AGG_MIN: return value < acc ? value : acc;
  case PMLS_AGG_MAX: return value > acc ? value : acc;
  default: return acc + value; /* mean (divided at the end), sum, total */
  }
}

/* Makes the ring cover `need` clocks past the completed one (at most the
 * window), moving the slots held; the caller holds mu. */
static int grow_ring(pmi_metrics *m, int64_t need) {
  int64_t cap = m->cap ? m->cap : MIN_SLOTS;
  while (cap < need) cap *= 2;
  if (cap == m->cap) return PMLS_OK;
  clock_slot *ring = calloc((size_t)cap, sizeof *ring);
  if (!ring) return PMLS_ENOMEM;
  for (int64_t j = 0; j < m->cap; j++)
    if (m->ring[j].clock) ring[m->ring[j].clock & (cap - 1)] = m->ring[j];
  free(m->ring);
  m->ring = ring;
  m->cap = cap;
  return PMLS_OK;
}

/* A reserved report "pmls.stale.T.B" = n: n reads of table T at
 * staleness bucket B in this clock. Returns 1 and sets *t, *b and *n when
 * name and value are one (B <= 16, T < PMI_MAX_TABLES, n a count), 0 when
 * name has not the prefix, -1 when it has it but is malformed. */
static int parse_stale(const char *name, double value, int *t, int *b,
                       int64_t *n) {
  size_t len = strlen(PMI_STALE_PREFIX);
  if (strncmp(name, PMI_STALE_PREFIX, len) != 0) return 0;
  const char *p = name + len;
  char *end;
  errno = 0;
  long tv = strtol(p, &end, 10);
  if (end == p || *end != '.' || errno || tv < 0 || tv >= PMI_MAX_TABLES)
    return -1;
  p = end + 1;
  long bv = strtol(p, &end, 10);
  if (end == p || *end || errno || bv < 0 || bv >= NBUCKETS) return -1;
  if (!(value >= 0 && value <= 9007199254740992.0) || value != (double)(int64_t)value)
    return -1;
  *t = (int)tv;
  *b = (int)bv;
  *n = (int64_t)value;
  return 1;
}

static int add_stale(clock_slot *s, int t, int b, int64_t n) {
  if (t >= s->hist_tables) {
    int64_t *h = realloc(s->hist, (size_t)(t + 1) * NBUCKETS * sizeof *h);
    if (!h) return PMLS_ENOMEM;
    memset(h + (size_t)s->hist_tables * NBUCKETS, 0,
           (size_t)(t + 1 - s->hist_tables) * NBUCKETS * sizeof *h);
    s->hist = h;
    s->hist_tables = t + 1;
  }
  s->hist[(size_t)t * NBUCKETS + (size_t)b] += n;
  return PMLS_OK;
}

int pmi_metrics_report(pmi_metrics *m, int64_t clock, const char *name,
                       double value) {
  pthread_mutex_lock(&m->mu);
  int rc = PMLS_OK;
  /* completed >= 0 and clock > completed, so the difference is exact. */
  if (clock <= m->completed || clock - m->completed > PMI_METRICS_WINDOW)
    rc = PMLS_ERANGE;
  if (rc == PMLS_OK) rc = grow_ring(m, clock - m->completed);
  int t = 0, b = 0;
  int64_t n = 0;
  int stale = rc ? 0 : parse_stale(name, value, &t, &b, &n);
  if (stale < 0) rc = PMLS_EINVAL;
  if (stale > 0) {
    clock_slot *s = &m->ring[clock & (m->cap - 1)];
    s->clock = clock;
    rc = add_stale(s, t, b, n);
    if (rc == PMLS_OK) {
      pthread_mutex_unlock(&m->mu);
      return rc;
    }
  }
  int i = rc ? -1 : find_or_add(m, name, PMLS_AGG_MEAN);
  if (rc == PMLS_OK && i < 0) rc = PMLS_EINVAL;
  if (rc) {
    m->refused++;
    pthread_mutex_unlock(&m->mu);
    return rc;
  }
  clock_slot *s = &m->ring[clock & (m->cap - 1)];
  s->clock = clock; /* free, or already this clock's (see the ring) */
  s->acc[i] = s->count[i] ? combine(m->agg[i], s->acc[i], value) : value;
  s->count[i]++;
  rc = note_bad(m, name, value, clock);
  pthread_mutex_unlock(&m->mu);
  return rc;
}

/* Names come off the wire too (a CLOCK message, a scheduler's note): they
 * are escaped rather than trusted to be the safe set pmls_report checks. */
static void json_string(FILE *f, const char *str) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
    if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
    else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
    else fputc(*p, f);
  }
  fputc('"', f);
}

static void json_number(FILE *f, double v) {
  if (isfinite(v))
    fprintf(f, "%.12g", v);
  else
    fputs("null", f);
}

static void table_name(pmi_metrics *m, int t, char *out, size_t cap) {
  if (m->e && t < pmi_engine_ntables(m->e))
    snprintf(out, cap, "%s", m->e->tables[t].name);
  else
    snprintf(out, cap, "t%d", t);
}

/* "3s", "4m05s", "2h07m": how long, for people. */
static void duration(char *out, size_t cap, double s) {
  if (s < 0) s = 0;
  long long n = (long long)(s + 0.5);
  if (n < 60) snprintf(out, cap, "%llds", n);
  else if (n < 3600) snprintf(out, cap, "%lldm%02llds", n / 60, n % 60);
  else snprintf(out, cap, "%lldh%02lldm", n / 3600, n % 3600 / 60);
}

/* The progress line of clock k (at time t) into line: "clock k/N", the
 * time since the engine started, the time left once two clocks have
 * passed, and the values. */
static void progress_line(pmi_metrics *m, int64_t clock, double t,
                          const double *v, const int *has, char *line,
                          size_t cap) {
  int64_t k = clock - m->base;
  int off;
  if (m->expected > 0 && k <= m->expected) {
    off = snprintf(line, cap, "pmls: clock %lld/%lld  %.2fs", (long long)k,
                   (long long)m->expected, t);
    if (k > 1 && k < m->expected && m->t_first >= 0) {
      char left[32];
      duration(left, sizeof left,
               (t - m->t_first) / (double)(k - 1) * (double)(m->expected - k));
      off += snprintf(line + off, cap - (size_t)off, "  eta %s", left);
    }
  } else {
    off = snprintf(line, cap, "pmls: clock %lld  %.2fs", (long long)k, t);
  }
  for (int i = 0; i < m->nmetrics && off < (int)cap - 1; i++)
    if (has[i])
      off += snprintf(line + off, cap - (size_t)off, "  %s %.6g", m->names[i],
                      v[i]);
}

/* Shows the line held back by the rate limit, if any; the caller holds mu. */
static void show_held(pmi_metrics *m) {
  if (m->holding) fprintf(stderr, "%s\n", m->held);
  m->holding = 0;
}

/* Writes clock's line from its slot s (NULL: nothing was reported) and
 * folds its values into the run's; the caller holds mu. */
static void emit(pmi_metrics *m, int64_t clock, const clock_slot *s, double t) {
  double v[MAX_METRICS];
  int has[MAX_METRICS];
  if (m->t_first < 0) m->t_first = t;
  for (int i = 0; i < m->nmetrics; i++) {
    has[i] = s && s->count[i] > 0;
    if (!has[i]) continue;
    v[i] = m->agg[i] == PMLS_AGG_MEAN ? s->acc[i] / s->count[i] : s->acc[i];
    note_bad(m, m->names[i], v[i], clock); /* a sum of finite ones may not be */
    /* Over clocks, a total adds up; every other kind keeps its latest. */
    pmls_agg over = m->agg[i] == PMLS_AGG_TOTAL ? PMLS_AGG_TOTAL : PMLS_AGG_LAST;
    m->overall[i] = m->has_overall[i] ? combine(over, m->overall[i], v[i]) : v[i];
    m->has_overall[i] = 1;
  }
  if (m->quiet == 0) {
    progress_line(m, clock, t, v, has, m->held, sizeof m->held);
    m->holding = 1;
    if (t - m->t_shown >= PROGRESS_GAP_S ||
        (m->expected > 0 && clock - m->base == m->expected)) {
      show_held(m);
      m->t_shown = t;
    }
  }
  if (m->file) {
    FILE *f = m->file;
    fprintf(f, "{\"clock\":%lld,\"time_s\":%.6f", (long long)clock, t);
    for (int i = 0; i < m->nmetrics; i++) {
      if (!has[i]) continue;
      fputc(',', f);
      json_string(f, m->names[i]);
      fputc(':', f);
      json_number(f, v[i]);
    }
    int any = 0;
    for (int t2 = 0; s && t2 < s->hist_tables; t2++) {
      const int64_t *h = s->hist + (size_t)t2 * NBUCKETS;
      int64_t reads = 0;
      for (int b = 0; b < NBUCKETS; b++) reads += h[b];
      if (!reads) continue;
      char name[PMI_NAME_MAX];
      table_name(m, t2, name, sizeof name);
      fputs(any ? "," : ",\"staleness_hist\":{", f);
      any = 1;
      json_string(f, name);
      fputc(':', f);
      for (int b = 0; b < NBUCKETS; b++)
        fprintf(f, "%c%lld", b ? ',' : '[', (long long)h[b]);
      fputc(']', f);
    }
    if (any) fputc('}', f);
    fputs("}\n", f);
    fflush(f);
  }
}

void pmi_metrics_complete(pmi_metrics *m, int64_t clock) {
  pthread_mutex_lock(&m->mu);
  if (clock <= m->completed) {
    pthread_mutex_unlock(&m->mu);
    return;
  }
  double t = pmi_now() - m->t0;
  /* Only the clocks the ring covers can hold values: the steps are bounded
   * by its size, however far `clock` is. */
  int64_t n = clock - m->completed < m->cap ? clock - m->completed : m->cap;
  int done = 0;
  for (int64_t j = 1; j <= n; j++) {
    int64_t k = m->completed + j; /* <= clock: no overflow near INT64_MAX */
    clock_slot *s = &m->ring[k & (m->cap - 1)];
    if (s->clock != k) continue;
    emit(m, k, s, t);
    free(s->hist);
    memset(s, 0, sizeof *s);
    done = k == clock;
  }
  if (!done) emit(m, clock, NULL, t);
  m->completed = clock;
  pthread_mutex_unlock(&m->mu);
}

int pmi_metrics_set_final(pmi_metrics *m, const char *name, double value) {
  pthread_mutex_lock(&m->mu);
  int i;
  for (i = 0; i < m->nfinal; i++)
    if (strcmp(m->final_names[i], name) == 0) break;
  if (i < MAX_METRICS) {
    if (i == m->nfinal) {
      snprintf(m->final_names[i], PMI_NAME_MAX, "%s", name);
      m->nfinal++;
    }
    m->final_values[i] = value;
  }
  pthread_mutex_unlock(&m->mu);
  /* Checked as they stand when the final object is written: a value
   * replaced since is no failure. */
  return pmi_metrics_check(NULL, name, value, -1);
}

void pmi_metrics_start_at(pmi_metrics *m, int64_t clock) {
  pthread_mutex_lock(&m->mu);
  if (clock > m->completed) m->completed = clock;
  pthread_mutex_unlock(&m->mu);
}

int64_t pmi_metrics_clocks(pmi_metrics *m) {
  pthread_mutex_lock(&m->mu);
  int64_t n = m->completed;
  pthread_mutex_unlock(&m->mu);
  return n;
}

size_t pmi_metrics_slot_bytes(pmi_metrics *m) {
  pthread_mutex_lock(&m->mu);
  size_t n = (size_t)m->cap * sizeof(clock_slot);
  pthread_mutex_unlock(&m->mu);
  return n;
}

int64_t pmi_metrics_refused(pmi_metrics *m) {
  pthread_mutex_lock(&m->mu);
  int64_t n = m->refused;
  pthread_mutex_unlock(&m->mu);
  return n;
}

/* Per table: reads, increments, staleness statistics and traffic. */
static void write_tables(FILE *f, pmls_engine *e) {
  fputs(",\"tables\":{", f);
  int n = pmi_engine_ntables(e);
  for (int t = 0; t < n; t++) {
    pmls_table_stats ts;
    pmi_proc_table_stats(e, t, &ts);
    fprintf(f, "%s\"%s\":{\"rows_read\":%lld,\"rows_incremented\":%lld,"
            "\"cache_hits\":%lld,\"staleness_mean\":%.6g,"
            "\"staleness_var\":%.6g,\"staleness_max\":%lld,"
            "\"staleness_hist\":[", t ? "," : "", e->tables[t].name,
            (long long)ts.reads, (long long)ts.increments,
            (long long)ts.cache_hits, ts.staleness_mean, ts.staleness_var,
            (long long)ts.staleness_max);
    for (int i = 0; i < 17; i++)
      fprintf(f, "%s%lld", i ? "," : "", (long long)ts.staleness_hist[i]);
    fprintf(f, "],\"bytes_sent\":%lld,\"bytes_received\":%lld}",
            (long long)ts.bytes_sent, (long long)ts.bytes_received);
  }
  fputs("}", f);
}

int pmi_metrics_write_final(pmi_metrics *m, pmls_engine *e,
                            const pmls_stats *st, char *err) {
  int workers = e->workers;
  pthread_mutex_lock(&m->mu);
  double t = pmi_now() - m->t0;
  for (int j = 0; j < m->nfinal; j++)
    note_bad(m, m->final_names[j], m->final_values[j], -1);
  /* Over the run, a sum of finite clocks may still overflow. */
  for (int i = 0; i < m->nmetrics; i++)
    if (m->has_overall[i]) note_bad(m, m->names[i], m->overall[i], -1);
  if (m->quiet == 0) show_held(m); /* the last clock's, always */
  if (m->quiet <= 1) {
    char line[1024];
    int off = snprintf(line, sizeof line, "pmls: done  %lld clocks  %.2fs",
                       (long long)(m->completed - m->base), t);
    for (int i = 0; i < m->nfinal && off < (int)sizeof line - 1; i++)
      off += snprintf(line + off, sizeof line - (size_t)off, "  %s %.6g",
                      m->final_names[i], m->final_values[i]);
    fprintf(stderr, "%s\n", line);
  }
  int rc = m->bad ? pmi_fail(err, PMLS_EVALUE, "%s", m->bad_msg) : PMLS_OK;
  if (m->file) {
    FILE *f = m->file;
    fprintf(f, "{\"final\":true,\"clocks\":%lld,\"time_s\":%.6f,\"workers\":%d",
            (long long)m->completed, t, workers);
    if (m->bad) {
      fputs(",\"error\":", f);
      json_string(f, m->bad_msg);
    }
    for (int i = 0; i < m->nmetrics; i++) {
      int overridden = 0;
      for (int j = 0; j < m->nfinal; j++)
        overridden |= strcmp(m->final_names[j], m->names[i]) == 0;
      if (overridden || !m->has_overall[i]) continue;
      fputc(',', f);
      json_string(f, m->names[i]);
      fputc(':', f);
      json_number(f, m->overall[i]);
    }
    for (int j = 0; j < m->nfinal; j++) {
      fputc(',', f);
      json_string(f, m->final_names[j]);
      fputc(':', f);
      json_number(f, m->final_values[j]);
    }
    fprintf(f, ",\"rows_read\":%lld,\"rows_incremented\":%lld,"
            "\"messages_sent\":%lld,\"bytes_sent\":%lld,"
            "\"messages_received\":%lld,\"bytes_received\":%lld",
            (long long)st->rows_read, (long long)st->rows_incremented,
            (long long)st->messages_sent, (long long)st->bytes_sent,
            (long long)st->messages_received, (long long)st->bytes_received);
    if (m->refused)
      fprintf(f, ",\"reports_refused\":%lld", (long long)m->refused);
    write_tables(f, e);
    fputs("}\n", f);
    if (fflush(f) != 0 && rc == PMLS_OK) rc = PMLS_EIO;
  }
  /* A later run on this engine (pmls_run_script again) has a final object
   * of its own: its metrics over its clocks and its own final reports.
   * Clock numbers, time and the counters go on: they are the engine's. */
  memset(m->has_overall, 0, sizeof m->has_overall);
  m->nfinal = 0;
  m->bad = 0;
  m->base = m->completed;
  m->expected = 0;
  m->t_first = -1;
  pthread_mutex_unlock(&m->mu);
  return rc;
}

/* ---- the run's header ---------------------------------------------------- */

/* This process's command line, as a JSON array (NUL-separated in /proc). */
static void write_cmdline(FILE *f) {
  fputs(",\"command\":[", f);
  FILE *c = fopen("/proc/self/cmdline", "rb");
  char *buf = malloc(CMDLINE_MAX + 1);
  size_t n = c && buf ? fread(buf, 1, CMDLINE_MAX, c) : 0;
  if (c) fclose(c);
  if (buf) {
    buf[n] = 0;
    for (size_t i = 0; i < n; i += strlen(buf + i) + 1) {
      if (i) fputc(',', f);
      json_string(f, buf + i);
    }
  }
  free(buf);
  fputc(']', f);
}

/* The hosts of the job: each rank's name, by rank (rank 0 heard the
 * others' at the rendezvous), and for tcp the addresses the shards listen
 * on, once each. */
static void write_hosts(FILE *f, pmls_engine *e) {
  fputs(",\"hosts\":[", f);
  if (e->hosts) {
    for (int r = 0; r < e->procs; r++) {
      if (r) fputc(',', f);
      json_string(f, e->hosts[r]);
    }
  } else {
    char host[PMI_HOST_MAX];
    pmi_local_host(host);
    json_string(f, host);
  }
  fputc(']', f);
  if (e->transport != PMI_TCP || !e->server_addr) return;
  fputs(",\"addresses\":[", f);
  int n = 0;
  for (int i = 0; i < e->servers; i++) {
    const char *a = e->server_addr[i];
    if (strncmp(a, "tcp://", 6) != 0) continue;
    int len = (int)strcspn(a + 6, ":");
    int seen = 0;
    for (int j = 0; j < i && !seen; j++)
      seen = strncmp(e->server_addr[j], a, (size_t)(6 + len + 1)) == 0;
    if (seen) continue;
    char h[PMI_ADDR_MAX];
    snprintf(h, sizeof h, "%.*s", len, a + 6);
    if (n++) fputc(',', f);
    json_string(f, h);
  }
  fputc(']', f);
}

int pmls_metrics_header(pmls_engine *e, const char *options_json,
                        int64_t clocks) {
  if (!e || !e->metrics) return PMLS_EINVAL;
  if (clocks < 0)
    return pmi_fail(e->err, PMLS_EINVAL, "bad argument 'clocks' to "
                    "pmls_metrics_header (%lld: 0 or more)", (long long)clocks);
  /* Written as given: it has to be one JSON object on one line. */
  if (options_json && (options_json[0] != '{' || strchr(options_json, '\n')))
    return pmi_fail(e->err, PMLS_EINVAL, "bad argument 'options_json' to "
                    "pmls_metrics_header (one JSON object on one line)");
  pmi_metrics *m = e->metrics;
  pthread_mutex_lock(&m->mu);
  m->base = m->completed;
  m->expected = clocks;
  m->t_first = -1;
  int rc = PMLS_OK;
  if (m->file) {
    FILE *f = m->file;
    static const char *const models[] = {"ssp", "bsp", "essp", "async"};
    static const char *const transports[] = {"inproc", "ipc", "tcp"};
    int cons = e->cfg.consistency, tr = e->transport;
    char when[32] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(f, "{\"header\":true,\"version\":");
    json_string(f, pmls_version());
    fprintf(f, ",\"start_time\":\"%s\",\"first_clock\":%lld", when,
            (long long)m->completed + 1);
    if (clocks > 0) fprintf(f, ",\"clocks_expected\":%lld", (long long)clocks);
    write_cmdline(f);
    fprintf(f, ",\"options\":%s", options_json ? options_json : "{}");
    fprintf(f, ",\"procs\":%d,\"workers\":%d,\"workers_per_proc\":%d,"
            "\"servers\":%d,\"schedulers\":%d,\"transport\":\"%s\","
            "\"consistency\":\"%s\",\"staleness\":%d,\"seed\":%llu",
            e->procs, e->workers, e->local_workers, e->servers, e->schedulers,
            tr >= 0 && tr < 3 ? transports[tr] : "?",
            cons >= 0 && cons < 4 ? models[cons] : "?", e->cfg.staleness,
            (unsigned long long)e->cfg.seed);
    write_hosts(f, e);
    fputs("}\n", f);
    if (fflush(f) != 0) rc = pmi_fail(e->err, PMLS_EIO, "cannot write the metrics file: %s", strerror(errno));
  }
  pthread_mutex_unlock(&m->mu);
  return rc;
}
