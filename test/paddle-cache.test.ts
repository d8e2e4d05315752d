import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { findTestSplits, loadPart } from '../src/data/dataset.js';
import { ensureArrowFromPaddleDir, paddleCacheDir } from '../src/data/importers/paddle-cache.js';
import { maxIdxs, readSchemaFile } from '../src/data/schema.js';
import { tempDir } from './helpers/fixtures.js';
import { fixture, rowsOf } from './helpers/pickles.js';

/** A PaddleRec-style test folder: freely named, stage told by the file name. */
function infersHot(root: string): string {
  const dir = join(root, 'Lookalike_data', 'infer_hot');
  mkdirSync(dir, { recursive: true });
  copyFileSync(fixture('proto4_legacy'), join(dir, 'stage1.pkl'));
  copyFileSync(fixture('proto5_numpy2'), join(dir, 'stage2.pkl'));
  return dir;
}

/** Identity of a converted file: a reconversion swaps in a new folder, hence new inodes. */
const ino = (p: string): number => statSync(p).ino;

test('a folder of pickles is converted once beside them, reused, and reconverted when a pickle changes', async (t) => {
  const dir = infersHot(tempDir(t));
  const ds = await ensureArrowFromPaddleDir(dir);
  assert.equal(ds, join(dir, '.metaheac-cache'));
  const [split] = findTestSplits(ds);
  assert.deepEqual(split, { name: 'infer_hot', stage1: join(ds, 'infer_hot_stage1.arrow'), stage2: join(ds, 'infer_hot_stage2.arrow') });
  const part = await loadPart(split!.stage2);
  assert.equal(rowsOf(part.schema, part)[4]!.kw_length, 1);
  const first = ino(split!.stage1);

  assert.equal(await ensureArrowFromPaddleDir(dir), ds);
  assert.equal(ino(split!.stage1), first, 'unchanged pickles: the cache is reused');

  // Same size and content, new mtime: the key changes, the folder is reconverted.
  const later = new Date(Date.now() + 5000);
  utimesSync(join(dir, 'stage2.pkl'), later, later);
  await ensureArrowFromPaddleDir(dir);
  const second = ino(split!.stage1);
  assert.notEqual(second, first);

  // New content under the same name.
  copyFileSync(fixture('proto4_legacy'), join(dir, 'stage2.pkl'));
  await ensureArrowFromPaddleDir(dir);
  assert.notEqual(ino(split!.stage1), second);
  assert.equal(readFileSync(join(ds, 'source.json'), 'utf8').includes('"stage2.pkl"'), true);

  // Another max_idxs is another vocabulary: reconverted, and the schema carries it.
  const m = [[60, 65535], [9, 30], [7]];
  await ensureArrowFromPaddleDir(dir, { maxIdxs: m });
  assert.deepEqual(maxIdxs(readSchemaFile(join(ds, 'schema.json'))), m);
  assert.ok(!existsSync(`${ds}.tmp-${process.pid}`) && !existsSync(`${ds}.old-${process.pid}`), 'no temp folders left');
});

test('a cache_dir holds one dataset per source folder; bad ids fail without leaving a cache', async (t) => {
  const root = tempDir(t);
  const dir = infersHot(root);
  const cache = join(root, 'cache');
  const ds = await ensureArrowFromPaddleDir(dir, { cacheDir: cache });
  assert.equal(ds, paddleCacheDir(dir, cache));
  assert.match(ds, /\/cache\/infer_hot-[0-9a-f]{12}$/);
  assert.ok(!existsSync(join(dir, '.metaheac-cache')));
  const other = join(root, 'other', 'infer_hot');
  assert.notEqual(paddleCacheDir(other, cache), ds, 'same folder name elsewhere: another cache');

  const fresh = infersHot(join(root, 'b'));
  await assert.rejects(ensureArrowFromPaddleDir(fresh, { maxIdxs: [[50, 100], [8, 30], [9]] }), { message: /stage1\.pkl: column "b" row 0: id 65535 outside \[0, 100\]/ });
  assert.ok(!existsSync(join(fresh, '.metaheac-cache')));
  await assert.rejects(ensureArrowFromPaddleDir(join(root, 'nothing')), { message: /no \*\.pkl or \*\.pickle files to read/ });
});
