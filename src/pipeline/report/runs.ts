/**
 * The runs a report is made of, read back from what `train` and `infer` wrote: a model folder
 * (train.json, loss.json, <epoch>/metrics.json), an epoch folder, or a metrics JSON. Every file is
 * validated: a report never draws from a file it misread, and a bad one is named with its key.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { DataError } from '../../util/errors.js';
import { TRAIN_RECORD_FILE } from '../run-record.js';
import { expansionCampaigns, loadExpansion, type ExpansionCampaign } from './expansions.js';
import { readJson } from './read-json.js';

/** NaN and ±Infinity are written as null by JSON.stringify. */
const num = z.number().nullable();
const count = z.number().int().nonnegative();

const distribution = z.object({ min: z.number(), median: z.number(), p90: z.number(), max: z.number() });
const partReport = z.object({ name: z.string(), rows: count, tasks: count, positives: count, labelRate: num, positivesPerTask: distribution.nullable() });
const field = z.object({ name: z.string(), max_idx: count, width: count.optional() });

const context = {
  seed: z.number().int().optional(),
  configSource: z.string().nullable().optional(),
  config: z.object({ runner: z.record(z.string(), z.unknown()), hyper_parameters: z.record(z.string(), z.unknown()) }).optional(),
  versions: z.record(z.string(), z.string()).optional(),
  data: z.object({ schema: z.object({ user_single: z.array(field), user_multi: z.array(field), task: z.array(field) }), parts: z.array(partReport) }).optional(),
};

const lossCurve = z.array(z.object({ epoch: count, step: count, loss: num }));

const validationPoint = z.object({ epoch: count, step: count, auc: num, gauc: num, score: num.optional() });

const trainRecord = z.object({
  mode: z.enum(['meta', 'joint']),
  validation: z
    .object({ aids: z.array(z.number()), points: z.array(validationPoint), best: validationPoint.nullable(), stoppedAt: z.object({ epoch: count, step: count }).nullable() })
    .nullable()
    .optional(),
  epochs: count,
  stepsPerEpoch: count,
  finalLoss: num,
  seconds: z.number(),
  rowsPerSecond: num,
  parameters: count,
  ...context,
});

const taskResult = z.object({
  aid: z.number().int(),
  seedRows: count,
  seeds: count,
  rows: count,
  positives: count,
  auc: num,
  precision: num,
  recall: num,
  adaptSteps: count,
});

const splitResult = z.object({
  name: z.string(),
  tasks: count,
  rows: count,
  positives: count,
  auc: num,
  gauc: num,
  gaucSkipped: count,
  precision: num,
  recall: num,
  logloss: num,
  oracle: z.object({ auc: num, gauc: num }).nullable(),
  // absent from metrics.json written before synth had reference scorers
  reference: z.object({ category: z.object({ auc: num, gauc: num }).optional(), agnostic: z.object({ auc: num, gauc: num }).optional() }).nullable().optional(),
  seconds: z.number(),
  perTask: z.array(taskResult),
});

const metricsRecord = z.object({ epoch: z.union([count, z.literal('best')]), checkpoint: z.string(), splits: z.array(splitResult), ...context });

export type LossCurve = z.infer<typeof lossCurve>;
export type TrainRecord = z.infer<typeof trainRecord>;
export type MetricsRecord = z.infer<typeof metricsRecord>;
export type SplitRecord = z.infer<typeof splitResult>;
export type TaskRecord = z.infer<typeof taskResult>;
export type PartRecord = z.infer<typeof partReport>;

export interface ReportRun {
  /** How the report labels this run: MetaHeac / no-meta by training mode, else its folder. */
  name: string;
  /** The folder the run's files were found in. */
  dir: string;
  train: TrainRecord | null;
  loss: LossCurve | null;
  metrics: MetricsRecord | null;
  metricsPath: string | null;
  /** An `expand` output: its campaigns. */
  expansion: ExpansionCampaign[] | null;
}

const optional = <T>(path: string, schema: z.ZodType<T>): T | null => (existsSync(path) ? readJson(path, schema) : null);

/** The best validation checkpoint's metrics where evaluated, else the highest-numbered epoch folder's. */
function latestMetrics(dir: string): string | null {
  if (existsSync(join(dir, 'best', 'metrics.json'))) return join(dir, 'best', 'metrics.json');
  const epochs = readdirSync(dir)
    .filter((e) => /^\d+$/.test(e) && existsSync(join(dir, e, 'metrics.json')))
    .map(Number)
    .sort((a, b) => b - a);
  return epochs.length ? join(dir, String(epochs[0]), 'metrics.json') : null;
}

const isModelDir = (dir: string): boolean => existsSync(join(dir, TRAIN_RECORD_FILE)) || existsSync(join(dir, 'loss.json'));

/**
 * One run from a path: a model folder (its latest evaluated epoch), an epoch folder, or a
 * metrics JSON (its training found through the folder above, or the checkpoint it names).
 */
export function loadRun(path: string): ReportRun {
  if (!existsSync(path)) throw new DataError(`${path}: no such file or folder`);
  const campaigns = isModelDir(path) ? null : expansionCampaigns(path);
  if (campaigns) return expansionRun(path, loadExpansion(campaigns));
  let modelDir: string | null = null;
  let metricsPath: string | null = null;
  if (statSync(path).isFile()) {
    metricsPath = path;
  } else if (isModelDir(path)) {
    modelDir = path;
    metricsPath = latestMetrics(path);
  } else if (existsSync(join(path, 'metrics.json'))) {
    metricsPath = join(path, 'metrics.json');
  } else {
    throw new DataError(`${path}: not a run (expected a model folder with ${TRAIN_RECORD_FILE} or loss.json, an epoch folder with metrics.json, a metrics JSON file, or an expand output folder)`);
  }
  const metrics = metricsPath ? readJson(metricsPath, metricsRecord) : null;
  if (!modelDir && metricsPath && metrics) {
    // metrics.json sits in <model>/<epoch>/ by default; elsewhere (runner.metrics_path) the checkpoint names the model folder
    const candidates = [dirname(dirname(resolve(metricsPath))), dirname(dirname(resolve(metrics.checkpoint)))];
    modelDir = candidates.find((d) => isModelDir(d)) ?? null;
  }
  const train = modelDir ? optional(join(modelDir, TRAIN_RECORD_FILE), trainRecord) : null;
  const loss = modelDir ? optional(join(modelDir, 'loss.json'), lossCurve) : null;
  const mode = train?.mode ?? (metrics?.config ? (metrics.config.hyper_parameters.meta === false ? 'joint' : 'meta') : null);
  const dir = modelDir ?? dirname(metricsPath!);
  return { name: modeName(mode) ?? basename(resolve(dir)), dir, train, loss, metrics, metricsPath, expansion: null };
}

const modeName = (mode: string | null | undefined): string | null => (mode === 'meta' ? 'MetaHeac' : mode === 'joint' ? 'no-meta' : null);

/**
 * An expansion is named after the model it ranked with (MetaHeac / no-meta, from the training
 * record beside the checkpoint), "unadapted" when it scored without adaptation.
 */
function expansionRun(dir: string, campaigns: ExpansionCampaign[]): ReportRun {
  const model = resolve(campaigns[0]!.summary.model);
  const modelDir = [dirname(dirname(model)), dirname(model)].find((d) => existsSync(join(d, TRAIN_RECORD_FILE)));
  const train = modelDir ? readJson(join(modelDir, TRAIN_RECORD_FILE), trainRecord) : null;
  const base = modeName(train?.mode) ?? basename(resolve(dir));
  const unadapted = campaigns.every((c) => c.summary.adaptation === null);
  return { name: unadapted ? `${base} unadapted` : base, dir, train: null, loss: null, metrics: null, metricsPath: null, expansion: campaigns };
}

/** Several runs; two with the same label are told apart by their folders. */
export function loadRuns(paths: string[]): ReportRun[] {
  const runs = paths.map(loadRun);
  // a training run and an expansion by the same model may share a name: they are drawn in different sections
  const key = (r: ReportRun): string => `${r.expansion ? 'x' : 't'}:${r.name}`;
  const uses = new Map<string, number>();
  for (const r of runs) uses.set(key(r), (uses.get(key(r)) ?? 0) + 1);
  for (const r of runs) if (uses.get(key(r))! > 1) r.name = `${r.name} (${basename(resolve(r.dir))})`;
  // still equal (same folder name twice): number them
  runs.forEach((r, i) => {
    if (runs.findIndex((o) => key(o) === key(r)) !== i) r.name = `${r.name} #${i + 1}`;
  });
  return runs;
}
