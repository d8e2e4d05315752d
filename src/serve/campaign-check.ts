/**
 * A submission checked before it is queued, with expand's own parsers (the CLI's messages):
 * the campaign's fields, its task values against the dataset's vocabulary, its user lists,
 * and that some seed is a user of the lookup table. The lookup table's uids are read once
 * per process into a sorted array (8 bytes a user), so a check costs no pass over the pool.
 */
import { readExamples, readUidList, parseCampaign, taskCodes, forEachChunk, resolveDataPaths, type Campaign } from '../expand/index.js';
import { countRows } from '../data/arrow-read.js';
import { readTaskVocab, type TaskVocab } from '../data/task-vocab.js';
import type { Schema } from '../data/schema.js';
import type { Uid } from '../data/uid.js';
import type { LoadedConfig } from '../config/config.js';
import { schemaFor } from '../meta/model-setup.js';
import { UserError } from '../util/errors.js';
import { materialize, type Submission, type SubmissionLimits } from './submission.js';

/** Where the service's campaigns are described from (messages name it as the CLI names a file). */
export const CAMPAIGN_WHERE = 'campaign';

export interface PoolInfo {
  /** The pool (user table) every job scores. */
  pool: string;
  poolRows: number;
  /** The table seeds are looked up in. */
  lookup: string;
  /** Sorted uids of the lookup table below 2^53 (8 bytes a user, however large the table). */
  uids: Float64Array;
  /** Its uids above 2^53, exactly. */
  bigUids: Set<bigint>;
  schema: Schema;
  vocab: TaskVocab | null;
  vocabPath: string | null;
}

/** Read the pool's size and the lookup table's uids (once per process). */
export async function loadPoolInfo(cfg: LoadedConfig, users?: string): Promise<PoolInfo> {
  const paths = resolveDataPaths(cfg, users);
  const poolRows = await countRows(paths.pool);
  const lookupRows = paths.lookup === paths.pool ? poolRows : await countRows(paths.lookup);
  const all = new Float64Array(lookupRows);
  const bigUids = new Set<bigint>();
  let n = 0;
  await forEachChunk(paths.lookup, paths.schema, 0, lookupRows, 65536, (_d, uid, _row0, exact) => {
    for (let i = 0; i < uid.length; i++) {
      const u = exact?.[i] ?? uid[i]!;
      if (typeof u === 'bigint') bigUids.add(u);
      else all[n++] = u;
    }
  });
  const uids = all.subarray(0, n).sort();
  return {
    pool: paths.pool,
    poolRows,
    lookup: paths.lookup,
    uids,
    bigUids,
    schema: schemaFor(cfg, paths.schema, paths.schemaPath),
    vocab: paths.taskVocab ? readTaskVocab(paths.taskVocab) : null,
    vocabPath: paths.taskVocab,
  };
}

function has(info: PoolInfo, u: Uid): boolean {
  if (typeof u === 'bigint') return info.bigUids.has(u);
  const sorted = info.uids;
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < u) lo = mid + 1;
    else hi = mid;
  }
  return lo < sorted.length && sorted[lo] === u;
}

/** Parse a submission whose uploads are written in `dir` into expand's Campaign. */
export function submissionCampaign(sub: Submission, dir: string): Campaign {
  return parseCampaign(materialize(sub, dir), dir, CAMPAIGN_WHERE);
}

/** Check a submission as expand would before scoring; the campaign's name. */
export function checkSubmission(info: PoolInfo, sub: Submission, dir: string, limits: SubmissionLimits): string {
  const c = submissionCampaign(sub, dir);
  taskCodes(c, info.schema, info.vocab, info.vocabPath);
  const list = (src: Campaign['seeds']): Uid[] => (src ? ('file' in src ? readUidList(src.file) : src.uids) : []);
  let seeds: Uid[];
  let given: number;
  if (c.examples) {
    const ex = 'file' in c.examples ? readExamples(c.examples.file) : { uid: c.examples.rows.map((r) => r.uid), label: c.examples.rows.map((r) => r.label) };
    given = ex.uid.length;
    seeds = ex.uid.filter((_, i) => ex.label[i] === 1);
  } else {
    seeds = list(c.seeds);
    given = Math.max(seeds.length, list(c.negatives).length);
  }
  if (given > limits.maxSeeds) throw new UserError(`${c.source}: ${given} users in one list, more than the limit of ${limits.maxSeeds} per campaign`);
  const distinct = [...new Set(seeds)];
  if (distinct.length > 0 && !distinct.some((u) => has(info, u))) {
    throw new UserError(`${c.source}: none of the ${distinct.length} seed uids is in ${info.lookup} (first: ${distinct.slice(0, 5).join(', ')})`);
  }
  return c.name;
}
