/**
 * A dataset on disk: a directory holding schema.json and one Arrow IPC file per part
 * (`train_stage1.arrow`, `test_hot_stage1.arrow`, ...). These helpers find parts by the
 * naming convention so commands can take either a directory or a single file.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigError, DataError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { noProgress, type Progress, type ProgressFactory } from '../util/progress.js';
import { readPart } from './arrow-part.js';
import { verifyPart } from './manifest.js';
import { STANDARD_PARTS, userTableGivenForPart, type Part } from './part.js';
import { maxIdxsTooSmall, readSchemaFile, schemaToJson, withMaxIdxs, type Schema } from './schema.js';

export const SCHEMA_FILE = 'schema.json';
export const PART_EXT = '.arrow';

export interface DatasetPart {
  name: string;
  path: string;
}

export interface Dataset {
  dir: string;
  schema: Schema;
  /** Every `*.arrow` part present: the standard ones in their usual order, then others by name. */
  parts: DatasetPart[];
}

export interface TestSplit {
  /** 'hot' / 'cold' for test_hot / test_cold, else the file prefix. */
  name: string;
  stage1: string;
  stage2: string;
}

/** Files of a dataset beyond its parts, named in schema.json (paths relative to its folder). */
export interface DatasetFiles {
  /** The user table: one row per user, `uid` and the user fields (data/users.ts). */
  users?: string;
  /** The raw values behind the task fields' codes (data/task-vocab.ts), from `prepare`. */
  task_vocab?: string;
}

export function writeSchema(dir: string, schema: Schema, files: DatasetFiles = {}): void {
  writeFileAtomic(join(dir, SCHEMA_FILE), `${JSON.stringify({ ...schemaToJson(schema), ...files }, null, 2)}\n`);
}

/** The extra files a dataset's schema.json names, as paths (null when not named). */
export function datasetFiles(schemaPath: string): { users: string | null; taskVocab: string | null } {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(schemaPath, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new DataError(`${schemaPath}: cannot read (${(e as Error).message})`);
  }
  const file = (key: string): string | null => {
    const v = raw[key];
    if (v === undefined) return null;
    if (typeof v !== 'string' || v === '') throw new DataError(`${schemaPath}: key "${key}" must be a file name, found ${JSON.stringify(v)}`);
    return join(dirname(schemaPath), v);
  };
  return { users: file('users'), taskVocab: file('task_vocab') };
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function requireExists(p: string): void {
  if (!existsSync(p)) throw new DataError(`${p}: no such file or directory`);
}

/** The user table's usual name: an Arrow file beside the parts that is not one. */
export const USERS_FILE = `users${PART_EXT}`;
/** synth's campaign files for expand, and their truth table. */
export const CAMPAIGNS_DIR = 'campaigns';

function partNames(dir: string): string[] {
  const names = readdirSync(dir)
    .filter((f) => f.endsWith(PART_EXT) && !f.startsWith('.') && f !== USERS_FILE)
    .map((f) => f.slice(0, -PART_EXT.length));
  const std = STANDARD_PARTS.filter((n) => names.includes(n));
  const others = names.filter((n) => !(STANDARD_PARTS as readonly string[]).includes(n)).sort();
  return [...std, ...others];
}

export function loadDataset(dir: string): Dataset {
  requireExists(dir);
  if (!isDir(dir)) throw new DataError(`${dir}: not a directory (a dataset is a directory holding ${SCHEMA_FILE} and *.arrow parts)`);
  const schema = readSchemaFile(join(dir, SCHEMA_FILE));
  return { dir, schema, parts: partNames(dir).map((name) => ({ name, path: join(dir, name + PART_EXT) })) };
}

/** A part file itself, or `train_stage1.arrow` inside a dataset directory. */
export function findTrainPart(pathOrDir: string): string {
  requireExists(pathOrDir);
  if (!isDir(pathOrDir)) return pathOrDir;
  const p = join(pathOrDir, `train_stage1${PART_EXT}`);
  if (!existsSync(p)) {
    const found = partNames(pathOrDir);
    throw new DataError(`${pathOrDir}: no train_stage1${PART_EXT} (parts found: ${found.length ? found.join(', ') : 'none'})`);
  }
  return p;
}

function splitName(prefix: string): string {
  return prefix.startsWith('test_') ? prefix.slice('test_'.length) : prefix;
}

/**
 * Test splits as `X_stage1` + `X_stage2` pairs: every pair in a directory (hot, cold,
 * then others by name), or the one pair a given stage-1 or stage-2 file belongs to.
 */
export function findTestSplits(pathOrDir: string): TestSplit[] {
  requireExists(pathOrDir);
  if (!isDir(pathOrDir)) {
    const m = /^(.+)_stage[12]\.arrow$/.exec(basename(pathOrDir));
    if (!m) throw new DataError(`${pathOrDir}: a test part must be named X_stage1${PART_EXT} or X_stage2${PART_EXT}`);
    const dir = dirname(pathOrDir);
    const split = { name: splitName(m[1]!), stage1: join(dir, `${m[1]}_stage1${PART_EXT}`), stage2: join(dir, `${m[1]}_stage2${PART_EXT}`) };
    for (const p of [split.stage1, split.stage2]) requireExists(p);
    return [split];
  }
  const names = new Set(partNames(pathOrDir));
  const prefixes = [...names]
    .filter((n) => n.endsWith('_stage1') && names.has(`${n.slice(0, -'_stage1'.length)}_stage2`))
    .map((n) => n.slice(0, -'_stage1'.length));
  const rank = (p: string): number => (p === 'test_hot' ? 0 : p === 'test_cold' ? 1 : 2);
  prefixes.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  if (prefixes.length === 0) {
    throw new DataError(`${pathOrDir}: no test split (expected X_stage1${PART_EXT} + X_stage2${PART_EXT} pairs, e.g. test_hot_stage1${PART_EXT} and test_hot_stage2${PART_EXT})`);
  }
  return prefixes.map((p) => ({
    name: splitName(p),
    stage1: join(pathOrDir, `${p}_stage1${PART_EXT}`),
    stage2: join(pathOrDir, `${p}_stage2${PART_EXT}`),
  }));
}

/** The schema.json governing a part: beside it, or in its parent directory. */
export function schemaPathFor(partPath: string): string {
  const here = join(dirname(partPath), SCHEMA_FILE);
  if (existsSync(here)) return here;
  const parent = join(dirname(dirname(partPath)), SCHEMA_FILE);
  if (existsSync(parent)) return parent;
  throw new DataError(`${partPath}: no ${SCHEMA_FILE} beside it or in its parent directory`);
}

/** A part's schema, read without the part: a model is sized (and refused) before its data loads. */
export function partSchema(partPath: string): Schema {
  requireExists(partPath);
  return readSchemaFile(schemaPathFor(partPath));
}

/** Parts this large get a progress bar while they load (about a second and more). */
const PROGRESS_ROWS = 1_000_000;

/**
 * Read a part with the schema found by schemaPathFor. Where a manifest.json sits beside the
 * part, the part must be the one it lists (`verify: false` only where the caller has checked
 * that already, e.g. in infer's workers).
 */
export async function loadPart(path: string, progress: ProgressFactory = noProgress, opts: { verify?: boolean } = {}): Promise<Part> {
  requireExists(path);
  const schemaPath = schemaPathFor(path);
  // the user table is not in the manifest's parts: say what it is, not that datasets are mixed
  if (existsSync(schemaPath) && resolve(path) === resolve(datasetFiles(schemaPath).users ?? '')) throw new DataError(userTableGivenForPart(path));
  if (opts.verify !== false) verifyPart(path, schemaPath);
  let bar: Progress | null = null;
  try {
    return await readPart(path, readSchemaFile(schemaPath), (rows, total) => {
      if (total >= PROGRESS_ROWS) (bar ??= progress(`load ${basename(path)}`, total)).update(rows);
    });
  } finally {
    (bar as Progress | null)?.stop();
  }
}

/**
 * The schema a model runs with on this data: the data's own, or with the table sizes of a
 * config's `max_idxs`, which may exceed the data's largest ids but never fall below them;
 * the message names both files and the first field that does not fit.
 */
export function modelSchema(schema: Schema, configured: number[][] | null | undefined, configPath: string, schemaPath: string): Schema {
  if (configured === undefined || configured === null) return schema;
  const bad = maxIdxsTooSmall(schema, configured);
  if (bad) throw new ConfigError(`${configPath}: hyper_parameters.${bad} (${schemaPath})`);
  return withMaxIdxs(schema, configured);
}
