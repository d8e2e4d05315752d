/** A tiny schema and random parts for model tests: every kind of field, lengths 0, partial, full and above the width. */
import type { PartData } from '../../src/data/part.js';
import { allocatePart } from '../../src/data/part-ops.js';
import { multiStride, type Schema } from '../../src/data/schema.js';
import { Rng } from '../../src/util/rng.js';

export const TINY_SCHEMA: Schema = {
  userSingle: [
    { name: 's0', maxIdx: 3 },
    { name: 's1', maxIdx: 6 },
  ],
  userMulti: [
    { name: 'm0', maxIdx: 9, width: 3 },
    { name: 'm1', maxIdx: 4, width: 2 },
  ],
  task: [
    { name: 't0', maxIdx: 2 },
    { name: 't1', maxIdx: 5 },
  ],
};

/** n rows of random ids; `aids` cycles over the given task ids. */
export function randomPart(schema: Schema, n: number, seed: number, aids: number[] = [1]): PartData {
  const rng = new Rng(seed);
  const nS = schema.userSingle.length;
  const nM = schema.userMulti.length;
  const nT = schema.task.length;
  const ms = multiStride(schema);
  const d = allocatePart(schema, n);
  for (let r = 0; r < n; r++) {
    d.label[r] = rng.float() < 0.4 ? 1 : 0;
    d.aid[r] = aids[r % aids.length]!;
    schema.userSingle.forEach((f, j) => (d.single[r * nS + j] = rng.int(f.maxIdx + 1)));
    let off = 0;
    schema.userMulti.forEach((f, m) => {
      // lengths 0 .. width+2: empty, partial, full and above the width
      const len = rng.int(f.width + 3);
      d.multiLen[r * nM + m] = len;
      for (let t = 0; t < f.width; t++) d.multi[r * ms + off + t] = rng.int(f.maxIdx + 1);
      off += f.width;
    });
    schema.task.forEach((f, j) => (d.task[r * nT + j] = rng.int(f.maxIdx + 1)));
  }
  return d;
}

export function range(n: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}
