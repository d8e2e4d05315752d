/**
 * Atomic file output: write to a temporary sibling, fsync, rename. A crash at any point
 * leaves the previous good file in place.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
}

/** Write `chunks` to `path` atomically. */
export function writeFileAtomic(path: string, chunks: Uint8Array | string | (Uint8Array | string)[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempName(path);
  const fd = openSync(tmp, 'w');
  try {
    for (const c of Array.isArray(chunks) ? chunks : [chunks]) {
      const buf = typeof c === 'string' ? Buffer.from(c, 'utf8') : c;
      let off = 0;
      while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off);
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

/**
 * For writers that stream: returns the temporary path to write to and a commit function
 * that renames it into place (or an abort that removes it).
 */
export function atomicTarget(path: string): { tmp: string; commit: () => void; abort: () => void } {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempName(path);
  return {
    tmp,
    commit: () => renameSync(tmp, path),
    abort: () => rmSync(tmp, { force: true }),
  };
}
