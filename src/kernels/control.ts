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
/** Start of the job's arguments: the wasm gemm's parameters in order. */
export const ARGS = 4;

export const OP_GEMM = 1;
export const OP_QUIT = 2;

/** Number of gemm arguments in a job (transA ... scratch). */
export const GEMM_ARGC = 13;
