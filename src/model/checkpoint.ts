/**
 * Checkpoints as single safetensors files (the format of Hugging Face's `safetensors`,
 * readable from Python with `safetensors.torch.load_file`). Tensor names and [out, in]
 * layouts are the official PyTorch implementation's state_dict keys (spec section 3), so
 * weights move between this project and that code. The header's __metadata__ carries the
 * schema, the hyper-parameters and the training position.
 *
 * Written by hand: the format is an 8-byte length, a JSON header and raw little-endian
 * data, and the npm packages for it load whole files into memory or pull in a tensor
 * library; here a 90 MB model streams table by table.
 */
import { closeSync, readSync, fstatSync } from 'node:fs';
import { openForRead } from '../util/files.js';
import { schemaFromJson, schemaToJson, type Schema } from '../data/schema.js';
import { DataError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { Layout, ModelDims } from './layout.js';
import type { Params } from './params.js';

export interface CheckpointMeta {
  schema: Schema;
  dims: ModelDims;
  /** Free-form training info: epoch, optimizer step, hyper-parameters, ... */
  info: Record<string, unknown>;
}

interface TensorSpec {
  name: string;
  shape: number[];
  /** Where it lives: table i, or the flat dense array at an offset. */
  table: number;
  offset: number;
  size: number;
}

/** Every tensor of a model of layout L, tables first, in the order they are written. */
function tensorSpecs(L: Layout): TensorSpec[] {
  const E = L.dims.embedDim;
  return [
    ...L.embeddings.map((e, i) => ({ name: e.name, shape: [e.rows, E], table: i, offset: 0, size: e.rows * E })),
    ...L.dense.map((d) => ({ name: d.name, shape: d.shape, table: -1, offset: d.offset, size: d.size })),
  ];
}

function tensorData(p: Params, t: TensorSpec): Float32Array {
  return asF32(t.table >= 0 ? p.tables[t.table]! : p.dense.subarray(t.offset, t.offset + t.size));
}

function asF32(v: Float32Array | Float64Array): Float32Array {
  return v instanceof Float32Array ? v : Float32Array.from(v);
}

/** Write params to `path` atomically; `extra` adds string keys to the header's metadata. */
export function saveCheckpoint(path: string, p: Params, info: Record<string, unknown> = {}, extra: Record<string, string> = {}): void {
  const ts = tensorSpecs(p.layout).map((t) => ({ ...t, data: tensorData(p, t) }));
  const header: Record<string, unknown> = {
    __metadata__: {
      format: 'pt',
      producer: 'metaheac',
      schema: JSON.stringify(schemaToJson(p.layout.schema)),
      dims: JSON.stringify(p.layout.dims),
      info: JSON.stringify(info),
      ...extra,
    },
  };
  let off = 0;
  for (const t of ts) {
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + t.data.byteLength] };
    off += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  // the data section starts 8-byte aligned, as the reference writer pads it
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  writeFileAtomic(path, [len, json, ...ts.map((t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))]);
}

interface Header {
  meta: Record<string, string>;
  entries: Map<string, { dtype: string; shape: number[]; begin: number; end: number }>;
  dataStart: number;
}

function readHeader(fd: number, path: string): Header {
  const size = fstatSync(fd).size;
  const lenBuf = Buffer.alloc(8);
  if (size < 8 || readSync(fd, lenBuf, 0, 8, 0) !== 8) throw new DataError(`${path}: not a safetensors file (shorter than 8 bytes)`);
  const n = Number(lenBuf.readBigUInt64LE());
  if (n <= 0 || 8 + n > size || n > 100_000_000) throw new DataError(`${path}: not a safetensors file (header length ${n} for a file of ${size} bytes)`);
  const hb = Buffer.alloc(n);
  readSync(fd, hb, 0, n, 8);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(hb.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new DataError(`${path}: not a safetensors file (header is not JSON)`);
  }
  const entries = new Map<string, { dtype: string; shape: number[]; begin: number; end: number }>();
  for (const [k, v] of Object.entries(raw)) {
    if (k === '__metadata__') continue;
    const e = v as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (8 + n + e.data_offsets[1] > size) throw new DataError(`${path}: truncated (tensor "${k}" ends past the end of the file)`);
    entries.set(k, { dtype: e.dtype, shape: e.shape, begin: e.data_offsets[0], end: e.data_offsets[1] });
  }
  return { meta: (raw.__metadata__ ?? {}) as Record<string, string>, entries, dataStart: 8 + n };
}

/** Schema, dims and info of a checkpoint, without reading its tensors. */
export function readCheckpointMeta(path: string): CheckpointMeta {
  const fd = openForRead(path);
  try {
    const h = readHeader(fd, path);
    if (!h.meta.schema || !h.meta.dims) throw new DataError(`${path}: no metaheac metadata (schema, dims) in the header; load it with an explicit config`);
    return {
      schema: schemaFromJson(JSON.parse(h.meta.schema), `${path} (metadata.schema)`),
      dims: JSON.parse(h.meta.dims) as ModelDims,
      info: h.meta.info ? (JSON.parse(h.meta.info) as Record<string, unknown>) : {},
    };
  } finally {
    closeSync(fd);
  }
}


type Entries = Map<string, { dtype: string; shape: number[]; begin: number; end: number }>;

/**
 * The header's tensors, checked against layout L: names may carry the reference's `model.`
 * prefix; a tensor missing, extra, or of another shape or dtype is refused, first one named.
 */
function matchTensors(path: string, h: Header, L: Layout): Entries {
  const want = tensorSpecs(L);
  const strip = (k: string): string => (k.startsWith('model.') ? k.slice(6) : k);
  const have: Entries = new Map([...h.entries].map(([k, v]) => [strip(k), v]));
  for (const t of want) {
    const e = have.get(t.name);
    if (!e) throw new DataError(`${path}: tensor "${t.name}" is missing (the config's schema or hyper-parameters differ from the checkpoint's)`);
    if (e.dtype !== 'F32') throw new DataError(`${path}: tensor "${t.name}" has dtype ${e.dtype}, expected F32`);
    if (e.shape.join(',') !== t.shape.join(',')) {
      throw new DataError(`${path}: tensor "${t.name}" has shape [${e.shape.join(', ')}], the config gives [${t.shape.join(', ')}]`);
    }
  }
  const names = new Set(want.map((t) => t.name));
  for (const k of have.keys()) if (!names.has(k)) throw new DataError(`${path}: unexpected tensor "${k}" (the config's schema or hyper-parameters differ from the checkpoint's)`);
  return have;
}

/** Check, from its header alone, that a checkpoint holds exactly the tensors of layout L. */
export function checkCheckpoint(path: string, L: Layout): void {
  const fd = openForRead(path);
  try {
    matchTensors(path, readHeader(fd, path), L);
  } finally {
    closeSync(fd);
  }
}

/** Read a checkpoint into `p`, refused as checkCheckpoint refuses; returns its info metadata. */
export function loadCheckpoint(path: string, p: Params): Record<string, unknown> {
  const fd = openForRead(path);
  try {
    const h = readHeader(fd, path);
    const have = matchTensors(path, h, p.layout);
    for (const t of tensorSpecs(p.layout)) {
      const e = have.get(t.name)!;
      const buf = new Uint8Array(e.end - e.begin);
      readSync(fd, buf, 0, buf.length, h.dataStart + e.begin);
      const f = new Float32Array(buf.buffer, 0, buf.length / 4);
      if (t.table >= 0) p.tables[t.table]!.set(f);
      else p.dense.set(f, t.offset);
    }
    return h.meta.info ? (JSON.parse(h.meta.info) as Record<string, unknown>) : {};
  } finally {
    closeSync(fd);
  }
}
