/**
 * Uids above 2^53 (int64 ids a double rounds onto other users) stay exact end to end: the
 * pool, seed lists, the truth, audience.csv / .parquet, merged shards and summary JSON; a
 * float uid column, which may already have rounded them, is refused with one line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeVector, Table, tableFromIPC, tableToIPC, type Vector } from 'apache-arrow';
import { loadConfig } from '../src/config/config.js';
import { USERS_FILE } from '../src/data/dataset.js';
import { synthesize, CAMPAIGNS_DIR, TRUTH_FILE } from '../src/data/synth.js';
import { writeNumericTable } from '../src/data/table-write.js';
import { expandCampaigns, loadCampaignFile, mergeShards, parseCampaign, readExamples, readUidList, summaryJson, type Campaign } from '../src/expand/index.js';
import { createOps } from '../src/kernels/index.js';
import { checkpointPath, runTrain } from '../src/pipeline/run-train.js';
import { tinyOverrides } from './helpers/tiny-dataset.js';

const root = mkdtempSync(join(tmpdir(), 'mh-uids-'));
const data = join(root, 'data');
await synthesize({ out: data, preset: 'tiny' });
const modelDir = join(root, 'model');
const cfg = loadConfig(null, [...tinyOverrides(data, modelDir), 'runner.epochs=1', 'runner.threads=1']);
{
  const ops = await createOps(1);
  await runTrain(cfg, ops);
  await ops.close();
}
const model = checkpointPath(modelDir, 0);

// each synth uid u becomes 2^60 + 2u + 1: odd and far above 2^53, so no double holds it, and
// in the same order, so ties rank alike
const BASE = 2n ** 60n;
const big = (u: number | bigint): bigint => BASE + 2n * BigInt(u) + 1n;

/** `path`'s table with its uid column replaced by `uid` (every other column as it was). */
function withUidColumn(path: string, out: string, uid: (v: Vector) => Vector): void {
  const t = tableFromIPC(readFileSync(path));
  const cols = Object.fromEntries(t.schema.fields.map((f) => [f.name, f.name === 'uid' ? uid(t.getChild('uid')!) : t.getChild(f.name)!]));
  writeFileSync(out, tableToIPC(new Table(cols), 'file'));
}
const bigColumn = (v: Vector) => makeVector(BigInt64Array.from(v.toArray() as ArrayLike<number>, (u) => big(u)));
const bigPool = join(root, 'big-users.arrow');
withUidColumn(join(data, USERS_FILE), bigPool, bigColumn);
const bigTruth = join(root, 'big-truth.arrow');
withUidColumn(join(data, CAMPAIGNS_DIR, TRUTH_FILE), bigTruth, bigColumn);
const poolUids = new Set([...(tableFromIPC(readFileSync(bigPool)).getChild('uid')!.toArray() as BigInt64Array)].map(String));

/** hot_13 with its examples' uids mapped to the big ones. */
function bigCampaign(): Campaign {
  const c = loadCampaignFile(join(data, CAMPAIGNS_DIR, 'hot_13.yaml'));
  const ex = readExamples(join(data, CAMPAIGNS_DIR, 'hot_13.examples.csv'));
  const file = join(root, 'hot_13.big-examples.csv');
  writeFileSync(file, `uid,label\n${ex.uid.map((u, i) => `${big(u)},${ex.label[i]}`).join('\n')}\n`);
  return { ...c, examples: { file } };
}

const csvRows = (dir: string) => readFileSync(join(dir, 'hot_13', 'audience.csv'), 'utf8').trimEnd().split('\n').slice(1).map((l) => l.split(','));

test('a pool of int64 uids above 2^53: the audience is exactly the small-uid run mapped, in the pool, in CSV, Parquet and merged shards; quality unchanged', async () => {
  const small = join(root, 'small');
  const bigOut = join(root, 'big');
  const common = { config: cfg, model, top: 40, threads: 1 };
  const [s] = await expandCampaigns({ ...common, campaigns: [join(data, CAMPAIGNS_DIR, 'hot_13.yaml')], outDir: small, truth: join(data, CAMPAIGNS_DIR, TRUTH_FILE) });
  const [b] = await expandCampaigns({ ...common, campaigns: [bigCampaign()], users: bigPool, lookup: bigPool, outDir: bigOut, truth: bigTruth });
  const want = csvRows(small).map(([u, sc, rk]) => [String(big(BigInt(u!))), sc, rk]);
  const got = csvRows(bigOut);
  assert.equal(got.length, 40);
  assert.deepEqual(got, want, 'same users, scores and ranks, uids exact');
  for (const [u] of got) assert.ok(poolUids.has(u!), `${u} is a uid of the pool`);
  // every seed found, the truth looked up by exact uid
  assert.deepEqual(b!.summary.seeds, s!.summary.seeds);
  assert.equal(b!.summary.pool.excludedSeeds, s!.summary.pool.excludedSeeds);
  assert.ok(s!.summary.quality);
  assert.deepEqual(b!.summary.quality, s!.summary.quality);
  // Parquet: Int64, the same uids
  const pq = createRequire(import.meta.url)('parquet-wasm/node') as typeof import('parquet-wasm/node');
  const t = tableFromIPC(pq.readParquet(readFileSync(join(bigOut, 'hot_13', 'audience.parquet'))).intoIPCStream());
  assert.equal(String(t.schema.fields[0]!.type), 'Int64');
  assert.deepEqual([...(t.getChild('uid')!.toArray() as BigInt64Array)].map(String), got.map(([u]) => u));
  // shards merged: byte for byte the unsharded audience
  const shards = [0, 1].map((i) => join(root, `big-shard${i}`));
  for (const [i, d] of shards.entries()) await expandCampaigns({ ...common, campaigns: [bigCampaign()], users: bigPool, lookup: bigPool, outDir: d, shard: { index: i, count: 2 } });
  const merged = join(root, 'big-merged');
  await mergeShards(shards, merged);
  assert.equal(readFileSync(join(merged, 'hot_13', 'audience.csv'), 'utf8'), readFileSync(join(bigOut, 'hot_13', 'audience.csv'), 'utf8'));
  assert.deepEqual(readFileSync(join(merged, 'hot_13', 'audience.parquet')), readFileSync(join(bigOut, 'hot_13', 'audience.parquet')));
});

test('seed lists and inline seeds keep uids above 2^53 exact; a missing one is a decimal string in summary JSON', async () => {
  const u = big(7);
  const dir = mkdtempSync(join(tmpdir(), 'mh-uids-lists-'));
  writeFileSync(join(dir, 'a.csv'), `uid\n${u}\n5\n`);
  writeFileSync(join(dir, 'b.arrow'), tableToIPC(new Table({ uid: makeVector(BigInt64Array.of(u, 5n)) }), 'file'));
  for (const f of ['a.csv', 'b.arrow']) assert.deepEqual(readUidList(join(dir, f)), [u, 5], f);
  // beyond Int64, where the audience files hold uids
  writeFileSync(join(dir, 'huge.csv'), 'uid\n9223372036854775808\n');
  assert.throws(() => readUidList(join(dir, 'huge.csv')), /huge\.csv: line 2: expected a uid/);
  // a Float64 column above 2^53 may already be another user: refused, naming the file, column and row
  writeNumericTable(join(dir, 'f.arrow'), [['uid', Float64Array.of(5, 2 ** 60)]]);
  assert.throws(() => readUidList(join(dir, 'f.arrow')), (e: Error) => /f\.arrow: column "uid" row 1: Float64 value \d+ is not an exact uid \(store uids as Int64\)$/.test(e.message) && !e.message.includes('\n'));
  // inline: a string of digits is exact; a number above 2^53 has been rounded by the parser already
  assert.deepEqual((parseCampaign({ name: 'x', seeds: [String(u), 3] }, dir).seeds as { uids: unknown[] }).uids, [u, 3]);
  assert.throws(() => parseCampaign({ name: 'x', seeds: [2 ** 60] }, dir, 'c.yaml'), /c\.yaml: key "seeds\[0\]" must be a uid \(a non-negative integer; above 2\^53 as a string of digits\)/);
  // a seed not in the pool is listed exactly
  const c = bigCampaign();
  const ex = readExamples((c.examples as { file: string }).file);
  const seeds = ex.uid.filter((_, i) => ex.label[i] === 1);
  const missing = BASE + 2n;
  const [r] = await expandCampaigns({ config: cfg, model, campaigns: [{ ...c, examples: null, seeds: { uids: [...seeds, missing] }, negatives: null }], users: bigPool, lookup: bigPool, top: 5, outDir: null, threads: 1 });
  assert.deepEqual(r!.summary.seeds.missingUids, [String(missing)]);
  assert.match(summaryJson(r!.summary), new RegExp(`"missingUids": \\[\\s*"${missing}"\\s*\\]`));
});

test('a pool or truth whose uid column is a float is refused with one line naming the file and column', async () => {
  const floatPool = join(root, 'float-users.arrow');
  withUidColumn(join(data, USERS_FILE), floatPool, (v) => makeVector(Float64Array.from(v.toArray() as ArrayLike<number>)));
  const oneLine = (re: RegExp) => (e: Error) => re.test(e.message) && !e.message.includes('\n');
  const want = /float-users\.arrow: column "uid" has type Float64, expected an integer type \(Int64 or Int32\): a float cannot hold every uid exactly$/;
  await assert.rejects(expandCampaigns({ config: cfg, model, campaigns: [join(data, CAMPAIGNS_DIR, 'hot_13.yaml')], users: floatPool, outDir: null, threads: 1 }), oneLine(want));
  await assert.rejects(expandCampaigns({ config: cfg, model, campaigns: [join(data, CAMPAIGNS_DIR, 'hot_13.yaml')], lookup: floatPool, outDir: null, threads: 1 }), oneLine(want));
  const floatTruth = join(root, 'float-truth.arrow');
  withUidColumn(join(data, CAMPAIGNS_DIR, TRUTH_FILE), floatTruth, (v) => makeVector(Float64Array.from(v.toArray() as ArrayLike<number>)));
  await assert.rejects(
    expandCampaigns({ config: cfg, model, campaigns: [join(data, CAMPAIGNS_DIR, 'hot_13.yaml')], outDir: null, threads: 1, truth: floatTruth }),
    oneLine(/float-truth\.arrow: column "uid" has type Float64, expected an integer type/),
  );
});
