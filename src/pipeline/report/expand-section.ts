/**
 * The report's audience-expansion section: per campaign, the pool's score distribution with the
 * audience's cut-off, the audience size against the responders expected, and, where a synthetic
 * truth was given to `expand`, recall@N along the audience for every run beside a random audience;
 * then a sortable table of every campaign of every run.
 */
import { audienceCurveChart, ORACLE_AUDIENCE, RANDOM, scoreHistogramChart, type CurvePoint, type HistogramSeries } from './charts.js';
import { campaignName, type ExpansionCampaign } from './expansions.js';
import { esc, figure, fixed, htmlTable, int, section, txt } from './html-parts.js';
import type { ReportRun } from './runs.js';

/** Charts for this many campaigns at most; the table lists them all. */
export const CHARTED_CAMPAIGNS = 12;
const ESTIMATE = 'model\'s estimate';
const WIDTH = 200;
const TRUE = 'truth';

/** The 1000-bin histogram in at most ~60 bins over the range the scores use. */
export function coarse(histogram: number[], used: number): { users: number[]; binWidth: number } {
  const f = Math.max(1, Math.ceil(used / 60));
  const users = Array.from({ length: Math.ceil(used / f) }, (_, k) => histogram.slice(k * f, (k + 1) * f).reduce((a, b) => a + b, 0));
  return { users, binWidth: f / histogram.length };
}

async function campaignCharts(name: string, entries: { run: string; c: ExpansionCampaign }[], runs: string[]): Promise<string> {
  const lastUsed = (h: number[]): number => h.reduce((last, x, k) => (x > 0 ? k : last), -1);
  const used = Math.max(...entries.map(({ c }) => lastUsed(c.summary.pool.histogram) + 1), 1);
  const hist: HistogramSeries[] = entries.map(({ run, c }) => ({ run, ...coarse(c.summary.pool.histogram, used), cutoff: c.summary.audience.minScore }));
  const charts = [figure(`expand-scores:${name}`, await scoreHistogramChart(hist, runs, `${name}: pool scores`, WIDTH))];

  const responders: CurvePoint[] = [];
  const recall: CurvePoint[] = [];
  const refs = new Set<string>();
  const kinds = new Set<string>();
  for (const { run, c } of entries) {
    c.expected.n.forEach((n, i) => responders.push({ series: run, kind: ESTIMATE, n, value: c.expected.responders[i]! }));
    if (c.expected.n.length) kinds.add(ESTIMATE);
    const q = c.summary.quality;
    const curve = q?.curve;
    if (!curve) continue;
    kinds.add(TRUE);
    curve.n.forEach((n, i) => {
      if (curve.precision[i] !== null) responders.push({ series: run, kind: TRUE, n, value: n * curve.precision[i]! });
      if (curve.recall[i] !== null) recall.push({ series: run, kind: TRUE, n, value: curve.recall[i]! });
    });
  }
  // the references are properties of the pool and the truth: from the first run that has them
  const withTruth = entries.find(({ c }) => c.summary.quality?.curve);
  if (withTruth) {
    const q = withTruth.c.summary.quality!;
    const curve = q.curve!;
    curve.n.forEach((n, i) => {
      if (q.randomPrecision !== null) responders.push({ series: RANDOM, kind: TRUE, n, value: n * q.randomPrecision });
      if (curve.oraclePrecision[i] !== null) responders.push({ series: ORACLE_AUDIENCE, kind: TRUE, n, value: n * curve.oraclePrecision[i]! });
      if (curve.randomRecall[i] !== null) recall.push({ series: RANDOM, kind: TRUE, n, value: curve.randomRecall[i]! });
    });
    refs.add(RANDOM).add(ORACLE_AUDIENCE);
  }
  if (responders.length) {
    const svg = await audienceCurveChart(responders, runs, [...refs], [...kinds], `${name}: expected responders`, 'responders expected in the top N', WIDTH);
    charts.push(figure(`expand-responders:${name}`, svg));
  }
  if (recall.length) {
    const svg = await audienceCurveChart(recall, runs, [RANDOM], [TRUE], `${name}: recall@N`, 'share of the truly best N found', WIDTH);
    charts.push(figure(`expand-recall:${name}`, svg));
  }
  return `<div class="row">${charts.join('\n')}</div>`;
}

export async function expandSection(all: ReportRun[]): Promise<string> {
  const runs = all.filter((r) => r.expansion);
  if (!runs.length) return '';
  const names = runs.map((r) => r.name);
  const byCampaign = new Map<string, { run: string; c: ExpansionCampaign }[]>();
  for (const r of runs) for (const c of r.expansion!) byCampaign.set(campaignName(c), [...(byCampaign.get(campaignName(c)) ?? []), { run: r.name, c }]);
  const campaigns = [...byCampaign.keys()].sort();
  const truth = runs.some((r) => r.expansion!.some((c) => c.summary.quality?.curve));
  const body: string[] = [
    `<p class="note">${runs.length} expansion${runs.length > 1 ? 's' : ''} (${names.map(esc).join(', ')}) of ${campaigns.length} campaign${campaigns.length > 1 ? 's' : ''}${campaigns.length > CHARTED_CAMPAIGNS ? `; charts for the first ${CHARTED_CAMPAIGNS} by name, the table lists every one` : ''}. Per campaign: the pool's users per score, dashed where each audience starts; the responders expected among the top N, as the model estimates them (its scores summed)${truth ? ' and as they truly are (p_true summed), beside a random audience and the truly best N; and recall@N, the share of the truly best N users that the top N holds (a random audience finds N / eligible users)' : ''}.</p>`,
  ];
  for (const name of campaigns.slice(0, CHARTED_CAMPAIGNS)) body.push(`<h3>${esc(name)}</h3>`, await campaignCharts(name, byCampaign.get(name)!, names));
  const rows = runs.flatMap((r) =>
    r.expansion!.map((c) => {
      const s = c.summary;
      const q = s.quality;
      return [
        txt(r.name),
        txt(campaignName(c)),
        int(s.seeds.found),
        int(s.seeds.given),
        int(s.examples.rows),
        int(s.adaptation?.steps ?? null),
        int(s.pool.scored),
        int(s.audience.size),
        fixed(s.audience.minScore),
        fixed(s.pool.quantiles.p50 ?? null, 3),
        fixed(s.pool.quantiles.p99 ?? null, 3),
        fixed(q?.recall ?? null),
        fixed(q?.precision ?? null),
        fixed(q?.oraclePrecision ?? null),
        fixed(q?.randomRecall ?? null),
        fixed(q?.randomPrecision ?? null),
      ];
    }),
  );
  const header = [
    { label: 'run' },
    { label: 'campaign' },
    { label: 'seeds found', num: true },
    { label: 'seeds given', num: true },
    { label: 'stage-1 rows', num: true },
    { label: 'adapt steps', num: true },
    { label: 'pool', num: true, title: 'users scored' },
    { label: 'N', num: true, title: 'audience size' },
    { label: 'min score', num: true, title: 'the audience\'s lowest score' },
    { label: 'pool p50', num: true },
    { label: 'pool p99', num: true },
    { label: 'recall@N', num: true, title: 'share of the truly best N in the audience (synthetic truth)' },
    { label: 'response rate', num: true, title: 'mean true response probability of the audience' },
    { label: 'oracle rate', num: true, title: 'the truly best N\'s mean true probability' },
    { label: 'random recall', num: true },
    { label: 'random rate', num: true },
  ];
  body.push(`<div class="scroll">${htmlTable('expansions', header, rows, true)}</div>`);
  return section('expansion', 'Audience expansion', body);
}
