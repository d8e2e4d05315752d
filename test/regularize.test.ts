/**
 * Regularisation in the Adam step: each penalty's gradient against finite differences of
 * its value (float64), AdamW and coupled L2 against hand-computed PyTorch steps (float64,
 * and float32 bit for bit on the engine), max-norm, the id counts, the config's options.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../src/config/config.js';
import { allocatePart } from '../src/data/part-ops.js';
import type { Schema } from '../src/data/schema.js';
import { createOps } from '../src/kernels/index.js';
import { idCounts } from '../src/meta/id-counts.js';
import { trainRegularization } from '../src/meta/options.js';
import { adaptOptionsFor as adaptOptions } from '../src/meta/model-setup.js';
import { buildLayout, type Layout } from '../src/model/layout.js';
import { JsOps, type Ops, type Vec } from '../src/model/ops.js';
import { allocParams, initParams, type Params } from '../src/model/params.js';
import { RowSet } from '../src/model/row-set.js';
import { ModelAdam, type ModelGrad } from '../src/optim/adam.js';
import { NO_REGULARIZATION, Regularizer, type RegOptions } from '../src/optim/regularize.js';
import { ConfigError } from '../src/util/errors.js';
import { TINY_SCHEMA } from './helpers/tiny.js';

const reg = (o: Partial<RegOptions>): RegOptions => ({ ...NO_REGULARIZATION, ...o });

function tinyModel(ops: Ops, E: number): { L: Layout; P: Params } {
  const L = buildLayout(TINY_SCHEMA, { embedDim: E, mlpDims: [3], numExpert: 2, numOutput: 1 });
  const P = allocParams(L, ops);
  initParams(P, 5);
  return { L, P };
}

function zeroGrad(ops: Ops, L: Layout): ModelGrad {
  return { dense: ops.alloc(L.denseSize), rows: L.embeddings.map((e) => new RowSet(ops, e.rows, L.dims.embedDim)) };
}

/** Counts 1 .. 4 per id, so every row's frequency coefficient differs from its neighbours'. */
function someCounts(L: Layout): Int32Array[] {
  return L.embeddings.map((e, t) => Int32Array.from({ length: e.rows }, (_, id) => 1 + ((id + t) % 4)));
}

function relErr(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(1e-12, Math.abs(a) + Math.abs(b));
}

/**
 * The penalty the options define, written out: λ/2‖dense‖² (coupled), and per row of the
 * step's gradient (λ_e + λ_f / n_id)/2 ‖w_id‖².
 */
function penalty(o: RegOptions, P: Params, g: ModelGrad, counts: Int32Array[]): number {
  const E = P.layout.dims.embedDim;
  let s = 0;
  if (!o.decoupled) for (const w of P.dense) s += (o.weightDecay / 2) * w * w;
  g.rows.forEach((r, e) => {
    for (let u = 0; u < r.n; u++) {
      const id = r.ids[u]!;
      const lambda = (o.decoupled ? 0 : o.embeddingWeightDecay) + o.frequencyL2 / counts[e]![id]!;
      for (let k = 0; k < E; k++) s += (lambda / 2) * P.tables[e]![id * E + k]! ** 2;
    }
  });
  return s;
}

const penalties: [string, Partial<RegOptions>][] = [
  ['dense L2', { weightDecay: 0.3 }],
  ['embedding L2', { embeddingWeightDecay: 0.2 }],
  ['frequency L2', { frequencyL2: 0.5 }],
  ['all three', { weightDecay: 0.3, embeddingWeightDecay: 0.2, frequencyL2: 0.5 }],
];
for (const [name, partial] of penalties) {
  test(`${name}: the gradient added matches finite differences of the penalty; rows outside the step's gradient get none`, () => {
    const ops = new JsOps(Float64Array);
    const { L, P } = tinyModel(ops, 3);
    const o = reg(partial);
    const counts = someCounts(L);
    const g = zeroGrad(ops, L);
    // rows 1 and 4 of the table s1, rows 0, 2 and 9 of m0; every other row has no gradient
    for (const [e, ids] of [[1, [1, 4]], [2, [0, 2, 9]]] as const) for (const id of ids) g.rows[e]!.add(id);
    // an existing gradient: the terms are added to it
    const before = g.rows.map((r) => Float64Array.from(r.data, (_, i) => Math.sin(i)));
    g.rows.forEach((r, e) => r.data.set(before[e]!));
    g.dense.fill(0.25);
    new Regularizer(ops, o, 0.01, L, counts).addGradient(P.dense, P.tables, g.dense, g.rows);
    const h = 1e-5;
    const fd = (x: Vec, i: number): number => {
      const old = x[i]!;
      x[i] = old + h;
      const lp = penalty(o, P, g, counts);
      x[i] = old - h;
      const lm = penalty(o, P, g, counts);
      x[i] = old;
      return (lp - lm) / (2 * h);
    };
    for (let i = 0; i < L.denseSize; i++) {
      const want = fd(P.dense, i);
      const got = g.dense[i]! - 0.25;
      assert.ok(relErr(got, want) < 1e-8 || Math.abs(got - want) < 1e-10, `dense[${i}]: ${got} vs ${want}`);
    }
    let nonZero = 0;
    P.tables.forEach((t, e) => {
      for (let i = 0; i < t.length; i++) {
        const want = fd(t, i);
        const got = g.rows[e]!.data[i]! - before[e]![i]!;
        assert.ok(relErr(got, want) < 1e-8 || Math.abs(got - want) < 1e-10, `table ${e}[${i}]: ${got} vs ${want}`);
        if (got !== 0) nonZero++;
        // a row outside the gradient: nothing at all
        if (!g.rows[e]!.has(Math.floor(i / 3))) assert.equal(got, 0);
      }
    });
    assert.equal(nonZero > 0, 'embeddingWeightDecay' in partial || 'frequencyL2' in partial);
  });
}

test('decoupled weight decay adds nothing to the gradient (frequency L2 still does)', () => {
  const ops = new JsOps(Float64Array);
  const { L, P } = tinyModel(ops, 3);
  const g = zeroGrad(ops, L);
  g.rows[0]!.add(2);
  new Regularizer(ops, reg({ weightDecay: 0.3, embeddingWeightDecay: 0.2, decoupled: true }), 0.01, L, null).addGradient(P.dense, P.tables, g.dense, g.rows);
  assert.ok(g.dense.every((x) => x === 0));
  assert.ok(g.rows[0]!.data.every((x) => x === 0));
  new Regularizer(ops, reg({ embeddingWeightDecay: 0.2, decoupled: true, frequencyL2: 0.5 }), 0.01, L, someCounts(L)).addGradient(P.dense, P.tables, g.dense, g.rows);
  assert.ok(g.rows[0]!.data.some((x) => x !== 0));
});

/**
 * PyTorch's Adam step on one scalar, weight decay as torch.optim.Adam (coupled: g + λp) or
 * torch.optim.AdamW (decoupled: p(1 - lr·λ) first). `grads[t]` null: the parameter has no
 * moments yet (a row no gradient has reached) and stays put, while the step count runs on;
 * NaN: a row with moments outside the step's gradient, which moves (and decays) without
 * a gradient, and so without the coupled term.
 */
function torchStep(p0: number, grads: (number | null)[], lr: number, wd: number, decoupled: boolean): number[] {
  let p = p0;
  let m = 0;
  let v = 0;
  let active = false;
  return grads.map((g0, i) => {
    const t = i + 1;
    if (g0 !== null) active = true;
    if (!active) return p;
    let g = g0 === null || Number.isNaN(g0) ? 0 : g0;
    if (decoupled) p *= 1 - lr * wd;
    else if (!Number.isNaN(g0)) g += wd * p;
    m = 0.9 * m + 0.1 * g;
    v = 0.999 * v + 0.001 * g * g;
    p -= ((lr / (1 - 0.9 ** t)) * m) / (Math.sqrt(v) / Math.sqrt(1 - 0.999 ** t) + 1e-8);
    return p;
  });
}

/** Three ModelAdam steps; returns dense[0..3) and rows 0..2 of table 0 (E = 2) after each. */
function runSteps(ops: Ops, o: RegOptions, lr: number): { dense: number[][]; rows: number[][] } {
  const { L, P } = tinyModel(ops, 2);
  P.dense.set([0.5, -1.5, 2]);
  P.tables[0]!.set([0.3, -0.2, 1, 2, -0.7, 0.4]);
  const adam = new ModelAdam(ops, L, lr, o);
  const g = zeroGrad(ops, L);
  // row 1 gets gradients at steps 1 and 3, row 2 at step 2 only, row 0 never
  const plan: Record<number, number[]>[] = [{ 1: [0.2, -0.4] }, { 2: [1, 0.5] }, { 1: [-0.1, 0.3] }];
  const denseG = [[0.1, -0.3, 0.02], [0, 0.2, -1], [0.4, 0.4, 0.4]];
  const out = { dense: [] as number[][], rows: [] as number[][] };
  plan.forEach((rows, s) => {
    g.dense.fill(0);
    g.dense.set(denseG[s]!);
    for (const r of g.rows) r.clear();
    for (const [id, vals] of Object.entries(rows)) {
      g.rows[0]!.add(Number(id));
      g.rows[0]!.data.set(vals, Number(id) * 2);
    }
    adam.apply(P.dense, P.tables, g);
    out.dense.push([...P.dense.subarray(0, 3)]);
    out.rows.push([...P.tables[0]!.subarray(0, 6)]);
  });
  return out;
}

for (const decoupled of [true, false]) {
  test(`${decoupled ? 'AdamW (decoupled)' : 'Adam with L2 (coupled)'} follows hand-computed PyTorch steps on dense weights and on rows with moments`, () => {
    const lr = 0.05;
    const wd = 0.4;
    const ewd = 0.7;
    const got = runSteps(new JsOps(Float64Array), reg({ weightDecay: wd, embeddingWeightDecay: ewd, decoupled }), lr);
    const denseG = [[0.1, -0.3, 0.02], [0, 0.2, -1], [0.4, 0.4, 0.4]];
    [0.5, -1.5, 2].forEach((p0, i) => {
      const want = torchStep(p0, denseG.map((g) => g[i]!), lr, wd, decoupled);
      want.forEach((w, s) => assert.ok(Math.abs(got.dense[s]![i]! - w) < 1e-12, `dense[${i}] step ${s + 1}: ${got.dense[s]![i]} vs ${w}`));
    });
    // per step, per coordinate of rows 0..2: its gradient (see torchStep for null and NaN)
    const rowG: (number | null)[][] = [
      [null, null, 0.2, -0.4, null, null],
      [null, null, NaN, NaN, 1, 0.5],
      [null, null, -0.1, 0.3, NaN, NaN],
    ];
    const p0 = [0.3, -0.2, 1, 2, -0.7, 0.4];
    for (let k = 0; k < 6; k++) {
      const want = torchStep(p0[k]!, rowG.map((g) => g[k]!), lr, ewd, decoupled);
      want.forEach((w, s) => assert.ok(Math.abs(got.rows[s]![k]! - w) < 1e-12, `row ${k >> 1}[${k % 2}] step ${s + 1}: ${got.rows[s]![k]} vs ${w}`));
    }
    // row 0 never had a gradient: never moved
    for (const r of got.rows) assert.deepEqual(r.slice(0, 2), p0.slice(0, 2));
    // row 1 moved (and decayed) at step 2 without a gradient
    assert.notEqual(got.rows[1]![2], got.rows[0]![2]);
  });
}

/** torch.optim.AdamW on float32, op by op: mul_ by the f32 scalar 1 - lr·wd, then Adam (see adam.test.ts). */
function torchAdamWF32(p0: number, grads: number[], lr: number, wd: number): number {
  const f = Math.fround;
  let p = f(p0);
  let m = 0;
  let v = 0;
  grads.forEach((g0, i) => {
    const g = f(g0);
    const t = i + 1;
    p = f(p * f(1 - lr * wd));
    m = f(m + f(f(1 - 0.9) * f(g - m)));
    v = f(f(v * f(0.999)) + f(f(f(1 - 0.999) * g) * g));
    const stepSize = f(lr / (1 - 0.9 ** t));
    const den = f(f(Math.sqrt(v)) / f(Math.sqrt(1 - 0.999 ** t))) + f(1e-8);
    p = f(p - f(f(stepSize * m) / f(den)));
  });
  return p;
}

test('AdamW on the engine reproduces torch.optim.AdamW float32 arithmetic bit for bit', async () => {
  const ops = await createOps(1, 64);
  try {
    const lr = 0.01;
    const wd = 0.3;
    const { L, P } = tinyModel(ops, 6);
    const d0 = Float32Array.from(P.dense.subarray(0, 6));
    const r0 = Float32Array.from(P.tables[1]!.subarray(12, 18));
    const adam = new ModelAdam(ops, L, lr, reg({ weightDecay: wd, embeddingWeightDecay: wd, decoupled: true }));
    const g = zeroGrad(ops, L);
    const grads = [[1, -0.5, 3e-3, 2, -7, 0.25], [0.5, 0.5, -1, 0, 1e-4, 3]];
    for (const gs of grads) {
      g.dense.set(gs);
      g.rows[1]!.clear();
      g.rows[1]!.add(2);
      g.rows[1]!.data.set(gs, 12);
      adam.apply(P.dense, P.tables, g);
    }
    for (let k = 0; k < 6; k++) {
      const gk = grads.map((gs) => gs[k]!);
      assert.equal(P.dense[k], torchAdamWF32(d0[k]!, gk, lr, wd), `dense[${k}]`);
      assert.equal(P.tables[1]![12 + k], torchAdamWF32(r0[k]!, gk, lr, wd), `row 2 [${k}]`);
    }
  } finally {
    await ops.close();
  }
});

test('max-norm: after a step every row Adam moved is within the norm, rescaled as torch.nn.Embedding does; other rows are left alone', () => {
  const ops = new JsOps(Float64Array);
  const E = 3;
  const step = (o: RegOptions) => {
    const { L, P } = tinyModel(ops, E);
    const adam = new ModelAdam(ops, L, 0.1, o);
    const g = zeroGrad(ops, L);
    // table m0: rows 0..4 get gradients (their N(0, 1) starts have norms 1.2 to 2.1)
    for (let id = 0; id < 5; id++) {
      g.rows[2]!.add(id);
      g.rows[2]!.data.set([0.1, -0.2, 0.3], id * E);
    }
    adam.apply(P.dense, P.tables, g);
    return P;
  };
  const free = step(NO_REGULARIZATION);
  const clipped = step(reg({ maxNorm: 1.5 }));
  const norm = (t: Vec, id: number) => Math.hypot(t[id * E]!, t[id * E + 1]!, t[id * E + 2]!);
  let scaled = 0;
  for (let id = 0; id < 10; id++) {
    const n = norm(free.tables[2]!, id);
    const c = norm(clipped.tables[2]!, id);
    if (id < 5 && n > 1.5) {
      scaled++;
      assert.ok(c <= 1.5 && c > 1.5 - 1e-6, `row ${id}: ${c}`);
      for (let k = 0; k < E; k++) assert.ok(Math.abs(clipped.tables[2]![id * E + k]! - free.tables[2]![id * E + k]! * (1.5 / (n + 1e-7))) < 1e-15);
    } else {
      // within the norm, or not moved: the same numbers
      for (let k = 0; k < E; k++) assert.equal(clipped.tables[2]![id * E + k], free.tables[2]![id * E + k]);
    }
  }
  assert.ok(scaled > 0 && scaled < 5, `${scaled} rows rescaled`);
  assert.deepEqual(clipped.dense, free.dense);
});

test('id counts: per table, each row counted once per field, multi-valued ids within min(len, width)', () => {
  const schema: Schema = {
    userSingle: [{ name: 's', maxIdx: 2 }],
    userMulti: [
      { name: 'm', maxIdx: 4, width: 2 },
      { name: 'q', maxIdx: 1, width: 1 },
    ],
    task: [{ name: 't', maxIdx: 3 }],
  };
  const part = allocatePart(schema, 3);
  part.single.set([2, 2, 0]);
  // m: len 3 (> width: ids 1 and 4 count), len 1 (id 4; the 3 after it does not), len 0
  // q: len 1 (id 1), 0, 1 (id 0)
  part.multi.set([1, 4, 1, 4, 3, 0, 2, 1, 0]);
  part.multiLen.set([3, 1, 1, 0, 0, 1]);
  part.task.set([3, 3, 3]);
  const c = idCounts(schema, part).map((a) => [...a]);
  assert.deepEqual(c, [[1, 0, 2], [0, 1, 0, 0, 2], [1, 1], [0, 0, 0, 3]]);
});

test('config: the section maps to the options; adaptation gets them only with in_adaptation, without frequency L2; a decoupled lr·λ of 1 or more is refused by key', () => {
  const base = loadConfig(null);
  assert.deepEqual(trainRegularization(base), NO_REGULARIZATION);
  assert.deepEqual(adaptOptions(base), { lr: 0.001, epochs: 2, batchSize: base.hyper_parameters.batch_size, seed: base.runner.seed });
  const on = [
    'hyper_parameters.regularization.weight_decay=0.001',
    'hyper_parameters.regularization.embedding_weight_decay=0.002',
    'hyper_parameters.regularization.frequency_l2=0.1',
    'hyper_parameters.regularization.max_norm=2',
  ];
  const want = { weightDecay: 0.001, embeddingWeightDecay: 0.002, decoupled: false, frequencyL2: 0.1, maxNorm: 2 };
  assert.deepEqual(trainRegularization(loadConfig(null, on)), want);
  assert.equal(adaptOptions(loadConfig(null, on)).regularization, undefined);
  assert.deepEqual(adaptOptions(loadConfig(null, [...on, 'hyper_parameters.regularization.in_adaptation=true'])).regularization, { ...want, frequencyL2: 0 });
  const big = loadConfig(null, ['hyper_parameters.regularization.decoupled=true', 'hyper_parameters.regularization.embedding_weight_decay=1000']);
  assert.throws(() => trainRegularization(big), (e: Error) => e instanceof ConfigError && /hyper_parameters\.regularization\.embedding_weight_decay \(1000\) times hyper_parameters\.optimizer\.global_learning_rate/.test(e.message) && !e.message.includes('\n'));
  // coupled, the same strength is only a (strong) penalty
  assert.equal(trainRegularization(loadConfig(null, ['hyper_parameters.regularization.embedding_weight_decay=1000'])).embeddingWeightDecay, 1000);
  assert.throws(() => loadConfig(null, ['hyper_parameters.regularization.max_norm=-1']), /max_norm/);
});
