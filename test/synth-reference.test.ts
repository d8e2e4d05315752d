/**
 * The reference scorers of synth's planted structure (category-level and ad-agnostic):
 * their formulas on the world's own parameters, the columns they fill, and the guarantee
 * that adding them changed none of the generated rows or true probabilities.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPart } from '../src/data/dataset.js';
import { STANDARD_PARTS } from '../src/data/part.js';
import { allocatePart } from '../src/data/part-ops.js';
import { AGNOSTIC_COLUMN, categoryColumn, isReferenceColumn } from '../src/data/reference.js';
import { multiOffsets } from '../src/data/schema.js';
import { synthesize } from '../src/data/synth.js';
import { PRESETS } from '../src/data/synth-presets.js';
import { LATENT_DIM, SynthWorld } from '../src/data/synth-world.js';
import { numericTableBytes } from '../src/data/table-write.js';
import { splitMetrics } from '../src/eval/metrics.js';
import { readTruth } from '../src/expand/quality.js';
import { Rng } from '../src/util/rng.js';
import { formatSynthSummary } from '../src/cli/commands/synth.js';
import { splitTable } from '../src/cli/eval-text.js';
import { loadConfig } from '../src/config/config.js';
import { evaluateSplit, TOP_FRACTION } from '../src/eval/evaluate.js';
import { createOps } from '../src/kernels/index.js';
import { freshParams, layoutFor } from '../src/meta/model-setup.js';
import { tinyOverrides } from './helpers/tiny-dataset.js';
import { tempDir } from './helpers/fixtures.js';
import { tableFromIPC } from 'apache-arrow';

const logit = (p: number): number => Math.log(p / (1 - p));
const close = (a: number, b: number, what: string, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

/** sha256 of what synth generated before the reference scorers: every part's rows, p_true and uid, the user table and each campaign's truth. */
async function generatedHash(dir: string, campaignCols: string[]): Promise<string> {
  const h = createHash('sha256');
  const add = (a: ArrayBufferView) => h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  for (const name of STANDARD_PARTS) {
    const p = await loadPart(join(dir, `${name}.arrow`));
    for (const a of [p.label, p.aid, p.single, p.multi, p.multiLen, p.task, p.extra.p_true!, p.extra.uid!]) add(a);
  }
  h.update(readFileSync(join(dir, 'users.arrow')));
  const t = readTruth(join(dir, 'campaigns', 'truth.arrow'));
  add(t.uid);
  for (const c of campaignCols) add(t.table.getChild(c)!.toArray() as Float32Array);
  return h.digest('hex');
}

test('the generated rows, p_true and the truth of every campaign are those of before the reference scorers', async (t) => {
  const dir = tempDir(t);
  const hashes: string[] = [];
  for (const seed of [2021, 7]) {
    const s = await synthesize({ out: join(dir, String(seed)), preset: 'tiny', seed });
    const names = s.campaigns.files.map((f) => f.replace(/^.*[\\/]/, '').replace(/\.yaml$/, ''));
    hashes.push(await generatedHash(join(dir, String(seed)), names));
  }
  // pinned before the reference scorers were added (tiny preset, seeds 2021 and 7)
  assert.deepEqual(hashes, ['02966270b170c53896d245cf9af9319e16bcc9f3246f7ef311182717785b9031', 'f4bf881c10e12cfc3845bd4dcb9432df3b347b7e11d79f0a9ac9d792534bf4d7']);
});

test('the scorers by hand: the category bias, w_cat . z, the id terms shared with p_true, the prior-weighted mean', () => {
  const world = new SynthWorld(PRESETS.tiny!, 2021, 1);
  const s = world.schema;
  const C = PRESETS.tiny!.categories;
  assert.equal(world.categories.length, C);
  // the prior: weights 1/sqrt(k+1), normalised
  const raw = Array.from({ length: C }, (_, k) => 1 / Math.sqrt(k + 1));
  world.categories.forEach((c, k) => close(c.weight, raw[k]! / raw.reduce((a, b) => a + b, 0), `weight ${k}`, 1e-15));
  // b_cat = logit(BASE_RATE) sqrt(1 + pi v / 8), v = |w|^2 + CAMPAIGN_SIGMA^2 + TAU_SINGLE^2 + TAU_MULTI^2 / 3
  for (const c of world.categories) {
    const v = c.pref.reduce((a, x) => a + x * x, 0) + 0.7 ** 2 + 0.5 ** 2 + 0.8 ** 2 / 3;
    close(c.bias, Math.log(0.052 / 0.948) * Math.sqrt(1 + (Math.PI * v) / 8), 'category bias', 1e-15);
  }
  // w_cat is what the category's campaigns spread around: at E|eps|^2 = CAMPAIGN_SIGMA^2 = 0.49
  // from their own, several times farther from the others' (E 2 * 1.6^2 + 0.49)
  const dist = (a: Float64Array, b: Float64Array) => a.reduce((acc, x, i) => acc + (x - b[i]!) ** 2, 0);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const own = mean(world.campaigns.map((c) => dist(c.pref, world.categories[c.category]!.pref)));
  const others = mean(world.campaigns.flatMap((c) => world.categories.filter((_, k) => k !== c.category).map((k) => dist(c.pref, k.pref))));
  assert.ok(own > 0.3 && own < 0.8 && others > 4 * own, `own ${own}, others ${others}`);

  // one row: LBS (the id-signal single field) set, kw1 (the id-signal list) empty, then two ids
  const row = allocatePart(s, 1);
  row.single[s.userSingle.findIndex((f) => f.name === 'LBS')] = 17;
  const kw = s.userMulti.findIndex((f) => f.name === 'kw1');
  const z0 = new Float64Array(LATENT_DIM);
  const out = new Float64Array(C);
  for (const withList of [false, true]) {
    if (withList) {
      row.multiLen[kw] = 2;
      row.multi.set([5, 123], multiOffsets(s)[kw]!);
    }
    for (const c of world.campaigns) {
      const k = c.category;
      const cat = world.categories[k]!;
      // at z = 0 only the biases differ: the id terms are the category's in both
      close(logit(world.pTrue(c, z0, row, 0)) - logit(world.pCategory(k, z0, row, 0)), c.bias - cat.bias, 'bias gap');
      // along a latent axis: w_cat's component, and p_true's own preference's
      for (let i = 0; i < LATENT_DIM; i++) {
        const e = new Float64Array(LATENT_DIM);
        e[i] = 1;
        close(logit(world.pCategory(k, e, row, 0)) - logit(world.pCategory(k, z0, row, 0)), cat.pref[i]!, 'w_cat');
        close(logit(world.pTrue(c, e, row, 0)) - logit(world.pTrue(c, z0, row, 0)), c.pref[i]!, 'w_cat + eps');
      }
    }
    // ad-agnostic: the prior-weighted mean of the categories' scores, each written out
    const z = Float64Array.from({ length: LATENT_DIM }, (_, i) => 0.3 * (i - 3));
    const agnostic = world.pCategories(z, row, 0, out);
    world.categories.forEach((_, k) => assert.equal(out[k], world.pCategory(k, z, row, 0)));
    close(agnostic, world.categories.reduce((a, c, k) => a + c.weight * out[k]!, 0), 'agnostic', 1e-15);
  }
  // the list's ids move the logit, the same for the campaign and its category
  const withList = logit(world.pCategory(0, z0, row, 0));
  row.multiLen[kw] = 0;
  assert.notEqual(withList, logit(world.pCategory(0, z0, row, 0)));
});

test('stage 2 carries p_category and p_agnostic (stage 1 does not), equal to the scorers of the rows drawn; truth.arrow their columns; the summary their metrics', async (t) => {
  const dir = tempDir(t);
  const seed = 2021;
  const s = await synthesize({ out: dir, preset: 'tiny', seed });
  const world = new SynthWorld(PRESETS.tiny!, seed, 1);
  const extras = ['p_true', 'uid', 'p_category', 'p_agnostic'];
  for (const split of ['hot', 'cold'] as const) {
    assert.deepEqual(Object.keys((await loadPart(join(dir, `test_${split}_stage1.arrow`))).extra), ['p_true', 'uid']);
    const p2 = await loadPart(join(dir, `test_${split}_stage2.arrow`));
    assert.deepEqual(Object.keys(p2.extra), extras);
    // read back, they score as the summary says
    for (const k of ['category', 'agnostic'] as const) {
      const m = splitMetrics(p2.extra[`p_${k}`]!, p2.label, p2.tasks);
      assert.deepEqual(s.reference[split][k], { auc: m.auc, gauc: m.gauc });
    }
    // the rows drawn again (each campaign's stream forked in campaign order, as synth does): the columns are the scorers of each row
    const rows = new Rng(seed ^ 0x3c6ef372);
    for (const c of world.campaigns) {
      const rng = rows.fork(c.aid);
      const task = p2.tasks.find((x) => x.aid === c.aid);
      if (!task) continue;
      const d = allocatePart(world.schema, c.n1 + c.n2);
      const pCat = new Float64Array(world.categories.length);
      for (let r = 0; r < c.n1 + c.n2; r++) {
        const pTrue = world.drawRow(rng, c, d, r);
        if (r < c.n1) continue;
        const at: number = task.rows[r - c.n1]!;
        assert.equal(p2.extra.p_true![at], pTrue);
        assert.equal(p2.extra.p_agnostic![at], world.pCategories(world.lastZ, d, r, pCat));
        assert.equal(p2.extra.p_category![at], world.pCategory(c.category, world.lastZ, d, r));
      }
    }
  }
  // truth.arrow: uid, each campaign, each campaign's category-level column, one agnostic column
  const truth = readTruth(s.campaigns.truth);
  const names = s.campaigns.files.map((f) => f.replace(/^.*[\\/]/, '').replace(/\.yaml$/, ''));
  const cols = truth.table.schema.fields.map((f) => f.name);
  assert.deepEqual(cols.slice(0, 1 + names.length).sort(), ['uid', ...names].sort());
  assert.deepEqual(cols.slice(1 + names.length).sort(), [...names.map(categoryColumn), AGNOSTIC_COLUMN].sort());
  assert.deepEqual(cols.map(isReferenceColumn), cols.map((_, i) => i > names.length));
  // campaigns of a category share its column; the agnostic one is the prior-weighted mean of the categories'
  const col = (n: string) => truth.table.getChild(n)!.toArray() as Float32Array;
  const byCategory = new Map<number, Float32Array>();
  for (const n of names) {
    const k = world.campaigns[Number(n.split('_')[1]) - 1]!.category;
    const mine = col(categoryColumn(n));
    assert.ok(!byCategory.has(k) || byCategory.get(k)!.every((x, i) => x === mine[i]), `${n}: category ${k}`);
    byCategory.set(k, mine);
    assert.ok(mine.some((x, i) => x !== col(n)[i]), `${n}: the category-level score is not the truth`);
  }
  assert.equal(byCategory.size, world.categories.length, 'every category has a test campaign (so the mean can be checked)');
  const agnostic = col(AGNOSTIC_COLUMN);
  agnostic.forEach((a, i) => close(a, world.categories.reduce((acc, c, k) => acc + c.weight * byCategory.get(k)![i]!, 0), `agnostic of user ${i}`, 1e-6));
  // the printed summary
  assert.match(formatSynthSummary(s), /\n  hot   category AUC 0\.\d{4}  GAUC 0\.\d{4}   agnostic AUC 0\.\d{4}  GAUC 0\.\d{4}\n/);
});

test('a numeric table whose columns share a buffer reads back (apache-arrow alone writes it unreadable)', () => {
  const a = Float32Array.from({ length: 100 }, (_, i) => i / 100);
  const t = tableFromIPC(numericTableBytes([['uid', Int32Array.from({ length: 100 }, (_, i) => i)], ['x', a], ['y', a], ['z', a.subarray(0)]]));
  for (const c of ['x', 'y', 'z']) assert.deepEqual([...(t.getChild(c)!.toArray() as Float32Array)], [...a]);
});

test('infer reports the reference scorers beside the oracle, equal to the metrics of the columns; data without them reports none', async (t) => {
  const dir = tempDir(t);
  await synthesize({ out: dir, preset: 'tiny', seed: 3 });
  const stage1 = await loadPart(join(dir, 'test_hot_stage1.arrow'));
  const stage2 = await loadPart(join(dir, 'test_hot_stage2.arrow'));
  const cfg = loadConfig(null, tinyOverrides(dir, join(dir, 'out')));
  const L = layoutFor(cfg, stage2.schema);
  const ops = await createOps(1);
  t.after(() => ops.close());
  const run = { ops, params: () => freshParams(ops, L, 1), checkpoint: '', schema: L.schema, dims: L.dims, opts: { lr: 0.01, epochs: 1, batchSize: 16, seed: 1 }, threads: 1 };
  const res = await evaluateSplit(run, 'hot', stage1, stage2);
  const want = (p: ArrayLike<number>) => {
    const m = splitMetrics(p, stage2.label, stage2.tasks, TOP_FRACTION);
    return { auc: m.auc, gauc: m.gauc };
  };
  assert.deepEqual(res.oracle, want(stage2.extra.p_true!));
  assert.deepEqual(res.reference, { category: want(stage2.extra.p_category!), agnostic: want(stage2.extra.p_agnostic!) });
  const text = splitTable([res]);
  assert.match(text.split('\n')[0]!, /oracle AUC  oracle GAUC  category AUC  category GAUC  agnostic AUC  agnostic GAUC$/);
  const { category, agnostic } = res.reference!;
  assert.deepEqual(text.split('\n')[1]!.split(/\s+/).slice(-4), [category!.auc, category!.gauc, agnostic!.auc, agnostic!.gauc].map((x) => x.toFixed(4)));
  // without the columns (real data): no references, and the table as before
  const { p_category: _c, p_agnostic: _a, ...rest } = stage2.extra;
  const plain = await evaluateSplit(run, 'hot', stage1, { ...stage2, extra: rest });
  assert.equal(plain.reference, null);
  assert.deepEqual(plain.oracle, res.oracle);
  assert.equal(plain.auc, res.auc);
  assert.match(splitTable([plain]).split('\n')[0]!, /oracle GAUC$/);
});
