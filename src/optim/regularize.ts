/**
 * Regularisation inside the Adam step (optim/adam.ts): L2 on the dense weights and on
 * embedding rows, coupled (λ·w added to the gradient, as torch.optim.Adam's weight_decay) or
 * decoupled (w shrunk by lr·λ before the step, as torch.optim.AdamW), DIN's frequency-aware
 * L2, and a max-norm on embedding rows.
 *
 * Which rows: the tables are far too big to touch every row every step, so
 *  - the gradient terms (coupled L2, frequency L2) go to the rows in the step's gradient:
 *    the penalty is λ/2·Σ‖w_id‖² over the ids the step's batches hold, DIN's mini-batch
 *    aware regularisation (for the coupled term with one λ for every id);
 *  - decoupled decay shrinks the rows Adam moves: every row with moments, as Adam's dense
 *    semantics move them all each step. On those rows it is torch.optim.AdamW exactly. A
 *    row that never had a gradient keeps its value, where dense AdamW would shrink it by
 *    (1 - lr·λ)^t: doing that would sweep the whole tables every step, or (lazily) make
 *    every reader of θ, on every thread, know the step count. Such a row is one the
 *    model has never learned from; the decay would only shrink its random start.
 *  - max-norm clips, after the update, the rows the update moved (Adam's active rows).
 *
 * The gradient terms are on θ, the parameters Adam updates: in meta-training they join the
 * meta-gradient in the outer step, the inner step θ' = θ - α∇L_support stays unregularised.
 */
import type { Layout } from '../model/layout.js';
import type { Ops, Vec } from '../model/ops.js';
import type { IdSet, RowSet } from '../model/row-set.js';

/** What to regularise, and how strongly; every value 0 (false): nothing, the plain Adam step. */
export interface RegOptions {
  /** L2 strength on the dense weights and biases. */
  weightDecay: number;
  /** L2 strength on embedding rows. */
  embeddingWeightDecay: number;
  /** Both L2 strengths as decoupled decay (AdamW) instead of gradient terms. */
  decoupled: boolean;
  /** λ_f: a row in the step's gradient gets λ_f / n_id · w added to it (always a gradient term). */
  frequencyL2: number;
  /** Rows rescaled to at most this L2 norm after each update; 0: off. */
  maxNorm: number;
}

export const NO_REGULARIZATION: RegOptions = { weightDecay: 0, embeddingWeightDecay: 0, decoupled: false, frequencyL2: 0, maxNorm: 0 };

/** True when `o` changes anything: otherwise Adam runs without a Regularizer, bit for bit today's step. */
export function regularizes(o: RegOptions): boolean {
  return o.weightDecay > 0 || o.embeddingWeightDecay > 0 || o.frequencyL2 > 0 || o.maxNorm > 0;
}

/**
 * The factor 1 - lr·λ in the parameters' precision: torch's `param.mul_(1 - lr * wd)` rounds
 * its scalar to the tensor's dtype, so with it scaleRows's single rounding of the product
 * gives torch's float32 bits.
 */
function decayFactor(lr: number, lambda: number, p: Vec): number {
  const c = 1 - lr * lambda;
  return p instanceof Float32Array ? Math.fround(c) : c;
}

/**
 * Scale row `o / E` of `x` to L2 norm `maxNorm` when it is above it, with torch's
 * embedding_renorm_ formula (scale = max / (norm + 1e-7)).
 */
function clipRow(x: Vec, o: number, E: number, maxNorm: number): void {
  let s = 0;
  for (let k = o; k < o + E; k++) s += x[k]! * x[k]!;
  const norm = Math.sqrt(s);
  if (norm <= maxNorm) return;
  const c = maxNorm / (norm + 1e-7);
  for (let k = o; k < o + E; k++) x[k] = x[k]! * c;
}

/**
 * Every row of every table within `maxNorm`, once before training: torch.nn.Embedding's
 * max_norm clips every row it reads, so no row is ever used above the norm; here the tables
 * start within it and each step clips the rows it moved (Regularizer.clipMoved).
 */
export function clipTables(tables: Vec[], E: number, maxNorm: number): void {
  for (const t of tables) for (let o = 0; o < t.length; o += E) clipRow(t, o, E, maxNorm);
}

/** Per table, per id: λ_f / n_id. */
function frequencyCoefs(lambda: number, L: Layout, counts: Int32Array[] | null): Float64Array[] {
  if (!counts || counts.length !== L.embeddings.length) throw new Error('frequency L2 needs the id counts of every table');
  return counts.map((n, e) => {
    const rows = L.embeddings[e]!.rows;
    if (n.length !== rows) throw new Error(`frequency L2: table ${e} has ${rows} rows, its counts ${n.length}`);
    return Float64Array.from(n, (c) => lambda / c);
  });
}

export class Regularizer {
  private readonly E: number;
  /** λ of the rows' coupled L2 (0 when decoupled). */
  private readonly rowL2: number;
  /** Per table, per id: λ_f / n_id; null without frequency L2. */
  private readonly freq: Float64Array[] | null;

  /**
   * `counts[e][id]`: how often id occurs in table e's field over the training rows (needed
   * when frequencyL2 > 0). Every id a gradient can hold must have a count above 0: the
   * counts come from the rows the gradients are taken on.
   */
  constructor(
    private readonly ops: Ops,
    readonly o: RegOptions,
    private readonly lr: number,
    L: Layout,
    counts: Int32Array[] | null,
  ) {
    this.E = L.dims.embedDim;
    this.rowL2 = o.decoupled ? 0 : o.embeddingWeightDecay;
    this.freq = o.frequencyL2 > 0 ? frequencyCoefs(o.frequencyL2, L, counts) : null;
  }

  /** Add the penalties' gradients at (dense, tables) into g: dense L2 on all of it, the row terms on g's rows. */
  addGradient(dense: Vec, tables: Vec[], gDense: Vec, gRows: RowSet[]): void {
    const { o, rowL2, freq } = this;
    if (!o.decoupled && o.weightDecay > 0) this.ops.addScaled(gDense, gDense, o.weightDecay, dense, gDense.length);
    if (rowL2 === 0 && !freq) return;
    gRows.forEach((g, e) => {
      const w = tables[e]!;
      const f = freq?.[e];
      const E = g.E;
      for (let u = 0; u < g.n; u++) {
        const id = g.ids[u]!;
        const c = f ? rowL2 + f[id]! : rowL2;
        const r = id * E;
        for (let k = r; k < r + E; k++) g.data[k] = g.data[k]! + c * w[k]!;
      }
    });
  }

  /** The factor the dense array is multiplied by before the step (1: none). */
  denseDecay(dense: Vec): number {
    return this.o.decoupled && this.o.weightDecay > 0 ? decayFactor(this.lr, this.o.weightDecay, dense) : 1;
  }

  /** The factor Adam's active rows are multiplied by before the step (1: none). */
  rowDecay(table: Vec): number {
    return this.o.decoupled && this.o.embeddingWeightDecay > 0 ? decayFactor(this.lr, this.o.embeddingWeightDecay, table) : 1;
  }

  /** After the step: the rows it moved (`moved[e]`, Adam's active rows) within max_norm. */
  clipMoved(tables: Vec[], moved: IdSet[]): void {
    const { E } = this;
    const m = this.o.maxNorm;
    if (!(m > 0)) return;
    moved.forEach((s, e) => {
      const t = tables[e]!;
      for (let u = 0; u < s.n; u++) clipRow(t, s.ids[u]! * E, E, m);
    });
  }
}
