/**
 * User ids, exact over the whole int64 range. A uid is a number while it is a safe integer
 * (every uid of today's data, so Sets, Maps and outputs are what they were) and a bigint
 * beyond 2^53, where a double would round it onto another user. One value has one form
 * (uidOf), so a Set or Map of uids finds a user whichever file it came from.
 */
import { DataType, type Data, type Vector } from 'apache-arrow';
import { ChunkError, firstNull } from './arrow-columns.js';

export type Uid = number | bigint;

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
/** |hi word| below this: the int64 is a safe integer. */
const SAFE_HI = 2 ** 21;

/** The one form of an integer uid: a number when safe, else a bigint. */
export function uidOf(v: bigint): Uid {
  return v >= -BigInt(Number.MAX_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** A decimal uid (non-negative, at most 2^63-1, the Int64 the audience files hold), or undefined. */
export function parseUid(s: string): Uid | undefined {
  if (!/^\d+$/.test(s)) return undefined;
  if (s.length < 16) return Number(s);
  const v = BigInt(s);
  return v <= INT64_MAX ? uidOf(v) : undefined;
}

/** Ascending uid order (numbers and bigints compare by value). */
export function compareUids(a: Uid, b: Uid): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A uid in JSON: a number where JSON readers keep it exact, a decimal string above 2^53. */
export function uidJson(u: Uid): number | string {
  return typeof u === 'bigint' ? u.toString() : u;
}

/** Uids as doubles, NaN for one beyond 2^53: a rounded value would name another user. */
export function numericUids(uids: ArrayLike<Uid>): Float64Array {
  return Float64Array.from(uids, (u) => (typeof u === 'number' ? u : NaN));
}

/** Whether a column type holds uids exactly (integers); a float column may already have rounded them. */
export function isUidType(t: DataType): boolean {
  return DataType.isInt(t);
}

/**
 * The uids of an Arrow chunk into `dst` at `row0`, exactly. Integer chunks of any width;
 * 64-bit values are read through their two 32-bit words, so a safe value costs no BigInt.
 * A float chunk (seed lists written by float-only tools) passes only where every value is
 * a safe integer: beyond 2^53 a double names a different user. Nulls and values outside
 * Int64 (where the audience files hold uids) are a ChunkError.
 */
export function copyUidChunk(d: Data, dst: Uid[], row0: number): void {
  const n = d.length;
  const t = d.type as DataType;
  const at = firstNull(d);
  if (at >= 0) throw new ChunkError(at, 'null value, expected a uid');
  if (DataType.isInt(t) && t.bitWidth === 64) {
    const values = d.values as BigInt64Array | BigUint64Array;
    const words = new Int32Array(values.buffer, values.byteOffset + d.offset * 8, n * 2);
    for (let i = 0; i < n; i++) {
      const lo = words[2 * i]! >>> 0;
      const hi = words[2 * i + 1]!;
      if (hi < SAFE_HI && (t.isSigned ? hi >= -SAFE_HI : hi >= 0)) {
        dst[row0 + i] = hi * 2 ** 32 + lo;
        continue;
      }
      const v = values[d.offset + i]!;
      if (v > INT64_MAX || v < INT64_MIN) throw new ChunkError(i, `uid ${v} does not fit in Int64`);
      dst[row0 + i] = uidOf(v);
    }
    return;
  }
  const values = d.values as ArrayLike<number>;
  for (let i = 0; i < n; i++) {
    const v = values[d.offset + i]!;
    if (!Number.isSafeInteger(v)) throw new ChunkError(i, `${String(t)} value ${v} is not an exact uid (store uids as Int64)`);
    dst[row0 + i] = v;
  }
}

/** Every uid of a column, in row order (errors as copyUidChunk, rows counted over the whole column). */
export function uidsOfVector(col: Vector): Uid[] {
  const out: Uid[] = new Array<Uid>(col.length);
  let row0 = 0;
  for (const d of col.data) {
    try {
      copyUidChunk(d, out, row0);
    } catch (e) {
      if (e instanceof ChunkError) throw new ChunkError(row0 + e.row, e.what);
      throw e;
    }
    row0 += d.length;
  }
  return out;
}
