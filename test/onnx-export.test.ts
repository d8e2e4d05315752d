import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-web';
import { buildLayout, type ModelDims } from '../src/model/layout.js';
import { allocParams, initParams, type Params } from '../src/model/params.js';
import { exportOnnx, onnxFeeds, onnxInputNames } from '../src/model/onnx-export.js';
import { predictRows } from '../src/meta/adapt.js';
import { createOps } from '../src/kernels/index.js';
import type { PartData } from '../src/data/part.js';
import { TINY_SCHEMA, randomPart } from './helpers/tiny.js';
import { tinyDataset } from './helpers/tiny-dataset.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/fixtures.js';
import { saveCheckpoint } from '../src/model/checkpoint.js';
import { loadPart } from '../src/data/dataset.js';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

async function scoreOnnx(bytes: Uint8Array, feeds: Record<string, { dims: number[]; data: BigInt64Array }>): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const inputs = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor('int64', v.data, v.dims)]));
    const out = await session.run(inputs);
    return out.score!.data as Float32Array;
  } finally {
    await session.release();
  }
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number): void {
  assert.equal(got.length, want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  assert.ok(worst <= tol, `largest difference ${worst} > ${tol}`);
}

async function engineScores(p: Params, part: PartData): Promise<Float32Array> {
  const ops = await createOps(1);
  try {
    // the engine's parameters live in its memory: copy them in
    const q = allocParams(p.layout, ops);
    q.dense.set(p.dense);
    p.tables.forEach((t, i) => q.tables[i]!.set(t));
    const out = new Float32Array(part.nRows);
    predictRows(ops, q, part, 64, out);
    return out;
  } finally {
    await ops.close();
  }
}

function tinyParams(dims: ModelDims, seed: number): Params {
  const L = buildLayout(TINY_SCHEMA, dims);
  const p = allocParams(L, { alloc: (n: number) => new Float32Array(n) } as never);
  initParams(p, seed);
  return p;
}

for (const mlpDims of [[6, 5], [7], [6, 5, 4]]) {
  test(`ONNX export of the general model (mlp ${JSON.stringify(mlpDims)}) scores as the engine does, within 1e-5, on ONNX Runtime`, async () => {
    const p = tinyParams({ embedDim: 8, mlpDims, numExpert: 3, numOutput: 2 }, 7);
    // lengths 0, partial, full and above the width
    const part = randomPart(TINY_SCHEMA, 150, 11, [1, 2]);
    const bytes = exportOnnx(p, { description: 'test', metadata: { epoch: '0' } });
    const session = await ort.InferenceSession.create(bytes);
    assert.deepEqual([...session.inputNames].sort(), onnxInputNames(p.layout, false).sort());
    assert.deepEqual(session.outputNames, ['score']);
    await session.release();
    const want = await engineScores(p, part);
    assertClose(await scoreOnnx(bytes, onnxFeeds(p.layout, part, 0, part.nRows, false)), want, 1e-5);
    // any batch size: a slice scores as the same rows did
    assertClose(await scoreOnnx(bytes, onnxFeeds(p.layout, part, 40, 3, false)), want.subarray(40, 43), 1e-5);
  });
}

test('ONNX export with a campaign\'s task fields baked in has no task inputs and scores as the engine on rows of that campaign', async () => {
  const p = tinyParams({ embedDim: 8, mlpDims: [6, 5], numExpert: 3, numOutput: 2 }, 9);
  const part = randomPart(TINY_SCHEMA, 90, 12, [1]);
  const codes = [2, 4];
  const nT = codes.length;
  for (let r = 0; r < part.nRows; r++) codes.forEach((c, j) => (part.task[r * nT + j] = c));
  const bytes = exportOnnx(p, { task: codes });
  const session = await ort.InferenceSession.create(bytes);
  assert.deepEqual([...session.inputNames].sort(), onnxInputNames(p.layout, true).sort());
  assert.ok(!session.inputNames.includes('t0'));
  await session.release();
  assertClose(await scoreOnnx(bytes, onnxFeeds(p.layout, part, 0, part.nRows, true)), await engineScores(p, part), 1e-5);
  // another campaign's codes give other scores: the baked codes are really used
  const other = await scoreOnnx(exportOnnx(p, { task: [0, 1] }), onnxFeeds(p.layout, part, 0, part.nRows, true));
  const base = await scoreOnnx(bytes, onnxFeeds(p.layout, part, 0, part.nRows, true));
  assert.ok(other.some((v, i) => Math.abs(v - base[i]!) > 1e-4));
  assert.throws(() => exportOnnx(p, { task: [3, 0] }), /task field "t0" code 3 outside \[0, 2\]/);
});

test('metaheac export-onnx: the checkpoint as ONNX scores a part as `metaheac predict` does', async (t) => {
  const dir = tempDir(t);
  const data = await tinyDataset();
  t.after(() => rmSync(data, { recursive: true, force: true }));
  const p = tinyParams({ embedDim: 4, mlpDims: [6, 5], numExpert: 3, numOutput: 2 }, 5);
  const ckpt = join(dir, 'model.safetensors');
  saveCheckpoint(ckpt, p, { epoch: 0 });
  const onnxPath = join(dir, 'out', 'model.onnx');
  const r = runCli('export-onnx', '--model', ckpt, '--out', onnxPath, '--json');
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as { inputs: string[]; opset: number };
  assert.deepEqual(summary.inputs, ['s0', 's1', 'm0', 'm0_length', 'm1', 'm1_length', 't0', 't1']);
  const partPath = join(data, 'test_hot_stage2.arrow');
  const pr = runCli('predict', '--model', ckpt, '--data', partPath, '--out', join(dir, 'p.csv'), '--threads', '1');
  assert.equal(pr.code, 0, pr.stderr);
  const want = readFileSync(join(dir, 'p.csv'), 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split(',')[3]));
  const part = await loadPart(partPath);
  assertClose(await scoreOnnx(readFileSync(onnxPath), onnxFeeds(p.layout, part, 0, part.nRows, false)), want, 1e-5);
  const bad = runCli('export-onnx', '--model', join(dir, 'nope.safetensors'), '--out', onnxPath);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^metaheac: error: .*nope\.safetensors.*\n$/);
});
