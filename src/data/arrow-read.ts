/**
 * Reading parts from Arrow IPC files written by writePart or by any Arrow writer. Row
 * counts come from the record-batch headers first, so the row-major arrays are allocated
 * once at their final size and each batch is decoded into them and dropped: peak memory
 * stays near the column bytes however large the file.
 */
import { closeSync, fstatSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Message, RecordBatchReader, type Data, type DataType, type RecordBatch, type Schema as ArrowSchema } from 'apache-arrow';
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
import { indexTasks, type Part, type PartData } from './part.js';
import { allocatePart } from './part-ops.js';
import { multiOffsets, multiStride, type Schema } from './schema.js';
import { rowErrorAt, validatePartData } from './validate.js';
import { openForRead } from '../util/files.js';

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

/**
 * An open Arrow IPC file, read one record batch at a time. Each batch's bytes are read into
 * one reused buffer behind the schema (and any dictionary) messages and parsed as a tiny
 * IPC stream, so the decoded columns are views into that buffer and no per-batch garbage
 * piles up between collections.
 */
class ArrowFile {
  private buf: Buffer;
  private readonly prefixLength: number;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    readonly schema: ArrowSchema,
    readonly batches: (Block & { rows: number })[],
    prefix: Buffer,
  ) {
    this.prefixLength = prefix.length;
    const largest = Math.max(0, ...batches.map((b) => b.metaDataLength + b.bodyLength));
    this.buf = Buffer.alloc(prefix.length + largest);
    prefix.copy(this.buf);
  }

  static async open(path: string): Promise<ArrowFile> {
    const fd = openForRead(path);
    try {
      const size = fstatSync(fd).size;
      const head = readAt(fd, 0, Math.min(HEAD, size));
      if (head.subarray(0, 6).toString('latin1') !== MAGIC) throw new DataError(`${path}: ${size === 0 ? 'empty file' : sniff(head)}`);
      if (size < HEAD + 4 + 6 || readAt(fd, size - 6, 6).toString('latin1') !== MAGIC) {
        throw new DataError(`${path}: truncated Arrow file (no footer: the file ends without the ARROW1 magic)`);
      }
      const { schema, records, dictionaries } = await readFooter(path);
      const prefix = Buffer.concat([schemaMessage(schema), ...dictionaries.map((b) => readAt(fd, b.offset, b.metaDataLength + b.bodyLength))]);
      const batches = records.map((b) => ({ ...b, rows: batchRows(path, fd, b) }));
      return new ArrowFile(path, fd, schema, batches, prefix);
    } catch (e) {
      closeSync(fd);
      throw e instanceof DataError ? e : new DataError(`${path}: corrupt Arrow file (${(e as Error).message})`);
    }
  }

  read(i: number): RecordBatch {
    const b = this.batches[i]!;
    const n = b.metaDataLength + b.bodyLength;
    if (readSync(this.fd, this.buf, this.prefixLength, n, b.offset) !== n) throw new DataError(`${this.path}: truncated Arrow file (record batch ${i} ends past the end of the file)`);
    let batch: RecordBatch | undefined;
    try {
      batch = RecordBatchReader.from(this.buf.subarray(0, this.prefixLength + n)).readAll()[0];
    } catch (e) {
      throw new DataError(`${this.path}: corrupt Arrow file in record batch ${i} (${(e as Error).message})`);
    }
    if (!batch || batch.numRows !== b.rows) throw new DataError(`${this.path}: corrupt Arrow file (record batch ${i} unreadable)`);
    return batch;
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
 * The schema as an encapsulated IPC stream message. Built from the footer's schema rather
 * than copied from the file: apache-arrow's own file writer does not repeat the schema
 * message after the magic, as pyarrow's does.
 */
function schemaMessage(schema: ArrowSchema): Buffer {
  const fb = Message.encode(Message.from(schema));
  const padded = (fb.byteLength + 8 + 7) & ~7;
  const out = Buffer.alloc(padded);
  out.writeInt32LE(-1, 0);
  out.writeInt32LE(padded - 8, 4);
  out.set(fb, 8);
  return out;
}

/** A record batch's row count from its message header, so arrays are sized before any body is read. */
function batchRows(path: string, fd: number, b: Block): number {
  const pre = readAt(fd, b.offset, 8);
  // Modern IPC: 0xFFFFFFFF continuation then the length; legacy: the length alone.
  const skip = pre.readInt32LE(0) === -1 ? 8 : 4;
  const m = Message.decode(readAt(fd, b.offset + skip, b.metaDataLength - skip));
  if (!m.isRecordBatch()) throw new DataError(`${path}: corrupt Arrow file (block at byte ${b.offset} is not a record batch)`);
  return m.header().length;
}

/** The footer, through apache-arrow's own file reader (it reads only the footer and schema). */
async function readFooter(path: string): Promise<{ schema: ArrowSchema; records: Block[]; dictionaries: Block[] }> {
  const handle = await open(path, 'r');
  try {
    const reader = await RecordBatchReader.from(handle);
    await reader.open();
    const footer = reader.footer;
    if (!reader.isFile() || !footer) throw new DataError(`${path}: not an Arrow IPC file`);
    const blocks = (n: number, get: (i: number) => Block | null) => Array.from({ length: n }, (_, i) => get(i)!);
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

/** One column to decode: where it goes in PartData. */
interface Plan {
  name: string;
  index: number;
  copy: (d: Data, row0: number) => void;
}

function planColumns(path: string, s: Schema, arrow: ArrowSchema, out: PartData): Plan[] {
  const byName = new Map<string, number>();
  arrow.fields.forEach((f, i) => byName.set(f.name, i));
  const plans: Plan[] = [];
  const missing: string[] = [];
  const need = (name: string, kind: 'int' | 'list', width: number | undefined, copy: Plan['copy']): void => {
    const i = byName.get(name);
    if (i === undefined) {
      missing.push(`"${name}" (${describeExpected(kind, width)})`);
      return;
    }
    const t = arrow.fields[i]!.type as DataType;
    const ok = kind === 'int' ? isIntegerType(t) : isIntegerListType(t);
    if (!ok) throw new DataError(`${path}: column "${name}" has type ${String(t)}, expected ${describeExpected(kind, width)}`);
    plans.push({ name, index: i, copy });
  };
  /** An integer column into a row-major matrix of `stride` columns at column `col`. */
  const intInto = (dst: Int32Array, stride: number, col: number) => (d: Data, row0: number) => {
    const v = toInt32(d);
    for (let i = 0; i < v.length; i++) dst[(row0 + i) * stride + col] = v[i]!;
  };
  need('label', 'int', undefined, (d, row0) => {
    const v = toInt32(d);
    for (let i = 0; i < v.length; i++) {
      // Checked before narrowing to Uint8, where -1 or 256 would wrap into range.
      if (v[i] !== 0 && v[i] !== 1) throw new ChunkError(i, `label ${v[i]}, expected 0 or 1`);
      out.label[row0 + i] = v[i]!;
    }
  });
  need('aid', 'int', undefined, intInto(out.aid, 1, 0));
  s.userSingle.forEach((f, i) => need(f.name, 'int', undefined, intInto(out.single, s.userSingle.length, i)));
  const stride = multiStride(s);
  const offs = multiOffsets(s);
  s.userMulti.forEach((f, i) => need(f.name, 'list', f.width, (d, row0) => copyListChunk(d, f.width, out.multi, row0, stride, offs[i]!)));
  s.userMulti.forEach((f, i) => need(`${f.name}_length`, 'int', undefined, intInto(out.multiLen, s.userMulti.length, i)));
  s.task.forEach((f, i) => need(f.name, 'int', undefined, intInto(out.task, s.task.length, i)));
  if (missing.length > 0) throw new DataError(`${path}: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  const used = new Set(plans.map((p) => p.name));
  arrow.fields.forEach((f, i) => {
    const t = f.type as DataType;
    if (used.has(f.name) || !isExtraType(t)) return;
    const dst = extraArray(t, out.nRows);
    out.extra[f.name] = dst;
    plans.push({ name: f.name, index: i, copy: (d, row0) => copyExtraChunk(d, dst, row0) });
  });
  return plans;
}

/**
 * Read and validate a part written by writePart or by any Arrow writer (spec section 7
 * columns; integer widths, variable lists and extra numeric columns accepted). Every
 * problem is a DataError naming the file, the column, the first bad row and the value.
 */
export async function readPart(path: string, schema: Schema, onProgress?: (rows: number, total: number) => void): Promise<Part> {
  const file = await ArrowFile.open(path);
  try {
    const nRows = file.batches.reduce((a, b) => a + b.rows, 0);
    const data = allocatePart(schema, nRows);
    const plans = planColumns(path, schema, file.schema, data);
    let row0 = 0;
    for (let b = 0; b < file.batches.length; b++) {
      const batch = file.read(b);
      for (const p of plans) {
        try {
          p.copy(batch.data.children[p.index]!, row0);
        } catch (e) {
          if (e instanceof ChunkError) throw rowErrorAt(path, p.name, row0 + e.row, e.what);
          throw e;
        }
      }
      row0 += batch.numRows;
      onProgress?.(row0, nRows);
    }
    validatePartData(data, schema, path);
    return { ...data, path, schema, tasks: indexTasks(data.aid) };
  } finally {
    file.close();
  }
}
