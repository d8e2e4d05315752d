/** A scoring model's whole-table projection cache (first-layer.ts) changes speed, never predictions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOps } from '../src/kernels/index.js';
import { buildLayout } from '../src/model/layout.js';
import { Model } from '../src/model/model.js';
import { allocParams, initParams } from '../src/model/params.js';
import { plainView, RowSet, type TableView } from '../src/model/row-set.js';
import { TINY_SCHEMA, randomPart, range } from './helpers/tiny.js';

function bits(a: Float32Array | Float64Array, n: number): number[] {
  return [...new Uint32Array(Float32Array.from(a.subarray(0, n)).buffer)];
}

test('cached projections give the same predictions bit for bit, through plain, delta and replaced-row views', async () => {
  const ops = await createOps(1, 64);
  try {
    const L = buildLayout(TINY_SCHEMA, { embedDim: 8, mlpDims: [12, 4], numExpert: 3, numOutput: 2 });
    const P = allocParams(L, ops);
    initParams(P, 11);
    const n = 40;
    const part = randomPart(TINY_SCHEMA, n, 4);
    // views: θ, θ + Δ on a few rows (fast weights), and replaced rows (an adapted copy)
    const overlay = (mode: 1 | 2): TableView => {
      const rows = L.embeddings.map((e) => new RowSet(ops, e.rows, L.dims.embedDim));
      rows.forEach((r, e) => {
        for (const id of [0, 1, 2].filter((i) => i < L.embeddings[e]!.rows)) {
          r.add(id);
          for (let k = 0; k < L.dims.embedDim; k++) r.data[id * L.dims.embedDim + k] = 0.1 * (k + 1) - 0.05 * id;
        }
      });
      return { tables: P.tables, overlay: rows, mode };
    };
    const plain = new Model(ops, L, n, 'always');
    const scoring = new Model(ops, L, n, 'always', true);
    let hits = 0;
    for (const view of [plainView(P.tables), overlay(1), overlay(2)]) {
      plain.forward(view, P.dense, part, range(n), 0, n, false);
      const want = bits(plain.p, n);
      scoring.cacheProjections(view, P.dense);
      scoring.forward(view, P.dense, part, range(n), 0, n, false);
      assert.deepEqual(bits(scoring.p, n), want, `mode ${view.mode}`);
      hits++;
    }
    assert.equal(hits, 3);
    // weights changed in place after caching: cached again, the predictions follow
    const view = plainView(P.tables);
    scoring.cacheProjections(view, P.dense);
    for (const t of P.tables) for (let i = 0; i < t.length; i++) t[i] = t[i]! * 0.5;
    scoring.cacheProjections(view, P.dense);
    plain.forward(view, P.dense, part, range(n), 0, n, false);
    scoring.forward(view, P.dense, part, range(n), 0, n, false);
    assert.deepEqual(bits(scoring.p, n), bits(plain.p, n));
    // other weights than the cached ones: the cache is not used, predictions still right
    const other = ops.alloc(P.dense.length);
    other.set(P.dense);
    other[0] = other[0]! + 0.25;
    plain.forward(view, other, part, range(n), 0, n, false);
    scoring.forward(view, other, part, range(n), 0, n, false);
    assert.deepEqual(bits(scoring.p, n), bits(plain.p, n));
    // and the cache is really read: stale cached projections change the predictions
    scoring.cacheProjections(view, P.dense);
    for (const t of P.tables) for (let i = 0; i < t.length; i++) t[i] = t[i]! * 2;
    plain.forward(view, P.dense, part, range(n), 0, n, false);
    scoring.forward(view, P.dense, part, range(n), 0, n, false);
    assert.notDeepEqual(bits(scoring.p, n), bits(plain.p, n));
  } finally {
    await ops.close();
  }
});

test('a model not made for scoring refuses to cache', async () => {
  const ops = await createOps(1, 16);
  try {
    const L = buildLayout(TINY_SCHEMA, { embedDim: 4, mlpDims: [4], numExpert: 2, numOutput: 2 });
    const P = allocParams(L, ops);
    assert.throws(() => new Model(ops, L, 4).cacheProjections(plainView(P.tables), P.dense), /not made for scoring/);
  } finally {
    await ops.close();
  }
});
