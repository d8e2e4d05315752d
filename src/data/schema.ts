/**
 * The feature schema: three ordered groups of categorical fields (spec section 2).
 * Field order fixes parameter names (`embedding.static_emb.embeddings.{i}`), so it is
 * part of the contract, not a detail.
 */
import { existsSync, readFileSync } from 'node:fs';
import { DataError } from '../util/errors.js';
import { checkInputFile, MAX_TEXT_BYTES } from '../util/files.js';

export interface FieldSpec {
  name: string;
  /** Largest valid id; the vocabulary is `0..maxIdx`. */
  maxIdx: number;
}

export interface MultiFieldSpec extends FieldSpec {
  /** Padded list width; `len` may exceed it (the model divides by `len`, spec section 3). */
  width: number;
}

export interface Schema {
  userSingle: FieldSpec[];
  userMulti: MultiFieldSpec[];
  task: FieldSpec[];
}

/** The official preprocessing counts up to 10 ids before cutting lists (spec section 2). */
export const LENGTH_CAP = 10;

/** Ids are int32 and a table has max_idx + 1 rows: the largest max_idx a field may have. */
export const MAX_ID = 2 ** 31 - 2;
/** The widest padded list: far above any real feature's (Tencent's are 10), far below a width that fills memory. */
export const MAX_WIDTH = 4096;

/** The largest `len` a multi-valued field may carry. */
export function maxLength(f: MultiFieldSpec): number {
  return Math.max(LENGTH_CAP, f.width);
}

/** Tencent Look-alike preset, in the spec's field order. */
export const TENCENT_SCHEMA: Schema = {
  userSingle: [
    { name: 'carrier', maxIdx: 3 },
    { name: 'consumptionAbility', maxIdx: 2 },
    { name: 'LBS', maxIdx: 855 },
    { name: 'age', maxIdx: 5 },
    { name: 'education', maxIdx: 7 },
    { name: 'gender', maxIdx: 2 },
    { name: 'house', maxIdx: 1 },
  ],
  userMulti: [
    { name: 'interest1', maxIdx: 124, width: 10 },
    { name: 'interest2', maxIdx: 82, width: 10 },
    { name: 'interest3', maxIdx: 12, width: 10 },
    { name: 'kw1', maxIdx: 263312, width: 5 },
    { name: 'kw2', maxIdx: 49780, width: 5 },
    { name: 'topic1', maxIdx: 10002, width: 5 },
    { name: 'topic2', maxIdx: 9984, width: 5 },
  ],
  task: [
    { name: 'advertiserId', maxIdx: 78 },
    { name: 'campaignId', maxIdx: 137 },
    { name: 'creativeSize', maxIdx: 14 },
    { name: 'adCategoryId', maxIdx: 39 },
    { name: 'productId', maxIdx: 32 },
    { name: 'productType', maxIdx: 3 },
  ],
};

/** Number of user fields F (single + multi). */
export function userFieldCount(s: Schema): number {
  return s.userSingle.length + s.userMulti.length;
}

/** Sum of multi-valued widths: the row stride of the multi-id matrix. */
export function multiStride(s: Schema): number {
  let w = 0;
  for (const f of s.userMulti) w += f.width;
  return w;
}

/** Offsets of each multi-valued field's block inside a row of the multi-id matrix. */
export function multiOffsets(s: Schema): number[] {
  const out: number[] = [];
  let o = 0;
  for (const f of s.userMulti) {
    out.push(o);
    o += f.width;
  }
  return out;
}

/** PaddleRec's `max_idxs`: [[single...], [multi...], [task...]]. */
export function maxIdxs(s: Schema): number[][] {
  return [s.userSingle.map((f) => f.maxIdx), s.userMulti.map((f) => f.maxIdx), s.task.map((f) => f.maxIdx)];
}

/** Every column name a part of this schema carries, in the published pickles' order. */
export function columnNames(s: Schema): string[] {
  return [
    'label',
    'aid',
    ...s.userSingle.map((f) => f.name),
    ...s.userMulti.map((f) => f.name),
    ...s.userMulti.map((f) => `${f.name}_length`),
    ...s.task.map((f) => f.name),
  ];
}

/**
 * The first field where `configured` max_idxs fail `ok(configured, actual)` against the
 * schema's, as a sentence ending in `said(actual)`; or a group-shape mismatch; or null.
 */
function firstMaxIdxsProblem(s: Schema, configured: number[][], ok: (c: number, a: number) => boolean, said: (a: number) => string): string | null {
  const groups = ['user single', 'user multi', 'task'];
  const actual = maxIdxs(s);
  if (configured.length !== 3) return `max_idxs must have 3 groups (user single, user multi, task), found ${configured.length}`;
  for (let g = 0; g < 3; g++) {
    const a = actual[g]!;
    const c = configured[g]!;
    if (a.length !== c.length) return `max_idxs group ${g} (${groups[g]}) has ${c.length} fields, the dataset schema has ${a.length}`;
    for (let i = 0; i < a.length; i++) {
      if (!ok(c[i]!, a[i]!)) {
        const name = [s.userSingle, s.userMulti, s.task][g]![i]!.name;
        return `max_idxs[${g}][${i}] (${name}) is ${c[i]}, ${said(a[i]!)}`;
      }
    }
  }
  return null;
}

/**
 * Compare a config's `max_idxs` with a dataset's schema; returns the first mismatch as a
 * sentence, or null when they agree.
 */
export function maxIdxsMismatch(s: Schema, configured: number[][]): string | null {
  return firstMaxIdxsProblem(s, configured, (c, a) => c === a, (a) => `the dataset schema says ${a}`);
}

/**
 * A config's `max_idxs` sizes the embedding tables (as in PaddleRec and the official code);
 * it may exceed the data's largest ids (PaddleRec's Tencent preset does, by 2 on the list
 * fields) but never fall below them. Returns the first violation, or null.
 */
export function maxIdxsTooSmall(data: Schema, configured: number[][]): string | null {
  return firstMaxIdxsProblem(data, configured, (c, a) => c >= a, (a) => `below the dataset schema's ${a}`);
}

/** The data's schema with the table sizes of `configured` (checked with maxIdxsTooSmall first). */
export function withMaxIdxs(data: Schema, configured: number[][]): Schema {
  const [s, m, t] = configured as [number[], number[], number[]];
  return {
    userSingle: data.userSingle.map((f, i) => ({ ...f, maxIdx: s[i]! })),
    userMulti: data.userMulti.map((f, i) => ({ ...f, maxIdx: m[i]! })),
    task: data.task.map((f, i) => ({ ...f, maxIdx: t[i]! })),
  };
}

interface SchemaJsonField {
  name: string;
  max_idx: number;
  width?: number;
}

export interface SchemaJson {
  format: 'metaheac-schema';
  version: 1;
  user_single: SchemaJsonField[];
  user_multi: SchemaJsonField[];
  task: SchemaJsonField[];
}

export function schemaToJson(s: Schema): SchemaJson {
  return {
    format: 'metaheac-schema',
    version: 1,
    user_single: s.userSingle.map((f) => ({ name: f.name, max_idx: f.maxIdx })),
    user_multi: s.userMulti.map((f) => ({ name: f.name, max_idx: f.maxIdx, width: f.width })),
    task: s.task.map((f) => ({ name: f.name, max_idx: f.maxIdx })),
  };
}

/** Parse and validate a schema.json object; `where` names the file in errors. */
export function schemaFromJson(raw: unknown, where: string): Schema {
  const fail = (msg: string): never => {
    throw new DataError(`${where}: ${msg}`);
  };
  if (typeof raw !== 'object' || raw === null) fail('expected a JSON object');
  const o = raw as Record<string, unknown>;
  const names = new Set<string>();
  const group = (key: string, multi: boolean): SchemaJsonField[] => {
    const g = o[key];
    if (!Array.isArray(g)) return fail(`key "${key}" must be an array of fields`);
    g.forEach((f: unknown, i: number) => {
      const at = `${key}[${i}]`;
      if (typeof f !== 'object' || f === null) fail(`${at} must be an object`);
      const ff = f as Record<string, unknown>;
      if (typeof ff.name !== 'string' || ff.name === '') fail(`${at}.name must be a non-empty string`);
      if (!Number.isInteger(ff.max_idx) || (ff.max_idx as number) < 0 || (ff.max_idx as number) > MAX_ID) {
        fail(`${at}.max_idx must be an integer in [0, ${MAX_ID}] (ids are int32), found ${JSON.stringify(ff.max_idx)}`);
      }
      if (multi && (!Number.isInteger(ff.width) || (ff.width as number) < 1 || (ff.width as number) > MAX_WIDTH)) {
        fail(`${at}.width must be an integer in [1, ${MAX_WIDTH}], found ${JSON.stringify(ff.width)}`);
      }
      const name = ff.name as string;
      if (names.has(name) || name === 'label' || name === 'aid') fail(`${at}.name "${name}" is duplicated or reserved`);
      names.add(name);
    });
    return g as SchemaJsonField[];
  };
  const single = group('user_single', false);
  const multi = group('user_multi', true);
  const task = group('task', false);
  if (single.length + multi.length === 0) fail('the schema needs at least one user field');
  return {
    userSingle: single.map((f) => ({ name: f.name, maxIdx: f.max_idx })),
    userMulti: multi.map((f) => ({ name: f.name, maxIdx: f.max_idx, width: f.width! })),
    task: task.map((f) => ({ name: f.name, maxIdx: f.max_idx })),
  };
}

export function readSchemaFile(path: string): Schema {
  let text: string;
  // a missing schema gets the message below; a device or FIFO is refused before reading
  if (existsSync(path)) checkInputFile(path, MAX_TEXT_BYTES);
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DataError(`${path}: cannot read schema (${(e as NodeJS.ErrnoException).code ?? String(e)}); a dataset directory must hold schema.json`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new DataError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return schemaFromJson(raw, path);
}
