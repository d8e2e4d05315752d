/**
 * `infer`: for each checkpoint epoch in [infer_start_epoch, infer_end_epoch) and each test
 * split of runner.test_data_dir, adapt per task and evaluate; writes everything as JSON
 * (runner.metrics_path, else metrics.json beside the checkpoint).
 */
import { basename, dirname, join } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import type { LoadedConfig } from '../config/config.js';
import { findTestSplits, loadPart } from '../data/dataset.js';
import { resolveDataPath } from '../data/resolve.js';
import { ConfigError, DataError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { Ops } from '../model/ops.js';
import { evaluateSplit, type SplitResult, type TaskResult } from '../eval/evaluate.js';
import { schemaFor, layoutFor, paramsFromCheckpoint, verifyCheckpoint } from '../meta/model-setup.js';
import { adaptOptions } from '../meta/options.js';
import { checkpointPath } from './run-train.js';
import { readRunManifest, RUN_FILE } from './run-manifest.js';
import { checkLeaks, sharedAids, type Leak } from '../data/leakage.js';
import { manifestAids } from '../data/manifest.js';
import { checkOutputFile } from '../util/files.js';
import { availableParallelism } from 'node:os';
import { silent, type Reporter } from '../util/progress.js';
import { runContext } from './run-record.js';
import { besideMetrics, campaignsCsv } from './report/campaigns-csv.js';

/** runner.threads, 0 meaning one per core. */
export function threads(n: number): number {
  return n > 0 ? n : availableParallelism();
}

export interface InferResult {
  epoch: number;
  checkpoint: string;
  splits: SplitResult[];
  metricsPath: string;
}

/**
 * The campaigns the model was trained on: from run.json beside the checkpoints, else from
 * the training dataset's manifest; null when neither says.
 */
function trainingCampaigns(cfg: LoadedConfig, loadDir: string): { aids: number[]; from: string } | null {
  const run = existsSync(loadDir) ? readRunManifest(loadDir) : null;
  if (run) return { aids: run.train_aids, from: `${join(loadDir, RUN_FILE)}, trained on ${run.train_path}` };
  const t = cfg.runner.train_data_dir;
  const part = t && existsSync(t) && statSync(t).isDirectory() ? join(t, 'train_stage1.arrow') : t;
  const aids = part && existsSync(part) ? manifestAids(part) : null;
  return aids ? { aids, from: part! } : null;
}

export async function runInfer(cfg: LoadedConfig, ops: Ops, report: Reporter = silent, onTask?: (split: string, t: TaskResult) => void): Promise<InferResult[]> {
  const { log } = report;
  const r = cfg.runner;
  if (!r.test_data_dir) throw new ConfigError(`${cfg.source}: runner.test_data_dir is not set`);
  if (r.infer_end_epoch <= r.infer_start_epoch) throw new ConfigError(`${cfg.source}: runner.infer_end_epoch (${r.infer_end_epoch}) must be above infer_start_epoch (${r.infer_start_epoch})`);
  const dirs = Array.isArray(r.test_data_dir) ? r.test_data_dir : [r.test_data_dir];
  const splits = [];
  for (const d of dirs) splits.push(...findTestSplits(await resolveDataPath(d, cfg, report)));
  const loadDir = r.infer_load_path ?? r.model_save_path;
  if (r.metrics_path) checkOutputFile(r.metrics_path, 'runner.metrics_path', splits.flatMap((s) => [s.stage1, s.stage2]));
  const trained = trainingCampaigns(cfg, loadDir);
  const out: InferResult[] = [];
  const parts = [];
  const leaks: Leak[] = [];
  for (const s of splits) {
    log(`loading ${s.name}: ${s.stage1}, ${s.stage2}`);
    const stage1 = await loadPart(s.stage1, report.progress);
    const stage2 = await loadPart(s.stage2, report.progress);
    parts.push({ name: s.name, stage1, stage2 });
    if (trained) {
      const aids = sharedAids(trained.aids, [...stage1.tasks, ...stage2.tasks].map((t) => t.aid));
      if (aids.length) leaks.push({ testPart: `split ${s.name} (${s.stage1}, ${s.stage2})`, trainFrom: trained.from, aids });
    }
  }
  checkLeaks(leaks, r.allow_test_overlap, 'set runner.allow_test_overlap: true (or --allow-overlap)', log);
  for (let epoch = r.infer_start_epoch; epoch < r.infer_end_epoch; epoch++) {
    const ck = checkpointPath(loadDir, epoch);
    if (!existsSync(ck)) throw new DataError(`${ck}: no checkpoint for epoch ${epoch} (train first, or set runner.infer_load_path / infer_start_epoch)`);
    const results: SplitResult[] = [];
    for (const p of parts) {
      // the engine's arena is a stack: free this split's model and buffers after it
      const mark = ops.mark();
      const L = layoutFor(cfg, schemaFor(cfg, p.stage1.schema, p.stage1.path));
      // refuse a mismatching checkpoint here, with its message, before any worker reads it
      verifyCheckpoint(L, ck);
      const params = () => paramsFromCheckpoint(ops, L, ck).params;
      const opts = adaptOptions(cfg);
      const res = await evaluateSplit({ ops, params, checkpoint: ck, schema: L.schema, dims: L.dims, opts, threads: threads(r.threads), progress: report.progress }, p.name, p.stage1, p.stage2, (t) => onTask?.(p.name, t));
      log(`${p.name}: ${res.tasks} tasks, AUC ${res.auc.toFixed(4)}, GAUC ${res.gauc.toFixed(4)} in ${res.seconds.toFixed(1)} s`);
      results.push(res);
      ops.release(mark);
    }
    const metricsPath = r.metrics_path ? (r.infer_end_epoch - r.infer_start_epoch > 1 ? r.metrics_path.replace(/(\.json)?$/, `.${epoch}.json`) : r.metrics_path) : join(dirname(ck), 'metrics.json');
    const context = runContext(cfg, parts.flatMap((p) => [p.stage1, p.stage2].map((part) => ({ name: basename(part.path, '.arrow'), part }))));
    writeFileAtomic(metricsPath, `${JSON.stringify({ epoch, checkpoint: ck, splits: results, ...context }, null, 2)}\n`);
    writeFileAtomic(besideMetrics(metricsPath, 'campaigns.csv'), campaignsCsv(results));
    out.push({ epoch, checkpoint: ck, splits: results, metricsPath });
  }
  return out;
}
