/**
 * The reference implementations' weight files: torch.save state_dicts made by real PyTorch
 * (zip and legacy formats) and a PaddleRec-layout .pdparams built with numpy in Paddle's
 * documented layout (PaddlePaddle is not on this machine); see test/fixtures/checkpoints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writePart } from '../src/data/arrow-part.js';
import { writeSchema } from '../src/data/dataset.js';
import { readPdparams, readTorchStateDict } from '../src/data/importers/checkpoint-files.js';
import { loadCheckpoint } from '../src/model/checkpoint.js';
import { buildLayout } from '../src/model/layout.js';
import { JsOps } from '../src/model/ops.js';
import { allocParams } from '../src/model/params.js';
import { DataError } from '../src/util/errors.js';
import { runCli } from './helpers/cli.js';
import type { MetaGradInputs } from './helpers/meta-grad-inputs.js';
import { TINY_SCHEMA, randomPart } from './helpers/tiny.js';

const FIX = fileURLToPath(new URL('../../test/fixtures/checkpoints/', import.meta.url));
const inputs = JSON.parse(readFileSync(fileURLToPath(new URL('../../test/fixtures/meta-grad/inputs.json', import.meta.url)), 'utf8')) as MetaGradInputs;
const paddle = JSON.parse(readFileSync(join(FIX, 'paddle_expected.json'), 'utf8')) as { tensors: Record<string, { shape: number[]; data: number[] }> };

const dir = mkdtempSync(join(tmpdir(), 'mh-ck-'));
writeSchema(dir, TINY_SCHEMA);
const part = join(dir, 'rows.arrow');
await writePart(part, TINY_SCHEMA, randomPart(TINY_SCHEMA, 30, 9));
function config(mlp: number[]): string {
  const p = join(dir, `cfg-${mlp.join('-')}.yaml`);
  writeFileSync(p, `runner:\n  train_data_dir: ${dir}\nhyper_parameters:\n  embed_dim: 4\n  mlp_dims: [${mlp.join(', ')}]\n  num_expert: 3\n  num_output: 2\n`);
  return p;
}

/** A checkpoint's tensors by name. */
function tensors(path: string, mlp: number[]): Map<string, Float32Array> {
  const L = buildLayout(TINY_SCHEMA, { embedDim: 4, mlpDims: mlp, numExpert: 3, numOutput: 2 });
  const p = allocParams(L, new JsOps(Float32Array));
  loadCheckpoint(path, p);
  const out = new Map<string, Float32Array>();
  L.embeddings.forEach((e, i) => out.set(e.name, p.tables[i] as Float32Array));
  for (const d of L.dense) out.set(d.name, (p.dense as Float32Array).subarray(d.offset, d.offset + d.size));
  return out;
}

test('torch.save state_dicts, zip (with the model. prefix) and legacy format, read as PyTorch wrote them', () => {
  for (const [file, prefix] of [['torch_zip.pt', 'model.'], ['torch_legacy.pt', '']] as const) {
    const got = readTorchStateDict(join(FIX, file));
    assert.equal(got.size, Object.keys(inputs.weights).length);
    for (const [name, w] of Object.entries(inputs.weights)) {
      const t = got.get(prefix + name)!;
      assert.ok(t, `${file}: ${prefix + name}`);
      assert.deepEqual(t.shape, w.shape);
      assert.deepEqual(t.data, Float32Array.from(w.data), `${file}: ${name}`);
    }
  }
});

test('torch tensors: a transposed (strided) float64 view is read row-major as float32; float16 is refused by name', () => {
  const t = readTorchStateDict(join(FIX, 'torch_f64_transposed.pt')).get('w')!;
  assert.deepEqual(t.shape, [3, 2]);
  assert.deepEqual([...t.data], [0, 3, 1, 4, 2, 5]);
  assert.throws(() => readTorchStateDict(join(FIX, 'torch_f16.pt')), (e: unknown) => e instanceof DataError && /torch_f16\.pt: tensor "w" has dtype float16; weights must be float32 or float64/.test(e.message));
});

test('import-checkpoint: a torch file becomes a checkpoint with the same weights; predict reads the torch file directly too', () => {
  const cfg = config([5, 3]);
  for (const file of ['torch_zip.pt', 'torch_legacy.pt']) {
    const out = join(dir, `${file}.safetensors`);
    const r = runCli('import-checkpoint', join(FIX, file), '--config', cfg, '--out', out);
    assert.equal(r.code, 0, r.stderr);
    const got = tensors(out, [5, 3]);
    for (const [name, w] of Object.entries(inputs.weights)) assert.deepEqual(got.get(name), Float32Array.from(w.data), name);
    const viaCkpt = runCli('predict', '--model', out, '--data', part, '--out', join(dir, 'a.csv'));
    const direct = runCli('predict', '--model', join(FIX, file), '--config', cfg, '--data', part, '--out', join(dir, 'b.csv'));
    assert.equal(viaCkpt.code, 0, viaCkpt.stderr);
    assert.equal(direct.code, 0, direct.stderr);
    assert.equal(readFileSync(join(dir, 'a.csv'), 'utf8'), readFileSync(join(dir, 'b.csv'), 'utf8'));
  }
  const noCfg = runCli('predict', '--model', join(FIX, 'torch_zip.pt'), '--data', part, '--out', join(dir, 'c.csv'));
  assert.equal(noCfg.code, 1);
  assert.match(noCfg.stderr, /torch_zip\.pt: a torch\.save file carries no model dimensions; pass --config with its hyper-parameters/);
});

test('import-checkpoint: a PaddleRec .pdparams is mapped, transposed, its unused expert layers dropped with a note; predict runs it', () => {
  const raw = readPdparams(join(FIX, 'paddle.pdparams'));
  assert.deepEqual(raw.get('mlp.0.mlp.0.weight')!.shape, [16, 5]); // Paddle's [in, out]
  const out = join(dir, 'paddle.safetensors');
  const r = runCli('import-checkpoint', join(FIX, 'paddle.pdparams'), '--config', config([5]), '--out', out, '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /note: dropped 6 tensors PaddleRec's network never uses \(mlp\.0\.mlp\.2\.weight, mlp\.0\.mlp\.2\.bias, \.\.\.\): its experts run mlp\[0\] only/);
  const got = tensors(out, [5]);
  assert.equal(got.size, Object.keys(paddle.tensors).length);
  for (const [name, w] of Object.entries(paddle.tensors)) assert.deepEqual(got.get(name), Float32Array.from(w.data), name);
  const p = runCli('predict', '--model', out, '--data', part, '--out', join(dir, 'p.csv'));
  assert.equal(p.code, 0, p.stderr);
  const probs = readFileSync(join(dir, 'p.csv'), 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split(',')[3]));
  assert.equal(probs.length, 30);
  assert.ok(probs.every((x) => x > 0 && x < 1));
  // PaddleRec's effective model has one expert layer: two are refused by name
  const two = runCli('import-checkpoint', join(FIX, 'paddle.pdparams'), '--config', config([5, 5]), '--out', join(dir, 'x.safetensors'));
  assert.equal(two.code, 1);
  assert.match(two.stderr, /PaddleRec's network runs only the first layer of each expert .*mlp_dims: \[5\]\n$/);
});

test('weights that do not fit the config are refused by name, in one line', () => {
  const r = runCli('import-checkpoint', join(FIX, 'torch_zip.pt'), '--config', config([6, 3]), '--out', join(dir, 'y.safetensors'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /torch_zip\.pt: tensor "mlp\.0\.mlp\.0\.weight" has shape \[5, 16\], the config gives \[6, 16\]\n$/);
});

test('hostile or broken files: a forbidden global, a truncated archive, a compressed entry', () => {
  const evil = join(dir, 'evil.pt');
  // the legacy format's first pickle calling os.system
  writeFileSync(evil, Buffer.from('\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.', 'latin1'));
  assert.throws(() => readTorchStateDict(evil), (e: unknown) => e instanceof DataError && /pickle global "os\.system" is not allowed/.test(e.message));
  const zip = readFileSync(join(FIX, 'torch_zip.pt'));
  const cut = join(dir, 'cut.pt');
  writeFileSync(cut, zip.subarray(0, zip.length - 200));
  assert.throws(() => readTorchStateDict(cut), (e: unknown) => e instanceof DataError && /cut\.pt: /.test(e.message));
  // flip the first entry's method to deflate in the central directory
  const bad = Buffer.from(zip);
  const cd = bad.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]), bad.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06])));
  const first = bad.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  assert.ok(cd > 0 && first > 0);
  bad.writeUInt16LE(8, first + 10);
  const comp = join(dir, 'comp.pt');
  writeFileSync(comp, bad);
  assert.throws(() => readTorchStateDict(comp), (e: unknown) => e instanceof DataError && /is compressed; torch\.save stores its entries uncompressed/.test(e.message));
});

test('runner.model_init_path takes a torch.save file directly: training starts from its weights', async () => {
  const { loadConfig } = await import('../src/config/config.js');
  const { createOps } = await import('../src/kernels/index.js');
  const { runTrain } = await import('../src/pipeline/run-train.js');
  const { tinyDataset, tinyOverrides } = await import('./helpers/tiny-dataset.js');
  const data = await tinyDataset();
  const imported = join(dir, 'init.safetensors');
  assert.equal(runCli('import-checkpoint', join(FIX, 'torch_legacy.pt'), '--config', config([5, 3]), '--out', imported).code, 0);
  const train = async (init: string): Promise<Buffer> => {
    const out = mkdtempSync(join(tmpdir(), 'mh-ck-train-'));
    const cfg = loadConfig(null, [...tinyOverrides(data, out), 'runner.epochs=1', 'hyper_parameters.mlp_dims=[5, 3]', `runner.model_init_path=${init}`]);
    const ops = await createOps(1, 256);
    const res = await runTrain(cfg, ops);
    await ops.close();
    return readFileSync(res.checkpoints[0]!);
  };
  const a = await train(join(FIX, 'torch_legacy.pt'));
  const b = await train(imported);
  assert.ok(a.equals(b));
});

test('infer runs the checkpoint imported from a PaddleRec .pdparams', async () => {
  const { mkdirSync } = await import('node:fs');
  const { loadConfig } = await import('../src/config/config.js');
  const { createOps } = await import('../src/kernels/index.js');
  const { runInfer } = await import('../src/pipeline/run-infer.js');
  const { tinyDataset, tinyOverrides } = await import('./helpers/tiny-dataset.js');
  const data = await tinyDataset();
  const load = mkdtempSync(join(tmpdir(), 'mh-ck-infer-'));
  mkdirSync(join(load, '0'));
  const r = runCli('import-checkpoint', join(FIX, 'paddle.pdparams'), '--config', config([5]), '--out', join(load, '0', 'model.safetensors'));
  assert.equal(r.code, 0, r.stderr);
  const cfg = loadConfig(null, [...tinyOverrides(data, load), 'hyper_parameters.mlp_dims=[5]', `runner.infer_load_path=${load}`, 'runner.infer_start_epoch=0', 'runner.infer_end_epoch=1']);
  const ops = await createOps(1, 256);
  const [res] = await runInfer(cfg, ops);
  await ops.close();
  assert.deepEqual(res!.splits.map((s) => s.name), ['hot', 'cold']);
  for (const s of res!.splits) assert.ok(s.auc !== null && s.auc > 0 && s.auc < 1, `${s.name} AUC ${s.auc}`);
});
