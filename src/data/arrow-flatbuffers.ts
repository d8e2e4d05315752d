/**
 * A bounds check of Arrow's flatbuffer metadata (the file footer and record-batch
 * messages) before apache-arrow decodes it. Its decoder trusts every vector length (it
 * builds an array of that many field nodes, buffers, blocks or fields, reading zeros past
 * the end), so four damaged bytes can make it build billions of objects. Here every table
 * and vector it will walk must lie inside the bytes, and the walk as a whole may visit no
 * more elements than the bytes can hold.
 */

/** Element sizes of the struct vectors; tables and strings are 4-byte offsets. */
const BLOCK = 24;
const FIELD_NODE = 16;
const BUFFER = 16;
const LONG = 8;
const OFFSET = 4;
/** The flatbuffer Type union's member for Union, whose table holds a vector (typeIds). */
const TYPE_UNION = 14;
/** Message header union members. */
const HEADER_RECORD_BATCH = 3;
const HEADER_DICTIONARY_BATCH = 2;
const HEADER_SCHEMA = 1;

export class FlatbufferError extends Error {}

class Reader {
  /** Vector elements visited so far: at most one per 4 bytes for a buffer without sharing. */
  private budget: number;

  constructor(private readonly b: Uint8Array) {
    this.budget = Math.floor(b.length / 4) + 16;
  }

  private i32(at: number): number {
    if (at < 0 || at + 4 > this.b.length) throw new FlatbufferError(`an offset at byte ${at} lies outside the ${this.b.length}-byte metadata`);
    return this.b[at]! | (this.b[at + 1]! << 8) | (this.b[at + 2]! << 16) | (this.b[at + 3]! << 24);
  }

  private u16(at: number): number {
    if (at < 0 || at + 2 > this.b.length) throw new FlatbufferError(`a vtable at byte ${at} lies outside the ${this.b.length}-byte metadata`);
    return this.b[at]! | (this.b[at + 1]! << 8);
  }

  root(): number {
    return this.i32(0);
  }

  /** Position of field `i` of the table at `table`, or 0 when absent. */
  field(table: number, i: number): number {
    const vtable = table - this.i32(table);
    const size = this.u16(vtable);
    if (4 + 2 * i + 2 > size) return 0;
    const off = this.u16(vtable + 4 + 2 * i);
    return off === 0 ? 0 : table + off;
  }

  /** The table an offset field points to, or 0 when absent. */
  table(table: number, i: number): number {
    const at = this.field(table, i);
    return at === 0 ? 0 : at + this.i32(at);
  }

  u8(table: number, i: number): number {
    const at = this.field(table, i);
    if (at === 0) return 0;
    if (at >= this.b.length) throw new FlatbufferError(`a field at byte ${at} lies outside the metadata`);
    return this.b[at]!;
  }

  /** A vector field's element count, checked to fit; calls `each` with every element's position. */
  vector(table: number, i: number, elemSize: number, each?: (at: number) => void): number {
    const at = this.field(table, i);
    if (at === 0) return 0;
    const vec = at + this.i32(at);
    const n = this.i32(vec);
    if (n < 0 || vec + 4 + n * elemSize > this.b.length) {
      throw new FlatbufferError(`a vector of ${n >>> 0} elements at byte ${vec} does not fit the ${this.b.length}-byte metadata`);
    }
    this.budget -= n;
    if (this.budget < 0) throw new FlatbufferError('the metadata refers to more elements than it can hold');
    if (each) for (let k = 0; k < n; k++) each(vec + 4 + k * elemSize);
    return n;
  }

  /** The table an element of a vector of tables points to. */
  deref(at: number): number {
    return at + this.i32(at);
  }
}

function checkField(r: Reader, field: number, depth: number): void {
  if (depth > 64) throw new FlatbufferError('fields nested more than 64 deep');
  if (r.u8(field, 2) === TYPE_UNION) {
    const t = r.table(field, 3);
    if (t) r.vector(t, 1, 4);
  }
  r.vector(field, 5, OFFSET, (at) => checkField(r, r.deref(at), depth + 1));
  r.vector(field, 6, OFFSET);
}

function checkSchema(r: Reader, schema: number): void {
  r.vector(schema, 1, OFFSET, (at) => checkField(r, r.deref(at), 0));
  r.vector(schema, 2, OFFSET);
  r.vector(schema, 3, LONG);
}

function checkRecordBatch(r: Reader, batch: number): void {
  r.vector(batch, 1, FIELD_NODE);
  r.vector(batch, 2, BUFFER);
  r.vector(batch, 4, LONG);
}

export interface BlockRef {
  offset: number;
  metaDataLength: number;
  bodyLength: number;
}

/** The footer of an IPC file (schema and block lists); returns its dictionary blocks, which apache-arrow reads on opening. */
export function checkFooter(bytes: Uint8Array): BlockRef[] {
  const r = new Reader(bytes);
  const footer = r.root();
  const schema = r.table(footer, 1);
  if (schema) checkSchema(r, schema);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dictionaries: BlockRef[] = [];
  r.vector(footer, 2, BLOCK, (at) =>
    dictionaries.push({ offset: Number(dv.getBigInt64(at, true)), metaDataLength: dv.getInt32(at + 8, true), bodyLength: Number(dv.getBigInt64(at + 16, true)) }),
  );
  r.vector(footer, 3, BLOCK);
  r.vector(footer, 4, OFFSET);
  return dictionaries;
}

/** One encapsulated message's metadata (without its length prefix). */
export function checkMessage(bytes: Uint8Array): void {
  const r = new Reader(bytes);
  const message = r.root();
  const header = r.table(message, 2);
  if (header) {
    const kind = r.u8(message, 1);
    if (kind === HEADER_RECORD_BATCH) checkRecordBatch(r, header);
    else if (kind === HEADER_DICTIONARY_BATCH) {
      const data = r.table(header, 1);
      if (data) checkRecordBatch(r, data);
    } else if (kind === HEADER_SCHEMA) checkSchema(r, header);
  }
  r.vector(message, 4, OFFSET);
}
