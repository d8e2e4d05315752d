/**
 * Decoding one Arrow column chunk (a Data of one record batch) into Int32 values. Files
 * written by pandas, polars, DuckDB or pyarrow carry int64 where we write int32, and
 * variable lists where we write fixed-size ones, so every integer width and every list
 * kind is accepted here, with nulls and out-of-range values reported by row.
 */
import { DataType, Precision, type Data } from 'apache-arrow';

/** Raised with a row index inside the chunk; the reader turns it into a DataError. */
export class ChunkError extends Error {
  constructor(
    readonly row: number,
    readonly what: string,
  ) {
    super(what);
  }
}

export function isIntegerType(t: DataType): boolean {
  return DataType.isInt(t);
}

/** Variable or fixed lists whose items are integers. */
export function isIntegerListType(t: DataType): boolean {
  return (
    (DataType.isList(t) || DataType.isLargeList(t) || DataType.isFixedSizeList(t)) &&
    isIntegerType((t.children[0]!.type) as DataType)
  );
}

/** Numeric columns kept as extras: integers and 32/64-bit floats. */
export function isExtraType(t: DataType): boolean {
  return isIntegerType(t) || (DataType.isFloat(t) && t.precision !== Precision.HALF);
}

/** The first null slot of a chunk, or -1. */
export function firstNull(d: Data): number {
  if (d.nullCount === 0 || !d.nullBitmap || d.nullBitmap.length === 0) return -1;
  const bits = d.nullBitmap;
  for (let i = 0; i < d.length; i++) {
    const b = d.offset + i;
    if ((bits[b >> 3]! & (1 << (b & 7))) === 0) return i;
  }
  return -1;
}

function rejectNulls(d: Data, rowOf: (i: number) => number = (i) => i): void {
  const i = firstNull(d);
  if (i >= 0) throw new ChunkError(rowOf(i), 'null value, expected an integer');
}

/**
 * An integer chunk as Int32 (a view when it already is Int32, else a converted copy).
 * 64-bit values are checked through their two 32-bit halves, which avoids a BigInt per
 * value: a value fits iff the high word is the sign extension of the low word.
 */
export function toInt32(d: Data, rowOf?: (i: number) => number): Int32Array {
  rejectNulls(d, rowOf);
  const t = d.type as DataType;
  if (!DataType.isInt(t)) throw new Error(`toInt32 on a ${String(t)} column`);
  const n = d.length;
  const values = d.values as ArrayLike<number | bigint> & ArrayBufferView;
  const row = rowOf ?? ((i: number) => i);
  if (t.bitWidth === 64) {
    const words = new Int32Array(values.buffer, values.byteOffset + d.offset * 8, n * 2);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const lo = words[2 * i]!;
      const hi = words[2 * i + 1]!;
      if (t.isSigned ? hi !== lo >> 31 : hi !== 0 || lo < 0) {
        throw new ChunkError(row(i), `value ${String((values as BigInt64Array)[d.offset + i])} does not fit in Int32`);
      }
      out[i] = lo;
    }
    return out;
  }
  const src = (values as Int32Array).subarray(d.offset, d.offset + n);
  if (t.bitWidth === 32 && t.isSigned) return src as Int32Array;
  if (t.bitWidth === 32) {
    for (let i = 0; i < n; i++) {
      if (src[i]! > 0x7fffffff) throw new ChunkError(row(i), `value ${src[i]} does not fit in Int32`);
    }
  }
  const out = new Int32Array(n);
  out.set(src);
  return out;
}

/**
 * A list chunk copied into a row-major destination block of `width` ids per row at
 * `dst[(row0 + i) * stride + off ...]`. Longer lists are cut to the width and shorter
 * ones padded with id 0: padded slots carry no meaning because `len` masks them.
 */
export function copyListChunk(
  d: Data,
  width: number,
  dst: Int32Array,
  row0: number,
  stride: number,
  off: number,
): void {
  rejectNulls(d);
  const t = d.type as DataType;
  const child = d.children[0]!;
  const n = d.length;
  if (DataType.isFixedSizeList(t)) {
    const size = t.listSize;
    // Child rows of a sliced parent start at parent offset * size.
    const items = toInt32(child.slice(d.offset * size, n * size), (j) => Math.floor(j / size));
    const k = Math.min(size, width);
    for (let i = 0; i < n; i++) {
      const base = (row0 + i) * stride + off;
      const from = i * size;
      for (let j = 0; j < k; j++) dst[base + j] = items[from + j]!;
      for (let j = k; j < width; j++) dst[base + j] = 0;
    }
    return;
  }
  const offsets = d.valueOffsets as Int32Array | BigInt64Array;
  const at = (i: number): number => Number(offsets[d.offset + i]!);
  const first = at(0);
  const last = at(n);
  const starts = new Int32Array(n + 1);
  for (let i = 0; i <= n; i++) starts[i] = at(i) - first;
  // Map a child index back to its row for error messages (binary search over starts).
  const rowOfItem = (j: number): number => {
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= j) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const items = toInt32(child.slice(first, last - first), rowOfItem);
  for (let i = 0; i < n; i++) {
    const base = (row0 + i) * stride + off;
    const s = starts[i]!;
    const k = Math.min(starts[i + 1]! - s, width);
    for (let j = 0; j < k; j++) dst[base + j] = items[s + j]!;
    for (let j = k; j < width; j++) dst[base + j] = 0;
  }
}

/** An extra column's storage type, decided once from the Arrow schema. */
export function extraArray(t: DataType, n: number): Float64Array | Float32Array | Int32Array {
  if (DataType.isFloat(t)) return t.precision === Precision.SINGLE ? new Float32Array(n) : new Float64Array(n);
  if (DataType.isInt(t) && (t.bitWidth < 32 || (t.bitWidth === 32 && t.isSigned))) return new Int32Array(n);
  return new Float64Array(n);
}

/**
 * Copy an extra chunk into `dst` at `row0`. Nulls become NaN in float storage; in Int32
 * storage there is no NaN to hold them, so they are an error.
 */
export function copyExtraChunk(d: Data, dst: Float64Array | Float32Array | Int32Array, row0: number): void {
  const n = d.length;
  const t = d.type as DataType;
  const values = d.values as ArrayLike<number | bigint>;
  if (dst instanceof Int32Array) {
    dst.set(toInt32(d), row0);
    return;
  }
  if (DataType.isInt(t) && t.bitWidth === 64) {
    for (let i = 0; i < n; i++) dst[row0 + i] = Number(values[d.offset + i]!);
  } else {
    dst.set((values as Float64Array).subarray(d.offset, d.offset + n), row0);
  }
  if (d.nullCount > 0) {
    for (let i = firstNull(d); i >= 0 && i < n; i++) {
      const b = d.offset + i;
      if ((d.nullBitmap![b >> 3]! & (1 << (b & 7))) === 0) dst[row0 + i] = NaN;
    }
  }
}
