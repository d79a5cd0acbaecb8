/* data.h -- what the data readers share inside the engine. */
#ifndef PMI_DATA_H
#define PMI_DATA_H

#include <stddef.h>

#include "../proc/proc.h"

/* PMLS_OK when `path` may be read as it is named: a name ending in .gz must
 * hold gzip data (as pmls_text_open requires). Otherwise PMLS_EIO with the
 * message pmls_text_open would give. Lets a cache that knows the file by
 * its content apply the rule of the name it is asked by. */
int pmi_text_check_name(const char *path, char *err, size_t errlen);

/* Frees the engine's copies of the files it read (at engine destroy). */
void pmi_datasets_free(pmls_engine *e);

#endif
