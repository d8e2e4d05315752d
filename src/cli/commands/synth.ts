/** `metaheac synth`: write a synthetic dataset with planted look-alike structure. */
import type { Command } from 'commander';
import { interruptible } from '../common.js';
import { DEFAULT_SYNTH_SEED, synthesize, type SynthSummary } from '../../data/synth.js';
import { PRESET_NAMES } from '../../data/synth-presets.js';
import { REFERENCES } from '../../data/reference.js';
import { intArg, nonNegativeIntArg, positiveNumberArg } from '../args.js';
import { fmtFixed, fmtInt, fmtPct, table } from '../format.js';
import { progressBar, setProgressQuiet } from '../progress.js';

export function formatSynthSummary(s: SynthSummary): string {
  const parts = Object.entries(s.parts).map(([name, p]) => [name, fmtInt(p.rows), fmtInt(p.tasks), fmtInt(p.positives), fmtPct(p.rows ? p.positives / p.rows : NaN)]);
  const oracle = (['hot', 'cold'] as const).map((k) => {
    const o = s.oracle[k];
    const skipped = o.gaucSkipped ? `, ${o.gaucSkipped} one-class skipped` : '';
    return `  ${k.padEnd(4)}  AUC ${fmtFixed(o.auc)}  GAUC ${fmtFixed(o.gauc)}  (${o.tasks} tasks${skipped})`;
  });
  const reference = (['hot', 'cold'] as const).map((k) => {
    const r = s.reference[k];
    return `  ${k.padEnd(4)}  ${REFERENCES.map((n) => `${n} AUC ${fmtFixed(r[n].auc)}  GAUC ${fmtFixed(r[n].gauc)}`).join('   ')}`;
  });
  return [
    `wrote ${s.out}: preset ${s.preset}, seed ${s.seed}, scale ${s.scale}, cold = at most ${s.coldThreshold} positives over stage 1 + 2`,
    table(['part', 'rows', 'tasks', 'positives', 'rate'], parts),
    'oracle (true probabilities on stage 2, the best any model can do):',
    ...oracle,
    "references (category: knows the campaign's latent category, not the campaign; agnostic: one score per user for every ad):",
    ...reference,
    `user table ${s.users.path}: ${fmtInt(s.users.rows)} users (${fmtInt(s.users.seedUsers)} stage-1 users of test campaigns, ${fmtInt(s.users.poolUsers)} more)`,
    `campaign files for expand: ${s.campaigns.files.length} in ${s.campaigns.dir}, truth in ${s.campaigns.truth}`,
  ].join('\n');
}

export function register(program: Command): void {
  program
    .command('synth')
    .description('write a synthetic dataset (schema.json, the five standard parts, a user table, campaign files and their truth) with planted look-alike structure')
    .requiredOption('--out <dir>', 'output dataset directory')
    .option('--preset <name>', `size and schema: ${PRESET_NAMES.join(' | ')}`, 'demo')
    .option('--seed <n>', 'random seed (same seed, same bytes)', intArg, DEFAULT_SYNTH_SEED)
    .option('--scale <f>', "multiply the preset's row counts (default: tiny 1, demo 1, tencent 0.1; tencent 1 is the real 8.8M stage-1 rows)", positiveNumberArg)
    .option('--cold-threshold <n>', 'cold test campaign = at most N positives over stage 1 + stage 2 (default: the preset\'s, times --scale)', nonNegativeIntArg)
    .option('--json', 'print the summary as JSON')
    .action(async (o: { out: string; preset: string; seed: number; scale?: number; coldThreshold?: number; json?: boolean }) => {
      interruptible();
      if (o.json) setProgressQuiet(true);
      let bar: ReturnType<typeof progressBar> | null = null;
      const summary = await synthesize({
        out: o.out,
        preset: o.preset,
        seed: o.seed,
        scale: o.scale,
        coldThreshold: o.coldThreshold,
        onProgress: (done, total) => {
          bar ??= progressBar('synth', total, ' rows');
          bar.update(done);
        },
      });
      (bar as ReturnType<typeof progressBar> | null)?.stop();
      process.stdout.write(o.json ? `${JSON.stringify(summary, null, 2)}\n` : `${formatSynthSummary(summary)}\n`);
    });
}
