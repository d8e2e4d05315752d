/**
 * An audience folder (audience.csv, audience.parquet, summary.json) is written as one unit, and
 * merge refuses a shard whose files disagree.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { synthesize, CAMPAIGNS_DIR } from '../src/data/synth.js';
import { expandCampaigns, mergeShards, type CampaignResult } from '../src/expand/index.js';
import { writeAudienceFolder } from '../src/expand/audience-folder.js';
import { createOps } from '../src/kernels/index.js';
import { checkpointPath, runTrain } from '../src/pipeline/run-train.js';
import { leftovers, snapshot } from './helpers/outputs.js';
import { tinyOverrides } from './helpers/tiny-dataset.js';

const root = mkdtempSync(join(tmpdir(), 'mh-audience-'));
after(() => rmSync(root, { recursive: true, force: true }));
const data = join(root, 'data');
await synthesize({ out: data, preset: 'tiny' });
const cfg = loadConfig(null, [...tinyOverrides(data, join(root, 'model')), 'runner.epochs=1', 'runner.threads=1']);
{
  const ops = await createOps(1);
  await runTrain(cfg, ops);
  await ops.close();
}
const model = checkpointPath(join(root, 'model'), 0);
const name = readdirSync(join(data, CAMPAIGNS_DIR)).find((f) => /^cold_\d+\.yaml$/.test(f))!.slice(0, -5);
const campaigns = [join(data, CAMPAIGNS_DIR, `${name}.yaml`)];
const shards = [join(root, 's0'), join(root, 's1')];
const results: CampaignResult[] = [];
for (const [i, d] of shards.entries()) results.push(...(await expandCampaigns({ config: cfg, model, campaigns, top: 30, outDir: d, shard: { index: i, count: 2 }, threads: 1 })));

test('a write that fails after the audience files leaves the previous folder whole and no temporary folder', () => {
  const dir = join(shards[0]!, name);
  const before = snapshot(dir);
  const r = results[0]!;
  // summary.json cannot be serialised: the failure comes after audience.csv and .parquet are written
  const bad = { ...r.summary, key: 1n as unknown as number };
  const shorter = { uid: r.audience.uid.slice(0, 3), score: r.audience.score.slice(0, 3), rank: r.audience.rank.slice(0, 3) };
  assert.throws(() => writeAudienceFolder(dir, shorter, bad, performance.now()), /BigInt/);
  assert.deepEqual(snapshot(dir), before);
  assert.deepEqual(leftovers(shards[0]!), []);
});

test('merge refuses a shard whose files disagree: an audience file of another run, a row count its summary does not name', async () => {
  const s0 = join(shards[0]!, name);
  const summary = JSON.parse(readFileSync(join(s0, 'summary.json'), 'utf8')) as { files: Record<string, { sha256: string }> };
  assert.deepEqual(Object.keys(summary.files).sort(), ['audience.csv', 'audience.parquet']);
  const merged = await mergeShards(shards, join(root, 'merged'));
  assert.equal(merged[0]!.summary.audience.size, 30);
  // another run's CSV beside this run's summary
  const csv = readFileSync(join(s0, 'audience.csv'));
  copyFileSync(join(shards[1]!, name, 'audience.csv'), join(s0, 'audience.csv'));
  await assert.rejects(mergeShards(shards, join(root, 'm2')), /s0[/\\]cold_\d+: audience\.csv is not the file its summary\.json records \(.*SHA-256 differs\); the folder's files are not of one run/);
  // an older summary without digests: the row count still has to agree
  writeFileSync(join(s0, 'audience.csv'), csv);
  const { files: _f, ...old } = JSON.parse(readFileSync(join(s0, 'summary.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(s0, 'summary.json'), JSON.stringify(old));
  writeFileSync(join(s0, 'audience.csv'), csv.toString('utf8').split('\n').slice(0, -3).join('\n') + '\n');
  await assert.rejects(mergeShards(shards, join(root, 'm3')), /s0[/\\]cold_\d+: audience\.csv holds 28 users, its summary\.json says 30/);
  assert.deepEqual(readdirSync(join(root, 'm3')), [], 'nothing merged');
});
