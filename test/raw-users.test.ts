import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readUserFeatures, type MultiVocabBasis, type UserFeatures } from '../src/raw/users.js';
import { UidIndex } from '../src/raw/uid-index.js';
import type { Schema } from '../src/data/schema.js';

// A small schema: the parser works for any field names and widths.
const SCHEMA: Schema = {
  userSingle: [{ name: 'age', maxIdx: 0 }, { name: 'LBS', maxIdx: 0 }],
  userMulti: [{ name: 'interest1', maxIdx: 0, width: 3 }, { name: 'kw1', maxIdx: 0, width: 12 }],
  task: [],
};

async function read(content: string, needed: number[], basis: MultiVocabBasis = 'users'): Promise<UserFeatures> {
  const dir = mkdtempSync(join(tmpdir(), 'mh-users-'));
  try {
    const path = join(dir, 'userFeature.data');
    writeFileSync(path, content);
    const index = new UidIndex(needed.length);
    for (const u of needed) index.add(u);
    return await readUserFeatures(path, SCHEMA, index, basis);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const FILE = [
  'uid 5|age 3|interest1 9 8 7 6 5|os 1 2|kw1 1 2 3 4 5 6 7 8 9 10 11 12 13 14',
  'uid 6|LBS 17|kw1 400',
  'uid 7|interest1 300 301',
  'uid 8',
].join('\n');

test('needed users: single values, lists cut to width, lengths counted to max(10, width), absent fields missing', async () => {
  const u = await read(FILE, [5, 8, 6]);
  assert.equal(u.nUsers, 3);
  assert.deepEqual([...u.found], [1, 1, 1]);
  // users by index: 5, 8, 6
  assert.deepEqual([...u.single], [3, -1, -1, -1, -1, 17]);
  const stride = 15;
  assert.deepEqual([...u.multi.subarray(0, 3)], [9, 8, 7]);
  assert.deepEqual([...u.multi.subarray(3, stride)], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.deepEqual([...u.multi.subarray(stride, 2 * stride)], new Array(15).fill(-1));
  assert.deepEqual([...u.multi.subarray(2 * stride + 3, 2 * stride + 5)], [400, -1]);
  // interest1 of uid 5 has 5 ids (width 3): len 5; kw1 has 14 ids (width 12): len 12.
  assert.deepEqual([...u.len], [5, 12, 0, 0, 0, 1]);
  assert.equal(u.stats.lines, 4);
});

test('vocabulary basis: every line (users) or only needed users (rows); only ids within the width count', async () => {
  const all = await read(FILE, [5, 8, 6], 'users');
  assert.deepEqual(all.multiIds[0]!.values(), [7, 8, 9, 300, 301]);
  assert.deepEqual(all.multiIds[1]!.values(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 400]);
  assert.deepEqual(all.multiPadded, [true, true]);
  const rows = await read(FILE, [5], 'rows');
  assert.deepEqual(rows.multiIds[0]!.values(), [7, 8, 9]);
  assert.deepEqual(rows.multiIds[1]!.values(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  // Only uid 5 is read, and both its lists fill their width: no padding in the basis.
  assert.deepEqual(rows.multiPadded, [false, false]);
  assert.deepEqual((await read(FILE, [5, 6], 'rows')).multiPadded, [true, true]);
});

test('a needed user without a line stays all missing', async () => {
  const u = await read(FILE, [42, 5]);
  assert.deepEqual([...u.found], [0, 1]);
  assert.deepEqual([...u.single.subarray(0, 2)], [-1, -1]);
});

test('malformed lines: errors name file, line, field and value', async () => {
  const bad = async (line: string, pattern: RegExp, needed = [1]): Promise<void> => {
    await assert.rejects(
      () => read(`uid 1|age 2\n${line}\n`, needed),
      (e: Error) => e.name === 'DataError' && /userFeature\.data:2: /.test(e.message) && pattern.test(e.message),
      line,
    );
  };
  await bad('age 3|uid 2', /expected the line to start with "uid <id>", found "age 3\|uid 2"/);
  await bad('uid x9|age 3', /field uid: expected a non-negative integer id, found "x9"/);
  await bad('uid 2|interest1 4 y 6', /field interest1: expected a non-negative integer id, found "y"/);
  await bad('uid 2|interest1 4  6', /field interest1: empty value/);
  await bad('uid 2|kw1 4 -6', /field kw1: expected a non-negative integer id, found "-6"/);
  await bad('uid 2|age 4 5', /field age: expected one non-negative integer id, found "4 5"/, [1, 2]);
  await bad('uid 2|LBS 4|LBS 5', /field LBS appears twice/, [2]);
  await bad('uid 2|kw1|age 3', /field kw1: no values/);
  await bad('uid 1|age 2', /uid 1 appears on two lines/);
  await bad('', /empty line/);
});

test('single-valued fields of users nobody needs are not read (official: only joined users matter)', async () => {
  const u = await read('uid 1|age 2\nuid 2|age 4 5\n', [1]);
  assert.deepEqual([...u.single], [2, -1]);
});
