import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOps } from '../src/kernels/index.js';
import { buildLayout } from '../src/model/layout.js';
import { Model } from '../src/model/model.js';
import { allocParams, initParams } from '../src/model/params.js';
import { plainView } from '../src/model/row-set.js';
import { Scorer } from '../src/model/scorer.js';
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
