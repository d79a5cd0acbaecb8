/* msg.c -- the wire format. A message is a fixed header (magic, job id, type,
 * sender, payload length) followed by a payload written field by field in
 * the host's byte order: every PMLS node of a job runs the same build, and the
 * magic word catches a peer of the other endianness. The reader is bounds-
 * checked so a truncated or malformed message becomes an error naming its
 * type, never an out-of-bounds read. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "net.h"

const char *pmi_msg_type_name(int type) {
  static const char *const names[] = {"?",     "HELLO", "TABLE", "GET",
                                      "ROW",   "ERR",   "OPLOG", "CLOCK",
                                      "BYE",   "ACK",   "ABORT", "STOP",
                                      "WAIT",  "PUSH",  "JOIN",  "DIR",
                                      "BEAT",  "DONE",  "FINISH",
                                      "SHELLO", "ROUND", "PARTIAL",
                                      "READY", "ENDROUND", "SBYE",
                                      "INIT", "GETS", "ROWS"};
  return (type > 0 && type <= PMI_MSG_LAST) ? names[type] : "unknown";
}

void pmi_msg_begin(pmi_buf *b, uint32_t job, int type, int32_t src) {
  pmi_hdr h = {PMI_MAGIC, job, (uint16_t)type, 0, src, 0, 0};
  b->len = 0;
  pmi_buf_put(b, &h, sizeof h);
}

size_t pmi_msg_payload(const pmi_buf *b) { return b->len - sizeof(pmi_hdr); }

#define PUT(name, type)                                                        \
  int pmi_put_##name(pmi_buf *b, type v) { return pmi_buf_put(b, &v, sizeof v); }
PUT(u8, uint8_t)
PUT(u16, uint16_t)
PUT(u32, uint32_t)
PUT(i32, int32_t)
PUT(i64, int64_t)
PUT(f64, double)
#undef PUT

int pmi_put_str(pmi_buf *b, const char *s) {
  size_t n = strlen(s);
  if (n > 65535) n = 65535;
  if (pmi_put_u16(b, (uint16_t)n)) return -1;
  return pmi_buf_put(b, s, n);
}

int pmi_msg_open(const void *data, size_t len, uint32_t job, pmi_hdr *h,
                 pmi_rd *rd, char *err) {
  if (len < sizeof *h)
    return pmi_fail(err, PMLS_EPROTO, "truncated message: %zu bytes, header "
                    "needs %zu", len, sizeof *h);
  memcpy(h, data, sizeof *h);
  if (h->magic != PMI_MAGIC)
    return pmi_fail(err, PMLS_EPROTO, "malformed message: bad magic 0x%08x",
                    h->magic);
  /* Never the job id itself: it is the only secret a prober lacks. */
  if (h->job != job)
    return pmi_fail(err, PMLS_EPROTO, "message from another job");
  if (h->type < PMI_MSG_HELLO || h->type > PMI_MSG_LAST)
    return pmi_fail(err, PMLS_EPROTO, "malformed message: unknown type %u",
                    h->type);
  if ((size_t)h->len != len - sizeof *h)
    return pmi_fail(err, PMLS_EPROTO, "truncated %s message: header says %u "
                    "payload bytes, got %zu", pmi_msg_type_name(h->type),
                    h->len, len - sizeof *h);
  rd->p = (const unsigned char *)data + sizeof *h;
  rd->len = h->len;
  rd->off = 0;
  rd->bad = 0;
  return PMLS_OK;
}

void pmi_msg_dropped(_Atomic int64_t *counter, const char *who,
                     const char *why) {
  int64_t n = atomic_fetch_add(counter, 1) + 1;
  if (n <= PMI_DROPS_TOLD)
    fprintf(stderr, "pmls: %s: dropped a message: %s\n", who, why);
  else if ((n & (n - 1)) == 0)
    fprintf(stderr, "pmls: %s: dropped a message: %s (%lld dropped so far, "
            "most not told)\n", who, why, (long long)n);
}

int pmi_get_str(pmi_rd *r, char *out, size_t cap) {
  uint16_t n = pmi_get_u16(r);
  const char *p = pmi_get_bytes(r, n);
  if (!p) {
    if (cap) out[0] = 0;
    return -1;
  }
  if (cap == 0) return 0;
  size_t k = n < cap - 1 ? n : cap - 1;
  memcpy(out, p, k);
  out[k] = 0;
  return 0;
}

/* ---- TABLE specs --------------------------------------------------------- */

size_t pmi_table_row_max(const pmls_table_spec *spec) {
  size_t cols = spec->cols > 0 ? (size_t)spec->cols : 0;
  size_t elem = pmls_dtype_size(spec->dtype);
  return cols * (spec->layout == PMLS_SPARSE ? 4 + elem : elem);
}

/* The same rules as pmls_table_create, plus the one only the wire imposes:
 * a row must fit in one message. A TABLE is what sizes every row a shard
 * allocates, so nothing else stands between a bad one and the allocator. */
int pmi_table_spec_check(const pmls_table_spec *spec, int workers, char *why,
                         size_t whylen) {
  const char *bad = NULL;
  if (spec->rows < 1) bad = "rows < 1";
  else if (spec->cols < 1) bad = "cols < 1";
  else if (spec->dtype < PMLS_F64 || spec->dtype > PMLS_I64) bad = "bad dtype";
  else if (spec->layout != PMLS_DENSE && spec->layout != PMLS_SPARSE)
    bad = "bad layout";
  else if (spec->staleness < -1) bad = "bad staleness";
  else if (spec->consistency < -1 || spec->consistency > PMLS_ASYNC)
    bad = "bad consistency";
  else if (spec->init < 0 || spec->init > 2 || !(spec->init_scale >= 0) ||
           (spec->init && spec->layout == PMLS_SPARSE))
    bad = "bad init";
  if (bad) {
    snprintf(why, whylen, "bad table spec (%s)", bad);
    return -1;
  }
  size_t row = pmi_table_row_max(spec);
  if (pmi_msg_bound_row(row, workers) > (size_t)INT_MAX) {
    snprintf(why, whylen, "a row of %d columns is %zu bytes, more than one "
             "message can carry (2 GiB with its headers)", spec->cols, row);
    return -1;
  }
  return 0;
}

int pmi_table_spec_same(const pmls_table_spec *a, const pmls_table_spec *b) {
  return a->rows == b->rows && a->cols == b->cols && a->dtype == b->dtype &&
         a->layout == b->layout && a->staleness == b->staleness &&
         a->consistency == b->consistency && a->init == b->init &&
         memcmp(&a->init_scale, &b->init_scale, sizeof a->init_scale) == 0;
}
