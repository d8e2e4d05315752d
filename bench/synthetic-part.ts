/**
 * In-memory parts with the Tencent schema's shapes and realistic id popularity (Zipf over
 * the large vocabularies), for timing the engine without any file I/O.
 */
import type { PartData } from '../src/data/part.js';
import { allocatePart } from '../src/data/part-ops.js';
import { multiStride, type Schema } from '../src/data/schema.js';
import { Rng } from '../src/util/rng.js';

/** Zipf(s≈1) over 0..n-1 by inverse CDF on log scale: cheap and heavy-tailed enough. */
function zipf(rng: Rng, n: number): number {
  return Math.min(n - 1, Math.floor(Math.exp(rng.float() * Math.log(n + 1)) - 1));
}

export function syntheticPart(schema: Schema, nRows: number, nTasks: number, seed: number): PartData {
  const rng = new Rng(seed);
  const nS = schema.userSingle.length;
  const nM = schema.userMulti.length;
  const nT = schema.task.length;
  const ms = multiStride(schema);
  const d = allocatePart(schema, nRows);
  const taskIds = Array.from({ length: nTasks }, () => schema.task.map((f) => rng.int(f.maxIdx + 1)));
  for (let r = 0; r < nRows; r++) {
    const t = zipf(rng, nTasks);
    d.aid[r] = t;
    d.label[r] = rng.float() < 0.05 ? 1 : 0;
    schema.userSingle.forEach((f, j) => (d.single[r * nS + j] = zipf(rng, f.maxIdx + 1)));
    let off = 0;
    schema.userMulti.forEach((f, m) => {
      const len = f.maxIdx < 20 && rng.float() < 0.7 ? 0 : 1 + rng.int(Math.max(f.width, 10));
      d.multiLen[r * nM + m] = len;
      for (let k = 0; k < f.width; k++) d.multi[r * ms + off + k] = zipf(rng, f.maxIdx + 1);
      off += f.width;
    });
    taskIds[t]!.forEach((v, j) => (d.task[r * nT + j] = v));
  }
  return d;
}
