/**
 * Sizes and schemas of the synthetic datasets. Row counts are at scale 1; the cold
 * threshold scales with them so the hot/cold balance stays the same at any scale.
 */
import { TENCENT_SCHEMA, type Schema } from './schema.js';

/** How a multi-valued field's `len` is drawn: 0 with pEmpty, else 1 + Poisson(mean - 1). */
export interface LengthSpec {
  pEmpty: number;
  mean: number;
}

export interface SynthPreset {
  name: string;
  schema: Schema;
  campaigns: number;
  /** Latent campaign categories (each with its own preference and task-field ids). */
  categories: number;
  /** Stage-1 rows over all campaigns, train and test, at scale 1. */
  stage1Rows: number;
  /** Stage-2 rows per stage-1 row of a test campaign. */
  stage2Ratio: number;
  /**
   * Fewest stage-2 rows of a test campaign at scale 1: a look-alike candidate pool is large
   * even when the seed set is small, and a cold campaign's AUC needs enough candidates.
   */
  minStage2: number;
  /** Cold = at most this many positives over stage 1 + stage 2, at scale 1. */
  coldThreshold: number;
  defaultScale: number;
  /** Users of the expansion pool beyond the test campaigns' seed users, at scale 1. */
  poolUsers: number;
  /** One per userMulti field. */
  lengths: LengthSpec[];
}

/** Tencent-like lengths: interest3 mostly empty, kw/topic often counted past their width 5. */
const TENCENT_LENGTHS: LengthSpec[] = [
  { pEmpty: 0.08, mean: 6 },
  { pEmpty: 0.25, mean: 3 },
  { pEmpty: 0.95, mean: 1.5 },
  { pEmpty: 0.1, mean: 4.5 },
  { pEmpty: 0.05, mean: 4.5 },
  { pEmpty: 0.1, mean: 4 },
  { pEmpty: 0.05, mean: 4 },
];

/** `s` with the max_idx of the named fields replaced. */
function withVocab(s: Schema, maxIdx: Record<string, number>): Schema {
  const set = <F extends { name: string; maxIdx: number }>(f: F): F => ({ ...f, maxIdx: maxIdx[f.name] ?? f.maxIdx });
  return { userSingle: s.userSingle.map(set), userMulti: s.userMulti.map(set), task: s.task.map(set) };
}

export const PRESETS: Record<string, SynthPreset> = {
  tiny: {
    name: 'tiny',
    schema: {
      userSingle: [
        { name: 'age', maxIdx: 5 },
        { name: 'gender', maxIdx: 2 },
        { name: 'LBS', maxIdx: 49 },
      ],
      userMulti: [
        { name: 'interest1', maxIdx: 19, width: 10 },
        { name: 'kw1', maxIdx: 199, width: 5 },
        { name: 'topic1', maxIdx: 49, width: 5 },
      ],
      task: [
        { name: 'advertiserId', maxIdx: 11 },
        { name: 'adCategoryId', maxIdx: 7 },
      ],
    },
    campaigns: 24,
    categories: 4,
    stage1Rows: 3000,
    stage2Ratio: 0.4,
    minStage2: 0,
    coldThreshold: 4,
    defaultScale: 1,
    poolUsers: 600,
    lengths: [TENCENT_LENGTHS[0]!, TENCENT_LENGTHS[3]!, TENCENT_LENGTHS[5]!],
  },
  demo: {
    name: 'demo',
    // the Tencent layout with vocabularies small enough for minutes of training
    schema: withVocab(TENCENT_SCHEMA, {
      LBS: 199,
      kw1: 4999,
      kw2: 1999,
      topic1: 999,
      topic2: 999,
      advertiserId: 39,
      campaignId: 79,
      adCategoryId: 19,
      productId: 15,
    }),
    campaigns: 200,
    categories: 12,
    stage1Rows: 260_000,
    stage2Ratio: 0.25,
    minStage2: 500,
    coldThreshold: 40,
    defaultScale: 1,
    poolUsers: 20_000,
    lengths: TENCENT_LENGTHS,
  },
  tencent: {
    name: 'tencent',
    schema: TENCENT_SCHEMA,
    // The preliminary round's 173 campaigns; 8,798,814 train rows and 2,265,989 test1 rows.
    campaigns: 173,
    categories: 20,
    stage1Rows: 8_798_814,
    stage2Ratio: 2_265_989 / 8_798_814,
    minStage2: 0,
    coldThreshold: 2000,
    defaultScale: 0.1,
    poolUsers: 1_000_000,
    lengths: TENCENT_LENGTHS,
  },
};

export const PRESET_NAMES = Object.keys(PRESETS);
