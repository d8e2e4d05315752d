/**
 * Task splits of the official preprocessing (spec section 6): a seeded half of the aids
 * trains, the rest is tested, and test tasks are hot or cold by a threshold.
 */
import { PythonRandom } from '../util/pyrandom.js';

/**
 * Training aids among the encoded aids 0..nAids-1: the official script's
 * `random.seed(seed); train_aid = set(random.sample(aid_set, int(len(aid_set) / 2)))`.
 * `aid_set` holds the label-encoded aids 0..n-1, which a CPython set iterates in ascending
 * order, so sampling from [0..n-1] draws the same aids, provided nothing else drew from
 * Python's global generator in between (nothing in that script does).
 */
export function trainAidMask(nAids: number, seed: number): Uint8Array {
  const all = Array.from({ length: nAids }, (_, i) => i);
  const mask = new Uint8Array(nAids);
  for (const a of new PythonRandom(seed).sample(all, Math.floor(nAids / 2))) mask[a] = 1;
  return mask;
}

/**
 * What decides hot / cold. `positives`: label-1 rows of the task over stage 1 and stage 2
 * (the official script, threshold 2000). `candidates`: stage-2 rows of the task, the
 * candidate pool (PaddleRec's readme, T = 4000).
 */
export type ColdBasis = 'positives' | 'candidates';

export const DEFAULT_COLD_THRESHOLD: Record<ColdBasis, number> = { positives: 2000, candidates: 4000 };

/**
 * Cold: the basis count is at most `threshold`. A test task without any positive is cold
 * here, as the spec's rule says; the official script would call it hot (it only looks at
 * aids that occur among the positives). No task of the real data has zero positives.
 */
export function isCold(count: number, threshold: number): boolean {
  return count <= threshold;
}
