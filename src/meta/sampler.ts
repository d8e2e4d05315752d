/**
 * Sampling for meta-training (spec section 4): tasks drawn with probability ∝ n_t
 * (`normal`), ∝ sqrt(n_t) (`sqrt`) or uniform (`unit`), with or without replacement; then a
 * support and, independently, a query batch from each task's rows, without replacement
 * inside a batch.
 */
import type { TaskRows } from '../data/part.js';
import type { Rng } from '../util/rng.js';

export type TaskSampling = 'normal' | 'sqrt' | 'unit';

export class TaskSampler {
  private readonly weights: Float64Array;
  /** Per task, a permutation of its rows that partial Fisher-Yates keeps reshuffling in place. */
  private readonly perm: Int32Array[];

  constructor(
    readonly tasks: TaskRows[],
    mode: TaskSampling,
    readonly withReplacement: boolean,
  ) {
    this.weights = Float64Array.from(tasks, (t) => {
      const n = t.rows.length;
      return mode === 'normal' ? n : mode === 'sqrt' ? Math.sqrt(n) : 1;
    });
    this.perm = tasks.map((t) => Int32Array.from(t.rows));
  }

  /** Indices of `count` tasks (distinct unless with replacement; capped at the task count then). */
  drawTasks(rng: Rng, count: number): number[] {
    const n = this.tasks.length;
    const out: number[] = [];
    if (this.withReplacement) {
      let total = 0;
      for (const w of this.weights) total += w;
      for (let i = 0; i < count; i++) out.push(pick(this.weights, total, rng.float()));
      return out;
    }
    const w = Float64Array.from(this.weights);
    let total = 0;
    for (const x of w) total += x;
    for (let i = 0; i < Math.min(count, n); i++) {
      const j = pick(w, total, rng.float());
      out.push(j);
      total -= w[j]!;
      w[j] = 0;
    }
    return out;
  }

  /**
   * `size` distinct rows of task `t` in random order (all its rows, shuffled, when it has
   * fewer). Returns a view valid until the next draw of the same task.
   */
  drawRows(rng: Rng, t: number, size: number): Int32Array {
    const p = this.perm[t]!;
    const k = Math.min(size, p.length);
    for (let i = 0; i < k; i++) {
      const j = i + rng.int(p.length - i);
      const tmp = p[i]!;
      p[i] = p[j]!;
      p[j] = tmp;
    }
    return p.subarray(0, k);
  }
}

/** Index whose cumulative weight first exceeds u * total. */
function pick(w: Float64Array, total: number, u: number): number {
  let target = u * total;
  let last = -1;
  for (let i = 0; i < w.length; i++) {
    if (w[i]! <= 0) continue;
    last = i;
    target -= w[i]!;
    if (target < 0) return i;
  }
  return last;
}
