/**
 * `metaheac demo` (npm start): the whole method on the built-in synthetic data. Generates the
 * demo dataset when absent, meta-trains and evaluates MetaHeac, trains and evaluates the
 * no-meta baseline the same way, and prints oracle / MetaHeac / no-meta for hot and cold;
 * then expands one cold campaign's audience with each and compares them with the truth.
 */
import { existsSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { loadConfig, type LoadedConfig } from '../../config/config.js';
import { CAMPAIGNS_DIR, synthesize, TRUTH_FILE } from '../../data/synth.js';
import { REFERENCE_LABEL, REFERENCES } from '../../data/reference.js';
import { audienceUids, compareOnTruth, loadCampaignFile, readExamples, type CampaignComparison } from '../../expand/index.js';
import { formatScore } from '../../expand/score-format.js';
import type { RunOps } from '../../kernels/index.js';
import { SCHEMA_FILE } from '../../data/dataset.js';
import type { SplitResult } from '../../eval/evaluate.js';
import { runInfer } from '../../pipeline/run-infer.js';
import { defaultCheckpoint, runTrain, type TrainSummary } from '../../pipeline/run-train.js';
import { ConfigError } from '../../util/errors.js';
import { lockFolder } from '../../util/lock.js';
import { cliReporter, configFrom, interruptible, logLine, withConfigOptions, withOps, type CommonOpts } from '../common.js';
import { writeReport } from '../../pipeline/report/write-report.js';
import { fmtFixed, table } from '../format.js';
import { progressBar } from '../progress.js';

export const DEMO_CONFIG = fileURLToPath(new URL('../../../../configs/demo.yaml', import.meta.url));

/**
 * The built-in config's relative paths would resolve inside the installed package
 * (node_modules/metaheac/data): without -m, data and outputs go under the working directory
 * instead. Later -o keys still win.
 */
const DEMO_PATHS = ['runner.train_data_dir=data/demo', 'runner.test_data_dir=data/demo', 'runner.model_save_path=output/demo'];

interface Arm {
  name: string;
  train: TrainSummary;
  splits: SplitResult[];
}

function armConfig(cfg: LoadedConfig, sub: string, meta: boolean): LoadedConfig {
  const dir = join(cfg.runner.model_save_path, sub);
  return { ...cfg, runner: { ...cfg.runner, model_save_path: dir, infer_load_path: dir, metrics_path: undefined }, hyper_parameters: { ...cfg.hyper_parameters, meta } };
}

interface DemoExpansion {
  c: CampaignComparison;
  top: number;
  seconds: number;
}

/** Audience size of the demo's expansion. */
const DEMO_TOP = 1000;

/**
 * Expand the cold test campaign with the most seeds with MetaHeac, the no-meta baseline and
 * the unadapted general model, and judge each audience against the synthetic truth.
 */
async function demoExpansion(cfg: LoadedConfig, ops: RunOps): Promise<DemoExpansion> {
  const dir = join(cfg.runner.train_data_dir!, CAMPAIGNS_DIR);
  const cold = readdirSync(dir).filter((f) => /^cold_\d+\.yaml$/.test(f)).sort();
  const seedsOf = (f: string): number => {
    const c = loadCampaignFile(join(dir, f));
    return 'file' in c.examples! ? readExamples(c.examples.file).label.reduce<number>((a, l) => a + l, 0) : 0;
  };
  const counts = cold.map(seedsOf);
  const pick = cold[counts.indexOf(Math.max(...counts))]!;
  const ck = (sub: string) => defaultCheckpoint(cfg, join(cfg.runner.model_save_path, sub));
  const t0 = performance.now();
  const [c] = await compareOnTruth({
    config: cfg,
    arms: [
      { name: 'MetaHeac', model: ck('meta'), adapt: true },
      { name: 'no-meta', model: ck('nometa'), adapt: true },
      { name: 'general model, unadapted', model: ck('meta'), adapt: false },
    ],
    campaigns: [join(dir, pick)],
    truth: join(dir, TRUTH_FILE),
    top: DEMO_TOP,
    ops,
    outDir: join(cfg.runner.model_save_path, 'expand'),
  });
  return { c: c!, top: DEMO_TOP, seconds: (performance.now() - t0) / 1000 };
}

function formatExpansion(x: DemoExpansion): string {
  const m = x.c.results.MetaHeac!;
  const rows = x.c.rows.map((r) => [r.name, fmtFixed(r.recall), fmtFixed(r.precision)]);
  return [
    `audience expansion: cold campaign ${x.c.campaign} (${x.c.seeds} seeds), top ${x.top} of ${m.summary.pool.scored - m.summary.pool.excludedSeeds} users, in ${x.seconds.toFixed(0)} s`,
    `MetaHeac's top users (all ${x.top} in ${m.dir}):`,
    table(['  rank', 'uid', 'score'], Array.from({ length: 5 }, (_, i) => [`  ${m.audience.rank[i]}`, String(audienceUids(m.audience)[i]), formatScore(m.audience.score[i]!)])),
    '',
    table(['audience', `recall@${x.top}`, 'expected response rate'], rows),
    `(recall: share of the truly best ${x.top} users in the audience; expected response rate: mean true probability of its users${x.c.rows.some((r) => r.name === REFERENCE_LABEL.category) ? `; ${REFERENCE_LABEL.category} and ${REFERENCE_LABEL.agnostic}: the top ${x.top} by a score that knows the campaign's latent category but not the campaign, and by one that ignores the ad` : ''})`,
  ].join('\n');
}

export function register(program: Command): void {
  withConfigOptions(
    program
      .command('demo')
      .description('the main job on the built-in synthetic data: generate it if absent, meta-train + adapt MetaHeac, the same for the no-meta baseline, one comparison table')
      .option('--no-report', 'do not write the HTML report (report.html in the output folder)'),
  ).action(
    async (opts: CommonOpts & { report: boolean }) => {
      interruptible();
      const cfg = configFrom(opts.config ? opts : { ...opts, config: DEMO_CONFIG, override: [...DEMO_PATHS, ...opts.override] });
      const log = logLine;
      const data = cfg.runner.train_data_dir;
      if (!data) throw new ConfigError(`${cfg.source}: runner.train_data_dir is not set`);
      lockFolder(cfg.runner.model_save_path, 'demo');
      const truth = join(data, CAMPAIGNS_DIR, TRUTH_FILE);
      // the built-in dataset from before synth wrote campaign files is generated again (same rows, same seed)
      const builtIn = data === loadConfig(DEMO_CONFIG).runner.train_data_dir;
      if (!existsSync(join(data, SCHEMA_FILE)) || (builtIn && !existsSync(truth))) {
        log(`generating the demo dataset in ${data}`);
        let bar: ReturnType<typeof progressBar> | null = null;
        await synthesize({ out: data, preset: 'demo', seed: cfg.runner.seed, onProgress: (d, t) => (bar ??= progressBar('synth', t)).update(d) });
        (bar as ReturnType<typeof progressBar> | null)?.stop();
      }
      const arms: Arm[] = [];
      const armDirs: string[] = [];
      let expansion: DemoExpansion | null = null;
      await withOps(cfg, async (ops) => {
        for (const [name, sub, meta] of [['MetaHeac', 'meta', true], ['no-meta', 'nometa', false]] as const) {
          const c = armConfig(cfg, sub, meta);
          log(`== ${name}: train`);
          const train = await runTrain(c, ops, cliReporter);
          log(`== ${name}: adapt and evaluate`);
          const [res] = await runInfer(c, ops, cliReporter);
          arms.push({ name, train, splits: res!.splits });
          armDirs.push(c.runner.model_save_path);
        }
        if (existsSync(truth)) {
          log('== audience expansion of one cold campaign');
          expansion = await demoExpansion(cfg, ops);
        } else log(`no ${join(CAMPAIGNS_DIR, TRUTH_FILE)} in ${data} (synth writes it): no audience expansion`);
      });
      // the expansion's audiences (one folder per arm) go on the same page as the runs
      const expansionDirs = expansion ? Object.values((expansion as DemoExpansion).c.results).flatMap((r) => (r.dir ? [r.dir] : [])) : [];
      const report = opts.report ? (await writeReport([...armDirs, ...expansionDirs], join(cfg.runner.model_save_path, 'report.html'), { title: 'metaheac demo: MetaHeac vs the no-meta baseline' })).out : null;
      const split = (a: Arm, n: string): SplitResult | undefined => a.splits.find((s) => s.name === n);
      const oracle = arms[0]!.splits;
      const row = (name: string, get: (n: string) => { auc: number; gauc: number } | null | undefined, secs: string): string[] => [
        name,
        ...['hot', 'cold'].flatMap((n) => [fmtFixed(get(n)?.auc ?? NaN), fmtFixed(get(n)?.gauc ?? NaN)]),
        secs,
      ];
      const rows = [
        row('oracle (p_true)', (n) => oracle.find((s) => s.name === n)?.oracle, ''),
        // the reference scorers of synth's data: how much of the oracle is within reach
        ...REFERENCES.filter((k) => oracle.some((s) => s.reference?.[k])).map((k) => row(REFERENCE_LABEL[k], (n) => oracle.find((s) => s.name === n)?.reference?.[k], '')),
        ...arms.map((a) => row(a.name, (n) => split(a, n), `${(a.train.seconds + a.splits.reduce((s, x) => s + x.seconds, 0)).toFixed(0)} s`)),
      ];
      if (opts.json) {
        const x = expansion as DemoExpansion | null;
        const exp = x ? { campaign: x.c.campaign, seeds: x.c.seeds, top: x.top, seconds: x.seconds, rows: x.c.rows, audience: x.c.results.MetaHeac!.dir } : null;
        process.stdout.write(`${JSON.stringify({ arms: arms.map((a) => ({ name: a.name, train: a.train, splits: a.splits.map(({ perTask: _p, ...rest }) => rest) })), expansion: exp }, null, 2)}\n`);
        return;
      }
      process.stdout.write(`\n${table(['model', 'hot AUC', 'hot GAUC', 'cold AUC', 'cold GAUC', 'time'], rows)}\n`);
      const m = split(arms[0]!, 'cold')?.gauc ?? NaN;
      const b = split(arms[1]!, 'cold')?.gauc ?? NaN;
      process.stdout.write(`\ncold GAUC: MetaHeac ${fmtFixed(m)} vs no-meta ${fmtFixed(b)} (${m > b ? 'meta-learning helps' : 'meta-learning does not help here'})\n`);
      if (report) process.stdout.write(`report (charts, every campaign): ${report}\n`);
      if (expansion) process.stdout.write(`\n${formatExpansion(expansion)}\n`);
    },
  );
}
