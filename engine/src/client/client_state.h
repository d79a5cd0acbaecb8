/* client_state.h -- the inside of a client, shared by the files that make
 * it up (client/ only): client.c (open, close, clocks, reports, control),
 * rows.c (reads and increments), oplog.c (sending, the oplog and the
 * history of sent increments). The argument checks are inline here because
 * every row call takes them on its hot path. */
#ifndef PMI_CLIENT_STATE_H
#define PMI_CLIENT_STATE_H

#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "client.h"

#define OPLOG_FLUSH_BYTES (8u << 20)
#define BATCH_BYTES PMI_BATCH_BYTES /* the receive bound counts on it (net.h) */
#define MAX_REPORTS PMI_MAX_REPORTS /* shard 0 drops a CLOCK with more */
/* Async tables have no read bound, but a worker keeps its sent increments
 * only this many clocks; a copy older than that is refetched. */
#define ASYNC_HORIZON 64

typedef struct hist_entry {
  struct hist_entry *next;
  int64_t seq;      /* the OPLOG message (to the row's shard) that carried it */
  int64_t interval; /* the clock interval the increments were made in */
  void *delta;      /* dense bytes, or a pmi_kv for sparse tables; NULL when
                       only the version (seq) is kept: a copy that lacks it
                       is read again from the shard instead */
  size_t bytes;     /* what delta holds, counted in hist_bytes */
} hist_entry;

/* The copies of sent increments a client keeps, over all its rows. Past
 * this, a sent increment leaves only its version in the history: memory
 * stays bounded whatever the model writes, and the rows it wrote are read
 * from their shards (whose copies hold them) until the bound passes. */
#define HIST_BYTES_MAX (16u << 20)

typedef struct {
  char name[PMI_NAME_MAX];
  double value;
} report;

typedef struct {
  void **items;
  int n, cap;
} spare_list;
typedef struct {
  hist_entry **items;
  size_t n, cap;
} spare_hist;
/* The rows of a table's oplog in the order their entries were made. A flush
 * sends them in this order, not the map's hash order: entries made one
 * after the other sit next to each other in memory (fresh or reused
 * buffers alike), so the flush reads them as a stream instead of one cache
 * and TLB miss per row, and the shard applies them in the order they were
 * written. */
typedef struct {
  int64_t row;
  void *entry; /* the map's value when made: the flush needs no lookup */
} oplog_item;
typedef struct {
  oplog_item *items;
  size_t n, cap;
  /* Entries tagged OPLOG_PAIRS since the last flush: their map value has
   * changed since it was copied here, so the flush looks them up. */
  size_t tagged;
} oplog_order;

#define SPARE_BYTES_MAX (32u << 20)

/* Where views that cannot point into the cache live until the next clock()
 * (views.c): chunks reused from the first on after each release. */
typedef struct {
  unsigned char *data;
  size_t size, used;
} arena_chunk;

typedef struct {
  arena_chunk *chunks;
  int n, cap, cur;
} view_arena;

/* Scratch of a many-row read, kept between calls. */
typedef struct {
  int32_t *shard_of; /* per row asked: its shard, -1 for a cache hit */
  int64_t *order;    /* the misses grouped by shard */
  int64_t *start;    /* per shard: where its misses begin in order */
  int64_t *received; /* per shard: rows its replies brought so far */
  const void **views; /* per row asked (and per row of a reply): its view */
  int64_t *clocks, *stamp_of; /* ... and that copy's clock and stamp */
  int64_t *ids;       /* per row of a reply: its id and data */
  const void **data;
  int64_t cap_rows, cap_order, cap_start, cap_received, cap_views, cap_clocks,
      cap_stamp_of, cap_ids, cap_data;
} many_scratch;

/* Scratch of a many-row sparse read (sparse_many.c): the rows' pairs in the
 * order their replies came, and where each row asked has its own. */
typedef struct {
  int32_t *keys;
  unsigned char *vals;
  int64_t used;     /* pairs in keys / vals */
  int64_t *at, *n;  /* per row asked */
  int64_t cap_keys, cap_vals, cap_at, cap_n;
} sparse_scratch;

struct pmls_client {
  pmls_engine *e;
  int id, worker;
  int64_t clock;
  int64_t first_clock; /* where this client started: a later run's worker
                          goes on from its last client's clock */
  int pull;
  int *push; /* per shard */
  char addr[PMI_ADDR_MAX];
  uint32_t next_req;
  pmi_rowmap oplog[PMI_MAX_TABLES];
  oplog_order order[PMI_MAX_TABLES];
  size_t oplog_bytes;
  size_t hist_bytes; /* delta copies held by the history (HIST_BYTES_MAX) */
  /* Increments already sent, per row, newest first, until a copy that holds
   * them is read or the staleness bound guarantees every copy does. */
  pmi_rowmap hist[PMI_MAX_TABLES];
  int64_t *shard_seq;   /* OPLOG messages sent to each shard */
  int64_t *stamps;      /* scratch for a reply's stamps */
  pmi_table_acc *acc;   /* per-table statistics, merged into the engine */
  int64_t last_copy_clock; /* of the last successful read, -1 before */
  int64_t clock_reads;  /* reads in the current clock, for the progress line */
  double clock_staleness;
  /* acc[t].stale_hist as of the last clock (allocated at the first): the
   * difference is the clock's histogram, sent with it (pmls_clock). */
  int64_t (*stale_sent)[PMI_STALE_BUCKETS];
  pmi_buf out;
  pmi_buf *batch; /* per shard, OPLOG messages being filled */
  report reports[MAX_REPORTS];
  int nreports;
  pmi_kv scratch; /* merges sparse rows on read */
  /* Delta buffers and history records come back here when dropped and are
   * reused, so a clock's oplog does not cost a malloc and fresh pages per
   * row. */
  spare_list spare[PMI_MAX_TABLES];
  size_t spare_bytes;
  spare_hist free_hist;
  pmi_traffic traffic;
  int64_t rows_read, rows_inc;
  view_arena arena;
  many_scratch many;
  sparse_scratch sparse;
  int deltas_out; /* delta pointers were handed out: no flush before clock() */
  int closing_clock; /* the flush is clock()'s: see pmi_oplog_batch_row */
  int failed; /* a shard refused increments: the run cannot be trusted */
  int saw_abort; /* a call failed because the run was aborted elsewhere */
  char err[PMI_ERRLEN];
};

/* Makes *p hold at least `need` elements of `elem` bytes (capacity in *cap,
 * doubled); 0, or -1 when out of memory (*p unchanged). */
static inline int pmi_grow(void **p, int64_t *cap, int64_t need, size_t elem) {
  if (need <= *cap) return 0;
  int64_t n = *cap ? *cap : 64;
  while (n < need) n *= 2;
  void *q = realloc(*p, (size_t)n * elem);
  if (!q) return -1;
  *p = q;
  *cap = n;
  return 0;
}

/* ---- argument checks: errors name the argument and its bad value --------- */

static inline const pmi_table_meta *table_of(pmls_client *c, int table) {
  int n = pmi_engine_ntables(c->e);
  if (table < 0 || table >= n) {
    pmi_fail(c->err, PMLS_EINVAL, "bad table id %d (%d table%s declared)",
             table, n, n == 1 ? "" : "s");
    return NULL;
  }
  return &c->e->tables[table];
}

/* PMLS_OK with the table in *out, or the code of what is wrong: a bad
 * table id (PMLS_EINVAL) or a row outside the table (PMLS_ERANGE). */
static inline int check_row(pmls_client *c, int table, int64_t row,
                     const pmi_table_meta **out) {
  const pmi_table_meta *t = *out = table_of(c, table);
  if (!t) return PMLS_EINVAL;
  if (row < 0 || row >= t->spec.rows)
    return pmi_fail(c->err, PMLS_ERANGE, "row %lld out of range for table "
                    "'%s' (rows 0..%lld)", (long long)row, t->name,
                    (long long)t->spec.rows - 1);
  return PMLS_OK;
}

static inline int check_col(pmls_client *c, const pmi_table_meta *t, int64_t col) {
  if (col < 0 || col >= t->spec.cols)
    return pmi_fail(c->err, PMLS_ERANGE, "column %lld out of range for table "
                    "'%s' (cols 0..%d)", (long long)col, t->name,
                    t->spec.cols - 1);
  return PMLS_OK;
}

static inline int consistency_of(const pmls_client *c, const pmi_table_meta *t) {
  return t->spec.consistency >= 0 ? t->spec.consistency : c->e->cfg.consistency;
}

/* How many clocks old a copy a read waits for may be. */
static inline int64_t bound_of(const pmls_client *c, const pmi_table_meta *t) {
  int consistency = consistency_of(c, t);
  if (consistency == PMLS_BSP) return 0;
  if (consistency == PMLS_ASYNC) return ASYNC_HORIZON;
  return t->spec.staleness >= 0 ? t->spec.staleness : c->e->cfg.staleness;
}

/* How many clocks old a cached copy may be before a read refreshes it.
 * Async reads do not wait (up to the horizon) but still refresh once per
 * clock, or a worker would never see the others' progress. */
static inline int64_t cache_bound_of(const pmls_client *c, const pmi_table_meta *t) {
  int64_t b = bound_of(c, t);
  return consistency_of(c, t) == PMLS_ASYNC ? 1 : b;
}

static inline size_t row_bytes_of(const pmi_table_meta *t) {
  return (size_t)t->spec.cols * pmls_dtype_size(t->spec.dtype);
}

/* ---- oplog.c ---- */

/* An oplog entry of a dense table carries a tag in its pointer's low bit
 * (buffers are at least 8-byte aligned): set when the row got (column,
 * delta) pairs since the last flush. Only such rows are scanned for the
 * cheaper encoding; the rest, incremented whole, go out whole unscanned. */
#define OPLOG_PAIRS ((uintptr_t)1)

static inline void *pmi_oplog_data(void *entry) {
  return (void *)((uintptr_t)entry & ~OPLOG_PAIRS);
}

void pmi_client_drop_delta(pmls_client *c, int table, const pmi_table_meta *t,
                           void *delta);
hist_entry *pmi_hist_new(pmls_client *c);
void pmi_hist_release(pmls_client *c, hist_entry *h);
/* Drops a history entry and the copy it holds. */
void pmi_hist_forget(pmls_client *c, int table, const pmi_table_meta *t,
                     hist_entry *h);
/* What a copy holding this client's OPLOG messages up to `stamp` lacks of
 * its sent increments of the row (forgetting the ones it holds): HIST_NONE,
 * HIST_ADD (copies of them all are kept: they can be added) or
 * HIST_REFRESH (some were kept as a version only: read the row from its
 * shard, whose reply holds every message sent before the read). */
enum { HIST_NONE, HIST_ADD, HIST_REFRESH };
int pmi_hist_check(pmls_client *c, int table, const pmi_table_meta *t,
                   int64_t row, int64_t stamp);
int pmi_client_aborted(pmls_client *c);
int pmi_client_send(pmls_client *c, int shard, pmi_buf *b);
int pmi_client_async_error(pmls_client *c, pmi_rd *rd);
/* Counts and tells a reply dropped as undecodable (pmi_msg_dropped). */
void pmi_client_dropped(pmls_client *c, const char *why);
int pmi_client_await(pmls_client *c, uint32_t req, int want, const char *what,
                     void **msg_out, pmi_rd *rd_out);
/* The same for a reply to any of the requests [req, req + span). */
int pmi_client_await_span(pmls_client *c, uint32_t req, uint32_t span, int want,
                          const char *what, void **msg_out, pmi_rd *rd_out);
void **pmi_oplog_row(pmls_client *c, int table, const pmi_table_meta *t,
                     int64_t row);
/* The same, but a dense entry it makes is not zeroed and *fresh says so:
 * the caller writes every element (pmls_inc_dense copies its first delta
 * instead of adding it to zeros, one pass over the row instead of two). */
void **pmi_oplog_row_fresh(pmls_client *c, int table, const pmi_table_meta *t,
                           int64_t row, int *fresh);
int pmi_oplog_batch_row(pmls_client *c, int table, const pmi_table_meta *t,
                        int64_t row, void *entry);
int pmi_oplog_flush(pmls_client *c);
int pmi_oplog_maybe_flush(pmls_client *c);
void pmi_hist_drop(pmls_client *c, int table, int64_t before, int64_t upto_seq);
int pmi_hist_apply(pmls_client *c, int table, const pmi_table_meta *t,
                   int64_t row, int64_t stamp, void *out, pmi_kv *merged);
void pmi_client_record_staleness(pmls_client *c, int table, int64_t copy_clock);

/* ---- views.c ---- */

/* Ends every view of the client (the cache's holds, the arena). */
/* A many-row read's fan-out and fan-in (views.c): c->many.order and start
 * hold the rows grouped by shard; take() reads one ROWS piece of shard's
 * rows order[0 .. count) (rd at the piece's start, which says where in
 * them it starts) and says how many it took, or that it was malformed. */
typedef int (*piece_fn)(pmls_client *c, void *arg, int shard,
                        const int64_t *order, int64_t count, pmi_rd *rd,
                        int64_t *got, int *malformed);
int pmi_gets_many(pmls_client *c, int table, const pmi_table_meta *t,
                  const int64_t *rows, int64_t total, int64_t min_clock,
                  int32_t nstamps, piece_fn take, void *arg);
void pmi_views_release(pmls_client *c);
void pmi_views_free(pmls_client *c);

#endif
