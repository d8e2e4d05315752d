/**
 * An output must never be one of the run's inputs: writing it would destroy what the run
 * reads (`export-onnx --model c.safetensors --out c.safetensors`). Paths are compared after
 * following symbolic links, and by device and inode, so `./c`, a link to `c` and a hard link
 * of `c` are all the same file. Every command checks its outputs with this before any work.
 */
import { accessSync, constants, existsSync, realpathSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ensureDir, existingAncestor, isInside } from './files.js';
import { fsError, UserError } from './errors.js';

/** `path` with its existing part's links followed (the rest appended as given). */
function real(path: string): string {
  const abs = resolve(path);
  try {
    return realpathSync(abs);
  } catch {
    const up = dirname(abs);
    return up === abs ? abs : join(real(up), basename(abs));
  }
}

function statOf(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** Why writing `output` would destroy `input`, or null. */
function clash(output: string, input: string, folder: boolean): string | null {
  const o = real(output);
  const i = real(input);
  if (o === i) return 'is';
  const os = statOf(o);
  const is = statOf(i);
  if (os?.isFile() && is?.isFile() && os.dev === is.dev && os.ino === is.ino) return 'is a hard link of';
  // a folder output is replaced as a whole: nothing it holds may be an input
  if (folder && isInside(i, o)) return 'holds';
  return null;
}

/**
 * Refuse output `path` (named `what` in the message, e.g. `--out`) when it is, links to or
 * (for a folder replaced as a whole, `folder`) holds one of `inputs`; inputs not given
 * (undefined) are skipped.
 */
export function checkNotInput(path: string, what: string, inputs: (string | undefined | null)[], folder = false): void {
  for (const input of inputs) {
    if (!input) continue;
    const how = clash(path, input, folder);
    if (how) throw new UserError(`${what} ${path} ${how} the input ${input}; writing it would destroy the input`);
  }
}

/**
 * Check an output file before any work: not a folder, not one of the inputs, and its folder
 * writable (or creatable). `what` names the option in messages, e.g. `--out`.
 */
export function checkOutputFile(path: string, what: string, inputs: (string | undefined | null)[] = []): void {
  checkNotInput(path, what, inputs);
  if (existsSync(path) && statSync(path).isDirectory()) throw new UserError(`${what} ${path} is a folder; expected a file path`);
  const dir = existingAncestor(dirname(path), path, 'written');
  try {
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw fsError(dir, `write ${what} ${path} there`, e);
  }
  // a folder that cannot be made (under /proc, a full disk) fails now, not after the work
  ensureDir(dirname(path));
}
