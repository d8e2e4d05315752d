/**
 * How a gemm's output is shared among threads. Only C is split (by row ranges or by
 * column ranges), never K, so every element is one thread's full reduction and results do
 * not depend on the thread count.
 */

/** A rectangle of C: rows [m0, m1), columns [n0, n1). */
export interface Part {
  m0: number;
  m1: number;
  n0: number;
  n1: number;
}

/** What a gemm kernel tells the split: its micro-tile, and the least work worth a thread. */
export interface GemmTiles {
  /** Rows and columns of the micro-tile: splits fall on multiples of these. */
  rows: number;
  cols: number;
  /** Multiply-adds per thread below which handing part of a gemm to a worker costs more than it saves. */
  minMacsPerThread: number;
}

/**
 * The wasm kernel (MR x NR in assembly/gemm.ts). Its threshold, about 25 us of work, was
 * measured on the idle 2-core dev VM (EPYC, 1 vs 2 threads): 128x64x64 39 -> 20 us,
 * 512x64x64 105 -> 68 us; with the cores busy with other processes a second thread stops
 * paying off below about 1 M per thread.
 */
export const WASM_TILES: GemmTiles = { rows: 4, cols: 8, minMacsPerThread: 1 << 20 };

/** Cut `units` tiles into at most `parts` nearly equal consecutive ranges of `len` elements. */
function ranges(len: number, tile: number, parts: number): [number, number][] {
  const units = Math.ceil(len / tile);
  const n = Math.min(parts, units);
  const out: [number, number][] = [];
  let start = 0;
  for (let p = 0; p < n; p++) {
    const u = Math.floor(units / n) + (p < units % n ? 1 : 0);
    const end = Math.min(len, start + u * tile);
    out.push([start, end]);
    start = end;
  }
  return out;
}

/**
 * Split C (M x N, reduction length K) among at most `threads` threads. Rows are preferred
 * (each thread then packs all of op(B) but streams only its own rows of A and C); columns
 * are used when there are too few row tiles to go round.
 */
export function splitOutput(M: number, N: number, K: number, threads: number, tiles: GemmTiles = WASM_TILES): Part[] {
  const macs = M * N * K;
  const want = Math.max(1, Math.min(threads, Math.floor(macs / tiles.minMacsPerThread)));
  if (want === 1 || M === 0 || N === 0) return [{ m0: 0, m1: M, n0: 0, n1: N }];
  const rowTiles = Math.ceil(M / tiles.rows);
  const colTiles = Math.ceil(N / tiles.cols);
  if (rowTiles >= want || rowTiles >= colTiles) {
    return ranges(M, tiles.rows, want).map(([m0, m1]) => ({ m0, m1, n0: 0, n1: N }));
  }
  return ranges(N, tiles.cols, want).map(([n0, n1]) => ({ m0: 0, m1: M, n0, n1 }));
}

/** Row chunks a row-split gemm is cut into, per thread: enough to even out a slowed thread. */
const CHUNKS_PER_THREAD = 8;

/** Rows per chunk of a row-split gemm over `threads` threads: a multiple of the tile's rows. */
export function rowChunk(M: number, threads: number, tileRows: number = WASM_TILES.rows): number {
  return Math.max(tileRows, Math.ceil(M / (threads * CHUNKS_PER_THREAD) / tileRows) * tileRows);
}
