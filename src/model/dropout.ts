/**
 * Inverted dropout for the dense network (network.ts): after every expert layer's ReLU, and
 * on the critics' input (the gated mixture of the experts), in training passes only; kept
 * units are scaled so that every unit's expected value is unchanged.
 *
 * Masks come from a counter-based stream: unit i of a layer is kept or dropped by a hash of
 * (the pass's key, the layer, i), so a pass's masks depend on its key alone (which the
 * trainers derive from the seed, the step, the task and the pass), never on the thread that
 * runs the pass or on what ran before it. Each hash gives two units 16 bits each: the rate is
 * rounded to a multiple of 1/65536, and the scale is that rounded rate's, so the expectation
 * stays exact.
 */
import type { Ops, Vec } from './ops.js';

/** Shares of units dropped in training passes. */
export interface DropoutRates {
  /** Of every expert layer's hidden units. */
  experts: number;
  /** Of the critics' input. */
  critics: number;
}

const LEVELS = 65536;

/** The passes that draw masks, kept apart in the keys (dropoutKey's first part). */
export const DROPOUT_STREAM = { meta: 1, joint: 2, adapt: 3 } as const;

/** A bijective 32-bit mixer (Wellons' lowbias32). */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The key of a pass's masks from 32-bit integer parts (e.g. stream, seed, step, task, pass). */
export function dropoutKey(...parts: number[]): number {
  let h = 0x2f6b5e1d;
  for (const p of parts) h = mix32(h ^ mix32((p | 0) ^ 0x5bd1e995));
  return h;
}

/** Threshold and scale of one rate: a unit whose 16 bits fall below `drop` is dropped. */
interface Level {
  drop: number;
  scale: number;
}

function level(rate: number, what: string): Level {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`dropout: the ${what}' rate is ${rate}; it must be in [0, 1)`);
  const drop = Math.round(rate * LEVELS);
  return { drop, scale: LEVELS / (LEVELS - drop) };
}

/**
 * x[i] = kept(i) ? x[i] * scale : 0 for i < n, unit i's 16 bits drawn from `key`'s stream
 * (splitmix-style: the i/2-th multiple of the golden ratio, mixed); marks the kept units in
 * `keep` when given.
 */
function drop(x: Vec, n: number, key: number, lv: Level, keep: Uint8Array | null): void {
  const { drop: thr, scale } = lv;
  for (let i = 0; i < n; i += 2) {
    const r = mix32((key + Math.imul((i >>> 1) + 1, 0x9e3779b9)) | 0);
    const k0 = (r & 0xffff) >= thr;
    x[i] = k0 ? x[i]! * scale : 0;
    if (keep) keep[i] = k0 ? 1 : 0;
    if (i + 1 < n) {
      const k1 = r >>> 16 >= thr;
      x[i + 1] = k1 ? x[i + 1]! * scale : 0;
      if (keep) keep[i + 1] = k1 ? 1 : 0;
    }
  }
}

/**
 * A network's dropout: the rates, and the critic mask of the last training forward. The
 * experts' masks are not kept: their layers keep the dropped output, which is zero exactly
 * where the unit was dropped or the ReLU was off, and both backwards multiply by zero there;
 * the critics' input is a mixture that may be zero on a kept unit, so its mask is kept (a
 * byte per unit).
 */
export class Dropout {
  private readonly experts: Level;
  private readonly critics: Level;
  private readonly criticKeep: Uint8Array;
  /** The key of the current pass's masks. */
  key = 0;

  constructor(ops: Ops, rates: DropoutRates, criticUnits: number) {
    this.experts = level(rates.experts, 'experts');
    this.critics = level(rates.critics, 'critics');
    this.criticKeep = ops.allocU8(this.critics.drop > 0 ? criticUnits : 0);
  }

  /** The key of one layer's units in this pass: 0 the critics' input, j + 1 expert layer j. */
  private stream(s: number): number {
    return mix32(this.key ^ mix32(s ^ 0x68e31da4));
  }

  /** Drop expert layer j's n units (after its ReLU) in place. */
  dropExperts(h: Vec, j: number, n: number): void {
    if (this.experts.drop > 0) drop(h, n, this.stream(j + 1), this.experts, null);
  }

  /**
   * The experts' dropout on a gradient (or directional derivative) already masked by the
   * dropped output's ReLU backward: only the scale is left.
   */
  scaleExperts(x: Vec, n: number): void {
    const { drop: thr, scale } = this.experts;
    if (thr > 0) for (let i = 0; i < n; i++) x[i] = x[i]! * scale;
  }

  /** Drop the critics' n input units in place, keeping the mask. */
  dropCritics(fea: Vec, n: number): void {
    if (this.critics.drop > 0) drop(fea, n, this.stream(0), this.critics, this.criticKeep);
  }

  /** The critic dropout of the last dropCritics as a linear map, on a gradient or a directional derivative. */
  maskCritics(x: Vec, n: number): void {
    const { drop: thr, scale } = this.critics;
    if (thr === 0) return;
    const keep = this.criticKeep;
    for (let i = 0; i < n; i++) x[i] = keep[i] ? x[i]! * scale : 0;
  }
}
