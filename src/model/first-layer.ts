/**
 * The experts' first layer, H = x W1^T over all K experts at once ([B, K*d1]), computed the
 * way that costs least per field (an exact algebraic shortcut):
 *
 * - a field whose batch touches few distinct rows is PROJECTED: its unique rows are pushed
 *   through the layer once (P_f = T_f W1_f^T, [U_f, K*d1]) and each batch row sums its ids'
 *   projections (mean pooling is linear, so this equals W1_f u_f). Backward: the row
 *   gradients dP_f are the pooled scatter of dH, then dW1_f = dP_f^T T_f and
 *   dT_f = dP_f W1_f. Cost ∝ U_f instead of B.
 * - the other fields go through ordinary matrix products on their columns of x, one per
 *   run of adjacent such fields.
 *
 * For the Tencent schema at batch 1024 this takes the single-valued fields and interest1-3
 * (vocabularies of at most a few hundred ids) off the big product, about half its work.
 */
import type { Batch } from './embedding.js';
import type { Layout } from './layout.js';
import type { Ops, Vec } from './ops.js';
import type { TableView } from './row-set.js';

/** `auto` decides per batch and field by cost; `never`/`always` are for tests and comparisons. */
export type ProjectionMode = 'auto' | 'never' | 'always';

/**
 * Cost of one pooled add against one multiply-add of a matrix product: scattered,
 * memory-bound adds run about 8x slower than the packed product here (for training, twice
 * that in total, forward and backward: 4 to 32 all beat never projecting by about 30% on
 * the Tencent shapes).
 */
const POOL_ADD_COST = 8;

/**
 * User tables of at most this many rows get whole-table projections for scoring
 * (projectTables): at the Tencent shapes every single-valued field and interest1-5, about
 * 2.6 MB per set of weights, against per-batch projections that cost about a fifth of a forward.
 */
const PROJECT_MAX_ROWS = 4096;

/** Per user field: P_f = T_f W1_f^T for every row of a small table ([rows, N]), else null. */
export type TableProjections = (Vec | null)[];

/** Buffers for projectTables, from `alloc` (the engine's, or an arena workers share). */
export function allocProjections(alloc: (n: number) => Vec, L: Layout): TableProjections {
  const N = L.dims.numExpert * L.dims.mlpDims[0]!;
  return L.embeddings.slice(0, L.nUser).map((e) => (e.rows <= PROJECT_MAX_ROWS ? alloc(e.rows * N) : null));
}

/**
 * Project every row of each small user table through W1 = P's first expert layer, as
 * `view` sees the tables, for scoring many batches with fixed weights: a batch then copies
 * its rows' projections instead of multiplying them again (FirstLayer.forward). The same
 * bits as projecting per batch: gemm computes an element the same way wherever it falls in C.
 */
export function projectTables(ops: Ops, L: Layout, P: Vec, view: TableView, out: TableProjections): void {
  const E = L.dims.embedDim;
  const N = L.dims.numExpert * L.dims.mlpDims[0]!;
  const W1 = P.subarray(L.at.expertW[0]!);
  const most = Math.max(0, ...out.map((o, e) => (o ? L.embeddings[e]!.rows : 0)));
  const mark = ops.mark();
  try {
    const rows = ops.alloc(most * E);
    const ids = ops.allocI32(most);
    for (let i = 0; i < most; i++) ids[i] = i;
    out.forEach((proj, e) => {
      if (!proj) return;
      const n = L.embeddings[e]!.rows;
      const over = view.overlay ? view.overlay[e]! : null;
      ops.gatherRows(rows, view.tables[e]!, ids, n, E, over ? over.data : null, over ? over.mark : null, view.mode);
      ops.gemm(false, true, n, N, E, rows, W1.subarray(e * E), proj, 0, E, L.inDim, N);
    });
  } finally {
    ops.release(mark);
  }
}

export class FirstLayer {
  /** Per user field: projected in the current batch. */
  readonly projected: boolean[];
  /** Runs [from, to) of adjacent unprojected user fields. */
  private runs: [number, number][] = [];
  private readonly proj: Vec;
  private readonly N: number;

  constructor(
    private readonly ops: Ops,
    private readonly L: Layout,
    capacity: number,
    readonly mode: ProjectionMode = 'auto',
  ) {
    this.N = L.dims.numExpert * L.dims.mlpDims[0]!;
    this.projected = new Array<boolean>(L.nUser).fill(false);
    const widths = [...L.schema.userSingle.map(() => 1), ...L.schema.userMulti.map((f) => f.width)];
    const maxU = mode === 'always' ? Math.max(...L.embeddings.slice(0, L.nUser).map((e, i) => Math.min(e.rows, capacity * widths[i]!))) : capacity;
    this.proj = ops.alloc(maxU * this.N);
  }

  /**
   * Decide which fields to project for this batch. A training step pays three products
   * (forward, dW, dx or dT) and two pooled passes (pool, scatter); scoring one of each.
   */
  private plan(b: Batch, needGrad: boolean): void {
    const E = this.L.dims.embedDim;
    const F = this.L.nUser;
    const products = needGrad ? 3 : 1;
    const pools = needGrad ? 2 : 1;
    for (let e = 0; e < F; e++) {
      const f = b.fields[e]!;
      // products of U x E x N and the pooled adds, against products of B x E x N
      this.projected[e] = this.mode === 'always' || (this.mode === 'auto' && products * f.nUniq * E + pools * POOL_ADD_COST * f.nIds < products * b.n * E);
    }
    this.runs = [];
    for (let e = 0; e < F; e++) {
      if (this.projected[e]) continue;
      const last = this.runs[this.runs.length - 1];
      if (last && last[1] === e) last[1] = e + 1;
      else this.runs.push([e, e + 1]);
    }
  }

  /**
   * H [B, N] = x W1^T (no bias); W1 = P at the first expert layer's offset, [N, F*E].
   * `needGrad`: a backward follows (it changes which fields are worth projecting).
   * `acc`: add into H instead (the Hessian-vector product sums two such products).
   * `tables`: projectTables' output for these weights, used by projected fields that have one.
   */
  forward(P: Vec, x: Vec, b: Batch, local: Vec[], H: Vec, needGrad: boolean, acc = false, tables?: TableProjections): void {
    const { ops, L, N } = this;
    const E = L.dims.embedDim;
    const D = L.inDim;
    const B = b.n;
    const W1 = P.subarray(L.at.expertW[0]!);
    this.plan(b, needGrad);
    let beta: 0 | 1 = acc ? 1 : 0;
    for (const [from, to] of this.runs) {
      ops.gemm(false, true, B, N, (to - from) * E, x.subarray(from * E), W1.subarray(from * E), H, beta, D, D, N);
      beta = 1;
    }
    if (beta === 0) H.fill(0, 0, B * N);
    for (let e = 0; e < L.nUser; e++) {
      if (!this.projected[e]) continue;
      const f = b.fields[e]!;
      const whole = tables ? tables[e] : null;
      if (whole) ops.gatherRows(this.proj, whole, f.uniq, f.nUniq, N, null, null, 0);
      else ops.gemm(false, true, f.nUniq, N, E, local[e]!, W1.subarray(e * E), this.proj, 0, E, D, N);
      ops.poolRows(H, N, this.proj, N, f.local, f.width, f.cnt, f.scale, B, true);
    }
  }

  /**
   * From dH [B, N] (after the ReLU's backward): the W1 gradient into G, dx for the
   * unprojected fields' columns (the projected fields' columns are zeroed), and the
   * projected fields' row gradients added into dLocal. `acc`: add into G's W1 and dx too.
   */
  backward(P: Vec, x: Vec, b: Batch, local: Vec[], dH: Vec, G: Vec, dx: Vec, dLocal: Vec[], acc = false): void {
    const { ops, L, N } = this;
    const E = L.dims.embedDim;
    const D = L.inDim;
    const B = b.n;
    const W1 = P.subarray(L.at.expertW[0]!);
    const GW1 = G.subarray(L.at.expertW[0]!);
    const beta: 0 | 1 = acc ? 1 : 0;
    // the projected fields' columns of dx must be zero: one sweep instead of a fill per row and field
    if (!acc && this.projected.includes(true)) dx.fill(0, 0, B * D);
    for (const [from, to] of this.runs) {
      const w = (to - from) * E;
      ops.gemm(true, false, N, w, B, dH, x.subarray(from * E), GW1.subarray(from * E), beta, N, D, D);
      ops.gemm(false, false, B, w, N, dH, W1.subarray(from * E), dx.subarray(from * E), beta, N, D, D);
    }
    for (let e = 0; e < L.nUser; e++) {
      if (!this.projected[e]) continue;
      const f = b.fields[e]!;
      const dProj = this.proj;
      dProj.fill(0, 0, f.nUniq * N);
      ops.scatterRows(dProj, N, f.local, f.width, f.cnt, f.scale, B, dH, N);
      ops.gemm(true, false, N, E, f.nUniq, dProj, local[e]!, GW1.subarray(e * E), beta, N, E, D);
      ops.gemm(false, false, f.nUniq, E, N, dProj, W1.subarray(e * E), dLocal[e]!, 1, N, D, E);
    }
  }
}
