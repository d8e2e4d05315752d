/**
 * The control block through which the main thread hands gemm jobs to workers: one slot of
 * SLOT_INTS int32 per thread in the shared memory (a slot per 128 bytes, so no two threads
 * write the same cache line). The main thread writes the arguments, then bumps SEQ and
 * notifies; the worker runs the job, then sets DONE to that SEQ and notifies back.
 */
export const SLOT_INTS = 32;
export const SLOT_BYTES = SLOT_INTS * 4;

/** Job counter, written by the main thread. */
export const SEQ = 0;
/** The last job counter the worker finished. */
export const DONE = 1;
/** 0, or 1 after a job threw in the worker (its error is printed on stderr). */
export const STATUS = 2;
export const OP = 3;
/** Start of the job's arguments: the wasm function's parameters in order. */
export const ARGS = 4;

/** Run wasm gemm on a fixed part of C (13 arguments, transA ... scratch). */
export const OP_GEMM = 1;
/** Run wasm gemmRows, claiming row chunks from the shared counter (15 arguments: gemm's, counter, chunkRows). */
export const OP_GEMM_ROWS = 2;
export const OP_QUIT = 3;
/**
 * Run adamRows on chunks of the row list claimed from a shared counter (15 arguments: p, m,
 * v, g, ids, n, E, rows per chunk, the counter's byte offset as int32, then stepSize, bc2,
 * 1-b1, b2, 1-b2, eps as float32 bits; see adamClaimed in engine.ts).
 */
export const OP_ADAM = 4;

/**
 * Load a JavaScript job module into the worker: the message waiting on its port holds
 * { url, init, heap: [from, to) }; the module's setupWorker(ops, init) returns the handler
 * OP_JOB calls. The worker allocates only inside `heap`, which the main thread reserved.
 */
export const OP_LOAD = 5;
/** Call loaded job handler number arg 0 (in load order) with the other MAX_ARGC - 1 int32 arguments. */
export const OP_JOB = 6;

export const MAX_ARGC = 15;

/**
 * The row-chunk counter of OP_GEMM_ROWS, as an int32 index into the control block: slot 0
 * belongs to the main thread, which never waits on it.
 */
export const COUNTER = 0;

/**
 * How long a thread polls before it sleeps in Atomics.wait, in ms. Waking a sleeping thread
 * takes 10-50 us on a VM, which is the whole cost of a small gemm; polling briefly keeps
 * back-to-back gemms (and a worker's last chunk) off that path. Longer polls backfire when
 * the cores are shared with other processes: a polling thread can hold the very core the
 * thread it waits for needs (measured on the 2-core dev VM: 0.1 ms made 1024x64x64 slower
 * under load, 0.03-0.05 ms helped both idle and loaded).
 */
export const SPIN_MS = 0.05;

/** Waits until index `at` of `ctrl` no longer holds `old`: polls for SPIN_MS, then sleeps. */
export function waitChange(ctrl: Int32Array, at: number, old: number): number {
  const until = performance.now() + SPIN_MS;
  let v = Atomics.load(ctrl, at);
  while (v === old && performance.now() < until) v = Atomics.load(ctrl, at);
  while (v === old) {
    Atomics.wait(ctrl, at, old);
    v = Atomics.load(ctrl, at);
  }
  return v;
}
