// SGEMM, C = beta*C + op(A) op(B), row-major, BLIS-style: blocks of op(A) and op(B) are
// packed into contiguous micro-panels (zero-padded at the edges), and an MR x NR
// register-tiled micro-kernel runs over them. `gemm` computes one fixed part of C;
// `gemmRows` lets several threads share C by claiming row chunks.
//
// 4x8 is the tile V8 compiles best (8 accumulators + 2 B vectors + 1 broadcast fit the 16
// xmm registers without spills): about 40 GFLOP/s on one Zen 5 core, where 6x8 (15
// registers) and a k loop unrolled by 2 both measured about 30% slower.
//
// Determinism: every element of C is computed by the same sequence of f32 operations
// wherever it falls in a tile and however the caller splits C among threads: an
// accumulator starts at 0, adds a*b for k ascending inside each KC block, and the
// block sum is added to C (or stored, for the first block when beta is 0). KC is a
// compile-time constant, so block boundaries never depend on the split.

export const MR: i32 = 4;
export const NR: i32 = 8;
export const KC: i32 = 256;
export const MC: i32 = 128;
export const NC: i32 = 4096;

const PACK_A_BYTES: usize = <usize>(MC * KC) << 2;
const PACK_B_BYTES: usize = <usize>(KC * NC) << 2;
const TILE_BYTES: usize = <usize>(MR * NR) << 2;

/** Bytes of per-thread scratch gemm needs (packed A block, packed B block, one tile). */
export function gemmScratchBytes(): usize {
  return PACK_A_BYTES + PACK_B_BYTES + TILE_BYTES;
}

/**
 * acc + a*b. The relaxed-SIMD build (kernels-relaxed.wasm) fuses it where the CPU has FMA:
 * one rounding instead of two, so its results differ from the plain build's in the last
 * bits, but a given build on a given machine always computes the same thing.
 */
@inline function madd(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

@inline function imin(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

// 4x4 transpose of rows r0..r3 (each 4 consecutive k), giving columns k0..k3.
@inline function tr01lo(r0: v128, r1: v128): v128 {
  return v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
}
@inline function tr01hi(r0: v128, r1: v128): v128 {
  return v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
}
@inline function lo64(x: v128, y: v128): v128 {
  return v128.shuffle<f32>(x, y, 0, 1, 4, 5);
}
@inline function hi64(x: v128, y: v128): v128 {
  return v128.shuffle<f32>(x, y, 2, 3, 6, 7);
}

/**
 * Pack `rows` (<= 4) source rows of length kc, each starting at src + r*rowStride bytes,
 * into a panel with `width` floats per k (the four rows at lane offset `lane`).
 * Used for op(A) when A is stored untransposed and for op(B) when B is stored transposed:
 * in both cases the panel dimension runs across stored rows and k along them.
 */
@inline function packRows4(
  src: usize, rowStride: usize, rows: i32, kc: i32, dst: usize, width: i32, lane: i32,
): void {
  const pstride = <usize>width << 2;
  let d = dst + (<usize>lane << 2);
  if (rows == 4) {
    const s1 = src + rowStride;
    const s2 = s1 + rowStride;
    const s3 = s2 + rowStride;
    let k = 0;
    let off: usize = 0;
    for (; k + 4 <= kc; k += 4) {
      const r0 = v128.load(src + off);
      const r1 = v128.load(s1 + off);
      const r2 = v128.load(s2 + off);
      const r3 = v128.load(s3 + off);
      const t0 = tr01lo(r0, r1);
      const t1 = tr01lo(r2, r3);
      const t2 = tr01hi(r0, r1);
      const t3 = tr01hi(r2, r3);
      v128.store(d, lo64(t0, t1));
      v128.store(d + pstride, hi64(t0, t1));
      v128.store(d + 2 * pstride, lo64(t2, t3));
      v128.store(d + 3 * pstride, hi64(t2, t3));
      d += pstride << 2;
      off += 16;
    }
    for (; k < kc; k++) {
      store<f32>(d, load<f32>(src + off));
      store<f32>(d, load<f32>(s1 + off), 4);
      store<f32>(d, load<f32>(s2 + off), 8);
      store<f32>(d, load<f32>(s3 + off), 12);
      d += pstride;
      off += 4;
    }
  } else {
    for (let k = 0; k < kc; k++) {
      const off = <usize>k << 2;
      for (let r = 0; r < 4; r++) {
        const v: f32 = r < rows ? load<f32>(src + <usize>r * rowStride + off) : 0;
        store<f32>(d + (<usize>r << 2), v);
      }
      d += pstride;
    }
  }
}

/**
 * Pack a panel whose `width` floats per k are contiguous in the source (op(A) when A is
 * stored transposed, op(B) when B is stored untransposed): `cols` valid floats from
 * src + k*kStride, zero-padded to width.
 */
@inline function packCols(src: usize, kStride: usize, cols: i32, kc: i32, dst: usize, width: i32): void {
  const pstride = <usize>width << 2;
  let s = src;
  let d = dst;
  if (cols == width) {
    for (let k = 0; k < kc; k++) {
      for (let c = 0; c < width; c += 4) {
        v128.store(d + (<usize>c << 2), v128.load(s + (<usize>c << 2)));
      }
      s += kStride;
      d += pstride;
    }
  } else {
    for (let k = 0; k < kc; k++) {
      for (let c = 0; c < width; c++) {
        const v: f32 = c < cols ? load<f32>(s + (<usize>c << 2)) : 0;
        store<f32>(d + (<usize>c << 2), v);
      }
      s += kStride;
      d += pstride;
    }
  }
}

/** Pack op(A)[0:mc, 0:kc] (a points at op(A)[0,0] as stored) into MR-row panels. */
function packA(transA: bool, a: usize, lda: i32, mc: i32, kc: i32, dst: usize): void {
  const ldaB = <usize>lda << 2;
  const panelBytes = <usize>(kc * MR) << 2;
  for (let i = 0; i < mc; i += MR) {
    const rows = imin(MR, mc - i);
    if (transA) {
      packCols(a + (<usize>i << 2), ldaB, rows, kc, dst, MR);
    } else {
      packRows4(a + <usize>i * ldaB, ldaB, rows, kc, dst, MR, 0);
    }
    dst += panelBytes;
  }
}

/** Pack op(B)[0:kc, 0:nc] (b points at op(B)[0,0] as stored) into NR-column panels. */
function packB(transB: bool, b: usize, ldb: i32, kc: i32, nc: i32, dst: usize): void {
  const ldbB = <usize>ldb << 2;
  const panelBytes = <usize>(kc * NR) << 2;
  for (let j = 0; j < nc; j += NR) {
    const cols = imin(NR, nc - j);
    if (transB) {
      // Stored B is N x K: each op(B) column is a stored row; NR = two groups of four.
      const base = b + <usize>j * ldbB;
      packRows4(base, ldbB, imin(4, cols), kc, dst, NR, 0);
      packRows4(base + 4 * ldbB, ldbB, cols > 4 ? cols - 4 : 0, kc, dst, NR, 4);
    } else {
      packCols(b + (<usize>j << 2), ldbB, cols, kc, dst, NR);
    }
    dst += panelBytes;
  }
}

// Write one accumulator row pair (8 floats) to C: store when overwriting, else add.
@inline function writeRow(cp: usize, x0: v128, x1: v128, acc: bool): void {
  if (acc) {
    x0 = f32x4.add(v128.load(cp), x0);
    x1 = f32x4.add(v128.load(cp, 16), x1);
  }
  v128.store(cp, x0);
  v128.store(cp, x1, 16);
}

/**
 * C[0:mr, 0:nr] (+)= packed-A panel x packed-B panel over kc. Full tiles are written from
 * registers; edge tiles go through `tile` so only the valid part of C is touched.
 */
function micro4x8(
  kc: i32, pa: usize, pb: usize, c: usize, ldcB: usize, mr: i32, nr: i32, acc: bool, tile: usize,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(pa, 4);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(pa, 8);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(pa, 12);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    pa += 16;
    pb += 32;
  }
  if (mr == MR && nr == NR) {
    writeRow(c, c00, c01, acc);
    writeRow(c + ldcB, c10, c11, acc);
    writeRow(c + 2 * ldcB, c20, c21, acc);
    writeRow(c + 3 * ldcB, c30, c31, acc);
    return;
  }
  v128.store(tile, c00); v128.store(tile, c01, 16);
  v128.store(tile, c10, 32); v128.store(tile, c11, 48);
  v128.store(tile, c20, 64); v128.store(tile, c21, 80);
  v128.store(tile, c30, 96); v128.store(tile, c31, 112);
  for (let i = 0; i < mr; i++) {
    const crow = c + <usize>i * ldcB;
    const trow = tile + (<usize>(i * NR) << 2);
    for (let j = 0; j < nr; j++) {
      const o = <usize>j << 2;
      const t = load<f32>(trow + o);
      store<f32>(crow + o, acc ? load<f32>(crow + o) + t : t);
    }
  }
}

/**
 * C[0:mc, 0:nc] (+)= packed A block x packed B block, one micro-tile at a time. The B
 * micro-panel (kc x NR, a few KiB) stays in L1 while the A block streams from L2.
 */
function macroKernel(
  mc: i32, nc: i32, kc: i32, pA: usize, pB: usize, c: usize, ldcB: usize, acc: bool, tile: usize,
): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = imin(NR, nc - jr);
    const pbPanel = pB + (<usize>(jr * kc) << 2);
    const cCol = c + (<usize>jr << 2);
    for (let ir = 0; ir < mc; ir += MR) {
      micro4x8(kc, pA + (<usize>(ir * kc) << 2), pbPanel, cCol + <usize>ir * ldcB, ldcB, imin(MR, mc - ir), nr, acc, tile);
    }
  }
}

// Address of op(A)[i, k] and op(B)[k, j] as stored.
@inline function addrA(transA: bool, a: usize, ldaB: usize, i: i32, k: i32): usize {
  return transA ? a + <usize>k * ldaB + (<usize>i << 2) : a + <usize>i * ldaB + (<usize>k << 2);
}
@inline function addrB(transB: bool, b: usize, ldbB: usize, k: i32, j: i32): usize {
  return transB ? b + <usize>j * ldbB + (<usize>k << 2) : b + <usize>k * ldbB + (<usize>j << 2);
}

/** C = beta*C for K = 0: with beta 0 the old contents of C, even NaN, are dropped. */
function scaleOnly(M: i32, N: i32, c: usize, ldcB: usize, beta: i32): void {
  if (beta != 0) return;
  for (let i = 0; i < M; i++) memory.fill(c + <usize>i * ldcB, 0, <usize>N << 2);
}

/** C[M,N] = beta*C + op(A) op(B); pointers are byte addresses, strides in elements. */
export function gemm(
  transA: bool, transB: bool, M: i32, N: i32, K: i32,
  a: usize, b: usize, c: usize, beta: i32,
  lda: i32, ldb: i32, ldc: i32, scratch: usize,
): void {
  if (M <= 0 || N <= 0) return;
  const ldcB = <usize>ldc << 2;
  if (K <= 0) {
    scaleOnly(M, N, c, ldcB, beta);
    return;
  }
  const pA = scratch;
  const pB = scratch + PACK_A_BYTES;
  const tile = pB + PACK_B_BYTES;
  const ldaB = <usize>lda << 2;
  const ldbB = <usize>ldb << 2;
  for (let jc = 0; jc < N; jc += NC) {
    const nc = imin(NC, N - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = imin(KC, K - pc);
      const acc = pc > 0 || beta != 0;
      packB(transB, addrB(transB, b, ldbB, pc, jc), ldb, kc, nc, pB);
      for (let ic = 0; ic < M; ic += MC) {
        const mc = imin(MC, M - ic);
        packA(transA, addrA(transA, a, ldaB, ic, pc), lda, mc, kc, pA);
        macroKernel(mc, nc, kc, pA, pB, c + <usize>ic * ldcB + (<usize>jc << 2), ldcB, acc, tile);
      }
    }
  }
}

/** Whether gemmRows can hold all of op(B) (K x N, padded to NR columns) packed at once. */
export function gemmRowsFits(N: i32, K: i32): bool {
  const nPad = <u64>((N + NR - 1) / NR) * NR;
  return <u64>K * nPad * 4 <= <u64>PACK_B_BYTES;
}

/**
 * The same product as gemm, computed by row chunks that threads claim one at a time from
 * a shared counter (an i32 at `counter`, 0 at the start): a thread that is slowed down
 * simply takes fewer chunks. Each thread packs all of op(B) once, on its first claim, so
 * K * N must fit (gemmRowsFits). Every element is still computed by the same operations
 * as in gemm, so the result does not depend on which thread took which chunk.
 */
export function gemmRows(
  transA: bool, transB: bool, M: i32, N: i32, K: i32,
  a: usize, b: usize, c: usize, beta: i32,
  lda: i32, ldb: i32, ldc: i32, scratch: usize,
  counter: usize, chunkRows: i32,
): void {
  const units = (M + chunkRows - 1) / chunkRows;
  let u = atomic.add<i32>(counter, 1);
  if (u >= units || N <= 0) return;
  const ldcB = <usize>ldc << 2;
  const pA = scratch;
  const pB = scratch + PACK_A_BYTES;
  const tile = pB + PACK_B_BYTES;
  const ldaB = <usize>lda << 2;
  const ldbB = <usize>ldb << 2;
  const nPad = ((N + NR - 1) / NR) * NR;
  for (let pc = 0; pc < K; pc += KC) {
    const kc = imin(KC, K - pc);
    packB(transB, addrB(transB, b, ldbB, pc, 0), ldb, kc, N, pB + (<usize>(pc * nPad) << 2));
  }
  for (; u < units; u = atomic.add<i32>(counter, 1)) {
    const i0 = u * chunkRows;
    const rows = imin(chunkRows, M - i0);
    const cRows = c + <usize>i0 * ldcB;
    if (K <= 0) {
      scaleOnly(rows, N, cRows, ldcB, beta);
      continue;
    }
    for (let pc = 0; pc < K; pc += KC) {
      const kc = imin(KC, K - pc);
      const acc = pc > 0 || beta != 0;
      for (let ic = 0; ic < rows; ic += MC) {
        const mc = imin(MC, rows - ic);
        packA(transA, addrA(transA, a, ldaB, i0 + ic, pc), lda, mc, kc, pA);
        macroKernel(mc, N, kc, pA, pB + (<usize>(pc * nPad) << 2), cRows + <usize>ic * ldcB, ldcB, acc, tile);
      }
    }
  }
}
