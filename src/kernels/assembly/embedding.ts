// Embedding-bag kernels: pooling rows of a table by per-row id lists, and the scatter that
// is its backward. They serve both the embedding lookup (N = embed_dim, into x) and the
// projected small-vocabulary fields (N = all experts' first-layer width, into H1).
// idx: i32 [B, w] local row ids; cnt: i32 [B] ids used per row (0 pointer: 1 each);
// scale: f32 [B] (0 pointer: 1.0). Pointers are byte addresses, strides in elements.

/** out[b, :N] = (acc ? out[b, :N] : 0) + scale_b * sum_{t < cnt_b} T[idx[b, t], :N]. */
export function poolRows(out: usize, ldo: i32, T: usize, N: i32, idx: usize, w: i32, cnt: usize, scale: usize, B: i32, acc: i32): void {
  const vecEnd = N & ~3;
  const rowB = <usize>N << 2;
  for (let b = 0; b < B; b++) {
    const o = out + ((<usize>b * <usize>ldo) << 2);
    const c = cnt == 0 ? 1 : load<i32>(cnt + (<usize>b << 2));
    const s = scale == 0 ? <f32>1 : load<f32>(scale + (<usize>b << 2));
    const sv = f32x4.splat(s);
    const ib = idx + ((<usize>b * <usize>w) << 2);
    let j = 0;
    // 32 columns at a time: one id lookup per 8 vector adds (the projected fields' rows are
    // 512 wide); each element still sums its ids in order, so the result does not change
    for (; j + 32 <= N; j += 32) {
      const jo = <usize>j << 2;
      let v0 = f32x4.splat(0), v1 = v0, v2 = v0, v3 = v0, v4 = v0, v5 = v0, v6 = v0, v7 = v0;
      for (let t = 0; t < c; t++) {
        const r = T + <usize>load<i32>(ib + (<usize>t << 2)) * rowB + jo;
        v0 = f32x4.add(v0, v128.load(r));
        v1 = f32x4.add(v1, v128.load(r, 16));
        v2 = f32x4.add(v2, v128.load(r, 32));
        v3 = f32x4.add(v3, v128.load(r, 48));
        v4 = f32x4.add(v4, v128.load(r, 64));
        v5 = f32x4.add(v5, v128.load(r, 80));
        v6 = f32x4.add(v6, v128.load(r, 96));
        v7 = f32x4.add(v7, v128.load(r, 112));
      }
      const op = o + jo;
      if (acc) {
        v128.store(op, f32x4.add(f32x4.mul(v0, sv), v128.load(op)));
        v128.store(op, f32x4.add(f32x4.mul(v1, sv), v128.load(op, 16)), 16);
        v128.store(op, f32x4.add(f32x4.mul(v2, sv), v128.load(op, 32)), 32);
        v128.store(op, f32x4.add(f32x4.mul(v3, sv), v128.load(op, 48)), 48);
        v128.store(op, f32x4.add(f32x4.mul(v4, sv), v128.load(op, 64)), 64);
        v128.store(op, f32x4.add(f32x4.mul(v5, sv), v128.load(op, 80)), 80);
        v128.store(op, f32x4.add(f32x4.mul(v6, sv), v128.load(op, 96)), 96);
        v128.store(op, f32x4.add(f32x4.mul(v7, sv), v128.load(op, 112)), 112);
      } else {
        v128.store(op, f32x4.mul(v0, sv));
        v128.store(op, f32x4.mul(v1, sv), 16);
        v128.store(op, f32x4.mul(v2, sv), 32);
        v128.store(op, f32x4.mul(v3, sv), 48);
        v128.store(op, f32x4.mul(v4, sv), 64);
        v128.store(op, f32x4.mul(v5, sv), 80);
        v128.store(op, f32x4.mul(v6, sv), 96);
        v128.store(op, f32x4.mul(v7, sv), 112);
      }
    }
    for (; j < vecEnd; j += 4) {
      const jo = <usize>j << 2;
      let v = f32x4.splat(0);
      for (let t = 0; t < c; t++) {
        const r = T + <usize>load<i32>(ib + (<usize>t << 2)) * rowB;
        v = f32x4.add(v, v128.load(r + jo));
      }
      v = f32x4.mul(v, sv);
      if (acc) v = f32x4.add(v, v128.load(o + jo));
      v128.store(o + jo, v);
    }
    for (; j < N; j++) {
      const jo = <usize>j << 2;
      let v: f32 = 0;
      for (let t = 0; t < c; t++) v += load<f32>(T + <usize>load<i32>(ib + (<usize>t << 2)) * rowB + jo);
      v *= s;
      if (acc) v += load<f32>(o + jo);
      store<f32>(o + jo, v);
    }
  }
}

/** D[idx[b, t], :N] += alpha * scale_b * src[b, :N] for t < cnt_b: the backward of poolRows. */
export function scatterRows(D: usize, N: i32, idx: usize, w: i32, cnt: usize, scale: usize, B: i32, src: usize, lds: i32, alpha: f32): void {
  const vecEnd = N & ~3;
  const rowB = <usize>N << 2;
  for (let b = 0; b < B; b++) {
    const sr = src + ((<usize>b * <usize>lds) << 2);
    const c = cnt == 0 ? 1 : load<i32>(cnt + (<usize>b << 2));
    const s = alpha * (scale == 0 ? <f32>1 : load<f32>(scale + (<usize>b << 2)));
    const sv = f32x4.splat(s);
    const ib = idx + ((<usize>b * <usize>w) << 2);
    let j0 = 0;
    // 32 columns at a time, the source's scaled in registers for all of the row's ids (the
    // projected fields' rows are 512 wide); each element still takes its adds in (b, t) order
    for (; j0 + 32 <= N; j0 += 32) {
      const so = sr + (<usize>j0 << 2);
      const x0 = f32x4.mul(v128.load(so), sv), x1 = f32x4.mul(v128.load(so, 16), sv);
      const x2 = f32x4.mul(v128.load(so, 32), sv), x3 = f32x4.mul(v128.load(so, 48), sv);
      const x4 = f32x4.mul(v128.load(so, 64), sv), x5 = f32x4.mul(v128.load(so, 80), sv);
      const x6 = f32x4.mul(v128.load(so, 96), sv), x7 = f32x4.mul(v128.load(so, 112), sv);
      for (let t = 0; t < c; t++) {
        const d = D + <usize>load<i32>(ib + (<usize>t << 2)) * rowB + (<usize>j0 << 2);
        v128.store(d, f32x4.add(v128.load(d), x0));
        v128.store(d, f32x4.add(v128.load(d, 16), x1), 16);
        v128.store(d, f32x4.add(v128.load(d, 32), x2), 32);
        v128.store(d, f32x4.add(v128.load(d, 48), x3), 48);
        v128.store(d, f32x4.add(v128.load(d, 64), x4), 64);
        v128.store(d, f32x4.add(v128.load(d, 80), x5), 80);
        v128.store(d, f32x4.add(v128.load(d, 96), x6), 96);
        v128.store(d, f32x4.add(v128.load(d, 112), x7), 112);
      }
    }
    for (let t = 0; t < c; t++) {
      const d = D + <usize>load<i32>(ib + (<usize>t << 2)) * rowB;
      let j = j0;
      for (; j < vecEnd; j += 4) {
        const jo = <usize>j << 2;
        v128.store(d + jo, f32x4.add(v128.load(d + jo), f32x4.mul(v128.load(sr + jo), sv)));
      }
      for (; j < N; j++) {
        const jo = <usize>j << 2;
        store<f32>(d + jo, load<f32>(d + jo) + load<f32>(sr + jo) * s);
      }
    }
  }
}
