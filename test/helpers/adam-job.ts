/** A job module for engine tests: Adam on arrays the main thread laid out, run in a kernel worker. */
import type { Ops } from '../../src/model/ops.js';

export interface AdamJobInit {
  /** Byte offsets of p, m, v, g ([rows, E] float32) and ids (int32). */
  at: [number, number, number, number, number];
  rows: number;
  E: number;
}

export function setupWorker(ops: Ops, memory: SharedArrayBuffer, raw: unknown): (args: Int32Array) => void {
  const { at, rows, E } = raw as AdamJobInit;
  const [p, m, v, g] = at.slice(0, 4).map((o) => new Float32Array(memory, o, rows * E)) as [Float32Array, Float32Array, Float32Array, Float32Array];
  const ids = new Int32Array(memory, at[4], rows);
  return () => ops.adamRows(p, m, v, g, ids, rows, E, 0.01, 0.5, 0.9, 0.999, 1e-8);
}
