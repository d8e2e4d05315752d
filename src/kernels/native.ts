/**
 * The native kernels (native/, an AVX-512 or AVX2+FMA Node-API addon that `npm ci` builds
 * where Node's headers and a C compiler are present): when they load, they take over gemm
 * and Adam from the wasm kernels, working on the same shared memory. They compute the same
 * bits as the relaxed-SIMD wasm kernels (test/native-gemm.test.ts), gemm three to four
 * times faster, since wasm SIMD stops at 128-bit registers. Where the addon is absent (no
 * compiler, another CPU, or METAHEAC_NATIVE=0) the wasm kernels run, with the same results.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import type { GemmTiles } from './split.js';
import { WASM_TILES } from './split.js';
import type { KernelExports } from './wasm.js';

/** The addon's exports (native/addon.c): pointers are byte offsets into `mem`. */
interface Addon {
  variant: string | null;
  tileRows?: number;
  tileCols?: number;
  scratchBytes?: number;
  gemm?(mem: Uint8Array, ...args: number[]): void;
  gemmRows?(mem: Uint8Array, ...args: number[]): void;
  gemmRowsFits?(N: number, K: number): boolean;
  adamRows?(mem: Uint8Array, ...args: number[]): void;
  hugePages?(mem: Uint8Array): boolean;
}

/** The kernels the addon takes over, with the wasm functions' parameters. */
export type NativeKernels = Pick<KernelExports, 'gemm' | 'gemmRows' | 'gemmRowsFits' | 'gemmScratchBytes' | 'adamRows'>;

const ADDON = new URL('../../../native/build/Release/metaheac_native.node', import.meta.url);

let loaded: { addon: Required<Addon>; variant: string } | null | undefined;
/** Why the wasm gemm runs, once load() found no usable addon: it follows "native kernels ". */
let fallback = '';

function load(): { addon: Required<Addon>; variant: string } | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const path = fileURLToPath(ADDON);
  if (process.env.METAHEAC_NATIVE === '0') {
    fallback = 'off: METAHEAC_NATIVE=0';
    return loaded;
  }
  if (!existsSync(ADDON)) {
    fallback = `not built: no ${path}; \`npm run build:native\` builds it where a C compiler is present`;
    return loaded;
  }
  let addon: Addon;
  try {
    addon = createRequire(import.meta.url)(path) as Addon;
  } catch (e) {
    // a damaged or foreign build must not stop the engine: the wasm kernels compute the same
    fallback = `did not load from ${path}: ${(e as Error).message.split('\n')[0]}`;
    return loaded;
  }
  if (addon.variant !== null) loaded = { addon: addon as Required<Addon>, variant: addon.variant };
  else fallback = 'unsupported: this CPU has neither AVX-512 nor AVX2 with FMA';
  return loaded;
}

/** Which gemm the engine runs: 'native-avx512', 'native-avx2', or 'wasm'. */
export function gemmBackend(): string {
  const n = load();
  return n ? `native-${n.variant}` : 'wasm';
}

/** gemmBackend() with, for 'wasm', why the native kernels do not run (what `--version` prints). */
export function gemmBackendDescription(): string {
  const b = gemmBackend();
  return b === 'wasm' ? `wasm (native kernels ${fallback})` : b;
}

let noticed = false;
/**
 * One line on stderr the first time an engine starts on the wasm gemm for a reason the user
 * did not choose (METAHEAC_NATIVE=0 is a choice): it is 3x slower, and an installed package
 * without a build would otherwise run slow in silence. Workers stay quiet: the main thread
 * starts first.
 */
function noticeFallback(): void {
  if (noticed || !isMainThread || process.env.METAHEAC_NATIVE === '0') return;
  noticed = true;
  process.stderr.write(`metaheac: gemm runs in WebAssembly, about 3x slower (native kernels ${fallback})\n`);
}

/** Whether the native addon was built (whether or not this CPU can run its kernels). */
export function nativeBuilt(): boolean {
  return existsSync(ADDON);
}

/**
 * Asks the OS to back `memory` with huge pages (Linux transparent huge pages, "always" or
 * "madvise"): embedding rows are read and written at random over tables of hundreds of MB,
 * and with 4 KiB pages nearly every row costs a TLB miss, and its first touch a page fault
 * (measured: a 2-thread meta-step at the Tencent shapes 155 -> 126 ms, peak RSS 727 -> 785 MB).
 * False where the addon is absent, METAHEAC_HUGE_PAGES=0 or the OS declined; nothing computed
 * changes either way.
 */
export function adviseHugePages(memory: WebAssembly.Memory): boolean {
  if (process.env.METAHEAC_HUGE_PAGES === '0') return false;
  const n = load();
  return n ? n.addon.hugePages(new Uint8Array(memory.buffer)) : false;
}

/**
 * The gemm and Adam functions to use over `memory`: the native ones where the addon loaded,
 * else `wasm`'s own. Either way the engine calls them the same way.
 */
export function nativeKernels(wasm: NativeKernels, memory: WebAssembly.Memory): { fns: NativeKernels; tiles: GemmTiles } {
  const n = load();
  if (!n) {
    noticeFallback();
    return { fns: wasm, tiles: WASM_TILES };
  }
  const { addon } = n;
  const mem = new Uint8Array(memory.buffer);
  return {
    fns: {
      gemm: (tA, tB, M, N, K, a, b, c, beta, lda, ldb, ldc, scratch) =>
        addon.gemm(mem, tA, tB, M, N, K, a, b, c, beta, lda, ldb, ldc, scratch),
      gemmRows: (tA, tB, M, N, K, a, b, c, beta, lda, ldb, ldc, scratch, counter, chunkRows) =>
        addon.gemmRows(mem, tA, tB, M, N, K, a, b, c, beta, lda, ldb, ldc, scratch, counter, chunkRows),
      gemmRowsFits: (N, K) => +addon.gemmRowsFits(N, K),
      gemmScratchBytes: () => addon.scratchBytes,
      adamRows: (p, m, v, g, ids, n, E, stepSize, bc2, ib1, b2, ib2, eps) =>
        addon.adamRows(mem, p, m, v, g, ids, n, E, stepSize, bc2, ib1, b2, ib2, eps),
    },
    // A native core does about three times the work of a wasm one in the same time, so the
    // wasm threshold's time (about 25 us of work, what a busy machine needs) is three times
    // its multiply-adds here. Quiet, a split pays from less (2-core EPYC, 1 vs 2 threads:
    // 512x64x64 35 -> 20 us, 1024x64x64 67 -> 36 us), but loaded it stops paying first.
    tiles: { rows: addon.tileRows, cols: addon.tileCols, minMacsPerThread: 3 * WASM_TILES.minMacsPerThread },
  };
}
