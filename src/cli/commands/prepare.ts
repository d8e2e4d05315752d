/** `metaheac prepare`: raw Tencent Look-alike files to a dataset directory. */
import { Option, type Command } from 'commander';
import { progressBar, setProgressQuiet } from '../progress.js';
import { interruptible, logLine } from '../common.js';
import { nonNegativeIntArg } from '../args.js';
import { prepareRaw, maxIdxsYaml, type PrepareSummary } from '../../raw/prepare.js';
import { RAW_FILES } from '../../raw/files.js';
import type { ColdBasis } from '../../raw/split.js';
import type { MultiVocabBasis } from '../../raw/users.js';

const fmt = (n: number): string => n.toLocaleString('en-US');

/** What was read and how fast: log lines, for stderr. */
function readLines(s: PrepareSummary): string[] {
  const u = s.files.users;
  return [
    `read ${RAW_FILES.stage1}: ${fmt(s.rows.stage1)} rows; ${RAW_FILES.stage2}: ${fmt(s.rows.stage2)} rows`,
    `read ${RAW_FILES.users}: ${fmt(u.lines)} lines, ${(u.bytes / 1e6).toFixed(1)} MB in ${u.seconds.toFixed(1)} s ` +
      `(${fmt(Math.round(u.lines / Math.max(u.seconds, 1e-9)))} lines/s, ${(u.bytes / 1e6 / Math.max(u.seconds, 1e-9)).toFixed(1)} MB/s); ` +
      `${fmt(s.users.found)} of ${fmt(s.users.needed)} needed users found`,
    `dataset: ${s.outDir} (${s.seconds.toFixed(1)} s)`,
  ];
}

/** The result, one fact a line (stdout). */
function summaryLines(s: PrepareSummary): string[] {
  const counts = { train: 0, hot: 0, cold: 0 };
  for (const t of s.tasks) counts[t.split]++;
  const basis = s.coldBasis === 'positives' ? 'positives over stage 1 + stage 2' : 'stage-2 candidates';
  const lines = [
    `rows whose uid has no features (kept, user fields missing): ${fmt(s.missing.userRows.stage1)} in ${RAW_FILES.stage1}, ` +
      `${fmt(s.missing.userRows.stage2)} in ${RAW_FILES.stage2} (${fmt(s.missing.users)} uids)`,
    `rows whose aid is not in ${RAW_FILES.ads} (kept, ad fields missing): ${fmt(s.missing.adRows.stage1)} in ${RAW_FILES.stage1}, ` +
      `${fmt(s.missing.adRows.stage2)} in ${RAW_FILES.stage2}` + (s.missing.aids.length ? ` (aid ${s.missing.aids.join(', ')})` : ''),
    `tasks: ${s.tasks.length} aids, ${counts.train} train, ${counts.hot} hot, ${counts.cold} cold ` +
      `(seed ${s.seed}; cold: at most ${fmt(s.coldThreshold)} ${basis})`,
    ...Object.entries(s.parts).map(([name, p]) => `wrote ${name}: ${fmt(p.rows)} rows, ${p.tasks} tasks, ${fmt(p.positives)} positives`),
    `not written: ${fmt(s.rows.trainStage2NotWritten)} ${RAW_FILES.stage2} rows of training tasks`,
    `wrote the user table ${s.userTable.path}: ${fmt(s.userTable.users)} users in ${s.userTable.seconds.toFixed(1)} s` +
      (Object.keys(s.userTable.unseenValues).length ? `; values no row had (missing code used): ${Object.entries(s.userTable.unseenValues).map(([f, n]) => `${f} ${fmt(n)}`).join(', ')}` : '') +
      (Object.keys(s.userTable.leftOut).length ? `; users left out (no code for their value): ${Object.entries(s.userTable.leftOut).map(([f, n]) => `${f} ${fmt(n)}`).join(', ')}` : ''),
    maxIdxsYaml(s.schema),
  ];
  return lines;
}

export function register(program: Command): void {
  program
    .command('prepare')
    .description(
      `convert the raw Tencent Look-alike 2018 files (${Object.values(RAW_FILES).join(', ')}) into a dataset directory ` +
        '(schema.json + train_stage1, test_{hot,cold}_stage{1,2} .arrow parts) with the official MetaHeac preprocessing, ' +
        'and print the max_idxs line for the config',
    )
    .requiredOption('--raw <dir>', 'directory holding the four raw files')
    .requiredOption('--out <dir>', 'dataset directory to write (created if needed; an existing dataset there is replaced as a whole, at the end)')
    .addOption(new Option('--cold-basis <basis>', 'what makes a test task cold: its positives over stage 1 + 2 (official) or its stage-2 candidates (PaddleRec)').choices(['positives', 'candidates']).default('positives'))
    .option('--cold-threshold <n>', 'cold: at most this many (default 2000 positives, 4000 candidates)', nonNegativeIntArg)
    .option('--seed <n>', 'seed of the aid split (Python random.seed, as the official script)', nonNegativeIntArg, 2021)
    .addOption(new Option('--multi-vocab <basis>', 'ids numbered for multi-valued fields: every user line (official) or only the rows\' users').choices(['users', 'rows']).default('users'))
    .option('--json', 'print the summary as JSON on stdout (no progress bars)')
    .action(async (o: { raw: string; out: string; coldBasis: ColdBasis; coldThreshold?: number; seed: number; multiVocab: MultiVocabBasis; json?: boolean }) => {
      interruptible();
      if (o.json) setProgressQuiet(true);
      const summary = await prepareRaw({
        rawDir: o.raw,
        outDir: o.out,
        coldBasis: o.coldBasis,
        coldThreshold: o.coldThreshold,
        seed: o.seed,
        multiVocab: o.multiVocab,
        progress: progressBar,
      });
      if (o.json) process.stdout.write(`${JSON.stringify({ ...summary, maxIdxsYaml: maxIdxsYaml(summary.schema) }, null, 2)}\n`);
      else {
        logLine(readLines(summary).join('\n'));
        const empty = (['hot', 'cold'] as const).filter((k) => !summary.tasks.some((t) => t.split === k));
        if (empty.length === 1) {
          logLine(`note: no ${empty[0]} test task at --cold-threshold ${summary.coldThreshold}; on scaled or generated data, scale the threshold too (generate-raw --scale 0.01: --cold-threshold 20)`);
        }
        process.stdout.write(`${summaryLines(summary).join('\n')}\n`);
      }
    });
}
