/**
 * How a campaign travels through BullMQ: one flow per campaign, a parent `merge` job (id =
 * the job id the API hands out) whose children are `shard` jobs, shard i scoring the i-th
 * of N contiguous slices of the pool (expand's --shard i/N). Any worker takes any shard;
 * when all are done, a worker takes the parent and merges them (expand's merge). Inputs
 * and outputs travel in Redis, so workers share nothing but Redis; results stay there and
 * survive a server restart.
 */
import { Redis } from 'ioredis';
import type { ModelRef } from './jobs.js';

export const SHARD_QUEUE = 'shards';
export const MERGE_QUEUE = 'campaigns';

export interface MergeData {
  /** The submission, as submissionToJson gives it. */
  sub: unknown;
  name: string;
  model: ModelRef;
  shards: number;
  poolRows: number;
  submittedAt: string;
}

export interface ShardData {
  parentId: string;
  sub: unknown;
  name: string;
  model: ModelRef;
  index: number;
  count: number;
}

/** A shard's progress as a worker reports it (job.updateProgress). */
export interface ShardProgress {
  phase: 'adapting' | 'scoring';
  rowsScored: number;
  poolRows: number;
}

/** Output files of a folder, base64: what a shard returns and the merge returns. */
export type FileSet = Record<string, string>;

export interface MergeResult {
  files: FileSet;
  finishedAt: string;
}

export const shardJobId = (id: string, i: number): string => `${id}-shard-${i}`;
export const cancelKey = (prefix: string, id: string): string => `${prefix}:cancelled:${id}`;

/** A Redis connection as BullMQ wants it (no per-request retry limit: workers block on it). */
export function redisConnection(url: string, onError: (e: Error) => void): Redis {
  const r = new Redis(url, { maxRetriesPerRequest: null });
  // ioredis reconnects by itself; without a listener each failed try would print a stack
  r.on('error', onError);
  return r;
}
