/**
 * Where a model's parameters stopped being numbers: the first NaN or infinity, by tensor name
 * and element. Training checks the dense tensors after every step and every tensor before a
 * checkpoint is written, so a diverged run never leaves a good-looking file.
 */
import type { Params } from './params.js';

export interface NonFinite {
  tensor: string;
  /** Flat element index inside the tensor. */
  index: number;
  value: number;
}

/** Index of the first NaN or infinity of a[from..to), or -1. */
export function firstNonFinite(a: ArrayLike<number>, from = 0, to = a.length): number {
  for (let i = from; i < to; i++) {
    // x - x is NaN exactly for NaN and the infinities
    const x = a[i]!;
    if (x - x !== 0) return i;
  }
  return -1;
}

/** The first non-finite dense weight or bias (cheap: the dense net is small), or null. */
export function nonFiniteDense(p: Params): NonFinite | null {
  const L = p.layout;
  if (firstNonFinite(p.dense, 0, L.denseSize) < 0) return null;
  for (const d of L.dense) {
    const i = firstNonFinite(p.dense, d.offset, d.offset + d.size);
    if (i >= 0) return { tensor: d.name, index: i - d.offset, value: p.dense[i]! };
  }
  return null;
}

/** The first non-finite value of any tensor, in checkpoint order (tables first), or null. */
export function nonFiniteParams(p: Params): NonFinite | null {
  for (const [t, e] of p.layout.embeddings.entries()) {
    const tab = p.tables[t]!;
    const i = firstNonFinite(tab, 0, tab.length);
    if (i >= 0) return { tensor: e.name, index: i, value: tab[i]! };
  }
  return nonFiniteDense(p);
}

export function describeNonFinite(n: NonFinite): string {
  return `tensor "${n.tensor}" holds ${n.value} at element ${n.index}`;
}
