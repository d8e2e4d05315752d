/**
 * `infer`: PaddleRec's `infer_meta.py`. For every task of a test split, adapt the general
 * model on the task's stage-1 rows and score its stage-2 candidates (meta/adapt.ts), then
 * report the spec's metrics (section 5) per task and for the split.
 */
import { Worker } from 'node:worker_threads';
import type { Part, TaskRows } from '../data/part.js';
import type { ModelDims } from '../model/layout.js';
import type { Schema } from '../data/schema.js';
import { REFERENCE_EXTRA, REFERENCES, type ReferenceName } from '../data/reference.js';
import { DataError } from '../util/errors.js';
import { yieldToSignals } from '../util/interrupt.js';
import type { Ops } from '../model/ops.js';
import type { Params } from '../model/params.js';
import { Adapter, type AdaptChoice, type AdaptOptions } from '../meta/adapt.js';
import { summarizeChoice, type ChoiceSummary } from '../meta/adapt-select.js';
import { noProgress, type ProgressFactory } from '../util/progress.js';
import type { InferJob, InferTaskDone } from './infer-worker.js';
import { auc, precisionRecallAtK, splitMetrics, type Scores, type SplitMetrics } from './metrics.js';

export const TOP_FRACTION = 0.05;

export interface TaskResult {
  aid: number;
  /** Stage-1 rows adapted on, and their positives (the seeds). */
  seedRows: number;
  seeds: number;
  /** Stage-2 candidates scored, and their positives. */
  rows: number;
  positives: number;
  auc: number;
  precision: number;
  recall: number;
  adaptSteps: number;
  /** The setting cross-validation chose for this campaign (adaptation.select: cv), its CV AUC, or why it fell back. */
  adaptation?: ChoiceSummary;
}

export interface SplitResult extends Omit<SplitMetrics, 'perTask'> {
  name: string;
  /** The same metrics of the true probabilities, where the data carries p_true. */
  oracle: { auc: number; gauc: number } | null;
  /** The same of synth's reference scorers (p_category, p_agnostic), those the data carries; null for none. */
  reference: Partial<Record<ReferenceName, { auc: number; gauc: number }>> | null;
  seconds: number;
  perTask: TaskResult[];
}

/** How to adapt: in this thread with `params()`, or over `threads` workers that load `checkpoint` themselves. */
export interface AdaptRun {
  ops: Ops;
  /** The general model; called only when adapting in this thread. */
  params: () => Params;
  checkpoint: string;
  /** The model's schema: the data's, or larger tables from the config's max_idxs. */
  schema: Schema;
  dims: ModelDims;
  opts: AdaptOptions;
  threads: number;
  progress?: ProgressFactory;
}

function taskResult(stage1: Part, stage2: Part, scores: Float64Array, aid: number, seeds: Int32Array, rows: Int32Array, steps: number, choice: AdaptChoice | null): TaskResult {
  const pr = precisionRecallAtK(scores, stage2.label, TOP_FRACTION, rows);
  const adaptation = choice ? summarizeChoice(choice) : undefined;
  return {
    aid,
    seedRows: seeds.length,
    seeds: seeds.reduce((s, r) => s + stage1.label[r]!, 0),
    rows: rows.length,
    positives: pr.positives,
    auc: auc(scores, stage2.label, rows),
    precision: pr.precision,
    recall: pr.recall,
    adaptSteps: steps,
    ...(adaptation ? { adaptation } : {}),
  };
}

const EMPTY = new Int32Array(0);

function seedRows(stage1: Part): (aid: number) => Int32Array {
  const m = new Map<number, TaskRows>(stage1.tasks.map((t) => [t.aid, t]));
  return (aid) => m.get(aid)?.rows ?? EMPTY;
}

/** Adapt and score every task of stage 2 in this thread; returns the scores in stage-2 row order. */
async function adaptSerial(run: AdaptRun, name: string, stage1: Part, stage2: Part, onTask?: (t: TaskResult) => void): Promise<{ scores: Float64Array; perTask: TaskResult[] }> {
  const adapter = new Adapter(run.ops, run.params(), run.opts);
  const seedsOf = seedRows(stage1);
  const scores = new Float64Array(stage2.nRows);
  const perTask: TaskResult[] = [];
  const bar = (run.progress ?? noProgress)(`adapt ${name}`, stage2.tasks.length);
  for (const task of stage2.tasks) {
    const seeds = seedsOf(task.aid);
    const pred = new Float64Array(task.rows.length);
    const { steps, choice } = adapter.adaptAndPredict(stage1, seeds, stage2, task.rows, task.aid, pred);
    task.rows.forEach((r, i) => (scores[r] = pred[i]!));
    const res = taskResult(stage1, stage2, scores, task.aid, seeds, task.rows, steps, choice);
    perTask.push(res);
    onTask?.(res);
    bar.increment();
    // lets SIGINT / SIGTERM be handled between tasks
    await yieldToSignals();
  }
  bar.stop();
  return { scores, perTask };
}

/**
 * The same over worker threads: tasks are dealt largest first to the least-loaded worker.
 * Each task's result depends only on θ, its rows and its aid, so this equals adaptSerial.
 */
async function adaptParallel(run: AdaptRun, name: string, stage1: Part, stage2: Part, onTask?: (t: TaskResult) => void): Promise<{ scores: Float64Array; perTask: TaskResult[] }> {
  const seedsOf = seedRows(stage1);
  const cost = stage2.tasks.map((t) => seedsOf(t.aid).length * run.opts.epochs * 3 + t.rows.length);
  const order = cost.map((_, i) => i).sort((a, b) => cost[b]! - cost[a]! || a - b);
  const nw = Math.min(run.threads, stage2.tasks.length);
  const load = new Array<number>(nw).fill(0);
  const assigned: number[][] = Array.from({ length: nw }, () => []);
  for (const i of order) {
    const w = load.indexOf(Math.min(...load));
    assigned[w]!.push(i);
    load[w]! += cost[i]!;
  }
  const scores = new Float64Array(stage2.nRows);
  const steps = new Int32Array(stage2.tasks.length);
  const choices: (AdaptChoice | null)[] = stage2.tasks.map(() => null);
  const bar = (run.progress ?? noProgress)(`adapt ${name} (${nw} workers)`, stage2.tasks.length);
  await Promise.all(
    assigned.map(
      (tasks) =>
        new Promise<void>((resolve, reject) => {
          const job: InferJob = { checkpoint: run.checkpoint, schema: run.schema, dims: run.dims, stage1: stage1.path, stage2: stage2.path, opts: run.opts, tasks };
          const w = new Worker(new URL('./infer-worker.js', import.meta.url), { workerData: job });
          w.on('message', (m: InferTaskDone) => {
            stage2.tasks[m.task]!.rows.forEach((r, i) => (scores[r] = m.pred[i]!));
            steps[m.task] = m.steps;
            choices[m.task] = m.choice;
            bar.increment();
          });
          // an error crosses the thread as a plain Error: keep a user's error a one-line one
          w.on('error', (e) => reject(/^(UserError|DataError|ConfigError)$/.test(e.name) ? new DataError(e.message) : e));
          w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`infer worker exited with code ${code}`))));
        }),
    ),
  );
  bar.stop();
  const perTask = stage2.tasks.map((t, i) => taskResult(stage1, stage2, scores, t.aid, seedsOf(t.aid), t.rows, steps[i]!, choices[i]!));
  if (onTask) perTask.forEach(onTask);
  return { scores, perTask };
}

export async function adaptSplit(run: AdaptRun, name: string, stage1: Part, stage2: Part, onTask?: (t: TaskResult) => void): Promise<{ scores: Float64Array; perTask: TaskResult[] }> {
  return run.threads > 1 && stage2.tasks.length > 1 ? adaptParallel(run, name, stage1, stage2, onTask) : adaptSerial(run, name, stage1, stage2, onTask);
}

export async function evaluateSplit(run: AdaptRun, name: string, stage1: Part, stage2: Part, onTask?: (t: TaskResult) => void): Promise<SplitResult> {
  const t0 = performance.now();
  const { scores, perTask } = await adaptSplit(run, name, stage1, stage2, onTask);
  // a diverged adaptation scores NaN: refuse rather than report metrics of NaN scores
  for (const t of stage2.tasks) {
    const r = t.rows.find((row) => !Number.isFinite(scores[row]!));
    if (r !== undefined) {
      throw new DataError(
        `split ${name}, task aid ${t.aid}: the adapted model scores row ${r} of ${stage2.path} as ${scores[r]} (adaptation diverged); ` +
          'lower hyper_parameters.optimizer.local_test_learning_rate',
      );
    }
  }
  const m = splitMetrics(scores, stage2.label, stage2.tasks, TOP_FRACTION);
  const aucs = (p: Scores) => {
    const x = splitMetrics(p, stage2.label, stage2.tasks, TOP_FRACTION);
    return { auc: x.auc, gauc: x.gauc };
  };
  const pTrue = stage2.extra.p_true;
  const reference: NonNullable<SplitResult['reference']> = {};
  for (const k of REFERENCES) {
    const p = stage2.extra[REFERENCE_EXTRA[k]];
    if (p) reference[k] = aucs(p);
  }
  return { ...m, name, oracle: pTrue ? aucs(pTrue) : null, reference: Object.keys(reference).length ? reference : null, seconds: (performance.now() - t0) / 1000, perTask };
}
