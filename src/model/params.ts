/**
 * The parameters of one MetaHeac model: the flat dense array (see layout.ts) and one
 * embedding table per field. Initialised as the spec says: tables N(0, 1), every nn.Linear
 * weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
 */
import { Rng } from '../util/rng.js';
import type { Layout } from './layout.js';
import type { Ops, Vec } from './ops.js';

export interface Params {
  layout: Layout;
  /** Lives in the engine's memory: gemm reads it directly. */
  dense: Vec;
  /** [rows, E] each, in layout.embeddings order; in the engine's memory (the row kernels read them). */
  tables: Vec[];
}

export function allocParams(L: Layout, ops: Ops): Params {
  return {
    layout: L,
    dense: ops.alloc(L.denseSize),
    tables: L.embeddings.map((e) => ops.alloc(e.rows * L.dims.embedDim)),
  };
}

/** Fill with the spec's initialisation; the draws depend only on the seed and the layout. */
export function initParams(p: Params, seed: number): void {
  const rng = new Rng(seed);
  for (const t of p.tables) for (let i = 0; i < t.length; i++) t[i] = rng.normal();
  for (const d of p.layout.dense) {
    const bound = 1 / Math.sqrt(d.fanIn);
    for (let i = 0; i < d.size; i++) p.dense[d.offset + i] = (2 * rng.float() - 1) * bound;
  }
}
