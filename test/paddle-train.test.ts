/** train and infer straight from folders of PaddleRec pickles, as PaddleRec users hold them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { maxIdxs, TENCENT_SCHEMA } from '../src/data/schema.js';
import { createOps } from '../src/kernels/index.js';
import { runInfer } from '../src/pipeline/run-infer.js';
import { runTrain } from '../src/pipeline/run-train.js';
import { SAMPLE, SAMPLE_SKIP } from './helpers/pickles.js';

test('train_data_dir / test_data_dir pointing at PaddleRec pickle folders: converted once, then reused', { skip: SAMPLE_SKIP }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'mh-paddle-'));
  mkdirSync(join(root, 'train'));
  mkdirSync(join(root, 'infer_hot'));
  copyFileSync(SAMPLE, join(root, 'train', 'train_stage1.pkl'));
  copyFileSync(SAMPLE, join(root, 'infer_hot', 'stage1.pkl'));
  copyFileSync(SAMPLE, join(root, 'infer_hot', 'stage2.pkl'));
  const overrides = [
    `runner.train_data_dir=${join(root, 'train')}`,
    `runner.test_data_dir=${join(root, 'infer_hot')}`,
    `runner.model_save_path=${join(root, 'out')}`,
    `hyper_parameters.max_idxs=${JSON.stringify(maxIdxs(TENCENT_SCHEMA))}`,
    'hyper_parameters.embed_dim=4',
    'hyper_parameters.mlp_dims=[8]',
    'hyper_parameters.num_expert=2',
    'hyper_parameters.num_output=2',
    'hyper_parameters.batch_size=128',
  ];
  const ops = await createOps(1);
  try {
    const t = await runTrain(loadConfig(null, overrides), ops);
    assert.equal(t.stepsPerEpoch, Math.ceil(586 / 128));
    const cache = join(root, 'train', '.metaheac-cache');
    assert.ok(existsSync(join(cache, 'train_stage1.arrow')));
    const made = statSync(join(cache, 'train_stage1.arrow')).mtimeMs;
    await runTrain(loadConfig(null, overrides), ops);
    assert.equal(statSync(join(cache, 'train_stage1.arrow')).mtimeMs, made, 'the cache is reused');
    // The same sample is both train and test here, so the leakage check must refuse it unless told.
    await assert.rejects(runInfer(loadConfig(null, overrides), ops), /also in training.*allow_test_overlap/);
    const [res] = await runInfer(loadConfig(null, [...overrides, 'runner.allow_test_overlap=true']), ops);
    assert.equal(res!.splits.length, 1);
    assert.equal(res!.splits[0]!.name, 'infer_hot');
    assert.equal(res!.splits[0]!.tasks, 5);
    assert.deepEqual(res!.splits[0]!.perTask.map((p) => p.rows).sort((a, b) => b - a), [251, 143, 79, 71, 42]);
  } finally {
    await ops.close();
  }
});
