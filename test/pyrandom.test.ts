import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PythonRandom } from '../src/util/pyrandom.js';

// Expected values printed by CPython 3.11.7 (`random.seed(s); ...`).
test('getrandbits(32) matches CPython after random.seed(2021)', () => {
  const r = new PythonRandom(2021);
  assert.deepEqual([r.getrandbits(32), r.getrandbits(32), r.getrandbits(32)], [3592042239, 1736050280, 3686380748]);
});

test('a seed wider than 32 bits is split into little-endian words as CPython does', () => {
  assert.equal(new PythonRandom(2 ** 40 + 5).getrandbits(32), 2166296868);
});

test('sample, pool algorithm (n <= setsize), matches CPython', () => {
  const r = new PythonRandom(2021);
  const pop = Array.from({ length: 173 }, (_, i) => i);
  assert.deepEqual(r.sample(pop, 86).slice(0, 10), [103, 161, 139, 70, 63, 162, 8, 113, 121, 147]);
  assert.deepEqual(new PythonRandom(0).sample([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 5), [6, 9, 0, 2, 4]);
});

test('sample, set algorithm (n > setsize), matches CPython', () => {
  const pop = Array.from({ length: 5000 }, (_, i) => i);
  assert.deepEqual(new PythonRandom(7).sample(pop, 6), [2652, 1235, 3234, 395, 593, 4389]);
});

test('sample rejects k out of range', () => {
  assert.throws(() => new PythonRandom(1).sample([1, 2], 3), RangeError);
});
