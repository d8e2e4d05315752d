/**
 * summary.json of one campaign's expansion. Everything but `seconds` depends only on the
 * inputs, so shards merged equal the unsharded run there too; the pool's score
 * distribution is kept as a fixed histogram, which adds up exactly across shards.
 */
import type { ChoiceSummary } from '../meta/adapt-select.js';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic.js';
import { DataError } from '../util/errors.js';
import type { Audience, FileDigests } from './audience.js';
import { formatScore } from './score-format.js';
import type { ReferenceName } from '../data/reference.js';

export const SUMMARY_FILE = 'summary.json';
/** Bins of the pool-score histogram over [0, 1]. */
export const HISTOGRAM_BINS = 1000;

export interface UidCounts {
  /** Distinct uids given. */
  given: number;
  found: number;
  missing: number;
  /** The first missing uids (at most 20); a uid above 2^53 as a decimal string, which JSON readers keep exact. */
  missingUids: (number | string)[];
}

export interface ExpandSummary {
  format: 'metaheac-expand-summary';
  version: 1;
  campaign: string;
  /** The campaign file (or what the campaign came from). */
  source: string;
  /** What seeded the adaptation's shuffles (the campaign's aid, or a hash of its name). */
  key: number;
  model: string;
  /** The pool scored, and the table seeds were looked up in. */
  users: string;
  lookup: string;
  top: number;
  includeSeeds: boolean;
  /** This run's slice of the pool; null for the whole pool (and for merged shards). */
  shard: { index: number; count: number; from: number; to: number } | null;
  task: { codes: Record<string, number>; missing: string[]; outOfVocabulary: { field: string; value: number }[] };
  seeds: UidCounts;
  negatives: UidCounts;
  /** Stage-1 rows adapted on (found users only), and their positives. */
  examples: { rows: number; positives: number };
  /** null when the general model scored without adaptation. */
  adaptation: { steps: number; lastLoss: number; epochs: number; batchSize: number; learningRate: number; choice?: ChoiceSummary } | null;
  pool: {
    /** Users scored (the whole slice). */
    scored: number;
    /** Seeds found in the pool and left out of the audience (0 with includeSeeds). */
    excludedSeeds: number;
    /** Score quantiles of the eligible users, from the histogram (upper bin edges). */
    quantiles: Record<'p10' | 'p50' | 'p90' | 'p99' | 'p999', number>;
    /** Eligible users per score bin [k/1000, (k+1)/1000). */
    histogram: number[];
  };
  audience: { size: number; minScore: number | null; medianScore: number | null; maxScore: number | null };
  /** Against a synthetic dataset's truth, when given (see quality.ts). */
  quality: Quality | null;
  warnings: string[];
  /** The audience files written with this summary, as one unit (merge checks them); absent in older summaries. */
  files?: FileDigests;
  /** Wall-clock seconds; the only fields that differ between runs. */
  seconds: { adapt: number; score: number; write: number };
}

export interface Quality {
  /** |audience ∩ truly best N| / N. */
  recall: number;
  /** Mean true response probability of the audience (its expected response rate). */
  precision: number;
  /** The oracle's (the truly best N) mean true probability. */
  oraclePrecision: number;
  /** A random audience of N eligible users, in expectation. */
  randomRecall: number;
  randomPrecision: number;
  /**
   * The same along the audience, at up to 20 sizes n (evenly spaced up to N): recall@n against
   * the truly best n, the mean true probability of the top n, the oracle's, and a random
   * audience's recall@n (n / eligible users). The report draws these.
   */
  curve: { n: number[]; recall: number[]; precision: number[]; oraclePrecision: number[]; randomRecall: number[] };
  /** The top N of each of synth's reference scorers that the truth has a column for, judged as the audience is. */
  references: Partial<Record<ReferenceName, { recall: number; precision: number }>>;
}

export function histogramBin(score: number): number {
  return Math.min(HISTOGRAM_BINS - 1, Math.max(0, Math.floor(score * HISTOGRAM_BINS)));
}

export function histogramQuantiles(h: number[]): ExpandSummary['pool']['quantiles'] {
  const total = h.reduce((a, b) => a + b, 0);
  const q = (p: number): number => {
    if (total === 0) return NaN;
    const want = p * total;
    let acc = 0;
    for (let k = 0; k < h.length; k++) {
      acc += h[k]!;
      if (acc >= want) return (k + 1) / HISTOGRAM_BINS;
    }
    return 1;
  };
  return { p10: q(0.1), p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999) };
}

export function audienceStats(a: Audience): ExpandSummary['audience'] {
  const n = a.score.length;
  // as written in audience.csv: the shortest decimal of the float32
  const at = (i: number): number | null => (n ? Number(formatScore(a.score[i]!)) : null);
  return { size: n, minScore: at(n - 1), medianScore: at(Math.floor((n - 1) / 2)), maxScore: at(0) };
}

/** JSON with number arrays on one line (the histogram would take a thousand lines). */
export function summaryJson(s: ExpandSummary): string {
  return `${JSON.stringify(s, null, 2).replace(/\[\s*([-\d.e,\s]*?)\s*\]/g, (_, body: string) => `[${body.split(/,\s*/).join(', ')}]`)}\n`;
}

export function writeSummary(dir: string, s: ExpandSummary): void {
  writeFileAtomic(join(dir, SUMMARY_FILE), summaryJson(s));
}

export function readSummary(path: string): ExpandSummary {
  let s: ExpandSummary;
  try {
    s = JSON.parse(readFileSync(path, 'utf8')) as ExpandSummary;
  } catch (e) {
    throw new DataError(`${path}: cannot read the expansion summary (${(e as Error).message})`);
  }
  if (s?.format !== 'metaheac-expand-summary') throw new DataError(`${path}: not an expansion summary (no "format": "metaheac-expand-summary")`);
  return s;
}
