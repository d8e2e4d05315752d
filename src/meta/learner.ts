/**
 * The pieces of MAML in the learn2learn spirit: `FastWeights` is a task's clone after one
 * inner step (θ' = θ - α∇L_support: a dense copy and a delta over the touched embedding
 * rows, exact and cheap), and `GradSum` sums gradients over a step's tasks.
 */
import type { Layout } from '../model/layout.js';
import type { Model } from '../model/model.js';
import type { Ops, Vec } from '../model/ops.js';
import { RowSet, type TableView } from '../model/row-set.js';
import type { ModelGrad } from '../optim/adam.js';
import type { TaskResult } from './task-slots.js';

/** Add row gradients local[e] (of rows uniq[e][0..nUniq[e])), times `scale`, into `rows` by id. */
function addRowGrads(ops: Ops, E: number, uniq: Int32Array[], nUniq: ArrayLike<number>, local: Vec[], rows: RowSet[], scale: number): void {
  rows.forEach((r, e) => {
    const ids = uniq[e]!;
    const n = nUniq[e]!;
    for (let u = 0; u < n; u++) r.add(ids[u]!);
    // local row u goes to row uniq[u]: a scatter with one id per "batch row"
    ops.scatterRows(r.data, E, ids, 1, null, null, n, local[e]!, E, scale);
  });
}

/** Add per-unique-row gradients of the model's last batch (default: its backward's), times `scale`, into `rows` by id. */
function addRows(model: Model, rows: RowSet[], scale: number, local: Vec[] = model.dLocal): void {
  const fields = model.batch.fields;
  addRowGrads(model.ops, model.L.dims.embedDim, fields.map((f) => f.uniq), fields.map((f) => f.nUniq), local, rows, scale);
}

/** The row gradients of the model's last backward into `rows` (cleared), by id. */
export function copyRowGrads(model: Model, rows: RowSet[]): void {
  addRows(model, rows, 1);
}

export class FastWeights {
  readonly dense: Vec;
  readonly delta: RowSet[];
  readonly view: TableView;

  constructor(
    private readonly ops: Ops,
    L: Layout,
    tables: Vec[],
  ) {
    this.dense = ops.alloc(L.denseSize);
    this.delta = L.embeddings.map((e) => new RowSet(ops, e.rows, L.dims.embedDim));
    this.view = { tables, overlay: this.delta, mode: 1 };
  }

  /** θ' = θ - α g, from the gradients of the model's last backward at θ. */
  adapt(theta: Vec, model: Model, alpha: number): void {
    this.ops.addScaled(this.dense, theta, -alpha, model.grad, this.dense.length);
    for (const r of this.delta) r.clear();
    addRows(model, this.delta, -alpha);
  }
}

/** A dense gradient and embedding-row gradients, summed over calls to add(). */
export class GradSum implements ModelGrad {
  readonly dense: Vec;
  readonly rows: RowSet[];
  /** [0]: the dense array as scaleRows's one row. */
  private readonly denseRow: Int32Array;

  constructor(
    private readonly ops: Ops,
    L: Layout,
  ) {
    this.dense = ops.alloc(L.denseSize);
    this.rows = L.embeddings.map((e) => new RowSet(ops, e.rows, L.dims.embedDim));
    this.denseRow = ops.allocI32(1);
  }

  /** Add the model's last backward. */
  add(model: Model): void {
    this.addScaled(model, model.grad, model.dLocal, 1);
  }

  /** Add `scale` times a gradient-shaped result on the model's last batch (dense, per unique row). */
  addScaled(model: Model, dense: Vec, local: Vec[], scale: number): void {
    this.addDense(dense, scale);
    addRows(model, this.rows, scale, local);
  }

  /**
   * Add a task's results as a TaskRunner copied them (task-slots.ts): the same sums, in the
   * same order, as TaskMetaGrad.addTo on the models that computed them.
   */
  addResult(ops: Ops, r: TaskResult, alpha: number): void {
    const E = this.rows[0]?.E ?? 0;
    this.addDense(r.grad, 1);
    addRowGrads(ops, E, r.uniq, r.nUniq, r.dLocal, this.rows, 1);
    if (r.second) {
      this.addDense(r.second.hv, -alpha);
      addRowGrads(ops, E, r.second.uniq, r.second.nUniq, r.second.rLocal, this.rows, -alpha);
    }
  }

  private addDense(g: Vec, scale: number): void {
    this.ops.addScaled(this.dense, this.dense, scale, g, this.dense.length);
  }

  scale(c: number): void {
    this.ops.scaleRows(this.dense, this.denseRow, 1, this.dense.length, c);
    for (const r of this.rows) this.ops.scaleRows(r.data, r.ids, r.n, r.E, c);
  }

  clear(): void {
    this.dense.fill(0);
    for (const r of this.rows) r.clear();
  }
}
