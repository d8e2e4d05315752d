/**
 * Synthetic look-alike datasets with planted structure (see synth-world.ts): writes the
 * five standard parts and schema.json, and reports the oracle metrics, i.e. what the true
 * probabilities score on stage 2, the ceiling for any model.
 */
import { join } from 'node:path';
import { DataError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { splitMetrics } from '../eval/metrics.js';
import { PartWriter } from './arrow-part.js';
import { writeSchema } from './dataset.js';
import { STANDARD_PARTS } from './part.js';
import { allocatePart, sliceRows } from './part-ops.js';
import { PRESET_NAMES, PRESETS } from './synth-presets.js';
import { SynthWorld } from './synth-world.js';

export const DEFAULT_SYNTH_SEED = 2021;

export interface SynthOptions {
  out: string;
  preset: string;
  seed?: number;
  /** Multiplies every row count (and the default cold threshold). */
  scale?: number;
  /** Cold = at most this many positives over stage 1 + stage 2; default scaled from the preset. */
  coldThreshold?: number;
  batchRows?: number;
  /** Called after each campaign with rows written so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

export interface PartSummary {
  rows: number;
  tasks: number;
  positives: number;
}

export interface OracleSummary {
  tasks: number;
  rows: number;
  positives: number;
  auc: number;
  gauc: number;
  gaucSkipped: number;
}

export interface SynthSummary {
  out: string;
  preset: string;
  seed: number;
  scale: number;
  coldThreshold: number;
  parts: Record<string, PartSummary>;
  /** Metrics of p_true on stage 2 of the hot and cold test campaigns. */
  oracle: { hot: OracleSummary; cold: OracleSummary };
}

export function resolvePreset(name: string) {
  const p = PRESETS[name];
  if (!p) throw new DataError(`unknown preset "${name}" (expected one of ${PRESET_NAMES.join(', ')})`);
  return p;
}

interface SplitAcc {
  stage1: PartWriter;
  stage2: PartWriter;
  p: number[];
  y: number[];
  taskRows: { aid: number; rows: number[] }[];
}

export async function synthesize(opts: SynthOptions): Promise<SynthSummary> {
  const preset = resolvePreset(opts.preset);
  const seed = opts.seed ?? DEFAULT_SYNTH_SEED;
  const scale = opts.scale ?? preset.defaultScale;
  if (!Number.isFinite(scale) || scale <= 0) throw new DataError(`--scale must be a positive number, got ${scale}`);
  if (!Number.isInteger(seed)) throw new DataError(`--seed must be an integer, got ${seed}`);
  const threshold = opts.coldThreshold ?? Math.max(1, Math.round(preset.coldThreshold * scale));
  if (!Number.isInteger(threshold) || threshold < 0) throw new DataError(`--cold-threshold must be a non-negative integer, got ${threshold}`);
  const s = preset.schema;
  const world = new SynthWorld(preset, seed, scale);
  const writerOpts = { extra: { p_true: 'float64' as const }, batchRows: opts.batchRows };
  const open = (name: string) => new PartWriter(join(opts.out, `${name}.arrow`), s, writerOpts);
  const writers: PartWriter[] = [];
  const track = (w: PartWriter) => (writers.push(w), w);
  const summary: Record<string, PartSummary> = Object.fromEntries(STANDARD_PARTS.map((n) => [n, { rows: 0, tasks: 0, positives: 0 }]));
  const note = (name: string, rows: number, positives: number) => {
    const e = summary[name]!;
    e.rows += rows;
    e.tasks += 1;
    e.positives += positives;
  };
  try {
    const train = track(open('train_stage1'));
    const split = (name: 'hot' | 'cold'): SplitAcc => ({
      stage1: track(open(`test_${name}_stage1`)),
      stage2: track(open(`test_${name}_stage2`)),
      p: [],
      y: [],
      taskRows: [],
    });
    const splits = { hot: split('hot'), cold: split('cold') };
    const total = world.campaigns.reduce((a, c) => a + c.n1 + (c.test ? c.n2 : 0), 0);
    const rowsRng = new Rng(seed ^ 0x3c6ef372);
    let done = 0;
    for (const c of world.campaigns) {
      // One stream per campaign, forked in campaign order: the same seed gives the same rows.
      const rng = rowsRng.fork(c.aid);
      const n = c.n1 + (c.test ? c.n2 : 0);
      const d = allocatePart(s, n, { p_true: 'float64' });
      const pTrue = d.extra.p_true!;
      for (let r = 0; r < n; r++) pTrue[r] = world.drawRow(rng, c, d, r);
      let pos1 = 0;
      let pos2 = 0;
      for (let r = 0; r < n; r++) {
        if (r < c.n1) pos1 += d.label[r]!;
        else pos2 += d.label[r]!;
      }
      if (!c.test) {
        train.append(d);
        note('train_stage1', n, pos1);
      } else {
        const name = pos1 + pos2 <= threshold ? 'cold' : 'hot';
        const acc = splits[name];
        acc.stage1.append(sliceRows(s, d, 0, c.n1));
        acc.stage2.append(sliceRows(s, d, c.n1, n));
        note(`test_${name}_stage1`, c.n1, pos1);
        note(`test_${name}_stage2`, c.n2, pos2);
        const first = acc.p.length;
        acc.taskRows.push({ aid: c.aid, rows: Array.from({ length: c.n2 }, (_, i) => first + i) });
        for (let r = c.n1; r < n; r++) {
          acc.p.push(pTrue[r]!);
          acc.y.push(d.label[r]!);
        }
      }
      done += n;
      opts.onProgress?.(done, total);
    }
    writeSchema(opts.out, s);
    for (const w of writers) w.close();
    const oracle = (a: SplitAcc): OracleSummary => {
      const m = splitMetrics(a.p, a.y, a.taskRows);
      return { tasks: m.tasks, rows: m.rows, positives: m.positives, auc: m.auc, gauc: m.gauc, gaucSkipped: m.gaucSkipped };
    };
    return { out: opts.out, preset: preset.name, seed, scale, coldThreshold: threshold, parts: summary, oracle: { hot: oracle(splits.hot), cold: oracle(splits.cold) } };
  } catch (e) {
    for (const w of writers) w.abort();
    throw e;
  }
}
