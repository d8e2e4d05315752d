import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './helpers/cli.js';
import { join } from 'node:path';
import { tempDir } from './helpers/fixtures.js';

const run = runCli;

test('synth --json then inspect --json succeed and agree', (t) => {
  const out = join(tempDir(t), 'ds');
  const s = run('synth', '--out', out, '--preset', 'tiny', '--seed', '3', '--json');
  assert.equal(s.code, 0, s.stderr);
  const summary = JSON.parse(s.stdout);
  assert.equal(summary.preset, 'tiny');
  assert.equal(summary.seed, 3);
  const i = run('inspect', out, '--json');
  assert.equal(i.code, 0, i.stderr);
  const report = JSON.parse(i.stdout);
  for (const p of report.parts) assert.equal(p.rows, summary.parts[p.name].rows, p.name);
  assert.deepEqual(report.splits, { hot: summary.parts.test_hot_stage1.tasks, cold: summary.parts.test_cold_stage1.tasks });
});

test('errors exit 1 with one line on stderr', (t) => {
  const dir = tempDir(t);
  const missing = run('inspect', join(dir, 'nope'));
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, `metaheac: error: ${join(dir, 'nope')}: no such file or directory\n`);
  const preset = run('synth', '--out', join(dir, 'x'), '--preset', 'huge');
  assert.equal(preset.code, 1);
  assert.match(preset.stderr, /unknown preset "huge"/);
  const seed = run('synth', '--out', join(dir, 'x'), '--seed', '1.5');
  assert.equal(seed.code, 1);
  assert.match(seed.stderr, /--seed <n>' argument '1.5' is invalid. expected an integer/);
});

test('--help documents the commands', () => {
  const h = run('synth', '--help');
  assert.equal(h.code, 0);
  assert.match(h.stdout, /--cold-threshold <n>/);
});
