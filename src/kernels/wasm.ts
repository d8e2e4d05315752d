/**
 * The compiled AssemblyScript kernels (kernels.wasm, built by `npm run build:kernels` next to
 * this file) and the shape of their exports. Pointers are byte addresses in the shared
 * memory; strides are in elements; booleans are 0/1.
 */
import { readFileSync } from 'node:fs';

export interface KernelExports {
  gemm(
    transA: number, transB: number, M: number, N: number, K: number,
    a: number, b: number, c: number, beta: number,
    lda: number, ldb: number, ldc: number, scratch: number,
  ): void;
  gemmRows(
    transA: number, transB: number, M: number, N: number, K: number,
    a: number, b: number, c: number, beta: number,
    lda: number, ldb: number, ldc: number, scratch: number, counter: number, chunkRows: number,
  ): void;
  gemmRowsFits(N: number, K: number): number;
  gemmScratchBytes(): number;
  biasReluForward(y: number, bias: number, rows: number, cols: number, ld: number, relu: number): void;
  reluBackward(dy: number, y: number, n: number): void;
  colSum(dy: number, rows: number, cols: number, ld: number, out: number, beta: number): void;
  poolRows(out: number, ldo: number, t: number, n: number, idx: number, w: number, cnt: number, scale: number, b: number, acc: number): void;
  scatterRows(d: number, n: number, idx: number, w: number, cnt: number, scale: number, b: number, src: number, lds: number, alpha: number): void;
  gatherRows(out: number, base: number, ids: number, n: number, e: number, over: number, mark: number, mode: number): void;
  adamRows(p: number, m: number, v: number, g: number, ids: number, n: number, e: number, stepSize: number, bc2: number, ib1: number, b2: number, ib2: number, eps: number): void;
}

let compiled: WebAssembly.Module | undefined;

/**
 * The module, compiled once per process. Workers receive this same Module object, so V8
 * shares its machine code among threads and a function optimised in one is optimised in all.
 */
export function kernelModule(): WebAssembly.Module {
  if (!compiled) {
    const path = new URL('./kernels.wasm', import.meta.url);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      throw new Error(`cannot read the wasm kernels at ${path.pathname} (run \`npm run build:kernels\`): ${(e as Error).message}`);
    }
    compiled = new WebAssembly.Module(bytes);
  }
  return compiled;
}

export function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return instance.exports as unknown as KernelExports;
}
