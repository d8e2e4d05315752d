/**
 * `train`: PaddleRec's `trainer.py -m config.yaml`. Meta-trains (or, with
 * hyper_parameters.meta: false, trains the joint baseline) on the training stage-1 rows,
 * saving a checkpoint per epoch under runner.model_save_path/<epoch>/ and the loss curve
 * beside them.
 */
import { basename, join } from 'node:path';
import type { LoadedConfig } from '../config/config.js';
import { findTrainPart, loadPart } from '../data/dataset.js';
import { resolveDataPath } from '../data/resolve.js';
import { ConfigError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { silent, type Reporter } from '../util/progress.js';
import { saveCheckpoint } from '../model/checkpoint.js';
import { parameterCount, type Layout } from '../model/layout.js';
import type { Part } from '../data/part.js';
import type { Ops } from '../model/ops.js';
import { schemaFor, freshParams, layoutFor, paramsFromCheckpoint } from '../meta/model-setup.js';
import { JointTrainer, MetaTrainer, type MetaOptions } from '../meta/train.js';
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

export async function runTrain(cfg: LoadedConfig, ops: Ops, report: Reporter = silent): Promise<TrainSummary> {
  const { log } = report;
  const r = cfg.runner;
  if (!r.train_data_dir) throw new ConfigError(`${cfg.source}: runner.train_data_dir is not set`);
  const path = findTrainPart(await resolveDataPath(r.train_data_dir, cfg, report));
  log(`loading ${path}`);
  const part = await loadPart(path, report.progress);
  const L = layoutFor(cfg, schemaFor(cfg, part.schema, path));
  // the engine's arena is a stack: everything below is freed when training ends
  const mark = ops.mark();
  try {
    return trainLoop(cfg, ops, L, part, report);
  } finally {
    ops.release(mark);
  }
}

function trainLoop(cfg: LoadedConfig, ops: Ops, L: Layout, part: Part, { log, progress }: Reporter): TrainSummary {
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
  for (let epoch = 0; epoch < r.epochs; epoch++) {
    const bar = progress(`epoch ${epoch}`, steps, ' | loss {loss} | {tps} tasks/s | {rps} rows/s');
    let running = 0;
    let runN = 0;
    const te = performance.now();
    let rowsEpoch = 0;
    let tasksEpoch = 0;
    for (let s = 0; s < steps; s++) {
      const res = trainer.step();
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
    const ck = checkpointPath(r.model_save_path, epoch);
    saveCheckpoint(ck, params, { epoch, step: trainer.adam.step, mode, seed: r.seed, hyper_parameters: hp });
    checkpoints.push(ck);
    log(`saved ${ck}`);
  }
  const lossCurve = join(r.model_save_path, 'loss.csv');
  writeFileAtomic(lossCurve, ['epoch,step,loss\n', ...curve.map((c) => `${c.epoch},${c.step},${c.loss}\n`)]);
  writeFileAtomic(join(r.model_save_path, 'loss.json'), JSON.stringify(curve));
  const seconds = (performance.now() - t0) / 1000;
  const summary: TrainSummary = { mode, checkpoints, epochs: r.epochs, stepsPerEpoch: steps, finalLoss: last, seconds, rowsPerSecond: rowsSeen / seconds, parameters: parameterCount(L), lossCurve };
  writeFileAtomic(join(r.model_save_path, TRAIN_RECORD_FILE), `${JSON.stringify({ ...summary, ...runContext(cfg, [{ name: basename(part.path, '.arrow'), part }]) }, null, 2)}\n`);
  return summary;
}
