/**
 * `expand`: consistency with infer (exact scores), shards merged equal to the unsharded run
 * byte for byte, the top-N order, seed lists in every format, and its errors.
 */
import { test } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type LoadedConfig } from '../src/config/config.js';
import { createOps } from '../src/kernels/index.js';
import { runTrain } from '../src/pipeline/run-train.js';
import { runInfer } from '../src/pipeline/run-infer.js';
import { adaptSplit } from '../src/eval/evaluate.js';
import { auc } from '../src/eval/metrics.js';
import { loadPart, SCHEMA_FILE, USERS_FILE } from '../src/data/dataset.js';
import { readSchemaFile } from '../src/data/schema.js';
import { PartWriter } from '../src/data/arrow-write.js';
import { allocatePart, copyRows, sliceRows } from '../src/data/part-ops.js';
import { synthesize, CAMPAIGNS_DIR, TRUTH_FILE } from '../src/data/synth.js';
import { writeNumericTable } from '../src/data/table-write.js';
import { layoutFor, paramsFromCheckpoint, schemaFor } from '../src/meta/model-setup.js';
import { checkpointPath } from '../src/pipeline/run-train.js';
import { compareOnTruth, expandCampaigns, loadCampaignFile, meanComparison, mergeShards, parseCampaign, readUidList, readExamples, TopN, formatScore, parseScore, audienceParquet, shardRange, forEachChunk, userSchema } from '../src/expand/index.js';
import { UserError } from '../src/util/errors.js';
import { runCli } from './helpers/cli.js';
import { tinyOverrides } from './helpers/tiny-dataset.js';

const root = mkdtempSync(join(tmpdir(), 'mh-expand-'));
const data = join(root, 'data');
await synthesize({ out: data, preset: 'tiny' });
const modelDir = join(root, 'model');
// the tiny model of the other tests, one epoch, one thread
const overrides = [...tinyOverrides(data, modelDir), 'runner.epochs=1', 'runner.threads=1'];
const cfg: LoadedConfig = loadConfig(null, overrides);
{
  const ops = await createOps(1);
  await runTrain(cfg, ops);
  await ops.close();
}
const model = checkpointPath(modelDir, 0);
const campaignFile = (name: string) => join(data, CAMPAIGNS_DIR, `${name}.yaml`);

test('expand reproduces infer exactly: a test campaign with its stage-1 rows as examples and its stage-2 users as the pool', async () => {
  const stage1 = await loadPart(join(data, 'test_hot_stage1.arrow'));
  const stage2 = await loadPart(join(data, 'test_hot_stage2.arrow'));
  // infer's own scores of every hot task (the serial path infer takes on one thread)
  const ops = await createOps(1);
  const L = layoutFor(cfg, schemaFor(cfg, stage2.schema, data));
  const hp = cfg.hyper_parameters;
  const run = { ops, params: () => paramsFromCheckpoint(ops, L, model).params, checkpoint: model, schema: L.schema, dims: L.dims, opts: { lr: hp.optimizer.local_test_learning_rate, epochs: cfg.runner.infer_train_epoch, batchSize: hp.batch_size, seed: cfg.runner.seed }, threads: 1 };
  const { scores, perTask } = await adaptSplit(run, 'hot', stage1, stage2);
  await ops.close();
  const [inferRes] = await (async () => {
    const o = await createOps(1);
    try {
      return await runInfer(loadConfig(null, [...overrides, `runner.metrics_path=${join(root, 'metrics.json')}`]), o);
    } finally {
      await o.close();
    }
  })();
  for (const task of stage2.tasks.slice(0, 3)) {
    // the pool: this task's stage-2 users, in row order
    const pool = join(root, `pool_${task.aid}.arrow`);
    const w = new PartWriter(pool, stage2.schema, { kind: 'users', extra: { uid: 'int32' } });
    for (const r of task.rows) {
      const row = sliceRows(stage2.schema, stage2, r, r + 1);
      w.append({ ...row, task: new Int32Array(0), extra: { uid: row.extra.uid as Int32Array } });
    }
    w.close();
    const [res] = await expandCampaigns({ config: cfg, model, campaigns: [campaignFile(`hot_${task.aid}`)], users: pool, top: task.rows.length, includeSeeds: true, outDir: null, threads: 1 });
    const byUid = new Map<number, number>();
    res!.audience.uid.forEach((u, i) => byUid.set(u, res!.audience.score[i]!));
    assert.equal(byUid.size, task.rows.length);
    const mine = Float64Array.from(task.rows, (r) => byUid.get(stage2.extra.uid![r]!)!);
    const theirs = Float64Array.from(task.rows, (r) => scores[r]!);
    assert.deepEqual(mine, theirs, `campaign ${task.aid}: expand's scores equal infer's`);
    const t = perTask.find((x) => x.aid === task.aid)!;
    assert.equal(res!.summary.adaptation!.steps, t.adaptSteps);
    const labels = Uint8Array.from(task.rows, (r) => stage2.label[r]!);
    const a = auc(mine, labels);
    const inferTask = inferRes!.splits.find((s) => s.name === 'hot')!.perTask.find((x) => x.aid === task.aid)!;
    assert.ok(Object.is(a, inferTask.auc) || a === inferTask.auc, `AUC ${a} vs infer's ${inferTask.auc}`);
  }
});

test('shards merged equal the unsharded run byte for byte (audience CSV and Parquet, summary but its times)', async () => {
  const campaigns = ['hot_13', 'cold_10'].map(campaignFile);
  const whole = join(root, 'whole');
  await expandCampaigns({ config: cfg, model, campaigns, top: 40, outDir: whole, threads: 1 });
  const shards = [0, 1, 2].map((i) => join(root, `shard${i}`));
  for (const [i, d] of shards.entries()) await expandCampaigns({ config: cfg, model, campaigns, top: 40, outDir: d, shard: { index: i, count: 3 }, threads: 1 });
  const merged = join(root, 'merged');
  await mergeShards([shards[2]!, shards[0]!, shards[1]!], merged);
  const noTimes = (p: string) => JSON.stringify({ ...JSON.parse(readFileSync(p, 'utf8')), seconds: null });
  for (const c of ['hot_13', 'cold_10']) {
    for (const f of ['audience.csv', 'audience.parquet']) assert.ok(readFileSync(join(whole, c, f)).equals(readFileSync(join(merged, c, f))), `${c}/${f}`);
    assert.equal(noTimes(join(merged, c, 'summary.json')), noTimes(join(whole, c, 'summary.json')));
    const shardSizes = shards.map((d) => JSON.parse(readFileSync(join(d, c, 'summary.json'), 'utf8')).pool.scored as number);
    assert.ok(shardSizes.every((n) => n > 0 && n % 16 === 0 || n === shardSizes[2]), 'shards are whole batches');
  }
  await assert.rejects(mergeShards([shards[0]!, shards[1]!], join(root, 'm2')), /shard\(s\) 2\/3 missing/);
  await assert.rejects(mergeShards([shards[0]!, shards[0]!, shards[1]!], join(root, 'm3')), /given twice/);
});

test('--truth with --shard: shards carry no quality (a note says why), merge --truth judges the merged audience exactly as an unsharded --truth run', async () => {
  const truth = join(data, CAMPAIGNS_DIR, TRUTH_FILE);
  const campaigns = ['hot_13', 'cold_10'].map(campaignFile);
  const whole = join(root, 'truth-whole');
  await expandCampaigns({ config: cfg, model, campaigns, top: 40, outDir: whole, threads: 1, truth });
  const shards = [0, 1].map((i) => join(root, `truth-shard${i}`));
  const notes: string[] = [];
  for (const [i, d] of shards.entries()) {
    const rs = await expandCampaigns({ config: cfg, model, campaigns, top: 40, outDir: d, shard: { index: i, count: 2 }, threads: 1, truth, log: (l) => notes.push(l) });
    for (const r of rs) assert.equal(r.summary.quality, null);
  }
  assert.equal(notes.filter((l) => /judged on whole pools only: give --truth to merge/.test(l)).length, 2);
  const noTimes = (p: string) => JSON.stringify({ ...JSON.parse(readFileSync(p, 'utf8')), seconds: null });
  const judged = await mergeShards(shards, join(root, 'truth-merged'), { truth });
  for (const r of judged) {
    assert.ok(r.summary.quality && r.summary.quality.recall >= 0, r.name);
    assert.equal(noTimes(join(root, 'truth-merged', r.name, 'summary.json')), noTimes(join(whole, r.name, 'summary.json')));
  }
  // without the truth, the merged summaries say nothing of quality
  for (const r of await mergeShards(shards, join(root, 'truth-merged-plain'))) assert.equal(r.summary.quality, null);
});

test('a pool with one uid on two rows: a one-line error naming the file and uid, nothing written; across shards, merge names it', async () => {
  const schema = readSchemaFile(join(data, SCHEMA_FILE));
  const us = userSchema(schema);
  // the user table's first 48 users, the last one given the first one's uid and fields
  const rows = allocatePart(us, 48, { uid: 'int32' });
  await forEachChunk(join(data, USERS_FILE), schema, 0, 47, 47, (d, uid) => {
    copyRows(us, d, 0, rows, 0, 47);
    rows.extra.uid!.set(uid);
  });
  copyRows(us, rows, 0, rows, 47, 1);
  rows.extra.uid![47] = rows.extra.uid![0]!;
  const pool = join(root, 'dup-pool.arrow');
  const w = new PartWriter(pool, schema, { kind: 'users', extra: { uid: 'int32' } });
  w.append({ ...rows, task: new Int32Array(0) });
  w.close();
  const base = { config: cfg, model, campaigns: [campaignFile('hot_13')], users: pool, top: 48, includeSeeds: true, threads: 1 };
  const out = join(root, 'dup-out');
  const err = await expandCampaigns({ ...base, outDir: out }).catch((e: unknown) => e);
  assert.ok(err instanceof UserError);
  assert.equal(err.message, `${pool}: uid ${rows.extra.uid![0]} is on two rows, both in campaign hot_13's audience; a user table has one row per user`);
  assert.deepEqual(readdirSync(out), []);
  // each shard holds one of the two rows: each is fine alone, merge finds the repeat
  const shards = [0, 1].map((i) => join(root, `dup-shard${i}`));
  for (const [i, d] of shards.entries()) await expandCampaigns({ ...base, outDir: d, shard: { index: i, count: 2 } });
  await assert.rejects(mergeShards(shards, join(root, 'dup-merged')), new RegExp(`campaign hot_13: uid ${rows.extra.uid![0]} is in the audience of two shards`));
});

test('many campaigns in one pass, on any thread count, equal each campaign expanded alone on one thread', async () => {
  // campaigns with at least one positive example (a campaign without is an error)
  const names = readdirSync(join(data, CAMPAIGNS_DIR))
    .filter((f) => f.endsWith('.yaml') && readExamples(join(data, CAMPAIGNS_DIR, f.replace(/yaml$/, 'examples.csv'))).label.includes(1))
    .map((f) => f.slice(0, -5))
    .sort()
    .slice(0, 5);
  assert.equal(names.length, 5);
  const strip = (r: { audience: unknown; summary: object }) => JSON.stringify({ audience: r.audience, summary: { ...r.summary, seconds: null } }, (_, v: unknown) => (ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : v));
  const alone = [];
  for (const n of names) alone.push(strip((await expandCampaigns({ config: cfg, model, campaigns: [campaignFile(n)], top: 30, outDir: null, threads: 1 }))[0]!));
  for (const threads of [2, 3]) {
    const together = await expandCampaigns({ config: cfg, model, campaigns: names.map(campaignFile), top: 30, outDir: null, threads });
    assert.deepEqual(together.map(strip), alone, `${threads} threads`);
  }
});

test('audience.parquet read back with a real reader (parquet-wasm, apache-arrow) holds exactly the CSV: uid Int64, score Float32 bit for bit, rank Int32', async () => {
  const out = join(root, 'parquet-check');
  const [r] = await expandCampaigns({ config: cfg, model, campaigns: [campaignFile('hot_13')], top: 60, outDir: out, threads: 1 });
  const bytes = readFileSync(join(out, 'hot_13', 'audience.parquet'));
  assert.equal(bytes.subarray(0, 4).toString('latin1'), 'PAR1');
  assert.equal(bytes.subarray(bytes.length - 4).toString('latin1'), 'PAR1');
  const pq = createRequire(import.meta.url)('parquet-wasm/node') as typeof import('parquet-wasm/node');
  const t = tableFromIPC(pq.readParquet(bytes).intoIPCStream());
  assert.deepEqual(t.schema.fields.map((f) => `${f.name}:${f.type}`), ['uid:Int64', 'score:Float32', 'rank:Int32']);
  const csv = readFileSync(join(out, 'hot_13', 'audience.csv'), 'utf8').trimEnd().split('\n').slice(1).map((l) => l.split(','));
  assert.equal(t.numRows, 60);
  assert.equal(csv.length, 60);
  const uid = t.getChild('uid')!.toArray() as BigInt64Array;
  const score = t.getChild('score')!.toArray() as Float32Array;
  const rank = t.getChild('rank')!.toArray() as Int32Array;
  csv.forEach(([u, sc, rk], i) => {
    assert.equal(uid[i]!.toString(), u, `row ${i} uid`);
    assert.ok(Object.is(score[i]!, parseScore(sc!)) && score[i] === r!.audience.score[i], `row ${i} score`);
    assert.equal(rank[i], Number(rk));
    assert.equal(rank[i], i + 1);
  });
});

test('shard ranges: whole batches, covering the pool once', () => {
  for (const [total, bs, count] of [[100, 16, 3], [5, 16, 4], [1000, 7, 9], [64, 16, 4]] as const) {
    let next = 0;
    for (let i = 0; i < count; i++) {
      const { from, to } = shardRange(total, bs, i, count);
      assert.equal(from, next);
      assert.ok(from % bs === 0 || from === total);
      next = to;
    }
    assert.equal(next, total);
  }
});

test('top N: higher scores first, ties by smaller uid, however the stream is ordered', () => {
  const rng = (s: number) => () => ((s = Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32;
  const r = rng(7);
  const items = Array.from({ length: 500 }, (_, i) => ({ uid: i * 3 + 1, score: Math.fround(Math.floor(r() * 20) / 20) }));
  const want = [...items].sort((a, b) => b.score - a.score || a.uid - b.uid).slice(0, 37);
  for (let rep = 0; rep < 3; rep++) {
    const shuffled = [...items].sort(() => r() - 0.5);
    const h = new TopN(37);
    for (const it of shuffled) h.push(it.score, it.uid);
    const got = h.sorted();
    assert.deepEqual([...got.uid], want.map((x) => x.uid));
  }
  const h = new TopN(3);
  for (const u of [9, 4, 7, 1, 8]) h.push(0.5, u);
  assert.deepEqual([...h.sorted().uid], [1, 4, 7]);
});

test('scores are written as the shortest decimal that reads back to the same float32', () => {
  for (const x of [0.1, 0.5, 1e-7, 0.123456789, 0.99999994, 1 / 3, 0]) {
    const f = Math.fround(x);
    assert.equal(parseScore(formatScore(f)), f);
  }
  assert.equal(formatScore(Math.fround(0.5)), '0.5');
  assert.equal(formatScore(Math.fround(0.1)), '0.1');
});

test('seed lists: CSV with and without a header, text, Arrow and Parquet give the same uids', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mh-seeds-'));
  const uids = [5, 17, 3, 4000000000];
  writeFileSync(join(dir, 'a.csv'), `uid\n${uids.join('\n')}\n`);
  writeFileSync(join(dir, 'b.csv'), `x,uid\n${uids.map((u) => `9,${u}`).join('\n')}\n`);
  writeFileSync(join(dir, 'c.txt'), `${uids.join('\r\n')}\r\n`);
  writeNumericTable(join(dir, 'd.arrow'), [['uid', Float64Array.from(uids)]]);
  const pq = audienceParquet({ uid: Float64Array.from(uids), score: new Float32Array(uids.length), rank: new Int32Array(uids.length) });
  writeFileSync(join(dir, 'e.parquet'), pq);
  for (const f of ['a.csv', 'b.csv', 'c.txt', 'd.arrow', 'e.parquet']) assert.deepEqual(readUidList(join(dir, f)), uids, f);
  writeFileSync(join(dir, 'ex.csv'), '7,1\n8,-1\n9,0\n');
  assert.deepEqual(readExamples(join(dir, 'ex.csv')), { uid: [7, 8, 9], label: [1, 0, 0] });
  writeFileSync(join(dir, 'bad.csv'), 'uid\n12\nabc\n');
  assert.throws(() => readUidList(join(dir, 'bad.csv')), /bad\.csv: line 3: expected a uid/);
  writeFileSync(join(dir, 'bad2.csv'), 'uid,label\n12,2\n');
  assert.throws(() => readExamples(join(dir, 'bad2.csv')), /line 2: expected a label 1, 0 or -1/);
});

test('campaign files: one-line errors naming the key', () => {
  const ok = { name: 'spring', task: { advertiserId: 3 }, seeds: [1, 2] };
  assert.equal(parseCampaign(ok, '/x').key, parseCampaign(ok, '/y').key);
  assert.equal(parseCampaign({ ...ok, aid: 42 }, '/x').key, 42);
  assert.throws(() => parseCampaign({ ...ok, seed: 'a.csv' }, '/x', 'c.yaml'), /c\.yaml: unknown key "seed" \(did you mean "seeds"\?\)/);
  assert.throws(() => parseCampaign({ ...ok, name: '../x' }, '/x'), /key "name"/);
  assert.throws(() => parseCampaign({ ...ok, task: { advertiserId: -1 } }, '/x'), /key "task.advertiserId" must be a non-negative integer/);
  assert.throws(() => parseCampaign({ name: 'a', task: {} }, '/x'), /no seed users/);
  assert.throws(() => parseCampaign({ ...ok, examples: 'e.csv' }, '/x'), /either "examples" or "seeds"/);
  assert.throws(() => parseCampaign({ ...ok, seeds: [1, 'x'] }, '/x'), /key "seeds\[1\]"/);
  assert.equal(loadCampaignFile(campaignFile('cold_10')).name, 'cold_10');
});

test('errors: no known seed, unknown uids counted, unknown task field, output path checked before any work', async () => {
  const base = { name: 'c1', aid: 1, codes: true, task: { advertiserId: 1, adCategoryId: 2 } };
  await assert.rejects(expandCampaigns({ config: cfg, model, campaigns: [parseCampaign({ ...base, seeds: [99999999, 99999998] }, root, 'camp.yaml')], outDir: null }), /camp\.yaml: none of the 2 seed uids is in .*users\.arrow/);
  const users = readExamples(join(data, CAMPAIGNS_DIR, 'hot_13.examples.csv'));
  const seeds = users.uid.filter((_, i) => users.label[i] === 1);
  const [r] = await expandCampaigns({ config: cfg, model, campaigns: [parseCampaign({ ...base, seeds: [...seeds, 99999999] }, root)], top: 5, outDir: null, threads: 1 });
  assert.deepEqual(r!.summary.seeds, { given: seeds.length + 1, found: seeds.length, missing: 1, missingUids: [99999999] });
  assert.equal(r!.summary.pool.excludedSeeds, seeds.length);
  assert.ok(!r!.audience.uid.some((u) => seeds.includes(u)), 'seeds are left out of the audience');
  await assert.rejects(expandCampaigns({ config: cfg, model, campaigns: [parseCampaign({ ...base, task: { brand: 1 }, seeds }, root, 'c.yaml')], outDir: null }), /c\.yaml: key "task.brand" is not a task field/);
  await assert.rejects(expandCampaigns({ config: cfg, model, campaigns: [parseCampaign({ ...base, task: { advertiserId: 99 }, seeds }, root, 'c.yaml')], outDir: null }), /task.advertiserId": code 99 outside \[0, 11\]/);
  await assert.rejects(expandCampaigns({ config: cfg, model, campaigns: [parseCampaign({ ...base, codes: false, seeds }, root, 'c.yaml')], outDir: null }), /no task vocabulary/);
  const file = join(root, 'a-file');
  writeFileSync(file, 'x');
  // the model does not exist: the output path is refused first
  await assert.rejects(expandCampaigns({ config: cfg, model: join(root, 'nope.safetensors'), campaigns: [parseCampaign({ ...base, seeds }, root)], outDir: file }), (e: Error) => e instanceof UserError && /a-file: exists and is not a directory/.test(e.message));
});

test('quality against the synthetic truth: recall and expected response rate beside oracle and random', async () => {
  const [r] = await expandCampaigns({ config: cfg, model, campaigns: [campaignFile('hot_13')], top: 50, outDir: null, threads: 1, truth: join(data, CAMPAIGNS_DIR, TRUTH_FILE) });
  const q = r!.summary.quality!;
  assert.ok(q.recall >= 0 && q.recall <= 1);
  assert.ok(q.oraclePrecision >= q.precision && q.oraclePrecision >= q.randomPrecision);
  assert.ok(Math.abs(q.randomRecall - 50 / (r!.summary.pool.scored - r!.summary.pool.excludedSeeds)) < 1e-12);
});

test('compareOnTruth: the reference scorers\' top N as rows between random and the oracle, the same for every arm', async () => {
  const campaigns = readdirSync(join(data, CAMPAIGNS_DIR)).filter((f) => f.endsWith('.yaml')).sort().slice(0, 2).map((f) => join(data, CAMPAIGNS_DIR, f));
  const arms = [
    { name: 'adapted', model, adapt: true },
    { name: 'unadapted', model, adapt: false },
  ];
  const cs = await compareOnTruth({ config: cfg, arms, campaigns, truth: join(data, CAMPAIGNS_DIR, TRUTH_FILE), top: 30 });
  assert.equal(cs.length, 2);
  for (const c of cs) {
    assert.deepEqual(c.rows.map((r) => r.name), ['adapted', 'unadapted', 'random', 'ad-agnostic', 'category-level', 'oracle']);
    for (const arm of ['adapted', 'unadapted']) {
      const refs = c.results[arm]!.summary.quality!.references;
      assert.deepEqual(c.rows.slice(3, 5), [{ name: 'ad-agnostic', ...refs.agnostic }, { name: 'category-level', ...refs.category }]);
    }
    for (const r of c.rows.slice(3, 5)) assert.ok(r.recall >= 0 && r.recall <= 1 && r.precision <= c.rows[5]!.precision, `${c.campaign} ${r.name}`);
  }
  assert.deepEqual(meanComparison(cs).map((r) => r.name), cs[0]!.rows.map((r) => r.name));
});

test('CLI: expand and merge, help and one-line errors', () => {
  const out = join(root, 'cli');
  const args = ['-o', `runner.train_data_dir=${data}`, ...overrides.flatMap((o) => ['-o', o]), '--model', model, '--campaign', campaignFile('hot_13'), '--top', '5'];
  const a = runCli('expand', ...args, '--out', join(out, 's0'), '--shard', '0/2', '-q');
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /hot_13: \d+ of \d+ seeds found/);
  assert.equal(runCli('expand', ...args, '--out', join(out, 's1'), '--shard', '1/2', '-q').code, 0);
  const m = runCli('merge', join(out, 's0'), join(out, 's1'), '--out', join(out, 'm'), '--json', '--truth', join(data, CAMPAIGNS_DIR, TRUTH_FILE));
  assert.equal(m.code, 0, m.stderr);
  assert.equal(JSON.parse(m.stdout)[0].summary.audience.size, 5);
  assert.ok(JSON.parse(m.stdout)[0].summary.quality.recall >= 0, 'merge --truth judges the merged audience');
  const bad = runCli('expand', ...args, '--shard', '2/2');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /expected i\/N/);
  const missing = runCli('expand', ...args, '--campaign', join(root, 'none.yaml'));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /none\.yaml: cannot read the campaign file/);
  assert.match(runCli('expand', '--help').stdout, /--include-seeds/);
});
