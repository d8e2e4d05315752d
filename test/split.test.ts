import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitOutput, WASM_TILES, type Part } from '../src/kernels/split.js';

const { rows: TILE_ROWS, cols: TILE_COLS, minMacsPerThread: MIN_MACS_PER_THREAD } = WASM_TILES;

/** The parts must tile C exactly, in order, on micro-tile boundaries. */
function assertTiles(parts: Part[], M: number, N: number): void {
  const byRows = parts.every((p) => p.n0 === 0 && p.n1 === N);
  const byCols = parts.every((p) => p.m0 === 0 && p.m1 === M);
  assert.ok(byRows || byCols, 'one direction only');
  const cuts = parts.map((p) => (byRows ? [p.m0, p.m1] : [p.n0, p.n1]));
  const len = byRows ? M : N;
  const tile = byRows ? TILE_ROWS : TILE_COLS;
  assert.equal(cuts[0]![0], 0);
  assert.equal(cuts[cuts.length - 1]![1], len);
  for (let i = 0; i < cuts.length; i++) {
    const [a, b] = cuts[i]!;
    assert.ok(b > a, 'no empty part');
    if (i > 0) assert.equal(a, cuts[i - 1]![1], 'contiguous');
    if (b < len) assert.equal(b % tile, 0, 'cut on a tile boundary');
  }
}

test('splitOutput: small problems stay on one thread', () => {
  assert.deepEqual(splitOutput(64, 64, 64, 8), [{ m0: 0, m1: 64, n0: 0, n1: 64 }]);
  assert.equal(splitOutput(1024, 512, 896, 1).length, 1);
  assert.equal(splitOutput(0, 512, 896, 4).length, 1);
});

test('splitOutput: enough work per thread, rows when there are rows to share', () => {
  const parts = splitOutput(1024, 512, 896, 2);
  assert.deepEqual(parts, [{ m0: 0, m1: 512, n0: 0, n1: 512 }, { m0: 512, m1: 1024, n0: 0, n1: 512 }]);
  // Just over two threads' worth of work: two parts even when 16 threads are offered.
  const K = Math.ceil((2 * MIN_MACS_PER_THREAD) / (256 * 64));
  assert.equal(splitOutput(256, 64, K, 16).length, 2);
});

test('splitOutput: columns when rows are too few, and every split tiles C', () => {
  const cols = splitOutput(3, 2050, 1100, 3);
  assert.ok(cols.every((p) => p.m0 === 0 && p.m1 === 3));
  assertTiles(cols, 3, 2050);
  for (const [M, N, K, T] of [[1023, 65, 1023, 3], [5, 4096, 4096, 4], [1024, 448, 64, 7], [9, 9, 100000, 16]] as const) {
    const parts = splitOutput(M, N, K, T);
    assert.ok(parts.length >= 1 && parts.length <= T);
    assertTiles(parts, M, N);
  }
});
