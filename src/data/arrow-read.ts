/**
 * Reading parts from Arrow IPC files written by writePart or by any Arrow writer. Row
 * counts come from the record-batch headers first, so the row-major arrays are allocated
 * once at their final size and each batch is decoded into them and dropped: peak memory
 * stays near the column bytes however large the file.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
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
    const data = allocatePart(schema, nRows);
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
          if (e instanceof ChunkError) throw rowErrorAt(path, p.name, row0 + e.row, e.what);
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
