/* net.h -- messages and the nanomsg transport. Every node (server shard,
 * client) talks through these, whatever the deployment: only the address
 * scheme changes (inproc://, ipc://, tcp://). */
#ifndef PMI_NET_H
#define PMI_NET_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../util/util.h"

#define PMI_MAGIC 0x534c4d50u /* "PMLS" little-endian */

enum pmi_msg_type {
  PMI_MSG_HELLO = 1, /* client -> server: reply address */
  PMI_MSG_TABLE,     /* engine -> server: declare a table */
  PMI_MSG_GET,       /* client -> server: read a row at a minimum clock */
  PMI_MSG_ROW,       /* server -> client: a row copy and its clock */
  PMI_MSG_ERR,       /* server -> client: a request failed */
  PMI_MSG_OPLOG,     /* client -> server: coalesced increments */
  PMI_MSG_CLOCK,     /* client -> server: a worker's clock() with reports */
  PMI_MSG_BYE,       /* client -> server: done, after its last oplog */
  PMI_MSG_ACK,       /* server -> client: TABLE or BYE processed */
  PMI_MSG_ABORT,     /* client -> server: the run failed, wake every reader */
  PMI_MSG_STOP,      /* engine -> server: shut down */
  PMI_MSG_WAIT,      /* client -> server: ACK once the global clock is k */
  PMI_MSG_PUSH,      /* server -> process: fresh copies of rows it holds */
  PMI_MSG_JOIN,      /* rank -> master: here I am, these are my shards */
  PMI_MSG_DIR,       /* master -> rank: the job id and every shard's address */
  PMI_MSG_BEAT,      /* rank <-> master: still alive */
  PMI_MSG_DONE,      /* rank -> master: workers finished, with statistics */
  PMI_MSG_FINISH,    /* master -> rank: the job is over, shut down */
  PMI_MSG_SHELLO,    /* worker -> scheduler node: my round address */
  PMI_MSG_ROUND,     /* scheduler -> worker: commits, then a round (or end) */
  PMI_MSG_PARTIAL,   /* worker -> scheduler: its partial update of a round */
  PMI_MSG_READY,     /* worker -> scheduler: first pass of an agnostic round */
  PMI_MSG_ENDROUND,  /* scheduler -> worker: every worker is ready */
  PMI_MSG_SBYE,      /* worker -> scheduler: got the node's last ROUND */
  PMI_MSG_INIT,      /* client -> server: a row's first value, if untouched */
  PMI_MSG_GETS,      /* client -> server: many rows of a table at a min clock */
  PMI_MSG_ROWS,      /* server -> client: the copies a GETS asked for */
  PMI_MSG_LAST = PMI_MSG_ROWS
};

const char *pmi_msg_type_name(int type);

typedef struct {
  uint32_t magic;
  uint32_t job;  /* messages from another job are refused */
  uint16_t type;
  uint16_t flags;
  int32_t src;   /* sending client id, or -1 */
  uint32_t len;  /* payload bytes after the header: detects truncation */
  uint32_t reserved;
} pmi_hdr;

/* ---- building a message -------------------------------------------------- */

void pmi_msg_begin(pmi_buf *b, uint32_t job, int type, int32_t src);
int pmi_put_u8(pmi_buf *b, uint8_t v);
int pmi_put_u16(pmi_buf *b, uint16_t v);
int pmi_put_u32(pmi_buf *b, uint32_t v);
int pmi_put_i32(pmi_buf *b, int32_t v);
int pmi_put_i64(pmi_buf *b, int64_t v);
int pmi_put_f64(pmi_buf *b, double v);
int pmi_put_str(pmi_buf *b, const char *s); /* u16 length + bytes */
static inline int pmi_put_bytes(pmi_buf *b, const void *p, size_t n) {
  return pmi_buf_put(b, p, n);
}
size_t pmi_msg_payload(const pmi_buf *b); /* bytes after the header so far */

/* ---- reading a message --------------------------------------------------- */

/* A bounds-checked cursor: reads past the end set `bad` and return zeros, so
 * a handler decodes everything and checks `bad` once. */
typedef struct {
  const unsigned char *p;
  size_t len, off;
  int bad;
} pmi_rd;

int pmi_msg_open(const void *data, size_t len, uint32_t job, pmi_hdr *h,
                 pmi_rd *rd, char *err);
/* A node drops a message it cannot decode (or must refuse with no one to
 * answer): it is counted in *counter and told on stderr as "pmls: <who>:
 * dropped a message: <why>", the first PMI_DROPS_TOLD times and then at
 * every power of two, so a flood of garbage cannot flood the log. */
#define PMI_DROPS_TOLD 16
void pmi_msg_dropped(_Atomic int64_t *counter, const char *who,
                     const char *why);
/* A worker reports at most this many metrics per clock (pmls_report). */
#define PMI_MAX_REPORTS 64
/* Inline: a shard decodes a few fields per OPLOG entry, twice (checked,
 * then applied), and a call per field showed in its profile. */
static inline const void *pmi_get_bytes(pmi_rd *r, size_t n) { /* NULL: short */
  if (r->bad || n > r->len - r->off) {
    r->bad = 1;
    return NULL;
  }
  const void *p = r->p + r->off;
  r->off += n;
  return p;
}
#define PMI_GET(name, type)                                                    \
  static inline type pmi_get_##name(pmi_rd *r) {                               \
    type v = 0;                                                                \
    const void *p = pmi_get_bytes(r, sizeof v);                                \
    if (p) memcpy(&v, p, sizeof v);                                            \
    return v;                                                                  \
  }
PMI_GET(u8, uint8_t)
PMI_GET(u16, uint16_t)
PMI_GET(u32, uint32_t)
PMI_GET(i32, int32_t)
PMI_GET(i64, int64_t)
PMI_GET(f64, double)
#undef PMI_GET
/* Copies a u16-prefixed string into out (NUL-terminated, truncated). */
int pmi_get_str(pmi_rd *r, char *out, size_t cap);
static inline size_t pmi_rd_left(const pmi_rd *r) { return r->len - r->off; }

/* ---- what a TABLE message may declare (msg.c) --------------------------- */

/* The largest row of the table on the wire: dense, cols elements; sparse,
 * cols (key, value) pairs. */
size_t pmi_table_row_max(const pmls_table_spec *spec);
/* 0 when the spec is one the engine accepts and its row fits in a message
 * (pmi_msg_bound_row within nanomsg's INT_MAX), else -1 with why. */
int pmi_table_spec_check(const pmls_table_spec *spec, int workers, char *why,
                         size_t whylen);
/* Field by field (a spec copied from a caller's struct has unknown padding). */
int pmi_table_spec_same(const pmls_table_spec *a, const pmls_table_spec *b);

/* ---- transport ----------------------------------------------------------- */

typedef struct {
  int64_t messages_sent, bytes_sent, messages_received, bytes_received;
} pmi_traffic;

/* The receive bound (transport.c). Every PULL socket of the process refuses
 * a message longer than the largest one the job can send: at first
 * PMI_RCVMAX_CONTROL, raised by pmi_net_allow when a table or the model is
 * declared. Messages that carry rows are cut into pieces of about
 * PMI_BATCH_BYTES (OPLOG batches, ROWS replies, PUSH), but always hold one
 * row whole, so a table's bound is a piece, a row, the stamps of every
 * worker and the control bound for the headers (pmi_msg_bound_row). */
#define PMI_RCVMAX_CONTROL (1u << 20)
#define PMI_BATCH_BYTES (1u << 20)
size_t pmi_msg_bound_row(size_t row_bytes, int workers);
/* Raises the bound of every receiving socket of the process to bytes (at
 * most INT_MAX, nanomsg's limit); never lowers it. */
void pmi_net_allow(size_t bytes);
size_t pmi_net_rcvmax(void);

/* A PULL socket bound at addr, and a PUSH socket connected to addr. The PULL
 * socket takes the receive bound above. Return the socket or -1. */
int pmi_sock_pull(const char *addr, int rcvtimeo_ms, char *err);
int pmi_sock_push(const char *addr, int sndtimeo_ms, char *err);
void pmi_sock_close(int s);
void pmi_sock_set_rcvtimeo(int s, int ms);
void pmi_sock_set_sndtimeo(int s, int ms);

/* Makes b (freed first) a nanomsg message buffer: a send that succeeds
 * hands its memory to nanomsg without a copy and leaves b empty (len 0, a
 * new message at the next write); a failed one leaves it as it was. For
 * messages sent once (OPLOG batches); a buffer sent to several peers stays
 * a plain one, which every send copies. */
void pmi_msg_buf_init(pmi_buf *b);
/* The same for a buffer of replies, each built and sent to one peer: it
 * starts at a small message instead of a batch's size. */
void pmi_msg_reply_buf_init(pmi_buf *b);
int pmi_msg_buf_is(const pmi_buf *b);

/* Sends the message in b (its header length is filled in here). */
int pmi_msg_send(int sock, pmi_buf *b, pmi_traffic *t, const char *peer,
                 char *err);
/* Sockets to peers that may die are made with this send timeout, and a send
 * is retried slice by slice (pmi_msg_send_until): a wait for a dead peer
 * then ends as soon as the job knows it is dead, not at the full timeout. */
#define PMI_SEND_SLICE_MS 100
static inline int pmi_send_slice(int timeout_ms) {
  return timeout_ms < PMI_SEND_SLICE_MS ? timeout_ms : PMI_SEND_SLICE_MS;
}
/* pmi_msg_send, retried while it times out, for at most timeout_ms and
 * until *give_up is set (then the last timeout error is returned). */
int pmi_msg_send_until(int sock, pmi_buf *b, pmi_traffic *t, const char *peer,
                       char *err, int timeout_ms, const _Atomic int *give_up);
/* Sends without waiting: 0 when nanomsg took the message, -1 when the peer
 * is gone or its queue is full. For messages that may be lost (heartbeats,
 * best-effort notices), where blocking on a dead peer would be worse. */
int pmi_msg_offer(int sock, pmi_buf *b);
/* Receives one message (free it with pmi_msg_free). Returns PMLS_OK,
 * PMLS_ETIMEDOUT, or PMLS_ENET. */
int pmi_msg_recv(int sock, void **msg, size_t *len, pmi_traffic *t, char *err);
void pmi_msg_free(void *msg);

/* ---- authentication of tcp traffic (auth.c) ----------------------------- */

/* With a secret set, every message on a tcp:// socket ends with this
 * trailer (stream id, sequence number, Poly1305 tag), made in
 * pmi_msg_send / pmi_msg_offer and checked and cut off in pmi_msg_recv,
 * which drops (and counts) a message that fails. The header's length does
 * not count it, so decoders never see it. */
#define PMI_AUTH_TRAILER 32
#define PMI_SECRET_MIN 16
#define PMI_SECRET_MAX 4096
/* Derives the process's job key from the secret and the job's nonce (its
 * master address); failed messages are counted in *dropped. Setting the same
 * secret again is allowed, another one is refused (PMLS_ESTATE). */
int pmi_auth_set(const void *secret, size_t len, const char *job_nonce,
                 _Atomic int64_t *dropped, char *err);
int pmi_auth_on(void);
/* The counter goes with its engine: drops are then counted nowhere. */
void pmi_auth_forget(_Atomic int64_t *dropped);
/* transport.c's hooks: sockets on tcp:// made once a secret is set get a
 * stream (push) or a table of the streams seen (pull); -1 when the state
 * cannot be made. Sockets made before stay unauthenticated. */
int pmi_auth_sock_open(int s, const char *addr, int push);
void pmi_auth_sock_close(int s);
/* 1: the trailer is appended and the stream locked until seal_end (which
 * cuts the trailer off again, so a buffer can be sent twice); 0: this socket
 * is not authenticated; -1: out of memory. */
int pmi_auth_seal_begin(int s, pmi_buf *b);
void pmi_auth_seal_end(int s, pmi_buf *b);
/* 0 and *len without the trailer when the message verifies (or the socket
 * is not authenticated), -1 with why when it must be dropped. */
int pmi_auth_check(int s, const void *msg, size_t *len, char *why,
                   size_t whylen);
void pmi_auth_dropped(const char *why);
/* Tests: the tag over len random bytes equals libsodium's AEAD's. 1 when
 * OpenSSL's Poly1305 made it, 0 libsodium's, -1 when they differ. */
int pmi_auth_selftest(size_t len);

/* ---- IPv4 addresses (addr.c) -------------------------------------------- */

/* host name or address -> numeric address; 0 or a getaddrinfo error code
 * (gai_strerror tells it). */
int pmi_resolve_ipv4(const char *host, char *ip, size_t iplen);
/* The local address that routes to the numeric address ip; 0 or -1. */
int pmi_route_to(const char *ip, char *out, size_t outlen);
/* A port free on the local numeric address ip, or -1, held in TIME_WAIT
 * for a minute so that only a SO_REUSEADDR listener (nanomsg's) binds it;
 * another such listener may still take it first: callers retry. */
int pmi_free_tcp_port(const char *ip);

/* A host name as the rendezvous carries it (JOIN) and the metrics header
 * lists it: 1 to PMI_HOST_MAX - 1 bytes (Linux's HOST_NAME_MAX) of
 * letters, digits, '.', '-' and '_', so that a forged one can neither
 * overrun a buffer nor break a JSON string or a line of the log. */
#define PMI_HOST_MAX 65
int pmi_host_ok(const char *name);
/* This machine's host name made to pass pmi_host_ok: other bytes become
 * '_', a longer name is cut; "unknown" when the system has none. */
void pmi_local_host(char out[PMI_HOST_MAX]);

#endif
