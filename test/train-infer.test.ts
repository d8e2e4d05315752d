/** End to end on a tiny dataset: train writes per-epoch checkpoints and a loss curve; infer adapts per task; both are deterministic; parallel infer equals serial. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { createOps } from '../src/kernels/index.js';
import { runTrain } from '../src/pipeline/run-train.js';
import { runInfer } from '../src/pipeline/run-infer.js';
import { DataError } from '../src/util/errors.js';
import { tinyDataset, tinyOverrides } from './helpers/tiny-dataset.js';

const dataDir = await tinyDataset();

async function trainOnce(extra: string[] = []): Promise<{ out: string; bytes: Buffer[] }> {
  const out = mkdtempSync(join(tmpdir(), 'mh-out-'));
  const cfg = loadConfig(null, [...tinyOverrides(dataDir, out), ...extra]);
  const ops = await createOps(1);
  const res = await runTrain(cfg, ops);
  await ops.close();
  assert.equal(res.checkpoints.length, 2);
  assert.equal(res.stepsPerEpoch, Math.ceil(300 / 16));
  return { out, bytes: res.checkpoints.map((c) => readFileSync(c)) };
}

test('train: a checkpoint per epoch, a loss curve, and the same bytes for the same seed', async () => {
  const a = await trainOnce();
  assert.ok(existsSync(join(a.out, '0', 'model.safetensors')));
  assert.ok(existsSync(join(a.out, '1', 'model.safetensors')));
  const csv = readFileSync(join(a.out, 'loss.csv'), 'utf8').trim().split('\n');
  assert.equal(csv[0], 'epoch,step,loss');
  assert.equal(csv.length, 1 + 2 * 19);
  const b = await trainOnce();
  assert.ok(a.bytes[1]!.equals(b.bytes[1]!), 'same seed, same checkpoint');
  const c = await trainOnce(['runner.seed=5']);
  assert.ok(!a.bytes[1]!.equals(c.bytes[1]!), 'another seed, another checkpoint');
  const j = await trainOnce(['hyper_parameters.meta=false']);
  assert.ok(!a.bytes[1]!.equals(j.bytes[1]!), 'the joint baseline trains differently');
  for (const sampling of ['sqrt', 'unit']) await trainOnce([`hyper_parameters.task_sampling=${sampling}`, 'hyper_parameters.task_replacement=true']);
  const s2 = await trainOnce(['hyper_parameters.meta_order=second']);
  assert.ok(!a.bytes[1]!.equals(s2.bytes[1]!), 'second order trains differently');
  assert.ok(s2.bytes[1]!.equals((await trainOnce(['hyper_parameters.meta_order=second'])).bytes[1]!), 'second order is deterministic');
});

test('infer: hot and cold in one run, per-task results, metrics JSON; parallel equals serial', async () => {
  const { out } = await trainOnce();
  const run = async (threads: number) => {
    const cfg = loadConfig(null, [...tinyOverrides(dataDir, out), `runner.threads=${threads}`, `runner.metrics_path=${join(out, `m${threads}.json`)}`]);
    const ops = await createOps(1);
    const res = await runInfer(cfg, ops);
    await ops.close();
    return res;
  };
  const serial = await run(1);
  assert.equal(serial.length, 1);
  const splits = serial[0]!.splits;
  assert.deepEqual(splits.map((s) => s.name), ['hot', 'cold']);
  assert.equal(splits[0]!.perTask.length, 3);
  assert.equal(splits[1]!.perTask.length, 4);
  // hot tasks have 40 stage-1 rows each: 2 epochs of ceil(40/16) = 3 batches
  assert.equal(splits[0]!.perTask[0]!.adaptSteps, 6);
  for (const s of splits) {
    assert.ok(s.auc > 0 && s.auc < 1);
    assert.ok(Number.isFinite(s.logloss));
  }
  const json = JSON.parse(readFileSync(join(out, 'm1.json'), 'utf8')) as { splits: { name: string; auc: number }[] };
  assert.equal(json.splits[1]!.auc, splits[1]!.auc);
  const parallel = await run(2);
  assert.deepEqual(parallel[0]!.splits.map((s) => s.perTask), splits.map((s) => s.perTask));
  assert.deepEqual(parallel[0]!.splits.map((s) => s.auc), splits.map((s) => s.auc));
  const again = await run(1);
  assert.deepEqual(again[0]!.splits.map((s) => s.auc), splits.map((s) => s.auc));
  // a checkpoint that does not fit the config is refused by name before workers start
  const cfg = loadConfig(null, [...tinyOverrides(dataDir, out), 'runner.threads=2', 'hyper_parameters.mlp_dims=[7, 5]']);
  const ops = await createOps(1);
  await assert.rejects(runInfer(cfg, ops), (e: Error) => e instanceof DataError && /tensor "mlp\.0\.mlp\.0\.weight" has shape \[6, 16\], the config gives \[7, 16\]/.test(e.message));
  await ops.close();
});

test('train gives the same checkpoint bytes on 1 and 2 engine threads', async () => {
  const bytes: Buffer[] = [];
  for (const threads of [1, 2]) {
    const out = mkdtempSync(join(tmpdir(), 'mh-thr-'));
    // shapes large enough that gemm and Adam are shared out between threads
    const cfg = loadConfig(null, [
      ...tinyOverrides(dataDir, out),
      'runner.epochs=1',
      'hyper_parameters.embed_dim=32',
      'hyper_parameters.mlp_dims=[256, 64]',
      'hyper_parameters.num_expert=4',
      'hyper_parameters.batch_size=128',
    ]);
    const ops = await createOps(threads);
    assert.equal(ops.threads, threads);
    const res = await runTrain(cfg, ops);
    await ops.close();
    bytes.push(readFileSync(res.checkpoints[0]!));
  }
  assert.ok(bytes[0]!.equals(bytes[1]!));
});
