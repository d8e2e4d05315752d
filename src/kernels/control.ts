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

export const MAX_ARGC = 15;

/**
 * The row-chunk counter of OP_GEMM_ROWS, as an int32 index into the control block: slot 0
 * belongs to the main thread, which never waits on it.
 */
export const COUNTER = 0;
