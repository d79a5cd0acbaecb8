/* auth.c -- the MACs of tcp traffic. Anyone who can reach a tcp port of a
 * job could otherwise join it, read its rows or apply increments; with a
 * secret set (pmi_auth_set), every message on a tcp socket carries a
 * 32-byte trailer that proves it was made by a holder of the job's secret,
 * for this receiver, and not before: the receiver drops (and counts) every
 * message whose trailer fails, before any field of it is read.
 *
 * The trailer is [stream id u64][sequence u64][tag 16]. A stream is one
 * PUSH socket: a random 64-bit id, messages numbered from 1. The tag is
 * ChaCha20-Poly1305 (RFC 8439) over an empty plaintext with the whole
 * message, header and payload, as associated data: a MAC, the message stays
 * readable (authenticated, not encrypted). ChaCha20 is libsodium's,
 * Poly1305 OpenSSL's when it has one (faster), else libsodium's AEAD. Its key is the stream's own,
 * derived once per stream from the job key (crypto_kdf, the stream id as the
 * subkey id), and its nonce is the sequence number and the receiver's port,
 * so no (key, nonce) pair is ever used twice and a message sent to one port
 * fails at another. The job key is BLAKE2b of the secret and the job's
 * master address (the per-job nonce every rank knows before it sends).
 *
 * A receiver remembers, per stream, the last sequence number it accepted and
 * refuses one not above it: a replayed or reordered message is dropped.
 * The cost per message is one ChaCha20 block (the Poly1305 key) and Poly1305
 * over the bytes, in place in the message buffers nanomsg already holds: no
 * copy, no allocation, no key derivation on the hot path.
 *
 * The key is the process's (like the receive bound in transport.c): a
 * process serves one tcp job at a time. ipc and inproc sockets carry no
 * trailer: ipc sockets live in the job's 0700 directory, inproc never leaves
 * the process. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "net.h"

#define MAX_SOCKS 4096      /* nanomsg's socket ids are below NN_MAX_SOCKETS */
#define MAX_STREAMS 65536   /* per receiving socket */
#define TAG crypto_aead_chacha20poly1305_ietf_ABYTES

typedef struct {
  uint64_t id, last;
  unsigned char key[32];
} stream;

typedef struct {
  int push;
  uint16_t port;          /* the receiver's port: part of every nonce */
  pthread_mutex_t mu;     /* push: seq, MAC and send in one order */
  /* push */
  uint64_t id, seq;
  int keyed;
  unsigned char key[32];
  EVP_MAC_CTX *mac;       /* OpenSSL's Poly1305, or NULL: libsodium's */
  /* pull: streams seen, open addressing on the id */
  stream *tab;
  size_t cap, n;
} sock_state;

static pthread_mutex_t key_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int key_on;
static unsigned char job_key[32];
static _Atomic(_Atomic int64_t *) drop_counter;
static _Atomic(sock_state *) socks[MAX_SOCKS];
static EVP_MAC *poly1305; /* fetched once, with the key */

int pmi_auth_set(const void *secret, size_t len, const char *job_nonce,
                 _Atomic int64_t *dropped, char *err) {
  if (len < PMI_SECRET_MIN || len > PMI_SECRET_MAX)
    return pmi_fail(err, PMLS_EINVAL, "the job's secret must hold %d to %d "
                    "bytes, not %zu", PMI_SECRET_MIN, PMI_SECRET_MAX, len);
  if (sodium_init() < 0)
    return pmi_fail(err, PMLS_ENOMEM, "libsodium failed to initialise");
  unsigned char base[32], key[32];
  crypto_generichash(base, sizeof base, secret, len, NULL, 0);
  crypto_generichash_state st;
  crypto_generichash_init(&st, base, sizeof base, sizeof key);
  static const char tag[] = "pmls tcp v1";
  crypto_generichash_update(&st, (const unsigned char *)tag, sizeof tag);
  const char *n = job_nonce ? job_nonce : "";
  crypto_generichash_update(&st, (const unsigned char *)n, strlen(n));
  crypto_generichash_final(&st, key, sizeof key);
  sodium_memzero(base, sizeof base);
  int rc = PMLS_OK;
  pthread_mutex_lock(&key_mu);
  if (atomic_load(&key_on) && sodium_memcmp(key, job_key, sizeof key) != 0) {
    rc = pmi_fail(err, PMLS_ESTATE, "this process already serves a tcp job "
                  "with another secret");
  } else if (!atomic_load(&key_on)) {
    memcpy(job_key, key, sizeof key);
    if (!poly1305) poly1305 = EVP_MAC_fetch(NULL, "POLY1305", NULL);
    atomic_store(&key_on, 1);
  }
  if (rc == PMLS_OK && dropped) atomic_store(&drop_counter, dropped);
  pthread_mutex_unlock(&key_mu);
  sodium_memzero(key, sizeof key);
  return rc;
}

int pmi_auth_on(void) { return atomic_load(&key_on); }

void pmi_auth_forget(_Atomic int64_t *dropped) {
  _Atomic int64_t *want = dropped;
  atomic_compare_exchange_strong(&drop_counter, &want, NULL);
}

static uint16_t port_of(const char *addr) {
  const char *colon = strrchr(addr, ':');
  long p = colon ? strtol(colon + 1, NULL, 10) : 0;
  return p > 0 && p < 65536 ? (uint16_t)p : 0;
}

int pmi_auth_sock_open(int s, const char *addr, int push) {
  /* A socket made before the secret was set stays unauthenticated: an
   * engine without a secret keeps working beside one with (benchmarks
   * compare them in one process). The job sets the secret before it makes
   * any socket. */
  if (strncmp(addr, "tcp://", 6) != 0 || !atomic_load(&key_on)) return 0;
  if (s < 0 || s >= MAX_SOCKS) return -1;
  sock_state *st = calloc(1, sizeof *st);
  if (!st) return -1;
  st->push = push;
  st->port = port_of(addr);
  st->mac = poly1305 ? EVP_MAC_CTX_new(poly1305) : NULL;
  pthread_mutex_init(&st->mu, NULL);
  if (push) {
    if (sodium_init() < 0) {
      free(st);
      return -1;
    }
    randombytes_buf(&st->id, sizeof st->id);
  }
  sock_state *old = atomic_exchange(&socks[s], st);
  if (old) { /* a socket id closed without pmi_auth_sock_close */
    EVP_MAC_CTX_free(old->mac);
    free(old->tab);
    free(old);
  }
  return 0;
}

void pmi_auth_sock_close(int s) {
  if (s < 0 || s >= MAX_SOCKS) return;
  sock_state *st = atomic_exchange(&socks[s], NULL);
  if (!st) return;
  pthread_mutex_destroy(&st->mu);
  EVP_MAC_CTX_free(st->mac);
  if (st->tab) sodium_memzero(st->tab, st->cap * sizeof *st->tab);
  free(st->tab);
  sodium_memzero(st, sizeof *st);
  free(st);
}

static sock_state *state_of(int s) {
  if (s < 0 || s >= MAX_SOCKS) return NULL;
  return atomic_load(&socks[s]);
}

static void derive(unsigned char out[32], uint64_t id) {
  crypto_kdf_derive_from_key(out, 32, id, "pmlsstrm", job_key);
}

static void make_nonce(unsigned char n[12], uint64_t seq, uint16_t port) {
  memset(n, 0, 12);
  memcpy(n, &seq, 8);
  memcpy(n + 8, &port, 2);
}

/* The tag of ChaCha20-Poly1305 (RFC 8439, IETF) over an empty plaintext
 * with ad as associated data: Poly1305, keyed by the first 32 bytes of the
 * ChaCha20 block 0 under (key, nonce), over ad, its padding to 16 bytes and
 * the two lengths (adlen, 0) as little-endian u64. The bytes are those of
 * libsodium's crypto_aead_chacha20poly1305_ietf_encrypt_detached
 * (auth_test.c checks it); OpenSSL's Poly1305 computes them about twice as
 * fast on this hardware (AVX-512), which is most of the cost of a large
 * message. Without OpenSSL's, libsodium's AEAD does it. */
static void tag_of(sock_state *st, const unsigned char key[32],
                   const unsigned char nonce[12], const unsigned char *ad,
                   size_t adlen, unsigned char tag[16]) {
  if (st->mac) {
    unsigned char pk[64], tail[32] = {0};
    crypto_stream_chacha20_ietf(pk, sizeof pk, nonce, key);
    size_t pad = (16 - adlen % 16) % 16, outl = 0;
    for (int i = 0; i < 8; i++) tail[pad + i] = (unsigned char)((uint64_t)adlen >> (8 * i));
    int ok = EVP_MAC_init(st->mac, pk, 32, NULL) &&
             EVP_MAC_update(st->mac, ad, adlen) &&
             EVP_MAC_update(st->mac, tail, pad + 16) &&
             EVP_MAC_final(st->mac, tag, &outl, 16) && outl == 16;
    sodium_memzero(pk, sizeof pk);
    if (ok) return;
  }
  unsigned char none[1]; /* the empty plaintext's ciphertext */
  unsigned long long taglen = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(
      none, tag, &taglen, NULL, 0, ad, adlen, NULL, nonce, key);
}

int pmi_auth_seal_begin(int s, pmi_buf *b) {
  sock_state *st = state_of(s);
  if (!st || !st->push) return 0;
  pthread_mutex_lock(&st->mu);
  if (!st->keyed) {
    derive(st->key, st->id);
    st->keyed = 1;
  }
  uint64_t seq = ++st->seq;
  size_t adlen = b->len;
  unsigned char pad[PMI_AUTH_TRAILER] = {0};
  if (pmi_buf_put(b, pad, sizeof pad)) {
    pthread_mutex_unlock(&st->mu);
    return -1;
  }
  unsigned char *t = b->data + adlen;
  memcpy(t, &st->id, 8);
  memcpy(t + 8, &seq, 8);
  unsigned char nonce[12];
  make_nonce(nonce, seq, st->port);
  tag_of(st, st->key, nonce, b->data, adlen, t + 16);
  return 1; /* the stream stays locked until the send is done */
}

void pmi_auth_seal_end(int s, pmi_buf *b) {
  sock_state *st = atomic_load(&socks[s]);
  b->len -= PMI_AUTH_TRAILER;
  pthread_mutex_unlock(&st->mu);
}

/* The stream's slot: found, or the empty one where it goes (NULL: full). */
static stream *slot(sock_state *st, uint64_t id) {
  if (!st->cap) return NULL;
  size_t mask = st->cap - 1;
  for (size_t i = (size_t)(id * 0x9e3779b97f4a7c15ull) & mask;; i = (i + 1) & mask)
    if (st->tab[i].id == id || st->tab[i].id == 0) return &st->tab[i];
}

static int grow(sock_state *st) {
  size_t cap = st->cap ? 2 * st->cap : 16;
  stream *old = st->tab;
  size_t oldcap = st->cap;
  stream *tab = calloc(cap, sizeof *tab);
  if (!tab) return -1;
  st->tab = tab;
  st->cap = cap;
  for (size_t i = 0; i < oldcap; i++)
    if (old[i].id) *slot(st, old[i].id) = old[i];
  if (old) sodium_memzero(old, oldcap * sizeof *old);
  free(old);
  return 0;
}

int pmi_auth_check(int s, const void *msg, size_t *len, char *why,
                   size_t whylen) {
  sock_state *st = state_of(s);
  if (!st || st->push) return 0;
  const unsigned char *p = msg;
  if (*len < sizeof(pmi_hdr) + PMI_AUTH_TRAILER) {
    snprintf(why, whylen, "unauthenticated message: %zu bytes, too short for "
             "a header and a MAC", *len);
    return -1;
  }
  size_t adlen = *len - PMI_AUTH_TRAILER;
  const unsigned char *t = p + adlen;
  uint64_t id, seq;
  memcpy(&id, t, 8);
  memcpy(&seq, t + 8, 8);
  unsigned char nonce[12];
  make_nonce(nonce, seq, st->port);
  int rc = -1;
  pthread_mutex_lock(&st->mu);
  stream *e = id ? slot(st, id) : NULL;
  unsigned char fresh[32], tag[16];
  const unsigned char *key = fresh;
  if (e && e->id == id) key = e->key;
  else if (id) derive(fresh, id);
  if (id) tag_of(st, key, nonce, p, adlen, tag);
  if (!id || crypto_verify_16(tag, t + 16) != 0) {
    snprintf(why, whylen, "message refused: its MAC does not verify (not "
             "from a holder of the job's secret, altered, or truncated)");
  } else if (e && e->id == id && seq <= e->last) {
    snprintf(why, whylen, "message refused: sequence %llu of its stream, not "
             "after %llu (replayed or reordered)", (unsigned long long)seq,
             (unsigned long long)e->last);
  } else if (e && e->id == id) {
    e->last = seq;
    rc = 0;
  } else if (st->n >= MAX_STREAMS) {
    snprintf(why, whylen, "message refused: this socket already knows %d "
             "streams", MAX_STREAMS);
  } else if ((st->n + 1) * 2 > st->cap && grow(st)) {
    snprintf(why, whylen, "message refused: out of memory for its stream");
  } else {
    e = slot(st, id);
    e->id = id;
    e->last = seq;
    memcpy(e->key, fresh, sizeof fresh);
    st->n++;
    rc = 0;
  }
  pthread_mutex_unlock(&st->mu);
  sodium_memzero(fresh, sizeof fresh);
  if (rc == 0) *len = adlen;
  return rc;
}

void pmi_auth_dropped(const char *why) {
  static _Atomic int64_t orphan; /* no engine said where to count */
  _Atomic int64_t *c = atomic_load(&drop_counter);
  pmi_msg_dropped(c ? c : &orphan, "tcp", why);
}

int pmi_auth_selftest(size_t len) {
  if (sodium_init() < 0) return -1;
  sock_state st = {0};
  if (!poly1305) poly1305 = EVP_MAC_fetch(NULL, "POLY1305", NULL);
  st.mac = poly1305 ? EVP_MAC_CTX_new(poly1305) : NULL;
  unsigned char key[32], nonce[12], a[16], b[16], none[1];
  unsigned char *ad = malloc(len ? len : 1);
  if (!ad) return -1;
  randombytes_buf(key, sizeof key);
  randombytes_buf(nonce, sizeof nonce);
  randombytes_buf(ad, len);
  tag_of(&st, key, nonce, ad, len, a);
  unsigned long long taglen = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(none, b, &taglen, NULL, 0,
                                                     ad, len, NULL, nonce, key);
  int fast = st.mac != NULL;
  EVP_MAC_CTX_free(st.mac);
  free(ad);
  return memcmp(a, b, 16) != 0 ? -1 : fast;
}
