// Adam on a list of embedding rows, the wasm kernel's adamRows (src/kernels/assembly/rows.ts)
// with 512- or 256-bit registers: the same f32 operations in the same order, each rounded.
// The row loop is written once, element by element, and compiled for each instruction set;
// the compiler vectorises it without reordering or fusing anything (no -ffast-math,
// -ffp-contract=off; -fno-math-errno only lets sqrtf become the vector instruction), and
// IEEE division and square root round exactly, so every variant gives the wasm kernel's
// bits (test/native-gemm.test.ts). The divisions and square roots are what bound this
// kernel, and wider registers do more of them per instruction.
#include "adam.h"

#include <math.h>

#include "cpu.h"

static inline __attribute__((always_inline)) void adam_impl(float *p, float *m, float *v, const float *g, const int32_t *ids,
                                                            int n, int E, float ss, float bc2, float ib1, float b2,
                                                            float ib2, float eps) {
  for (int u = 0; u < n; u++) {
    const size_t off = (size_t)ids[u] * E;
    float *restrict pr = p + off, *restrict mr = m + off, *restrict vr = v + off;
    const float *restrict gr = g + off;
    for (int j = 0; j < E; j++) {
      const float gj = gr[j];
      const float mj = mr[j] + (gj - mr[j]) * ib1;
      const float vj = vr[j] * b2 + ib2 * gj * gj;
      mr[j] = mj;
      vr[j] = vj;
      pr[j] = pr[j] - (ss * mj) / (sqrtf(vj) / bc2 + eps);
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f"))) static void adam_512(float *p, float *m, float *v, const float *g, const int32_t *ids,
                                                        int n, int E, float ss, float bc2, float ib1, float b2,
                                                        float ib2, float eps) {
  adam_impl(p, m, v, g, ids, n, E, ss, bc2, ib1, b2, ib2, eps);
}
__attribute__((target("avx2"))) static void adam_256(float *p, float *m, float *v, const float *g, const int32_t *ids, int n,
                                                     int E, float ss, float bc2, float ib1, float b2, float ib2, float eps) {
  adam_impl(p, m, v, g, ids, n, E, ss, bc2, ib1, b2, ib2, eps);
}
#endif

void adam_rows(float *p, float *m, float *v, const float *g, const int32_t *ids, int n, int E, float stepSize, float bc2,
               float ib1, float b2, float ib2, float eps) {
#if defined(__x86_64__) && defined(__GNUC__)
  static int level = -1;
  if (level < 0) level = cpu_level();
  if (level == CPU_AVX512) return adam_512(p, m, v, g, ids, n, E, stepSize, bc2, ib1, b2, ib2, eps);
  if (level == CPU_AVX2_FMA) return adam_256(p, m, v, g, ids, n, E, stepSize, bc2, ib1, b2, ib2, eps);
#endif
  adam_impl(p, m, v, g, ids, n, E, stepSize, bc2, ib1, b2, ib2, eps);
}
