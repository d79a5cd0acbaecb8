/* npy.h -- what the .npy codec (npy.c) shares with the .npz archive
 * (npz.c): the header of one array, formatted and parsed, the error text
 * and the atomic write of a file. */
#ifndef PMI_DATA_NPY_H
#define PMI_DATA_NPY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pmls.h"

/* The most header bytes a reader accepts (format 1.0's limit; numpy itself
 * writes a few hundred at most), and the preamble before them. */
#define PMI_NPY_MAX_HEADER 65535u
#define PMI_NPY_PREAMBLE_MAX 12u

/* Formats the preamble and header of `a` into hdr (PMI_NPY_PREAMBLE_MAX +
 * 256 bytes are plenty: 8 dimensions of 19 digits); returns its length
 * (a multiple of 64), or 0 for a bad array, with the reason in err. */
size_t pmi_npy_header(const pmls_array *a, char *hdr, size_t cap, char *err,
                      size_t errlen);

/* Bytes of the array's data, or -1 for a bad array. */
int64_t pmi_npy_bytes(const pmls_array *a);

/* Formats "what: ..." into err (when err and errlen) and returns code. */
int pmi_npy_fail(char *err, size_t errlen, int code, const char *what,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Opens PATH.tmp for writing (tmp: a buffer of at least strlen(path) + 5);
 * pmi_npy_commit flushes, syncs, closes it and renames it to path, or on
 * rc != PMLS_OK removes it. */
FILE *pmi_npy_create(const char *path, char *tmp, size_t tmpcap, char *err,
                     size_t errlen);
int pmi_npy_commit(FILE *f, const char *tmp, const char *path, int rc,
                   char *err, size_t errlen);

/* Reads a whole file into *out (malloc'ed); a size past max is refused
 * before anything is read. */
int pmi_npy_slurp(const char *path, size_t max, unsigned char **out,
                  size_t *len, char *err, size_t errlen);

#endif
