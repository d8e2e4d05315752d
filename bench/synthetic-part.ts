/**
 * In-memory parts with the Tencent schema's shapes, for timing the engine without any file
 * I/O. Two id distributions:
 * - `zipf` (the real data's shape): every id is Zipf-popular over its vocabulary, so the
 *   small single-valued vocabularies are all touched by a batch while kw/topic batches
 *   touch a few hundred popular rows and a tail; multi-valued lengths run past the width.
 * - `uniform` (what the PyTorch anchor's bench draws, ../shared/anchors/anchor_common.py
 *   random_frame): ids uniform over the vocabulary, lengths uniform in 0..width, 30%
 *   positives. A kw batch then touches thousands of distinct rows.
 */
import type { PartData } from '../src/data/part.js';
import { allocatePart } from '../src/data/part-ops.js';
import { multiStride, type Schema } from '../src/data/schema.js';
import { Rng } from '../src/util/rng.js';

export type IdDistribution = 'zipf' | 'uniform';

/** Zipf(s≈1) over 0..n-1 by inverse CDF on log scale: cheap and heavy-tailed enough. */
function zipf(rng: Rng, n: number): number {
  return Math.min(n - 1, Math.floor(Math.exp(rng.float() * Math.log(n + 1)) - 1));
}

export function syntheticPart(schema: Schema, nRows: number, nTasks: number, seed: number, ids: IdDistribution = 'zipf'): PartData {
  const rng = new Rng(seed);
  const nS = schema.userSingle.length;
  const nM = schema.userMulti.length;
  const nT = schema.task.length;
  const ms = multiStride(schema);
  const d = allocatePart(schema, nRows);
  const draw = ids === 'zipf' ? (n: number): number => zipf(rng, n) : (n: number): number => rng.int(n);
  const taskIds = Array.from({ length: nTasks }, () => schema.task.map((f) => rng.int(f.maxIdx + 1)));
  for (let r = 0; r < nRows; r++) {
    const t = zipf(rng, nTasks);
    d.aid[r] = t;
    d.label[r] = rng.float() < (ids === 'zipf' ? 0.05 : 0.3) ? 1 : 0;
    schema.userSingle.forEach((f, j) => (d.single[r * nS + j] = draw(f.maxIdx + 1)));
    let off = 0;
    schema.userMulti.forEach((f, m) => {
      const len = ids === 'uniform' ? rng.int(f.width + 1) : f.maxIdx < 20 && rng.float() < 0.7 ? 0 : 1 + rng.int(Math.max(f.width, 10));
      d.multiLen[r * nM + m] = len;
      for (let k = 0; k < f.width; k++) d.multi[r * ms + off + k] = draw(f.maxIdx + 1);
      off += f.width;
    });
    taskIds[t]!.forEach((v, j) => (d.task[r * nT + j] = v));
  }
  return d;
}
