import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auc, gauc, logLoss, precisionRecallAtK, splitMetrics, topK } from '../src/eval/metrics.js';
import { Rng } from '../src/util/rng.js';

const close = (a: number, b: number, eps = 1e-12) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);

test('AUC of a textbook case: 3 of 4 positive/negative pairs ordered', () => {
  assert.equal(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
  assert.equal(auc(Float32Array.from([0.1, 0.4, 0.35, 0.8]), Uint8Array.from([0, 0, 1, 1])), 0.75);
  assert.equal(auc([0.9, 0.8, 0.1], [1, 1, 0]), 1);
  assert.equal(auc([0.1, 0.8, 0.9], [1, 0, 0]), 0);
});

test('AUC counts ties one half', () => {
  // positives 0.5, 0.5; negatives 0.5, 0.2: each positive scores 0.5 + 1 over 2 negatives.
  assert.equal(auc([0.5, 0.5, 0.5, 0.2], [1, 0, 1, 0]), 0.75);
  assert.equal(auc([0.3, 0.3, 0.3, 0.3], [1, 0, 1, 0]), 0.5);
  // positive 0.4 ties one of three negatives (0.4) and beats one (0.1): (1 + 0.5) / 3
  close(auc([0.4, 0.4, 0.1, 0.9], [1, 0, 0, 0]), 0.5);
});

test('AUC is NaN for a single class; rejects NaN scores and non-binary labels', () => {
  assert.ok(Number.isNaN(auc([0.1, 0.2], [1, 1])));
  assert.ok(Number.isNaN(auc([], [])));
  assert.throws(() => auc([0.1, NaN], [0, 1]), /score at row 1 is NaN/);
  assert.throws(() => auc([0.1, 0.2], [0, 2]), /label at row 1 is 2/);
});

test('AUC agrees with the brute-force pair count on random data with many ties', () => {
  const rng = new Rng(7);
  for (let trial = 0; trial < 20; trial++) {
    const n = 1 + rng.int(200);
    const s = Float32Array.from({ length: n }, () => rng.int(10) / 10);
    const y = Uint8Array.from({ length: n }, () => (rng.float() < 0.3 ? 1 : 0));
    let num = 0;
    let pairs = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (y[i] === 1 && y[j] === 0) {
          pairs++;
          num += s[i]! > s[j]! ? 1 : s[i] === s[j] ? 0.5 : 0;
        }
      }
    }
    const want = pairs === 0 ? NaN : num / pairs;
    if (Number.isNaN(want)) assert.ok(Number.isNaN(auc(s, y)));
    else close(auc(s, y), want);
  }
});

test('AUC over a row subset equals AUC over the copied rows', () => {
  const s = [0.9, 0.1, 0.4, 0.35, 0.8, 0.2];
  const y = [0, 1, 0, 1, 1, 0];
  assert.equal(auc(s, y, [1, 2, 3, 4]), auc([0.1, 0.4, 0.35, 0.8], [1, 0, 1, 1]));
});

test('GAUC is the unweighted mean over two-class tasks, counting the skipped', () => {
  const s = [0.1, 0.4, 0.35, 0.8, 0.5, 0.6, 0.2, 0.9];
  const y = [0, 0, 1, 1, 1, 1, 0, 1];
  const r = gauc(s, y, [
    { aid: 1, rows: [0, 1, 2, 3] }, // 0.75
    { aid: 2, rows: [4, 5] }, // positives only: skipped
    { aid: 3, rows: [6, 7] }, // 1
  ]);
  assert.equal(r.gauc, 0.875);
  assert.equal(r.evaluated, 2);
  assert.equal(r.skipped, 1);
  assert.ok(Number.isNaN(r.perTask[1]!.auc));
  assert.ok(Number.isNaN(gauc([0.1], [1], [{ aid: 1, rows: [0] }]).gauc));
});

test('top-k breaks ties by lower row index', () => {
  assert.deepEqual(topK([0.5, 0.9, 0.5, 0.5, 0.1], 3), [1, 0, 2]);
  assert.deepEqual(topK([0.5, 0.9, 0.5, 0.5, 0.1], 3, [4, 3, 2]), [2, 3, 4]);
});

test('Precision/Recall@5%: k = floor(0.05 n), ties by row order', () => {
  const n = 40; // k = 2
  const s = new Float64Array(n).fill(0.1);
  s[0] = 0.9;
  s[1] = s[2] = s[3] = 0.5;
  const y = new Uint8Array(n);
  y[0] = y[2] = y[10] = 1;
  // top 2 = rows 0 and 1 (row 1 wins the tie with rows 2, 3): one hit of three positives
  assert.deepEqual(precisionRecallAtK(s, y, 0.05), { k: 2, hits: 1, positives: 3, precision: 0.5, recall: 1 / 3 });
  const small = precisionRecallAtK([0.3, 0.2], [1, 0], 0.05); // k = 0
  assert.equal(small.k, 0);
  assert.ok(Number.isNaN(small.precision));
  assert.equal(small.recall, 0);
  assert.ok(Number.isNaN(precisionRecallAtK(s, new Uint8Array(n), 0.05).recall));
});

test('log loss: mean BCE with each log clamped at -100', () => {
  const want = (-Math.log(0.8) - Math.log(0.7) + 100 + 0) / 4;
  close(logLoss([0.8, 0.3, 0, 1], [1, 0, 1, 1]), want);
  close(logLoss(Float32Array.from([0.5]), [0]), Math.LN2, 1e-7);
  assert.equal(logLoss([1], [0]), 100);
  assert.throws(() => logLoss([1.5], [1]), /expected a probability/);
});

test('split metrics combine pooled, per-task and averaged figures', () => {
  const s = [0.1, 0.4, 0.35, 0.8, 0.5, 0.6, 0.2, 0.9];
  const y = [0, 0, 1, 1, 1, 1, 0, 1];
  const tasks = [
    { aid: 7, rows: [0, 1, 2, 3] },
    { aid: 9, rows: [4, 5, 6, 7] },
  ];
  const m = splitMetrics(s, y, tasks, 0.5); // k = 2 per task
  assert.equal(m.rows, 8);
  assert.equal(m.positives, 5);
  assert.equal(m.auc, auc(s, y));
  assert.equal(m.logloss, logLoss(s, y));
  // task 9: positives 0.5, 0.6, 0.9 vs negative 0.2: AUC 1
  assert.equal(m.gauc, (0.75 + 1) / 2);
  // task 7 top 2: rows 3 (0.8, hit), 1 (0.4, miss) -> P 0.5, R 0.5; task 9: rows 7, 5 -> P 1, R 2/3
  assert.deepEqual(m.perTask.map((t) => [t.aid, t.rows, t.positives, t.precision, t.recall]), [
    [7, 4, 2, 0.5, 0.5],
    [9, 4, 3, 1, 2 / 3],
  ]);
  close(m.precision, 0.75);
  close(m.recall, (0.5 + 2 / 3) / 2);
});
