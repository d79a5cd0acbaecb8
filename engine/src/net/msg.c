/* msg.c -- the wire format. A message is a fixed header (magic, job id, type,
 * sender, payload length) followed by a payload written field by field in
 * the host's byte order: every PMLS node of a job runs the same build, and the
 * magic word catches a peer of the other endianness. The reader is bounds-
 * checked so a truncated or malformed message becomes an error naming its
 * type, never an out-of-bounds read. */
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
  if (h->job != job)
    return pmi_fail(err, PMLS_EPROTO, "message from another job (job %08x, "
                    "this job is %08x)", h->job, job);
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

const void *pmi_get_bytes(pmi_rd *r, size_t n) {
  if (r->bad || n > r->len - r->off) {
    r->bad = 1;
    return NULL;
  }
  const void *p = r->p + r->off;
  r->off += n;
  return p;
}

#define GET(name, type)                                                        \
  type pmi_get_##name(pmi_rd *r) {                                             \
    type v = 0;                                                                \
    const void *p = pmi_get_bytes(r, sizeof v);                                \
    if (p) memcpy(&v, p, sizeof v);                                            \
    return v;                                                                  \
  }
GET(u8, uint8_t)
GET(u16, uint16_t)
GET(u32, uint32_t)
GET(i32, int32_t)
GET(i64, int64_t)
GET(f64, double)
#undef GET

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
