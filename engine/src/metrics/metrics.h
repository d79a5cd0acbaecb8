/* metrics.h -- what a run reports while it runs (see metrics.c): values per
 * clock combined over workers, progress lines, the metrics file. */
#ifndef PMI_METRICS_H
#define PMI_METRICS_H

#include "../proc/proc.h"

/* How far past the last completed clock a report may be: the clocks that
 * may hold values at once (a power of two). */
#define PMI_METRICS_WINDOW 16384

/* Reports named PMI_STALE_PREFIX "T.B" carry a clock's count of reads of
 * table T at staleness bucket B (0..16, 16 = 16 or more); the clients send
 * them (pmls_clock), and they go into the clock's "staleness_hist". */
#define PMI_STALE_PREFIX "pmls.stale."

/* quiet: 0 progress lines and the final line, 1 the final line only, 2
 * nothing. e (NULL in tests) names the tables. */
pmi_metrics *pmi_metrics_new(const char *path, pmls_engine *e, int quiet,
                             double t0, char *err);
void pmi_metrics_free(pmi_metrics *m);
/* Clocks up to `clock` count as completed (a run resumed at that clock). */
void pmi_metrics_start_at(pmi_metrics *m, int64_t clock);
int pmi_metrics_declare(pmi_metrics *m, const char *name, pmls_agg agg);
/* PMLS_OK; PMLS_ERANGE for a clock not after the last completed one or
 * more than PMI_METRICS_WINDOW past it (refused, counted); PMLS_EINVAL for
 * a 65th name; PMLS_ENOMEM; PMLS_EVALUE for a value that is NaN or
 * infinite (kept: the run's final object then fails). */
int pmi_metrics_report(pmi_metrics *m, int64_t clock, const char *name,
                       double value);
/* Every clock up to `clock` is complete: one line for each that holds
 * values, and one for `clock` itself; at most PMI_METRICS_WINDOW + 1 lines
 * and as many steps, however far `clock` is. */
void pmi_metrics_complete(pmi_metrics *m, int64_t clock);
/* PMLS_OK, or PMLS_EVALUE for a value that is NaN or infinite (kept: it
 * fails the final object unless a finite one replaces it). */
int pmi_metrics_set_final(pmi_metrics *m, const char *name, double value);
int64_t pmi_metrics_clocks(pmi_metrics *m);
/* PMLS_EVALUE with "metric 'NAME' is NaN at clock K" (inf, -inf; "in the
 * final metrics" for clock < 0) in err when v is not finite, else PMLS_OK
 * and err untouched. */
int pmi_metrics_check(char *err, const char *name, double v, int64_t clock);
/* What the clock slots take now, and how many reports were refused. */
size_t pmi_metrics_slot_bytes(pmi_metrics *m);
int64_t pmi_metrics_refused(pmi_metrics *m);
/* The last object: run totals (st), every table's statistics from e's
 * registry, and the final values. PMLS_EVALUE, with the message in err,
 * when a value of the run (a clock's, a final one, one over the run) was
 * NaN or infinite: the object is written, with "error", and the run
 * fails; PMLS_EIO when the file cannot be written. */
int pmi_metrics_write_final(pmi_metrics *m, pmls_engine *e,
                            const pmls_stats *st, char *err);

#endif
