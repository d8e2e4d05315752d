import type { Command } from 'commander';
import { startWorker } from '../../serve/service.js';
import { positiveIntArg } from '../args.js';
import { withConfigOptions, type CommonOpts } from '../common.js';
import { configSource } from './serve.js';

interface WorkerOpts extends CommonOpts {
  redis: string;
  model?: string;
  users?: string;
  prefix: string;
  lockMs: number;
  stalledMs: number;
  maxStalled: number;
}

export function register(program: Command): void {
  withConfigOptions(
    program
      .command('worker')
      .description('process the audience service\'s jobs from BullMQ on Redis: campaign shards and their merges (run any number, on any machines)')
      .requiredOption('--redis <url>', 'the Redis the service queues on (redis://host:port)')
      .option('--model <ckpt>', 'checkpoint of the general model (the same file as the server\'s; SIGHUP reloads it); default with -m: the one infer reads')
      .option('--users <pool>', 'the user pool (a user table); default: the dataset\'s; the same rows as the server\'s')
      .option('--prefix <name>', 'key prefix of the BullMQ queues in Redis', 'metaheac')
      .option('--lock-ms <n>', 'a shard\'s lock without renewal: a dead worker\'s shard is retried after about this', positiveIntArg, 30000)
      .option('--stalled-ms <n>', 'how often to look for shards of dead workers', positiveIntArg, 30000)
      .option('--max-stalled <n>', 'how often a shard may lose its worker before it fails', positiveIntArg, 3),
  ).action(async (opts: WorkerOpts) => {
    const log = (msg: string, detail: Record<string, unknown>) => process.stderr.write(`${JSON.stringify({ time: Date.now(), pid: process.pid, msg, ...detail })}\n`);
    const w = await startWorker({
      ...configSource(opts),
      redis: opts.redis,
      prefix: opts.prefix,
      lockMs: opts.lockMs,
      stalledMs: opts.stalledMs,
      maxStalled: opts.maxStalled,
      log,
    });
    process.on('SIGHUP', () => {
      w.reload().catch((e: Error) => log('model reload failed; the previous model stays', { error: e.message }));
    });
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', () => resolve());
      process.once('SIGINT', () => resolve());
    });
    log('stopping', {});
    // jobs in flight are cancelled (embedded) or left to be retried (workers); a hung connection must not keep the process
    setTimeout(() => process.exit(1), 15000).unref();
    await w.close();
  });
}
