import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOps } from '../src/kernels/index.js';
import { buildLayout } from '../src/model/layout.js';
import { Model } from '../src/model/model.js';
import { allocParams, initParams } from '../src/model/params.js';
import { plainView, RowSet } from '../src/model/row-set.js';
import { Scorer, type ScoreModel } from '../src/model/scorer.js';
import { TINY_SCHEMA, randomPart } from './helpers/tiny.js';

const L = buildLayout(TINY_SCHEMA, { embedDim: 8, mlpDims: [16, 8], numExpert: 3, numOutput: 2 });
const part = randomPart(TINY_SCHEMA, 1000, 5, [0, 1, 2]);
// rows out of order, repeated, and a last batch shorter than the others; more batches than a round holds
const rows = Int32Array.from({ length: 917 }, (_, i) => (i * 7919) % part.nRows);

async function score(threads: number): Promise<{ scored: Float32Array; direct: Float32Array }> {
  const ops = await createOps(threads, 256);
  try {
    const params = allocParams(L, ops);
    initParams(params, 4);
    const scored = new Float32Array(rows.length);
    new Scorer(ops, params, 40).score(part, rows, scored);
    // one model, one batch at a time, in this thread
    const model = new Model(ops, L, 40);
    const direct = new Float32Array(rows.length);
    for (let s = 0; s < rows.length; s += 40) {
      const n = Math.min(40, rows.length - s);
      model.forward(plainView(params.tables), params.dense, part, rows, s, n, false);
      direct.set(model.p.subarray(0, n), s);
    }
    return { scored, direct };
  } finally {
    await ops.close();
  }
}

test('the scorer spreads batches over threads and gives exactly the batch-by-batch predictions', async () => {
  const runs = [await score(1), await score(2), await score(3)];
  for (const r of runs) {
    assert.ok(Buffer.from(r.scored.buffer).equals(Buffer.from(runs[0]!.direct.buffer)));
    assert.ok(Buffer.from(r.direct.buffer).equals(Buffer.from(runs[0]!.direct.buffer)));
  }
  assert.ok(runs[0]!.scored.every((p) => p > 0 && p < 1));
});

/** Several models at once: θ, and two "campaigns" with their own dense weights, replaced rows and task codes. */
async function scoreMany(threads: number): Promise<{ scored: Float32Array[]; direct: Float32Array[] }> {
  const ops = await createOps(threads, 256);
  try {
    const params = allocParams(L, ops);
    initParams(params, 4);
    const E = L.dims.embedDim;
    const campaign = (seed: number, codes: number[]) => {
      const dense = ops.alloc(params.dense.length);
      dense.set(params.dense);
      for (let i = 0; i < dense.length; i += 7) dense[i] = dense[i]! * (1 + 0.1 * seed);
      const overlay = L.embeddings.map((e, t) => {
        const r = new RowSet(ops, e.rows, E);
        for (let id = (seed + t) % 3; id < e.rows; id += 3) {
          r.add(id);
          for (let j = 0; j < E; j++) r.data[id * E + j] = Math.sin(seed * 100 + id * E + j);
        }
        return r;
      });
      return { dense, view: { tables: params.tables, overlay, mode: 2 as const }, task: codes };
    };
    const models: ScoreModel[] = [{ view: plainView(params.tables), dense: params.dense }, campaign(1, [2, 5]), campaign(2, [0, 3])];
    const scored = models.map(() => new Float32Array(rows.length));
    new Scorer(ops, params, 40, models).scoreEach(part, rows, scored);
    const model = new Model(ops, L, 40);
    const direct = models.map((m) => {
      const p = m.task ? { ...part, task: Int32Array.from({ length: part.nRows * 2 }, (_, i) => m.task![i % 2]!) } : part;
      const out = new Float32Array(rows.length);
      for (let s = 0; s < rows.length; s += 40) {
        const n = Math.min(40, rows.length - s);
        model.forward(m.view, m.dense, p, rows, s, n, false);
        out.set(model.p.subarray(0, n), s);
      }
      return out;
    });
    return { scored, direct };
  } finally {
    await ops.close();
  }
}

test('several models at once (adapted weights over θ, own task codes): each exactly its batch-by-batch predictions, on any thread count', async () => {
  assert.equal(TINY_SCHEMA.task.length, 2);
  const runs = [await scoreMany(1), await scoreMany(2), await scoreMany(3)];
  const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer).equals(Buffer.from(b.buffer));
  for (const r of runs) for (let k = 0; k < 3; k++) assert.ok(same(r.scored[k]!, runs[0]!.direct[k]!) && same(r.direct[k]!, runs[0]!.direct[k]!), `model ${k}`);
  // the models differ from each other, so a mix-up of weights or task codes would show
  assert.ok(!same(runs[0]!.direct[0]!, runs[0]!.direct[1]!) && !same(runs[0]!.direct[1]!, runs[0]!.direct[2]!));
});
