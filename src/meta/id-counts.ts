/**
 * How often each id occurs in the training rows, per embedding table: the n_id of DIN's
 * frequency-aware L2 (optim/regularize.ts). A multi-valued field counts the ids the model
 * reads, those within min(len, width), as the embedding bag does.
 */
import type { PartData } from '../data/part.js';
import { multiOffsets, multiStride, type Schema } from '../data/schema.js';

/** Counts of column j of a [n, stride] id matrix, ids 0..maxIdx. */
function columnCounts(ids: Int32Array, stride: number, j: number, n: number, maxIdx: number): Int32Array {
  const c = new Int32Array(maxIdx + 1);
  for (let r = 0; r < n; r++) c[ids[r * stride + j]!]++;
  return c;
}

/** Per table in layout order (single, multi, task), `[maxIdx + 1]` counts over all of `part`'s rows. */
export function idCounts(schema: Schema, part: PartData): Int32Array[] {
  const n = part.nRows;
  const nS = schema.userSingle.length;
  const nM = schema.userMulti.length;
  const nT = schema.task.length;
  const ms = multiStride(schema);
  const moffs = multiOffsets(schema);
  const single = schema.userSingle.map((f, j) => columnCounts(part.single, nS, j, n, f.maxIdx));
  const multi = schema.userMulti.map((f, m) => {
    const c = new Int32Array(f.maxIdx + 1);
    for (let r = 0; r < n; r++) {
      const len = Math.min(part.multiLen[r * nM + m]!, f.width);
      const base = r * ms + moffs[m]!;
      for (let t = 0; t < len; t++) c[part.multi[base + t]!]++;
    }
    return c;
  });
  const task = schema.task.map((f, j) => columnCounts(part.task, nT, j, n, f.maxIdx));
  return [...single, ...multi, ...task];
}
