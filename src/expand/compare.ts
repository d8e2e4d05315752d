/**
 * Audiences of several models for the same campaigns, judged against a synthetic dataset's
 * truth: MetaHeac, a baseline checkpoint, the general model unadapted, and a random
 * audience, beside the oracle (the truly best N) and, where the truth has them, the top N of
 * synth's two reference scorers, which mark how much of the gap to the oracle is within
 * reach. The demo prints one campaign of it; the README's quality table is it over hot and
 * cold campaigns.
 */
import { join } from 'node:path';
import type { LoadedConfig } from '../config/config.js';
import type { Ops } from '../model/ops.js';
import type { Campaign } from './campaign.js';
import { expandCampaigns, type CampaignResult } from './expand.js';
import { REFERENCE_LABEL, type ReferenceName } from '../data/reference.js';

export interface Arm {
  name: string;
  /** Checkpoint of this arm (its results go to outDir/<name>, when an outDir is given). */
  model: string;
  /** false: the general model scores without adaptation. */
  adapt: boolean;
}

export interface CampaignComparison {
  campaign: string;
  seeds: number;
  /** Per arm, then `random`, the reference scorers (ad-agnostic, category-level) and `oracle`: recall of the truly best N and mean true probability. */
  rows: { name: string; recall: number; precision: number }[];
  /** Each arm's result (audience and summary). */
  results: Record<string, CampaignResult>;
}

export async function compareOnTruth(o: { config: LoadedConfig; arms: Arm[]; campaigns: (Campaign | string)[]; truth: string; top: number; ops?: Ops; users?: string; log?: (line: string) => void; outDir?: string }): Promise<CampaignComparison[]> {
  const byArm: CampaignResult[][] = [];
  for (const arm of o.arms) {
    byArm.push(await expandCampaigns({ config: o.config, model: arm.model, adapt: arm.adapt, campaigns: o.campaigns, truth: o.truth, top: o.top, outDir: o.outDir ? join(o.outDir, arm.name.replace(/[^A-Za-z0-9._-]+/g, '-')) : null, ops: o.ops, users: o.users, log: o.log }));
  }
  // a reference's row wherever the truth has it for some campaign, weaker first (the rows of every comparison are in the same order)
  const refs = (['agnostic', 'category'] as const).filter((k) => byArm[0]!.some((r) => r.summary.quality?.references[k]));
  return byArm[0]!.map((first, k) => {
    const q = (r: CampaignResult) => r.summary.quality ?? { recall: NaN, precision: NaN, oraclePrecision: NaN, randomRecall: NaN, randomPrecision: NaN };
    const q0 = q(first);
    // the reference's top N depends on the campaign's seeds and N, not on the arm
    const ref = (name: ReferenceName) => first.summary.quality?.references[name] ?? { recall: NaN, precision: NaN };
    return {
      campaign: first.name,
      seeds: first.summary.seeds.found,
      rows: [
        ...o.arms.map((arm, a) => ({ name: arm.name, recall: q(byArm[a]![k]!).recall, precision: q(byArm[a]![k]!).precision })),
        { name: 'random', recall: q0.randomRecall, precision: q0.randomPrecision },
        ...refs.map((r) => ({ name: REFERENCE_LABEL[r], ...ref(r) })),
        { name: 'oracle', recall: 1, precision: q0.oraclePrecision },
      ],
      results: Object.fromEntries(o.arms.map((arm, a) => [arm.name, byArm[a]![k]!])),
    };
  });
}

/** Means over campaigns, row by row (the rows of every comparison are in the same order). */
export function meanComparison(cs: CampaignComparison[]): { name: string; recall: number; precision: number }[] {
  if (cs.length === 0) return [];
  return cs[0]!.rows.map((r, i) => ({
    name: r.name,
    recall: cs.reduce((s, c) => s + c.rows[i]!.recall, 0) / cs.length,
    precision: cs.reduce((s, c) => s + c.rows[i]!.precision, 0) / cs.length,
  }));
}
