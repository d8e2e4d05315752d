/**
 * Reading parts from Arrow IPC files written by writePart or by any Arrow writer. Row
 * counts come from the record-batch headers first (checked against the bytes that back
 * them), so the row-major arrays are allocated once at their final size and each batch is
 * decoded into them and dropped: peak memory stays near the column bytes however large
 * the file.
 */
import { closeSync, fstatSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Message, RecordBatchReader, type Data, type DataType, type Schema as ArrowSchema } from 'apache-arrow';
import { checkFooter, checkMessage, FlatbufferError } from './arrow-flatbuffers.js';
import { BatchError, checkCodec, checkColumn, fieldSlots, readColumn, type BatchHeader, type BatchSource, type FieldSlots } from './arrow-batch.js';
import { DataError } from '../util/errors.js';
import {
  ChunkError,
  copyExtraChunk,
  copyListChunk,
  extraArray,
  isExtraType,
  isIntegerListType,
  isIntegerType,
  toInt32,
} from './arrow-columns.js';
import { indexTasks, userTableGivenForPart, type Part, type PartData, type PartKind } from './part.js';
import { allocatePart, sliceRows } from './part-ops.js';
import { multiOffsets, multiStride, type Schema } from './schema.js';
import { rowErrorAt, validatePartData } from './validate.js';
import { openForRead } from '../util/files.js';
import { copyUidChunk, isUidType, type Uid } from './uid.js';

const MAGIC = 'ARROW1';
/** "ARROW1" plus two bytes of padding open the file. */
const HEAD = 8;

/** Name the format of a file that is not an Arrow IPC file, for a useful message. */
function sniff(head: Buffer): string {
  if (head.length >= 4 && head.readInt32LE(0) === -1) return 'an Arrow IPC stream, not an IPC file (write it with pyarrow.ipc.new_file or pyarrow.feather.write_feather)';
  if (head.subarray(0, 4).toString('latin1') === 'PAR1') return 'a Parquet file, not an Arrow IPC file (convert it with pyarrow.feather.write_feather)';
  if (head[0] === 0x80) return 'a Python pickle, not an Arrow IPC file (convert it with the PaddleRec pickle importer)';
  return 'not an Arrow IPC file (no ARROW1 magic at its start)';
}

interface Block {
  offset: number;
  metaDataLength: number;
  bodyLength: number;
}

interface Batch extends Block {
  header: BatchHeader;
  /** Where each field's nodes and buffers start in this batch. */
  slots: FieldSlots[];
  /** File offset of the body. */
  bodyAt: number;
}

/**
 * An open Arrow IPC file whose record batches have been checked against the file and the
 * schema (blocks inside the file and apart, one message per block, as many nodes and
 * buffers as the schema lays out, a known codec). Bodies are read one at a time into one
 * reused buffer, and only the columns asked for are decoded (./arrow-batch.ts).
 */
export class ArrowFile {
  private buf = Buffer.alloc(0);

  private constructor(
    readonly path: string,
    private readonly fd: number,
    readonly schema: ArrowSchema,
    readonly batches: Batch[],
  ) {}

  static async open(path: string): Promise<ArrowFile> {
    const fd = openForRead(path);
    try {
      const size = fstatSync(fd).size;
      const head = readAt(fd, 0, Math.min(HEAD, size));
      if (head.subarray(0, 6).toString('latin1') !== MAGIC) throw new DataError(`${path}: ${size === 0 ? 'empty file' : sniff(head)}`);
      if (size < HEAD + 4 + 6 || readAt(fd, size - 6, 6).toString('latin1') !== MAGIC) {
        throw new DataError(`${path}: truncated Arrow file (no footer: the file ends without the ARROW1 magic)`);
      }
      const footerLength = readAt(fd, size - 10, 4).readInt32LE(0);
      const footerAt = size - 10 - footerLength;
      if (footerLength <= 0 || footerAt < HEAD) throw new DataError(`${path}: corrupt Arrow file (a footer of ${footerLength} bytes in a file of ${size})`);
      checkMetadata(path, fd, footerAt, footerLength, size);
      const { schema, records, dictionaries } = await readFooter(path);
      checkBlocks(path, fd, [...records, ...dictionaries], footerAt);
      const batches = records.map((b, i) => {
        try {
          return { ...b, ...batchHeader(fd, b, schema) };
        } catch (e) {
          if (e instanceof BatchError) throw new DataError(`${path}: corrupt Arrow file: record batch ${i} ${e.message}`);
          throw e;
        }
      });
      return new ArrowFile(path, fd, schema, batches);
    } catch (e) {
      closeSync(fd);
      throw e instanceof DataError ? e : new DataError(`${path}: corrupt Arrow file (${(e as Error).message})`);
    }
  }

  /** Batch i's header and a reader of its body regions straight from the file (for checks before loading). */
  peek(i: number): BatchSource {
    const b = this.batches[i]!;
    return { header: b.header, bodyLength: b.bodyLength, body: (r) => readAt(this.fd, b.bodyAt + r.offset, r.length) };
  }

  /** Batch i with its body read into memory. */
  load(i: number): BatchSource {
    const b = this.batches[i]!;
    if (this.buf.length < b.bodyLength) this.buf = Buffer.alloc(b.bodyLength);
    if (readSync(this.fd, this.buf, 0, b.bodyLength, b.bodyAt) !== b.bodyLength) {
      throw new DataError(`${this.path}: truncated Arrow file (record batch ${i} ends past the end of the file)`);
    }
    const buf = this.buf;
    return { header: b.header, bodyLength: b.bodyLength, body: (r) => buf.subarray(r.offset, r.offset + r.length) };
  }

  close(): void {
    closeSync(this.fd);
  }
}

function readAt(fd: number, position: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  const got = readSync(fd, b, 0, n, position);
  return b.subarray(0, got);
}

/**
 * Bounds-check the footer's flatbuffer, and the messages of the dictionary blocks that
 * apache-arrow reads on opening, before apache-arrow decodes them (./arrow-flatbuffers.ts).
 */
function checkMetadata(path: string, fd: number, footerAt: number, footerLength: number, size: number): void {
  try {
    for (const d of checkFooter(readAt(fd, footerAt, footerLength))) {
      if (d.offset < HEAD || d.metaDataLength < 8 || d.offset + d.metaDataLength > footerAt) {
        throw new FlatbufferError(`a dictionary block at byte ${d.offset} lies outside the data section`);
      }
      checkMessage(messageBytes(fd, d.offset, d.metaDataLength, size));
    }
  } catch (e) {
    if (e instanceof FlatbufferError) throw new DataError(`${path}: corrupt Arrow file (footer: ${e.message})`);
    throw e;
  }
}

/** The flatbuffer of the message at `offset` in a block of `metaDataLength` bytes. */
function messageBytes(fd: number, offset: number, metaDataLength: number, size: number): Buffer {
  const pre = readAt(fd, offset, 8);
  if (pre.length < 8) throw new FlatbufferError(`a message at byte ${offset} past the end of the file`);
  // Modern IPC: 0xFFFFFFFF continuation then the length; legacy: the length alone.
  const skip = pre.readInt32LE(0) === -1 ? 8 : 4;
  const length = pre.readInt32LE(skip - 4);
  if (length <= 0 || skip + length > metaDataLength || offset + skip + length > size) {
    throw new FlatbufferError(`a message of ${length} bytes at byte ${offset}, in a block of ${metaDataLength}`);
  }
  return readAt(fd, offset + skip, length);
}

/**
 * The footer's blocks must tile the data section as every writer lays it out: the first
 * one right after the magic or after the schema message, each next one where the previous
 * ends, the last one followed only by the end-of-stream marker. A block pointing elsewhere,
 * or bytes that no block covers (a record batch left out of the footer would silently
 * shorten the part), make the file corrupt.
 */
function checkBlocks(path: string, fd: number, blocks: Block[], footerAt: number): void {
  if (blocks.length === 0) return;
  const sorted = [...blocks].sort((a, b) => a.offset - b.offset);
  const pre = readAt(fd, HEAD, 8);
  const schemaEnd = pre.length < 8 ? HEAD : pre.readInt32LE(0) === -1 ? HEAD + 8 + pre.readInt32LE(4) : HEAD + 4 + pre.readInt32LE(0);
  const corrupt = (what: string) => new DataError(`${path}: corrupt Arrow file (${what})`);
  let end = sorted[0]!.offset;
  if (end !== HEAD && end !== schemaEnd) throw corrupt(`its first block starts at byte ${end}, not after the schema at byte ${schemaEnd}`);
  for (const b of sorted) {
    if (b.offset !== end) throw corrupt(`bytes ${Math.min(end, b.offset)}..${Math.max(end, b.offset)} ${b.offset > end ? 'belong to no block listed in the footer (a record batch missing from it?)' : 'are claimed by two blocks'}`);
    if (b.metaDataLength < 8 || b.bodyLength < 0) throw corrupt(`a block at byte ${b.offset} with metadata of ${b.metaDataLength} and a body of ${b.bodyLength} bytes`);
    end = b.offset + b.metaDataLength + b.bodyLength;
  }
  const tail = footerAt - end;
  if (tail !== 0 && tail !== 4 && tail !== 8) {
    throw corrupt(tail < 0 ? `its last block ends at byte ${end}, inside the footer (byte ${footerAt})` : `bytes ${end}..${footerAt} belong to no block listed in the footer (a record batch missing from it?)`);
  }
}

/**
 * A record batch's message, checked against its block and the schema's layout, so arrays
 * are sized from numbers that the file backs before any body is read.
 */
function batchHeader(fd: number, b: Block, schema: ArrowSchema): { header: BatchHeader; slots: FieldSlots[]; bodyAt: number } {
  let bytes: Buffer;
  try {
    bytes = messageBytes(fd, b.offset, b.metaDataLength, Number.MAX_SAFE_INTEGER);
    checkMessage(bytes);
  } catch (e) {
    if (e instanceof FlatbufferError) throw new BatchError(`has damaged metadata (${e.message})`);
    throw e;
  }
  const m = Message.decode(bytes);
  if (!m.isRecordBatch()) throw new BatchError('is not a record batch message');
  if (m.bodyLength !== b.bodyLength) throw new BatchError(`says its body has ${m.bodyLength} bytes, the footer says ${b.bodyLength}`);
  const h = m.header();
  const header: BatchHeader = {
    length: Number(h.length),
    nodes: h.nodes.map((n) => ({ length: Number(n.length), nullCount: Number(n.nullCount) })),
    buffers: h.buffers.map((r) => ({ offset: Number(r.offset), length: Number(r.length) })),
    compression: h.compression ? h.compression.type : null,
    variadicCounts: h.variadicBufferCounts.map(Number),
  };
  if (!Number.isSafeInteger(header.length) || header.length < 0) throw new BatchError(`has length ${header.length}`);
  const layout = fieldSlots(schema.fields, schema.metadataVersion, header.variadicCounts);
  if (header.variadicCounts.length !== layout.variadic) throw new BatchError(`has ${header.variadicCounts.length} variadic buffer counts, the schema has ${layout.variadic} view columns`);
  if (header.nodes.length !== layout.nodes || header.buffers.length !== layout.buffers) {
    throw new BatchError(`has ${header.nodes.length} field nodes and ${header.buffers.length} buffers, the schema lays out ${layout.nodes} and ${layout.buffers}`);
  }
  checkCodec(header.compression);
  return { header, slots: layout.slots, bodyAt: b.offset + b.metaDataLength };
}

/** The footer, through apache-arrow's own file reader (it reads only the footer and schema). */
async function readFooter(path: string): Promise<{ schema: ArrowSchema; records: Block[]; dictionaries: Block[] }> {
  const handle = await open(path, 'r');
  try {
    const reader = await RecordBatchReader.from(handle);
    await reader.open();
    const footer = reader.footer;
    if (!reader.isFile() || !footer) throw new DataError(`${path}: not an Arrow IPC file`);
    const blocks = (n: number, get: (i: number) => Block | null) =>
      Array.from({ length: n }, (_, i) => {
        const b = get(i)!;
        return { offset: Number(b.offset), metaDataLength: b.metaDataLength, bodyLength: Number(b.bodyLength) };
      });
    return {
      schema: reader.schema,
      records: blocks(footer.numRecordBatches, (i) => footer.getRecordBatch(i)),
      dictionaries: blocks(footer.numDictionaries, (i) => footer.getDictionaryBatch(i)),
    };
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`${path}: corrupt Arrow file (${(e as Error).message})`);
  } finally {
    await handle.close();
  }
}

/** What the reader expects of each required column, for the messages. */
function describeExpected(kind: 'int' | 'list', width?: number): string {
  return kind === 'int' ? 'an integer type (Int32)' : `FixedSizeList<Int32>[${width}] or List<Int32|Int64>`;
}

/** One column to decode, and where it goes once the part is allocated. */
interface Plan {
  name: string;
  index: number;
  type: DataType;
  /** Most list items a batch of n rows may hold (lists are cut to the width). */
  maxItems: (rows: number) => number;
  bind: (out: PartData) => (d: Data, row0: number) => void;
}

/** Lists average at most this many times their field's width per row. */
const LIST_SLACK = 64;

function planColumns(path: string, s: Schema, arrow: ArrowSchema, kind: PartKind = 'part'): Plan[] {
  const byName = new Map<string, number>();
  arrow.fields.forEach((f, i) => byName.set(f.name, i));
  const plans: Plan[] = [];
  const missing: string[] = [];
  const need = (name: string, kind: 'int' | 'list', width: number | undefined, bind: Plan['bind']): void => {
    const i = byName.get(name);
    if (i === undefined) {
      missing.push(`"${name}" (${describeExpected(kind, width)})`);
      return;
    }
    const t = arrow.fields[i]!.type as DataType;
    const ok = kind === 'int' ? isIntegerType(t) : isIntegerListType(t);
    if (!ok) throw new DataError(`${path}: column "${name}" has type ${String(t)}, expected ${describeExpected(kind, width)}`);
    plans.push({ name, index: i, type: t, maxItems: (rows) => rows * (width ?? 1) * LIST_SLACK + 1024, bind });
  };
  /** An integer column into a row-major matrix of `stride` columns at column `col`. */
  const intInto = (pick: (out: PartData) => Int32Array, stride: number, col: number) => (out: PartData) => {
    const dst = pick(out);
    return (d: Data, row0: number) => {
      const v = toInt32(d);
      for (let i = 0; i < v.length; i++) dst[(row0 + i) * stride + col] = v[i]!;
    };
  };
  if (kind === 'part') need('label', 'int', undefined, (out) => (d, row0) => {
    const v = toInt32(d);
    for (let i = 0; i < v.length; i++) {
      // Checked before narrowing to Uint8, where -1 or 256 would wrap into range.
      if (v[i] !== 0 && v[i] !== 1) throw new ChunkError(i, `label ${v[i]}, expected 0 or 1`);
      out.label[row0 + i] = v[i]!;
    }
  });
  if (kind === 'part') need('aid', 'int', undefined, intInto((o) => o.aid, 1, 0));
  s.userSingle.forEach((f, i) => need(f.name, 'int', undefined, intInto((o) => o.single, s.userSingle.length, i)));
  const stride = multiStride(s);
  const offs = multiOffsets(s);
  s.userMulti.forEach((f, i) => need(f.name, 'list', f.width, (out) => (d, row0) => copyListChunk(d, f.width, out.multi, row0, stride, offs[i]!)));
  s.userMulti.forEach((f, i) => need(`${f.name}_length`, 'int', undefined, intInto((o) => o.multiLen, s.userMulti.length, i)));
  if (kind === 'part') s.task.forEach((f, i) => need(f.name, 'int', undefined, intInto((o) => o.task, s.task.length, i)));
  if (kind === 'part' && missing.length > 0 && byName.has('uid') && !byName.has('label')) throw new DataError(userTableGivenForPart(path));
  if (missing.length > 0) throw new DataError(`${path}: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  const used = new Set(plans.map((p) => p.name));
  arrow.fields.forEach((f, i) => {
    const t = f.type as DataType;
    if (used.has(f.name) || !isExtraType(t)) return;
    plans.push({
      name: f.name,
      index: i,
      type: t,
      maxItems: () => 0,
      bind: (out) => {
        const dst = extraArray(t, out.nRows);
        out.extra[f.name] = dst;
        return (d, row0) => copyExtraChunk(d, dst, row0);
      },
    });
  });
  return plans;
}

/** Run a check of batch b's column p, turning a BatchError into a DataError naming the file, batch and column. */
function batchErrorsOf(path: string): <T>(b: number, p: Plan, f: () => T) => T {
  return (b, p, f) => {
    try {
      return f();
    } catch (e) {
      if (e instanceof BatchError) throw new DataError(`${path}: corrupt Arrow file: record batch ${b}, column "${p.name}": ${e.message}`);
      throw e;
    }
  };
}

/**
 * Read and validate a part written by writePart or by any Arrow writer (spec section 7
 * columns; integer widths, variable lists, extra numeric columns and LZ4/ZSTD bodies
 * accepted). Every batch's header is checked against the file and the schema before the
 * part is allocated, so its size is backed by the file's bytes. Every problem is a
 * DataError naming the file, the column, the first bad row and the value.
 */
export async function readPart(path: string, schema: Schema, onProgress?: (rows: number, total: number) => void): Promise<Part> {
  const file = await ArrowFile.open(path);
  try {
    const plans = planColumns(path, schema, file.schema);
    const inBatch = batchErrorsOf(path);
    let nRows = 0;
    for (let b = 0; b < file.batches.length; b++) {
      const src = file.peek(b);
      const slots = file.batches[b]!.slots;
      for (const p of plans) inBatch(b, p, () => checkColumn(src, { type: p.type, slots: slots[p.index]! }, p.maxItems(src.header.length)));
      nRows += src.header.length;
    }
    const data = allocatePart(schema, nRows);
    const copies = plans.map((p) => p.bind(data));
    let row0 = 0;
    for (let b = 0; b < file.batches.length; b++) {
      const src = file.load(b);
      const slots = file.batches[b]!.slots;
      plans.forEach((p, k) => {
        const d = inBatch(b, p, () => readColumn(src, { type: p.type, slots: slots[p.index]! }));
        try {
          copies[k]!(d, row0);
        } catch (e) {
          if (e instanceof ChunkError) throw rowErrorAt(path, p.name, row0 + e.row, e.what);
          throw e;
        }
      });
      row0 += src.header.length;
      onProgress?.(row0, nRows);
    }
    validatePartData(data, schema, path);
    return { ...data, path, schema, tasks: indexTasks(data.aid) };
  } finally {
    file.close();
  }
}

/** Rows of an Arrow IPC file, from its record-batch headers (no body is read). */
export async function countRows(path: string): Promise<number> {
  const file = await ArrowFile.open(path);
  try {
    return file.batches.reduce((a, b) => a + Number(b.header.length), 0);
  } finally {
    file.close();
  }
}

export interface StreamOptions {
  kind?: PartKind;
  /** Only rows [from, to) of the file (default: all). */
  from?: number;
  to?: number;
}

/** Batch `src`'s uid column, exactly (errors name the file row). */
function exactUids(path: string, src: BatchSource, slots: FieldSlots, p: Plan, row0: number): Uid[] {
  const d = readColumn(src, { type: p.type, slots });
  const out = new Array<Uid>(d.length);
  try {
    copyUidChunk(d, out, 0);
  } catch (e) {
    if (e instanceof ChunkError) throw rowErrorAt(path, 'uid', row0 + e.row, e.what);
    throw e;
  }
  return out;
}

/**
 * A user table's `uid` column: required, and an integer type, since a float column may
 * already have rounded uids above 2^53 onto other users.
 */
function uidColumnIndex(path: string, arrow: ArrowSchema): number {
  const i = arrow.fields.findIndex((f) => f.name === 'uid');
  if (i < 0) throw new DataError(`${path}: no "uid" column (a user table has a uid column of integers and the user fields)`);
  const t = arrow.fields[i]!.type as DataType;
  if (!isUidType(t)) throw new DataError(`${path}: column "uid" has type ${String(t)}, expected an integer type (Int64 or Int32): a float cannot hold every uid exactly`);
  return i;
}

/**
 * A part or user table read one record batch at a time, for files too large to hold (a
 * user pool of millions): yields each batch's rows (cut to [from, to)) with the file row of
 * its first, checked and validated like readPart. The yielded arrays are reused by the next
 * batch. For a user table, `schema` is the dataset's (its task fields are ignored), the
 * data has no task columns (`task` empty), zero labels and aids, and `uid` holds the uids
 * exactly (`data.extra.uid` is the column as a number extra, rounded above 2^53).
 */
export async function* streamPart(path: string, schema: Schema, opts: StreamOptions = {}): AsyncGenerator<{ row0: number; data: PartData; uid: Uid[] }> {
  const kind = opts.kind ?? 'part';
  const s = kind === 'users' ? { ...schema, task: [] } : schema;
  const file = await ArrowFile.open(path);
  try {
    const plans = planColumns(path, s, file.schema, kind);
    const uidAt = kind === 'users' ? uidColumnIndex(path, file.schema) : -1;
    const uidPlan = plans.find((p) => p.index === uidAt);
    const rows = file.batches.map((b) => Number(b.header.length));
    const total = rows.reduce((a, b) => a + b, 0);
    const from = Math.max(0, opts.from ?? 0);
    const to = Math.min(total, opts.to ?? total);
    const buf = allocatePart(s, Math.max(0, ...rows));
    const inBatch = batchErrorsOf(path);
    let start = 0;
    for (let b = 0; b < file.batches.length; b++) {
      const n = rows[b]!;
      const row0 = start;
      start += n;
      if (start <= from || row0 >= to) continue;
      const slots = file.batches[b]!.slots;
      const peek = file.peek(b);
      for (const p of plans) inBatch(b, p, () => checkColumn(peek, { type: p.type, slots: slots[p.index]! }, p.maxItems(n)));
      const src = file.load(b);
      const view = sliceRows(s, buf, 0, n);
      for (const p of plans) {
        const d = inBatch(b, p, () => readColumn(src, { type: p.type, slots: slots[p.index]! }));
        try {
          p.bind(view)(d, 0);
        } catch (e) {
          if (e instanceof ChunkError) throw rowErrorAt(path, p.name, row0 + e.row, e.what);
          throw e;
        }
      }
      const a = Math.max(from, row0) - row0;
      const z = Math.min(to, start) - row0;
      const data = sliceRows(s, view, a, z);
      validatePartData(data, s, path, row0 + a);
      yield { row0: row0 + a, data, uid: uidPlan ? exactUids(path, src, slots[uidAt]!, uidPlan, row0).slice(a, z) : [] };
    }
  } finally {
    file.close();
  }
}
