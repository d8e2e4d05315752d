/** `metaheac import-pkl`: PaddleRec / official MetaHeac DataFrame pickles into an Arrow dataset. */
import type { Command } from 'commander';
import { loadConfig } from '../../config/config.js';
import { importPickles, pickleSources, type PickleImportResult } from '../../data/importers/pickle-import.js';
import { TRUTH_EXTRAS } from '../../data/importers/pickle-part.js';
import { schemaToJson } from '../../data/schema.js';
import { ConfigError } from '../../util/errors.js';
import { fmtInt, fmtPct, table } from '../format.js';
import { progressBar, setProgressQuiet } from '../progress.js';
import { interruptible } from '../common.js';

interface Options {
  out: string;
  maxIdxs?: string;
  config?: string;
  name?: string;
  taskFields?: string;
  exclude?: string;
  extra?: string;
  json?: boolean;
}

/** `--max-idxs '[[3,2],[124],[78]]'`: three groups of non-negative ints. */
export function parseMaxIdxs(text: string): number[][] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`--max-idxs: not valid JSON (${(e as Error).message})`);
  }
  const ok =
    Array.isArray(v) &&
    v.length === 3 &&
    v.every((g) => Array.isArray(g) && g.every((x) => Number.isInteger(x) && (x as number) >= 0));
  if (!ok) throw new ConfigError(`--max-idxs: expected three lists of non-negative ints ([[user single], [user multi], [task]]), found ${text}`);
  return v as number[][];
}

function maxIdxsFrom(o: Options): number[][] | undefined {
  if (o.maxIdxs !== undefined && o.config !== undefined) throw new ConfigError('give --max-idxs or --config, not both');
  if (o.maxIdxs !== undefined) return parseMaxIdxs(o.maxIdxs);
  if (o.config === undefined) return undefined;
  const m = loadConfig(o.config).hyper_parameters.max_idxs;
  if (!m) throw new ConfigError(`${o.config}: no hyper_parameters.max_idxs to take the vocabulary from`);
  return m;
}

const list = (s: string | undefined): string[] | undefined =>
  s === undefined ? undefined : s.split(',').map((x) => x.trim()).filter((x) => x !== '');

export function formatImport(r: PickleImportResult): string {
  const s = schemaToJson(r.schema);
  const group = (fields: { name: string; max_idx: number; width?: number }[]): string =>
    fields.map((f) => `${f.name} ${f.max_idx}${f.width === undefined ? '' : ` [${f.width}]`}`).join(', ') || '-';
  const rows = r.parts.map((p) => [p.name, fmtInt(p.rows), fmtInt(p.tasks), fmtPct(p.rows ? p.positives / p.rows : Number.NaN), `${p.seconds.toFixed(1)} s`, p.source]);
  return [
    table(['part', 'rows', 'tasks', 'label rate', 'time', 'from'], rows),
    `wrote ${r.parts.length} part(s) and schema.json to ${r.dir}; fields (name max_idx [width]):`,
    `  user single: ${group(s.user_single)}`,
    `  user multi: ${group(s.user_multi)}`,
    `  task: ${group(s.task)}`,
  ].join('\n');
}

export function register(program: Command): void {
  program
    .command('import-pkl')
    .description(
      'convert pandas DataFrame pickles (PaddleRec / official MetaHeac files: train_stage1.pkl, test_hot_stage1.pkl, ...) into an Arrow dataset folder',
    )
    .argument('<files...>', 'pickle files, or folders whose *.pkl files are all imported')
    .requiredOption('--out <dir>', 'dataset folder to write (<part>.arrow per pickle + schema.json)')
    .option('--max-idxs <json>', "the vocabulary, PaddleRec's max_idxs: '[[single...],[multi...],[task...]]' (default: the largest id found)")
    .option('--config <yaml>', 'take max_idxs from this config file')
    .option('--name <part>', 'part name for a single pickle (default: from the file name)')
    .option('--task-fields <names>', 'comma-separated task (ad) columns (default: the Tencent ad fields present)')
    .option('--exclude <names>', 'comma-separated columns to ignore')
    .option('--extra <names>', `comma-separated numeric columns kept as extras, not fields (default: ${TRUTH_EXTRAS.join(',')})`)
    .option('--json', 'print the result as JSON')
    .action(async (files: string[], o: Options) => {
      interruptible();
      if (o.json) setProgressQuiet(true);
      const maxIdxs = maxIdxsFrom(o);
      const result = await importPickles(pickleSources(files, o.name), o.out, {
        maxIdxs,
        taskFields: list(o.taskFields),
        exclude: list(o.exclude),
        extraColumns: list(o.extra),
        progress: (label, total) => progressBar(label, total, ' bytes'),
      });
      if (o.json) {
        const peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
        process.stdout.write(`${JSON.stringify({ dir: result.dir, schema: schemaToJson(result.schema), parts: result.parts, peak_rss_mib: peakRssMiB }, null, 2)}\n`);
      } else process.stdout.write(`${formatImport(result)}\n`);
    });
}
