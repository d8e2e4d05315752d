/**
 * One part of a dataset (a stage of a split: `train_stage1`, `test_hot_stage2`, ...) held in
 * memory as contiguous typed arrays. Ids are row-major per group so that a kernel gathers a
 * row's ids with one stride; this is the layout every importer produces and the model reads.
 */
import type { Schema } from './schema.js';

export interface PartData {
  nRows: number;
  /** 0 or 1 per row. */
  label: Uint8Array;
  /** Task (campaign) id per row. */
  aid: Int32Array;
  /** nRows x userSingle.length, row-major. */
  single: Int32Array;
  /** nRows x multiStride(schema), row-major; field blocks in schema order, each `width` wide. */
  multi: Int32Array;
  /** nRows x userMulti.length, row-major: each multi-valued field's `len`. */
  multiLen: Int32Array;
  /** nRows x task.length, row-major. */
  task: Int32Array;
  /** Extra numeric columns carried through (the generator writes `p_true`). */
  extra: Record<string, Float64Array | Float32Array | Int32Array>;
}

/**
 * What an Arrow file holds. `part`: a dataset part (label, aid, user and task fields).
 * `users`: a user table (a `uid` column and the user fields, one row per user).
 */
export type PartKind = 'part' | 'users';

/** A user table given where a part is read (predict --data users.arrow): what it is and what was expected. */
export function userTableGivenForPart(path: string): string {
  return `${path}: a user table (a uid column and the user fields, one row per user), not a part of labelled rows; ` +
    'give a part with label, aid and the task fields (train_stage1.arrow, test_hot_stage2.arrow, ...)';
}

/** The rows of one task, in ascending row order. */
export interface TaskRows {
  aid: number;
  rows: Int32Array;
}

/** A loaded part: its data, its schema, where it came from, and its tasks sorted by aid. */
export interface Part extends PartData {
  path: string;
  schema: Schema;
  tasks: TaskRows[];
}

/** Group rows by aid: tasks sorted by aid, rows ascending within each. */
export function indexTasks(aid: Int32Array): TaskRows[] {
  const counts = new Map<number, number>();
  for (let i = 0; i < aid.length; i++) counts.set(aid[i]!, (counts.get(aid[i]!) ?? 0) + 1);
  const aids = [...counts.keys()].sort((a, b) => a - b);
  const byAid = new Map<number, { rows: Int32Array; n: number }>();
  for (const a of aids) byAid.set(a, { rows: new Int32Array(counts.get(a)!), n: 0 });
  for (let i = 0; i < aid.length; i++) {
    const t = byAid.get(aid[i]!)!;
    t.rows[t.n++] = i;
  }
  return aids.map((a) => ({ aid: a, rows: byAid.get(a)!.rows }));
}

/** Dataset part names as the published pickles are named (spec section 7). */
export const STANDARD_PARTS = [
  'train_stage1',
  'test_hot_stage1',
  'test_hot_stage2',
  'test_cold_stage1',
  'test_cold_stage2',
] as const;
