/**
 * The dense part of MetaHeac (spec section 3, steps 5-11), with an explicit forward and
 * backward for each layer, llm.c style. Inputs are the pooled user vectors x [B, F*E] and
 * the task vectors a [B, (1+A)*E]; the embedding side lives in embedding.ts.
 *
 * Every activation the backward needs is kept in buffers sized for the largest batch, so a
 * step allocates nothing.
 */
import { Dropout, type DropoutRates } from './dropout.js';
import type { Layout } from './layout.js';
import type { Ops, Vec } from './ops.js';

/** PyTorch's BCELoss clamps each log at -100 and its backward divides by max(p(1-p), 1e-12). */
const LOG_CLAMP = -100;
const BCE_EPS = 1e-12;

export class DenseNet {
  // activations and their gradients: the Hessian-vector product (network-hvp.ts) reads them
  readonly h: Vec[]; // per expert layer j: [B, K*d_j] after ReLU (and dropout)
  readonly g1: Vec; // expert gate hidden [B, dL]
  readonly g: Vec; // expert gate softmax [B, K]
  readonly c1: Vec; // critic gate hidden [B, dL]
  readonly w: Vec; // critic gate softmax [B, C]
  readonly fea: Vec; // [B, dL], after the critics' dropout
  readonly s: Vec; // critic sigmoids [B, C]
  readonly p: Vec; // predictions [B]
  // gradients of activations
  readonly dh: Vec[];
  readonly dg1: Vec;
  readonly dgl: Vec; // [B, K] gradient of the expert gate logits
  readonly dc1: Vec;
  readonly dwl: Vec; // [B, C] gradient of the critic gate logits
  readonly dfea: Vec;
  readonly du: Vec; // [B, C] gradient of the critic logits
  readonly dp: Vec;
  /**
   * Gradient w.r.t. the task vectors, filled by backward; for a uniform forward, the task
   * part (columns E..) of row 0 holds the whole batch's and the other rows' are zero.
   */
  readonly da: Vec;
  /** The last forward's rows all had one task vector (see gateForward). */
  uniform = false;
  /** Dropout, when its rates drop anything (dropout.ts). */
  private readonly dropout: Dropout | null;
  /** The dropout of the last forward: null when it was not a training pass (or there is none). */
  dropped: Dropout | null = null;

  /**
   * The columns of a that differ between rows, which the gates' first layer takes row by
   * row: all of them, or after a uniform forward only the user part (the task part goes
   * through once, see gateForward).
   */
  get rowWidth(): number {
    return this.uniform ? this.L.dims.embedDim : this.L.gateDim;
  }

  /** How many rows of da hold the task part's gradient (poolBackward's taskRows). */
  taskRows(B: number): number {
    return this.uniform ? 1 : B;
  }
  /** The gate's first-layer bias plus the uniform task part's product, [dL]. */
  private readonly taskBias: Vec;

  constructor(
    private readonly ops: Ops,
    private readonly L: Layout,
    capacity: number,
    dropout?: DropoutRates,
  ) {
    const { numExpert: K, numOutput: C, mlpDims } = L.dims;
    const dL = L.dLast;
    this.h = mlpDims.map((d) => ops.alloc(capacity * K * d));
    this.dh = mlpDims.map((d) => ops.alloc(capacity * K * d));
    this.g1 = ops.alloc(capacity * dL);
    this.dg1 = ops.alloc(capacity * dL);
    this.g = ops.alloc(capacity * K);
    this.dgl = ops.alloc(capacity * K);
    this.c1 = ops.alloc(capacity * dL);
    this.dc1 = ops.alloc(capacity * dL);
    this.w = ops.alloc(capacity * C);
    this.dwl = ops.alloc(capacity * C);
    this.fea = ops.alloc(capacity * dL);
    this.dfea = ops.alloc(capacity * dL);
    this.s = ops.alloc(capacity * C);
    this.du = ops.alloc(capacity * C);
    this.p = ops.alloc(capacity);
    this.dp = ops.alloc(capacity);
    this.da = ops.alloc(capacity * L.gateDim);
    this.taskBias = ops.alloc(dL);
    this.dropout = dropout && (dropout.experts > 0 || dropout.critics > 0) ? new Dropout(ops, dropout, capacity * dL) : null;
  }

  /** The first expert layer's output [B, K*d1]: filled (before its bias) by the caller's FirstLayer. */
  get h0(): Vec {
    return this.h[0]!;
  }

  /** Its gradient after the ReLU's backward, filled by backward(). */
  get dh0(): Vec {
    return this.dh[0]!;
  }

  /**
   * Forward for B rows from h0 = x W1^T (see first-layer.ts) and the task vectors a;
   * fills `p` (the loss is a separate step). `uniform`: every row has the same task part
   * of a (columns E..), as in one campaign's batches. `dropKey`: a training pass, which
   * drops units (when the network has dropout) with the masks of this key.
   */
  forward(P: Vec, a: Vec, B: number, uniform = false, dropKey: number | null = null): void {
    const { ops, L } = this;
    this.uniform = uniform && L.gateDim > L.dims.embedDim;
    let drop: Dropout | null = null;
    if (dropKey !== null && this.dropout) {
      drop = this.dropout;
      drop.key = dropKey;
    }
    this.dropped = drop;
    const { numExpert: K, numOutput: C, mlpDims } = L.dims;
    const dL = L.dLast;
    let prev = this.h[0]!;
    ops.biasRelu(prev, P.subarray(L.at.expertB[0]!), B, K * mlpDims[0]!, true);
    drop?.dropExperts(prev, 0, B * K * mlpDims[0]!);
    let prevD = mlpDims[0]!;
    for (let j = 1; j < mlpDims.length; j++) {
      const d = mlpDims[j]!;
      const hj = this.h[j]!;
      const W = P.subarray(L.at.expertW[j]!);
      for (let k = 0; k < K; k++) {
        ops.gemm(false, true, B, d, prevD, prev.subarray(k * prevD), W.subarray(k * d * prevD), hj.subarray(k * d), 0, K * prevD, prevD, K * d);
      }
      ops.biasRelu(hj, P.subarray(L.at.expertB[j]!), B, K * d, true);
      drop?.dropExperts(hj, j, B * K * d);
      prev = hj;
      prevD = d;
    }
    const hL = prev;
    // expert gate
    this.gateForward(P, L.at.expertGate, a, B, K, this.g1, this.g);
    const fea = this.fea;
    ops.mixForward(fea, this.g, hL, B, K, dL);
    drop?.dropCritics(fea, B * dL);
    // critics: s = sigmoid(fea V^T + beta)
    const s = this.s;
    ops.gemm(false, true, B, C, dL, fea, P.subarray(L.at.criticW), s, 0, dL, dL, C);
    const cb = L.at.criticB;
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        const u = s[b * C + c]! + P[cb + c]!;
        s[b * C + c] = 1 / (1 + Math.exp(-u));
      }
    }
    // critic gate and the mixture
    this.gateForward(P, L.at.criticGate, a, B, C, this.c1, this.w);
    const w = this.w;
    const p = this.p;
    for (let b = 0; b < B; b++) {
      let acc = 0;
      for (let c = 0; c < C; c++) acc += w[b * C + c]! * s[b * C + c]!;
      p[b] = acc;
    }
  }

  /**
   * softmax(W2 relu(W1 a + b1) + b2) into `out` [B, n]; keeps the hidden layer. A uniform
   * batch's task part (6 of the 7 blocks of a at the Tencent shapes) goes through W1 once,
   * as one row folded into the bias, instead of once per row.
   */
  private gateForward(P: Vec, at: { w1: number; b1: number; w2: number; b2: number }, a: Vec, B: number, n: number, hidden: Vec, out: Vec): void {
    const { ops, L } = this;
    const dL = L.dLast;
    const D = L.gateDim;
    ops.gemm(false, true, B, dL, this.rowWidth, a, P.subarray(at.w1), hidden, 0, D, D, dL);
    let bias = P.subarray(at.b1);
    if (this.uniform) {
      const E = L.dims.embedDim;
      const tb = this.taskBias;
      ops.gemm(false, true, 1, dL, D - E, a.subarray(E), P.subarray(at.w1 + E), tb, 0, D, D, dL);
      for (let i = 0; i < dL; i++) tb[i] = tb[i]! + P[at.b1 + i]!;
      bias = tb;
    }
    ops.biasRelu(hidden, bias, B, dL, true);
    ops.gemm(false, true, B, n, dL, hidden, P.subarray(at.w2), out, 0, dL, dL, n);
    for (let b = 0; b < B; b++) {
      const o = b * n;
      let mx = -Infinity;
      for (let i = 0; i < n; i++) {
        const v = out[o + i]! + P[at.b2 + i]!;
        out[o + i] = v;
        if (v > mx) mx = v;
      }
      let sum = 0;
      for (let i = 0; i < n; i++) {
        const e = Math.exp(out[o + i]! - mx);
        out[o + i] = e;
        sum += e;
      }
      for (let i = 0; i < n; i++) out[o + i] = out[o + i]! / sum;
    }
  }

  /** Mean BCE over B rows of the last forward, each log clamped at -100. */
  loss(y: Uint8Array | Vec, B: number, yOffset = 0): number {
    const p = this.p;
    let sum = 0;
    for (let b = 0; b < B; b++) {
      const pb = p[b]!;
      sum -= y[yOffset + b] ? Math.max(Math.log(pb), LOG_CLAMP) : Math.max(Math.log(1 - pb), LOG_CLAMP);
    }
    return sum / B;
  }

  /**
   * Backward of the mean BCE of the last forward. Writes the dense gradient into `G`
   * (overwriting, same layout as P) except the first expert layer's weights, dh0 (its
   * output gradient for the caller's FirstLayer), and the task vectors' gradient `da`.
   */
  backward(P: Vec, a: Vec, y: Uint8Array | Vec, B: number, G: Vec, yOffset = 0): void {
    const { ops, L } = this;
    const { numExpert: K, numOutput: C, mlpDims } = L.dims;
    const dL = L.dLast;
    const { p, dp, s, w, g, fea } = this;
    for (let b = 0; b < B; b++) {
      const pb = p[b]!;
      dp[b] = (pb - (y[yOffset + b] ? 1 : 0)) / Math.max((1 - pb) * pb, BCE_EPS) / B;
    }
    // p = sum_c w_c s_c
    const du = this.du;
    const dwl = this.dwl;
    for (let b = 0; b < B; b++) {
      const o = b * C;
      let dot = 0;
      for (let c = 0; c < C; c++) dot += w[o + c]! * s[o + c]!;
      for (let c = 0; c < C; c++) {
        const sc = s[o + c]!;
        // softmax backward of the critic gate: dz = w (ds - <w, ds>) with ds = dp * s
        dwl[o + c] = w[o + c]! * dp[b]! * (sc - dot);
        // sigmoid backward of critic c
        du[o + c] = dp[b]! * w[o + c]! * sc * (1 - sc);
      }
    }
    // critics
    ops.gemm(true, false, C, dL, B, du, fea, G.subarray(L.at.criticW), 0, C, dL, dL);
    ops.colSum(du, B, C, G.subarray(L.at.criticB), 0);
    ops.gemm(false, false, B, dL, C, du, P.subarray(L.at.criticW), this.dfea, 0, C, dL, dL);
    // from here dfea is the gradient of the mixture, before the critics' dropout
    this.dropped?.maskCritics(this.dfea, B * dL);
    // fea = sum_k g_k h_k
    const nl = mlpDims.length;
    const hL = this.h[nl - 1]!;
    const dhL = this.dh[nl - 1]!;
    const dgl = this.dgl;
    ops.mixBackward(this.dfea, g, hL, dhL, dgl, B, K, dL);
    // gates (both add into da)
    this.da.fill(0, 0, B * L.gateDim);
    this.gateBackward(P, G, L.at.expertGate, a, B, K, this.g1, this.dg1, dgl);
    this.gateBackward(P, G, L.at.criticGate, a, B, C, this.c1, this.dc1, dwl);
    // experts, last layer first
    for (let j = nl - 1; j >= 0; j--) {
      const d = mlpDims[j]!;
      const hj = this.h[j]!;
      const dhj = this.dh[j]!;
      ops.reluBackward(dhj, hj, B * K * d);
      this.dropped?.scaleExperts(dhj, B * K * d);
      ops.colSum(dhj, B, K * d, G.subarray(L.at.expertB[j]!), 0);
      const W = P.subarray(L.at.expertW[j]!);
      const GW = G.subarray(L.at.expertW[j]!);
      if (j > 0) {
        const dPrev = mlpDims[j - 1]!;
        const hPrev = this.h[j - 1]!;
        const dhPrev = this.dh[j - 1]!;
        for (let k = 0; k < K; k++) {
          ops.gemm(true, false, d, dPrev, B, dhj.subarray(k * d), hPrev.subarray(k * dPrev), GW.subarray(k * d * dPrev), 0, K * d, K * dPrev, dPrev);
          ops.gemm(false, false, B, dPrev, d, dhj.subarray(k * d), W.subarray(k * d * dPrev), dhPrev.subarray(k * dPrev), 0, K * d, dPrev, K * dPrev);
        }
      }
    }
  }

  private gateBackward(P: Vec, G: Vec, at: { w1: number; b1: number; w2: number; b2: number }, a: Vec, B: number, n: number, hidden: Vec, dHidden: Vec, dLogits: Vec): void {
    const { ops, L } = this;
    const dL = L.dLast;
    ops.gemm(true, false, n, dL, B, dLogits, hidden, G.subarray(at.w2), 0, n, dL, dL);
    ops.colSum(dLogits, B, n, G.subarray(at.b2), 0);
    ops.gemm(false, false, B, dL, n, dLogits, P.subarray(at.w2), dHidden, 0, n, dL, dL);
    ops.reluBackward(dHidden, hidden, B * dL);
    const D = L.gateDim;
    const gb1 = G.subarray(at.b1);
    ops.colSum(dHidden, B, dL, gb1, 0);
    ops.gemm(true, false, dL, this.rowWidth, B, dHidden, a, G.subarray(at.w1), 0, dL, D, D);
    ops.gemm(false, false, B, this.rowWidth, dL, dHidden, P.subarray(at.w1), this.da, 1, dL, D, D);
    if (this.uniform) {
      // the task part is one row t: its weight gradient is colSum(dHidden) t^T and its
      // input gradient colSum(dHidden) W1, kept in row 0 (poolBackward reads that row alone)
      const E = L.dims.embedDim;
      ops.gemm(true, false, dL, D - E, 1, gb1, a.subarray(E), G.subarray(at.w1 + E), 0, dL, D, D);
      ops.gemm(false, false, 1, D - E, dL, gb1, P.subarray(at.w1 + E), this.da.subarray(E), 1, dL, D, D);
    }
  }
}
