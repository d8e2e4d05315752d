/**
 * One task of a meta-step, start to finish, on whichever thread claims it: the task's
 * meta-gradient (TaskMetaGrad: support and query passes, and for second order the
 * Hessian-vector product) copied into the task's slot. The main thread runs one of these on
 * its own model; each engine worker runs another (this module is the job module the
 * workers load: see setupWorker), so whole tasks run in parallel, as the PyTorch anchor's
 * worker threads do, and each runs its kernels single-threaded with no hand-offs.
 */
import type { Schema } from '../data/schema.js';
import type { DropoutRates } from '../model/dropout.js';
import { buildLayout, type Layout, type ModelDims } from '../model/layout.js';
import { Model } from '../model/model.js';
import { heapBytes } from '../model/scorer.js';
import type { Ops, Vec } from '../model/ops.js';
import { plainView, type TableView } from '../model/row-set.js';
import { TaskMetaGrad, type MetaOrder } from './task-grad.js';
import { replayingArena } from '../model/shared-rows.js';
import { TASK_DONE, TASK_FAILED, TaskSlots } from './task-slots.js';

export class TaskRunner {
  private readonly base: TableView;
  private readonly ident: Int32Array;

  constructor(
    private readonly task: TaskMetaGrad,
    private readonly dense: Vec,
    tables: Vec[],
    private readonly slots: TaskSlots,
    private readonly localLr: number,
  ) {
    this.base = plainView(tables);
    this.ident = Int32Array.from({ length: task.support.capacity }, (_, i) => i);
  }

  /** Claim and run tasks until none is left. */
  drain(): void {
    for (let t = this.slots.queue.claim(); t >= 0; t = this.slots.queue.claim()) this.run(t);
  }

  run(t: number): void {
    const { slots, ident } = this;
    const nS = slots.counts[2 * t]!;
    const nQ = slots.counts[2 * t + 1]!;
    let state: typeof TASK_DONE | typeof TASK_FAILED = TASK_FAILED;
    try {
      slots.loss[t] = this.task.compute(this.dense, this.base, this.localLr, slots.support[t]!, ident, nS, slots.query[t]!, ident, nQ, slots.keys[t]!);
      this.task.copyTo(slots.results[t]!);
      state = TASK_DONE;
    } finally {
      // a failed task releases the main thread too, which then stops summing and reports the error
      slots.finished(t, state);
    }
  }
}

/** Engine bytes of a worker's models (see heapBytes). */
export function workerHeapBytes(ops: Ops, L: Layout, capacity: number, order: MetaOrder, dropout: DropoutRates | undefined): number {
  return heapBytes(ops, (counting) => new TaskMetaGrad(counting, L, [], new Model(counting, L, capacity, 'auto', dropout), order));
}

/** What a worker needs to rebuild the main thread's view of θ and the slots. */
export interface TaskWorkerInit {
  schema: Schema;
  dims: ModelDims;
  capacity: number;
  tasks: number;
  localLr: number;
  order: MetaOrder;
  dropout: DropoutRates | undefined;
  /** [byteOffset, length] of θ's dense array and of each table. */
  dense: [number, number];
  tables: [number, number][];
  /** Byte offsets of the slots' arrays, in allocation order. */
  slots: number[];
}

export function taskWorkerInit(
  L: Layout, capacity: number, tasks: number, localLr: number, order: MetaOrder, dropout: DropoutRates | undefined,
  dense: Vec, tables: Vec[], slotOffsets: number[],
): TaskWorkerInit {
  return {
    schema: L.schema,
    dims: L.dims,
    capacity,
    tasks,
    localLr,
    order,
    dropout,
    dense: [dense.byteOffset, dense.length],
    tables: tables.map((t) => [t.byteOffset, t.length]),
    slots: slotOffsets,
  };
}

/** The job module's entry point, in a worker: its own model and fast weights over the shared θ. */
export function setupWorker(ops: Ops, memory: SharedArrayBuffer, raw: unknown): (args: Int32Array) => void {
  const init = raw as TaskWorkerInit;
  const L = buildLayout(init.schema, init.dims);
  const dense = new Float32Array(memory, init.dense[0], init.dense[1]);
  const tables = init.tables.map(([o, n]) => new Float32Array(memory, o, n));
  const slots = new TaskSlots(replayingArena(memory, init.slots), L, init.tasks, init.capacity, init.order === 'second');
  const task = new TaskMetaGrad(ops, L, tables, new Model(ops, L, init.capacity, 'auto', init.dropout), init.order);
  const runner = new TaskRunner(task, dense, tables, slots, init.localLr);
  return () => runner.drain();
}
