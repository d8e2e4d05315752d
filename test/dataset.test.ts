import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writePart } from '../src/data/arrow-part.js';
import {
  modelSchema,
  findTestSplits,
  findTrainPart,
  loadDataset,
  loadPart,
  writeSchema,
} from '../src/data/dataset.js';
import { maxIdxs, TENCENT_SCHEMA } from '../src/data/schema.js';
import { samplePart, tempDir } from './helpers/fixtures.js';

const S = TENCENT_SCHEMA;

async function dataset(dir: string, parts: string[]): Promise<void> {
  writeSchema(dir, S);
  for (const p of parts) await writePart(join(dir, `${p}.arrow`), S, samplePart(8));
}

test('loadDataset lists the standard parts in order, then others', async (t) => {
  const dir = tempDir(t);
  await dataset(dir, ['test_cold_stage2', 'extra_part', 'train_stage1', 'test_cold_stage1']);
  const ds = loadDataset(dir);
  assert.deepEqual(ds.schema, S);
  assert.deepEqual(ds.parts.map((p) => p.name), ['train_stage1', 'test_cold_stage1', 'test_cold_stage2', 'extra_part']);
  assert.equal(ds.parts[0]!.path, join(dir, 'train_stage1.arrow'));
});

test('loadDataset: missing directory, a file, missing or invalid schema.json', async (t) => {
  const dir = tempDir(t);
  assert.throws(() => loadDataset(join(dir, 'nope')), { name: 'DataError', message: `${join(dir, 'nope')}: no such file or directory` });
  writeFileSync(join(dir, 'f.arrow'), '');
  assert.throws(() => loadDataset(join(dir, 'f.arrow')), { name: 'DataError', message: /not a directory/ });
  assert.throws(() => loadDataset(dir), { name: 'DataError', message: new RegExp(`${join(dir, 'schema.json')}: cannot read schema \\(ENOENT\\)`) });
  writeFileSync(join(dir, 'schema.json'), '{"user_single": [{"name": "a", "max_idx": -1}], "user_multi": [], "task": []}');
  assert.throws(() => loadDataset(dir), { name: 'DataError', message: `${join(dir, 'schema.json')}: user_single[0].max_idx must be an integer in [0, 2147483646] (ids are int32), found -1` });
});

test('findTrainPart takes a file or a dataset directory', async (t) => {
  const dir = tempDir(t);
  await dataset(dir, ['train_stage1', 'test_hot_stage1']);
  assert.equal(findTrainPart(dir), join(dir, 'train_stage1.arrow'));
  assert.equal(findTrainPart(join(dir, 'test_hot_stage1.arrow')), join(dir, 'test_hot_stage1.arrow'));
  const empty = join(dir, 'sub');
  mkdirSync(empty);
  assert.throws(() => findTrainPart(empty), { name: 'DataError', message: `${empty}: no train_stage1.arrow (parts found: none)` });
});

test('findTestSplits pairs stage 1 and stage 2 parts: hot, cold, then others', async (t) => {
  const dir = tempDir(t);
  await dataset(dir, ['train_stage1', 'test_cold_stage1', 'test_cold_stage2', 'test_hot_stage1', 'test_hot_stage2', 'val_stage1', 'val_stage2', 'lonely_stage1']);
  const f = (n: string) => join(dir, `${n}.arrow`);
  assert.deepEqual(findTestSplits(dir), [
    { name: 'hot', stage1: f('test_hot_stage1'), stage2: f('test_hot_stage2') },
    { name: 'cold', stage1: f('test_cold_stage1'), stage2: f('test_cold_stage2') },
    { name: 'val', stage1: f('val_stage1'), stage2: f('val_stage2') },
  ]);
  assert.deepEqual(findTestSplits(f('test_cold_stage2')), [{ name: 'cold', stage1: f('test_cold_stage1'), stage2: f('test_cold_stage2') }]);
  assert.throws(() => findTestSplits(f('lonely_stage1')), { name: 'DataError', message: `${f('lonely_stage2')}: no such file or directory` });
  assert.throws(() => findTestSplits(f('train_stage1').replace('train_stage1', 'val_stage1x')), { name: 'DataError' });
  const sub = join(dir, 'sub');
  mkdirSync(sub);
  assert.throws(() => findTestSplits(sub), { name: 'DataError', message: /no test split \(expected X_stage1.arrow \+ X_stage2.arrow pairs/ });
});

test('loadPart finds schema.json beside the part or in its parent', async (t) => {
  const dir = tempDir(t);
  writeSchema(dir, S);
  mkdirSync(join(dir, 'parts'));
  await writePart(join(dir, 'parts', 'x.arrow'), S, samplePart(8));
  const p = await loadPart(join(dir, 'parts', 'x.arrow'));
  assert.equal(p.nRows, 8);
  const lone = tempDir(t);
  await writePart(join(lone, 'y.arrow'), S, samplePart(8));
  await assert.rejects(loadPart(join(lone, 'y.arrow')), { name: 'DataError', message: `${join(lone, 'y.arrow')}: no schema.json beside it or in its parent directory` });
});

test('modelSchema: config max_idxs size the tables, at least the data\'s; a smaller one names both files and the field', () => {
  assert.deepEqual(modelSchema(S, undefined, 'c.yaml', 'd/schema.json'), S);
  assert.deepEqual(modelSchema(S, maxIdxs(S), 'c.yaml', 'd/schema.json'), S);
  const larger = maxIdxs(S);
  larger[1]![0] = 126; // PaddleRec's preset is 2 above the largest list id
  const m = modelSchema(S, larger, 'c.yaml', 'd/schema.json');
  assert.equal(m.userMulti[0]!.maxIdx, 126);
  assert.equal(m.userMulti[0]!.width, 10);
  assert.equal(m.userMulti[1]!.maxIdx, S.userMulti[1]!.maxIdx);
  const bad = maxIdxs(S);
  bad[1]![3] = 5;
  assert.throws(() => modelSchema(S, bad, 'c.yaml', 'd/schema.json'), {
    name: 'ConfigError',
    message: "c.yaml: hyper_parameters.max_idxs[1][3] (kw1) is 5, below the dataset schema's 263312 (d/schema.json)",
  });
  assert.throws(() => modelSchema(S, [[1], [2]], 'c.yaml', 'd/schema.json'), /max_idxs must have 3 groups/);
});
