/**
 * uid -> dense user index, as an open-addressing hash table in two typed arrays. The real
 * rows name about 10 M distinct users: a JS Map of that size costs several hundred MB of
 * heap, a sorted array a cache-missing binary search per lookup; this costs 8 bytes a
 * slot and about one cache miss per lookup.
 */
export class UidIndex {
  private keys: Int32Array;
  private vals: Int32Array;
  private mask: number;
  size = 0;

  /** `expected`: about how many distinct uids will be added (the table grows past it). */
  constructor(expected: number) {
    let cap = 16;
    while (cap * 0.7 < expected) cap *= 2;
    this.mask = cap - 1;
    this.keys = new Int32Array(cap).fill(-1);
    this.vals = new Int32Array(cap);
  }

  private slot(uid: number): number {
    let i = Math.imul(uid, 0x9e3779b1) >>> 0 & this.mask;
    while (this.keys[i] !== -1 && this.keys[i] !== uid) i = (i + 1) & this.mask;
    return i;
  }

  /** Index of `uid` (>= 0), added as the next index when new. */
  add(uid: number): number {
    let i = this.slot(uid);
    if (this.keys[i] === uid) return this.vals[i]!;
    if ((this.size + 1) > (this.mask + 1) * 0.7) {
      this.grow();
      i = this.slot(uid);
    }
    this.keys[i] = uid;
    this.vals[i] = this.size;
    return this.size++;
  }

  /** Index of `uid`, or -1 when it was never added. */
  get(uid: number): number {
    const i = this.slot(uid);
    return this.keys[i] === uid ? this.vals[i]! : -1;
  }

  private grow(): void {
    const { keys, vals } = this;
    this.mask = keys.length * 2 - 1;
    this.keys = new Int32Array(keys.length * 2).fill(-1);
    this.vals = new Int32Array(keys.length * 2);
    for (let j = 0; j < keys.length; j++) {
      if (keys[j] === -1) continue;
      const i = this.slot(keys[j]!);
      this.keys[i] = keys[j]!;
      this.vals[i] = vals[j]!;
    }
  }
}
