/**
 * Arrays that the engine's threads share by byte offset (see JobHost in ops.ts): an Arena
 * lays them out once on the main thread and replays the same layout in a worker, and
 * mini-parts carry a batch's rows, copied out of a part, to whichever thread takes it.
 */
import type { PartData } from '../data/part.js';
import { multiStride, type Schema } from '../data/schema.js';
import type { Ops } from './ops.js';
import type { RowAlloc } from './row-set.js';

/** Allocates (and records the byte offsets) or replays recorded offsets as views. */
export interface Arena {
  f32(n: number): Float32Array;
  i32(n: number): Int32Array;
  u8(n: number): Uint8Array;
}

export function recordingArena(ops: Ops, offsets: number[]): Arena {
  const rec = <T extends ArrayBufferView>(a: T): T => {
    offsets.push(a.byteOffset);
    return a;
  };
  return {
    f32: (n) => rec(ops.alloc(n) as Float32Array),
    i32: (n) => rec(ops.allocI32(n)),
    u8: (n) => rec(ops.allocU8(n)),
  };
}

export function replayingArena(memory: SharedArrayBuffer, offsets: number[]): Arena {
  let i = 0;
  const next = (): number => {
    if (i >= offsets.length) throw new Error('task slots: the worker asked for more arrays than the main thread laid out');
    return offsets[i++]!;
  };
  return {
    f32: (n) => new Float32Array(memory, next(), n),
    i32: (n) => new Int32Array(memory, next(), n),
    u8: (n) => new Uint8Array(memory, next(), n),
  };
}

/** An arena as the allocator of row sets and adapted models, so a worker can view the main thread's in place. */
export function arenaAlloc(a: Arena): RowAlloc {
  return { alloc: a.f32, allocI32: a.i32, allocU8: a.u8 };
}

/** Rows of one batch, copied out of a part: a PartData of `capacity` rows. */
export function miniPart(a: Arena, s: Schema, capacity: number): PartData {
  return {
    nRows: capacity,
    label: a.u8(capacity),
    aid: a.i32(capacity),
    single: a.i32(capacity * s.userSingle.length),
    multi: a.i32(capacity * multiStride(s)),
    multiLen: a.i32(capacity * s.userMulti.length),
    task: a.i32(capacity * s.task.length),
    extra: {},
  };
}

/** Copy rows[0..n) of `part` into the first n rows of the mini-part `dst`. */
export function copyRowsTo(s: Schema, part: PartData, rows: ArrayLike<number>, dst: PartData): void {
  const n = rows.length;
  if (n > dst.nRows) throw new Error(`batch of ${n} rows exceeds capacity ${dst.nRows}`);
  const nS = s.userSingle.length;
  const nM = s.userMulti.length;
  const nT = s.task.length;
  const ms = multiStride(s);
  // plain loops: a subarray per field and row cost more than the copying (measured)
  const copy = (src: Int32Array, out: Int32Array, r: number, i: number, w: number): void => {
    for (let k = 0; k < w; k++) out[i * w + k] = src[r * w + k]!;
  };
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    dst.label[i] = part.label[r]!;
    dst.aid[i] = part.aid[r]!;
    copy(part.single, dst.single, r, i, nS);
    copy(part.multi, dst.multi, r, i, ms);
    copy(part.multiLen, dst.multiLen, r, i, nM);
    copy(part.task, dst.task, r, i, nT);
  }
}

/** Items 0 .. n-1 that threads claim one at a time from a shared counter. */
export class WorkQueue {
  /** [items open, next unclaimed]; a cache line of its own. */
  private readonly header: Int32Array;

  constructor(a: Arena) {
    this.header = a.i32(16);
  }

  open(n: number): void {
    Atomics.store(this.header, 0, n);
    Atomics.store(this.header, 1, 0);
  }

  /** The next unclaimed item, or -1. */
  claim(): number {
    const t = Atomics.add(this.header, 1, 1);
    return t < Atomics.load(this.header, 0) ? t : -1;
  }
}
