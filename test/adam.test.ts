/** Adam against hand-computed PyTorch steps, on the float64 reference and on the engine's SIMD kernel. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AdamClock, AdamRows } from '../src/optim/adam.js';
import { IdSet, RowSet } from '../src/model/row-set.js';
import { JsOps, type Ops } from '../src/model/ops.js';
import { createOps } from '../src/kernels/index.js';

/** Hand-computed torch.optim.Adam on one scalar: β 0.9/0.999, ε 1e-8. */
function torchAdam(p: number, grads: number[], lr: number): number[] {
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

/**
 * Rows 1 and 3 get gradients at step 1, row 3 at step 2, row 4 at step 3; rows 0 and 2 never.
 * Returns the table after each step.
 */
function runPlan(ops: Ops): Float64Array[] {
  const E = 2;
  const rows = 5;
  const table = ops.alloc(rows * E);
  table.forEach((_, i) => (table[i] = i * 0.1));
  const clock = new AdamClock({ lr: 0.05 });
  const adam = new AdamRows(ops, rows, E);
  const plan: Record<number, number[]>[] = [{ 1: [0.2, -0.4], 3: [1, 1] }, { 3: [-0.5, 0.25] }, { 4: [0.1, 0.1] }];
  const out: Float64Array[] = [];
  const g = new RowSet(ops, rows, E);
  for (const step of plan) {
    g.clear();
    for (const [id, vals] of Object.entries(step)) {
      g.add(Number(id));
      g.data.set(vals, Number(id) * E);
    }
    clock.tick();
    adam.step(clock, table, g.data, g);
    out.push(Float64Array.from(table));
  }
  return out;
}

test('first Adam step moves every coordinate by lr * sign(g)', () => {
  const ops = new JsOps(Float64Array);
  const c = new AdamClock({ lr: 0.1 });
  const a = new AdamRows(ops, 1, 3);
  const p = Float64Array.from([1, 2, 3]);
  const ids = new IdSet(ops, 1);
  ids.add(0);
  c.tick();
  a.step(c, p, Float64Array.from([0.5, -2, 1e-3]), ids);
  assert.ok(Math.abs(p[0]! - 0.9) < 1e-7);
  assert.ok(Math.abs(p[1]! - 2.1) < 1e-7);
  assert.ok(Math.abs(p[2]! - 2.9) < 1e-5);
});

test('Adam rows follow hand-computed PyTorch steps; a row without gradient this step still moves (dense semantics)', async () => {
  const want = (p0: number, grads: number[]) => torchAdam(p0, grads, 0.05);
  const check = (steps: Float64Array[], tol: number) => {
    // row 1, element 0: gradient 0.2 at step 1 only
    const r1 = want(0.2, [0.2, 0, 0]);
    // row 3, element 1: gradients 1, 0.25, then nothing
    const r3 = want(0.7, [1, 0.25, 0]);
    // row 4 joins at step 3; the shared step count makes its first update use t = 3
    const m = 0.1 * 0.1;
    const v = 0.001 * 0.01;
    const r4 = 0.8 - (0.05 / (1 - 0.9 ** 3)) * m / (Math.sqrt(v) / Math.sqrt(1 - 0.999 ** 3) + 1e-8);
    steps.forEach((t, i) => {
      assert.ok(Math.abs(t[2]! - r1[i]!) < tol, `step ${i + 1} row 1: ${t[2]} vs ${r1[i]}`);
      assert.ok(Math.abs(t[7]! - r3[i]!) < tol, `step ${i + 1} row 3: ${t[7]} vs ${r3[i]}`);
      // untouched rows never move
      assert.equal(t[0], 0);
      assert.ok(Math.abs(t[5]! - 0.5) < 1e-7);
    });
    assert.ok(Math.abs(steps[2]![8]! - r4) < tol);
    // row 1 kept moving at steps 2 and 3 without a gradient
    assert.notEqual(steps[1]![2], steps[0]![2]);
    assert.notEqual(steps[2]![2], steps[1]![2]);
  };
  check(runPlan(new JsOps(Float64Array)), 1e-12);
  const ops = await createOps(1, 64);
  check(runPlan(ops), 2e-6);
  await ops.close();
});

test('AdamRows.reset forgets moments of the rows it had, only', () => {
  const ops = new JsOps(Float64Array);
  const a = new AdamRows(ops, 4, 2);
  const c = new AdamClock({ lr: 0.1 });
  const g = new RowSet(ops, 4, 2);
  g.add(2);
  g.data.set([1, -1], 4);
  const p = new Float64Array(8);
  c.tick();
  a.step(c, p, g.data, g);
  assert.equal(a.active.n, 1);
  assert.notEqual(a.m[4], 0);
  a.reset();
  assert.equal(a.active.n, 0);
  assert.deepEqual([...a.m], new Array(8).fill(0));
  assert.deepEqual([...a.v], new Array(8).fill(0));
});

test('Adam on the engine: a long row list whose chunks 2 or 3 threads claim gives the bits of 1 thread', async () => {
  const rows = 5000;
  const E = 64;
  const run = async (threads: number) => {
    const ops = await createOps(threads, 64);
    const p = ops.alloc(rows * E);
    const g = new RowSet(ops, rows, E);
    const adam = new AdamRows(ops, rows, E);
    const clock = new AdamClock({ lr: 0.01 });
    for (let i = 0; i < p.length; i++) p[i] = Math.sin(i);
    for (let step = 0; step < 3; step++) {
      g.clear();
      // a different half of the rows each step, so rows without a gradient move too
      for (let id = step % 2; id < rows; id += 2) {
        g.add(id);
        for (let k = 0; k < E; k++) g.data[id * E + k] = Math.cos(id + k + step);
      }
      clock.tick();
      adam.step(clock, p, g.data, g);
    }
    const out = Float32Array.from(p);
    await ops.close();
    return out;
  };
  const one = await run(1);
  for (const threads of [2, 3]) {
    const many = await run(threads);
    assert.equal(Buffer.compare(Buffer.from(one.buffer), Buffer.from(many.buffer)), 0, `${threads} threads`);
  }
  // every row had a gradient in step 0 or 1, so every row moved: no chunk was left out
  for (let id = 0; id < rows; id++) assert.notEqual(one[id * E], Math.fround(Math.sin(id * E)), `row ${id}`);
});

/**
 * torch.optim.Adam on float32 parameters, operation by operation: Python computes 1 - β in
 * double, each tensor op rounds to f32 (lerp_, mul_, addcmul_, sqrt, div, add_, addcdiv_).
 */
function torchAdamF32(p0: number, grads: number[], lr: number): { p: number; m: number; v: number } {
  const f = Math.fround;
  let p = f(p0);
  let m = 0;
  let v = 0;
  grads.forEach((g0, i) => {
    const g = f(g0);
    const t = i + 1;
    m = f(m + f(f(1 - 0.9) * f(g - m)));
    v = f(f(v * f(0.999)) + f(f(f(1 - 0.999) * g) * g));
    const stepSize = f(lr / (1 - 0.9 ** t));
    const den = f(f(Math.sqrt(v)) / f(Math.sqrt(1 - 0.999 ** t))) + f(1e-8);
    p = f(p - f(f(stepSize * m) / f(den)));
  });
  return { p, m, v };
}

test('the engine Adam kernel reproduces torch.optim.Adam float32 arithmetic bit for bit (1 - β from the double β)', async () => {
  const ops = await createOps(1, 64);
  const E = 6; // a SIMD part and a scalar tail
  const grads = [[1, -0.5, 3e-3, 2, -7, 0.25], [0.5, 0.5, -1, 0, 1e-4, 3]];
  const p = ops.alloc(E);
  for (let k = 0; k < E; k++) p[k] = 0.3 - 0.1 * k;
  const p0 = Float32Array.from(p);
  const adam = new AdamRows(ops, 1, E);
  const clock = new AdamClock({ lr: 0.01 });
  const g = new RowSet(ops, 1, E);
  g.add(0);
  for (const gs of grads) {
    g.data.set(gs);
    clock.tick();
    adam.step(clock, p, g.data, g);
  }
  for (let k = 0; k < E; k++) {
    const want = torchAdamF32(p0[k]!, grads.map((gs) => gs[k]!), 0.01);
    // with 1 - f32(0.999) v would be 1.3e-5 relative low: exact equality catches it
    assert.equal(adam.v[k], want.v, `v[${k}]`);
    assert.equal(adam.m[k], want.m, `m[${k}]`);
    assert.equal(p[k], want.p, `p[${k}]`);
  }
  await ops.close();
});

test('Adam inside a kernel worker (a one-thread engine attached there) leaves the worker able to take its next job', () => {
  // in a child with a time limit: a worker that never takes its job blocks the thread waiting for it
  const r = spawnSync(process.execPath, [fileURLToPath(new URL('./helpers/adam-job-run.js', import.meta.url))], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.signal, null, 'the worker never finished its second job');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'same bits\n');
});
