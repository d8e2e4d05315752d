/** Validation inside training: a deterministic, disjoint split; the best checkpoint by GAUC; early stopping ends on the best weights. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { configSource } from '../src/cli/commands/serve.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { loadPart } from '../src/data/dataset.js';
import { createOps } from '../src/kernels/index.js';
import { loadCheckpoint } from '../src/model/checkpoint.js';
import { allocParams } from '../src/model/params.js';
import { JsOps } from '../src/model/ops.js';
import { splitValidation } from '../src/meta/validation.js';
import { bestCheckpointPath, defaultCheckpoint, runTrain } from '../src/pipeline/run-train.js';
import { runInfer } from '../src/pipeline/run-infer.js';
import { tinyDataset, tinyOverrides } from './helpers/tiny-dataset.js';

const dataDir = await tinyDataset();

test('validation split: seeded, disjoint from the training campaigns, each campaign split by label into fit and held rows', async () => {
  const part = await loadPart(join(dataDir, 'train_stage1.arrow'));
  const a = splitValidation(part.tasks, part.label, 0.34, 0.3, 2021, 3);
  const b = splitValidation(part.tasks, part.label, 0.34, 0.3, 2021, 3);
  assert.deepEqual(a, b, 'same seed, same split');
  assert.equal(a.valid.length, 2);
  const validAids = new Set(a.valid.map((t) => t.aid));
  assert.ok(a.train.every((t) => !validAids.has(t.aid)), 'no validation campaign is trained on');
  assert.equal(a.train.length + a.valid.length, part.tasks.length);
  for (const v of a.valid) {
    const rows = part.tasks.find((t) => t.aid === v.aid)!.rows;
    const all = [...v.fit, ...v.held].sort((x, y) => x - y);
    assert.deepEqual(all, Array.from(rows).sort((x, y) => x - y), 'fit and held rows partition the campaign');
    const pos = (rs: ArrayLike<number>) => Array.from(rs).filter((r) => part.label[r] === 1).length;
    assert.ok(pos(v.held) >= 1 && pos(v.fit) >= pos(v.held), 'the held rows get their share of the positives');
  }
  const drawn = new Set(Array.from({ length: 10 }, (_, s) => splitValidation(part.tasks, part.label, 0.34, 0.3, s, 3).valid.map((t) => t.aid).join(',')));
  assert.ok(drawn.size > 1, 'the seed draws the campaigns');
  // never fewer training campaigns than task_count
  assert.equal(splitValidation(part.tasks, part.label, 0.9, 0.3, 2021, 5).valid.length, 1);
  assert.equal(splitValidation(part.tasks, part.label, 0.5, 0.3, 2021, 6).valid.length, 0);
  assert.equal(splitValidation(part.tasks, part.label, 0, 0.3, 2021, 3).valid.length, 0);
});

test('train with validation: a curve, best/ at the best GAUC, early stopping ends on the best weights bit for bit; infer and expand read best/', async () => {
  const out = mkdtempSync(join(tmpdir(), 'mh-val-'));
  const cfg = loadConfig(null, [
    ...tinyOverrides(dataDir, out),
    'runner.epochs=6',
    'runner.validation.share=0.34',
    'runner.validation.interval=3',
    'runner.validation.patience=2',
    'runner.validation.smoothing=2',
  ]);
  const ops = await createOps(1);
  let kept: Float32Array[] = [];
  const res = await runTrain(cfg, ops, undefined, (p) => (kept = [Float32Array.from(p.dense), ...p.tables.map((t) => Float32Array.from(t))]));
  await ops.close();
  const v = res.validation!;
  assert.equal(v.aids.length, 2);
  const csv = readFileSync(join(out, 'validation.csv'), 'utf8').trim().split('\n');
  assert.equal(csv[0], 'epoch,step,auc,gauc,score');
  assert.equal(csv.length - 1, v.points.length);
  const scores = v.points.map((p) => p.score);
  v.points.forEach((p, i) => {
    const last = v.points.slice(Math.max(0, i - 1), i + 1).map((q) => q.gauc);
    assert.ok(Math.abs(p.score - last.reduce((a, b) => a + b, 0) / last.length) < 1e-12, 'the score is the mean GAUC of the last two evaluations');
  });
  const bestAt = scores.indexOf(Math.max(...scores));
  assert.equal(v.best!.step, v.points[bestAt]!.step, 'best/ holds the evaluation with the highest score');
  assert.ok(v.stoppedAt, 'patience 2 stops this run early');
  assert.ok(v.points.length - 1 - bestAt >= 2, 'it stopped after two evaluations without a better GAUC');
  assert.ok(v.stoppedAt!.step < 6 * res.stepsPerEpoch);
  // the weights the run ended with are the best checkpoint's, bit for bit
  const best = bestCheckpointPath(out);
  const L = (await import('../src/meta/model-setup.js')).layoutFor(cfg, (await loadPart(join(dataDir, 'train_stage1.arrow'))).schema);
  const p = allocParams(L, new JsOps(Float32Array));
  loadCheckpoint(best, p);
  assert.deepEqual(kept, [p.dense, ...p.tables].map((t) => Float32Array.from(t)));
  // a second identical run writes the same best checkpoint
  const out2 = mkdtempSync(join(tmpdir(), 'mh-val-'));
  const ops2 = await createOps(2);
  await runTrain(loadConfig(null, [...tinyOverrides(dataDir, out2), 'runner.epochs=6', 'runner.validation.share=0.34', 'runner.validation.interval=3', 'runner.validation.patience=2', 'runner.validation.smoothing=2']), ops2);
  await ops2.close();
  assert.ok(readFileSync(best).equals(readFileSync(bestCheckpointPath(out2))), 'deterministic, on 1 and 2 threads');
  // infer, expand (and the demo) read best/ unless told otherwise
  assert.equal(defaultCheckpoint(cfg), best);
  assert.equal(defaultCheckpoint(loadConfig(null, [...tinyOverrides(dataDir, out), 'runner.use_best=false'])), join(out, '0', 'model.safetensors'));
  // serve and worker without --model: the same checkpoint, from -m
  const cfgFile = join(out, 'serve.yaml');
  writeFileSync(cfgFile, `runner:\n  model_save_path: ${JSON.stringify(out)}\n`);
  assert.equal(configSource({ config: cfgFile, override: [], users: undefined } as never).model, best);
  assert.throws(() => configSource({ override: [] } as never), /--model is required without -m/);
  const ops3 = await createOps(1);
  const inf = await runInfer(loadConfig(null, [...tinyOverrides(dataDir, out), 'runner.threads=1']), ops3);
  await ops3.close();
  assert.equal(inf.length, 1);
  assert.equal(inf[0]!.epoch, 'best');
  assert.equal(inf[0]!.checkpoint, best);
  assert.ok(existsSync(join(out, 'best', 'metrics.json')));
});

test('refit: validation picks how long, then training starts again on every campaign for that many epochs; best/ holds its weights', async () => {
  const run = async (extra: string[]) => {
    const out = mkdtempSync(join(tmpdir(), 'mh-refit-'));
    const cfg = loadConfig(null, [...tinyOverrides(dataDir, out), 'runner.epochs=3', 'runner.validation.share=0.34', 'runner.validation.interval=3', ...extra]);
    const ops = await createOps(1);
    let kept: Float32Array[] = [];
    const res = await runTrain(cfg, ops, undefined, (p) => (kept = [Float32Array.from(p.dense), ...p.tables.map((t) => Float32Array.from(t))]));
    await ops.close();
    return { out, res, kept, best: readFileSync(bestCheckpointPath(out)) };
  };
  const plain = await run([]);
  const a = await run(['runner.validation.refit=true']);
  const b = await run(['runner.validation.refit=true']);
  const v = a.res.validation!;
  assert.deepEqual(v.points, plain.res.validation!.points, 'the same validation run picks the point');
  for (const p of v.points) assert.equal(p.score, p.gauc, 'smoothing 1 (the default): each evaluation scores by its own GAUC');
  const part = await loadPart(join(dataDir, 'train_stage1.arrow'));
  const heldRows = v.aids.reduce((n, aid) => n + part.tasks.find((t) => t.aid === aid)!.rows.length, 0);
  assert.deepEqual(v.refit, { steps: Math.max(1, Math.round((v.best!.step * 300) / (300 - heldRows))), rows: 300 });
  assert.ok(!a.best.equals(plain.best), 'best/ holds the refit weights, not the validation run');
  assert.ok(a.best.equals(b.best), 'deterministic');
  const L = (await import('../src/meta/model-setup.js')).layoutFor(loadConfig(null, tinyOverrides(dataDir, a.out)), part.schema);
  const p = allocParams(L, new JsOps(Float32Array));
  loadCheckpoint(bestCheckpointPath(a.out), p);
  assert.deepEqual(a.kept, [p.dense, ...p.tables].map((t) => Float32Array.from(t)), 'the run ends on the refit weights');
});

test('the HTML report draws the validation curve of a run that validated', async () => {
  const out = mkdtempSync(join(tmpdir(), 'mh-val-report-'));
  const cfg = loadConfig(null, [...tinyOverrides(dataDir, out), 'runner.epochs=2', 'runner.validation.share=0.34', 'runner.validation.interval=5']);
  const ops = await createOps(1);
  await runTrain(cfg, ops);
  await ops.close();
  const { writeReport } = await import('../src/pipeline/report/write-report.js');
  const page = join(out, 'r.html');
  await writeReport([out], page);
  const html = readFileSync(page, 'utf8');
  assert.match(html, /data-chart="validation"/);
  assert.match(html, /2 held-out training campaigns, best at step \d+/);
});
