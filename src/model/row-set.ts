/**
 * Table-shaped arrays of embedding rows of which only a few are in use at a time: a task's
 * fast-weight delta, a gradient summed over a step's tasks, a task's adapted copy, the rows
 * Adam moves. Each is a full [rows, E] array in the engine's memory (reserved, not committed:
 * untouched rows cost nothing) plus the list of rows in use, so lookups are direct and
 * clear() costs only the rows used: a 263k-row table is never swept per task or per batch.
 */
import type { Ops, Vec } from './ops.js';

/** What the sets allocate from: an engine, or views of arrays another thread allocated (shared-rows.ts). */
export type RowAlloc = Pick<Ops, 'alloc' | 'allocI32' | 'allocU8'>;

/** A set of row ids with O(1) membership and O(used) clearing. */
export class IdSet {
  readonly mark: Uint8Array;
  readonly ids: Int32Array;
  n = 0;

  constructor(ops: RowAlloc, rows: number) {
    this.mark = ops.allocU8(rows);
    this.ids = ops.allocI32(rows);
  }

  has(id: number): boolean {
    return this.mark[id] !== 0;
  }

  /** Add `id`; true when it was not in the set. */
  add(id: number): boolean {
    if (this.mark[id] !== 0) return false;
    this.mark[id] = 1;
    this.ids[this.n++] = id;
    return true;
  }

  clear(): void {
    for (let i = 0; i < this.n; i++) this.mark[this.ids[i]!] = 0;
    this.n = 0;
  }
}

/** Rows of one table, zero except those in use. */
export class RowSet extends IdSet {
  readonly data: Vec;

  constructor(
    ops: RowAlloc,
    rows: number,
    readonly E: number,
  ) {
    super(ops, rows);
    this.data = ops.alloc(rows * E);
  }

  /** Zero the rows in use and forget them. */
  override clear(): void {
    const E = this.E;
    for (let i = 0; i < this.n; i++) {
      const o = this.ids[i]! * E;
      this.data.fill(0, o, o + E);
    }
    super.clear();
  }
}

/**
 * How the model sees its embedding tables: the tables alone (mode 0), through a delta
 * (mode 1: θ' = θ + Δ for the rows in the overlay) or through replaced rows (mode 2).
 */
export interface TableView {
  tables: Vec[];
  overlay: RowSet[] | null;
  mode: 0 | 1 | 2;
}

export function plainView(tables: Vec[]): TableView {
  return { tables, overlay: null, mode: 0 };
}
