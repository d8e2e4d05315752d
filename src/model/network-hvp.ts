/**
 * The Hessian-vector product of the dense network (network.ts), in forward-over-reverse
 * form (Pearlmutter's R-operator): a forward pass of directional derivatives R{·} along the
 * parameter direction V, then the directional derivative of every step of DenseNet.backward.
 * The result, R{∇L} = H V, is what second-order MAML multiplies the query gradient by.
 *
 * It reads the activations and gradients of the DenseNet's last forward and backward (which
 * must be of the loss whose Hessian is wanted) and never changes them. ReLU's second
 * derivative is zero almost everywhere: its R-op is the same mask as its backward. Softmax,
 * sigmoid and the BCE (PyTorch's binary_cross_entropy double backward, eps 1e-12) carry
 * their curvature terms. Dropout, with the masks of that forward held fixed, is linear: its
 * R-op and its R-backward are its backward's.
 */
import type { Layout } from './layout.js';
import type { DenseNet } from './network.js';
import type { Ops, Vec } from './ops.js';

/** PyTorch's binary_cross_entropy_double_backward adds this to p and 1-p. */
const BCE_EPS = 1e-12;

type GateAt = { w1: number; b1: number; w2: number; b2: number };

export class DenseHvp {
  // R{·} of the forward activations
  private readonly rh: Vec[];
  private readonly rg1: Vec;
  private readonly rg: Vec;
  private readonly rc1: Vec;
  private readonly rw: Vec;
  private readonly rfea: Vec;
  private readonly rs: Vec;
  private readonly rp: Vec;
  // R{·} of the backward's gradients
  private readonly rdh: Vec[];
  private readonly rdg1: Vec;
  private readonly rdgl: Vec;
  private readonly rdc1: Vec;
  private readonly rdwl: Vec;
  private readonly rdfea: Vec;
  private readonly rdu: Vec;
  private readonly rdp: Vec;
  /** The expert-gate weights' gradients <dfea, h_k> before the softmax backward, [B, K]. */
  private readonly dg: Vec;
  /**
   * R{da}: the task vectors' share, filled by backward; after a uniform forward, the task
   * part of row 0 holds the whole batch's (as DenseNet.da).
   */
  readonly rda: Vec;
  /** [dL] scratch of a uniform batch's gates: the task part's bias, then a column sum. */
  private readonly taskBias: Vec;

  constructor(
    private readonly ops: Ops,
    private readonly L: Layout,
    private readonly net: DenseNet,
    capacity: number,
  ) {
    const { numExpert: K, numOutput: C, mlpDims } = L.dims;
    const dL = L.dLast;
    this.rh = mlpDims.map((d) => ops.alloc(capacity * K * d));
    this.rdh = mlpDims.map((d) => ops.alloc(capacity * K * d));
    this.rg1 = ops.alloc(capacity * dL);
    this.rdg1 = ops.alloc(capacity * dL);
    this.rg = ops.alloc(capacity * K);
    this.rdgl = ops.alloc(capacity * K);
    this.rc1 = ops.alloc(capacity * dL);
    this.rdc1 = ops.alloc(capacity * dL);
    this.rw = ops.alloc(capacity * C);
    this.rdwl = ops.alloc(capacity * C);
    this.rfea = ops.alloc(capacity * dL);
    this.rdfea = ops.alloc(capacity * dL);
    this.rs = ops.alloc(capacity * C);
    this.rdu = ops.alloc(capacity * C);
    this.rp = ops.alloc(capacity);
    this.rdp = ops.alloc(capacity);
    this.dg = ops.alloc(capacity * K);
    this.rda = ops.alloc(capacity * L.gateDim);
    this.taskBias = ops.alloc(dL);
  }

  /** R{x W1^T} of the first expert layer (before its bias): the caller fills it. */
  get rh0(): Vec {
    return this.rh[0]!;
  }

  /** R{dH} of the first expert layer after the ReLU mask, filled by backward(). */
  get rdh0(): Vec {
    return this.rdh[0]!;
  }

  /**
   * R-forward along V (dense direction, same layout as P) with R{a} = ra, from rh0.
   * Leaves R{p} and every intermediate for backward().
   */
  forward(P: Vec, V: Vec, a: Vec, ra: Vec, B: number): void {
    const { ops, L, net } = this;
    const { numExpert: K, numOutput: C, mlpDims } = L.dims;
    const dL = L.dLast;
    const drop = net.dropped;
    ops.biasRelu(this.rh[0]!, V.subarray(L.at.expertB[0]!), B, K * mlpDims[0]!, false);
    ops.reluBackward(this.rh[0]!, net.h[0]!, B * K * mlpDims[0]!);
    drop?.scaleExperts(this.rh[0]!, B * K * mlpDims[0]!);
    for (let j = 1; j < mlpDims.length; j++) {
      const d = mlpDims[j]!;
      const dPrev = mlpDims[j - 1]!;
      const W = P.subarray(L.at.expertW[j]!);
      const VW = V.subarray(L.at.expertW[j]!);
      const rPrev = this.rh[j - 1]!;
      const hPrev = net.h[j - 1]!;
      const r = this.rh[j]!;
      for (let k = 0; k < K; k++) {
        ops.gemm(false, true, B, d, dPrev, rPrev.subarray(k * dPrev), W.subarray(k * d * dPrev), r.subarray(k * d), 0, K * dPrev, dPrev, K * d);
        ops.gemm(false, true, B, d, dPrev, hPrev.subarray(k * dPrev), VW.subarray(k * d * dPrev), r.subarray(k * d), 1, K * dPrev, dPrev, K * d);
      }
      ops.biasRelu(r, V.subarray(L.at.expertB[j]!), B, K * d, false);
      ops.reluBackward(r, net.h[j]!, B * K * d);
      drop?.scaleExperts(r, B * K * d);
    }
    this.gateForward(P, V, L.at.expertGate, a, ra, B, K, net.g1, net.g, this.rg1, this.rg);
    // fea = sum_k g_k h_k
    const hL = net.h[mlpDims.length - 1]!;
    const rhL = this.rh[mlpDims.length - 1]!;
    const { g, fea, s, w } = net;
    const { rg, rfea, rs, rw, rp } = this;
    for (let b = 0; b < B; b++) {
      const fo = b * dL;
      for (let i = 0; i < dL; i++) rfea[fo + i] = 0;
      for (let k = 0; k < K; k++) {
        const gk = g[b * K + k]!;
        const rgk = rg[b * K + k]!;
        const ho = b * K * dL + k * dL;
        for (let i = 0; i < dL; i++) rfea[fo + i] += rgk * hL[ho + i]! + gk * rhL[ho + i]!;
      }
    }
    drop?.maskCritics(rfea, B * dL);
    // critics: R{s} = s (1 - s) (R{fea} V^T + fea R{V}^T + R{beta})
    ops.gemm(false, true, B, C, dL, rfea, P.subarray(L.at.criticW), rs, 0, dL, dL, C);
    ops.gemm(false, true, B, C, dL, fea, V.subarray(L.at.criticW), rs, 1, dL, dL, C);
    const cb = L.at.criticB;
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        const sc = s[b * C + c]!;
        rs[b * C + c] = sc * (1 - sc) * (rs[b * C + c]! + V[cb + c]!);
      }
    }
    this.gateForward(P, V, L.at.criticGate, a, ra, B, C, net.c1, net.w, this.rc1, this.rw);
    for (let b = 0; b < B; b++) {
      let acc = 0;
      for (let c = 0; c < C; c++) acc += rw[b * C + c]! * s[b * C + c]! + w[b * C + c]! * rs[b * C + c]!;
      rp[b] = acc;
    }
  }

  /** R{softmax(W2 relu(W1 a + b1) + b2)} into rOut, R{hidden} into rHidden. */
  private gateForward(P: Vec, V: Vec, at: GateAt, a: Vec, ra: Vec, B: number, n: number, hidden: Vec, out: Vec, rHidden: Vec, rOut: Vec): void {
    const { ops, L } = this;
    const dL = L.dLast;
    const D = L.gateDim;
    const { net } = this;
    ops.gemm(false, true, B, dL, net.rowWidth, ra, P.subarray(at.w1), rHidden, 0, D, D, dL);
    ops.gemm(false, true, B, dL, net.rowWidth, a, V.subarray(at.w1), rHidden, 1, D, D, dL);
    let bias = V.subarray(at.b1);
    if (net.uniform) {
      // as DenseNet.gateForward: the batch's one task part (row 0 of a and of ra) goes
      // through W1 and V1 once, folded into the bias
      const E = L.dims.embedDim;
      const tb = this.taskBias;
      ops.gemm(false, true, 1, dL, D - E, ra.subarray(E), P.subarray(at.w1 + E), tb, 0, D, D, dL);
      ops.gemm(false, true, 1, dL, D - E, a.subarray(E), V.subarray(at.w1 + E), tb, 1, D, D, dL);
      ops.addScaled(tb, tb, 1, bias, dL);
      bias = tb;
    }
    ops.biasRelu(rHidden, bias, B, dL, false);
    ops.reluBackward(rHidden, hidden, B * dL);
    ops.gemm(false, true, B, n, dL, rHidden, P.subarray(at.w2), rOut, 0, dL, dL, n);
    ops.gemm(false, true, B, n, dL, hidden, V.subarray(at.w2), rOut, 1, dL, dL, n);
    ops.biasRelu(rOut, V.subarray(at.b2), B, n, false);
    // softmax: R{out} = out (R{z} - <out, R{z}>)
    for (let b = 0; b < B; b++) {
      const o = b * n;
      let dot = 0;
      for (let i = 0; i < n; i++) dot += out[o + i]! * rOut[o + i]!;
      for (let i = 0; i < n; i++) rOut[o + i] = out[o + i]! * (rOut[o + i]! - dot);
    }
  }

  /**
   * R-backward: writes H V (layout of P, overwriting) for every dense tensor except the
   * first expert layer's weights, R{dH} of that layer (rdh0) and R{da} (rda).
   */
  backward(P: Vec, V: Vec, a: Vec, ra: Vec, y: Uint8Array | Vec, B: number, HV: Vec, yOffset = 0): void {
    const { ops, L, net } = this;
    const { numExpert: K, numOutput: C, mlpDims } = L.dims;
    const dL = L.dLast;
    const { p, dp, s, w, g, fea, du, dfea } = net;
    const { rp, rdp, rs, rw, rg, rfea, rdu, rdwl, rdfea, rdgl } = this;
    for (let b = 0; b < B; b++) {
      const pb = p[b]!;
      const yb = y[yOffset + b] ? 1 : 0;
      const lo = (pb + BCE_EPS) * (1 - pb + BCE_EPS);
      rdp[b] = (rp[b]! * (pb * pb - 2 * pb * yb + yb)) / (lo * lo) / B;
    }
    // p = sum_c w_c s_c: R of the critic-gate logit and critic logit gradients
    for (let b = 0; b < B; b++) {
      const o = b * C;
      const pb = p[b]!;
      const dpb = dp[b]!;
      const rdpb = rdp[b]!;
      const rpb = rp[b]!;
      for (let c = 0; c < C; c++) {
        const sc = s[o + c]!;
        const wc = w[o + c]!;
        const rsc = rs[o + c]!;
        const rwc = rw[o + c]!;
        rdwl[o + c] = (rwc * dpb + wc * rdpb) * (sc - pb) + wc * dpb * (rsc - rpb);
        const sd = sc * (1 - sc);
        rdu[o + c] = (rdpb * wc + dpb * rwc) * sd + dpb * wc * (1 - 2 * sc) * rsc;
      }
    }
    // critics
    ops.gemm(true, false, C, dL, B, rdu, fea, HV.subarray(L.at.criticW), 0, C, dL, dL);
    ops.gemm(true, false, C, dL, B, du, rfea, HV.subarray(L.at.criticW), 1, C, dL, dL);
    ops.colSum(rdu, B, C, HV.subarray(L.at.criticB), 0);
    ops.gemm(false, false, B, dL, C, rdu, P.subarray(L.at.criticW), rdfea, 0, C, dL, dL);
    ops.gemm(false, false, B, dL, C, du, V.subarray(L.at.criticW), rdfea, 1, C, dL, dL);
    // as DenseNet.backward: R{dfea} of the mixture (net.dfea is the mixture's already)
    net.dropped?.maskCritics(rdfea, B * dL);
    // fea = sum_k g_k h_k
    const nl = mlpDims.length;
    const hL = net.h[nl - 1]!;
    const rhL = this.rh[nl - 1]!;
    const rdhL = this.rdh[nl - 1]!;
    for (let b = 0; b < B; b++) {
      const fo = b * dL;
      let dot = 0;
      let rdot = 0;
      for (let k = 0; k < K; k++) {
        const ho = b * K * dL + k * dL;
        const gk = g[b * K + k]!;
        const rgk = rg[b * K + k]!;
        let dg = 0;
        let rdg = 0;
        for (let i = 0; i < dL; i++) {
          dg += dfea[fo + i]! * hL[ho + i]!;
          rdg += rdfea[fo + i]! * hL[ho + i]! + dfea[fo + i]! * rhL[ho + i]!;
          rdhL[ho + i] = rgk * dfea[fo + i]! + gk * rdfea[fo + i]!;
        }
        // R{dg_k} parked in its logit buffer until the dot products are known
        this.dg[b * K + k] = dg;
        rdgl[b * K + k] = rdg;
        dot += gk * dg;
        rdot += rgk * dg + gk * rdg;
      }
      for (let k = 0; k < K; k++) {
        const i = b * K + k;
        rdgl[i] = rg[i]! * (this.dg[i]! - dot) + g[i]! * (rdgl[i]! - rdot);
      }
    }
    // gates (both add into rda)
    this.rda.fill(0, 0, B * L.gateDim);
    this.gateBackward(P, V, HV, L.at.expertGate, a, ra, B, K, net.g1, net.dg1, net.dgl, this.rg1, this.rdg1, rdgl);
    this.gateBackward(P, V, HV, L.at.criticGate, a, ra, B, C, net.c1, net.dc1, net.dwl, this.rc1, this.rdc1, rdwl);
    // experts, last layer first
    for (let j = nl - 1; j >= 0; j--) {
      const d = mlpDims[j]!;
      const rdhj = this.rdh[j]!;
      const dhj = net.dh[j]!;
      ops.reluBackward(rdhj, net.h[j]!, B * K * d);
      net.dropped?.scaleExperts(rdhj, B * K * d);
      ops.colSum(rdhj, B, K * d, HV.subarray(L.at.expertB[j]!), 0);
      if (j > 0) {
        const dPrev = mlpDims[j - 1]!;
        const hPrev = net.h[j - 1]!;
        const rhPrev = this.rh[j - 1]!;
        const rdhPrev = this.rdh[j - 1]!;
        const W = P.subarray(L.at.expertW[j]!);
        const VW = V.subarray(L.at.expertW[j]!);
        const HW = HV.subarray(L.at.expertW[j]!);
        for (let k = 0; k < K; k++) {
          ops.gemm(true, false, d, dPrev, B, rdhj.subarray(k * d), hPrev.subarray(k * dPrev), HW.subarray(k * d * dPrev), 0, K * d, K * dPrev, dPrev);
          ops.gemm(true, false, d, dPrev, B, dhj.subarray(k * d), rhPrev.subarray(k * dPrev), HW.subarray(k * d * dPrev), 1, K * d, K * dPrev, dPrev);
          ops.gemm(false, false, B, dPrev, d, rdhj.subarray(k * d), W.subarray(k * d * dPrev), rdhPrev.subarray(k * dPrev), 0, K * d, dPrev, K * dPrev);
          ops.gemm(false, false, B, dPrev, d, dhj.subarray(k * d), VW.subarray(k * d * dPrev), rdhPrev.subarray(k * dPrev), 1, K * d, dPrev, K * dPrev);
        }
      }
    }
  }

  private gateBackward(
    P: Vec, V: Vec, HV: Vec, at: GateAt, a: Vec, ra: Vec, B: number, n: number,
    hidden: Vec, dHidden: Vec, dLogits: Vec, rHidden: Vec, rdHidden: Vec, rdLogits: Vec,
  ): void {
    const { ops, L } = this;
    const dL = L.dLast;
    const D = L.gateDim;
    ops.gemm(true, false, n, dL, B, rdLogits, hidden, HV.subarray(at.w2), 0, n, dL, dL);
    ops.gemm(true, false, n, dL, B, dLogits, rHidden, HV.subarray(at.w2), 1, n, dL, dL);
    ops.colSum(rdLogits, B, n, HV.subarray(at.b2), 0);
    ops.gemm(false, false, B, dL, n, rdLogits, P.subarray(at.w2), rdHidden, 0, n, dL, dL);
    ops.gemm(false, false, B, dL, n, dLogits, V.subarray(at.w2), rdHidden, 1, n, dL, dL);
    ops.reluBackward(rdHidden, hidden, B * dL);
    const hb1 = HV.subarray(at.b1);
    ops.colSum(rdHidden, B, dL, hb1, 0);
    const { net } = this;
    const HW = HV.subarray(at.w1);
    ops.gemm(true, false, dL, net.rowWidth, B, rdHidden, a, HW, 0, dL, D, D);
    ops.gemm(true, false, dL, net.rowWidth, B, dHidden, ra, HW, 1, dL, D, D);
    ops.gemm(false, false, B, net.rowWidth, dL, rdHidden, P.subarray(at.w1), this.rda, 1, dL, D, D);
    ops.gemm(false, false, B, net.rowWidth, dL, dHidden, V.subarray(at.w1), this.rda, 1, dL, D, D);
    if (net.uniform) {
      // the task part is one row (t, R{t}) for every row: its products go through the
      // column sums of dHidden and R{dHidden}, and R{da}'s task part is kept in row 0
      // (poolBackward reads that row alone), as in DenseNet.gateBackward
      const E = L.dims.embedDim;
      const sd = this.taskBias;
      ops.colSum(dHidden, B, dL, sd, 0);
      ops.gemm(true, false, dL, D - E, 1, hb1, a.subarray(E), HW.subarray(E), 0, dL, D, D);
      ops.gemm(true, false, dL, D - E, 1, sd, ra.subarray(E), HW.subarray(E), 1, dL, D, D);
      ops.gemm(false, false, 1, D - E, dL, hb1, P.subarray(at.w1 + E), this.rda.subarray(E), 1, dL, D, D);
      ops.gemm(false, false, 1, D - E, dL, sd, V.subarray(at.w1 + E), this.rda.subarray(E), 1, dL, D, D);
    }
  }
}
