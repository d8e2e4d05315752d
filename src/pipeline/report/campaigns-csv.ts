/** Every campaign's evaluation as CSV (one row per task of every split), for pandas or a spreadsheet. */
import { basename, dirname, join } from 'node:path';
import type { SplitResult } from '../../eval/evaluate.js';

export const CAMPAIGN_COLUMNS = ['split', 'aid', 'seed_rows', 'seeds', 'rows', 'positives', 'auc', 'precision_at_5pct', 'recall_at_5pct', 'adapt_steps'] as const;

/** A metric that is not defined (a one-class task's AUC) is an empty cell, which pandas reads as NaN. */
const cell = (x: number | null): string => (x === null || !Number.isFinite(x) ? '' : String(x));
const text = (s: string): string => (/[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);

export function campaignsCsv(splits: Pick<SplitResult, 'name' | 'perTask'>[]): string {
  const lines = [CAMPAIGN_COLUMNS.join(',')];
  for (const s of splits) {
    for (const t of s.perTask) {
      lines.push([text(s.name), t.aid, t.seedRows, t.seeds, t.rows, t.positives, cell(t.auc), cell(t.precision), cell(t.recall), t.adaptSteps].join(','));
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Files written beside a metrics JSON: `metrics.json` gives `campaigns.csv` / `report.html`, `m.0.json` gives `m.0.campaigns.csv`. */
export function besideMetrics(metricsPath: string, what: 'campaigns.csv' | 'report.html'): string {
  const stem = basename(metricsPath).replace(/\.json$/i, '');
  return join(dirname(metricsPath), stem === 'metrics' ? what : `${stem}.${what}`);
}
