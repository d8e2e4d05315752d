/**
 * The pickle memo (slot -> object) in pages of 1024 slots. Python's pickler numbers slots
 * 0, 1, 2, ... and memoizes every object, so a streamed multi-GB pickle fills tens of
 * millions of slots; a page whose slots have all been filled and then released (their
 * objects streamed into a column) is dropped, keeping memory to the slots still alive.
 */

const SHIFT = 10;
const PAGE = 1 << SHIFT;

/** A released slot: its object now lives only inside a packed column. */
export const RELEASED: unique symbol = Symbol('released');

export class Memo {
  private pages: (unknown[] | null)[] = [];
  /** Per page: slots filled at least once, and slots holding a live object. */
  private filled: number[] = [];
  private live: number[] = [];
  /** Number of distinct slots ever filled: Python's len(memo), MEMOIZE's next slot. */
  size = 0;
  /** One past the highest slot filled. */
  end = 0;

  set(slot: number, v: unknown): void {
    const p = slot >>> SHIFT;
    while (this.pages.length <= p) {
      this.pages.push(new Array<unknown>(PAGE));
      this.filled.push(0);
      this.live.push(0);
    }
    const page = this.pages[p];
    if (page === null) throw new RangeError(`memo slot ${slot} is rewritten after its page was released`);
    const old = page![slot & (PAGE - 1)];
    if (old === undefined) {
      this.filled[p]!++;
      this.size++;
    }
    if (old === undefined || old === RELEASED) this.live[p]!++;
    page![slot & (PAGE - 1)] = v;
    if (slot >= this.end) this.end = slot + 1;
  }

  /** The object in `slot`, RELEASED, or undefined when the slot was never filled. */
  get(slot: number): unknown {
    const p = slot >>> SHIFT;
    if (p >= this.pages.length) return undefined;
    const page = this.pages[p];
    return page === null ? RELEASED : page![slot & (PAGE - 1)];
  }

  release(slot: number): void {
    const p = slot >>> SHIFT;
    const page = this.pages[p];
    if (!page) return;
    const v = page[slot & (PAGE - 1)];
    if (v === undefined || v === RELEASED) return;
    page[slot & (PAGE - 1)] = RELEASED;
    if (--this.live[p]! === 0 && this.filled[p] === PAGE) this.pages[p] = null;
  }
}
