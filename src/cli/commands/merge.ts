import type { Command } from 'commander';
import { mergeShards } from '../../expand/index.js';
import { describeResult } from './expand.js';
import { lockFolder } from '../../util/lock.js';

export function register(program: Command): void {
  program
    .command('merge')
    .description('combine the outputs of `expand --shard i/N` runs into the audience of the whole pool (equal to an unsharded run)')
    .argument('<dirs...>', 'the shard runs\' output directories (--out of each)')
    .requiredOption('--out <dir>', 'output directory for the merged audiences')
    .option('--truth <arrow>', 'synthetic truth (synth\'s campaigns/truth.arrow): judge the merged audiences, as expand --truth does for a whole pool')
    .option('--json', 'print the merged summaries as JSON')
    .action(async (dirs: string[], opts: { out: string; truth?: string; json?: boolean }) => {
      lockFolder(opts.out, 'expand or merge');
      const results = await mergeShards(dirs, opts.out, { truth: opts.truth });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(results.map((r) => ({ name: r.name, dir: r.dir, summary: { ...r.summary, pool: { ...r.summary.pool, histogram: undefined } } })), null, 2)}\n`);
        return;
      }
      process.stdout.write(`${results.map((r) => describeResult(r)).join('\n\n')}\n`);
    });
}
