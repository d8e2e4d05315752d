/**
 * A kernel worker: instantiates the wasm kernels over the engine's shared memory, then
 * sleeps on its control slot (Atomics.wait) and runs the gemm sub-problems it is handed
 * until told to quit. See control.ts for the protocol.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { instantiate } from './wasm.js';
import { ARGS, DONE, OP, OP_ADAM, OP_GEMM, OP_GEMM_ROWS, OP_QUIT, SEQ, SLOT_INTS, STATUS, waitChange } from './control.js';

interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  slotOffset: number;
}

const init = workerData as WorkerInit;
const k = instantiate(init.module, init.memory);
const slot = new Int32Array(init.memory.buffer, init.slotOffset, SLOT_INTS);
const slotF = new Float32Array(init.memory.buffer, init.slotOffset, SLOT_INTS);
const arg = (i: number): number => slot[ARGS + i]!;
const argF = (i: number): number => slotF[ARGS + i]!;

// Read before announcing readiness: a job posted right after 'ready' must look new.
let seen = Atomics.load(slot, SEQ);
parentPort!.postMessage('ready');

for (;;) {
  const seq = waitChange(slot, SEQ, seen);
  seen = seq;
  const op = slot[OP];
  if (op === OP_GEMM || op === OP_GEMM_ROWS || op === OP_ADAM) {
    try {
      if (op === OP_ADAM) {
        k.adamRows(arg(0), arg(1), arg(2), arg(3), arg(4), arg(5), arg(6), argF(7), argF(8), argF(9), argF(10), argF(11), argF(12));
      } else if (op === OP_GEMM) {
        k.gemm(arg(0), arg(1), arg(2), arg(3), arg(4), arg(5), arg(6), arg(7), arg(8), arg(9), arg(10), arg(11), arg(12));
      } else {
        k.gemmRows(arg(0), arg(1), arg(2), arg(3), arg(4), arg(5), arg(6), arg(7), arg(8), arg(9), arg(10), arg(11),
          arg(12), arg(13), arg(14));
      }
    } catch (e) {
      console.error('metaheac kernel worker:', e);
      Atomics.store(slot, STATUS, 1);
    }
  }
  Atomics.store(slot, DONE, seq);
  Atomics.notify(slot, DONE);
  if (op === OP_QUIT) break;
}
