/* feed.c -- the process's receiver of ESSP pushes.
 *
 * Under ESSP a server sends fresh copies of the rows a process holds as soon
 * as its global clock advances, instead of waiting to be asked. They arrive
 * here, on one PULL socket per process (its address travels in every HELLO),
 * and a thread puts them into the process cache, where the workers' next
 * reads find them. A push is only an offer: the cache keeps whichever copy is
 * newer, so a late push never replaces a fresher reply, and a lost push costs
 * a cache miss, never a wrong value. */
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "feed.h"

struct pmi_feed {
  pmls_engine *e;
  int pull;
  pthread_t thread;
  _Atomic int stop;
  _Atomic int64_t rows; /* copies received, for tests and statistics */
};

/* Rows of one table put together, under one lock. */
typedef struct {
  int table;
  int64_t n, cap;
  int64_t *rows;
  const void **data;
} run;

static void flush_run(pmi_feed *f, run *r, int64_t clock, const int64_t *stamps) {
  if (r->n == 0) return;
  pmls_engine *e = f->e;
  pmi_cache_put_many(e->cache, r->table, &e->tables[r->table].spec, r->n,
                     r->rows, clock, stamps, r->data);
  atomic_fetch_add(&f->rows, r->n);
  r->n = 0;
}

static void apply_push(pmi_feed *f, pmi_rd *rd) {
  pmls_engine *e = f->e;
  int64_t clock = pmi_get_i64(rd);
  int32_t nstamps = pmi_get_i32(rd);
  if (rd->bad || nstamps != e->local_workers) return;
  const int64_t *stamps_raw = pmi_get_bytes(rd, (size_t)nstamps * 8);
  if (!stamps_raw) return;
  int64_t *stamps = malloc((size_t)nstamps * 8 + 8);
  if (!stamps) return;
  memcpy(stamps, stamps_raw, (size_t)nstamps * 8);
  int ntables = pmi_engine_ntables(e);
  run r = {-1, 0, 0, NULL, NULL};
  while (pmi_rd_left(rd) > 0 && !rd->bad) {
    int table = pmi_get_i32(rd);
    int64_t row = pmi_get_i64(rd);
    if (rd->bad || table < 0 || table >= ntables) break;
    const pmls_table_spec *spec = &e->tables[table].spec;
    if (spec->layout != PMLS_DENSE || row < 0 || row >= spec->rows) break;
    const void *data =
        pmi_get_bytes(rd, (size_t)spec->cols * pmls_dtype_size(spec->dtype));
    if (!data) break;
    if (table != r.table) {
      flush_run(f, &r, clock, stamps);
      r.table = table;
    }
    if (r.n == r.cap) {
      int64_t cap = r.cap ? 2 * r.cap : 256;
      int64_t *rows = realloc(r.rows, (size_t)cap * sizeof *rows);
      if (rows) r.rows = rows;
      const void **d = realloc(r.data, (size_t)cap * sizeof *d);
      if (d) r.data = d;
      if (!rows || !d) break; /* a lost push costs misses, not values */
      r.cap = cap;
    }
    r.rows[r.n] = row;
    r.data[r.n++] = data;
  }
  flush_run(f, &r, clock, stamps);
  free(r.rows);
  free(r.data);
  free(stamps);
}

void pmi_feed_handle(pmi_feed *f, const void *msg, size_t len) {
  char err[PMI_ERRLEN];
  pmi_hdr h;
  pmi_rd rd;
  if (pmi_msg_open(msg, len, f->e->job, &h, &rd, err) != PMLS_OK) {
    char who[48];
    snprintf(who, sizeof who, "rank %d: push receiver", f->e->rank);
    pmi_msg_dropped(&f->e->dropped, who, err);
  } else if (h.type == PMI_MSG_PUSH) {
    apply_push(f, &rd);
  } else if (h.type == PMI_MSG_STOP) {
    atomic_store(&f->stop, 1);
  }
}

static void *feed_main(void *arg) {
  pmi_feed *f = arg;
  char err[PMI_ERRLEN];
  while (!atomic_load(&f->stop)) {
    void *msg;
    size_t len;
    if (pmi_msg_recv(f->pull, &msg, &len, NULL, err) != PMLS_OK) continue;
    pmi_feed_handle(f, msg, len);
    pmi_msg_free(msg);
  }
  return NULL;
}

pmi_feed *pmi_feed_start(pmls_engine *e, char addr[PMI_ADDR_MAX], char *err) {
  pmi_feed *f = calloc(1, sizeof *f);
  if (!f) {
    pmi_fail(err, PMLS_ENOMEM, "out of memory for the push receiver");
    return NULL;
  }
  f->e = e;
  char name[32];
  snprintf(name, sizeof name, "f%d", e->rank);
  /* pmi_feed_stop wakes the thread with a STOP; the timeout only bounds
   * the wait should that message be lost. */
  f->pull = pmi_proc_bind(e, name, 1000, addr, err);
  if (f->pull < 0) {
    free(f);
    return NULL;
  }
  if (pthread_create(&f->thread, NULL, feed_main, f)) {
    pmi_sock_close(f->pull);
    free(f);
    pmi_fail(err, PMLS_ENOMEM, "cannot start the push receiver");
    return NULL;
  }
  return f;
}

void pmi_feed_stop(pmi_feed *f) {
  if (!f) return;
  atomic_store(&f->stop, 1);
  /* Without the wake-up every run would end waiting out a receive. */
  int sock = pmi_sock_push(f->e->feed_addr, 100, NULL);
  if (sock >= 0) {
    pmi_buf b = {0};
    pmi_msg_begin(&b, f->e->job, PMI_MSG_STOP, -1);
    pmi_msg_send(sock, &b, NULL, "push receiver", NULL);
    pmi_buf_free(&b);
  }
  pthread_join(f->thread, NULL);
  pmi_sock_close(sock);
  pmi_sock_close(f->pull);
  free(f);
}

int64_t pmi_feed_rows(const pmi_feed *f) {
  return f ? atomic_load(&((pmi_feed *)f)->rows) : 0;
}
