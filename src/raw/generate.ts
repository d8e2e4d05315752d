/**
 * Fake raw competition files with the real ones' shape: the four files, their formats,
 * the fields of a user line (used and unused), list lengths, id ranges no wider than the
 * real vocabularies (so `prepare` gives max_idxs within configs/tencent.yaml's at any scale),
 * a 4.8 % positive rate, skewed task sizes, users absent from the rows (the real
 * userFeature.data also holds the test2 users). For tests, the benchmark and memory
 * measurements of `prepare`; the values carry no signal.
 */
import { closeSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { openAtomic, type AtomicTarget } from '../util/atomic.js';
import { fsError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { RAW_FILES, type RawFileRole } from './files.js';

export interface RawShape {
  users: number;
  stage1Rows: number;
  stage2Rows: number;
  aids: number;
  positiveRate: number;
}

/**
 * Sizes of the real files (spec section 7); 173 aids is the count commonly reported for
 * the preliminary round.
 */
export const REAL_SHAPE: RawShape = {
  users: 11_420_039,
  stage1Rows: 8_798_814,
  stage2Rows: 2_265_989,
  aids: 173,
  positiveRate: 421_961 / 8_798_814,
};

/** The real shape with users and rows scaled (at least a few of each), all aids kept. */
export function shapeAtScale(scale: number): RawShape {
  if (!(scale > 0 && scale <= 1)) throw new RangeError(`scale must be in (0, 1], got ${scale}`);
  const at = (n: number, min: number): number => Math.max(min, Math.round(n * scale));
  return {
    users: at(REAL_SHAPE.users, 20),
    stage1Rows: at(REAL_SHAPE.stage1Rows, 20),
    stage2Rows: at(REAL_SHAPE.stage2Rows, 10),
    aids: REAL_SHAPE.aids,
    positiveRate: REAL_SHAPE.positiveRate,
  };
}

/** A field of a user line: presence probability, list length range, id range. */
interface FakeField {
  name: string;
  p: number;
  minLen: number;
  maxLen: number;
  maxId: number;
  /** The smallest id (default 0). */
  minId?: number;
}

// In the real files' order; single-valued fields have length 1. The used fields' ranges
// keep `prepare`'s max_idx at or below the real data's (spec section 2): a single-valued
// field present on some users only gets one more code (missing), a list field one more
// (padding).
const USER_FIELDS: FakeField[] = [
  { name: 'age', p: 1, minLen: 1, maxLen: 1, maxId: 5 },
  { name: 'gender', p: 1, minLen: 1, maxLen: 1, maxId: 2 },
  { name: 'marriageStatus', p: 1, minLen: 1, maxLen: 3, maxId: 15 },
  { name: 'education', p: 1, minLen: 1, maxLen: 1, maxId: 7 },
  { name: 'consumptionAbility', p: 1, minLen: 1, maxLen: 1, maxId: 2 },
  { name: 'LBS', p: 0.98, minLen: 1, maxLen: 1, maxId: 854 },
  { name: 'interest1', p: 0.9, minLen: 1, maxLen: 38, maxId: 122 },
  { name: 'interest2', p: 0.7, minLen: 1, maxLen: 20, maxId: 81 },
  { name: 'interest3', p: 0.05, minLen: 1, maxLen: 10, maxId: 10 },
  { name: 'interest4', p: 0.05, minLen: 1, maxLen: 10, maxId: 10 },
  { name: 'interest5', p: 0.75, minLen: 1, maxLen: 40, maxId: 136 },
  { name: 'kw1', p: 0.9, minLen: 1, maxLen: 5, maxId: 263_311 },
  { name: 'kw2', p: 0.95, minLen: 1, maxLen: 5, maxId: 49_778 },
  { name: 'kw3', p: 0.05, minLen: 1, maxLen: 5, maxId: 120_000 },
  { name: 'topic1', p: 0.9, minLen: 1, maxLen: 5, maxId: 10_001 },
  { name: 'topic2', p: 0.95, minLen: 1, maxLen: 5, maxId: 9_982 },
  { name: 'topic3', p: 0.05, minLen: 1, maxLen: 5, maxId: 10_000 },
  { name: 'appIdAction', p: 0.02, minLen: 1, maxLen: 100, maxId: 6_000 },
  { name: 'appIdInstall', p: 0.05, minLen: 1, maxLen: 900, maxId: 65_000 },
  { name: 'ct', p: 1, minLen: 1, maxLen: 4, maxId: 4 },
  { name: 'os', p: 1, minLen: 1, maxLen: 2, maxId: 2 },
  { name: 'carrier', p: 1, minLen: 1, maxLen: 1, maxId: 3 },
  { name: 'house', p: 0.3, minLen: 1, maxLen: 1, minId: 1, maxId: 1 },
];

/** Streams text to `path` atomically, in large writes; a failed write names `path`. */
class TextSink {
  private readonly target: AtomicTarget;
  private readonly fd: number;
  private parts: string[] = [];
  private pending = 0;
  private closed = false;
  bytes = 0;

  constructor(private readonly path: string) {
    ({ target: this.target, fd: this.fd } = openAtomic(path));
  }

  line(s: string): void {
    this.parts.push(s, '\n');
    this.pending += s.length + 1;
    if (this.pending > 1 << 22) this.flush();
  }

  private flush(): void {
    const buf = Buffer.from(this.parts.join(''), 'utf8');
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
    } catch (e) {
      throw fsError(this.path, 'write', e);
    }
    this.bytes += buf.length;
    this.parts = [];
    this.pending = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
    this.closed = true;
    this.target.commit();
  }

  abort(): void {
    if (!this.closed) closeSync(this.fd);
    this.target.abort();
  }
}

function writeFile(path: string, fill: (sink: TextSink) => void): number {
  const sink = new TextSink(path);
  try {
    fill(sink);
    sink.close();
  } catch (e) {
    sink.abort();
    throw e;
  }
  return sink.bytes;
}

/** Sizes in bytes of the files written. */
export type GeneratedFiles = Record<RawFileRole, number>;

/** Write the four raw files into `dir`; deterministic for `seed`. */
export function generateRaw(dir: string, shape: RawShape, seed: number): GeneratedFiles {
  const rng = new Rng(seed);
  // Distinct uids in a random file order.
  const uids = new Int32Array(shape.users);
  for (let i = 0; i < shape.users; i++) uids[i] = i * 8 + 1 + rng.int(8);
  rng.shuffle(uids);
  // Rows take the first 90 % of users in turn (most users in one row, as in the real files,
  // which keeps the memory measured on these files an upper bound); the other 10 % stand
  // for the test2-only users.
  const pool = Math.max(1, Math.floor(shape.users * 0.9));
  let nextUser = 0;

  const aids = Array.from({ length: shape.aids }, (_, i) => 1000 + i * 13 + rng.int(13));
  // Zipf-like task sizes: a few large campaigns, many small ones.
  const cumulative: number[] = [];
  let total = 0;
  for (let i = 0; i < shape.aids; i++) cumulative.push((total += 1 / (i + 1) ** 0.8));
  const drawAid = (): number => {
    const x = rng.float() * total;
    let lo = 0;
    let hi = shape.aids - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return aids[lo]!;
  };

  const rowsTo = (n: number) => (sink: TextSink): void => {
    for (let i = 0; i < n; i++) {
      sink.line(`${drawAid()},${uids[nextUser++ % pool]},${rng.float() < shape.positiveRate ? 1 : -1}`);
    }
  };
  const stage1 = writeFile(join(dir, RAW_FILES.stage1), (sink) => {
    sink.line('aid,uid,label');
    rowsTo(shape.stage1Rows)(sink);
  });
  const stage2 = writeFile(join(dir, RAW_FILES.stage2), rowsTo(shape.stage2Rows));

  const ads = writeFile(join(dir, RAW_FILES.ads), (sink) => {
    sink.line('aid,advertiserId,campaignId,creativeId,creativeSize,adCategoryId,productId,productType');
    aids.forEach((aid, i) => {
      const product = rng.float() < 0.3 ? '' : String(rng.int(32));
      sink.line(`${aid},${rng.int(79)},${rng.int(138)},${100 + i},${rng.int(15)},${rng.int(40)},${product},${rng.int(4)}`);
    });
  });

  const users = writeFile(join(dir, RAW_FILES.users), (sink) => {
    const groups: string[] = [];
    const ids: number[] = [];
    for (let i = 0; i < shape.users; i++) {
      groups.length = 0;
      groups.push(`uid ${uids[i]}`);
      for (const f of USER_FIELDS) {
        if (f.p < 1 && rng.float() >= f.p) continue;
        const len = f.minLen + rng.int(f.maxLen - f.minLen + 1);
        ids.length = 0;
        // Squaring skews ids toward small values, as real keyword / app frequencies are.
        const lo = f.minId ?? 0;
        for (let k = 0; k < len; k++) ids.push(lo + Math.floor(rng.float() ** 2 * (f.maxId - lo + 1)));
        groups.push(`${f.name} ${ids.join(' ')}`);
      }
      sink.line(groups.join('|'));
    }
  });
  return { users, ads, stage1, stage2 };
}
