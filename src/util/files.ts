/** Opening input files with the error users get everywhere: the path and the system's reason. */
import { existsSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { DataError, fsError, UserError } from './errors.js';

/** The most bytes one input file is read into memory whole (a Buffer's limit). */
export const MAX_INPUT_BYTES = 2 ** 31 - 1;
/** The most bytes of a small text input: a config, a campaign file, a schema. */
export const MAX_TEXT_BYTES = 64 * 1024 * 1024;

/**
 * Inputs are regular files of at most `maxBytes`, checked before reading: a device
 * (/dev/zero), a FIFO or a folder would be read without end, or block. Returns the size.
 */
export function checkInputFile(path: string, maxBytes = MAX_INPUT_BYTES): number {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new DataError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  if (!st.isFile()) throw new DataError(`${path}: not a regular file (${st.isDirectory() ? 'a folder' : 'a device, FIFO or socket'}); inputs must be files`);
  if (st.size > maxBytes) throw new DataError(`${path}: ${st.size} bytes, above the limit of ${maxBytes} bytes for this input`);
  return st.size;
}

/** The whole of input file `path` (checked first, see checkInputFile). */
export function readInputFile(path: string, maxBytes = MAX_INPUT_BYTES): Buffer {
  checkInputFile(path, maxBytes);
  try {
    return readFileSync(path);
  } catch (e) {
    throw new DataError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/** A piece of input for an error message: quoted, and cut to about `max` characters (a huge line is never echoed whole). */
export function quoted(s: string, max = 80): string {
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}...` : s) + (s.length > max ? ` (${s.length} characters)` : '');
}

/** A read-only descriptor of regular file `path`, or a DataError `PATH: cannot open (ENOENT)`. */
export function openForRead(path: string): number {
  checkInputFile(path);
  try {
    return openSync(path, 'r');
  } catch (e) {
    throw new DataError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/** Whether `child` is `parent` or lies inside it (paths compared after resolving). */
export function isInside(child: string, parent: string): boolean {
  const r = relative(resolve(parent), resolve(child));
  return r === '' || (r !== '..' && !r.startsWith(`..${sep}`) && !isAbsolute(r));
}

/** The nearest existing folder at or above `dir`; a file on the way is an error naming `path` and it. */
export function existingAncestor(dir: string, path: string, doing: string): string {
  dir = resolve(dir);
  for (;;) {
    if (existsSync(dir)) {
      if (!statSync(dir).isDirectory()) throw new UserError(`${path}: cannot be ${doing}, ${dir} is a file, not a folder (ENOTDIR)`);
      return dir;
    }
    const up = dirname(dir);
    if (up === dir) return dir;
    dir = up;
  }
}

/** Before work: folder `dir` can be made (no file on the way to it). */
export function checkOutputDir(dir: string): void {
  existingAncestor(dirname(dir), dir, 'created');
}

/**
 * Create folder `dir` (and its parents); a file on the way, or a refusal, is a one-line error
 * naming it. One level at a time: Node's recursive mkdir never returns where a level cannot be
 * made and reports ENOENT (under /proc, for one).
 */
export function ensureDir(dir: string): void {
  if (existsSync(dir) && statSync(dir).isDirectory()) return;
  const base = existingAncestor(dir, dir, 'created');
  const missing = relative(base, resolve(dir)).split(sep).filter((s) => s !== '');
  let at = base;
  for (const name of missing) {
    at = join(at, name);
    try {
      mkdirSync(at);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && statSync(at).isDirectory()) continue;
      throw fsError(dir, 'create the folder', e);
    }
  }
}
