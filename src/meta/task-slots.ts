/**
 * What the threads of a parallel meta-step share, in the engine's memory: per task, its
 * support and query rows copied out of the training part (so a worker builds the same
 * batches without the part), and its results (query loss, dense gradient, row gradients by
 * id). Tasks are claimed from a shared counter; the main thread sums the results in task
 * order, each as soon as it and those before it are done (while other threads finish their
 * last tasks), so the step computes exactly what a serial one does, on any number of threads.
 *
 * The arrays are laid out by one constructor that either allocates them (main thread) or,
 * in a worker, replays the byte offsets the main thread recorded (shared-rows.ts).
 */
import type { PartData } from '../data/part.js';
import type { Layout } from '../model/layout.js';
import type { Vec } from '../model/ops.js';
import { waitChange } from '../kernels/control.js';
import { copyRowsTo, miniPart, WorkQueue, type Arena } from '../model/shared-rows.js';

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

export const TASK_PENDING = 0;
export const TASK_DONE = 1;
export const TASK_FAILED = 2;

export class TaskSlots {
  readonly queue: WorkQueue;
  /** Support rows, query rows per task. */
  readonly counts: Int32Array;
  /** Per task: its dropout key (TaskMetaGrad.compute). */
  readonly keys: Int32Array;
  readonly loss: Float64Array;
  /** Per task: TASK_PENDING until its results are in its slot, then TASK_DONE (or TASK_FAILED). */
  readonly done: Int32Array;
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
    this.queue = new WorkQueue(a);
    this.counts = a.i32(2 * tasks);
    this.keys = a.i32(tasks);
    const lossWords = a.i32(2 * tasks);
    this.loss = new Float64Array(lossWords.buffer, lossWords.byteOffset, tasks);
    this.done = a.i32(tasks);
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

  /** Every task pending, `n` of them open to claims. */
  open(n: number): void {
    this.done.fill(TASK_PENDING);
    this.queue.open(n);
  }

  /** Task t's results are in its slot (or it failed): whoever waits on it may go on. */
  finished(t: number, state: typeof TASK_DONE | typeof TASK_FAILED): void {
    Atomics.store(this.done, t, state);
    Atomics.notify(this.done, t);
  }

  /** Waits until task t is no longer pending; its state. */
  wait(t: number): number {
    return waitChange(this.done, t, TASK_PENDING);
  }

  /** Copy rows[0..n) of `part` into task t's support (which 0) or query (1) rows. */
  fill(t: number, which: 0 | 1, part: PartData, rows: ArrayLike<number>): void {
    copyRowsTo(this.L.schema, part, rows, which === 0 ? this.support[t]! : this.query[t]!);
    this.counts[2 * t + which] = rows.length;
  }
}
