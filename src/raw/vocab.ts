/**
 * Vocabularies of raw ids and their dense codes. A raw id is a non-negative int32; -1
 * stands for "missing" (an absent field, a padded list slot), which the official
 * preprocessing also writes as -1 and then encodes as one more id.
 */

/** Number of set bits of a 32-bit word. */
function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/**
 * A set of non-negative int32 ids as a growable bitset: adding is one OR, which matters
 * when every id of 11 M user lines goes through it. After `freeze`, `rank(v)` (the number
 * of members below v) is O(1) from per-word prefix counts.
 */
export class IdSet {
  private words = new Uint32Array(64);
  private prefix: Int32Array | null = null;

  add(v: number): void {
    const w = v >>> 5;
    if (w >= this.words.length) this.grow(w);
    this.words[w]! |= 1 << (v & 31);
  }

  private grow(w: number): void {
    const bigger = new Uint32Array(Math.max(w + 1, this.words.length * 2));
    bigger.set(this.words);
    this.words = bigger;
  }

  /** Stop adding; enable `rank` and `size`. */
  freeze(): void {
    const prefix = new Int32Array(this.words.length + 1);
    for (let i = 0; i < this.words.length; i++) prefix[i + 1] = prefix[i]! + popcount32(this.words[i]!);
    this.prefix = prefix;
  }

  get size(): number {
    if (this.prefix === null) throw new Error('IdSet: freeze() before size');
    return this.prefix[this.prefix.length - 1]!;
  }

  /** Position of member `v` in ascending order; only after `freeze`. */
  rank(v: number): number {
    const w = v >>> 5;
    // (1 << 31) - 1 wraps to -2^31 - 1, whose low 32 bits are the wanted 0x7fffffff mask.
    return this.prefix![w]! + popcount32(this.words[w]! & ((1 << (v & 31)) - 1));
  }

  has(v: number): boolean {
    const w = v >>> 5;
    return w < this.words.length && (this.words[w]! & (1 << (v & 31))) !== 0;
  }

  /** Members in ascending order. */
  values(): number[] {
    const out: number[] = [];
    for (let w = 0; w < this.words.length; w++) {
      for (let bits = this.words[w]!; bits !== 0; bits &= bits - 1) out.push(w * 32 + 31 - Math.clz32(bits & -bits));
    }
    return out;
  }
}

/**
 * Where the missing value's code goes. `first`: sklearn's LabelEncoder over ints sorts -1
 * before every id (single-valued and ad fields). `last`: the official script numbers
 * multi-valued ids in CPython set order, where -1 (hash -2) sits in the table's next-to-last
 * slot, after every id smaller than the table size: in the published pickles the padding id
 * is the largest code of each multi-valued field.
 */
export type MissingPlace = 'first' | 'last';

/** Dense codes 0..size-1 for the ids of a frozen IdSet, plus the missing value when present. */
export class Vocabulary {
  readonly size: number;
  private readonly offset: number;
  private readonly missingCode: number;

  constructor(
    private readonly ids: IdSet,
    readonly hasMissing: boolean,
    private readonly place: MissingPlace,
  ) {
    ids.freeze();
    this.size = ids.size + (hasMissing ? 1 : 0);
    this.offset = hasMissing && place === 'first' ? 1 : 0;
    this.missingCode = !hasMissing ? -1 : place === 'first' ? 0 : ids.size;
  }

  get maxIdx(): number {
    return this.size - 1;
  }

  /** Whether raw id `v` (or -1, the missing value) has a code. */
  knows(v: number): boolean {
    return v < 0 ? this.hasMissing : this.ids.has(v);
  }

  /** The code of the missing value, or -1 when it has none. */
  get missing(): number {
    return this.missingCode;
  }

  /** The raw value of every code in code order; null for the missing value. */
  rawValues(): (number | null)[] {
    const ids: (number | null)[] = this.ids.values();
    if (!this.hasMissing) return ids;
    return this.place === 'first' ? [null, ...ids] : [...ids, null];
  }

  /**
   * Code of raw id `v` (which must have been added), or of the missing value for -1.
   * Kept to a few operations: it runs for every id of every row. An id never added or an
   * undeclared missing value gives a wrong or negative code, which a part's validation
   * (writePart) rejects.
   */
  encode(v: number): number {
    return v < 0 ? this.missingCode : this.offset + this.ids.rank(v);
  }
}
