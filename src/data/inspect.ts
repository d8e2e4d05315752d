/** A dataset's vital statistics: schema, and per part rows, tasks, label rate and seeds per task. */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { checkLeaks, sharedAids, type Leak } from './leakage.js';
import { readManifest } from './manifest.js';
import { loadDataset, loadPart, PART_EXT } from './dataset.js';
import type { Part } from './part.js';
import { schemaToJson } from './schema.js';

export interface Distribution {
  min: number;
  median: number;
  p90: number;
  max: number;
}

export interface PartReport {
  name: string;
  path: string;
  rows: number;
  tasks: number;
  positives: number;
  labelRate: number;
  /** Positives per task (seeds, in a stage-1 part); null for a part without rows. */
  positivesPerTask: Distribution | null;
}

export interface InspectReport {
  path: string;
  /** The identity from manifest.json, when the dataset has one. */
  dataset: { id: string; producer: string } | null;
  /** Test campaigns also present in train_stage1 (reported only with allowOverlap). */
  overlap: { part: string; aids: number[] }[];
  schema: ReturnType<typeof schemaToJson>;
  parts: PartReport[];
  /** Task counts of the hot and cold test splits (from their stage-1 parts), when present. */
  splits: Record<string, number>;
}

/** Nearest-rank quantile of sorted values: the smallest value with at least q of them at or below. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

export function describePart(name: string, p: Part): PartReport {
  let positives = 0;
  for (let i = 0; i < p.nRows; i++) positives += p.label[i]!;
  const perTask = Float64Array.from(p.tasks, (t) => {
    let s = 0;
    for (const r of t.rows) s += p.label[r]!;
    return s;
  }).sort();
  return {
    name,
    path: p.path,
    rows: p.nRows,
    tasks: p.tasks.length,
    positives,
    labelRate: p.nRows > 0 ? positives / p.nRows : NaN,
    positivesPerTask:
      perTask.length > 0 ? { min: perTask[0]!, median: quantile(perTask, 0.5), p90: quantile(perTask, 0.9), max: perTask[perTask.length - 1]! } : null,
  };
}

/**
 * Inspect a dataset directory, or one part file (with the schema.json that governs it).
 * `onPart` reports progress as parts are read.
 */
export async function inspectDataset(
  path: string,
  onPart?: (done: number, total: number) => void,
  opts: { allowOverlap?: boolean; warn?: (line: string) => void } = {},
): Promise<InspectReport> {
  if (existsSync(path) && statSync(path).isFile()) {
    const p = await loadPart(path);
    onPart?.(1, 1);
    return { path, dataset: identity(dirname(path)), overlap: [], schema: schemaToJson(p.schema), parts: [describePart(basename(path, PART_EXT), p)], splits: {} };
  }
  const ds = loadDataset(path);
  const reports: PartReport[] = [];
  const aids = new Map<string, number[]>();
  for (const [i, ref] of ds.parts.entries()) {
    const p = await loadPart(ref.path);
    aids.set(ref.name, p.tasks.map((t) => t.aid));
    reports.push(describePart(ref.name, p));
    onPart?.(i + 1, ds.parts.length);
  }
  const train = aids.get('train_stage1') ?? [];
  const leaks: Leak[] = [...aids]
    .filter(([name]) => name !== 'train_stage1')
    .map(([name, a]) => ({ testPart: join(path, name + PART_EXT), trainFrom: join(path, 'train_stage1' + PART_EXT), aids: sharedAids(train, a) }))
    .filter((l) => l.aids.length > 0);
  checkLeaks(leaks, opts.allowOverlap ?? false, 'pass --allow-overlap', opts.warn ?? (() => {}));
  const splits: Record<string, number> = {};
  for (const r of reports) {
    const m = /^test_(.+)_stage1$/.exec(r.name);
    if (m) splits[m[1]!] = r.tasks;
  }
  const overlap = leaks.map((l) => ({ part: basename(l.testPart, PART_EXT), aids: l.aids }));
  return { path, dataset: identity(path), overlap, schema: schemaToJson(ds.schema), parts: reports, splits };
}

function identity(dir: string): InspectReport['dataset'] {
  const m = readManifest(dir);
  return m ? { id: m.id, producer: m.producer } : null;
}
