/* transport_test.c -- the inproc guard of transport.c: a connect and sends
 * to a PULL socket that another thread closes at that moment (what a run's
 * threads do when one fails) neither crash nor hang, however the two
 * interleave; and a send that waits for room still waits its socket's
 * timeout, or until the receiver reads, without holding a close up. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "net.h"

typedef struct {
  char addr[64];
  pthread_barrier_t go;
  int sent;
} racer;

static void *connect_and_send(void *arg) {
  racer *r = arg;
  char err[PMI_ERRLEN];
  pthread_barrier_wait(&r->go);
  int s = pmi_sock_push(r->addr, 0, err);
  if (s >= 0) {
    pmi_buf b = {0};
    for (int k = 0; k < 4; k++) {
      pmi_msg_begin(&b, 7, PMI_MSG_OPLOG, 1);
      r->sent += pmi_msg_offer(s, &b) == 0;
    }
    pmi_buf_free(&b);
    pmi_sock_close(s);
  }
  return NULL;
}

static void t_close_races_connect_and_send(void) {
  char err[PMI_ERRLEN];
  int survived = 0;
  for (int i = 0; i < 3000; i++) {
    racer r = {.sent = 0};
    snprintf(r.addr, sizeof r.addr, "inproc://transport-test-%d", i);
    int pull = pmi_sock_pull(r.addr, 0, err);
    CHECK(pull >= 0);
    pthread_barrier_init(&r.go, NULL, 2);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, connect_and_send, &r) == 0);
    pthread_barrier_wait(&r.go);
    pmi_sock_close(pull);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&r.go);
    survived++;
  }
  CHECK_EQ_INT(survived, 3000);
}

typedef struct {
  int sock;
  int rc;
  double waited;
} blocked_send;

static void *send_one(void *arg) {
  blocked_send *bs = arg;
  char err[PMI_ERRLEN];
  pmi_buf b = {0};
  pmi_msg_begin(&b, 7, PMI_MSG_OPLOG, 1);
  double t0 = pmi_now();
  bs->rc = pmi_msg_send(bs->sock, &b, NULL, "the test", err);
  bs->waited = pmi_now() - t0;
  pmi_buf_free(&b);
  return NULL;
}

/* Fills the pipe to pull until a send without waiting is refused. */
static int fill(int push) {
  pmi_buf b = {0};
  int n = 0;
  for (;;) {
    pmi_msg_begin(&b, 7, PMI_MSG_OPLOG, 1);
    for (int k = 0; k < 1024; k++) pmi_put_i64(&b, k);
    if (pmi_msg_offer(push, &b) != 0) break;
    n++;
  }
  pmi_buf_free(&b);
  return n;
}

static void t_blocked_send_waits_outside_the_lock(void) {
  char err[PMI_ERRLEN];
  const char *addr = "inproc://transport-test-full";
  int pull = pmi_sock_pull(addr, 2000, err);
  int push = pmi_sock_push(addr, 300, err);
  CHECK(pull >= 0 && push >= 0);
  CHECK(fill(push) > 0);

  /* Nobody reads: the send ends at its timeout, as nanomsg's own would. */
  blocked_send bs = {.sock = push};
  pthread_t t;
  CHECK(pthread_create(&t, NULL, send_one, &bs) == 0);
  /* Meanwhile another inproc socket closes at once. */
  struct timespec nap = {0, 50 * 1000 * 1000};
  nanosleep(&nap, NULL);
  int other = pmi_sock_pull("inproc://transport-test-other", 0, err);
  CHECK(other >= 0);
  double t0 = pmi_now();
  pmi_sock_close(other);
  CHECK(pmi_now() - t0 < 0.1);
  pthread_join(t, NULL);
  CHECK_EQ_INT(bs.rc, PMLS_ETIMEDOUT);
  CHECK(bs.waited > 0.25 && bs.waited < 2.0);

  /* A reader makes room: the waiting send goes through. */
  bs.rc = -1;
  CHECK(pthread_create(&t, NULL, send_one, &bs) == 0);
  nanosleep(&nap, NULL);
  void *msg;
  size_t len;
  for (int k = 0; k < 8; k++) {
    CHECK_EQ_INT(pmi_msg_recv(pull, &msg, &len, NULL, err), PMLS_OK);
    pmi_msg_free(msg);
  }
  pthread_join(t, NULL);
  CHECK_EQ_INT(bs.rc, PMLS_OK);
  pmi_sock_close(push);
  pmi_sock_close(pull);
}

static const th_case cases[] = {
    {"closing a PULL socket while another thread connects and sends to it", t_close_races_connect_and_send},
    {"a send waiting for room times out or goes through, and holds no close up", t_blocked_send_waits_outside_the_lock},
};

TH_MAIN(cases)
