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
    for (let t = 0; t < c; t++) {
      const d = D + <usize>load<i32>(ib + (<usize>t << 2)) * rowB;
      let j = 0;
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
