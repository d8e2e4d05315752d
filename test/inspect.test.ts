import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writePart } from '../src/data/arrow-part.js';
import { writeSchema } from '../src/data/dataset.js';
import { describePart, inspectDataset, quantile } from '../src/data/inspect.js';
import { indexTasks } from '../src/data/part.js';
import { TENCENT_SCHEMA } from '../src/data/schema.js';
import { formatInspect } from '../src/cli/commands/inspect.js';
import { samplePart, tempDir } from './helpers/fixtures.js';

test('nearest-rank quantiles', () => {
  const v = [0, 1, 2, 5];
  assert.deepEqual([quantile(v, 0), quantile(v, 0.5), quantile(v, 0.9), quantile(v, 1)], [0, 1, 5, 5]);
  assert.equal(quantile([7], 0.5), 7);
});

test('a part report counts rows, tasks, label rate and positives per task', () => {
  const d = samplePart(12);
  // tasks 100..103 get rows i%4; set labels so tasks have 0, 1, 3 and 2 positives
  d.label.fill(0);
  for (const r of [1, 2, 6, 10, 3, 7]) d.label[r] = 1;
  const p = { ...d, path: 'x.arrow', schema: TENCENT_SCHEMA, tasks: indexTasks(d.aid) };
  assert.deepEqual(describePart('x', p), {
    name: 'x',
    path: 'x.arrow',
    rows: 12,
    tasks: 4,
    positives: 6,
    labelRate: 0.5,
    positivesPerTask: { min: 0, median: 1, p90: 3, max: 3 },
  });
});

test('inspect a dataset: schema, every part, hot/cold task counts, text and JSON', async (t) => {
  const dir = tempDir(t);
  writeSchema(dir, TENCENT_SCHEMA);
  await writePart(join(dir, 'train_stage1.arrow'), TENCENT_SCHEMA, samplePart(40));
  await writePart(join(dir, 'test_hot_stage1.arrow'), TENCENT_SCHEMA, samplePart(8));
  await writePart(join(dir, 'test_cold_stage1.arrow'), TENCENT_SCHEMA, samplePart(3));
  const seen: number[] = [];
  // samplePart gives every part aids 100-103: test campaigns that are also training ones
  await assert.rejects(inspectDataset(dir), /test_hot_stage1\.arrow: test campaigns aid 100, 101, 102, 103 also in training .*pass --allow-overlap/);
  const warned: string[] = [];
  const r = await inspectDataset(dir, (done) => seen.push(done), { allowOverlap: true, warn: (l) => warned.push(l) });
  assert.equal(warned.length, 2);
  assert.deepEqual(r.overlap, [{ part: 'test_hot_stage1', aids: [100, 101, 102, 103] }, { part: 'test_cold_stage1', aids: [100, 101, 102] }]);
  assert.deepEqual(seen, [1, 2, 3]);
  assert.deepEqual(r.parts.map((p) => [p.name, p.rows, p.tasks]), [['train_stage1', 40, 4], ['test_hot_stage1', 8, 4], ['test_cold_stage1', 3, 3]]);
  assert.deepEqual(r.splits, { hot: 4, cold: 3 });
  assert.equal(r.schema.user_multi[3]!.max_idx, 263312);
  const text = formatInspect(r);
  assert.match(text, /user multi \(7\): interest1 124 \[10\], interest2 82 \[10\], interest3 12 \[10\], kw1 263312 \[5\]/);
  assert.match(text, /train_stage1\s+40\s+4\s+14\s+35\.00%\s+3 \/ 3 \/ 4 \/ 4/);
  assert.match(text, /test splits: hot 4 tasks, cold 3 tasks/);
  // one part file alone, with schema.json beside it
  const one = await inspectDataset(join(dir, 'test_hot_stage1.arrow'));
  assert.deepEqual(one.parts.map((p) => p.name), ['test_hot_stage1']);
});
