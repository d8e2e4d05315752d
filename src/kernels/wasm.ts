/**
 * The compiled AssemblyScript kernels (kernels.wasm, built by `npm run build:kernels` next to
 * this file) and the shape of their exports. Pointers are byte addresses in the shared
 * memory; strides are in elements; booleans are 0/1.
 */
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { nativeKernels } from './native.js';
import type { GemmTiles } from './split.js';

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
  fieldMean(x: number, ldx: number, f: number, e: number, b: number, a: number, lda: number): void;
  fieldMeanBackward(dx: number, ldx: number, f: number, e: number, b: number, da: number, lda: number): void;
  mixForward(fea: number, g: number, h: number, b: number, k: number, d: number): void;
  mixBackward(dfea: number, g: number, h: number, dh: number, dgl: number, b: number, k: number, d: number): void;
  addScaled(out: number, a: number, alpha: number, b: number, n: number): void;
  scaleRows(x: number, ids: number, n: number, e: number, c: number): void;
}

let compiled: { module: WebAssembly.Module; relaxed: boolean } | undefined;

/** (func (param v128 v128 v128) (result v128) f32x4.relaxed_madd): valid only where relaxed SIMD is on. */
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 1, 96, 3, 123, 123, 123, 1, 123, 3, 2, 1, 0,
  10, 13, 1, 11, 0, 32, 0, 32, 1, 32, 2, 253, 133, 2, 11,
]);

/**
 * Whether this Node has relaxed SIMD (fused multiply-add in gemm): on by default in newer
 * releases, behind a V8 flag in Node 20, which is turned on here (wasm features are read
 * when a module is compiled). METAHEAC_RELAXED_SIMD=0 keeps the plain build.
 */
function relaxedSimd(): boolean {
  if (process.env.METAHEAC_RELAXED_SIMD === '0') return false;
  if (WebAssembly.validate(RELAXED_PROBE)) return true;
  setFlagsFromString('--experimental-wasm-relaxed-simd');
  return WebAssembly.validate(RELAXED_PROBE);
}

function load(file: string): WebAssembly.Module {
  const path = new URL(file, import.meta.url);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read the wasm kernels at ${path.pathname} (run \`npm run build:kernels\`): ${(e as Error).message}`);
  }
  return new WebAssembly.Module(bytes);
}

/**
 * The module, compiled once per process: the relaxed-SIMD build where the runtime has it,
 * else the plain SIMD one. Workers receive this same Module object, so V8 shares its machine
 * code among threads (every thread computes alike) and a function optimised in one is
 * optimised in all.
 */
export function kernelModule(): WebAssembly.Module {
  if (!compiled) {
    const relaxed = relaxedSimd();
    compiled = { module: load(relaxed ? './kernels-relaxed.wasm' : './kernels.wasm'), relaxed };
  }
  return compiled.module;
}

/** Whether kernelModule() is the relaxed-SIMD (fused multiply-add) build. */
export function kernelsRelaxed(): boolean {
  kernelModule();
  return compiled!.relaxed;
}

/** The kernels one thread calls: the wasm exports, with some native where the addon is present (native.ts). */
export interface Kernels extends KernelExports {
  readonly gemmTiles: GemmTiles;
}

export function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): Kernels {
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const wasm = instance.exports as unknown as KernelExports;
  const { fns, tiles } = nativeKernels(wasm, memory);
  return { ...wasm, ...fns, gemmTiles: tiles };
}
