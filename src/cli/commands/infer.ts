import type { Command } from 'commander';
import { runInfer } from '../../pipeline/run-infer.js';
import { splitTable, taskLine } from '../eval-text.js';
import { cliReporter, configFrom, interruptible, logLine, withConfigOptions, withOps, type CommonOpts } from '../common.js';
import { besideMetrics } from '../../pipeline/report/campaigns-csv.js';
import { writeReport } from '../../pipeline/report/write-report.js';

export function register(program: Command): void {
  withConfigOptions(
    program
      .command('infer')
      .description('adapt the general model to each test task\'s seeds and evaluate on its candidates (PaddleRec: infer_meta.py -m config.yaml)')
      .option('--no-tasks', 'do not print the per-task lines')
      .option('--no-report', 'do not write the HTML report (report.html) beside the metrics'),
  ).action(async (opts: CommonOpts & { tasks: boolean; report: boolean }) => {
    interruptible();
    const cfg = configFrom(opts);
    const print = !opts.json && opts.tasks;
    const res = await withOps(cfg, (ops) => runInfer(cfg, ops, cliReporter, print ? (s, t) => process.stdout.write(`${taskLine(s, t)}\n`) : undefined));
    if (opts.report) {
      for (const r of res) logLine(`report written to ${(await writeReport([r.metricsPath], besideMetrics(r.metricsPath, 'report.html'))).out}`);
    }
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
      return;
    }
    for (const r of res) {
      process.stdout.write(`\n${r.epoch === "best" ? "best validation checkpoint" : `epoch ${r.epoch}`} (${r.checkpoint})\n${splitTable(r.splits)}\n`);
      logLine(`metrics written to ${r.metricsPath}`);
    }
  });
}
