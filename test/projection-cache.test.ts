/** Whole-table projections of the small user tables for scoring (first-layer.ts) change speed, never predictions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOps } from '../src/kernels/index.js';
import { allocProjections, projectTables } from '../src/model/first-layer.js';
import { buildLayout } from '../src/model/layout.js';
import { Model } from '../src/model/model.js';
import { allocParams, initParams } from '../src/model/params.js';
import { plainView, RowSet, type TableView } from '../src/model/row-set.js';
import { TINY_SCHEMA, randomPart, range } from './helpers/tiny.js';

function bits(a: Float32Array | Float64Array, n: number): number[] {
  return [...new Uint32Array(Float32Array.from(a.subarray(0, n)).buffer)];
}

test('projected tables give the same predictions bit for bit, through plain, delta and replaced-row views', async () => {
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
    const model = new Model(ops, L, n, 'always');
    const tables = allocProjections(ops.alloc.bind(ops), L);
    assert.ok(tables.every((t) => t !== null), 'the tiny tables are all small enough');
    for (const view of [plainView(P.tables), overlay(1), overlay(2)]) {
      model.forward(view, P.dense, part, range(n), 0, n, false);
      const want = bits(model.p, n);
      projectTables(ops, L, P.dense, view, tables);
      model.forward(view, P.dense, part, range(n), 0, n, false, tables);
      assert.deepEqual(bits(model.p, n), want, `mode ${view.mode}`);
    }
    // and they are really read: projections of other weights change the predictions
    const view = plainView(P.tables);
    projectTables(ops, L, P.dense, view, tables);
    for (const t of P.tables) for (let i = 0; i < t.length; i++) t[i] = t[i]! * 2;
    model.forward(view, P.dense, part, range(n), 0, n, false);
    const want = bits(model.p, n);
    model.forward(view, P.dense, part, range(n), 0, n, false, tables);
    assert.notDeepEqual(bits(model.p, n), want);
  } finally {
    await ops.close();
  }
});
