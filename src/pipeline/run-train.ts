/**
 * `train`: PaddleRec's `trainer.py -m config.yaml`. Meta-trains (or, with
 * hyper_parameters.meta: false, trains the joint baseline) on the training stage-1 rows,
 * saving a checkpoint per epoch under runner.model_save_path/<epoch>/ and the loss curve
 * beside them.
 */
import { existsSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { LoadedConfig } from '../config/config.js';
import { findTrainPart, loadPart } from '../data/dataset.js';
import { checkLeaks, sharedAids, type Leak } from '../data/leakage.js';
import { fileSha256, manifestAids, partSha256, readManifest } from '../data/manifest.js';
import { resolveDataPath } from '../data/resolve.js';
import { ConfigError, DataError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { ensureDir, isInside } from '../util/files.js';
import { yieldToSignals } from '../util/interrupt.js';
import { describeNonFinite, nonFiniteDense, nonFiniteParams } from '../model/finite.js';
import { openRunFolder, writeRunManifest, type RunIdentity, type RunManifest } from './run-manifest.js';
import { silent, type Reporter } from '../util/progress.js';
import { saveCheckpoint } from '../model/checkpoint.js';
import { parameterCount, type Layout } from '../model/layout.js';
import type { Part } from '../data/part.js';
import type { Ops } from '../model/ops.js';
import { schemaFor, freshParams, layoutFor, paramsFromCheckpoint } from '../meta/model-setup.js';
import { JointTrainer, MetaTrainer, type MetaOptions } from '../meta/train.js';
import { trainRegularization } from '../meta/options.js';
import { runContext, TRAIN_RECORD_FILE } from './run-record.js';

export const CHECKPOINT_FILE = 'model.safetensors';

export interface LossPoint {
  epoch: number;
  step: number;
  loss: number;
}

export interface TrainSummary {
  mode: 'meta' | 'joint';
  checkpoints: string[];
  epochs: number;
  stepsPerEpoch: number;
  finalLoss: number;
  seconds: number;
  rowsPerSecond: number;
  parameters: number;
  lossCurve: string;
}

export function checkpointPath(dir: string, epoch: number): string {
  return join(dir, String(epoch), CHECKPOINT_FILE);
}

/** The model folder must not be (or lie inside) a data folder: a dataset is replaced as a whole. */
function checkModelFolder(cfg: LoadedConfig): void {
  const r = cfg.runner;
  const data = [r.train_data_dir, ...(Array.isArray(r.test_data_dir) ? r.test_data_dir : r.test_data_dir ? [r.test_data_dir] : [])];
  for (const d of data) {
    if (d && isInside(r.model_save_path, d)) throw new ConfigError(`${cfg.source}: runner.model_save_path (${r.model_save_path}) is inside the data folder ${d}; keep checkpoints apart from data`);
  }
  if (existsSync(r.model_save_path) && !statSync(r.model_save_path).isDirectory()) {
    throw new ConfigError(`${r.model_save_path}: runner.model_save_path is a file; it must be a folder`);
  }
}

/** Training needs rows, tasks, and (drawing without replacement) at least task_count tasks. */
function checkTrainable(cfg: LoadedConfig, part: Part): void {
  const hp = cfg.hyper_parameters;
  if (part.nRows === 0) throw new DataError(`${part.path}: no rows to train on (an empty training part would give epochs of 0 steps)`);
  if (hp.meta && !hp.task_replacement && hp.task_count > part.tasks.length) {
    throw new ConfigError(
      `${cfg.source}: hyper_parameters.task_count is ${hp.task_count}, but ${part.path} holds ${part.tasks.length} training task(s); ` +
        'lower task_count, or set hyper_parameters.task_replacement: true to draw tasks with replacement',
    );
  }
}

/** Test campaigns that the training campaigns include, from the test folders' manifests (infer checks again from run.json). */
function testLeaks(cfg: LoadedConfig, trainPath: string, trainAids: number[]): Leak[] {
  const t = cfg.runner.test_data_dir;
  const leaks: Leak[] = [];
  for (const d of Array.isArray(t) ? t : t ? [t] : []) {
    const m = existsSync(d) && statSync(d).isDirectory() ? readManifest(d) : null;
    const entries = m ? Object.entries(m.parts).map(([name, e]) => [join(d, name), e.aids] as const) : [[d, manifestAids(d)] as const];
    for (const [part, aids] of entries) {
      if (!aids || part === trainPath || basename(part) === basename(trainPath)) continue;
      const shared = sharedAids(trainAids, aids);
      if (shared.length) leaks.push({ testPart: part, trainFrom: trainPath, aids: shared });
    }
  }
  return leaks;
}

export async function runTrain(cfg: LoadedConfig, ops: Ops, report: Reporter = silent): Promise<TrainSummary> {
  const { log } = report;
  const r = cfg.runner;
  const hp = cfg.hyper_parameters;
  if (!r.train_data_dir) throw new ConfigError(`${cfg.source}: runner.train_data_dir is not set`);
  checkModelFolder(cfg);
  const path = findTrainPart(await resolveDataPath(r.train_data_dir, cfg, report));
  log(`loading ${path}`);
  const part = await loadPart(path, report.progress);
  checkTrainable(cfg, part);
  const L = layoutFor(cfg, schemaFor(cfg, part.schema, path));
  const trainAids = part.tasks.map((t) => t.aid).sort((a, b) => a - b);
  checkLeaks(testLeaks(cfg, path, trainAids), r.allow_test_overlap, 'set runner.allow_test_overlap: true (or --allow-overlap)', log);
  const identity: RunIdentity = {
    mode: hp.meta ? 'meta' : 'joint',
    seed: r.seed,
    hyper_parameters: hp,
    model_init_sha256: r.model_init_path ? fileSha256(r.model_init_path) : null,
    train_data: { rows: part.nRows, sha256: partSha256(path) },
  };
  const run = openRunFolder(r.model_save_path, identity, path, trainAids, CHECKPOINT_FILE);
  ensureDir(r.model_save_path);
  // the engine's arena is a stack: everything below is freed when training ends
  const mark = ops.mark();
  try {
    return await trainLoop(cfg, ops, L, part, run, report);
  } finally {
    ops.release(mark);
  }
}

/** A run that stopped being numbers: nothing is written for the epoch, earlier checkpoints stay. */
function diverged(epoch: number, step: number, steps: number, what: string, last: string | null): DataError {
  const kept = last ? `the last good checkpoint ${last} is kept` : 'no checkpoint was written';
  return new DataError(
    `training diverged at epoch ${epoch} step ${step}/${steps}: ${what}; ${kept}; ` +
      'lower hyper_parameters.local_lr or hyper_parameters.optimizer.global_learning_rate',
  );
}

async function trainLoop(cfg: LoadedConfig, ops: Ops, L: Layout, part: Part, run: RunManifest, { log, progress }: Reporter): Promise<TrainSummary> {
  const r = cfg.runner;
  const hp = cfg.hyper_parameters;
  const params = r.model_init_path ? paramsFromCheckpoint(ops, L, r.model_init_path).params : freshParams(ops, L, r.seed);
  const opts: MetaOptions = {
    batchSize: hp.batch_size,
    taskCount: hp.task_count,
    localLr: hp.local_lr,
    globalLr: hp.optimizer.global_learning_rate,
    sampling: hp.task_sampling,
    withReplacement: hp.task_replacement,
    seed: r.seed,
    order: hp.meta_order,
    regularization: trainRegularization(cfg),
  };
  const allRows = Int32Array.from({ length: part.nRows }, (_, i) => i);
  const trainer = hp.meta ? new MetaTrainer(ops, params, opts, part, part.tasks) : new JointTrainer(ops, params, opts, part, allRows);
  const steps = trainer.stepsPerEpoch(part);
  const mode = hp.meta ? 'meta' : 'joint';
  log(`${mode} training${hp.meta ? ` (${hp.meta_order} order)` : ''}: ${part.nRows} rows, ${part.tasks.length} tasks, ${parameterCount(L).toLocaleString('en-US')} parameters, ${r.epochs} epoch(s) x ${steps} steps`);
  const curve: LossPoint[] = [];
  const checkpoints: string[] = [];
  const t0 = performance.now();
  let rowsSeen = 0;
  let last = NaN;
  let lastGood: string | null = null;
  const lossCurve = join(r.model_save_path, 'loss.csv');
  for (let epoch = 0; epoch < r.epochs; epoch++) {
    const bar = progress(`epoch ${epoch}`, steps, ' | loss {loss} | {tps} tasks/s | {rps} rows/s');
    let running = 0;
    let runN = 0;
    const te = performance.now();
    let rowsEpoch = 0;
    let tasksEpoch = 0;
    for (let s = 0; s < steps; s++) {
      const res = trainer.step();
      if (!Number.isFinite(res.loss)) {
        bar.stop();
        const bad = nonFiniteParams(params);
        throw diverged(epoch, s + 1, steps, `the loss is ${res.loss}${bad ? `; ${describeNonFinite(bad)}` : ' (every parameter is still finite: the batch overflowed)'}`, lastGood);
      }
      const badDense = nonFiniteDense(params);
      if (badDense) {
        bar.stop();
        throw diverged(epoch, s + 1, steps, `after the update, ${describeNonFinite(badDense)}`, lastGood);
      }
      // lets SIGINT / SIGTERM be handled between steps
      await yieldToSignals();
      rowsSeen += res.rows;
      rowsEpoch += res.rows;
      tasksEpoch += res.tasks;
      running += res.loss;
      runN++;
      last = res.loss;
      curve.push({ epoch, step: s, loss: res.loss });
      const secs = (performance.now() - te) / 1000;
      bar.update(s + 1, { loss: (running / runN).toFixed(4), tps: (tasksEpoch / secs).toFixed(1), rps: Math.round(rowsEpoch / secs) });
      if ((s + 1) % r.print_interval === 0 || s + 1 === steps) {
        bar.stop();
        log(`epoch ${epoch} step ${s + 1}/${steps} loss ${(running / runN).toFixed(5)} ${(rowsEpoch / secs).toFixed(0)} rows/s`);
        running = 0;
        runN = 0;
      }
    }
    bar.stop();
    const bad = nonFiniteParams(params);
    if (bad) throw diverged(epoch, steps, steps, describeNonFinite(bad), lastGood);
    const ck = checkpointPath(r.model_save_path, epoch);
    saveCheckpoint(ck, params, { epoch, step: trainer.adam.step, mode, seed: r.seed, hyper_parameters: hp });
    // metrics of the checkpoint this one replaces no longer describe it
    rmSync(join(dirname(ck), 'metrics.json'), { force: true });
    checkpoints.push(ck);
    lastGood = ck;
    // after every epoch, so an interrupted run keeps the curve and record of the epochs it finished
    writeFileAtomic(lossCurve, ['epoch,step,loss\n', ...curve.map((c) => `${c.epoch},${c.step},${c.loss}\n`)]);
    writeFileAtomic(join(r.model_save_path, 'loss.json'), JSON.stringify(curve));
    run.epochs_done = [...new Set([...run.epochs_done, epoch])].sort((a, b) => a - b);
    writeRunManifest(r.model_save_path, run);
    log(`saved ${ck}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  const summary: TrainSummary = { mode, checkpoints, epochs: r.epochs, stepsPerEpoch: steps, finalLoss: last, seconds, rowsPerSecond: rowsSeen / seconds, parameters: parameterCount(L), lossCurve };
  writeFileAtomic(join(r.model_save_path, TRAIN_RECORD_FILE), `${JSON.stringify({ ...summary, ...runContext(cfg, [{ name: basename(part.path, '.arrow'), part }]) }, null, 2)}\n`);
  return summary;
}
