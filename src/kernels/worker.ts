/**
 * A kernel worker: instantiates the wasm kernels over the engine's shared memory, then
 * sleeps on its control slot (Atomics.wait) and runs the gemm sub-problems it is handed
 * until told to quit. See control.ts for the protocol.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { instantiate } from './wasm.js';
import { ARGS, DONE, GEMM_ARGC, OP, OP_GEMM, OP_QUIT, SEQ, SLOT_INTS, STATUS } from './control.js';

interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  slotOffset: number;
}

const init = workerData as WorkerInit;
const k = instantiate(init.module, init.memory);
const slot = new Int32Array(init.memory.buffer, init.slotOffset, SLOT_INTS);
const args = new Array<number>(GEMM_ARGC);

// Read before announcing readiness: a job posted right after 'ready' must look new.
let seen = Atomics.load(slot, SEQ);
parentPort!.postMessage('ready');

for (;;) {
  Atomics.wait(slot, SEQ, seen);
  const seq = Atomics.load(slot, SEQ);
  if (seq === seen) continue;
  seen = seq;
  const op = slot[OP];
  if (op === OP_GEMM) {
    for (let i = 0; i < GEMM_ARGC; i++) args[i] = slot[ARGS + i]!;
    try {
      k.gemm(args[0]!, args[1]!, args[2]!, args[3]!, args[4]!, args[5]!, args[6]!, args[7]!,
        args[8]!, args[9]!, args[10]!, args[11]!, args[12]!);
    } catch (e) {
      console.error('metaheac kernel worker:', e);
      Atomics.store(slot, STATUS, 1);
    }
  }
  Atomics.store(slot, DONE, seq);
  Atomics.notify(slot, DONE);
  if (op === OP_QUIT) break;
}
