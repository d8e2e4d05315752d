/**
 * Audience expansion, the product's main path: for each campaign, its seed users' rows
 * (features joined from a user table), the general model adapted to them exactly as
 * `infer` adapts (the same Adapter), then every user of the pool scored and the top N kept.
 *
 *   campaign file → validated campaign → stage-1 rows → Adapter → adapted weights
 *   → pool chunks → scores → top-N heap → writers
 *
 * The pool is read once, chunk by chunk, and each chunk is scored for every campaign, so
 * memory is bounded by the chunk (batch_size rows) and N, never by the pool. A shard scores
 * a slice of whole chunks, so shards merged (merge.ts) equal the unsharded run.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { LoadedConfig } from '../config/config.js';
import { datasetFiles, SCHEMA_FILE, schemaPathFor, USERS_FILE } from '../data/dataset.js';
import type { PartData } from '../data/part.js';
import { allocatePart, copyRows } from '../data/part-ops.js';
import { readSchemaFile, type Schema } from '../data/schema.js';
import { uidJson, type Uid } from '../data/uid.js';
import { readTaskVocab } from '../data/task-vocab.js';
import { createOps } from '../kernels/index.js';
import { Adapter, type Weights } from '../meta/adapt.js';
import { adaptAll } from '../meta/adapt-runner.js';
import { adaptOptionsFor, layoutFor, paramsFromCheckpoint, schemaFor } from '../meta/model-setup.js';
import type { Ops } from '../model/ops.js';
import type { Params } from '../model/params.js';
import { plainView } from '../model/row-set.js';
import { Scorer } from '../model/scorer.js';
import { ConfigError, DataError, UserError } from '../util/errors.js';
import { checkNotInput } from '../util/output-paths.js';
import { ensureDir } from '../util/files.js';
import { audienceFrom, repeatedUid, type Audience } from './audience.js';
import { writeAudienceFolder } from './audience-folder.js';
import { campaignFiles, checkDistinctNames, loadCampaignFile, type Campaign } from './campaign.js';
import { readExamples, readUidList } from './id-list.js';
import { evaluateAudience, readTruth } from './quality.js';
import { audienceStats, histogramBin, histogramQuantiles, HISTOGRAM_BINS, type ExpandSummary, type UidCounts } from './summary.js';
import { taskCodes, type TaskCodes } from './task-codes.js';
import { TopN } from './top-n.js';
import { findUsers, rowOf, shardRange, tablePool, type FoundUsers, type PoolSource } from './users.js';

export interface ExpandProgress {
  /** The campaign concerned; null for a step that serves every campaign at once. */
  campaign: string | null;
  phase: 'adapting' | 'scoring' | 'writing';
  rowsScored: number;
  rowsTotal: number;
}

export interface ExpandOptions {
  config: LoadedConfig;
  /** A checkpoint path, or parameters already loaded into `ops`. */
  model: string | Params;
  /** Campaign files, or campaigns parsed with parseCampaign. */
  campaigns: (Campaign | string)[];
  /** The pool: a user table (default: the dataset's, runner.train_data_dir), or a PoolSource. */
  users?: string | PoolSource;
  /** Where seeds are looked up; default: the dataset's user table, else the pool. */
  lookup?: string;
  /** Audience size N (default 1000). */
  top?: number;
  /** Keep the campaign's seeds in its audience (default: left out). */
  includeSeeds?: boolean;
  /** Score the `index`-th (0-based) of `count` slices of the pool. */
  shard?: { index: number; count: number };
  /** Where DIR/<campaign>/ go; null: nothing written, results in memory only. */
  outDir?: string | null;
  /** Engine threads when `ops` is not given (default runner.threads). */
  threads?: number;
  /** An engine to use (and leave open); required when `model` is loaded parameters. */
  ops?: Ops;
  /** false: score with the general model, no adaptation (a baseline). */
  adapt?: boolean;
  /** Fewer seeds found than this gives a warning (default 10). */
  minSeeds?: number;
  /** A synthetic dataset's truth (synth's campaigns/truth.arrow): adds quality to the summaries. */
  truth?: string;
  onProgress?: (ev: ExpandProgress) => void;
  /** Warnings and notes, one line each. */
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export interface CampaignResult {
  name: string;
  /** DIR/<name>, or null when nothing was written. */
  dir: string | null;
  audience: Audience;
  summary: ExpandSummary;
}

export const DEFAULT_TOP = 1000;
export const DEFAULT_MIN_SEEDS = 10;
/** Progress is reported about this often while scoring. */
const PROGRESS_ROWS = 65536;
const MISSING_LISTED = 20;

interface DataPaths {
  schema: Schema;
  schemaPath: string;
  pool: string;
  lookup: string;
  taskVocab: string | null;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Why a set runner.train_data_dir gave no schema. A config's relative paths resolve against
 * its own folder, so one inside an installed package (node_modules/metaheac/configs) points
 * into the package, not at the data a user made in the working directory: say where it led.
 */
function noDatasetAt(dataDir: string, schema: string): string {
  const where = existsSync(dataDir) ? `${schema} does not exist` : 'which does not exist';
  return `runner.train_data_dir is ${dataDir}, ${where} (relative paths in a config file resolve against its folder, those given with -o against the working directory: -o runner.train_data_dir=DIR)`;
}

/** The dataset's schema and files, from runner.train_data_dir or from beside the pool. */
export function resolveDataPaths(cfg: LoadedConfig, users?: string, lookup?: string, poolGiven = false): DataPaths {
  const dataDir = cfg.runner.train_data_dir;
  const dsSchema = dataDir ? (isDir(dataDir) ? join(dataDir, SCHEMA_FILE) : join(dirname(dataDir), SCHEMA_FILE)) : null;
  let schemaPath: string;
  if (dsSchema && existsSync(dsSchema)) schemaPath = dsSchema;
  else if (users) schemaPath = schemaPathFor(users);
  else throw new ConfigError(`${cfg.source}: no dataset to expand from: ${dataDir ? noDatasetAt(dataDir, dsSchema!) : 'set runner.train_data_dir to a dataset directory'}, or give the pool (--users)`);
  const files = datasetFiles(schemaPath);
  const datasetUsers = files.users ?? (existsSync(join(dirname(schemaPath), USERS_FILE)) ? join(dirname(schemaPath), USERS_FILE) : null);
  const pool = users ?? datasetUsers ?? (poolGiven ? lookup : null);
  if (!pool) throw new ConfigError(`${schemaPath}: the dataset has no user table (users.arrow; prepare and synth write one): give the pool with --users`);
  if (!existsSync(pool)) throw new UserError(`${pool}: no such user table`);
  const look = lookup ?? datasetUsers ?? pool;
  if (!existsSync(look)) throw new UserError(`${look}: no such user table`);
  return { schema: readSchemaFile(schemaPath), schemaPath, pool, lookup: look, taskVocab: files.taskVocab };
}

/**
 * Output paths are checked before any work: a folder we can write, campaign folders not files
 * and not holding any of `inputs` (a campaign folder is replaced as a whole).
 */
export function checkOutDir(outDir: string, names: string[], inputs: (string | null | undefined)[] = []): void {
  checkNotInput(outDir, '--out', inputs);
  if (existsSync(outDir) && !isDir(outDir)) throw new UserError(`${outDir}: exists and is not a directory (--out must be a directory)`);
  try {
    ensureDir(outDir);
    accessSync(outDir, constants.W_OK);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${outDir}: cannot write the output directory (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  for (const n of names) {
    const d = join(outDir, n);
    if (existsSync(d) && !isDir(d)) throw new UserError(`${d}: exists and is not a directory (campaign "${n}" writes its audience there)`);
    checkNotInput(d, `campaign "${n}"'s output folder`, inputs, true);
  }
}

interface Plan {
  c: Campaign;
  codes: TaskCodes;
  /** Stage-1 uids and labels in adaptation order. */
  uid: Uid[];
  label: (0 | 1)[];
  seedUids: Set<Uid>;
  negativeUids: Set<Uid>;
}

function distinct(xs: Uid[]): Uid[] {
  return [...new Set(xs)];
}

/** A campaign's stage-1 uids and labels, in adaptation order (examples as given; else distinct seeds, then distinct negatives). */
export function examplesOf(c: Campaign): { uid: Uid[]; label: (0 | 1)[] } {
  if (c.examples) return 'file' in c.examples ? readExamples(c.examples.file) : { uid: c.examples.rows.map((r) => r.uid), label: c.examples.rows.map((r) => r.label) };
  const seeds = distinct(c.seeds ? ('file' in c.seeds ? readUidList(c.seeds.file) : c.seeds.uids) : []);
  const negatives = distinct(c.negatives ? ('file' in c.negatives ? readUidList(c.negatives.file) : c.negatives.uids) : []);
  const s = new Set(seeds);
  const both = negatives.find((u) => s.has(u));
  if (both !== undefined) throw new UserError(`${c.source}: uid ${both} is both a seed and a negative`);
  return { uid: [...seeds, ...negatives], label: [...seeds.map(() => 1 as const), ...negatives.map(() => 0 as const)] };
}

/** The uids a campaign's audience leaves out (unless --include-seeds): its positives. */
export function seedUidsOf(c: Campaign): Set<Uid> {
  const { uid, label } = examplesOf(c);
  return new Set(uid.filter((_, i) => label[i] === 1));
}

function planExamples(c: Campaign, codes: TaskCodes): Plan {
  const { uid, label } = examplesOf(c);
  const seedUids = new Set(uid.filter((_, i) => label[i] === 1));
  if (seedUids.size === 0) throw new UserError(`${c.source}: no seed users (no uid with label 1)`);
  return { c, codes, uid, label, seedUids, negativeUids: new Set(uid.filter((_, i) => label[i] === 0)) };
}

function counts(uids: Set<Uid>, found: FoundUsers): UidCounts {
  const missing = [...uids].filter((u) => rowOf(found, u) === undefined);
  return { given: uids.size, found: uids.size - missing.length, missing: missing.length, missingUids: missing.slice(0, MISSING_LISTED).map(uidJson) };
}

/** A campaign's stage-1 rows: found users' fields, their labels, the campaign's task codes. */
function stage1Rows(schema: Schema, p: Plan, found: FoundUsers): PartData {
  const rows = p.uid.map((u, i) => [rowOf(found, u), p.label[i]!] as const).filter(([r]) => r !== undefined);
  const d = allocatePart(schema, rows.length);
  const us = { ...schema, task: [] };
  const nt = schema.task.length;
  rows.forEach(([r, l], i) => {
    copyRows(us, found.data, r!, { ...d, task: new Int32Array(0) }, i, 1);
    d.label[i] = l;
    d.aid[i] = p.c.key;
    d.task.set(p.codes.codes, i * nt);
  });
  return d;
}

export async function expandCampaigns(o: ExpandOptions): Promise<CampaignResult[]> {
  const cfg = o.config;
  const hp = cfg.hyper_parameters;
  const log = o.log ?? (() => {});
  const top = o.top ?? DEFAULT_TOP;
  if (!Number.isSafeInteger(top) || top < 1) throw new UserError(`--top must be a positive integer, got ${top}`);
  const shard = o.shard ?? { index: 0, count: 1 };
  if (!Number.isInteger(shard.count) || shard.count < 1 || !Number.isInteger(shard.index) || shard.index < 0 || shard.index >= shard.count) {
    throw new UserError(`--shard must be i/N with 0 <= i < N, got ${shard.index}/${shard.count}`);
  }
  const campaigns = o.campaigns.map((c) => (typeof c === 'string' ? loadCampaignFile(c) : c));
  if (campaigns.length === 0) throw new UserError('no campaign to expand');
  checkDistinctNames(campaigns);
  const source = typeof o.users === 'object' ? o.users : null;
  const paths = resolveDataPaths(cfg, typeof o.users === 'string' ? o.users : undefined, o.lookup, source !== null);
  const outDir = o.outDir ? resolve(o.outDir) : null;
  if (outDir) checkOutDir(outDir, campaigns.map((c) => c.name), [paths.pool, paths.lookup, o.truth, typeof o.model === 'string' ? o.model : null, ...campaigns.flatMap(campaignFiles)]);
  const vocab = paths.taskVocab ? readTaskVocab(paths.taskVocab) : null;
  const schema = schemaFor(cfg, paths.schema, paths.schemaPath);
  const plans = campaigns.map((c) => planExamples(c, taskCodes(c, schema, vocab, paths.taskVocab)));
  for (const p of plans) {
    for (const x of p.codes.outOfVocabulary) log(`${p.c.name}: task.${x.field} = ${x.value} is not in the dataset's vocabulary: it takes the missing code`);
    if (p.codes.missing.length) log(`${p.c.name}: task field(s) not given, missing code used: ${p.codes.missing.join(', ')}`);
  }
  const pool = source ?? (await tablePool(paths.pool, paths.schema));
  const total = pool.rows;
  const { from, to } = o.shard ? shardRange(total, hp.batch_size, shard.index, shard.count) : { from: 0, to: total };
  o.signal?.throwIfAborted();

  const ownOps = o.ops ? null : await createOps(o.threads ?? cfg.runner.threads);
  const ops = o.ops ?? ownOps!;
  const mark = ops.mark();
  try {
    let params: Params;
    let modelName: string;
    if (typeof o.model === 'string') {
      const L = layoutFor(cfg, schema);
      params = paramsFromCheckpoint(ops, L, o.model).params;
      modelName = o.model;
    } else {
      params = o.model;
      modelName = '(loaded parameters)';
    }

    // seeds, negatives and examples: one pass over the lookup table for every campaign
    const wanted = new Set<Uid>();
    for (const p of plans) for (const u of p.uid) wanted.add(u);
    const found = await findUsers(paths.lookup, schema, wanted, o.signal);
    const minSeeds = o.minSeeds ?? DEFAULT_MIN_SEEDS;
    const adaptOn = o.adapt ?? true;
    const adapter = new Adapter(ops, params, adaptOptionsFor(cfg));
    const general: Weights = { view: plainView(params.tables), dense: params.dense };
    const states = plans.map((p) => {
      const seeds = counts(p.seedUids, found);
      const negatives = counts(p.negativeUids, found);
      const warnings: string[] = [];
      if (seeds.found === 0) throw new UserError(`${p.c.source}: none of the ${seeds.given} seed uids is in ${paths.lookup} (first: ${seeds.missingUids.slice(0, 5).join(', ')})`);
      if (seeds.missing > 0) warnings.push(`${seeds.missing} of ${seeds.given} seed uids are not in ${paths.lookup}`);
      if (negatives.missing > 0) warnings.push(`${negatives.missing} of ${negatives.given} negative uids are not in ${paths.lookup}`);
      if (seeds.found < minSeeds) warnings.push(`only ${seeds.found} seeds found (fewer than ${minSeeds}): the audience rests on little evidence`);
      for (const x of p.codes.outOfVocabulary) warnings.push(`task.${x.field} = ${x.value} is out of vocabulary (missing code used)`);
      for (const w of warnings) log(`${p.c.name}: ${w}`);
      return { seeds, negatives, warnings, heap: new TopN(top), histogram: new Array<number>(HISTOGRAM_BINS).fill(0), excluded: 0, weights: general as Weights, adaptation: null as ExpandSummary['adaptation'], examples: { rows: 0, positives: 0 }, adaptSeconds: 0 };
    });

    // adaptation: whole campaigns on every engine thread at once (one campaign: on all of them)
    const tasks = plans.map((p, k) => {
      const rows = stage1Rows(schema, p, found);
      states[k]!.examples = { rows: rows.nRows, positives: rows.label.reduce((a, b) => a + b, 0) };
      return { train: rows, rows: Int32Array.from({ length: rows.nRows }, (_, i) => i), key: p.c.key };
    });
    if (adaptOn) {
      o.signal?.throwIfAborted();
      for (const p of plans) o.onProgress?.({ campaign: p.c.name, phase: 'adapting', rowsScored: 0, rowsTotal: to - from });
      adaptAll(adapter, tasks).forEach((r, k) => {
        const st = states[k]!;
        st.weights = r.model;
        const c = r.choice;
        st.adaptation = { steps: r.steps, lastLoss: r.lastLoss, epochs: c?.epochs ?? cfg.runner.infer_train_epoch, batchSize: hp.batch_size, learningRate: c?.lr ?? hp.optimizer.local_test_learning_rate, ...(c ? { choice: c } : {}) };
        st.adaptSeconds = r.seconds;
      });
    }

    // one pass over the pool: each chunk read once and scored for every campaign, whole
    // batches (of every campaign) on the engine's threads
    const t1 = performance.now();
    const scorer = new Scorer(ops, params, hp.batch_size, plans.map((p, k) => ({ ...states[k]!.weights, task: p.codes.codes })));
    const chunk = scorer.roundRows;
    const ident = Int32Array.from({ length: chunk }, (_, i) => i);
    const preds = plans.map(() => new Float32Array(chunk));
    // a pool row is looked up once among every campaign's seeds, and again only if it is one
    const anySeed = new Set<Uid>();
    if (!o.includeSeeds) for (const p of plans) for (const u of p.seedUids) anySeed.add(u);
    const seedRows: number[] = [];
    let scored = 0;
    let reported = 0;
    await pool.forEachChunk(
      from,
      to,
      chunk,
      (d, numeric, _row0, exact) => {
        const uid: ArrayLike<Uid> = exact ?? numeric;
        const n = d.nRows;
        scorer.scoreEach(d, ident.subarray(0, n), preds);
        seedRows.length = 0;
        if (anySeed.size > 0) for (let i = 0; i < n; i++) if (anySeed.has(uid[i]!)) seedRows.push(i);
        plans.forEach((p, k) => {
          const st = states[k]!;
          const pr = preds[k]!;
          const { heap, histogram } = st;
          let next = 0;
          for (let i = 0; i < n; i++) {
            if (i === seedRows[next]) {
              next++;
              if (p.seedUids.has(uid[i]!)) {
                st.excluded++;
                continue;
              }
            }
            const s = pr[i]!;
            histogram[histogramBin(s)]!++;
            heap.push(s, uid[i]!);
          }
        });
        scored += n;
        if (scored - reported >= PROGRESS_ROWS || scored === to - from) {
          reported = scored;
          for (const p of plans) o.onProgress?.({ campaign: p.c.name, phase: 'scoring', rowsScored: scored, rowsTotal: to - from });
        }
      },
      o.signal,
    );
    const scoreSeconds = (performance.now() - t1) / 1000;

    const truth = o.truth && !o.shard ? readTruth(o.truth) : null;
    if (o.truth && o.shard) log('quality against the truth is judged on whole pools only: give --truth to merge to judge the merged audience');
    // every audience checked before any is written
    const audiences = plans.map((p, k) => {
      const audience = audienceFrom(states[k]!.heap.sorted());
      const twice = repeatedUid(audience);
      if (twice !== undefined) throw new DataError(`${pool.name}: uid ${twice} is on two rows, both in campaign ${p.c.name}'s audience; a user table has one row per user`);
      return audience;
    });
    const results: CampaignResult[] = [];
    for (const [k, p] of plans.entries()) {
      const st = states[k]!;
      const t2 = performance.now();
      const audience = audiences[k]!;
      const summary: ExpandSummary = {
        format: 'metaheac-expand-summary',
        version: 1,
        campaign: p.c.name,
        source: p.c.source,
        key: p.c.key,
        model: modelName,
        users: pool.name,
        lookup: paths.lookup,
        top,
        includeSeeds: o.includeSeeds ?? false,
        shard: o.shard ? { index: shard.index, count: shard.count, from, to } : null,
        task: { codes: Object.fromEntries(schema.task.map((f, i) => [f.name, p.codes.codes[i]!])), missing: p.codes.missing, outOfVocabulary: p.codes.outOfVocabulary },
        seeds: st.seeds,
        negatives: st.negatives,
        examples: st.examples,
        adaptation: st.adaptation,
        pool: { scored: to - from, excludedSeeds: st.excluded, quantiles: histogramQuantiles(st.histogram), histogram: st.histogram },
        audience: audienceStats(audience),
        quality: truth ? evaluateAudience(truth, p.c.name, audience, o.includeSeeds ? new Set() : p.seedUids) : null,
        warnings: st.warnings,
        seconds: { adapt: st.adaptSeconds, score: scoreSeconds, write: 0 },
      };
      let dir: string | null = null;
      if (outDir) {
        o.onProgress?.({ campaign: p.c.name, phase: 'writing', rowsScored: to - from, rowsTotal: to - from });
        dir = join(outDir, p.c.name);
        writeAudienceFolder(dir, audience, summary, t2);
      }
      results.push({ name: p.c.name, dir, audience, summary });
    }
    return results;
  } finally {
    ops.release(mark);
    await ownOps?.close();
  }
}
