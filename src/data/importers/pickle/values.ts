/**
 * The Python values a pickle builds, as plain JS: None is null, bool/int/float are
 * boolean/number (bigint past 2^53), str is string, bytes and bytearray are Buffer, a
 * tuple is a JS array, a list is PyList (./list.ts), a dict is PyDict. Everything else is
 * an object made by an allow-listed global (numpy.ts, pandas.ts).
 */

/** A malformed or unsupported pickle; the unpickler adds the file and byte offset. */
export class PickleError extends Error {}

/** An object that accepts the BUILD opcode (Python's __setstate__). */
export interface Buildable {
  setState(state: unknown): void;
}

export function isBuildable(x: unknown): x is Buildable {
  return typeof x === 'object' && x !== null && typeof (x as Partial<Buildable>).setState === 'function';
}

/** A Python object that can be called by REDUCE and/or instantiated by NEWOBJ. */
export interface PyCallable {
  readonly qualName: string;
  call?(args: unknown[]): unknown;
  newObj?(args: unknown[]): unknown;
}

export function isCallable(x: unknown): x is PyCallable {
  return typeof x === 'object' && x !== null && typeof (x as Partial<PyCallable>).qualName === 'string';
}

type DictKey = string | number | bigint | boolean | null;

/** A dict with hashable scalar keys (the only keys pandas' pickled state uses). */
export class PyDict {
  readonly map = new Map<DictKey, unknown>();

  set(key: unknown, value: unknown): void {
    if (key !== null && typeof key === 'object') throw new PickleError(`unsupported dict key of type ${typeName(key)}`);
    this.map.set(key as DictKey, value);
  }

  get(key: DictKey): unknown {
    return this.map.get(key);
  }

  has(key: DictKey): boolean {
    return this.map.has(key);
  }
}

export interface PySlice {
  readonly kind: 'slice';
  readonly start: number | null;
  readonly stop: number | null;
  readonly step: number | null;
}

export function makeSlice(args: unknown[]): PySlice {
  const opt = (v: unknown, what: string): number | null => {
    if (v === null || v === undefined) return null;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new PickleError(`slice ${what} must be an int or None, found ${typeName(v)}`);
    return v;
  };
  if (args.length < 1 || args.length > 3) throw new PickleError(`slice() takes 1 to 3 arguments, got ${args.length}`);
  // slice(stop) has a single argument, as in Python.
  if (args.length === 1) return { kind: 'slice', start: null, stop: opt(args[0], 'stop'), step: null };
  return { kind: 'slice', start: opt(args[0], 'start'), stop: opt(args[1], 'stop'), step: opt(args[2], 'step') };
}

export function isSlice(x: unknown): x is PySlice {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'slice';
}

/** The Python-ish name of a value's type, for error messages. */
export function typeName(x: unknown): string {
  if (x === null || x === undefined) return 'None';
  if (typeof x === 'boolean') return 'bool';
  if (typeof x === 'number') return Number.isInteger(x) ? 'int' : 'float';
  if (typeof x === 'bigint') return 'int';
  if (typeof x === 'string') return 'str';
  if (Buffer.isBuffer(x) || x instanceof Uint8Array) return 'bytes';
  if (Array.isArray(x)) return 'tuple';
  if (x instanceof PyDict) return 'dict';
  if (x instanceof Set) return 'set';
  const named = x as { typeName?: string; qualName?: string; constructor?: { name?: string } };
  return named.typeName ?? named.qualName ?? named.constructor?.name ?? 'object';
}

export function expectTuple(x: unknown, what: string): unknown[] {
  if (!Array.isArray(x)) throw new PickleError(`${what} must be a tuple, found ${typeName(x)}`);
  return x;
}

export function expectInt(x: unknown, what: string): number {
  if (typeof x !== 'number' || !Number.isInteger(x)) throw new PickleError(`${what} must be an int, found ${typeName(x)}`);
  return x;
}

export function expectStr(x: unknown, what: string): string {
  if (typeof x !== 'string') throw new PickleError(`${what} must be a str, found ${typeName(x)}`);
  return x;
}

/** Raw bytes, from bytes/bytearray, or from a Python 2 str (read as latin-1 text). */
export function expectBytes(x: unknown, what: string): Uint8Array {
  if (x instanceof Uint8Array) return x;
  if (typeof x === 'string') return Buffer.from(x, 'latin1');
  throw new PickleError(`${what} must be bytes, found ${typeName(x)}`);
}
