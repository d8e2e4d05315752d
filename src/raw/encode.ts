/**
 * The vocabularies of a raw import, built with the official preprocessing's rules, and the
 * gathering of encoded rows into a part.
 *
 * - single-valued user fields and ad fields: label encoding in ascending order over the
 *   rows of stage 1 and stage 2 together (sklearn's LabelEncoder over ints), the missing
 *   value (-1) first;
 * - multi-valued fields: the ids of the truncated lists of the vocabulary basis in
 *   ascending order, the padding / missing value last (see MissingPlace);
 * - aid: label encoded like an ad field (the official script encodes it too).
 */
import type { AdTable, LabelledRows } from './csv.js';
import type { UserFeatures } from './users.js';
import { IdSet, Vocabulary } from './vocab.js';
import { multiOffsets, multiStride, type Schema } from '../data/schema.js';
import type { PartData } from '../data/part.js';

export interface Encoders {
  aid: Vocabulary;
  single: Vocabulary[];
  multi: Vocabulary[];
  task: Vocabulary[];
  /** Encoded ad fields per encoded aid: nAids x task.length. */
  taskByAid: Int32Array;
}

/** The two stages with each row's user index (into UserFeatures) and encoded aid. */
export interface JoinedStage {
  rows: LabelledRows;
  user: Int32Array;
  aid: Int32Array;
}

export function buildEncoders(schema: Schema, stages: LabelledRows[], users: UserFeatures, ads: AdTable): Encoders {
  const aids = new IdSet();
  for (const st of stages) for (let i = 0; i < st.n; i++) aids.add(st.aid[i]!);
  const aid = new Vocabulary(aids, false, 'first');

  const nSingle = schema.userSingle.length;
  const nUsers = users.nUsers;
  const single = schema.userSingle.map((_, f) => {
    const ids = new IdSet();
    let missing = false;
    for (let u = 0; u < nUsers; u++) {
      const v = users.single[u * nSingle + f]!;
      if (v < 0) missing = true;
      else ids.add(v);
    }
    return new Vocabulary(ids, missing, 'first');
  });

  const anyAbsent = users.found.includes(0);
  // A row whose user has no line gets the missing value in every list: one more id.
  const multi = schema.userMulti.map((_, m) => new Vocabulary(users.multiIds[m]!, users.multiPadded[m]! || anyAbsent, 'last'));

  const aidValues = aids.values();
  const nTask = schema.task.length;
  const raw = aidValues.map((a) => ads.byAid.get(a) ?? new Int32Array(nTask).fill(-1));
  const task = schema.task.map((_, f) => {
    const ids = new IdSet();
    let missing = false;
    for (const values of raw) {
      if (values[f]! < 0) missing = true;
      else ids.add(values[f]!);
    }
    return new Vocabulary(ids, missing, 'first');
  });
  const taskByAid = new Int32Array(aidValues.length * nTask);
  raw.forEach((values, a) => {
    for (let f = 0; f < nTask; f++) taskByAid[a * nTask + f] = task[f]!.encode(values[f]!);
  });
  return { aid, single, multi, task, taskByAid };
}

/** The schema of the encoded data: the given field names and widths, max_idx from the vocabularies. */
export function encodedSchema(schema: Schema, enc: Encoders): Schema {
  return {
    userSingle: schema.userSingle.map((f, i) => ({ name: f.name, maxIdx: enc.single[i]!.maxIdx })),
    userMulti: schema.userMulti.map((f, i) => ({ name: f.name, width: f.width, maxIdx: enc.multi[i]!.maxIdx })),
    task: schema.task.map((f, i) => ({ name: f.name, maxIdx: enc.task[i]!.maxIdx })),
  };
}

/**
 * Replace the users' raw single-valued and multi-valued ids by their codes, in place: the
 * user arrays are the largest in memory, and most users are in one row, so encoding them
 * once costs no more than encoding rows and needs no second copy. Users go in blocks, the
 * event loop turning between them (`pause`), so that a signal is handled promptly.
 */
export async function encodeUsers(schema: Schema, users: UserFeatures, enc: Encoders, pause: () => Promise<void>): Promise<void> {
  const nSingle = schema.userSingle.length;
  const stride = multiStride(schema);
  const offsets = multiOffsets(schema);
  for (let u0 = 0; u0 < users.nUsers; u0 += ENCODE_BLOCK) {
    const u1 = Math.min(users.nUsers, u0 + ENCODE_BLOCK);
    for (let f = 0; f < nSingle; f++) {
      const vocab = enc.single[f]!;
      for (let i = u0 * nSingle + f; i < u1 * nSingle; i += nSingle) users.single[i] = vocab.encode(users.single[i]!);
    }
    schema.userMulti.forEach((field, m) => {
      const vocab = enc.multi[m]!;
      for (let base = u0 * stride + offsets[m]!; base < u1 * stride; base += stride) {
        for (let j = base; j < base + field.width; j++) users.multi[j] = vocab.encode(users.multi[j]!);
      }
    });
    await pause();
  }
}

/** Users encoded between two pauses. */
const ENCODE_BLOCK = 65536;

/** Rows `select` of a stage (ascending, file order) into a part; `users` already encoded. */
export function gatherPart(schema: Schema, stage: JoinedStage, select: Int32Array, users: UserFeatures, enc: Encoders): PartData {
  const n = select.length;
  const nSingle = schema.userSingle.length;
  const nMulti = schema.userMulti.length;
  const nTask = schema.task.length;
  const stride = multiStride(schema);
  const part: PartData = {
    nRows: n,
    label: new Uint8Array(n),
    aid: new Int32Array(n),
    single: new Int32Array(n * nSingle),
    multi: new Int32Array(n * stride),
    multiLen: new Int32Array(n * nMulti),
    task: new Int32Array(n * nTask),
    extra: { uid: new Int32Array(n) },
  };
  const uid = part.extra.uid!;
  for (let i = 0; i < n; i++) {
    const r = select[i]!;
    uid[i] = stage.rows.uid[r]!;
    const u = stage.user[r]!;
    const a = stage.aid[r]!;
    part.label[i] = stage.rows.label[r]!;
    part.aid[i] = a;
    // Plain loops: a subarray view per row and field would allocate millions of objects.
    for (let f = 0; f < nSingle; f++) part.single[i * nSingle + f] = users.single[u * nSingle + f]!;
    for (let j = 0; j < stride; j++) part.multi[i * stride + j] = users.multi[u * stride + j]!;
    for (let m = 0; m < nMulti; m++) part.multiLen[i * nMulti + m] = users.len[u * nMulti + m]!;
    for (let f = 0; f < nTask; f++) part.task[i * nTask + f] = enc.taskByAid[a * nTask + f]!;
  }
  return part;
}
