/** The library entry: README's example runs against the package's public exports. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as metaheac from '../src/index.js';
import { tinyDataset, tinyOverrides } from './helpers/tiny-dataset.js';

test('README library example: loadConfig, createOps, runTrain, runInfer from the package entry', async () => {
  const { loadConfig, createOps, runTrain, runInfer, writeReport } = metaheac;
  const data = await tinyDataset();
  const out = mkdtempSync(join(tmpdir(), 'mh-lib-'));
  const cfg = loadConfig(null, [...tinyOverrides(data, out), 'runner.epochs=1', 'runner.threads=1']);
  const ops = await createOps(cfg.runner.threads);
  const trained = await runTrain(cfg, ops);
  assert.equal(trained.checkpoints.length, 1);
  const [result] = await runInfer(cfg, ops);
  await ops.close();
  assert.deepEqual(result!.splits.map((s) => s.name), ['hot', 'cold']);
  const page = await writeReport([cfg.runner.model_save_path], join(out, 'report.html'));
  assert.ok(existsSync(page.out) && page.bytes > 0);
  for (const name of ['Model', 'MetaTrainer', 'JointTrainer', 'Adapter', 'Engine', 'saveCheckpoint', 'loadCheckpoint', 'auc', 'gauc', 'splitMetrics', 'readPart', 'writePart', 'synthesize', 'prepareRaw', 'importPickles']) {
    assert.equal(typeof (metaheac as Record<string, unknown>)[name], 'function', name);
  }
});
