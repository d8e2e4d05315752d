/**
 * `metaheac meta-grad` against PyTorch (test/fixtures/meta-grad: expected.json made once by
 * make_fixture.py with torch.autograd in float64, orders 1 and 2) and against the library path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writePart } from '../src/data/arrow-part.js';
import { writeSchema } from '../src/data/dataset.js';
import { createOps } from '../src/kernels/index.js';
import { loadCheckpoint, readCheckpointMeta, saveCheckpoint } from '../src/model/checkpoint.js';
import { JsOps } from '../src/model/ops.js';
import { allocParams } from '../src/model/params.js';
import { metaGradient } from '../src/meta/meta-grad.js';
import { runCli } from './helpers/cli.js';
import { paramsOf, partOf, type MetaGradInputs } from './helpers/meta-grad-inputs.js';

const FIX = fileURLToPath(new URL('../../test/fixtures/meta-grad/', import.meta.url));
const inputs = JSON.parse(readFileSync(join(FIX, 'inputs.json'), 'utf8')) as MetaGradInputs;
interface Expected {
  mean_query_loss: number;
  grads: Record<string, number[]>;
}
const expected = JSON.parse(readFileSync(join(FIX, 'expected.json'), 'utf8')) as { order1: Expected; order2: Expected };

const ref = new JsOps(Float64Array);
const { schema, L, params } = paramsOf(inputs, (l) => allocParams(l, ref));
const parts = inputs.tasks.map((t) => ({ support: partOf(schema, t.support), query: partOf(schema, t.query) }));

const dir = mkdtempSync(join(tmpdir(), 'mh-mg-'));
writeSchema(dir, schema);
const model = join(dir, 'model.safetensors');
saveCheckpoint(model, params);
const support: string[] = [];
const query: string[] = [];
for (let i = 0; i < parts.length; i++) {
  support.push(join(dir, `s${i}.arrow`));
  query.push(join(dir, `q${i}.arrow`));
  await writePart(support[i]!, schema, parts[i]!.support);
  await writePart(query[i]!, schema, parts[i]!.query);
}

/** Gradient file -> name -> values. */
function readGrad(path: string): Map<string, Float64Array> {
  const g = allocParams(L, ref);
  loadCheckpoint(path, g);
  const out = new Map<string, Float64Array>();
  L.embeddings.forEach((e, i) => out.set(e.name, Float64Array.from(g.tables[i]!)));
  for (const d of L.dense) out.set(d.name, Float64Array.from(g.dense.subarray(d.offset, d.offset + d.size)));
  return out;
}

function compare(got: Map<string, Float64Array>, want: Record<string, number[]>, tol: number, what: string): void {
  assert.equal(got.size, Object.keys(want).length);
  for (const [name, w] of Object.entries(want)) {
    const g = got.get(name)!;
    const scale = Math.max(1e-12, ...w.map(Math.abs));
    w.forEach((v, i) => assert.ok(Math.abs(g[i]! - v) <= tol * scale, `${what} ${name}[${i}]: ${g[i]} vs PyTorch ${v}`));
  }
}

for (const order of [1, 2] as const) {
  test(`meta-grad --order ${order} matches PyTorch's autograd (float64 reference to float32 storage, the engine to float32 arithmetic)`, () => {
    const want = expected[`order${order}`];
    for (const engine of ['reference', 'wasm'] as const) {
      const out = join(dir, `g${order}-${engine}.safetensors`);
      const args = ['meta-grad', '--model', model, '--support', support.join(','), '--query', query.join(','), '--order', String(order), '--local-lr', String(inputs.local_lr), '--out', out, '--json', '--threads', '1'];
      const r = runCli(...args, ...(engine === 'reference' ? ['--reference'] : []));
      assert.equal(r.code, 0, r.stderr);
      const summary = JSON.parse(r.stdout) as { meanQueryLoss: number };
      // the reference computes in float64 (its loss agrees to 1e-12); the file stores float32
      const lossTol = engine === 'reference' ? 1e-12 : 2e-5;
      assert.ok(Math.abs(summary.meanQueryLoss - want.mean_query_loss) < lossTol, `${engine} loss ${summary.meanQueryLoss} vs ${want.mean_query_loss}`);
      assert.equal(Number(readMeta(out).mean_query_loss), summary.meanQueryLoss);
      compare(readGrad(out), want.grads, engine === 'reference' ? 1e-7 : 2e-4, engine);
    }
  });
}

function readMeta(path: string): Record<string, string> {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  return (JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as { __metadata__: Record<string, string> }).__metadata__;
}

test('the two orders differ on the fixture by far more than float32 noise (the comparison has power)', () => {
  const name = 'attention_layer.0.weight';
  const a = expected.order1.grads[name]!;
  const b = expected.order2.grads[name]!;
  const scale = Math.max(...b.map(Math.abs));
  assert.ok(a.some((v, i) => Math.abs(v - b[i]!) > 1e-2 * scale));
});

test('meta-grad writes what the library computes, bit for bit on the engine', async () => {
  const out = join(dir, 'lib.safetensors');
  const r = runCli('meta-grad', '--model', model, '--support', support.join(','), '--query', query.join(','), '--order', '2', '--local-lr', '0.25', '--out', out, '--threads', '2');
  assert.equal(r.code, 0, r.stderr);
  const ops = await createOps(1, 64);
  const p = allocParams(L, ops);
  loadCheckpoint(model, p);
  const lib = metaGradient(ops, p, parts, 'second', 0.25);
  const got = readGrad(out);
  L.embeddings.forEach((e, i) => assert.deepEqual(Float32Array.from(got.get(e.name)!), Float32Array.from(lib.grad.rows[i]!.data), e.name));
  for (const d of L.dense) assert.deepEqual(Float32Array.from(got.get(d.name)!), Float32Array.from(lib.grad.dense.subarray(d.offset, d.offset + d.size)), d.name);
  assert.equal(readCheckpointMeta(out).info.order, 2);
  await ops.close();
});

test('meta-grad refuses unequal task lists and a bad order, in one line', () => {
  const r = runCli('meta-grad', '--model', model, '--support', support.join(','), '--query', query[0]!, '--order', '2', '--out', join(dir, 'x.safetensors'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^metaheac: error: --support names 2 part\(s\) and --query 1: give one of each per task\n$/);
  const r2 = runCli('meta-grad', '--model', model, '--support', support[0]!, '--query', query[0]!, '--order', '3', '--out', join(dir, 'x.safetensors'));
  assert.equal(r2.code, 1);
  assert.match(r2.stderr, /expected 1 or 2, got "3"/);
});
