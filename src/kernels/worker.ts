/**
 * A kernel worker: instantiates the wasm kernels over the engine's shared memory, then
 * sleeps on its control slot (Atomics.wait) and runs what it is handed until told to quit:
 * parts of gemms and Adam, or whole JavaScript jobs (a module loaded with OP_LOAD that runs,
 * say, a whole task of a meta-step on its own single-threaded engine). See control.ts.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { adamClaimed, Engine } from './engine.js';
import { EngineOps, type JobHandler, type JobModule } from './index.js';
import { instantiate } from './wasm.js';
import { ARGS, DONE, MAX_ARGC, OP, OP_ADAM, OP_GEMM, OP_GEMM_ROWS, OP_JOB, OP_LOAD, OP_QUIT, SEQ, SLOT_INTS, STATUS, waitChange } from './control.js';

interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  slotOffset: number;
  scratch: number;
}

interface LoadMessage {
  url: string;
  init: unknown;
  heap: [number, number];
}

const init = workerData as WorkerInit;
const k = instantiate(init.module, init.memory);
const slot = new Int32Array(init.memory.buffer, init.slotOffset, SLOT_INTS);
const slotF = new Float32Array(init.memory.buffer, init.slotOffset, SLOT_INTS);
const memory32 = new Int32Array(init.memory.buffer);
const arg = (i: number): number => slot[ARGS + i]!;
/** Loaded job handlers, by the id OP_LOAD's order gives them (the same in every worker). */
const handlers: JobHandler[] = [];

// Read before announcing readiness: a job posted right after 'ready' must look new.
let seen = Atomics.load(slot, SEQ);
parentPort!.postMessage('ready');

for (;;) {
  const seq = waitChange(slot, SEQ, seen);
  seen = seq;
  const op = slot[OP];
  try {
    if (op === OP_ADAM) {
      adamClaimed(k, memory32, slot.subarray(ARGS, ARGS + 9), slotF.subarray(ARGS + 9, ARGS + 15));
    } else if (op === OP_GEMM) {
      k.gemm(arg(0), arg(1), arg(2), arg(3), arg(4), arg(5), arg(6), arg(7), arg(8), arg(9), arg(10), arg(11), arg(12));
    } else if (op === OP_GEMM_ROWS) {
      k.gemmRows(arg(0), arg(1), arg(2), arg(3), arg(4), arg(5), arg(6), arg(7), arg(8), arg(9), arg(10), arg(11),
        arg(12), arg(13), arg(14));
    } else if (op === OP_LOAD) {
      // The main thread posted the message before bumping SEQ, so it is already queued.
      const msg = receiveMessageOnPort(parentPort!)!.message as LoadMessage;
      const engine = Engine.attach(init.memory, k, init.slotOffset, init.scratch, msg.heap[0], msg.heap[1]);
      const mod = (await import(msg.url)) as JobModule;
      handlers.push(mod.setupWorker(new EngineOps(engine), init.memory.buffer as SharedArrayBuffer, msg.init));
    } else if (op === OP_JOB) {
      const handler = handlers[arg(0)];
      if (!handler) throw new Error(`no job module ${arg(0)} was loaded`);
      handler(slot.slice(ARGS + 1, ARGS + MAX_ARGC));
    }
  } catch (e) {
    console.error('metaheac kernel worker:', e);
    Atomics.store(slot, STATUS, 1);
  }
  Atomics.store(slot, DONE, seq);
  Atomics.notify(slot, DONE);
  if (op === OP_QUIT) break;
}
