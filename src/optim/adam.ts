/**
 * Adam as PyTorch's torch.optim.Adam computes it (β1 0.9, β2 0.999, ε 1e-8 added after the
 * square root, bias correction, no weight decay), with its DENSE semantics: a parameter
 * whose gradient is zero this step still moves while its moments are non-zero. For the
 * embedding tables that means every row that ever had a gradient moves at every step; the
 * moments are table-shaped and the rows that have them are listed, so a row never touched
 * costs nothing and a row touched once keeps moving exactly as PyTorch would move it.
 * The arithmetic is Ops.adamRows (a SIMD kernel on the engine). Weight decay, L2 and max-norm,
 * all off by default, are in regularize.ts.
 */
import type { Layout } from '../model/layout.js';
import type { Ops, Vec } from '../model/ops.js';
import { IdSet, type RowSet } from '../model/row-set.js';
import { NO_REGULARIZATION, Regularizer, regularizes, type RegOptions } from './regularize.js';

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/** The step count and the step's bias corrections. */
export class AdamClock {
  /** Settable between runs: a campaign's adaptation may pick its learning rate (meta/adapt-select.ts). */
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  t = 0;
  /** lr / (1 - β1^t) */
  stepSize = 0;
  /** sqrt(1 - β2^t) */
  bc2Sqrt = 1;

  constructor(o: AdamOptions) {
    this.lr = o.lr;
    this.beta1 = o.beta1 ?? 0.9;
    this.beta2 = o.beta2 ?? 0.999;
    this.eps = o.eps ?? 1e-8;
  }

  tick(): void {
    this.t++;
    this.stepSize = this.lr / (1 - Math.pow(this.beta1, this.t));
    this.bc2Sqrt = Math.sqrt(1 - Math.pow(this.beta2, this.t));
  }

  reset(): void {
    this.t = 0;
  }
}

/** Moments of one [rows, E] parameter array and the rows that have them. */
export class AdamRows {
  readonly m: Vec;
  readonly v: Vec;
  readonly active: IdSet;

  constructor(
    private readonly ops: Ops,
    rows: number,
    readonly E: number,
  ) {
    this.m = ops.alloc(rows * E);
    this.v = ops.alloc(rows * E);
    this.active = new IdSet(ops, rows);
  }

  /**
   * One step: rows of `g` listed in `touched` join the active rows; every active row moves,
   * multiplied by `decay` first (AdamW's decoupled weight decay; 1: none).
   */
  step(c: AdamClock, p: Vec, g: Vec, touched: IdSet, decay = 1): void {
    for (let i = 0; i < touched.n; i++) this.active.add(touched.ids[i]!);
    if (decay !== 1) this.ops.scaleRows(p, this.active.ids, this.active.n, this.E, decay);
    this.ops.adamRows(p, this.m, this.v, g, this.active.ids, this.active.n, this.E, c.stepSize, c.bc2Sqrt, c.beta1, c.beta2, c.eps);
  }

  /** Fresh moments. */
  reset(): void {
    const E = this.E;
    for (let i = 0; i < this.active.n; i++) {
      const o = this.active.ids[i]! * E;
      this.m.fill(0, o, o + E);
      this.v.fill(0, o, o + E);
    }
    this.active.clear();
  }
}

/** A gradient of the whole model: dense, and per table the rows that have one. */
export interface ModelGrad {
  dense: Vec;
  rows: RowSet[];
}

/**
 * Adam over a whole model: the flat dense array as one row, and every embedding table, with
 * the regularisation of `reg` (`counts`: per table the ids' counts in the training rows, for
 * frequency L2).
 */
export class ModelAdam {
  readonly clock: AdamClock;
  private readonly dense: AdamRows;
  private readonly denseRow: IdSet;
  private readonly tables: AdamRows[];
  /** null: nothing to regularise, the plain step. */
  private readonly reg: Regularizer | null;

  constructor(ops: Ops, L: Layout, lr: number, reg: RegOptions = NO_REGULARIZATION, counts: Int32Array[] | null = null) {
    this.clock = new AdamClock({ lr });
    this.dense = new AdamRows(ops, 1, L.denseSize);
    this.denseRow = new IdSet(ops, 1);
    this.denseRow.add(0);
    this.tables = L.embeddings.map((e) => new AdamRows(ops, e.rows, L.dims.embedDim));
    this.reg = regularizes(reg) ? new Regularizer(ops, reg, lr, L, counts) : null;
  }

  get step(): number {
    return this.clock.t;
  }

  /** One step on `dense` and the tables `tables` (full tables, or a task's replaced rows). */
  apply(dense: Vec, tables: Vec[], g: ModelGrad): void {
    this.clock.tick();
    const reg = this.reg;
    // the penalties' gradients join g's (g is the step's own, cleared before the next)
    reg?.addGradient(dense, tables, g.dense, g.rows);
    this.dense.step(this.clock, dense, g.dense, this.denseRow, reg ? reg.denseDecay(dense) : 1);
    this.tables.forEach((t, e) => t.step(this.clock, tables[e]!, g.rows[e]!.data, g.rows[e]!, reg ? reg.rowDecay(tables[e]!) : 1));
    reg?.clipMoved(tables, this.tables.map((t) => t.active));
  }

  /** Fresh moments and step count (a new task). */
  reset(): void {
    this.clock.reset();
    this.dense.reset();
    for (const t of this.tables) t.reset();
  }
}
