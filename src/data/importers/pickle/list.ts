/**
 * A Python list. A list whose first item is a 1-D numpy int array (an object column's
 * cells) switches to packed storage (./cell-pack.ts); anything it cannot pack is kept as
 * a plain item after the packed ones, so the packing is invisible to every consumer but
 * the column reader that looks for it.
 */
import { CellPack } from './cell-pack.js';
import { NdArray } from './numpy.js';

/** Told of every array packed, so the unpickler can release its memo slots. */
export interface PackObserver {
  packed(nd: NdArray, pack: CellPack): void;
}

export class PyList {
  readonly typeName = 'list';
  /** Plain items: the whole list when it holds no packed cells, else what came after them. */
  private items: unknown[] = [];
  private pack: CellPack | null = null;

  constructor(private readonly observer: PackObserver) {}

  /** The packed cells, or null when the list holds (also) plain items. */
  get cells(): CellPack | null {
    return this.pack && this.items.length === 0 ? this.pack : null;
  }

  get length(): number {
    return (this.pack?.count ?? 0) + this.items.length;
  }

  push(x: unknown): void {
    if (this.pack && this.items.length === 0) {
      if (x instanceof NdArray && this.pack.tryPush(x)) {
        this.observer.packed(x, this.pack);
        return;
      }
    } else if (!this.pack && this.items.length === 0 && x instanceof NdArray) {
      const pack = new CellPack();
      if (pack.tryPush(x)) {
        this.pack = pack;
        this.observer.packed(x, pack);
        return;
      }
    }
    // Anything else goes after the packed cells, which stay packed: turning millions of
    // them back into objects because one cell is None would multiply their memory.
    this.items.push(x);
  }

  /** Item i (a packed cell comes back as an int32 array). */
  at(i: number): unknown {
    const packed = this.pack?.count ?? 0;
    return i < packed ? this.pack!.materialize(i) : this.items[i - packed];
  }

  /** The items as a JS array: for short lists (labels, pandas' own lists), not for columns. */
  toArray(): unknown[] {
    if (!this.pack) return this.items;
    return Array.from({ length: this.length }, (_, i) => this.at(i));
  }
}
