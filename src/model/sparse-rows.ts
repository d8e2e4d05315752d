/**
 * A sparse set of embedding rows of one table, addressed by id. It is how the model keeps
 * everything per-task or per-step that touches only a batch's rows: an inner step's fast
 * weights (a delta over θ), a meta-gradient being summed over tasks, a task's adapted rows
 * and their Adam moments. Lookup is one array read; clear() costs only the rows used, so a
 * 263k-row table is never swept per task.
 */
import type { Vec } from './ops.js';

export class SparseRows {
  /** slot of each id, or -1. */
  private readonly slotOf: Int32Array;
  /** ids in slot order. */
  ids: Int32Array;
  /** Row data, slot-major: slot s at [s*E, (s+1)*E). */
  data: Vec;
  n = 0;

  constructor(
    readonly rows: number,
    readonly E: number,
    private readonly ctor: Float32ArrayConstructor | Float64ArrayConstructor = Float32Array,
    initialCapacity = 256,
  ) {
    this.slotOf = new Int32Array(rows).fill(-1);
    this.ids = new Int32Array(initialCapacity);
    this.data = new ctor(initialCapacity * E);
  }

  find(id: number): number {
    return this.slotOf[id]!;
  }

  /** The slot of `id`, adding a zero row when absent. */
  ensure(id: number): number {
    const s = this.slotOf[id]!;
    if (s >= 0) return s;
    if (this.n === this.ids.length) this.grow();
    const ns = this.n++;
    this.slotOf[id] = ns;
    this.ids[ns] = id;
    this.data.fill(0, ns * this.E, (ns + 1) * this.E);
    return ns;
  }

  private grow(): void {
    const cap = this.ids.length * 2;
    const ids = new Int32Array(cap);
    ids.set(this.ids);
    this.ids = ids;
    const data = new this.ctor(cap * this.E);
    data.set(this.data);
    this.data = data;
  }

  clear(): void {
    for (let i = 0; i < this.n; i++) this.slotOf[this.ids[i]!] = -1;
    this.n = 0;
  }
}

/** Where the forward pass reads embedding rows from. */
export interface RowSource {
  /** Copy row `id` of table `e` into out[off .. off+E). */
  readRow(e: number, id: number, out: Vec, off: number): void;
}

/** The plain tables. */
export class TableSource implements RowSource {
  constructor(
    readonly tables: Vec[],
    readonly E: number,
  ) {}

  readRow(e: number, id: number, out: Vec, off: number): void {
    const t = this.tables[e]!;
    const E = this.E;
    const o = id * E;
    for (let i = 0; i < E; i++) out[off + i] = t[o + i]!;
  }
}

/**
 * Tables seen through per-table sparse overlays: `delta` adds the overlay row to the base
 * row (an inner step's fast weights, exact as θ + Δ), `replace` uses the overlay row when
 * present (a task's adapted copy).
 */
export class OverlaySource implements RowSource {
  constructor(
    readonly base: TableSource,
    readonly overlays: SparseRows[],
    readonly mode: 'delta' | 'replace',
  ) {}

  readRow(e: number, id: number, out: Vec, off: number): void {
    const ov = this.overlays[e]!;
    const s = ov.find(id);
    const E = this.base.E;
    if (s < 0) {
      this.base.readRow(e, id, out, off);
      return;
    }
    const d = ov.data;
    const so = s * E;
    if (this.mode === 'replace') {
      for (let i = 0; i < E; i++) out[off + i] = d[so + i]!;
    } else {
      const t = this.base.tables[e]!;
      const o = id * E;
      for (let i = 0; i < E; i++) out[off + i] = t[o + i]! + d[so + i]!;
    }
  }
}
