#!/usr/bin/env node
/**
 * The `metaheac` command. Each subcommand lives in its own module under ./commands and
 * registers itself here. A UserError prints one line and exits 1; anything else is a bug
 * and prints its stack.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { isFsError, UserError } from '../util/errors.js';
import { setProgressQuiet } from './progress.js';
import { commands } from './commands/index.js';
import { gemmBackendDescription } from '../kernels/native.js';

/** The installed package's version (dist/src/cli/main.js sits three folders below package.json). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('metaheac')
    .version(`${packageVersion()}\ngemm: ${gemmBackendDescription()}`, '-V, --version', 'print the version and which gemm runs (native or WebAssembly)')
    .description('MetaHeac look-alike audience expansion: meta-train a general model over past campaigns, adapt it to a new campaign\'s seeds, rank candidates.')
    .option('--verbose', 'print stack traces on errors')
    .option('-q, --quiet', 'no progress bars')
    .showHelpAfterError('(run with --help for usage)')
    .hook('preAction', (cmd) => {
      if (cmd.opts().quiet) setProgressQuiet(true);
    });
  for (const register of commands) register(program);
  return program;
}

async function main(): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    const err = e as Error & { code?: string; exitCode?: number };
    if (err.code && err.code.startsWith('commander.')) {
      // commander has already printed its message (or the help).
      process.exitCode = err.exitCode ?? 1;
      return;
    }
    const verbose = process.argv.includes('--verbose');
    if (e instanceof UserError && !verbose) {
      process.stderr.write(`metaheac: error: ${err.message}\n`);
    } else if (isFsError(e) && !verbose) {
      // a file-system failure not caught where it happened: still one line naming the path
      process.stderr.write(`metaheac: error: ${e.path ?? ''}: ${e.syscall ?? 'file operation'} failed (${e.code})\n`);
    } else {
      process.stderr.write(`metaheac: ${err.stack ?? String(e)}\n`);
    }
    process.exitCode = 1;
  }
}

await main();
