/**
 * The engine the commands run on. Until the WebAssembly engine is wired in, plain float32
 * loops.
 */
import { JsOps, type Ops } from '../model/ops.js';

export interface RunOps extends Ops {
  close(): Promise<void>;
  readonly threads: number;
}

export async function createOps(_threads = 0): Promise<RunOps> {
  const ops = new JsOps(Float32Array) as JsOps & { close(): Promise<void>; threads: number };
  ops.close = async () => {};
  ops.threads = 1;
  return ops;
}
