/*
 * lda.c -- the collapsed Gibbs sampling kernels of LDA (models/lda.lua).
 *
 * A worker of the data-parallel LDA owns a range of documents: their tokens'
 * words and topics and their doc-topic counts live here, in the caller's
 * arrays; the word-topic counts and the topic totals live in the store, and
 * reach these kernels as row views (the cache's copy, read-only) plus the
 * worker's pending increments (delta rows), so that a count as the worker
 * sees it is view + delta, and every change is written into the delta, which
 * the next clock sends (the sparse sampler works on its own copy of each
 * word's nonzero counts and writes the deltas at the end of the sweep). No
 * token goes through Lua.
 *
 * Two samplers draw from the same conditional
 *   p(z = k) ~ (n_dk + alpha) (n_wk + beta) / (n_k + V beta):
 * the dense one computes all K terms (the cheapest for small K, and simple
 * enough that a serial sampler in Lua reproduces it bit for bit), the sparse
 * one is SparseLDA's decomposition into s (alpha beta / (n_k + V beta), every
 * topic), r (n_dk beta / ..., the document's topics) and q ((alpha + n_dk)
 * n_wk / ..., the word's topics), whose cost per token grows with the topics
 * a word and a document hold, not with K (its q bucket walks a short list
 * of (topic, count) pairs, not scattered row entries). Each token takes
 * exactly one uniform draw from the caller's splitmix64 state in both, so a
 * run is fixed by its seed. Everything works in the caller's memory and never allocates.
 */
#include "pmlsaux.h"

#include <math.h>
#include <string.h>

/* splitmix64, as pmi_rng and pmls.rng: the same stream in C and Lua. */
static inline uint64_t lda_next(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static inline double lda_uniform(uint64_t *s) {
  return (double)(lda_next(s) >> 11) * 0x1.0p-53;
}

double pmls_lda_uniform(uint64_t *rng) { return lda_uniform(rng); }

double pmls_lda_lgamma(double x) { return lgamma(x); }

void pmls_lda_lgamma_table(double base, int32_t n, double *out) {
  for (int32_t c = 0; c < n; c++) out[c] = lgamma(base + c);
}

int64_t pmls_lda_assign(int32_t K, int64_t ndocs, const int64_t *tokptr,
                        const int32_t *tokword, int32_t *z, int32_t *ndk,
                        int32_t *const *wdelta, int32_t *tdelta, uint64_t *rng) {
  if (K < 1 || ndocs < 0) return -1;
  for (int64_t d = 0; d < ndocs; d++) {
    int32_t *nd = ndk + d * (int64_t)K;
    for (int64_t i = tokptr[d]; i < tokptr[d + 1]; i++) {
      int32_t k = (int32_t)(lda_uniform(rng) * K);
      if (k >= K) k = K - 1;
      z[i] = k;
      nd[k]++;
      wdelta[tokword[i]][k]++;
      tdelta[k]++;
    }
  }
  return tokptr[ndocs];
}

/* The words of a document lie all over the table, so without help each
 * token's view and delta rows are cache misses: about 40 % of a K = 20
 * sweep (perf, 20news) was spent waiting on them. The dense sampler asks
 * for the rows of the token AHEAD places on while this one is sampled (the
 * first 256 bytes: all of a small row, the head of a large one); the sparse
 * one reads no row in its token loop, only its word's pairs (below), and
 * asks for their head. */
enum { AHEAD = 8, AHEAD_BYTES = 256 };
static inline void prefetch_row(const void *row, size_t bytes, int for_write) {
  const char *p = row;
  if (bytes > AHEAD_BYTES) bytes = AHEAD_BYTES;
  for (size_t off = 0; off < bytes; off += 64) {
    if (for_write) __builtin_prefetch(p + off, 1);
    else __builtin_prefetch(p + off, 0);
  }
  if (for_write) __builtin_prefetch(p + bytes - 1, 1);
  else __builtin_prefetch(p + bytes - 1, 0);
}

/* The dense sampler: every topic's term, summed in topic order. Within a
 * document, a[k] = (n_dk + alpha) / (n_k + V beta) changes only for the
 * two topics a token leaves and joins, so each term is one product. */
static int64_t sweep_dense(int32_t K, double alpha, double beta, double vbeta,
                           int64_t ndocs, const int64_t *tokptr,
                           const int32_t *tokword, int32_t *z, int32_t *ndk,
                           const int32_t *const *wview, int32_t *const *wdelta,
                           const int32_t *tview, int32_t *tdelta, double *work,
                           uint64_t *rng) {
  double *cum = work, *inv = work + K, *a = work + 2 * K;
  const size_t row_bytes = (size_t)K * sizeof(int32_t);
  const int64_t ntok = tokptr[ndocs];
  for (int32_t k = 0; k < K; k++) inv[k] = 1.0 / ((double)(tview[k] + tdelta[k]) + vbeta);
  for (int64_t d = 0; d < ndocs; d++) {
    int32_t *nd = ndk + d * (int64_t)K;
    for (int32_t k = 0; k < K; k++) a[k] = ((double)nd[k] + alpha) * inv[k];
    for (int64_t i = tokptr[d]; i < tokptr[d + 1]; i++) {
      if (i + AHEAD < ntok) {
        int32_t ahead = tokword[i + AHEAD];
        prefetch_row(wview[ahead], row_bytes, 0);
        prefetch_row(wdelta[ahead], row_bytes, 1);
      }
      const int32_t *wv = wview[tokword[i]];
      int32_t *wd = wdelta[tokword[i]];
      int32_t t = z[i];
      nd[t]--;
      wd[t]--;
      tdelta[t]--;
      int32_t nt = tview[t] + tdelta[t];
      if (nd[t] < 0 || wv[t] + wd[t] < 0 || nt < 0) return -1;
      inv[t] = 1.0 / ((double)nt + vbeta);
      a[t] = ((double)nd[t] + alpha) * inv[t];
      double total = 0;
      for (int32_t k = 0; k < K; k++) {
        total += a[k] * ((double)(wv[k] + wd[k]) + beta);
        cum[k] = total;
      }
      double u = lda_uniform(rng) * total;
      int32_t k = 0;
      while (k < K - 1 && cum[k] <= u) k++;
      z[i] = k;
      nd[k]++;
      wd[k]++;
      tdelta[k]++;
      inv[k] = 1.0 / ((double)(tview[k] + tdelta[k]) + vbeta);
      a[k] = ((double)nd[k] + alpha) * inv[k];
    }
  }
  return tokptr[ndocs];
}

/* The sparse sampler keeps, per word slot, the word's nonzero topics with
 * their counts as (topic, count) pairs, in step with view + delta, so that
 * the q bucket reads one short contiguous array rather than two rows of
 * 4K bytes at scattered places (perf, K = 100: most of the sweep was there).
 * The pairs are kept sorted by count, largest first (as MALLET does), so
 * that both the search for the token's old topic and the q walk end early;
 * each sweep starts them sorted by topic among equal counts too, so that
 * the order there is a function of the counts alone and a run resumed
 * from a checkpoint (which keeps the topics, not the lists) draws as the
 * uninterrupted one.
 * The pairs are the word's counts during the sweep; its delta row is
 * written at the end (delta = count - view, for the topics it holds then,
 * and for a topic it loses, when it loses it) instead of at every token,
 * where the new topic's line was a cache miss that could not be asked for
 * ahead (it is drawn). */
typedef struct { int32_t topic, count; } nzpair;

/* Whether pair a goes before pair b: the larger count, then the smaller
 * topic. */
static inline int pair_before(nzpair a, nzpair b) {
  return a.count > b.count || (a.count == b.count && a.topic < b.topic);
}

/* Moves pair j forward into its place among l[0 .. j - 1] (sorted). */
static inline void pair_place(nzpair *l, int32_t j) {
  nzpair p = l[j];
  while (j > 0 && pair_before(p, l[j - 1])) { l[j] = l[j - 1]; j--; }
  l[j] = p;
}

/* During a sweep only the counts are kept in order (the ties are put back
 * in topic order by the next rebuild), so a pair moves past its equals
 * never. Pair j's count went up by one: moves it forward past smaller
 * counts. */
static inline void pair_up(nzpair *l, int32_t j) {
  nzpair p = l[j];
  while (j > 0 && l[j - 1].count < p.count) { l[j] = l[j - 1]; j--; }
  l[j] = p;
}

/* Pair j's count went down by one (n pairs): moves it back past larger
 * counts; a pair at zero ends up last and is dropped. Returns the new n. */
static inline int32_t pair_down(nzpair *l, int32_t n, int32_t j) {
  nzpair p = l[j];
  while (j < n - 1 && l[j + 1].count > p.count) { l[j] = l[j + 1]; j++; }
  l[j] = p;
  return p.count == 0 ? n - 1 : n;
}

/* SparseLDA: s + r + q buckets. work: 3K doubles, iwork: 2K ints. */
/* The word rows as (topic, count) pairs instead of views and deltas: the
 * counts each slot's row holds at the start (CSR over the slots), and the
 * changes the sweep made, written out the same way (pmls_lda_sweep_pairs). */
typedef struct {
  const int64_t *off;
  const int32_t *keys, *vals;
} pairs_in;
typedef struct {
  int64_t *off;
  int32_t *keys, *vals;
  int64_t cap;
} pairs_out;

static int64_t sweep_sparse(int32_t K, double alpha, double beta, double vbeta,
                            int64_t ndocs, const int64_t *tokptr,
                            const int32_t *tokword, int32_t *z, int32_t *ndk,
                            const int32_t *const *wview, int32_t *const *wdelta,
                            const pairs_in *cin, const pairs_out *dout,
                            const int32_t *tview, int32_t *tdelta, int64_t nwords,
                            const int64_t *nzoff, int32_t *nzlist, int32_t *nzlen,
                            double *work, int32_t *iwork, uint64_t *rng) {
  double *inv = work, *coef = work + K, *qs = work + 2 * K;
  int32_t *dlist = iwork, *dpos = iwork + K;
  nzpair *pairs = (nzpair *)(void *)nzlist;
  const double ab = alpha * beta;
  const int64_t ntok = tokptr[ndocs];
  /* The words' nonzero topics and counts as this worker sees them now.
   * The counts change little from one sweep to the next, so the pairs are
   * laid out in the order the last sweep left (nzlen[w] pairs; a pair
   * whose topic is out of range or seen already is dropped, so any list
   * gives a right one), new topics after them, and the sort has little
   * left to do; what it gives does not depend on that order. The counts are added in a loop of their own, with
   * no branch, which the compiler vectorizes. */
  int32_t *cnt = iwork;
  for (int64_t w = 0; cin && w < nwords; w++) {
    /* pairs in: the row's counts are there already (a sparse row keeps a
     * key whose count went back to zero: those are passed over) */
    nzpair *list = pairs + nzoff[w];
    int64_t lo = cin->off[w], hi = cin->off[w + 1], cap = nzoff[w + 1] - nzoff[w];
    int32_t n = 0;
    for (int64_t e = lo; e < hi; e++) {
      int32_t k = cin->keys[e], c = cin->vals[e];
      if (k < 0 || k >= K || c < 0) return -1;
      if (c == 0) continue;
      if (n >= cap) return -2;
      list[n++] = (nzpair){k, c};
    }
    for (int32_t j = 1; j < n; j++) pair_place(list, j);
    nzlen[w] = n;
  }
  for (int64_t w = 0; !cin && w < nwords; w++) {
    const int32_t *wv = wview[w];
    const int32_t *wd = wdelta[w];
    nzpair *list = pairs + nzoff[w];
    int64_t cap = nzoff[w + 1] - nzoff[w];
    int32_t neg = 0;
    int64_t total = 0;
    for (int32_t k = 0; k < K; k++) {
      cnt[k] = wv[k] + wd[k];
      neg |= cnt[k];
      total += cnt[k];
    }
    if (neg < 0) return -1;
    int32_t n = 0, old = nzlen[w];
    if (old < 0 || old > cap) old = 0;
    for (int32_t j = 0; j < old; j++) {
      int32_t k = list[j].topic;
      if (k < 0 || k >= K || cnt[k] == 0) continue;
      list[n++] = (nzpair){k, cnt[k]};
      total -= cnt[k];
      cnt[k] = 0;
    }
    /* The topics new to the list, in topic order. Most words have none
     * (the old list holds all their tokens: total is 0 then), and a word
     * that has some holds few of K: runs of 16 zero counts are passed by
     * one branch (a scan for them was a tenth of a K = 1000 sweep). */
    for (int32_t k0 = 0; total > 0 && k0 < K; k0 += 16) {
      int32_t k1 = K - k0 < 16 ? K : k0 + 16, any = 0;
      for (int32_t k = k0; k < k1; k++) any |= cnt[k];
      if (!any) continue;
      for (int32_t k = k0; k < k1; k++) {
        if (cnt[k] > 0) {
          if (n >= cap) return -2;
          list[n++] = (nzpair){k, cnt[k]};
          total -= cnt[k];
        }
      }
    }
    for (int32_t j = 1; j < n; j++) pair_place(list, j);
    nzlen[w] = n;
  }
  for (int32_t k = 0; k < K; k++) {
    inv[k] = 1.0 / ((double)(tview[k] + tdelta[k]) + vbeta);
    coef[k] = alpha * inv[k];
  }
  /* Words a topic left, whose delta is set to -view: applied in batches
   * (below), not when the topic is left. */
  enum { LOST = 256 };
  int32_t lost_w[LOST], lost_t[LOST], nlost = 0;
  double s = 0;
  for (int64_t d = 0; d < ndocs; d++) {
    int32_t *nd = ndk + d * (int64_t)K;
    /* s is summed afresh every few documents, so rounding never drifts far,
     * and r for each; a document's topics are found from its tokens, not by
     * a scan of its K counts (dpos and dlist are a sparse set: k is listed
     * when dpos[k] < dn, unsigned, and dlist[dpos[k]] == k, whatever dpos
     * held) */
    if (d % 32 == 0) {
      s = 0;
      for (int32_t k = 0; k < K; k++) s += ab * inv[k];
    }
    double r = 0;
    int32_t dn = 0;
    for (int64_t i = tokptr[d]; i < tokptr[d + 1]; i++) {
      int32_t k = z[i];
      if (k < 0 || k >= K || nd[k] <= 0) return -1;
      if ((uint32_t)dpos[k] < (uint32_t)dn && dlist[dpos[k]] == k) continue;
      dpos[k] = dn;
      dlist[dn++] = k;
    }
    for (int32_t j = 0; j < dn; j++) {
      int32_t k = dlist[j];
      r += nd[k] * beta * inv[k];
      coef[k] = (alpha + nd[k]) * inv[k];
    }
    for (int64_t i = tokptr[d]; i < tokptr[d + 1]; i++) {
      /* The head of the pairs of the token AHEAD places on: the search
       * and the q walk start there. */
      if (i + AHEAD < ntok) {
        const char *p = (const char *)(pairs + nzoff[tokword[i + AHEAD]]);
        __builtin_prefetch(p, 1);
        __builtin_prefetch(p + 64, 1);
        __builtin_prefetch(p + 128, 1);
        __builtin_prefetch(p + 192, 1);
      }
      int32_t w = tokword[i];
      nzpair *list = pairs + nzoff[w];
      int32_t n = nzlen[w];
      int32_t t = z[i];
      s -= ab * inv[t];
      r -= nd[t] * beta * inv[t];
      nd[t]--;
      tdelta[t]--;
      int32_t nt = tview[t] + tdelta[t];
      int32_t jt = 0;
      while (jt < n && list[jt].topic != t) jt++;
      if (nd[t] < 0 || jt == n || nt < 0) return -1;
      /* A topic the word leaves has no pair to write it back at the end:
       * its delta is set now (rare next to the tokens: one row line). */
      if (--list[jt].count == 0 && !cin) {
        /* set at the end, or when LOST are waiting: a row line each, and
         * the misses of a batch overlap */
        if (nlost == LOST) {
          for (int32_t j = 0; j < LOST; j++)
            wdelta[lost_w[j]][lost_t[j]] = -wview[lost_w[j]][lost_t[j]];
          nlost = 0;
        }
        lost_w[nlost] = w;
        lost_t[nlost++] = t;
      }
      n = pair_down(list, n, jt);
      inv[t] = 1.0 / ((double)nt + vbeta);
      s += ab * inv[t];
      r += nd[t] * beta * inv[t];
      coef[t] = (alpha + nd[t]) * inv[t];
      if (nd[t] == 0) {
        int32_t j = dpos[t], last = dlist[--dn];
        dlist[j] = last;
        dpos[last] = j;
      }
      /* The q terms in blocks of four: qs[j] holds term j, except the last
       * slot of each whole block, which holds the running sum through it,
       * so that the sum waits on one add a block, not one a term (the walk
       * was a chain of dependent adds), and the search compares those sums
       * before it looks into one block. */
      double q = 0;
      const int32_t whole = n & ~3;
      for (int32_t j = 0; j < whole; j += 4) {
        double a0 = coef[list[j].topic] * (double)list[j].count;
        double a1 = coef[list[j + 1].topic] * (double)list[j + 1].count;
        double a2 = coef[list[j + 2].topic] * (double)list[j + 2].count;
        double a3 = coef[list[j + 3].topic] * (double)list[j + 3].count;
        qs[j] = a0;
        qs[j + 1] = a1;
        qs[j + 2] = a2;
        q += (a0 + a1) + (a2 + a3);
        qs[j + 3] = q;
      }
      for (int32_t j = whole; j < n; j++) {
        qs[j] = coef[list[j].topic] * (double)list[j].count;
        q += qs[j];
      }
      double u = lda_uniform(rng) * (s + r + q);
      int32_t k = -1, jk = -1;
      if (u < q) {
        int32_t b = 0;
        while (b < whole && qs[b + 3] <= u) b += 4;
        if (b > 0) u -= qs[b - 1];
        /* the block's terms, its last one taken when rounding leaves u past
         * the others */
        int32_t end = b < whole ? b + 3 : n - 1;
        jk = b;
        while (jk < end && u >= qs[jk]) u -= qs[jk++];
        k = list[jk].topic;
      } else if ((u -= q) < r) {
        int32_t j = 0;
        while (j < dn - 1 && (u -= nd[dlist[j]] * beta * inv[dlist[j]]) >= 0) j++;
        k = dlist[j];
      } else {
        u -= r;
        k = 0;
        while (k < K - 1 && (u -= ab * inv[k]) >= 0) k++;
      }
      if (jk < 0) {
        jk = 0;
        while (jk < n && list[jk].topic != k) jk++;
        if (jk == n) {
          if (n >= nzoff[w + 1] - nzoff[w]) return -2;
          list[n++] = (nzpair){k, 0};
        }
      }
      list[jk].count++;
      pair_up(list, jk);
      nzlen[w] = n;
      z[i] = k;
      s -= ab * inv[k];
      r -= nd[k] * beta * inv[k];
      nd[k]++;
      tdelta[k]++;
      inv[k] = 1.0 / ((double)(tview[k] + tdelta[k]) + vbeta);
      s += ab * inv[k];
      r += nd[k] * beta * inv[k];
      coef[k] = (alpha + nd[k]) * inv[k];
      if (nd[k] == 1) {
        dpos[k] = dn;
        dlist[dn++] = k;
      }
    }
    for (int32_t j = 0; j < dn; j++) coef[dlist[j]] = alpha * inv[dlist[j]];
  }
  if (cin) { /* the changes as pairs: count now - count at the start */
    int32_t *acc = iwork;
    memset(acc, 0, (size_t)K * sizeof *acc);
    int64_t at = 0;
    dout->off[0] = 0;
    for (int64_t w = 0; w < nwords; w++) {
      const nzpair *list = pairs + nzoff[w];
      int64_t lo = cin->off[w], hi = cin->off[w + 1];
      for (int64_t e = lo; e < hi; e++) acc[cin->keys[e]] -= cin->vals[e];
      for (int32_t j = 0; j < nzlen[w]; j++) acc[list[j].topic] += list[j].count;
      /* each key once: its change is zeroed when written */
      for (int64_t e = lo; e < hi; e++) {
        int32_t k = cin->keys[e];
        if (!acc[k]) continue;
        if (at >= dout->cap) return -2;
        dout->keys[at] = k, dout->vals[at++] = acc[k], acc[k] = 0;
      }
      for (int32_t j = 0; j < nzlen[w]; j++) {
        int32_t k = list[j].topic;
        if (!acc[k]) continue;
        if (at >= dout->cap) return -2;
        dout->keys[at] = k, dout->vals[at++] = acc[k], acc[k] = 0;
      }
      dout->off[w + 1] = at;
    }
    return tokptr[ndocs];
  }
  for (int32_t j = 0; j < nlost; j++)
    wdelta[lost_w[j]][lost_t[j]] = -wview[lost_w[j]][lost_t[j]];
  /* The counts go back into the delta rows: a topic held now gets count -
   * view; one that held tokens and lost them all got -view above;
   * any other had view + delta = 0 at the start and has it still, so its
   * delta is left as it is. A pass over the pairs, not over K topics. */
  for (int64_t w = 0; w < nwords; w++) {
    const int32_t *wv = wview[w];
    int32_t *wd = wdelta[w];
    const nzpair *list = pairs + nzoff[w];
    for (int32_t j = 0; j < nzlen[w]; j++) wd[list[j].topic] = list[j].count - wv[list[j].topic];
  }
  return tokptr[ndocs];
}

int64_t pmls_lda_sweep(int32_t K, double alpha, double beta, double vbeta,
                       int32_t sampler, int64_t ndocs, const int64_t *tokptr,
                       const int32_t *tokword, int32_t *z, int32_t *ndk,
                       const int32_t *const *wview, int32_t *const *wdelta,
                       const int32_t *tview, int32_t *tdelta, int64_t nwords,
                       const int64_t *nzoff, int32_t *nzlist, int32_t *nzlen,
                       double *work, int32_t *iwork, uint64_t *rng) {
  if (K < 1 || ndocs < 0 || !(alpha > 0) || !(beta > 0) || !(vbeta > 0)) return -3;
  if (sampler == PMLS_LDA_DENSE)
    return sweep_dense(K, alpha, beta, vbeta, ndocs, tokptr, tokword, z, ndk, wview,
                       wdelta, tview, tdelta, work, rng);
  if (sampler == PMLS_LDA_SPARSE)
    return sweep_sparse(K, alpha, beta, vbeta, ndocs, tokptr, tokword, z, ndk, wview,
                        wdelta, NULL, NULL, tview, tdelta, nwords, nzoff, nzlist, nzlen,
                        work, iwork, rng);
  return -3;
}

int64_t pmls_lda_sweep_pairs(int32_t K, double alpha, double beta, double vbeta,
                             int64_t ndocs, const int64_t *tokptr,
                             const int32_t *tokword, int32_t *z, int32_t *ndk,
                             const int64_t *coff, const int32_t *ckeys,
                             const int32_t *cvals, const int32_t *tview,
                             int32_t *tdelta, int64_t nwords, const int64_t *nzoff,
                             int32_t *nzlist, int32_t *nzlen, double *work,
                             int32_t *iwork, int64_t *doff, int32_t *dkeys,
                             int32_t *dvals, int64_t dcap, uint64_t *rng) {
  if (K < 1 || ndocs < 0 || !(alpha > 0) || !(beta > 0) || !(vbeta > 0) || dcap < 0)
    return -3;
  pairs_in cin = {coff, ckeys, cvals};
  pairs_out dout = {doff, dkeys, dvals, dcap};
  return sweep_sparse(K, alpha, beta, vbeta, ndocs, tokptr, tokword, z, ndk, NULL, NULL,
                      &cin, &dout, tview, tdelta, nwords, nzoff, nzlist, nzlen, work,
                      iwork, rng);
}

int64_t pmls_lda_assign_pairs(int32_t K, int64_t ndocs, const int64_t *tokptr,
                              const int32_t *tokword, int32_t *z, int32_t *ndk,
                              int32_t *tdelta, int64_t nwords, const int64_t *nzoff,
                              int32_t *nzlist, int64_t *doff, int32_t *dkeys,
                              int32_t *dvals, int64_t dcap, uint64_t *rng) {
  if (K < 1 || dcap < 0) return -1;
  /* the same draws as pmls_lda_assign, the word counts gathered in the
   * slots' lists (a linear search: this runs once) */
  nzpair *pairs = (nzpair *)(void *)nzlist;
  int64_t *len = doff; /* the lists' lengths, until the offsets go there */
  for (int64_t w = 0; w <= nwords; w++) len[w] = 0;
  for (int64_t d = 0; d < ndocs; d++) {
    int32_t *nd = ndk + d * (int64_t)K;
    for (int64_t i = tokptr[d]; i < tokptr[d + 1]; i++) {
      int32_t k = (int32_t)(lda_uniform(rng) * K), w = tokword[i];
      if (k >= K) k = K - 1;
      z[i] = k;
      nd[k]++;
      tdelta[k]++;
      nzpair *list = pairs + nzoff[w];
      int64_t j = 0;
      while (j < len[w] && list[j].topic != k) j++;
      if (j == len[w]) {
        if (j >= nzoff[w + 1] - nzoff[w]) return -2;
        list[len[w]++] = (nzpair){k, 0};
      }
      list[j].count++;
    }
  }
  int64_t at = 0;
  for (int64_t w = 0; w < nwords; w++) {
    int64_t n = len[w];
    if (at + n > dcap) return -2;
    const nzpair *list = pairs + nzoff[w];
    for (int64_t j = 0; j < n; j++) dkeys[at + j] = list[j].topic, dvals[at + j] = list[j].count;
    doff[w] = at; /* len[w] is read above, before it is overwritten */
    at += n;
  }
  doff[nwords] = at;
  return tokptr[ndocs];
}

double pmls_lda_ll_pairs(int64_t npairs, const int32_t *vals, double beta,
                         const double *btab, int32_t ntab, int64_t *nonzero) {
  double ll = 0;
  int64_t nz = 0;
  for (int64_t e = 0; e < npairs; e++) {
    int32_t c = vals[e];
    if (c < 0) return NAN;
    if (c == 0) continue;
    ll += c < ntab ? btab[c] : lgamma(beta + c);
    nz++;
  }
  *nonzero = nz;
  return ll;
}

static inline double lg(const double *tab, int32_t ntab, double base, int64_t c) {
  return c < ntab ? tab[c] : lgamma(base + (double)c);
}

double pmls_lda_ll_rows(int32_t K, int64_t nrows, const int32_t *const *views,
                        double beta, const double *btab, int32_t ntab,
                        int64_t *nonzero) {
  double sum = 0;
  int64_t nz = 0;
  for (int64_t r = 0; r < nrows; r++) {
    const int32_t *row = views[r];
    for (int32_t k = 0; k < K; k++) {
      int32_t c = row[k];
      if (c < 0) return NAN;
      if (c > 0) {
        sum += lg(btab, ntab, beta, c);
        nz++;
      }
    }
  }
  *nonzero = nz;
  return sum;
}

double pmls_lda_ll_docs(int32_t K, int64_t ndocs, const int64_t *tokptr,
                        const int32_t *ndk, double alpha, const double *atab,
                        int32_t ntab) {
  double sum = 0, asum = alpha * K, lga = lgamma(alpha), lgsum = lgamma(asum);
  for (int64_t d = 0; d < ndocs; d++) {
    const int32_t *nd = ndk + d * (int64_t)K;
    for (int32_t k = 0; k < K; k++)
      if (nd[k] > 0) sum += lg(atab, ntab, alpha, nd[k]) - lga;
    sum -= lgamma(asum + (double)(tokptr[d + 1] - tokptr[d]));
    sum += lgsum;
  }
  return sum;
}

/* The particles of a document advance together, token by token: the
 * token's word terms phi[k] = (n_wk + beta) / (n_k + V beta) and their
 * running sum are computed once for all particles (they were computed
 * once per particle, K products each), and each particle's sum,
 *   sum_k (n_dk + alpha) phi[k] = alpha sum_k phi[k] + sum_{n_dk > 0} n_dk phi[k],
 * costs the topics its document holds so far. Its draw takes the second
 * part by a walk over those topics and the first by a binary search of the
 * running sums. One uniform per token and particle, as before. */
double pmls_lda_heldout(int32_t K, double alpha, double beta, double vbeta,
                        int32_t particles, int64_t ndocs, const int64_t *tokptr,
                        const int32_t *tokword, const int32_t *nwk, const int32_t *nk,
                        double *work, int32_t *iwork, uint64_t *rng) {
  if (K < 1 || particles < 1) return NAN;
  double *inv = work, *phi = work + K, *acum = work + 2 * K;
  int32_t *ndall = iwork, *listall = iwork + (size_t)particles * K;
  int32_t *nlist = iwork + 2 * (size_t)particles * K;
  double asum = alpha * K, total = 0;
  for (int32_t k = 0; k < K; k++) inv[k] = 1.0 / ((double)nk[k] + vbeta);
  for (int64_t d = 0; d < ndocs; d++) {
    int64_t first = tokptr[d], len = tokptr[d + 1] - first;
    memset(ndall, 0, sizeof *ndall * (size_t)particles * K);
    memset(nlist, 0, sizeof *nlist * (size_t)particles);
    for (int64_t p = 0; p < len; p++) {
      const int32_t *row = nwk + (int64_t)tokword[first + p] * K;
      double c = 0;
      for (int32_t k = 0; k < K; k++) {
        double f = ((double)row[k] + beta) * inv[k];
        phi[k] = f;
        c += f;
        acum[k] = alpha * c;
      }
      double base = acum[K - 1], prob = 0;
      for (int32_t part = 0; part < particles; part++) {
        int32_t *nd = ndall + (size_t)part * K, *list = listall + (size_t)part * K;
        int32_t n = nlist[part];
        double sp = 0;
        for (int32_t j = 0; j < n; j++) sp += nd[list[j]] * phi[list[j]];
        double sum = sp + base;
        prob += sum;
        double u = lda_uniform(rng) * sum;
        int32_t k;
        if (u < sp) {
          int32_t j = 0;
          while (j < n - 1 && (u -= nd[list[j]] * phi[list[j]]) >= 0) j++;
          k = list[j];
        } else {
          /* the first k whose running sum passes u */
          u -= sp;
          int32_t lo = 0, hi = K - 1;
          while (lo < hi) {
            int32_t mid = (lo + hi) / 2;
            if (acum[mid] <= u) lo = mid + 1;
            else hi = mid;
          }
          k = lo;
        }
        if (nd[k]++ == 0) list[nlist[part]++] = k;
      }
      total += log(prob / ((double)particles * (asum + (double)p)));
    }
  }
  return total;
}
