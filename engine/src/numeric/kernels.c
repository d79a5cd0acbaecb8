/* kernels.c -- the general numeric inner loops that model scripts hand to
 * C (pmls.h). LuaJIT compiles a script's loops well, but not into SIMD: a
 * dense y += a x runs several times faster here (docs/benchmarks.md,
 * "Figures behind the code"), built with -O3 and, where the CPU has it,
 * AVX2 (GCC's target_clones picks the version at load time). It is
 * reached through the FFI from compiled Lua, takes caller-owned memory, and
 * neither allocates nor calls back. No -ffast-math and no contraction into
 * FMA (-std=c11), so results match the plain loop it replaces bit for bit.
 * Kernels that serve one model are in their own files (gram.c). */
#include "../../include/pmls.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define PMLS_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define PMLS_CLONES
#endif

PMLS_CLONES
void pmls_axpy(int64_t n, double a, const double *restrict x, double *restrict y) {
  for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}
