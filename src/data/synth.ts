/**
 * Synthetic look-alike datasets with planted structure (see synth-world.ts): writes the
 * five standard parts and schema.json, and reports the oracle metrics, i.e. what the true
 * probabilities score on stage 2, the ceiling for any model, beside those of the two
 * reference scorers (category-level and ad-agnostic), which stage 2 and the truth carry too.
 */
import { join, relative } from 'node:path';
import { DataError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { yieldToSignals } from '../util/interrupt.js';
import { splitMetrics } from '../eval/metrics.js';
import { PartWriter } from './arrow-part.js';
import { CAMPAIGNS_DIR, USERS_FILE } from './dataset.js';
import { DatasetTarget } from './dataset-writer.js';
import { STANDARD_PARTS, type PartData } from './part.js';
import { writeFileAtomic } from '../util/atomic.js';
import { writeNumericTable } from './table-write.js';
import { stringify } from 'yaml';
import type { Schema } from './schema.js';
import { allocatePart, sliceRows } from './part-ops.js';
import { PRESET_NAMES, PRESETS } from './synth-presets.js';
import { LATENT_DIM, SynthWorld, type Campaign } from './synth-world.js';
import { AGNOSTIC_COLUMN, categoryColumn, REFERENCE_EXTRA, REFERENCES, type ReferenceName } from './reference.js';

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
  /** The same of the reference scorers (p_category, p_agnostic). */
  reference: Record<'hot' | 'cold', Record<ReferenceName, { auc: number; gauc: number }>>;
  /** The user table: the test campaigns' stage-1 users, then fresh pool users. */
  users: { path: string; rows: number; seedUsers: number; poolUsers: number };
  /** One campaign file per test campaign, and the truth of every user for each. */
  campaigns: { dir: string; files: string[]; truth: string };
}

/** Where synth puts its campaign files and their truth, inside the dataset. */
export { CAMPAIGNS_DIR };
export const TRUTH_FILE = 'truth.arrow';

export function resolvePreset(name: string) {
  const p = PRESETS[name];
  if (!p) throw new DataError(`unknown preset "${name}" (expected one of ${PRESET_NAMES.join(', ')})`);
  return p;
}

interface SplitAcc {
  stage1: PartWriter;
  stage2: PartWriter;
  p: number[];
  /** Each reference scorer's probabilities, in the order of p. */
  refs: Record<ReferenceName, number[]>;
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
  const extra = { p_true: 'float64' as const, uid: 'int32' as const };
  // stage 2 alone carries the reference scorers: they judge candidates, not seeds
  const stage2Extra = { ...extra, [REFERENCE_EXTRA.category]: 'float64' as const, [REFERENCE_EXTRA.agnostic]: 'float64' as const };
  // checked before any work; everything goes into a temporary folder swapped in at the end
  const target = DatasetTarget.open(opts.out);
  const open = (name: string, x: Record<string, 'float64' | 'int32'> = extra) => target.part(name, s, { extra: x, batchRows: opts.batchRows });
  // files of the dataset that are not parts (the user table)
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
    const train = open('train_stage1');
    const split = (name: 'hot' | 'cold'): SplitAcc => ({
      stage1: open(`test_${name}_stage1`),
      stage2: open(`test_${name}_stage2`, stage2Extra),
      p: [],
      refs: { category: [], agnostic: [] },
      y: [],
      taskRows: [],
    });
    const splits = { hot: split('hot'), cold: split('cold') };
    const total = world.campaigns.reduce((a, c) => a + c.n1 + (c.test ? c.n2 : 0), 0);
    const rowsRng = new Rng(seed ^ 0x3c6ef372);
    // The user table: every test campaign's stage-1 users (seeds and non-seeds, so that a
    // campaign file can name them), then fresh users; truth holds every one's p per test campaign.
    const tests = world.campaigns.filter((c) => c.test);
    const nPool = Math.max(1, Math.round(preset.poolUsers * scale));
    const nSeedUsers = tests.reduce((a, c) => a + c.n1, 0);
    const nUsers = nSeedUsers + nPool;
    const truth = tests.map(() => new Float32Array(nUsers));
    // the category-level truth is one column per category (campaigns of a category share it)
    const truthCategory = world.categories.map(() => new Float32Array(nUsers));
    const truthAgnostic = new Float32Array(nUsers);
    const pCat = new Float64Array(world.categories.length);
    const truthUid = new Int32Array(nUsers);
    const usersWriter = track(new PartWriter(join(target.tmp, USERS_FILE), s, { kind: 'users', extra: { uid: 'int32' }, batchRows: opts.batchRows }));
    let nextUser = 0;
    const addUsers = (d: PartData, from: number, to: number, z: (r: number) => Float64Array) => {
      for (let r = from; r < to; r++) {
        truthUid[nextUser] = d.extra.uid![r]!;
        tests.forEach((t, k) => (truth[k]![nextUser] = world.pTrue(t, z(r), d, r)));
        truthAgnostic[nextUser] = world.pCategories(z(r), d, r, pCat);
        pCat.forEach((p, k) => (truthCategory[k]![nextUser] = p));
        nextUser++;
      }
      usersWriter.append(asUsers(s, d, from, to));
    };
    const files: string[] = [];
    const testNames: string[] = [];
    let done = 0;
    let uid = 0;
    for (const c of world.campaigns) {
      // One stream per campaign, forked in campaign order: the same seed gives the same rows.
      const rng = rowsRng.fork(c.aid);
      const n = c.n1 + (c.test ? c.n2 : 0);
      const d = allocatePart(s, n, { p_true: 'float64', uid: 'int32' });
      const pTrue = d.extra.p_true!;
      const uids = d.extra.uid!;
      const n2 = c.test ? c.n2 : 0;
      const ref: Record<ReferenceName, Float64Array> = { category: new Float64Array(n2), agnostic: new Float64Array(n2) };
      // the latent vectors of the stage-1 users, for their truth in every test campaign
      const zs = new Float64Array(c.test ? c.n1 * LATENT_DIM : 0);
      for (let r = 0; r < n; r++) {
        pTrue[r] = world.drawRow(rng, c, d, r);
        uids[r] = ++uid;
        if (c.test && r < c.n1) zs.set(world.lastZ, r * LATENT_DIM);
        if (c.test && r >= c.n1) {
          ref.agnostic[r - c.n1] = world.pCategories(world.lastZ, d, r, pCat);
          ref.category[r - c.n1] = pCat[c.category]!;
        }
      }
      if (c.test) addUsers(d, 0, c.n1, (r) => zs.subarray(r * LATENT_DIM, (r + 1) * LATENT_DIM));
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
        const stage2 = sliceRows(s, d, c.n1, n);
        acc.stage2.append({ ...stage2, extra: { ...stage2.extra, [REFERENCE_EXTRA.category]: ref.category, [REFERENCE_EXTRA.agnostic]: ref.agnostic } });
        note(`test_${name}_stage1`, c.n1, pos1);
        note(`test_${name}_stage2`, c.n2, pos2);
        const first = acc.p.length;
        acc.taskRows.push({ aid: c.aid, rows: Array.from({ length: c.n2 }, (_, i) => first + i) });
        for (let r = c.n1; r < n; r++) {
          acc.p.push(pTrue[r]!);
          acc.y.push(d.label[r]!);
        }
        for (const k of REFERENCES) for (const p of ref[k]) acc.refs[k].push(p);
        const cname = `${name}_${c.aid}`;
        testNames[tests.indexOf(c)] = cname;
        files.push(join(opts.out, relative(target.tmp, writeCampaignFile(target.tmp, cname, c, s, d))));
      }
      done += n;
      opts.onProgress?.(done, total);
      await yieldToSignals();
    }
    // fresh pool users, from their own stream so that the rows above do not depend on them
    const poolRng = new Rng(seed ^ 0x6a09e667);
    const chunk = allocatePart(s, Math.min(nPool, 65536), { uid: 'int32' });
    for (let from = 0; from < nPool; from += chunk.nRows) {
      const m = Math.min(chunk.nRows, nPool - from);
      const zs = new Float64Array(m * LATENT_DIM);
      for (let r = 0; r < m; r++) {
        world.drawUser(poolRng, chunk, r);
        zs.set(world.lastZ, r * LATENT_DIM);
        chunk.extra.uid![r] = ++uid;
      }
      addUsers(chunk, 0, m, (r) => zs.subarray(r * LATENT_DIM, (r + 1) * LATENT_DIM));
    }
    writeNumericTable(join(target.tmp, CAMPAIGNS_DIR, TRUTH_FILE), [
      ['uid', truthUid],
      ...tests.map((_, k): [string, Float32Array] => [testNames[k]!, truth[k]!]),
      ...tests.map((t, k): [string, Float32Array] => [categoryColumn(testNames[k]!), truthCategory[t.category]!]),
      [AGNOSTIC_COLUMN, truthAgnostic],
    ]);
    for (const w of writers) w.close();
    target.commit(s, `synth --preset ${preset.name} --seed ${seed} --scale ${scale} --cold-threshold ${threshold}`, { users: USERS_FILE });
    const campaignsDir = join(opts.out, CAMPAIGNS_DIR);
    const truthPath = join(campaignsDir, TRUTH_FILE);
    const oracle = (a: SplitAcc): OracleSummary => {
      const m = splitMetrics(a.p, a.y, a.taskRows);
      return { tasks: m.tasks, rows: m.rows, positives: m.positives, auc: m.auc, gauc: m.gauc, gaucSkipped: m.gaucSkipped };
    };
    const reference = (a: SplitAcc) =>
      Object.fromEntries(
        REFERENCES.map((k) => {
          const m = splitMetrics(a.refs[k], a.y, a.taskRows);
          return [k, { auc: m.auc, gauc: m.gauc }];
        }),
      ) as Record<ReferenceName, { auc: number; gauc: number }>;
    return {
      out: opts.out,
      preset: preset.name,
      seed,
      scale,
      coldThreshold: threshold,
      parts: summary,
      oracle: { hot: oracle(splits.hot), cold: oracle(splits.cold) },
      reference: { hot: reference(splits.hot), cold: reference(splits.cold) },
      users: { path: join(opts.out, USERS_FILE), rows: nUsers, seedUsers: nSeedUsers, poolUsers: nPool },
      campaigns: { dir: campaignsDir, files, truth: truthPath },
    };
  } catch (e) {
    for (const w of writers) w.abort();
    target.abort();
    throw target.named(e);
  }
}

/** Rows [a, b) of a part as user-table rows: the user fields and the uid, no task fields. */
function asUsers(s: Schema, d: PartData, a: number, b: number): PartData {
  const v = sliceRows(s, d, a, b);
  return { ...v, task: new Int32Array(0), extra: { uid: v.extra.uid! } };
}

/**
 * A test campaign as a campaign file for `expand`: its task codes and its stage-1 rows as
 * `examples` (uid,label in row order), so expanding it adapts exactly as `infer` does.
 * Returns the file's path.
 */
function writeCampaignFile(out: string, name: string, c: Campaign, s: Schema, d: PartData): string {
  const dir = join(out, CAMPAIGNS_DIR);
  const examples = `${name}.examples.csv`;
  const lines = ['uid,label\n'];
  for (let r = 0; r < c.n1; r++) lines.push(`${d.extra.uid![r]},${d.label[r]}\n`);
  writeFileAtomic(join(dir, examples), lines.join(''));
  const task = Object.fromEntries(s.task.map((f, i) => [f.name, c.taskIds[i]!]));
  const path = join(dir, `${name}.yaml`);
  const doc = { name, aid: c.aid, codes: true, task, examples };
  writeFileAtomic(path, `# synthetic test campaign ${c.aid}: its stage-1 rows as examples (truth: ${TRUTH_FILE}, column ${name})\n${stringify(doc)}`);
  return path;
}
