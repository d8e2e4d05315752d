/** The expansion's quality against a synthetic truth, along the audience: a hand-computed case. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tableFromArrays } from 'apache-arrow';
import { curveSizes, evaluateAudience } from '../src/expand/quality.js';

test('recall@n, precision, oracle and random along the audience, by hand', () => {
  // six users, p falling with the uid; uid 1 is a seed (left out); the audience ranks 3, 6, 2, 5
  const table = tableFromArrays({ uid: Float64Array.from([1, 2, 3, 4, 5, 6]), c: Float64Array.from([0.9, 0.8, 0.7, 0.6, 0.5, 0.4]) });
  const truth = { path: 'truth.arrow', table, uid: Float64Array.from([1, 2, 3, 4, 5, 6]) };
  const audience = { uid: Float64Array.from([3, 6, 2, 5]), score: Float32Array.from([0.4, 0.3, 0.2, 0.1]), rank: Int32Array.from([1, 2, 3, 4]) };
  const q = evaluateAudience(truth, 'c', audience, new Set([1]))!;
  const close = (a: number[], b: number[]) => a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) < 1e-12, `${a} vs ${b}`));
  // eligible best first: 2, 3, 4, 5, 6; the audience's prefixes hit {}, {3}, {3, 2}, {3, 2, 5}
  assert.deepEqual(q.curve.n, [1, 2, 3, 4]);
  close(q.curve.recall, [0, 1 / 2, 2 / 3, 3 / 4]);
  close(q.curve.precision, [0.7, 0.55, 1.9 / 3, 0.6]);
  close(q.curve.oraclePrecision, [0.8, 0.75, 0.7, 0.65]);
  close(q.curve.randomRecall, [0.2, 0.4, 0.6, 0.8]);
  close([q.recall, q.precision, q.oraclePrecision, q.randomRecall, q.randomPrecision], [0.75, 0.6, 0.65, 0.8, 0.6]);
});

test('curve sizes: at most 20, evenly spaced, ending at N', () => {
  assert.deepEqual(curveSizes(3), [1, 2, 3]);
  const s = curveSizes(1000);
  assert.equal(s.length, 20);
  assert.equal(s[0], 50);
  assert.equal(s[19], 1000);
  assert.deepEqual(curveSizes(0), []);
});

test('the reference scorers\' own top N, by hand, where the truth has their columns; a campaign named like one has no truth', () => {
  // the users of the case above; the category-level scores rank 3, 4, 6, 5 first; the ad-agnostic ones all tie (uid order: 2, 3, 4, 5)
  const uid = Float64Array.from([1, 2, 3, 4, 5, 6]);
  const c = Float64Array.from([0.9, 0.8, 0.7, 0.6, 0.5, 0.4]);
  const audience = { uid: Float64Array.from([3, 6, 2, 5]), score: Float32Array.from([0.4, 0.3, 0.2, 0.1]), rank: Int32Array.from([1, 2, 3, 4]) };
  const table = tableFromArrays({ uid, c, 'c:category': Float64Array.from([0.1, 0.2, 0.9, 0.8, 0.3, 0.7]), agnostic: new Float64Array(6).fill(0.5) });
  const q = evaluateAudience({ path: 'truth.arrow', table, uid }, 'c', audience, new Set([1]))!;
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
  // against the truly best 4 (2, 3, 4, 5): category-level hits 3, 4, 5; ad-agnostic all four
  close(q.references.category!.recall, 3 / 4);
  close(q.references.category!.precision, (0.7 + 0.6 + 0.4 + 0.5) / 4);
  close(q.references.agnostic!.recall, 1);
  close(q.references.agnostic!.precision, (0.8 + 0.7 + 0.6 + 0.5) / 4);
  // the audience's own numbers do not change
  close(q.recall, 0.75);
  close(q.precision, 0.6);
  // a truth without the columns has no references
  assert.deepEqual(evaluateAudience({ path: 'truth.arrow', table: tableFromArrays({ uid, c }), uid }, 'c', audience, new Set([1]))!.references, {});
  assert.equal(evaluateAudience({ path: 'truth.arrow', table, uid }, 'agnostic', audience, new Set()), null);
});
