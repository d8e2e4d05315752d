/**
 * Writing parts as Arrow IPC files: fixed-size record batches streamed straight to a
 * temporary file that is renamed into place when complete, so a crash never leaves a
 * half-written part under the real name and memory stays at one batch.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, fsyncSync, writeSync } from 'node:fs';
import {
  AsyncByteQueue,
  Field,
  FixedSizeList,
  Float32,
  Float64,
  Int32,
  Int8,
  makeData,
  RecordBatch,
  RecordBatchFileWriter,
  Schema as ArrowSchema,
  Struct,
  type Data,
} from 'apache-arrow';
import { openAtomic, type AtomicTarget } from '../util/atomic.js';
import { fsError } from '../util/errors.js';
import type { PartData, PartKind } from './part.js';
import { allocatePart, copyRows, extraKind, type ExtraKind } from './part-ops.js';
import { multiOffsets, multiStride, type Schema } from './schema.js';
import { validatePartData } from './validate.js';

export const DEFAULT_BATCH_ROWS = 65536;

/** Arrow writes through this queue; writing each chunk to the fd at once keeps memory flat. */
export class FdSink extends AsyncByteQueue {
  constructor(
    private readonly fd: number,
    /** The file being written, named when a write fails (ENOSPC, EIO, ...). */
    private readonly path: string,
    /** Fed every byte written: the file's hash without reading it back. */
    private readonly hash?: Hash,
  ) {
    super();
  }

  override write(value: Uint8Array): void {
    let off = 0;
    try {
      while (off < value.byteLength) off += writeSync(this.fd, value, off, value.byteLength - off);
    } catch (e) {
      throw fsError(this.path, 'write', e);
    }
    this.hash?.update(value);
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

const EXTRA_TYPES = { float64: () => new Float64(), float32: () => new Float32(), int32: () => new Int32() };

function arrowSchemaFor(s: Schema, extra: Record<string, ExtraKind>, kind: PartKind): ArrowSchema {
  const extras = Object.entries(extra).map(([name, k]) => new Field(name, EXTRA_TYPES[k](), false));
  // a user table leads with its extras (the uid) and has no label, aid or task columns
  if (kind === 'users') return new ArrowSchema([...extras, ...userFieldsOf(s)]);
  const fields: Field[] = [new Field('label', new Int8(), false), new Field('aid', new Int32(), false), ...userFieldsOf(s)];
  for (const f of s.task) fields.push(new Field(f.name, new Int32(), false));
  return new ArrowSchema([...fields, ...extras]);
}

function userFieldsOf(s: Schema): Field[] {
  const fields: Field[] = [];
  for (const f of s.userSingle) fields.push(new Field(f.name, new Int32(), false));
  for (const f of s.userMulti) {
    fields.push(new Field(f.name, new FixedSizeList(f.width, new Field('item', new Int32(), false)), false));
  }
  for (const f of s.userMulti) fields.push(new Field(`${f.name}_length`, new Int32(), false));
  return fields;
}

/** Rows [r0, r1) of `d` as one record batch, column-major as Arrow stores it. */
function batchOf(schema: ArrowSchema, s: Schema, d: PartData, r0: number, r1: number, kind: PartKind): RecordBatch {
  const n = r1 - r0;
  const children: Data[] = [];
  const extras = (): void => {
    for (const v of Object.values(d.extra)) {
      const type = schema.fields[children.length]!.type;
      children.push(makeData({ type, length: n, nullCount: 0, data: v.subarray(r0, r1) } as Parameters<typeof makeData>[0]));
    }
  };
  if (kind === 'users') extras();
  else {
    children.push(makeData({ type: new Int8(), length: n, nullCount: 0, data: new Int8Array(d.label.buffer, d.label.byteOffset + r0, n) }));
    children.push(int32Data(d.aid.subarray(r0, r1)));
  }
  s.userSingle.forEach((_, i) => children.push(int32Data(columnOf(d.single, s.userSingle.length, i, r0, r1))));
  const stride = multiStride(s);
  const offs = multiOffsets(s);
  s.userMulti.forEach((f, i) => {
    const ids = new Int32Array(n * f.width);
    for (let r = r0; r < r1; r++) {
      const from = r * stride + offs[i]!;
      ids.set(d.multi.subarray(from, from + f.width), (r - r0) * f.width);
    }
    const type = schema.fields[children.length]!.type as FixedSizeList;
    children.push(makeData({ type, length: n, nullCount: 0, child: int32Data(ids) }));
  });
  s.userMulti.forEach((_, i) => children.push(int32Data(columnOf(d.multiLen, s.userMulti.length, i, r0, r1))));
  if (kind === 'part') {
    s.task.forEach((_, i) => children.push(int32Data(columnOf(d.task, s.task.length, i, r0, r1))));
    extras();
  }
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children }));
}

export interface PartWriterOptions {
  /** Extra numeric columns every appended chunk carries (e.g. `{ p_true: 'float64' }`). */
  extra?: Record<string, ExtraKind>;
  batchRows?: number;
  /** `users`: a user table (extras such as `uid` first, then the user fields; no label, aid or task columns). */
  kind?: PartKind;
  /** Hash the bytes as they are written (`sha256` after close), for a dataset's manifest. */
  hash?: boolean;
}

/**
 * A part written chunk by chunk (for generators and importers that never hold a whole
 * part): appended rows are validated, buffered into full record batches and written;
 * close() renames the finished file into place, abort() removes it.
 */
export class PartWriter {
  private readonly arrowSchema: ArrowSchema;
  private readonly target: AtomicTarget;
  private readonly fd: number;
  private readonly writer = new RecordBatchFileWriter();
  private readonly batchRows: number;
  private readonly buf: PartData;
  private buffered = 0;
  private done = false;
  private readonly kind: PartKind;
  /** Rows appended so far. */
  rows = 0;
  /** The task ids appended so far (a dataset's manifest lists them per part). */
  readonly aids = new Set<number>();
  private readonly hash: Hash | undefined;
  private digest: string | null = null;

  constructor(
    readonly path: string,
    readonly schema: Schema,
    opts: PartWriterOptions = {},
  ) {
    this.batchRows = opts.batchRows ?? DEFAULT_BATCH_ROWS;
    if (!Number.isInteger(this.batchRows) || this.batchRows < 1) {
      throw new Error(`batchRows must be a positive integer, got ${this.batchRows}`);
    }
    const extra = opts.extra ?? {};
    this.kind = opts.kind ?? 'part';
    if (this.kind === 'users') this.schema = { ...schema, task: [] };
    this.arrowSchema = arrowSchemaFor(this.schema, extra, this.kind);
    this.buf = allocatePart(this.schema, this.batchRows, extra);
    this.hash = opts.hash ? createHash('sha256') : undefined;
    ({ target: this.target, fd: this.fd } = openAtomic(path));
    // Starting with the schema makes a part with no rows still a valid file.
    this.writer.reset(new FdSink(this.fd, path, this.hash), this.arrowSchema);
  }

  append(d: PartData): void {
    if (this.done) throw new Error(`${this.path}: append after close`);
    const want = Object.keys(this.buf.extra).join(',');
    const got = Object.keys(d.extra).join(',');
    if (want !== got) throw new Error(`${this.path}: appended extra columns [${got}] differ from the writer's [${want}]`);
    for (const [k, a] of Object.entries(d.extra)) {
      if (extraKind(a) !== extraKind(this.buf.extra[k]!)) throw new Error(`${this.path}: extra column "${k}" changed type`);
    }
    validatePartData(d, this.schema, this.path, this.rows);
    for (let i = 0; i < d.nRows; i++) this.aids.add(d.aid[i]!);
    let r = 0;
    // Whole batches go straight from the caller's arrays; only remainders are buffered.
    if (this.buffered === 0) {
      for (; r + this.batchRows <= d.nRows; r += this.batchRows) {
        this.writer.write(batchOf(this.arrowSchema, this.schema, d, r, r + this.batchRows, this.kind));
      }
    }
    while (r < d.nRows) {
      const n = Math.min(d.nRows - r, this.batchRows - this.buffered);
      copyRows(this.schema, d, r, this.buf, this.buffered, n);
      this.buffered += n;
      r += n;
      if (this.buffered === this.batchRows) this.flush();
    }
    this.rows += d.nRows;
  }

  private flush(): void {
    if (this.buffered > 0) this.writer.write(batchOf(this.arrowSchema, this.schema, this.buf, 0, this.buffered, this.kind));
    this.buffered = 0;
  }

  close(): void {
    if (this.done) return;
    try {
      this.flush();
      this.writer.finish();
      fsyncSync(this.fd);
    } catch (e) {
      this.abort();
      throw fsError(this.path, 'write', e);
    }
    this.done = true;
    closeSync(this.fd);
    this.digest = this.hash?.digest('hex') ?? null;
    this.target.commit();
  }

  /** SHA-256 of the file, hashed as it was written (option `hash`); after close. */
  get sha256(): string {
    if (this.digest === null) throw new Error(`${this.path}: no sha256 (written without the hash option, or not closed)`);
    return this.digest;
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    closeSync(this.fd);
    this.target.abort();
  }
}

/**
 * Write a whole part as an Arrow IPC file, atomically, in record batches of `batchRows`.
 * The data is validated first, so an importer's mistake surfaces here rather than as a
 * file the loader refuses later.
 */
export async function writePart(path: string, schema: Schema, data: PartData, opts: { batchRows?: number } = {}): Promise<void> {
  writeWhole((extra) => new PartWriter(path, schema, { extra, batchRows: opts.batchRows }), data);
}

/** Open a writer for `data`'s extra columns, write all of it, and close (or abort on error). */
export function writeWhole(open: (extra: Record<string, ExtraKind>) => PartWriter, data: PartData): void {
  const w = open(Object.fromEntries(Object.entries(data.extra).map(([k, a]) => [k, extraKind(a)])));
  try {
    w.append(data);
  } catch (e) {
    w.abort();
    throw e;
  }
  w.close();
}
