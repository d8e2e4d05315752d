/**
 * The PaddleRec/Tencent path end to end: generate-raw → prepare (parts with uids, the user
 * table, the task vocabulary) → train → expand on a campaign file written from raw ad values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateRaw, shapeAtScale } from '../src/raw/generate.js';
import { prepareRaw } from '../src/raw/prepare.js';
import { loadPart, datasetFiles } from '../src/data/dataset.js';
import { countRows } from '../src/data/arrow-read.js';
import { readTaskVocab } from '../src/data/task-vocab.js';
import { loadConfig } from '../src/config/config.js';
import { createOps } from '../src/kernels/index.js';
import { runTrain, checkpointPath } from '../src/pipeline/run-train.js';
import { expandCampaigns, loadCampaignFile } from '../src/expand/index.js';

const root = mkdtempSync(join(tmpdir(), 'mh-expand-raw-'));
const raw = join(root, 'raw');
const data = join(root, 'data');
generateRaw(raw, shapeAtScale(0.0002), 5);
const summary = await prepareRaw({ rawDir: raw, outDir: data });

test('prepare writes the user table (every user line), the task vocabulary, and uids in the parts', async () => {
  const lines = readFileSync(join(raw, 'userFeature.data'), 'utf8').trim().split('\n');
  const files = datasetFiles(join(data, 'schema.json'));
  assert.equal(files.users, join(data, 'users.arrow'));
  assert.equal(await countRows(files.users!), lines.length - Object.values(summary.userTable.leftOut).reduce((a, b) => a + b, 0));
  assert.equal(summary.userTable.users, await countRows(files.users!));
  const vocab = readTaskVocab(files.taskVocab!);
  assert.deepEqual(Object.keys(vocab.fields), summary.schema.task.map((f) => f.name));
  summary.schema.task.forEach((f) => assert.equal(vocab.fields[f.name]!.length, f.maxIdx + 1));
  const part = await loadPart(join(data, 'test_hot_stage1.arrow'));
  const csv = readFileSync(join(raw, 'train.csv'), 'utf8').trim().split('\n').slice(1);
  const uidsOfFile = new Set(csv.map((l) => Number(l.split(',')[1])));
  assert.ok(part.extra.uid && [...part.extra.uid].every((u) => uidsOfFile.has(u)), 'every row carries a uid of train.csv');
});

test('expand a campaign given in raw ad values: codes as in the parts, an unseen value reported', async () => {
  const out = join(root, 'model');
  const cfg = loadConfig(null, [
    `runner.train_data_dir=${data}`,
    `runner.model_save_path=${out}`,
    'runner.threads=1',
    'hyper_parameters.max_idxs=null',
    'hyper_parameters.embed_dim=4',
    'hyper_parameters.mlp_dims=[4]',
    'hyper_parameters.num_expert=2',
    'hyper_parameters.num_output=2',
    'hyper_parameters.batch_size=64',
  ]);
  const ops = await createOps(1);
  await runTrain(cfg, ops);
  await ops.close();
  // a hot test task: its raw ad values from adFeature.csv, its seeds from train.csv
  const task = summary.tasks.find((t) => t.split !== 'train' && t.positives > 0)!;
  const header = readFileSync(join(raw, 'adFeature.csv'), 'utf8').trim().split('\n');
  const cols = header[0]!.split(',');
  const ad = header.slice(1).map((l) => l.split(',')).find((c) => Number(c[0]) === task.rawAid)!;
  const rows = readFileSync(join(raw, 'train.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
  const seeds = rows.filter((r) => r[0] === task.rawAid && r[2] === 1).map((r) => r[1]);
  writeFileSync(join(root, 'seeds.csv'), `uid\n${seeds.join('\n')}\n`);
  const taskYaml = summary.schema.task.map((f) => `  ${f.name}: ${ad[cols.indexOf(f.name)]}`).join('\n');
  writeFileSync(join(root, 'c.yaml'), `name: raw_campaign\ntask:\n${taskYaml}\nseeds: seeds.csv\n`);
  const [res] = await expandCampaigns({ config: cfg, model: checkpointPath(out, 0), campaigns: [join(root, 'c.yaml')], top: 20, outDir: join(root, 'expand'), threads: 1 });
  const part = await loadPart(join(data, `test_${task.split}_stage1.arrow`));
  const r0 = part.tasks.find((t) => t.aid === task.aid)!.rows[0]!;
  const nt = summary.schema.task.length;
  assert.deepEqual(Object.values(res!.summary.task.codes), [...part.task.subarray(r0 * nt, r0 * nt + nt)]);
  assert.equal(res!.summary.seeds.found, new Set(seeds).size);
  assert.equal(res!.audience.uid.length, 20);
  assert.match(readFileSync(join(root, 'expand', 'raw_campaign', 'audience.csv'), 'utf8'), /^uid,score,rank\n\d+,/);

  // a raw value never seen in training: the missing code where the field has one, else an error naming the key
  const vocab = readTaskVocab(join(data, 'task_vocab.json'));
  const field = summary.schema.task[0]!.name;
  const c = loadCampaignFile(join(root, 'c.yaml'));
  const unseen = { ...c, task: { ...c.task, [field]: 987654321 } };
  const missingCode = vocab.fields[field]!.indexOf(null);
  if (missingCode >= 0) {
    const [r] = await expandCampaigns({ config: cfg, model: checkpointPath(out, 0), campaigns: [unseen], top: 5, outDir: null, threads: 1 });
    assert.deepEqual(r!.summary.task.outOfVocabulary, [{ field, value: 987654321 }]);
    assert.equal(r!.summary.task.codes[field], missingCode);
  } else {
    await assert.rejects(expandCampaigns({ config: cfg, model: checkpointPath(out, 0), campaigns: [unseen], top: 5, outDir: null }), new RegExp(`key "task.${field}": raw value 987654321 was never seen.*no missing code`));
  }
});
