/** Opening input files with the error users get everywhere: the path and the system's reason. */
import { openSync } from 'node:fs';
import { DataError } from './errors.js';

/** A read-only descriptor of `path`, or a DataError `PATH: cannot open (ENOENT)`. */
export function openForRead(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (e) {
    throw new DataError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}
