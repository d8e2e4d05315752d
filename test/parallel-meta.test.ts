import { test } from 'node:test';
import assert from 'node:assert/strict';
import { indexTasks } from '../src/data/part.js';
import { createOps } from '../src/kernels/index.js';
import { buildLayout } from '../src/model/layout.js';
import { allocParams, initParams } from '../src/model/params.js';
import { MetaTrainer } from '../src/meta/train.js';
import type { TaskSlots } from '../src/meta/task-slots.js';
import { TINY_SCHEMA, randomPart } from './helpers/tiny.js';

/** Three meta-steps; returns the losses and copies of θ. */
async function train(threads: number, withReplacement: boolean, order: 'first' | 'second'): Promise<{ losses: number[]; dense: Float32Array; tables: Float32Array[] }> {
  const ops = await createOps(threads, 256);
  try {
    const L = buildLayout(TINY_SCHEMA, { embedDim: 8, mlpDims: [16, 8], numExpert: 3, numOutput: 2 });
    const params = allocParams(L, ops);
    initParams(params, 3);
    const part = randomPart(TINY_SCHEMA, 600, 11, [0, 1, 2, 3, 4, 5, 6]);
    const tr = new MetaTrainer(ops, params, { batchSize: 64, taskCount: 5, localLr: 0.05, globalLr: 0.01, sampling: 'normal', withReplacement, seed: 9, order }, part, indexTasks(part.aid));
    const losses = [0, 1, 2].map(() => tr.step().loss);
    return { losses, dense: Float32Array.from(params.dense), tables: params.tables.map((t) => Float32Array.from(t)) };
  } finally {
    await ops.close();
  }
}

test('a meta-step with whole tasks on worker threads equals the serial step bit for bit', async () => {
  for (const [withReplacement, order] of [[false, 'first'], [true, 'first'], [false, 'second']] as const) {
    const [one, two, three] = [await train(1, withReplacement, order), await train(2, withReplacement, order), await train(3, withReplacement, order)];
    for (const other of [two, three]) {
      assert.deepEqual(other.losses, one.losses);
      assert.ok(Buffer.from(other.dense.buffer).equals(Buffer.from(one.dense.buffer)));
      other.tables.forEach((t, e) => assert.ok(Buffer.from(t.buffer).equals(Buffer.from(one.tables[e]!.buffer)), `table ${e}`));
    }
    assert.ok(one.losses.every((l) => Number.isFinite(l) && l > 0));
  }
});

test('a task that fails on any thread fails the meta-step with its error, and never leaves the step waiting for it', { timeout: 120_000 }, async () => {
  for (let failing = 0; failing < 5; failing++) {
    const ops = await createOps(3, 256);
    try {
      const L = buildLayout(TINY_SCHEMA, { embedDim: 8, mlpDims: [16, 8], numExpert: 3, numOutput: 2 });
      const params = allocParams(L, ops);
      initParams(params, 3);
      const part = randomPart(TINY_SCHEMA, 600, 11, [0, 1, 2, 3, 4, 5, 6]);
      const tr = new MetaTrainer(ops, params, { batchSize: 64, taskCount: 5, localLr: 0.05, globalLr: 0.01, sampling: 'normal', withReplacement: false, seed: 9 }, part, indexTasks(part.aid));
      tr.step();
      // one task's support batch claims more rows than a model holds: whichever thread
      // claims that task throws, while the others finish theirs
      const slots = (tr as unknown as { parallel: { slots: TaskSlots } }).parallel.slots;
      const open = slots.open.bind(slots);
      slots.open = (n: number) => {
        open(n);
        slots.counts[2 * failing] = 65;
      };
      assert.throws(() => tr.step(), /batch of 65 rows exceeds capacity 64|kernel worker \d failed|meta-step: task \d of 5 failed/);
    } finally {
      await ops.close();
    }
  }
});
