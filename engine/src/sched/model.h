/* model.h -- the scheduled model's spec and the figures of its run, shared
 * by the scheduler nodes and the workers of a process (sched/model.c). */
#ifndef PMI_SCHED_MODEL_H
#define PMI_SCHED_MODEL_H

#include "../proc/proc.h"
#include "../metrics/metrics.h"

/* Claims worker `worker`'s rounds for a handle: a worker takes the rounds
 * of a model once (its scheduler nodes know one address per worker). */
int pmi_model_claim(pmls_engine *e, int worker, char *err);
/* The handle of `worker` is closing: *copy, its copy of the model, becomes
 * the engine's final model when it is the first that saw a round (then
 * *copy is set to NULL). */
void pmi_model_release(pmls_engine *e, int worker, double **copy,
                       int saw_rounds);
void pmi_model_finals(pmls_engine *e); /* rank 0: into the final metrics */
void pmi_model_free(pmls_engine *e);

#endif
