// Adam on a list of embedding rows, the wasm kernel's adamRows (src/kernels/assembly/rows.ts)
// with 512- or 256-bit registers: the same f32 operations in the same order, each rounded
// (no fused multiply-add: this file is built with -ffp-contract=off and uses none), and
// IEEE division and square root round exactly, so the two give the same bits
// (test/native-gemm.test.ts). The divisions and square roots are what bound this kernel,
// and wider registers do more of them per instruction.
#include "adam.h"

#include <math.h>

#include "cpu.h"

// One element, exactly as the vector lanes compute it.
static inline void adam_one(float *p, float *m, float *v, const float *g, float ss, float bc2, float ib1, float b2,
                            float ib2, float eps) {
  const float gj = *g;
  const float mj = *m + (gj - *m) * ib1;
  const float vj = *v * b2 + ib2 * gj * gj;
  *m = mj;
  *v = vj;
  *p = *p - (ss * mj) / (sqrtf(vj) / bc2 + eps);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

__attribute__((target("avx512f"))) static void adam_512(float *p, float *m, float *v, const float *g, const int32_t *ids,
                                                        int n, int E, float ss, float bc2, float ib1, float b2,
                                                        float ib2, float eps) {
  const __m512 vib1 = _mm512_set1_ps(ib1), vb2 = _mm512_set1_ps(b2), vib2 = _mm512_set1_ps(ib2);
  const __m512 vss = _mm512_set1_ps(ss), vbc = _mm512_set1_ps(bc2), veps = _mm512_set1_ps(eps);
  const int vecEnd = E & ~15;
  for (int u = 0; u < n; u++) {
    const size_t off = (size_t)ids[u] * E;
    int j = 0;
    for (; j < vecEnd; j += 16) {
      const size_t o = off + j;
      const __m512 gj = _mm512_loadu_ps(g + o);
      const __m512 m0 = _mm512_loadu_ps(m + o);
      const __m512 mj = _mm512_add_ps(m0, _mm512_mul_ps(_mm512_sub_ps(gj, m0), vib1));
      const __m512 vj = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(v + o), vb2), _mm512_mul_ps(_mm512_mul_ps(vib2, gj), gj));
      _mm512_storeu_ps(m + o, mj);
      _mm512_storeu_ps(v + o, vj);
      const __m512 den = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vj), vbc), veps);
      _mm512_storeu_ps(p + o, _mm512_sub_ps(_mm512_loadu_ps(p + o), _mm512_div_ps(_mm512_mul_ps(vss, mj), den)));
    }
    for (; j < E; j++) adam_one(p + off + j, m + off + j, v + off + j, g + off + j, ss, bc2, ib1, b2, ib2, eps);
  }
}

__attribute__((target("avx2,fma"))) static void adam_256(float *p, float *m, float *v, const float *g, const int32_t *ids,
                                                         int n, int E, float ss, float bc2, float ib1, float b2,
                                                         float ib2, float eps) {
  const __m256 vib1 = _mm256_set1_ps(ib1), vb2 = _mm256_set1_ps(b2), vib2 = _mm256_set1_ps(ib2);
  const __m256 vss = _mm256_set1_ps(ss), vbc = _mm256_set1_ps(bc2), veps = _mm256_set1_ps(eps);
  const int vecEnd = E & ~7;
  for (int u = 0; u < n; u++) {
    const size_t off = (size_t)ids[u] * E;
    int j = 0;
    for (; j < vecEnd; j += 8) {
      const size_t o = off + j;
      const __m256 gj = _mm256_loadu_ps(g + o);
      const __m256 m0 = _mm256_loadu_ps(m + o);
      const __m256 mj = _mm256_add_ps(m0, _mm256_mul_ps(_mm256_sub_ps(gj, m0), vib1));
      const __m256 vj = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v + o), vb2), _mm256_mul_ps(_mm256_mul_ps(vib2, gj), gj));
      _mm256_storeu_ps(m + o, mj);
      _mm256_storeu_ps(v + o, vj);
      const __m256 den = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vj), vbc), veps);
      _mm256_storeu_ps(p + o, _mm256_sub_ps(_mm256_loadu_ps(p + o), _mm256_div_ps(_mm256_mul_ps(vss, mj), den)));
    }
    for (; j < E; j++) adam_one(p + off + j, m + off + j, v + off + j, g + off + j, ss, bc2, ib1, b2, ib2, eps);
  }
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
  for (int u = 0; u < n; u++) {
    const size_t off = (size_t)ids[u] * E;
    for (int j = 0; j < E; j++) adam_one(p + off + j, m + off + j, v + off + j, g + off + j, stepSize, bc2, ib1, b2, ib2, eps);
  }
}
