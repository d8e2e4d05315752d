/**
 * The cells of an object column (one small numpy int array per row) packed as they are
 * decoded: their ids go into one growing int32 store and their widths into run lengths,
 * so 4M cells cost 4 bytes per id instead of 4M live JS objects.
 */
import { NdArray, int32Array, readInt32Into } from './numpy.js';

const CHUNK_SHIFT = 20;
const CHUNK = 1 << CHUNK_SHIFT;

/** An append-only int32 sequence in fixed chunks: growth never copies what is stored. */
export class ChunkedInt32 {
  private readonly chunks: Int32Array[] = [];
  length = 0;

  push(v: number): void {
    const c = this.length >>> CHUNK_SHIFT;
    if (c === this.chunks.length) this.chunks.push(new Int32Array(CHUNK));
    this.chunks[c]![this.length & (CHUNK - 1)] = v;
    this.length++;
  }

  pushAll(src: Int32Array, n: number): void {
    const at0 = this.length & (CHUNK - 1);
    const c0 = this.length >>> CHUNK_SHIFT;
    // A cell is a handful of ids: copy element-wise, without subarray views, when it fits.
    if (c0 < this.chunks.length && at0 + n <= CHUNK) {
      const chunk = this.chunks[c0]!;
      for (let j = 0; j < n; j++) chunk[at0 + j] = src[j]!;
      this.length += n;
      return;
    }
    let i = 0;
    while (i < n) {
      const c = this.length >>> CHUNK_SHIFT;
      if (c === this.chunks.length) this.chunks.push(new Int32Array(CHUNK));
      const at = this.length & (CHUNK - 1);
      const take = Math.min(n - i, CHUNK - at);
      this.chunks[c]!.set(src.subarray(i, i + take), at);
      i += take;
      this.length += take;
    }
  }

  get(i: number): number {
    return this.chunks[i >>> CHUNK_SHIFT]![i & (CHUNK - 1)]!;
  }

  set(i: number, v: number): void {
    this.chunks[i >>> CHUNK_SHIFT]![i & (CHUNK - 1)] = v;
  }

  /** Copy `n` values starting at `from` into `dst[at..]`. */
  copyTo(dst: Int32Array, at: number, from: number, n: number): void {
    const off0 = from & (CHUNK - 1);
    if (off0 + n <= CHUNK) {
      const chunk = this.chunks[from >>> CHUNK_SHIFT]!;
      for (let j = 0; j < n; j++) dst[at + j] = chunk[off0 + j]!;
      return;
    }
    while (n > 0) {
      const c = from >>> CHUNK_SHIFT;
      const off = from & (CHUNK - 1);
      const take = Math.min(n, CHUNK - off);
      dst.set(this.chunks[c]!.subarray(off, off + take), at);
      at += take;
      from += take;
      n -= take;
    }
  }

  /** Index of the first value >= `v`, for a non-decreasing sequence. */
  lowerBound(v: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.get(mid) < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

export class CellPack {
  readonly ids = new ChunkedInt32();
  /** (width, count) pairs: consecutive cells of equal width share a run. */
  readonly runs = new ChunkedInt32();
  /**
   * Per cell, the memo slot of its array; a cell that was never memoized repeats its
   * predecessor's value, which keeps the sequence non-decreasing for binary search.
   */
  private readonly memoOf = new ChunkedInt32();
  private lastMemo = -1;
  count = 0;
  private scratch = new Int32Array(64);

  /** The int array's values appended as one cell; false when it is not a 1-D int array whose values fit int32. */
  tryPush(nd: NdArray): boolean {
    if (!nd.dtype || !nd.dtype.isInteger || nd.shape.length !== 1 || !nd.data) return false;
    const w = nd.shape[0]!;
    if (w > this.scratch.length) this.scratch = new Int32Array(w);
    if (!readInt32Into(nd, this.scratch)) return false;
    this.ids.pushAll(this.scratch, w);
    const r = this.runs.length;
    if (r > 0 && this.runs.get(r - 2) === w) this.runs.set(r - 1, this.runs.get(r - 1) + 1);
    else {
      this.runs.push(w);
      this.runs.push(1);
    }
    if (nd.memoIdx > this.lastMemo) this.lastMemo = nd.memoIdx;
    this.memoOf.push(this.lastMemo);
    this.count++;
    return true;
  }

  /** Offset and width of cell `i` (a walk over the runs: only for the rare back-reference). */
  private locate(i: number): { offset: number; width: number } {
    let offset = 0;
    let first = 0;
    for (let r = 0; r < this.runs.length; r += 2) {
      const w = this.runs.get(r);
      const c = this.runs.get(r + 1);
      if (i < first + c) return { offset: offset + (i - first) * w, width: w };
      offset += c * w;
      first += c;
    }
    throw new RangeError(`cell ${i} of ${this.count}`);
  }

  cellValues(i: number): Int32Array {
    const { offset, width } = this.locate(i);
    const out = new Int32Array(width);
    this.ids.copyTo(out, 0, offset, width);
    return out;
  }

  /** The cell whose array was memoized in `slot`, or -1. */
  cellForMemo(slot: number): number {
    const i = this.memoOf.lowerBound(slot);
    return i < this.count && this.memoOf.get(i) === slot ? i : -1;
  }

  /** Cell `i` as an array again (int32: the values were checked to fit). */
  materialize(i: number): NdArray {
    return int32Array(this.cellValues(i));
  }
}
