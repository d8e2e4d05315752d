// SGEMM for x86-64 with AVX-512 or AVX2+FMA: the same product, blocking and packing as the
// WebAssembly kernel (src/kernels/assembly/gemm.ts), with registers four to eight times
// wider. WebAssembly SIMD stops at 128 bits, which caps the wasm kernel at about half of
// what one of these cores can do (measured: 40-47 GFLOP/s per thread against OpenBLAS's
// 90-100 on the 2-core EPYC); this file exists for that gap.
//
// Written by hand rather than calling a BLAS because the engine promises results that do
// not depend on the thread count, and a BLAS does not: OpenBLAS, for one, picks other
// kernels (with other summation orders) for small products, so the same element of C
// could round differently when a gemm is split among threads. Here every element of C is
// computed by the same f32 operations wherever it falls and however C is split: an
// accumulator starts at 0, takes fused a*b+acc for k ascending inside each KC block, and
// the block sum is added to C (or stored, for the first block when beta is 0). That is
// exactly what the relaxed-SIMD wasm build computes on a CPU with FMA, so the two agree
// bit for bit (test/native-gemm.test.ts).
#include "gemm.h"

#include "cpu.h"

#include <stdint.h>
#include <string.h>

#define KC 256
#define MC 128
#define NC 4096
// The widest micro-tile of any variant (AVX-512: 8 x 32): scratch is sized for it.
#define MR_MAX 8
#define NR_MAX 32

#define PACK_A_FLOATS ((size_t)MC * KC)
#define PACK_B_FLOATS ((size_t)KC * NC)
#define TILE_FLOATS ((size_t)MR_MAX * NR_MAX)

typedef void (*micro_fn)(int kc, const float *pa, const float *pb, float *c, size_t ldc, int mr, int nr, int acc,
                         float *tile);

typedef struct {
  const char *name;
  int mr;
  int nr;
  micro_fn micro;
} variant;

static int imin(int a, int b) { return a < b ? a : b; }

// The valid mr x nr part of a full tile (row stride NR) written to C: stored, or added.
static void write_edge(const float *tile, int NR, float *c, size_t ldc, int mr, int nr, int acc) {
  for (int i = 0; i < mr; i++) {
    float *crow = c + (size_t)i * ldc;
    const float *trow = tile + (size_t)i * NR;
    for (int j = 0; j < nr; j++) crow[j] = acc ? crow[j] + trow[j] : trow[j];
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

// One accumulator row of 32 floats: k ascending, a fused multiply-add each.
#define ROW512(r)                                  \
  {                                                \
    const __m512 a = _mm512_set1_ps(pa[r]);        \
    c##r##0 = _mm512_fmadd_ps(a, b0, c##r##0);     \
    c##r##1 = _mm512_fmadd_ps(a, b1, c##r##1);     \
  }
#define STORE512(r)                                                                 \
  {                                                                                 \
    float *cp = c + (size_t)(r) * ldc;                                              \
    if (acc) {                                                                      \
      c##r##0 = _mm512_add_ps(_mm512_loadu_ps(cp), c##r##0);                        \
      c##r##1 = _mm512_add_ps(_mm512_loadu_ps(cp + 16), c##r##1);                  \
    }                                                                               \
    _mm512_storeu_ps(cp, c##r##0);                                                  \
    _mm512_storeu_ps(cp + 16, c##r##1);                                             \
  }
#define TILE512(r)                                        \
  {                                                       \
    _mm512_storeu_ps(tile + (r) * 32, c##r##0);           \
    _mm512_storeu_ps(tile + (r) * 32 + 16, c##r##1);      \
  }

__attribute__((target("avx512f"))) static void micro_8x32(int kc, const float *pa, const float *pb, float *c,
                                                          size_t ldc, int mr, int nr, int acc, float *tile) {
  __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps(), c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
  __m512 c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps(), c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps();
  __m512 c40 = _mm512_setzero_ps(), c41 = _mm512_setzero_ps(), c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps();
  __m512 c60 = _mm512_setzero_ps(), c61 = _mm512_setzero_ps(), c70 = _mm512_setzero_ps(), c71 = _mm512_setzero_ps();
  for (int k = 0; k < kc; k++) {
    const __m512 b0 = _mm512_loadu_ps(pb);
    const __m512 b1 = _mm512_loadu_ps(pb + 16);
    ROW512(0) ROW512(1) ROW512(2) ROW512(3) ROW512(4) ROW512(5) ROW512(6) ROW512(7)
    pa += 8;
    pb += 32;
  }
  if (mr == 8 && nr == 32) {
    STORE512(0) STORE512(1) STORE512(2) STORE512(3) STORE512(4) STORE512(5) STORE512(6) STORE512(7)
    return;
  }
  TILE512(0) TILE512(1) TILE512(2) TILE512(3) TILE512(4) TILE512(5) TILE512(6) TILE512(7)
  write_edge(tile, 32, c, ldc, mr, nr, acc);
}

#define ROW256(r)                                  \
  {                                                \
    const __m256 a = _mm256_broadcast_ss(pa + r);  \
    c##r##0 = _mm256_fmadd_ps(a, b0, c##r##0);     \
    c##r##1 = _mm256_fmadd_ps(a, b1, c##r##1);     \
  }
#define STORE256(r)                                                                 \
  {                                                                                 \
    float *cp = c + (size_t)(r) * ldc;                                              \
    if (acc) {                                                                      \
      c##r##0 = _mm256_add_ps(_mm256_loadu_ps(cp), c##r##0);                        \
      c##r##1 = _mm256_add_ps(_mm256_loadu_ps(cp + 8), c##r##1);                    \
    }                                                                               \
    _mm256_storeu_ps(cp, c##r##0);                                                  \
    _mm256_storeu_ps(cp + 8, c##r##1);                                              \
  }
#define TILE256(r)                                        \
  {                                                       \
    _mm256_storeu_ps(tile + (r) * 16, c##r##0);           \
    _mm256_storeu_ps(tile + (r) * 16 + 8, c##r##1);       \
  }

// 6 x 16: twelve accumulators, two B vectors and a broadcast fill the 16 ymm registers.
__attribute__((target("avx2,fma"))) static void micro_6x16(int kc, const float *pa, const float *pb, float *c,
                                                           size_t ldc, int mr, int nr, int acc, float *tile) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int k = 0; k < kc; k++) {
    const __m256 b0 = _mm256_loadu_ps(pb);
    const __m256 b1 = _mm256_loadu_ps(pb + 8);
    ROW256(0) ROW256(1) ROW256(2) ROW256(3) ROW256(4) ROW256(5)
    pa += 6;
    pb += 16;
  }
  if (mr == 6 && nr == 16) {
    STORE256(0) STORE256(1) STORE256(2) STORE256(3) STORE256(4) STORE256(5)
    return;
  }
  TILE256(0) TILE256(1) TILE256(2) TILE256(3) TILE256(4) TILE256(5)
  write_edge(tile, 16, c, ldc, mr, nr, acc);
}

static const variant AVX512 = {"avx512", 8, 32, micro_8x32};
static const variant AVX2 = {"avx2", 6, 16, micro_6x16};

static const variant *detect(void) {
  switch (cpu_level()) {
    case CPU_AVX512: return &AVX512;
    case CPU_AVX2_FMA: return &AVX2;
    default: return NULL;
  }
}
#else
static const variant *detect(void) { return NULL; }
#endif

static const variant *chosen;
static int detected;

static const variant *active(void) {
  if (!detected) {
    chosen = detect();
    detected = 1;
  }
  return chosen;
}

const char *gemm_variant(void) {
  const variant *v = active();
  return v ? v->name : NULL;
}

int gemm_tile_rows(void) { return active()->mr; }
int gemm_tile_cols(void) { return active()->nr; }

size_t gemm_scratch_bytes(void) { return (PACK_A_FLOATS + PACK_B_FLOATS + TILE_FLOATS) * sizeof(float); }

// op(A)[0:mc, 0:kc] into MR-row panels: panel[k*MR + r] = op(A)[i+r, k], zero past the edge.
static void pack_a(const variant *v, int transA, const float *a, size_t lda, int mc, int kc, float *dst) {
  const int MR = v->mr;
  for (int i = 0; i < mc; i += MR) {
    const int rows = imin(MR, mc - i);
    for (int k = 0; k < kc; k++) {
      float *d = dst + (size_t)k * MR;
      for (int r = 0; r < MR; r++) {
        d[r] = r >= rows ? 0.0f : transA ? a[(size_t)k * lda + i + r] : a[(size_t)(i + r) * lda + k];
      }
    }
    dst += (size_t)kc * MR;
  }
}

// op(B)[0:kc, 0:nc] into NR-column panels: panel[k*NR + j] = op(B)[k, c+j], zero past the edge.
static void pack_b(const variant *v, int transB, const float *b, size_t ldb, int kc, int nc, float *dst) {
  const int NR = v->nr;
  for (int c = 0; c < nc; c += NR) {
    const int cols = imin(NR, nc - c);
    if (transB) {
      // Stored B is N x K: each op(B) column is a stored row, read along k.
      for (int j = 0; j < NR; j++) {
        const float *src = b + (size_t)(c + j) * ldb;
        for (int k = 0; k < kc; k++) dst[(size_t)k * NR + j] = j < cols ? src[k] : 0.0f;
      }
    } else {
      for (int k = 0; k < kc; k++) {
        const float *src = b + (size_t)k * ldb + c;
        float *d = dst + (size_t)k * NR;
        for (int j = 0; j < NR; j++) d[j] = j < cols ? src[j] : 0.0f;
      }
    }
    dst += (size_t)kc * NR;
  }
}

// C[0:mc, 0:nc] (+)= packed A block x packed B block, one micro-tile at a time.
static void macro_kernel(const variant *v, int mc, int nc, int kc, const float *pA, const float *pB, float *c,
                         size_t ldc, int acc, float *tile) {
  for (int jr = 0; jr < nc; jr += v->nr) {
    const int nr = imin(v->nr, nc - jr);
    const float *pb = pB + (size_t)jr * kc;
    for (int ir = 0; ir < mc; ir += v->mr) {
      v->micro(kc, pA + (size_t)ir * kc, pb, c + (size_t)ir * ldc + jr, ldc, imin(v->mr, mc - ir), nr, acc, tile);
    }
  }
}

// Rows of A packed at a time: a whole number of micro-panels, at most MC.
static int mc_block(const variant *v) { return (MC / v->mr) * v->mr; }

static const float *addr_a(int transA, const float *a, size_t lda, int i, int k) {
  return transA ? a + (size_t)k * lda + i : a + (size_t)i * lda + k;
}
static const float *addr_b(int transB, const float *b, size_t ldb, int k, int j) {
  return transB ? b + (size_t)j * ldb + k : b + (size_t)k * ldb + j;
}

// C = beta*C for K = 0: with beta 0 the old contents of C, even NaN, are dropped.
static void scale_only(int M, int N, float *c, size_t ldc, int beta) {
  if (beta != 0) return;
  for (int i = 0; i < M; i++) memset(c + (size_t)i * ldc, 0, (size_t)N * sizeof(float));
}

void gemm_part(int transA, int transB, int M, int N, int K, const float *a, const float *b, float *c, int beta,
               int lda, int ldb, int ldc, float *scratch) {
  const variant *v = active();
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    scale_only(M, N, c, (size_t)ldc, beta);
    return;
  }
  float *pA = scratch;
  float *pB = scratch + PACK_A_FLOATS;
  float *tile = pB + PACK_B_FLOATS;
  const int mcMax = mc_block(v);
  for (int jc = 0; jc < N; jc += NC) {
    const int nc = imin(NC, N - jc);
    for (int pc = 0; pc < K; pc += KC) {
      const int kc = imin(KC, K - pc);
      const int acc = pc > 0 || beta != 0;
      pack_b(v, transB, addr_b(transB, b, (size_t)ldb, pc, jc), (size_t)ldb, kc, nc, pB);
      for (int ic = 0; ic < M; ic += mcMax) {
        const int mc = imin(mcMax, M - ic);
        pack_a(v, transA, addr_a(transA, a, (size_t)lda, ic, pc), (size_t)lda, mc, kc, pA);
        macro_kernel(v, mc, nc, kc, pA, pB, c + (size_t)ic * ldc + jc, (size_t)ldc, acc, tile);
      }
    }
  }
}

static size_t padded_cols(int N) {
  const int NR = active()->nr;
  return (size_t)((N + NR - 1) / NR) * NR;
}

int gemm_rows_fits(int N, int K) {
  return (uint64_t)K * padded_cols(N) <= PACK_B_FLOATS;
}

void gemm_rows(int transA, int transB, int M, int N, int K, const float *a, const float *b, float *c, int beta,
               int lda, int ldb, int ldc, float *scratch, int32_t *counter, int chunkRows) {
  const variant *v = active();
  const int units = (M + chunkRows - 1) / chunkRows;
  int u = __atomic_fetch_add(counter, 1, __ATOMIC_SEQ_CST);
  if (u >= units || N <= 0) return;
  float *pA = scratch;
  float *pB = scratch + PACK_A_FLOATS;
  float *tile = pB + PACK_B_FLOATS;
  const size_t nPad = padded_cols(N);
  const int mcMax = mc_block(v);
  for (int pc = 0; pc < K; pc += KC) {
    pack_b(v, transB, addr_b(transB, b, (size_t)ldb, pc, 0), (size_t)ldb, imin(KC, K - pc), N, pB + (size_t)pc * nPad);
  }
  for (; u < units; u = __atomic_fetch_add(counter, 1, __ATOMIC_SEQ_CST)) {
    const int i0 = u * chunkRows;
    const int rows = imin(chunkRows, M - i0);
    float *cRows = c + (size_t)i0 * ldc;
    if (K <= 0) {
      scale_only(rows, N, cRows, (size_t)ldc, beta);
      continue;
    }
    for (int pc = 0; pc < K; pc += KC) {
      const int kc = imin(KC, K - pc);
      const int acc = pc > 0 || beta != 0;
      for (int ic = 0; ic < rows; ic += mcMax) {
        const int mc = imin(mcMax, rows - ic);
        pack_a(v, transA, addr_a(transA, a, (size_t)lda, i0 + ic, pc), (size_t)lda, mc, kc, pA);
        macro_kernel(v, mc, N, kc, pA, pB + (size_t)pc * nPad, cRows + (size_t)ic * ldc, (size_t)ldc, acc, tile);
      }
    }
  }
}
