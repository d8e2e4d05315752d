/**
 * Adaptation of many tasks (campaigns) at once, whole tasks per engine thread, as the
 * meta-step runs whole tasks (task-runner.ts). Each thread owns an Adapter over the shared θ
 * and claims tasks from a queue; a task's stage-1 rows are copied into the engine's memory,
 * and its adapted weights are written into an AdaptedModel the main thread laid out there,
 * ready to score with. A task's result depends only on its rows and key (Adapter.adapt),
 * not on the thread that ran it, so this equals adapting the tasks one after another.
 */
import type { PartData } from '../data/part.js';
import type { Schema } from '../data/schema.js';
import { buildLayout, type ModelDims } from '../model/layout.js';
import type { Ops } from '../model/ops.js';
import type { Params } from '../model/params.js';
import { heapBytes } from '../model/scorer.js';
import { arenaAlloc, copyRowsTo, miniPart, recordingArena, replayingArena, WorkQueue, type Arena } from '../model/shared-rows.js';
import { Adapter, AdaptedModel, type AdaptOptions } from './adapt.js';
import { summarizeChoice, type ChoiceSummary } from './adapt-select.js';

/** One task to adapt to: its stage-1 rows (`rows` of `train`, in that order) and its key. */
export interface AdaptTask {
  train: PartData;
  rows: Int32Array;
  key: number;
}

export interface Adapted {
  model: AdaptedModel;
  steps: number;
  lastLoss: number;
  /** Wall seconds of this task's adaptation, on the thread that ran it. */
  seconds: number;
  /** What cross-validation chose (AdaptOptions.select), or null. */
  choice: ChoiceSummary | null;
}

/** Bytes of a choice's fall-back reason in a slot (longer ones are cut). */
const REASON_BYTES = 200;

/** Per task: its rows, key, results; laid out alike on the main thread and in a worker. */
class AdaptSlots {
  readonly queue: WorkQueue;
  readonly keys: Int32Array;
  /** Per task: steps, last loss, seconds. */
  readonly stats: Float64Array;
  /** Per task and table: the adapted model's rows in use (a JavaScript field the worker cannot set on the main thread's object). */
  readonly used: Int32Array;
  readonly train: PartData[];
  readonly models: AdaptedModel[];
  /** Per task: chosen? (0/1), epochs, lr, frozen (0/1), CV AUC (NaN: none); and the fall-back reason as UTF-8 (length first). */
  readonly choice: Float64Array;
  readonly reason: Uint8Array;

  constructor(a: Arena, schema: Schema, params: Params, sizes: number[]) {
    const T = sizes.length;
    const nE = params.layout.embeddings.length;
    this.queue = new WorkQueue(a);
    this.keys = a.i32(T);
    const words = a.i32(6 * T);
    this.stats = new Float64Array(words.buffer, words.byteOffset, 3 * T);
    this.used = a.i32(T * nE);
    const cw = a.i32(10 * T);
    this.choice = new Float64Array(cw.buffer, cw.byteOffset, 5 * T);
    const rw = a.i32(((REASON_BYTES + 3) >> 2) * T);
    this.reason = new Uint8Array(rw.buffer, rw.byteOffset, REASON_BYTES * T);
    this.train = sizes.map((n) => miniPart(a, schema, n));
    this.models = sizes.map(() => new AdaptedModel(arenaAlloc(a), params));
  }
}

class AdaptRunner {
  constructor(
    private readonly adapter: Adapter,
    private readonly slots: AdaptSlots,
  ) {}

  drain(): void {
    const { adapter, slots } = this;
    for (let t = slots.queue.claim(); t >= 0; t = slots.queue.claim()) {
      const t0 = performance.now();
      const train = slots.train[t]!;
      const r = adapter.adapt(train, Int32Array.from({ length: train.nRows }, (_, i) => i), slots.keys[t]!);
      const m = adapter.snapshotInto(slots.models[t]!);
      m.rows.forEach((rs, e) => (slots.used[t * m.rows.length + e] = rs.n));
      slots.stats.set([r.steps, r.lastLoss, (performance.now() - t0) / 1000], 3 * t);
      if (r.choice) writeChoice(slots, t, summarizeChoice(r.choice));
    }
  }
}

function writeChoice(slots: AdaptSlots, t: number, c: ChoiceSummary): void {
  slots.choice.set([1, c.epochs, c.lr, c.freeze ? 1 : 0, c.cvAuc ?? NaN], 5 * t);
  const bytes = new TextEncoder().encode(c.fallback ?? '').subarray(0, REASON_BYTES - 2);
  slots.reason.set([bytes.length & 0xff, bytes.length >> 8], REASON_BYTES * t);
  slots.reason.set(bytes, REASON_BYTES * t + 2);
}

function readChoice(slots: AdaptSlots, t: number): ChoiceSummary | null {
  const [chosen, epochs, lr, freeze, cvAuc] = slots.choice.subarray(5 * t, 5 * t + 5);
  if (!chosen) return null;
  const at = REASON_BYTES * t;
  const n = slots.reason[at]! | (slots.reason[at + 1]! << 8);
  const fallback = n ? new TextDecoder().decode(slots.reason.slice(at + 2, at + 2 + n)) : null;
  return { epochs: epochs!, lr: lr!, freeze: freeze === 1, cvAuc: Number.isNaN(cvAuc) ? null : cvAuc!, fallback };
}

interface AdaptWorkerInit {
  schema: Schema;
  dims: ModelDims;
  opts: AdaptOptions;
  dense: [number, number];
  tables: [number, number][];
  sizes: number[];
  slots: number[];
}

/**
 * Adapt `adapter`'s θ to every task: on an engine with worker threads and more than one
 * task, whole tasks on every thread; otherwise one after another on this thread.
 */
export function adaptAll(adapter: Adapter, tasks: AdaptTask[]): Adapted[] {
  const { ops, params, opts } = adapter;
  const jobs = ops.jobs;
  const serial = (): Adapted[] =>
    tasks.map((t) => {
      const t0 = performance.now();
      const r = adapter.adapt(t.train, t.rows, t.key);
      return { model: adapter.snapshot(), steps: r.steps, lastLoss: r.lastLoss, seconds: (performance.now() - t0) / 1000, choice: r.choice ? summarizeChoice(r.choice) : null };
    });
  if (!jobs || tasks.length < 2) return serial();
  // Each worker's Adapter holds table-sized arrays (reserved, committed only where used), as
  // does each adapted model, so many threads over big tables can outgrow the engine's 4 GiB:
  // then one after another, with the same results. The heap runs from mark() to the memory's end.
  const workerBytes = heapBytes(ops, (counting) => new Adapter(counting, params, opts));
  const modelBytes = heapBytes(ops, (counting) => new AdaptedModel(counting, params));
  if (workerBytes * jobs.workers + modelBytes * tasks.length > 0.75 * (jobs.memory.byteLength - ops.mark())) return serial();
  const L = params.layout;
  const offsets: number[] = [];
  const sizes = tasks.map((t) => t.rows.length);
  const slots = new AdaptSlots(recordingArena(ops, offsets), L.schema, params, sizes);
  tasks.forEach((t, i) => {
    copyRowsTo(L.schema, t.train, t.rows, slots.train[i]!);
    slots.keys[i] = t.key;
  });
  const init: AdaptWorkerInit = {
    schema: L.schema,
    dims: L.dims,
    opts,
    dense: [params.dense.byteOffset, params.dense.length],
    tables: params.tables.map((t) => [t.byteOffset, t.length]),
    sizes,
    slots: offsets,
  };
  // the workers' heaps are needed only until the adapted weights are in the slots
  const heaps = ops.mark();
  try {
    const job = jobs.load(new URL('./adapt-runner.js', import.meta.url).href, init, workerBytes);
    slots.queue.open(tasks.length);
    const helpers = Math.min(jobs.workers, tasks.length - 1);
    for (let w = 1; w <= helpers; w++) jobs.start(w, job, []);
    try {
      new AdaptRunner(adapter, slots).drain();
    } finally {
      for (let w = 1; w <= helpers; w++) jobs.finish(w);
    }
  } finally {
    ops.release(heaps);
  }
  return slots.models.map((model, t) => {
    model.rows.forEach((rs, e) => (rs.n = slots.used[t * model.rows.length + e]!));
    return { model, steps: slots.stats[3 * t]!, lastLoss: slots.stats[3 * t + 1]!, seconds: slots.stats[3 * t + 2]!, choice: readChoice(slots, t) };
  });
}

/** The job module's entry point, in a worker: its own Adapter over the shared θ. */
export function setupWorker(ops: Ops, memory: SharedArrayBuffer, raw: unknown): () => void {
  const init = raw as AdaptWorkerInit;
  const L = buildLayout(init.schema, init.dims);
  const params: Params = {
    layout: L,
    dense: new Float32Array(memory, init.dense[0], init.dense[1]),
    tables: init.tables.map(([o, n]) => new Float32Array(memory, o, n)),
  };
  const slots = new AdaptSlots(replayingArena(memory, init.slots), init.schema, params, init.sizes);
  const runner = new AdaptRunner(new Adapter(ops, params, init.opts), slots);
  return () => runner.drain();
}
