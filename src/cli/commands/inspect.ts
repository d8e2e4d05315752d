/** `metaheac inspect`: schema, and per part rows, tasks, label rate and seeds per task. */
import type { Command } from 'commander';
import { inspectDataset, type InspectReport } from '../../data/inspect.js';
import { fmtInt, fmtPct, table } from '../format.js';
import { progressBar, setProgressQuiet } from '../progress.js';
import { logLine } from '../common.js';

export function formatInspect(r: InspectReport): string {
  const group = (title: string, fields: { name: string; max_idx: number; width?: number }[]) =>
    `${title} (${fields.length}): ${fields.map((f) => `${f.name} ${f.max_idx}${f.width === undefined ? '' : ` [${f.width}]`}`).join(', ') || '-'}`;
  const parts = r.parts.map((p) => {
    const d = p.positivesPerTask;
    return [p.name, fmtInt(p.rows), fmtInt(p.tasks), fmtInt(p.positives), fmtPct(p.labelRate), d ? `${d.min} / ${d.median} / ${d.p90} / ${d.max}` : '-'];
  });
  const splits = Object.entries(r.splits).map(([k, n]) => `${k} ${n} tasks`);
  return [
    `dataset ${r.path}` + (r.dataset ? ` (id ${r.dataset.id.slice(0, 12)}, written by ${r.dataset.producer})` : ' (no manifest.json: parts unchecked)'),
    'fields (name max_idx [width]):',
    `  ${group('user single', r.schema.user_single)}`,
    `  ${group('user multi', r.schema.user_multi)}`,
    `  ${group('task', r.schema.task)}`,
    table(['part', 'rows', 'tasks', 'positives', 'label rate', 'positives/task min / median / p90 / max'], parts),
    ...(splits.length ? [`test splits: ${splits.join(', ')}`] : []),
  ].join('\n');
}

export function register(program: Command): void {
  program
    .command('inspect')
    .description('describe a dataset directory (or one part file): schema, rows, tasks, label rate, hot/cold tasks, seeds per task')
    .argument('<path>', 'dataset directory or .arrow part')
    .option('--allow-overlap', 'report test campaigns that also appear in train_stage1 (a warning) instead of refusing the dataset')
    .option('--json', 'print the report as JSON')
    .action(async (path: string, o: { json?: boolean; allowOverlap?: boolean }) => {
      if (o.json) setProgressQuiet(true);
      let bar: ReturnType<typeof progressBar> | null = null;
      const report = await inspectDataset(path, (done, total) => {
        bar ??= progressBar('inspect', total, ' parts');
        bar.update(done);
      }, { allowOverlap: o.allowOverlap, warn: logLine });
      (bar as ReturnType<typeof progressBar> | null)?.stop();
      process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatInspect(report)}\n`);
    });
}
