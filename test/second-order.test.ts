/**
 * Second-order MAML checked numerically, in float64: the full meta-gradient of one task,
 * d/dθ L_query(θ - α ∇L_support(θ)), against central finite differences of that meta-loss,
 * for every dense tensor and every embedding row the support or query batch touches
 * (multi-valued lengths 0, partial and above the width), through the projected and the
 * direct first layer, and with dropout (its masks fixed by the task's key). And: second
 * order is first order when α = 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DropoutRates } from '../src/model/dropout.js';
import type { ProjectionMode } from '../src/model/first-layer.js';
import { buildLayout, type Layout } from '../src/model/layout.js';
import { Model } from '../src/model/model.js';
import { JsOps, type Ops } from '../src/model/ops.js';
import { allocParams, initParams, type Params } from '../src/model/params.js';
import { plainView } from '../src/model/row-set.js';
import { GradSum } from '../src/meta/learner.js';
import { TaskMetaGrad, type MetaOrder } from '../src/meta/task-grad.js';
import { TINY_SCHEMA, randomPart, range } from './helpers/tiny.js';

function relErr(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(1e-6, Math.abs(a) + Math.abs(b));
}

function setup(ops: Ops, mlpDims: number[], E: number, seed: number): { L: Layout; P: Params } {
  const L = buildLayout(TINY_SCHEMA, { embedDim: E, mlpDims, numExpert: 3, numOutput: 2 });
  const P = allocParams(L, ops);
  initParams(P, seed);
  // scale up so that activations are in a non-trivial range
  for (let i = 0; i < P.dense.length; i++) P.dense[i] = P.dense[i]! * 2;
  return { L, P };
}

/**
 * `uniform`: every support and query row takes the support's row-0 task ids, as in a
 * meta-step's batches of one task (the gates' one-task-vector shortcut, network.ts and
 * network-hvp.ts); otherwise rows mix tasks (the general path). `dropout`: the passes drop
 * units with the masks of one task key.
 */
function metaGrad(ops: Ops, L: Layout, P: Params, order: MetaOrder, projection: ProjectionMode, alpha: number, n: number, uniform = false, dropout?: DropoutRates): { sum: GradSum; loss: number; support: Model } {
  const sPart = randomPart(TINY_SCHEMA, n, 3);
  const qPart = randomPart(TINY_SCHEMA, n, 4);
  if (uniform) {
    const nt = TINY_SCHEMA.task.length;
    for (let r = 0; r < n; r++) {
      sPart.task.copyWithin(r * nt, 0, nt);
      qPart.task.set(sPart.task.subarray(0, nt), r * nt);
    }
  }
  const support = new Model(ops, L, n, projection, dropout);
  const task = new TaskMetaGrad(ops, L, P.tables, support, order);
  const sum = new GradSum(ops, L);
  const loss = task.add(P.dense, plainView(P.tables), alpha, sPart, range(n), n, qPart, range(n), n, sum, 12345);
  return { sum, loss, support };
}

const DROPOUT: DropoutRates = { experts: 0.3, critics: 0.25 };
const cases: [number[], ProjectionMode, number, boolean, DropoutRates?][] = [
  [[5], 'never', 3, false],
  [[6, 4], 'always', 3, false],
  [[5, 4, 3], 'auto', 8, false],
  [[6, 4], 'never', 3, true],
  [[5, 4, 3], 'auto', 8, true],
  [[6, 4], 'always', 3, false, DROPOUT],
  [[5, 4, 3], 'auto', 8, true, DROPOUT],
];
for (const [mlpDims, projection, E, uniform, dropout] of cases) {
  test(`second-order meta-gradient matches finite differences of the meta-loss (mlp_dims ${JSON.stringify(mlpDims)}, projection ${projection}${uniform ? ', one task vector' : ''}${dropout ? ', dropout' : ''})`, () => {
    const ops = new JsOps(Float64Array);
    const { L, P } = setup(ops, mlpDims, E, 7);
    const n = projection === 'auto' ? 40 : 12;
    const alpha = 0.5;
    const { sum: G2, support } = metaGrad(ops, L, P, 'second', projection, alpha, n, uniform, dropout);
    assert.equal(support.net.uniform, uniform);
    assert.equal(support.net.dropped !== null, dropout !== undefined);
    const { sum: G1 } = metaGrad(ops, L, P, 'first', projection, alpha, n, uniform, dropout);
    const metaLoss = (): number => metaGrad(ops, L, P, 'first', projection, alpha, n, uniform, dropout).loss;
    const h = 1e-6;
    let checked = 0;
    let firstOrderOff = 0;
    const check = (name: string, an: number, first: number, fd: number): void => {
      assert.ok(relErr(fd, an) < 1e-5 || Math.abs(fd - an) < 1e-9, `${name}: analytic ${an} vs numeric ${fd}`);
      if (relErr(fd, first) > 1e-3 && Math.abs(fd - first) > 1e-6) firstOrderOff++;
      checked++;
    };
    const fdAt = (arr: Float64Array | Float32Array, idx: number): number => {
      const old = arr[idx]!;
      arr[idx] = old + h;
      const lp = metaLoss();
      arr[idx] = old - h;
      const lm = metaLoss();
      arr[idx] = old;
      return (lp - lm) / (2 * h);
    };
    for (const entry of L.dense) {
      for (let i = 0; i < entry.size; i++) {
        const idx = entry.offset + i;
        check(`${entry.name}[${i}]`, G2.dense[idx]!, G1.dense[idx]!, fdAt(P.dense, idx));
      }
    }
    let rowsChecked = 0;
    for (let e = 0; e < L.embeddings.length; e++) {
      const rows = G2.rows[e]!;
      for (let u = 0; u < rows.n; u++) {
        const id = rows.ids[u]!;
        for (let k = 0; k < E; k++) {
          const idx = id * E + k;
          check(`${L.embeddings[e]!.name} row ${id} [${k}]`, rows.data[idx]!, G1.rows[e]!.data[idx]!, fdAt(P.tables[e]!, idx));
        }
        rowsChecked++;
      }
      // a row no batch touched has no meta-gradient: check one of them numerically too
      for (let id = 0; id < L.embeddings[e]!.rows; id++) {
        if (rows.has(id)) continue;
        assert.ok(Math.abs(fdAt(P.tables[e]!, id * E)) < 1e-9, `${L.embeddings[e]!.name} row ${id} untouched`);
        break;
      }
    }
    assert.ok(checked > 300 && rowsChecked > 20, `checked ${checked}, rows ${rowsChecked}`);
    // the check has power: the first-order gradient misses the curvature term
    assert.ok(firstOrderOff > checked / 4, `first order differs from the numeric meta-gradient at only ${firstOrderOff} of ${checked}`);
  });
}

test('second order equals first order when α = 0', () => {
  const ops = new JsOps(Float64Array);
  const { L, P } = setup(ops, [6, 4], 4, 3);
  const a = metaGrad(ops, L, P, 'second', 'auto', 0, 16);
  const b = metaGrad(ops, L, P, 'first', 'auto', 0, 16);
  assert.equal(a.loss, b.loss);
  assert.deepEqual([...a.sum.dense], [...b.sum.dense]);
  a.sum.rows.forEach((r, e) => assert.deepEqual([...r.data], [...b.sum.rows[e]!.data], L.embeddings[e]!.name));
});

test('the engine (float32 WASM) computes the second-order meta-gradient the reference computes', async () => {
  const { createOps } = await import('../src/kernels/index.js');
  const ref = new JsOps(Float64Array);
  const { L, P } = setup(ref, [8, 4], 8, 5);
  const eng = await createOps(2, 64);
  const Pe = allocParams(L, eng);
  Pe.dense.set(P.dense);
  Pe.tables.forEach((t, e) => t.set(P.tables[e]!));
  const n = 40;
  for (const projection of ['never', 'always'] as const) {
    const want = metaGrad(ref, L, P, 'second', projection, 0.5, n);
    const got = metaGrad(eng, L, Pe, 'second', projection, 0.5, n);
    const first = metaGrad(ref, L, P, 'first', projection, 0.5, n);
    assert.ok(Math.abs(got.loss - want.loss) < 1e-5);
    const close = (a: ArrayLike<number>, b: ArrayLike<number>, what: string): void => {
      let scale = 0;
      for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
      for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= 1e-4 * scale + 1e-6, `${what}[${i}]: engine ${a[i]} vs reference ${b[i]}`);
    };
    close(got.sum.dense, want.sum.dense, `${projection} dense`);
    want.sum.rows.forEach((r, e) => close(got.sum.rows[e]!.data, r.data, `${projection} ${L.embeddings[e]!.name}`));
    // and it is the second-order gradient, not the first-order one
    let off = 0;
    want.sum.dense.forEach((v, i) => (off += Math.abs(v - first.sum.dense[i]!) > 1e-3 * Math.abs(v) + 1e-6 ? 1 : 0));
    assert.ok(off > want.sum.dense.length / 4);
  }
  await eng.close();
});
