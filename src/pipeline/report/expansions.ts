/**
 * Expansion runs read back for the report: an `expand --out DIR` folder (DIR/<campaign>/summary.json
 * and audience.csv) or one campaign's folder. The summary is validated for the fields the report
 * draws; the audience gives the model's expected responders along the audience (the sum of the
 * scores of its top n).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { DataError } from '../../util/errors.js';
import { readJson } from './read-json.js';

export const SUMMARY_FILE = 'summary.json';
export const AUDIENCE_CSV = 'audience.csv';

const num = z.number().nullable();
const count = z.number().int().nonnegative();
const uids = z.object({ given: count, found: count, missing: count });

const summary = z.object({
  format: z.literal('metaheac-expand-summary'),
  campaign: z.string(),
  model: z.string(),
  top: count,
  includeSeeds: z.boolean(),
  shard: z.object({ index: count, count }).nullable(),
  seeds: uids,
  negatives: uids,
  examples: z.object({ rows: count, positives: count }),
  adaptation: z.object({ steps: count, lastLoss: num }).nullable(),
  pool: z.object({ scored: count, excludedSeeds: count, quantiles: z.record(z.string(), num), histogram: z.array(count) }),
  audience: z.object({ size: count, minScore: num, medianScore: num, maxScore: num }),
  quality: z
    .object({
      recall: num,
      precision: num,
      oraclePrecision: num,
      randomRecall: num,
      randomPrecision: num,
      curve: z.object({ n: z.array(count), recall: z.array(num), precision: z.array(num), oraclePrecision: z.array(num), randomRecall: z.array(num) }).optional(),
    })
    .nullable(),
  warnings: z.array(z.string()),
  seconds: z.object({ adapt: z.number(), score: z.number(), write: z.number() }),
});

export type ExpandSummaryRecord = z.infer<typeof summary>;

export interface ExpansionCampaign {
  dir: string;
  summary: ExpandSummaryRecord;
  /** Audience sizes n and the sum of the top n's scores: the responders the model expects. */
  expected: { n: number[]; responders: number[] };
}

/** Up to `points` evenly spaced prefix sums of the audience's scores (audience.csv: uid,score,rank, best first). */
export function expectedResponders(path: string, points = 100): ExpansionCampaign['expected'] {
  const lines = readFileSync(path, 'utf8').split('\n');
  if (lines[0] !== 'uid,score,rank') throw new DataError(`${path}: line 1: expected the header "uid,score,rank", found "${lines[0]!.slice(0, 40)}"`);
  const scores: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (lines[i] === '') continue;
    const score = Number(lines[i]!.split(',')[1]);
    if (!(score >= 0 && score <= 1)) throw new DataError(`${path}: line ${i + 1}: score must be a probability in [0, 1], found "${lines[i]!.split(',')[1] ?? ''}"`);
    scores.push(score);
  }
  const out: ExpansionCampaign['expected'] = { n: [], responders: [] };
  const step = Math.max(1, Math.ceil(scores.length / points));
  let sum = 0;
  scores.forEach((s, i) => {
    sum += s;
    if ((i + 1) % step === 0 || i + 1 === scores.length) {
      out.n.push(i + 1);
      out.responders.push(sum);
    }
  });
  return out;
}

function campaignAt(dir: string): ExpansionCampaign {
  const s = readJson(join(dir, SUMMARY_FILE), summary);
  if (s.pool.histogram.length === 0) throw new DataError(`${join(dir, SUMMARY_FILE)}: key "pool.histogram": empty`);
  const audience = join(dir, AUDIENCE_CSV);
  return { dir, summary: s, expected: existsSync(audience) ? expectedResponders(audience) : { n: [], responders: [] } };
}

/** The campaign folders of an expansion folder (or the folder itself, for one campaign); null when it is not one. */
export function expansionCampaigns(path: string): string[] | null {
  if (!statSync(path).isDirectory()) return null;
  if (existsSync(join(path, SUMMARY_FILE))) return [path];
  const dirs = readdirSync(path)
    .filter((e) => existsSync(join(path, e, SUMMARY_FILE)))
    .sort()
    .map((e) => join(path, e));
  return dirs.length ? dirs : null;
}

export function loadExpansion(dirs: string[]): ExpansionCampaign[] {
  return dirs.map(campaignAt);
}

export const campaignName = (c: ExpansionCampaign): string => c.summary.campaign || basename(c.dir);
