/**
 * A folder of PaddleRec pickles used directly as `train_data_dir` / `test_data_dir`:
 * converted once into an Arrow dataset (by default `.metaheac-cache/` inside the folder)
 * and reused for as long as the pickles are unchanged. The key is each pickle's name,
 * size, mtime and a SHA-256 of its first and last MiB (a full hash of multi-GB files
 * would cost as much as a conversion), plus the max_idxs asked for and the converter
 * version; any change reconverts. A conversion is built in a sibling temp folder and
 * swapped in whole, so a crash never leaves a half-written cache that looks valid.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { noProgress, type ProgressFactory } from '../../util/progress.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { DataError } from '../../util/errors.js';
import { PART_EXT, SCHEMA_FILE } from '../dataset.js';
import { importPickles, listPickles, pickleSources } from './pickle-import.js';

/** Bump when a change to the importer changes what it writes: old caches then reconvert. */
const CONVERTER_VERSION = 1;
const MANIFEST = 'source.json';
const HASHED = 1 << 20;

interface Fingerprint {
  file: string;
  size: number;
  mtimeMs: number;
  sha256HeadTail: string;
}

interface Manifest {
  format: 'metaheac-pickle-cache';
  version: number;
  maxIdxs: number[][] | null;
  files: Fingerprint[];
  parts: string[];
}

function fingerprint(path: string): Fingerprint {
  const fd = openSync(path, 'r');
  try {
    const { size, mtimeMs } = fstatSync(fd);
    const h = createHash('sha256');
    const chunk = Buffer.alloc(Math.min(HASHED, size));
    const readAt = (pos: number): void => {
      let got = 0;
      while (got < chunk.length) {
        const n = readSync(fd, chunk, got, chunk.length - got, pos + got);
        if (n === 0) break;
        got += n;
      }
      h.update(chunk.subarray(0, got));
    };
    readAt(0);
    if (size > HASHED) readAt(size - chunk.length);
    return { file: basename(path), size, mtimeMs, sha256HeadTail: h.digest('hex') };
  } finally {
    closeSync(fd);
  }
}

/** Where the dataset converted from `dir` lives. */
export function paddleCacheDir(dir: string, cacheDir?: string): string {
  const abs = resolve(dir);
  if (!cacheDir) return join(abs, '.metaheac-cache');
  // Several folders (train, infer_hot, infer_cold) share one cache root: key by full path.
  const tag = createHash('sha256').update(abs).digest('hex').slice(0, 12);
  return join(resolve(cacheDir), `${basename(abs)}-${tag}`);
}

function readManifest(target: string): Manifest | null {
  try {
    return JSON.parse(readFileSync(join(target, MANIFEST), 'utf8')) as Manifest;
  } catch {
    return null;
  }
}

function upToDate(target: string, want: Omit<Manifest, 'parts'>): boolean {
  const have = readManifest(target);
  if (!have) return false;
  const { parts, ...key } = have;
  if (JSON.stringify(key) !== JSON.stringify(want)) return false;
  return existsSync(join(target, SCHEMA_FILE)) && parts.every((p) => existsSync(join(target, p + PART_EXT)));
}

/**
 * The Arrow dataset for a folder of PaddleRec pickles, converting it first when there is
 * no up-to-date cache. `maxIdxs` (the config's max_idxs) fixes the vocabulary and is
 * checked against every id; without it each folder's schema is its own largest ids.
 */
export async function ensureArrowFromPaddleDir(dir: string, opts: { cacheDir?: string; maxIdxs?: number[][]; progress?: ProgressFactory } = {}): Promise<string> {
  const files = existsSync(dir) ? listPickles(dir) : [];
  if (files.length === 0) throw new DataError(`${dir}: no *.pkl or *.pickle files to read`);
  const target = paddleCacheDir(dir, opts.cacheDir);
  const key = { format: 'metaheac-pickle-cache' as const, version: CONVERTER_VERSION, maxIdxs: opts.maxIdxs ?? null, files: files.map(fingerprint) };
  if (upToDate(target, key)) return target;
  const sources = pickleSources(files);
  const tmp = `${target}.tmp-${process.pid}`;
  try {
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new DataError(`${dirname(tmp)}: cannot write the converted copy of the pickles (${code}); set runner.cache_dir to a writable folder`);
  }
  try {
    await importPickles(sources, tmp, { maxIdxs: opts.maxIdxs, progress: (label, total) => (opts.progress ?? noProgress)(`convert ${label.replace(/^read /, '')}`, total) });
    const manifest: Manifest = { ...key, parts: sources.map((s) => s.name) };
    writeFileAtomic(join(tmp, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    const old = `${target}.old-${process.pid}`;
    if (existsSync(target)) renameSync(target, old);
    renameSync(tmp, target);
    rmSync(old, { recursive: true, force: true });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return target;
}
