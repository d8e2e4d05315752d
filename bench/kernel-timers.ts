/**
 * Per-kernel timers: wraps an Ops so that, while `on`, the wall time of every call is added
 * to its method's total. What the calls do not cover is the model's own JavaScript (batch
 * building, glue loops); a call's time includes handing work to the engine's threads.
 */
import type { RunOps } from '../src/kernels/index.js';

export interface TimedOps {
  ops: RunOps;
  on: boolean;
  /** Milliseconds and calls per method since the last reset(). */
  totals: Map<string, { ms: number; calls: number }>;
  reset(): void;
}

export function timeKernels(inner: RunOps): TimedOps {
  const t: TimedOps = {
    ops: inner,
    on: false,
    totals: new Map(),
    reset() {
      this.totals.clear();
    },
  };
  t.ops = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function' || typeof prop !== 'string') return v;
      const fn = v as (...a: unknown[]) => unknown;
      return (...args: unknown[]) => {
        if (!t.on) return fn.apply(target, args);
        const t0 = performance.now();
        try {
          return fn.apply(target, args);
        } finally {
          const e = t.totals.get(prop) ?? { ms: 0, calls: 0 };
          e.ms += performance.now() - t0;
          e.calls++;
          t.totals.set(prop, e);
        }
      };
    },
  });
  return t;
}
