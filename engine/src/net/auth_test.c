/* auth_test.c -- the MACs of tcp traffic (auth.c) through the transport: a
 * message sealed by a holder of the secret arrives whole and unchanged; one
 * without a trailer, with a made-up one, altered in any part, cut short,
 * sent to another port, replayed or reordered is dropped, counted, and the
 * wait goes on to the receive timeout. Raw nanomsg sockets (not the
 * transport's) play the outsider and the replayer; the replayed bytes are
 * real sealed messages, so the refusals come from the sequence check. */
#include <stdlib.h>
#include <string.h>

#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>

#include "harness.h"
#include "net.h"

#define JOB 0x1234abcdu

static _Atomic int64_t dropped;
static const char secret[] = "a test secret of more than sixteen bytes";

static void addr_of(char *out, size_t cap) {
  int port = pmi_free_tcp_port("127.0.0.1");
  snprintf(out, cap, "tcp://127.0.0.1:%d", port);
}

static int raw_push(const char *addr) {
  int s = nn_socket(AF_SP, NN_PUSH);
  nn_connect(s, addr);
  return s;
}

static void build(pmi_buf *b, int64_t v) {
  pmi_msg_begin(b, JOB, PMI_MSG_CLOCK, 3);
  pmi_put_i64(b, v);
  pmi_put_str(b, "reports");
  ((pmi_hdr *)b->data)->len = (uint32_t)(b->len - sizeof(pmi_hdr));
}

/* The bytes `push` would send for b: sealed (one sequence number used), not
 * sent. */
static unsigned char *sealed(int push, pmi_buf *b, size_t *n) {
  if (pmi_auth_seal_begin(push, b) != 1) abort();
  *n = b->len;
  unsigned char *p = malloc(*n);
  memcpy(p, b->data, *n);
  pmi_auth_seal_end(push, b);
  return p;
}

/* Receives one message: 1 and its clock value when one verified, 0 when
 * the wait timed out, -1 on anything else. */
static int got(int pull, int64_t *v) {
  char err[PMI_ERRLEN];
  void *msg = NULL;
  size_t len = 0;
  int rc = pmi_msg_recv(pull, &msg, &len, NULL, err);
  if (rc == PMLS_ETIMEDOUT) return 0;
  if (rc != PMLS_OK) return -1;
  pmi_hdr h;
  pmi_rd rd;
  rc = pmi_msg_open(msg, len, JOB, &h, &rd, err);
  *v = pmi_get_i64(&rd);
  pmi_msg_free(msg);
  return rc == PMLS_OK ? 1 : -1;
}

static void t_secret_rules(void) {
  char err[PMI_ERRLEN] = "";
  CHECK_EQ_INT(pmi_auth_set("short", 5, "job", &dropped, err), PMLS_EINVAL);
  CHECK_STR_CONTAINS(err, "16 to 4096 bytes");
  CHECK(!pmi_auth_on());
  CHECK_EQ_INT(pmi_auth_set(secret, sizeof secret, "job", &dropped, err), PMLS_OK);
  CHECK(pmi_auth_on());
  CHECK_EQ_INT(pmi_auth_set(secret, sizeof secret, "job", &dropped, err), PMLS_OK);
  CHECK_EQ_INT(pmi_auth_set(secret, sizeof secret, "another job", &dropped, err),
               PMLS_ESTATE);
  CHECK_STR_CONTAINS(err, "another secret");
}

static void t_roundtrip_and_trailer_hidden(void) {
  char err[PMI_ERRLEN], addr[64];
  addr_of(addr, sizeof addr);
  int pull = pmi_sock_pull(addr, 2000, err);
  int push = pmi_sock_push(addr, 2000, err);
  CHECK(pull >= 0 && push >= 0);
  pmi_buf b = {0};
  for (int i = 0; i < 3; i++) {
    build(&b, 100 + i);
    size_t before = b.len;
    CHECK_EQ_INT(pmi_msg_send(push, &b, NULL, "test", err), PMLS_OK);
    CHECK_EQ_INT(b.len, before); /* the trailer is cut off again */
  }
  for (int i = 0; i < 3; i++) {
    int64_t v = 0;
    CHECK(1 == got(pull, &v));
    CHECK_EQ_INT(v, 100 + i);
  }
  /* A message buffer is sealed in place and handed over with its trailer
   * (transport.c cuts the message to it), in sequence with the others. */
  pmi_buf m = {0};
  pmi_msg_buf_init(&m);
  for (int i = 0; i < 3; i++) {
    build(&m, 200 + i);
    CHECK_EQ_INT(pmi_msg_send(push, &m, NULL, "test", err), PMLS_OK);
    CHECK(m.data == NULL && m.len == 0);
    build(&b, 300 + i);
    CHECK_EQ_INT(pmi_msg_send(push, &b, NULL, "test", err), PMLS_OK);
  }
  for (int i = 0; i < 6; i++) {
    int64_t v = 0;
    CHECK(1 == got(pull, &v));
    CHECK_EQ_INT(v, (i % 2 ? 300 : 200) + i / 2);
  }
  CHECK_EQ_INT(atomic_load(&dropped), 0);
  pmi_buf_free(&m);
  /* inproc and ipc carry no trailer */
  CHECK_EQ_INT(pmi_auth_seal_begin(-1, &b), 0);
  pmi_buf_free(&b);
  pmi_sock_close(push);
  pmi_sock_close(pull);
}

static void t_refused(void) {
  char err[PMI_ERRLEN], addr[64], other[64];
  addr_of(addr, sizeof addr);
  addr_of(other, sizeof other);
  int pull = pmi_sock_pull(addr, 300, err);
  int pull2 = pmi_sock_pull(other, 300, err);
  int push = pmi_sock_push(addr, 2000, err);
  int raw = raw_push(addr), raw2 = raw_push(other);
  CHECK(pull >= 0 && pull2 >= 0 && push >= 0 && raw >= 0 && raw2 >= 0);
  pmi_buf b = {0};
  build(&b, 7);
  size_t n;
  unsigned char *good = sealed(push, &b, &n);
  int64_t before = atomic_load(&dropped), v = 0;

  /* no trailer, a made-up one, and each part altered or cut */
  nn_send(raw, b.data, b.len, 0);
  unsigned char *bad = malloc(n);
  memcpy(bad, good, n);
  for (size_t i = n - 16; i < n; i++) bad[i] ^= 0x5a;
  nn_send(raw, bad, n, 0);
  size_t spots[] = {0, 4, 9, sizeof(pmi_hdr) + 2, n - 32, n - 24, n - 1};
  for (size_t k = 0; k < sizeof spots / sizeof spots[0]; k++) {
    memcpy(bad, good, n);
    bad[spots[k]] ^= 1;
    nn_send(raw, bad, n, 0);
  }
  nn_send(raw, good, n - 1, 0);
  nn_send(raw, good, 20, 0);
  nn_send(raw2, good, n, 0); /* sealed for another port */
  CHECK(0 == got(pull, &v));
  CHECK(0 == got(pull2, &v));
  CHECK_EQ_INT(atomic_load(&dropped) - before,
               2 + (int64_t)(sizeof spots / sizeof spots[0]) + 3);

  /* the real one once, then its replay */
  nn_send(raw, good, n, 0);
  nn_send(raw, good, n, 0);
  CHECK(1 == got(pull, &v));
  CHECK_EQ_INT(v, 7);
  before = atomic_load(&dropped);
  CHECK(0 == got(pull, &v));
  CHECK_EQ_INT(atomic_load(&dropped) - before, 1);

  /* reordered: the later one first, the earlier one is refused */
  build(&b, 8);
  size_t n1, n2;
  unsigned char *m1 = sealed(push, &b, &n1);
  build(&b, 9);
  unsigned char *m2 = sealed(push, &b, &n2);
  nn_send(raw, m2, n2, 0);
  nn_send(raw, m1, n1, 0);
  CHECK(1 == got(pull, &v));
  CHECK_EQ_INT(v, 9);
  before = atomic_load(&dropped);
  CHECK(0 == got(pull, &v));
  CHECK_EQ_INT(atomic_load(&dropped) - before, 1);

  /* a flood of forgeries does not stretch the wait, nor hide the real one */
  for (int i = 0; i < 50; i++) nn_send(raw, b.data, b.len, 0);
  build(&b, 10);
  CHECK_EQ_INT(pmi_msg_send(push, &b, NULL, "test", err), PMLS_OK);
  CHECK(1 == got(pull, &v));
  CHECK_EQ_INT(v, 10);

  free(good);
  free(bad);
  free(m1);
  free(m2);
  pmi_buf_free(&b);
  nn_close(raw);
  nn_close(raw2);
  pmi_sock_close(push);
  pmi_sock_close(pull);
  pmi_sock_close(pull2);
}

static void t_tag_is_the_aead_tag(void) {
  static const size_t lens[] = {0, 1, 15, 16, 17, 63, 64, 1000, 4u << 20};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
    CHECK(pmi_auth_selftest(lens[i]) >= 0);
  CHECK_EQ_INT(pmi_auth_selftest(100), 1); /* OpenSSL's Poly1305 was used */
}

static const th_case cases[] = {
    {"the tag is RFC 8439 ChaCha20-Poly1305's (libsodium's AEAD) at every length", t_tag_is_the_aead_tag},
    {"secrets: too short refused, the same again allowed, another refused", t_secret_rules},
    {"a sealed message arrives whole; the sender's buffer is unchanged", t_roundtrip_and_trailer_hidden},
    {"refused: no MAC, a made-up or altered one, truncated, another port, replayed, reordered", t_refused},
};

TH_MAIN(cases)
