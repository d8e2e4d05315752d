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

/** Add per-unique-row gradients of the model's last batch (default: its backward's), times `scale`, into `rows` by id. */
function addRows(model: Model, rows: RowSet[], scale: number, local: Vec[] = model.dLocal): void {
  const E = model.L.dims.embedDim;
  model.batch.fields.forEach((f, e) => {
    const r = rows[e]!;
    for (let u = 0; u < f.nUniq; u++) r.add(f.uniq[u]!);
    // local row u goes to row uniq[u]: a scatter with one id per "batch row"
    model.ops.scatterRows(r.data, E, f.uniq, 1, null, null, f.nUniq, local[e]!, E, scale);
  });
}

/** The row gradients of the model's last backward into `rows` (cleared), by id. */
export function copyRowGrads(model: Model, rows: RowSet[]): void {
  addRows(model, rows, 1);
}

export class FastWeights {
  readonly dense: Vec;
  readonly delta: RowSet[];
  readonly view: TableView;

  constructor(ops: Ops, L: Layout, tables: Vec[]) {
    this.dense = ops.alloc(L.denseSize);
    this.delta = L.embeddings.map((e) => new RowSet(ops, e.rows, L.dims.embedDim));
    this.view = { tables, overlay: this.delta, mode: 1 };
  }

  /** θ' = θ - α g, from the gradients of the model's last backward at θ. */
  adapt(theta: Vec, model: Model, alpha: number): void {
    const g = model.grad;
    const d = this.dense;
    for (let i = 0; i < d.length; i++) d[i] = theta[i]! - alpha * g[i]!;
    for (const r of this.delta) r.clear();
    addRows(model, this.delta, -alpha);
  }
}

/** A dense gradient and embedding-row gradients, summed over calls to add(). */
export class GradSum implements ModelGrad {
  readonly dense: Vec;
  readonly rows: RowSet[];

  constructor(ops: Ops, L: Layout) {
    this.dense = ops.alloc(L.denseSize);
    this.rows = L.embeddings.map((e) => new RowSet(ops, e.rows, L.dims.embedDim));
  }

  /** Add the model's last backward. */
  add(model: Model): void {
    this.addScaled(model, model.grad, model.dLocal, 1);
  }

  /** Add `scale` times a gradient-shaped result on the model's last batch (dense, per unique row). */
  addScaled(model: Model, dense: Vec, local: Vec[], scale: number): void {
    const d = this.dense;
    for (let i = 0; i < d.length; i++) d[i] = d[i]! + scale * dense[i]!;
    addRows(model, this.rows, scale, local);
  }

  scale(c: number): void {
    for (let i = 0; i < this.dense.length; i++) this.dense[i] = this.dense[i]! * c;
    for (const r of this.rows) {
      for (let i = 0; i < r.n; i++) {
        const o = r.ids[i]! * r.E;
        for (let k = o; k < o + r.E; k++) r.data[k] = r.data[k]! * c;
      }
    }
  }

  clear(): void {
    this.dense.fill(0);
    for (const r of this.rows) r.clear();
  }
}
