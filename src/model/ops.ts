/**
 * The arithmetic the model needs from an engine: zeroed buffers and a general matrix
 * multiply. Production runs on the WebAssembly engine (float32); the gradient tests run the
 * very same model code on the float64 reference below, so a finite-difference check is not
 * drowned in float32 rounding.
 */
export type Vec = Float32Array | Float64Array;

/**
 * Threads of an engine that run whole JavaScript jobs (a task of a meta-step, a batch to
 * score) on their own single-threaded engine over the same memory. The job module's
 * setupWorker(ops, memory, init) runs once per worker (in the worker) and returns the
 * handler that start() calls there.
 */
export interface JobHost {
  /** Threads besides the caller's. */
  readonly workers: number;
  /** The memory every array of this Ops lives in (workers view the same arrays by byte offset). */
  readonly memory: SharedArrayBuffer;
  /**
   * Load the job module at `url` in every worker; each gets `heapBytes` of this Ops' memory
   * for its own arrays. Returns the id of its handler.
   */
  load(url: string, init: unknown, heapBytes: number): number;
  /** Run handler `id` on worker `w` (1 .. workers) with int32 arguments; returns at once. */
  start(w: number, id: number, args: number[]): void;
  /** Wait for worker w's job; throws if it failed. */
  finish(w: number): void;
}

export interface Ops {
  /** Present when this Ops can run JavaScript jobs on other threads. */
  readonly jobs?: JobHost | undefined;
  /** A zeroed buffer that gemm accepts. */
  alloc(n: number): Vec;
  /** A zeroed id buffer the pooling kernels accept. */
  allocI32(n: number): Int32Array;
  /** A zeroed byte buffer (row marks). */
  allocU8(n: number): Uint8Array;
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
  /**
   * Embedding-bag pooling: out[b, :N] = (acc ? out[b, :N] : 0) + scale[b] * sum over
   * t < cnt[b] of T[idx[b*w + t], :N]; cnt null means one id per row, scale null means 1.
   */
  poolRows(out: Vec, ldo: number, T: Vec, N: number, idx: Int32Array, w: number, cnt: Int32Array | null, scale: Vec | null, B: number, acc: boolean): void;
  /** The backward of poolRows: D[idx[b*w + t], :N] += alpha * scale[b] * src[b, :N]. */
  scatterRows(D: Vec, N: number, idx: Int32Array, w: number, cnt: Int32Array | null, scale: Vec | null, B: number, src: Vec, lds: number, alpha?: number): void;
  /**
   * out[u] = row ids[u] of `base` ([rows, E]) seen through `over` where mark[id] is set:
   * mode 0 base only, 1 base + over (fast weights θ + Δ), 2 over instead of base (adapted rows).
   */
  gatherRows(out: Vec, base: Vec, ids: Int32Array, n: number, E: number, over: Vec | null, mark: Uint8Array | null, mode: 0 | 1 | 2): void;
  /** Adam (PyTorch's formula, see optim/adam.ts) on rows ids[0..n) of p, m, v, g ([rows, E]). */
  adamRows(p: Vec, m: Vec, v: Vec, g: Vec, ids: Int32Array, n: number, E: number, stepSize: number, bc2: number, b1: number, b2: number, eps: number): void;
  /** a[b, :E] = mean over the F blocks x[b, e*E : (e+1)*E] (field order), for B rows; row strides ldx, lda. */
  fieldMean(x: Vec, ldx: number, F: number, E: number, B: number, a: Vec, lda: number): void;
  /** fieldMean's backward: dx[b, e*E + k] += da[b, k] / F for every block e. */
  fieldMeanBackward(dx: Vec, ldx: number, F: number, E: number, B: number, da: Vec, lda: number): void;
  /** The expert mixture: fea[b, :d] = sum over k < K of g[b, k] h[b, k*d : (k+1)*d]. */
  mixForward(fea: Vec, g: Vec, h: Vec, B: number, K: number, d: number): void;
  /**
   * Its backward through the softmax that made g: dh[b, k*d + i] = g[b, k] dfea[b, i], and
   * dgl[b, k] = g_k (q_k - sum_j g_j q_j) with q_k = <dfea[b], h[b, k]> (the gate logits' gradient).
   */
  mixBackward(dfea: Vec, g: Vec, h: Vec, dh: Vec, dgl: Vec, B: number, K: number, d: number): void;
  /** out[i] = a[i] + alpha * b[i] for i < n; out may be a. */
  addScaled(out: Vec, a: Vec, alpha: number, b: Vec, n: number): void;
  /** Rows ids[0..n) of x ([rows, E]) times c, each product rounded once to x's precision. */
  scaleRows(x: Vec, ids: Int32Array, n: number, E: number, c: number): void;
}

/** Straightforward loops in the array's own precision: the reference and the float64 engine for tests. */
export class JsOps implements Ops {
  constructor(private readonly ctor: Float32ArrayConstructor | Float64ArrayConstructor = Float64Array) {}

  alloc(n: number): Vec {
    return new this.ctor(n);
  }

  allocI32(n: number): Int32Array {
    return new Int32Array(n);
  }

  allocU8(n: number): Uint8Array {
    return new Uint8Array(n);
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

  poolRows(out: Vec, ldo: number, T: Vec, N: number, idx: Int32Array, w: number, cnt: Int32Array | null, scale: Vec | null, B: number, acc: boolean): void {
    for (let b = 0; b < B; b++) {
      const c = cnt ? cnt[b]! : 1;
      const s = scale ? scale[b]! : 1;
      for (let j = 0; j < N; j++) {
        let v = 0;
        for (let t = 0; t < c; t++) v += T[idx[b * w + t]! * N + j]!;
        out[b * ldo + j] = (acc ? out[b * ldo + j]! : 0) + v * s;
      }
    }
  }

  scatterRows(D: Vec, N: number, idx: Int32Array, w: number, cnt: Int32Array | null, scale: Vec | null, B: number, src: Vec, lds: number, alpha = 1): void {
    for (let b = 0; b < B; b++) {
      const c = cnt ? cnt[b]! : 1;
      const s = alpha * (scale ? scale[b]! : 1);
      for (let t = 0; t < c; t++) {
        const d = idx[b * w + t]! * N;
        for (let j = 0; j < N; j++) D[d + j] += src[b * lds + j]! * s;
      }
    }
  }

  gatherRows(out: Vec, base: Vec, ids: Int32Array, n: number, E: number, over: Vec | null, mark: Uint8Array | null, mode: 0 | 1 | 2): void {
    for (let u = 0; u < n; u++) {
      const o = ids[u]! * E;
      const marked = mode !== 0 && mark![ids[u]!] !== 0;
      for (let k = 0; k < E; k++) {
        out[u * E + k] = !marked ? base[o + k]! : mode === 1 ? base[o + k]! + over![o + k]! : over![o + k]!;
      }
    }
  }

  adamRows(p: Vec, m: Vec, v: Vec, g: Vec, ids: Int32Array, n: number, E: number, stepSize: number, bc2: number, b1: number, b2: number, eps: number): void {
    for (let u = 0; u < n; u++) {
      const o = ids[u]! * E;
      for (let k = o; k < o + E; k++) {
        const gk = g[k]!;
        m[k] = m[k]! + (gk - m[k]!) * (1 - b1);
        v[k] = v[k]! * b2 + (1 - b2) * gk * gk;
        p[k] = p[k]! - (stepSize * m[k]!) / (Math.sqrt(v[k]!) / bc2 + eps);
      }
    }
  }

  fieldMean(x: Vec, ldx: number, F: number, E: number, B: number, a: Vec, lda: number): void {
    for (let b = 0; b < B; b++) {
      for (let k = 0; k < E; k++) {
        let s = 0;
        for (let e = 0; e < F; e++) s += x[b * ldx + e * E + k]!;
        a[b * lda + k] = s / F;
      }
    }
  }

  fieldMeanBackward(dx: Vec, ldx: number, F: number, E: number, B: number, da: Vec, lda: number): void {
    for (let b = 0; b < B; b++) {
      for (let k = 0; k < E; k++) {
        const g = da[b * lda + k]! / F;
        for (let e = 0; e < F; e++) dx[b * ldx + e * E + k] += g;
      }
    }
  }

  mixForward(fea: Vec, g: Vec, h: Vec, B: number, K: number, d: number): void {
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < d; i++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += g[b * K + k]! * h[(b * K + k) * d + i]!;
        fea[b * d + i] = s;
      }
    }
  }

  mixBackward(dfea: Vec, g: Vec, h: Vec, dh: Vec, dgl: Vec, B: number, K: number, d: number): void {
    for (let b = 0; b < B; b++) {
      let dot = 0;
      for (let k = 0; k < K; k++) {
        const gk = g[b * K + k]!;
        let q = 0;
        for (let i = 0; i < d; i++) {
          const df = dfea[b * d + i]!;
          q += df * h[(b * K + k) * d + i]!;
          dh[(b * K + k) * d + i] = gk * df;
        }
        dgl[b * K + k] = q;
        dot += gk * q;
      }
      for (let k = 0; k < K; k++) dgl[b * K + k] = g[b * K + k]! * (dgl[b * K + k]! - dot);
    }
  }

  addScaled(out: Vec, a: Vec, alpha: number, b: Vec, n: number): void {
    for (let i = 0; i < n; i++) out[i] = a[i]! + alpha * b[i]!;
  }

  scaleRows(x: Vec, ids: Int32Array, n: number, E: number, c: number): void {
    for (let u = 0; u < n; u++) {
      const o = ids[u]! * E;
      for (let k = o; k < o + E; k++) x[k] = x[k]! * c;
    }
  }
}
