/**
 * The report page: one self-contained HTML file (inline SVG charts, inline CSS, a few lines of
 * inline script to sort tables; nothing fetched when it is opened), laid out for a laptop screen
 * and for print. Every number in a table cell also sits, unrounded, in its data-value attribute.
 */
import { stringify as toYaml } from 'yaml';
import { version as vegaVersion } from 'vega';
import { version as vegaLiteVersion } from 'vega-lite';
import { versions } from '../../util/versions.js';
import { REFERENCES } from '../../data/reference.js';
import { campaignChart, lossChart, validationChart, ORACLE, splitChart, SPLIT_METRICS, type CampaignPoint, type SplitBar } from './charts.js';
import type { PartRecord, ReportRun, SplitRecord, TaskRecord } from './runs.js';
import { PAGE_SCRIPT, PAGE_STYLE } from './page-assets.js';
import { esc, figure, fixed, htmlTable, int, section, txt } from './html-parts.js';
import { expandSection } from './expand-section.js';
import { besideMetrics } from './campaigns-csv.js';

async function trainingSection(runs: ReportRun[]): Promise<string> {
  const withLoss = runs.filter((r) => r.loss && r.loss.length > 0);
  const withTrain = runs.filter((r) => r.train);
  if (!withLoss.length && !withTrain.length) return '';
  const body: string[] = [];
  if (withLoss.length) {
    const { svg, window } = await lossChart(
      withLoss.map((r) => ({ run: r.name, losses: r.loss!.map((p) => p.loss) })),
      720,
    );
    body.push(
      figure(
        'loss',
        svg,
        `Training loss per step${window > 1 ? `, as the mean of the last ${window} steps` : ''}. MetaHeac's is the query loss after each task's inner step; the no-meta baseline's the loss of its Adam step. Every step of either sees the same number of rows.`,
      ),
    );
  }
  const validated = withTrain.filter((r) => r.train!.validation?.points.length);
  if (validated.length) {
    const svg = await validationChart(
      validated.map((r) => ({ run: r.name, points: r.train!.validation!.points, best: r.train!.validation!.best?.step ?? null })),
      720,
    );
    const stops = validated.map((r) => {
      const v = r.train!.validation!;
      return `${esc(r.name)}: ${v.aids.length} held-out training campaigns, best at step ${v.best?.step ?? '–'}${v.stoppedAt ? `, stopped early at step ${v.stoppedAt.step}` : ''}`;
    });
    body.push(figure('validation', svg, `Validation during training: the held-out training campaigns adapted to and scored as test campaigns are (the diamond is the best GAUC, the checkpoint in best/). ${stops.join('; ')}.`));
  }
  if (withTrain.length) {
    body.push(
      htmlTable(
        'training',
        [{ label: 'run' }, { label: 'mode' }, { label: 'epochs', num: true }, { label: 'steps', num: true }, { label: 'time (s)', num: true }, { label: 'rows/s', num: true }, { label: 'final loss', num: true }, { label: 'parameters', num: true }, { label: 'seed', num: true }],
        withTrain.map((r) => {
          const t = r.train!;
          return [txt(r.name), txt(t.mode), int(t.epochs), int(t.epochs * t.stepsPerEpoch), fixed(t.seconds, 1), { text: t.rowsPerSecond === null ? '–' : Math.round(t.rowsPerSecond).toLocaleString('en-US'), value: t.rowsPerSecond }, fixed(t.finalLoss), int(t.parameters), { text: t.seed === undefined ? '–' : String(t.seed), value: t.seed ?? null }];
        }),
      ),
    );
  }
  return section('training', 'Training', body);
}

const splitNames = (runs: ReportRun[]): string[] => [...new Set(runs.flatMap((r) => r.metrics?.splits.map((s) => s.name) ?? []))];

const REFERENCES_NOTE =
  " Two weaker references mark how much of that is within reach: the category-level scorer knows each campaign's latent category but not the campaign, the ad-agnostic one gives a user the same score for every ad.";

async function evaluationSection(runs: ReportRun[]): Promise<string> {
  const evaluated = runs.filter((r) => r.metrics);
  if (!evaluated.length) return '';
  const splits = splitNames(evaluated);
  const bars: SplitBar[] = [];
  const metricOf = (s: SplitRecord): Record<(typeof SPLIT_METRICS)[number], number | null> => ({ AUC: s.auc, GAUC: s.gauc, 'P@5%': s.precision, 'R@5%': s.recall });
  for (const r of evaluated) {
    for (const s of r.metrics!.splits) {
      for (const [metric, value] of Object.entries(metricOf(s))) if (value !== null && Number.isFinite(value)) bars.push({ series: r.name, split: s.name, metric, value });
    }
  }
  // the oracle is a property of the data: take it from the first run that has it, per split
  for (const split of splits) {
    const o = evaluated.map((r) => r.metrics!.splits.find((s) => s.name === split)?.oracle).find((x) => x);
    if (o?.auc !== null && o?.auc !== undefined) bars.push({ series: ORACLE, split, metric: 'AUC', value: o.auc });
    if (o?.gauc !== null && o?.gauc !== undefined) bars.push({ series: ORACLE, split, metric: 'GAUC', value: o.gauc });
  }
  const svg = await splitChart(
    bars,
    evaluated.map((r) => r.name),
    splits,
    190,
  );
  // synth's reference scorers, where the data carries them
  const refs = REFERENCES.filter((k) => evaluated.some((r) => r.metrics!.splits.some((s) => s.reference?.[k])));
  const rows = evaluated.flatMap((r) =>
    r.metrics!.splits.map((s) => [
      txt(r.name),
      txt(s.name),
      int(s.tasks),
      int(s.rows),
      fixed(s.auc),
      fixed(s.gauc),
      fixed(s.precision),
      fixed(s.recall),
      fixed(s.logloss),
      fixed(s.oracle?.auc ?? null),
      fixed(s.oracle?.gauc ?? null),
      fixed(s.seconds, 1),
    ]),
  );
  return section('evaluation', 'Evaluation', [
    figure('splits', svg, `Per split, each run adapted to every test campaign's seeds and scored on its candidates. AUC pools every candidate; GAUC is the mean of the campaigns' AUCs; P@5% and R@5% are the precision and recall of each campaign's top 5%, averaged. The oracle scores with the true response probability the synthetic data carries: the best any model can do.${refs.length ? REFERENCES_NOTE : ''}`),
    htmlTable(
      'evaluation',
      [
        { label: 'run' },
        { label: 'split' },
        { label: 'tasks', num: true },
        { label: 'candidates', num: true },
        { label: 'AUC', num: true },
        { label: 'GAUC', num: true },
        { label: 'P@5%', num: true },
        { label: 'R@5%', num: true },
        { label: 'log loss', num: true },
        { label: 'oracle AUC', num: true },
        { label: 'oracle GAUC', num: true },
        { label: 'time (s)', num: true, title: 'adaptation and scoring of the split' },
      ],
      rows,
    ),
    // the reference scorers are the data's, the same for every run: a table of their own keeps the one above narrow
    ...(refs.length
      ? [
          htmlTable(
            'references',
            [{ label: 'split' }, ...refs.flatMap((k) => [{ label: `${k} AUC`, num: true }, { label: `${k} GAUC`, num: true }])],
            splits.map((split) => {
              const ref = evaluated.map((r) => r.metrics!.splits.find((s) => s.name === split)?.reference).find((x) => x);
              return [txt(split), ...refs.flatMap((k) => [fixed(ref?.[k]?.auc ?? null), fixed(ref?.[k]?.gauc ?? null)])];
            }),
          ),
        ]
      : []),
  ]);
}

async function campaignsSection(runs: ReportRun[]): Promise<string> {
  const evaluated = runs.filter((r) => r.metrics && r.metrics.splits.some((s) => s.perTask.length));
  if (!evaluated.length) return '';
  const splits = splitNames(evaluated);
  const pointsOf = (r: ReportRun): { points: CampaignPoint[]; left: number } => {
    const all = r.metrics!.splits.flatMap((s) => s.perTask.map((t) => ({ split: s.name, t })));
    const points = all.filter(({ t }) => t.seeds > 0 && t.auc !== null && Number.isFinite(t.auc)).map(({ split, t }) => ({ aid: t.aid, split, seeds: t.seeds, auc: t.auc!, rows: t.rows }));
    return { points, left: all.length - points.length };
  };
  const per = evaluated.map((r) => ({ run: r, ...pointsOf(r) }));
  const every = per.flatMap((p) => p.points);
  const maxSeeds = Math.max(2, ...every.map((p) => p.seeds));
  const minAuc = Math.min(0.5, ...every.map((p) => p.auc));
  // a margin on the log axis so that campaigns with one seed do not sit on the frame
  const domain = { seeds: [0.7, maxSeeds * 1.4] as [number, number], auc: [Math.floor(minAuc * 10) / 10, 1] as [number, number] };
  const charts: string[] = [];
  for (const p of per) {
    const svg = await campaignChart(p.points, p.run.name, splits, domain, 400);
    const note = p.left ? ` ${p.left} campaign${p.left > 1 ? 's' : ''} without seeds or with a one-class candidate set (AUC undefined) not drawn.` : '';
    charts.push(figure(`campaigns:${p.run.name}`, svg, `${esc(p.run.name)}: one point per campaign; hover for its aid.${note}`));
  }
  // one row per campaign, the runs' results side by side (joined on split and aid)
  const key = (split: string, aid: number): string => `${split}\u0000${aid}`;
  const keys = new Map<string, { split: string; t: TaskRecord }>();
  for (const r of evaluated) for (const s of r.metrics!.splits) for (const t of s.perTask) if (!keys.has(key(s.name, t.aid))) keys.set(key(s.name, t.aid), { split: s.name, t });
  const lookup = evaluated.map((r) => new Map<string, TaskRecord>(r.metrics!.splits.flatMap((s) => s.perTask.map((t) => [key(s.name, t.aid), t] as [string, TaskRecord]))));
  const rows = [...keys.entries()].map(([k, { split, t }]) => [
    txt(split),
    int(t.aid),
    int(t.seeds),
    int(t.seedRows),
    int(t.rows),
    int(t.positives),
    ...lookup.flatMap((m) => {
      const x = m.get(k);
      return [fixed(x?.auc ?? null), fixed(x?.precision ?? null), fixed(x?.recall ?? null)];
    }),
  ]);
  const multi = evaluated.length > 1;
  const header = [
    { label: 'split' },
    { label: 'aid', num: true },
    { label: 'seeds', num: true, title: 'positives among the stage-1 rows' },
    { label: 'seed rows', num: true, title: 'stage-1 rows adapted on' },
    { label: 'candidates', num: true, title: 'stage-2 rows scored' },
    { label: 'positives', num: true, title: 'positives among the candidates' },
    ...evaluated.flatMap((r) => ['AUC', 'P@5%', 'R@5%'].map((m) => ({ label: multi ? `${m} ${r.name}` : m, num: true }))),
  ];
  const csv = evaluated.filter((r) => r.metricsPath).map((r) => `<code>${esc(besideMetrics(r.metricsPath!, 'campaigns.csv'))}</code>`);
  return section('campaigns', 'Per campaign', [
    `<div class="row">${charts.join('\n')}</div>`,
    `<p class="note">Every campaign, one row each; click a column to sort. The same table is written as CSV beside each run's metrics${csv.length ? `: ${csv.join(', ')}` : ''}.</p>`,
    `<div class="scroll">${htmlTable('campaigns', header, rows, true)}</div>`,
  ]);
}

function partsTable(parts: PartRecord[]): string {
  return htmlTable(
    'data',
    [{ label: 'part' }, { label: 'rows', num: true }, { label: 'tasks', num: true }, { label: 'positives', num: true }, { label: 'label rate', num: true }, { label: 'positives per task: min / median / p90 / max', num: true }],
    parts.map((p) => {
      const d = p.positivesPerTask;
      return [txt(p.name), int(p.rows), int(p.tasks), int(p.positives), { text: p.labelRate === null ? '–' : `${(100 * p.labelRate).toFixed(2)}%`, value: p.labelRate }, txt(d ? `${d.min} / ${d.median} / ${d.p90} / ${d.max}` : '–')];
    }),
  );
}

/** Everything needed to reproduce each run: its files, seed, versions, config and data. */
function runsSection(runs: ReportRun[]): string {
  const blocks = runs.map((r) => {
    const ctx = r.train ?? r.metrics;
    const parts = [...(r.train?.data?.parts ?? []), ...(r.metrics?.data?.parts ?? [])].filter((p, i, all) => all.findIndex((q) => q.name === p.name) === i);
    const schema = r.train?.data?.schema ?? r.metrics?.data?.schema;
    const fields = schema ? ['user_single', 'user_multi', 'task'].map((g) => `${g.replace('_', ' ')}: ${schema[g as keyof typeof schema].map((f) => `${f.name} ${f.max_idx}${f.width === undefined ? '' : ` [${f.width}]`}`).join(', ') || '–'}`) : [];
    const v = ctx?.versions;
    const e = r.expansion;
    if (e) {
      const s = e[0]!.summary;
      const facts = [
        ['folder', r.dir],
        ['model', s.model],
        ['campaigns', e.map((c) => c.summary.campaign).join(', ')],
        ['audience', `top ${s.top.toLocaleString('en-US')}, seeds ${s.includeSeeds ? 'included' : 'left out'}, ${s.adaptation ? 'adapted to each campaign' : 'the general model, not adapted'}`],
      ];
      return `<article class="run"><h3>${esc(r.name)}: expansion</h3>\n<dl>${facts.map(([k, x]) => `<dt>${esc(k!)}</dt><dd>${esc(x!)}</dd>`).join('')}</dl></article>`;
    }
    const facts = [
      ['folder', r.dir],
      ...(r.metricsPath ? [['metrics', r.metricsPath]] : []),
      ...(r.metrics ? [['checkpoint', r.metrics.checkpoint]] : []),
      ['seed', ctx?.seed === undefined ? 'not recorded' : String(ctx.seed)],
      ['config file', ctx?.configSource ?? (ctx?.config ? 'defaults and overrides' : 'not recorded')],
      ['versions', v ? Object.entries(v).map(([k, x]) => `${k} ${x}`).join(', ') : 'not recorded'],
    ];
    const config = r.train?.config ?? r.metrics?.config;
    return `<article class="run"><h3>${esc(r.name)}</h3>
<dl>${facts.map(([k, x]) => `<dt>${esc(k!)}</dt><dd>${esc(x!)}</dd>`).join('')}</dl>
${parts.length ? `<h4>Data</h4>${partsTable(parts)}` : ''}
${fields.length ? `<p class="fields">${fields.map(esc).join('<br>')}</p>` : ''}
${config ? `<details><summary>Config as run</summary><pre>${esc(toYaml(config))}</pre></details>` : ''}
</article>`;
  });
  return section('runs', 'Runs, data and config', blocks);
}

export interface ReportOptions {
  title?: string;
}

export async function renderReport(runs: ReportRun[], opts: ReportOptions = {}): Promise<string> {
  const title = opts.title ?? `metaheac report: ${runs.map((r) => r.name).join(' vs ')}`;
  const sections = [await trainingSection(runs), await evaluationSection(runs), await campaignsSection(runs), await expandSection(runs), runsSection(runs)].filter(Boolean);
  const nav = sections.map((s) => /<section id="([^"]+)"><h2>([^<]+)<\/h2>/.exec(s)).filter((m) => m).map((m) => `<a href="#${m![1]}">${m![2]}</a>`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${PAGE_STYLE}</style></head>
<body><header><h1>${esc(title)}</h1>
<p class="meta">Made ${esc(new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC'))} by metaheac ${esc(versions().metaheac)} (charts: Vega ${esc(vegaVersion)}, Vega-Lite ${esc(vegaLiteVersion)}). <nav>${nav.join(' · ')}</nav></p></header>
<main>
${sections.join('\n')}
</main>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}
