/**
 * Adaptation, the online stage (spec section 5): for one task, start from the general model
 * θ with a fresh Adam, run `epochs` passes of shuffled mini-batches over its stage-1 rows,
 * then score its candidates. The task's model is a dense copy plus copies of the embedding
 * rows it has touched, seen over the shared tables, so a task costs what it touches, and
 * tasks never see each other's changes.
 */
import type { PartData } from '../data/part.js';
import { DROPOUT_STREAM, dropoutKey, type DropoutRates } from '../model/dropout.js';
import { Model } from '../model/model.js';
import type { Ops, Vec } from '../model/ops.js';
import type { Params } from '../model/params.js';
import { RowSet, type RowAlloc, type TableView } from '../model/row-set.js';
import { Scorer, type Weights } from '../model/scorer.js';
import { ModelAdam, type ModelGrad } from '../optim/adam.js';
import type { RegOptions } from '../optim/regularize.js';
import { Rng } from '../util/rng.js';
import { copyRowGrads } from './learner.js';
import { chooseSetting, type AdaptChoice, type AdaptSelection } from './adapt-select.js';

export type { AdaptChoice, AdaptSelection };

export interface AdaptOptions {
  lr: number;
  epochs: number;
  batchSize: number;
  seed: number;
  /**
   * Weight decay, L2 and max-norm while adapting (default: none). Without frequency L2: its
   * counts describe the training rows, which inference does not have (see options.ts).
   */
  regularization?: RegOptions;
  /** Dropout in the adaptation steps (none when absent); scoring never drops. */
  dropout?: DropoutRates;
  /** Choose epochs, learning rate and frozen embeddings per campaign by k-fold CV; absent: the paper's fixed procedure. */
  select?: AdaptSelection;
}

/** One way of adapting: epochs, Adam's learning rate, and whether the embedding rows stay θ's. */
export interface AdaptSetting {
  epochs: number;
  lr: number;
  freeze: boolean;
}

export interface AdaptResult {
  steps: number;
  lastLoss: number;
  /** What cross-validation chose (null: the fixed procedure). */
  choice: AdaptChoice | null;
}

export class Adapter {
  readonly model: Model;
  private readonly dense: Vec;
  /** The task's copies of the rows it has touched (mode 2: they replace θ's rows). */
  private readonly rows: RowSet[];
  private readonly view: TableView;
  private readonly grad: ModelGrad;
  private readonly adam: ModelAdam;

  constructor(
    readonly ops: Ops,
    readonly params: Params,
    readonly opts: AdaptOptions,
  ) {
    const L = params.layout;
    const E = L.dims.embedDim;
    this.model = new Model(ops, L, opts.batchSize, 'auto', opts.dropout);
    this.dense = ops.alloc(L.denseSize);
    this.rows = L.embeddings.map((e) => new RowSet(ops, e.rows, E));
    this.view = { tables: params.tables, overlay: this.rows, mode: 2 };
    this.grad = { dense: this.model.grad, rows: L.embeddings.map((e) => new RowSet(ops, e.rows, E)) };
    this.adam = new ModelAdam(ops, L, opts.lr, opts.regularization);
  }

  /**
   * Adapt to a task's stage-1 rows (`trainRows` of `train`, in that order before the
   * shuffles): with the configured setting, or the one cross-validation on these rows picks
   * (opts.select). `taskKey` seeds the task's shuffles, folds and, with the step, its dropout
   * masks, so a task's result does not depend on which tasks ran before it or on which thread.
   */
  adapt(train: PartData, trainRows: Int32Array, taskKey: number): AdaptResult {
    const { opts } = this;
    const fixed: AdaptSetting = { epochs: opts.epochs, lr: opts.lr, freeze: false };
    const choice = opts.select ? chooseSetting(this, train, trainRows, taskKey, opts.select, fixed) : null;
    return { ...this.run(train, trainRows, taskKey, choice?.setting ?? fixed), choice };
  }

  /**
   * Adapt with one setting; `afterEpoch(e)` runs after e epochs (from 0, before the first),
   * with the weights adapted so far in place (see scoreAdapted).
   */
  run(train: PartData, trainRows: Int32Array, taskKey: number, setting: AdaptSetting, afterEpoch?: (epoch: number) => void): { steps: number; lastLoss: number } {
    const { model, opts } = this;
    const E = this.params.layout.dims.embedDim;
    this.dense.set(this.params.dense);
    for (const r of this.rows) r.clear();
    this.adam.clock.lr = setting.lr;
    this.adam.reset();
    const rng = new Rng(opts.seed ^ Math.imul(taskKey + 1, 0x2545f491));
    const order = Int32Array.from(trainRows);
    let steps = 0;
    let lastLoss = NaN;
    afterEpoch?.(0);
    for (let ep = 0; ep < setting.epochs; ep++) {
      rng.shuffle(order);
      for (let s = 0; s < order.length; s += opts.batchSize) {
        const n = Math.min(opts.batchSize, order.length - s);
        model.dropoutKey = dropoutKey(DROPOUT_STREAM.adapt, opts.seed, taskKey, steps);
        model.forward(this.view, this.dense, train, order, s, n);
        lastLoss = model.loss();
        model.backward();
        for (const g of this.grad.rows) g.clear();
        // frozen: the rows stay θ's (no copies, no row gradients), only the dense layers move
        if (!setting.freeze) {
          // rows touched for the first time start as θ's
          model.batch.fields.forEach((f, e) => {
            const rows = this.rows[e]!;
            const base = this.params.tables[e]!;
            for (let u = 0; u < f.nUniq; u++) {
              const id = f.uniq[u]!;
              if (rows.add(id)) rows.data.set(base.subarray(id * E, id * E + E), id * E);
            }
          });
          copyRowGrads(model, this.grad.rows);
        }
        this.adam.apply(this.dense, this.rows.map((r) => r.data), this.grad);
        steps++;
      }
      afterEpoch?.(ep + 1);
    }
    return { steps, lastLoss };
  }

  /** Predict `rows` of `part` with the weights adapted so far, into `out` in the order given. */
  scoreAdapted(part: PartData, rows: Int32Array, out: Float32Array | Float64Array): void {
    scoreRows(this.model, { view: this.view, dense: this.dense }, part, rows, out);
  }

  /** The adapted weights of the last `adapt`, as a compact copy that outlives the next one. */
  snapshot(): AdaptedModel {
    return this.snapshotInto(new AdaptedModel(this.ops, this.params));
  }

  /** Copy the adapted weights of the last `adapt` into `m`. */
  snapshotInto(m: AdaptedModel): AdaptedModel {
    return m.set(this.dense, this.rows);
  }

  /** Adapt (see `adapt`), then predict `testRows` of `test` into `out` in the order given. */
  adaptAndPredict(train: PartData, trainRows: Int32Array, test: PartData, testRows: Int32Array, taskKey: number, out: Float32Array | Float64Array): AdaptResult {
    const res = this.adapt(train, trainRows, taskKey);
    this.scoreAdapted(test, testRows, out);
    return res;
  }
}

export type { Weights };

/**
 * A campaign's adapted weights kept for scoring while other campaigns adapt: a copy of the
 * dense weights and of the embedding rows it changed, seen over the shared tables. Scoring
 * with it gives exactly the predictions the Adapter would have given. Its arrays come from
 * `alloc`: an engine, or (in a worker adapting for the main thread) views of arrays the
 * main thread laid out, so a worker can fill it in place.
 */
export class AdaptedModel implements Weights {
  readonly dense: Vec;
  readonly view: TableView;
  readonly rows: RowSet[];

  constructor(alloc: RowAlloc, params: Params) {
    const E = params.layout.dims.embedDim;
    this.dense = alloc.alloc(params.layout.denseSize);
    this.rows = params.layout.embeddings.map((e) => new RowSet(alloc, e.rows, E));
    this.view = { tables: params.tables, overlay: this.rows, mode: 2 };
  }

  /** Take `dense` and the rows in use of `rows` (replacing what it held). */
  set(dense: Vec, rows: RowSet[]): this {
    this.dense.set(dense);
    rows.forEach((r, e) => {
      const c = this.rows[e]!;
      const E = c.E;
      c.clear();
      for (let i = 0; i < r.n; i++) {
        const id = r.ids[i]!;
        c.add(id);
        c.data.set(r.data.subarray(id * E, id * E + E), id * E);
      }
    });
    return this;
  }
}

/**
 * Predict `rows` of `part` with `w` into `out` (in the order given), in consecutive batches
 * of the model's capacity from the first row: the same rows in the same batches give the
 * same bits, which is what lets expand reproduce infer's scores exactly.
 */
export function scoreRows(model: Model, w: Weights, part: PartData, rows: ArrayLike<number>, out: Float32Array | Float64Array): void {
  const bs = model.capacity;
  for (let s = 0; s < rows.length; s += bs) {
    const n = Math.min(bs, rows.length - s);
    model.forward(w.view, w.dense, part, rows, s, n, false);
    const p = model.p;
    for (let i = 0; i < n; i++) out[s + i] = p[i]!;
  }
}

/** Predictions of the general model (no adaptation) for rows of a part, in row order (batches spread over the engine's threads). */
export function predictRows(ops: Ops, params: Params, part: PartData, batchSize: number, out: Float32Array): void {
  const rows = new Int32Array(part.nRows);
  for (let i = 0; i < rows.length; i++) rows[i] = i;
  new Scorer(ops, params, batchSize).score(part, rows, out);
}
