/**
 * What the service needs from `expand`: validate a campaign against the pool, run it (on a
 * shard of the pool, or the whole pool) into expand's output folder, merge shard outputs.
 * The queue adapters run campaigns only through this, so the embedded queue and a BullMQ
 * worker run exactly what `metaheac expand` runs.
 */
import type { Submission } from './submission.js';

/** A checkpoint loaded once and shared by the jobs that run on it. */
export interface LoadedModel {
  readonly path: string;
  readonly sha256: string;
  /** Free its memory (after the last job on it has finished). */
  close(): Promise<void>;
}

export type RunPhase = 'adapting' | 'scoring';

export interface RunProgress {
  phase: RunPhase;
  rowsScored: number;
  poolRows: number;
}

export interface RunArgs {
  sub: Submission;
  /** A private folder for this run: the submission's lists are written here. */
  workDir: string;
  /** Where expand writes `<name>/audience.csv`, `audience.parquet`, `summary.json`. */
  outDir: string;
  model: LoadedModel;
  shard?: { index: number; count: number };
  onProgress: (p: RunProgress) => void;
  signal: AbortSignal;
}

export interface CampaignRunner {
  /** Rows of the user pool. */
  readonly poolRows: number;
  loadModel(path: string): Promise<LoadedModel>;
  /** Check a submission as `expand` checks a campaign file (UserError with its one-line message); its name. */
  validate(sub: Submission, workDir: string): Promise<string>;
  /** Run it; resolves with the folder holding its outputs (`outDir/<name>`). */
  run(args: RunArgs): Promise<string>;
  /** Combine shard output folders into `outDir` (expand's merge), returning the campaign folder. */
  merge(shardDirs: string[], outDir: string): Promise<string>;
  close(): Promise<void>;
}
