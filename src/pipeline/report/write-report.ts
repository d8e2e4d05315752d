/** `metaheac report` and the reports `infer` and `demo` write beside their metrics: runs in, one HTML file out. */
import { writeFileAtomic } from '../../util/atomic.js';
import { renderReport, type ReportOptions } from './html.js';
import { loadRuns, type ReportRun } from './runs.js';

export interface WrittenReport {
  out: string;
  bytes: number;
  runs: { name: string; dir: string; metrics: string | null }[];
}

export async function writeReport(runPaths: string[], out: string, opts: ReportOptions = {}): Promise<WrittenReport> {
  const runs: ReportRun[] = loadRuns(runPaths);
  const html = await renderReport(runs, opts);
  writeFileAtomic(out, html);
  return { out, bytes: Buffer.byteLength(html), runs: runs.map((r) => ({ name: r.name, dir: r.dir, metrics: r.metricsPath })) };
}
