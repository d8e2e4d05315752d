/**
 * Regularisation and threads: the regularised meta-step, baseline step and adaptation give
 * the same bits on 1 and 2 engine threads (the update runs on the main thread; adaptation's
 * options travel to the engine threads and infer's worker threads); options that are all
 * zero give today's bits; train and infer take the config's section.
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
import { JointTrainer, MetaTrainer } from '../src/meta/train.js';
import { buildLayout } from '../src/model/layout.js';
import { allocParams, initParams } from '../src/model/params.js';
import { NO_REGULARIZATION, type RegOptions } from '../src/optim/regularize.js';
import { runInfer } from '../src/pipeline/run-infer.js';
import { runTrain } from '../src/pipeline/run-train.js';
import { TINY_SCHEMA, randomPart, range } from './helpers/tiny.js';
import { tinyDataset, tinyOverrides } from './helpers/tiny-dataset.js';

const DIMS = { embedDim: 8, mlpDims: [16, 8], numExpert: 3, numOutput: 2 };
const COUPLED: RegOptions = { weightDecay: 1e-2, embeddingWeightDecay: 5e-2, decoupled: false, frequencyL2: 0.5, maxNorm: 2.5 };
const DECOUPLED: RegOptions = { weightDecay: 0.5, embeddingWeightDecay: 2, decoupled: true, frequencyL2: 0, maxNorm: 2.5 };
/** Every strength 0, the flags on: nothing to do. */
const ZERO: RegOptions = { ...NO_REGULARIZATION, decoupled: true };

function bytes(a: Float32Array | Float64Array): Buffer {
  return Buffer.from(Float32Array.from(a).buffer);
}

/** Three steps of a trainer; returns θ's bytes, dense then tables. */
async function train(threads: number, meta: boolean, reg: RegOptions | undefined): Promise<Buffer[]> {
  const ops = await createOps(threads, 256);
  try {
    const params = allocParams(buildLayout(TINY_SCHEMA, DIMS), ops);
    initParams(params, 3);
    const part = randomPart(TINY_SCHEMA, 600, 11, [0, 1, 2, 3, 4, 5, 6]);
    const opts = { batchSize: 64, taskCount: 5, localLr: 0.05, globalLr: 0.01, sampling: 'normal' as const, withReplacement: false, seed: 9, regularization: reg };
    const tr = meta ? new MetaTrainer(ops, params, opts, part, indexTasks(part.aid)) : new JointTrainer(ops, params, opts, part, range(part.nRows));
    for (let s = 0; s < 3; s++) assert.ok(Number.isFinite(tr.step().loss));
    if (reg?.maxNorm) {
      // the tables start within the norm and the steps keep them there
      for (const t of params.tables) for (let o = 0; o < t.length; o += DIMS.embedDim) assert.ok(Math.hypot(...t.subarray(o, o + DIMS.embedDim)) <= reg.maxNorm * (1 + 1e-6));
    }
    return [bytes(params.dense), ...params.tables.map(bytes)];
  } finally {
    await ops.close();
  }
}

for (const meta of [true, false]) {
  test(`${meta ? 'meta-training' : 'the no-meta baseline'}: regularised steps equal on 1 and 2 threads; all-zero options give the unregularised bits`, async () => {
    const plain = await train(1, meta, undefined);
    assert.deepEqual(await train(1, meta, ZERO), plain);
    for (const reg of [COUPLED, DECOUPLED]) {
      const one = await train(1, meta, reg);
      assert.deepEqual(await train(2, meta, reg), one);
      // every part of θ moved differently: dense, and the tables
      one.forEach((b, i) => assert.ok(!b.equals(plain[i]!), `${reg.decoupled ? 'decoupled' : 'coupled'}: array ${i} as without regularisation`));
    }
  });
}

test('adaptation: regularised tasks on 2 engine threads equal one after another on 1; all-zero options give the unregularised bits', async () => {
  const run = async (threads: number, reg: RegOptions | undefined) => {
    const ops = await createOps(threads, 256);
    try {
      const params = allocParams(buildLayout(TINY_SCHEMA, DIMS), ops);
      initParams(params, 4);
      const adapter = new Adapter(ops, params, { lr: 0.01, epochs: 2, batchSize: 32, seed: 5, regularization: reg });
      const tasks = [0, 1, 2].map((k) => {
        const train = randomPart(TINY_SCHEMA, 50 + 20 * k, 20 + k, [k]);
        return { train, rows: range(train.nRows), key: k };
      });
      return adaptAll(adapter, tasks).map((a) => [bytes(a.model.dense), ...a.model.rows.map((r) => bytes(r.data))]);
    } finally {
      await ops.close();
    }
  };
  const plain = await run(1, undefined);
  assert.deepEqual(await run(2, ZERO), plain);
  for (const reg of [{ ...COUPLED, frequencyL2: 0 }, DECOUPLED]) {
    const one = await run(1, reg);
    assert.deepEqual(await run(2, reg), one);
    assert.ok(!one[0]![0]!.equals(plain[0]![0]!));
  }
});

test('train and infer take hyper_parameters.regularization (infer with in_adaptation, on worker threads as on one)', async () => {
  const data = await tinyDataset();
  const trainBytes = async (extra: string[]) => {
    const out = mkdtempSync(join(tmpdir(), 'mh-reg-'));
    const ops = await createOps(1);
    const res = await runTrain(loadConfig(null, [...tinyOverrides(data, out), 'runner.epochs=1', ...extra]), ops);
    await ops.close();
    return { out, bytes: readFileSync(res.checkpoints[0]!) };
  };
  const on = ['weight_decay=0.01', 'embedding_weight_decay=0.01', 'frequency_l2=0.1', 'max_norm=1.5', 'in_adaptation=true'].map((o) => `hyper_parameters.regularization.${o}`);
  const plain = await trainBytes([]);
  const reg = await trainBytes(on);
  assert.ok(!reg.bytes.equals(plain.bytes));
  const infer = async (threads: number, extra: string[]) => {
    const cfg = loadConfig(null, [...tinyOverrides(data, reg.out), 'runner.infer_end_epoch=1', `runner.threads=${threads}`, `runner.metrics_path=${join(reg.out, `m${threads}${extra.length}.json`)}`, ...extra]);
    const ops = await createOps(1);
    const res = await runInfer(cfg, ops);
    await ops.close();
    return res[0]!.splits.map((s) => s.perTask);
  };
  const one = await infer(1, on);
  assert.deepEqual(await infer(2, on), one);
  assert.notDeepEqual(await infer(1, []), one);
});
