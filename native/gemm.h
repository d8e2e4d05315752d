// The native gemm (gemm.c): the wasm kernel's gemm and gemmRows over raw pointers.
#ifndef METAHEAC_GEMM_H
#define METAHEAC_GEMM_H
#include <stddef.h>
#include <stdint.h>

/** The micro-kernel in use ("avx512", "avx2"), or NULL where this CPU has neither. */
const char *gemm_variant(void);
/** Rows of the micro-tile: splits of C should fall on multiples of the tile. */
int gemm_tile_rows(void);
/** Columns of the micro-tile. */
int gemm_tile_cols(void);
/** Floats' worth of per-thread scratch, in bytes (packed A block, packed B block, one tile). */
size_t gemm_scratch_bytes(void);
/** Whether gemm_rows can hold all of op(B) (K x N, padded to the tile) packed at once. */
int gemm_rows_fits(int N, int K);
/** C[M,N] = beta*C + op(A) op(B), row-major, strides in elements, beta 0 or 1. */
void gemm_part(int transA, int transB, int M, int N, int K, const float *a, const float *b, float *c, int beta,
               int lda, int ldb, int ldc, float *scratch);
/** The same product by row chunks of chunkRows, claimed from *counter (0 at the start) by every caller. */
void gemm_rows(int transA, int transB, int M, int N, int K, const float *a, const float *b, float *c, int beta,
               int lda, int ldb, int ldc, float *scratch, int32_t *counter, int chunkRows);
#endif
