/**
 * What the service promises about a job, whichever queue runs it: its states, what a status
 * reports, the files a finished job offers, and the interface both queue adapters (embedded,
 * BullMQ) implement.
 */
import type { Submission } from './submission.js';

export type JobState = 'queued' | 'adapting' | 'scoring' | 'done' | 'failed' | 'cancelled';

/** The checkpoint a job runs on, fixed when it is submitted (a later swap does not touch it). */
export interface ModelRef {
  path: string;
  sha256: string;
}

export interface JobTimings {
  submittedAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** Seconds from submission to the audience (or the failure). */
  totalSeconds?: number;
}

export interface JobStatus {
  id: string;
  name: string;
  state: JobState;
  /** Pool rows scored so far, of the pool's rows (summed over shards). */
  progress: { rowsScored: number; poolRows: number };
  shards?: { total: number; done: number };
  timings: JobTimings;
  model: ModelRef;
  /** expand's summary.json, once done. */
  summary?: unknown;
  error?: string;
}

/** The outputs of a finished job, exactly as `metaheac expand` writes them. */
export interface AudienceFiles {
  /** audience.csv: `uid,score,rank`. */
  csv: Buffer;
  parquet: Buffer | null;
}

/** A queue adapter: the embedded in-memory queue or BullMQ on Redis. */
export interface JobBackend {
  readonly mode: 'embedded' | 'redis';
  /** Queue a validated submission (`name`: its campaign name) on the current model; its id. */
  submit(sub: Submission, name: string): Promise<string>;
  status(id: string): Promise<JobStatus | null>;
  /** Cancel a queued or running job; null when there is no such job. */
  cancel(id: string): Promise<JobStatus | null>;
  audience(id: string): Promise<AudienceFiles | null>;
  /** Jobs queued or running now (bounded by the service's job limit). */
  active(): Promise<number>;
  /** Whether jobs can be taken now, and why not. */
  ready(): Promise<{ ready: boolean; detail: string }>;
  close(): Promise<void>;
}

/** Called once per job state change (one log line each). */
export type JobLog = (id: string, state: JobState, detail?: Record<string, unknown>) => void;

export const FINAL_STATES: ReadonlySet<JobState> = new Set(['done', 'failed', 'cancelled']);
