/**
 * Dropout in the experts and the critics (model/dropout.ts): the masks (rate, scale,
 * reproducible per key, different between keys and layers), the model's gradient with dropout
 * on against finite differences in float64 (masks fixed by the key), rates of 0 and scoring
 * passes bit-identical to no dropout, and the trainers' and the adapter's passes drawing
 * their masks from what identifies them, on any number of threads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { indexTasks } from '../src/data/part.js';
import { createOps } from '../src/kernels/index.js';
import { Adapter } from '../src/meta/adapt.js';
import { adaptAll } from '../src/meta/adapt-runner.js';
import { adaptOptionsFor, dropoutRates } from '../src/meta/model-setup.js';
import { JointTrainer, MetaTrainer, type MetaOptions } from '../src/meta/train.js';
import { Dropout, dropoutKey, type DropoutRates } from '../src/model/dropout.js';
import { buildLayout, type Layout } from '../src/model/layout.js';
import { Model } from '../src/model/model.js';
import { JsOps, type Ops } from '../src/model/ops.js';
import { allocParams, initParams, type Params } from '../src/model/params.js';
import { plainView } from '../src/model/row-set.js';
import { runInfer } from '../src/pipeline/run-infer.js';
import { runTrain } from '../src/pipeline/run-train.js';
import { TINY_SCHEMA, randomPart, range } from './helpers/tiny.js';
import { tinyDataset, tinyOverrides } from './helpers/tiny-dataset.js';

const RATES: DropoutRates = { experts: 0.3, critics: 0.25 };

function relErr(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(1e-6, Math.abs(a) + Math.abs(b));
}

function setup(ops: Ops, mlpDims: number[], E: number): { L: Layout; P: Params } {
  const L = buildLayout(TINY_SCHEMA, { embedDim: E, mlpDims, numExpert: 3, numOutput: 2 });
  const P = allocParams(L, ops);
  initParams(P, 7);
  // scale up so that activations are in a non-trivial range
  for (let i = 0; i < P.dense.length; i++) P.dense[i] = P.dense[i]! * 2;
  return { L, P };
}

function bitsEqual(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  return a.length === b.length && Array.from(a).every((v, i) => Object.is(v, b[i]));
}

test('masks: the rate dropped, kept units scaled so the mean is unchanged, the same per key, different between keys and layers', () => {
  const n = 200_001;
  for (const rate of [0.1, 0.3, 0.9]) {
    const d = new Dropout(new JsOps(Float64Array), { experts: rate, critics: rate }, n);
    const draw = (key: number, layer: number | 'critics'): Float64Array => {
      const x = new Float64Array(n).fill(1);
      d.key = key;
      if (layer === 'critics') d.dropCritics(x, n);
      else d.dropExperts(x, layer, n);
      return x;
    };
    const a = draw(5, 0);
    const kept = a.filter((v) => v !== 0);
    const scale = kept[0]!;
    assert.ok(kept.every((v) => v === scale), 'every kept unit has the one scale');
    assert.ok(Math.abs(scale * (1 - rate) - 1) < 1e-4, `rate ${rate}: scale ${scale}`);
    assert.ok(Math.abs(1 - kept.length / n - rate) < 0.005, `rate ${rate}: dropped ${1 - kept.length / n}`);
    const mean = a.reduce((s, v) => s + v, 0) / n;
    assert.ok(Math.abs(mean - 1) < 0.015, `rate ${rate}: mean ${mean}`);
    assert.ok(bitsEqual(draw(5, 0), a), 'reproducible');
    const agree = (x: Float64Array, y: Float64Array): number => x.reduce((s, v, i) => s + (v !== 0 === (y[i] !== 0) ? 1 : 0), 0) / n;
    // independent masks agree on a share (1-p)^2 + p^2 of the units
    const indep = (1 - rate) ** 2 + rate ** 2;
    for (const other of [draw(6, 0), draw(5, 1), draw(5, 'critics'), draw(dropoutKey(5, 0), 0)]) {
      assert.ok(Math.abs(agree(a, other) - indep) < 0.01, `rate ${rate}: masks agree on ${agree(a, other)}, independent ${indep}`);
    }
    // the critics' mask is kept: maskCritics applies the last dropCritics
    const c = draw(9, 'critics');
    const g = new Float64Array(n).fill(1);
    d.maskCritics(g, n);
    assert.ok(bitsEqual(g, c));
  }
  assert.throws(() => new Dropout(new JsOps(), { experts: 1, critics: 0 }, 4), /the experts' rate is 1; it must be in \[0, 1\)/);
  assert.notEqual(dropoutKey(1, 2, 3, 0), dropoutKey(1, 2, 3, 1));
  assert.notEqual(dropoutKey(1, 2, 3), dropoutKey(1, 3, 2));
});

const cases: [number[], number, boolean][] = [
  [[6, 4], 3, false],
  [[5, 4, 3], 8, true],
];
for (const [mlpDims, E, uniform] of cases) {
  test(`model gradient with dropout matches finite differences, masks fixed (mlp_dims ${JSON.stringify(mlpDims)}${uniform ? ', one task vector' : ''})`, () => {
    const ops = new JsOps(Float64Array);
    const { L, P } = setup(ops, mlpDims, E);
    const n = 16;
    const part = randomPart(TINY_SCHEMA, n, 3);
    const nt = TINY_SCHEMA.task.length;
    if (uniform) for (let r = 1; r < n; r++) part.task.copyWithin(r * nt, 0, nt);
    const rows = range(n);
    const model = new Model(ops, L, n, 'auto', RATES);
    const plain = new Model(ops, L, n);
    model.dropoutKey = dropoutKey(4, 2);
    const src = plainView(P.tables);
    const lossAt = (): number => {
      model.forward(src, P.dense, part, rows, 0, n);
      return model.loss();
    };
    const loss = lossAt();
    plain.forward(src, P.dense, part, rows, 0, n);
    assert.notEqual(loss, plain.loss(), 'dropout changes the loss');
    // some units of every expert layer, and of the critics' input, are dropped
    mlpDims.forEach((d, j) => {
      const hj = model.net.h[j]!.subarray(0, n * 3 * d);
      const on = plain.net.h[j]!.subarray(0, n * 3 * d);
      assert.ok(hj.some((v, i) => v === 0 && on[i] !== 0), `layer ${j}`);
    });
    model.backward();
    const G = Float64Array.from(model.grad);
    const dLocal = model.dLocal.map((d) => Float64Array.from(d));
    const fields = model.batch.fields.map((f) => Int32Array.from(f.uniq.subarray(0, f.nUniq)));
    const h = 1e-6;
    let checked = 0;
    const fd = (arr: Float64Array | Float32Array, idx: number): number => {
      const old = arr[idx]!;
      arr[idx] = old + h;
      const lp = lossAt();
      arr[idx] = old - h;
      const lm = lossAt();
      arr[idx] = old;
      return (lp - lm) / (2 * h);
    };
    const check = (name: string, an: number, num: number): void => {
      assert.ok(relErr(num, an) < 1e-5 || Math.abs(num - an) < 1e-9, `${name}: analytic ${an} vs numeric ${num}`);
      checked++;
    };
    for (const entry of L.dense) for (let i = 0; i < entry.size; i++) check(`${entry.name}[${i}]`, G[entry.offset + i]!, fd(P.dense, entry.offset + i));
    fields.forEach((uniq, e) => {
      uniq.forEach((id, u) => {
        for (let k = 0; k < E; k++) check(`${L.embeddings[e]!.name} row ${id} [${k}]`, dLocal[e]![u * E + k]!, fd(P.tables[e]!, id * E + k));
      });
    });
    assert.ok(checked > 200);
  });
}

test('rates of 0 and scoring passes are bit-identical to no dropout; training passes drop', async () => {
  for (const ops of [new JsOps(Float64Array), await createOps(1, 64)]) {
    const L = buildLayout(TINY_SCHEMA, { embedDim: 8, mlpDims: [12, 6], numExpert: 3, numOutput: 2 });
    const P = allocParams(L, ops);
    initParams(P, 2);
    const part = randomPart(TINY_SCHEMA, 30, 6);
    const run = (m: Model, needGrad: boolean): { p: Float64Array; grad: Float64Array | null } => {
      m.dropoutKey = 77;
      m.forward(plainView(P.tables), P.dense, part, range(30), 0, 30, needGrad);
      const p = Float64Array.from(m.p.subarray(0, 30));
      if (!needGrad) return { p, grad: null };
      m.backward();
      return { p, grad: Float64Array.from(m.grad) };
    };
    const plain = new Model(ops, L, 30);
    const none = run(plain, true);
    const zero = run(new Model(ops, L, 30, 'auto', { experts: 0, critics: 0 }), true);
    assert.ok(bitsEqual(zero.p, none.p) && bitsEqual(zero.grad!, none.grad!));
    const dropping = new Model(ops, L, 30, 'auto', RATES);
    assert.ok(bitsEqual(run(dropping, false).p, run(plain, false).p), 'scoring ignores dropout');
    assert.ok(!bitsEqual(run(dropping, true).p, none.p), 'training drops');
    if ('close' in ops) await (ops as { close(): Promise<void> }).close();
  }
});

const TRAIN: MetaOptions = { batchSize: 64, taskCount: 5, localLr: 0.05, globalLr: 0.01, sampling: 'normal', withReplacement: false, seed: 9 };

/** Three steps of a trainer on `threads` engine threads; the losses and θ. */
async function train(threads: number, opts: Partial<MetaOptions>, meta = true): Promise<{ losses: number[]; dense: Float32Array; tables: Float32Array[] }> {
  const ops = await createOps(threads, 256);
  try {
    const L = buildLayout(TINY_SCHEMA, { embedDim: 8, mlpDims: [16, 8], numExpert: 3, numOutput: 2 });
    const params = allocParams(L, ops);
    initParams(params, 3);
    const part = randomPart(TINY_SCHEMA, 600, 11, [0, 1, 2, 3, 4, 5, 6]);
    const o = { ...TRAIN, ...opts };
    const tr = meta ? new MetaTrainer(ops, params, o, part, indexTasks(part.aid)) : new JointTrainer(ops, params, o, part, range(600));
    const losses = [0, 1, 2].map(() => tr.step().loss);
    return { losses, dense: Float32Array.from(params.dense), tables: params.tables.map((t) => Float32Array.from(t)) };
  } finally {
    await ops.close();
  }
}

function sameRun(a: Awaited<ReturnType<typeof train>>, b: Awaited<ReturnType<typeof train>>): boolean {
  return bitsEqual(a.losses, b.losses) && bitsEqual(a.dense, b.dense) && a.tables.every((t, e) => bitsEqual(t, b.tables[e]!));
}

test('meta-training with dropout: the same bits on 1 and 2 threads (first and second order), and dropout 0 is no dropout', async () => {
  for (const order of ['first', 'second'] as const) {
    const one = await train(1, { order, dropout: RATES });
    assert.ok(sameRun(await train(2, { order, dropout: RATES }), one), `${order} order, 2 threads`);
    assert.ok(one.losses.every((l) => Number.isFinite(l) && l > 0));
    const plain = await train(2, { order });
    assert.ok(!sameRun(plain, one), 'dropout changes training');
    assert.ok(sameRun(await train(2, { order, dropout: { experts: 0, critics: 0 } }), plain), 'rates of 0');
  }
  // masks differ between steps: a step repeating the first step's masks would give another θ
  const joint = await train(1, { dropout: RATES }, false);
  assert.ok(sameRun(await train(2, { dropout: RATES }, false), joint), 'the baseline on 2 threads');
  assert.ok(!sameRun(await train(1, {}, false), joint), 'the baseline drops');
});

/** The dropout keys of the training forwards that `fn` runs on this thread, in order. */
async function trainingKeys(fn: () => Promise<unknown>): Promise<number[]> {
  const keys: number[] = [];
  const forward = Model.prototype.forward;
  Model.prototype.forward = function (this: Model, ...args: Parameters<Model['forward']>) {
    if (args[6] !== false) keys.push(this.dropoutKey);
    return forward.apply(this, args);
  };
  try {
    await fn();
  } finally {
    Model.prototype.forward = forward;
  }
  return keys;
}

test('every training pass has its own masks: support and query, tasks, steps, campaigns; the same again', async () => {
  const distinct = (keys: number[], n: number): void => assert.equal(new Set(keys).size, n, `${n} passes, keys ${keys.join(' ')}`);
  for (const order of ['first', 'second'] as const) {
    const keys = await trainingKeys(() => train(1, { order, dropout: RATES }));
    distinct(keys, 3 * 5 * 2);
    assert.deepEqual(await trainingKeys(() => train(1, { order, dropout: RATES })), keys);
  }
  distinct(await trainingKeys(() => train(1, { dropout: RATES }, false)), 3 * 10);
  const ops = new JsOps(Float32Array);
  const L = buildLayout(TINY_SCHEMA, { embedDim: 4, mlpDims: [6], numExpert: 2, numOutput: 2 });
  const params = allocParams(L, ops);
  initParams(params, 4);
  const part = randomPart(TINY_SCHEMA, 40, 12, [1]);
  const adapter = new Adapter(ops, params, { lr: 0.01, epochs: 2, batchSize: 16, seed: 3, dropout: RATES });
  const adapt = (key: number) => trainingKeys(async () => adapter.adapt(part, range(40), key));
  const five = await adapt(5);
  distinct([...five, ...(await adapt(6))], 2 * 2 * 3);
  assert.deepEqual(await adapt(5), five);
});

test('adaptation with dropout: keyed by campaign and step, the same on 1 and 2 threads, scoring without it', async () => {
  const results: Float32Array[][] = [];
  for (const threads of [1, 2]) {
    const ops = await createOps(threads, 256);
    const L = buildLayout(TINY_SCHEMA, { embedDim: 8, mlpDims: [16, 8], numExpert: 3, numOutput: 2 });
    const params = allocParams(L, ops);
    initParams(params, 4);
    const train = randomPart(TINY_SCHEMA, 90, 12, [1]);
    const tasks = [5, 6, 7].map((key) => ({ train, rows: range(90), key }));
    const opts = { lr: 0.01, epochs: 2, batchSize: 32, seed: 3 };
    const withDrop = adaptAll(new Adapter(ops, params, { ...opts, dropout: RATES }), tasks).map((r) => Float32Array.from(r.model.dense));
    const without = adaptAll(new Adapter(ops, params, opts), tasks).map((r) => Float32Array.from(r.model.dense));
    withDrop.forEach((d, i) => assert.ok(!bitsEqual(d, without[i]!), `task ${i}: dropout changes the adapted weights`));
    // the same rows under another campaign key: other shuffles and masks
    assert.ok(!bitsEqual(withDrop[0]!, withDrop[1]!));
    results.push(withDrop);
    // the adapted model scores as the unadapted model's network does: without dropout
    const adapter = new Adapter(ops, params, { ...opts, dropout: RATES });
    const pred = new Float64Array(40);
    adapter.adaptAndPredict(train, range(90), train, range(40), 5, pred);
    const m = new Model(ops, L, 32);
    const again = new Float64Array(40);
    const w = adapter.snapshot();
    for (let s = 0; s < 40; s += 32) {
      m.forward(w.view, w.dense, train, range(40), s, Math.min(32, 40 - s), false);
      again.set(m.p.subarray(0, Math.min(32, 40 - s)), s);
    }
    assert.ok(bitsEqual(pred, again));
    await ops.close();
  }
  results[0]!.forEach((d, i) => assert.ok(bitsEqual(d, results[1]![i]!), `task ${i} on 1 and 2 threads`));
});

test('config: dropout and critic_dropout train with dropout; adaptation only with in_adaptation', async () => {
  const base = loadConfig(null, []);
  assert.equal(dropoutRates(base, false), undefined);
  assert.equal(adaptOptionsFor(base).dropout, undefined);
  const on = loadConfig(null, ['hyper_parameters.regularization.dropout=0.2', 'hyper_parameters.regularization.critic_dropout=0.1']);
  assert.deepEqual(dropoutRates(on, false), { experts: 0.2, critics: 0.1 });
  assert.equal(adaptOptionsFor(on).dropout, undefined);
  const adapting = loadConfig(null, ['hyper_parameters.regularization.critic_dropout=0.1', 'hyper_parameters.regularization.in_adaptation=true']);
  assert.deepEqual(adaptOptionsFor(adapting).dropout, { experts: 0, critics: 0.1 });
  assert.throws(() => loadConfig(null, ['hyper_parameters.regularization.dropout=0.95']), /hyper_parameters\.regularization\.dropout/);

  // end to end: train and infer read them
  const data = await tinyDataset();
  const trainRun = async (extra: string[]): Promise<{ out: string; ck: Buffer }> => {
    const out = mkdtempSync(join(tmpdir(), 'mh-drop-'));
    const ops = await createOps(1);
    const res = await runTrain(loadConfig(null, [...tinyOverrides(data, out), 'runner.epochs=1', ...extra]), ops);
    await ops.close();
    return { out, ck: readFileSync(res.checkpoints[0]!) };
  };
  const plain = await trainRun([]);
  const dropped = await trainRun(['hyper_parameters.regularization.dropout=0.3']);
  assert.ok(!dropped.ck.equals(plain.ck));
  assert.ok((await trainRun(['hyper_parameters.regularization.dropout=0.3'])).ck.equals(dropped.ck), 'deterministic');
  assert.ok(!(await trainRun(['hyper_parameters.regularization.dropout=0.3', 'hyper_parameters.meta=false'])).ck.equals(dropped.ck));
  const infer = async (extra: string[], threads: number): Promise<number[]> => {
    const cfg = loadConfig(null, [...tinyOverrides(data, dropped.out), 'runner.infer_end_epoch=1', `runner.threads=${threads}`, ...extra]);
    const ops = await createOps(1);
    const res = await runInfer(cfg, ops);
    await ops.close();
    return res[0]!.splits.map((s) => s.logloss);
  };
  const adaptDrop = ['hyper_parameters.regularization.dropout=0.3', 'hyper_parameters.regularization.in_adaptation=true'];
  const a = await infer(adaptDrop, 1);
  assert.notDeepEqual(a, await infer(['hyper_parameters.regularization.dropout=0.3'], 1));
  assert.deepEqual(await infer(adaptDrop, 2), a, 'worker threads');
});
