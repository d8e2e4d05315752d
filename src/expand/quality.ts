/**
 * How good an audience is on synthetic data, where every user's true response probability
 * is known (synth's campaigns/truth.arrow: a `uid` column and one column per test
 * campaign): recall of the truly best N, and the audience's expected response rate, beside
 * the oracle's and a random audience's, and those of the top N of synth's reference scorers
 * where the truth has their columns.
 */
import { readFileSync } from 'node:fs';
import { tableFromIPC, type Table } from 'apache-arrow';
import { ChunkError } from '../data/arrow-columns.js';
import { compareUids, isUidType, numericUids, uidsOfVector, type Uid } from '../data/uid.js';
import { DataError } from '../util/errors.js';
import { isReferenceColumn, REFERENCES, truthColumn } from '../data/reference.js';
import { audienceUids, type Audience } from './audience.js';
import type { Quality } from './summary.js';

export interface Truth {
  path: string;
  table: Table;
  /** The uids as numbers, NaN above 2^53 (no double names those users). */
  uid: Float64Array;
  /** Every uid exactly, present only when some uid is beyond 2^53. */
  exact?: readonly Uid[];
}

export function readTruth(path: string): Truth {
  let table: Table;
  try {
    table = tableFromIPC(readFileSync(path));
  } catch (e) {
    throw new DataError(`${path}: cannot read the truth table (${(e as Error).message})`);
  }
  const u = table.getChild('uid');
  if (!u) throw new DataError(`${path}: no "uid" column`);
  if (!isUidType(u.type)) throw new DataError(`${path}: column "uid" has type ${String(u.type)}, expected an integer type (Int64 or Int32): a float cannot hold every uid exactly`);
  let exact: Uid[];
  try {
    exact = uidsOfVector(u);
  } catch (e) {
    if (e instanceof ChunkError) throw new DataError(`${path}: column "uid" row ${e.row}: ${e.what}`);
    throw e;
  }
  const uid = numericUids(exact);
  return exact.some((x) => typeof x === 'bigint') ? { path, table, uid, exact } : { path, table, uid };
}

function column(t: Truth, name: string): Float64Array | null {
  const col = t.table.getChild(name);
  return col ? Float64Array.from(col.toArray() as ArrayLike<number>) : null;
}

/** null when the truth has no column for this campaign. */
export function evaluateAudience(t: Truth, campaign: string, a: Audience, excluded: Set<Uid>): Quality | null {
  // a campaign named like a reference column (`agnostic`) has no truth of its own
  const p = isReferenceColumn(campaign) ? null : column(t, campaign);
  if (!p) return null;
  const uid = t.exact ?? t.uid;
  const eligible: number[] = [];
  const pOf = new Map<Uid, number>();
  for (let i = 0; i < uid.length; i++) {
    if (excluded.has(uid[i]!)) continue;
    eligible.push(i);
    pOf.set(uid[i]!, p[i]!);
  }
  const au = audienceUids(a);
  const n = au.length;
  if (n === 0 || eligible.length === 0) return null;
  // best first by a score, ties by uid as the audience's are
  const byScore = (q: Float64Array) => (x: number, y: number) => q[y]! - q[x]! || compareUids(uid[x]!, uid[y]!);
  eligible.sort(byScore(p));
  const best = eligible.slice(0, n);
  const bestSet = new Set(best.map((i) => uid[i]!));
  let hit = 0;
  let pSum = 0;
  for (let i = 0; i < n; i++) {
    if (bestSet.has(au[i]!)) hit++;
    pSum += pOf.get(au[i]!) ?? NaN;
  }
  const mean = (xs: number[]): number => xs.reduce((s, i) => s + p[i]!, 0) / xs.length;
  const references: Quality['references'] = {};
  for (const k of REFERENCES) {
    const q = column(t, truthColumn(k, campaign));
    if (!q) continue;
    const top = [...eligible].sort(byScore(q)).slice(0, n);
    references[k] = { recall: top.filter((i) => bestSet.has(uid[i]!)).length / best.length, precision: mean(top) };
  }
  return {
    recall: hit / best.length,
    precision: pSum / n,
    oraclePrecision: mean(best),
    randomRecall: Math.min(1, best.length / eligible.length),
    randomPrecision: mean(eligible),
    curve: qualityCurve(au, pOf, eligible.map((i) => uid[i]!), (i) => p[eligible[i]!]!),
    references,
  };
}

/** Audience sizes for the curve: up to `points` evenly spaced sizes ending at n. */
export function curveSizes(n: number, points = 20): number[] {
  return [...new Set(Array.from({ length: Math.min(points, n) }, (_, k) => Math.max(1, Math.round(((k + 1) * n) / Math.min(points, n)))))];
}

/** Recall and mean true probability of each prefix of the audience, beside the truly best (`bestUid`, best first) and random. */
function qualityCurve(audience: ArrayLike<Uid>, pOf: Map<Uid, number>, bestUid: Uid[], bestP: (i: number) => number): Quality['curve'] {
  const n = Math.min(audience.length, bestUid.length);
  // where each user stands in the truth's order: a prefix of the audience hits the truly best m
  // exactly where that position is below m
  const truthRank = new Map<Uid, number>(bestUid.map((u, i) => [u, i]));
  const curve: Quality['curve'] = { n: [], recall: [], precision: [], oraclePrecision: [], randomRecall: [] };
  let pAudience = 0;
  let pBest = 0;
  let done = 0;
  for (const m of curveSizes(n)) {
    for (; done < m; done++) {
      pAudience += pOf.get(audience[done]!) ?? NaN;
      pBest += bestP(done);
    }
    let hit = 0;
    for (let i = 0; i < m; i++) if ((truthRank.get(audience[i]!) ?? Infinity) < m) hit++;
    curve.n.push(m);
    curve.recall.push(hit / m);
    curve.precision.push(pAudience / m);
    curve.oraclePrecision.push(pBest / m);
    curve.randomRecall.push(Math.min(1, m / bestUid.length));
  }
  return curve;
}
