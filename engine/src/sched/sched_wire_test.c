/* sched_wire_test.c -- what a scheduler node does with messages it cannot
 * use (docs/security.md): garbage, a message of another job, a partial of
 * no round or of the wrong size, a goodbye before the STOP, a message no
 * node is sent, a hello of no worker. Before the node's handler
 * (pmi_sched_handle) each of these ended the job, since open and collect
 * returned the decoding error; now each is dropped and counted in
 * messages_dropped, and the run goes on to the same result. The case sends
 * them to the node's own socket, from outside its workers, while it meets
 * its workers and while it collects a round, and waits until the node has
 * counted them before the real messages come, so each is seen in the phase
 * it was meant for. The one message that still ends a run, a well-formed
 * hello of another model, is checked through the handler itself. */
#include <nanomsg/nn.h>
#include <pthread.h>

#include "fixtures.h"
#include "harness.h"
#include "pmls.h"
#include "wire.h"

enum { NVARS = 6, ROUNDS = 3, P = 2 };

static int64_t dropped(pmls_engine *e) {
  pmls_stats st;
  if (pmls_engine_stats(e, &st) != PMLS_OK) return -1;
  return st.messages_dropped;
}

/* Waits (bounded: 20 s) until the engine has dropped `want` messages. */
static int wait_dropped(pmls_engine *e, int64_t want) {
  for (int i = 0; i < 20000; i++) {
    if (dropped(e) >= want) return 1;
    sleep_ms(1);
  }
  return 0;
}

static void send_raw(int sock, const void *p, size_t n) {
  if (nn_send(sock, p, n, 0) != (int)n)
    fprintf(stderr, "sched_wire_test: send: %s\n", nn_strerror(nn_errno()));
}

/* The message in b, its header saying `job` and its payload's length. */
static void send_msg(int sock, pmi_buf *b, uint32_t job) {
  pmi_hdr h;
  memcpy(&h, b->data, sizeof h);
  h.job = job;
  h.len = (uint32_t)(b->len - sizeof h);
  memcpy(b->data, &h, sizeof h);
  send_raw(sock, b->data, b->len);
}

static void partial_msg(pmls_engine *e, pmi_buf *b, int w, int64_t round,
                        uint32_t values) {
  pmi_msg_begin(b, e->job, PMI_MSG_PARTIAL, w);
  pmi_put_i32(b, w);
  pmi_put_i64(b, round);
  pmi_put_i32(b, 0);
  pmi_put_i32(b, 1);
  pmi_put_u32(b, values);
  for (uint32_t i = 0; i < values; i++) pmi_put_f64(b, 1e9);
}

/* The outsider's messages while the node meets its workers: six, each of
 * which the node must drop. */
static void forge_meeting(pmls_engine *e, int sock) {
  pmi_buf b = {0};
  send_raw(sock, "garbage", 7);
  pmi_msg_begin(&b, e->job, PMI_MSG_SHELLO, 0);
  pmi_put_i32(&b, 0);
  send_msg(sock, &b, e->job ^ 1); /* another job's */
  partial_msg(e, &b, 0, 0, NVARS + 1); /* no round yet */
  send_msg(sock, &b, e->job);
  pmi_msg_begin(&b, e->job, PMI_MSG_SBYE, 1);
  pmi_put_i32(&b, 1); /* before any STOP */
  send_msg(sock, &b, e->job);
  pmi_msg_begin(&b, e->job, PMI_MSG_ROUND, -1);
  pmi_put_i64(&b, 0); /* a node is sent no ROUND */
  send_msg(sock, &b, e->job);
  pmi_msg_begin(&b, e->job, PMI_MSG_SHELLO, 9);
  pmi_put_i32(&b, 9); /* no such worker */
  pmi_put_str(&b, "inproc://nowhere");
  send_msg(sock, &b, e->job);
  pmi_buf_free(&b);
}

/* ... and while it collects round 0: three more. */
static void forge_collect(pmls_engine *e, int sock) {
  pmi_buf b = {0};
  send_raw(sock, "\x50\x4d\x4c\x53", 4); /* the magic and nothing else */
  partial_msg(e, &b, 0, 0, NVARS); /* one value short */
  send_msg(sock, &b, e->job);
  partial_msg(e, &b, 1, 7, NVARS + 1); /* a round never dispatched */
  send_msg(sock, &b, e->job);
  pmi_buf_free(&b);
}

typedef struct {
  pmls_engine *e;
  int outsider; /* the forger's push socket to the node */
  int64_t base; /* drops before the case */
  int worker;
  int rc;
  double sum[ROUNDS];
  char why[512];
  int at_worker;         /* forge to worker 1's round socket instead */
  double model[NVARS];   /* the worker's copy at the end */
} job;

/* What an outsider sends to worker 1's round socket while the worker runs
 * round 0: eight messages, each of which the worker must drop (each ended
 * the job before) and none of which may touch its model copy. */
enum { WORKER_FORGED = 8 };
static void forge_worker(pmls_engine *e, int sock) {
  pmi_buf b = {0};
  send_raw(sock, "garbage", 7);
  pmi_msg_begin(&b, e->job, PMI_MSG_BEAT, 0); /* no node sends it */
  send_msg(sock, &b, e->job);
  pmi_msg_begin(&b, e->job, PMI_MSG_ENDROUND, 0); /* no round number */
  send_msg(sock, &b, e->job);
  /* A commit of 1e9 to variable 0, then one to a variable out of range:
   * applied in part before, now not at all. */
  for (int bad = 0; bad < 4; bad++) {
    pmi_msg_begin(&b, e->job, PMI_MSG_ROUND, -1);
    pmi_put_i32(&b, 0);  /* node */
    pmi_put_i64(&b, 5);  /* round */
    pmi_put_i64(&b, -1); /* through */
    pmi_put_i64(&b, 2);
    pmi_put_i64(&b, 0);
    pmi_put_f64(&b, 1e9);
    pmi_put_i64(&b, bad == 0 ? NVARS : 1);
    pmi_put_f64(&b, 1e9);
    if (bad == 1) { /* a round of no variables */
      pmi_put_i64(&b, 0);
    } else if (bad == 2) { /* a share past the round's variables */
      pmi_put_i64(&b, 1);
      pmi_put_i64(&b, 0);
      pmi_put_i32(&b, 1);
      pmi_put_i64(&b, 0);
      pmi_put_i64(&b, 2);
      pmi_put_i32(&b, 0);
      pmi_put_i32(&b, 0);
    } /* bad == 3: the share missing */
    send_msg(sock, &b, e->job);
  }
  pmi_msg_begin(&b, e->job, PMI_MSG_ENDROUND, 0);
  pmi_put_i64(&b, 0);
  send_msg(sock, &b, e->job ^ 1); /* another job's */
  pmi_buf_free(&b);
}

static void *node_main(void *arg) {
  job *j = arg;
  pmls_sched *s = NULL;
  if ((j->rc = pmls_sched_open(j->e, 0, &s)) != PMLS_OK) {
    snprintf(j->why, sizeof j->why, "open: %s", pmls_errmsg(j->e));
    return NULL;
  }
  int64_t vars[NVARS];
  for (int k = 0; k < NVARS; k++) vars[k] = k;
  for (int i = 0; i < ROUNDS; i++) {
    pmls_collected got;
    /* Worker 1's pull socket queues the outsider's messages and the node's
     * fairly: dispatched now, round 1 could overtake some of them and the
     * run end with them unread. Held back, worker 1 waits in round_next
     * and reads only them until all are dropped. */
    if (j->at_worker && i == 1 && !wait_dropped(j->e, j->base + WORKER_FORGED)) {
      j->rc = PMLS_ETIMEDOUT;
      snprintf(j->why, sizeof j->why, "worker 1 never dropped the forged "
               "messages (%lld dropped)", (long long)(dropped(j->e) - j->base));
      break;
    }
    if ((j->rc = pmls_sched_dispatch(s, vars, NVARS, 0, NULL, NULL, NULL, NULL,
                                     NULL, NULL)) != PMLS_OK ||
        (j->rc = pmls_sched_collect(s, &got)) != PMLS_OK) {
      snprintf(j->why, sizeof j->why, "round %d: %s", i, pmls_sched_errmsg(s));
      pmls_sched_close(s);
      return NULL;
    }
    j->sum[i] = got.sum[0] + got.sum[NVARS];
    if ((j->rc = pmls_sched_commit(s, got.sum)) != PMLS_OK) break;
  }
  if (j->rc == PMLS_OK && (j->rc = pmls_sched_stop(s)) != PMLS_OK)
    snprintf(j->why, sizeof j->why, "stop: %s", pmls_sched_errmsg(s));
  pmls_sched_close(s);
  return NULL;
}

static void *worker_main(void *arg) {
  job *j = arg;
  pmls_client *c = NULL;
  pmls_rounds *r = NULL;
  if ((j->rc = pmls_client_open(j->e, j->worker, &c)) != PMLS_OK ||
      (j->rc = pmls_rounds_open(c, &r)) != PMLS_OK) {
    snprintf(j->why, sizeof j->why, "open: %s", pmls_errmsg(j->e));
    pmls_client_close(c);
    return NULL;
  }
  for (int i = 0;; i++) {
    pmls_round info;
    if ((j->rc = pmls_round_next(r, &info)) != PMLS_OK) {
      snprintf(j->why, sizeof j->why, "next: %s", pmls_rounds_errmsg(r));
      break;
    }
    if (info.round < 0) break;
    if (j->at_worker && j->worker == 1 && i == 0) {
      /* Worker 1 reads them in its next round_next, before round 1. */
      char addr[PMI_ADDR_MAX], err[PMI_ERRLEN];
      snprintf(addr, sizeof addr, "%s-w1-r", j->e->addr_prefix);
      int sock = pmi_sock_push(addr, 10000, err);
      if (sock < 0) {
        j->rc = PMLS_ENET;
        snprintf(j->why, sizeof j->why, "forger: %s", err);
        break;
      }
      forge_worker(j->e, sock);
      pmi_proc_linger(j->e, sock); /* what it sent may still be queued */
    }
    /* Worker 0 holds its first partial back until the node has dropped
     * what the outsider sent meanwhile: the node is collecting round 0. */
    if (!j->at_worker && j->worker == 0 && i == 0) {
      forge_collect(j->e, j->outsider);
      if (!wait_dropped(j->e, j->base + 9)) {
        j->rc = PMLS_ETIMEDOUT;
        snprintf(j->why, sizeof j->why, "the node never dropped the forged "
                 "messages of the collect (%lld dropped)",
                 (long long)(dropped(j->e) - j->base));
        break;
      }
    }
    double *out = pmls_round_partial(r);
    for (int64_t k = 0; k < info.n; k++) out[k] = j->worker + 1;
    out[info.n] = 1;
    if ((j->rc = pmls_round_send(r, 1)) != PMLS_OK) {
      snprintf(j->why, sizeof j->why, "send: %s", pmls_rounds_errmsg(r));
      break;
    }
  }
  memcpy(j->model, pmls_round_model(r), sizeof j->model);
  pmls_rounds_close(r);
  pmls_client_close(c);
  return NULL;
}

static pmls_engine *node_engine(void) {
  pmls_config cfg = config(P, 1);
  cfg.schedulers = 1;
  pmls_engine *e = NULL;
  char err[512] = "";
  if (pmls_engine_create(&e, &cfg, err, sizeof err) != PMLS_OK) {
    fprintf(stderr, "sched_wire_test: %s\n", err);
    return NULL;
  }
  pmls_model_spec m;
  memset(&m, 0, sizeof m);
  m.vars = NVARS;
  m.width = 1;
  m.extra = 1;
  if (pmls_model_declare(e, &m) != PMLS_OK) {
    pmls_engine_destroy(e);
    return NULL;
  }
  return e;
}

static void t_forged_dropped(void) {
  pmls_engine *e = node_engine();
  CHECK(e != NULL);
  char err[PMI_ERRLEN];
  int outsider = pmi_sock_push(e->server_addr[e->servers + 0], 10000, err);
  CHECK(outsider >= 0);
  int64_t base = dropped(e);
  CHECK(base >= 0);
  job node = {e, outsider, base, -1, 0, {0}, "", 0, {0}};
  job workers[P];
  pthread_t nt, wt[P];
  CHECK(pthread_create(&nt, NULL, node_main, &node) == 0);
  forge_meeting(e, outsider);
  /* The workers come once the node has dropped all six: it dropped them
   * while meeting. */
  int met = wait_dropped(e, base + 6);
  for (int w = 0; w < P; w++) {
    workers[w] = (job){e, outsider, base, w, 0, {0}, "", 0, {0}};
    CHECK(pthread_create(&wt[w], NULL, worker_main, &workers[w]) == 0);
  }
  pthread_join(nt, NULL);
  for (int w = 0; w < P; w++) pthread_join(wt[w], NULL);
  pmi_sock_close(outsider);
  CHECK(met);
  if (node.rc != PMLS_OK) {
    th_fail(__FILE__, __LINE__, "node: %s", node.why);
    pmls_engine_destroy(e);
    return;
  }
  for (int w = 0; w < P; w++)
    if (workers[w].rc != PMLS_OK) {
      th_fail(__FILE__, __LINE__, "worker %d: %s", w, workers[w].why);
      pmls_engine_destroy(e);
      return;
    }
  /* No forged value reached a sum: 1 + 2 from the workers, 2 extras. */
  for (int i = 0; i < ROUNDS; i++) CHECK_EQ_DBL(node.sum[i], 5.0);
  CHECK_EQ_INT(dropped(e) - base, 9);
  pmls_engine_destroy(e);
}

/* The same run, with the outsider writing to a worker's round socket:
 * the worker drops all it sent and the run ends as without it, the
 * worker's model copy the same as the other's. */
static void t_worker_drops(void) {
  pmls_engine *e = node_engine();
  CHECK(e != NULL);
  int64_t base = dropped(e);
  job node = {e, -1, base, -1, 0, {0}, "", 1, {0}};
  job workers[P];
  pthread_t nt, wt[P];
  CHECK(pthread_create(&nt, NULL, node_main, &node) == 0);
  for (int w = 0; w < P; w++) {
    workers[w] = (job){e, -1, base, w, 0, {0}, "", 1, {0}};
    CHECK(pthread_create(&wt[w], NULL, worker_main, &workers[w]) == 0);
  }
  pthread_join(nt, NULL);
  for (int w = 0; w < P; w++) pthread_join(wt[w], NULL);
  int failed = node.rc != PMLS_OK;
  if (failed) th_fail(__FILE__, __LINE__, "node: %s", node.why);
  for (int w = 0; w < P && !failed; w++)
    if ((failed = workers[w].rc != PMLS_OK))
      th_fail(__FILE__, __LINE__, "worker %d: %s", w, workers[w].why);
  if (!failed) {
    for (int i = 0; i < ROUNDS; i++) CHECK_EQ_DBL(node.sum[i], 5.0);
    CHECK_EQ_INT(dropped(e) - base, WORKER_FORGED);
    for (int k = 0; k < NVARS; k++)
      CHECK_EQ_DBL(workers[1].model[k], workers[0].model[k]);
  }
  pmls_engine_destroy(e);
}

/* A hello from a worker of this job that declared another model is the
 * one message that ends the node's run, with both models named; the same
 * hello from a worker already met is harmless. */
static void t_hello_other_model(void) {
  pmls_engine *e = node_engine();
  CHECK(e != NULL);
  char err[PMI_ERRLEN];
  pmls_sched *s = pmi_sched_new(e, 0, -1, err);
  CHECK(s != NULL);
  pmi_buf b = {0};
  pmi_msg_begin(&b, e->job, PMI_MSG_SHELLO, 1);
  pmi_put_i32(&b, 1);
  pmi_put_str(&b, "inproc://pmls-sched-wire-test");
  pmi_put_i64(&b, NVARS + 1);
  pmi_put_i32(&b, 1);
  pmi_put_i32(&b, 1);
  pmi_put_i32(&b, 0);
  pmi_put_i32(&b, 1);
  ((pmi_hdr *)b.data)->len = (uint32_t)(b.len - sizeof(pmi_hdr));
  int64_t before = dropped(e);
  CHECK_EQ_INT(pmi_sched_handle(s, b.data, b.len), PMLS_EINVAL);
  CHECK_STR_CONTAINS(pmls_sched_errmsg(s), "worker 1 declared a model of 7");
  CHECK_STR_CONTAINS(pmls_sched_errmsg(s), "scheduler node 0 has 6");
  CHECK_EQ_INT(dropped(e), before);
  CHECK_EQ_INT(pmi_sched_met(s), 0);
  pmi_buf_free(&b);
  pmls_sched_close(s);
  pmls_engine_destroy(e);
}

static const th_case cases[] = {
    {"a node drops forged and garbage messages while meeting and collecting; the run goes on", t_forged_dropped},
    {"a worker drops forged and garbage messages on its round socket; the run goes on", t_worker_drops},
    {"a hello of another model ends the node's run, naming both models", t_hello_other_model},
};

TH_MAIN(cases)
