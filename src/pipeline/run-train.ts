/**
 * `train`: PaddleRec's `trainer.py -m config.yaml`. Meta-trains (or, with
 * hyper_parameters.meta: false, trains the joint baseline) on the training stage-1 rows,
 * saving a checkpoint per epoch under runner.model_save_path/<epoch>/ and the loss curve
 * beside them.
 */
import { existsSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { LoadedConfig } from '../config/config.js';
import { findTrainPart, loadPart, partSchema } from '../data/dataset.js';
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
import { loadCheckpoint, saveCheckpoint } from '../model/checkpoint.js';
import { parameterCount, type Layout } from '../model/layout.js';
import type { Part } from '../data/part.js';
import type { Ops } from '../model/ops.js';
import type { Params } from '../model/params.js';
import { adaptOptionsFor, dropoutRates, schemaFor, freshParams, layoutFor, paramsFromCheckpoint } from '../meta/model-setup.js';
import { splitValidation, Validator } from '../meta/validation.js';
import type { TaskRows } from '../data/part.js';
import { JointTrainer, MetaTrainer, type MetaOptions } from '../meta/train.js';
import { trainRegularization } from '../meta/options.js';
import { runContext, TRAIN_RECORD_FILE } from './run-record.js';

export const CHECKPOINT_FILE = 'model.safetensors';

export interface LossPoint {
  epoch: number;
  step: number;
  loss: number;
}

export interface ValidationPoint {
  epoch: number;
  /** Steps done in the run (over all epochs). */
  step: number;
  auc: number;
  gauc: number;
  /** What picks the best: the mean GAUC of the last runner.validation.smoothing evaluations. */
  score: number;
}

export interface ValidationSummary {
  /** The held-out training campaigns. */
  aids: number[];
  points: ValidationPoint[];
  /** The best evaluation (by GAUC) and its checkpoint. */
  best: (ValidationPoint & { checkpoint: string }) | null;
  /** With runner.validation.refit: the steps of the retraining on every campaign whose weights best/ holds. */
  refit: { steps: number; rows: number } | null;
  /** Where early stopping ended the run, or null. */
  stoppedAt: { epoch: number; step: number } | null;
  curve: string;
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
  /** With runner.validation.share > 0. */
  validation: ValidationSummary | null;
}

export function checkpointPath(dir: string, epoch: number): string {
  return join(dir, String(epoch), CHECKPOINT_FILE);
}

/** The checkpoint of the best validation evaluation, beside the epoch folders. */
export const BEST_DIR = 'best';
export function bestCheckpointPath(dir: string): string {
  return join(dir, BEST_DIR, CHECKPOINT_FILE);
}

/**
 * The checkpoint `infer`, `expand` and `serve` read unless told otherwise: the best
 * validation checkpoint where training kept one (and runner.use_best), else the last
 * epoch's of the infer range.
 */
export function defaultCheckpoint(cfg: LoadedConfig, dir = cfg.runner.infer_load_path ?? cfg.runner.model_save_path): string {
  const best = bestCheckpointPath(dir);
  return cfg.runner.use_best && existsSync(best) ? best : checkpointPath(dir, cfg.runner.infer_end_epoch - 1);
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

/**
 * Train as the config says. `onParams` sees the weights the run ends with (the best
 * validation evaluation's where validation is on) before the engine frees them.
 */
export async function runTrain(cfg: LoadedConfig, ops: Ops, report: Reporter = silent, onParams?: (params: Params) => void): Promise<TrainSummary> {
  const { log } = report;
  const r = cfg.runner;
  const hp = cfg.hyper_parameters;
  if (!r.train_data_dir) throw new ConfigError(`${cfg.source}: runner.train_data_dir is not set`);
  checkModelFolder(cfg);
  const path = findTrainPart(await resolveDataPath(r.train_data_dir, cfg, report));
  // the model is sized from schema.json, so a model too large is refused before the data is read
  const L = layoutFor(cfg, schemaFor(cfg, partSchema(path), path));
  log(`loading ${path}`);
  const part = await loadPart(path, report.progress);
  checkTrainable(cfg, part);
  const trainAids = part.tasks.map((t) => t.aid).sort((a, b) => a - b);
  checkLeaks(testLeaks(cfg, path, trainAids), r.allow_test_overlap, 'set runner.allow_test_overlap: true (or --allow-overlap)', log);
  // how campaigns are adapted to later does not change what training writes
  const { adaptation: _adaptation, ...trained } = hp;
  const identity: RunIdentity = {
    mode: hp.meta ? 'meta' : 'joint',
    seed: r.seed,
    hyper_parameters: trained,
    validation: r.validation,
    model_init_sha256: r.model_init_path ? fileSha256(r.model_init_path) : null,
    train_data: { rows: part.nRows, sha256: partSha256(path) },
  };
  const run = openRunFolder(r.model_save_path, identity, path, trainAids, CHECKPOINT_FILE);
  ensureDir(r.model_save_path);
  // the engine's arena is a stack: everything below is freed when training ends
  const mark = ops.mark();
  try {
    return await trainLoop(cfg, ops, L, part, run, report, onParams);
  } finally {
    ops.release(mark);
  }
}

/** The rows of the campaigns trained on, ascending (all rows when none is held out). */
function trainingRows(nRows: number, tasks: TaskRows[]): Int32Array {
  let n = 0;
  for (const t of tasks) n += t.rows.length;
  if (n === nRows) return Int32Array.from({ length: nRows }, (_, i) => i);
  const out = new Int32Array(n);
  let at = 0;
  for (const t of tasks) {
    out.set(t.rows, at);
    at += t.rows.length;
  }
  return out.sort();
}

/** A run that stopped being numbers: nothing is written for the epoch, earlier checkpoints stay. */
function diverged(epoch: number, step: number, steps: number, what: string, last: string | null): DataError {
  const kept = last ? `the last good checkpoint ${last} is kept` : 'no checkpoint was written';
  return new DataError(
    `training diverged at epoch ${epoch} step ${step}/${steps}: ${what}; ${kept}; ` +
      'lower hyper_parameters.local_lr or hyper_parameters.optimizer.global_learning_rate',
  );
}

async function trainLoop(cfg: LoadedConfig, ops: Ops, L: Layout, part: Part, run: RunManifest, { log, progress }: Reporter, onParams?: (params: Params) => void): Promise<TrainSummary> {
  const r = cfg.runner;
  const hp = cfg.hyper_parameters;
  const params = r.model_init_path ? paramsFromCheckpoint(ops, L, r.model_init_path).params : freshParams(ops, L, r.seed);
  const dropout = dropoutRates(cfg, false);
  const opts: MetaOptions = {
    batchSize: hp.batch_size,
    taskCount: hp.task_count,
    localLr: hp.local_lr,
    globalLr: hp.optimizer.global_learning_rate,
    sampling: hp.task_sampling,
    withReplacement: hp.task_replacement,
    seed: r.seed,
    order: hp.meta_order,
    ...(dropout && { dropout }),
    regularization: trainRegularization(cfg),
  };
  const v = r.validation;
  const split = splitValidation(part.tasks, part.label, v.share, v.holdout, r.seed, hp.meta && !hp.task_replacement ? hp.task_count : 1);
  if (v.share > 0 && split.valid.length === 0) log(`validation off: ${part.tasks.length} training task(s) leave none to hold out beside task_count ${hp.task_count}`);
  const trainRows = trainingRows(part.nRows, split.train);
  const trainer = hp.meta ? new MetaTrainer(ops, params, opts, part, split.train) : new JointTrainer(ops, params, opts, part, trainRows);
  const steps = trainer.stepsPerEpoch(trainRows.length);
  const mode = hp.meta ? 'meta' : 'joint';
  log(`${mode} training${hp.meta ? ` (${hp.meta_order} order)` : ''}: ${trainRows.length} rows, ${split.train.length} tasks, ${parameterCount(L).toLocaleString('en-US')} parameters, ${r.epochs} epoch(s) x ${steps} steps`);
  const validator = split.valid.length ? new Validator(ops, params, { ...adaptOptionsFor(cfg), select: undefined }, part, split.valid) : null;
  const best = bestCheckpointPath(r.model_save_path);
  // a best checkpoint of an earlier run in this folder does not describe this one
  rmSync(dirname(best), { recursive: true, force: true });
  const validation: ValidationSummary | null = validator
    ? { aids: split.valid.map((t) => t.aid), points: [], best: null, refit: null, stoppedAt: null, curve: join(r.model_save_path, 'validation.csv') }
    : null;
  if (validator) log(`validation: ${split.valid.length} training campaign(s) held out (${split.valid.map((t) => t.aid).join(', ')}), evaluated every ${v.interval} steps`);
  let sinceBest = 0;
  /** Evaluate, keep the best checkpoint; true when early stopping says stop. */
  const validate = (epoch: number, step: number): boolean => {
    if (!validator || !validation) return false;
    const score = validator.evaluate();
    const recent = [...validation.points.slice(Math.max(0, validation.points.length - (v.smoothing - 1))).map((p) => p.gauc), score.gauc].filter((g) => !Number.isNaN(g));
    const point: ValidationPoint = { epoch, step, auc: score.auc, gauc: score.gauc, score: recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : NaN };
    validation.points.push(point);
    writeFileAtomic(validation.curve, ['epoch,step,auc,gauc,score\n', ...validation.points.map((p) => `${p.epoch},${p.step},${p.auc},${p.gauc},${p.score}\n`)]);
    const better = !Number.isNaN(point.score) && (!validation.best || point.score > validation.best.score);
    log(`validation at epoch ${epoch} step ${step}: AUC ${score.auc.toFixed(4)}, GAUC ${score.gauc.toFixed(4)}${v.smoothing > 1 ? `, mean GAUC of the last ${recent.length} ${point.score.toFixed(4)}` : ''} (${score.tasks} campaigns)${better ? ', best so far' : ''}`);
    if (better) {
      saveCheckpoint(best, params, { epoch, step: trainer.adam.step, mode, seed: r.seed, hyper_parameters: hp, validation: { step, auc: score.auc, gauc: score.gauc, score: point.score } });
      rmSync(join(dirname(best), 'metrics.json'), { force: true });
      validation.best = { ...point, checkpoint: best };
      sinceBest = 0;
    } else if (validation.best) sinceBest++;
    return v.patience > 0 && sinceBest >= v.patience;
  };
  const curve: LossPoint[] = [];
  const checkpoints: string[] = [];
  const t0 = performance.now();
  let rowsSeen = 0;
  let last = NaN;
  let lastGood: string | null = null;
  const lossCurve = join(r.model_save_path, 'loss.csv');
  let done = 0;
  let stop = false;
  for (let epoch = 0; epoch < r.epochs && !stop; epoch++) {
    let cutShort = false;
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
      done++;
      if (done % v.interval === 0 && s + 1 < steps && validate(epoch, done)) {
        cutShort = true;
        break;
      }
    }
    bar.stop();
    // an epoch cut short by early stopping has no checkpoint of its own: best/ is the run's model
    if (!cutShort) {
      const bad = nonFiniteParams(params);
      if (bad) throw diverged(epoch, steps, steps, describeNonFinite(bad), lastGood);
      stop = validate(epoch, done);
      const ck = checkpointPath(r.model_save_path, epoch);
      saveCheckpoint(ck, params, { epoch, step: trainer.adam.step, mode, seed: r.seed, hyper_parameters: hp });
      // metrics of the checkpoint this one replaces no longer describe it
      rmSync(join(dirname(ck), 'metrics.json'), { force: true });
      checkpoints.push(ck);
      lastGood = ck;
      run.epochs_done = [...new Set([...run.epochs_done, epoch])].sort((a, b) => a - b);
      writeRunManifest(r.model_save_path, run);
      log(`saved ${ck}`);
    }
    // after every epoch, so an interrupted run keeps the curve and record of the epochs it finished
    writeFileAtomic(lossCurve, ['epoch,step,loss\n', ...curve.map((c) => `${c.epoch},${c.step},${c.loss}\n`)]);
    writeFileAtomic(join(r.model_save_path, 'loss.json'), JSON.stringify(curve));
    if ((cutShort || stop) && validation?.best) {
      stop = true;
      validation.stoppedAt = { epoch, step: done };
      log(`early stop at epoch ${epoch} step ${done}: ${v.patience} evaluation(s) without a better validation GAUC; the best is step ${validation.best.step}`);
    }
  }
  // the run ends with the best evaluation's weights, bit for bit (a library caller goes on with `params`)
  if (validation?.best && v.refit) {
    // as many epochs as the best point had seen, in steps over all the training rows
    const n = Math.max(1, Math.round((validation.best.step * part.nRows) / trainRows.length));
    log(`refit: training again from the start on all ${part.tasks.length} campaigns for ${n} steps (the best validation point, step ${validation.best.step} of ${trainRows.length} rows, scaled to ${part.nRows})`);
    const fresh = r.model_init_path ? paramsFromCheckpoint(ops, L, r.model_init_path).params : freshParams(ops, L, r.seed);
    const all = Int32Array.from({ length: part.nRows }, (_, i) => i);
    const again = hp.meta ? new MetaTrainer(ops, fresh, opts, part, part.tasks) : new JointTrainer(ops, fresh, opts, part, all);
    const bar = progress('refit', n, ' | loss {loss}');
    for (let s = 0; s < n; s++) {
      const res = again.step();
      if (!Number.isFinite(res.loss) || nonFiniteDense(fresh)) {
        bar.stop();
        throw diverged(Math.floor(s / steps), s + 1, n, `refit: the loss is ${res.loss}`, lastGood);
      }
      bar.update(s + 1, { loss: res.loss.toFixed(4) });
      await yieldToSignals();
    }
    bar.stop();
    saveCheckpoint(best, fresh, { epoch: validation.best.epoch, step: again.adam.step, mode, seed: r.seed, hyper_parameters: hp, validation: { step: validation.best.step, auc: validation.best.auc, gauc: validation.best.gauc, score: validation.best.score, refit: n } });
    validation.refit = { steps: n, rows: part.nRows };
    params.dense.set(fresh.dense);
    params.tables.forEach((t, e) => t.set(fresh.tables[e]!));
  } else if (validation?.best) loadCheckpoint(best, params);
  onParams?.(params);
  const seconds = (performance.now() - t0) / 1000;
  const summary: TrainSummary = { mode, checkpoints, epochs: r.epochs, stepsPerEpoch: steps, finalLoss: last, seconds, rowsPerSecond: rowsSeen / seconds, parameters: parameterCount(L), lossCurve, validation };
  writeFileAtomic(join(r.model_save_path, TRAIN_RECORD_FILE), `${JSON.stringify({ ...summary, ...runContext(cfg, [{ name: basename(part.path, '.arrow'), part }]) }, null, 2)}\n`);
  return summary;
}
