/**
 * A `metaheac worker`: takes shard jobs and merge jobs from BullMQ (bull-flow.ts) and runs
 * them with expand, on this process's engine. A shard scores its slice of the pool and
 * returns its output folder; a merge combines the shards' folders with expand's merge and
 * returns the campaign's outputs. A worker killed mid-shard stops renewing the shard's lock;
 * BullMQ's stalled-job check then hands the shard to another worker.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { UserError } from '../util/errors.js';
import type { ModelRef } from './jobs.js';
import type { CampaignRunner, LoadedModel } from './runner.js';
import { submissionFromJson } from './submission.js';
import { cancelKey, MERGE_QUEUE, SHARD_QUEUE, type FileSet, type MergeData, type MergeResult, type ShardData, type ShardProgress } from './bull-flow.js';

export interface WorkerOptions {
  connection: Redis;
  prefix: string;
  /** How long a shard's lock lives without renewal (ms): a dead worker's shard is retried after about this. */
  lockMs: number;
  /** How often stalled shards are looked for (ms). */
  stalledMs: number;
  /** How many times a shard may stall (its worker died) before it fails. */
  maxStalled: number;
  /** Progress reports and cancel checks at most this often (ms). */
  progressMs: number;
}

export type WorkerLog = (msg: string, detail: Record<string, unknown>) => void;

function readFolder(dir: string): FileSet {
  return Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f)).toString('base64')]));
}

function writeFolder(dir: string, files: FileSet): void {
  mkdirSync(dir, { recursive: true });
  for (const [f, b64] of Object.entries(files)) writeFileSync(join(dir, f), Buffer.from(b64, 'base64'));
}

/**
 * Models by checkpoint hash: a job runs on the checkpoint it was submitted with. The one
 * given at start is loaded at once; a job naming another loads it (from the same path on
 * this machine) after checking its hash, and it replaces the older one.
 */
class WorkerModels {
  private loading: Promise<LoadedModel> | null = null;

  constructor(
    private readonly runner: CampaignRunner,
    private cur: LoadedModel | null,
  ) {}

  async get(ref: ModelRef): Promise<LoadedModel> {
    while (this.loading) await this.loading.catch(() => undefined);
    if (this.cur?.sha256 === ref.sha256) return this.cur;
    return this.replace(ref.path, ref.sha256);
  }

  /** Load `path` (checked against `sha256` when given) in place of the current model. */
  async replace(path: string, sha256?: string): Promise<LoadedModel> {
    while (this.loading) await this.loading.catch(() => undefined);
    this.loading = (async () => {
      const m = await this.runner.loadModel(path);
      if (sha256 && m.sha256 !== sha256) {
        await m.close();
        throw new UnrecoverableError(`${path} on this worker is not the checkpoint the job was submitted with (sha256 ${m.sha256.slice(0, 12)}…, expected ${sha256.slice(0, 12)}…)`);
      }
      // jobs run one at a time on a worker, so nothing still uses the old one
      if (this.cur) await this.cur.close();
      this.cur = m;
      return m;
    })();
    try {
      return await this.loading;
    } finally {
      this.loading = null;
    }
  }

  async close(): Promise<void> {
    if (this.cur) await this.cur.close();
    this.cur = null;
  }
}

export class CampaignWorker {
  private readonly shards: Worker<ShardData>;
  private readonly merges: Worker<MergeData, MergeResult>;
  private readonly models: WorkerModels;

  constructor(
    private readonly runner: CampaignRunner,
    first: LoadedModel,
    private readonly o: WorkerOptions,
    private readonly log: WorkerLog,
  ) {
    this.models = new WorkerModels(runner, first);
    const common = {
      connection: o.connection,
      prefix: o.prefix,
      concurrency: 1,
      lockDuration: o.lockMs,
      stalledInterval: o.stalledMs,
      maxStalledCount: o.maxStalled,
    };
    this.shards = new Worker<ShardData>(SHARD_QUEUE, (job, _token, signal) => this.shard(job, signal), common);
    this.merges = new Worker<MergeData, MergeResult>(MERGE_QUEUE, (job) => this.merge(job), common);
    for (const w of [this.shards, this.merges]) {
      w.on('failed', (job, err) => log('job failed', { job: job?.id, error: err.message }));
      w.on('error', (err) => log('queue error', { error: err.message }));
    }
  }

  private async cancelled(parentId: string): Promise<boolean> {
    return (await this.o.connection.exists(cancelKey(this.o.prefix, parentId))) === 1;
  }

  private async shard(job: Job<ShardData>, signal?: AbortSignal): Promise<FileSet> {
    const d = job.data;
    if (await this.cancelled(d.parentId)) throw new UnrecoverableError('cancelled');
    this.log('shard started', { job: d.parentId, shard: `${d.index}/${d.count}`, attempt: job.attemptsStarted });
    const model = await this.models.get(d.model);
    const dir = mkdtempSync(join(tmpdir(), 'mh-shard-'));
    const abort = new AbortController();
    signal?.addEventListener('abort', () => abort.abort());
    let last = 0;
    let pending: Promise<void> = Promise.resolve();
    try {
      const out = await this.runner.run({
        sub: submissionFromJson(d.sub),
        workDir: join(dir, 'in'),
        outDir: join(dir, 'out'),
        model,
        shard: { index: d.index, count: d.count },
        signal: abort.signal,
        onProgress: (p) => {
          const now = Date.now();
          if (now - last < this.o.progressMs && p.rowsScored < p.poolRows) return;
          last = now;
          const prog: ShardProgress = { phase: p.phase, rowsScored: p.rowsScored, poolRows: p.poolRows };
          pending = pending
            .then(async () => {
              await job.updateProgress(prog);
              if (await this.cancelled(d.parentId)) abort.abort();
            })
            .catch(() => undefined);
        },
      });
      await pending;
      if (abort.signal.aborted) throw new UnrecoverableError('cancelled');
      this.log('shard done', { job: d.parentId, shard: `${d.index}/${d.count}` });
      return readFolder(out);
    } catch (e) {
      await pending;
      if (abort.signal.aborted) throw new UnrecoverableError('cancelled');
      // a bad campaign fails the same way on every worker: no retry
      if (e instanceof UserError) throw new UnrecoverableError(e.message);
      throw e;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  private async merge(job: Job<MergeData, MergeResult>): Promise<MergeResult> {
    const d = job.data;
    if (await this.cancelled(job.id!)) throw new UnrecoverableError('cancelled');
    const values = await job.getChildrenValues<FileSet>();
    const byIndex = new Map<number, FileSet>();
    for (const [key, files] of Object.entries(values)) byIndex.set(Number(/-shard-(\d+)$/.exec(key)![1]), files);
    const dir = mkdtempSync(join(tmpdir(), 'mh-merge-'));
    try {
      const shardDirs = Array.from({ length: d.shards }, (_, i) => {
        const files = byIndex.get(i);
        if (!files) throw new Error(`shard ${i} of ${d.shards} has no result`);
        const root = join(dir, `shard-${i}`);
        writeFolder(join(root, d.name), files);
        return root;
      });
      const out = await this.runner.merge(shardDirs, join(dir, 'out'));
      this.log('merged', { job: job.id, shards: d.shards });
      return { files: readFolder(out), finishedAt: new Date().toISOString() };
    } catch (e) {
      if (e instanceof UserError) throw new UnrecoverableError(e.message);
      throw e;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Reload a checkpoint (SIGHUP, after it was replaced on disk): jobs submitted with it find it loaded. */
  async reload(path: string): Promise<string> {
    return (await this.models.replace(path)).sha256;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.shards.close(), this.merges.close()]);
    await this.models.close();
  }
}
