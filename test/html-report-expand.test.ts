/**
 * The report's audience-expansion section: two campaigns of tiny synthetic data expanded with
 * MetaHeac, the no-meta baseline and the unadapted general model against the synthetic truth,
 * reported on one page and checked in headless Chromium against the summaries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { CAMPAIGNS_DIR, synthesize, TRUTH_FILE } from '../src/data/synth.js';
import { expandCampaigns } from '../src/expand/index.js';
import { createOps } from '../src/kernels/index.js';
import { checkpointPath, runTrain } from '../src/pipeline/run-train.js';
import { coarse } from '../src/pipeline/report/expand-section.js';
import { expectedResponders, type ExpandSummaryRecord } from '../src/pipeline/report/expansions.js';
import { loadRun, loadRuns } from '../src/pipeline/report/runs.js';
import { writeReport } from '../src/pipeline/report/write-report.js';
import { noChromium, openFile } from './helpers/browser.js';
import { runCli } from './helpers/cli.js';
import { reportOverrides } from './helpers/tiny-dataset.js';

interface Row {
  cells: ArrayLike<{ textContent: string | null; dataset: Record<string, string | undefined> }>;
}

const root = mkdtempSync(join(tmpdir(), 'mh-report-expand-'));
const data = join(root, 'data');
await synthesize({ out: data, preset: 'tiny', seed: 2021 });
const overrides = (dir: string, meta: boolean): string[] => reportOverrides(data, join(root, dir), meta);
const campaigns = ['cold_9', 'hot_13'].map((c) => join(data, CAMPAIGNS_DIR, `${c}.yaml`));
const truth = join(data, CAMPAIGNS_DIR, TRUTH_FILE);

const ops = await createOps(1);
const expansions: Record<string, string> = {};
for (const [dir, meta] of [['meta', true], ['nometa', false]] as const) {
  const config = loadConfig(null, overrides(dir, meta));
  await runTrain(config, ops);
  const model = checkpointPath(join(root, dir), 0);
  for (const adapt of meta ? [true, false] : [true]) {
    const out = join(root, `x-${dir}${adapt ? '' : '-unadapted'}`);
    await expandCampaigns({ config, model, campaigns, top: 60, outDir: out, threads: 1, truth, adapt, ops });
    expansions[adapt ? (meta ? 'MetaHeac' : 'no-meta') : 'MetaHeac unadapted'] = out;
  }
}
await ops.close();
const page = join(root, 'report.html');
await writeReport(Object.values(expansions), page);
const summary = (run: string, c: string): ExpandSummaryRecord => JSON.parse(readFileSync(join(expansions[run]!, c, 'summary.json'), 'utf8')) as ExpandSummaryRecord;

test('expected responders: prefix sums of the audience\'s scores; a bad audience file is named', () => {
  const f = join(root, 'a.csv');
  writeFileSync(f, 'uid,score,rank\n7,0.5,1\n3,0.25,2\n9,0.125,3\n');
  assert.deepEqual(expectedResponders(f), { n: [1, 2, 3], responders: [0.5, 0.75, 0.875] });
  assert.deepEqual(expectedResponders(f, 2), { n: [2, 3], responders: [0.75, 0.875] });
  writeFileSync(f, 'uid,score,rank\n7,0.5,1\n3,x,2\n');
  assert.throws(() => expectedResponders(f), /a\.csv: line 3: score must be a probability in \[0, 1\], found "x"/);
});

test('the pool histogram in coarser bins keeps every user', () => {
  const h = Array.from({ length: 1000 }, (_, k) => (k < 130 ? k % 7 : 0));
  const c = coarse(h, 130);
  assert.equal(c.binWidth, 3 / 1000);
  assert.equal(c.users.length, 44);
  assert.equal(c.users.reduce((a, b) => a + b, 0), h.reduce((a, b) => a + b, 0));
});

test('expansion runs are named after their model and adaptation', () => {
  assert.equal(loadRun(expansions.MetaHeac!).name, 'MetaHeac');
  assert.equal(loadRun(expansions['no-meta']!).name, 'no-meta');
  assert.equal(loadRun(expansions['MetaHeac unadapted']!).name, 'MetaHeac unadapted');
  assert.equal(loadRun(join(expansions.MetaHeac!, 'hot_13')).expansion!.length, 1, 'one campaign folder');
  // a training run and an expansion of the same model keep their names (different sections); two expansions do not
  assert.deepEqual(loadRuns([join(root, 'meta'), expansions.MetaHeac!, expansions.MetaHeac!]).map((r) => r.name), ['MetaHeac', 'MetaHeac (x-meta)', 'MetaHeac (x-meta) #3']);
});

test('expand writes its report into --out unless --no-report', () => {
  const args = ['expand', ...overrides('meta', true).flatMap((o) => ['-o', o]), '--model', checkpointPath(join(root, 'meta'), 0), '--campaign', campaigns[1]!, '--top', '5', '-q'];
  const out = join(root, 'x-cli');
  const quiet = runCli(...args, '--out', out, '--no-report');
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.ok(!existsSync(join(out, 'report.html')));
  const loud = runCli(...args, '--out', out);
  assert.equal(loud.code, 0, loud.stderr);
  assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /<section id="expansion">/);
  rmSync(out, { recursive: true });
});

test('in Chromium: per campaign the score distribution, expected responders and recall@N with their lines; the table holds the summaries', { skip: noChromium }, async () => {
  const { page: p, problems, requests, close } = await openFile(page);
  try {
    assert.deepEqual(problems, []);
    assert.deepEqual(requests.filter((u) => !u.startsWith('file:')), []);
    const runs = Object.keys(expansions);
    for (const c of ['cold_9', 'hot_13']) {
      // a step line per run, and a dashed rule where each audience starts
      assert.equal(await p.locator(`figure[data-chart="expand-scores:${c}"] g.mark-line.role-mark path`).count(), runs.length);
      assert.equal(await p.locator(`figure[data-chart="expand-scores:${c}"] g.mark-rule.role-mark line`).count(), runs.length);
      // each run's estimate and truth, plus a random audience and the truly best N
      assert.equal(await p.locator(`figure[data-chart="expand-responders:${c}"] g.mark-line.role-mark path`).count(), 2 * runs.length + 2);
      // recall@N: each run and random
      assert.equal(await p.locator(`figure[data-chart="expand-recall:${c}"] g.mark-line.role-mark path`).count(), runs.length + 1);
    }
    const rows = await p.locator('table.expansions tbody tr').evaluateAll((trs) => trs.map((tr) => Array.from((tr as Row).cells).map((c) => c.dataset.value ?? c.textContent!)));
    assert.equal(rows.length, runs.length * 2);
    for (const r of rows) {
      const s = summary(r[0]!, r[1]!);
      assert.equal(r[2], String(s.seeds.found));
      assert.equal(r[7], String(s.audience.size));
      assert.equal(r[8], String(s.audience.minScore));
      assert.equal(r[11], String(s.quality!.recall));
      assert.equal(r[12], String(s.quality!.precision));
    }
  } finally {
    await close();
  }
});
