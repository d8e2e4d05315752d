import type { Command } from 'commander';
import { pino } from 'pino';
import { startService, TOKEN_ENV, type ConfigSource, type ServeOptions } from '../../serve/service.js';
import { portArg, positiveIntArg } from '../args.js';
import { withConfigOptions, type CommonOpts } from '../common.js';
import { loadConfig } from '../../config/config.js';
import { defaultCheckpoint } from '../../pipeline/run-train.js';
import { UserError } from '../../util/errors.js';

/** What commander parses: the service's own options, and the limits and config in CLI units. */
interface ServeOpts extends CommonOpts, Partial<Pick<ServeOptions, 'model'>>, Pick<ServeOptions, 'users' | 'host' | 'port' | 'tokenFile' | 'redis' | 'prefix' | 'shards' | 'attempts'> {
  maxBodyMb: number;
  maxSeeds: number;
  maxJobs: number;
  keepJobs: number;
}

/**
 * The model and config a server or worker loads, from the command's options: without
 * --model, the checkpoint `infer` would read under the config (best/ where training kept one).
 */
export function configSource(opts: CommonOpts & Partial<Pick<ConfigSource, 'model'>> & Pick<ConfigSource, 'users'>): ConfigSource {
  if (!opts.model && !opts.config) throw new UserError('--model is required without -m (a config whose model folder names the checkpoint)');
  return {
    config: opts.config ?? null,
    overrides: opts.override,
    model: opts.model ?? defaultCheckpoint(loadConfig(opts.config!, opts.override)),
    ...(opts.users ? { users: opts.users } : {}),
    threads: opts.threads !== undefined ? Number(opts.threads) : 0,
  };
}

export function register(program: Command): void {
  withConfigOptions(
    program
      .command('serve')
      .description('the audience service: an HTTP API taking campaigns and giving their audiences (OpenAPI at /openapi.json)')
      .option('--model <ckpt>', 'checkpoint of the general model (SIGHUP or POST /v1/model loads a new one); default with -m: the one infer reads (best/ where kept)')
      .option('--users <pool>', 'the user pool (a user table); default: the dataset\'s')
      .option('--host <addr>', `address to bind; anything but loopback needs a bearer token (${TOKEN_ENV} or --token-file)`, '127.0.0.1')
      .option('--port <n>', 'port (0: any free port; the address is printed)', portArg, 8080)
      .option('--token-file <file>', `file holding the bearer token every /v1 request must carry (default: $${TOKEN_ENV})`)
      .option('--redis <url>', 'queue jobs on BullMQ at this Redis (redis://host:port); `metaheac worker` processes run them')
      .option('--prefix <name>', 'key prefix of the BullMQ queues in Redis', 'metaheac')
      .option('--shards <n>', 'with --redis: shard jobs per campaign (slices of the pool any worker takes)', positiveIntArg, 4)
      .option('--attempts <n>', 'with --redis: tries of a shard that fails with an error', positiveIntArg, 2)
      .option('--max-body-mb <n>', 'largest request (JSON or uploaded seed file), MiB', positiveIntArg, 16)
      .option('--max-seeds <n>', 'most users in one list (seeds, negatives, examples) of a campaign', positiveIntArg, 100000)
      .option('--max-jobs <n>', 'jobs queued or running at once; more get 429', positiveIntArg, 64)
      .option('--keep-jobs <n>', 'finished jobs kept with their audiences (the oldest are dropped)', positiveIntArg, 1000),
  ).action(async (opts: ServeOpts) => {
    const logger = pino({ level: 'info' }, pino.destination(2));
    const svc = await startService({
      ...configSource(opts),
      host: opts.host,
      port: opts.port,
      ...(opts.tokenFile ? { tokenFile: opts.tokenFile } : {}),
      ...(opts.redis ? { redis: opts.redis } : {}),
      prefix: opts.prefix,
      shards: opts.shards,
      attempts: opts.attempts,
      keepFinished: opts.keepJobs,
      limits: { bodyBytes: opts.maxBodyMb * 1024 * 1024, maxSeeds: opts.maxSeeds, maxJobs: opts.maxJobs },
      logger,
    });
    process.stdout.write(opts.json ? `${JSON.stringify({ url: svc.url, mode: opts.redis ? 'redis' : 'embedded' })}\n` : `metaheac serve: listening on ${svc.url} (${opts.redis ? 'BullMQ on Redis' : 'embedded queue'})\n`);
    process.on('SIGHUP', () => {
      svc.swap().catch((e: Error) => logger.error({ error: e.message }, 'model swap failed; the previous model stays'));
    });
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    logger.info('stopping');
    // jobs in flight are cancelled (embedded) or left to be retried (workers); a hung connection must not keep the process
    setTimeout(() => process.exit(1), 15000).unref();
    await svc.close();
  });
}
