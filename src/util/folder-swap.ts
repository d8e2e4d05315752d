/**
 * Writing a folder as one unit: its files go into a hidden temporary sibling, which then
 * replaces the folder (the old one moved aside to `.NAME.old-PID` and removed after; two
 * renames with no await between them, so no signal handler runs in between). A failed,
 * interrupted or killed run leaves the previous folder whole; sweepStale (util/atomic) puts
 * a moved-aside folder back, or removes a dead run's temporary one, next time.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { sweepStale, trackTemp, untrackTemp } from './atomic.js';
import { fsError } from './errors.js';
import { ensureDir } from './files.js';

/** Create the temporary sibling of folder `dir` (registered for removal on interrupt); `what` names the folder in errors. */
export function openTempFolder(dir: string, what: string): string {
  const abs = resolve(dir);
  sweepStale(abs);
  const parent = dirname(abs);
  const tmp = join(parent, `.${basename(abs)}.tmp-${process.pid}`);
  ensureDir(parent);
  try {
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
  } catch (e) {
    throw fsError(parent, `create the ${what} there`, e);
  }
  trackTemp(tmp);
  return tmp;
}

/** Put the finished temporary folder `tmp` in place of `dir`. */
export function swapFolderIn(tmp: string, dir: string, what: string): void {
  const old = join(dirname(tmp), `.${basename(resolve(dir))}.old-${process.pid}`);
  try {
    rmSync(old, { recursive: true, force: true });
    if (existsSync(dir)) renameSync(dir, old);
    renameSync(tmp, dir);
  } catch (e) {
    // put the previous folder back if it was moved aside
    if (!existsSync(dir) && existsSync(old)) renameSync(old, dir);
    throw fsError(dir, `replace the ${what}`, e);
  }
  untrackTemp(tmp);
  rmSync(old, { recursive: true, force: true });
}

/** Drop an unfinished temporary folder. */
export function dropTempFolder(tmp: string): void {
  rmSync(tmp, { recursive: true, force: true });
  untrackTemp(tmp);
}
