// The glue around the matmuls of an MLP layer: bias + ReLU forward, ReLU backward,
// and the column sums that make bias gradients. Pointers are byte addresses; ld is the
// row stride in elements. ReLU is `y < 0 ? 0 : y` (NaN passes through, as in PyTorch),
// which is exactly f32x4.pmax(y, 0).

/** Y[r, :] += bias, then optionally ReLU, in place. */
export function biasReluForward(y: usize, bias: usize, rows: i32, cols: i32, ld: i32, relu: bool): void {
  const ldB = <usize>ld << 2;
  const zero = f32x4.splat(0);
  const vecEnd = cols & ~3;
  for (let r = 0; r < rows; r++) {
    const row = y + <usize>r * ldB;
    let j = 0;
    for (; j < vecEnd; j += 4) {
      const o = <usize>j << 2;
      let v = f32x4.add(v128.load(row + o), v128.load(bias + o));
      if (relu) v = f32x4.pmax(v, zero);
      v128.store(row + o, v);
    }
    for (; j < cols; j++) {
      const o = <usize>j << 2;
      let v = load<f32>(row + o) + load<f32>(bias + o);
      if (relu && v < 0) v = 0;
      store<f32>(row + o, v);
    }
  }
}

/** dY[i] = Y[i] > 0 ? dY[i] : 0 over n contiguous elements. */
export function reluBackward(dy: usize, y: usize, n: i32): void {
  const zero = f32x4.splat(0);
  const vecEnd = n & ~3;
  let i = 0;
  for (; i < vecEnd; i += 4) {
    const o = <usize>i << 2;
    v128.store(dy + o, v128.and(v128.load(dy + o), f32x4.gt(v128.load(y + o), zero)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    if (!(load<f32>(y + o) > 0)) store<f32>(dy + o, 0);
  }
}

const COLS_PER_PASS: i32 = 16;

/**
 * out[j] = (beta ? out[j] : 0) + s_j, with s_j = sum over rows of dY[r, j] accumulated from
 * 0 in row order: one column's sum never depends on how columns are grouped.
 */
export function colSum(dy: usize, rows: i32, cols: i32, ld: i32, out: usize, beta: i32): void {
  const ldB = <usize>ld << 2;
  let j = 0;
  for (; j + COLS_PER_PASS <= cols; j += COLS_PER_PASS) {
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    let p = dy + (<usize>j << 2);
    for (let r = 0; r < rows; r++) {
      s0 = f32x4.add(s0, v128.load(p));
      s1 = f32x4.add(s1, v128.load(p, 16));
      s2 = f32x4.add(s2, v128.load(p, 32));
      s3 = f32x4.add(s3, v128.load(p, 48));
      p += ldB;
    }
    const o = out + (<usize>j << 2);
    if (beta != 0) {
      s0 = f32x4.add(v128.load(o), s0);
      s1 = f32x4.add(v128.load(o, 16), s1);
      s2 = f32x4.add(v128.load(o, 32), s2);
      s3 = f32x4.add(v128.load(o, 48), s3);
    }
    v128.store(o, s0);
    v128.store(o, s1, 16);
    v128.store(o, s2, 32);
    v128.store(o, s3, 48);
  }
  for (; j + 4 <= cols; j += 4) {
    let s = f32x4.splat(0);
    let p = dy + (<usize>j << 2);
    for (let r = 0; r < rows; r++) {
      s = f32x4.add(s, v128.load(p));
      p += ldB;
    }
    const o = out + (<usize>j << 2);
    if (beta != 0) s = f32x4.add(v128.load(o), s);
    v128.store(o, s);
  }
  for (; j < cols; j++) {
    let s: f32 = 0;
    let p = dy + (<usize>j << 2);
    for (let r = 0; r < rows; r++) {
      s += load<f32>(p);
      p += ldB;
    }
    const o = out + (<usize>j << 2);
    store<f32>(o, beta != 0 ? load<f32>(o) + s : s);
  }
}
