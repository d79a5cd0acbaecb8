/* vec_avx2.c -- the AVX2 versions of the vector kernels: vec_body.h over
 * 256-bit registers (4 doubles, 8 floats), for x86-64 CPUs without
 * AVX-512. The file is compiled for the baseline ISA like the rest; the
 * target pragma lets these functions, and only these, use AVX2, and
 * kernels.c calls them only on a CPU that has it. No FMA: a fused
 * multiply-add rounds once where the scalar version rounds twice. */
#include "vec.h"

#ifdef PMI_VEC_X86
#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx2")

/* Lanes [0, r) of a mask, for maskload / maskstore. */
static inline __m256i avx2_first64(int r) {
  return _mm256_cmpgt_epi64(_mm256_set1_epi64x(r), _mm256_setr_epi64x(0, 1, 2, 3));
}
static inline __m256i avx2_first32(int r) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(r),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Halving order (vec_body.h's VHSUM). */
static inline double avx2_hsum_f64(__m256d v) {
  __m128d h2 = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(h2, _mm_unpackhi_pd(h2, h2)));
}
static inline float avx2_hsum_f32(__m256 v) {
  __m128 h4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  __m128 h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
  return _mm_cvtss_f32(_mm_add_ss(h2, _mm_shuffle_ps(h2, h2, 1)));
}

#define VEC_ATTR
#define VEC_KEEP_GROUP 0 /* 16 registers */

#define T double
#define V __m256d
#define W 4
#define NACC 8 /* PMI_VEC_LANES_F64 / W */
#define FN(name) avx2_##name##_f64
#define VZERO() _mm256_setzero_pd()
#define VSET1(x) _mm256_set1_pd(x)
#define VLOAD(p) _mm256_loadu_pd(p)
#define VSTORE(p, v) _mm256_storeu_pd(p, v)
#define VLOADN(p, r) _mm256_maskload_pd(p, avx2_first64(r))
#define VSTOREN(p, r, v) _mm256_maskstore_pd(p, avx2_first64(r), v)
#define VADD(a, b) _mm256_add_pd(a, b)
#define VSUB(a, b) _mm256_sub_pd(a, b)
#define VMUL(a, b) _mm256_mul_pd(a, b)
#define VHSUM(v) avx2_hsum_f64(v)
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
#define V __m256
#define W 8
#define NACC 8 /* PMI_VEC_LANES_F32 / W */
#define FN(name) avx2_##name##_f32
#define VZERO() _mm256_setzero_ps()
#define VSET1(x) _mm256_set1_ps(x)
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps(p, v)
#define VLOADN(p, r) _mm256_maskload_ps(p, avx2_first32(r))
#define VSTOREN(p, r, v) _mm256_maskstore_ps(p, avx2_first32(r), v)
#define VADD(a, b) _mm256_add_ps(a, b)
#define VSUB(a, b) _mm256_sub_ps(a, b)
#define VMUL(a, b) _mm256_mul_ps(a, b)
#define VHSUM(v) avx2_hsum_f32(v)
#include "vec_body.h"

#pragma GCC pop_options

const pmi_vec_ops pmi_vec_avx2 = PMI_VEC_TABLE("avx2", avx2);
#endif
