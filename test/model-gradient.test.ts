/**
 * Finite-difference checks, in float64, of every backward in the model: each dense tensor
 * (experts of several layers, gates, critics) and every touched embedding row, with
 * multi-valued lengths 0, partial and above the width.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildLayout } from '../src/model/layout.js';
import type { ProjectionMode } from '../src/model/first-layer.js';
import { Model } from '../src/model/model.js';
import { JsOps } from '../src/model/ops.js';
import { allocParams, initParams } from '../src/model/params.js';
import { plainView } from '../src/model/row-set.js';
import { TINY_SCHEMA, randomPart, range } from './helpers/tiny.js';

function relErr(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(1e-6, Math.abs(a) + Math.abs(b));
}

// 'auto' needs a wider embedding and batch for some (not all) fields to be worth projecting;
// `uniform`: every row has row 0's task ids, as in one campaign's batch (the gates' shortcut)
const cases: [number[], ProjectionMode, number, boolean][] = [
  [[5], 'never', 3, false],
  [[6, 4], 'always', 3, false],
  [[5, 4, 3], 'auto', 8, false],
  [[6, 4], 'never', 3, false],
  [[5], 'never', 3, true],
  [[5, 4, 3], 'auto', 8, true],
];
for (const [mlpDims, projection, E, uniform] of cases) {
  test(`model gradient matches finite differences (mlp_dims ${JSON.stringify(mlpDims)}, projection ${projection}${uniform ? ', one task vector' : ''})`, () => {
    const ops = new JsOps(Float64Array);
    const L = buildLayout(TINY_SCHEMA, { embedDim: E, mlpDims, numExpert: 3, numOutput: 2 });
    const P = allocParams(L, ops);
    initParams(P, 7);
    // scale up so that activations are in a non-trivial range
    for (let i = 0; i < P.dense.length; i++) P.dense[i] = P.dense[i]! * 2;
    const n = projection === 'auto' ? 40 : 12;
    const part = randomPart(TINY_SCHEMA, n, 3);
    const nt = TINY_SCHEMA.task.length;
    if (uniform) for (let r = 1; r < n; r++) part.task.copyWithin(r * nt, 0, nt);
    const rows = range(n);
    const model = new Model(ops, L, n, projection);
    const src = plainView(P.tables);
    const lossAt = (): number => {
      model.forward(src, P.dense, part, rows, 0, n);
      return model.loss();
    };
    lossAt();
    assert.equal(model.net.uniform, uniform);
    model.backward();
    const G = Float64Array.from(model.grad);
    const dLocal = model.dLocal.map((d) => Float64Array.from(d));
    const fields = model.batch.fields.map((f) => ({ uniq: Int32Array.from(f.uniq.subarray(0, f.nUniq)) }));
    const h = 1e-6;
    let checked = 0;
    for (const entry of L.dense) {
      for (let i = 0; i < entry.size; i++) {
        const idx = entry.offset + i;
        const old = P.dense[idx]!;
        P.dense[idx] = old + h;
        const lp = lossAt();
        P.dense[idx] = old - h;
        const lm = lossAt();
        P.dense[idx] = old;
        const fd = (lp - lm) / (2 * h);
        assert.ok(relErr(fd, G[idx]!) < 1e-5 || Math.abs(fd - G[idx]!) < 1e-9, `${entry.name}[${i}]: analytic ${G[idx]} vs numeric ${fd}`);
        checked++;
      }
    }
    for (let e = 0; e < L.embeddings.length; e++) {
      const T = P.tables[e]!;
      const uniq = fields[e]!.uniq;
      for (let u = 0; u < uniq.length; u++) {
        for (let k = 0; k < E; k++) {
          const idx = uniq[u]! * E + k;
          const old = T[idx]!;
          T[idx] = old + h;
          const lp = lossAt();
          T[idx] = old - h;
          const lm = lossAt();
          T[idx] = old;
          const fd = (lp - lm) / (2 * h);
          const an = dLocal[e]![u * E + k]!;
          assert.ok(relErr(fd, an) < 1e-5 || Math.abs(fd - an) < 1e-9, `${L.embeddings[e]!.name} row ${uniq[u]} [${k}]: analytic ${an} vs numeric ${fd}`);
          checked++;
        }
      }
    }
    assert.ok(checked > 200);
    const projected = model.first.projected.filter(Boolean).length;
    if (projection === 'always') assert.equal(projected, L.nUser);
    if (projection === 'never') assert.equal(projected, 0);
    if (projection === 'auto') assert.ok(projected > 0 && projected < L.nUser, `auto projected ${projected} of ${L.nUser}`);
  });
}

test('padded slots past len have no effect, and len above the width divides by len', () => {
  const ops = new JsOps(Float64Array);
  const L = buildLayout(TINY_SCHEMA, { embedDim: 2, mlpDims: [4], numExpert: 2, numOutput: 2 });
  const P = allocParams(L, ops);
  initParams(P, 1);
  const part = randomPart(TINY_SCHEMA, 4, 5);
  const model = new Model(ops, L, 4);
  const src = plainView(P.tables);
  // row 0: m0 len 1 of width 3; row 1: m0 len 5 (> width 3)
  part.multiLen[0 * 2 + 0] = 1;
  part.multiLen[1 * 2 + 0] = 5;
  model.forward(src, P.dense, part, range(4), 0, 4);
  const p0 = Float64Array.from(model.p);
  part.multi[0 * 5 + 1] = (part.multi[0 * 5 + 1]! + 1) % 10; // a padded slot of row 0
  part.multi[0 * 5 + 2] = (part.multi[0 * 5 + 2]! + 3) % 10;
  model.forward(src, P.dense, part, range(4), 0, 4);
  assert.equal(model.p[0], p0[0]);
  // len 5 > width 3: the pooled vector is the sum of the 3 ids divided by 5
  const b = model.batch.fields[2]!;
  assert.equal(b.cnt![1], 3);
  assert.equal(b.scale![1], 1 / 5);
});

test('projected and unprojected first layers give the same predictions on the engine', async () => {
  const { createOps } = await import('../src/kernels/index.js');
  const ops = await createOps(1, 64);
  const L = buildLayout(TINY_SCHEMA, { embedDim: 8, mlpDims: [12, 4], numExpert: 3, numOutput: 2 });
  const P = allocParams(L, ops);
  initParams(P, 9);
  const part = randomPart(TINY_SCHEMA, 40, 8);
  const preds = (['never', 'always', 'auto'] as const).map((mode) => {
    const m = new Model(ops, L, 40, mode);
    m.forward(plainView(P.tables), P.dense, part, range(40), 0, 40);
    return Float64Array.from(m.p.subarray(0, 40));
  });
  await ops.close();
  for (const p of preds.slice(1)) p.forEach((v, i) => assert.ok(Math.abs(v - preds[0]![i]!) < 1e-5, `row ${i}: ${v} vs ${preds[0]![i]}`));
});
