/** Adaptation chosen on a campaign's own seeds: stratified folds, the grid's out-of-fold AUCs, the same choice on 1 and 2 threads, a fall-back for few seeds. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOps } from '../src/kernels/index.js';
import { buildLayout } from '../src/model/layout.js';
import { JsOps } from '../src/model/ops.js';
import { allocParams, initParams } from '../src/model/params.js';
import { Adapter, type AdaptOptions } from '../src/meta/adapt.js';
import { adaptAll } from '../src/meta/adapt-runner.js';
import { assignFolds } from '../src/meta/adapt-select.js';
import { auc } from '../src/eval/metrics.js';
import { TINY_SCHEMA, randomPart, range } from './helpers/tiny.js';

const DIMS = { embedDim: 4, mlpDims: [6], numExpert: 2, numOutput: 2 };
const select = { folds: 3, epochs: [0, 1, 3], learningRates: [0.001, 0.01], freezeEmbeddings: [false, true], minPositives: 6 };
const opts: AdaptOptions = { lr: 0.001, epochs: 2, batchSize: 16, seed: 3, select };

test('folds: a stratified partition, seeded', () => {
  const labels = Uint8Array.from({ length: 40 }, (_, i) => (i % 5 === 0 ? 1 : 0));
  const rows = range(40);
  const f = assignFolds(labels, rows, 3, 9);
  assert.deepEqual(f, assignFolds(labels, rows, 3, 9));
  assert.deepEqual([...f.flatMap((x) => Array.from(x))].sort((a, b) => a - b), Array.from(rows));
  const pos = f.map((x) => Array.from(x).filter((r) => labels[r]).length);
  assert.ok(Math.max(...pos) - Math.min(...pos) <= 1, `positives spread evenly: ${pos}`);
  for (const x of f) assert.ok(x.every((r, i) => i === 0 || r > x[i - 1]!), 'each fold in row order');
});

test('cross-validated adaptation: every grid point scored out of fold, the best one used, fall-back for few seeds', () => {
  const ops = new JsOps(Float64Array);
  const L = buildLayout(TINY_SCHEMA, DIMS);
  const params = allocParams(L, ops);
  initParams(params, 1);
  const part = randomPart(TINY_SCHEMA, 90, 4);
  const adapter = new Adapter(ops, params, opts);
  const r = adapter.adapt(part, range(90), 7);
  const c = r.choice!;
  assert.equal(c.fallback, null);
  assert.equal(c.grid.length, 3 * 2 * 2);
  const best = Math.max(...c.grid.map((g) => g.auc));
  const picked = c.grid.find((g) => g.epochs === c.setting.epochs && g.lr === c.setting.lr && g.freeze === c.setting.freeze)!;
  assert.equal(picked.auc, best);
  // epochs 0 is the general model itself: its out-of-fold AUC is θ's AUC on the same rows
  const theta = new Float64Array(90);
  adapter.run(part, range(90), 1, { epochs: 0, lr: 0.001, freeze: false });
  adapter.scoreAdapted(part, range(90), theta);
  const zero = c.grid.filter((g) => g.epochs === 0);
  for (const z of zero) assert.ok(Math.abs(z.auc - auc(theta, part.label)) < 1e-12);
  // the final adaptation runs the chosen setting on all the rows
  const again = new Adapter(ops, params, { ...opts, select: undefined });
  const steps = again.run(part, range(90), 7, c.setting).steps;
  assert.equal(r.steps, steps);
  // few positives: the fixed setting, and why
  const few = randomPart(TINY_SCHEMA, 40, 5);
  few.label.fill(0);
  few.label[3] = 1;
  few.label[9] = 1;
  const f = adapter.adapt(few, range(40), 8).choice!;
  assert.match(f.fallback!, /2 positive\(s\).*fewer than 6/);
  assert.deepEqual(f.setting, { epochs: 2, lr: 0.001, freeze: false });
});

test('cross-validated adaptation chooses the same grid point, and the same weights, on 1 and 2 threads', async () => {
  const run = async (threads: number) => {
    const ops = await createOps(threads);
    const L = buildLayout(TINY_SCHEMA, DIMS);
    const params = allocParams(L, ops);
    initParams(params, 1);
    const tasks = [0, 1, 2].map((k) => ({ train: randomPart(TINY_SCHEMA, 60 + 10 * k, 10 + k), rows: range(60 + 10 * k), key: k }));
    const res = adaptAll(new Adapter(ops, params, opts), tasks);
    const out = res.map((r) => ({ choice: r.choice, steps: r.steps, dense: Array.from(r.model.dense) }));
    await ops.close();
    return out;
  };
  const one = await run(1);
  const two = await run(2);
  assert.ok(one.every((r) => r.choice && r.choice.fallback === null));
  assert.deepEqual(two, one);
});
