/** Opening input files with the error users get everywhere: the path and the system's reason. */
import { accessSync, constants, existsSync, openSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { DataError, fsError, UserError } from './errors.js';

/** A read-only descriptor of `path`, or a DataError `PATH: cannot open (ENOENT)`. */
export function openForRead(path: string): number {
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

/** The nearest existing folder at or above `path`'s parent; a file on the way is an error. */
function existingAncestor(path: string): string {
  let dir = dirname(resolve(path));
  for (;;) {
    if (existsSync(dir)) {
      if (!statSync(dir).isDirectory()) throw new UserError(`${path}: cannot be written, ${dir} is a file where a folder is needed (ENOTDIR)`);
      return dir;
    }
    const up = dirname(dir);
    if (up === dir) return dir;
    dir = up;
  }
}

/**
 * Check an output file before any work: not a folder, not one of the inputs, and its folder
 * writable (or creatable). `what` names the option in messages, e.g. `--out`.
 */
export function checkOutputFile(path: string, what: string, inputs: string[] = []): void {
  for (const input of inputs) {
    if (resolve(input) === resolve(path)) throw new UserError(`${what} ${path} is the input ${input}; writing it would destroy the input`);
  }
  if (existsSync(path) && statSync(path).isDirectory()) throw new UserError(`${what} ${path} is a folder; expected a file path`);
  const dir = existingAncestor(path);
  try {
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw fsError(dir, `write ${what} ${path} there`, e);
  }
}
