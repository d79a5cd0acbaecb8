/* metrics.h -- what a run reports while it runs (see metrics.c): values per
 * clock combined over workers, progress lines, the metrics file. */
#ifndef PMI_METRICS_H
#define PMI_METRICS_H

#include "../proc/proc.h"

pmi_metrics *pmi_metrics_new(const char *path, int quiet, double t0, char *err);
void pmi_metrics_free(pmi_metrics *m);
int pmi_metrics_declare(pmi_metrics *m, const char *name, pmls_agg agg);
void pmi_metrics_report(pmi_metrics *m, int64_t clock, const char *name,
                        double value);
void pmi_metrics_complete(pmi_metrics *m, int64_t clock);
void pmi_metrics_set_final(pmi_metrics *m, const char *name, double value);
int64_t pmi_metrics_clocks(pmi_metrics *m);
/* The last object: run totals (st), every table's statistics from e's
 * registry, and the final values. */
int pmi_metrics_write_final(pmi_metrics *m, pmls_engine *e, const pmls_stats *st);

#endif
