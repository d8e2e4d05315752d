/**
 * One run at a time per output folder: two `train` runs into one model folder, or two
 * `expand` runs into one --out, would interleave their files. A run takes the folder's lock,
 * a file `.NAME.lock` beside it, created exclusively (O_EXCL) and holding the owner's pid and
 * host. A second run is refused, naming the holder. The lock is removed when the run ends, on
 * SIGINT / SIGTERM (it is registered with the temporary files the interrupt handler removes),
 * and is stale once its process is gone (SIGKILL, a crash): the next run on the same host
 * takes it over. A lock from another host cannot be checked and is left to the user.
 */
import { closeSync, openSync, readFileSync, realpathSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { trackTemp, untrackTemp } from './atomic.js';
import { fsError, UserError } from './errors.js';
import { ensureDir } from './files.js';
import { isAlive } from './process-alive.js';

interface Holder {
  pid: number;
  host: string;
  since: string;
}

export interface FolderLock {
  path: string;
  release: () => void;
}

function lockPath(dir: string): string {
  const abs = resolve(dir);
  ensureDir(dirname(abs));
  return join(realpathSync(dirname(abs)), `.${basename(abs)}.lock`);
}

/** The holder written in the lock file, or null while it is being written (or unreadable). */
function readHolder(path: string): Holder | null {
  try {
    const h = JSON.parse(readFileSync(path, 'utf8')) as Holder;
    return Number.isSafeInteger(h.pid) && h.pid > 0 && typeof h.host === 'string' ? h : null;
  } catch {
    return null;
  }
}

function tryCreate(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw fsError(path, 'create the lock file', e);
  }
  try {
    writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() } satisfies Holder));
    closeSync(fd);
  } catch (e) {
    // a full disk: no half-written lock left behind
    closeSync(fd);
    unlinkSync(path);
    throw fsError(path, 'write the lock file', e);
  }
  return true;
}

/**
 * Take the lock of output folder `dir` for a `what` run (e.g. `train`), or refuse with one
 * line naming the run that holds it.
 */
export function lockFolder(dir: string, what: string): FolderLock {
  const path = lockPath(dir);
  // a stale lock is removed and the create tried again; a second stale one in a row is another run's race
  for (let tries = 0; ; tries++) {
    if (tryCreate(path)) break;
    const h = readHolder(path);
    if (h && h.host === hostname() && !isAlive(h.pid) && tries < 2) {
      unlinkSync(path);
      continue;
    }
    const who = h ? `pid ${h.pid} on ${h.host}, since ${h.since}` : 'a run starting now';
    throw new UserError(`${dir}: another ${what} run is writing there (${who}); wait for it to end, or remove ${path} if that process is gone`);
  }
  trackTemp(path);
  const release = (): void => {
    process.off('exit', release);
    untrackTemp(path);
    if (readHolder(path)?.pid === process.pid) unlinkSync(path);
  };
  process.on('exit', release);
  return { path, release };
}
