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
import { buildLayout, parameterCount, type Layout, type ModelDims } from './layout.js';
import type { Params } from './params.js';
import { firstNonFinite } from './finite.js';

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

interface Entry {
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

type Entries = Map<string, Entry>;

interface Header {
  /** The __metadata__ strings; empty for a file written without any (e.g. by PyTorch). */
  meta: Record<string, string>;
  entries: Entries;
  dataStart: number;
}

/** Bytes per element of every dtype the safetensors format defines. */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4, I64: 8, U64: 8, F64: 8,
};

/** A header larger than this is not a model checkpoint (ours are a few kB; PyTorch's too). */
const MAX_HEADER = 100_000_000;

/**
 * Parse and validate the header against the file: every tensor's dtype is known, its shape
 * holds non-negative integers, its byte range is exactly shape x dtype bytes, and the
 * ranges tile the data section with no gap or overlap (the format allows neither), so a
 * shortened, overlapping or padded tensor never loads as something else.
 */
function readHeader(fd: number, path: string): Header {
  const size = fstatSync(fd).size;
  const lenBuf = Buffer.alloc(8);
  if (size < 8 || readSync(fd, lenBuf, 0, 8, 0) !== 8) throw new DataError(`${path}: not a safetensors file (shorter than 8 bytes)`);
  const n64 = lenBuf.readBigUInt64LE();
  if (n64 < 2n || n64 > BigInt(Math.min(size - 8, MAX_HEADER))) {
    throw new DataError(`${path}: not a safetensors file (header length ${n64} for a file of ${size} bytes)`);
  }
  const n = Number(n64);
  const hb = Buffer.alloc(n);
  if (readSync(fd, hb, 0, n, 8) !== n) throw new DataError(`${path}: truncated (the header ends past the end of the file)`);
  let raw: unknown;
  try {
    raw = JSON.parse(hb.toString('utf8'));
  } catch (e) {
    throw new DataError(`${path}: not a safetensors file (header is not JSON: ${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new DataError(`${path}: not a safetensors file (header is not a JSON object)`);
  const dataStart = 8 + n;
  const dataBytes = size - dataStart;
  const entries: Entries = new Map();
  for (const [k, v] of Object.entries(raw)) {
    if (k === '__metadata__') continue;
    entries.set(k, entryOf(path, k, v));
  }
  const sorted = [...entries].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let at = 0;
  for (const [k, e] of sorted) {
    if (e.begin < at) throw new DataError(`${path}: tensor "${k}" overlaps the tensor before it (its data starts at byte ${e.begin}, that one ends at ${at})`);
    if (e.begin > at) throw new DataError(`${path}: a gap of ${e.begin - at} bytes before tensor "${k}" (tensors must be contiguous)`);
    if (e.end > dataBytes) throw new DataError(`${path}: truncated (tensor "${k}" ends at byte ${dataStart + e.end}, the file has ${size})`);
    at = e.end;
  }
  if (at !== dataBytes) throw new DataError(`${path}: ${dataBytes - at} bytes after the last tensor that no tensor claims`);
  return { meta: metadataOf(path, (raw as Record<string, unknown>).__metadata__), entries, dataStart };
}

function entryOf(path: string, name: string, v: unknown): Entry {
  const bad = (what: string): DataError => new DataError(`${path}: tensor "${name}": ${what}`);
  if (typeof v !== 'object' || v === null) throw bad('its header entry is not an object');
  const { dtype, shape, data_offsets: offs } = v as Record<string, unknown>;
  if (typeof dtype !== 'string') throw bad('no dtype');
  const width = DTYPE_BYTES[dtype];
  if (width === undefined) throw bad(`unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPE_BYTES).join(', ')})`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) throw bad(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && (o as number) >= 0) || offs[0] > offs[1]) {
    throw bad(`data_offsets ${JSON.stringify(offs)} are not [begin, end] with 0 <= begin <= end`);
  }
  const [begin, end] = offs as [number, number];
  const want = (shape as number[]).reduce((a, d) => a * d, width);
  if (end - begin !== want) throw bad(`holds ${end - begin} bytes, its shape [${shape.join(', ')}] and dtype ${dtype} need ${want}`);
  return { dtype, shape: shape as number[], begin, end };
}

function metadataOf(path: string, m: unknown): Record<string, string> {
  if (m === undefined) return {};
  if (typeof m !== 'object' || m === null || Array.isArray(m) || !Object.values(m).every((x) => typeof x === 'string')) {
    throw new DataError(`${path}: __metadata__ is not a map of strings`);
  }
  return m as Record<string, string>;
}

/** A JSON string of the metadata, parsed; malformed JSON names the key. */
function metaJson(path: string, h: Header, key: string): unknown {
  try {
    return JSON.parse(h.meta[key]!);
  } catch (e) {
    throw new DataError(`${path}: __metadata__.${key} is not JSON (${(e as Error).message})`);
  }
}

function dimsOf(path: string, x: unknown): ModelDims {
  const d = x as Partial<Record<keyof ModelDims, unknown>>;
  const pos = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) > 0;
  if (typeof x !== 'object' || x === null || !pos(d.embedDim) || !pos(d.numExpert) || !pos(d.numOutput) || !Array.isArray(d.mlpDims) || d.mlpDims.length === 0 || !d.mlpDims.every(pos)) {
    throw new DataError(`${path}: __metadata__.dims ${JSON.stringify(x)} is not {embedDim, mlpDims, numExpert, numOutput} of positive integers`);
  }
  return x as ModelDims;
}

/**
 * The model the metadata describes must be no larger than the tensors the file holds:
 * damaged dims (embedDim 1e9) would otherwise size a model of terabytes before any tensor
 * is compared.
 */
function checkMetaSize(path: string, h: Header, L: Layout): void {
  let held = 0;
  for (const e of h.entries.values()) held += e.shape.reduce((a, d) => a * d, 1);
  const want = parameterCount(L);
  if (want > held) {
    throw new DataError(`${path}: __metadata__.dims ${JSON.stringify(L.dims)} and schema describe a model of ${want} parameters, but the file's tensors hold ${held}: the metadata is damaged`);
  }
}

function infoOf(path: string, h: Header): Record<string, unknown> {
  if (!h.meta.info) return {};
  const info = metaJson(path, h, 'info');
  if (typeof info !== 'object' || info === null || Array.isArray(info)) throw new DataError(`${path}: __metadata__.info is not a JSON object`);
  return info as Record<string, unknown>;
}

/**
 * Schema, dims and info of a checkpoint, without reading its tensors; null when the header
 * has no metaheac metadata (a state_dict saved by PyTorch's safetensors has none).
 */
export function readCheckpointMetaIfAny(path: string): CheckpointMeta | null {
  const fd = openForRead(path);
  try {
    const h = readHeader(fd, path);
    if (!h.meta.schema || !h.meta.dims) return null;
    const schema = schemaFromJson(metaJson(path, h, 'schema'), `${path} (metadata.schema)`);
    const dims = dimsOf(path, metaJson(path, h, 'dims'));
    checkMetaSize(path, h, buildLayout(schema, dims));
    return { schema, dims, info: infoOf(path, h) };
  } finally {
    closeSync(fd);
  }
}

/** Schema, dims and info of a checkpoint that must carry metaheac's metadata. */
export function readCheckpointMeta(path: string): CheckpointMeta {
  const meta = readCheckpointMetaIfAny(path);
  if (!meta) throw new DataError(`${path}: no metaheac metadata (schema, dims) in the header; load it with an explicit config`);
  return meta;
}

/**
 * The header's tensors, checked against layout L: names may carry the reference's `model.`
 * prefix; a tensor missing, extra, or of another shape or dtype is refused, first one named.
 */
function matchTensors(path: string, h: Header, L: Layout): Entries {
  const want = tensorSpecs(L);
  const strip = (k: string): string => (k.startsWith('model.') ? k.slice(6) : k);
  const have: Entries = new Map();
  for (const [k, v] of h.entries) {
    if (have.has(strip(k))) throw new DataError(`${path}: tensor "${strip(k)}" appears twice (with and without the "model." prefix)`);
    have.set(strip(k), v);
  }
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

/**
 * Read a checkpoint into `p`, refused as checkCheckpoint refuses, and refused when a weight
 * is NaN or infinite (a diverged run's weights would score every row NaN); returns its
 * info metadata.
 */
export function loadCheckpoint(path: string, p: Params): Record<string, unknown> {
  const fd = openForRead(path);
  try {
    const h = readHeader(fd, path);
    const have = matchTensors(path, h, p.layout);
    for (const t of tensorSpecs(p.layout)) {
      const e = have.get(t.name)!;
      const buf = new Uint8Array(e.end - e.begin);
      if (readSync(fd, buf, 0, buf.length, h.dataStart + e.begin) !== buf.length) throw new DataError(`${path}: truncated (tensor "${t.name}" could not be read whole)`);
      const f = new Float32Array(buf.buffer, 0, buf.length / 4);
      const bad = firstNonFinite(f);
      if (bad >= 0) {
        throw new DataError(`${path}: tensor "${t.name}" holds ${f[bad]} at element ${bad}; a checkpoint with non-finite weights (a diverged or corrupt run) is refused`);
      }
      if (t.table >= 0) p.tables[t.table]!.set(f);
      else p.dense.set(f, t.offset);
    }
    return infoOf(path, h);
  } finally {
    closeSync(fd);
  }
}
