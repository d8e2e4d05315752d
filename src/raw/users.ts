/**
 * Streaming `userFeature.data`: one user a line, `|`-separated groups `name v1 v2 ...`,
 * first `uid N`. Only the users the rows need are kept, as raw ids in typed arrays
 * (about 240 bytes a user for the Tencent schema); every other line is parsed only as far
 * as the vocabulary basis requires.
 */
import { DataError } from '../util/errors.js';
import { maxLength, multiOffsets, multiStride, type Schema } from '../data/schema.js';
import { MAX_ID, parseId, quote, readLines, type LineStats } from './text.js';
/** Which user slot a uid's line fills (-1: skip the line); UidIndex is one. */
export interface UserSlots {
  get(uid: number): number;
  readonly size: number;
}
import { IdSet } from './vocab.js';

/**
 * Which users' lists make up a multi-valued field's vocabulary. `users`: every line of
 * userFeature.data, as the official script does (it numbers the ids of the whole user
 * table, so test2-only users count too, and the preset's max_idxs come from that).
 * `rows`: only the users of train.csv and test1_truth.csv.
 */
export type MultiVocabBasis = 'users' | 'rows';

/** Raw ids as read; encodeUsers (encode.ts) turns `single` and `multi` into codes in place. */
export interface UserFeatures {
  /** Number of needed users; user u's data is at index u of each array below. */
  nUsers: number;
  /** 1 where the user's line was found. */
  found: Uint8Array;
  /** users x userSingle.length raw values; -1 = missing. */
  single: Int32Array;
  /** users x multiStride raw ids, the first `width` of each list; -1 = padding. */
  multi: Int32Array;
  /** users x userMulti.length: ids counted up to maxLength(field); 0 when absent. */
  len: Uint8Array;
  /** Per multi-valued field: the ids of the vocabulary basis (truncated lists only). */
  multiIds: IdSet[];
  /** Per multi-valued field: whether some list of the basis was padded (or absent). */
  multiPadded: boolean[];
  stats: LineStats;
}

function nameHash(b: Uint8Array, s: number, e: number): number {
  let h = 0;
  for (let i = s; i < e; i++) h = (Math.imul(h, 31) + b[i]!) | 0;
  return h;
}

export class UserFeatureParser {
  private readonly nSingle: number;
  private readonly nMulti: number;
  private readonly stride: number;
  private readonly offsets: number[];
  private readonly widths: number[];
  private readonly caps: number[];
  private readonly names: string[];
  private readonly nameBytes: Buffer[];
  private readonly slotByHash = new Map<number, number>();
  /** Line number at which each field was last seen, to catch a field given twice. */
  private readonly seenAt: Float64Array;
  readonly out: Omit<UserFeatures, 'stats'>;

  constructor(
    private readonly path: string,
    schema: Schema,
    private readonly index: UserSlots,
    private readonly allUsers: boolean,
  ) {
    this.nSingle = schema.userSingle.length;
    this.nMulti = schema.userMulti.length;
    this.stride = multiStride(schema);
    this.offsets = multiOffsets(schema);
    this.widths = schema.userMulti.map((f) => f.width);
    this.caps = schema.userMulti.map(maxLength);
    this.names = [...schema.userSingle.map((f) => f.name), ...schema.userMulti.map((f) => f.name)];
    this.nameBytes = this.names.map((n) => Buffer.from(n));
    this.nameBytes.forEach((b, slot) => {
      const h = nameHash(b, 0, b.length);
      if (this.slotByHash.has(h)) throw new Error(`field names ${this.names[this.slotByHash.get(h)!]} and ${this.names[slot]} collide`);
      this.slotByHash.set(h, slot);
    });
    this.seenAt = new Float64Array(this.names.length);
    const n = index.size;
    this.out = {
      nUsers: n,
      found: new Uint8Array(n),
      single: new Int32Array(n * this.nSingle).fill(-1),
      multi: new Int32Array(n * this.stride).fill(-1),
      len: new Uint8Array(n * this.nMulti),
      multiIds: schema.userMulti.map(() => new IdSet()),
      multiPadded: schema.userMulti.map(() => false),
    };
  }

  private fail(lineNo: number, msg: string): never {
    throw new DataError(`${this.path}:${lineNo}: ${msg}`);
  }

  private slotOf(b: Buffer, s: number, e: number): number {
    const slot = this.slotByHash.get(nameHash(b, s, e));
    if (slot === undefined) return -1;
    const name = this.nameBytes[slot]!;
    if (name.length !== e - s) return -1;
    for (let i = 0; i < name.length; i++) if (name[i] !== b[s + i]) return -1;
    return slot;
  }

  /** End of the group starting at p: the next '|' or the line end. */
  private static groupEnd(b: Buffer, p: number, e: number): number {
    const q = b.indexOf(124, p);
    return q < 0 || q > e ? e : q;
  }

  line(b: Buffer, s: number, e: number, lineNo: number): void {
    if (!(e - s > 4 && b[s] === 117 && b[s + 1] === 105 && b[s + 2] === 100 && b[s + 3] === 32)) {
      this.fail(lineNo, `expected the line to start with "uid <id>", found ${quote(b, s, e)}`);
    }
    let p = UserFeatureParser.groupEnd(b, s + 4, e);
    const uid = parseId(b, s + 4, p);
    if (uid < 0) this.fail(lineNo, `field uid: expected a non-negative integer id, found ${quote(b, s + 4, p)}`);
    const u = this.index.get(uid);
    if (u < 0 && !this.allUsers) return;
    if (u >= 0) {
      if (this.out.found[u]) this.fail(lineNo, `uid ${uid} appears on two lines`);
      this.out.found[u] = 1;
    }
    while (p < e) {
      const ns = p + 1;
      p = ns;
      while (p < e && b[p] !== 32 && b[p] !== 124) p++;
      const slot = this.slotOf(b, ns, p);
      // Unused fields, and single-valued ones of users nobody needs, are skipped unread.
      if (slot < 0 || (u < 0 && slot < this.nSingle)) {
        p = UserFeatureParser.groupEnd(b, p, e);
        continue;
      }
      if (this.seenAt[slot] === lineNo) this.fail(lineNo, `field ${this.names[slot]} appears twice`);
      this.seenAt[slot] = lineNo;
      if (p >= e || b[p] !== 32) this.fail(lineNo, `field ${this.names[slot]}: no values`);
      p++;
      if (slot < this.nSingle) {
        const q = UserFeatureParser.groupEnd(b, p, e);
        const v = parseId(b, p, q);
        if (v < 0) this.fail(lineNo, `field ${this.names[slot]}: expected one non-negative integer id, found ${quote(b, p, q)}`);
        this.out.single[u * this.nSingle + slot] = v;
        p = q;
      } else {
        p = this.list(b, p, e, u, slot - this.nSingle, lineNo);
      }
    }
    for (let m = 0; m < this.nMulti; m++) {
      if (this.seenAt[this.nSingle + m] !== lineNo) this.out.multiPadded[m] = true;
    }
  }

  /** Read a list from p; returns the end of its group. */
  private list(b: Buffer, p: number, e: number, u: number, m: number, lineNo: number): number {
    const width = this.widths[m]!;
    const cap = this.caps[m]!;
    const ids = this.out.multiIds[m]!;
    const base = u * this.stride + this.offsets[m]!;
    let count = 0;
    for (;;) {
      let q = p;
      let v = 0;
      while (q < e) {
        const c = b[q]!;
        if (c === 32 || c === 124) break;
        v = v * 10 + (c - 48);
        if (c < 48 || c > 57 || v > MAX_ID) {
          let end = q;
          while (end < e && b[end] !== 32 && b[end] !== 124) end++;
          this.fail(lineNo, `field ${this.names[this.nSingle + m]}: expected a non-negative integer id, found ${quote(b, p, end)}`);
        }
        q++;
      }
      if (q === p) this.fail(lineNo, `field ${this.names[this.nSingle + m]}: empty value (two spaces, or a space before "|")`);
      // Lists are cut to their width; only those ids are stored and numbered.
      if (count < width) {
        ids.add(v);
        if (u >= 0) this.out.multi[base + count] = v;
      }
      count++;
      if (q >= e || b[q] === 124) {
        p = q;
        break;
      }
      p = q + 1;
      // The official script counts ids up to the cap (split(' ')[:10]); the rest go unread.
      if (count === cap) {
        p = UserFeatureParser.groupEnd(b, p, e);
        break;
      }
    }
    if (u >= 0) this.out.len[u * this.nMulti + m] = Math.min(count, cap);
    if (count < width) this.out.multiPadded[m] = true;
    return p;
  }
}

/**
 * Read the users of `index` from `path`. Needed users never seen keep all fields missing
 * (`found` 0); the caller counts and reports them.
 */
export async function readUserFeatures(
  path: string,
  schema: Schema,
  index: UserSlots,
  basis: MultiVocabBasis,
  onProgress?: (bytes: number) => void,
): Promise<UserFeatures> {
  const parser = new UserFeatureParser(path, schema, index, basis === 'users');
  const stats = await readLines(
    path,
    (b, s, e, lineNo) => {
      if (s === e) throw new DataError(`${path}:${lineNo}: empty line (expected "uid <id>|<field> <ids>...")`);
      parser.line(b, s, e, lineNo);
    },
    onProgress,
  );
  return { ...parser.out, stats };
}
