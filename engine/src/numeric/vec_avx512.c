/* vec_avx512.c -- the AVX-512 versions of the vector kernels: vec_body.h
 * over 512-bit registers (8 doubles, 16 floats), whose masked loads and
 * stores finish a row without a scalar tail. Only AVX512F is used, so any
 * AVX-512 CPU runs them. As in vec_avx2.c, the target pragma covers these
 * functions only, kernels.c calls them only on a CPU that has AVX512F, and
 * nothing is fused into an FMA. */
#include "vec.h"

#ifdef PMI_VEC_X86
#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx512f")

/* Halving order (vec_body.h's VHSUM). */
static inline double avx512_hsum_f64(__m512d v) {
  __m256d h4 = _mm256_add_pd(_mm512_castpd512_pd256(v), _mm512_extractf64x4_pd(v, 1));
  __m128d h2 = _mm_add_pd(_mm256_castpd256_pd128(h4), _mm256_extractf128_pd(h4, 1));
  return _mm_cvtsd_f64(_mm_add_sd(h2, _mm_unpackhi_pd(h2, h2)));
}
static inline float avx512_hsum_f32(__m512 v) {
  /* The upper 256 bits through the double view: AVX512F has no
   * extractf32x8 (that is AVX512DQ). */
  __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
  __m256 h8 = _mm256_add_ps(_mm512_castps512_ps256(v), hi);
  __m128 h4 = _mm_add_ps(_mm256_castps256_ps128(h8), _mm256_extractf128_ps(h8, 1));
  __m128 h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
  return _mm_cvtss_f32(_mm_add_ss(h2, _mm_shuffle_ps(h2, h2, 1)));
}

#define VEC_ATTR
#define VEC_KEEP_GROUP 1 /* 32 registers */

#define T double
#define V __m512d
#define W 8
#define NACC 4 /* PMI_VEC_LANES_F64 / W */
#define FN(name) avx512_##name##_f64
#define VZERO() _mm512_setzero_pd()
#define VSET1(x) _mm512_set1_pd(x)
#define VLOAD(p) _mm512_loadu_pd(p)
#define VSTORE(p, v) _mm512_storeu_pd(p, v)
#define VLOADN(p, r) _mm512_maskz_loadu_pd((__mmask8)((1u << (r)) - 1), p)
#define VSTOREN(p, r, v) _mm512_mask_storeu_pd(p, (__mmask8)((1u << (r)) - 1), v)
#define VADD(a, b) _mm512_add_pd(a, b)
#define VSUB(a, b) _mm512_sub_pd(a, b)
#define VMUL(a, b) _mm512_mul_pd(a, b)
#define VHSUM(v) avx512_hsum_f64(v)
#include "vec_body.h"
#undef T
#undef V
#undef W
#undef NACC
#undef FN
#undef VZERO
#undef VSET1
#undef VLOAD
#undef VSTORE
#undef VLOADN
#undef VSTOREN
#undef VADD
#undef VSUB
#undef VMUL
#undef VHSUM

#define T float
#define V __m512
#define W 16
#define NACC 4 /* PMI_VEC_LANES_F32 / W */
#define FN(name) avx512_##name##_f32
#define VZERO() _mm512_setzero_ps()
#define VSET1(x) _mm512_set1_ps(x)
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps(p, v)
#define VLOADN(p, r) _mm512_maskz_loadu_ps((__mmask16)((1u << (r)) - 1), p)
#define VSTOREN(p, r, v) _mm512_mask_storeu_ps(p, (__mmask16)((1u << (r)) - 1), v)
#define VADD(a, b) _mm512_add_ps(a, b)
#define VSUB(a, b) _mm512_sub_ps(a, b)
#define VMUL(a, b) _mm512_mul_ps(a, b)
#define VHSUM(v) avx512_hsum_f32(v)
#include "vec_body.h"

#pragma GCC pop_options

const pmi_vec_ops pmi_vec_avx512 = PMI_VEC_TABLE("avx512", avx512);
#endif
