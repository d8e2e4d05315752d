/**
 * Kernel benchmark: the three gemm forms of an MLP layer (forward Y = X W^T, dX = dY W,
 * dW = dY^T X) at the model's shapes, on 1 and 2 threads, against the pure-TypeScript
 * reference. Medians of REPS timed runs after warm-up.
 */
import { Engine } from '../src/kernels/engine.js';
import { refGemm } from '../src/kernels/reference.js';
import { Rng } from '../src/util/rng.js';

const REPS = 20;
const WARM = 3;
/** The reference takes around a second per call at full size. */
const REF_REPS = 3;
const THREADS = [1, 2];

interface Form {
  name: string;
  tA: boolean;
  tB: boolean;
  /** M, N, K for a layer of `batch` rows, `inDim` inputs, `outDim` outputs. */
  dims(batch: number, inDim: number, outDim: number): [number, number, number];
}

const FORMS: Form[] = [
  { name: 'forward Y=XW^T', tA: false, tB: true, dims: (b, i, o) => [b, o, i] },
  { name: 'dX=dY W', tA: false, tB: false, dims: (b, i, o) => [b, i, o] },
  { name: 'dW=dY^T X', tA: true, tB: false, dims: (b, i, o) => [o, i, b] },
];

/** [batch, in, out] */
const LAYERS: [number, number, number][] = [[1024, 896, 512], [1024, 448, 64]];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

function timeIt(reps: number, warm: number, fn: () => void): number {
  for (let i = 0; i < warm; i++) fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

function stored(trans: boolean, rows: number, cols: number): number {
  return trans ? cols * rows : rows * cols;
}

function fill(a: Float32Array, rng: Rng): Float32Array {
  for (let i = 0; i < a.length; i++) a[i] = rng.float() - 0.5;
  return a;
}

function stats(ms: number, flops: number): { ms: number; gflops: number } {
  return { ms: Number(ms.toFixed(3)), gflops: Number((flops / ms / 1e6).toFixed(1)) };
}

export async function bench(): Promise<Record<string, unknown>> {
  const rng = new Rng(1);
  const results: Record<string, Record<string, unknown>> = {};
  // Both engines live at once and each shape runs on both in turn, so a burst of load from
  // other processes hits 1 and 2 threads alike rather than skewing their ratio.
  const engines = await Promise.all(THREADS.map((threads) => Engine.create({ threads, memoryMiB: 256 })));
  try {
    for (const [b, i, o] of LAYERS) {
      for (const f of FORMS) {
        const [M, N, K] = f.dims(b, i, o);
        const flops = 2 * M * N * K;
        const entry: Record<string, unknown> = { M, N, K };
        const A = fill(new Float32Array(stored(f.tA, M, K)), rng);
        const B = fill(new Float32Array(stored(f.tB, K, N)), rng);
        const times: number[] = [];
        for (const engine of engines) {
          const mark = engine.mark();
          const a = engine.allocF32(A.length);
          const bb = engine.allocF32(B.length);
          const c = engine.allocF32(M * N);
          a.set(A);
          bb.set(B);
          const ms = timeIt(REPS, WARM, () => engine.gemm(f.tA, f.tB, M, N, K, a, bb, c, 0));
          entry[`threads${engine.threads}`] = stats(ms, flops);
          times.push(ms);
          engine.release(mark);
        }
        const C = new Float32Array(M * N);
        const refMs = timeIt(REF_REPS, 1, () => refGemm(f.tA, f.tB, M, N, K, A, B, C, 0));
        entry.reference = stats(refMs, flops);
        engines.forEach((e, t) => (entry[`speedupVsReference${e.threads}`] = Number((refMs / times[t]!).toFixed(1))));
        results[`${f.name} M${M} N${N} K${K}`] = entry;
      }
    }
  } finally {
    await Promise.all(engines.map((e) => e.close()));
  }
  return { gemm: results };
}
