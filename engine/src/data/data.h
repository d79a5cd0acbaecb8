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

/* The engine's copies of the files it read (cache.c): one parse per file
 * and reader, shared read-only by the process's threads. load parses path
 * into *out (PMLS_OK) or fails with "path:LINE: what" in err; release frees
 * what it made. pmi_data_cached gives the kept parse of path, parsing it
 * first if no thread did. */
typedef int (*pmi_data_load)(const char *path, void **out, char *err,
                             size_t errlen);
typedef void (*pmi_data_free)(void *data);
int pmi_data_cached(pmls_engine *e, const char *path, pmi_data_load load,
                    pmi_data_free release, void **out, char *err,
                    size_t errlen);
/* The engine's kept pmls_csr of path, parsed by load (libsvm.c, for every
 * reader that makes one: libsvm, Matrix Market), after checking the
 * arguments of the public call. */
int pmi_engine_read_csr(pmls_engine *e, const char *path, pmi_data_load load,
                        const pmls_csr **out, char *err, size_t errlen);
/* Frees the engine's copies (at engine destroy). */
void pmi_datasets_free(pmls_engine *e);

#endif
