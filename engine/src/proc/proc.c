/* proc.c -- the process context's own chores: binding sockets on the job's
 * transport, the registry of local clients, the dead flag, lingering sockets
 * and the per-table statistics.
 *
 * These sit at the bottom because every node needs them and none may call
 * up into another: a client binds its reply socket here, not through the
 * job; a scheduler node that fails ends the run here, and the job (a higher
 * floor) hears of it through the abort hook it installed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

void pmi_table_acc_merge(pmi_table_acc *into, const pmi_table_acc *from) {
  into->reads += from->reads;
  into->increments += from->increments;
  into->cache_hits += from->cache_hits;
  into->stale_n += from->stale_n;
  if (from->stale_max > into->stale_max) into->stale_max = from->stale_max;
  for (int i = 0; i < 17; i++) into->stale_hist[i] += from->stale_hist[i];
  into->stale_sum += from->stale_sum;
  into->stale_sumsq += from->stale_sumsq;
  into->bytes_sent += from->bytes_sent;
  into->bytes_received += from->bytes_received;
}

/* ---- addresses ----------------------------------------------------------- */

static int bind_on_transport(pmls_engine *e, const char *name, int rcvtimeo_ms,
                             char addr[PMI_ADDR_MAX], char *err) {
  if (e->transport == PMI_INPROC) {
    snprintf(addr, PMI_ADDR_MAX, "%s-%s", e->addr_prefix, name);
    return pmi_sock_pull(addr, rcvtimeo_ms, err);
  }
  if (e->transport == PMI_IPC) {
    snprintf(addr, PMI_ADDR_MAX, "ipc://%s/%s", e->ipc_dir, name);
    unlink(addr + 6); /* a socket file left by a crashed run of this job */
    return pmi_sock_pull(addr, rcvtimeo_ms, err);
  }
  for (int attempt = 0; attempt < 20; attempt++) {
    int port = pmi_free_tcp_port(e->host);
    if (port < 0)
      return pmi_fail(err, PMLS_ENET, "cannot find a free tcp port on %s: %s",
                      e->host, strerror(errno)), -1;
    snprintf(addr, PMI_ADDR_MAX, "tcp://%s:%d", e->host, port);
    int s = pmi_sock_pull(addr, rcvtimeo_ms, err);
    /* Another process may take the port between the probe and the bind. */
    if (s >= 0 || !strstr(err, "already in use")) return s;
  }
  return -1;
}

int pmi_proc_bind(pmls_engine *e, const char *name, int rcvtimeo_ms,
                  char addr[PMI_ADDR_MAX], char *err) {
  int s = bind_on_transport(e, name, rcvtimeo_ms, addr, err);
  if (s < 0 && e->master) { /* say which process could not bind */
    char tmp[PMI_ERRLEN];
    snprintf(tmp, sizeof tmp, "%s", err);
    pmi_fail(err, PMLS_ENET, "rank %d: %s", e->rank, tmp);
  }
  return s;
}

/* ---- local clients ------------------------------------------------------- */

void pmi_proc_add_client(pmls_engine *e, int id, const char *addr) {
  if (!e->master) return;
  pthread_mutex_lock(&e->mu);
  if (e->nclients == e->capclients) {
    int cap = e->capclients ? 2 * e->capclients : 16;
    pmi_local_client *p = realloc(e->clients, (size_t)cap * sizeof *p);
    if (p) {
      e->clients = p;
      e->capclients = cap;
    }
  }
  if (e->nclients < e->capclients) {
    pmi_local_client *c = &e->clients[e->nclients++];
    c->id = id;
    /* Connected now, so the pipe exists by the time the job may die. */
    c->sock = pmi_sock_push(addr, 200, NULL);
  }
  pthread_mutex_unlock(&e->mu);
}

void pmi_proc_remove_client(pmls_engine *e, int id) {
  pthread_mutex_lock(&e->mu);
  for (int i = 0; i < e->nclients; i++) {
    if (e->clients[i].id != id) continue;
    pmi_sock_close(e->clients[i].sock);
    e->clients[i] = e->clients[--e->nclients];
    break;
  }
  pthread_mutex_unlock(&e->mu);
}

void pmi_proc_wake_clients(pmls_engine *e, int code, const char *why) {
  pmi_buf b = {0};
  pmi_msg_begin(&b, e->job, PMI_MSG_ERR, -1);
  pmi_put_u32(&b, 0);
  pmi_put_i32(&b, code);
  pmi_put_str(&b, why);
  pthread_mutex_lock(&e->mu);
  /* The clients are in this process: a short wait is safe, and each must
   * get the news, or it would sit out its whole read timeout. */
  for (int i = 0; i < e->nclients; i++)
    if (e->clients[i].sock >= 0)
      pmi_msg_send(e->clients[i].sock, &b, NULL, "a local client", NULL);
  pthread_mutex_unlock(&e->mu);
  pmi_buf_free(&b);
}

/* ---- the dead flag ------------------------------------------------------- */

int pmi_proc_mark_dead(pmls_engine *e, int code, const char *why) {
  int set = 0;
  pthread_mutex_lock(&e->mu);
  if (!atomic_load(&e->dead)) {
    snprintf(e->dead_why, sizeof e->dead_why, "%s", why ? why : "aborted");
    e->dead_code = code ? code : PMLS_EABORTED;
    atomic_store(&e->dead, 1);
    set = 1;
  }
  pthread_mutex_unlock(&e->mu);
  return set;
}

void pmi_proc_abort(pmls_engine *e, int code, const char *why) {
  if (e->on_abort) e->on_abort(e, code, why); /* tells the other processes */
  pmi_proc_mark_dead(e, code, why);
}

int pmi_proc_dead_error(pmls_engine *e, char *err) {
  return pmi_fail(err, PMLS_EABORTED, "run aborted: %s", e->dead_why);
}

/* ---- lingering sockets --------------------------------------------------- */

void pmi_proc_linger(pmls_engine *e, int sock) {
  if (sock < 0) return;
  pthread_mutex_lock(&e->mu);
  if (e->nlingering == e->caplingering) {
    int cap = e->caplingering ? 2 * e->caplingering : 16;
    int *p = realloc(e->lingering, (size_t)cap * sizeof *p);
    if (p) {
      e->lingering = p;
      e->caplingering = cap;
    }
  }
  if (e->nlingering < e->caplingering) e->lingering[e->nlingering++] = sock;
  else pmi_sock_close(sock); /* out of memory: risk the last message */
  pthread_mutex_unlock(&e->mu);
}

void pmi_proc_close_lingering(pmls_engine *e) {
  for (int i = 0; i < e->nlingering; i++) pmi_sock_close(e->lingering[i]);
  free(e->lingering);
  e->lingering = NULL;
  e->nlingering = e->caplingering = 0;
}

/* ---- table statistics ---------------------------------------------------- */

int pmi_proc_table_stats(pmls_engine *e, int table, pmls_table_stats *out) {
  memset(out, 0, sizeof *out);
  if (table < 0 || table >= pmi_engine_ntables(e))
    return pmi_fail(e->err, PMLS_EINVAL, "bad table id %d (%d declared)", table,
                    pmi_engine_ntables(e));
  pthread_mutex_lock(&e->mu);
  const pmi_table_acc *a = &e->table_acc[table];
  out->reads = a->reads;
  out->increments = a->increments;
  out->cache_hits = a->cache_hits;
  out->staleness_max = a->stale_max;
  if (a->stale_n > 0) {
    double n = (double)a->stale_n, mean = a->stale_sum / n;
    out->staleness_mean = mean;
    out->staleness_var = a->stale_sumsq / n - mean * mean;
    if (out->staleness_var < 0) out->staleness_var = 0;
  }
  memcpy(out->staleness_hist, a->stale_hist, sizeof out->staleness_hist);
  out->bytes_sent = a->bytes_sent;
  out->bytes_received = a->bytes_received;
  pthread_mutex_unlock(&e->mu);
  return PMLS_OK;
}
