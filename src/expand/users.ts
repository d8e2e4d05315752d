/**
 * User tables (`users.arrow`: a `uid` column and the user fields): finding a campaign's
 * seed users in one, and reading one as a pool in fixed-size chunks of consecutive rows.
 */
import { countRows, streamPart } from '../data/arrow-read.js';
import type { PartData } from '../data/part.js';
import { allocatePart, copyRows, sliceRows } from '../data/part-ops.js';
import type { Schema } from '../data/schema.js';
import type { Uid } from '../data/uid.js';
import { DataError, UserError } from '../util/errors.js';

/** The user fields of a schema: a user table's rows carry no task fields. */
export function userSchema(s: Schema): Schema {
  return { ...s, task: [] };
}

export interface FoundUsers {
  /** Rows of the found users (user fields only), in the order first met in the table. */
  data: PartData;
  /** uid → row of `data`, for uids below 2^53 (rowOf looks in both maps). */
  row: Map<number, number>;
  /** uid → row of `data`, for uids beyond 2^53. */
  bigRow: Map<bigint, number>;
}

/** The row of `data` holding user `u`, if found. */
export function rowOf(f: FoundUsers, u: Uid): number | undefined {
  return typeof u === 'bigint' ? f.bigRow.get(u) : f.row.get(u);
}

/** One pass over a user table, keeping the rows of the wanted uids. */
export async function findUsers(path: string, schema: Schema, wanted: Set<Uid>, signal?: AbortSignal): Promise<FoundUsers> {
  const us = userSchema(schema);
  const data = allocatePart(us, wanted.size);
  const found: FoundUsers = { data, row: new Map(), bigRow: new Map() };
  let n = 0;
  for await (const { row0, data: b, uid: uids } of streamPart(path, schema, { kind: 'users' })) {
    signal?.throwIfAborted();
    for (let i = 0; i < b.nRows; i++) {
      const u = uids[i]!;
      if (!wanted.has(u)) continue;
      if (rowOf(found, u) !== undefined) throw new DataError(`${path}: uid ${u} appears twice (row ${row0 + i} and an earlier row); a user table has one row per user`);
      copyRows(us, { ...b, extra: {} }, i, data, n, 1);
      if (typeof u === 'bigint') found.bigRow.set(u, n++);
      else found.row.set(u, n++);
    }
  }
  return found;
}

/** Rows [from, to) of the pool split into `count` shards of whole batches: the `index`-th. */
export function shardRange(total: number, batchSize: number, index: number, count: number): { from: number; to: number } {
  const batches = Math.ceil(total / batchSize);
  const b0 = Math.floor((index * batches) / count);
  const b1 = Math.floor(((index + 1) * batches) / count);
  return { from: Math.min(total, b0 * batchSize), to: Math.min(total, b1 * batchSize) };
}

export { countRows };

/**
 * What a pool hands each chunk to. A source whose uids are all below 2^53 may leave out
 * `exact` (`uid` then holds them exactly); readers take `exact ?? uid`.
 */
export type UidChunkFn = (d: PartData, uid: Float64Array, row0: number, exact?: readonly Uid[]) => void;

/**
 * Rows [from, to) of a user table in chunks of exactly `chunk` consecutive rows (the last
 * may be shorter), whatever the file's record batches: scoring a chunk then depends only on
 * its rows, so a shard that starts on a chunk boundary scores each row exactly as the whole
 * pool does. `fn` gets the chunk's user fields and uids (reused between calls): `uid` as
 * numbers, NaN for a uid beyond 2^53 (no double names that user, so none is matched by a
 * rounded neighbour), and `exact`, every uid exactly.
 */
export async function forEachChunk(
  path: string,
  schema: Schema,
  from: number,
  to: number,
  chunk: number,
  fn: UidChunkFn,
  signal?: AbortSignal,
): Promise<void> {
  const us = userSchema(schema);
  const buf = allocatePart(us, chunk);
  const uid = new Float64Array(chunk);
  const exact = new Array<Uid>(chunk);
  let n = 0;
  let start = from;
  const flush = (): void => {
    fn(n === chunk ? buf : sliceRows(us, buf, 0, n), n === chunk ? uid : uid.subarray(0, n), start, n === chunk ? exact : exact.slice(0, n));
    start += n;
    n = 0;
  };
  for await (const { data: b, uid: uids } of streamPart(path, schema, { kind: 'users', from, to })) {
    if (signal?.aborted) throw new UserError('expansion aborted');
    const plain = { ...b, extra: {} };
    for (let i = 0; i < b.nRows; ) {
      const k = Math.min(chunk - n, b.nRows - i);
      copyRows(us, plain, i, buf, n, k);
      for (let j = 0; j < k; j++) {
        const u = uids[i + j]!;
        exact[n + j] = u;
        uid[n + j] = typeof u === 'number' ? u : NaN;
      }
      n += k;
      i += k;
      if (n === chunk) flush();
    }
  }
  if (n > 0) flush();
}

/**
 * A pool of users to score: a user table, or any source of user rows (a generator in the
 * benchmark, a service's own store). It yields rows [from, to) in chunks of exactly
 * `chunk` consecutive users (the last may be shorter), which is what makes shards exact.
 */
export interface PoolSource {
  /** Names the pool in summaries. */
  name: string;
  rows: number;
  forEachChunk(from: number, to: number, chunk: number, fn: UidChunkFn, signal?: AbortSignal): Promise<void>;
}

/** A user table file as a pool. */
export async function tablePool(path: string, schema: Schema): Promise<PoolSource> {
  return { name: path, rows: await countRows(path), forEachChunk: (from, to, chunk, fn, signal) => forEachChunk(path, schema, from, to, chunk, fn, signal) };
}
