/** `metaheac generate-raw`: fake raw competition files, for trying `prepare` without the real data. */
import type { Command } from 'commander';
import { nonNegativeIntArg, fractionArg } from '../args.js';
import { generateRaw, shapeAtScale } from '../../raw/generate.js';
import { logLine } from '../common.js';

/**
 * Task sizes scale with the files, so the real data's cold threshold (2000 positives) makes
 * every generated test task cold below scale 1: scale it too.
 */
export function coldThresholdAtScale(scale: number): number {
  return Math.max(1, Math.round(2000 * scale));
}

export function register(program: Command): void {
  program
    .command('generate-raw')
    .description('write fake userFeature.data, adFeature.csv, train.csv and test1_truth.csv with the real files\' shape, scaled (no signal in them)')
    .requiredOption('--out <dir>', 'directory to write the four files into')
    .option('--scale <x>', 'fraction of the real sizes (11.4 M users, 8.8 M + 2.3 M rows)', fractionArg, 0.001)
    .option('--seed <n>', 'random seed', nonNegativeIntArg, 1)
    .option('--json', 'print the file sizes as JSON')
    .action((o: { out: string; scale: number; seed: number; json?: boolean }) => {
      const shape = shapeAtScale(o.scale);
      const bytes = generateRaw(o.out, shape, o.seed);
      if (o.json) process.stdout.write(`${JSON.stringify({ out: o.out, shape, bytes }, null, 2)}\n`);
      else {
        process.stdout.write(
          `wrote ${o.out}: ${shape.users.toLocaleString('en-US')} users, ${shape.stage1Rows.toLocaleString('en-US')} + ` +
            `${shape.stage2Rows.toLocaleString('en-US')} rows, ${shape.aids} aids; ` +
            `${(Object.values(bytes).reduce((a, b) => a + b, 0) / 1e6).toFixed(1)} MB\n`,
        );
        logLine(`next: metaheac prepare --raw ${o.out} --out data/tencent --cold-threshold ${coldThresholdAtScale(o.scale)}   (the real data's 2000 positives, times --scale)`);
      }
    });
}
