/**
 * A pickled DataFrame as a dataset part. Column roles come from the names (spec section
 * 7): `label`, `aid`, list-valued columns are multi-valued user fields with `<name>_length`
 * as their length, task fields are the Tencent ad fields (or those named), every other
 * numeric column is a user single-valued field. max_idx comes from the caller's
 * `max_idxs` (checked against the data) or is the largest id found.
 */
import { statSync } from 'node:fs';
import { DataError } from '../../util/errors.js';
import type { PartData } from '../part.js';
import { allocatePart } from '../part-ops.js';
import { TENCENT_SCHEMA, multiOffsets, multiStride, type Schema } from '../schema.js';
import { validatePartData } from '../validate.js';
import { frameFrom, type Column, type Frame, type ListColumn, type ScalarColumn } from './pickle/frame.js';
import { unpickleFile, unpickleFilePausing } from './pickle/unpickler.js';
import { REFERENCE_EXTRA } from '../reference.js';

export interface PickleImportOptions {
  /** PaddleRec's `max_idxs` ([[single], [multi], [task]]); ids are validated against it. */
  maxIdxs?: number[][];
  /** Task (ad) field names; default: the Tencent ad fields present. */
  taskFields?: string[];
  /** Columns to ignore (a list column's `<name>_length` goes with it). */
  exclude?: string[];
  /** Numeric columns carried as extras (Float64) rather than fields; default the truth synth writes (TRUTH_EXTRAS). */
  extraColumns?: string[];
  /** Called now and then with the bytes of the pickle read so far. */
  onProgress?: (bytesRead: number) => void;
}

/** Field names by group, in schema order, plus the extra columns. */
export interface PartLayout {
  userSingle: string[];
  userMulti: { name: string; width: number }[];
  task: string[];
  extra: string[];
}

export interface PickledPart {
  /** max_idx of each field: the given max_idxs, or the largest id found in this part. */
  schema: Schema;
  data: PartData;
}

/** synth's true probability and its reference scorers': numbers, never ids. */
export const TRUTH_EXTRAS = ['p_true', ...Object.values(REFERENCE_EXTRA)];

const TENCENT_TASK = new Set(TENCENT_SCHEMA.task.map((f) => f.name));
const GROUPS = ['user single', 'user multi', 'task'] as const;

/** Order a group like the Tencent preset when it holds exactly the preset's fields. */
function tencentOrder(names: string[], preset: string[]): string[] {
  const set = new Set(names);
  return names.length === preset.length && preset.every((n) => set.has(n)) ? preset : names;
}

/** Decide each column's role; `where` names the file in errors. */
export function layoutOf(frame: Frame, where: string, opts: PickleImportOptions = {}): { layout: PartLayout; columns: Map<string, Column> } {
  const names = frame.columnNames;
  const missing = (list: string[] | undefined, what: string): void => {
    const bad = (list ?? []).filter((c) => !names.includes(c));
    if (bad.length) throw new DataError(`${where}: ${what} names no column "${bad[0]}" (columns: ${names.join(', ')})`);
  };
  missing(opts.exclude, 'the exclude list');
  missing(opts.taskFields, 'the task field list');
  // Excluding a list column drops its length column with it.
  const excluded = new Set((opts.exclude ?? []).flatMap((c) => [c, `${c}_length`]));
  const extras = new Set(opts.extraColumns ?? TRUTH_EXTRAS);
  const columns = new Map<string, Column>();
  for (const n of names) if (!excluded.has(n)) columns.set(n, frame.column(n));
  for (const req of ['label', 'aid']) {
    const c = columns.get(req);
    if (!c) throw new DataError(`${where}: no "${req}" column (columns: ${names.join(', ')})`);
    if (c.kind !== 'scalar') throw new DataError(`${where}: column "${req}" holds lists, expected one value per row`);
  }
  const multi = [...columns.values()].filter((c): c is ListColumn => c.kind === 'list');
  const lengthNames = new Set<string>();
  for (const m of multi) {
    const len = columns.get(`${m.name}_length`);
    if (!len) throw new DataError(`${where}: list column "${m.name}" has no "${m.name}_length" column`);
    if (len.kind !== 'scalar') throw new DataError(`${where}: column "${m.name}_length" holds lists, expected one length per row`);
    lengthNames.add(len.name);
  }
  const extra = [...columns.values()].filter((c) => extras.has(c.name) && c.kind === 'scalar').map((c) => c.name);
  const rest = [...columns.values()]
    .filter((c) => c.kind === 'scalar' && c.name !== 'label' && c.name !== 'aid' && !lengthNames.has(c.name) && !extra.includes(c.name))
    .map((c) => c.name);
  const taskSet = opts.taskFields ? new Set(opts.taskFields) : TENCENT_TASK;
  for (const t of opts.taskFields ?? []) {
    if (!rest.includes(t)) throw new DataError(`${where}: task field "${t}" is not a single-valued id column`);
  }
  const layout: PartLayout = {
    userSingle: tencentOrder(rest.filter((n) => !taskSet.has(n)), TENCENT_SCHEMA.userSingle.map((f) => f.name)),
    userMulti: tencentOrder(multi.map((m) => m.name), TENCENT_SCHEMA.userMulti.map((f) => f.name)).map((name) => ({
      name,
      width: (columns.get(name) as ListColumn).width,
    })),
    task: tencentOrder(rest.filter((n) => taskSet.has(n)), TENCENT_SCHEMA.task.map((f) => f.name)),
    extra,
  };
  if (layout.userSingle.length + layout.userMulti.length === 0) throw new DataError(`${where}: no user field columns besides label and aid`);
  if (opts.maxIdxs) {
    if (opts.maxIdxs.length !== 3) throw new DataError(`max_idxs must have 3 groups (user single, user multi, task), found ${opts.maxIdxs.length}`);
    const groups = [layout.userSingle, layout.userMulti.map((m) => m.name), layout.task];
    opts.maxIdxs.forEach((g, i) => {
      if (g.length !== groups[i]!.length) {
        throw new DataError(
          `${where}: max_idxs group ${i} (${GROUPS[i]}) has ${g.length} fields, the pickle has ${groups[i]!.length} (${groups[i]!.join(', ') || 'none'})` +
            (i > 0 ? '; name the task fields if they are not the Tencent ad fields' : ''),
        );
      }
    });
  }
  return { layout, columns };
}

/** A scalar column's value at `row` as an int32 id, or a DataError naming the cell. */
function intAt(c: ScalarColumn, row: number, where: string): number {
  const v = c.get(row);
  if (!Number.isInteger(v) || v > 2147483647 || v < -2147483648) {
    throw new DataError(`${where}: column "${c.name}" row ${row}: value ${v} is not an int32 id`);
  }
  return v;
}

export function schemaOf(layout: PartLayout, maxIdx: number[][]): Schema {
  return {
    userSingle: layout.userSingle.map((name, i) => ({ name, maxIdx: maxIdx[0]![i]! })),
    userMulti: layout.userMulti.map((m, i) => ({ name: m.name, width: m.width, maxIdx: maxIdx[1]![i]! })),
    task: layout.task.map((name, i) => ({ name, maxIdx: maxIdx[2]![i]! })),
  };
}

/** A decoded pickle with its columns' roles and its schema, ready to be read row range by row range. */
export interface PicklePlan {
  where: string;
  nRows: number;
  layout: PartLayout;
  columns: Map<string, Column>;
  schema: Schema;
}

/** Largest value of a column (0 when it has no rows), for max_idx when none is given. */
function columnMax(c: Column, n: number): number {
  let best = 0;
  if (c.kind === 'scalar') {
    for (let r = 0; r < n; r++) best = Math.max(best, c.get(r));
    return best;
  }
  const row = new Int32Array(c.width);
  for (let r = 0; r < n; r++) {
    c.copyRow(r, row, 0);
    for (let j = 0; j < c.width; j++) best = Math.max(best, row[j]!);
  }
  return best;
}

/** Decide roles and max_idx for a decoded frame; `where` names the file in errors. */
export function planFrame(frame: Frame, where: string, opts: PickleImportOptions = {}): PicklePlan {
  const { layout, columns } = layoutOf(frame, where, opts);
  const n = frame.nRows;
  const found = (names: string[]): number[] => names.map((f) => columnMax(columns.get(f)!, n));
  const maxIdx = opts.maxIdxs ?? [found(layout.userSingle), found(layout.userMulti.map((m) => m.name)), found(layout.task)];
  return { where, nRows: n, layout, columns, schema: schemaOf(layout, maxIdx) };
}

/** Unpickle a DataFrame file and plan its conversion. */
export function planPickle(path: string, opts: PickleImportOptions = {}): PicklePlan {
  return planUnpickled(unpickleFile(path, { onProgress: opts.onProgress }), path, opts);
}

/** planPickle that awaits `pause` now and then while the file decodes (unpickleFilePausing). */
export async function planPicklePausing(path: string, pause: () => Promise<void>, opts: PickleImportOptions = {}): Promise<PicklePlan> {
  return planUnpickled(await unpickleFilePausing(path, pause, { onProgress: opts.onProgress }), path, opts);
}

function planUnpickled(root: unknown, path: string, opts: PickleImportOptions): PicklePlan {
  return planFrame(frameFrom(root, path, { bytes: statSync(path).size }), path, opts);
}

/** Extra columns of a plan's parts: carried as float64 whatever the pickle's dtype. */
export function extraKinds(plan: PicklePlan): Record<string, 'float64'> {
  return Object.fromEntries(plan.layout.extra.map((name) => [name, 'float64' as const]));
}

/**
 * Fill `dst` (allocated for `dst.nRows` rows of the plan's schema and extras) with rows
 * [r0, r0 + dst.nRows) of the pickle, then validate them: ids against max_idx, lengths,
 * labels. Errors name the pickle, the column and the absolute row.
 */
export function fillRows(plan: PicklePlan, r0: number, dst: PartData): void {
  const { layout, columns, where, schema } = plan;
  const n = dst.nRows;
  const scalar = (name: string): ScalarColumn => columns.get(name) as ScalarColumn;
  const labelCol = scalar('label');
  for (let r = 0; r < n; r++) {
    const v = labelCol.get(r0 + r);
    if (v !== 0 && v !== 1) throw new DataError(`${where}: column "label" row ${r0 + r}: label ${v}, expected 0 or 1`);
    dst.label[r] = v;
  }
  const fill = (m: Int32Array, stride: number, off: number, name: string): void => {
    const c = scalar(name);
    for (let r = 0; r < n; r++) m[r * stride + off] = intAt(c, r0 + r, where);
  };
  fill(dst.aid, 1, 0, 'aid');
  layout.userSingle.forEach((f, i) => fill(dst.single, layout.userSingle.length, i, f));
  layout.task.forEach((f, i) => fill(dst.task, layout.task.length, i, f));
  layout.userMulti.forEach((m, i) => fill(dst.multiLen, layout.userMulti.length, i, `${m.name}_length`));
  const stride = multiStride(schema);
  const offs = multiOffsets(schema);
  layout.userMulti.forEach((m, i) => {
    const c = columns.get(m.name) as ListColumn;
    for (let r = 0; r < n; r++) c.copyRow(r0 + r, dst.multi, r * stride + offs[i]!);
  });
  for (const name of layout.extra) {
    const c = scalar(name);
    const v = dst.extra[name]!;
    for (let r = 0; r < n; r++) v[r] = c.get(r0 + r);
  }
  validatePartData(dst, schema, where, r0);
}

/** Read a pickled DataFrame file whole, as an in-memory part. */
export function readPicklePart(path: string, opts: PickleImportOptions = {}): PickledPart {
  const plan = planPickle(path, opts);
  const data = allocatePart(plan.schema, plan.nRows, extraKinds(plan));
  fillRows(plan, 0, data);
  return { schema: plan.schema, data };
}
