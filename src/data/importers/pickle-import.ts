/**
 * Pickled DataFrames (PaddleRec / official MetaHeac files) into a dataset directory: one
 * Arrow part per pickle plus schema.json. A pickle is decoded whole (its columns stay in
 * their compact decoded form) and then converted and written one record batch at a time,
 * so peak memory is about the largest pickle's decoded columns, never a second full copy.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Progress, ProgressFactory } from '../../util/progress.js';
import { DataError } from '../../util/errors.js';
import { DEFAULT_BATCH_ROWS, type PartWriter } from '../arrow-part.js';
import { PART_EXT } from '../dataset.js';
import { DatasetTarget } from '../dataset-writer.js';
import { allocatePart, sliceRows } from '../part-ops.js';
import type { FieldSpec, Schema } from '../schema.js';
import { extraKinds, fillRows, planPicklePausing, type PickleImportOptions, type PicklePlan } from './pickle-part.js';
import { yieldToSignals } from '../../util/interrupt.js';

const PICKLE_EXT = /\.(pkl|pickle)$/i;

export interface PickleSource {
  path: string;
  /** Part name: the Arrow file is `<name>.arrow`. */
  name: string;
}

export interface ImportedPart {
  name: string;
  source: string;
  path: string;
  rows: number;
  tasks: number;
  positives: number;
  seconds: number;
}

export interface PickleImportResult {
  dir: string;
  schema: Schema;
  parts: ImportedPart[];
}

export interface ImportOptions extends PickleImportOptions {
  /** A progress bar over each file's bytes (the caller decides what it shows). */
  progress?: ProgressFactory;
}

/** The pickles directly inside `dir`, sorted by name. */
export function listPickles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => PICKLE_EXT.test(f) && !f.startsWith('.'))
    .sort()
    .map((f) => join(dir, f));
}

/**
 * A part name from a pickle's file name. `X_stage1` / `X_stage2` names are kept; a name
 * with a stage token elsewhere (PaddleRec folders are named freely: `infer_hot/stage1.pkl`,
 * `hot_stage2_full.pkl`) is rewritten to `<rest or folder>_stageN` so that stage-1 and
 * stage-2 files pair up as a test split; any other name is kept as it is.
 */
export function picklePartName(file: string): string {
  const base = basename(file).replace(PICKLE_EXT, '');
  if (/_stage[12]$/.test(base)) return base;
  const m = /^(.*?)[_.-]?stage([12])(?:[_.-](.*))?$/i.exec(base);
  if (!m) return base;
  const rest = [m[1], m[3]].filter((s) => s).join('_') || basename(resolve(file, '..'));
  return `${rest}_stage${m[2]}`;
}

/** Expand folders to their pickles and name each part; `name` renames a single file's part. */
export function pickleSources(inputs: string[], name?: string): PickleSource[] {
  const files: string[] = [];
  for (const p of inputs) {
    if (!existsSync(p)) throw new DataError(`${p}: no such file or directory`);
    if (statSync(p).isDirectory()) {
      const found = listPickles(p);
      if (found.length === 0) throw new DataError(`${p}: no *.pkl or *.pickle files in this folder`);
      files.push(...found);
    } else files.push(p);
  }
  if (name !== undefined && files.length !== 1) throw new DataError(`a part name can only be given for a single pickle, got ${files.length} files`);
  const sources = files.map((path) => ({ path, name: name ?? picklePartName(path) }));
  const seen = new Map<string, string>();
  for (const s of sources) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(s.name)) throw new DataError(`${s.path}: part name "${s.name}" must be letters, digits, _ . -`);
    const prev = seen.get(s.name);
    if (prev) throw new DataError(`${prev} and ${s.path} would both become part "${s.name}"`);
    seen.set(s.name, s.path);
  }
  return sources;
}

function fieldsSignature(s: Schema): string {
  const names = (fs: FieldSpec[]): string => fs.map((f) => f.name).join(', ');
  return `user single [${names(s.userSingle)}], user multi [${s.userMulti.map((f) => `${f.name}(${f.width})`).join(', ')}], task [${names(s.task)}]`;
}

function widen(a: Schema, b: Schema): Schema {
  const max = <T extends FieldSpec>(x: T[], y: T[]): T[] => x.map((f, i) => ({ ...f, maxIdx: Math.max(f.maxIdx, y[i]!.maxIdx) }));
  return { userSingle: max(a.userSingle, b.userSingle), userMulti: max(a.userMulti, b.userMulti), task: max(a.task, b.task) };
}

/** Rows converted and written per step: one Arrow record batch. */
const CHUNK_ROWS = DEFAULT_BATCH_ROWS;

/**
 * Convert one planned pickle into an Arrow part, a record batch at a time; the event loop
 * turns between batches, so that a signal is handled promptly.
 */
async function writePlan(plan: PicklePlan, writer: PartWriter, bar: Progress | undefined): Promise<{ positives: number; tasks: number }> {
  const chunk = allocatePart(plan.schema, Math.min(CHUNK_ROWS, plan.nRows), extraKinds(plan));
  const aids = new Set<number>();
  let positives = 0;
  try {
    for (let r0 = 0; r0 < plan.nRows; r0 += CHUNK_ROWS) {
      const rows = sliceRows(plan.schema, chunk, 0, Math.min(CHUNK_ROWS, plan.nRows - r0));
      fillRows(plan, r0, rows);
      for (let i = 0; i < rows.nRows; i++) {
        positives += rows.label[i]!;
        aids.add(rows.aid[i]!);
      }
      writer.append(rows);
      bar?.update(r0 + rows.nRows);
      await yieldToSignals();
    }
    writer.close();
  } catch (e) {
    writer.abort();
    throw e;
  }
  return { positives, tasks: aids.size };
}

/**
 * Convert pickles into `outDir` (created if needed): `<name>.arrow` per source and one
 * schema.json whose max_idx is the given max_idxs or the largest id over all sources, as one
 * unit (a failed import leaves the folder as it was). Refuses an `outDir` holding other
 * parts, which the new dataset would drop.
 */
export async function importPickles(sources: PickleSource[], outDir: string, opts: ImportOptions = {}): Promise<PickleImportResult> {
  if (sources.length === 0) throw new DataError('no pickles to import');
  if (existsSync(outDir)) {
    const names = new Set(sources.map((s) => s.name + PART_EXT));
    const stale = readdirSync(outDir).filter((f) => f.endsWith(PART_EXT) && !names.has(f));
    if (stale.length) throw new DataError(`${outDir}: already holds ${stale.join(', ')}, not part of this import; use an empty folder`);
  }
  const target = DatasetTarget.open(outDir, sources.map((src) => src.path));
  let schema: Schema | null = null;
  let first = '';
  const parts: ImportedPart[] = [];
  try {
    for (const src of sources) {
      const t0 = performance.now();
      const readBar = opts.progress?.(`read ${basename(src.path)}`, statSync(src.path).size);
      let plan: PicklePlan;
      try {
        plan = await planPicklePausing(src.path, yieldToSignals, { ...opts, onProgress: (b) => readBar?.update(b) });
      } finally {
        readBar?.stop();
      }
      if (schema === null) {
        schema = plan.schema;
        first = src.path;
      } else {
        const want = fieldsSignature(schema);
        const got = fieldsSignature(plan.schema);
        if (want !== got) throw new DataError(`${src.path}: its fields differ from ${first}'s: ${got} vs ${want}`);
        schema = widen(schema, plan.schema);
      }
      const path = join(outDir, src.name + PART_EXT);
      const writeBar = opts.progress?.(`write ${src.name}${PART_EXT}`, plan.nRows);
      let counts;
      try {
        counts = await writePlan(plan, target.part(src.name, plan.schema, { extra: extraKinds(plan) }), writeBar);
      } finally {
        writeBar?.stop();
      }
      parts.push({ name: src.name, source: src.path, path, rows: plan.nRows, ...counts, seconds: (performance.now() - t0) / 1000 });
    }
    target.commit(schema!, `import-pkl ${sources.map((src) => basename(src.path)).join(' ')}`);
  } catch (e) {
    throw target.named(e);
  } finally {
    target.abort();
  }
  return { dir: outDir, schema: schema!, parts };
}
