/** export-onnx --campaign: the adapted model in ONNX Runtime scores the audience as expand did. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';
import { loadConfig } from '../src/config/config.js';
import { readSchemaFile } from '../src/data/schema.js';
import { expandCampaigns, findUsers } from '../src/expand/index.js';
import { layoutFor, schemaFor } from '../src/meta/model-setup.js';
import { onnxFeeds } from '../src/model/onnx-export.js';
import { runCli } from './helpers/cli.js';
import { serveData } from './helpers/serve.js';

async function score(path: string, feeds: Record<string, { dims: number[]; data: BigInt64Array }>): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(path);
  try {
    const out = await s.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor('int64', v.data, v.dims)])));
    return out.score!.data as Float32Array;
  } finally {
    await s.release();
  }
}

test('export-onnx --campaign: ONNX Runtime scores the audience\'s users as expand scored them (1e-5), the task fields baked in', async (t) => {
  const d = serveData(1);
  t.after(() => d.cleanup());
  const file = join(d.root, 'spring.yaml');
  writeFileSync(file, JSON.stringify({ name: 'spring', aid: d.campaign.aid, codes: true, task: d.campaign.task, seeds: d.campaign.seeds }));
  const cfg = loadConfig(d.config);
  const out = join(d.root, 'out');
  await expandCampaigns({ config: cfg, model: d.model, campaigns: [file], top: 200, outDir: out, threads: 1 });
  const rows = readFileSync(join(out, 'spring', 'audience.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  const want = new Map(rows.map(([u, s]) => [Number(u), Number(s)]));

  const onnxPath = join(d.root, 'spring.onnx');
  const r = runCli('export-onnx', '--model', d.model, '--campaign', file, '-m', d.config, '--out', onnxPath, '--json');
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as { task: Record<string, number>; inputs: string[] };
  assert.deepEqual(summary.task, d.campaign.task);
  assert.ok(!summary.inputs.some((n) => n in d.campaign.task));

  // the audience's users, from the pool
  const schemaPath = join(d.data, 'schema.json');
  const schema = schemaFor(cfg, readSchemaFile(schemaPath), schemaPath);
  const found = await findUsers(join(d.data, 'users.arrow'), schema, new Set(want.keys()));
  const L = layoutFor(cfg, schema);
  const got = await score(onnxPath, onnxFeeds(L, found.data, 0, found.data.nRows, true));
  let worst = 0;
  for (const [u, row] of found.row) worst = Math.max(worst, Math.abs(got[row]! - want.get(u)!));
  assert.equal(found.row.size, want.size);
  assert.ok(worst <= 1e-5, `largest difference ${worst}`);

  // the general model scores the same users otherwise: the adaptation is in the file
  const general = join(d.root, 'general.onnx');
  assert.equal(runCli('export-onnx', '--model', d.model, '--out', general).code, 0);
  const feeds = onnxFeeds(L, { ...found.data, task: new Int32Array(found.data.nRows * schema.task.length).map((_, i) => d.campaign.task[schema.task[i % schema.task.length]!.name]!) }, 0, found.data.nRows, false);
  const base = await score(general, feeds);
  assert.ok([...found.row].some(([u, row]) => Math.abs(base[row]! - want.get(u)!) > 1e-4));

  const bad = runCli('export-onnx', '--model', d.model, '--campaign', join(d.root, 'nope.yaml'), '-m', d.config, '--out', onnxPath);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^metaheac: error: .*nope\.yaml: cannot read the campaign file/);
});
