/* job.c -- one process's part in a job of several: where its sockets live,
 * how it meets the others (the rendezvous), and the node thread that watches
 * them until the job ends.
 *
 * Every process binds its sockets first -- one PULL per server shard it
 * hosts, one control PULL -- and only then says JOIN to rank 0 at the master
 * address, naming those addresses. When every rank has joined, rank 0 sends
 * each a DIR: the job id and the address of every shard. Because nothing is
 * announced before it is bound, a rank may connect to any address in the DIR
 * at once. The same code serves ipc:// (one host) and tcp:// (several); a
 * one-process job with no master stays on inproc:// and skips all of this.
 *
 * After the rendezvous a node thread per process exchanges heartbeats with
 * rank 0. A peer silent for longer than the heartbeat timeout is dead: the
 * job is aborted on every live shard, and every local client waiting for a
 * reply is woken with the cause, so no one waits for a peer that is gone.
 * The steps of each run between the ranks, and the job's end, are in
 * steps.c. */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "job_state.h"

/* ---- addresses ----------------------------------------------------------- */

/* Splits "tcp://host:port" and resolves host to a numeric IPv4 address. */
static int parse_tcp(const char *addr, char *ip, size_t iplen, int *port,
                     char *err) {
  const char *h = addr + 6, *colon = strrchr(h, ':');
  if (!colon || colon == h || !colon[1])
    return pmi_fail(err, PMLS_EINVAL, "bad master address '%s' (tcp://HOST:PORT "
                    "expected)", addr);
  char *end;
  long p = strtol(colon + 1, &end, 10);
  if (*end || p < 1 || p > 65535)
    return pmi_fail(err, PMLS_EINVAL, "bad port in master address '%s'", addr);
  *port = (int)p;
  char name[256];
  snprintf(name, sizeof name, "%.*s", (int)(colon - h), h);
  if (strcmp(name, "*") == 0) snprintf(name, sizeof name, "127.0.0.1");
  int rc = pmi_resolve_ipv4(name, ip, iplen);
  if (rc)
    return pmi_fail(err, PMLS_ENET, "cannot resolve master host '%s': %s", name,
                    gai_strerror(rc));
  return PMLS_OK;
}

/* ---- the rendezvous ------------------------------------------------------ */

int pmi_job_send(pmi_job *j, int sock, const char *peer, char *err) {
  return pmi_msg_send(sock, &j->out, NULL, peer, err);
}

/* A directory address from a message: whole (not cut to fit) and of the
 * job's transport, or rd->bad. */
static void get_addr(pmls_engine *e, pmi_rd *rd, char out[PMI_ADDR_MAX]) {
  pmi_rd peek = *rd;
  uint16_t n = pmi_get_u16(&peek);
  pmi_get_str(rd, out, PMI_ADDR_MAX);
  const char *scheme = e->transport == PMI_TCP ? "tcp://" : "ipc://";
  if (rd->bad || n >= PMI_ADDR_MAX || strlen(out) != n ||
      strncmp(out, scheme, 6) != 0)
    rd->bad = 1;
}

void pmi_rendezvous_init(pmls_engine *e, pmi_rendezvous *rv) {
  memset(rv->joined, 0, (size_t)e->procs);
  memset(rv->ctl, 0, (size_t)e->procs * sizeof *rv->ctl);
  rv->njoined = 1; /* rank 0 */
  rv->joined[0] = 1;
}

/* Rank 0: one message at the master address during the rendezvous. A
 * message that is not a well-formed JOIN is dropped and counted (a peer
 * that means it sends again, and one forged JOIN must not end the job);
 * a well-formed one is taken, or refused with why when it says that rank
 * was started differently (it still hears why: the rank is marked as
 * joined, with its address, but not counted). Nothing of a JOIN is kept
 * until it is taken, and a rank names only the entries it owns. */
int pmi_job_take_join(pmls_engine *e, pmi_rendezvous *rv, const void *msg,
                      size_t len, char *why) {
  pmi_job *j = e->jobst;
  int P = e->procs, naddr = pmi_addr_count(e);
  pmi_hdr h;
  pmi_rd rd;
  char err[PMI_ERRLEN];
  if (pmi_msg_open(msg, len, 0, &h, &rd, err) != PMLS_OK) {
    pmi_msg_dropped(&e->dropped, "rank 0: the rendezvous", err);
    return PMLS_OK;
  }
  if (h.type != PMI_MSG_JOIN) {
    snprintf(err, sizeof err, "%s at %s, not a JOIN",
             pmi_msg_type_name(h.type), j->master);
    pmi_msg_dropped(&e->dropped, "rank 0: the rendezvous", err);
    return PMLS_OK;
  }
  int r = pmi_get_i32(&rd), procs = pmi_get_i32(&rd);
  int workers = pmi_get_i32(&rd), servers = pmi_get_i32(&rd);
  int schedulers = pmi_get_i32(&rd);
  char addr[PMI_ADDR_MAX], host[PMI_HOST_MAX];
  get_addr(e, &rd, addr);
  int n = pmi_get_i32(&rd);
  if (rd.bad || r < 1 || r >= P) rd.bad = 1;
  /* The entries rank r owns, each named once: n of them at most. */
  int owned = 0;
  for (int s = 0; !rd.bad && s < naddr; s++) owned += pmi_addr_owner(e, s) == r;
  if (n < 0 || n > owned) rd.bad = 1;
  int *slot = NULL;
  char (*saddr)[PMI_ADDR_MAX] = NULL;
  if (!rd.bad && n > 0) {
    slot = malloc((size_t)n * sizeof *slot);
    saddr = malloc((size_t)n * sizeof *saddr);
    if (!slot || !saddr) {
      free(slot);
      free(saddr);
      return pmi_fail(why, PMLS_ENOMEM, "out of memory for the rendezvous");
    }
  }
  for (int i = 0; i < n && !rd.bad; i++) {
    slot[i] = pmi_get_i32(&rd);
    get_addr(e, &rd, saddr[i]);
    if (slot[i] < 0 || slot[i] >= naddr || pmi_addr_owner(e, slot[i]) != r)
      rd.bad = 1;
    for (int k = 0; k < i && !rd.bad; k++) rd.bad = slot[k] == slot[i];
  }
  /* The host name, whole and of the bytes a host name holds (it goes into
   * the metrics file as it came). */
  pmi_rd peek = rd;
  uint16_t hn = pmi_get_u16(&peek);
  pmi_get_str(&rd, host, sizeof host);
  if (!rd.bad && (hn >= PMI_HOST_MAX || !pmi_host_ok(host))) rd.bad = 1;
  if (!rd.bad && n != owned) rd.bad = 1;
  if (rd.bad) {
    free(slot);
    free(saddr);
    snprintf(err, sizeof err, "a malformed JOIN (rank %d) at %s", r, j->master);
    pmi_msg_dropped(&e->dropped, "rank 0: the rendezvous", err);
    return PMLS_OK;
  }
  int rc = PMLS_OK;
  if (rv->joined[r] && strcmp(rv->ctl[r], addr) != 0) {
    rc = pmi_fail(why, PMLS_EINVAL, "rank 0: rank %d joined twice (two "
                  "processes were given the same rank)", r);
  } else if (procs != P || workers != e->local_workers ||
             servers != e->servers || schedulers != e->schedulers) {
    rc = pmi_fail(why, PMLS_EINVAL, "rank 0: rank %d was started with %d "
                  "processes, %d workers, %d servers, %d schedulers; rank 0 "
                  "with %d, %d, %d, %d (every rank needs the same options)",
                  r, procs, workers, servers, schedulers, P,
                  e->local_workers, e->servers, e->schedulers);
  } else {
    /* A rank that says JOIN again (the same address) counts once. */
    if (!rv->joined[r]) rv->njoined++;
    rv->joined[r] = 1;
    snprintf(rv->ctl[r], PMI_ADDR_MAX, "%s", addr);
    for (int i = 0; i < n; i++)
      snprintf(e->server_addr[slot[i]], PMI_ADDR_MAX, "%s", saddr[i]);
    if (e->hosts) snprintf(e->hosts[r], PMI_HOST_MAX, "%s", host);
  }
  /* A rank that was refused still hears why (below), at once. */
  if (rc != PMLS_OK && !rv->ctl[r][0]) {
    rv->joined[r] = 1;
    snprintf(rv->ctl[r], PMI_ADDR_MAX, "%s", addr);
  }
  free(slot);
  free(saddr);
  return rc;
}

/* Rank 0: waits for every other rank's JOIN, then sends each the DIR. */
static int gather_joins(pmls_engine *e, char *why) {
  pmi_job *j = e->jobst;
  int P = e->procs;
  pmi_rendezvous rv;
  rv.ctl = calloc((size_t)P, sizeof *rv.ctl);
  rv.joined = calloc((size_t)P, 1);
  if (!rv.ctl || !rv.joined) {
    free(rv.ctl);
    free(rv.joined);
    return pmi_fail(why, PMLS_ENOMEM, "out of memory for the rendezvous");
  }
  pmi_rendezvous_init(e, &rv);
  int rc = PMLS_OK;
  double deadline = pmi_now() + j->timeout_ms / 1000.0;
  while (rv.njoined < P && rc == PMLS_OK) {
    if (pmi_proc_dead(e)) { /* stopped, or the launcher saw a rank die */
      rc = pmi_fail(why, e->dead_code, "rank 0: %s", e->dead_why);
      break;
    }
    int left = (int)((deadline - pmi_now()) * 1000.0);
    if (left <= 0) {
      char missing[256] = "";
      size_t n = 0;
      for (int r = 1; r < P && n + 12 < sizeof missing; r++)
        if (!rv.joined[r])
          n += (size_t)snprintf(missing + n, sizeof missing - n, "%s%d",
                                n ? ", " : "", r);
      rc = pmi_fail(why, PMLS_ETIMEDOUT, "rank 0: rank%s %s of %d did not join "
                    "at %s within %d ms (not started, or cannot reach this "
                    "address)", strchr(missing, ',') ? "s" : "", missing, P,
                    j->master, j->timeout_ms);
      break;
    }
    pmi_sock_set_rcvtimeo(j->master_sock, left < 200 ? left : 200);
    void *msg;
    size_t len;
    char err[PMI_ERRLEN];
    if (pmi_msg_recv(j->master_sock, &msg, &len, NULL, err) != PMLS_OK) continue;
    rc = pmi_job_take_join(e, &rv, msg, len, why);
    pmi_msg_free(msg);
  }
  /* Every rank that joined hears the outcome, so none waits for nothing. */
  for (int r = 1; r < P; r++) {
    if (!rv.joined[r]) continue;
    j->peer_push[r] = pmi_sock_push(rv.ctl[r], j->timeout_ms, why);
    if (j->peer_push[r] < 0) {
      if (rc == PMLS_OK) rc = PMLS_ENET;
      continue;
    }
    pmi_msg_begin(&j->out, 0, PMI_MSG_DIR, 0);
    pmi_put_i32(&j->out, rc);
    pmi_put_str(&j->out, rc ? why : "");
    pmi_put_u32(&j->out, e->job);
    pmi_put_i32(&j->out, pmi_addr_count(e));
    for (int s = 0; s < pmi_addr_count(e); s++)
      pmi_put_str(&j->out, e->server_addr[s]);
    char peer[32];
    snprintf(peer, sizeof peer, "rank %d", r);
    char err[PMI_ERRLEN];
    if (pmi_job_send(j, j->peer_push[r], peer, err) && rc == PMLS_OK)
      rc = pmi_fail(why, PMLS_ENET, "rank 0: %s", err);
  }
  free(rv.ctl);
  free(rv.joined);
  return rc;
}

/* Rank > 0: one message on its control socket while it waits for the DIR.
 * PMLS_SKIP: not a well-formed DIR, dropped and counted (the real one may
 * still come); PMLS_OK: the directory, taken into e (nothing is written
 * there before the whole DIR is read); else the job failed to start, with
 * why: rank 0 said so. */
int pmi_job_take_dir(pmls_engine *e, const void *msg, size_t len, char *why) {
  int naddr = pmi_addr_count(e);
  pmi_hdr h;
  pmi_rd rd;
  char err[PMI_ERRLEN], who[48];
  snprintf(who, sizeof who, "rank %d: the rendezvous", e->rank);
  if (pmi_msg_open(msg, len, 0, &h, &rd, err) != PMLS_OK) {
    pmi_msg_dropped(&e->dropped, who, err);
    return PMLS_SKIP;
  }
  if (h.type != PMI_MSG_DIR) {
    snprintf(err, sizeof err, "%s, not a DIR", pmi_msg_type_name(h.type));
    pmi_msg_dropped(&e->dropped, who, err);
    return PMLS_SKIP;
  }
  int status = pmi_get_i32(&rd);
  char text[PMI_ERRLEN - 64];
  pmi_get_str(&rd, text, sizeof text);
  uint32_t job = pmi_get_u32(&rd);
  int got = pmi_get_i32(&rd);
  /* A refusal carries the directory too, but sized by rank 0's options,
   * which may be what differs. */
  if (status < 0 || status > PMLS_EVALUE || (!status && got != naddr))
    rd.bad = 1;
  char (*dir)[PMI_ADDR_MAX] = NULL;
  if (!rd.bad && !status) {
    dir = malloc((size_t)naddr * sizeof *dir);
    if (!dir) return pmi_fail(why, PMLS_ENOMEM, "out of memory for the "
                              "directory");
    for (int s = 0; s < naddr && !rd.bad; s++) get_addr(e, &rd, dir[s]);
  }
  if (rd.bad) {
    free(dir);
    pmi_msg_dropped(&e->dropped, who, "a malformed DIR");
    return PMLS_SKIP;
  }
  if (status) {
    for (char *c = text; *c; c++) /* said by a peer: one line, printable */
      if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = ' ';
    return pmi_fail(why, status, "rank %d: the job failed to start: %s",
                    e->rank, text);
  }
  e->job = job;
  memcpy(e->server_addr, dir, (size_t)naddr * sizeof *dir);
  free(dir);
  return PMLS_OK;
}

/* Rank > 0: says JOIN to the master and waits for the DIR. */
static int join_master(pmls_engine *e, char *why) {
  pmi_job *j = e->jobst;
  pmi_msg_begin(&j->out, 0, PMI_MSG_JOIN, e->rank);
  pmi_put_i32(&j->out, e->rank);
  pmi_put_i32(&j->out, e->procs);
  pmi_put_i32(&j->out, e->local_workers);
  pmi_put_i32(&j->out, e->servers);
  pmi_put_i32(&j->out, e->schedulers);
  pmi_put_str(&j->out, e->ctl_addr);
  int n = 0, naddr = pmi_addr_count(e);
  for (int s = 0; s < naddr; s++) n += pmi_addr_owner(e, s) == e->rank;
  pmi_put_i32(&j->out, n);
  for (int s = 0; s < naddr; s++) {
    if (pmi_addr_owner(e, s) != e->rank) continue;
    pmi_put_i32(&j->out, s);
    pmi_put_str(&j->out, e->server_addr[s]);
  }
  char host[PMI_HOST_MAX];
  pmi_local_host(host);
  pmi_put_str(&j->out, host);
  char err[PMI_ERRLEN];
  if (pmi_job_send(j, j->master_sock, "the master", err))
    return pmi_fail(why, PMLS_ETIMEDOUT, "rank %d: cannot reach the master at "
                    "%s within %d ms (is rank 0 running there?)", e->rank,
                    j->master, j->timeout_ms);
  double deadline = pmi_now() + j->timeout_ms / 1000.0;
  for (;;) {
    int left = (int)((deadline - pmi_now()) * 1000.0);
    if (left <= 0)
      return pmi_fail(why, PMLS_ETIMEDOUT, "rank %d: no answer from the master "
                      "at %s within %d ms (some rank did not start, or rank 0 "
                      "cannot reach %s)", e->rank, j->master, j->timeout_ms,
                      e->ctl_addr);
    if (pmi_proc_dead(e))
      return pmi_fail(why, e->dead_code, "rank %d: %s", e->rank, e->dead_why);
    pmi_sock_set_rcvtimeo(j->ctl_pull, left < 200 ? left : 200);
    void *msg;
    size_t len;
    if (pmi_msg_recv(j->ctl_pull, &msg, &len, NULL, err) != PMLS_OK) continue;
    int rc = pmi_job_take_dir(e, msg, len, why);
    pmi_msg_free(msg);
    if (rc != PMLS_SKIP) return rc;
  }
}

/* ---- the node thread ----------------------------------------------------- */

/* Ends the job for everyone: a rank died, or a rank said ABORT. Called with
 * j->mu held. */
static void abort_locked(pmls_engine *e, int code, const char *why,
                         int from_rank) {
  pmi_job *j = e->jobst;
  if (!pmi_proc_mark_dead(e, code, why)) return; /* already over */
  pmi_msg_begin(&j->out, e->job, PMI_MSG_ABORT, e->rank); /* ranks drop src < 0 */
  pmi_put_str(&j->out, why);
  /* A stop by signal travels with the abort, so every rank can exit with
   * 128 + signo (the shards read only the text). */
  pmi_put_i32(&j->out, atomic_load(&e->stop_signal));
  pmi_put_i32(&j->out, e->stop_rank);
  for (int s = 0; s < e->servers; s++)
    if (j->shard_push[s] >= 0) pmi_msg_offer(j->shard_push[s], &j->out);
  /* Offers only: a peer may be the one that died, and waiting on it would
   * stall this thread, the one that must tell everyone else. */
  if (e->rank == 0) {
    for (int r = 1; r < e->procs; r++)
      if (r != from_rank && j->peer_push[r] >= 0)
        pmi_msg_offer(j->peer_push[r], &j->out);
  } else if (from_rank != 0) {
    pmi_msg_offer(j->master_sock, &j->out);
  }
  pmi_proc_wake_clients(e, PMLS_EABORTED, why);
  pthread_cond_broadcast(&j->cv);
}

/* The process context's abort hook: a local node failed. */
static void on_abort(pmls_engine *e, int code, const char *why) {
  pmi_job *j = e->jobst;
  if (!j || !j->running) return;
  pthread_mutex_lock(&j->mu);
  abort_locked(e, code, why, -1);
  pthread_mutex_unlock(&j->mu);
}

void pmi_job_peer_died(pmls_engine *e, int rank, const char *why) {
  pmi_job *j = e->jobst;
  if (!j || e->rank != 0 || rank < 1 || rank >= e->procs) {
    pmi_proc_abort(e, PMLS_EDEAD, why); /* not started yet: no one to tell */
    return;
  }
  pthread_mutex_lock(&j->mu);
  if (j->running) abort_locked(e, PMLS_EDEAD, why, rank);
  else pmi_proc_mark_dead(e, PMLS_EDEAD, why);
  j->gone[rank] = 1;
  pthread_cond_broadcast(&j->cv);
  pthread_mutex_unlock(&j->mu);
}

static void handle(pmls_engine *e, const pmi_hdr *h, pmi_rd *rd) {
  pmi_job *j = e->jobst;
  int from = h->src;
  if (from < 0 || from >= e->procs) return;
  pthread_mutex_lock(&j->mu);
  j->last_heard[from] = pmi_now();
  if (h->type == PMI_MSG_DONE) {
    pmi_job_on_done(e, h, rd);
  } else if (h->type == PMI_MSG_FINISH && e->rank != 0) {
    j->finished = 1;
    pthread_cond_broadcast(&j->cv);
  } else if (h->type == PMI_MSG_ABORT) {
    char why[PMI_ERRLEN - 32];
    pmi_get_str(rd, why, sizeof why);
    int signo = pmi_get_i32(rd), at = pmi_get_i32(rd);
    if (!rd->bad && signo > 0 && signo < NSIG && at >= 0 && at < e->procs) {
      pthread_mutex_lock(&e->mu);
      if (!atomic_load(&e->stop_signal)) {
        e->stop_rank = at;
        atomic_store(&e->stop_signal, signo);
      }
      pthread_mutex_unlock(&e->mu);
    }
    abort_locked(e, PMLS_EABORTED, why, from); /* an echo here */
  }
  pthread_mutex_unlock(&j->mu);
}

/* One message as the node thread takes it, for the fuzz harness
 * (engine/fuzz/fuzz_job.c), which has no thread or socket. */
void pmi_job_handle(pmls_engine *e, const void *msg, size_t len) {
  pmi_hdr h;
  pmi_rd rd;
  char err[PMI_ERRLEN];
  if (pmi_msg_open(msg, len, e->job, &h, &rd, err) == PMLS_OK) handle(e, &h, &rd);
}

/* Rank 0 stops watching a rank once it acknowledged FINISH (it exits right
 * after); a rank stops watching rank 0 once FINISH came. */
static int watched(const pmls_engine *e, int r) {
  const pmi_job *j = e->jobst;
  if (r == e->rank) return 0;
  if (e->rank == 0) return j->phase[r] < DONE_FINISHED;
  return r == 0 && !j->finished;
}

static void *node_main(void *arg) {
  pmls_engine *e = arg;
  pmi_job *j = e->jobst;
  int in = e->rank == 0 ? j->master_sock : j->ctl_pull;
  pmi_buf beat = {0};
  double next_beat = 0;
  while (!atomic_load(&j->stop)) {
    double now = pmi_now();
    if (now >= next_beat) {
      pmi_msg_begin(&beat, e->job, PMI_MSG_BEAT, e->rank);
      /* Beats go out without blocking: a dead peer must not stall this
       * thread, which is the one that notices the death. */
      if (e->rank == 0) {
        for (int r = 1; r < e->procs; r++)
          if (j->peer_push[r] >= 0) pmi_msg_offer(j->peer_push[r], &beat);
      } else {
        pmi_msg_offer(j->master_sock, &beat);
      }
      next_beat = now + j->beat_ms / 1000.0;
      pthread_mutex_lock(&j->mu);
      for (int r = 0; r < e->procs; r++) {
        double silent = now - j->last_heard[r];
        if (!watched(e, r) || silent * 1000.0 < e->cfg.heartbeat_ms) continue;
        char why[PMI_ERRLEN];
        snprintf(why, sizeof why, "rank %d is dead: no heartbeat for %.1f s "
                 "(heartbeat timeout %.1f s)", r, silent,
                 e->cfg.heartbeat_ms / 1000.0);
        abort_locked(e, PMLS_EDEAD, why, r);
        j->gone[r] = 1;
        j->last_heard[r] = now; /* said once */
      }
      pthread_mutex_unlock(&j->mu);
    }
    /* Short waits, so the thread notices `stop` quickly at the end. */
    pmi_sock_set_rcvtimeo(in, j->beat_ms < 50 ? j->beat_ms : 50);
    void *msg;
    size_t len;
    char err[PMI_ERRLEN];
    if (pmi_msg_recv(in, &msg, &len, NULL, err) != PMLS_OK) continue;
    pmi_hdr h;
    pmi_rd rd;
    if (pmi_msg_open(msg, len, e->job, &h, &rd, err) != PMLS_OK) {
      fprintf(stderr, "pmls: rank %d: dropped a message: %s\n", e->rank, err);
    } else {
      handle(e, &h, &rd);
    }
    pmi_msg_free(msg);
  }
  pmi_buf_free(&beat);
  return NULL;
}

/* ---- start and end ------------------------------------------------------- */

void pmi_job_free(pmi_job *j, const pmls_engine *e) {
  if (!j) return;
  pmi_sock_close(j->master_sock);
  pmi_sock_close(j->ctl_pull);
  /* A message still queued when its socket closes can be lost (nanomsg has
   * no linger), which is why the end of a job is acknowledged step by step. */
  if (j->peer_push)
    for (int r = 0; r < e->procs; r++) pmi_sock_close(j->peer_push[r]);
  free(j->peer_push);
  if (j->shard_push)
    for (int s = 0; s < e->servers; s++) pmi_sock_close(j->shard_push[s]);
  free(j->shard_push);
  free(j->last_heard);
  free(j->phase);
  free(j->gone);
  free(j->ready);
  free(j->workers);
  free(j->sent_acc);
  pmi_buf_free(&j->out);
  pmi_auth_forget((_Atomic int64_t *)&e->dropped); /* the engine goes */
  pthread_mutex_destroy(&j->mu);
  pthread_cond_destroy(&j->cv);
  free(j);
}

int pmi_job_start(pmls_engine *e, int *socks, char *why) {
  const char *master = e->cfg.master;
  if (!master) {
    if (e->procs > 1)
      return pmi_fail(why, PMLS_EINVAL, "a job of %d processes needs a master "
                      "address (ipc:// or tcp://)", e->procs);
    return PMLS_OK; /* inproc: the engine's own prefix does */
  }
  pmi_job *j = calloc(1, sizeof *j);
  if (!j) return pmi_fail(why, PMLS_ENOMEM, "out of memory for the job");
  e->jobst = j;
  j->master_sock = j->ctl_pull = -1;
  pthread_mutex_init(&j->mu, NULL);
  pthread_cond_init(&j->cv, NULL);
  snprintf(j->master, sizeof j->master, "%s", master);
  j->timeout_ms = e->cfg.timeout_ms;
  j->beat_ms = e->cfg.heartbeat_ms / 5;
  if (j->beat_ms > 500) j->beat_ms = 500;
  if (j->beat_ms < 10) j->beat_ms = 10;
  int P = e->procs, rc = PMLS_OK;
  j->peer_push = malloc((size_t)P * sizeof *j->peer_push);
  j->shard_push = malloc((size_t)e->servers * sizeof *j->shard_push);
  j->last_heard = calloc((size_t)P, sizeof *j->last_heard);
  j->phase = calloc((size_t)P, 1);
  j->gone = calloc((size_t)P, 1);
  if (e->rank == 0) {
    j->ready = calloc((size_t)P, sizeof *j->ready);
    j->workers = calloc((size_t)P, sizeof *j->workers);
  } else {
    j->sent_acc = calloc(PMI_MAX_TABLES, sizeof *j->sent_acc);
  }
  if (!j->peer_push || !j->shard_push || !j->last_heard || !j->phase ||
      !j->gone || (e->rank == 0 ? !j->ready || !j->workers : !j->sent_acc)) {
    rc = pmi_fail(why, PMLS_ENOMEM, "out of memory for the job");
    goto fail;
  }
  for (int r = 0; r < P; r++) j->peer_push[r] = -1;
  for (int s = 0; s < e->servers; s++) j->shard_push[s] = -1;

  char master_bind[PMI_ADDR_MAX];
  snprintf(master_bind, sizeof master_bind, "%s", master);
  if (strncmp(master, "ipc://", 6) == 0) {
    e->transport = PMI_IPC;
    snprintf(e->ipc_dir, sizeof e->ipc_dir, "%s", master + 6);
    char *slash = strrchr(e->ipc_dir, '/');
    if (!slash || slash == e->ipc_dir) {
      rc = pmi_fail(why, PMLS_EINVAL, "bad master address '%s' (ipc:///DIR/NAME "
                    "expected: the job's sockets go into DIR)", master);
      goto fail;
    }
    *slash = 0;
  } else if (strncmp(master, "tcp://", 6) == 0) {
    e->transport = PMI_TCP;
    char ip[64];
    int port = 0;
    rc = parse_tcp(master, ip, sizeof ip, &port, why);
    if (rc) goto fail;
    if (e->cfg.bind_host && *e->cfg.bind_host) {
      snprintf(e->host, sizeof e->host, "%s", e->cfg.bind_host);
    } else if (e->rank == 0) {
      snprintf(e->host, sizeof e->host, "%s", ip);
    } else if (pmi_route_to(ip, e->host, sizeof e->host)) {
      rc = pmi_fail(why, PMLS_ENET, "rank %d: no route to the master %s",
                    e->rank, master);
      goto fail;
    }
    /* Rank 0 listens on every interface: the master's name may resolve to
     * an address other than the one the others reach it by; a loopback
     * master (-p) on loopback only. */
    snprintf(master_bind, sizeof master_bind, "tcp://%s:%d",
             strncmp(ip, "127.", 4) == 0 ? ip : "*", port);
    /* From the first message on (JOIN), every tcp message is authenticated
     * (net/auth.c); the master address is the job's nonce. */
    if (e->cfg.secret &&
        (rc = pmi_auth_set(e->cfg.secret, e->cfg.secret_len, master,
                           &e->dropped, why)) != PMLS_OK)
      goto fail;
  } else {
    rc = pmi_fail(why, PMLS_EINVAL, "bad master address '%s' (ipc:// or tcp:// "
                  "expected)", master);
    goto fail;
  }

  /* Bind everything this process offers before anyone hears of it. */
  for (int s = 0; s < pmi_addr_count(e); s++) {
    if (pmi_addr_owner(e, s) != e->rank) continue;
    char name[32];
    pmi_addr_name(e, s, name, sizeof name);
    socks[s] = pmi_proc_bind(e, name, 1000, e->server_addr[s], why);
    if (socks[s] < 0) {
      rc = PMLS_ENET;
      goto fail;
    }
  }
  if (e->rank == 0) {
    j->master_sock = pmi_sock_pull(master_bind, 200, why);
    if (j->master_sock < 0) {
      rc = PMLS_ENET;
      char tmp[PMI_ERRLEN];
      snprintf(tmp, sizeof tmp, "%s", why);
      pmi_fail(why, rc, "rank 0: cannot listen at the master address: %s", tmp);
      goto fail;
    }
    e->hosts = calloc((size_t)P, sizeof *e->hosts);
    if (!e->hosts) {
      rc = pmi_fail(why, PMLS_ENOMEM, "out of memory for the job");
      goto fail;
    }
    pmi_local_host(e->hosts[0]);
    rc = gather_joins(e, why);
  } else {
    char name[32];
    snprintf(name, sizeof name, "r%d", e->rank);
    j->ctl_pull = pmi_proc_bind(e, name, 200, e->ctl_addr, why);
    if (j->ctl_pull < 0) {
      rc = PMLS_ENET;
      goto fail;
    }
    j->master_sock = pmi_sock_push(master, j->timeout_ms, why);
    if (j->master_sock < 0) {
      rc = PMLS_ENET;
      goto fail;
    }
    rc = join_master(e, why);
  }
  if (rc) goto fail;
  for (int s = 0; s < e->servers; s++) {
    j->shard_push[s] = pmi_sock_push(e->server_addr[s], 200, why);
    if (j->shard_push[s] < 0) {
      rc = PMLS_ENET;
      goto fail;
    }
  }
  /* From now on a send to a peer waits at most a heartbeat timeout: past
   * that the peer counts as dead anyway. */
  int send_ms = e->cfg.heartbeat_ms < j->timeout_ms ? e->cfg.heartbeat_ms
                                                    : j->timeout_ms;
  for (int r = 0; r < P; r++)
    if (j->peer_push[r] >= 0) pmi_sock_set_sndtimeo(j->peer_push[r], send_ms);
  if (e->rank != 0) pmi_sock_set_sndtimeo(j->master_sock, send_ms);
  double now = pmi_now();
  for (int r = 0; r < P; r++) j->last_heard[r] = now;
  if (P > 1) {
    if (pthread_create(&j->thread, NULL, node_main, e)) {
      rc = pmi_fail(why, PMLS_ENOMEM, "cannot start the node thread");
      goto fail;
    }
    j->running = 1;
    e->on_abort = on_abort;
  }
  return PMLS_OK;
fail:
  pmi_job_free(j, e);
  e->jobst = NULL;
  return rc;
}
