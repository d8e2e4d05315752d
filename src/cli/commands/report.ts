/** `metaheac report RUN [RUN ...] --out report.html`: training, evaluation and per-campaign results of runs as one HTML page. */
import type { Command } from 'commander';
import { writeReport } from '../../pipeline/report/write-report.js';
import { checkOutputFile } from '../../util/output-paths.js';

export function register(program: Command): void {
  program
    .command('report')
    .description('one self-contained HTML page (charts and tables) of training and evaluation runs: model folders, epoch folders or metrics JSON files')
    .argument('<runs...>', 'model folder (train.json / loss.json, latest evaluated epoch), epoch folder, or metrics JSON')
    .option('--out <file>', 'the HTML file to write', 'report.html')
    .option('--title <text>', 'page title (default: the runs\' names)')
    .option('--json', 'print what was written as JSON')
    .action(async (runs: string[], o: { out: string; title?: string; json?: boolean }) => {
      checkOutputFile(o.out, '--out', runs);
      const res = await writeReport(runs, o.out, o.title ? { title: o.title } : {});
      process.stdout.write(o.json ? `${JSON.stringify(res, null, 2)}\n` : `report of ${res.runs.map((r) => r.name).join(', ')} written to ${res.out}\n`);
    });
}
