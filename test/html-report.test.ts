/**
 * The HTML report, as a person sees it: two real runs (MetaHeac and the no-meta baseline trained
 * and evaluated on tiny synthetic data) rendered to one page, opened in headless Chromium, and
 * every chart's marks and every table's numbers checked against the runs' JSON.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { synthesize } from '../src/data/synth.js';
import { createOps } from '../src/kernels/index.js';
import { runInfer } from '../src/pipeline/run-infer.js';
import { runTrain } from '../src/pipeline/run-train.js';
import { besideMetrics, campaignsCsv } from '../src/pipeline/report/campaigns-csv.js';
import { withTitles } from '../src/pipeline/report/charts.js';
import { loadRun, loadRuns, type MetricsRecord } from '../src/pipeline/report/runs.js';
import { writeReport } from '../src/pipeline/report/write-report.js';
import { DataError } from '../src/util/errors.js';
import { noChromium, openFile } from './helpers/browser.js';
import { runCli } from './helpers/cli.js';
import { reportOverrides } from './helpers/tiny-dataset.js';

/** The little of the DOM these checks touch (tests compile without the DOM's types; functions run in the page see no closure). */
interface Row {
  cells: ArrayLike<{ textContent: string | null; dataset: Record<string, string | undefined> }>;
}

const root = mkdtempSync(join(tmpdir(), 'mh-report-'));
const data = join(root, 'data');
await synthesize({ out: data, preset: 'tiny', seed: 2021 });

async function trainAndInfer(dir: string, meta: boolean): Promise<MetricsRecord> {
  const cfg = loadConfig(null, reportOverrides(data, join(root, dir), meta));
  const ops = await createOps(1);
  try {
    await runTrain(cfg, ops);
    const [res] = await runInfer(cfg, ops);
    return JSON.parse(readFileSync(res!.metricsPath, 'utf8')) as MetricsRecord;
  } finally {
    await ops.close();
  }
}

const runs = { MetaHeac: await trainAndInfer('meta', true), 'no-meta': await trainAndInfer('nometa', false) };
const out = join(root, 'report.html');
await writeReport([join(root, 'meta'), join(root, 'nometa')], out);
const html = readFileSync(out, 'utf8');

test('campaigns CSV: one row per campaign, undefined metrics empty, split names quoted when needed', () => {
  const t = (aid: number, auc: number) => ({ aid, seedRows: 10, seeds: 2, rows: 40, positives: 3, auc, precision: 0.5, recall: 1 / 3, adaptSteps: 4 });
  const csv = campaignsCsv([
    { name: 'hot', perTask: [t(7, 0.75)] },
    { name: 'a,"b"', perTask: [t(9, NaN)] },
  ]);
  assert.equal(csv, ['split,aid,seed_rows,seeds,rows,positives,auc,precision_at_5pct,recall_at_5pct,adapt_steps', 'hot,7,10,2,40,3,0.75,0.5,0.3333333333333333,4', '"a,""b""",9,10,2,40,3,,0.5,0.3333333333333333,4', ''].join('\n'));
  assert.equal(besideMetrics('out/1/metrics.json', 'campaigns.csv'), join('out/1', 'campaigns.csv'));
  assert.equal(besideMetrics('out/m.0.json', 'report.html'), join('out', 'm.0.report.html'));
});

test('infer writes every campaign as CSV beside the metrics, the numbers of the JSON', () => {
  const lines = readFileSync(join(root, 'meta', '0', 'campaigns.csv'), 'utf8').trim().split('\n');
  const tasks = runs.MetaHeac.splits.flatMap((s) => s.perTask.map((t) => ({ split: s.name, ...t })));
  assert.equal(lines.length, 1 + tasks.length);
  tasks.forEach((t, i) => {
    const c = lines[i + 1]!.split(',');
    assert.equal(c[0], t.split);
    assert.equal(Number(c[1]), t.aid);
    assert.equal(c[6] === '' ? null : Number(c[6]), t.auc);
  });
});

test('points carry their description as an SVG <title> (hover text without script)', () => {
  const svg = '<g><path aria-label="aid 3 (hot): AUC 0.5" role="graphics-symbol" d="M0,0"/><path d="M1,1"/></g>';
  assert.equal(withTitles(svg), '<g><path aria-label="aid 3 (hot): AUC 0.5" role="graphics-symbol" d="M0,0"><title>aid 3 (hot): AUC 0.5</title></path><path d="M1,1"/></g>');
});

test('runs are read from a model folder, an epoch folder or a metrics JSON; bad ones are named', () => {
  const byDir = loadRun(join(root, 'meta'));
  assert.equal(byDir.name, 'MetaHeac');
  assert.equal(byDir.train?.mode, 'meta');
  assert.equal(byDir.train?.seed, 2021);
  assert.ok(byDir.loss && byDir.loss.length === byDir.train!.stepsPerEpoch);
  assert.ok(byDir.train?.data?.parts.some((p) => p.name === 'train_stage1'));
  const byFile = loadRun(join(root, 'nometa', '0', 'metrics.json'));
  assert.equal(byFile.name, 'no-meta');
  assert.ok(byFile.train, 'the training record is found from the metrics file');
  assert.equal(loadRun(join(root, 'meta', '0')).train?.mode, 'meta');
  assert.deepEqual(loadRuns([join(root, 'meta'), join(root, 'meta', '0')]).map((r) => r.name), ['MetaHeac (meta)', 'MetaHeac (meta) #2']);
  assert.throws(() => loadRun(join(root, 'nope')), /nope: no such file or folder/);
  assert.throws(() => loadRun(data), (e: Error) => e instanceof DataError && /not a run/.test(e.message));
  const bad = join(root, 'bad');
  mkdirSync(join(bad, '0'), { recursive: true });
  writeFileSync(join(bad, '0', 'metrics.json'), JSON.stringify({ ...runs.MetaHeac, splits: [{ ...runs.MetaHeac.splits[0], auc: 'high' }] }));
  assert.throws(() => loadRun(join(bad, '0')), /metrics\.json: key "splits\.0\.auc": /);
  writeFileSync(join(bad, '0', 'metrics.json'), '{"epoch": 0,');
  assert.throws(() => loadRun(join(bad, '0', 'metrics.json')), /metrics\.json: not valid JSON/);
});

test('the page is self-contained: no script, style, font or image from elsewhere', () => {
  assert.doesNotMatch(html, /<(script|link|img|iframe)[^>]+(src|href)=/i);
  assert.doesNotMatch(html, /url\(/i);
  for (const id of ['training', 'evaluation', 'campaigns', 'runs']) assert.match(html, new RegExp(`<section id="${id}">`));
});

test('metaheac report on the command line: writes the page, --json says what it read, bad runs are one line', () => {
  const page = join(root, 'cli.html');
  const r = runCli('report', join(root, 'meta'), join(root, 'nometa', '0', 'metrics.json'), '--out', page, '--json');
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout) as { out: string; runs: { name: string }[] };
  assert.deepEqual(res.runs.map((x) => x.name), ['MetaHeac', 'no-meta']);
  assert.match(readFileSync(page, 'utf8'), /^<!doctype html>/);
  const bad = runCli('report', join(root, 'nope'), '--out', page);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^metaheac: error: .*nope: no such file or folder\n$/);
});

test('infer writes its report beside the metrics unless --no-report', () => {
  const o = [`runner.train_data_dir=${data}`, `runner.test_data_dir=${data}`, `runner.model_save_path=${join(root, 'meta')}`, `runner.metrics_path=${join(root, 'again', 'm.json')}`, 'hyper_parameters.embed_dim=4', 'hyper_parameters.mlp_dims=[8]', 'hyper_parameters.num_expert=2', 'hyper_parameters.num_output=2', 'hyper_parameters.batch_size=32'].flatMap((kv) => ['-o', kv]);
  const quiet = runCli('infer', ...o, '--threads', '1', '--no-tasks', '--no-report');
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.ok(existsSync(join(root, 'again', 'm.campaigns.csv')));
  assert.ok(!existsSync(join(root, 'again', 'm.report.html')));
  const loud = runCli('infer', ...o, '--threads', '1', '--no-tasks');
  assert.equal(loud.code, 0, loud.stderr);
  assert.match(loud.stderr, /report written to .*m\.report\.html/);
  assert.match(readFileSync(join(root, 'again', 'm.report.html'), 'utf8'), /<section id="campaigns">/);
});

test('in Chromium: no console errors, no requests, every chart with its marks, tables with the JSON\'s numbers', { skip: noChromium }, async () => {
  const { page, problems, requests, close } = await openFile(out);
  try {
    assert.deepEqual(problems, []);
    assert.deepEqual(requests.filter((u) => !u.startsWith('file:')), [], 'nothing fetched from the network');
    assert.equal(requests.length, 1, 'only the page itself');

    // training: one loss line per run
    assert.equal(await page.locator('figure[data-chart="loss"] g.mark-line.role-mark path').count(), 2);

    // evaluation: a bar per run, split and metric, plus the oracle's AUC and GAUC per split
    const finite = (x: number | null) => x !== null && Number.isFinite(x);
    const names = Object.keys(runs) as (keyof typeof runs)[];
    const splits = runs.MetaHeac.splits.map((s) => s.name);
    let bars = 0;
    for (const n of names) for (const s of runs[n].splits) bars += [s.auc, s.gauc, s.precision, s.recall].filter(finite).length;
    bars += runs.MetaHeac.splits.reduce((k, s) => k + (s.oracle ? [s.oracle.auc, s.oracle.gauc].filter(finite).length : 0), 0);
    assert.equal(await page.locator('figure[data-chart="splits"] g.mark-rect.role-mark path').count(), bars);

    // per campaign: one point per campaign with seeds and a defined AUC, its aid in the hover title
    for (const n of names) {
      const expected = runs[n].splits.flatMap((s) => s.perTask.filter((t) => t.seeds > 0 && finite(t.auc)).map((t) => `aid ${t.aid} (${s.name})`));
      assert.ok(expected.length > 3);
      const titles = await page.locator(`figure[data-chart="campaigns:${n}"] g.mark-symbol.role-mark path > title`).allTextContents();
      assert.deepEqual(titles.map((t) => t.replace(/:.*/, '')).sort(), expected.sort());
    }

    // the evaluation table: every run and split, numbers exact in data-value and to 4 decimals in the text
    const evalRows = await page.locator('table.evaluation tbody tr').evaluateAll((trs) => trs.map((tr) => Array.from((tr as Row).cells).map((c) => ({ text: c.textContent, value: c.dataset.value }))));
    assert.equal(evalRows.length, names.length * splits.length);
    evalRows.forEach((cells, i) => {
      const run = names[Math.floor(i / splits.length)]!;
      const s = runs[run].splits[i % splits.length]!;
      assert.equal(cells[0]!.text, run);
      assert.equal(cells[1]!.text, s.name);
      [s.auc, s.gauc, s.precision, s.recall, s.logloss, s.oracle?.auc ?? null, s.oracle?.gauc ?? null].forEach((x, j) => {
        assert.equal(cells[4 + j]!.value, x === null ? '' : String(x));
        assert.equal(cells[4 + j]!.text, x === null ? '–' : x.toFixed(4));
      });
    });

    // the campaign table: every campaign, each run's AUC exact
    const table = page.locator('table.campaigns');
    const header = await table.locator('thead th').allTextContents();
    const aucCol = (n: string) => header.indexOf(`AUC ${n}`);
    const rows = await table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => Array.from((tr as Row).cells).map((c) => c.dataset.value ?? c.textContent!)));
    const tasks = runs.MetaHeac.splits.flatMap((s) => s.perTask.map((t) => ({ split: s.name, t })));
    assert.equal(rows.length, tasks.length);
    for (const n of names) {
      const auc = new Map(runs[n].splits.flatMap((s) => s.perTask.map((t) => [`${s.name} ${t.aid}`, t.auc === null ? '' : String(t.auc)])));
      for (const r of rows) assert.equal(r[aucCol(n)], auc.get(`${r[0]} ${r[1]}`));
    }

    // sorting by a clicked column: ascending, then descending; campaigns without a value stay last
    const col = aucCol('MetaHeac');
    const read = () => table.locator('tbody tr').evaluateAll((trs, c) => trs.map((tr) => Array.from((tr as Row).cells)[c as number]!.dataset.value!), col);
    const sorted = (vs: string[], dir: 1 | -1) => {
      const nums = vs.filter((v) => v !== '').map(Number);
      return nums.every((v, i) => i === 0 || dir * (v - nums[i - 1]!) >= 0) && vs.slice(nums.length).every((v) => v === '');
    };
    await table.locator('thead th').nth(col).click();
    assert.ok(sorted(await read(), 1), 'ascending');
    await table.locator('thead th').nth(col).click();
    assert.ok(sorted(await read(), -1), 'descending');

    // a laptop screen holds the page's width; ids are unique across the inline SVGs
    assert.equal(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'), true, 'no sideways scrolling at 1366 px');
    assert.equal(await page.evaluate('(() => { const ids = [...document.querySelectorAll("[id]")].map((e) => e.id); return new Set(ids).size === ids.length; })()'), true, 'unique ids');

    // printable: the print style shows the whole campaign table, and the page prints
    await page.emulateMedia({ media: 'print' });
    assert.equal(await page.locator('.scroll').evaluate((e) => (globalThis as unknown as { getComputedStyle(e: unknown): { maxHeight: string } }).getComputedStyle(e).maxHeight), 'none');
    // an A4 page's width (at 96 dpi) holds every table and chart, so nothing is shrunk or cut
    await page.setViewportSize({ width: 794, height: 1123 });
    assert.equal(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'), true, 'fits an A4 page');
    const pdf = await page.pdf({ format: 'A4' });
    assert.equal(pdf.subarray(0, 4).toString(), '%PDF');
    assert.deepEqual(problems, []);
  } finally {
    await close();
  }
});
