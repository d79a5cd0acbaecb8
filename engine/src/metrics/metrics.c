/* metrics.c -- what a run reports while it runs. Workers attach named values
 * to their clock() calls; server shard 0 feeds them here, and when the global
 * clock passes k the values of clock k are combined over the workers that
 * reported them (as declared: mean, sum, last, min or max), printed as one
 * progress line on stderr and appended as one JSON object to the metrics
 * file. The last object carries "final": true, each metric over the run
 * (the last clock's value; the total for sum, the least and greatest for min
 * and max), the run's totals and what the script reported after its workers
 * finished. JSON has no NaN or infinity, so those become null. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define MAX_METRICS 64

/* One accumulator per metric is enough, since each has one kind: the sum
 * (mean, sum), the latest value (last), or the least or greatest (min, max). */
typedef struct {
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
  clock_slot *slots; /* index clock-1 */
  int64_t nslots;
  int64_t completed;
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
  free(m->slots);
  free(m);
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

void pmi_metrics_report(pmi_metrics *m, int64_t clock, const char *name,
                        double value) {
  if (clock < 1) return;
  pthread_mutex_lock(&m->mu);
  int i = find_or_add(m, name, PMLS_AGG_MEAN);
  if (i >= 0 && clock > m->nslots) {
    int64_t n = m->nslots ? m->nslots : 16;
    while (n < clock) n *= 2;
    clock_slot *p = realloc(m->slots, (size_t)n * sizeof *p);
    if (p) {
      memset(p + m->nslots, 0, (size_t)(n - m->nslots) * sizeof *p);
      m->slots = p;
      m->nslots = n;
    }
  }
  if (i >= 0 && clock <= m->nslots) {
    clock_slot *s = &m->slots[clock - 1];
    s->acc[i] = s->count[i] ? combine(m->agg[i], s->acc[i], value) : value;
    s->count[i]++;
  }
  pthread_mutex_unlock(&m->mu);
}

static void json_number(FILE *f, double v) {
  if (isfinite(v))
    fprintf(f, "%.12g", v);
  else
    fputs("null", f);
}

void pmi_metrics_complete(pmi_metrics *m, int64_t clock) {
  pthread_mutex_lock(&m->mu);
  double t = pmi_now() - m->t0;
  clock_slot *s = clock <= m->nslots ? &m->slots[clock - 1] : NULL;
  double v[MAX_METRICS];
  int has[MAX_METRICS];
  for (int i = 0; i < m->nmetrics; i++) {
    has[i] = s && s->count[i] > 0;
    if (!has[i]) continue;
    v[i] = m->agg[i] == PMLS_AGG_MEAN ? s->acc[i] / s->count[i] : s->acc[i];
    /* Over clocks, mean and last keep the latest clock's value. */
    pmls_agg over = m->agg[i] == PMLS_AGG_MEAN ? PMLS_AGG_LAST : m->agg[i];
    m->overall[i] = m->has_overall[i] ? combine(over, m->overall[i], v[i]) : v[i];
    m->has_overall[i] = 1;
  }
  if (clock > m->completed) m->completed = clock;
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
      fprintf(m->file, ",\"%s\":", m->names[i]);
      json_number(m->file, v[i]);
    }
    fputs("}\n", m->file);
    fflush(m->file);
  }
  pthread_mutex_unlock(&m->mu);
}

void pmi_metrics_set_final(pmi_metrics *m, const char *name, double value) {
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
}

int64_t pmi_metrics_clocks(pmi_metrics *m) {
  pthread_mutex_lock(&m->mu);
  int64_t n = m->completed;
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

int pmi_metrics_write_final(pmi_metrics *m, pmls_engine *e, const pmls_stats *st) {
  int workers = e->workers;
  pthread_mutex_lock(&m->mu);
  double t = pmi_now() - m->t0;
  if (!m->quiet) {
    char line[1024];
    int off = snprintf(line, sizeof line, "pmls: done  %lld clocks  %.2fs",
                       (long long)m->completed, t);
    for (int i = 0; i < m->nfinal && off < (int)sizeof line - 1; i++)
      off += snprintf(line + off, sizeof line - (size_t)off, "  %s %.6g",
                      m->final_names[i], m->final_values[i]);
    fprintf(stderr, "%s\n", line);
  }
  int rc = PMLS_OK;
  if (m->file) {
    FILE *f = m->file;
    fprintf(f, "{\"final\":true,\"clocks\":%lld,\"time_s\":%.6f,\"workers\":%d",
            (long long)m->completed, t, workers);
    for (int i = 0; i < m->nmetrics; i++) {
      int overridden = 0;
      for (int j = 0; j < m->nfinal; j++)
        overridden |= strcmp(m->final_names[j], m->names[i]) == 0;
      if (overridden || !m->has_overall[i]) continue;
      fprintf(f, ",\"%s\":", m->names[i]);
      json_number(f, m->overall[i]);
    }
    for (int j = 0; j < m->nfinal; j++) {
      fprintf(f, ",\"%s\":", m->final_names[j]);
      json_number(f, m->final_values[j]);
    }
    fprintf(f, ",\"rows_read\":%lld,\"rows_incremented\":%lld,"
            "\"messages_sent\":%lld,\"bytes_sent\":%lld,"
            "\"messages_received\":%lld,\"bytes_received\":%lld",
            (long long)st->rows_read, (long long)st->rows_incremented,
            (long long)st->messages_sent, (long long)st->bytes_sent,
            (long long)st->messages_received, (long long)st->bytes_received);
    write_tables(f, e);
    fputs("}\n", f);
    if (fflush(f) != 0) rc = PMLS_EIO;
  }
  /* A later run on this engine (pmls_run_script again) has a final object
   * of its own: its metrics over its clocks and its own final reports.
   * Clock numbers, time and the counters go on: they are the engine's. */
  memset(m->has_overall, 0, sizeof m->has_overall);
  m->nfinal = 0;
  pthread_mutex_unlock(&m->mu);
  return rc;
}
