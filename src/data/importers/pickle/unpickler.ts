/**
 * The pickle opcode machine, protocols 0 to 5 (out-of-band buffers excepted).
 *
 * Written by hand rather than with an npm pickle parser (pickleparser, the maintained
 * one, was considered): those parse a whole in-memory Buffer (a multi-GB file does not
 * fit one), keep every memoized object alive until the end, and build the whole object
 * graph; here the file is streamed, numpy int cells are packed into typed storage as they
 * arrive (./list.ts) and their memo slots released, and only allow-listed globals
 * (./globals.ts) are ever resolved.
 */
import { closeSync, fstatSync, readSync } from 'node:fs';
import { DataError } from '../../../util/errors.js';
import { ByteReader, TruncatedError } from './byte-reader.js';
import type { CellPack } from './cell-pack.js';
import { resolveGlobal } from './globals.js';
import { PyList, type PackObserver } from './list.js';
import { Memo, RELEASED } from './memo.js';
import { NdArray } from './numpy.js';
import { parseIntLiteral, parseQuotedString, parseRawUnicodeEscape } from './text-args.js';
import { PickleError, PyDict, isBuildable, isCallable, typeName, type PyCallable } from './values.js';
import { openForRead } from '../../../util/files.js';

export interface UnpickleOptions {
  /** Called now and then with the number of bytes read so far. */
  onProgress?: (bytesRead: number) => void;
  /** Globals allowed on top of the allow-list (./globals.ts): undefined for names it does not know. */
  globals?: (module: string, name: string) => PyCallable | undefined;
  /** Resolves persistent ids (PERSID/BINPERSID); without it they are refused. */
  persistentLoad?: (pid: unknown) => unknown;
}

const OP = {
  MARK: 0x28, STOP: 0x2e, POP: 0x30, POP_MARK: 0x31, DUP: 0x32, FLOAT: 0x46, INT: 0x49, BININT: 0x4a,
  BININT1: 0x4b, LONG: 0x4c, BININT2: 0x4d, NONE: 0x4e, PERSID: 0x50, BINPERSID: 0x51, REDUCE: 0x52,
  STRING: 0x53, BINSTRING: 0x54, SHORT_BINSTRING: 0x55, UNICODE: 0x56, BINUNICODE: 0x58, APPEND: 0x61,
  BUILD: 0x62, GLOBAL: 0x63, DICT: 0x64, EMPTY_DICT: 0x7d, APPENDS: 0x65, GET: 0x67, BINGET: 0x68,
  INST: 0x69, LONG_BINGET: 0x6a, LIST: 0x6c, EMPTY_LIST: 0x5d, OBJ: 0x6f, PUT: 0x70, BINPUT: 0x71,
  LONG_BINPUT: 0x72, SETITEM: 0x73, TUPLE: 0x74, EMPTY_TUPLE: 0x29, SETITEMS: 0x75, BINFLOAT: 0x47,
  PROTO: 0x80, NEWOBJ: 0x81, EXT1: 0x82, EXT2: 0x83, EXT4: 0x84, TUPLE1: 0x85, TUPLE2: 0x86, TUPLE3: 0x87,
  NEWTRUE: 0x88, NEWFALSE: 0x89, LONG1: 0x8a, LONG4: 0x8b, BINBYTES: 0x42, SHORT_BINBYTES: 0x43,
  SHORT_BINUNICODE: 0x8c, BINUNICODE8: 0x8d, BINBYTES8: 0x8e, EMPTY_SET: 0x8f, ADDITEMS: 0x90,
  FROZENSET: 0x91, NEWOBJ_EX: 0x92, STACK_GLOBAL: 0x93, MEMOIZE: 0x94, FRAME: 0x95, BYTEARRAY8: 0x96,
  NEXT_BUFFER: 0x97, READONLY_BUFFER: 0x98,
} as const;

const UNSUPPORTED: Record<number, string> = {
  [OP.PERSID]: 'persistent ids (PERSID)',
  [OP.BINPERSID]: 'persistent ids (BINPERSID)',
  [OP.INST]: 'old-style instances (INST)',
  [OP.OBJ]: 'old-style instances (OBJ)',
  [OP.EXT1]: 'the extension registry (EXT1)',
  [OP.EXT2]: 'the extension registry (EXT2)',
  [OP.EXT4]: 'the extension registry (EXT4)',
  [OP.NEXT_BUFFER]: 'out-of-band buffers (NEXT_BUFFER)',
  [OP.READONLY_BUFFER]: 'out-of-band buffers (READONLY_BUFFER)',
};

/** Leading bytes of compressed files pandas.to_pickle writes for .gz/.bz2/.xz/.zip/.zst names. */
const COMPRESSED: [number[], string][] = [
  [[0x1f, 0x8b], 'gzip'],
  [[0x42, 0x5a, 0x68], 'bzip2'],
  [[0xfd, 0x37, 0x7a, 0x58, 0x5a], 'xz'],
  [[0x50, 0x4b, 0x03, 0x04], 'zip'],
  [[0x28, 0xb5, 0x2f, 0xfd], 'zstd'],
];

/** Protocol 2 spells raw data as latin-1 text; names and codes are shorter than this. */
const DATA_TEXT = 32;

/**
 * Whether a memo slot filled while cells were being appended may be released once they are
 * packed: the packed arrays themselves and the tuples, byte strings and data text that
 * built them (shape, state and argument tuples, raw data). numpy creates those afresh for
 * every array, so the pickle never refers back to them; if a hand-made pickle did, the read
 * of the released slot fails with a clear error rather than returning something wrong.
 */
function releasable(v: unknown): boolean {
  if (v instanceof NdArray) return v.packed;
  return Array.isArray(v) || v instanceof Uint8Array || (typeof v === 'string' && v.length >= DATA_TEXT);
}

/**
 * Packed ids allowed per byte of pickle read (plus PACK_SLACK): real files hold at most one
 * id per byte, or about five where rows share one array through the memo.
 */
const PACK_RATIO = 16;
const PACK_SLACK = 1 << 20;

class Machine implements PackObserver {
  private stack: unknown[] = [];
  private readonly metastack: unknown[][] = [];
  /** memo.end at each MARK on the metastack: where an APPENDS batch's own slots begin. */
  private readonly markEnds: number[] = [];
  private readonly memo = new Memo();
  private readonly packs = new Set<CellPack>();
  /** Cells packed by the current APPEND(S). */
  private packedNow = 0;
  /** Ids packed so far, over every list. */
  private packedIds = 0;

  constructor(
    private readonly r: ByteReader,
    private readonly opts: UnpickleOptions = {},
  ) {}

  private resolve(module: string, name: string): PyCallable {
    return this.opts.globals?.(module, name) ?? resolveGlobal(module, name);
  }

  packed(nd: NdArray, pack: CellPack): void {
    nd.packed = true;
    this.packs.add(pack);
    this.packedNow++;
    // A fresh cell's ids are bytes of the file; a memo reference repeats a cell for 2-5
    // bytes. More ids than PACK_RATIO per byte read means one array multiplied over rows.
    this.packedIds += nd.size;
    if (this.packedIds > PACK_RATIO * this.r.position + PACK_SLACK) {
      throw new PickleError(
        `list cells hold ${this.packedIds} ids after ${this.r.position} bytes: one array repeated over rows far beyond what the file holds (at most ${PACK_RATIO} ids per byte)`,
      );
    }
  }

  /** Release the slots a batch of cells filled, from `from` on, once they are packed. */
  private afterAppend(from: number): void {
    if (this.packedNow === 0) return;
    this.packedNow = 0;
    for (let slot = from; slot < this.memo.end; slot++) {
      if (releasable(this.memo.get(slot))) this.memo.release(slot);
    }
  }

  private put(slot: number): void {
    if (this.stack.length === 0) throw new PickleError('memoize with an empty stack');
    // Python's pickler numbers slots 0, 1, 2, ...: a slot past every slot the rest of the
    // file could fill is hostile, and would make the memo's pages span it.
    if (slot > this.memo.size + this.r.remaining() + 1024) {
      throw new PickleError(`memo slot ${slot} is beyond what the file can fill (${this.memo.size} slots so far, ${this.r.remaining()} bytes left)`);
    }
    const v = this.stack[this.stack.length - 1];
    this.memo.set(slot, v);
    if (v instanceof NdArray && v.memoIdx < 0) v.memoIdx = slot;
  }

  private get(slot: number): unknown {
    const v = this.memo.get(slot);
    if (v !== undefined && v !== RELEASED) return v;
    for (const pack of this.packs) {
      const cell = pack.cellForMemo(slot);
      if (cell >= 0) return pack.materialize(cell);
    }
    if (v === RELEASED) {
      throw new PickleError(`memo slot ${slot} refers back to part of an array cell already streamed into a column; this pickle layout is not supported`);
    }
    throw new PickleError(`memo slot ${slot} is read before it is written`);
  }

  private pop(): unknown {
    if (this.stack.length === 0) throw new PickleError('stack underflow');
    return this.stack.pop();
  }

  private top(): unknown {
    if (this.stack.length === 0) throw new PickleError('stack underflow');
    return this.stack[this.stack.length - 1];
  }

  private popMark(): unknown[] {
    const items = this.stack;
    const prev = this.metastack.pop();
    if (!prev) throw new PickleError('no MARK on the stack');
    this.markEnds.pop();
    this.stack = prev;
    return items;
  }

  /** memo.end when the innermost MARK was pushed. */
  private markEnd(): number {
    return this.markEnds[this.markEnds.length - 1] ?? 0;
  }

  private popN(n: number): unknown[] {
    if (this.stack.length < n) throw new PickleError('stack underflow');
    return this.stack.splice(this.stack.length - n, n);
  }

  private len(n: number): number {
    if (n > this.r.remaining()) throw new TruncatedError(n, this.r.position);
    return n;
  }

  private longBytes(n: number): number | bigint {
    const b = this.r.bytes(this.len(n));
    if (n === 0) return 0;
    // One hex parse, linear in n (shifting a BigInt per byte is quadratic in n).
    let v = BigInt(`0x${Buffer.from(b).reverse().toString('hex')}`);
    if (b[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  private list(items: unknown[]): PyList {
    const l = new PyList(this);
    for (const x of items) l.push(x);
    return l;
  }

  private setItems(target: unknown, items: unknown[]): void {
    if (!(target instanceof PyDict)) throw new PickleError(`SETITEMS on a ${typeName(target)}`);
    if (items.length % 2 !== 0) throw new PickleError('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) target.set(items[i], items[i + 1]);
  }

  private appendTo(target: unknown, items: unknown[], from: number): void {
    if (!(target instanceof PyList)) throw new PickleError(`APPEND on a ${typeName(target)}`);
    for (const x of items) target.push(x);
    this.afterAppend(from);
  }

  private call(fn: unknown, args: unknown): unknown {
    if (!isCallable(fn) || !fn.call) throw new PickleError(`REDUCE calls a ${typeName(fn)}, which cannot be called`);
    if (!Array.isArray(args)) throw new PickleError(`REDUCE arguments are a ${typeName(args)}, expected a tuple`);
    return fn.call(args);
  }

  private newObj(cls: unknown, args: unknown): unknown {
    if (!isCallable(cls) || !cls.newObj) throw new PickleError(`NEWOBJ of a ${typeName(cls)}, which cannot be instantiated`);
    if (!Array.isArray(args)) throw new PickleError(`NEWOBJ arguments are a ${typeName(args)}, expected a tuple`);
    return cls.newObj(args);
  }

  /**
   * Decode to STOP and return the value; with `pausable`, return PAUSED instead after
   * 65535 opcodes, between two of them, so that the caller can let the event loop turn
   * and call again to go on.
   */
  run(onProgress: (bytes: number) => void, pausable = false): unknown {
    const r = this.r;
    const st = (): unknown[] => this.stack;
    let ops = 0;
    for (;;) {
      if ((++ops & 0xffff) === 0) {
        onProgress(r.position);
        if (pausable) return PAUSED;
      }
      const op = r.u8();
      switch (op) {
        case OP.PROTO: {
          const p = r.u8();
          if (p > 5) throw new PickleError(`pickle protocol ${p} is newer than this reader (protocols 2 to 5)`);
          break;
        }
        case OP.FRAME:
          this.len(r.u64());
          break;
        case OP.STOP:
          onProgress(r.position);
          return this.pop();
        case OP.MARK:
          this.metastack.push(this.stack);
          this.markEnds.push(this.memo.end);
          this.stack = [];
          break;
        case OP.POP:
          if (this.stack.length > 0) this.stack.pop();
          else this.popMark();
          break;
        case OP.POP_MARK:
          this.popMark();
          break;
        case OP.DUP:
          st().push(this.top());
          break;
        case OP.NONE:
          st().push(null);
          break;
        case OP.NEWTRUE:
          st().push(true);
          break;
        case OP.NEWFALSE:
          st().push(false);
          break;
        case OP.INT: {
          const t = r.line();
          st().push(t === '00' ? false : t === '01' ? true : parseIntLiteral(t));
          break;
        }
        case OP.BININT:
          st().push(r.i32());
          break;
        case OP.BININT1:
          st().push(r.u8());
          break;
        case OP.BININT2:
          st().push(r.u16());
          break;
        case OP.LONG:
          st().push(parseIntLiteral(r.line().replace(/L$/, '')));
          break;
        case OP.LONG1:
          st().push(this.longBytes(r.u8()));
          break;
        case OP.LONG4: {
          const n = r.i32();
          if (n < 0) throw new PickleError('LONG4 with a negative byte count');
          st().push(this.longBytes(n));
          break;
        }
        case OP.FLOAT: {
          const t = r.line();
          const v = Number(t);
          if (Number.isNaN(v) && !/^[+-]?nan$/i.test(t.trim())) throw new PickleError(`"${t}" is not a float`);
          st().push(v);
          break;
        }
        case OP.BINFLOAT:
          st().push(r.bytes(8).readDoubleBE(0));
          break;
        case OP.STRING:
          st().push(parseQuotedString(r.line()));
          break;
        case OP.BINSTRING: {
          const n = r.i32();
          if (n < 0) throw new PickleError('BINSTRING with a negative length');
          st().push(r.bytes(this.len(n)).toString('latin1'));
          break;
        }
        case OP.SHORT_BINSTRING:
          st().push(r.bytes(r.u8()).toString('latin1'));
          break;
        case OP.UNICODE:
          st().push(parseRawUnicodeEscape(r.line()));
          break;
        case OP.BINUNICODE:
          st().push(r.bytes(this.len(r.u32())).toString('utf8'));
          break;
        case OP.SHORT_BINUNICODE:
          st().push(r.bytes(r.u8()).toString('utf8'));
          break;
        case OP.BINUNICODE8:
          st().push(r.bytes(this.len(r.u64())).toString('utf8'));
          break;
        case OP.BINBYTES:
          st().push(r.bytes(this.len(r.u32())));
          break;
        case OP.SHORT_BINBYTES:
          st().push(r.bytes(r.u8()));
          break;
        case OP.BINBYTES8:
        case OP.BYTEARRAY8:
          st().push(r.bytes(this.len(r.u64())));
          break;
        case OP.EMPTY_TUPLE:
          st().push([]);
          break;
        case OP.TUPLE: {
          // popMark swaps this.stack: take the items before choosing the stack to push on.
          const items = this.popMark();
          st().push(items);
          break;
        }
        case OP.TUPLE1:
          st().push(this.popN(1));
          break;
        case OP.TUPLE2:
          st().push(this.popN(2));
          break;
        case OP.TUPLE3:
          st().push(this.popN(3));
          break;
        case OP.EMPTY_LIST:
          st().push(new PyList(this));
          break;
        case OP.LIST: {
          const from = this.markEnd();
          const l = this.list(this.popMark());
          this.afterAppend(from);
          st().push(l);
          break;
        }
        case OP.APPEND: {
          // A lone item: its own slots cannot be told from earlier ones, so none are released.
          const v = this.pop();
          this.appendTo(this.top(), [v], this.memo.end);
          break;
        }
        case OP.APPENDS: {
          const from = this.markEnd();
          const items = this.popMark();
          this.appendTo(this.top(), items, from);
          break;
        }
        case OP.EMPTY_DICT:
          st().push(new PyDict());
          break;
        case OP.DICT: {
          const d = new PyDict();
          const items = this.popMark();
          this.setItems(d, items);
          st().push(d);
          break;
        }
        case OP.SETITEM: {
          const [k, v] = this.popN(2);
          this.setItems(this.top(), [k, v]);
          break;
        }
        case OP.SETITEMS: {
          const items = this.popMark();
          this.setItems(this.top(), items);
          break;
        }
        case OP.EMPTY_SET:
          st().push(new Set());
          break;
        case OP.ADDITEMS: {
          const items = this.popMark();
          const s = this.top();
          if (!(s instanceof Set)) throw new PickleError(`ADDITEMS on a ${typeName(s)}`);
          for (const x of items) s.add(x);
          break;
        }
        case OP.FROZENSET: {
          const items = this.popMark();
          st().push(new Set(items));
          break;
        }
        case OP.GET:
          st().push(this.get(Number(parseIntLiteral(r.line()))));
          break;
        case OP.BINGET:
          st().push(this.get(r.u8()));
          break;
        case OP.LONG_BINGET:
          st().push(this.get(r.u32()));
          break;
        case OP.PUT:
          this.put(Number(parseIntLiteral(r.line())));
          break;
        case OP.BINPUT:
          this.put(r.u8());
          break;
        case OP.LONG_BINPUT:
          this.put(r.u32());
          break;
        case OP.MEMOIZE:
          this.put(this.memo.size);
          break;
        case OP.GLOBAL: {
          const module = r.line();
          st().push(this.resolve(module, r.line()));
          break;
        }
        case OP.STACK_GLOBAL: {
          const [module, name] = this.popN(2);
          if (typeof module !== 'string' || typeof name !== 'string') throw new PickleError('STACK_GLOBAL needs two str');
          st().push(this.resolve(module, name));
          break;
        }
        case OP.REDUCE: {
          const args = this.pop();
          const fn = this.pop();
          st().push(this.call(fn, args));
          break;
        }
        case OP.NEWOBJ: {
          const args = this.pop();
          st().push(this.newObj(this.pop(), args));
          break;
        }
        case OP.NEWOBJ_EX: {
          const kwargs = this.pop();
          const args = this.pop();
          if (!(kwargs instanceof PyDict) || kwargs.map.size > 0) throw new PickleError('NEWOBJ_EX with keyword arguments');
          st().push(this.newObj(this.pop(), args));
          break;
        }
        case OP.BUILD: {
          const state = this.pop();
          const inst = this.top();
          if (!isBuildable(inst)) throw new PickleError(`BUILD on a ${typeName(inst)}, which takes no state`);
          inst.setState(state);
          break;
        }
        case OP.PERSID:
        case OP.BINPERSID: {
          const load = this.opts.persistentLoad;
          if (!load) throw new PickleError(`${UNSUPPORTED[op]} are not supported`);
          st().push(load(op === OP.PERSID ? r.line() : this.pop()));
          break;
        }
        default:
          if (op in UNSUPPORTED) throw new PickleError(`${UNSUPPORTED[op]} are not supported`);
          throw new PickleError(`unknown opcode 0x${op.toString(16).padStart(2, '0')} (not a pickle, or a corrupt one)`);
      }
    }
  }
}

function checkNotCompressed(path: string, fd: number, size: number): void {
  if (size === 0) throw new DataError(`${path}: empty file, not a pickle`);
  const head = Buffer.alloc(5);
  const got = readSync(fd, head, 0, Math.min(5, size), 0);
  for (const [magic, kind] of COMPRESSED) {
    if (got >= magic.length && magic.every((b, i) => head[i] === b)) {
      throw new DataError(`${path}: a ${kind}-compressed file; decompress it first (this reader takes plain pickles)`);
    }
  }
}

/** What Machine.run returns when it paused. */
const PAUSED = Symbol('paused');

/** A pickle file's descriptor and size, checked to be a plain (uncompressed) pickle. */
function openPickle(path: string): { fd: number; size: number } {
  const fd = openForRead(path);
  try {
    const size = fstatSync(fd).size;
    checkNotCompressed(path, fd, size);
    return { fd, size };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/**
 * Unpickle one file. Errors name the file and the byte offset where decoding stopped;
 * truncation, hostile globals and unsupported constructs are all DataErrors.
 */
export function unpickleFile(path: string, opts: UnpickleOptions = {}): unknown {
  const { fd, size } = openPickle(path);
  try {
    return unpickleRange(fd, path, 0, size, opts).value;
  } finally {
    closeSync(fd);
  }
}

/**
 * unpickleFile that awaits `pause` every 65535 opcodes, so that the event loop turns (and a
 * SIGINT / SIGTERM handler can run) while a multi-GB file decodes.
 */
export async function unpickleFilePausing(path: string, pause: () => Promise<void>, opts: UnpickleOptions = {}): Promise<unknown> {
  const { fd, size } = openPickle(path);
  try {
    const reader = new ByteReader(fd, size, 0);
    const machine = new Machine(reader, opts);
    const onProgress = opts.onProgress ?? (() => {});
    try {
      for (;;) {
        const value = machine.run(onProgress, true);
        if (value !== PAUSED) return value;
        await pause();
      }
    } catch (e) {
      throw decodeError(e, path, 0, size, reader);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Unpickle the pickle that starts at byte `start` of an open file and ends by `end` (a file
 * may hold several, or one inside an archive); returns it and the offset after its STOP.
 */
export function unpickleRange(fd: number, path: string, start: number, end: number, opts: UnpickleOptions = {}): { value: unknown; next: number } {
  const reader = new ByteReader(fd, end, start);
  try {
    const value = new Machine(reader, opts).run(opts.onProgress ?? (() => {}));
    return { value, next: reader.position };
  } catch (e) {
    throw decodeError(e, path, start, end, reader);
  }
}

/** The DataError that names the file and where decoding stopped; other errors as they are. */
function decodeError(e: unknown, path: string, start: number, end: number, reader: ByteReader): unknown {
  if (e instanceof TruncatedError) return new DataError(`${path}: truncated pickle: ${e.message} (${start === 0 ? `the file has ${end} bytes` : `the pickle ends at byte ${end}`})`);
  // A string or array past V8's limits surfaces as a RangeError.
  if (e instanceof PickleError || e instanceof RangeError) return new DataError(`${path}: ${e.message} (at byte ${reader.position})`);
  return e;
}
