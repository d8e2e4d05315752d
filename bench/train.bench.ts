/**
 * The engine at the Tencent schema's shapes (embed 64, 8 experts, 5 critics, mlp [64, 64],
 * batch 1024, 5 tasks): first-order meta-step, adaptation Adam step, forward scoring, and
 * the effective GFLOP/s of the dense network.
 */
import { indexTasks } from '../src/data/part.js';
import { TENCENT_SCHEMA } from '../src/data/schema.js';
import { createOps } from '../src/kernels/index.js';
import { buildLayout } from '../src/model/layout.js';
import { Model } from '../src/model/model.js';
import { allocParams, initParams } from '../src/model/params.js';
import { plainView } from '../src/model/row-set.js';
import { Adapter } from '../src/meta/adapt.js';
import { MetaTrainer } from '../src/meta/train.js';
import { GradSum } from '../src/meta/learner.js';
import { syntheticPart } from './synthetic-part.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Multiply-adds x2 of one forward of the dense network per row. */
function denseFlopsPerRow(inDim: number, mlp: number[], K: number, C: number, gateDim: number): number {
  let f = 0;
  let prev = inDim;
  for (const d of mlp) {
    f += K * prev * d;
    prev = d;
  }
  f += C * prev + 2 * (gateDim * prev) + (K + C) * prev + K * prev;
  return 2 * f;
}

export async function bench(): Promise<Record<string, unknown>> {
  const B = Number(process.env.BENCH_BATCH ?? 1024);
  const reps = Number(process.env.BENCH_REPS ?? 7);
  const threads = Number(process.env.BENCH_THREADS ?? 0);
  const ops = await createOps(threads);
  const dims = { embedDim: 64, mlpDims: [64, 64], numExpert: 8, numOutput: 5 };
  const L = buildLayout(TENCENT_SCHEMA, dims);
  const params = allocParams(L, ops);
  initParams(params, 1);
  const part = syntheticPart(TENCENT_SCHEMA, 200_000, 200, 7);
  const tasks = indexTasks(part.aid);
  const metaOpts = { batchSize: B, taskCount: 5, localLr: 0.0002, globalLr: 0.001, sampling: 'normal', withReplacement: false, seed: 1 } as const;
  const trainer = new MetaTrainer(ops, params, metaOpts, part, tasks);
  const second = new MetaTrainer(ops, params, { ...metaOpts, order: 'second' }, part, tasks);
  const timeSteps = (n: number, warm: number, t: MetaTrainer = trainer): number[] => {
    const out: number[] = [];
    for (let i = 0; i < n + warm; i++) {
      const t0 = performance.now();
      t.step();
      if (i >= warm) out.push((performance.now() - t0) / 1000);
    }
    return out;
  };
  const metaStep = timeSteps(reps, 2);
  // second order (the official code's exact meta-gradient), one step of each order in turn so
  // that both see the same machine load
  const pairs = Array.from({ length: reps }, () => [timeSteps(1, 0)[0]!, timeSteps(1, 0, second)[0]!] as const);
  // Late in a real epoch nearly every row has Adam moments, and PyTorch's dense semantics
  // move them all at every step: give every row moments (a zero gradient does), then time again.
  const all = new GradSum(ops, L);
  L.embeddings.forEach((e, i) => {
    for (let id = 0; id < e.rows; id++) all.rows[i]!.add(id);
  });
  trainer.adam.apply(params.dense, params.tables, all);
  const metaStepAllRows = timeSteps(reps, 1);
  // adaptation: Adam steps on 1024-row batches of one task
  const big = tasks.reduce((a, b) => (b.rows.length > a.rows.length ? b : a));
  const adapter = new Adapter(ops, params, { lr: 0.001, epochs: 1, batchSize: B, seed: 1 });
  const nAdapt = Math.min(big.rows.length, B * 4);
  const adaptRows = big.rows.subarray(0, nAdapt);
  const out = new Float32Array(1);
  const adaptMs: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const { steps } = adapter.adaptAndPredict(part, adaptRows, part, big.rows.subarray(0, 1), big.aid, out);
    adaptMs.push((performance.now() - t0) / steps);
  }
  // forward scoring
  const model = new Model(ops, L, B);
  const src = plainView(params.tables);
  const rows = Int32Array.from({ length: B * 8 }, (_, i) => i);
  const fwd: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    for (let s = 0; s < rows.length; s += B) model.forward(src, params.dense, part, rows, s, B, false);
    fwd.push((performance.now() - t0) / 1000);
  }
  const fwdRowsPerSec = rows.length / median(fwd);
  const flopsRow = denseFlopsPerRow(L.inDim, dims.mlpDims, 8, 5, L.gateDim);
  // a meta-step runs 10 forward+backward passes of B rows; backward ~ 2x forward
  const stepFlops = 10 * B * flopsRow * 3;
  await ops.close();
  return {
    shapes: { batch: B, tasks: 5, embed: 64, experts: 8, critics: 5, mlp: [64, 64], threads: ops.threads },
    metaStepSeconds: median(metaStep),
    metaStepSecondsAllRowsMoving: median(metaStepAllRows),
    metaStepSecondsFirstOrderPaired: median(pairs.map((p) => p[0])),
    metaStepSecondsSecondOrder: median(pairs.map((p) => p[1])),
    secondOrderRatio: +median(pairs.map((p) => p[1] / p[0])).toFixed(3),
    tableRows: L.embeddings.reduce((a, e) => a + e.rows, 0),
    adaptStepMs: median(adaptMs),
    forwardRowsPerSecond: Math.round(fwdRowsPerSec),
    denseGflopsPerSecond: +(stepFlops / median(metaStep) / 1e9).toFixed(2),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    repetitions: reps,
  };
}
