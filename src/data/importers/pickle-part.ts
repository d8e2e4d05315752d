/**
 * A pickled DataFrame as a dataset part. Column roles come from the names (spec section
 * 7): `label`, `aid`, list-valued columns are multi-valued user fields with `<name>_length`
 * as their length, task fields are the Tencent ad fields (or those named), every other
 * numeric column is a user single-valued field. max_idx comes from the caller's
 * `max_idxs` (checked against the data) or is the largest id found.
 */
import { DataError } from '../../util/errors.js';
import type { PartData } from '../part.js';
import { TENCENT_SCHEMA, multiOffsets, multiStride, type Schema } from '../schema.js';
import { validatePartData } from '../validate.js';
import { frameFrom, type Column, type Frame, type ListColumn, type ScalarColumn } from './pickle/frame.js';
import { unpickleFile } from './pickle/unpickler.js';

export interface PickleImportOptions {
  /** PaddleRec's `max_idxs` ([[single], [multi], [task]]); ids are validated against it. */
  maxIdxs?: number[][];
  /** Task (ad) field names; default: the Tencent ad fields present. */
  taskFields?: string[];
  /** Columns to ignore. */
  exclude?: string[];
  /** Numeric columns carried as extras (Float64) rather than fields; default ['p_true']. */
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
  const excluded = new Set(opts.exclude ?? []);
  const extras = new Set(opts.extraColumns ?? ['p_true']);
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

/** A scalar column's value at `row` as an int32 id/label, or a DataError naming the cell. */
function intAt(c: ScalarColumn, row: number, where: string): number {
  const v = c.get(row);
  if (!Number.isInteger(v) || v > 2147483647 || v < -2147483648) {
    throw new DataError(`${where}: column "${c.name}" row ${row}: value ${v} is not an int32 id`);
  }
  return v;
}

function fillMatrix(dst: Int32Array, stride: number, off: number, c: ScalarColumn, n: number, where: string): void {
  for (let r = 0; r < n; r++) dst[r * stride + off] = intAt(c, r, where);
}

/** Largest value of each field, in schema groups (-1 for an empty part). */
function maxFound(d: PartData, layout: PartLayout): number[][] {
  const colMax = (m: Int32Array, stride: number, off: number, width: number): number => {
    let best = -1;
    for (let r = 0; r < d.nRows; r++) for (let j = 0; j < width; j++) best = Math.max(best, m[r * stride + off + j]!);
    return best;
  };
  const ns = layout.userSingle.length;
  const nt = layout.task.length;
  const stride = layout.userMulti.reduce((s, m) => s + m.width, 0);
  let off = 0;
  return [
    layout.userSingle.map((_, i) => colMax(d.single, ns, i, 1)),
    layout.userMulti.map((m) => {
      const v = colMax(d.multi, stride, off, m.width);
      off += m.width;
      return v;
    }),
    layout.task.map((_, i) => colMax(d.task, nt, i, 1)),
  ];
}

export function schemaOf(layout: PartLayout, maxIdx: number[][]): Schema {
  return {
    userSingle: layout.userSingle.map((name, i) => ({ name, maxIdx: maxIdx[0]![i]! })),
    userMulti: layout.userMulti.map((m, i) => ({ name: m.name, width: m.width, maxIdx: maxIdx[1]![i]! })),
    task: layout.task.map((name, i) => ({ name, maxIdx: maxIdx[2]![i]! })),
  };
}

/** Convert a decoded frame; every id and length is validated (against max_idxs when given). */
export function frameToPart(frame: Frame, where: string, opts: PickleImportOptions = {}): PickledPart {
  const { layout, columns } = layoutOf(frame, where, opts);
  const n = frame.nRows;
  const scalar = (name: string): ScalarColumn => columns.get(name) as ScalarColumn;
  const label = new Uint8Array(n);
  const labelCol = scalar('label');
  for (let r = 0; r < n; r++) {
    const v = labelCol.get(r);
    if (v !== 0 && v !== 1) throw new DataError(`${where}: column "label" row ${r}: label ${v}, expected 0 or 1`);
    label[r] = v;
  }
  const aid = new Int32Array(n);
  fillMatrix(aid, 1, 0, scalar('aid'), n, where);
  const ns = layout.userSingle.length;
  const single = new Int32Array(n * ns);
  layout.userSingle.forEach((f, i) => fillMatrix(single, ns, i, scalar(f), n, where));
  const nt = layout.task.length;
  const task = new Int32Array(n * nt);
  layout.task.forEach((f, i) => fillMatrix(task, nt, i, scalar(f), n, where));
  const nm = layout.userMulti.length;
  const multiLen = new Int32Array(n * nm);
  layout.userMulti.forEach((m, i) => fillMatrix(multiLen, nm, i, scalar(`${m.name}_length`), n, where));
  const stub = schemaOf(layout, [layout.userSingle.map(() => 0), layout.userMulti.map(() => 0), layout.task.map(() => 0)]);
  const stride = multiStride(stub);
  const offs = multiOffsets(stub);
  const multi = new Int32Array(n * stride);
  layout.userMulti.forEach((m, i) => {
    const c = columns.get(m.name) as ListColumn;
    for (let r = 0; r < n; r++) c.copyRow(r, multi, r * stride + offs[i]!);
  });
  const extra: PartData['extra'] = {};
  for (const name of layout.extra) {
    const c = scalar(name);
    const v = new Float64Array(n);
    for (let r = 0; r < n; r++) v[r] = c.get(r);
    extra[name] = v;
  }
  const data: PartData = { nRows: n, label, aid, single, multi, multiLen, task, extra };
  const found = maxFound(data, layout);
  const schema = schemaOf(layout, opts.maxIdxs ?? found.map((g) => g.map((v) => Math.max(v, 0))));
  validatePartData(data, schema, where);
  return { schema, data };
}

/** Read a pickled DataFrame file as a dataset part. */
export function readPicklePart(path: string, opts: PickleImportOptions = {}): PickledPart {
  const root = unpickleFile(path, { onProgress: opts.onProgress });
  return frameToPart(frameFrom(root, path), path, opts);
}
