/*
 * pmlsaux.h -- auxiliary public API of the PMLS engine: numeric kernels that
 * serve particular models rather than the engine.
 *
 * It sits beside pmls.h the way Lua's lauxlib.h sits beside lua.h: pmls.h
 * stays the contract every host and script relies on, and this header holds
 * what one model's own loops hand to C (today the Lasso's working-set solver,
 * models/lib/lasso_ws.lua). The functions are exported from libpmls like the
 * rest. The build turns the part between the CDEF markers into
 * build/lua/pmls/cdef_aux.lua, which the Lua module that needs it feeds to
 * ffi.cdef after pmls.cdef. Like everything reached from the FFI, these take
 * the caller's memory, never allocate and never call back into Lua.
 */
#ifndef PMLSAUX_H
#define PMLSAUX_H

#include "pmls.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* PMLS_CDEF_BEGIN */

/* Adds to the Gram matrix G (row-major, row stride `stride`) of a set of
 * columns of the CSR matrix (rowptr, col, val; nrows rows) the products of
 * every pair of entries of one row whose columns are in the set, where
 * pos[c] is column c's place in the set (-1: not in it) and at least one
 * of the two places is >= first_new: sum_i x_ia x_ib goes to G[a][b] with
 * a >= b, the lower triangle only. The scratch arrays hold a row's entries
 * (as many as its longest row). */
void pmls_gram_add(int64_t nrows, const int64_t *rowptr, const int32_t *col,
                   const double *val, const int32_t *pos, int32_t first_new,
                   double *G, int64_t stride, int32_t *scratch_pos,
                   double *scratch_val);

/* ---- LDA: collapsed Gibbs sampling (engine/src/numeric/lda.c) ----------
 * A worker's documents: tokptr[d] .. tokptr[d + 1] - 1 are document d's
 * tokens (ndocs + 1 offsets), tokword[i] the token's word slot (an index
 * into wview / wdelta), z[i] its topic, ndk[d * K + k] the document's count
 * of topic k. A word-topic count is wview[w][k] + wdelta[w][k] (the store's
 * row view plus the worker's pending increment), a topic total tview[k] +
 * tdelta[k]; the kernels write every change into the deltas. rng is a
 * splitmix64 state (uint64_t[1]): one uniform per token. */
enum { PMLS_LDA_DENSE = 0, PMLS_LDA_SPARSE = 1 };

/* Gives every token a topic uniformly at random (one draw per token) and
 * adds it to ndk, wdelta and tdelta. Returns the tokens, -1 for a bad K. */
int64_t pmls_lda_assign(int32_t K, int64_t ndocs, const int64_t *tokptr,
                        const int32_t *tokword, int32_t *z, int32_t *ndk,
                        int32_t *const *wdelta, int32_t *tdelta, uint64_t *rng);

/* One Gibbs sweep over the documents, in order, from
 * p(k) ~ (n_dk + alpha) (n_wk + beta) / (n_k + vbeta). sampler
 * PMLS_LDA_DENSE: every topic's term (work: 3K doubles); PMLS_LDA_SPARSE:
 * SparseLDA's s + r + q buckets (work: 3K doubles, iwork: 2K ints, and the
 * lists of each word slot's nonzero topics and their counts: nwords slots,
 * slot w's list the (topic, count) pairs nzlist[2 nzoff[w] .. 2 nzoff[w + 1]
 * - 1], so nzlist holds 2 nzoff[nwords] ints, its length in pairs
 * nzlen[w]; a slot's capacity need not pass its word's tokens in the whole
 * corpus; the lists are rebuilt from the rows at each sweep, in the order
 * the last sweep left them, so nzlen starts at zeros and is kept between
 * sweeps, though any contents give the same counts). Returns
 * the tokens sampled; -1 when a count went negative, -2 when a nonzero
 * list overflowed, -3 for bad arguments. */
int64_t pmls_lda_sweep(int32_t K, double alpha, double beta, double vbeta,
                       int32_t sampler, int64_t ndocs, const int64_t *tokptr,
                       const int32_t *tokword, int32_t *z, int32_t *ndk,
                       const int32_t *const *wview, int32_t *const *wdelta,
                       const int32_t *tview, int32_t *tdelta, int64_t nwords,
                       const int64_t *nzoff, int32_t *nzlist, int32_t *nzlen,
                       double *work, int32_t *iwork, uint64_t *rng);

/* The sparse sweep (PMLS_LDA_SPARSE) on word rows held as (topic, count)
 * pairs, as a sparse table gives them (pmls_get_sparse_many): slot w's
 * counts at the start are ckeys / cvals[coff[w] .. coff[w + 1]), and the
 * sweep's changes come out the same way, slot w's (topic, change) pairs at
 * dkeys / dvals[doff[w] .. doff[w + 1]) (nwords + 1 offsets; dcap pairs of
 * room: 2 nzoff[nwords] always suffice), to be added to the rows
 * (pmls_inc_pairs). The other arguments and the draws are those of
 * pmls_lda_sweep: the same counts give the same topics. Returns as it
 * does (-2 also when dcap is short). */
int64_t pmls_lda_sweep_pairs(int32_t K, double alpha, double beta, double vbeta,
                             int64_t ndocs, const int64_t *tokptr,
                             const int32_t *tokword, int32_t *z, int32_t *ndk,
                             const int64_t *coff, const int32_t *ckeys,
                             const int32_t *cvals, const int32_t *tview,
                             int32_t *tdelta, int64_t nwords, const int64_t *nzoff,
                             int32_t *nzlist, int32_t *nzlen, double *work,
                             int32_t *iwork, int64_t *doff, int32_t *dkeys,
                             int32_t *dvals, int64_t dcap, uint64_t *rng);

/* pmls_lda_assign for word rows as pairs: the same draws, the word counts
 * written as (topic, count) pairs per slot into doff / dkeys / dvals as
 * pmls_lda_sweep_pairs writes its changes (nzlist is scratch). Returns the
 * tokens, -1 for a bad K, -2 when a list or dcap is short. */
int64_t pmls_lda_assign_pairs(int32_t K, int64_t ndocs, const int64_t *tokptr,
                              const int32_t *tokword, int32_t *z, int32_t *ndk,
                              int32_t *tdelta, int64_t nwords, const int64_t *nzoff,
                              int32_t *nzlist, int64_t *doff, int32_t *dkeys,
                              int32_t *dvals, int64_t dcap, uint64_t *rng);

/* pmls_lda_ll_rows over counts given as a list of npairs values (a sparse
 * table's rows, pmls_get_sparse_many): the sum of lgamma(beta + c) over the
 * nonzero ones, their number in *nonzero; NaN for a negative count. */
double pmls_lda_ll_pairs(int64_t npairs, const int32_t *vals, double beta,
                         const double *btab, int32_t ntab, int64_t *nonzero);

/* The word part of MALLET's modelLogLikelihood over nrows word-topic rows:
 * the sum of lgamma(beta + c) over the nonzero counts c (btab[c] =
 * lgamma(beta + c) for c < ntab), their number in *nonzero. NaN when a
 * count is negative. */
double pmls_lda_ll_rows(int32_t K, int64_t nrows, const int32_t *const *views,
                        double beta, const double *btab, int32_t ntab,
                        int64_t *nonzero);

/* The document part: the sum over documents of sum_k [lgamma(alpha + n_dk)
 * - lgamma(alpha)] (nonzero n_dk) - lgamma(K alpha + n_d) + lgamma(K alpha);
 * atab[c] = lgamma(alpha + c) for c < ntab. */
double pmls_lda_ll_docs(int32_t K, int64_t ndocs, const int64_t *tokptr,
                        const int32_t *ndk, double alpha, const double *atab,
                        int32_t ntab);

/* Held-out log-likelihood by the left-to-right estimator (Wallach et al.
 * 2009, as MALLET's evaluator without resampling): for each document and
 * particle, each token's probability given the topics drawn for the tokens
 * before it, then a topic for it; the log of the mean over particles,
 * summed over tokens and documents. nwk: the trained counts, row-major
 * (word * K + k), nk the totals; work: 3K doubles, iwork: (2K + 1)
 * particles ints. The particles of a document advance token by token
 * together, so a draw is one uniform per token and particle, taken in
 * that order. */
double pmls_lda_heldout(int32_t K, double alpha, double beta, double vbeta,
                        int32_t particles, int64_t ndocs, const int64_t *tokptr,
                        const int32_t *tokword, const int32_t *nwk, const int32_t *nk,
                        double *work, int32_t *iwork, uint64_t *rng);

/* lgamma(x); out[c] = lgamma(base + c) for c < n; a uniform in [0, 1) from
 * the splitmix64 state, as the samplers draw it. */
double pmls_lda_lgamma(double x);
void pmls_lda_lgamma_table(double base, int32_t n, double *out);
double pmls_lda_uniform(uint64_t *rng);

/* ---- multinomial logistic regression (engine/src/numeric/softmax.c) ---
 * C classes over d features of CSR rows (rowptr, col, val), cls[r] the
 * class of row r (0 .. C - 1). The weights are feature-major: w[j * C + k]
 * for feature j and class k, the biases at w[d * C + k] ((d + 1) C doubles).
 * A row's loss is -log softmax(w.x + b)[cls[r]]. */

/* One pass of SAGA over the rows order[first .. last - 1] (rows first ..
 * last - 1 when order is NULL), one row a step, on the weights w: each row
 * keeps the derivative of its loss by its C scores where it was last
 * visited, snap[r * C .. r * C + C - 1] (0 before the first visit), and mu
 * (laid out as w) is the mean over the n rows of the whole data set of
 * those snapshots times their rows (the biases: of the snapshots). A step
 * moves w by -lr times (change of the row's derivative) x + mu + l2 w (no
 * l2 on the biases) and adds the change times x / n to dmu, which the
 * caller zeroes. work: 3 C doubles. Returns the summed loss of the rows at
 * the weights they were visited at. */
double pmls_softmax_saga(int32_t C, int32_t d, const int64_t *rowptr,
                         const int32_t *col, const double *val, const int32_t *cls,
                         const int32_t *order, int64_t first, int64_t last, double *w,
                         const double *mu, double *dmu, double *snap, double n,
                         double lr, double l2, double *work);

/* The model w on nrows rows: the summed loss (cls may be NULL: 0), the rows
 * whose most probable class is theirs in *correct, and (when not NULL) each
 * row's most probable class in pred and its probability in prob. Features
 * at or past d weigh 0. work: C doubles. */
double pmls_softmax_eval(int32_t C, int32_t d, int64_t nrows, const int64_t *rowptr,
                         const int32_t *col, const double *val, const int32_t *cls,
                         const double *w, int32_t *pred, double *prob, int64_t *correct,
                         double *work);

/* PMLS_CDEF_END */

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif
