/**
 * A dataset's identity: `manifest.json`, written last by prepare, synth and import-pkl, lists
 * every part with its rows, bytes, SHA-256 and tasks (aids), and the schema's SHA-256. The
 * dataset id is derived from those hashes, so the same bytes give the same id. A part read
 * from a folder with a manifest must be listed there with the same bytes: parts of two
 * datasets mixed in one folder are refused, naming the part. Folders without a manifest
 * (parts written by pyarrow, older versions) are read as before.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DataError } from '../util/errors.js';
import { openForRead } from '../util/files.js';

export const MANIFEST_FILE = 'manifest.json';
const FORMAT = 'metaheac-dataset';

export interface PartEntry {
  rows: number;
  bytes: number;
  sha256: string;
  /** The part's task ids, ascending. */
  aids: number[];
}

export interface DatasetManifest {
  format: typeof FORMAT;
  version: 1;
  /** SHA-256 over the schema's and the parts' hashes. */
  id: string;
  /** The command that wrote it, e.g. `synth --preset demo --seed 2021`. */
  producer: string;
  schema_sha256: string;
  /** By file name (`train_stage1.arrow`). */
  parts: Record<string, PartEntry>;
}

/** SHA-256 of a file, read in 4 MiB blocks (about 1 GB/s). */
export function fileSha256(path: string): string {
  const h = createHash('sha256');
  const fd = openForRead(path);
  try {
    const buf = Buffer.allocUnsafe(1 << 22);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

export function datasetId(schemaSha: string, parts: Record<string, PartEntry>): string {
  const h = createHash('sha256').update(`schema ${schemaSha}\n`);
  for (const name of Object.keys(parts).sort()) h.update(`${name} ${parts[name]!.sha256}\n`);
  return h.digest('hex');
}

function malformed(path: string, what: string): DataError {
  return new DataError(`${path}: not a valid dataset manifest (${what}); remove it to read the folder without identity checks`);
}

/** The manifest of a dataset folder, or null when it has none. */
export function readManifest(dir: string): DatasetManifest | null {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) return null;
  let m: DatasetManifest;
  try {
    m = JSON.parse(readFileSync(path, 'utf8')) as DatasetManifest;
  } catch (e) {
    throw malformed(path, (e as Error).message);
  }
  if (typeof m !== 'object' || m === null || m.format !== FORMAT) throw malformed(path, `"format" is not "${FORMAT}"`);
  if (m.version !== 1) throw malformed(path, `version ${String(m.version)} is not 1`);
  if (typeof m.parts !== 'object' || m.parts === null) throw malformed(path, 'no "parts"');
  for (const [name, p] of Object.entries(m.parts)) {
    const ok = Number.isSafeInteger(p?.rows) && Number.isSafeInteger(p?.bytes) && /^[0-9a-f]{64}$/.test(p?.sha256 ?? '') && Array.isArray(p?.aids);
    if (!ok) throw malformed(path, `entry "${name}"`);
  }
  return m;
}

/** Verified once per process and file version: a part is hashed the first time it is read. */
const verified = new Set<string>();

function versionKey(path: string): string {
  const st = statSync(path);
  return `${path}\0${st.size}\0${st.mtimeMs}`;
}

/**
 * Refuse a part that does not belong to the dataset whose manifest sits beside it: not
 * listed, other bytes, or beside another dataset's schema.json.
 */
export function verifyPart(partPath: string, schemaPath: string): void {
  const dir = dirname(partPath);
  const m = readManifest(dir);
  if (!m) return;
  const key = versionKey(partPath) + versionKey(schemaPath);
  if (verified.has(key)) return;
  const name = basename(partPath);
  const mixed = `parts of different datasets are mixed in ${dir}; write the dataset again, or remove ${MANIFEST_FILE} to read it unchecked`;
  const entry = Object.hasOwn(m.parts, name) ? m.parts[name] : undefined;
  if (!entry) throw new DataError(`${partPath}: not listed in ${join(dir, MANIFEST_FILE)} (dataset ${m.id.slice(0, 12)}, written by ${m.producer}): ${mixed}`);
  if (dirname(schemaPath) === dir && fileSha256(schemaPath) !== m.schema_sha256) {
    throw new DataError(`${schemaPath}: differs from the schema of dataset ${m.id.slice(0, 12)} (${MANIFEST_FILE}): ${mixed}`);
  }
  const sha = fileSha256(partPath);
  if (sha !== entry.sha256) {
    throw new DataError(`${partPath}: its content differs from the part of dataset ${m.id.slice(0, 12)} (${MANIFEST_FILE} says SHA-256 ${entry.sha256.slice(0, 12)}…, the file has ${sha.slice(0, 12)}…): ${mixed}`);
  }
  verified.add(key);
}

/** A part's tasks as the manifest lists them, or null without a manifest. */
export function manifestAids(partPath: string): number[] | null {
  const m = readManifest(dirname(partPath));
  const name = basename(partPath);
  return m && Object.hasOwn(m.parts, name) ? m.parts[name]!.aids : null;
}

/** A part's SHA-256: the manifest's (verified when the part was loaded), else computed. */
export function partSha256(partPath: string): string {
  const m = readManifest(dirname(partPath));
  const name = basename(partPath);
  return m && Object.hasOwn(m.parts, name) ? m.parts[name]!.sha256 : fileSha256(partPath);
}
