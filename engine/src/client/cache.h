/* cache.h -- the process-wide row cache shared by a process's worker
 * threads: one copy per row, with the clock it is at and the stamps (how many
 * OPLOG messages of each local worker it includes). */
#ifndef PMI_CACHE_H
#define PMI_CACHE_H

#include "../proc/proc.h"

typedef struct pmi_cache pmi_cache;

pmi_cache *pmi_cache_new(int nworkers);
void pmi_cache_free(pmi_cache *c);
/* Copies the dense row into out when the cached copy is at min_clock or
 * later; returns 1 on a hit with its clock and the stamp of `worker`. With
 * `plus` (a row of the same table), out gets the copy plus it, in one pass. */
int pmi_cache_get(pmi_cache *c, int table, const pmls_table_spec *spec,
                  int64_t row, int64_t min_clock, int worker, const void *plus,
                  void *out, int64_t *clock_out, int64_t *stamp_out);
/* A view: like get, but hands out a pointer to the cached copy itself
 * (its cols elements), which stays valid and unchanged until `worker` calls
 * pmi_cache_release: a newer copy replaces it in the map, never in place. */
int pmi_cache_view(pmi_cache *c, int table, int64_t row, int64_t min_clock,
                   int worker, const void **view, int64_t *clock_out,
                   int64_t *stamp_out);
/* The same for n rows under one lock: views[i] NULL for a miss, else the
 * copy's clock and the worker's stamp in clocks[i] and stamps[i]. Returns
 * the hits. */
int64_t pmi_cache_view_many(pmi_cache *c, int table, int64_t n,
                            const int64_t *rows, int64_t min_clock, int worker,
                            const void **views, int64_t *clocks,
                            int64_t *stamps);
/* Puts n copies of one reply (as pmi_cache_put_many) and views each under
 * the same lock: what the cache holds of the row afterwards, the copy or a
 * newer one (views[i] NULL when it could not keep the copy). */
void pmi_cache_put_view_many(pmi_cache *c, int table,
                             const pmls_table_spec *spec, int64_t n,
                             const int64_t *rows, int64_t clock,
                             const int64_t *stamps, const void *const *data,
                             int worker, const void **views, int64_t *clocks,
                             int64_t *stamps_out);
/* Forgets every cached copy (not the workers' positions): when no worker
 * of the process is running, the copies serve nobody until the next run,
 * which fetches what it needs. While a worker holds views, nothing goes. */
void pmi_cache_drop_rows(pmi_cache *c);
/* The worker is done with every view it took (at its clock()). */
void pmi_cache_release(pmi_cache *c, int worker);

/* Keeps the copy if it is newer than the one cached. */
void pmi_cache_put(pmi_cache *c, int table, const pmls_table_spec *spec,
                   int64_t row, int64_t clock, const int64_t *stamps,
                   const void *data);

/* The same for n rows of one table at one clock, under one lock: an ESSP
 * push refreshes many rows, and taking the lock per row would make the
 * workers' reads wait (and sleep) once per row. */
void pmi_cache_put_many(pmi_cache *c, int table, const pmls_table_spec *spec,
                        int64_t n, const int64_t *rows, int64_t clock,
                        const int64_t *stamps, const void *const *data);

/* Where a worker stood when its last client closed: its clock and the
 * OPLOG messages it had sent each shard (what the stamps of copies, here
 * and on the shards, count). A later client of the same worker -- the next
 * script run on the engine -- goes on from there, so clocks never restart
 * and stamps keep their meaning. save returns -1 when out of memory. */
int pmi_cache_save_position(pmi_cache *c, int worker, int64_t clock,
                            int nshards, const int64_t *seq);
/* Returns 1 and fills clock and seq (nshards entries) when one was saved. */
int pmi_cache_position(pmi_cache *c, int worker, int64_t *clock, int nshards,
                       int64_t *seq);

#endif
