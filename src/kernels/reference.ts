/**
 * Plain TypeScript versions of the engine's kernels, on any Float32Array: the yardstick the
 * tests check the wasm against and the baseline the benchmark reports. gemm accumulates in
 * float64; the elementwise kernels round to float32 after every operation in the same
 * order as the wasm, so they must agree with it bit for bit.
 */

/** C = beta*C + op(A) op(B), row-major, with the same stride conventions as Engine.gemm. */
export function refGemm(
  transA: boolean, transB: boolean, M: number, N: number, K: number,
  A: Float32Array, B: Float32Array, C: Float32Array, beta: 0 | 1,
  lda = transA ? M : K, ldb = transB ? K : N, ldc = N,
): void {
  // op(A)[i,k] and op(B)[k,j] as strides into the stored arrays.
  const aRow = transA ? 1 : lda;
  const aK = transA ? lda : 1;
  const bK = transB ? 1 : ldb;
  const bCol = transB ? ldb : 1;
  const acc = new Float64Array(N);
  for (let i = 0; i < M; i++) {
    acc.fill(0);
    for (let k = 0; k < K; k++) {
      const aik = A[i * aRow + k * aK]!;
      const bk = k * bK;
      for (let j = 0; j < N; j++) acc[j]! += aik * B[bk + j * bCol]!;
    }
    const c = i * ldc;
    for (let j = 0; j < N; j++) C[c + j] = beta ? C[c + j]! + acc[j]! : acc[j]!;
  }
}

/** Y[r, :] += bias, then y < 0 ? 0 : y when relu. */
export function refBiasReluForward(
  Y: Float32Array, bias: Float32Array, rows: number, cols: number, relu: boolean, ld = cols,
): void {
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) {
      const v = Math.fround(Y[r * ld + j]! + bias[j]!);
      Y[r * ld + j] = relu && v < 0 ? 0 : v;
    }
  }
}

/** dY[i] = Y[i] > 0 ? dY[i] : 0. */
export function refReluBackward(dY: Float32Array, Y: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) if (!(Y[i]! > 0)) dY[i] = 0;
}

/** out[j] = (beta ? out[j] : 0) + (float32 sum of dY[:, j] in row order). */
export function refColSum(dY: Float32Array, rows: number, cols: number, out: Float32Array, beta: 0 | 1, ld = cols): void {
  for (let j = 0; j < cols; j++) {
    let s = 0;
    for (let r = 0; r < rows; r++) s = Math.fround(s + dY[r * ld + j]!);
    out[j] = beta ? Math.fround(out[j]! + s) : s;
  }
}
