/**
 * Adam as PyTorch's torch.optim.Adam computes it (β1 0.9, β2 0.999, ε 1e-8 added after the
 * square root, bias correction, no weight decay), with its DENSE semantics: a parameter whose
 * gradient is zero this step still moves while its moments are non-zero. For embedding rows
 * that means every row touched since the moments were created moves at every step; the
 * sparse forms below keep the moments of exactly those rows, so an untouched row costs
 * nothing and a touched-once row keeps moving as PyTorch would move it.
 */
import type { Vec } from '../model/ops.js';
import type { SparseRows } from '../model/sparse-rows.js';

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/** Step size and denominator scale of step t (1-based), shared by the dense and sparse forms. */
export class AdamClock {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  t = 0;
  stepSize = 0;
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
}

/**
 * One element-range update: p, m, v at offsets po, mo (same length n); g at go, or no
 * gradient (null) for a row with moments but no gradient this step.
 */
export function adamUpdate(c: AdamClock, p: Vec, po: number, m: Vec, v: Vec, mo: number, g: Vec | null, go: number, n: number): void {
  const b1 = 1 - c.beta1;
  const b2 = c.beta2;
  const ib2 = 1 - b2;
  const ss = c.stepSize;
  const bc = c.bc2Sqrt;
  const eps = c.eps;
  for (let i = 0; i < n; i++) {
    const gi = g === null ? 0 : g[go + i]!;
    const mi = m[mo + i]! + (gi - m[mo + i]!) * b1;
    const vi = v[mo + i]! * b2 + ib2 * gi * gi;
    m[mo + i] = mi;
    v[mo + i] = vi;
    p[po + i] = p[po + i]! - (ss * m[mo + i]!) / (Math.sqrt(v[mo + i]!) / bc + eps);
  }
}

/** Adam over a flat dense array. */
export class DenseAdam {
  readonly clock: AdamClock;
  readonly m: Vec;
  readonly v: Vec;

  constructor(n: number, o: AdamOptions, ctor: Float32ArrayConstructor | Float64ArrayConstructor = Float32Array, clock?: AdamClock) {
    this.clock = clock ?? new AdamClock(o);
    this.m = new ctor(n);
    this.v = new ctor(n);
  }

  /** Update p with g; the caller ticks the clock once per optimizer step. */
  apply(p: Vec, g: Vec): void {
    adamUpdate(this.clock, p, 0, this.m, this.v, 0, g, 0, this.m.length);
  }
}

/**
 * The Adam moments of the rows of one embedding table that have ever had a gradient,
 * addressed by id. `step` moves those rows of `param` (a full table, or a task's sparse copy).
 */
export class SparseAdamTable {
  private readonly slotOf: Int32Array;
  ids: Int32Array;
  m: Vec;
  v: Vec;
  n = 0;

  constructor(
    rows: number,
    readonly E: number,
    private readonly ctor: Float32ArrayConstructor | Float64ArrayConstructor = Float32Array,
  ) {
    this.slotOf = new Int32Array(rows).fill(-1);
    this.ids = new Int32Array(64);
    this.m = new ctor(64 * E);
    this.v = new ctor(64 * E);
  }

  private ensure(id: number): number {
    const s = this.slotOf[id]!;
    if (s >= 0) return s;
    if (this.n === this.ids.length) {
      const cap = this.n * 2;
      const ids = new Int32Array(cap);
      ids.set(this.ids);
      this.ids = ids;
      const m = new this.ctor(cap * this.E);
      m.set(this.m);
      this.m = m;
      const v = new this.ctor(cap * this.E);
      v.set(this.v);
      this.v = v;
    }
    const ns = this.n++;
    this.slotOf[id] = ns;
    this.ids[ns] = id;
    return ns;
  }

  /**
   * One step: `grad` holds this step's gradient rows (by id); every row with moments moves.
   * `rowOffset(id)` gives the row's offset in `param` (for a task's sparse copy, its slot).
   */
  step(clock: AdamClock, grad: SparseRows, param: Vec, rowOffset: (id: number) => number): void {
    const E = this.E;
    for (let i = 0; i < grad.n; i++) this.ensure(grad.ids[i]!);
    for (let s = 0; s < this.n; s++) {
      const id = this.ids[s]!;
      const gs = grad.find(id);
      adamUpdate(clock, param, rowOffset(id), this.m, this.v, s * E, gs < 0 ? null : grad.data, gs * E, E);
    }
  }

  clear(): void {
    for (let i = 0; i < this.n; i++) this.slotOf[this.ids[i]!] = -1;
    this.m.fill(0, 0, this.n * this.E);
    this.v.fill(0, 0, this.n * this.E);
    this.n = 0;
  }
}
