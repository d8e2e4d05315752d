// The per-row glue of MetaHeac's dense net that is neither a matrix product nor a bias:
// the mean of the user field vectors (the gates' input) and its backward, and the expert
// mixture fea = sum_k g_k h_k with its backward through the gate softmax. In JavaScript
// these loops cost about as much as the gate products they sit between. Pointers are byte
// addresses; widths and strides are in elements.

/** a[b, :E] = (sum over e < F of x[b, e*E : (e+1)*E]) / F, field order, for B rows. */
export function fieldMean(x: usize, ldx: i32, F: i32, E: i32, B: i32, a: usize, lda: i32): void {
  const fv = f32x4.splat(<f32>F);
  const ff = <f32>F;
  const vecEnd = E & ~3;
  for (let b = 0; b < B; b++) {
    const xr = x + ((<usize>b * <usize>ldx) << 2);
    const ar = a + ((<usize>b * <usize>lda) << 2);
    let k = 0;
    for (; k < vecEnd; k += 4) {
      const o = <usize>k << 2;
      let s = f32x4.splat(0);
      for (let e = 0; e < F; e++) s = f32x4.add(s, v128.load(xr + ((<usize>(e * E)) << 2) + o));
      v128.store(ar + o, f32x4.div(s, fv));
    }
    for (; k < E; k++) {
      const o = <usize>k << 2;
      let s: f32 = 0;
      for (let e = 0; e < F; e++) s += load<f32>(xr + ((<usize>(e * E)) << 2) + o);
      store<f32>(ar + o, s / ff);
    }
  }
}

/** dx[b, e*E + k] += da[b, k] / F for every field e < F: fieldMean's backward. */
export function fieldMeanBackward(dx: usize, ldx: i32, F: i32, E: i32, B: i32, da: usize, lda: i32): void {
  const fv = f32x4.splat(<f32>F);
  const ff = <f32>F;
  const vecEnd = E & ~3;
  for (let b = 0; b < B; b++) {
    const xr = dx + ((<usize>b * <usize>ldx) << 2);
    const ar = da + ((<usize>b * <usize>lda) << 2);
    let k = 0;
    for (; k < vecEnd; k += 4) {
      const o = <usize>k << 2;
      const g = f32x4.div(v128.load(ar + o), fv);
      for (let e = 0; e < F; e++) {
        const p = xr + ((<usize>(e * E)) << 2) + o;
        v128.store(p, f32x4.add(v128.load(p), g));
      }
    }
    for (; k < E; k++) {
      const o = <usize>k << 2;
      const g = load<f32>(ar + o) / ff;
      for (let e = 0; e < F; e++) {
        const p = xr + ((<usize>(e * E)) << 2) + o;
        store<f32>(p, load<f32>(p) + g);
      }
    }
  }
}

/** fea[b, :d] = sum over k < K (ascending) of g[b, k] * h[b, k*d : (k+1)*d]. */
export function mixForward(fea: usize, g: usize, h: usize, B: i32, K: i32, d: i32): void {
  const vecEnd = d & ~3;
  for (let b = 0; b < B; b++) {
    const fr = fea + ((<usize>(b * d)) << 2);
    const gr = g + ((<usize>(b * K)) << 2);
    const hr = h + ((<usize>(b * K * d)) << 2);
    let i = 0;
    for (; i < vecEnd; i += 4) {
      const o = <usize>i << 2;
      let s = f32x4.splat(0);
      for (let k = 0; k < K; k++) {
        s = f32x4.add(s, f32x4.mul(f32x4.splat(load<f32>(gr + (<usize>k << 2))), v128.load(hr + ((<usize>(k * d)) << 2) + o)));
      }
      v128.store(fr + o, s);
    }
    for (; i < d; i++) {
      const o = <usize>i << 2;
      let s: f32 = 0;
      for (let k = 0; k < K; k++) s += load<f32>(gr + (<usize>k << 2)) * load<f32>(hr + ((<usize>(k * d)) << 2) + o);
      store<f32>(fr + o, s);
    }
  }
}

/**
 * mixForward's backward through the softmax that made g: dh[b, k, :] = g[b, k] dfea[b, :],
 * and the gate logits' gradient dgl[b, k] = g_k (q_k - sum_j g_j q_j) with q_k = <dfea_b, h_bk>.
 */
export function mixBackward(dfea: usize, g: usize, h: usize, dh: usize, dgl: usize, B: i32, K: i32, d: i32): void {
  const vecEnd = d & ~3;
  for (let b = 0; b < B; b++) {
    const fr = dfea + ((<usize>(b * d)) << 2);
    const gr = g + ((<usize>(b * K)) << 2);
    const qr = dgl + ((<usize>(b * K)) << 2);
    let dot: f32 = 0;
    for (let k = 0; k < K; k++) {
      const gk = load<f32>(gr + (<usize>k << 2));
      const gv = f32x4.splat(gk);
      const hr = h + ((<usize>((b * K + k) * d)) << 2);
      const dr = dh + ((<usize>((b * K + k) * d)) << 2);
      let acc = f32x4.splat(0);
      let i = 0;
      for (; i < vecEnd; i += 4) {
        const o = <usize>i << 2;
        const df = v128.load(fr + o);
        acc = f32x4.add(acc, f32x4.mul(df, v128.load(hr + o)));
        v128.store(dr + o, f32x4.mul(gv, df));
      }
      let q: f32 = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
      for (; i < d; i++) {
        const o = <usize>i << 2;
        const df = load<f32>(fr + o);
        q += df * load<f32>(hr + o);
        store<f32>(dr + o, gk * df);
      }
      store<f32>(qr + (<usize>k << 2), q);
      dot += gk * q;
    }
    for (let k = 0; k < K; k++) {
      const p = qr + (<usize>k << 2);
      store<f32>(p, load<f32>(gr + (<usize>k << 2)) * (load<f32>(p) - dot));
    }
  }
}

/** out[i] = a[i] + alpha * b[i] for i < n (out may be a): fast weights and gradient sums over the dense weights. */
export function addScaled(out: usize, a: usize, alpha: f32, b: usize, n: i32): void {
  const av = f32x4.splat(alpha);
  const vecEnd = n & ~3;
  let i = 0;
  for (; i < vecEnd; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.add(v128.load(a + o), f32x4.mul(av, v128.load(b + o))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) + alpha * load<f32>(b + o));
  }
}
