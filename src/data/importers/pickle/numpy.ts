/**
 * numpy arrays as pickles carry them: `_reconstruct(ndarray, (0,), b'b')` followed by
 * BUILD (version, shape, dtype, is_fortran, raw bytes | list of objects), or, from
 * protocol 5 on, `_frombuffer(buffer, dtype, shape, order)`. Values stay as the raw bytes;
 * readers decode one element at a time in the array's own byte order.
 */
import type { PyList } from './list.js';
import { PickleError, expectBytes, expectInt, expectStr, expectTuple, typeName, type Buildable, type PyCallable } from './values.js';

const KIND_NAMES: Record<string, string> = {
  b: 'bool',
  i: 'int',
  u: 'uint',
  f: 'float',
  c: 'complex',
  O: 'object',
  U: 'str',
  S: 'bytes',
  V: 'void',
  M: 'datetime64',
  m: 'timedelta64',
};

export class DType implements Buildable {
  readonly typeName = 'numpy.dtype';
  readonly kind: string;
  readonly itemsize: number;
  littleEndian = true;
  /** Why values of this dtype cannot be read as numbers, or null when they can. */
  unsupported: string | null = null;

  constructor(readonly code: string) {
    const m = /^([a-zA-Z?])(\d*)/.exec(code);
    if (!m) throw new PickleError(`numpy.dtype("${code}") is not a dtype this reader knows`);
    this.kind = m[1] === '?' ? 'b' : m[1]!;
    this.itemsize = m[2] ? Number(m[2]) : this.kind === 'b' ? 1 : 0;
    if (this.kind === 'U') this.itemsize *= 4;
    const numeric =
      (this.kind === 'b' && this.itemsize === 1) ||
      ((this.kind === 'i' || this.kind === 'u') && [1, 2, 4, 8].includes(this.itemsize)) ||
      (this.kind === 'f' && (this.itemsize === 4 || this.itemsize === 8));
    if (!numeric && this.kind !== 'O') this.unsupported = `dtype ${code} (${KIND_NAMES[this.kind] ?? 'unknown kind'})`;
  }

  /** numpy's dtype state: (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata]). */
  setState(state: unknown): void {
    const s = expectTuple(state, 'numpy.dtype state');
    if (s.length < 8) throw new PickleError(`numpy.dtype state has ${s.length} items, expected 8 or 9`);
    const order = expectStr(s[1], 'numpy.dtype byte order');
    if (order === '>') this.littleEndian = false;
    else if (order !== '<' && order !== '|' && order !== '=') throw new PickleError(`numpy.dtype byte order "${order}" is not one of < > | =`);
    if (s[2] !== null) this.unsupported = `a sub-array dtype (${this.code})`;
    if (s[3] !== null) this.unsupported = `a structured dtype (${this.code})`;
  }

  get isNumeric(): boolean {
    return this.kind !== 'O' && this.unsupported === null;
  }

  get isInteger(): boolean {
    return this.isNumeric && this.kind !== 'f';
  }
}

export class NdArray implements Buildable {
  readonly typeName = 'numpy.ndarray';
  dtype: DType | null = null;
  shape: number[] = [];
  /** Whether `data` holds the elements in Fortran (column-major) order. */
  fortran = false;
  /** Raw element bytes of a numeric array, in memory order. */
  data: Uint8Array | null = null;
  /**
   * The elements of an object array, in C (row-major) order whatever `fortran` says:
   * numpy pickles object arrays by iterating them, numeric ones by dumping memory.
   */
  objects: PyList | unknown[] | null = null;
  /** The memo slot holding this array, by which a later back-reference finds its packed copy. */
  memoIdx = -1;
  /** Its values were copied into a packed column: the object itself may be dropped. */
  packed = false;

  get size(): number {
    let n = 1;
    for (const d of this.shape) n *= d;
    return n;
  }

  /** BUILD: (version, shape, dtype, is_fortran, data), or the 4-item form without version. */
  setState(state: unknown): void {
    const s = expectTuple(state, 'numpy.ndarray state');
    const body = s.length === 5 ? s.slice(1) : s.length === 4 ? s : null;
    if (!body) throw new PickleError(`numpy.ndarray state has ${s.length} items, expected 4 or 5`);
    const [shape, dtype, fortran, data] = body;
    if (!(dtype instanceof DType)) throw new PickleError(`numpy.ndarray state: dtype is a ${typeName(dtype)}`);
    this.dtype = dtype;
    this.shape = shapeOf(shape);
    this.fortran = fortran === true || fortran === 1;
    if (dtype.kind === 'O') {
      if (!Array.isArray(data) && !isPyList(data)) throw new PickleError(`object array data must be a list, found ${typeName(data)}`);
      const n = (data as PyList | unknown[]).length;
      if (n !== this.size) throw new PickleError(`object array of shape (${this.shape.join(', ')}) holds ${n} objects, expected ${this.size}`);
      this.objects = data as PyList | unknown[];
    } else {
      this.setData(expectBytes(data, 'numpy.ndarray data'));
    }
  }

  setData(bytes: Uint8Array): void {
    const want = this.size * this.dtype!.itemsize;
    if (bytes.byteLength !== want) {
      throw new PickleError(`numpy array of shape (${this.shape.join(', ')}) and dtype ${this.dtype!.code} needs ${want} bytes, found ${bytes.byteLength}`);
    }
    this.data = bytes;
  }
}

/** Avoids a runtime import of list.ts (which imports this module). */
function isPyList(x: unknown): boolean {
  return typeof x === 'object' && x !== null && (x as { typeName?: string }).typeName === 'list';
}

function shapeOf(x: unknown): number[] {
  const t = expectTuple(x, 'numpy shape');
  return t.map((d, i) => {
    const v = expectInt(d, `numpy shape[${i}]`);
    if (v < 0) throw new PickleError(`numpy shape[${i}] is negative (${v})`);
    return v;
  });
}

/**
 * A reader of element `i` (in memory order) as a JS number. int64 values beyond 2^53 come
 * back rounded, which is harmless: every consumer range-checks against int32 ids.
 */
export function elementReader(dtype: DType, bytes: Uint8Array): (i: number) => number {
  if (!dtype.isNumeric) throw new PickleError(`cannot read numbers from ${dtype.unsupported ?? 'an object array'}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = dtype.littleEndian;
  const k = dtype.kind;
  switch (dtype.itemsize) {
    case 1:
      return k === 'i' ? (i) => dv.getInt8(i) : (i) => dv.getUint8(i);
    case 2:
      return k === 'i' ? (i) => dv.getInt16(2 * i, le) : (i) => dv.getUint16(2 * i, le);
    case 4:
      if (k === 'f') return (i) => dv.getFloat32(4 * i, le);
      return k === 'i' ? (i) => dv.getInt32(4 * i, le) : (i) => dv.getUint32(4 * i, le);
    default: {
      if (k === 'f') return (i) => dv.getFloat64(8 * i, le);
      const hiAt = le ? 4 : 0;
      const loAt = le ? 0 : 4;
      return k === 'i'
        ? (i) => dv.getInt32(8 * i + hiAt, le) * 4294967296 + dv.getUint32(8 * i + loAt, le)
        : (i) => dv.getUint32(8 * i + hiAt, le) * 4294967296 + dv.getUint32(8 * i + loAt, le);
    }
  }
}

/**
 * Decode an integer array's elements into `out` as int32. Returns false (leaving `out`
 * partly written) when a value does not fit: the caller then keeps the array whole so the
 * exact value can be reported later. One loop per width, no per-element closure: this
 * runs once per cell of a multi-GB file.
 */
export function readInt32Into(nd: NdArray, out: Int32Array): boolean {
  const dt = nd.dtype!;
  const b = nd.data!;
  const n = nd.size;
  const le = dt.littleEndian;
  const signed = dt.kind === 'i';
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  switch (dt.itemsize) {
    case 1:
      for (let i = 0; i < n; i++) out[i] = signed ? dv.getInt8(i) : b[i]!;
      return true;
    case 2:
      for (let i = 0; i < n; i++) out[i] = signed ? dv.getInt16(2 * i, le) : dv.getUint16(2 * i, le);
      return true;
    case 4:
      for (let i = 0; i < n; i++) {
        const v = dv.getInt32(4 * i, le);
        if (!signed && v < 0) return false;
        out[i] = v;
      }
      return true;
    default: {
      const hiAt = le ? 4 : 0;
      const loAt = le ? 0 : 4;
      for (let i = 0; i < n; i++) {
        const lo = dv.getInt32(8 * i + loAt, le);
        const hi = dv.getInt32(8 * i + hiAt, le);
        // Fits int32 when the high word is the sign extension of the low word.
        if (signed ? hi !== lo >> 31 : hi !== 0 || lo < 0) return false;
        out[i] = lo;
      }
      return true;
    }
  }
}

/** A 1-D int32 array, the form streamed cells take when a pickle refers back to one. */
export function int32Array(values: Int32Array): NdArray {
  const nd = new NdArray();
  nd.dtype = new DType('i4');
  nd.shape = [values.length];
  nd.data = new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  return nd;
}

/** `numpy.ndarray`: only ever the subtype argument of _reconstruct. */
export const NDARRAY: PyCallable = { qualName: 'numpy.ndarray' };

export const RECONSTRUCT: PyCallable = {
  qualName: 'numpy.core.multiarray._reconstruct',
  call(args) {
    if (args.length !== 3) throw new PickleError(`_reconstruct takes 3 arguments, got ${args.length}`);
    if (args[0] !== NDARRAY) throw new PickleError(`_reconstruct of ${typeName(args[0])}: only plain numpy.ndarray is supported`);
    return new NdArray();
  },
};

export const FROMBUFFER: PyCallable = {
  qualName: 'numpy.core.numeric._frombuffer',
  call(args) {
    if (args.length !== 4) throw new PickleError(`_frombuffer takes 4 arguments, got ${args.length}`);
    const [buf, dtype, shape, order] = args;
    if (!(dtype instanceof DType)) throw new PickleError(`_frombuffer dtype is a ${typeName(dtype)}`);
    if (dtype.kind === 'O') throw new PickleError('_frombuffer of an object dtype');
    const nd = new NdArray();
    nd.dtype = dtype;
    nd.shape = shapeOf(shape);
    const o = expectStr(order, '_frombuffer order');
    if (o !== 'C' && o !== 'F') throw new PickleError(`_frombuffer order "${o}" is not C or F`);
    nd.fortran = o === 'F' && nd.shape.length > 1;
    nd.setData(expectBytes(buf, '_frombuffer buffer'));
    return nd;
  },
};

export const DTYPE: PyCallable = {
  qualName: 'numpy.dtype',
  call(args) {
    return new DType(expectStr(args[0], 'numpy.dtype argument'));
  },
};

/** `numpy.core.multiarray.scalar(dtype, bytes)`: a numpy scalar, as a JS number. */
export const SCALAR: PyCallable = {
  qualName: 'numpy.core.multiarray.scalar',
  call(args) {
    const [dtype, raw] = args;
    if (!(dtype instanceof DType)) throw new PickleError(`numpy scalar dtype is a ${typeName(dtype)}`);
    if (dtype.kind === 'O') return raw;
    const bytes = expectBytes(raw, 'numpy scalar data');
    if (bytes.byteLength !== dtype.itemsize) throw new PickleError(`numpy scalar of dtype ${dtype.code} has ${bytes.byteLength} bytes`);
    return elementReader(dtype, bytes)(0);
  },
};
