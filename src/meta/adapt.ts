/**
 * Adaptation, the online stage (spec section 5): for one task, start from the general model
 * θ with a fresh Adam, run `epochs` passes of shuffled mini-batches over its stage-1 rows,
 * then score its candidates. The task's model is a dense copy plus the embedding rows it has
 * touched (a sparse 'replace' overlay over the shared tables), so a task costs what it
 * touches, and tasks never see each other's changes.
 */
import type { PartData } from '../data/part.js';
import { Model } from '../model/model.js';
import type { Ops, Vec } from '../model/ops.js';
import type { Params } from '../model/params.js';
import { OverlaySource, SparseRows, TableSource } from '../model/sparse-rows.js';
import { Rng } from '../util/rng.js';
import { ModelAdam } from './learner.js';

export interface AdaptOptions {
  lr: number;
  epochs: number;
  batchSize: number;
  seed: number;
}

export class Adapter {
  readonly model: Model;
  private readonly base: TableSource;
  private readonly dense: Vec;
  private readonly rows: SparseRows[];
  private readonly grads: SparseRows[];
  private readonly source: OverlaySource;
  private readonly adam: ModelAdam;

  constructor(
    readonly ops: Ops,
    readonly params: Params,
    readonly opts: AdaptOptions,
  ) {
    const L = params.layout;
    const E = L.dims.embedDim;
    this.model = new Model(ops, L, opts.batchSize);
    this.base = new TableSource(params.tables, E);
    this.dense = ops.alloc(L.denseSize);
    this.rows = L.embeddings.map((e) => new SparseRows(e.rows, E));
    this.grads = L.embeddings.map((e) => new SparseRows(e.rows, E));
    this.source = new OverlaySource(this.base, this.rows, 'replace');
    this.adam = new ModelAdam(L, opts.lr);
  }

  /**
   * Adapt to a task's stage-1 rows (`trainRows` of `train`), then predict `testRows` of
   * `test` into `out` (in the order given). `taskKey` seeds the task's shuffles, so a task's
   * result does not depend on which tasks ran before it or on which thread.
   */
  adaptAndPredict(train: PartData, trainRows: Int32Array, test: PartData, testRows: Int32Array, taskKey: number, out: Float32Array | Float64Array): { steps: number; lastLoss: number } {
    const { model, opts } = this;
    const E = this.params.layout.dims.embedDim;
    this.dense.set(this.params.dense);
    for (const r of this.rows) r.clear();
    this.adam.reset();
    const rng = new Rng(opts.seed ^ Math.imul(taskKey + 1, 0x2545f491));
    const order = Int32Array.from(trainRows);
    let steps = 0;
    let lastLoss = NaN;
    for (let ep = 0; ep < opts.epochs; ep++) {
      rng.shuffle(order);
      for (let s = 0; s < order.length; s += opts.batchSize) {
        const n = Math.min(opts.batchSize, order.length - s);
        model.forward(this.source, this.dense, train, order, s, n);
        lastLoss = model.loss();
        model.backward();
        model.batch.fields.forEach((f, e) => {
          const rows = this.rows[e]!;
          const g = this.grads[e]!;
          g.clear();
          const dl = model.dLocal[e]!;
          for (let u = 0; u < f.nUniq; u++) {
            const id = f.uniq[u]!;
            if (rows.find(id) < 0) {
              const slot = rows.ensure(id);
              this.base.readRow(e, id, rows.data, slot * E);
            }
            const gs = g.ensure(id) * E;
            for (let k = 0; k < E; k++) g.data[gs + k] = dl[u * E + k]!;
          }
        });
        this.adam.stepSparse(this.dense, model.grad, this.rows, this.grads);
        steps++;
      }
    }
    for (let s = 0; s < testRows.length; s += opts.batchSize) {
      const n = Math.min(opts.batchSize, testRows.length - s);
      model.forward(this.source, this.dense, test, testRows, s, n);
      const p = model.p;
      for (let i = 0; i < n; i++) out[s + i] = p[i]!;
    }
    return { steps, lastLoss };
  }
}

/** Predictions of the general model (no adaptation) for rows of a part, in row order. */
export function predictRows(ops: Ops, params: Params, part: PartData, batchSize: number, out: Float32Array): void {
  const model = new Model(ops, params.layout, batchSize);
  const src = new TableSource(params.tables, params.layout.dims.embedDim);
  const rows = new Int32Array(part.nRows);
  for (let i = 0; i < rows.length; i++) rows[i] = i;
  for (let s = 0; s < rows.length; s += batchSize) {
    const n = Math.min(batchSize, rows.length - s);
    model.forward(src, params.dense, part, rows, s, n);
    out.set(model.p.subarray(0, n), s);
  }
}
