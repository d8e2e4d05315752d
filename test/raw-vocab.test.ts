import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdSet, Vocabulary } from '../src/raw/vocab.js';
import { UidIndex } from '../src/raw/uid-index.js';

test('IdSet: members in ascending order and their ranks, across word boundaries and growth', () => {
  const s = new IdSet();
  const ids = [5, 31, 32, 0, 1_000_000, 63, 64, 5, 2147483647];
  for (const v of ids) s.add(v);
  s.freeze();
  const sorted = [0, 5, 31, 32, 63, 64, 1_000_000, 2147483647];
  assert.deepEqual(s.values(), sorted);
  assert.equal(s.size, 8);
  sorted.forEach((v, i) => assert.equal(s.rank(v), i, `rank of ${v}`));
});

test('Vocabulary: missing first (label encoding) or last (set order of the multi-valued ids)', () => {
  const mk = (): IdSet => {
    const s = new IdSet();
    for (const v of [300, 100, 200]) s.add(v);
    return s;
  };
  const first = new Vocabulary(mk(), true, 'first');
  assert.deepEqual([-1, 100, 200, 300].map((v) => first.encode(v)), [0, 1, 2, 3]);
  assert.equal(first.maxIdx, 3);
  const last = new Vocabulary(mk(), true, 'last');
  assert.deepEqual([-1, 100, 200, 300].map((v) => last.encode(v)), [3, 0, 1, 2]);
  const none = new Vocabulary(mk(), false, 'first');
  assert.deepEqual([100, 200, 300].map((v) => none.encode(v)), [0, 1, 2]);
  assert.equal(none.size, 3);
  assert.ok(none.encode(-1) < 0, 'an undeclared missing value gets an invalid code');
});

test('UidIndex: dense indices in first-seen order, lookups, growth past the expected size', () => {
  const ix = new UidIndex(2);
  const uids = [70, 3, 2147483647, 0, 3, 999_999_937, 70];
  assert.deepEqual(uids.map((u) => ix.add(u)), [0, 1, 2, 3, 1, 4, 0]);
  for (let u = 10_000; u < 10_100; u++) ix.add(u);
  assert.equal(ix.size, 105);
  assert.equal(ix.get(3), 1);
  assert.equal(ix.get(10_050), 55);
  assert.equal(ix.get(12), -1);
});
