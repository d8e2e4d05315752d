/**
 * What `runner.train_data_dir` / `test_data_dir` may point at: a dataset directory, a part
 * file, or a folder of PaddleRec / official MetaHeac pickles, which is converted once into a
 * cached dataset (importers/paddle-cache.ts) and read from there.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/config.js';
import { SCHEMA_FILE } from './dataset.js';
import { ensureArrowFromPaddleDir } from './importers/paddle-cache.js';
import { listPickles } from './importers/pickle-import.js';
import { silent, type Reporter } from '../util/progress.js';

export async function resolveDataPath(path: string, cfg: Config, report: Reporter = silent): Promise<string> {
  if (!existsSync(path) || !statSync(path).isDirectory() || existsSync(join(path, SCHEMA_FILE))) return path;
  if (listPickles(path).length === 0) return path;
  report.log(`${path}: PaddleRec pickles; using (or making) their Arrow copy`);
  return ensureArrowFromPaddleDir(path, { cacheDir: cfg.runner.cache_dir, maxIdxs: cfg.hyper_parameters.max_idxs ?? undefined, progress: report.progress });
}
