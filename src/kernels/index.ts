/**
 * The engine the commands run on: the WebAssembly SIMD engine (engine.ts), seen through the
 * model's Ops interface.
 */
import type { JobHost, Ops, Vec } from '../model/ops.js';
import { Engine } from './engine.js';

/** What a job module (see JobHost) exports. */
export interface JobModule {
  setupWorker(ops: Ops, memory: SharedArrayBuffer, init: unknown): JobHandler;
}
export type JobHandler = (args: Int32Array) => void;

export interface RunOps extends Ops {
  close(): Promise<void>;
  readonly threads: number;
}

export class EngineOps implements RunOps {
  readonly jobs: JobHost | undefined;

  constructor(private readonly e: Engine) {
    this.jobs = e.workerCount === 0 ? undefined : {
      workers: e.workerCount,
      memory: e.memory,
      load: (url, init, heapBytes) => e.loadJobs(url, init, heapBytes),
      start: (w, id, args) => e.startJob(w, id, args),
      finish: (w) => e.finishJob(w),
    };
  }

  get threads(): number {
    return this.e.threads;
  }

  alloc(n: number): Vec {
    return this.e.allocF32(n);
  }

  allocI32(n: number): Int32Array {
    return this.e.allocI32(n);
  }

  allocU8(n: number): Uint8Array {
    return this.e.allocU8(n);
  }

  mark(): number {
    return this.e.mark();
  }

  release(m: number): void {
    this.e.release(m);
  }

  gemm(tA: boolean, tB: boolean, M: number, N: number, K: number, A: Vec, B: Vec, C: Vec, beta: 0 | 1, lda?: number, ldb?: number, ldc?: number): void {
    this.e.gemm(tA, tB, M, N, K, A as Float32Array, B as Float32Array, C as Float32Array, beta, lda, ldb, ldc);
  }

  biasRelu(Y: Vec, bias: Vec, rows: number, cols: number, relu: boolean): void {
    this.e.biasReluForward(Y as Float32Array, bias as Float32Array, rows, cols, relu);
  }

  reluBackward(dY: Vec, Y: Vec, n: number): void {
    this.e.reluBackward(dY as Float32Array, Y as Float32Array, n);
  }

  colSum(dY: Vec, rows: number, cols: number, out: Vec, beta: 0 | 1): void {
    this.e.colSum(dY as Float32Array, rows, cols, out as Float32Array, beta);
  }

  poolRows(out: Vec, ldo: number, T: Vec, N: number, idx: Int32Array, w: number, cnt: Int32Array | null, scale: Vec | null, B: number, acc: boolean): void {
    this.e.poolRows(out as Float32Array, ldo, T as Float32Array, N, idx, w, cnt, scale as Float32Array | null, B, acc);
  }

  scatterRows(D: Vec, N: number, idx: Int32Array, w: number, cnt: Int32Array | null, scale: Vec | null, B: number, src: Vec, lds: number, alpha?: number): void {
    this.e.scatterRows(D as Float32Array, N, idx, w, cnt, scale as Float32Array | null, B, src as Float32Array, lds, alpha);
  }

  gatherRows(out: Vec, base: Vec, ids: Int32Array, n: number, E: number, over: Vec | null, mark: Uint8Array | null, mode: 0 | 1 | 2): void {
    this.e.gatherRows(out as Float32Array, base as Float32Array, ids, n, E, over as Float32Array | null, mark, mode);
  }

  adamRows(p: Vec, m: Vec, v: Vec, g: Vec, ids: Int32Array, n: number, E: number, stepSize: number, bc2: number, b1: number, b2: number, eps: number): void {
    this.e.adamRows(p as Float32Array, m as Float32Array, v as Float32Array, g as Float32Array, ids, n, E, stepSize, bc2, b1, b2, eps);
  }

  fieldMean(x: Vec, ldx: number, F: number, E: number, B: number, a: Vec, lda: number): void {
    this.e.fieldMean(x as Float32Array, ldx, F, E, B, a as Float32Array, lda);
  }

  fieldMeanBackward(dx: Vec, ldx: number, F: number, E: number, B: number, da: Vec, lda: number): void {
    this.e.fieldMeanBackward(dx as Float32Array, ldx, F, E, B, da as Float32Array, lda);
  }

  mixForward(fea: Vec, g: Vec, h: Vec, B: number, K: number, d: number): void {
    this.e.mixForward(fea as Float32Array, g as Float32Array, h as Float32Array, B, K, d);
  }

  mixBackward(dfea: Vec, g: Vec, h: Vec, dh: Vec, dgl: Vec, B: number, K: number, d: number): void {
    this.e.mixBackward(dfea as Float32Array, g as Float32Array, h as Float32Array, dh as Float32Array, dgl as Float32Array, B, K, d);
  }

  addScaled(out: Vec, a: Vec, alpha: number, b: Vec, n: number): void {
    this.e.addScaled(out as Float32Array, a as Float32Array, alpha, b as Float32Array, n);
  }

  scaleRows(x: Vec, ids: Int32Array, n: number, E: number, c: number): void {
    this.e.scaleRows(x as Float32Array, ids, n, E, c);
  }

  close(): Promise<void> {
    return this.e.close();
  }
}

/**
 * `threads` 0 means one per core. `memoryMiB` is the engine's arena: reserved, not committed
 * (pages cost memory only once written), so the default is the wasm32 maximum.
 */
export async function createOps(threads = 0, memoryMiB = 4096): Promise<RunOps> {
  return new EngineOps(await Engine.create({ threads, memoryMiB }));
}
