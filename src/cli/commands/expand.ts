import { InvalidArgumentError, type Command } from 'commander';
import { audienceUids, expandCampaigns, DEFAULT_TOP, DEFAULT_MIN_SEEDS, type CampaignResult } from '../../expand/index.js';
import { formatScore } from '../../expand/score-format.js';
import { defaultCheckpoint } from '../../pipeline/run-train.js';
import { writeReport } from '../../pipeline/report/write-report.js';
import { join } from 'node:path';
import { nonNegativeIntArg, positiveIntArg } from '../args.js';
import { configFrom, logLine, withConfigOptions, type CommonOpts } from '../common.js';
import { fmtFixed, fmtInt, table } from '../format.js';
import { progressBar } from '../progress.js';
import type { Progress } from '../../util/progress.js';
import { lockFolder } from '../../util/lock.js';

interface ExpandOpts extends CommonOpts {
  model?: string;
  campaign: string[];
  users?: string;
  lookup?: string;
  top: number;
  out: string;
  includeSeeds?: boolean;
  shard?: { index: number; count: number };
  adapt: boolean;
  minSeeds: number;
  truth?: string;
  report: boolean;
}

function shardArg(v: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(v.trim());
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) throw new InvalidArgumentError(`expected i/N with 0 <= i < N (e.g. 0/4), got "${v}"`);
  return { index: Number(m[1]), count: Number(m[2]) };
}

/** A campaign's result in a few lines: counts, the top users, where the files are. */
export function describeResult(r: CampaignResult, show = 5): string {
  const s = r.summary;
  const lines = [
    `${r.name}: ${fmtInt(s.seeds.found)} of ${fmtInt(s.seeds.given)} seeds found, ${fmtInt(s.examples.rows)} stage-1 rows, ${s.adaptation ? `${s.adaptation.steps} adaptation steps` : 'no adaptation'}; ${fmtInt(s.pool.scored)} users scored, top ${fmtInt(s.audience.size)} kept${r.dir ? ` in ${r.dir}` : ''}`,
  ];
  const n = Math.min(show, r.audience.uid.length);
  if (n > 0) lines.push(table(['  rank', 'uid', 'score'], Array.from({ length: n }, (_, i) => [`  ${r.audience.rank[i]}`, String(audienceUids(r.audience)[i]), formatScore(r.audience.score[i]!)])));
  const q = s.quality;
  if (q) lines.push(`  recall@${s.top} ${fmtFixed(q.recall)} (random ${fmtFixed(q.randomRecall)}), expected response rate ${fmtFixed(q.precision)} (oracle ${fmtFixed(q.oraclePrecision)}, random ${fmtFixed(q.randomPrecision)})`);
  for (const w of s.warnings) lines.push(`  warning: ${w}`);
  return lines.join('\n');
}

export function register(program: Command): void {
  withConfigOptions(
    program
      .command('expand')
      .description('a new campaign\'s seeds in, a ranked audience out: adapt the general model to each campaign\'s seed users (as infer does) and keep the top N users of the pool')
      .requiredOption('--campaign <files...>', 'campaign files (YAML or JSON): name, task values, seeds [, negatives] or examples')
      .option('--model <ckpt>', 'general model checkpoint (default: the last epoch infer would read)')
      .option('--users <arrow>', 'the pool: a user table (uid + user fields); default the dataset\'s users.arrow')
      .option('--lookup <arrow>', 'user table in which seeds and negatives are looked up (default: the dataset\'s, else the pool)')
      .option('--top <n>', 'audience size N', positiveIntArg, DEFAULT_TOP)
      .option('--out <dir>', 'output directory: <dir>/<campaign>/audience.csv, audience.parquet, summary.json', 'output/expand')
      .option('--include-seeds', 'keep the seeds themselves in the audience')
      .option('--shard <i/N>', 'score only the i-th (from 0) of N equal slices of the pool; combine with `metaheac merge`', shardArg)
      .option('--no-adapt', 'score with the general model, without adaptation (a baseline)')
      .option('--min-seeds <n>', 'warn when fewer seeds are found', nonNegativeIntArg, DEFAULT_MIN_SEEDS)
      .option('--truth <arrow>', 'synthetic truth (synth\'s campaigns/truth.arrow): report recall@N and expected response rate')
      .option('--no-report', 'do not write the HTML report (DIR/report.html) of the expansions in DIR'),
  ).action(async (opts: ExpandOpts) => {
    const cfg = configFrom(opts);
    lockFolder(opts.out, 'expand or merge');
    const model = opts.model ?? defaultCheckpoint(cfg);
    let bar: Progress | null = null;
    const results = await expandCampaigns({
      config: cfg,
      model,
      campaigns: opts.campaign,
      users: opts.users,
      lookup: opts.lookup,
      top: opts.top,
      includeSeeds: opts.includeSeeds,
      shard: opts.shard,
      outDir: opts.out,
      adapt: opts.adapt,
      minSeeds: opts.minSeeds,
      truth: opts.truth,
      log: logLine,
      onProgress: (ev) => {
        if (ev.phase !== 'scoring') return;
        (bar ??= progressBar(`score pool (${opts.campaign.length} campaign${opts.campaign.length > 1 ? 's' : ''})`, ev.rowsTotal)).update(ev.rowsScored);
      },
    }).finally(() => (bar as Progress | null)?.stop());
    // every campaign folder in DIR, this run's and earlier ones'
    if (opts.report) logLine(`report written to ${(await writeReport([opts.out], join(opts.out, 'report.html'))).out}`);
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(results.map((r) => ({ name: r.name, dir: r.dir, summary: { ...r.summary, pool: { ...r.summary.pool, histogram: undefined } } })), null, 2)}\n`);
      return;
    }
    process.stdout.write(`${results.map((r) => describeResult(r)).join('\n\n')}\n`);
  });
}
