/**
 * What the threads of a parallel meta-step share, in the engine's memory: per task, its
 * support and query rows copied out of the training part (so a worker builds the same
 * batches without the part), and its results (query loss, dense gradient, row gradients by
 * id). Tasks are claimed from a shared counter; the main thread sums the results in task
 * order afterwards, so the step computes exactly what a serial one does, on any number of
 * threads.
 *
 * The arrays are laid out by one constructor that either allocates them (main thread) or,
 * in a worker, replays the byte offsets the main thread recorded.
 */
import type { PartData } from '../data/part.js';
import { multiStride, type Schema } from '../data/schema.js';
import type { Layout } from '../model/layout.js';
import type { Ops, Vec } from '../model/ops.js';

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

/** Rows of one batch, copied out of a part: a PartData of `capacity` rows. */
function miniPart(a: Arena, s: Schema, capacity: number): PartData {
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

/** Gradient-shaped results on one batch: dense, and per table its unique rows and their gradients. */
export interface BatchGrad {
  uniq: Int32Array[];
  nUniq: Int32Array;
}

/**
 * One task's results, what TaskMetaGrad.addTo reads from its models: the query gradient
 * (dense and per query row), and for second order H_support q (dense and per support row).
 */
export interface TaskResult extends BatchGrad {
  grad: Vec;
  dLocal: Vec[];
  second: (BatchGrad & { hv: Vec; rLocal: Vec[] }) | null;
}

export class TaskSlots {
  /** [tasks in this step, next unclaimed task] */
  readonly header: Int32Array;
  /** Support rows, query rows per task. */
  readonly counts: Int32Array;
  readonly loss: Float64Array;
  readonly support: PartData[];
  readonly query: PartData[];
  readonly results: TaskResult[];

  constructor(
    a: Arena,
    private readonly L: Layout,
    readonly tasks: number,
    capacity: number,
    second: boolean,
  ) {
    const s = L.schema;
    const E = L.dims.embedDim;
    this.header = a.i32(16);
    this.counts = a.i32(2 * tasks);
    const lossWords = a.i32(2 * tasks);
    this.loss = new Float64Array(lossWords.buffer, lossWords.byteOffset, tasks);
    this.support = [];
    this.query = [];
    this.results = [];
    const widths = [...s.userSingle.map(() => 1), ...s.userMulti.map((f) => f.width), ...s.task.map(() => 1)];
    for (let t = 0; t < tasks; t++) {
      this.support.push(miniPart(a, s, capacity));
      this.query.push(miniPart(a, s, capacity));
      const uniqCap = widths.map((w, e) => Math.min(capacity * w, L.embeddings[e]!.rows));
      this.results.push({
        grad: a.f32(L.denseSize),
        uniq: uniqCap.map((n) => a.i32(n)),
        nUniq: a.i32(widths.length),
        dLocal: uniqCap.map((n) => a.f32(n * E)),
        second: second
          ? { hv: a.f32(L.denseSize), uniq: uniqCap.map((n) => a.i32(n)), nUniq: a.i32(widths.length), rLocal: uniqCap.map((n) => a.f32(n * E)) }
          : null,
      });
    }
  }

  /** Copy rows[0..n) of `part` into task t's support (which 0) or query (1) rows. */
  fill(t: number, which: 0 | 1, part: PartData, rows: ArrayLike<number>): void {
    const s = this.L.schema;
    const dst = which === 0 ? this.support[t]! : this.query[t]!;
    const n = rows.length;
    if (n > dst.nRows) throw new Error(`task batch of ${n} rows exceeds capacity ${dst.nRows}`);
    const nS = s.userSingle.length;
    const nM = s.userMulti.length;
    const nT = s.task.length;
    const ms = multiStride(s);
    for (let i = 0; i < n; i++) {
      const r = rows[i]!;
      dst.label[i] = part.label[r]!;
      dst.aid[i] = part.aid[r]!;
      dst.single.set(part.single.subarray(r * nS, r * nS + nS), i * nS);
      dst.multi.set(part.multi.subarray(r * ms, r * ms + ms), i * ms);
      dst.multiLen.set(part.multiLen.subarray(r * nM, r * nM + nM), i * nM);
      dst.task.set(part.task.subarray(r * nT, r * nT + nT), i * nT);
    }
    this.counts[2 * t + which] = n;
  }

  /** Open a step of `n` tasks for claiming. */
  open(n: number): void {
    if (n > this.tasks) throw new Error(`${n} tasks exceed the ${this.tasks} slots`);
    Atomics.store(this.header, 0, n);
    Atomics.store(this.header, 1, 0);
  }

  /** The next unclaimed task, or -1. */
  claim(): number {
    const t = Atomics.add(this.header, 1, 1);
    return t < Atomics.load(this.header, 0) ? t : -1;
  }
}
