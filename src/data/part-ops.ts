/** Allocating PartData and moving rows between PartData, for writers that buffer or merge. */
import type { PartData } from './part.js';
import { multiStride, type Schema } from './schema.js';

export type ExtraKind = 'float64' | 'float32' | 'int32';
export type ExtraArray = PartData['extra'][string];

export function extraKind(a: ExtraArray): ExtraKind {
  return a instanceof Float64Array ? 'float64' : a instanceof Float32Array ? 'float32' : 'int32';
}

export function newExtra(kind: ExtraKind, n: number): ExtraArray {
  return kind === 'float64' ? new Float64Array(n) : kind === 'float32' ? new Float32Array(n) : new Int32Array(n);
}

/** Zero-filled PartData for `n` rows of `s`, with the given extra columns. */
export function allocatePart(s: Schema, n: number, extra: Record<string, ExtraKind> = {}): PartData {
  const out: PartData = {
    nRows: n,
    label: new Uint8Array(n),
    aid: new Int32Array(n),
    single: new Int32Array(n * s.userSingle.length),
    multi: new Int32Array(n * multiStride(s)),
    multiLen: new Int32Array(n * s.userMulti.length),
    task: new Int32Array(n * s.task.length),
    extra: {},
  };
  for (const [k, kind] of Object.entries(extra)) out.extra[k] = newExtra(kind, n);
  return out;
}

/** Copy rows [from, from+n) of `src` to rows [to, to+n) of `dst` (same schema and extras). */
export function copyRows(s: Schema, src: PartData, from: number, dst: PartData, to: number, n: number): void {
  const move = <T extends Uint8Array | Int32Array | Float32Array | Float64Array>(a: T, b: T, w: number): void => {
    b.set(a.subarray(from * w, (from + n) * w), to * w);
  };
  move(src.label, dst.label, 1);
  move(src.aid, dst.aid, 1);
  move(src.single, dst.single, s.userSingle.length);
  move(src.multi, dst.multi, multiStride(s));
  move(src.multiLen, dst.multiLen, s.userMulti.length);
  move(src.task, dst.task, s.task.length);
  for (const [k, a] of Object.entries(src.extra)) move(a, dst.extra[k]!, 1);
}

/** Rows [a, b) of `d` as views sharing its memory. */
export function sliceRows(s: Schema, d: PartData, a: number, b: number): PartData {
  const view = <T extends Uint8Array | Int32Array>(x: T, w: number): T => x.subarray(a * w, b * w) as T;
  const extra: PartData['extra'] = {};
  for (const [k, v] of Object.entries(d.extra)) extra[k] = v.subarray(a, b);
  return {
    nRows: b - a,
    label: view(d.label, 1),
    aid: view(d.aid, 1),
    single: view(d.single, s.userSingle.length),
    multi: view(d.multi, multiStride(s)),
    multiLen: view(d.multiLen, s.userMulti.length),
    task: view(d.task, s.task.length),
    extra,
  };
}
