/* model.h -- the scheduled model's declaration as the runtime sees it. */
#ifndef PMI_SCHED_MODEL_H
#define PMI_SCHED_MODEL_H

#include "../proc/proc.h"

void pmi_model_finals(pmls_engine *e); /* rank 0: into the final metrics */
void pmi_model_free(pmls_engine *e);

#endif
