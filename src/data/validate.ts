/**
 * Checks a PartData against its schema. Both the reader (after decoding) and the writer
 * (before encoding) run it, so an importer cannot write a file the loader would refuse,
 * and every message has the same shape: `file: column "c" row r: what vs expected`.
 */
import { DataError } from '../util/errors.js';
import type { PartData } from './part.js';
import { maxLength, multiOffsets, multiStride, type Schema } from './schema.js';

/** `where` names the file (or the object being written) in every message. */
export function rowErrorAt(where: string, column: string, row: number, what: string): DataError {
  return new DataError(`${where}: column "${column}" row ${row}: ${what}`);
}

function expectLength(name: string, got: number, want: number): void {
  if (got !== want) throw new Error(`PartData.${name} has length ${got}, expected ${want} for this schema`);
}

/**
 * Array sizes that disagree with nRows and the schema are a caller's bug, not bad data,
 * so they throw a plain Error.
 */
export function checkShape(d: PartData, s: Schema): void {
  const n = d.nRows;
  expectLength('label', d.label.length, n);
  expectLength('aid', d.aid.length, n);
  expectLength('single', d.single.length, n * s.userSingle.length);
  expectLength('multi', d.multi.length, n * multiStride(s));
  expectLength('multiLen', d.multiLen.length, n * s.userMulti.length);
  expectLength('task', d.task.length, n * s.task.length);
  for (const [k, v] of Object.entries(d.extra)) expectLength(`extra.${k}`, v.length, n);
}

/**
 * The first value of column `c` (stride `stride`, first element `off` within a row,
 * `count` elements per row) outside [lo, hi], or null.
 */
function firstOutside(
  a: Int32Array,
  stride: number,
  off: number,
  count: number,
  lo: number,
  hi: number,
): { row: number; value: number } | null {
  const n = a.length / stride;
  for (let r = 0; r < n; r++) {
    const base = r * stride + off;
    for (let j = 0; j < count; j++) {
      const v = a[base + j]!;
      if (v < lo || v > hi) return { row: r, value: v };
    }
  }
  return null;
}

/**
 * Every label in {0,1}, every id in [0, max_idx], every length in [0, maxLength].
 * `rowBase` offsets reported rows when `d` is a chunk of a larger part.
 */
export function validatePartData(d: PartData, s: Schema, where: string, rowBase = 0): void {
  checkShape(d, s);
  const rowError = (column: string, row: number, what: string): DataError => rowErrorAt(where, column, rowBase + row, what);
  for (let r = 0; r < d.nRows; r++) {
    const v = d.label[r]!;
    if (v > 1) throw rowError('label', r, `label ${v}, expected 0 or 1`);
  }
  const ns = s.userSingle.length;
  s.userSingle.forEach((f, i) => {
    const bad = firstOutside(d.single, ns, i, 1, 0, f.maxIdx);
    if (bad) throw rowError(f.name, bad.row, `id ${bad.value} outside [0, ${f.maxIdx}]`);
  });
  const stride = multiStride(s);
  const offs = multiOffsets(s);
  const nm = s.userMulti.length;
  s.userMulti.forEach((f, i) => {
    const bad = firstOutside(d.multi, stride, offs[i]!, f.width, 0, f.maxIdx);
    if (bad) throw rowError(f.name, bad.row, `id ${bad.value} outside [0, ${f.maxIdx}]`);
    const cap = maxLength(f);
    const badLen = firstOutside(d.multiLen, nm, i, 1, 0, cap);
    if (badLen) throw rowError(`${f.name}_length`, badLen.row, `length ${badLen.value} outside [0, ${cap}]`);
  });
  const nt = s.task.length;
  s.task.forEach((f, i) => {
    const bad = firstOutside(d.task, nt, i, 1, 0, f.maxIdx);
    if (bad) throw rowError(f.name, bad.row, `id ${bad.value} outside [0, ${f.maxIdx}]`);
  });
}
