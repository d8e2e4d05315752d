/**
 * The engine the commands run on: the WebAssembly SIMD engine (engine.ts), seen through the
 * model's Ops interface.
 */
import type { Ops, Vec } from '../model/ops.js';
import { Engine } from './engine.js';

export interface RunOps extends Ops {
  close(): Promise<void>;
  readonly threads: number;
}

class EngineOps implements RunOps {
  constructor(private readonly e: Engine) {}

  get threads(): number {
    return this.e.threads;
  }

  alloc(n: number): Vec {
    return this.e.allocF32(n);
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

  close(): Promise<void> {
    return this.e.close();
  }
}

/** `threads` 0 means one per core; `memoryMiB` is the engine's reserved arena. */
export async function createOps(threads = 0, memoryMiB = 512): Promise<RunOps> {
  return new EngineOps(await Engine.create({ threads, memoryMiB }));
}
