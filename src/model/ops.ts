/**
 * The arithmetic the model needs from an engine: zeroed buffers and a general matrix
 * multiply. Production runs on the WebAssembly engine (float32); the gradient tests run the
 * very same model code on the float64 reference below, so a finite-difference check is not
 * drowned in float32 rounding.
 */
export type Vec = Float32Array | Float64Array;

export interface Ops {
  /** A zeroed buffer that gemm accepts. */
  alloc(n: number): Vec;
  /** Free everything allocated after `mark()` (scratch buffers of one call). */
  mark(): number;
  release(mark: number): void;
  /**
   * C = beta*C + op(A) op(B), row-major, op(X) = X or X^T; A is M x K after op, B is K x N
   * after op; lda/ldb/ldc are the stored row strides.
   */
  gemm(
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    A: Vec,
    B: Vec,
    C: Vec,
    beta: 0 | 1,
    lda?: number,
    ldb?: number,
    ldc?: number,
  ): void;
  /** Y[r, :] += bias, then ReLU in place when `relu`. */
  biasRelu(Y: Vec, bias: Vec, rows: number, cols: number, relu: boolean): void;
  /** dY *= (Y > 0): ReLU's backward, from its output. */
  reluBackward(dY: Vec, Y: Vec, n: number): void;
  /** out = beta*out + column sums of dY [rows, cols]: a bias gradient. */
  colSum(dY: Vec, rows: number, cols: number, out: Vec, beta: 0 | 1): void;
}

/** Straightforward loops in the array's own precision: the reference and the float64 engine for tests. */
export class JsOps implements Ops {
  constructor(private readonly ctor: Float32ArrayConstructor | Float64ArrayConstructor = Float64Array) {}

  alloc(n: number): Vec {
    return new this.ctor(n);
  }

  mark(): number {
    return 0;
  }

  release(): void {}

  gemm(
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    A: Vec,
    B: Vec,
    C: Vec,
    beta: 0 | 1,
    lda = transA ? M : K,
    ldb = transB ? K : N,
    ldc = N,
  ): void {
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const a = transA ? A[k * lda + i]! : A[i * lda + k]!;
          const b = transB ? B[j * ldb + k]! : B[k * ldb + j]!;
          s += a * b;
        }
        C[i * ldc + j] = beta === 0 ? s : C[i * ldc + j]! + s;
      }
    }
  }

  biasRelu(Y: Vec, bias: Vec, rows: number, cols: number, relu: boolean): void {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      for (let c = 0; c < cols; c++) {
        const v = Y[o + c]! + bias[c]!;
        Y[o + c] = relu && v < 0 ? 0 : v;
      }
    }
  }

  reluBackward(dY: Vec, Y: Vec, n: number): void {
    for (let i = 0; i < n; i++) if (!(Y[i]! > 0)) dY[i] = 0;
  }

  colSum(dY: Vec, rows: number, cols: number, out: Vec, beta: 0 | 1): void {
    if (beta === 0) out.fill(0, 0, cols);
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      for (let c = 0; c < cols; c++) out[c] += dY[o + c]!;
    }
  }
}
