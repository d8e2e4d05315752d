/**
 * `metaheac serve` and `metaheac worker` put together: config, pool, model, queue adapter,
 * HTTP app; the security rules of binding; hot checkpoint swap; an orderly stop.
 */
import { closeSync, mkdtempSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { loadConfig, type LoadedConfig } from '../config/config.js';
import { layoutFor, verifyCheckpoint } from '../meta/model-setup.js';
import { UserError } from '../util/errors.js';
import { openForRead } from '../util/files.js';
import { buildApp, type ServiceLimits } from './app.js';
import { BullQueue } from './bull-queue.js';
import { redisConnection } from './bull-flow.js';
import { CampaignWorker } from './bull-worker.js';
import { checkSubmission, loadPoolInfo } from './campaign-check.js';
import { EmbeddedQueue } from './embedded-queue.js';
import type { JobBackend, JobLog } from './jobs.js';
import { fileSha256, ModelStore } from './model-store.js';
import type { LoadedModel } from './runner.js';
import type { Submission } from './submission.js';
import { ThreadRunner } from './thread-runner.js';

export const TOKEN_ENV = 'METAHEAC_TOKEN';

export interface ConfigSource {
  config: string | null;
  overrides: string[];
  model: string;
  users?: string;
  threads: number;
}

export interface ServeOptions extends ConfigSource {
  host: string;
  port: number;
  /** Token file (else the METAHEAC_TOKEN environment variable). */
  tokenFile?: string;
  redis?: string;
  prefix: string;
  shards: number;
  attempts: number;
  keepFinished: number;
  limits: ServiceLimits;
  logger: FastifyBaseLogger;
}

/** 127.0.0.0/8, ::1, localhost: the only binds allowed without a token. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '[::1]';
}

/** The bearer token: from a file or the environment, never the command line; required off loopback. */
export function resolveToken(host: string, tokenFile: string | undefined, env: NodeJS.ProcessEnv): string | null {
  let token: string | null = null;
  if (tokenFile) {
    try {
      token = readFileSync(tokenFile, 'utf8').trim();
    } catch (e) {
      throw new UserError(`${tokenFile}: cannot read the token file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    if (!token) throw new UserError(`${tokenFile}: the token file is empty`);
  } else if (env[TOKEN_ENV]) token = env[TOKEN_ENV]!.trim();
  if (token !== null && token.length < 16) throw new UserError(`the bearer token is ${token.length} characters long; use at least 16 (e.g. openssl rand -hex 32)`);
  if (!token && !isLoopback(host)) throw new UserError(`binding to ${host} (not loopback) needs a bearer token: set ${TOKEN_ENV} or give --token-file`);
  return token;
}

export function serviceConfig(c: ConfigSource): LoadedConfig {
  return loadConfig(c.config, [...c.overrides, `runner.threads=${c.threads}`]);
}

export interface RunningService {
  app: FastifyInstance;
  url: string;
  /** Load the checkpoint at `path` (default: the one given at start) for new jobs. */
  swap(path?: string): Promise<void>;
  close(): Promise<void>;
}

export async function startService(o: ServeOptions): Promise<RunningService> {
  const token = resolveToken(o.host, o.tokenFile, process.env);
  // before any thread starts: a missing model is a one-line error here
  closeSync(openForRead(o.model));
  const cfg = serviceConfig(o);
  const info = await loadPoolInfo(cfg, o.users);
  let log: JobLog = () => {};
  const jobLog: JobLog = (id, state, detail) => log(id, state, detail);
  let runner: ThreadRunner | null = null;
  let models: ModelStore;
  let backend: JobBackend;
  let redis: ReturnType<typeof redisConnection> | null = null;
  let app: FastifyInstance | null = null;
  // a failed start (model, port) ends what was started, so that the process can exit
  const stop = async (): Promise<void> => {
    await app?.close();
    await backend?.close();
    await models?.close();
    await runner?.close();
    redis?.disconnect();
  };
  try {
    if (o.redis) {
      // workers load the model; the server checks it fits and records its hash for the jobs
      const L = layoutFor(cfg, info.schema);
      models = new ModelStore(async (path): Promise<LoadedModel> => {
        verifyCheckpoint(L, path);
        return { path, sha256: await fileSha256(path), close: async () => {} };
      });
      await models.swap(o.model);
      redis = redisConnection(o.redis, (e) => o.logger.warn({ error: e.message }, 'redis'));
      backend = new BullQueue(models, { connection: redis, prefix: o.prefix, shards: o.shards, poolRows: info.poolRows, keepFinished: o.keepFinished, attempts: o.attempts }, jobLog);
    } else {
      runner = await ThreadRunner.create(info, o.limits, { config: o.config, overrides: o.overrides, ...(o.users ? { users: o.users } : {}), threads: o.threads });
      const r = runner;
      models = new ModelStore((path) => r.loadModel(path));
      await models.swap(o.model);
      backend = new EmbeddedQueue(runner, models, { workDir: mkdtempSync(join(tmpdir(), 'metaheac-serve-')), keepFinished: o.keepFinished }, jobLog);
    }
    const check = { poolRows: info.poolRows, validate: async (sub: Submission, dir: string) => checkSubmission(info, sub, dir, o.limits) };
    const started = await buildApp({ backend, runner: check, models, limits: o.limits, token, logger: o.logger });
    app = started;
    log = (id, state, detail) => started.log.info({ job: id, state, ...detail }, 'job');
    const url = await started.listen({ host: o.host, port: o.port });
    return {
      app: started,
      url,
      swap: async (path) => {
        const ref = await models.swap(path ?? models.ref?.path ?? o.model);
        started.log.info({ model: ref }, 'model swapped');
      },
      close: stop,
    };
  } catch (e) {
    await stop().catch(() => {});
    throw startFailure(e, o);
  }
}

/** Why the service could not start, as one line (the model, the address); bugs keep their stack. */
function startFailure(e: unknown, o: ServeOptions): Error {
  if (e instanceof UserError) return e;
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'EADDRINUSE' || err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL') return new UserError(`serve: cannot listen on ${o.host}:${o.port} (${err.code})`);
  if (err.code === 'ENOENT' || err.code === 'EISDIR' || err.name === 'DataError' || err.name === 'UserError') return new UserError(`serve: cannot load the model ${o.model}: ${err.message.split('\n')[0]}`);
  return err;
}

export interface WorkerServiceOptions extends ConfigSource {
  redis: string;
  prefix: string;
  lockMs: number;
  stalledMs: number;
  maxStalled: number;
  log: (msg: string, detail: Record<string, unknown>) => void;
}

export interface RunningWorker {
  reload(): Promise<void>;
  close(): Promise<void>;
}

export async function startWorker(o: WorkerServiceOptions): Promise<RunningWorker> {
  const runner = await ThreadRunner.create(null, { maxSeeds: Infinity }, { config: o.config, overrides: o.overrides, ...(o.users ? { users: o.users } : {}), threads: o.threads });
  const first = await runner.loadModel(o.model);
  const redis = redisConnection(o.redis, (e) => o.log('redis', { error: e.message }));
  const worker = new CampaignWorker(runner, first, { connection: redis, prefix: o.prefix, lockMs: o.lockMs, stalledMs: o.stalledMs, maxStalled: o.maxStalled, progressMs: 250 }, o.log);
  o.log('worker ready', { model: o.model, sha256: first.sha256 });
  return {
    reload: async () => {
      const sha256 = await worker.reload(o.model);
      o.log('model reloaded', { model: o.model, sha256 });
    },
    close: async () => {
      await worker.close();
      await runner.close();
      redis.disconnect();
    },
  };
}
