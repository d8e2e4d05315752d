/**
 * The user table of a prepared dataset (users.arrow): every user of userFeature.data, a
 * second streaming pass after the vocabularies are fixed, encoded with the parts' codes.
 * The vocabularies come from the rows' users (single-valued fields) as the official
 * preprocessing builds them, so a pool user can carry a value no row had: it takes the
 * field's missing code when the field has one, and the user is left out (counted) when it
 * has none; both are reported, never silent.
 */
import { PartWriter } from '../data/arrow-write.js';
import { allocatePart } from '../data/part-ops.js';
import { multiOffsets, multiStride, type Schema } from '../data/schema.js';
import { DataError } from '../util/errors.js';
import type { Encoders } from './encode.js';
import { readLines, type LineStats } from './text.js';
import { UserFeatureParser, type UserSlots } from './users.js';
import { IdSet } from './vocab.js';

export interface UserTableSummary {
  path: string;
  users: number;
  /** Per field: users whose value no row had, given the missing code. */
  unseenValues: Record<string, number>;
  /** Per field: users left out because their value has no code (the field has no missing code). */
  leftOut: Record<string, number>;
  stats: LineStats;
}

/** Slots 0..size-1 handed out in line order; the uid of each is kept. */
class BatchSlots implements UserSlots {
  n = 0;
  readonly uid: Int32Array;

  constructor(readonly size: number) {
    this.uid = new Int32Array(size);
  }

  get(uid: number): number {
    this.uid[this.n] = uid;
    return this.n++;
  }
}

const BATCH = 65536;

export async function writeUserTable(path: string, usersFile: string, schema: Schema, outSchema: Schema, enc: Encoders, onProgress?: (bytes: number) => void): Promise<UserTableSummary> {
  const w = new PartWriter(path, outSchema, { kind: 'users', extra: { uid: 'int32' } });
  const us = { ...outSchema, task: [] };
  const nS = schema.userSingle.length;
  const nM = schema.userMulti.length;
  const stride = multiStride(schema);
  const offs = multiOffsets(schema);
  const unseen = new Int32Array(nS + nM);
  const leftOut = new Int32Array(nS + nM);
  const seen = new IdSet();
  let slots = new BatchSlots(BATCH);
  let parser = new UserFeatureParser(usersFile, schema, slots, false);
  const out = allocatePart(us, BATCH, { uid: 'int32' });
  let written = 0;
  const flush = (): void => {
    const raw = parser.out;
    let n = 0;
    for (let u = 0; u < slots.n; u++) {
      // the first field that cannot be encoded leaves the user out
      let bad = -1;
      for (let f = 0; f < nS && bad < 0; f++) if (!enc.single[f]!.knows(raw.single[u * nS + f]!) && !enc.single[f]!.hasMissing) bad = f;
      for (let m = 0; m < nM && bad < 0; m++) {
        for (let j = 0; j < schema.userMulti[m]!.width; j++) if (!enc.multi[m]!.knows(raw.multi[u * stride + offs[m]! + j]!) && !enc.multi[m]!.hasMissing) bad = nS + m;
      }
      if (bad >= 0) {
        leftOut[bad]!++;
        continue;
      }
      for (let f = 0; f < nS; f++) {
        const v = raw.single[u * nS + f]!;
        const vocab = enc.single[f]!;
        if (vocab.knows(v)) out.single[n * nS + f] = vocab.encode(v);
        else {
          unseen[f]!++;
          out.single[n * nS + f] = vocab.missing;
        }
      }
      for (let m = 0; m < nM; m++) {
        const vocab = enc.multi[m]!;
        let any = false;
        for (let j = 0; j < schema.userMulti[m]!.width; j++) {
          const v = raw.multi[u * stride + offs[m]! + j]!;
          const known = vocab.knows(v);
          any ||= !known;
          out.multi[n * stride + offs[m]! + j] = known ? vocab.encode(v) : vocab.missing;
        }
        if (any) unseen[nS + m]!++;
        out.multiLen[n * nM + m] = raw.len[u * nM + m]!;
      }
      out.extra.uid![n] = slots.uid[u]!;
      n++;
    }
    const v = { ...out, nRows: n, label: out.label.subarray(0, n), aid: out.aid.subarray(0, n), single: out.single.subarray(0, n * nS), multi: out.multi.subarray(0, n * stride), multiLen: out.multiLen.subarray(0, n * nM), extra: { uid: out.extra.uid!.subarray(0, n) } };
    w.append(v);
    written += n;
    slots = new BatchSlots(BATCH);
    parser = new UserFeatureParser(usersFile, schema, slots, false);
  };
  let stats: LineStats;
  try {
    stats = await readLines(
      usersFile,
      (b, s, e, lineNo) => {
        if (slots.n === BATCH) flush();
        parser.line(b, s, e, lineNo);
        const uid = slots.uid[slots.n - 1]!;
        if (seen.has(uid)) throw new DataError(`${usersFile}:${lineNo}: uid ${uid} appears on two lines`);
        seen.add(uid);
      },
      onProgress,
    );
    if (slots.n > 0) flush();
    w.close();
  } catch (e) {
    w.abort();
    throw e;
  }
  const names = [...schema.userSingle.map((f) => f.name), ...schema.userMulti.map((f) => f.name)];
  const byField = (a: Int32Array) => Object.fromEntries(names.map((n, i) => [n, a[i]!]).filter(([, c]) => (c as number) > 0));
  return { path, users: written, unseenValues: byField(unseen), leftOut: byField(leftOut), stats: stats! };
}
