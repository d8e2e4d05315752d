/**
 * Hardening of outputs, round two: an output that is (or links to) one of the run's inputs is
 * refused by every command before any work, naming both, and the input is left as it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, linkSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { MAIN, runCli } from './helpers/cli.js';
import { synthesize } from '../src/data/synth.js';
import { tempDir } from './helpers/fixtures.js';
import { tinyDataset, tinyOverrides } from './helpers/tiny-dataset.js';

const destroys = (out: string, input: string, how = 'is'): RegExp =>
  new RegExp(`^metaheac: error: .*${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} ${how} the input ${input.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}; writing it would destroy the input\n$`);

test('an output equal to an input, a link or a hard link of one is refused by every file-writing command, the input kept', (t) => {
  const root = tempDir(t);
  const ck = join(root, 'c.safetensors');
  const pt = join(root, 'X.pt');
  const part = join(root, 'p.arrow');
  const metrics = join(root, 'metrics.json');
  for (const f of [ck, pt, part, metrics]) writeFileSync(f, `the bytes of ${f}`);
  const hard = join(root, 'hard.safetensors');
  linkSync(ck, hard);
  const soft = join(root, 'soft.safetensors');
  symlinkSync(ck, soft);
  const cases: [string[], string, string, string][] = [
    [['export-onnx', '--model', ck, '--out', ck], ck, ck, 'is'],
    [['export-onnx', '--model', ck, '--out', hard], hard, ck, 'is a hard link of'],
    [['export-onnx', '--model', ck, '--out', soft], soft, ck, 'is'],
    [['export-onnx', '--model', ck, '--out', join(root, '.', 'c.safetensors')], join(root, '.', 'c.safetensors'), ck, 'is'],
    [['import-checkpoint', pt, '-m', join(root, 'none.yaml'), '--out', pt], pt, pt, 'is'],
    [['meta-grad', '--model', ck, '--support', part, '--query', part, '--order', '1', '--out', part], part, part, 'is'],
    [['meta-grad', '--model', ck, '--support', part, '--query', part, '--order', '1', '--out', hard], hard, ck, 'is a hard link of'],
    [['predict', '--model', ck, '--data', part, '--out', hard], hard, ck, 'is a hard link of'],
    [['report', metrics, '--out', metrics], metrics, metrics, 'is'],
  ];
  const before = Object.fromEntries([ck, pt, part, metrics].map((f) => [f, readFileSync(f, 'utf8')]));
  for (const [args, out, input, how] of cases) {
    const r = runCli(...args);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, destroys(out, input, how), args.join(' '));
  }
  for (const [f, text] of Object.entries(before)) assert.equal(readFileSync(f, 'utf8'), text, f);
});

test('folder outputs: merge into a shard folder, an expand campaign folder holding the pool, a dataset folder holding its raw files', (t) => {
  const root = tempDir(t);
  const shard = join(root, 'shard');
  mkdirSync(join(shard, 'c1'), { recursive: true });
  writeFileSync(join(shard, 'c1', 'summary.json'), '{}');
  const m = runCli('merge', shard, '--out', shard);
  assert.equal(m.code, 1);
  assert.match(m.stderr, /campaign "c1"'s output folder .*shard[/\\]c1 is the input .*shard[/\\]c1; writing it would destroy the input/);
  // the pool kept inside the folder that campaign c1's audience replaces
  const data = join(root, 'data');
  mkdirSync(join(root, 'out', 'c1'), { recursive: true });
  mkdirSync(data);
  writeFileSync(join(data, 'schema.json'), JSON.stringify({ user_single: [{ name: 'age', max_idx: 3 }], user_multi: [], task: [{ name: 'adv', max_idx: 3 }] }));
  const pool = join(root, 'out', 'c1', 'pool.arrow');
  writeFileSync(pool, 'pool');
  const camp = join(root, 'c1.yaml');
  writeFileSync(camp, 'name: c1\ntask: {adv: 1}\ncodes: true\nseeds: [1, 2]\n');
  const e = runCli('expand', '--campaign', camp, '--model', join(root, 'none.safetensors'), '--users', pool, '--out', join(root, 'out'), '-o', `runner.train_data_dir=${data}`);
  assert.equal(e.code, 1);
  assert.match(e.stderr, /campaign "c1"'s output folder .*out[/\\]c1 holds the input .*pool\.arrow; writing it would destroy the input/);
  assert.equal(readFileSync(pool, 'utf8'), 'pool');
  // a dataset folder that is a link to the folder of its inputs
  const raw = join(root, 'raw');
  mkdirSync(raw);
  for (const f of ['userFeature.data', 'adFeature.csv', 'train.csv', 'test1_truth.csv']) copyFileSync(camp, join(raw, f));
  symlinkSync(raw, join(root, 'rawlink'));
  const p = runCli('prepare', '--raw', raw, '--out', join(root, 'rawlink'));
  assert.equal(p.code, 1);
  assert.match(p.stderr, /the output folder .*rawlink holds the input .*raw[/\\]/);
});

test('serve ends after a failed start with one line and exit 1: a missing or corrupt model, a port out of range', async (t) => {
  const root = tempDir(t);
  await synthesize({ out: root, preset: 'tiny', seed: 1 });
  const corrupt = join(root, 'c.safetensors');
  writeFileSync(corrupt, 'not a checkpoint');
  const cases: [string[], RegExp][] = [
    [['--model', join(root, 'none.safetensors'), '--port', '0'], /^metaheac: error: .*none\.safetensors: cannot open \(ENOENT\)\n$/],
    [['--model', corrupt, '--port', '0'], /^metaheac: error: .*c\.safetensors: .*\n$/],
    [['--model', corrupt, '--port', '99999'], /expected a port from 0 to 65535, got "99999"/],
  ];
  for (const [args, want] of cases) {
    // before the fix the process never ended: the timeout turns that into a failure
    const r = spawnSync(process.execPath, [MAIN, 'serve', ...args, '-o', `runner.train_data_dir=${root}`], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, want);
  }
});

test('an output folder that cannot be made (under /proc) is refused before any work, never a hang', { skip: process.platform !== 'linux' && 'needs /proc' }, async (t) => {
  const data = await tinyDataset();
  const m = join(tempDir(t), 'm');
  // Node's recursive mkdir never returns there: the timeout turns a hang into a failure
  const run = (...args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  const r = run('infer', '-o', ...tinyOverrides(data, m), 'runner.metrics_path=/proc/nope/metrics.json');
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stderr, 'metaheac: error: /proc/nope: cannot create the folder (ENOENT: no such file or directory)\n');
  const p = run('predict', '--model', join(m, 'none'), '--data', join(data, 'test_hot_stage1.arrow'), '--out', '/proc/nope/p.csv');
  assert.equal(p.status, 1, p.stderr);
  assert.match(p.stderr, /\/proc\/nope: cannot create the folder \(ENOENT/);
});

test('inputs that are devices, FIFOs or folders are refused before reading; a huge bad line is not echoed whole', { skip: process.platform !== 'linux' && 'needs /dev/zero and mkfifo' }, async (t) => {
  const root = tempDir(t);
  const data = join(root, 'data');
  await synthesize({ out: data, preset: 'tiny', seed: 1 });
  const fifo = join(root, 'fifo');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const run = (...args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  const campaign = (seeds: string): string => {
    const p = join(root, `c${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(p, `name: c\ntask: {advertiserId: 1, adCategoryId: 0}\ncodes: true\nseeds: ${seeds}\n`);
    return p;
  };
  const expand = (...extra: string[]) => run('expand', '--model', join(root, 'none.safetensors'), '--out', join(root, 'out'), '-o', `runner.train_data_dir=${data}`, ...extra);
  const cases: [ReturnType<typeof run>, RegExp][] = [
    [expand('--campaign', campaign('/dev/zero')), /^metaheac: error: \/dev\/zero: not a regular file \(a device, FIFO or socket\); inputs must be files\n$/],
    [expand('--campaign', campaign(fifo)), /fifo: not a regular file \(a device, FIFO or socket\)/],
    [expand('--campaign', fifo), /fifo: not a regular file/],
    [expand('--campaign', campaign('[1]'), '--users', '/dev/zero'), /\/dev\/zero: not a regular file/],
    [run('predict', '--model', '/dev/zero', '--data', join(data, 'test_hot_stage1.arrow'), '--out', join(root, 'p.csv')), /\/dev\/zero: not a regular file/],
    [run('predict', '--model', root, '--data', join(data, 'test_hot_stage1.arrow'), '--out', join(root, 'p.csv')), /: not a regular file \(a folder\)/],
  ];
  for (const [r, want] of cases) {
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, want);
  }
  const huge = join(root, 'huge.txt');
  writeFileSync(huge, `1\nx${'9'.repeat(1_000_000)}\n`);
  const h = expand('--campaign', campaign(huge));
  assert.equal(h.status, 1);
  assert.ok(h.stderr.length < 300, h.stderr.slice(0, 300));
  assert.match(h.stderr, /huge\.txt: line 2: expected a uid .*found "x9{79}\.\.\." \(1000001 characters\)/);
});
