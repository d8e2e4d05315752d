/**
 * Clear errors instead of stack traces or wrong words (issue 21): each input class gets one
 * line naming the file, key or value and what was expected, before any work starts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { synthesize } from '../src/data/synth.js';
import { readSchemaFile } from '../src/data/schema.js';
import { buildLayout } from '../src/model/layout.js';
import { JsOps } from '../src/model/ops.js';
import { allocParams, initParams } from '../src/model/params.js';
import { saveCheckpoint } from '../src/model/checkpoint.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/fixtures.js';
import { tinyDataset, tinyOverrides } from './helpers/tiny-dataset.js';

const dims = { embedDim: 4, mlpDims: [6], numExpert: 2, numOutput: 2 };

/** A synth tiny dataset (with its user table) and a checkpoint of a small model on it. */
async function datasetAndModel(root: string): Promise<{ ds: string; model: string }> {
  const ds = join(root, 'ds');
  await synthesize({ out: ds, preset: 'tiny', seed: 1 });
  const ops = new JsOps(Float32Array);
  const p = allocParams(buildLayout(readSchemaFile(join(ds, 'schema.json')), dims), ops);
  initParams(p, 1);
  const model = join(root, 'model.safetensors');
  saveCheckpoint(model, p, { epoch: 0 });
  return { ds, model };
}

/** One line on stderr, `metaheac: error: ...`, exit 1. */
function oneLine(r: { code: number | null; stderr: string }): string {
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^metaheac: error: [^\n]*\n$/, r.stderr);
  return r.stderr;
}

test('predict: a user table given as --data is named as one, not as mixed datasets', async (t) => {
  const { ds, model } = await datasetAndModel(tempDir(t));
  const r = runCli('predict', '--model', model, '--data', join(ds, 'users.arrow'), '--out', join(ds, '..', 'p.csv'));
  const line = oneLine(r);
  assert.match(line, /users\.arrow: a user table \(a uid column and the user fields, one row per user\), not a part of labelled rows; give a part with label, aid and the task fields/);
  assert.doesNotMatch(line, /mixed/);
});

test('a safetensors file with a damaged header is reported as damaged safetensors, not as a torch.save file', async (t) => {
  const root = tempDir(t);
  const { ds, model } = await datasetAndModel(root);
  const bytes = readFileSync(model);
  bytes[8] = 0x78; // the header's opening '{' overwritten
  for (const name of ['damaged.safetensors', 'damaged.bin']) {
    const bad = join(root, name);
    writeFileSync(bad, bytes);
    const line = oneLine(runCli('predict', '--model', bad, '--data', join(ds, 'test_hot_stage2.arrow'), '--out', join(root, 'p.csv')));
    assert.match(line, new RegExp(`${name.replace('.', '\\.')}: not a safetensors file \\(header is not JSON`));
    assert.doesNotMatch(line, /torch\.save/);
  }
  // bytes that are no checkpoint format at all are refused as such
  const junk = join(root, 'junk.pt');
  writeFileSync(junk, 'hello, not a model at all');
  assert.match(oneLine(runCli('predict', '--model', junk, '--data', join(ds, 'test_hot_stage2.arrow'), '--out', join(root, 'p.csv'))), /junk\.pt: not a checkpoint: neither a safetensors file/);
});

test('a YAML alias bomb in a config is one line naming the file, and its expansion is bounded', (t) => {
  const root = tempDir(t);
  const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 8; i++) lines.push(`a${i}: &a${i} [${Array(9).fill(`*a${i === 1 ? '' : i - 1}`).join(',')}]`);
  const cfg = join(root, 'bomb.yaml');
  writeFileSync(cfg, `${lines.join('\n')}\nrunner:\n  epochs: 1\n`);
  const t0 = Date.now();
  assert.match(oneLine(runCli('train', '-m', cfg)), /bomb\.yaml: invalid YAML: its aliases expand to more than 100 nodes/);
  assert.ok(Date.now() - t0 < 10_000);
});

test('a model or batch too large for the engine is refused by key before the data is read', async (t) => {
  const root = tempDir(t);
  const ds = await tinyDataset();
  const base = tinyOverrides(ds, join(root, 'out'));
  const batch = runCli('train', '-o', ...base, 'hyper_parameters.batch_size=1000000000000');
  assert.match(oneLine(batch), /hyper_parameters\.batch_size is 1000000000000: one batch needs at least [\d.]+ GiB of the engine's 4\.0 GiB .*use at most \d+/);
  assert.doesNotMatch(batch.stdout + batch.stderr, /loading/);
  // config max_idxs far past what any engine holds: the table and the keys named
  const schema = readSchemaFile(join(ds, 'schema.json'));
  const big = [schema.userSingle.map((f, i) => (i === 0 ? 1e12 : f.maxIdx)), schema.userMulti.map((f) => f.maxIdx), schema.task.map((f) => f.maxIdx)];
  const tables = runCli('train', '-o', ...base, `hyper_parameters.max_idxs=${JSON.stringify(big)}`);
  assert.match(oneLine(tables), /cannot fit the engine's 4\.0 GiB: the largest table, embedding\.static_emb\.embeddings\.0\.weight, has 1000000000001 rows .*max_idx, max_idxs/);
  // predict's --batch-size, likewise before its data loads
  const ops = new JsOps(Float32Array);
  const p = allocParams(buildLayout(schema, dims), ops);
  initParams(p, 1);
  const model = join(root, 'm.safetensors');
  saveCheckpoint(model, p, { epoch: 0 });
  const pr = runCli('predict', '--model', model, '--data', join(ds, 'test_hot_stage2.arrow'), '--out', join(root, 'p.csv'), '--batch-size', '1000000000000');
  assert.match(oneLine(pr), /--batch-size is 1000000000000: one batch needs/);
});

test('schema.json: a max_idx past int32 or a list width past 4096 is refused by key', async (t) => {
  const root = tempDir(t);
  const ds = await tinyDataset();
  const path = join(ds, 'schema.json');
  const good = readFileSync(path, 'utf8');
  const edit = (f: (s: { user_single: { max_idx: number }[]; user_multi: { width: number }[] }) => void): void => {
    const s = JSON.parse(good) as Parameters<typeof f>[0];
    f(s);
    writeFileSync(path, JSON.stringify(s));
  };
  edit((s) => (s.user_single[0]!.max_idx = 1e12));
  assert.match(oneLine(runCli('train', '-o', ...tinyOverrides(ds, join(root, 'o1')))), /schema\.json: user_single\[0\]\.max_idx must be an integer in \[0, 2147483646\] \(ids are int32\), found 1000000000000/);
  edit((s) => (s.user_multi[0]!.width = 1e9));
  assert.match(oneLine(runCli('train', '-o', ...tinyOverrides(ds, join(root, 'o2')))), /schema\.json: user_multi\[0\]\.width must be an integer in \[1, 4096\], found 1000000000/);
});

test('checkpoint metadata whose dims outgrow the file\'s tensors is refused as damaged, by predict and export-onnx', async (t) => {
  const root = tempDir(t);
  const { ds, model } = await datasetAndModel(root);
  const b = readFileSync(model);
  const n = Number(b.readBigUInt64LE(0));
  const h = JSON.parse(b.subarray(8, 8 + n).toString()) as { __metadata__: Record<string, string> };
  h.__metadata__.dims = JSON.stringify({ ...dims, embedDim: 1e9 });
  const text = Buffer.from(JSON.stringify(h));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(text.length));
  const bad = join(root, 'dims.safetensors');
  writeFileSync(bad, Buffer.concat([len, text, b.subarray(8 + n)]));
  const want = /dims\.safetensors: __metadata__\.dims \{"embedDim":1000000000,.*describe a model of \d+ parameters, but the file's tensors hold \d+: the metadata is damaged/;
  assert.match(oneLine(runCli('predict', '--model', bad, '--data', join(ds, 'test_hot_stage2.arrow'), '--out', join(root, 'p.csv'))), want);
  assert.match(oneLine(runCli('export-onnx', '--model', bad, '--out', join(root, 'm.onnx'))), want);
});
