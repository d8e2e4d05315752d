/**
 * Named float tensors out of the reference implementations' weight files, read with the
 * project's own pickle reader (only the tensor-rebuilding globals allowed, ./pickle/torch.ts):
 *
 * - torch.save(state_dict) in PyTorch's zip format (`<name>/data.pkl` plus one entry per
 *   storage, `<name>/data/<key>`) or in the legacy format (magic number, protocol version
 *   and system-info pickles, the object pickle, the storage keys pickle, then each storage
 *   as an 8-byte element count and its bytes);
 * - PaddlePaddle's .pdparams: a pickled dict of numpy arrays.
 *
 * The zip directory is read here rather than with a zip library: torch.save stores its
 * entries uncompressed, and reading a pickle or a storage in place needs the entry's byte
 * offset, which zip libraries hide behind decompressing streams.
 */
import { closeSync, fstatSync, readSync } from 'node:fs';
import { DataError } from '../../util/errors.js';
import { openForRead } from '../../util/files.js';
import { elementReader, NdArray } from './pickle/numpy.js';
import { torchGlobal, torchPersistentLoad, TorchTensor, type TorchStorage } from './pickle/torch.js';
import { unpickleRange, type UnpickleOptions } from './pickle/unpickler.js';
import { PyDict, typeName } from './pickle/values.js';

export interface NamedTensor {
  shape: number[];
  /** Row-major values. */
  data: Float32Array;
}

const TORCH_OPTS: UnpickleOptions = { globals: torchGlobal, persistentLoad: torchPersistentLoad };
/** torch/serialization.py's MAGIC_NUMBER and PROTOCOL_VERSION of the legacy format. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;
const MAX_DIRECTORY_BYTES = 64 << 20;

interface ZipEntry {
  start: number;
  size: number;
}

function readAt(fd: number, pos: number, n: number, path: string): Buffer {
  const b = Buffer.alloc(n);
  if (readSync(fd, b, 0, n, pos) !== n) throw new DataError(`${path}: truncated (${n} bytes wanted at byte ${pos})`);
  return b;
}

function u64(b: Buffer, at: number): number {
  const v = Number(b.readBigUInt64LE(at));
  if (!Number.isSafeInteger(v)) throw new DataError('zip field past 2^53');
  return v;
}

/** The stored entries of a zip file, by name, with where their bytes lie. */
function zipEntries(fd: number, size: number, path: string): Map<string, ZipEntry> {
  const tailLen = Math.min(size, 65535 + 22);
  const tail = readAt(fd, size - tailLen, tailLen, path);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) if (tail.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  if (eocd < 0) throw new DataError(`${path}: a zip file without its end-of-directory record (truncated?)`);
  let count = tail.readUInt16LE(eocd + 10);
  let dirSize = tail.readUInt32LE(eocd + 12);
  let dirStart = tail.readUInt32LE(eocd + 16);
  if (count === 0xffff || dirSize === 0xffffffff || dirStart === 0xffffffff) {
    // zip64: the locator sits just before the end record
    if (eocd < 20 || tail.readUInt32LE(eocd - 20) !== 0x07064b50) throw new DataError(`${path}: a zip64 file without its locator`);
    const at = u64(tail, eocd - 20 + 8);
    if (at + 56 > size) throw new DataError(`${path}: zip64 end record past the end of the file`);
    const rec = readAt(fd, at, 56, path);
    if (rec.readUInt32LE(0) !== 0x06064b50) throw new DataError(`${path}: bad zip64 end record`);
    count = u64(rec, 32);
    dirSize = u64(rec, 40);
    dirStart = u64(rec, 48);
  }
  if (dirStart + dirSize > size || dirSize > MAX_DIRECTORY_BYTES) throw new DataError(`${path}: zip directory of ${dirSize} bytes at ${dirStart} does not fit the file`);
  const dir = readAt(fd, dirStart, dirSize, path);
  const out = new Map<string, ZipEntry>();
  let p = 0;
  for (let n = 0; n < count; n++) {
    if (p + 46 > dirSize || dir.readUInt32LE(p) !== 0x02014b50) throw new DataError(`${path}: corrupt zip directory (entry ${n})`);
    const method = dir.readUInt16LE(p + 10);
    let csize = dir.readUInt32LE(p + 20);
    let usize = dir.readUInt32LE(p + 24);
    const nameLen = dir.readUInt16LE(p + 28);
    const extraLen = dir.readUInt16LE(p + 30);
    const commentLen = dir.readUInt16LE(p + 32);
    let local = dir.readUInt32LE(p + 42);
    if (p + 46 + nameLen + extraLen > dirSize) throw new DataError(`${path}: corrupt zip directory (entry ${n})`);
    const name = dir.toString('utf8', p + 46, p + 46 + nameLen);
    // zip64 extra field: the 64-bit values of the fields that read 0xffffffff, in order
    for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen; ) {
      const id = dir.readUInt16LE(e);
      const len = dir.readUInt16LE(e + 2);
      if (id === 1) {
        let q = e + 4;
        if (usize === 0xffffffff) { usize = u64(dir, q); q += 8; }
        if (csize === 0xffffffff) { csize = u64(dir, q); q += 8; }
        if (local === 0xffffffff) local = u64(dir, q);
      }
      e += 4 + len;
    }
    p += 46 + nameLen + extraLen + commentLen;
    if (method !== 0 || csize !== usize) throw new DataError(`${path}: zip entry "${name}" is compressed; torch.save stores its entries uncompressed`);
    if (local + 30 > size) throw new DataError(`${path}: zip entry "${name}" starts past the end of the file`);
    const lh = readAt(fd, local, 30, path);
    if (lh.readUInt32LE(0) !== 0x04034b50) throw new DataError(`${path}: zip entry "${name}" has no local header`);
    const start = local + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28);
    if (start + usize > size) throw new DataError(`${path}: zip entry "${name}" ends past the end of the file`);
    out.set(name, { start, size: usize });
  }
  return out;
}

/** Values of a strided tensor view, row-major, as float32. */
function materialize(t: TorchTensor, bytes: Buffer, name: string, path: string): NamedTensor {
  const s = t.storage;
  const numel = t.size.reduce((a, b) => a * b, 1);
  let last = t.offset;
  t.size.forEach((d, i) => (last += d > 0 ? (d - 1) * t.stride[i]! : 0));
  if (numel > 0 && (t.offset < 0 || last >= s.numel || (s.numel * s.elementBytes) > bytes.length)) {
    throw new DataError(`${path}: tensor "${name}" reads past its storage (${s.numel} elements, ${bytes.length} bytes)`);
  }
  const read = (i: number): number => {
    const at = i * s.elementBytes;
    switch (s.dtype) {
      case 'float32': return bytes.readFloatLE(at);
      case 'float64': return bytes.readDoubleLE(at);
      default: throw new DataError(`${path}: tensor "${name}" has dtype ${s.dtype}; weights must be float32 or float64`);
    }
  };
  const data = new Float32Array(numel);
  const idx = new Array<number>(t.size.length).fill(0);
  for (let i = 0; i < numel; i++) {
    let at = t.offset;
    for (let d = 0; d < idx.length; d++) at += idx[d]! * t.stride[d]!;
    data[i] = read(at);
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d]! < t.size[d]!) break;
      idx[d] = 0;
    }
  }
  return { shape: [...t.size], data };
}

/** name -> tensor of a pickled state dict whose values are TorchTensors. */
function tensorsOf(obj: unknown, path: string, bytesOf: (s: TorchStorage) => Buffer): Map<string, NamedTensor> {
  if (!(obj instanceof PyDict)) throw new DataError(`${path}: holds a ${typeName(obj)}, not a state_dict (a dict of tensors)`);
  const out = new Map<string, NamedTensor>();
  for (const [k, v] of obj.map) {
    if (typeof k !== 'string') throw new DataError(`${path}: state_dict key ${String(k)} is not a string`);
    if (!(v instanceof TorchTensor)) throw new DataError(`${path}: "${k}" is a ${typeName(v)}, not a tensor`);
    out.set(k, materialize(v, bytesOf(v.storage), k, path));
  }
  return out;
}

function readZip(fd: number, size: number, path: string): Map<string, NamedTensor> {
  const entries = zipEntries(fd, size, path);
  const pkl = [...entries.keys()].find((n) => n.endsWith('/data.pkl') || n === 'data.pkl');
  if (!pkl) throw new DataError(`${path}: a zip file without data.pkl (not a torch.save checkpoint)`);
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
  const e = entries.get(pkl)!;
  const { value } = unpickleRange(fd, path, e.start, e.start + e.size, TORCH_OPTS);
  return tensorsOf(value, path, (s) => {
    const se = entries.get(`${prefix}data/${s.key}`);
    if (!se) throw new DataError(`${path}: storage "${s.key}" is missing from the archive`);
    if (se.size < s.numel * s.elementBytes) throw new DataError(`${path}: storage "${s.key}" holds ${se.size} bytes, ${s.numel * s.elementBytes} expected`);
    return readAt(fd, se.start, s.numel * s.elementBytes, path);
  });
}

function readLegacy(fd: number, size: number, path: string): Map<string, NamedTensor> {
  const magic = unpickleRange(fd, path, 0, size);
  if (magic.value !== LEGACY_MAGIC) throw new DataError(`${path}: a pickle, but not a torch.save file (no magic number); for a pickled dict of arrays use a .pdparams name`);
  const proto = unpickleRange(fd, path, magic.next, size);
  if (proto.value !== LEGACY_PROTOCOL) throw new DataError(`${path}: torch legacy protocol ${String(proto.value)}, expected ${LEGACY_PROTOCOL}`);
  const sysInfo = unpickleRange(fd, path, proto.next, size);
  const main = unpickleRange(fd, path, sysInfo.next, size, TORCH_OPTS);
  const keysPickle = unpickleRange(fd, path, main.next, size);
  const keys = (keysPickle.value as { toArray?: () => unknown[] }).toArray?.();
  if (!keys) throw new DataError(`${path}: the storage key list is a ${typeName(keysPickle.value)}`);
  const where = new Map<string, { start: number; count: number }>();
  let pos = keysPickle.next;
  for (const k of keys) {
    const count = u64(readAt(fd, pos, 8, path), 0);
    where.set(String(k), { start: pos + 8, count });
    pos += 8;
    // the element size is the storage's; found when a tensor asks for it
    const s = findStorage(main.value, String(k));
    const bytes = count * (s?.elementBytes ?? 0);
    if (pos + bytes > size) throw new DataError(`${path}: storage "${String(k)}" ends past the end of the file`);
    pos += bytes;
  }
  return tensorsOf(main.value, path, (s) => {
    const w = where.get(s.key);
    if (!w) throw new DataError(`${path}: storage "${s.key}" is not in the file's storage list`);
    if (w.count < s.numel) throw new DataError(`${path}: storage "${s.key}" holds ${w.count} elements, ${s.numel} expected`);
    return readAt(fd, w.start, s.numel * s.elementBytes, path);
  });
}

function findStorage(obj: unknown, key: string): TorchStorage | undefined {
  if (!(obj instanceof PyDict)) return undefined;
  for (const v of obj.map.values()) if (v instanceof TorchTensor && v.storage.key === key) return v.storage;
  return undefined;
}

/** A torch.save'd state_dict (zip or legacy format), name -> float32 tensor. */
export function readTorchStateDict(path: string): Map<string, NamedTensor> {
  const fd = openForRead(path);
  try {
    const size = fstatSync(fd).size;
    const head = readAt(fd, 0, Math.min(4, size), path);
    if (size >= 4 && head.readUInt32LE(0) === 0x04034b50) return readZip(fd, size, path);
    if (size >= 2 && head[0] === 0x80) return readLegacy(fd, size, path);
    throw new DataError(`${path}: neither a torch.save zip archive nor a pickle`);
  } finally {
    closeSync(fd);
  }
}

/** A PaddlePaddle .pdparams file (a pickled dict of numpy arrays), name -> float32 tensor. */
export function readPdparams(path: string): Map<string, NamedTensor> {
  const fd = openForRead(path);
  let value: unknown;
  try {
    value = unpickleRange(fd, path, 0, fstatSync(fd).size).value;
  } finally {
    closeSync(fd);
  }
  if (!(value instanceof PyDict)) throw new DataError(`${path}: holds a ${typeName(value)}, not a dict of arrays`);
  const out = new Map<string, NamedTensor>();
  for (const [k, v] of value.map) {
    // paddle.save adds its structured-name -> parameter-name table under this key
    if (k === 'StructuredToParameterName@@') continue;
    if (typeof k !== 'string') throw new DataError(`${path}: key ${String(k)} is not a string`);
    if (!(v instanceof NdArray) || !v.dtype || !v.data) throw new DataError(`${path}: "${k}" is a ${typeName(v)}, not a numeric numpy array`);
    if (v.dtype.kind !== 'f') throw new DataError(`${path}: "${k}" has dtype ${v.dtype.code}; weights must be float32 or float64`);
    if (v.fortran && v.shape.length > 1) throw new DataError(`${path}: "${k}" is in Fortran order; save C-ordered arrays`);
    const read = elementReader(v.dtype, v.data);
    const data = new Float32Array(v.size);
    for (let i = 0; i < data.length; i++) data[i] = read(i);
    out.set(k, { shape: [...v.shape], data });
  }
  return out;
}
