/**
 * The checkpoint a process scores with, loaded once, and swapped without a restart: a swap
 * loads the new checkpoint beside the old one; jobs hold the model they were submitted with
 * until they finish, and the old one's memory is freed when its last job lets go.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { UserError } from '../util/errors.js';
import type { ModelRef } from './jobs.js';
import type { LoadedModel } from './runner.js';

/** sha256 of a file, streamed. */
export async function fileSha256(path: string): Promise<string> {
  const h = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new UserError(`${path}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  }
  return h.digest('hex');
}

interface Entry {
  model: LoadedModel;
  users: number;
  loadedAt: string;
}

export class ModelStore {
  private current: Entry | null = null;
  private readonly retired = new Set<Entry>();
  private swapping: Promise<ModelRef> | null = null;

  constructor(private readonly load: (path: string) => Promise<LoadedModel>) {}

  get ref(): (ModelRef & { loadedAt: string }) | null {
    const c = this.current;
    return c ? { path: c.model.path, sha256: c.model.sha256, loadedAt: c.loadedAt } : null;
  }

  /** Load `path` and make it the model new jobs get; one swap at a time. */
  async swap(path: string): Promise<ModelRef> {
    while (this.swapping) await this.swapping.catch(() => undefined);
    this.swapping = (async () => {
      const model = await this.load(path);
      const old = this.current;
      this.current = { model, users: 0, loadedAt: new Date().toISOString() };
      if (old) {
        this.retired.add(old);
        await this.maybeFree(old);
      }
      return { path: model.path, sha256: model.sha256 };
    })();
    try {
      return await this.swapping;
    } finally {
      this.swapping = null;
    }
  }

  /** The current model for a new job; call the returned release when the job is over. */
  acquire(): { model: LoadedModel; release: () => Promise<void> } {
    const e = this.current;
    if (!e) throw new Error('no model loaded');
    e.users++;
    let released = false;
    return {
      model: e.model,
      release: async () => {
        if (released) return;
        released = true;
        e.users--;
        await this.maybeFree(e);
      },
    };
  }

  /** Wait for any swap in progress (readiness). */
  async settled(): Promise<void> {
    if (this.swapping) await this.swapping.catch(() => undefined);
  }

  private async maybeFree(e: Entry): Promise<void> {
    if (e.users > 0 || !this.retired.has(e)) return;
    this.retired.delete(e);
    await e.model.close();
  }

  async close(): Promise<void> {
    await this.settled();
    for (const e of [...this.retired]) await e.model.close();
    this.retired.clear();
    if (this.current) await this.current.model.close();
    this.current = null;
  }
}
