import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateRaw, REAL_SHAPE, shapeAtScale } from '../src/raw/generate.js';
import { prepareRaw } from '../src/raw/prepare.js';

function inTemp<T>(fn: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'mh-gen-'));
  return Promise.resolve(fn(dir)).finally(() => rmSync(dir, { recursive: true, force: true }));
}

const files = (dir: string) => Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f))]));

test('shapeAtScale scales users and rows, keeps the aids', () => {
  const s = shapeAtScale(0.1);
  assert.deepEqual([s.users, s.stage1Rows, s.stage2Rows, s.aids], [1_142_004, 879_881, 226_599, REAL_SHAPE.aids]);
  assert.throws(() => shapeAtScale(0), RangeError);
});

test('generateRaw is deterministic for a seed and prepare reads its output', async () => {
  const shape = shapeAtScale(0.0002);
  await inTemp(async (dir) => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    const c = join(dir, 'c');
    const bytes = generateRaw(a, shape, 3);
    generateRaw(b, shape, 3);
    generateRaw(c, shape, 4);
    assert.deepEqual(files(a), files(b));
    assert.notDeepEqual(files(a)['train.csv'], files(c)['train.csv']);
    assert.equal(bytes.users, readFileSync(join(a, 'userFeature.data')).length);
    assert.match(readFileSync(join(a, 'train.csv'), 'utf8').split('\n')[0]!, /^aid,uid,label$/);

    const s = await prepareRaw({ rawDir: a, outDir: join(dir, 'out') });
    assert.deepEqual([s.rows.stage1, s.rows.stage2], [shape.stage1Rows, shape.stage2Rows]);
    assert.equal(s.users.found, s.users.needed);
    assert.equal(s.users.linesRead, shape.users);
    assert.deepEqual(s.missing.aids, []);
    const written = Object.values(s.parts).reduce((n, p) => n + p.rows, 0);
    assert.equal(written + s.rows.trainStage2NotWritten, shape.stage1Rows + shape.stage2Rows);
  });
});
