/**
 * The first-order meta-gradient against its definition, on a tiny float64 model: for each
 * task, θ' = θ - α ∇L_sup(θ) computed independently, then ∇L_qry(θ') by finite differences.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { indexTasks } from '../src/data/part.js';
import { buildLayout } from '../src/model/layout.js';
import { Model } from '../src/model/model.js';
import { JsOps } from '../src/model/ops.js';
import { allocParams, initParams } from '../src/model/params.js';
import { plainView } from '../src/model/row-set.js';
import { FastWeights, GradSum } from '../src/meta/learner.js';
import { TaskSampler } from '../src/meta/sampler.js';
import { Rng } from '../src/util/rng.js';
import { TINY_SCHEMA, randomPart } from './helpers/tiny.js';

test('first-order meta-gradient equals the mean query gradient at each task\'s fast weights', () => {
  const ops = new JsOps(Float64Array);
  const L = buildLayout(TINY_SCHEMA, { embedDim: 3, mlpDims: [4, 3], numExpert: 2, numOutput: 2 });
  const P = allocParams(L, ops);
  initParams(P, 11);
  const part = randomPart(TINY_SCHEMA, 40, 2, [5, 9]);
  const tasks = indexTasks(part.aid);
  const alpha = 0.3;
  const model = new Model(ops, L, 20);
  const base = plainView(P.tables);
  const fast = new FastWeights(ops, L, P.tables);
  const sum = new GradSum(ops, L);
  const split = tasks.map((t) => ({ sup: t.rows.subarray(0, 10), qry: t.rows.subarray(10, 20) }));
  for (const { sup, qry } of split) {
    model.forward(base, P.dense, part, sup, 0, sup.length);
    model.backward();
    fast.adapt(P.dense, model, alpha);
    model.forward(fast.view, fast.dense, part, qry, 0, qry.length);
    model.backward();
    sum.add(model);
  }
  sum.scale(1 / split.length);

  // definition: explicit fast weights as full copies, then central differences of the query loss
  const check = (get: (pp: typeof P) => Float64Array, idx: number, analytic: number, what: string): void => {
    let total = 0;
    for (const { sup, qry } of split) {
      const m2 = new Model(ops, L, 20);
      m2.forward(plainView(P.tables), P.dense, part, sup, 0, sup.length);
      m2.backward();
      const fp = allocParams(L, ops);
      for (let i = 0; i < P.dense.length; i++) fp.dense[i] = P.dense[i]! - alpha * m2.grad[i]!;
      P.tables.forEach((t, e) => fp.tables[e]!.set(t));
      m2.batch.fields.forEach((f, e) => {
        for (let u = 0; u < f.nUniq; u++) for (let k = 0; k < 3; k++) fp.tables[e]![f.uniq[u]! * 3 + k] -= alpha * m2.dLocal[e]![u * 3 + k]!;
      });
      const arr = get(fp);
      const old = arr[idx]!;
      const h = 1e-6;
      const lossAt = (): number => {
        m2.forward(plainView(fp.tables), fp.dense, part, qry, 0, qry.length);
        return m2.loss();
      };
      arr[idx] = old + h;
      const lp = lossAt();
      arr[idx] = old - h;
      const lm = lossAt();
      total += (lp - lm) / (2 * h);
    }
    const numeric = total / split.length;
    assert.ok(Math.abs(numeric - analytic) < 1e-6 * Math.max(1, Math.abs(numeric)), `${what}: analytic ${analytic} vs definition ${numeric}`);
  };
  for (const d of L.dense) check((pp) => pp.dense as Float64Array, d.offset, sum.dense[d.offset]!, d.name);
  // embedding rows touched by the queries
  sum.rows.forEach((rows, e) => {
    for (let s = 0; s < Math.min(rows.n, 2); s++) {
      const id = rows.ids[s]!;
      check((pp) => pp.tables[e] as Float64Array, id * 3 + 1, rows.data[id * 3 + 1]!, `${L.embeddings[e]!.name} row ${id}`);
    }
  });
});

test('task sampler: distinct tasks without replacement, weights ∝ rows, batches without replacement', () => {
  const mk = (aid: number, n: number) => ({ aid, rows: Int32Array.from({ length: n }, (_, i) => aid * 1000 + i) });
  const tasks = [mk(1, 10), mk(2, 30), mk(3, 60)];
  const s = new TaskSampler(tasks, 'normal', false);
  const rng = new Rng(3);
  const counts = [0, 0, 0];
  for (let i = 0; i < 3000; i++) {
    const d = s.drawTasks(rng, 1);
    counts[d[0]!]++;
  }
  assert.ok(Math.abs(counts[2]! / 3000 - 0.6) < 0.04, `counts ${counts}`);
  assert.ok(Math.abs(counts[0]! / 3000 - 0.1) < 0.03, `counts ${counts}`);
  for (let i = 0; i < 50; i++) assert.equal(new Set(s.drawTasks(rng, 3)).size, 3);
  assert.equal(s.drawTasks(rng, 5).length, 3); // capped at the task count
  const unit = new TaskSampler(tasks, 'unit', true);
  const u = [0, 0, 0];
  for (let i = 0; i < 3000; i++) u[unit.drawTasks(rng, 1)[0]!]++;
  assert.ok(Math.abs(u[0]! / 3000 - 1 / 3) < 0.04);
  const rows = s.drawRows(rng, 2, 25);
  assert.equal(new Set(rows).size, 25);
  for (const r of rows) assert.ok(r >= 3000 && r < 3060);
  const all = s.drawRows(rng, 0, 25);
  assert.equal(all.length, 10); // a small task gives all its rows
  assert.deepEqual([...all].sort((a, b) => a - b), [...tasks[0]!.rows]);
});
