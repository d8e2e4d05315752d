import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './helpers/cli.js';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers/fixtures.js';
import { fixture, writePickle } from './helpers/pickles.js';

const run = runCli;

test('import-pkl --json writes the dataset and reports parts, schema and peak memory', (t) => {
  const out = join(tempDir(t), 'ds');
  const r = run('import-pkl', fixture('proto5_numpy2'), '--out', out, '--name', 'train_stage1', '--max-idxs', '[[50,70000],[8,30],[9]]', '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.deepEqual(
    j.parts.map((p: { name: string; rows: number }) => [p.name, p.rows]),
    [['train_stage1', 5]],
  );
  assert.deepEqual(j.schema.user_multi, [
    { name: 'kw', max_idx: 8, width: 5 },
    { name: 'tp', max_idx: 30, width: 2 },
  ]);
  assert.ok(j.peak_rss_mib > 0);
  assert.ok(existsSync(join(out, 'train_stage1.arrow')) && existsSync(join(out, 'schema.json')));
  const text = run('import-pkl', fixture('proto3_rangeindex'), '--out', join(out, '..', 'ds2'), '--exclude', 'topic1');
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /proto3_rangeindex\s+4\s+2\s+50\.00%/);
  assert.match(text.stdout, /user multi: interest1 9 \[4\]/);
});

test('import-pkl errors exit 1 with one line', (t) => {
  const dir = tempDir(t);
  const hostile = writePickle(dir, 'evil.pkl', Buffer.from('\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.', 'latin1'));
  const e = run('import-pkl', hostile, '--out', join(dir, 'o'));
  assert.equal(e.code, 1);
  assert.match(e.stderr, /^metaheac: error: .*evil\.pkl: pickle global "os\.system" is not allowed.*\n$/);
  assert.equal(e.stderr.split('\n').length, 2);
  const bad = run('import-pkl', fixture('proto5_numpy2'), '--out', join(dir, 'o'), '--max-idxs', '[[1],[2]]');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--max-idxs: expected three lists of non-negative ints/);
  const cfg = join(dir, 'c.yaml');
  writeFileSync(cfg, 'hyper_parameters:\n  embed_dim: 8\n');
  const noMax = run('import-pkl', fixture('proto5_numpy2'), '--out', join(dir, 'o'), '--config', cfg);
  assert.equal(noMax.code, 1);
  assert.match(noMax.stderr, /c\.yaml: no hyper_parameters\.max_idxs/);
  const both = run('import-pkl', fixture('proto5_numpy2'), '--out', join(dir, 'o'), '--config', cfg, '--max-idxs', '[[],[],[]]');
  assert.match(both.stderr, /give --max-idxs or --config, not both/);
  assert.equal(run('import-pkl', '--help').code, 0);
});

test('import-pkl --config takes max_idxs from a PaddleRec config', (t) => {
  const dir = tempDir(t);
  const cfg = join(dir, 'c.yaml');
  writeFileSync(cfg, 'hyper_parameters:\n  max_idxs: [[50, 70000], [8, 30], [9]]\n');
  const r = run('import-pkl', fixture('proto4_legacy'), '--out', join(dir, 'o'), '--config', cfg, '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).schema.task, [{ name: 'campaignId', max_idx: 9 }]);
});
