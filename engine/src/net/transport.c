/* transport.c -- nanomsg sockets for the nodes. PUSH/PULL pipes carry every
 * message: each node binds one PULL socket at its address and connects a PUSH
 * socket to each peer it sends to. On one pipe nanomsg keeps messages in
 * order, which the consistency protocol relies on: a worker's increments
 * always reach a server before the clock() that closes them.
 *
 * Every receiving socket of the process has the same NN_RCVMAXSIZE: the
 * largest message the job can legitimately send. It starts at a fixed bound
 * for the control messages and is raised (on every socket at once: nanomsg
 * reads the option for each incoming message) when a table or the model is
 * declared. Unlimited would let one 16-byte frame promising 2^63 bytes abort
 * the process in nanomsg's allocation; nanomsg's own default (1 MiB) would
 * silently drop a legitimate large row. A frame over the bound makes nanomsg
 * close that connection; the socket goes on serving the others. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>

#include "net.h"

/* ---- the inproc guard ------------------------------------------------------
 *
 * nanomsg 1.1's inproc transport crashes (a jump through a freed pointer in
 * nn_ctx_leave) when a send or a connect to a PULL socket runs while another
 * thread closes that socket; a test of two threads doing just that crashes
 * within milliseconds. A run's threads do it whenever one of them fails and
 * closes its client while the others still answer it. So every send and
 * connect on an inproc socket holds this lock shared, and every close or
 * bind of one holds it exclusive. A send holds it only while nanomsg takes
 * the message (NN_DONTWAIT); the wait for room happens outside, on the
 * socket's NN_SNDFD, so a close never waits for a blocked sender. The lock
 * prefers writers so that a close is not starved by a stream of sends. */
static pthread_rwlock_t inproc_lock;
static pthread_once_t inproc_once = PTHREAD_ONCE_INIT;

#define INPROC_IDS 4096 /* nanomsg's socket ids stay below NN_MAX_SOCKETS */
static _Atomic unsigned char inproc_ids[INPROC_IDS];

static void inproc_init(void) {
  pthread_rwlockattr_t a;
  pthread_rwlockattr_init(&a);
  pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&inproc_lock, &a);
  pthread_rwlockattr_destroy(&a);
}

static void inproc_mark(int s, const char *addr) {
  pthread_once(&inproc_once, inproc_init);
  if (s >= 0 && s < INPROC_IDS)
    atomic_store(&inproc_ids[s], strncmp(addr, "inproc://", 9) == 0);
}

/* Unknown ids count as inproc: the lock costs little, the crash much. */
static int is_inproc(int s) {
  return s < 0 || s >= INPROC_IDS || atomic_load(&inproc_ids[s]);
}

static void inproc_shared(int s, int on) {
  if (!is_inproc(s)) return;
  if (on) pthread_rwlock_rdlock(&inproc_lock);
  else pthread_rwlock_unlock(&inproc_lock);
}

static void inproc_exclusive(int s, int on) {
  if (!is_inproc(s)) return;
  if (on) pthread_rwlock_wrlock(&inproc_lock);
  else pthread_rwlock_unlock(&inproc_lock);
}

static void close_guarded(int s) {
  inproc_exclusive(s, 1);
  nn_close(s);
  inproc_exclusive(s, 0);
}

/* nn_send with the socket's own NN_SNDTIMEO, the wait outside the lock. */
static int send_guarded(int sock, const void *buf, size_t len, int flags) {
  if (!is_inproc(sock)) return nn_send(sock, buf, len, flags);
  double deadline = -1;
  for (;;) {
    pthread_rwlock_rdlock(&inproc_lock);
    int rc = nn_send(sock, buf, len, flags | NN_DONTWAIT);
    int e = nn_errno();
    pthread_rwlock_unlock(&inproc_lock);
    if (rc >= 0 || e != EAGAIN || (flags & NN_DONTWAIT)) {
      errno = e;
      return rc;
    }
    int ms = -1, fd = -1;
    size_t sz = sizeof ms;
    if (deadline < 0) {
      if (nn_getsockopt(sock, NN_SOL_SOCKET, NN_SNDTIMEO, &ms, &sz) < 0)
        return -1;
      deadline = ms < 0 ? 0 : pmi_now() + ms / 1000.0;
    }
    int wait_ms = -1;
    if (deadline > 0) {
      double left = deadline - pmi_now();
      if (left <= 0) {
        errno = ETIMEDOUT;
        return -1;
      }
      wait_ms = (int)(left * 1000.0) + 1;
    }
    sz = sizeof fd;
    if (nn_getsockopt(sock, NN_SOL_SOCKET, NN_SNDFD, &fd, &sz) < 0) return -1;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, wait_ms) < 0 && errno != EINTR) return -1;
  }
}

static int sock_fail(char *err, int s, const char *what, const char *addr) {
  int e = nn_errno();
  if (s >= 0) close_guarded(s);
  pmi_fail(err, PMLS_ENET, "%s %s: %s", what, addr, nn_strerror(e));
  errno = e; /* callers tell running out of sockets from a bad address */
  return -1;
}

/* The receiving sockets of the process and their common bound. A process
 * may hold several engines (tests do): the bound is the largest any of them
 * needs, which only grows. */
static pthread_mutex_t rcv_mu = PTHREAD_MUTEX_INITIALIZER;
static int *rcv_socks;
static size_t rcv_n, rcv_cap;
static int rcv_max = PMI_RCVMAX_CONTROL;

/* Registers s and gives it the current bound, under one lock so that a
 * raise in between cannot miss it. */
static int rcv_register(int s) {
  pthread_mutex_lock(&rcv_mu);
  int rc = -1;
  if (rcv_n == rcv_cap) {
    size_t cap = rcv_cap ? 2 * rcv_cap : 64;
    int *p = realloc(rcv_socks, cap * sizeof *p);
    if (p) {
      rcv_socks = p;
      rcv_cap = cap;
    }
  }
  if (rcv_n < rcv_cap &&
      nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVMAXSIZE, &rcv_max,
                    sizeof rcv_max) == 0) {
    rcv_socks[rcv_n++] = s;
    rc = 0;
  }
  pthread_mutex_unlock(&rcv_mu);
  return rc;
}

static void rcv_unregister(int s) {
  pthread_mutex_lock(&rcv_mu);
  for (size_t i = 0; i < rcv_n; i++) {
    if (rcv_socks[i] == s) {
      rcv_socks[i] = rcv_socks[--rcv_n];
      break;
    }
  }
  pthread_mutex_unlock(&rcv_mu);
}

void pmi_net_allow(size_t bytes) {
  int want = bytes > (size_t)INT_MAX ? INT_MAX : (int)bytes;
  pthread_mutex_lock(&rcv_mu);
  if (want > rcv_max) {
    rcv_max = want;
    for (size_t i = 0; i < rcv_n; i++)
      nn_setsockopt(rcv_socks[i], NN_SOL_SOCKET, NN_RCVMAXSIZE, &rcv_max,
                    sizeof rcv_max);
  }
  pthread_mutex_unlock(&rcv_mu);
}

size_t pmi_net_rcvmax(void) {
  pthread_mutex_lock(&rcv_mu);
  size_t v = (size_t)rcv_max;
  pthread_mutex_unlock(&rcv_mu);
  return v;
}

size_t pmi_msg_bound_row(size_t row_bytes, int workers) {
  size_t stamps = workers > 0 ? (size_t)workers * 8 : 0;
  size_t need = (size_t)PMI_BATCH_BYTES + PMI_RCVMAX_CONTROL + stamps;
  return row_bytes > SIZE_MAX - need ? SIZE_MAX : need + row_bytes;
}

int pmi_sock_pull(const char *addr, int rcvtimeo_ms, char *err) {
  int s = nn_socket(AF_SP, NN_PULL);
  if (s < 0) return sock_fail(err, -1, "cannot create a socket for", addr);
  inproc_mark(s, addr);
  if (nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &rcvtimeo_ms,
                    sizeof rcvtimeo_ms) < 0 ||
      rcv_register(s) < 0)
    return sock_fail(err, s, "cannot configure socket for", addr);
  inproc_exclusive(s, 1);
  int bound = nn_bind(s, addr);
  int e = nn_errno();
  inproc_exclusive(s, 0);
  if (bound < 0) {
    rcv_unregister(s);
    errno = e; /* sock_fail reads it */
    if (e == EADDRINUSE) {
      close_guarded(s);
      pmi_fail(err, PMLS_ENET, "cannot bind %s: address already in use", addr);
      return -1;
    }
    return sock_fail(err, s, "cannot bind", addr);
  }
  if (pmi_auth_sock_open(s, addr, 0)) {
    pmi_sock_close(s);
    pmi_fail(err, PMLS_ENOMEM, "cannot authenticate socket %s", addr);
    return -1;
  }
  return s;
}

int pmi_sock_push(const char *addr, int sndtimeo_ms, char *err) {
  int s = nn_socket(AF_SP, NN_PUSH);
  if (s < 0) return sock_fail(err, -1, "cannot create a socket for", addr);
  inproc_mark(s, addr);
  if (nn_setsockopt(s, NN_SOL_SOCKET, NN_SNDTIMEO, &sndtimeo_ms,
                    sizeof sndtimeo_ms) < 0)
    return sock_fail(err, s, "cannot configure socket for", addr);
  inproc_shared(s, 1);
  int connected = nn_connect(s, addr);
  int e = nn_errno();
  inproc_shared(s, 0);
  if (connected < 0) {
    errno = e;
    return sock_fail(err, s, "cannot connect to", addr);
  }
  if (pmi_auth_sock_open(s, addr, 1)) {
    close_guarded(s);
    pmi_fail(err, PMLS_ENOMEM, "cannot authenticate socket %s", addr);
    return -1;
  }
  return s;
}

void pmi_sock_set_rcvtimeo(int s, int ms) {
  nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &ms, sizeof ms);
}

void pmi_sock_set_sndtimeo(int s, int ms) {
  nn_setsockopt(s, NN_SOL_SOCKET, NN_SNDTIMEO, &ms, sizeof ms);
}

int pmi_msg_send_until(int sock, pmi_buf *b, pmi_traffic *t, const char *peer,
                       char *err, int timeout_ms, const _Atomic int *give_up) {
  int rc = pmi_msg_send(sock, b, t, peer, err);
  if (rc != PMLS_ETIMEDOUT) return rc;
  double deadline = pmi_now() + timeout_ms / 1000.0;
  while (rc == PMLS_ETIMEDOUT && !atomic_load(give_up) && pmi_now() < deadline)
    rc = pmi_msg_send(sock, b, t, peer, err);
  return rc;
}

/* ---- message buffers ------------------------------------------------------
 *
 * A pmi_buf made with pmi_msg_buf_init holds a nanomsg message (nn_allocmsg)
 * and a send hands it over (NN_MSG): nanomsg writes it to the socket from
 * that memory, or passes it to the receiver on inproc, instead of copying
 * it into a message of its own first, which was one full copy of every byte
 * sent (a third of the streaming benchmark's memmove). The buffer starts at
 * the size of a batch of rows plus room for the entry that ends it, so that
 * a batch is built without a regrowth; it grows by a new message and one
 * copy of what it holds (nanomsg 1.1's nn_reallocmsg would copy the whole
 * old capacity). */

static void *msg_grow(void *old, size_t len, size_t cap) {
  void *p = nn_allocmsg(cap, 0);
  if (!p) return NULL;
  if (old) {
    memcpy(p, old, len);
    nn_freemsg(old);
  }
  return p;
}

static void msg_release(void *p) { nn_freemsg(p); }

static const pmi_buf_alloc msg_alloc = {msg_grow, msg_release,
                                        PMI_BATCH_BYTES + (64u << 10)};
/* Replies start small (most are a few words: ACKs, one short row) and a
 * row's bytes are reserved whole before they are written, so a large one
 * costs one grow that copies only the header. */
static const pmi_buf_alloc reply_alloc = {msg_grow, msg_release, 0};

void pmi_msg_buf_init(pmi_buf *b) {
  pmi_buf_free(b);
  b->alloc = &msg_alloc;
}

void pmi_msg_reply_buf_init(pmi_buf *b) {
  pmi_buf_free(b);
  b->alloc = &reply_alloc;
}

int pmi_msg_buf_is(const pmi_buf *b) {
  return b->alloc == &msg_alloc || b->alloc == &reply_alloc;
}

/* One nn_send of the message in b, sealed on an authenticated socket. A
 * message buffer is handed over when nanomsg takes it (b is then empty);
 * nanomsg takes the message's size from the chunk, so it is cut to b->len
 * first (nn_reallocmsg only records a smaller size). Returns nn_send's. */
static int send_buf(int sock, pmi_buf *b, int flags, int *sealed) {
  pmi_hdr *h = (pmi_hdr *)b->data;
  h->len = (uint32_t)(b->len - sizeof *h);
  *sealed = pmi_auth_seal_begin(sock, b);
  if (*sealed < 0) return -1;
  int rc;
  if (pmi_msg_buf_is(b)) {
    void *p = b->data;
    if (nn_reallocmsg(p, b->len) != p) { /* a cut never moves it */
      if (*sealed) pmi_auth_seal_end(sock, b);
      *sealed = -1;
      return -1;
    }
    rc = send_guarded(sock, &p, NN_MSG, flags);
    if (*sealed) pmi_auth_seal_end(sock, b);
    if (rc >= 0) { /* nanomsg's now */
      b->data = NULL;
      b->cap = 0;
    } else {
      /* The chunk is b->len long for nanomsg now: more goes in a new one. */
      b->cap = b->len;
    }
  } else {
    rc = send_guarded(sock, b->data, b->len, flags);
    if (*sealed) pmi_auth_seal_end(sock, b);
  }
  return rc;
}

int pmi_msg_offer(int sock, pmi_buf *b) {
  int sealed;
  int rc = send_buf(sock, b, NN_DONTWAIT, &sealed) < 0 ? -1 : 0;
  if (rc == 0 && !b->data) b->len = 0;
  return rc;
}

void pmi_sock_close(int s) {
  if (s < 0) return;
  rcv_unregister(s); /* before nn_close: the id may be reused at once */
  pmi_auth_sock_close(s);
  close_guarded(s);
}

int pmi_msg_send(int sock, pmi_buf *b, pmi_traffic *t, const char *peer,
                 char *err) {
  int type = ((const pmi_hdr *)b->data)->type;
  int sealed;
  size_t len = b->len;
  int rc = send_buf(sock, b, 0, &sealed);
  if (sealed < 0)
    return pmi_fail(err, PMLS_ENOMEM, "sending %s to %s: out of memory",
                    pmi_msg_type_name(type), peer);
  if (rc < 0) {
    int e = nn_errno();
    if (e == ETIMEDOUT || e == EAGAIN)
      return pmi_fail(err, PMLS_ETIMEDOUT, "sending %s to %s timed out "
                      "(peer not reading or gone)", pmi_msg_type_name(type),
                      peer);
    return pmi_fail(err, PMLS_ENET, "sending %s to %s failed: %s",
                    pmi_msg_type_name(type), peer, nn_strerror(e));
  }
  if (!b->data) b->len = 0; /* handed over */
  if (t) {
    t->messages_sent++;
    t->bytes_sent += (int64_t)len;
  }
  return PMLS_OK;
}

/* On an authenticated socket a message that fails its MAC or sequence check
 * is dropped here and the wait goes on, for what is left of the socket's
 * receive timeout: a flood of forgeries cannot stretch a wait. */
int pmi_msg_recv(int sock, void **msg, size_t *len, pmi_traffic *t, char *err) {
  double deadline = -1;
  int timeo = -1;
  for (;;) {
    void *p = NULL;
    int rc = nn_recv(sock, &p, NN_MSG, 0);
    if (rc < 0) {
      int e = nn_errno();
      if (deadline >= 0) pmi_sock_set_rcvtimeo(sock, timeo);
      if (e == ETIMEDOUT || e == EAGAIN)
        return pmi_fail(err, PMLS_ETIMEDOUT, "timed out waiting for a message");
      return pmi_fail(err, PMLS_ENET, "receive failed: %s", nn_strerror(e));
    }
    if (t) {
      t->messages_received++;
      t->bytes_received += rc;
    }
    size_t n = (size_t)rc;
    char why[PMI_ERRLEN];
    if (pmi_auth_check(sock, p, &n, why, sizeof why) == 0) {
      if (deadline >= 0) pmi_sock_set_rcvtimeo(sock, timeo);
      *msg = p;
      *len = n;
      return PMLS_OK;
    }
    nn_freemsg(p);
    pmi_auth_dropped(why);
    if (deadline < 0) {
      size_t sz = sizeof timeo;
      if (nn_getsockopt(sock, NN_SOL_SOCKET, NN_RCVTIMEO, &timeo, &sz) < 0)
        timeo = -1;
      deadline = timeo < 0 ? 1e300 : pmi_now() + timeo / 1000.0;
    }
    if (timeo >= 0) {
      double left = deadline - pmi_now();
      if (left <= 0) {
        pmi_sock_set_rcvtimeo(sock, timeo);
        return pmi_fail(err, PMLS_ETIMEDOUT, "timed out waiting for a message");
      }
      pmi_sock_set_rcvtimeo(sock, (int)(left * 1000.0) + 1);
    }
  }
}

void pmi_msg_free(void *msg) {
  if (msg) nn_freemsg(msg);
}
