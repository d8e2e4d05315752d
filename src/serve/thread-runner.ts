/**
 * The CampaignRunner of `serve` and `worker`: checks submissions on the calling thread
 * (campaign-check.ts) and runs expand on the job thread (job-thread.ts).
 */
import { Worker } from 'node:worker_threads';
import { UserError } from '../util/errors.js';
import { checkSubmission, type PoolInfo } from './campaign-check.js';
import type { CampaignRunner, LoadedModel, RunArgs, RunProgress } from './runner.js';
import type { Submission, SubmissionLimits } from './submission.js';
import type { Request, ThreadInit } from './job-thread.js';

type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; message: string; user: boolean; stack?: string };
type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

export class ThreadRunner implements CampaignRunner {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private progress: ((p: RunProgress) => void) | null = null;
  private dead: Error | null = null;

  private constructor(
    private readonly info: PoolInfo | null,
    private readonly limits: SubmissionLimits,
    init: ThreadInit,
  ) {
    this.worker = new Worker(new URL('./job-thread.js', import.meta.url), { workerData: init });
    this.worker.on('message', (m: Reply | { progress: RunProgress } | { ready: true }) => {
      if ('progress' in m) this.progress?.(m.progress);
      else if ('id' in m) {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.ok) p.resolve(m.value);
        else {
          const err = m.user ? new UserError(m.message) : new Error(m.message);
          if (!m.user && m.stack) err.stack = m.stack;
          p.reject(err);
        }
      }
    });
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => this.fail(new Error(`the job thread exited (code ${code})`)));
  }

  /** `info` null: a runner that only runs (a worker), checking nothing. */
  static async create(info: PoolInfo | null, limits: SubmissionLimits, init: ThreadInit): Promise<ThreadRunner> {
    const r = new ThreadRunner(info, limits, init);
    await new Promise<void>((resolve, reject) => {
      const onMsg = (m: { ready?: boolean }) => {
        if (m.ready) {
          r.worker.off('message', onMsg);
          resolve();
        }
      };
      r.worker.on('message', onMsg);
      r.worker.once('error', reject);
    });
    return r;
  }

  private fail(e: Error): void {
    this.dead ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  private call<T>(req: DistributiveOmit<Request, 'id'>): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...req, id });
    });
  }

  get poolRows(): number {
    return this.info?.poolRows ?? 0;
  }

  async loadModel(path: string): Promise<LoadedModel> {
    const { model, sha256 } = await this.call<{ model: number; sha256: string }>({ type: 'load', path });
    let closed = false;
    return {
      path,
      sha256,
      model,
      close: async () => {
        if (closed || this.dead) return;
        closed = true;
        await this.call({ type: 'unload', model });
      },
    } as LoadedModel & { model: number };
  }

  async validate(sub: Submission, workDir: string): Promise<string> {
    if (!this.info) throw new Error('this runner checks no submissions');
    return checkSubmission(this.info, sub, workDir, this.limits);
  }

  async run(a: RunArgs): Promise<string> {
    const cancel = new SharedArrayBuffer(4);
    const flag = new Int32Array(cancel);
    const onAbort = () => Atomics.store(flag, 0, 1);
    if (a.signal.aborted) throw new UserError('cancelled');
    a.signal.addEventListener('abort', onAbort);
    this.progress = a.onProgress;
    try {
      return await this.call<string>({
        type: 'run',
        model: (a.model as LoadedModel & { model: number }).model,
        sub: a.sub,
        workDir: a.workDir,
        outDir: a.outDir,
        ...(a.shard ? { shard: a.shard } : {}),
        ...(a.sub.top !== undefined ? { top: a.sub.top } : {}),
        includeSeeds: a.sub.includeSeeds,
        cancel,
      });
    } finally {
      a.signal.removeEventListener('abort', onAbort);
      this.progress = null;
    }
  }

  async merge(shardDirs: string[], outDir: string): Promise<string> {
    return this.call<string>({ type: 'merge', dirs: shardDirs, outDir });
  }

  async close(): Promise<void> {
    this.dead ??= new Error('closed');
    await this.worker.terminate();
  }
}
