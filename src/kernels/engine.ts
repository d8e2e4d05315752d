/**
 * The compute engine: one shared WebAssembly memory, the SIMD kernels instantiated in this
 * thread and in threads-1 workers, a bump allocator for the arrays the kernels work on,
 * and a synchronous, multi-threaded gemm.
 *
 * Memory layout (bytes): [0, 64 KiB) belongs to the AssemblyScript runtime; then the
 * control block (control.ts); then one gemm scratch area per thread; then the heap that
 * allocF32/allocI32 hand out, from the bottom up.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { UserError } from '../util/errors.js';
import {
  ARGS, COUNTER, DONE, MAX_ARGC, OP, OP_ADAM, OP_GEMM, OP_GEMM_ROWS, OP_JOB, OP_LOAD, OP_QUIT, SEQ, SLOT_BYTES, SLOT_INTS, STATUS,
  waitChange,
} from './control.js';
import { adviseHugePages } from './native.js';
import { rowChunk, splitOutput, type Part } from './split.js';
import { instantiate, kernelModule, type Kernels } from './wasm.js';

export interface EngineOptions {
  /** Threads including the caller's; 0 or undefined means os.availableParallelism(). */
  threads?: number;
  /** Size of the shared memory, reserved up front (default 1024, at most 4096). */
  memoryMiB?: number;
}

const RUNTIME_BYTES = 64 * 1024;
const ALIGN = 64;
const PAGE_BYTES = 64 * 1024;
const DEFAULT_MEMORY_MIB = 1024;
const MAX_MEMORY_MIB = 4096;
const MAX_THREADS = 256;
/** Warm-up gemm size and repetitions: enough calls for V8 to move every kernel to its optimising tier. */
const WARM_DIM = 64;
const WARM_REPS = 12;
/** Adam elements below which a thread's share is not worth the hand-off (a few microseconds). */
const ADAM_MIN_PER_THREAD = 65536;
/** Chunks an Adam row list is cut into, per thread: enough to even out a slowed thread. */
const ADAM_CHUNKS_PER_THREAD = 8;

/**
 * One thread's part of a shared adamRows: chunks of `chunk` rows of the list, claimed from
 * the counter at byte offset args[8] of `memory` until none is left. args: p, m, v, g, ids
 * (byte offsets), n, E, chunk, counter; floats: stepSize, bc2, 1-b1, b2, 1-b2, eps.
 */
export function adamClaimed(k: Kernels, view: Int32Array, args: ArrayLike<number>, floats: ArrayLike<number>): void {
  const [p, m, v, g, ids, n, E, chunk, counter] = Array.from(args) as [number, number, number, number, number, number, number, number, number];
  const [stepSize, bc2, ib1, b2, ib2, eps] = Array.from(floats) as [number, number, number, number, number, number];
  const at = (counter - view.byteOffset) >> 2;
  for (let a = Atomics.add(view, at, 1) * chunk; a < n; a = Atomics.add(view, at, 1) * chunk) {
    k.adamRows(p, m, v, g, ids + 4 * a, Math.min(chunk, n - a), E, stepSize, bc2, ib1, b2, ib2, eps);
  }
}

function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0x7fffffff;
}

function startWorker(module: WebAssembly.Module, memory: WebAssembly.Memory, slotOffset: number, scratch: number): Promise<Worker> {
  const worker = new Worker(new URL('./worker.js', import.meta.url), {
    workerData: { module, memory, slotOffset, scratch },
    // The parent's Node options (--input-type, loaders) need not suit the worker script;
    // V8 flags are process-wide and apply regardless.
    execArgv: [],
  });
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => {
      worker.off('exit', onExit);
      reject(new Error(`kernel worker failed to start: ${e.message}`));
    };
    const onExit = (code: number): void => {
      worker.off('error', onError);
      reject(new Error(`kernel worker exited during start-up (code ${code})`));
    };
    worker.once('error', onError);
    worker.once('exit', onExit);
    worker.once('message', () => {
      worker.off('error', onError);
      worker.off('exit', onExit);
      // A forgotten close() must not keep a CLI alive.
      worker.unref();
      resolve(worker);
    });
  });
}

export class Engine {
  readonly threads: number;
  private readonly buffer: SharedArrayBuffer;
  private readonly k: Kernels;
  private readonly ctrl: Int32Array;
  private readonly ctrlF: Float32Array;
  private readonly workers: Worker[];
  private readonly scratch: number[];
  private readonly heapBase: number;
  private readonly heapEnd: number;
  private readonly seqs: number[];
  private top: number;
  private highWater: number;
  private closed = false;
  private jobModules = 0;

  private constructor(
    threads: number, memory: WebAssembly.Memory, k: Kernels, ctrlOffset: number,
    scratch: number[], heapBase: number, workers: Worker[], heapEnd?: number,
  ) {
    this.threads = threads;
    this.buffer = memory.buffer as unknown as SharedArrayBuffer;
    this.heapEnd = heapEnd ?? this.buffer.byteLength;
    this.k = k;
    this.ctrl = new Int32Array(this.buffer, ctrlOffset, threads * SLOT_INTS);
    this.ctrlF = new Float32Array(this.buffer, ctrlOffset, threads * SLOT_INTS);
    this.scratch = scratch;
    this.heapBase = heapBase;
    this.top = heapBase;
    this.highWater = heapBase;
    this.workers = workers;
    this.seqs = new Array<number>(threads).fill(0);
  }

  /** Instantiates the kernels here and in threads-1 workers, and warms them all up. */
  static async create(opts: EngineOptions = {}): Promise<Engine> {
    const threads = opts.threads === undefined || opts.threads === 0 ? availableParallelism() : opts.threads;
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
      throw new UserError(`engine threads must be an integer from 1 to ${MAX_THREADS} (0 = all cores), got ${opts.threads}`);
    }
    const memoryMiB = opts.memoryMiB ?? DEFAULT_MEMORY_MIB;
    if (!Number.isInteger(memoryMiB) || memoryMiB < 1 || memoryMiB > MAX_MEMORY_MIB) {
      throw new UserError(`engine memoryMiB must be an integer from 1 to ${MAX_MEMORY_MIB}, got ${memoryMiB}`);
    }
    const bytes = memoryMiB * 1024 * 1024;
    const module = kernelModule();
    let memory: WebAssembly.Memory;
    try {
      memory = new WebAssembly.Memory({ initial: bytes / PAGE_BYTES, maximum: bytes / PAGE_BYTES, shared: true });
    } catch (e) {
      throw new UserError(`engine could not reserve ${memoryMiB} MiB of shared memory (${(e as Error).message}); lower memoryMiB`);
    }
    adviseHugePages(memory);
    const k = instantiate(module, memory);

    const ctrlOffset = RUNTIME_BYTES;
    const scratchBytes = alignUp(k.gemmScratchBytes());
    const scratchBase = alignUp(ctrlOffset + threads * SLOT_BYTES);
    const scratch = Array.from({ length: threads }, (_, t) => scratchBase + t * scratchBytes);
    const heapBase = scratchBase + threads * scratchBytes;
    if (heapBase > bytes) {
      throw new UserError(
        `engine memory exhausted: ${threads} threads need ${heapBase} bytes of scratch, ${bytes} reserved; raise memoryMiB`,
      );
    }
    const started = await Promise.allSettled(
      Array.from({ length: threads - 1 }, (_, i) => startWorker(module, memory, ctrlOffset + (i + 1) * SLOT_BYTES, scratch[i + 1]!)),
    );
    const failed = started.find((r) => r.status === 'rejected');
    const workers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (failed) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw failed.reason;
    }
    // Touch the scratch pages now, so the first real gemm does not pay for faulting them in.
    new Uint8Array(memory.buffer, scratchBase, heapBase - scratchBase).fill(0);
    const engine = new Engine(threads, memory, k, ctrlOffset, scratch, heapBase, workers);
    engine.warmUp();
    return engine;
  }

  /**
   * A single-threaded engine inside a kernel worker, over the same memory: it computes with
   * the worker's own gemm scratch and allocates only in [heapFrom, heapTo), a region the main
   * thread reserved (and zeroed) for it.
   */
  static attach(memory: WebAssembly.Memory, k: Kernels, slotOffset: number, scratch: number, heapFrom: number, heapTo: number): Engine {
    const e = new Engine(1, memory, k, slotOffset, [scratch], heapFrom, [], heapTo);
    return e;
  }

  /** Bytes still free on the heap (from the next aligned address). */
  get freeBytes(): number {
    return Math.max(0, this.heapEnd - alignUp(this.top));
  }

  /** The shared memory all arrays live in. */
  get memory(): SharedArrayBuffer {
    return this.buffer;
  }

  /** Threads besides the caller's that can take JavaScript jobs. */
  get workerCount(): number {
    return this.workers.length;
  }

  /**
   * Loads the job module at `url` into every worker (synchronously: this thread waits):
   * each reserves `heapBytes` of this engine's heap for its own arrays and calls the
   * module's setupWorker(ops, memory, init), whose handler later runs startJob's jobs.
   * `init` must survive structured cloning. Returns the handler's id for startJob.
   */
  loadJobs(url: string, init: unknown, heapBytes: number): number {
    this.checkOpen();
    for (let t = 1; t < this.threads; t++) {
      const from = this.allocBytes(heapBytes, 1);
      this.workers[t - 1]!.postMessage({ url, init, heap: [from, from + heapBytes] });
      this.post(t, OP_LOAD, []);
    }
    for (let t = 1; t < this.threads; t++) this.await(t);
    return this.jobModules++;
  }

  /**
   * Starts loaded job handler `id` on worker `t` (1 .. workerCount) with int32 arguments and
   * returns at once. Until finishJob(t), kernels called here run without that worker.
   */
  startJob(t: number, id: number, args: number[]): void {
    this.checkOpen();
    if (!Number.isInteger(t) || t < 1 || t >= this.threads) throw new RangeError(`startJob: no worker ${t}`);
    if (!Number.isInteger(id) || id < 0 || id >= this.jobModules) throw new RangeError(`startJob: no job module ${id}`);
    this.post(t, OP_JOB, [id, ...args]);
  }

  /** Waits for worker t's job; throws if it failed. */
  finishJob(t: number): void {
    this.await(t);
  }

  /** A zeroed Float32Array of n elements in the shared memory, 64-byte aligned; lives until release/reset. */
  allocF32(n: number): Float32Array {
    return new Float32Array(this.buffer, this.allocBytes(n, 4), n);
  }

  /** A zeroed Int32Array of n elements in the shared memory, 64-byte aligned; lives until release/reset. */
  allocI32(n: number): Int32Array {
    return new Int32Array(this.buffer, this.allocBytes(n, 4), n);
  }

  /** The current heap position, for release(). */
  mark(): number {
    this.checkOpen();
    return this.top;
  }

  /** Frees everything allocated after `mark` was taken; views into it must no longer be used. */
  release(mark: number): void {
    this.checkOpen();
    if (!Number.isInteger(mark) || mark < this.heapBase || mark > this.top) {
      throw new RangeError(`release: ${mark} is not a live mark (heap is [${this.heapBase}, ${this.top}))`);
    }
    this.top = mark;
  }

  /** Frees every allocation. */
  reset(): void {
    this.release(this.heapBase);
  }

  /**
   * C = beta*C + op(A) op(B), row-major, op(X) = X or X^T; A is M x K and B is K x N after op.
   * lda/ldb/ldc are row strides of the arrays as stored (default: their stored row length).
   * A, B and C must be views allocated by this engine, and C must not overlap A or B.
   * The result is bit-identical for any thread count.
   */
  gemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number,
    A: Float32Array, B: Float32Array, C: Float32Array, beta: 0 | 1,
    lda?: number, ldb?: number, ldc?: number,
  ): void {
    this.checkOpen();
    if (!isCount(M) || !isCount(N) || !isCount(K)) {
      throw new RangeError(`gemm: M, N, K must be non-negative integers, got ${M}, ${N}, ${K}`);
    }
    if (beta !== 0 && beta !== 1) throw new RangeError(`gemm: beta must be 0 or 1, got ${beta}`);
    const la = lda ?? (transA ? M : K);
    const lb = ldb ?? (transB ? K : N);
    const lc = ldc ?? N;
    this.checkMatrix('gemm', 'A', A, transA ? K : M, transA ? M : K, la);
    this.checkMatrix('gemm', 'B', B, transB ? N : K, transB ? K : N, lb);
    this.checkMatrix('gemm', 'C', C, M, N, lc);
    const args = [+transA, +transB, M, N, K, A.byteOffset, B.byteOffset, C.byteOffset, beta, la, lb, lc, 0];
    const tids = this.idleThreads();
    this.runGemm(splitOutput(M, N, K, tids.length, this.k.gemmTiles), tids, args);
  }

  /** Y[r, :] += bias for each of `rows` rows (row stride ld), then ReLU (y < 0 ? 0 : y) if asked. */
  biasReluForward(Y: Float32Array, bias: Float32Array, rows: number, cols: number, relu: boolean, ld = cols): void {
    this.checkOpen();
    this.checkMatrix('biasReluForward', 'Y', Y, rows, cols, ld);
    this.checkMatrix('biasReluForward', 'bias', bias, 1, cols, cols);
    this.k.biasReluForward(Y.byteOffset, bias.byteOffset, rows, cols, ld, +relu);
  }

  /** dY[i] = Y[i] > 0 ? dY[i] : 0 for i < n (the ReLU gradient, in place). */
  reluBackward(dY: Float32Array, Y: Float32Array, n: number): void {
    this.checkOpen();
    this.checkMatrix('reluBackward', 'dY', dY, 1, n, n);
    this.checkMatrix('reluBackward', 'Y', Y, 1, n, n);
    this.k.reluBackward(dY.byteOffset, Y.byteOffset, n);
  }

  /** a[b, :E] = mean of the F blocks x[b, e*E : (e+1)*E] for B rows (the gates' mean user vector). */
  fieldMean(x: Float32Array, ldx: number, F: number, E: number, B: number, a: Float32Array, lda: number): void {
    this.checkFields('fieldMean', x, ldx, F, E, B, a, lda);
    this.k.fieldMean(x.byteOffset, ldx, F, E, B, a.byteOffset, lda);
  }

  /** dx[b, e*E + k] += da[b, k] / F for each block e < F: fieldMean's backward. */
  fieldMeanBackward(dx: Float32Array, ldx: number, F: number, E: number, B: number, da: Float32Array, lda: number): void {
    this.checkFields('fieldMeanBackward', dx, ldx, F, E, B, da, lda);
    this.k.fieldMeanBackward(dx.byteOffset, ldx, F, E, B, da.byteOffset, lda);
  }

  private checkFields(op: string, x: Float32Array, ldx: number, F: number, E: number, B: number, a: Float32Array, lda: number): void {
    this.checkOpen();
    if (!isCount(F) || !isCount(E)) throw new RangeError(`${op}: F and E must be non-negative integers, got ${F}, ${E}`);
    this.checkMatrix(op, 'x', x, B, F * E, ldx);
    this.checkMatrix(op, 'a', a, B, E, lda);
  }

  /** fea[b, :d] = sum over k < K of g[b, k] h[b, k*d : (k+1)*d] (the expert mixture). */
  mixForward(fea: Float32Array, g: Float32Array, h: Float32Array, B: number, K: number, d: number): void {
    this.checkOpen();
    this.checkMatrix('mixForward', 'fea', fea, B, d, d);
    this.checkMatrix('mixForward', 'g', g, B, K, K);
    this.checkMatrix('mixForward', 'h', h, B, K * d, K * d);
    this.k.mixForward(fea.byteOffset, g.byteOffset, h.byteOffset, B, K, d);
  }

  /** mixForward's backward: dh = g dfea per expert, and the gate logits' gradient through the softmax into dgl. */
  mixBackward(dfea: Float32Array, g: Float32Array, h: Float32Array, dh: Float32Array, dgl: Float32Array, B: number, K: number, d: number): void {
    this.checkOpen();
    this.checkMatrix('mixBackward', 'dfea', dfea, B, d, d);
    this.checkMatrix('mixBackward', 'g', g, B, K, K);
    this.checkMatrix('mixBackward', 'h', h, B, K * d, K * d);
    this.checkMatrix('mixBackward', 'dh', dh, B, K * d, K * d);
    this.checkMatrix('mixBackward', 'dgl', dgl, B, K, K);
    this.k.mixBackward(dfea.byteOffset, g.byteOffset, h.byteOffset, dh.byteOffset, dgl.byteOffset, B, K, d);
  }

  /** out[i] = a[i] + alpha * b[i] for i < n (alpha rounded to float32; out may be a). */
  addScaled(out: Float32Array, a: Float32Array, alpha: number, b: Float32Array, n: number): void {
    this.checkOpen();
    this.checkMatrix('addScaled', 'out', out, 1, n, n);
    this.checkMatrix('addScaled', 'a', a, 1, n, n);
    this.checkMatrix('addScaled', 'b', b, 1, n, n);
    this.k.addScaled(out.byteOffset, a.byteOffset, alpha, b.byteOffset, n);
  }

  /** Rows ids[0..n) of x ([rows, E]) times c, each product in double rounded once to float32. */
  scaleRows(x: Float32Array, ids: Int32Array, n: number, E: number, c: number): void {
    this.checkOpen();
    if (!(ids instanceof Int32Array) || ids.buffer !== this.buffer || !isCount(n) || n > ids.length) {
      throw new TypeError(`scaleRows: ids must be an Int32Array of this engine holding at least n = ${n} rows`);
    }
    let rows = 0;
    for (let u = 0; u < n; u++) {
      const id = ids[u]!;
      if (id < 0) throw new RangeError(`scaleRows: row id ${id} at ${u} is negative`);
      if (id >= rows) rows = id + 1;
    }
    this.checkMatrix('scaleRows', 'x', x, rows, E, E);
    this.k.scaleRows(x.byteOffset, ids.byteOffset, n, E, c);
  }

  /** out = beta*out + column sums of dY (rows x cols, row stride ld): bias gradients. */
  colSum(dY: Float32Array, rows: number, cols: number, out: Float32Array, beta: 0 | 1, ld = cols): void {
    this.checkOpen();
    if (beta !== 0 && beta !== 1) throw new RangeError(`colSum: beta must be 0 or 1, got ${beta}`);
    this.checkMatrix('colSum', 'dY', dY, rows, cols, ld);
    this.checkMatrix('colSum', 'out', out, 1, cols, cols);
    this.k.colSum(dY.byteOffset, rows, cols, ld, out.byteOffset, beta);
  }

  /**
   * Embedding-bag pooling: out[b, :N] = (acc ? out[b, :N] : 0) + scale[b] * sum over
   * t < cnt[b] of T[idx[b*w + t], :N] (cnt null: one id per row; scale null: 1). The ids
   * index T's rows and must be below its row count (the caller's local ids are).
   */
  poolRows(out: Float32Array, ldo: number, T: Float32Array, N: number, idx: Int32Array, w: number, cnt: Int32Array | null, scale: Float32Array | null, B: number, acc: boolean): void {
    this.checkOpen();
    this.checkMatrix('poolRows', 'out', out, B, N, ldo);
    this.checkBag('poolRows', idx, w, cnt, scale, B);
    this.k.poolRows(out.byteOffset, ldo, T.byteOffset, N, idx.byteOffset, w, cnt ? cnt.byteOffset : 0, scale ? scale.byteOffset : 0, B, +acc);
  }

  /** The backward of poolRows: D[idx[b*w + t], :N] += alpha * scale[b] * src[b, :N]. */
  scatterRows(D: Float32Array, N: number, idx: Int32Array, w: number, cnt: Int32Array | null, scale: Float32Array | null, B: number, src: Float32Array, lds: number, alpha = 1): void {
    this.checkOpen();
    this.checkMatrix('scatterRows', 'src', src, B, N, lds);
    this.checkMatrix('scatterRows', 'D', D, 1, N, N);
    this.checkBag('scatterRows', idx, w, cnt, scale, B);
    this.k.scatterRows(D.byteOffset, N, idx.byteOffset, w, cnt ? cnt.byteOffset : 0, scale ? scale.byteOffset : 0, B, src.byteOffset, lds, alpha);
  }

  /**
   * out[u] = row ids[u] of `base` ([rows, E]) seen through `over` where mark[id] is set:
   * mode 0 base only, 1 base + over (fast weights), 2 over instead of base (adapted rows).
   */
  gatherRows(out: Float32Array, base: Float32Array, ids: Int32Array, n: number, E: number, over: Float32Array | null, mark: Uint8Array | null, mode: 0 | 1 | 2): void {
    this.checkOpen();
    this.checkMatrix('gatherRows', 'out', out, n, E, E);
    if (ids.buffer !== this.buffer || base.buffer !== this.buffer || (mode !== 0 && (!over || !mark || over.buffer !== this.buffer || mark.buffer !== this.buffer))) {
      throw new TypeError('gatherRows: tables, ids and mark must be allocated by this engine');
    }
    this.k.gatherRows(out.byteOffset, base.byteOffset, ids.byteOffset, n, E, over ? over.byteOffset : 0, mark ? mark.byteOffset : 0, mode);
  }

  /**
   * Adam (PyTorch's formula) on rows ids[0..n) of p with moments m, v and gradient g, all
   * [rows, E]. Each row is independent: large lists are cut into chunks that the threads
   * claim one at a time (a thread the OS slows down takes fewer), with the same result for
   * any thread count.
   */
  adamRows(p: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, ids: Int32Array, n: number, E: number, stepSize: number, bc2: number, b1: number, b2: number, eps: number): void {
    this.checkOpen();
    for (const x of [p, m, v, g, ids]) if (x.buffer !== this.buffer) throw new TypeError('adamRows: arrays must be allocated by this engine');
    const tids = this.idleThreads();
    const T = Math.max(1, Math.min(tids.length, Math.floor((n * E) / ADAM_MIN_PER_THREAD)));
    // 1 - β in double, as torch.optim.Adam's Python does, rounded to f32 once on the way in.
    const floats: [number, number, number, number, number, number] = [stepSize, bc2, 1 - b1, b2, 1 - b2, eps];
    if (T === 1) {
      // no counter: in an engine attached inside a worker, COUNTER is that worker's own SEQ
      this.k.adamRows(p.byteOffset, m.byteOffset, v.byteOffset, g.byteOffset, ids.byteOffset, n, E, ...floats);
      return;
    }
    const args = [p.byteOffset, m.byteOffset, v.byteOffset, g.byteOffset, ids.byteOffset, n, E,
      Math.ceil(n / (T * ADAM_CHUNKS_PER_THREAD)), this.ctrl.byteOffset + COUNTER * 4];
    Atomics.store(this.ctrl, COUNTER, 0);
    for (let i = 1; i < T; i++) this.post(tids[i]!, OP_ADAM, args, floats);
    try {
      adamClaimed(this.k, this.ctrl, args, floats);
    } finally {
      for (let i = 1; i < T; i++) this.await(tids[i]!);
    }
  }

  /** A zeroed byte array in the shared memory (row marks for gatherRows). */
  allocU8(n: number): Uint8Array {
    return new Uint8Array(this.buffer, this.allocBytes(n, 1), n);
  }

  private checkBag(op: string, idx: Int32Array, w: number, cnt: Int32Array | null, scale: Float32Array | null, B: number): void {
    const mine = (x: ArrayBufferView | null): boolean => x === null || x.buffer === this.buffer;
    if (!(idx instanceof Int32Array) || !mine(idx) || !mine(cnt) || !mine(scale)) throw new TypeError(`${op}: idx, cnt and scale must be allocated by this engine`);
    if (idx.length < B * w || (cnt && cnt.length < B) || (scale && scale.length < B)) throw new RangeError(`${op}: idx/cnt/scale hold fewer than ${B} rows`);
  }

  /** Stops the workers. The engine and its arrays must not be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.workers.map((w, i) => {
      // Unreferenced workers would let the event loop end before their exit event arrives.
      w.ref();
      const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
      this.post(i + 1, OP_QUIT, []);
      return exited;
    }));
  }

  private allocBytes(n: number, elemBytes: number): number {
    this.checkOpen();
    // a count past int32 is a size no wasm32 memory holds: the user's tables or batches, not a bug
    if (!isCount(n) && !(Number.isSafeInteger(n) && n > 0)) throw new RangeError(`alloc: element count must be a non-negative integer, got ${n}`);
    const bytes = n * elemBytes;
    const at = alignUp(this.top);
    if (!isCount(n) || at + bytes > this.heapEnd) {
      const hint = this.buffer.byteLength >= MAX_MEMORY_MIB * 1024 * 1024
        ? `the ${MAX_MEMORY_MIB} MiB of a wasm32 memory are all reserved: use smaller tables (max_idxs, embed_dim) or batches`
        : 'raise memoryMiB';
      throw new UserError(`engine memory exhausted: asked ${bytes} bytes, ${this.freeBytes} free; ${hint}`);
    }
    this.top = at + bytes;
    // Memory handed back by release() still holds old values; above the high-water mark it
    // was never written, so it is still zero (and filling it would commit its pages early).
    const dirtyEnd = Math.min(at + bytes, this.highWater);
    if (dirtyEnd > at) new Uint8Array(this.buffer, at, dirtyEnd - at).fill(0);
    this.highWater = Math.max(this.highWater, this.top);
    return at;
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('engine is closed');
  }

  /** `X` must be this engine's Float32Array and hold a rows x cols matrix with row stride ld. */
  private checkMatrix(op: string, name: string, X: Float32Array, rows: number, cols: number, ld: number): void {
    if (!(X instanceof Float32Array) || X.buffer !== this.buffer) {
      throw new TypeError(`${op}: ${name} must be a Float32Array allocated by this engine (or a subarray of one)`);
    }
    if (!isCount(rows) || !isCount(cols)) {
      throw new RangeError(`${op}: ${name} dimensions must be non-negative integers, got ${rows} x ${cols}`);
    }
    if (rows === 0 || cols === 0) return;
    if (!isCount(ld) || ld < cols) {
      throw new RangeError(`${op}: ${name} row stride ${ld} is smaller than its ${cols} stored columns`);
    }
    const need = (rows - 1) * ld + cols;
    if (need > X.length) {
      throw new RangeError(
        `${op}: ${name} is ${rows} x ${cols} with row stride ${ld} as stored, needing ${need} floats, but its view holds ${X.length}`,
      );
    }
  }

  /**
   * Runs gemm `args` (wasm parameter order, byte pointers, scratch left 0) over the given
   * parts of C. Parts 1.. go to workers, part 0 runs here, then this thread waits for the
   * others. A split by rows becomes a shared queue of row chunks (gemmRows) when op(B)
   * fits the scratch, so a thread the OS slows down takes fewer chunks.
   */
  private runGemm(parts: Part[], tids: number[], args: number[]): void {
    const n = parts.length;
    const [transA, transB, M, N, K, a, b, c, beta, lda, ldb, ldc] = args as [
      number, number, number, number, number, number, number, number, number, number, number, number,
    ];
    if (n > 1 && parts[0]!.n1 === N && this.k.gemmRowsFits(N, K)) {
      const job = [transA, transB, M, N, K, a, b, c, beta, lda, ldb, ldc, 0, this.ctrl.byteOffset + COUNTER * 4,
        rowChunk(M, n, this.k.gemmTiles.rows)];
      Atomics.store(this.ctrl, COUNTER, 0);
      for (let i = 1; i < n; i++) {
        job[12] = this.scratch[tids[i]!]!;
        this.post(tids[i]!, OP_GEMM_ROWS, job);
      }
      try {
        this.k.gemmRows(transA, transB, M, N, K, a, b, c, beta, lda, ldb, ldc, this.scratch[0]!, job[13]!, job[14]!);
      } finally {
        for (let i = 1; i < n; i++) this.await(tids[i]!);
      }
      return;
    }
    const sub = (p: Part, t: number): number[] => {
      const aOff = transA ? p.m0 * 4 : p.m0 * lda * 4;
      const bOff = transB ? p.n0 * ldb * 4 : p.n0 * 4;
      const cOff = p.m0 * ldc * 4 + p.n0 * 4;
      return [transA, transB, p.m1 - p.m0, p.n1 - p.n0, K, a + aOff, b + bOff, c + cOff, beta, lda, ldb, ldc,
        this.scratch[t]!];
    };
    for (let i = 1; i < n; i++) this.post(tids[i]!, OP_GEMM, sub(parts[i]!, tids[i]!));
    try {
      const s = sub(parts[0]!, 0);
      this.k.gemm(s[0]!, s[1]!, s[2]!, s[3]!, s[4]!, s[5]!, s[6]!, s[7]!, s[8]!, s[9]!, s[10]!, s[11]!, s[12]!);
    } finally {
      for (let i = 1; i < n; i++) this.await(tids[i]!);
    }
  }

  /**
   * This thread (0) and the workers not busy with a JavaScript job: only this thread posts
   * work, so a worker whose DONE matches its last job stays idle until posted to. Results
   * never depend on how many take part.
   */
  private idleThreads(): number[] {
    const ids = [0];
    for (let t = 1; t < this.threads; t++) {
      if (Atomics.load(this.ctrl, t * SLOT_INTS + DONE) === this.seqs[t]) ids.push(t);
    }
    return ids;
  }

  /** Post a job to worker t: int32 arguments, then float32 ones. */
  private post(t: number, op: number, args: number[], floats: number[] = []): void {
    const base = t * SLOT_INTS;
    const ctrl = this.ctrl;
    ctrl[base + OP] = op;
    // Pointers above 2 GiB wrap to negative int32; wasm reads the same bits as u32.
    for (let i = 0; i < args.length && i < MAX_ARGC; i++) ctrl[base + ARGS + i] = args[i]! | 0;
    for (let i = 0; i < floats.length && args.length + i < MAX_ARGC; i++) this.ctrlF[base + ARGS + args.length + i] = floats[i]!;
    const seq = (this.seqs[t]! + 1) | 0;
    this.seqs[t] = seq;
    Atomics.store(ctrl, base + SEQ, seq);
    Atomics.notify(ctrl, base + SEQ, 1);
  }

  private await(t: number): void {
    const at = t * SLOT_INTS + DONE;
    const seq = this.seqs[t]!;
    // DONE only ever moves to the job just posted.
    for (let done = Atomics.load(this.ctrl, at); done !== seq; ) done = waitChange(this.ctrl, at, done);
    if (Atomics.exchange(this.ctrl, t * SLOT_INTS + STATUS, 0) !== 0) {
      throw new Error(`kernel worker ${t} failed (its error is printed above)`);
    }
  }

  /**
   * V8 first runs wasm in a baseline tier and optimises a function only after it has run for
   * a while; the code is shared by all threads (they use one Module), so running every
   * kernel here, with every worker taking a share of each gemm, leaves all of them fast.
   */
  private warmUp(): void {
    const mark = this.mark();
    const n = WARM_DIM;
    const m = n * Math.max(this.threads, 4);
    const A = this.allocF32(m * n);
    const B = this.allocF32(n * n);
    const C = this.allocF32(m * n);
    for (let i = 0; i < A.length; i++) A[i] = ((i * 7) % 13) - 6;
    for (let i = 0; i < B.length; i++) B[i] = ((i * 5) % 11) - 5;
    // Row parts take the chunk-queue path, column parts the fixed-part path: warm both.
    const cut = (len: number, t: number): number => Math.floor((t * len) / this.threads);
    const byRows: Part[] = Array.from({ length: this.threads }, (_, t) => ({ m0: cut(m, t), m1: cut(m, t + 1), n0: 0, n1: n }));
    const byCols: Part[] = Array.from({ length: this.threads }, (_, t) => ({ m0: 0, m1: m, n0: cut(n, t), n1: cut(n, t + 1) }));
    for (let r = 0; r < WARM_REPS; r++) {
      for (const [ta, tb] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) {
        // Square blocks: every stored layout of A is m x n or n x m; lda picks which.
        const args = [ta, tb, m, n, n, A.byteOffset, B.byteOffset, C.byteOffset, r & 1, ta ? m : n, n, n, 0];
        const all = Array.from({ length: this.threads }, (_, t) => t);
        this.runGemm(byRows, all, args);
        this.runGemm(byCols, all, args);
      }
      this.biasReluForward(C, B, m, n, true);
      this.reluBackward(A, C, m * n);
      this.colSum(C, m, n, B, 1);
    }
    this.release(mark);
  }
}
