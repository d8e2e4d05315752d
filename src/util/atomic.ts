/**
 * Atomic file output: write to a temporary sibling, fsync, rename. A crash at any point
 * leaves the previous good file in place. Temporary paths in use are registered, so that a
 * SIGINT / SIGTERM handler can remove them (removeTemps) before the process exits.
 */
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { fsError } from './errors.js';
import { ensureDir } from './files.js';
import { isAlive } from './process-alive.js';

const live = new Set<string>();

/** Register a temporary file or folder to be removed if the process is interrupted. */
export function trackTemp(path: string): void {
  live.add(path);
}

export function untrackTemp(path: string): void {
  live.delete(path);
}

/** Remove every registered temporary path (files and folders); for signal handlers. */
export function removeTemps(): void {
  for (const p of live) rmSync(p, { recursive: true, force: true });
  live.clear();
}

function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Temporary siblings of `path` left by a process that was killed outright (SIGKILL, or a
 * signal arriving during a long synchronous step): `.NAME.PID.tmp` files and
 * `.NAME.tmp-PID` folders of dead processes are removed; a `.NAME.old-PID` folder (a
 * dataset moved aside for the swap) is put back when NAME is missing, else removed.
 */
export function sweepStale(path: string): void {
  const dir = dirname(path);
  const name = escape(basename(path));
  const re = new RegExp(`^\\.${name}\\.(?:(\\d+)\\.tmp|tmp-(\\d+)|old-(\\d+))$`);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    const m = re.exec(e);
    if (!m) continue;
    const pid = Number(m[1] ?? m[2] ?? m[3]);
    if (pid === process.pid || isAlive(pid)) continue;
    const p = join(dir, e);
    if (m[3] !== undefined && !existsSync(path)) renameSync(p, path);
    else rmSync(p, { recursive: true, force: true });
  }
}

/** The folder a file goes into, created if needed; an error names it. */
function ensureParent(path: string): void {
  ensureDir(dirname(path));
}

/** Write `chunks` to `path` atomically. */
export function writeFileAtomic(path: string, chunks: Uint8Array | string | (Uint8Array | string)[]): void {
  const { target, fd } = openAtomic(path);
  try {
    for (const c of Array.isArray(chunks) ? chunks : [chunks]) {
      const buf = typeof c === 'string' ? Buffer.from(c, 'utf8') : c;
      let off = 0;
      while (off < buf.byteLength) off += writeSync(fd, buf, off, buf.byteLength - off);
    }
    fsyncSync(fd);
    closeSync(fd);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    target.abort();
    throw fsError(path, 'write', e);
  }
  target.commit();
}

/** A streaming writer's temporary file: commit renames it into place (or removes it if that fails), abort removes it. */
export interface AtomicTarget {
  tmp: string;
  commit: () => void;
  abort: () => void;
}

function atomicTarget(path: string): AtomicTarget {
  ensureParent(path);
  sweepStale(path);
  const tmp = tempName(path);
  trackTemp(tmp);
  const abort = (): void => {
    rmSync(tmp, { force: true });
    untrackTemp(tmp);
  };
  return {
    tmp,
    commit: () => {
      try {
        renameSync(tmp, path);
      } catch (e) {
        abort();
        throw fsError(path, 'write', e);
      }
      untrackTemp(tmp);
    },
    abort,
  };
}

/**
 * For writers that stream: the temporary file to write, open, and its target (see
 * AtomicTarget); nothing is left behind if the open fails.
 */
export function openAtomic(path: string): { target: AtomicTarget; fd: number } {
  const target = atomicTarget(path);
  try {
    return { target, fd: openSync(target.tmp, 'w') };
  } catch (e) {
    target.abort();
    throw fsError(path, 'write', e);
  }
}
