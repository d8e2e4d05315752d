/**
 * The thread that runs expand for the service: it holds the engines and the loaded models,
 * and runs one campaign (or one shard, or one merge) at a time. Expand computes and reads
 * the pool synchronously between its awaits, so running it here keeps the process's main
 * thread free to answer HTTP requests and to renew BullMQ locks while a job runs.
 *
 * Messages in: load {path}, unload {model}, run {model, sub, workDir, outDir, shard,
 * cancel: a shared flag}, merge {dirs, outDir}. Out: a reply per request ({ok, value} or
 * {ok: false, message, user}), and progress {phase, rowsScored, poolRows} while running.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { loadConfig } from '../config/config.js';
import { expandCampaigns, mergeShards, resolveDataPaths } from '../expand/index.js';
import { createOps, type RunOps } from '../kernels/index.js';
import { layoutFor, paramsFromCheckpoint, schemaFor } from '../meta/model-setup.js';
import type { Params } from '../model/params.js';
import { UserError } from '../util/errors.js';
import { submissionCampaign } from './campaign-check.js';
import type { Submission } from './submission.js';

export interface ThreadInit {
  config: string | null;
  overrides: string[];
  users?: string;
  threads: number;
}

export type Request =
  | { id: number; type: 'load'; path: string }
  | { id: number; type: 'unload'; model: number }
  | { id: number; type: 'run'; model: number; sub: Submission; workDir: string; outDir: string; shard?: { index: number; count: number }; top?: number; includeSeeds: boolean; cancel: SharedArrayBuffer }
  | { id: number; type: 'merge'; dirs: string[]; outDir: string };

const init = workerData as ThreadInit;
const cfg = loadConfig(init.config, init.overrides);
const paths = resolveDataPaths(cfg, init.users);
const schema = schemaFor(cfg, paths.schema, paths.schemaPath);
const models = new Map<number, { ops: RunOps; params: Params }>();
let nextModel = 1;

async function handle(m: Request): Promise<unknown> {
  switch (m.type) {
    case 'load': {
      const sha256 = createHash('sha256').update(readFileSync(m.path)).digest('hex');
      // an engine per model: a swap loads beside the old one, which is freed whole when its jobs end
      const ops = await createOps(init.threads);
      try {
        const { params } = paramsFromCheckpoint(ops, layoutFor(cfg, schema), m.path);
        const id = nextModel++;
        models.set(id, { ops, params });
        return { model: id, sha256 };
      } catch (e) {
        await ops.close();
        throw e;
      }
    }
    case 'unload': {
      const e = models.get(m.model);
      models.delete(m.model);
      await e?.ops.close();
      return null;
    }
    case 'run': {
      const e = models.get(m.model);
      if (!e) throw new Error(`model ${m.model} is not loaded`);
      const flag = new Int32Array(m.cancel);
      const abort = new AbortController();
      const campaign = submissionCampaign(m.sub, m.workDir);
      const [res] = await expandCampaigns({
        config: cfg,
        model: e.params,
        ops: e.ops,
        campaigns: [campaign],
        users: paths.pool,
        lookup: paths.lookup,
        ...(m.top !== undefined ? { top: m.top } : {}),
        includeSeeds: m.includeSeeds,
        ...(m.shard ? { shard: m.shard } : {}),
        outDir: m.outDir,
        signal: abort.signal,
        onProgress: (p) => {
          // the main thread raises the flag; expand looks at the signal between chunks
          if (Atomics.load(flag, 0) !== 0) abort.abort();
          if (p.phase !== 'writing') parentPort!.postMessage({ progress: { phase: p.phase, rowsScored: p.rowsScored, poolRows: p.rowsTotal } });
        },
      });
      return res!.dir;
    }
    case 'merge': {
      const [res] = await mergeShards(m.dirs, m.outDir);
      return res!.dir;
    }
  }
}

// one request at a time, in order: runs must not interleave on an engine's stack allocator
let chain: Promise<void> = Promise.resolve();
parentPort!.on('message', (m: Request) => {
  chain = chain.then(async () => {
    try {
      parentPort!.postMessage({ id: m.id, ok: true, value: await handle(m) });
    } catch (e) {
      const err = e as Error;
      parentPort!.postMessage({ id: m.id, ok: false, message: err.message, user: e instanceof UserError, stack: err.stack });
    }
  });
});
parentPort!.postMessage({ ready: true });
