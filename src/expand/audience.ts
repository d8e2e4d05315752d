/**
 * An expanded audience: uids, scores and ranks, best first; its files (CSV with header
 * `uid,score,rank`, and Parquet for warehouses and DMPs), written atomically, and read back
 * (for merging shards).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { makeVector, Table, tableToIPC } from 'apache-arrow';
import { writeFileAtomic } from '../util/atomic.js';
import { numericUids, parseUid, type Uid } from '../data/uid.js';
import { DataError } from '../util/errors.js';
import { formatScore, parseScore } from './score-format.js';

export interface Audience {
  /** The uids as numbers: NaN for a uid beyond 2^53, which no double names (see `exact`). */
  uid: Float64Array;
  /** Every uid exactly, present only when some uid is beyond 2^53: read uids with audienceUids. */
  exact?: Uid[];
  /** float32 values, as the model gives them. */
  score: Float32Array;
  /** 1 = best. */
  rank: Int32Array;
}

export const AUDIENCE_CSV = 'audience.csv';
export const AUDIENCE_PARQUET = 'audience.parquet';

export function audienceFrom(sorted: { uid: Uid[]; score: Float64Array }): Audience {
  return withUids({ score: Float32Array.from(sorted.score), rank: Int32Array.from(sorted.uid, (_, i) => i + 1) }, sorted.uid);
}

function withUids(a: Omit<Audience, 'uid' | 'exact'>, uids: Uid[]): Audience {
  const uid = numericUids(uids);
  return uids.some((u) => typeof u === 'bigint') ? { uid, exact: uids, ...a } : { uid, ...a };
}

/** The audience's uids, exactly. */
export function audienceUids(a: Audience): ArrayLike<Uid> {
  return a.exact ?? a.uid;
}

/**
 * A uid the audience holds twice, if any: two pool rows of one user both ranked (a user
 * table has one row per user; prepare refuses a uid on two lines, a hand-made table may not).
 */
export function repeatedUid(a: Audience): Uid | undefined {
  const seen = new Set<Uid>();
  const uids = audienceUids(a);
  for (let i = 0; i < uids.length; i++) {
    const u = uids[i]!;
    if (seen.has(u)) return u;
    seen.add(u);
  }
  return undefined;
}

export function audienceCsv(a: Audience): string {
  const lines = ['uid,score,rank\n'];
  const uids = audienceUids(a);
  for (let i = 0; i < uids.length; i++) lines.push(`${uids[i]},${formatScore(a.score[i]!)},${a.rank[i]}\n`);
  return lines.join('');
}

const require = createRequire(import.meta.url);

/** The audience as Parquet: uid Int64, score Float32, rank Int32. */
export function audienceParquet(a: Audience): Uint8Array {
  const pq = require('parquet-wasm/node') as typeof import('parquet-wasm/node');
  const uid = makeVector(BigInt64Array.from(audienceUids(a), (u) => BigInt(u)));
  const table = new Table({ uid, score: makeVector(a.score), rank: makeVector(a.rank) });
  const props = new pq.WriterPropertiesBuilder().setCompression(pq.Compression.SNAPPY).build();
  return pq.writeParquet(pq.Table.fromIPCStream(tableToIPC(table, 'stream')), props);
}

/** Size and SHA-256 of each file written, by name (summary.json records them). */
export type FileDigests = Record<string, { bytes: number; sha256: string }>;

function digest(data: Uint8Array): { bytes: number; sha256: string } {
  return { bytes: data.byteLength, sha256: createHash('sha256').update(data).digest('hex') };
}

export function writeAudience(dir: string, a: Audience): FileDigests {
  const csv = Buffer.from(audienceCsv(a), 'utf8');
  const parquet = audienceParquet(a);
  writeFileAtomic(join(dir, AUDIENCE_CSV), csv);
  writeFileAtomic(join(dir, AUDIENCE_PARQUET), parquet);
  return { [AUDIENCE_CSV]: digest(csv), [AUDIENCE_PARQUET]: digest(parquet) };
}

/** The first file of `dir` whose size or SHA-256 is not the one recorded, as a description, or null. */
export function changedFile(dir: string, files: FileDigests): string | null {
  for (const [name, want] of Object.entries(files)) {
    let have: { bytes: number; sha256: string };
    try {
      have = digest(readFileSync(join(dir, name)));
    } catch (e) {
      return `${name} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`;
    }
    if (have.sha256 !== want.sha256) return `${name} is not the file its summary.json records (${have.bytes} bytes, ${want.bytes} recorded; SHA-256 differs)`;
  }
  return null;
}

/** An audience.csv written by writeAudience, checked line by line. */
export function readAudienceCsv(path: string): Audience {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DataError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const lines = text.split('\n');
  if (lines[0] !== 'uid,score,rank') throw new DataError(`${path}: line 1: expected the header uid,score,rank`);
  if (lines[lines.length - 1] === '') lines.pop();
  const n = lines.length - 1;
  const uid = new Array<Uid>(n);
  const score = new Float32Array(n);
  const rank = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const m = /^(\d+),([^,]+),(\d+)$/.exec(lines[i + 1]!);
    const s = m ? parseScore(m[2]!) : NaN;
    const u = m ? parseUid(m[1]!) : undefined;
    if (!m || !Number.isFinite(s) || u === undefined) throw new DataError(`${path}: line ${i + 2}: expected uid,score,rank, found ${JSON.stringify(lines[i + 1])}`);
    uid[i] = u;
    score[i] = s;
    rank[i] = Number(m[3]);
  }
  return withUids({ score, rank }, uid);
}
