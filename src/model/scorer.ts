/**
 * Forward-only scoring of many rows (a candidate pool) with one or several models over θ's
 * tables: the general model θ, or campaigns' adapted weights (a dense copy and an overlay of
 * replaced embedding rows), each optionally with task codes that replace every row's task
 * fields (a campaign scored against a pool of users). On an engine with worker threads,
 * whole batches go to the threads: each worker loads this module with its own model over
 * the shared weights, batches' rows are copied into shared mini-parts, and threads claim
 * (batch, model) items from a queue, every one computed single-threaded with no hand-offs.
 * A batch's predictions do not depend on the thread that scored it, nor on the other
 * models scored beside it.
 */
import type { PartData } from '../data/part.js';
import type { Schema } from '../data/schema.js';
import { allocProjections, projectTables, type TableProjections } from './first-layer.js';
import { buildLayout, type Layout, type ModelDims } from './layout.js';
import { Model } from './model.js';
import type { JobHost, Ops, Vec } from './ops.js';
import type { Params } from './params.js';
import { plainView, RowSet, type TableView } from './row-set.js';
import { arenaAlloc, copyRowsTo, miniPart, recordingArena, replayingArena, WorkQueue, type Arena } from './shared-rows.js';

/** Batches in flight per thread in one round: two keep a thread busy while the round's stragglers finish. */
const BATCHES_PER_THREAD = 2;

/** Dense weights and a view of the tables: what a forward pass scores with. */
export interface Weights {
  view: TableView;
  dense: Vec;
}

/** A model to score with: weights over θ's tables, and task codes (one per task field) every row takes, if given. */
export interface ScoreModel extends Weights {
  task?: ArrayLike<number> | undefined;
}

class ScoreSlots {
  readonly queue: WorkQueue;
  readonly counts: Int32Array;
  /** Per batch: its rows as copied in. */
  readonly batches: PartData[];
  /** Per batch, per model: the batch's rows as that model sees them (its task codes, if any). */
  readonly parts: PartData[][];
  /** Per batch, per model: predictions. */
  readonly preds: Float32Array[][];
  /** Per model: its small tables' projections (first-layer.ts), shared by every thread. */
  readonly projections: TableProjections[];

  constructor(a: Arena, L: Layout, batches: number, capacity: number, taskCoded: boolean[]) {
    const schema = L.schema;
    this.queue = new WorkQueue(a);
    this.counts = a.i32(batches);
    const tasks = taskCoded.map((coded) => (coded ? a.i32(capacity * schema.task.length) : null));
    this.batches = Array.from({ length: batches }, () => miniPart(a, schema, capacity));
    this.parts = this.batches.map((part) => tasks.map((task) => (task ? { ...part, task } : part)));
    this.preds = Array.from({ length: batches }, () => taskCoded.map(() => a.f32(capacity)));
    this.projections = taskCoded.map(() => allocProjections(a.f32, L));
  }

  /** Every row of model k's parts takes `codes` as its task fields. */
  setTask(k: number, codes: ArrayLike<number>): void {
    const task = this.parts[0]![k]!.task;
    for (let i = 0; i < task.length; i += codes.length) task.set(codes, i);
  }
}

class BatchRunner {
  private readonly ident: Int32Array;

  constructor(
    private readonly model: Model,
    private readonly models: Weights[],
    private readonly slots: ScoreSlots,
  ) {
    this.ident = Int32Array.from({ length: model.capacity }, (_, i) => i);
  }

  /** `projected`: the slots' projections hold each model's (see Scorer.scoreEach). */
  drain(projected: boolean): void {
    const { model, models, slots } = this;
    const M = models.length;
    for (let t = slots.queue.claim(); t >= 0; t = slots.queue.claim()) {
      const i = Math.floor(t / M);
      const k = t % M;
      const n = slots.counts[i]!;
      const w = models[k]!;
      model.forward(w.view, w.dense, slots.parts[i]![k]!, this.ident, 0, n, false, projected ? slots.projections[k] : undefined);
      slots.preds[i]![k]!.set(model.p.subarray(0, n));
    }
  }
}

/** Where a worker finds one model's arrays: byte offsets in the engine's memory. */
interface SharedWeights {
  dense: [number, number];
  mode: TableView['mode'];
  /** Per table: [mark, ids, data] byte offsets and the rows in use, or null for the plain tables. */
  overlay: { at: [number, number, number]; n: number }[] | null;
}

interface ScoreWorkerInit {
  schema: Schema;
  dims: ModelDims;
  capacity: number;
  batches: number;
  tables: [number, number][];
  models: SharedWeights[];
  taskCoded: boolean[];
  slots: number[];
}

export class Scorer {
  private readonly model: Model;
  private readonly slots: ScoreSlots;
  private readonly runner: BatchRunner;
  private readonly workers: { jobs: JobHost; job: number } | null;
  private projected = false;

  /**
   * `models` default to θ alone; they must view θ's tables (workers see no others). The
   * weights must stay as they are while this scorer is in use: it projects their small
   * tables once, on its first call with a full batch.
   */
  constructor(
    private readonly ops: Ops,
    private readonly params: Params,
    readonly batchSize: number,
    private readonly models: ScoreModel[] = [{ view: plainView(params.tables), dense: params.dense }],
  ) {
    const L = params.layout;
    for (const m of models) {
      if (m.view.tables.some((t, e) => t !== params.tables[e])) throw new Error('Scorer: every model must view the scorer\'s own tables');
      if (m.task && m.task.length !== L.schema.task.length) throw new Error(`Scorer: ${m.task.length} task codes given, the schema has ${L.schema.task.length} task fields`);
    }
    const taskCoded = models.map((m) => m.task !== undefined);
    const jobs = ops.jobs;
    const batches = ((jobs?.workers ?? 0) + 1) * BATCHES_PER_THREAD;
    const offsets: number[] = [];
    this.slots = new ScoreSlots(recordingArena(ops, offsets), L, batches, batchSize, taskCoded);
    models.forEach((m, k) => m.task && this.slots.setTask(k, m.task));
    this.model = new Model(ops, L, batchSize);
    this.runner = new BatchRunner(this.model, models, this.slots);
    this.workers = jobs ? { jobs, job: this.startWorkers(jobs, L, batches, taskCoded, offsets) } : null;
  }

  private startWorkers(jobs: JobHost, L: Layout, batches: number, taskCoded: boolean[], offsets: number[]): number {
    const { ops, params, batchSize } = this;
    const init: ScoreWorkerInit = {
      schema: L.schema,
      dims: L.dims,
      capacity: batchSize,
      batches,
      tables: params.tables.map((t) => [t.byteOffset, t.length]),
      models: this.models.map((m) => ({
        dense: [m.dense.byteOffset, m.dense.length],
        mode: m.view.mode,
        overlay: m.view.overlay ? m.view.overlay.map((r) => ({ at: [r.mark.byteOffset, r.ids.byteOffset, r.data.byteOffset], n: r.n })) : null,
      })),
      taskCoded,
      slots: offsets,
    };
    return jobs.load(new URL('./scorer.js', import.meta.url).href, init, modelBytes(ops, L, batchSize));
  }

  /** Rows one round scores (every thread busy): a caller streaming a pool hands over this many at a time. */
  get roundRows(): number {
    return this.slots.batches.length * this.batchSize;
  }

  /** Predictions of the (only) model for rows[0..n) of `part`, in that order, into out[0..n). */
  score(part: PartData, rows: Int32Array, out: Float32Array | Float64Array): void {
    this.scoreEach(part, rows, [out]);
  }

  /**
   * Predictions of every model for rows[0..n) of `part` into outs[k][0..n), in consecutive
   * batches of batchSize from rows[0]: the same rows in the same batches give the same bits.
   */
  scoreEach(part: PartData, rows: Int32Array, outs: (Float32Array | Float64Array)[]): void {
    const M = this.models.length;
    if (outs.length !== M) throw new Error(`Scorer: ${outs.length} outputs for ${M} models`);
    const B = this.batchSize;
    const n = rows.length;
    const { slots, runner } = this;
    const K = slots.batches.length;
    const L = this.params.layout;
    const schema = L.schema;
    // worth it from one full batch on: a batch's own projections cost about as much
    if (!this.projected && n >= B) {
      this.models.forEach((m, k) => projectTables(this.ops, L, m.dense, m.view, slots.projections[k]!));
      this.projected = true;
    }
    const flag = this.projected ? 1 : 0;
    for (let s = 0; s < n; s += K * B) {
      const nb = Math.min(K, Math.ceil((n - s) / B));
      for (let i = 0; i < nb; i++) {
        const a = s + i * B;
        const b = Math.min(n, a + B);
        copyRowsTo(schema, part, rows.subarray(a, b), slots.batches[i]!);
        slots.counts[i] = b - a;
      }
      slots.queue.open(nb * M);
      const helpers = this.workers ? Math.min(this.workers.jobs.workers, nb * M - 1) : 0;
      for (let w = 1; w <= helpers; w++) this.workers!.jobs.start(w, this.workers!.job, [flag]);
      try {
        runner.drain(this.projected);
      } finally {
        for (let w = 1; w <= helpers; w++) this.workers!.jobs.finish(w);
      }
      for (let i = 0; i < nb; i++) for (let k = 0; k < M; k++) outs[k]!.set(slots.preds[i]![k]!.subarray(0, slots.counts[i]!), s + i * B);
    }
  }
}

/** Engine bytes of one Model, tallied on an Ops that hands out plain (never written) arrays. */
export function modelBytes(ops: Ops, L: Layout, capacity: number): number {
  return heapBytes(ops, (counting) => new Model(counting, L, capacity));
}

/** Engine bytes of what `build` allocates (a worker's heap), tallied on an Ops that hands out plain arrays. */
export function heapBytes(ops: Ops, build: (counting: Ops) => void): number {
  let bytes = 0;
  const tally = (n: number, size: number): void => {
    bytes += Math.ceil((n * size) / 64) * 64 + 64;
  };
  const counting: Ops = Object.assign(Object.create(ops) as Ops, {
    jobs: undefined,
    alloc: (n: number) => (tally(n, 4), new Float32Array(n)),
    allocI32: (n: number) => (tally(n, 4), new Int32Array(n)),
    allocU8: (n: number) => (tally(n, 1), new Uint8Array(n)),
  });
  build(counting);
  return bytes;
}

/** The job module's entry point, in a worker. */
export function setupWorker(ops: Ops, memory: SharedArrayBuffer, raw: unknown): (args: Int32Array) => void {
  const init = raw as ScoreWorkerInit;
  const L = buildLayout(init.schema, init.dims);
  const E = L.dims.embedDim;
  const tables = init.tables.map(([o, n]) => new Float32Array(memory, o, n));
  const models = init.models.map((m): Weights => {
    const overlay = m.overlay
      ? m.overlay.map(({ at, n }, e) => {
          // the main thread's rows, viewed in place: allocation order mark, ids, data (row-set.ts)
          const r = new RowSet(arenaAlloc(replayingArena(memory, at)), L.embeddings[e]!.rows, E);
          r.n = n;
          return r;
        })
      : null;
    return { dense: new Float32Array(memory, m.dense[0], m.dense[1]), view: { tables, overlay, mode: m.mode } };
  });
  const slots = new ScoreSlots(replayingArena(memory, init.slots), L, init.batches, init.capacity, init.taskCoded);
  const runner = new BatchRunner(new Model(ops, L, init.capacity), models, slots);
  return (args) => runner.drain(args[0] === 1);
}
