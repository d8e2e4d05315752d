/** The engine's embedding-bag kernels against the float64 reference, and the same bits on any thread count. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOps } from '../src/kernels/index.js';
import { JsOps, type Ops, type Vec } from '../src/model/ops.js';
import { Rng } from '../src/util/rng.js';

interface Case {
  B: number;
  N: number;
  w: number;
  rows: number;
  multi: boolean;
  /** Pool over (true) or into (false) what out holds. */
  acc?: boolean;
}

/** Pool then scatter on `ops`; returns out and D. */
function run(ops: Ops, c: Case, seed: number): { out: Float64Array; D: Float64Array } {
  const rng = new Rng(seed);
  const T = ops.alloc(c.rows * c.N);
  for (let i = 0; i < T.length; i++) T[i] = rng.normal();
  const idx = ops.allocI32(c.B * c.w);
  for (let i = 0; i < idx.length; i++) idx[i] = rng.int(c.rows);
  const cnt = c.multi ? ops.allocI32(c.B) : null;
  const scale: Vec | null = c.multi ? ops.alloc(c.B) : null;
  if (cnt && scale) {
    for (let b = 0; b < c.B; b++) {
      const len = rng.int(c.w + 3);
      cnt[b] = Math.min(len, c.w);
      scale[b] = Math.fround(1 / Math.max(len, 1));
    }
  }
  const ldo = c.N + 4;
  const out = ops.alloc(c.B * ldo);
  for (let i = 0; i < out.length; i++) out[i] = 0.5;
  ops.poolRows(out, ldo, T, c.N, idx, c.w, cnt, scale, c.B, c.acc ?? true);
  const src = ops.alloc(c.B * ldo);
  for (let i = 0; i < src.length; i++) src[i] = rng.normal();
  const D = ops.alloc(c.rows * c.N);
  ops.scatterRows(D, c.N, idx, c.w, cnt, scale, c.B, src, ldo, -0.25);
  return { out: Float64Array.from(out), D: Float64Array.from(D) };
}

const cases: Case[] = [
  { B: 7, N: 3, w: 1, rows: 5, multi: false },
  { B: 33, N: 13, w: 4, rows: 9, multi: true },
  // the shapes of the projected first layer (N = 8 experts x 64) and of interest1
  { B: 1024, N: 512, w: 1, rows: 6, multi: false },
  { B: 1024, N: 520, w: 10, rows: 125, multi: true },
  // the embedding lookup's (N = embed_dim, written over)
  { B: 64, N: 64, w: 5, rows: 40, multi: true, acc: false },
  { B: 16, N: 36, w: 1, rows: 7, multi: false, acc: false },
];

test('poolRows / scatterRows on the engine match the reference, and 2 threads give the bits of 1', async () => {
  const ref = new JsOps(Float64Array);
  const one = await createOps(1, 128);
  const two = await createOps(2, 128);
  try {
    cases.forEach((c, i) => {
      const want = run(ref, c, i);
      const got1 = run(one, c, i);
      const got2 = run(two, c, i);
      const tol = 1e-4 * Math.max(1, c.w);
      want.out.forEach((v, k) => assert.ok(Math.abs(v - got1.out[k]!) < tol, `case ${i} out[${k}]: ${got1.out[k]} vs ${v}`));
      want.D.forEach((v, k) => assert.ok(Math.abs(v - got1.D[k]!) < tol * 40, `case ${i} D[${k}]: ${got1.D[k]} vs ${v}`));
      assert.deepEqual(got2.out, got1.out, `case ${i}: pool, 2 threads vs 1`);
      assert.deepEqual(got2.D, got1.D, `case ${i}: scatter, 2 threads vs 1`);
    });
  } finally {
    await one.close();
    await two.close();
  }
});
