import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCold, trainAidMask, DEFAULT_COLD_THRESHOLD } from '../src/raw/split.js';

test('training aids are those of the official script: random.seed(2021); random.sample(range(173), 86) in CPython', () => {
  // sorted(random.sample(range(173), 86)) after random.seed(2021), CPython 3.11.7.
  const python = [
    0, 2, 6, 8, 9, 10, 13, 16, 17, 19, 21, 22, 24, 26, 28, 29, 31, 33, 34, 35, 41, 42, 47, 50, 51, 54, 55, 56, 57, 62, 63, 68, 69, 70, 71,
    72, 74, 75, 80, 83, 86, 88, 89, 94, 95, 96, 101, 102, 103, 105, 106, 112, 113, 118, 119, 120, 121, 122, 123, 128, 133, 134, 135, 136,
    138, 139, 140, 141, 144, 145, 146, 147, 148, 149, 152, 154, 158, 159, 161, 162, 163, 164, 165, 170, 171, 172,
  ];
  const mask = trainAidMask(173, 2021);
  assert.deepEqual([...mask.keys()].filter((a) => mask[a]), python);
});

test('the split depends on the seed only, and takes floor(n/2) aids', () => {
  assert.deepEqual(trainAidMask(6, 2021), trainAidMask(6, 2021));
  assert.deepEqual([...trainAidMask(6, 2021)], [0, 0, 1, 1, 1, 0]); // sorted(random.sample(range(6), 3)) = [2, 3, 4]
  assert.deepEqual([...trainAidMask(6, 7)], [0, 1, 1, 1, 0, 0]); // seed 7: [1, 2, 3]
  assert.equal(trainAidMask(7, 1).reduce((a, b) => a + b, 0), 3);
});

test('cold means at most the threshold; defaults 2000 positives, 4000 candidates', () => {
  assert.equal(isCold(2000, 2000), true);
  assert.equal(isCold(2001, 2000), false);
  assert.equal(isCold(0, 2000), true);
  assert.deepEqual(DEFAULT_COLD_THRESHOLD, { positives: 2000, candidates: 4000 });
});
