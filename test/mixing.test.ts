/** The dense net's per-row glue kernels (kernels/assembly/mixing.ts) against hand-computed rows and the float64 reference. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createOps, type RunOps } from '../src/kernels/index.js';
import { JsOps, type Vec } from '../src/model/ops.js';
import { Rng } from '../src/util/rng.js';

let ops: RunOps;
before(async () => {
  ops = await createOps(1, 16);
});
after(() => ops.close());
const ref = new JsOps(Float64Array);

function filled(n: number, rng: Rng): Vec {
  const a = ops.alloc(n);
  for (let i = 0; i < n; i++) a[i] = rng.float() * 4 - 2;
  return a;
}

function close(got: Vec, want: Vec, what: string): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < got.length; i++) {
    assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-5 * (1 + Math.abs(want[i]!)), `${what}[${i}]: ${got[i]} vs ${want[i]}`);
  }
}

test('fieldMean and its backward: hand-computed row', () => {
  const m = ops.mark();
  // one row, F = 2 blocks of E = 3, written into the first 3 of a 4-wide row
  const x = ops.alloc(6);
  x.set([1, 2, 3, 5, 6, 7]);
  const a = ops.alloc(4);
  a[3] = 9;
  ops.fieldMean(x, 6, 2, 3, 1, a, 4);
  assert.deepEqual([...a], [3, 4, 5, 9]);
  const dx = ops.alloc(6);
  dx.set([1, 1, 1, 0, 0, 0]);
  const da = ops.alloc(4);
  da.set([2, 4, 6, 100]);
  ops.fieldMeanBackward(dx, 6, 2, 3, 1, da, 4);
  assert.deepEqual([...dx], [2, 3, 4, 1, 2, 3]);
  ops.release(m);
});

test('mixForward and mixBackward: hand-computed row', () => {
  const m = ops.mark();
  // K = 2 experts of width d = 2, gate (0.25, 0.75)
  const g = ops.alloc(2);
  g.set([0.25, 0.75]);
  const h = ops.alloc(4);
  h.set([4, 8, 0, 4]);
  const fea = ops.alloc(2);
  ops.mixForward(fea, g, h, 1, 2, 2);
  assert.deepEqual([...fea], [1, 5]);
  const dfea = ops.alloc(2);
  dfea.set([1, 2]);
  const dh = ops.alloc(4);
  const dgl = ops.alloc(2);
  ops.mixBackward(dfea, g, h, dh, dgl, 1, 2, 2);
  assert.deepEqual([...dh], [0.25, 0.5, 0.75, 1.5]);
  // q = (20, 8), sum g q = 11: dgl = (0.25 * 9, 0.75 * -3)
  assert.deepEqual([...dgl], [2.25, -2.25]);
  ops.release(m);
});

test('the glue kernels match the float64 reference, every width reaching the vector and scalar loops', () => {
  const rng = new Rng(3);
  for (const E of [1, 3, 4, 7, 64, 66]) {
    for (const [F, K] of [[1, 1], [3, 2], [14, 8]] as const) {
      const m = ops.mark();
      const B = 5;
      const ldx = F * E + 1;
      const lda = E + 2;
      const x = filled(B * ldx, rng);
      const a = filled(B * lda, rng);
      const want = Float64Array.from(a);
      ops.fieldMean(x, ldx, F, E, B, a, lda);
      ref.fieldMean(Float64Array.from(x), ldx, F, E, B, want, lda);
      close(a, want, `fieldMean E ${E} F ${F}`);
      const dx = filled(B * ldx, rng);
      const wantDx = Float64Array.from(dx);
      ops.fieldMeanBackward(dx, ldx, F, E, B, a, lda);
      ref.fieldMeanBackward(wantDx, ldx, F, E, B, Float64Array.from(a), lda);
      close(dx, wantDx, `fieldMeanBackward E ${E} F ${F}`);

      const g = filled(B * K, rng);
      const h = filled(B * K * E, rng);
      const fea = ops.alloc(B * E);
      const wantFea = new Float64Array(B * E);
      ops.mixForward(fea, g, h, B, K, E);
      ref.mixForward(wantFea, Float64Array.from(g), Float64Array.from(h), B, K, E);
      close(fea, wantFea, `mixForward d ${E} K ${K}`);
      const dfea = filled(B * E, rng);
      const dh = ops.alloc(B * K * E);
      const dgl = ops.alloc(B * K);
      const wantDh = new Float64Array(B * K * E);
      const wantDgl = new Float64Array(B * K);
      ops.mixBackward(dfea, g, h, dh, dgl, B, K, E);
      ref.mixBackward(Float64Array.from(dfea), Float64Array.from(g), Float64Array.from(h), wantDh, wantDgl, B, K, E);
      close(dh, wantDh, `mixBackward dh d ${E} K ${K}`);
      close(dgl, wantDgl, `mixBackward dgl d ${E} K ${K}`);
      ops.release(m);
    }
  }
});

test('addScaled: hand-computed, in place, and every length reaching the vector and scalar loops', () => {
  const m = ops.mark();
  const a = ops.alloc(5);
  a.set([1, 2, 3, 4, 5]);
  const b = ops.alloc(5);
  b.set([2, 2, 2, 2, -2]);
  const out = ops.alloc(5);
  ops.addScaled(out, a, 0.5, b, 5);
  assert.deepEqual([...out], [2, 3, 4, 5, 4]);
  ops.addScaled(a, a, -1, b, 4);
  assert.deepEqual([...a], [-1, 0, 1, 2, 5]);
  const rng = new Rng(5);
  for (const n of [1, 3, 4, 9, 1001]) {
    const x = filled(n, rng);
    const y = filled(n, rng);
    const want = new Float64Array(n);
    ref.addScaled(want, Float64Array.from(x), -0.3, Float64Array.from(y), n);
    ops.addScaled(x, x, -0.3, y, n);
    close(x, want, `addScaled n ${n}`);
  }
  ops.release(m);
});
