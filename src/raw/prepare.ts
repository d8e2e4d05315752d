/**
 * `prepare`: the raw Tencent Look-alike 2018 files (spec section 7) to a dataset directory
 * (schema.json + the five standard parts), with the semantics of the official MetaHeac
 * preprocessing script (data/process.py of the official repository). Memory: the rows
 * (about 17 bytes each), a hash index of their uids, the needed users' fields (about 240
 * bytes each), one part at a time.
 *
 * Where the result can differ from the official script, and what is done instead:
 * - Multi-valued ids are numbered in CPython set order there. Here: ascending ids, padding
 *   last. The two agree whenever every raw id of the field is below the size of the set's
 *   final hash table (a set of small ints iterates in ascending order, and -1, whose hash
 *   is -2, sits in the next-to-last slot); the published pickles show the padding as the
 *   largest code of every field. A field with larger raw ids (possible for kw1/kw2) wraps
 *   in CPython's table, in an order only a replay of the set's insertions could give.
 * - The official script printed len(set) + 1 as each multi-valued field's size, so the
 *   preset max_idxs (PaddleRec's config) are 2 above the largest code; schema.json here
 *   holds the largest code itself.
 * - The aid split is reproduced exactly (PythonRandom), assuming nothing else drew from
 *   Python's global generator between random.seed(2021) and random.sample (nothing in the
 *   script does).
 * - A test aid without any positive is cold here (spec: at most 2000); the script
 *   leaves it hot, since it only looks at aids among the positives.
 * - A row whose uid has no userFeature line: the script's left merge and fillna('-1') put
 *   the string '-1' in its list columns; here every user field is missing (padding,
 *   length 0), and such rows are counted in the summary. A row whose aid has no
 *   adFeature row gets the missing ad values in both.
 * - Malformed input the script would absorb is an error here: a negative or non-integer
 *   id, several values in a single-valued field (the script falls back to string
 *   encoding), a uid on two lines (the merge duplicates rows), a field twice on a line
 *   (last wins), an empty line, a label other than 1, 0, -1.
 * - Only what is used is read: lines of users no row needs are checked only as far as
 *   the vocabulary basis parses them, and list ids beyond the length cap go unread (as
 *   the script's split(' ')[:10]).
 * - The script keeps all 12 list fields and writes train_stage2; the published pickles
 *   (and these parts) carry the 7 fields of the model with their lengths, and the stage-2
 *   rows of training tasks are not written (counted in the summary).
 * - Ids are int32 (int64 in the pickles); the aid column holds the label-encoded aid, as
 *   the script's; the summary maps it back to the raw aid.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DataError } from '../util/errors.js';
import { yieldToSignals } from '../util/interrupt.js';
import { noProgress, type ProgressFactory } from '../util/progress.js';
import { USERS_FILE } from '../data/dataset.js';
import { DatasetTarget } from '../data/dataset-writer.js';
import { TASK_VOCAB_FILE, writeTaskVocab } from '../data/task-vocab.js';
import { writeUserTable } from './users-table.js';
import { STANDARD_PARTS } from '../data/part.js';
import { DEFAULT_BATCH_ROWS } from '../data/arrow-write.js';
import { maxIdxs, TENCENT_SCHEMA, type Schema } from '../data/schema.js';
import { readAdFeatures, readLabelledRows, type LabelledRows } from './csv.js';
import { buildEncoders, encodedSchema, encodeUsers, gatherPart, type JoinedStage } from './encode.js';
import { DEFAULT_COLD_THRESHOLD, isCold, trainAidMask, type ColdBasis } from './split.js';
import { RAW_FILES, type RawFileRole } from './files.js';
import { fileSize } from './text.js';
import { UidIndex } from './uid-index.js';
import { readUserFeatures, type MultiVocabBasis } from './users.js';

export interface PrepareOptions {
  rawDir: string;
  outDir: string;
  /** Default: 2000 for `positives`, 4000 for `candidates`. */
  coldThreshold?: number;
  coldBasis?: ColdBasis;
  /** Seed of the aid split (the official script's random.seed). */
  seed?: number;
  multiVocab?: MultiVocabBasis;
  progress?: ProgressFactory;
}

export type TaskSplitName = 'train' | 'hot' | 'cold';

export interface TaskSummary {
  /** Encoded aid (the value in the parts). */
  aid: number;
  /** aid as in the raw files. */
  rawAid: number;
  split: TaskSplitName;
  stage1Rows: number;
  stage2Rows: number;
  /** Label-1 rows over stage 1 and stage 2. */
  positives: number;
}

export interface FileThroughput {
  bytes: number;
  lines: number;
  seconds: number;
}

export interface PrepareSummary {
  outDir: string;
  seed: number;
  coldBasis: ColdBasis;
  coldThreshold: number;
  multiVocab: MultiVocabBasis;
  schema: Schema;
  maxIdxs: number[][];
  /** Rows, tasks and positives written per part. */
  parts: Record<string, { rows: number; tasks: number; positives: number }>;
  rows: { stage1: number; stage2: number; trainStage2NotWritten: number };
  users: { needed: number; found: number; linesRead: number };
  /** Rows kept with every user (or ad) field missing because the uid (aid) has no features. */
  missing: {
    userRows: { stage1: number; stage2: number };
    users: number;
    adRows: { stage1: number; stage2: number };
    aids: number[];
  };
  tasks: TaskSummary[];
  /**
   * users.arrow: every user of userFeature.data. A value no row had takes the missing code
   * (counted per field in unseenValues); a user with such a value in a field without a
   * missing code is left out (leftOut).
   */
  userTable: { path: string; users: number; unseenValues: Record<string, number>; leftOut: Record<string, number>; seconds: number };
  files: Record<RawFileRole, FileThroughput>;
  seconds: number;
}

/** The PaddleRec YAML line for a config. */
export function maxIdxsYaml(schema: Schema): string {
  return `max_idxs: ${JSON.stringify(maxIdxs(schema)).replace(/,/g, ', ')}`;
}

/** Run `read` under a bytes-based bar for `path`; returns its result and the file's throughput. */
async function timedRead<T>(
  progress: ProgressFactory,
  label: string,
  path: string,
  read: (onProgress: (bytes: number) => void) => Promise<T>,
  lines: (v: T) => number,
): Promise<{ value: T; io: FileThroughput }> {
  const size = fileSize(path);
  const bar = progress(label, size);
  const t0 = performance.now();
  try {
    const value = await read((b) => bar.update(b));
    bar.update(size);
    return { value, io: { bytes: size, lines: lines(value), seconds: (performance.now() - t0) / 1000 } };
  } finally {
    bar.stop();
  }
}

const PLAN: { name: (typeof STANDARD_PARTS)[number]; stage: 0 | 1; split: TaskSplitName }[] = [
  { name: 'train_stage1', stage: 0, split: 'train' },
  { name: 'test_hot_stage1', stage: 0, split: 'hot' },
  { name: 'test_hot_stage2', stage: 1, split: 'hot' },
  { name: 'test_cold_stage1', stage: 0, split: 'cold' },
  { name: 'test_cold_stage2', stage: 1, split: 'cold' },
];

export async function prepareRaw(opts: PrepareOptions): Promise<PrepareSummary> {
  const t0 = performance.now();
  const coldBasis = opts.coldBasis ?? 'positives';
  const coldThreshold = opts.coldThreshold ?? DEFAULT_COLD_THRESHOLD[coldBasis];
  const seed = opts.seed ?? 2021;
  const multiVocab = opts.multiVocab ?? 'users';
  const progress = opts.progress ?? noProgress;
  const paths = Object.fromEntries(Object.entries(RAW_FILES).map(([k, f]) => [k, join(opts.rawDir, f)])) as Record<RawFileRole, string>;
  const missingFiles = Object.values(RAW_FILES).filter((f) => !existsSync(join(opts.rawDir, f)));
  if (missingFiles.length > 0) {
    throw new DataError(`${opts.rawDir}: missing raw file(s) ${missingFiles.join(', ')} (expected ${Object.values(RAW_FILES).join(', ')})`);
  }
  // checked before any work; the parts go into a temporary folder swapped in at the end
  const target = DatasetTarget.open(opts.outDir, Object.values(paths));
  try {
    return await prepareInto(target, opts, paths, { t0, coldBasis, coldThreshold, seed, multiVocab, progress });
  } catch (e) {
    throw target.named(e);
  } finally {
    target.abort();
  }
}

async function prepareInto(
  target: DatasetTarget,
  opts: PrepareOptions,
  paths: Record<RawFileRole, string>,
  { t0, coldBasis, coldThreshold, seed, multiVocab, progress }: { t0: number; coldBasis: ColdBasis; coldThreshold: number; seed: number; multiVocab: MultiVocabBasis; progress: ProgressFactory },
): Promise<PrepareSummary> {
  const schema = TENCENT_SCHEMA;

  const ads = await timedRead(progress, RAW_FILES.ads, paths.ads, () => readAdFeatures(paths.ads, schema.task.map((f) => f.name)), (t) => t.byAid.size + 1);
  const rowCount = (r: LabelledRows): number => r.n;
  const s1 = await timedRead(progress, RAW_FILES.stage1, paths.stage1, (p) => readLabelledRows(paths.stage1, true, p), rowCount);
  const s2 = await timedRead(progress, RAW_FILES.stage2, paths.stage2, (p) => readLabelledRows(paths.stage2, false, p), rowCount);
  const stages = [s1.value, s2.value];

  // Each row's user index; the index then tells the stream which lines to keep.
  const index = new UidIndex(s1.value.n + s2.value.n);
  const rowUsers = stages.map((rows) => {
    const user = new Int32Array(rows.n);
    for (let i = 0; i < rows.n; i++) user[i] = index.add(rows.uid[i]!);
    return user;
  });
  const uf = await timedRead(progress, RAW_FILES.users, paths.users, (p) => readUserFeatures(paths.users, schema, index, multiVocab, p), (u) => u.stats.lines);
  const users = uf.value;

  const enc = buildEncoders(schema, stages, users, ads.value);
  await encodeUsers(schema, users, enc, yieldToSignals);
  const joined: JoinedStage[] = stages.map((rows, s) => {
    const aid = new Int32Array(rows.n);
    for (let i = 0; i < rows.n; i++) aid[i] = enc.aid.encode(rows.aid[i]!);
    return { rows, user: rowUsers[s]!, aid };
  });

  // Per-task counts, the split and hot/cold.
  const nAids = enc.aid.size;
  const rawAids = new Int32Array(nAids);
  const counts = [new Int32Array(nAids), new Int32Array(nAids)];
  const positives = new Int32Array(nAids);
  joined.forEach((st, s) => {
    for (let i = 0; i < st.rows.n; i++) {
      const a = st.aid[i]!;
      rawAids[a] = st.rows.aid[i]!;
      counts[s]![a]!++;
      positives[a]! += st.rows.label[i]!;
    }
  });
  if (nAids < 2) throw new DataError(`${paths.stage1}: ${nAids} aid(s) in the rows; at least 2 are needed to split tasks into training and test`);
  const train = trainAidMask(nAids, seed);
  const splitOf: TaskSplitName[] = [];
  for (let a = 0; a < nAids; a++) {
    const basisCount = coldBasis === 'positives' ? positives[a]! : counts[1]![a]!;
    splitOf.push(train[a] ? 'train' : isCold(basisCount, coldThreshold) ? 'cold' : 'hot');
  }

  // Missing features, counted per row.
  const missing = {
    userRows: { stage1: 0, stage2: 0 },
    users: users.found.length - users.found.reduce((n, f) => n + f, 0),
    adRows: { stage1: 0, stage2: 0 },
    aids: [...rawAids].filter((a) => !ads.value.byAid.has(a)).sort((x, y) => x - y),
  };
  joined.forEach((st, s) => {
    const key = s === 0 ? 'stage1' : 'stage2';
    for (let i = 0; i < st.rows.n; i++) {
      if (!users.found[st.user[i]!]) missing.userRows[key]++;
      if (!ads.value.byAid.has(st.rows.aid[i]!)) missing.adRows[key]++;
    }
  });

  const outSchema = encodedSchema(schema, enc);
  const parts: PrepareSummary['parts'] = {};
  const selections = PLAN.map((p) => {
    const st = joined[p.stage]!;
    const select: number[] = [];
    for (let i = 0; i < st.rows.n; i++) if (splitOf[st.aid[i]!] === p.split) select.push(i);
    return Int32Array.from(select);
  });
  const bar = progress('write parts (rows)', selections.reduce((n, s) => n + s.length, 0));
  try {
    for (const [k, p] of PLAN.entries()) {
      const select = selections[k]!;
      const w = target.part(p.name, outSchema, { extra: { uid: 'int32' } });
      let positives = 0;
      // a record batch at a time (the writer cuts the same batches): memory for one batch,
      // and the event loop turns between them so a signal is handled promptly
      for (let r0 = 0; r0 < select.length; r0 += DEFAULT_BATCH_ROWS) {
        const data = gatherPart(schema, joined[p.stage]!, select.subarray(r0, r0 + DEFAULT_BATCH_ROWS), users, enc);
        w.append(data);
        positives += data.label.reduce((x, l) => x + l, 0);
        bar.increment(data.nRows);
        await yieldToSignals();
      }
      w.close();
      parts[p.name] = { rows: w.rows, tasks: w.aids.size, positives };
    }
  } finally {
    bar.stop();
  }
  // what expand needs: the task fields' raw values, and every user of the file
  writeTaskVocab(join(target.tmp, TASK_VOCAB_FILE), { fields: Object.fromEntries(schema.task.map((f, i) => [f.name, enc.task[i]!.rawValues()])) });
  const ut = await timedRead(progress, `${RAW_FILES.users} (user table)`, paths.users, (p) => writeUserTable(join(target.tmp, USERS_FILE), paths.users, schema, outSchema, enc, p), (u) => u.stats.lines);
  target.commit(outSchema, `prepare --cold-basis ${coldBasis} --cold-threshold ${coldThreshold} --seed ${seed} --multi-vocab ${multiVocab}`, { users: USERS_FILE, task_vocab: TASK_VOCAB_FILE });

  let trainStage2 = 0;
  for (let i = 0; i < joined[1]!.rows.n; i++) if (splitOf[joined[1]!.aid[i]!] === 'train') trainStage2++;
  return {
    outDir: opts.outDir,
    seed,
    coldBasis,
    coldThreshold,
    multiVocab,
    schema: outSchema,
    maxIdxs: maxIdxs(outSchema),
    parts,
    rows: { stage1: s1.value.n, stage2: s2.value.n, trainStage2NotWritten: trainStage2 },
    users: { needed: users.nUsers, found: users.nUsers - missing.users, linesRead: uf.io.lines },
    missing,
    tasks: Array.from({ length: nAids }, (_, a) => ({
      aid: a,
      rawAid: rawAids[a]!,
      split: splitOf[a]!,
      stage1Rows: counts[0]![a]!,
      stage2Rows: counts[1]![a]!,
      positives: positives[a]!,
    })),
    userTable: { path: join(opts.outDir, USERS_FILE), users: ut.value.users, unseenValues: ut.value.unseenValues, leftOut: ut.value.leftOut, seconds: ut.io.seconds },
    files: { users: uf.io, ads: ads.io, stage1: s1.io, stage2: s2.io },
    seconds: (performance.now() - t0) / 1000,
  };
}
