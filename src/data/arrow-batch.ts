/**
 * One Arrow IPC record batch, decoded for the columns a part needs and checked against its
 * own header before anything is allocated or trusted. The header's field nodes and buffer
 * regions are matched to the schema's fields; every length, region and declared size of
 * a column we read is cross-checked (lengths equal to the batch's, regions inside the body,
 * buffers long enough for their values, list offsets monotone and within their child), so a
 * damaged or hostile file is an error naming the batch and column, never short rows, rows
 * of zeros or a huge allocation. LZ4_FRAME and ZSTD bodies (pyarrow's write_feather writes
 * LZ4 by default) are decompressed here, buffer by buffer, into arrays of the declared size,
 * bounded by what the compressed bytes can expand to.
 */
import { DataType, MetadataVersion, Type, makeData, type Data, type Field } from 'apache-arrow';
import * as lz4 from 'lz4js';
import { decompress as zstdDecompress } from 'fzstd';

/** A region of the batch body, and a field's (length, null count). */
export interface Region {
  offset: number;
  length: number;
}
export interface FieldNode {
  length: number;
  nullCount: number;
}

/** What a record batch message says, with the sizes as plain numbers. */
export interface BatchHeader {
  length: number;
  nodes: FieldNode[];
  buffers: Region[];
  /** 0 LZ4_FRAME, 1 ZSTD (the IPC enum), or null for a plain body. */
  compression: number | null;
  variadicCounts: number[];
}

/** A problem with one batch; the reader adds the file, batch and column. */
export class BatchError extends Error {}

/** Where each top-level field's nodes and buffers start in a batch's lists. */
export interface FieldSlots {
  node: number;
  buffer: number;
}

/**
 * Walk the schema as the IPC format lays it out (one node per field, depth first; buffers
 * per type; a view column's data buffers as many as the batch's `variadicCounts` say),
 * giving each top-level field's first node and buffer, and the totals the batch header
 * must hold.
 */
export function fieldSlots(fields: Field[], version: MetadataVersion, variadicCounts: number[]): { slots: FieldSlots[]; nodes: number; buffers: number; variadic: number } {
  let nodes = 0;
  let buffers = 0;
  let variadic = 0;
  const walk = (t: DataType): void => {
    nodes++;
    switch (t.typeId) {
      case Type.Null:
        return;
      case Type.Binary:
      case Type.Utf8:
      case Type.LargeBinary:
      case Type.LargeUtf8:
        buffers += 3;
        return;
      case Type.BinaryView:
      case Type.Utf8View:
        buffers += 2 + (variadicCounts[variadic++] ?? 0);
        return;
      case Type.List:
      case Type.LargeList:
      case Type.Map:
        buffers += 2;
        break;
      case Type.FixedSizeList:
      case Type.Struct:
        buffers += 1;
        break;
      case Type.Union:
        // V4 unions carried a validity bitmap; dense ones have offsets besides the type ids.
        buffers += (version < MetadataVersion.V5 ? 1 : 0) + (DataType.isDenseUnion(t) ? 2 : 1);
        break;
      default:
        // fixed-width values (ints, floats, bools, decimals, dates, times, intervals,
        // durations, fixed-size binary) and dictionary indices: validity + data
        buffers += 2;
        return;
    }
    for (const c of t.children) walk(c.type as DataType);
  };
  const slots = fields.map((f) => {
    const s = { node: nodes, buffer: buffers };
    walk(f.type as DataType);
    return s;
  });
  return { slots, nodes, buffers, variadic };
}

const LZ4_FRAME = 0;
const ZSTD = 1;
const CODEC_NAMES = ['LZ4_FRAME', 'ZSTD'];

/**
 * The most bytes `n` compressed bytes can decode to: an LZ4 sequence adds at most 255
 * bytes per input byte; a ZSTD RLE block turns 4 bytes into up to 128 KiB.
 */
function maxExpansion(codec: number, n: number): number {
  return codec === LZ4_FRAME ? n * 255 + 64 : Math.ceil(n / 4) * 131072 + 131072;
}

/** Check a header's compression before any body is read: an unknown codec is named. */
export function checkCodec(compression: number | null): void {
  if (compression !== null && compression !== LZ4_FRAME && compression !== ZSTD) {
    throw new BatchError(`compressed with codec number ${compression}, which this reader does not know (it reads LZ4_FRAME and ZSTD)`);
  }
}

/**
 * A buffer's bytes (`raw`, its region of the body), decompressed when the body is. The
 * 8-byte uncompressed length in front of a compressed buffer was checked by bufferSize.
 */
function regionBytes(raw: Uint8Array, compression: number | null): Uint8Array {
  if (compression === null || raw.length === 0) return raw;
  const declared = Number(new DataView(raw.buffer, raw.byteOffset, 8).getBigInt64(0, true));
  const src = raw.subarray(8);
  if (declared === -1) return src;
  const out = new Uint8Array(declared);
  let got: number;
  try {
    got = compression === LZ4_FRAME ? lz4.decompressFrame(src, out) : zstdDecompress(src, out).length;
  } catch (e) {
    throw new BatchError(`${CODEC_NAMES[compression]} data does not decompress (${(e as Error).message})`);
  }
  if (got !== declared) throw new BatchError(`${CODEC_NAMES[compression]} data decompresses to ${got} bytes, its header says ${declared}`);
  return out;
}

/**
 * The size a buffer will have once read: its region length, or for a compressed body the
 * declared uncompressed length, checked against what its compressed bytes can expand to.
 */
export function bufferSize(body: (r: Region) => Uint8Array, r: Region, compression: number | null): number {
  if (compression === null || r.length === 0) return r.length;
  if (r.length < 8) throw new BatchError(`a compressed buffer of ${r.length} bytes, shorter than its 8-byte length prefix`);
  const head = body({ offset: r.offset, length: 8 });
  const declared = new DataView(head.buffer, head.byteOffset, 8).getBigInt64(0, true);
  if (declared === -1n) return r.length - 8;
  if (declared < 0n || declared > BigInt(maxExpansion(compression, r.length - 8))) {
    throw new BatchError(`a ${CODEC_NAMES[compression]} buffer of ${r.length - 8} bytes claims to decompress to ${declared}`);
  }
  return Number(declared);
}

/** A column to read: its type and where its nodes and buffers start. */
export interface ColumnRead {
  type: DataType;
  slots: FieldSlots;
}

function intWidth(t: DataType): number {
  return (t as unknown as { bitWidth: number }).bitWidth / 8;
}

/** Bytes per value of an integer or float column. */
function valueBytes(t: DataType): number {
  if (DataType.isInt(t)) return intWidth(t);
  return [2, 4, 8][(t as unknown as { precision: number }).precision]!;
}

/** A typed view of `bytes`, copied first when its offset is not aligned for the type. */
function aligned(bytes: Uint8Array, width: number): Uint8Array {
  if (bytes.byteOffset % width === 0) return bytes;
  return bytes.slice();
}

/** A batch's bytes: the header and a reader of body regions (inside the body: checked by the caller). */
export interface BatchSource {
  header: BatchHeader;
  bodyLength: number;
  body: (r: Region) => Uint8Array;
}

/**
 * Check, from the header and the 8-byte prefixes of compressed buffers only, that a column
 * of the batch is consistent: its nodes have the batch's length (its child `width` times
 * that, for a fixed-size list), its null counts are within the lengths, its regions lie in
 * the body, and its buffers are long enough for the values they hold. Returns the bytes
 * its buffers will take once read (a list's child length comes from its node, checked
 * against the offsets when they are read).
 */
export function checkColumn(src: BatchSource, c: ColumnRead, maxListItems: number): number {
  const { header } = src;
  const node = (i: number): FieldNode => header.nodes[c.slots.node + i]!;
  const buf = (i: number): Region => header.buffers[c.slots.buffer + i]!;
  let total = 0;
  /**
   * Buffer i must hold `bytes` (or nothing, when `optional`), and at most that rounded up to
   * 64 (writers pad to 8 or 64 bytes): a larger one belongs to more values than the lengths
   * say, as when a batch's length was cut.
   */
  const need = (i: number, bytes: number, what: string, optional = false): void => {
    const r = buf(i);
    if (r.offset < 0 || r.length < 0 || r.offset + r.length > src.bodyLength) {
      throw new BatchError(`its ${what} buffer (bytes ${r.offset}..${r.offset + r.length}) lies outside the batch body of ${src.bodyLength} bytes`);
    }
    const size = bufferSize(src.body, r, header.compression);
    if (optional && size === 0) return;
    if (size < bytes) throw new BatchError(`its ${what} buffer holds ${size} bytes, ${bytes} needed`);
    if (size > Math.ceil(bytes / 64) * 64) throw new BatchError(`its ${what} buffer holds ${size} bytes, more than the ${bytes} its length needs`);
    total += size;
  };
  const checkNode = (i: number, length: number, what: string): FieldNode => {
    const n = node(i);
    if (n.length !== length) throw new BatchError(`${what} length ${n.length}, expected ${length}`);
    if (n.nullCount < 0 || n.nullCount > n.length) throw new BatchError(`${what} null count ${n.nullCount} for ${n.length} values`);
    return n;
  };
  const validity = (i: number, n: FieldNode): void => need(i, Math.ceil(n.length / 8), 'validity', n.nullCount === 0);
  const top = checkNode(0, header.length, 'its');
  validity(0, top);
  const t = c.type;
  if (DataType.isInt(t) || DataType.isFloat(t)) {
    need(1, top.length * valueBytes(t), 'values');
    return total;
  }
  const itemType = t.children[0]!.type as DataType;
  if (DataType.isFixedSizeList(t)) {
    const child = checkNode(1, top.length * t.listSize, 'its items');
    validity(1, child);
    need(2, child.length * intWidth(itemType), 'item values');
    return total;
  }
  const offsetBytes = DataType.isLargeList(t) ? 8 : 4;
  need(1, (top.length + 1) * offsetBytes, 'offsets', top.length === 0);
  const child = node(1);
  if (child.length < 0 || child.nullCount < 0 || child.nullCount > child.length) throw new BatchError(`its items have length ${child.length} and null count ${child.nullCount}`);
  if (child.length > maxListItems) {
    throw new BatchError(`its lists hold ${child.length} items in ${top.length} rows, more than ${maxListItems} (the field's width x 64 per row)`);
  }
  validity(2, child);
  need(3, child.length * intWidth(itemType), 'item values');
  return total;
}

/**
 * Decode a column checked by checkColumn into an apache-arrow Data (the form the copy
 * functions of arrow-columns.ts read), with its list offsets checked.
 */
export function readColumn(src: BatchSource, c: ColumnRead): Data {
  const { header } = src;
  const node = (i: number): FieldNode => header.nodes[c.slots.node + i]!;
  const bytes = (i: number): Uint8Array => regionBytes(src.body(header.buffers[c.slots.buffer + i]!), header.compression);
  const bitmap = (i: number, n: FieldNode): Uint8Array | undefined => (n.nullCount > 0 ? bytes(i) : undefined);
  const flat = (t: DataType, n: FieldNode, b: number): Data =>
    makeData({ type: t as never, length: n.length, nullCount: n.nullCount, nullBitmap: bitmap(b, n), data: aligned(bytes(b + 1), valueBytes(t)) } as never);
  const t = c.type;
  const top = node(0);
  if (DataType.isInt(t) || DataType.isFloat(t)) return flat(t, top, 0);
  const itemType = t.children[0]!.type as DataType;
  if (DataType.isFixedSizeList(t)) {
    return makeData({ type: t, length: top.length, nullCount: top.nullCount, nullBitmap: bitmap(0, top), child: flat(itemType, node(1), 1) } as never);
  }
  const large = DataType.isLargeList(t);
  const raw = top.length === 0 ? new Uint8Array((large ? 8 : 4)) : aligned(bytes(1), large ? 8 : 4);
  const child = flat(itemType, node(1), 2);
  checkOffsets(raw, large, top.length, child.length);
  return makeData({ type: t, length: top.length, nullCount: top.nullCount, nullBitmap: bitmap(0, top), valueOffsets: raw, child } as never);
}

/** List offsets must start at 0 or more, never decrease, and end within the child. */
function checkOffsets(raw: Uint8Array, large: boolean, n: number, childLength: number): void {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const at = large ? (i: number) => Number(dv.getBigInt64(8 * i, true)) : (i: number) => dv.getInt32(4 * i, true);
  let prev = at(0);
  if (prev < 0) throw new BatchError(`its list offsets start at ${prev}`);
  for (let i = 1; i <= n; i++) {
    const o = at(i);
    if (o < prev) throw new BatchError(`row ${i - 1}: list offsets decrease (${prev} then ${o})`);
    prev = o;
  }
  if (prev > childLength) throw new BatchError(`its list offsets end at ${prev}, past the ${childLength} items`);
}
