/**
 * Forward-only scoring of many rows (a candidate pool) with the general model θ. On an
 * engine with worker threads, whole batches go to the threads: each worker loads this
 * module with its own model over the shared θ, batches' rows are copied into shared
 * mini-parts, and threads claim batches from a queue, every batch computed single-threaded
 * with no hand-offs. A batch's predictions do not depend on the thread that scored it.
 */
import type { PartData } from '../data/part.js';
import type { Schema } from '../data/schema.js';
import { buildLayout, type Layout, type ModelDims } from './layout.js';
import { Model } from './model.js';
import type { JobHost, Ops, Vec } from './ops.js';
import type { Params } from './params.js';
import { plainView, type TableView } from './row-set.js';
import { copyRowsTo, miniPart, recordingArena, replayingArena, WorkQueue, type Arena } from './shared-rows.js';

/** Batches in flight per thread in one round: two keep a thread busy while the round's stragglers finish. */
const BATCHES_PER_THREAD = 2;

class ScoreSlots {
  readonly queue: WorkQueue;
  readonly parts: PartData[];
  readonly counts: Int32Array;
  readonly preds: Float32Array[];

  constructor(a: Arena, schema: Schema, batches: number, capacity: number) {
    this.queue = new WorkQueue(a);
    this.counts = a.i32(batches);
    this.parts = Array.from({ length: batches }, () => miniPart(a, schema, capacity));
    this.preds = Array.from({ length: batches }, () => a.f32(capacity));
  }
}

class BatchRunner {
  private readonly view: TableView;
  private readonly ident: Int32Array;

  constructor(
    private readonly model: Model,
    private readonly dense: Vec,
    tables: Vec[],
    private readonly slots: ScoreSlots,
  ) {
    this.view = plainView(tables);
    this.ident = Int32Array.from({ length: model.capacity }, (_, i) => i);
  }

  drain(): void {
    const { model, slots } = this;
    for (let i = slots.queue.claim(); i >= 0; i = slots.queue.claim()) {
      const n = slots.counts[i]!;
      model.forward(this.view, this.dense, slots.parts[i]!, this.ident, 0, n, false);
      slots.preds[i]!.set(model.p.subarray(0, n));
    }
  }
}

interface ScoreWorkerInit {
  schema: Schema;
  dims: ModelDims;
  capacity: number;
  batches: number;
  dense: [number, number];
  tables: [number, number][];
  slots: number[];
}

export class Scorer {
  private readonly model: Model;
  private readonly parallel: { slots: ScoreSlots; runner: BatchRunner; jobs: JobHost; job: number } | null;

  constructor(
    private readonly ops: Ops,
    private readonly params: Params,
    readonly batchSize: number,
  ) {
    const L = params.layout;
    this.model = new Model(ops, L, batchSize);
    this.parallel = ops.jobs ? this.startWorkers(ops.jobs, L) : null;
  }

  private startWorkers(jobs: JobHost, L: Layout): NonNullable<Scorer['parallel']> {
    const { ops, params, batchSize } = this;
    const batches = (jobs.workers + 1) * BATCHES_PER_THREAD;
    const offsets: number[] = [];
    const slots = new ScoreSlots(recordingArena(ops, offsets), L.schema, batches, batchSize);
    const init: ScoreWorkerInit = {
      schema: L.schema,
      dims: L.dims,
      capacity: batchSize,
      batches,
      dense: [params.dense.byteOffset, params.dense.length],
      tables: params.tables.map((t) => [t.byteOffset, t.length]),
      slots: offsets,
    };
    const job = jobs.load(new URL('./scorer.js', import.meta.url).href, init, modelBytes(ops, L, batchSize));
    return { slots, jobs, job, runner: new BatchRunner(this.model, params.dense, params.tables, slots) };
  }

  /** Predictions of θ for rows[0..n) of `part`, in that order, into out[0..n). */
  score(part: PartData, rows: Int32Array, out: Float32Array | Float64Array): void {
    const B = this.batchSize;
    const n = rows.length;
    const { params } = this;
    if (!this.parallel) {
      const view = plainView(params.tables);
      for (let s = 0; s < n; s += B) {
        const m = Math.min(B, n - s);
        this.model.forward(view, params.dense, part, rows, s, m, false);
        out.set(this.model.p.subarray(0, m), s);
      }
      return;
    }
    const { slots, runner, jobs, job } = this.parallel;
    const K = slots.parts.length;
    const schema = params.layout.schema;
    for (let s = 0; s < n; s += K * B) {
      const nb = Math.min(K, Math.ceil((n - s) / B));
      for (let i = 0; i < nb; i++) {
        const a = s + i * B;
        const b = Math.min(n, a + B);
        copyRowsTo(schema, part, rows.subarray(a, b), slots.parts[i]!);
        slots.counts[i] = b - a;
      }
      slots.queue.open(nb);
      const helpers = Math.min(jobs.workers, nb - 1);
      for (let w = 1; w <= helpers; w++) jobs.start(w, job, []);
      try {
        runner.drain();
      } finally {
        for (let w = 1; w <= helpers; w++) jobs.finish(w);
      }
      for (let i = 0; i < nb; i++) out.set(slots.preds[i]!.subarray(0, slots.counts[i]!), s + i * B);
    }
  }
}

/** Engine bytes of one Model, tallied on an Ops that hands out plain (never written) arrays. */
export function modelBytes(ops: Ops, L: Layout, capacity: number, extra?: (counting: Ops, model: Model) => void): number {
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
  const model = new Model(counting, L, capacity);
  extra?.(counting, model);
  return bytes;
}

/** The job module's entry point, in a worker. */
export function setupWorker(ops: Ops, memory: SharedArrayBuffer, raw: unknown): () => void {
  const init = raw as ScoreWorkerInit;
  const L = buildLayout(init.schema, init.dims);
  const dense = new Float32Array(memory, init.dense[0], init.dense[1]);
  const tables = init.tables.map(([o, n]) => new Float32Array(memory, o, n));
  const slots = new ScoreSlots(replayingArena(memory, init.slots), init.schema, init.batches, init.capacity);
  const runner = new BatchRunner(new Model(ops, L, init.capacity), dense, tables, slots);
  return () => runner.drain();
}
