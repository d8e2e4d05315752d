/** The metaheac command: help, one-line errors with exit code 1, predict on a trained checkpoint. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { synthesize } from '../src/data/synth.js';
import { MAIN, runCli } from './helpers/cli.js';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tinyDataset, tinyOverrides } from './helpers/tiny-dataset.js';

function cli(args: string[]): { code: number; out: string; err: string } {
  const r = runCli(...args);
  return { code: r.code ?? -1, out: r.stdout, err: r.stderr };
}

test('every command has --help', () => {
  for (const c of ['demo', 'train', 'infer', 'report', 'expand', 'merge', 'serve', 'worker', 'predict', 'export-onnx', 'synth', 'inspect', 'prepare', 'import-pkl', 'generate-raw', 'meta-grad', 'import-checkpoint']) {
    const r = cli([c, '--help']);
    assert.equal(r.code, 0, `${c} --help`);
    assert.match(r.out, /Usage: metaheac/);
  }
});

test('bad input: one line, exit code 1, no stack trace', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mh-cli-'));
  const r = cli(['train', '-o', 'runner.train_data_dir=' + join(dir, 'nope'), '-o', 'hyper_parameters.embed_dimm=3']);
  assert.equal(r.code, 1);
  assert.match(r.err, /^metaheac: error: .*unknown key "hyper_parameters\.embed_dimm" \(did you mean "hyper_parameters\.embed_dim"\?\)\n$/);
  const r2 = cli(['train', '-o', 'runner.train_data_dir=' + join(dir, 'nope')]);
  assert.equal(r2.code, 1);
  assert.match(r2.err, /nope: no such file or directory/);
  assert.doesNotMatch(r2.err, /at .*\.js:\d+/);
});

test('train, then predict with the general model, in row order', async () => {
  const data = await tinyDataset();
  const out = mkdtempSync(join(tmpdir(), 'mh-cli-out-'));
  const o = tinyOverrides(data, out).flatMap((kv) => ['-o', kv]);
  const t = cli(['train', ...o, '--json', '--threads', '1']);
  assert.equal(t.code, 0, t.err);
  const res = JSON.parse(t.out) as { checkpoints: string[] };
  const csvPath = join(out, 'pred.csv');
  const p = cli(['predict', '--model', res.checkpoints[1]!, '--data', join(data, 'test_cold_stage2.arrow'), '--out', csvPath, '--threads', '1']);
  assert.equal(p.code, 0, p.err);
  const lines = readFileSync(csvPath, 'utf8').trim().split('\n');
  assert.equal(lines[0], 'row,aid,label,p');
  assert.equal(lines.length, 81);
  lines.slice(1).forEach((l, i) => {
    const [row, , , prob] = l.split(',');
    assert.equal(Number(row), i);
    assert.ok(Number(prob) > 0 && Number(prob) < 1);
  });
  const inf = cli(['infer', ...o, '--threads', '1']);
  assert.equal(inf.code, 0, inf.err);
  assert.match(inf.out, /hot +3/);
  assert.match(inf.out, /cold +4/);
  assert.match(inf.out, /aid +20/);
});

test('demo: MetaHeac and the no-meta baseline on a dataset, one comparison table, an expansion (and --json)', async () => {
  const data = mkdtempSync(join(tmpdir(), 'mh-demo-data-'));
  await synthesize({ out: data, preset: 'tiny' });
  const out = mkdtempSync(join(tmpdir(), 'mh-demo-'));
  const o = tinyOverrides(data, out).flatMap((kv) => ['-o', kv]);
  const r = cli(['demo', ...o, '--threads', '1']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /model\s+hot AUC\s+hot GAUC\s+cold AUC\s+cold GAUC\s+time/);
  assert.match(r.out, /\nMetaHeac\s+0\.\d{4}/);
  assert.match(r.out, /\nno-meta\s+0\.\d{4}/);
  assert.match(r.out, /cold GAUC: MetaHeac 0\.\d{4} vs no-meta 0\.\d{4}/);
  assert.match(r.out, /audience expansion: cold campaign cold_\d+ \(\d+ seeds\), top 1000 of \d+ users/);
  for (const arm of ['MetaHeac', 'no-meta', 'general model, unadapted', 'random', 'ad-agnostic', 'category-level', 'oracle']) assert.match(r.out, new RegExp(`\\n${arm}\\s+[01]\\.\\d{4}\\s+0\\.\\d{4}`), arm);
  // the evaluation table: the reference scorers under the oracle, hot and cold
  for (const ref of ['category-level', 'ad-agnostic']) assert.match(r.out, new RegExp(`\\n${ref}(\\s+0\\.\\d{4}){4}\\n`), ref);
  assert.ok(existsSync(join(out, 'expand', 'MetaHeac')));
  // the recommended recipe validates: infer evaluates the best checkpoint
  assert.ok(existsSync(join(out, 'meta', 'best', 'metrics.json')));
  assert.ok(existsSync(join(out, 'nometa', '1', 'model.safetensors')));
  assert.ok(r.out.includes(`report (charts, every campaign): ${join(out, 'report.html')}`), r.out);
  assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /MetaHeac.*no-meta/);
  assert.match(readFileSync(join(out, "report.html"), "utf8"), /[Aa]udience expansion/);
  rmSync(join(out, 'report.html'));
  const j = cli(['demo', ...o, '--threads', '1', '--json', '--no-report']);
  assert.equal(j.code, 0, j.err);
  const res = JSON.parse(j.out) as { arms: { name: string; splits: { name: string; gauc: number }[] }[]; expansion: { rows: { name: string }[] } };
  assert.deepEqual(res.expansion.rows.map((x) => x.name), ['MetaHeac', 'no-meta', 'general model, unadapted', 'random', 'ad-agnostic', 'category-level', 'oracle']);
  assert.deepEqual(res.arms.map((a) => a.name), ['MetaHeac', 'no-meta']);
  assert.deepEqual(res.arms[0]!.splits.map((s) => s.name), ['hot', 'cold']);
  assert.ok(!existsSync(join(out, 'report.html')), '--no-report');
});

test('the README walk-through as written on generate-raw data: prepare into data/tencent, train and infer -m configs/tencent.yaml', () => {
  // the repository's layout in a temporary folder: configs/tencent.yaml points at ../data/tencent
  const root = mkdtempSync(join(tmpdir(), 'mh-raw-e2e-'));
  mkdirSync(join(root, 'configs'));
  copyFileSync(fileURLToPath(new URL('../../configs/tencent.yaml', import.meta.url)), join(root, 'configs', 'tencent.yaml'));
  const at = (...args: string[]) => {
    const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', cwd: root });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const g = at('generate-raw', '--out', 'raw', '--scale', '0.001');
  assert.equal(g.code, 0, g.err);
  assert.match(g.err, /next: metaheac prepare --raw raw --out data\/tencent --cold-threshold 2 /);
  // without the scaled threshold every test task is cold, and prepare says so
  const allCold = at('prepare', '--raw', 'raw', '--out', 'data/tencent');
  assert.equal(allCold.code, 0, allCold.err);
  assert.match(allCold.err, /note: no hot test task at --cold-threshold 2000/);
  const p = at('prepare', '--raw', 'raw', '--out', 'data/tencent', '--cold-threshold', '2');
  assert.equal(p.code, 0, p.err);
  assert.match(p.out, /max_idxs: \[\[/);
  assert.doesNotMatch(p.out, /^read /m, 'log lines go to stderr');
  assert.match(p.err, /^read train\.csv/m);
  const t = at('train', '-m', 'configs/tencent.yaml', '--threads', '1');
  assert.equal(t.code, 0, t.err);
  assert.ok(existsSync(join(root, 'output', 'tencent', '0', 'model.safetensors')));
  const i = at('infer', '-m', 'configs/tencent.yaml', '--threads', '2', '--json');
  assert.equal(i.code, 0, i.err);
  const res = JSON.parse(i.out) as { splits: { name: string; tasks: number; auc: number }[] }[];
  for (const name of ['hot', 'cold']) {
    const s = res[0]!.splits.find((x) => x.name === name);
    assert.ok(s && s.tasks > 0 && s.auc > 0 && s.auc < 1, JSON.stringify(s));
  }
  // table sizes below the data's are refused, naming the field
  const small = '[[3, 2, 800, 5, 7, 2, 1], [124, 82, 12, 263312, 49780, 10002, 9984], [78, 137, 14, 39, 32, 3]]';
  const bad = at('train', '-m', 'configs/tencent.yaml', '-o', `hyper_parameters.max_idxs=${small}`, '--threads', '1');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /max_idxs\[0\]\[2\] \(LBS\) is 800, below the dataset schema's 855/);
});
