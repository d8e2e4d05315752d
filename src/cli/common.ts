/** Options shared by the config-driven commands (train, infer, demo): -m CONFIG, -o key=value, --json, --threads. */
import { Command, Option } from 'commander';
import { ignoredKeys, loadConfig, type LoadedConfig } from '../config/config.js';
import { createOps, type RunOps } from '../kernels/index.js';
import type { Reporter } from '../util/progress.js';
import { progressBar } from './progress.js';
import { installInterruptHandler } from '../util/interrupt.js';

export interface CommonOpts {
  config?: string;
  override: string[];
  json?: boolean;
  threads?: string;
  allowOverlap?: boolean;
}

export function withConfigOptions(cmd: Command): Command {
  return cmd
    .option('-m, --config <file>', 'YAML config (PaddleRec layout: runner, hyper_parameters)')
    .option('-o, --override <key=value...>', 'override config keys, dotted, PaddleRec style: -o runner.epochs=2 runner.seed=7 (or -o repeated)', [])
    .addOption(new Option('--threads <n>', 'worker threads (default: runner.threads, 0 = one per core)'))
    .option('--allow-overlap', 'warn on test campaigns that also appear in training instead of refusing (runner.allow_test_overlap)')
    .option('--json', 'print the result as JSON on stdout');
}

export function configFrom(opts: CommonOpts): LoadedConfig {
  const overrides = [...opts.override];
  if (opts.threads !== undefined) overrides.push(`runner.threads=${opts.threads}`);
  if (opts.allowOverlap) overrides.push('runner.allow_test_overlap=true');
  const cfg = loadConfig(opts.config ?? null, overrides);
  const ignored = ignoredKeys(cfg);
  if (ignored.length && !opts.json) process.stderr.write(`note: ignoring PaddlePaddle-only keys: ${ignored.join(', ')}\n`);
  return cfg;
}

/**
 * For commands whose work yields to the event loop regularly (train, infer, demo, synth,
 * prepare, import-pkl): SIGINT / SIGTERM remove temporary files and exit. A command whose
 * work never yields must not install it: the handler would only run once the work was done.
 */
export function interruptible(): void {
  installInterruptHandler((line) => process.stderr.write(`metaheac: ${line}\n`));
}

/** Log lines go to stderr so that stdout carries only results (and --json). */
export function logLine(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Log lines on stderr, bars on a terminal: what every command passes to the work it runs. */
export const cliReporter: Reporter = { log: logLine, progress: progressBar };

export async function withOps<T>(cfg: LoadedConfig, f: (ops: RunOps) => Promise<T>): Promise<T> {
  const ops = await createOps(cfg.runner.threads);
  try {
    return await f(ops);
  } finally {
    await ops.close();
  }
}
