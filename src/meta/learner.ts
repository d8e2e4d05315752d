/**
 * The pieces of MAML in the learn2learn spirit: `FastWeights` is a task's clone after one
 * inner step (θ' = θ - α∇L_support: a dense copy and a sparse delta over the touched
 * embedding rows, exact and cheap); `GradSum` sums query gradients over a step's tasks;
 * `ModelAdam` applies Adam to the dense weights and to embedding rows with PyTorch's dense
 * semantics.
 */
import type { Layout } from '../model/layout.js';
import type { Model } from '../model/model.js';
import type { Ops, Vec } from '../model/ops.js';
import type { FloatCtor, Params } from '../model/params.js';
import { OverlaySource, SparseRows, TableSource } from '../model/sparse-rows.js';
import { AdamClock, DenseAdam, SparseAdamTable } from '../optim/adam.js';

export class FastWeights {
  readonly dense: Vec;
  readonly delta: SparseRows[];
  readonly source: OverlaySource;

  constructor(ops: Ops, L: Layout, base: TableSource, ctor: FloatCtor = Float32Array) {
    this.dense = ops.alloc(L.denseSize);
    this.delta = L.embeddings.map((e) => new SparseRows(e.rows, L.dims.embedDim, ctor));
    this.source = new OverlaySource(base, this.delta, 'delta');
  }

  /** θ' = θ - α g, from the gradients of the model's last backward at θ. */
  adapt(theta: Vec, model: Model, alpha: number): void {
    const g = model.grad;
    const d = this.dense;
    for (let i = 0; i < d.length; i++) d[i] = theta[i]! - alpha * g[i]!;
    const E = model.L.dims.embedDim;
    model.batch.fields.forEach((f, e) => {
      const rows = this.delta[e]!;
      rows.clear();
      const dl = model.dLocal[e]!;
      for (let u = 0; u < f.nUniq; u++) {
        const s = rows.ensure(f.uniq[u]!) * E;
        for (let k = 0; k < E; k++) rows.data[s + k] = -alpha * dl[u * E + k]!;
      }
    });
  }
}

/** A dense gradient and sparse embedding-row gradients, summed over calls to add(). */
export class GradSum {
  readonly dense: Vec;
  readonly rows: SparseRows[];

  constructor(L: Layout, ctor: FloatCtor = Float32Array) {
    this.dense = new ctor(L.denseSize);
    this.rows = L.embeddings.map((e) => new SparseRows(e.rows, L.dims.embedDim, ctor));
  }

  /** Add the model's last backward. */
  add(model: Model): void {
    const g = model.grad;
    const d = this.dense;
    for (let i = 0; i < d.length; i++) d[i] = d[i]! + g[i]!;
    const E = model.L.dims.embedDim;
    model.batch.fields.forEach((f, e) => {
      const rows = this.rows[e]!;
      const dl = model.dLocal[e]!;
      for (let u = 0; u < f.nUniq; u++) {
        const s = rows.ensure(f.uniq[u]!) * E;
        for (let k = 0; k < E; k++) rows.data[s + k] = rows.data[s + k]! + dl[u * E + k]!;
      }
    });
  }

  scale(c: number): void {
    for (let i = 0; i < this.dense.length; i++) this.dense[i] = this.dense[i]! * c;
    for (const r of this.rows) for (let i = 0; i < r.n * r.E; i++) r.data[i] = r.data[i]! * c;
  }

  clear(): void {
    this.dense.fill(0);
    for (const r of this.rows) r.clear();
  }
}

/**
 * Adam over a whole model. The tables it moves are either the full tables (meta-training)
 * or a task's sparse copy of the rows it touched (adaptation); `rowParam` says where row
 * `id` of table `e` lives.
 */
export class ModelAdam {
  readonly clock: AdamClock;
  private readonly dense: DenseAdam;
  private readonly tables: SparseAdamTable[];

  constructor(L: Layout, lr: number, ctor: FloatCtor = Float32Array) {
    this.clock = new AdamClock({ lr });
    this.dense = new DenseAdam(L.denseSize, { lr }, ctor, this.clock);
    this.tables = L.embeddings.map((e) => new SparseAdamTable(e.rows, L.dims.embedDim, ctor));
  }

  get step(): number {
    return this.clock.t;
  }

  /** One step on the full tables of `params` with gradients `g`. */
  stepFull(params: Params, g: GradSum): void {
    this.clock.tick();
    this.dense.apply(params.dense, g.dense);
    const E = params.layout.dims.embedDim;
    this.tables.forEach((t, e) => t.step(this.clock, g.rows[e]!, params.tables[e]!, (id) => id * E));
  }

  /** One step on a dense copy and sparse replaced rows (a task's adapted model). */
  stepSparse(dense: Vec, denseGrad: Vec, rows: SparseRows[], grads: SparseRows[]): void {
    this.clock.tick();
    this.dense.apply(dense, denseGrad);
    this.tables.forEach((t, e) => {
      const r = rows[e]!;
      t.step(this.clock, grads[e]!, r.data, (id) => r.find(id) * r.E);
    });
  }

  /** Fresh moments and step count (a new task). */
  reset(): void {
    this.clock.t = 0;
    this.dense.m.fill(0);
    this.dense.v.fill(0);
    for (const t of this.tables) t.clear();
  }
}
