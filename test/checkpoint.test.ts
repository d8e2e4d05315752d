import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLayout } from '../src/model/layout.js';
import { JsOps } from '../src/model/ops.js';
import { allocParams, initParams } from '../src/model/params.js';
import { loadCheckpoint, readCheckpointMeta, saveCheckpoint } from '../src/model/checkpoint.js';
import { paramsFromCheckpoint } from '../src/meta/model-setup.js';
import { TENCENT_SCHEMA } from '../src/data/schema.js';
import { TINY_SCHEMA } from './helpers/tiny.js';

const dims = { embedDim: 4, mlpDims: [6, 5], numExpert: 3, numOutput: 2 };

test('checkpoint round trip: every tensor, names and [out, in] shapes of the reference', () => {
  const ops = new JsOps(Float32Array);
  const L = buildLayout(TINY_SCHEMA, dims);
  const p = allocParams(L, ops);
  initParams(p, 3);
  const dir = mkdtempSync(join(tmpdir(), 'mh-ck-'));
  const path = join(dir, '0', 'model.safetensors');
  saveCheckpoint(path, p, { epoch: 0, step: 12 });
  const q = allocParams(L, ops);
  const info = loadCheckpoint(path, q);
  assert.deepEqual(info, { epoch: 0, step: 12 });
  assert.deepEqual(q.dense, p.dense);
  p.tables.forEach((t, i) => assert.deepEqual(q.tables[i], t));
  const meta = readCheckpointMeta(path);
  assert.deepEqual(meta.dims, dims);
  assert.deepEqual(meta.schema, TINY_SCHEMA);
  // header: names and shapes as the official state_dict
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  assert.equal((8 + n) % 8, 0);
  const h = JSON.parse(buf.subarray(8, 8 + n).toString()) as Record<string, { shape: number[] }>;
  assert.deepEqual(h['mlp.0.mlp.0.weight']!.shape, [6, 4 * 4]);
  assert.deepEqual(h['mlp.2.mlp.2.weight']!.shape, [5, 6]);
  assert.deepEqual(h['output_layer.1.weight']!.shape, [1, 5]);
  assert.deepEqual(h['attention_layer.0.weight']!.shape, [5, 3 * 4]);
  assert.deepEqual(h['output_attention_layer.2.weight']!.shape, [2, 5]);
  assert.deepEqual(h['embedding.dynamic_emb.embeddings.1.weight']!.shape, [5, 4]);
  assert.deepEqual(h['embedding.ad_emb.embeddings.0.weight']!.shape, [3, 4]);
  assert.ok(!existsSync(path + '.tmp'));
});

test('a checkpoint that does not match the config is refused, naming the first mismatch', () => {
  const ops = new JsOps(Float32Array);
  const L = buildLayout(TINY_SCHEMA, dims);
  const p = allocParams(L, ops);
  const dir = mkdtempSync(join(tmpdir(), 'mh-ck-'));
  const path = join(dir, 'm.safetensors');
  saveCheckpoint(path, p);
  const other = buildLayout(TINY_SCHEMA, { ...dims, mlpDims: [7, 5] });
  assert.throws(() => loadCheckpoint(path, allocParams(other, ops)), /tensor "mlp\.0\.mlp\.0\.weight" has shape \[6, 16\], the config gives \[7, 16\]/);
  const fewer = buildLayout(TINY_SCHEMA, { ...dims, numExpert: 2 });
  assert.throws(() => loadCheckpoint(path, allocParams(fewer, ops)), /unexpected tensor "mlp\.2\.mlp\.0\.weight"/);
  const more = buildLayout(TINY_SCHEMA, { ...dims, numOutput: 3 });
  assert.throws(() => loadCheckpoint(path, allocParams(more, ops)), /tensor "output_layer\.2\.weight" is missing/);
  const wrongSchema = { ...TINY_SCHEMA, userSingle: [{ name: 's0', maxIdx: 4 }, TINY_SCHEMA.userSingle[1]!] };
  assert.throws(() => paramsFromCheckpoint(ops, buildLayout(wrongSchema, dims), path), /max_idxs\[0\]\[0\] \(s0\) is 3/);
  assert.throws(() => paramsFromCheckpoint(ops, buildLayout(TENCENT_SCHEMA, dims), path), /schema differs/);
  writeFileSync(join(dir, 'junk.safetensors'), 'not a checkpoint');
  assert.throws(() => loadCheckpoint(join(dir, 'junk.safetensors'), p), /not a safetensors file/);
  const full = readFileSync(path);
  writeFileSync(join(dir, 'cut.safetensors'), full.subarray(0, full.length - 10));
  assert.throws(() => loadCheckpoint(join(dir, 'cut.safetensors'), p), /truncated/);
});
