/**
 * The report's charts: Vega-Lite specifications compiled and rendered to static SVG by Vega in
 * Node (no browser, no canvas, no network), so the HTML carries finished pictures. Vega's static
 * SVG has no tooltips, so each point's description (its aria-label) also becomes an SVG <title>,
 * which browsers show on hover and which needs no script.
 */
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** Colours for runs (Vega's tableau10 order), the oracle in grey, splits by temperature. */
export const RUN_COLOURS = ['#4c78a8', '#f58518', '#54a24b', '#b279a2', '#9d755d', '#e45756', '#72b7b2', '#eeca3b'];
export const ORACLE = 'oracle (p_true)';
const ORACLE_COLOUR = '#9a9a9a';
const SPLIT_STYLE: Record<string, { colour: string; shape: string }> = {
  hot: { colour: '#d8472b', shape: 'circle' },
  cold: { colour: '#2f6fb5', shape: 'triangle-up' },
};
const OTHER_SPLIT = { colour: '#7a7a7a', shape: 'square' };

const CONFIG = {
  font: 'DejaVu Sans, Helvetica, Arial, sans-serif',
  background: 'white',
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal' as const },
  legend: { labelFontSize: 11, titleFontSize: 12, orient: 'bottom' as const, direction: 'horizontal' as const },
  header: { labelFontSize: 12, titleFontSize: 12 },
};

/** The marks' aria-labels as <title> children: hover text in any browser, no script. */
export function withTitles(svg: string): string {
  return svg.replace(/<path ([^>]*?)aria-label="([^"]*)"([^>]*?)\/>/g, (_m, a: string, label: string, b: string) => `<path ${a}aria-label="${label}"${b}><title>${label}</title></path>`);
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile({ ...spec, config: { ...CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec).spec), { renderer: 'none' });
  try {
    return withTitles(await view.toSVG());
  } finally {
    view.finalize();
  }
}

const runScale = (names: string[], withOracle = false) => ({
  domain: withOracle ? [...names, ORACLE] : names,
  range: [...names.map((_, i) => RUN_COLOURS[i % RUN_COLOURS.length]!), ...(withOracle ? [ORACLE_COLOUR] : [])],
});

export interface LossSeries {
  run: string;
  losses: (number | null)[];
}

/**
 * Training loss against the step, one line per run, as a trailing mean (raw per-step losses
 * are too noisy to compare runs); long curves are thinned to about 1,500 points per line.
 */
export async function lossChart(series: LossSeries[], width: number): Promise<{ svg: string; window: number }> {
  const longest = Math.max(...series.map((s) => s.losses.length));
  const window = Math.max(1, Math.round(longest / 40));
  const every = Math.max(1, Math.ceil(longest / 1500));
  const values = series.flatMap((s) => s.losses.map((loss, step) => ({ run: s.run, step: step + 1, loss })));
  const svg = await renderSvg({
    width,
    height: 260,
    data: { values },
    transform: [
      { filter: 'isValid(datum.loss) && isFinite(datum.loss)' },
      { window: [{ op: 'mean', field: 'loss', as: 'smoothed' }], frame: [-(window - 1), 0], groupby: ['run'], sort: [{ field: 'step' }] },
      { filter: `datum.step % ${every} === 0 || datum.step === 1` },
    ],
    mark: { type: 'line', strokeWidth: 2, interpolate: 'linear' },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field: 'smoothed', type: 'quantitative', title: window > 1 ? `loss (mean of the last ${window} steps)` : 'loss', scale: { zero: false } },
      color: { field: 'run', type: 'nominal', title: 'run', scale: runScale(series.map((s) => s.run)) },
      description: { field: 'run' },
    },
  });
  return { svg, window };
}

export interface ValidationSeries {
  run: string;
  points: { step: number; auc: number | null; gauc: number | null }[];
  /** The step of the best evaluation (best/), or null. */
  best: number | null;
}

/** Validation AUC and GAUC at each evaluation during training, the best one marked. */
export async function validationChart(series: ValidationSeries[], width: number): Promise<string> {
  const values = series.flatMap((s) =>
    s.points.flatMap((p) => [
      { run: s.run, step: p.step, metric: 'GAUC', value: p.gauc, best: p.step === s.best },
      { run: s.run, step: p.step, metric: 'AUC', value: p.auc, best: p.step === s.best },
    ]),
  );
  return renderSvg({
    width,
    height: 220,
    data: { values: values.filter((v) => v.value !== null && Number.isFinite(v.value)) },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field: 'value', type: 'quantitative', title: 'validation', scale: { zero: false } },
      color: { field: 'run', type: 'nominal', title: 'run', scale: runScale(series.map((s) => s.run)) },
      strokeDash: { field: 'metric', type: 'nominal', title: 'metric' },
      description: { field: 'run' },
    },
    layer: [
      { mark: { type: 'line', strokeWidth: 2, point: true } },
      { transform: [{ filter: 'datum.best' }], mark: { type: 'point', shape: 'diamond', size: 140, filled: true } },
    ],
  });
}

export interface SplitBar {
  series: string;
  split: string;
  metric: string;
  value: number;
}

export const SPLIT_METRICS = ['AUC', 'GAUC', 'P@5%', 'R@5%'] as const;

/** Each metric in its own panel, splits along x, one bar per run (and the oracle, where known). */
export async function splitChart(bars: SplitBar[], runs: string[], splits: string[], panelWidth: number): Promise<string> {
  const withOracle = bars.some((b) => b.series === ORACLE);
  return renderSvg({
    data: { values: bars.map((b) => ({ ...b, label: `${b.series}, ${b.split}: ${b.metric} ${b.value.toFixed(4)}` })) },
    facet: { column: { field: 'metric', type: 'nominal', sort: [...SPLIT_METRICS], title: null } },
    spec: {
      width: panelWidth,
      height: 200,
      mark: { type: 'bar' },
      encoding: {
        x: { field: 'split', type: 'nominal', sort: splits, title: null, axis: { labelAngle: 0 } },
        xOffset: { field: 'series', type: 'nominal', sort: withOracle ? [...runs, ORACLE] : runs },
        y: { field: 'value', type: 'quantitative', title: null },
        color: { field: 'series', type: 'nominal', title: null, scale: runScale(runs, withOracle) },
        description: { field: 'label' },
      },
    },
    resolve: { scale: { y: 'independent' } },
  });
}

export interface CampaignPoint {
  aid: number;
  split: string;
  seeds: number;
  auc: number;
  rows: number;
}

export const splitStyle = (split: string) => SPLIT_STYLE[split] ?? OTHER_SPLIT;

/** One point per campaign: its AUC against its seed count (log scale), hot and cold by colour and shape. */
export async function campaignChart(points: CampaignPoint[], title: string, splits: string[], domain: { seeds: [number, number]; auc: [number, number] }, width: number): Promise<string> {
  return renderSvg({
    title: { text: title, fontSize: 13, anchor: 'start' },
    width,
    height: 260,
    data: { values: points.map((p) => ({ ...p, label: `aid ${p.aid} (${p.split}): ${p.seeds} seeds, ${p.rows} candidates, AUC ${p.auc.toFixed(4)}` })) },
    mark: { type: 'point', filled: true, size: 42, opacity: 0.8 },
    encoding: {
      x: { field: 'seeds', type: 'quantitative', title: 'seeds (positives in stage 1, log scale)', scale: { type: 'log', domain: domain.seeds, nice: false } },
      y: { field: 'auc', type: 'quantitative', title: 'AUC', scale: { domain: domain.auc } },
      color: { field: 'split', type: 'nominal', title: 'split', scale: { domain: splits, range: splits.map((s) => splitStyle(s).colour) } },
      shape: { field: 'split', type: 'nominal', scale: { domain: splits, range: splits.map((s) => splitStyle(s).shape) } },
      description: { field: 'label' },
    },
  });
}

export const RANDOM = 'random';
export const ORACLE_AUDIENCE = 'truly best N';

export interface HistogramSeries {
  run: string;
  /** Users per score bin, bins of equal width starting at 0. */
  users: number[];
  binWidth: number;
  /** The audience's lowest score: the cut-off. */
  cutoff: number | null;
}

/** The pool's scores, one step line per run, the audience's cut-off as a dashed rule (square-root y: the audience is in the thin tail). */
export async function scoreHistogramChart(series: HistogramSeries[], runs: string[], title: string, width: number): Promise<string> {
  const values = series.flatMap((s) => s.users.map((users, k) => ({ run: s.run, score: k * s.binWidth, users })));
  const cutoffs = series.filter((s) => s.cutoff !== null).map((s) => ({ run: s.run, cutoff: s.cutoff, label: `${s.run}: the audience starts at score ${s.cutoff!.toFixed(4)}` }));
  const colour = { field: 'run', type: 'nominal' as const, title: null, scale: runScale(runs) };
  return renderSvg({
    title: { text: title, fontSize: 12, anchor: 'start' },
    width,
    height: 180,
    layer: [
      {
        data: { values },
        mark: { type: 'line', interpolate: 'step-after', strokeWidth: 1.5 },
        encoding: {
          x: { field: 'score', type: 'quantitative', title: 'score' },
          y: { field: 'users', type: 'quantitative', title: 'pool users (√ scale)', scale: { type: 'sqrt' } },
          color: { ...colour, legend: { columns: 1 } },
          description: { field: 'run' },
        },
      },
      {
        data: { values: cutoffs },
        mark: { type: 'rule', strokeDash: [4, 3] },
        encoding: { x: { field: 'cutoff', type: 'quantitative' }, color: colour, description: { field: 'label' } },
      },
    ],
  });
}

export interface CurvePoint {
  series: string;
  kind: string;
  n: number;
  value: number;
}

/**
 * Lines along the audience size: the runs in their colours, the references (random, the truly
 * best) in grey; `kind` tells two lines of one run apart by dash.
 */
export async function audienceCurveChart(points: CurvePoint[], runs: string[], references: string[], kinds: string[], title: string, yTitle: string, width: number): Promise<string> {
  const domain = [...runs, ...references];
  const range = [...runs.map((_, i) => RUN_COLOURS[i % RUN_COLOURS.length]!), ...references.map((_, i) => (i === 0 ? '#9a9a9a' : '#444444'))];
  return renderSvg({
    title: { text: title, fontSize: 12, anchor: 'start' },
    width,
    height: 180,
    data: { values: points.map((p) => ({ ...p, line: `${p.series} ${p.kind}` })) },
    mark: { type: 'line', strokeWidth: 1.75, point: false },
    encoding: {
      x: { field: 'n', type: 'quantitative', title: 'audience size N' },
      y: { field: 'value', type: 'quantitative', title: yTitle },
      color: { field: 'series', type: 'nominal', title: null, scale: { domain, range }, legend: { columns: kinds.length > 1 ? 2 : 1, labelLimit: 160 } },
      strokeDash: { field: 'kind', type: 'nominal', title: null, scale: { domain: kinds, range: [[1, 0], [5, 3], [2, 2]].slice(0, kinds.length) }, legend: kinds.length > 1 ? { columns: 1, labelLimit: 160 } : null },
      detail: { field: 'line' },
      description: { field: 'line' },
    },
  });
}
