/**
 * A Python list. A list whose first item is a 1-D numpy int array (an object column's
 * cells) switches to packed storage (./cell-pack.ts); anything it cannot pack turns it
 * back into a plain list, so the packing is invisible to every consumer but the column
 * reader that looks for it.
 */
import { CellPack } from './cell-pack.js';
import { NdArray } from './numpy.js';

/** Told of every array packed, so the unpickler can release its memo slots. */
export interface PackObserver {
  packed(nd: NdArray, pack: CellPack): void;
}

export class PyList {
  readonly typeName = 'list';
  private items: unknown[] = [];
  private pack: CellPack | null = null;

  constructor(private readonly observer: PackObserver) {}

  /** The packed cells, or null when the list holds plain items. */
  get cells(): CellPack | null {
    return this.pack;
  }

  push(x: unknown): void {
    if (this.pack) {
      if (x instanceof NdArray && this.pack.tryPush(x)) {
        this.observer.packed(x, this.pack);
        return;
      }
      this.unpack();
    } else if (this.items.length === 0 && x instanceof NdArray) {
      const pack = new CellPack();
      if (pack.tryPush(x)) {
        this.pack = pack;
        this.observer.packed(x, pack);
        return;
      }
    }
    this.items.push(x);
  }

  private unpack(): void {
    const pack = this.pack!;
    this.pack = null;
    this.items = [];
    for (let i = 0; i < pack.count; i++) this.items.push(pack.materialize(i));
  }

  /** The items as a JS array (packed cells come back as int32 arrays). */
  toArray(): unknown[] {
    if (!this.pack) return this.items;
    const out: unknown[] = [];
    for (let i = 0; i < this.pack.count; i++) out.push(this.pack.materialize(i));
    return out;
  }
}
