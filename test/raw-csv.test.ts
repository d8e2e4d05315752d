import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAdFeatures, readLabelledRows } from '../src/raw/csv.js';

async function withFile<T>(name: string, content: string, fn: (path: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'mh-csv-'));
  try {
    const path = join(dir, name);
    writeFileSync(path, content);
    return await fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function dataError(pattern: RegExp): (e: Error) => boolean {
  return (e) => {
    assert.equal(e.name, 'DataError');
    assert.match(e.message, pattern);
    return true;
  };
}

test('train.csv: -1 labels become 0, columns found by header name, CRLF accepted', async () => {
  const r = await withFile('train.csv', 'uid,label,aid\r\n7,1,10\r\n8,-1,20\r\n9,0,20\r\n', (p) => readLabelledRows(p, true));
  assert.equal(r.n, 3);
  assert.deepEqual([...r.aid], [10, 20, 20]);
  assert.deepEqual([...r.uid], [7, 8, 9]);
  assert.deepEqual([...r.label], [1, 0, 0]);
});

test('test1_truth.csv has no header: line 1 is data', async () => {
  const r = await withFile('test1_truth.csv', '10,7,-1\n20,8,1', (p) => readLabelledRows(p, false));
  assert.deepEqual([[...r.aid], [...r.uid], [...r.label]], [[10, 20], [7, 8], [0, 1]]);
});

test('labelled rows: errors name file, line, column and value', async () => {
  const rows = (content: string, header = true) => () => withFile('train.csv', content, (p) => readLabelledRows(p, header));
  await assert.rejects(rows('aid,user,label\n1,2,1\n'), dataError(/train\.csv:1: bad header: expected the columns aid,uid,label, found "aid,user,label"/));
  await assert.rejects(rows('aid,uid,label\n1,2,1\n1,2\n'), dataError(/train\.csv:3: expected 3 columns \(aid,uid,label\), found 2: "1,2"/));
  await assert.rejects(rows('aid,uid,label\n1,2,1,4\n'), dataError(/train\.csv:2: expected 3 columns .*found 4/));
  await assert.rejects(rows('aid,uid,label\n1,x2,1\n'), dataError(/train\.csv:2: column uid: expected a non-negative integer id, found "x2"/));
  await assert.rejects(rows('aid,uid,label\n-5,2,1\n'), dataError(/train\.csv:2: column aid: expected a non-negative integer id, found "-5"/));
  await assert.rejects(rows('aid,uid,label\n1,2,2\n'), dataError(/train\.csv:2: column label: expected 1 or -1, found "2"/));
  await assert.rejects(rows('aid,uid,label\n'), dataError(/no rows after the header/));
  await assert.rejects(rows('aid,uid,label\n1,2,1\n', false), dataError(/train\.csv:1: column aid: expected a non-negative integer id, found "aid"/));
});

const AD_HEADER = 'aid,advertiserId,campaignId,creativeId,creativeSize,adCategoryId,productId,productType';
const TASKS = ['advertiserId', 'campaignId', 'creativeSize', 'adCategoryId', 'productId', 'productType'];

test('adFeature.csv: requested columns by name, an empty cell is missing (-1)', async () => {
  const t = await withFile('adFeature.csv', `${AD_HEADER}\n177,8203,76104,1500666,59,282,0,6\n2050,1,2,3,4,5,,7\n`, (p) => readAdFeatures(p, TASKS));
  assert.deepEqual([...t.byAid.get(177)!], [8203, 76104, 59, 282, 0, 6]);
  assert.deepEqual([...t.byAid.get(2050)!], [1, 2, 4, 5, -1, 7]);
  assert.equal(t.byAid.size, 2);
});

test('adFeature.csv: errors name file, line, column and value', async () => {
  const ads = (content: string) => () => withFile('adFeature.csv', content, (p) => readAdFeatures(p, TASKS));
  await assert.rejects(ads('aid,advertiserId\n1,2\n'), dataError(/adFeature\.csv:1: bad header: missing column\(s\) campaignId, creativeSize, adCategoryId, productId, productType/));
  await assert.rejects(ads(`${AD_HEADER}\n1,2,3\n`), dataError(/adFeature\.csv:2: expected 8 columns as in the header, found 3/));
  await assert.rejects(ads(`${AD_HEADER}\n1,2,3,4,5.5,6,7,8\n`), dataError(/adFeature\.csv:2: column creativeSize: expected a non-negative integer or an empty cell, found "5\.5"/));
  await assert.rejects(ads(`${AD_HEADER}\n1,2,3,4,5,6,7,8\n1,2,3,4,5,6,7,8\n`), dataError(/adFeature\.csv:3: aid 1 appears twice/));
  await assert.rejects(ads(''), dataError(/adFeature\.csv: empty file/));
});
