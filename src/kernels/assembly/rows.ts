// Row-wise kernels over embedding tables: gathering a batch's rows (through fast-weight or
// adapted overlays) and Adam on a list of rows. Tables are [rows, E] f32; ids are i32.

/**
 * out[u, :E] = row ids[u] of the table seen through an overlay:
 * mode 0: base; 1: base + over where mark[id] (fast weights θ + Δ); 2: over where mark[id],
 * else base (a task's adapted copy). mark is a u8 per row.
 */
export function gatherRows(out: usize, base: usize, ids: usize, n: i32, E: i32, over: usize, mark: usize, mode: i32): void {
  const rowB = <usize>E << 2;
  const vecEnd = E & ~3;
  for (let u = 0; u < n; u++) {
    const id = <usize>load<i32>(ids + (<usize>u << 2));
    const o = out + <usize>u * rowB;
    const marked = mode != 0 && load<u8>(mark + id) != 0;
    const src = marked && mode == 2 ? over + id * rowB : base + id * rowB;
    if (marked && mode == 1) {
      const d = over + id * rowB;
      let j = 0;
      for (; j < vecEnd; j += 4) {
        const jo = <usize>j << 2;
        v128.store(o + jo, f32x4.add(v128.load(src + jo), v128.load(d + jo)));
      }
      for (; j < E; j++) {
        const jo = <usize>j << 2;
        store<f32>(o + jo, load<f32>(src + jo) + load<f32>(d + jo));
      }
    } else {
      memory.copy(o, src, rowB);
    }
  }
}

/**
 * Adam (PyTorch's formula) on rows ids[0..n) of p, with moments m, v and gradient g, all
 * [rows, E]: m += (g - m)·ib1; v = v·b2 + (ib2·g)·g; p -= stepSize m / (sqrt(v)/bc2 + eps),
 * each operation rounded to f32 in torch.optim.Adam's order (lerp_, mul_ + addcmul_, addcdiv_).
 * ib1 = 1 - β1 and ib2 = 1 - β2 come in from the caller, computed in double from the double β
 * as Python does: 1 - f32(0.999) would make every v about 1.3e-5 relative low.
 */
export function adamRows(p: usize, m: usize, v: usize, g: usize, ids: usize, n: i32, E: i32, stepSize: f32, bc2: f32, ib1s: f32, b2s: f32, ib2s: f32, eps: f32): void {
  const rowB = <usize>E << 2;
  const vecEnd = E & ~3;
  const ib1 = f32x4.splat(ib1s);
  const vb2 = f32x4.splat(b2s);
  const ib2 = f32x4.splat(ib2s);
  const vss = f32x4.splat(stepSize);
  const vbc = f32x4.splat(bc2);
  const veps = f32x4.splat(eps);
  for (let u = 0; u < n; u++) {
    const off = <usize>load<i32>(ids + (<usize>u << 2)) * rowB;
    let j = 0;
    for (; j < vecEnd; j += 4) {
      const o = off + (<usize>j << 2);
      const gj = v128.load(g + o);
      const mj0 = v128.load(m + o);
      const mj = f32x4.add(mj0, f32x4.mul(f32x4.sub(gj, mj0), ib1));
      const vj = f32x4.add(f32x4.mul(v128.load(v + o), vb2), f32x4.mul(f32x4.mul(ib2, gj), gj));
      v128.store(m + o, mj);
      v128.store(v + o, vj);
      const den = f32x4.add(f32x4.div(f32x4.sqrt(vj), vbc), veps);
      v128.store(p + o, f32x4.sub(v128.load(p + o), f32x4.div(f32x4.mul(vss, mj), den)));
    }
    for (; j < E; j++) {
      const o = off + (<usize>j << 2);
      const gj = load<f32>(g + o);
      const mj0 = load<f32>(m + o);
      const mj = mj0 + (gj - mj0) * ib1s;
      const vj = load<f32>(v + o) * b2s + ib2s * gj * gj;
      store<f32>(m + o, mj);
      store<f32>(v + o, vj);
      store<f32>(p + o, load<f32>(p + o) - (stepSize * mj) / (sqrt<f32>(vj) / bc2 + eps));
    }
  }
}

/**
 * Rows ids[0..n) of [rows, E] `x` times c, each product taken in f64 and rounded to f32 once
 * (as JavaScript's x[i] * c stored to a Float32Array would be): the mean of a step's task gradients.
 */
export function scaleRows(x: usize, ids: usize, n: i32, E: i32, c: f64): void {
  const rowB = <usize>E << 2;
  const vecEnd = E & ~3;
  const cv = f64x2.splat(c);
  for (let u = 0; u < n; u++) {
    const r = x + <usize>load<i32>(ids + (<usize>u << 2)) * rowB;
    let j = 0;
    for (; j < vecEnd; j += 4) {
      const o = r + (<usize>j << 2);
      const v = v128.load(o);
      const lo = f32x4.demote_f64x2_zero(f64x2.mul(f64x2.promote_low_f32x4(v), cv));
      const hi = f32x4.demote_f64x2_zero(f64x2.mul(f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)), cv));
      v128.store(o, v128.shuffle<f32>(lo, hi, 0, 1, 4, 5));
    }
    for (; j < E; j++) {
      const o = r + (<usize>j << 2);
      store<f32>(o, <f32>(<f64>load<f32>(o) * c));
    }
  }
}
