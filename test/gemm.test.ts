import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../src/kernels/engine.js';
import { refGemm } from '../src/kernels/reference.js';
import { splitOutput } from '../src/kernels/split.js';
import { Rng } from '../src/util/rng.js';

let e1: Engine;
let e2: Engine;
let e3: Engine;

before(async () => {
  [e1, e2, e3] = await Promise.all([1, 2, 3].map((threads) => Engine.create({ threads, memoryMiB: 64 })));
});
after(async () => {
  await Promise.all([e1, e2, e3].map((e) => e.close()));
});

interface Case {
  tA: boolean;
  tB: boolean;
  M: number;
  N: number;
  K: number;
  beta: 0 | 1;
  /** Extra floats at the end of each stored row, and floats before each matrix's start. */
  pad: number;
  shift: number;
}

interface Operands {
  A: Float32Array;
  B: Float32Array;
  C: Float32Array;
  lda: number;
  ldb: number;
  ldc: number;
}

/** Stored row count and row length of op(X)'s storage. */
function stored(trans: boolean, rows: number, cols: number): [number, number] {
  return trans ? [cols, rows] : [rows, cols];
}

/** A matrix as a subarray `shift` floats into an engine array, with row stride cols + pad. */
function place(e: Engine, rows: number, cols: number, pad: number, shift: number, fill: (i: number) => number): [Float32Array, number] {
  const ld = cols + pad;
  const whole = e.allocF32(shift + rows * ld);
  const view = whole.subarray(shift);
  for (let i = 0; i < view.length; i++) view[i] = fill(i);
  return [view, ld];
}

function operands(e: Engine, c: Case, fill: (i: number) => number): Operands {
  const [ar, ac] = stored(c.tA, c.M, c.K);
  const [br, bc] = stored(c.tB, c.K, c.N);
  const [A, lda] = place(e, ar, ac, c.pad, c.shift, fill);
  const [B, ldb] = place(e, br, bc, c.pad, c.shift + 1, fill);
  const [C, ldc] = place(e, c.M, c.N, c.pad, c.shift + 2, fill);
  return { A, B, C, lda, ldb, ldc };
}

function runEngine(e: Engine, c: Case, o: Operands): void {
  e.gemm(c.tA, c.tB, c.M, c.N, c.K, o.A, o.B, o.C, c.beta, o.lda, o.ldb, o.ldc);
}

/** Checks the engine against the float64 reference, element by element, within float32 error bounds. */
function checkAgainstReference(e: Engine, c: Case, rng: Rng): void {
  const mark = e.mark();
  const o = operands(e, c, () => rng.float() * 2 - 1);
  const want = Float32Array.from(o.C);
  refGemm(c.tA, c.tB, c.M, c.N, c.K, o.A, o.B, want, c.beta, o.lda, o.ldb, o.ldc);
  // Bound from sum |a||b| (+|c|): float32 accumulation of K terms errs by at most ~K ulps of it.
  const bound = Float32Array.from(o.C, Math.abs);
  refGemm(c.tA, c.tB, c.M, c.N, c.K, o.A.map(Math.abs), o.B.map(Math.abs), bound, c.beta, o.lda, o.ldb, o.ldc);
  const before = Float32Array.from(o.C);
  runEngine(e, c, o);
  const label = JSON.stringify(c);
  for (let i = 0; i < c.M; i++) {
    for (let j = 0; j < c.N; j++) {
      const at = i * o.ldc + j;
      const tol = (c.K + 2) * 2 ** -23 * bound[at]! + 1e-30;
      const err = Math.abs(o.C[at]! - want[at]!);
      if (!(err <= tol)) assert.fail(`${label}: C[${i},${j}] = ${o.C[at]}, reference ${want[at]}, error ${err} > ${tol}`);
    }
    // Padding between rows is not part of C and must be untouched.
    for (let j = c.N; j < o.ldc && i < c.M - 1; j++) {
      assert.equal(o.C[i * o.ldc + j], before[i * o.ldc + j], `${label}: padding C[${i},${j}] changed`);
    }
  }
  e.release(mark);
}

test('gemm: hand-computed 2x2 products for every transpose combination', () => {
  const m = e1.mark();
  const A = e1.allocF32(4);
  const B = e1.allocF32(4);
  const C = e1.allocF32(4);
  A.set([1, 2, 3, 4]);
  B.set([5, 6, 7, 8]);
  // [[1,2],[3,4]] x [[5,6],[7,8]] and the transposed variants, worked by hand.
  const expected: Record<string, number[]> = {
    NN: [19, 22, 43, 50],
    NT: [17, 23, 39, 53],
    TN: [26, 30, 38, 44],
    TT: [23, 31, 34, 46],
  };
  for (const [key, want] of Object.entries(expected)) {
    C.set([100, 200, 300, 400]);
    e1.gemm(key[0] === 'T', key[1] === 'T', 2, 2, 2, A, B, C, 0);
    assert.deepEqual([...C], want, `${key}, beta 0`);
    e1.gemm(key[0] === 'T', key[1] === 'T', 2, 2, 2, A, B, C, 1);
    assert.deepEqual([...C], want.map((x) => 2 * x), `${key}, beta 1`);
  }
  e1.release(m);
});

test('refGemm: the same hand-computed products', () => {
  const A = Float32Array.of(1, 2, 3, 4);
  const B = Float32Array.of(5, 6, 7, 8);
  const C = new Float32Array(4);
  refGemm(false, true, 2, 2, 2, A, B, C, 0);
  assert.deepEqual([...C], [17, 23, 39, 53]);
  refGemm(true, false, 2, 2, 2, A, B, C, 1);
  assert.deepEqual([...C], [17 + 26, 23 + 30, 39 + 38, 53 + 44]);
});

test('gemm: odd shapes, all transposes, strided unaligned subarrays, beta 0 and 1', () => {
  const rng = new Rng(7);
  const dims: [number, number, number][] = [
    [1, 1, 1], [3, 17, 65], [17, 3, 1], [65, 65, 17], [1, 1023, 3], [1023, 3, 17], [3, 17, 1023],
    [4, 8, 256], [5, 9, 257], [129, 33, 300], [8, 1, 5],
  ];
  for (const [M, N, K] of dims) {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        for (const beta of [0, 1] as const) {
          const pad = rng.int(2) * 3;
          const shift = rng.int(4);
          checkAgainstReference(e2, { tA, tB, M, N, K, beta, pad, shift }, rng);
        }
      }
    }
  }
});

test('gemm: exact on small integers, across several K blocks', () => {
  // Products and sums of small integers are exact in float32, so any indexing slip shows.
  const rng = new Rng(11);
  for (const [M, N, K] of [[37, 29, 700], [6, 70, 513], [130, 9, 256]] as const) {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        for (const beta of [0, 1] as const) {
          const c: Case = { tA, tB, M, N, K, beta, pad: 1, shift: 1 };
          const m = e3.mark();
          const o = operands(e3, c, () => rng.int(9) - 4);
          const want = Float32Array.from(o.C);
          refGemm(tA, tB, M, N, K, o.A, o.B, want, beta, o.lda, o.ldb, o.ldc);
          runEngine(e3, c, o);
          for (let i = 0; i < M; i++) {
            for (let j = 0; j < N; j++) {
              assert.equal(o.C[i * o.ldc + j], want[i * o.ldc + j], `${JSON.stringify(c)}: C[${i},${j}]`);
            }
          }
          e3.release(m);
        }
      }
    }
  }
});

test('gemm: the three MLP forms on 64x64 expert blocks addressed through lda/ldb/ldc', () => {
  const rng = new Rng(5);
  const m = e2.mark();
  const rows = 70;
  const width = 4 * 64;
  const X = e2.allocF32(rows * width);
  const W = e2.allocF32(64 * 64);
  const Y = e2.allocF32(rows * width);
  X.forEach((_, i) => (X[i] = rng.float() - 0.5));
  W.forEach((_, i) => (W[i] = rng.float() - 0.5));
  const near = (got: Float32Array, gotLd: number, want: Float32Array, what: string): void => {
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < 64; j++) {
        const g = got[i * gotLd + j]!;
        const w = want[i * 64 + j]!;
        assert.ok(Math.abs(g - w) < 1e-4, `${what}[${i},${j}] = ${g}, reference ${w}`);
      }
    }
  };
  // Expert 2's block: columns 128..191 of X and Y.
  const xs = X.subarray(128);
  const ys = Y.subarray(128);
  e2.gemm(false, true, rows, 64, 64, xs, W, ys, 0, width, 64, width);
  const want = new Float32Array(rows * 64);
  refGemm(false, true, rows, 64, 64, xs, W, want, 0, width, 64, 64);
  near(ys, width, want, 'Y');
  for (let i = 0; i < rows; i++) {
    assert.equal(Y[i * width + 127], 0, 'the block to the left is untouched');
    assert.equal(Y[i * width + 192], 0, 'the block to the right is untouched');
  }
  // dX block = dY block W, and dW += dY^T X, through the same strides.
  e2.gemm(false, false, rows, 64, 64, ys, W, xs, 0, width, 64, width);
  refGemm(false, false, rows, 64, 64, ys, W, want, 0, width, 64, 64);
  near(xs, width, want, 'dX');
  const dW = e2.allocF32(64 * 64);
  const wantDW = new Float32Array(64 * 64);
  e2.gemm(true, false, 64, 64, rows, ys, xs, dW, 1, width, width, 64);
  refGemm(true, false, 64, 64, rows, ys, xs, wantDW, 1, width, width, 64);
  for (let i = 0; i < dW.length; i++) assert.ok(Math.abs(dW[i]! - wantDW[i]!) < 1e-3 * (1 + Math.abs(wantDW[i]!)));
  e2.release(m);
});

test('gemm: bit-identical for 1, 2 and 3 threads, row chunks, row parts and column parts', () => {
  const shapes: [boolean, boolean, number, number, number][] = [
    [false, true, 1024, 64, 448], // forward, rows split into a chunk queue
    [false, false, 16, 1100, 1000], // op(B) too big for the queue: fixed row parts
    [false, false, 515, 70, 129], // dX, uneven rows
    [true, false, 64, 448, 1024], // dW
    [true, true, 3, 2050, 1100], // too few rows: columns split
  ];
  for (const [tA, tB, M, N, K] of shapes) {
    assert.ok(splitOutput(M, N, K, 3).length > 1, `${M}x${N}x${K} must exercise the threaded path`);
    const results = [e1, e2, e3].map((e) => {
      const m = e.mark();
      const vals = new Rng(M * 7 + N);
      const o = operands(e, { tA, tB, M, N, K, beta: 1, pad: 0, shift: 0 }, () => vals.float() - 0.5);
      runEngine(e, { tA, tB, M, N, K, beta: 1, pad: 0, shift: 0 }, o);
      const out = new Uint32Array(Float32Array.from(o.C).buffer);
      e.release(m);
      return out;
    });
    assert.deepEqual(results[1], results[0], `${M}x${N}x${K}: 2 threads differ from 1`);
    assert.deepEqual(results[2], results[0], `${M}x${N}x${K}: 3 threads differ from 1`);
  }
});

test('gemm: K = 0 gives beta*C, and empty outputs are a no-op', () => {
  const m = e2.mark();
  const A = e2.allocF32(6);
  const C = e2.allocF32(6).fill(5);
  e2.gemm(false, false, 2, 3, 0, A, A, C, 1);
  assert.deepEqual([...C], [5, 5, 5, 5, 5, 5]);
  e2.gemm(false, false, 2, 3, 0, A, A, C, 0);
  assert.deepEqual([...C], [0, 0, 0, 0, 0, 0]);
  C.fill(5);
  e2.gemm(false, false, 0, 3, 2, A, A, C, 0);
  e2.gemm(true, true, 2, 0, 2, A, A, C, 0);
  assert.deepEqual([...C], [5, 5, 5, 5, 5, 5]);
  e2.release(m);
});

test('gemm: rejects foreign arrays, short views, bad strides and bad beta', () => {
  const m = e1.mark();
  const A = e1.allocF32(12);
  assert.throws(() => e1.gemm(false, false, 3, 4, 1, new Float32Array(3), A, A, 0), /gemm: A must be a Float32Array allocated by this engine/);
  assert.throws(() => e1.gemm(false, false, 3, 4, 1, e2.allocF32(3), A, A, 0), /A must be a Float32Array allocated by this engine/);
  assert.throws(
    () => e1.gemm(false, false, 4, 4, 1, A, A, A.subarray(1), 0),
    /gemm: C is 4 x 4 with row stride 4 as stored, needing 16 floats, but its view holds 11/,
  );
  assert.throws(() => e1.gemm(true, false, 2, 2, 3, A, A, A, 0, 1), /gemm: A row stride 1 is smaller than its 2 stored columns/);
  assert.throws(() => e1.gemm(false, false, 2, 2, 2, A, A, A, 2 as 0), /beta must be 0 or 1, got 2/);
  assert.throws(() => e1.gemm(false, false, 2.5, 2, 2, A, A, A, 0), /M, N, K must be non-negative integers/);
  e1.release(m);
});
