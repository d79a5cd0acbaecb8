/* metrics.c -- what a run reports while it runs. Workers attach named values
 * to their clock() calls; server shard 0 feeds them here, and when the global
 * clock passes k the values of clock k are combined over the workers that
 * reported them (as declared: mean, sum, last, min or max), printed as one
 * progress line on stderr and appended as one JSON object to the metrics
 * file. The last object carries "final": true, each metric over the run
 * (the last clock's value; the total for sum, the least and greatest for min
 * and max), the run's totals and what the script reported after its workers
 * finished.
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

#include "metrics.h"

#define MAX_METRICS 64
#define MIN_SLOTS 16

/* One accumulator per metric is enough, since each has one kind: the sum
 * (mean, sum), the latest value (last), or the least or greatest (min, max). */
typedef struct {
  int64_t clock; /* the clock whose values these are; 0 = free */
  double acc[MAX_METRICS];
  int count[MAX_METRICS];
} clock_slot;

struct pmi_metrics {
  pthread_mutex_t mu;
  FILE *file;
  int quiet;
  double t0;
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

pmi_metrics *pmi_metrics_new(const char *path, int quiet, double t0, char *err) {
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
  return m;
}

void pmi_metrics_free(pmi_metrics *m) {
  if (!m) return;
  if (m->file) fclose(m->file);
  pthread_mutex_destroy(&m->mu);
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
  default: return acc + value; /* mean (divided at the end) and sum */
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

int pmi_metrics_report(pmi_metrics *m, int64_t clock, const char *name,
                       double value) {
  pthread_mutex_lock(&m->mu);
  int rc = PMLS_OK;
  /* completed >= 0 and clock > completed, so the difference is exact. */
  if (clock <= m->completed || clock - m->completed > PMI_METRICS_WINDOW)
    rc = PMLS_ERANGE;
  if (rc == PMLS_OK) rc = grow_ring(m, clock - m->completed);
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

/* Writes clock's line from its slot s (NULL: nothing was reported) and
 * folds its values into the run's; the caller holds mu. */
static void emit(pmi_metrics *m, int64_t clock, const clock_slot *s, double t) {
  double v[MAX_METRICS];
  int has[MAX_METRICS];
  for (int i = 0; i < m->nmetrics; i++) {
    has[i] = s && s->count[i] > 0;
    if (!has[i]) continue;
    v[i] = m->agg[i] == PMLS_AGG_MEAN ? s->acc[i] / s->count[i] : s->acc[i];
    note_bad(m, m->names[i], v[i], clock); /* a sum of finite ones may not be */
    /* Over clocks, mean and last keep the latest clock's value. */
    pmls_agg over = m->agg[i] == PMLS_AGG_MEAN ? PMLS_AGG_LAST : m->agg[i];
    m->overall[i] = m->has_overall[i] ? combine(over, m->overall[i], v[i]) : v[i];
    m->has_overall[i] = 1;
  }
  if (!m->quiet) {
    char line[1024];
    int off = snprintf(line, sizeof line, "pmls: clock %lld  %.2fs",
                       (long long)clock, t);
    for (int i = 0; i < m->nmetrics && off < (int)sizeof line - 1; i++)
      if (has[i])
        off += snprintf(line + off, sizeof line - (size_t)off, "  %s %.6g",
                        m->names[i], v[i]);
    fprintf(stderr, "%s\n", line);
  }
  if (m->file) {
    fprintf(m->file, "{\"clock\":%lld,\"time_s\":%.6f", (long long)clock, t);
    for (int i = 0; i < m->nmetrics; i++) {
      if (!has[i]) continue;
      fputc(',', m->file);
      json_string(m->file, m->names[i]);
      fputc(':', m->file);
      json_number(m->file, v[i]);
    }
    fputs("}\n", m->file);
    fflush(m->file);
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
  if (!m->quiet) {
    char line[1024];
    int off = snprintf(line, sizeof line, "pmls: done  %lld clocks  %.2fs",
                       (long long)m->completed, t);
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
  pthread_mutex_unlock(&m->mu);
  return rc;
}
