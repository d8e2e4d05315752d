import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdamClock, DenseAdam, SparseAdamTable, adamUpdate } from '../src/optim/adam.js';
import { SparseRows } from '../src/model/sparse-rows.js';

/** Hand-computed PyTorch Adam: lr 0.1, β 0.9/0.999, ε 1e-8. */
function torchAdam(p: number, grads: number[], lr = 0.1): number[] {
  let m = 0;
  let v = 0;
  const out: number[] = [];
  grads.forEach((g, i) => {
    const t = i + 1;
    m = 0.9 * m + 0.1 * g;
    v = 0.999 * v + 0.001 * g * g;
    const mh = m / (1 - 0.9 ** t);
    const denom = Math.sqrt(v) / Math.sqrt(1 - 0.999 ** t) + 1e-8;
    p -= (lr * mh) / denom;
    out.push(p);
  });
  return out;
}

test('first Adam step moves every coordinate by lr * sign(g)', () => {
  const c = new AdamClock({ lr: 0.1 });
  const p = new Float64Array([1, 2, 3]);
  const m = new Float64Array(3);
  const v = new Float64Array(3);
  c.tick();
  adamUpdate(c, p, 0, m, v, 0, new Float64Array([0.5, -2, 1e-3]), 0, 3);
  assert.ok(Math.abs(p[0]! - 0.9) < 1e-7);
  assert.ok(Math.abs(p[1]! - 2.1) < 1e-7);
  assert.ok(Math.abs(p[2]! - 2.9) < 1e-5);
});

test('dense Adam matches hand-computed steps, including zero-gradient steps', () => {
  const grads = [0.3, -0.1, 0, 0, 0.7];
  const want = torchAdam(1, grads);
  const a = new DenseAdam(1, { lr: 0.1 }, Float64Array);
  const p = new Float64Array([1]);
  grads.forEach((g, i) => {
    a.clock.tick();
    a.apply(p, new Float64Array([g]));
    assert.ok(Math.abs(p[0]! - want[i]!) < 1e-12, `step ${i + 1}: ${p[0]} vs ${want[i]}`);
  });
  // the zero-gradient steps did move the parameter (dense semantics)
  assert.notEqual(want[2], want[1]);
});

test('sparse Adam: a row untouched this step but with moments moves exactly as dense Adam moves it', () => {
  const E = 2;
  const rows = 5;
  const table = new Float64Array(rows * E).map((_, i) => i * 0.1);
  const dense = Float64Array.from(table);
  const clock = new AdamClock({ lr: 0.05 });
  const sparse = new SparseAdamTable(rows, E, Float64Array);
  const denseAdam = new DenseAdam(rows * E, { lr: 0.05 }, Float64Array);
  // step 1 touches rows 1 and 3; step 2 touches row 3 only; step 3 touches row 4 only
  const plan: Record<number, number[]>[] = [{ 1: [0.2, -0.4], 3: [1, 1] }, { 3: [-0.5, 0.25] }, { 4: [0.1, 0.1] }];
  for (const step of plan) {
    const g = new SparseRows(rows, E, Float64Array);
    const gDense = new Float64Array(rows * E);
    for (const [id, vals] of Object.entries(step)) {
      const s = g.ensure(Number(id));
      g.data.set(vals, s * E);
      gDense.set(vals, Number(id) * E);
    }
    clock.tick();
    sparse.step(clock, g, table, (id) => id * E);
    denseAdam.clock.tick();
    denseAdam.apply(dense, gDense);
  }
  for (let i = 0; i < table.length; i++) assert.ok(Math.abs(table[i]! - dense[i]!) < 1e-15, `element ${i}: ${table[i]} vs ${dense[i]}`);
  // row 1 (touched only in step 1) moved in steps 2 and 3 too; rows 0 and 2 never moved
  assert.equal(table[0], 0);
  assert.equal(table[4], 0.4);
  assert.notEqual(table[2], 0.2 - 0.05 * 1); // more than the first step's move
  assert.equal(sparse.n, 3);
});
