/**
 * The distributed queue adapter: the server puts each campaign on BullMQ as a flow (see
 * bull-flow.ts) and reads states, progress and results back from Redis; `metaheac worker`
 * processes do the work. The server keeps no job state of its own, so a restarted server
 * sees every job and result again.
 */
import { randomUUID } from 'node:crypto';
import { FlowProducer, Job, Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AudienceFiles, JobBackend, JobLog, JobState, JobStatus } from './jobs.js';
import type { ModelStore } from './model-store.js';
import { submissionToJson, type Submission } from './submission.js';
import { cancelKey, MERGE_QUEUE, SHARD_QUEUE, shardJobId, type MergeData, type MergeResult, type ShardData, type ShardProgress } from './bull-flow.js';

export interface BullOptions {
  connection: Redis;
  /** Key prefix of every queue in Redis. */
  prefix: string;
  /** Shard jobs per campaign. */
  shards: number;
  poolRows: number;
  /** Finished campaigns kept in Redis (with their audiences) before the oldest are removed. */
  keepFinished: number;
  /** Attempts per shard that fails with an error (a shard whose worker died is retried anyway). */
  attempts: number;
}

export class BullQueue implements JobBackend {
  readonly mode = 'redis' as const;
  private readonly flows: FlowProducer;
  private readonly merges: Queue<MergeData, MergeResult>;
  private readonly shardQ: Queue<ShardData>;
  private readonly mergeEvents: QueueEvents;
  private readonly shardEvents: QueueEvents;
  private readonly eventConnections: Redis[];
  /** Parents whose first shard has been seen starting or scoring (log lines once per change). */
  private readonly seen = new Map<string, JobState>();

  constructor(
    private readonly models: ModelStore,
    private readonly o: BullOptions,
    private readonly log: JobLog,
  ) {
    const base = { connection: o.connection, prefix: o.prefix };
    this.flows = new FlowProducer(base);
    this.merges = new Queue(MERGE_QUEUE, base);
    this.shardQ = new Queue(SHARD_QUEUE, base);
    // QueueEvents block on their own connections
    this.eventConnections = [o.connection.duplicate(), o.connection.duplicate()];
    for (const c of this.eventConnections) c.on('error', () => undefined); // reported by readiness
    this.mergeEvents = new QueueEvents(MERGE_QUEUE, { connection: this.eventConnections[0]!, prefix: o.prefix });
    this.shardEvents = new QueueEvents(SHARD_QUEUE, { connection: this.eventConnections[1]!, prefix: o.prefix });
    this.mergeEvents.on('completed', ({ jobId }) => this.note(jobId, 'done'));
    this.mergeEvents.on('failed', ({ jobId, failedReason }) => void this.noteFailed(jobId, failedReason));
    this.shardEvents.on('progress', ({ jobId, data }) => {
      const p = data as ShardProgress;
      this.note(jobId.replace(/-shard-\d+$/, ''), p.phase);
    });
  }

  private note(id: string, state: JobState, detail?: Record<string, unknown>): void {
    const prev = this.seen.get(id);
    if (prev === state || (prev === 'scoring' && state === 'adapting')) return;
    this.seen.set(id, state);
    this.log(id, state, detail);
    if (state === 'done' || state === 'failed' || state === 'cancelled') this.seen.delete(id);
  }

  private async noteFailed(id: string, reason: string): Promise<void> {
    const cancelled = await this.o.connection.exists(cancelKey(this.o.prefix, id));
    this.note(id, cancelled ? 'cancelled' : 'failed', cancelled ? undefined : { error: reason });
  }

  async submit(sub: Submission, name: string): Promise<string> {
    const id = randomUUID();
    const ref = this.models.ref!;
    const model = { path: ref.path, sha256: ref.sha256 };
    const json = submissionToJson(sub);
    const n = this.o.shards;
    const keep = { count: this.o.keepFinished };
    await this.flows.add({
      name: 'merge',
      queueName: MERGE_QUEUE,
      data: { sub: json, name, model, shards: n, poolRows: this.o.poolRows, submittedAt: new Date().toISOString() } satisfies MergeData,
      opts: { jobId: id, removeOnComplete: keep, removeOnFail: keep, attempts: this.o.attempts },
      children: Array.from({ length: n }, (_, i) => ({
        name: 'shard',
        queueName: SHARD_QUEUE,
        data: { parentId: id, sub: json, name, model, index: i, count: n } satisfies ShardData,
        opts: { jobId: shardJobId(id, i), failParentOnFailure: true, attempts: this.o.attempts, removeOnComplete: keep, removeOnFail: keep },
      })),
    });
    this.log(id, 'queued', { name, shards: n });
    return id;
  }

  async status(id: string): Promise<JobStatus | null> {
    const parent = (await Job.fromId(this.merges, id)) as Job<MergeData, MergeResult> | undefined;
    if (!parent) return null;
    const d = parent.data;
    const pstate = await parent.getState();
    const shards = await Promise.all(Array.from({ length: d.shards }, (_, i) => Job.fromId(this.shardQ, shardJobId(id, i))));
    let rows = 0;
    let done = 0;
    let active = 0;
    let scoring = false;
    for (const s of shards) {
      if (!s) continue;
      const st = s.finishedOn && !s.failedReason ? 'completed' : s.processedOn ? 'active' : 'waiting';
      const p = s.progress as ShardProgress | number;
      if (typeof p === 'object' && p) {
        rows += p.rowsScored;
        if (p.phase === 'scoring') scoring = true;
      }
      if (st === 'completed') done++;
      else if (st === 'active') active++;
    }
    const cancelled = (await this.o.connection.exists(cancelKey(this.o.prefix, id))) === 1;
    let state: JobState;
    if (pstate === 'completed') state = 'done';
    else if (cancelled) state = 'cancelled';
    else if (pstate === 'failed') state = 'failed';
    else if (pstate === 'waiting-children' && active === 0 && done === 0) state = 'queued';
    else state = scoring || done > 0 || pstate !== 'waiting-children' ? 'scoring' : 'adapting';
    const status: JobStatus = {
      id,
      name: d.name,
      state,
      progress: { rowsScored: state === 'done' ? d.poolRows : rows, poolRows: d.poolRows },
      // shard jobs of finished campaigns may already be trimmed (keepFinished)
      shards: { total: d.shards, done: state === 'done' ? d.shards : done },
      timings: { submittedAt: d.submittedAt },
      model: d.model,
    };
    const started = shards.map((s) => s?.processedOn ?? Infinity).reduce((a, b) => Math.min(a, b), Infinity);
    if (started !== Infinity) status.timings.startedAt = new Date(started).toISOString();
    if (parent.finishedOn) {
      status.timings.finishedAt = new Date(parent.finishedOn).toISOString();
      status.timings.totalSeconds = (parent.finishedOn - Date.parse(d.submittedAt)) / 1000;
    }
    if (state === 'done') {
      const sum = parent.returnvalue?.files['summary.json'];
      if (sum) status.summary = JSON.parse(Buffer.from(sum, 'base64').toString('utf8')) as unknown;
    }
    if (state === 'failed') status.error = parent.failedReason || shards.find((s) => s?.failedReason)?.failedReason || 'failed';
    return status;
  }

  async cancel(id: string): Promise<JobStatus | null> {
    const before = await this.status(id);
    if (!before || before.state === 'done' || before.state === 'failed' || before.state === 'cancelled') return before;
    // workers check this key between batches and stop; shards not started yet are removed
    await this.o.connection.set(cancelKey(this.o.prefix, id), '1', 'EX', 7 * 24 * 3600);
    for (let i = 0; i < before.shards!.total; i++) {
      const s = await Job.fromId(this.shardQ, shardJobId(id, i));
      if (s && (await s.isWaiting())) await s.remove().catch(() => undefined);
    }
    this.note(id, 'cancelled');
    return this.status(id);
  }

  async audience(id: string): Promise<AudienceFiles | null> {
    const parent = (await Job.fromId(this.merges, id)) as Job<MergeData, MergeResult> | undefined;
    if (!parent || !(await parent.isCompleted()) || !parent.returnvalue) return null;
    const f = parent.returnvalue.files;
    const csv = f['audience.csv'];
    if (!csv) return null;
    const pq = f['audience.parquet'];
    return { csv: Buffer.from(csv, 'base64'), parquet: pq ? Buffer.from(pq, 'base64') : null };
  }

  async active(): Promise<number> {
    const c = await this.merges.getJobCounts('waiting-children', 'waiting', 'active', 'prioritized', 'delayed');
    return Object.values(c).reduce((a, b) => a + b, 0);
  }

  async ready(): Promise<{ ready: boolean; detail: string }> {
    try {
      await this.o.connection.ping();
      const workers = await this.shardQ.getWorkersCount();
      return { ready: true, detail: `redis: ${workers} shard worker connection(s)` };
    } catch (e) {
      return { ready: false, detail: `redis: ${(e as Error).message}` };
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.mergeEvents.close(), this.shardEvents.close(), this.flows.close(), this.merges.close(), this.shardQ.close()]);
    for (const c of this.eventConnections) c.disconnect();
  }
}
