import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../src/kernels/engine.js';
import { refBiasReluForward, refColSum, refReluBackward } from '../src/kernels/reference.js';
import { Rng } from '../src/util/rng.js';

let e: Engine;
before(async () => {
  e = await Engine.create({ threads: 1, memoryMiB: 16 });
});
after(() => e.close());

function filled(n: number, rng: Rng): Float32Array {
  const a = e.allocF32(n);
  for (let i = 0; i < n; i++) a[i] = rng.float() * 4 - 2;
  return a;
}

function bits(a: Float32Array): number[] {
  return [...new Uint32Array(Float32Array.from(a).buffer)];
}

// Column counts that reach the 16-wide, 4-wide and scalar loops, alone and together.
const COLS = [1, 3, 4, 16, 23, 64, 67];

test('biasReluForward: hand-computed rows', () => {
  const m = e.mark();
  const Y = e.allocF32(6);
  const bias = e.allocF32(3);
  Y.set([1, -2, 0.5, -1, 3, -0.5]);
  bias.set([0.5, 1, -1]);
  e.biasReluForward(Y, bias, 2, 3, false);
  assert.deepEqual([...Y], [1.5, -1, -0.5, -0.5, 4, -1.5]);
  e.biasReluForward(Y, bias, 2, 3, true);
  assert.deepEqual([...Y], [2, 0, 0, 0, 5, 0]);
  e.release(m);
});

test('biasReluForward: matches the reference bit for bit, strided rows, NaN kept', () => {
  const rng = new Rng(1);
  for (const cols of COLS) {
    for (const relu of [false, true]) {
      const m = e.mark();
      const rows = 5;
      const ld = cols + 2;
      const Y = filled(rows * ld, rng).subarray(1);
      const bias = filled(cols, rng);
      Y[0] = NaN;
      const want = Float32Array.from(Y);
      refBiasReluForward(want, bias, rows, cols, relu, ld);
      e.biasReluForward(Y, bias, rows, cols, relu, ld);
      assert.deepEqual(bits(Y), bits(want), `cols ${cols}, relu ${relu}`);
      assert.ok(Number.isNaN(Y[0]));
      e.release(m);
    }
  }
});

test('reluBackward: hand-computed and against the reference', () => {
  const m = e.mark();
  const dY = e.allocF32(5);
  const Y = e.allocF32(5);
  dY.set([1, 2, 3, 4, 5]);
  Y.set([0.5, 0, -1, NaN, 2]);
  e.reluBackward(dY, Y, 5);
  assert.deepEqual([...dY], [1, 0, 0, 0, 5]);
  const rng = new Rng(2);
  for (const n of [0, 1, 3, 4, 17, 1023]) {
    const d = filled(n + 1, rng).subarray(1);
    const y = filled(n, rng);
    const want = Float32Array.from(d);
    refReluBackward(want, y, n);
    e.reluBackward(d, y, n);
    assert.deepEqual(bits(d), bits(want), `n ${n}`);
  }
  e.release(m);
});

test('colSum: hand-computed, beta 0 and 1', () => {
  const m = e.mark();
  const dY = e.allocF32(6);
  const out = e.allocF32(3);
  dY.set([1, 2, 3, 10, 20, 30]);
  out.set([7, 7, 7]);
  e.colSum(dY, 2, 3, out, 0);
  assert.deepEqual([...out], [11, 22, 33]);
  e.colSum(dY, 2, 3, out, 1);
  assert.deepEqual([...out], [22, 44, 66]);
  e.release(m);
});

test('colSum: matches the reference bit for bit, strided rows', () => {
  const rng = new Rng(3);
  for (const cols of COLS) {
    for (const beta of [0, 1] as const) {
      const m = e.mark();
      const rows = 37;
      const ld = cols + 5;
      const dY = filled(rows * ld, rng);
      const out = filled(cols, rng);
      const want = Float32Array.from(out);
      refColSum(dY, rows, cols, want, beta, ld);
      e.colSum(dY, rows, cols, out, beta, ld);
      assert.deepEqual(bits(out), bits(want), `cols ${cols}, beta ${beta}`);
      e.release(m);
    }
  }
});

test('elementwise kernels reject short views and foreign arrays', () => {
  const m = e.mark();
  const a = e.allocF32(8);
  assert.throws(() => e.biasReluForward(a, a, 3, 4, true), /biasReluForward: Y is 3 x 4 with row stride 4 as stored, needing 12 floats, but its view holds 8/);
  assert.throws(() => e.reluBackward(a, new Float32Array(8), 8), /reluBackward: Y must be a Float32Array allocated by this engine/);
  assert.throws(() => e.colSum(a, 2, 4, a.subarray(6), 0), /colSum: out is 1 x 4 .* holds 2/);
  assert.throws(() => e.colSum(a, 2, 4, a, 3 as 0), /colSum: beta must be 0 or 1/);
  e.release(m);
});

test('scaleRows: the listed rows times c, each product in double rounded once; other rows untouched', () => {
  const m = e.mark();
  const rng = new Rng(21);
  for (const E of COLS) {
    const rows = 9;
    const x = filled(rows * E, rng);
    const before = Float32Array.from(x);
    const ids = e.allocI32(4);
    ids.set([7, 0, 3, 8]);
    for (const c of [1 / 5, 1 / 3, -0.7, 1]) {
      const want = Float32Array.from(x);
      for (const id of ids) for (let k = id * E; k < (id + 1) * E; k++) want[k] = Math.fround(want[k]! * c);
      e.scaleRows(x, ids, 4, E, c);
      assert.deepEqual(bits(x), bits(want), `E ${E}, c ${c}`);
    }
    for (const id of [1, 2, 4, 5, 6]) assert.deepEqual(bits(x.subarray(id * E, (id + 1) * E)), bits(before.subarray(id * E, (id + 1) * E)));
  }
  // 1/5 in double, not in float32: f32(x * 0.2) and f32(x * f32(0.2)) differ for this x
  const x = e.allocF32(1);
  x[0] = 1.3781133890151978;
  const zero = e.allocI32(1);
  e.scaleRows(x, zero, 1, 1, 1 / 5);
  assert.equal(x[0], 0.2756226658821106);
  assert.throws(() => e.scaleRows(x, zero, 2, 1, 1), /ids must be an Int32Array/);
  zero[0] = 3;
  assert.throws(() => e.scaleRows(x, zero, 1, 1, 1), /x is 4 x 1/);
  e.release(m);
});
