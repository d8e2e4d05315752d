import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPart } from '../src/data/dataset.js';
import type { Part } from '../src/data/part.js';
import { multiOffsets, multiStride } from '../src/data/schema.js';
import { synthesize } from '../src/data/synth.js';
import { tempDir } from './helpers/fixtures.js';
import { formatSynthSummary } from '../src/cli/commands/synth.js';

test('same seed, same bytes; another seed, other bytes', async (t) => {
  const dir = tempDir(t);
  const a = await synthesize({ out: join(dir, 'a'), preset: 'tiny', seed: 5 });
  const b = await synthesize({ out: join(dir, 'b'), preset: 'tiny', seed: 5 });
  await synthesize({ out: join(dir, 'c'), preset: 'tiny', seed: 6 });
  assert.deepEqual(a.parts, b.parts);
  const files = readdirSync(join(dir, 'a')).sort();
  assert.deepEqual(files, ['campaigns', 'manifest.json', 'schema.json', 'test_cold_stage1.arrow', 'test_cold_stage2.arrow', 'test_hot_stage1.arrow', 'test_hot_stage2.arrow', 'train_stage1.arrow', 'users.arrow']);
  const campaigns = readdirSync(join(dir, 'a', 'campaigns')).map((f) => join('campaigns', f));
  assert.ok(campaigns.includes(join('campaigns', 'truth.arrow')));
  for (const f of [...files.filter((x) => x !== 'campaigns'), ...campaigns]) assert.deepEqual(readFileSync(join(dir, 'b', f)), readFileSync(join(dir, 'a', f)), f);
  assert.notDeepEqual(readFileSync(join(dir, 'c', 'train_stage1.arrow')), readFileSync(join(dir, 'a', 'train_stage1.arrow')));
});

test('tiny is generated in well under a second; the summary prints as a table', async (t) => {
  const t0 = performance.now();
  const s = await synthesize({ out: tempDir(t), preset: 'tiny' });
  assert.ok(performance.now() - t0 < 1000);
  const rows = Object.values(s.parts).reduce((a, p) => a + p.rows, 0);
  assert.ok(rows > 2000 && rows < 10000, `${rows} rows`);
  const text = formatSynthSummary(s);
  assert.match(text, new RegExp(`train_stage1\\s+${s.parts.train_stage1!.rows.toLocaleString('en-US')}\\s+12\\s`));
  assert.match(text, /oracle \(true probabilities on stage 2, the best any model can do\):\n  hot   AUC 0\.\d{4}  GAUC 0\.\d{4}/);
});

function positivesByTask(p: Part): Map<number, number> {
  return new Map(p.tasks.map((t) => [t.aid, t.rows.reduce((a, r) => a + p.label[r]!, 0)]));
}

test('planted structure: oracle well above chance, hot/cold split by positives, realistic fields', async (t) => {
  const dir = tempDir(t);
  const s = await synthesize({ out: dir, preset: 'demo', scale: 0.1, seed: 11 });
  assert.equal(s.coldThreshold, 4); // demo's 40 at scale 1, times 0.1
  for (const k of ['hot', 'cold'] as const) {
    assert.ok(s.oracle[k].auc > 0.75, `${k} oracle AUC ${s.oracle[k].auc}`);
    assert.ok(s.oracle[k].gauc > 0.7, `${k} oracle GAUC ${s.oracle[k].gauc}`);
  }
  const parts = Object.fromEntries(
    await Promise.all(['train_stage1', 'test_hot_stage1', 'test_hot_stage2', 'test_cold_stage1', 'test_cold_stage2'].map(async (n) => [n, await loadPart(join(dir, `${n}.arrow`))] as const)),
  );
  const all = Object.values(parts);
  const rows = all.reduce((a, p) => a + p.nRows, 0);
  const pos = all.reduce((a, p) => a + p.label.reduce((x, y) => x + y, 0), 0);
  assert.ok(pos / rows > 0.03 && pos / rows < 0.07, `positive rate ${pos / rows}`);
  // labels follow p_true
  const pSum = all.reduce((a, p) => a + (p.extra.p_true as Float64Array).reduce((x, y) => x + y, 0), 0);
  assert.ok(Math.abs(pSum - pos) < 4 * Math.sqrt(pos), `sum p_true ${pSum} vs positives ${pos}`);

  // hot/cold by positives over stage 1 + stage 2, and cold campaigns have fewer seeds
  const total = (split: string) => {
    const a = positivesByTask(parts[`test_${split}_stage1`]!);
    const b = positivesByTask(parts[`test_${split}_stage2`]!);
    assert.deepEqual([...a.keys()], [...b.keys()]);
    return [...a].map(([aid, n]) => ({ aid, seeds: n, total: n + b.get(aid)! }));
  };
  const hot = total('hot');
  const cold = total('cold');
  assert.ok(hot.length >= 10 && cold.length >= 10, `${hot.length} hot, ${cold.length} cold`);
  assert.ok(hot.every((x) => x.total > s.coldThreshold) && cold.every((x) => x.total <= s.coldThreshold));
  const mean = (xs: { seeds: number }[]) => xs.reduce((a, x) => a + x.seeds, 0) / xs.length;
  assert.ok(mean(cold) * 4 < mean(hot), `seeds per task: cold ${mean(cold)}, hot ${mean(hot)}`);

  // training and test campaigns are disjoint halves
  const trainAids = new Set(parts.train_stage1!.tasks.map((x) => x.aid));
  const testAids = [...hot, ...cold].map((x) => x.aid);
  assert.ok(testAids.every((a) => !trainAids.has(a)));
  assert.equal(trainAids.size + testAids.length, 200);

  // task fields are constant within a task
  const train = parts.train_stage1!;
  const nt = train.schema.task.length;
  for (const task of train.tasks) {
    const first = train.task.subarray(task.rows[0]! * nt, task.rows[0]! * nt + nt).join();
    assert.ok(task.rows.every((r) => train.task.subarray(r * nt, r * nt + nt).join() === first));
  }

  // interest3 mostly empty; kw1 lengths above its width 5 occur; kw1 popularity heavy-tailed
  const sc = train.schema;
  const nm = sc.userMulti.length;
  const lens = (name: string) => {
    const i = sc.userMulti.findIndex((f) => f.name === name);
    return Array.from({ length: train.nRows }, (_, r) => train.multiLen[r * nm + i]!);
  };
  assert.ok(lens('interest3').filter((l) => l === 0).length > 0.9 * train.nRows);
  assert.ok(lens('kw1').some((l) => l > 5) && Math.max(...lens('kw1')) <= 10);
  const k = sc.userMulti.findIndex((f) => f.name === 'kw1');
  const counts = new Map<number, number>();
  const kwLens = lens('kw1');
  for (let r = 0; r < train.nRows; r++) {
    for (let j = 0; j < Math.min(5, kwLens[r]!); j++) {
      const id = train.multi[r * multiStride(sc) + multiOffsets(sc)[k]! + j]!;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  const sorted = [...counts.values()].sort((a, b) => b - a);
  const top = sorted.slice(0, Math.ceil(0.01 * 5000)).reduce((a, b) => a + b, 0);
  const occurrences = sorted.reduce((a, b) => a + b, 0);
  assert.ok(top > 0.15 * occurrences, `top 1% of kw1 ids hold ${top / occurrences} of occurrences`);
});

test('bad options are user errors', async (t) => {
  const out = tempDir(t);
  await assert.rejects(synthesize({ out, preset: 'huge' }), { name: 'DataError', message: 'unknown preset "huge" (expected one of tiny, demo, tencent)' });
  await assert.rejects(synthesize({ out, preset: 'tiny', scale: 0 }), { name: 'DataError', message: /--scale must be a positive number/ });
});

test('the user table, campaign files and truth: seeds findable, truth equal to the rows\' p_true', async (t) => {
  const dir = tempDir(t);
  const s = await synthesize({ out: dir, preset: 'tiny' });
  const { streamPart } = await import('../src/data/arrow-read.js');
  const { readTruth } = await import('../src/expand/quality.js');
  const { loadCampaignFile } = await import('../src/expand/campaign.js');
  const { readExamples } = await import('../src/expand/id-list.js');
  const uids: number[] = [];
  const schema = (await loadPart(join(dir, 'train_stage1.arrow'))).schema;
  for await (const b of streamPart(join(dir, 'users.arrow'), schema, { kind: 'users' })) uids.push(...b.data.extra.uid!);
  assert.equal(uids.length, s.users.rows);
  assert.equal(new Set(uids).size, uids.length, 'one row per user');
  const truth = readTruth(s.campaigns.truth);
  assert.deepEqual([...truth.uid], uids);
  const hot = await loadPart(join(dir, 'test_hot_stage1.arrow'));
  const task = hot.tasks[0]!;
  const c = loadCampaignFile(join(dir, 'campaigns', `hot_${task.aid}.yaml`));
  assert.equal(c.key, task.aid);
  assert.ok(c.codes);
  const ex = readExamples((c.examples as { file: string }).file);
  assert.deepEqual(ex.uid, [...task.rows].map((r) => hot.extra.uid![r]!));
  assert.deepEqual(ex.label, [...task.rows].map((r) => hot.label[r]!));
  const col = truth.table.getChild(`hot_${task.aid}`)!.toArray() as Float32Array;
  const at = new Map(uids.map((u, i) => [u, i]));
  for (const r of task.rows) assert.equal(col[at.get(hot.extra.uid![r]!)!], Math.fround(hot.extra.p_true![r]!));
});
