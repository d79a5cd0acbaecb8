/* vec_scalar.c -- the plain C versions of the vector kernels (vec_body.h
 * with one-lane "vectors"): what a CPU without AVX2 runs, what
 * pmls_kernels_force_scalar and PMLS_SCALAR=1 select, and the stand-in
 * the tests hold the SIMD versions to. They keep vec.h's PMI_VEC_LANES_*
 * partial sums as an array, so their dot products are the SIMD ones to the
 * bit. GCC may still vectorize these loops for the baseline ISA (SSE2);
 * it never reorders their additions, so the results stay the same. */
#include <stddef.h>
#include <stdint.h>

#include "vec.h"

#define W 1
#define VEC_ATTR
#define VEC_KEEP_GROUP 0 /* not used: W is 1 */
#define VZERO() ((T)0)
#define VSET1(x) ((T)(x))
#define VLOAD(p) (*(p))
#define VSTORE(p, v) (*(p) = (v))
/* W is 1: there is never a partial vector. */
#define VLOADN(p, r) ((void)(r), *(p))
#define VSTOREN(p, r, v) ((void)(r), *(p) = (v))
#define VADD(a, b) ((a) + (b))
#define VSUB(a, b) ((a) - (b))
#define VMUL(a, b) ((a) * (b))
#define VHSUM(v) (v)

#define T double
#define V double
#define NACC 32 /* PMI_VEC_LANES_F64 */
#define FN(name) scalar_##name##_f64
#include "vec_body.h"
#undef T
#undef V
#undef NACC
#undef FN

#define T float
#define V float
#define NACC 64 /* PMI_VEC_LANES_F32 */
#define FN(name) scalar_##name##_f32
#include "vec_body.h"

const pmi_vec_ops pmi_vec_scalar = PMI_VEC_TABLE("scalar", scalar);
