/**
 * A dataset part as an Apache Arrow IPC file (spec section 7 columns), so pandas, polars,
 * DuckDB and pyarrow users read and write the same files. Writing goes batch by batch
 * straight to disk; reading sizes the arrays from the batch headers first and then
 * decodes one record batch at a time into them, so peak memory stays near the column
 * bytes however large the file.
 */
import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import {
  AsyncByteQueue,
  Field,
  FixedSizeList,
  Float32,
  Float64,
  Int32,
  Int8,
  makeData,
  Message,
  RecordBatch,
  RecordBatchFileWriter,
  RecordBatchReader,
  Schema as ArrowSchema,
  Struct,
  type Data,
  type DataType,
} from 'apache-arrow';
import { atomicTarget } from '../util/atomic.js';
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
import { multiOffsets, multiStride, type Schema } from './schema.js';
import { rowError, validatePartData } from './validate.js';

export const DEFAULT_BATCH_ROWS = 65536;

/** Arrow writes through this queue; writing each chunk to the fd at once keeps memory flat. */
class FdSink extends AsyncByteQueue {
  constructor(private readonly fd: number) {
    super();
  }

  override write(value: Uint8Array): void {
    let off = 0;
    while (off < value.byteLength) off += writeSync(this.fd, value, off, value.byteLength - off);
  }
}

function int32Data(values: Int32Array): Data {
  return makeData({ type: new Int32(), length: values.length, nullCount: 0, data: values });
}

/** Column `i` of a row-major matrix with `stride` columns, rows [r0, r1). */
function columnOf(m: Int32Array, stride: number, i: number, r0: number, r1: number): Int32Array {
  const out = new Int32Array(r1 - r0);
  for (let r = r0; r < r1; r++) out[r - r0] = m[r * stride + i]!;
  return out;
}

function arrowSchemaFor(s: Schema, extra: PartData['extra']): ArrowSchema {
  const fields: Field[] = [new Field('label', new Int8(), false), new Field('aid', new Int32(), false)];
  for (const f of s.userSingle) fields.push(new Field(f.name, new Int32(), false));
  for (const f of s.userMulti) {
    fields.push(new Field(f.name, new FixedSizeList(f.width, new Field('item', new Int32(), false)), false));
  }
  for (const f of s.userMulti) fields.push(new Field(`${f.name}_length`, new Int32(), false));
  for (const f of s.task) fields.push(new Field(f.name, new Int32(), false));
  for (const [name, v] of Object.entries(extra)) {
    const t = v instanceof Float64Array ? new Float64() : v instanceof Float32Array ? new Float32() : new Int32();
    fields.push(new Field(name, t, false));
  }
  return new ArrowSchema(fields);
}

function batchOf(schema: ArrowSchema, s: Schema, d: PartData, r0: number, r1: number): RecordBatch {
  const n = r1 - r0;
  const children: Data[] = [
    makeData({ type: new Int8(), length: n, nullCount: 0, data: new Int8Array(d.label.buffer, d.label.byteOffset + r0, n) }),
    int32Data(d.aid.subarray(r0, r1)),
  ];
  s.userSingle.forEach((_, i) => children.push(int32Data(columnOf(d.single, s.userSingle.length, i, r0, r1))));
  const stride = multiStride(s);
  const offs = multiOffsets(s);
  s.userMulti.forEach((f, i) => {
    const ids = new Int32Array(n * f.width);
    for (let r = r0; r < r1; r++) ids.set(d.multi.subarray(r * stride + offs[i]!, r * stride + offs[i]! + f.width), (r - r0) * f.width);
    const child = int32Data(ids);
    children.push(makeData({ type: schema.fields[children.length]!.type as FixedSizeList, length: n, nullCount: 0, child }));
  });
  s.userMulti.forEach((_, i) => children.push(int32Data(columnOf(d.multiLen, s.userMulti.length, i, r0, r1))));
  s.task.forEach((_, i) => children.push(int32Data(columnOf(d.task, s.task.length, i, r0, r1))));
  for (const v of Object.values(d.extra)) {
    const type = schema.fields[children.length]!.type;
    children.push(makeData({ type, length: n, nullCount: 0, data: v.subarray(r0, r1) } as Parameters<typeof makeData>[0]));
  }
  const data = makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children });
  return new RecordBatch(schema, data);
}

/**
 * Write a part as an Arrow IPC file, atomically (temp name, fsync, rename), in record
 * batches of `batchRows`. The data is validated first, so an importer's mistake surfaces
 * here rather than as an unreadable file later.
 */
export async function writePart(path: string, schema: Schema, data: PartData, opts: { batchRows?: number } = {}): Promise<void> {
  validatePartData(data, schema, path);
  const batchRows = opts.batchRows ?? DEFAULT_BATCH_ROWS;
  if (!Number.isInteger(batchRows) || batchRows < 1) throw new Error(`batchRows must be a positive integer, got ${batchRows}`);
  const arrowSchema = arrowSchemaFor(schema, data.extra);
  const target = atomicTarget(path);
  const fd = openSync(target.tmp, 'w');
  try {
    const writer = new RecordBatchFileWriter();
    writer.reset(new FdSink(fd), arrowSchema);
    for (let r0 = 0; r0 < data.nRows; r0 += batchRows) {
      writer.write(batchOf(arrowSchema, schema, data, r0, Math.min(data.nRows, r0 + batchRows)));
    }
    writer.finish();
    fsyncSync(fd);
    closeSync(fd);
  } catch (e) {
    closeSync(fd);
    target.abort();
    throw e;
  }
  target.commit();
}

const MAGIC = 'ARROW1';

/** Name the format of a file that is not an Arrow IPC file, for a useful message. */
function sniff(head: Buffer): string {
  if (head.length >= 4 && head.readInt32LE(0) === -1) return 'an Arrow IPC stream, not an IPC file (write it with pyarrow.ipc.new_file or pyarrow.feather.write_feather)';
  if (head.subarray(0, 4).toString('latin1') === 'PAR1') return 'a Parquet file, not an Arrow IPC file (convert it with pyarrow.feather.write_feather)';
  if (head[0] === 0x80) return 'a Python pickle, not an Arrow IPC file (convert it with the PaddleRec pickle importer)';
  return 'not an Arrow IPC file (no ARROW1 magic at its start)';
}

/**
 * Check the magic at both ends and read every record batch's row count from its message
 * header (a few hundred bytes each), so arrays can be sized before any body is read.
 */
function batchRowCounts(path: string, blocks: { offset: number }[]): number[] {
  const fd = openSync(path, 'r');
  try {
    return blocks.map((b) => {
      const pre = Buffer.alloc(8);
      readSync(fd, pre, 0, 8, b.offset);
      // Modern IPC: 0xFFFFFFFF continuation then the length; legacy: the length alone.
      const cont = pre.readInt32LE(0) === -1;
      const len = cont ? pre.readInt32LE(4) : pre.readInt32LE(0);
      const meta = Buffer.alloc(len);
      readSync(fd, meta, 0, len, b.offset + (cont ? 8 : 4));
      const m = Message.decode(meta);
      if (!m.isRecordBatch()) throw new DataError(`${path}: corrupt Arrow file (block at byte ${b.offset} is not a record batch)`);
      return m.header().length;
    });
  } finally {
    closeSync(fd);
  }
}

function checkMagic(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new DataError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(8, size));
    readSync(fd, head, 0, head.length, 0);
    if (head.subarray(0, 6).toString('latin1') !== MAGIC) throw new DataError(`${path}: ${size === 0 ? 'empty file' : sniff(head)}`);
    const tail = Buffer.alloc(6);
    if (size < 12 + 6) throw new DataError(`${path}: truncated Arrow file (${size} bytes)`);
    readSync(fd, tail, 0, 6, size - 6);
    if (tail.toString('latin1') !== MAGIC) throw new DataError(`${path}: truncated Arrow file (no footer: the file ends without the ARROW1 magic)`);
  } finally {
    closeSync(fd);
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

function allocate(s: Schema, n: number): PartData {
  return {
    nRows: n,
    label: new Uint8Array(n),
    aid: new Int32Array(n),
    single: new Int32Array(n * s.userSingle.length),
    multi: new Int32Array(n * multiStride(s)),
    multiLen: new Int32Array(n * s.userMulti.length),
    task: new Int32Array(n * s.task.length),
    extra: {},
  };
}

/**
 * Read and validate a part written by writePart or by any Arrow writer (spec section 7
 * columns; integer widths, variable lists and extra numeric columns accepted). Every
 * problem is a DataError naming the file, the column, the first bad row and the value.
 */
export async function readPart(path: string, schema: Schema): Promise<Part> {
  checkMagic(path);
  const handle = await open(path, 'r');
  try {
    let reader: Awaited<ReturnType<typeof RecordBatchReader.from>>;
    try {
      reader = await RecordBatchReader.from(handle);
      await reader.open();
    } catch (e) {
      throw new DataError(`${path}: corrupt Arrow file (${(e as Error).message})`);
    }
    const footer = reader.footer;
    if (!reader.isFile() || !footer) throw new DataError(`${path}: not an Arrow IPC file`);
    const blocks = [];
    for (let i = 0; i < footer.numRecordBatches; i++) blocks.push(footer.getRecordBatch(i)!);
    const counts = batchRowCounts(path, blocks);
    const nRows = counts.reduce((a, b) => a + b, 0);
    const data = allocate(schema, nRows);
    const plans = planColumns(path, schema, reader.schema, data);
    let row0 = 0;
    for (let b = 0; b < blocks.length; b++) {
      let batch: RecordBatch | null;
      try {
        batch = await reader.readRecordBatch(b);
      } catch (e) {
        throw new DataError(`${path}: corrupt Arrow file in record batch ${b} (${(e as Error).message})`);
      }
      if (!batch || batch.numRows !== counts[b]) throw new DataError(`${path}: corrupt Arrow file (record batch ${b} unreadable)`);
      for (const p of plans) {
        const col = batch.data.children[p.index]!;
        try {
          p.copy(col, row0);
        } catch (e) {
          if (e instanceof ChunkError) throw rowError(path, p.name, row0 + e.row, e.what);
          throw e;
        }
      }
      row0 += batch.numRows;
    }
    validatePartData(data, schema, path);
    return { ...data, path, schema, tasks: indexTasks(data.aid) };
  } finally {
    await handle.close();
  }
}
