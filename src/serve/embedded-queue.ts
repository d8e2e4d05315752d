/**
 * The default queue: jobs run in the server process, on its engine threads, one after the
 * other (each uses every engine thread), queued in memory. Nothing survives a restart: queued and
 * running jobs and finished audiences are lost (use `--redis` for a queue that survives).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { FINAL_STATES, type AudienceFiles, type JobBackend, type JobLog, type JobState, type JobStatus } from './jobs.js';
import type { ModelStore } from './model-store.js';
import type { CampaignRunner, LoadedModel } from './runner.js';
import type { Submission } from './submission.js';

interface Job {
  status: JobStatus;
  sub: Submission;
  dir: string;
  outDir: string | null;
  abort: AbortController;
  model: { model: LoadedModel; release: () => Promise<void> };
  started: number;
}

export interface EmbeddedOptions {
  /** Folder for the jobs' inputs and outputs. */
  workDir: string;
  /** Finished jobs kept (with their audiences) before the oldest are forgotten. */
  keepFinished: number;
}

export class EmbeddedQueue implements JobBackend {
  readonly mode = 'embedded' as const;
  private readonly jobs = new Map<string, Job>();
  private readonly waiting: string[] = [];
  private readonly finished: string[] = [];
  private running = 0;
  private closed = false;
  private readonly runs = new Set<Promise<void>>();

  constructor(
    private readonly runner: CampaignRunner,
    private readonly models: ModelStore,
    private readonly opts: EmbeddedOptions,
    private readonly log: JobLog,
  ) {}

  async submit(sub: Submission, name: string): Promise<string> {
    if (this.closed) throw new UserError('the service is shutting down');
    const id = randomUUID();
    const model = this.models.acquire();
    const job: Job = {
      status: {
        id,
        name,
        state: 'queued',
        progress: { rowsScored: 0, poolRows: this.runner.poolRows },
        timings: { submittedAt: new Date().toISOString() },
        model: { path: model.model.path, sha256: model.model.sha256 },
      },
      sub,
      dir: join(this.opts.workDir, id),
      outDir: null,
      abort: new AbortController(),
      model,
      started: Date.now(),
    };
    this.jobs.set(id, job);
    this.waiting.push(id);
    this.log(id, 'queued', { name });
    this.pump();
    return id;
  }

  private setState(job: Job, state: JobState, detail?: Record<string, unknown>): void {
    if (job.status.state === state) return;
    job.status.state = state;
    this.log(job.status.id, state, detail);
  }

  private pump(): void {
    while (!this.closed && this.running < 1 && this.waiting.length) {
      const job = this.jobs.get(this.waiting.shift()!)!;
      this.running++;
      const p = this.execute(job).finally(() => {
        this.running--;
        this.runs.delete(p);
        this.pump();
      });
      this.runs.add(p);
    }
  }

  private async execute(job: Job): Promise<void> {
    const st = job.status;
    st.timings.startedAt = new Date().toISOString();
    this.setState(job, 'adapting');
    try {
      const out = await this.runner.run({
        sub: job.sub,
        workDir: join(job.dir, 'in'),
        outDir: join(job.dir, 'out'),
        model: job.model.model,
        signal: job.abort.signal,
        onProgress: (p) => {
          st.progress = { rowsScored: p.rowsScored, poolRows: p.poolRows };
          if (!job.abort.signal.aborted) this.setState(job, p.phase);
        },
      });
      // a cancel that came after the last batch still wins: the caller asked for no audience
      if (job.abort.signal.aborted) return this.finish(job, 'cancelled');
      job.outDir = out;
      st.summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as unknown;
      this.finish(job, 'done');
    } catch (e) {
      if (job.abort.signal.aborted) this.finish(job, 'cancelled');
      else {
        st.error = e instanceof UserError ? e.message : String((e as Error).message ?? e);
        this.finish(job, 'failed', { error: st.error });
      }
    }
  }

  private finish(job: Job, state: JobState, detail?: Record<string, unknown>): void {
    const st = job.status;
    st.timings.finishedAt = new Date().toISOString();
    st.timings.totalSeconds = (Date.now() - job.started) / 1000;
    this.setState(job, state, { seconds: st.timings.totalSeconds, ...detail });
    void job.model.release();
    this.finished.push(st.id);
    while (this.finished.length > this.opts.keepFinished) this.forget(this.finished.shift()!);
  }

  private forget(id: string): void {
    const job = this.jobs.get(id);
    if (!job) return;
    this.jobs.delete(id);
    rmSync(job.dir, { recursive: true, force: true });
  }

  async status(id: string): Promise<JobStatus | null> {
    const job = this.jobs.get(id);
    return job ? structuredClone(job.status) : null;
  }

  async cancel(id: string): Promise<JobStatus | null> {
    const job = this.jobs.get(id);
    if (!job) return null;
    if (!FINAL_STATES.has(job.status.state)) {
      const w = this.waiting.indexOf(id);
      job.abort.abort();
      if (w >= 0) {
        this.waiting.splice(w, 1);
        this.finish(job, 'cancelled');
      }
      // a running job stops at its next batch and finishes as cancelled
    }
    return structuredClone(job.status);
  }

  async audience(id: string): Promise<AudienceFiles | null> {
    const job = this.jobs.get(id);
    if (!job || job.status.state !== 'done' || !job.outDir) return null;
    const pq = join(job.outDir, 'audience.parquet');
    return { csv: readFileSync(join(job.outDir, 'audience.csv')), parquet: existsSync(pq) ? readFileSync(pq) : null };
  }

  async active(): Promise<number> {
    return this.waiting.length + this.running;
  }

  async ready(): Promise<{ ready: boolean; detail: string }> {
    return this.closed ? { ready: false, detail: 'shutting down' } : { ready: true, detail: `embedded queue: ${this.running} running, ${this.waiting.length} queued` };
  }

  /** Cancel what is queued, let running jobs stop, and remove the work folder. */
  async close(): Promise<void> {
    this.closed = true;
    for (const id of [...this.waiting]) await this.cancel(id);
    for (const job of this.jobs.values()) if (!FINAL_STATES.has(job.status.state)) job.abort.abort();
    await Promise.allSettled([...this.runs]);
    rmSync(this.opts.workDir, { recursive: true, force: true });
  }
}
