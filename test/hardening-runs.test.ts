/**
 * Hardening of runs and outputs: datasets written all-or-nothing with an identity, test
 * campaigns seen in training, output paths checked before work, file-system errors naming
 * the path, training that diverges or has nothing to train on, model folders of another
 * run, and signals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writePart } from '../src/data/arrow-part.js';
import { writeSchema } from '../src/data/dataset.js';
import { synthesize } from '../src/data/synth.js';
import { generateRaw, shapeAtScale } from '../src/raw/generate.js';
import { runCli } from './helpers/cli.js';
import { interruptWhen, leftovers, snapshot } from './helpers/outputs.js';
import { tempDir } from './helpers/fixtures.js';
import { fixture } from './helpers/pickles.js';
import { randomPart, TINY_SCHEMA } from './helpers/tiny.js';
import { tinyDataset, tinyOverrides } from './helpers/tiny-dataset.js';

const small = ['hyper_parameters.embed_dim=4', 'hyper_parameters.mlp_dims=[6]', 'hyper_parameters.num_expert=2', 'hyper_parameters.num_output=2', 'hyper_parameters.batch_size=64'];
const o = (...kv: string[]): string[] => ['-o', ...kv];

test('prepare, synth and import-pkl: a failed run leaves the previous dataset complete and no temporary folder', async (t) => {
  const root = tempDir(t);
  const ds = join(root, 'ds');
  await synthesize({ out: ds, preset: 'tiny', seed: 1 });
  const before = snapshot(ds);
  // raw files that break only at the end of userFeature.data: prepare has started writing by then
  const raw = join(root, 'raw');
  generateRaw(raw, shapeAtScale(0.0005), 1);
  appendFileSync(join(raw, 'userFeature.data'), 'not a user line\n');
  const p = runCli('prepare', '--raw', raw, '--out', ds);
  assert.equal(p.code, 1);
  assert.match(p.stderr, /userFeature\.data/);
  assert.deepEqual(snapshot(ds), before);
  assert.deepEqual(leftovers(root), []);
  // a re-import that fails on its second pickle keeps the parts that were good before
  const imp = join(root, 'imp');
  assert.equal(runCli('import-pkl', fixture('proto5_numpy2'), '--out', imp, '--name', 'test_hot_stage1').code, 0);
  const good = snapshot(imp);
  const bad = runCli('import-pkl', fixture('proto5_numpy2'), fixture('proto2_int64index'), '--out', imp);
  assert.equal(bad.code, 1);
  assert.deepEqual(snapshot(imp), good);
  assert.deepEqual(leftovers(root), []);
});

test('dataset outputs are checked before work: a file, a folder of other files, the input itself', (t) => {
  const root = tempDir(t);
  const file = join(root, 'file');
  writeFileSync(file, 'x');
  const r1 = runCli('synth', '--out', file, '--preset', 'tiny');
  assert.equal(r1.stderr, `metaheac: error: ${file}: exists and is not a folder (the output is a dataset folder)\n`);
  const r2 = runCli('synth', '--out', join(file, 'ds'), '--preset', 'tiny');
  assert.equal(r2.code, 1);
  assert.equal(r2.stderr, `metaheac: error: ${join(file, 'ds')}: cannot be created, ${file} is a file, not a folder (ENOTDIR)\n`);
  assert.equal(r2.stderr.split('\n').length, 2, 'one line');
  const notes = join(root, 'notes');
  mkdirSync(notes);
  writeFileSync(join(notes, 'todo.txt'), 'mine');
  const r3 = runCli('synth', '--out', notes, '--preset', 'tiny');
  assert.match(r3.stderr, /notes: holds todo\.txt, not part of a dataset; the output folder is replaced as a whole/);
  assert.equal(readFileSync(join(notes, 'todo.txt'), 'utf8'), 'mine');
  const raw = join(root, 'raw');
  generateRaw(raw, shapeAtScale(0.0005), 1);
  const r4 = runCli('prepare', '--raw', raw, '--out', raw);
  assert.match(r4.stderr, /the output folder .*raw holds the input .*raw[/\\](userFeature\.data|adFeature\.csv|train\.csv|test1_truth\.csv)/);
  mkdirSync(join(root, 'imp'));
  copyFileSync(fixture('proto5_numpy2'), join(root, 'imp', 'x.pkl'));
  const r5 = runCli('import-pkl', join(root, 'imp', 'x.pkl'), '--out', join(root, 'imp'));
  assert.match(r5.stderr, /the output folder .*imp holds the input/);
});

test('parts of two datasets mixed in one folder are refused by inspect, train and infer', async (t) => {
  const root = tempDir(t);
  const a = join(root, 'a');
  const b = join(root, 'b');
  await synthesize({ out: a, preset: 'tiny', seed: 1 });
  await synthesize({ out: b, preset: 'tiny', seed: 2 });
  assert.equal(runCli('inspect', a).code, 0);
  copyFileSync(join(b, 'test_hot_stage2.arrow'), join(a, 'test_hot_stage2.arrow'));
  copyFileSync(join(b, 'train_stage1.arrow'), join(a, 'extra_stage1.arrow'));
  copyFileSync(join(b, 'test_hot_stage2.arrow'), join(a, 'extra_stage2.arrow'));
  const i = runCli('inspect', a);
  assert.equal(i.code, 1);
  assert.match(i.stderr, /test_hot_stage2\.arrow: its content differs from the part of dataset [0-9a-f]{12} .*parts of different datasets are mixed in/);
  copyFileSync(join(b, 'train_stage1.arrow'), join(a, 'train_stage1.arrow'));
  const tr = runCli('train', ...o(`runner.train_data_dir=${a}`, `runner.model_save_path=${join(root, 'm')}`, ...small));
  assert.equal(tr.code, 1);
  assert.match(tr.stderr, /train_stage1\.arrow: its content differs from the part of dataset/);
  const inf = runCli('infer', ...o(`runner.test_data_dir=${join(a, 'extra_stage1.arrow')}`, `runner.model_save_path=${join(root, 'm')}`, ...small));
  assert.equal(inf.code, 1);
  assert.match(inf.stderr, /extra_stage1\.arrow: not listed in .*manifest\.json/);
});

test('a test campaign that also appears in training: train and infer refuse, or warn with --allow-overlap', async (t) => {
  const root = tempDir(t);
  const a = join(root, 'a');
  const b = join(root, 'b');
  await synthesize({ out: a, preset: 'tiny', seed: 1 });
  await synthesize({ out: b, preset: 'tiny', seed: 2 });
  const m = join(root, 'm');
  const args = o(`runner.train_data_dir=${a}`, `runner.test_data_dir=${b}`, `runner.model_save_path=${m}`, 'runner.infer_train_epoch=1', ...small);
  // b's test campaigns share aids with a's training campaigns
  const tr = runCli('train', ...args, '--threads', '1');
  assert.equal(tr.code, 1);
  assert.match(tr.stderr, /b[/\\]test_\w+_stage\d\.arrow: test campaigns? aid .* also in training \(.*a[/\\]train_stage1\.arrow\).*--allow-overlap/);
  const tr2 = runCli('train', ...args, '--threads', '1', '--allow-overlap');
  assert.equal(tr2.code, 0, tr2.stderr);
  assert.match(tr2.stderr, /warning: .*also in training/);
  // infer reads the training campaigns from run.json beside the checkpoints
  const run = JSON.parse(readFileSync(join(m, 'run.json'), 'utf8')) as { train_aids: number[]; epochs_done: number[] };
  assert.deepEqual(run.epochs_done, [0]);
  assert.ok(run.train_aids.length > 0);
  const inf = runCli('infer', ...args, '--threads', '1');
  assert.equal(inf.code, 1);
  assert.match(inf.stderr, /split hot .*also in training \(.*run\.json, trained on .*a[/\\]train_stage1\.arrow\)/);
  assert.ok(!existsSync(join(m, '0', 'metrics.json')));
  const inf2 = runCli('infer', ...args, '--threads', '1', '--allow-overlap', '--json');
  assert.equal(inf2.code, 0, inf2.stderr);
  // the dataset's own test splits are disjoint from its training campaigns
  const own = runCli('infer', ...o(`runner.test_data_dir=${a}`, `runner.model_save_path=${m}`, 'runner.infer_train_epoch=1', ...small), '--threads', '1');
  assert.equal(own.code, 0, own.stderr);
});

test('training that diverges stops naming the step and the tensor; finished epochs are kept, nothing non-finite is written', async (t) => {
  const data = await tinyDataset();
  const m = join(tempDir(t), 'm');
  // one meta-step per epoch (batch above the rows); Adam's step of 1e30 leaves every weight
  // finite after epoch 0 and overflows the forward pass of epoch 1
  const r = runCli('train', ...o(...tinyOverrides(data, m), 'runner.epochs=3', 'hyper_parameters.batch_size=100000', 'hyper_parameters.optimizer.global_learning_rate=1e30'), '--threads', '1');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^metaheac: error: training diverged at epoch 1 step 1\/1: the loss is NaN; tensor "[\w.]+" holds NaN at element \d+; the last good checkpoint .*[/\\]0[/\\]model\.safetensors is kept; lower /m);
  assert.ok(existsSync(join(m, '0', 'model.safetensors')));
  assert.ok(!existsSync(join(m, '1')));
  assert.deepEqual(leftovers(m), []);
  const run = JSON.parse(readFileSync(join(m, 'run.json'), 'utf8')) as { epochs_done: number[] };
  assert.deepEqual(run.epochs_done, [0]);
  assert.equal(readFileSync(join(m, 'loss.csv'), 'utf8').trim().split('\n').length, 2, 'the loss curve of epoch 0');
  // diverging at once: no checkpoint at all
  const m2 = join(tempDir(t), 'm2');
  const r2 = runCli('train', ...o(...tinyOverrides(data, m2), 'hyper_parameters.local_lr=1e30', 'hyper_parameters.optimizer.global_learning_rate=1e30'), '--threads', '1');
  assert.match(r2.stderr, /training diverged at epoch 0 step \d+\/\d+: .*no checkpoint was written/);
  assert.ok(!existsSync(join(m2, '0')));
});

test('nothing to train on: an empty part, task_count above the tasks; clear errors, no checkpoint', async (t) => {
  const root = tempDir(t);
  const empty = join(root, 'empty');
  mkdirSync(empty);
  writeSchema(empty, TINY_SCHEMA);
  await writePart(join(empty, 'train_stage1.arrow'), TINY_SCHEMA, randomPart(TINY_SCHEMA, 0, 1));
  const m = join(root, 'm');
  const r = runCli('train', ...o(...tinyOverrides(empty, m)));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /train_stage1\.arrow: no rows to train on/);
  assert.ok(!existsSync(join(m, '0')));
  const data = await tinyDataset();
  const r2 = runCli('train', ...o(...tinyOverrides(data, m), 'hyper_parameters.task_count=7'));
  assert.match(r2.stderr, /hyper_parameters\.task_count is 7, but .*train_stage1\.arrow holds 6 training task\(s\); lower task_count, or set hyper_parameters\.task_replacement: true/);
  const r3 = runCli('train', ...o(...tinyOverrides(data, m), 'runner.epochs=1', 'hyper_parameters.task_count=7', 'hyper_parameters.task_replacement=true'), '--threads', '1');
  assert.equal(r3.code, 0, r3.stderr);
});

test('a model folder of another run is refused; the same run again rewrites its epochs and drops their stale metrics', async (t) => {
  const data = await tinyDataset();
  const root = tempDir(t);
  const m = join(root, 'm');
  const base = [...tinyOverrides(data, m), 'runner.epochs=1', 'runner.infer_train_epoch=1'];
  assert.equal(runCli('train', ...o(...base), '--threads', '1').code, 0);
  assert.equal(runCli('infer', ...o(...base), '--threads', '1').code, 0);
  assert.ok(existsSync(join(m, '0', 'metrics.json')));
  const other = runCli('train', ...o(...base, 'hyper_parameters.embed_dim=8'), '--threads', '1');
  assert.equal(other.code, 1);
  assert.match(other.stderr, /m: holds the checkpoints of another run \(hyper_parameters\.embed_dim: 4 there, 8 now\); choose another runner\.model_save_path/);
  const ck = readFileSync(join(m, '0', 'model.safetensors'));
  const again = runCli('train', ...o(...base), '--threads', '1');
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(readFileSync(join(m, '0', 'model.safetensors')), ck, 'the same run writes the same checkpoint');
  assert.ok(!existsSync(join(m, '0', 'metrics.json')), 'metrics of the replaced checkpoint are gone');
  // checkpoints without run.json (another run, an older version)
  const legacy = join(root, 'legacy');
  mkdirSync(join(legacy, '0'), { recursive: true });
  copyFileSync(join(m, '0', 'model.safetensors'), join(legacy, '0', 'model.safetensors'));
  const r = runCli('train', ...o(...tinyOverrides(data, legacy)));
  assert.match(r.stderr, /legacy: holds checkpoints \(0\/\) without run\.json/);
  // a file where the folder belongs, a folder inside the data
  const f = join(root, 'f');
  writeFileSync(f, '');
  assert.match(runCli('train', ...o(...tinyOverrides(data, f))).stderr, /f: runner\.model_save_path is a file; it must be a folder/);
  assert.match(runCli('train', ...o(...tinyOverrides(data, join(data, 'models')))).stderr, /runner\.model_save_path .* is inside the data folder/);
});

test('predict: --out equal to --data, a folder, or under a file is refused before any work', async (t) => {
  const data = await tinyDataset();
  const root = tempDir(t);
  const part = join(data, 'test_cold_stage2.arrow');
  const before = readFileSync(part);
  const r = runCli('predict', '--model', join(root, 'none.safetensors'), '--data', part, '--out', part);
  assert.equal(r.stderr, `metaheac: error: --out ${part} is the input ${part}; writing it would destroy the input\n`);
  assert.deepEqual(readFileSync(part), before);
  assert.match(runCli('predict', '--model', 'x', '--data', part, '--out', root).stderr, /--out .* is a folder; expected a file path/);
  assert.match(runCli('predict', '--model', 'x', '--data', part, '--out', join(part, 'p.csv')).stderr, /p\.csv: cannot be written, .*test_cold_stage2\.arrow is a file, not a folder \(ENOTDIR\)/);
});

test('SIGINT during training: completed epochs kept with their record, no temporary file left', async (t) => {
  const data = await tinyDataset();
  const m = join(tempDir(t), 'm');
  const r = await interruptWhen(['train', ...o(...tinyOverrides(data, m), 'runner.epochs=1000'), '--threads', '1'], () => existsSync(join(m, '2', 'model.safetensors')), 'SIGINT');
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /interrupted \(SIGINT\): temporary files removed; completed outputs kept/);
  assert.deepEqual(leftovers(m), []);
  const run = JSON.parse(readFileSync(join(m, 'run.json'), 'utf8')) as { epochs_done: number[] };
  assert.ok(run.epochs_done.length >= 3 && run.epochs_done.length < 1000);
  for (const e of run.epochs_done) assert.ok(existsSync(join(m, String(e), 'model.safetensors')), `epoch ${e}`);
  // the kept checkpoints are complete: infer reads the last one
  const last = run.epochs_done.at(-1)!;
  const inf = runCli('infer', ...o(...tinyOverrides(data, m), `runner.infer_start_epoch=${last}`, `runner.infer_end_epoch=${last + 1}`, 'runner.infer_train_epoch=1'), '--threads', '1');
  assert.equal(inf.code, 0, inf.stderr);
});

test('SIGTERM during synth: the previous dataset stays, the temporary folder is removed; a killed run\'s leftovers are swept next time', async (t) => {
  const root = tempDir(t);
  const ds = join(root, 'ds');
  await synthesize({ out: ds, preset: 'tiny', seed: 1 });
  const before = snapshot(ds);
  const tmpMade = () => readdirSync(root).some((f) => f.startsWith('.ds.tmp-'));
  const r = await interruptWhen(['synth', '--out', ds, '--preset', 'demo', '--scale', '0.5'], tmpMade, 'SIGTERM');
  assert.equal(r.code, 143, r.stderr);
  assert.deepEqual(snapshot(ds), before);
  assert.deepEqual(readdirSync(root), ['ds']);
  // SIGKILL cannot be handled: the temporary folder stays until the next run writing there
  const k = await interruptWhen(['synth', '--out', ds, '--preset', 'demo', '--scale', '0.5'], tmpMade, 'SIGKILL');
  assert.equal(k.code, null);
  assert.deepEqual(snapshot(ds), before);
  assert.equal(readdirSync(root).filter((f) => f.startsWith('.ds.tmp-')).length, 1);
  assert.equal(runCli('synth', '--out', ds, '--preset', 'tiny', '--seed', '3').code, 0);
  assert.deepEqual(readdirSync(root), ['ds']);
});
