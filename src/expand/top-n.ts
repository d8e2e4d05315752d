/**
 * The N best (score, uid) pairs of a stream: a binary min-heap whose root is the worst
 * kept, so memory is N whatever the stream's length. Higher score ranks first; equal
 * scores rank by smaller uid, so the result is the same however the stream is split.
 */
import { compareUids, type Uid } from '../data/uid.js';

export class TopN {
  private readonly score: Float64Array;
  private readonly uid: Uid[];
  private n = 0;

  constructor(readonly capacity: number) {
    this.score = new Float64Array(capacity);
    this.uid = new Array<Uid>(capacity);
  }

  get size(): number {
    return this.n;
  }

  /** a ranks below b (a is worse). */
  private static worse(sa: number, ua: Uid, sb: number, ub: Uid): boolean {
    return sa < sb || (sa === sb && ua > ub);
  }

  push(score: number, uid: Uid): void {
    if (this.capacity === 0) return;
    if (this.n < this.capacity) {
      let i = this.n++;
      // sift up
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!TopN.worse(score, uid, this.score[p]!, this.uid[p]!)) break;
        this.score[i] = this.score[p]!;
        this.uid[i] = this.uid[p]!;
        i = p;
      }
      this.score[i] = score;
      this.uid[i] = uid;
      return;
    }
    if (!TopN.worse(this.score[0]!, this.uid[0]!, score, uid)) return;
    // replace the root, sift down
    let i = 0;
    const n = this.n;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && TopN.worse(this.score[r]!, this.uid[r]!, this.score[l]!, this.uid[l]!) ? r : l;
      if (!TopN.worse(this.score[c]!, this.uid[c]!, score, uid)) break;
      this.score[i] = this.score[c]!;
      this.uid[i] = this.uid[c]!;
      i = c;
    }
    this.score[i] = score;
    this.uid[i] = uid;
  }

  /** The kept pairs, best first (rank 1 first). */
  sorted(): { uid: Uid[]; score: Float64Array } {
    const idx = Array.from({ length: this.n }, (_, i) => i);
    idx.sort((a, b) => this.score[b]! - this.score[a]! || compareUids(this.uid[a]!, this.uid[b]!));
    return { uid: idx.map((i) => this.uid[i]!), score: Float64Array.from(idx, (i) => this.score[i]!) };
  }
}
