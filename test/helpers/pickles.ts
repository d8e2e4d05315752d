/** Hand-assembled pickles (for layouts Python's pickler never writes) and paths to the committed fixtures. */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PartData } from '../../src/data/part.js';
import { multiOffsets, multiStride, type Schema } from '../../src/data/schema.js';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const FIXTURES = join(REPO, 'test', 'fixtures', 'pickle');
export const fixture = (name: string): string => join(FIXTURES, `${name}.pkl`);

/** PaddleRec's shipped sample, read from ../shared (never copied into the repository). */
export const SAMPLE = join(REPO, '..', 'shared', 'fixtures', 'paddlerec_sample_stage.pkl');
export const SAMPLE_SKIP = existsSync(SAMPLE) ? false : `${SAMPLE} is absent (../shared/fixtures is not mounted here)`;

const latin1 = (s: string): number[] => [...Buffer.from(s, 'latin1')];
const u32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];

/** Opcodes by name, each returning its bytes. */
export const op = {
  proto: (n: number) => [0x80, n],
  mark: () => [0x28],
  stop: () => [0x2e],
  none: () => [0x4e],
  newTrue: () => [0x88],
  newFalse: () => [0x89],
  int1: (n: number) => [0x4b, n],
  int: (n: number) => [0x4a, ...u32(n)],
  str: (s: string) => {
    const b = [...Buffer.from(s, 'utf8')];
    return [0x8c, b.length, ...b];
  },
  bytes: (b: number[] | Buffer) => (b.length < 256 ? [0x43, b.length, ...b] : [0x42, ...u32(b.length), ...b]),
  global: (module: string, name: string) => [0x63, ...latin1(`${module}\n${name}\n`)],
  put: (slot: number) => [0x71, slot],
  get: (slot: number) => [0x68, slot],
  tuple: () => [0x74],
  tuple1: () => [0x85],
  tuple3: () => [0x87],
  reduce: () => [0x52],
  build: () => [0x62],
  emptyList: () => [0x5d],
  append: () => [0x61],
  appends: () => [0x65],
};

export function assemble(...parts: number[][]): Buffer {
  return Buffer.from(parts.flat());
}

export function writePickle(dir: string, name: string, bytes: Buffer | number[][]): string {
  const path = join(dir, name);
  writeFileSync(path, Array.isArray(bytes) ? assemble(...bytes) : bytes);
  return path;
}

/**
 * The start of a pickled list of int64 array cells: protocol 2, the dtype (memoized in slot 1,
 * then popped off the stack), an empty list and a mark; int64Cell(..., 1, ...) items follow.
 */
export function cellListStart(): number[][] {
  return [op.proto(2), ...int64Dtype(1), [0x30], op.emptyList(), op.mark()];
}

/** `numpy.dtype('<i8')` built as numpy pickles it, memoized in `slot`. */
export function int64Dtype(slot: number): number[][] {
  return [
    op.global('numpy', 'dtype'),
    op.str('i8'),
    op.newFalse(),
    op.newTrue(),
    op.tuple3(),
    op.reduce(),
    op.put(slot),
    op.mark(),
    op.int1(3),
    op.str('<'),
    op.none(),
    op.none(),
    op.none(),
    op.int(-1),
    op.int(-1),
    op.int1(0),
    op.tuple(),
    op.build(),
  ];
}

/**
 * One int64 array cell the way numpy pickles it: `_reconstruct(ndarray, (0,), b'b')` then
 * BUILD (1, shape, dtype, False, raw bytes). Its parts go in memo slots `slots[0..]`:
 * [args (0,), args tuple, the array, the shape tuple, the raw bytes]; `dtype` is BINGET.
 */
export function int64Cell(values: number[], dtypeSlot: number, slots: number[]): number[][] {
  const raw = Buffer.alloc(8 * values.length);
  values.forEach((v, i) => raw.writeBigInt64LE(BigInt(v), 8 * i));
  return [
    op.global('numpy.core.multiarray', '_reconstruct'),
    op.global('numpy', 'ndarray'),
    op.int1(0),
    op.tuple1(),
    op.put(slots[0]!),
    op.bytes(latin1('b')),
    op.tuple3(),
    op.put(slots[1]!),
    op.reduce(),
    op.put(slots[2]!),
    op.mark(),
    op.int1(1),
    op.int1(values.length),
    op.tuple1(),
    op.put(slots[3]!),
    op.get(dtypeSlot),
    op.newFalse(),
    op.bytes(raw),
    op.put(slots[4]!),
    op.tuple(),
    op.build(),
  ];
}

/** A part's rows as plain objects keyed by column name, for comparing with literals. */
export function rowsOf(schema: Schema, d: PartData): Record<string, number | number[]>[] {
  const stride = multiStride(schema);
  const offs = multiOffsets(schema);
  return Array.from({ length: d.nRows }, (_, r) => {
    const row: Record<string, number | number[]> = { label: d.label[r]!, aid: d.aid[r]! };
    schema.userSingle.forEach((f, i) => (row[f.name] = d.single[r * schema.userSingle.length + i]!));
    schema.userMulti.forEach((f, i) => {
      row[f.name] = [...d.multi.subarray(r * stride + offs[i]!, r * stride + offs[i]! + f.width)];
      row[`${f.name}_length`] = d.multiLen[r * schema.userMulti.length + i]!;
    });
    schema.task.forEach((f, i) => (row[f.name] = d.task[r * schema.task.length + i]!));
    for (const [k, v] of Object.entries(d.extra)) row[k] = v[r]!;
    return row;
  });
}
