/**
 * The engine at the Tencent schema's shapes (embed 64, 8 experts, 5 critics, mlp [64, 64],
 * batch 1024, 5 tasks), side by side with the expert PyTorch anchor in the same run:
 * first-order meta-step, adaptation (fine-tune) step and forward scoring, at 1 and 2
 * threads, on a quiet machine and with a CPU-bound helper process running; medians.
 *
 * Environment: BENCH_REPS (7), BENCH_THREADS (a single count instead of 1 and 2),
 * BENCH_IDS (zipf, uniform or both: the id distributions, see synthetic-part.ts),
 * BENCH_LOAD (quiet, loaded or both), BENCH_ANCHOR=0 (skip the anchor), METAHEAC_ANCHOR
 * (path of torch_fast.py).
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { indexTasks, type PartData, type TaskRows } from '../src/data/part.js';
import { TENCENT_SCHEMA } from '../src/data/schema.js';
import { createOps } from '../src/kernels/index.js';
import { buildLayout } from '../src/model/layout.js';
import { allocParams, initParams } from '../src/model/params.js';
import { Scorer } from '../src/model/scorer.js';
import { Adapter } from '../src/meta/adapt.js';
import { MetaTrainer } from '../src/meta/train.js';
import { probeAnchor, runAnchor, type AnchorFigures, type AnchorProbe } from './anchor.js';
import { foreignCores, startSpinner, stopSpinner } from './cpu-load.js';
import { timeKernels } from './kernel-timers.js';
import { syntheticPart, type IdDistribution } from './synthetic-part.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

function list<T extends string>(env: string | undefined, all: T[]): T[] {
  if (!env || env === 'both') return all;
  const v = env.split(',') as T[];
  for (const x of v) if (!all.includes(x)) throw new Error(`bench: ${x} is not one of ${all.join(', ')}`);
  return v;
}

const DIMS = { embedDim: 64, mlpDims: [64, 64], numExpert: 8, numOutput: 5 };
const TASKS = 5;

interface ProjectFigures {
  metaStepSeconds: number;
  /** Second order (the official code's exact meta-gradient), timed one step of each order in turn. */
  metaStepSecondsSecondOrder: number;
  secondOrderRatio: number;
  finetuneStepMs: number;
  forwardRowsPerSecond: number;
  foreignCores: number;
  metaStepAll: number[];
  /** One extra meta-step through per-kernel timers: ms per Ops method, the rest is JavaScript. */
  breakdownMs: Record<string, number>;
}

async function measureProject(threads: number, part: PartData, tasks: TaskRows[], B: number, reps: number): Promise<ProjectFigures> {
  const timed = timeKernels(await createOps(threads));
  const ops = timed.ops;
  try {
    const L = buildLayout(TENCENT_SCHEMA, DIMS);
    const params = allocParams(L, ops);
    initParams(params, 1);
    const metaOpts = { batchSize: B, taskCount: TASKS, localLr: 0.0002, globalLr: 0.001, sampling: 'normal', withReplacement: false, seed: 1 } as const;
    const trainer = new MetaTrainer(ops, params, metaOpts, part, tasks);
    const second = new MetaTrainer(ops, params, { ...metaOpts, order: 'second' }, part, tasks);
    for (let i = 0; i < 2; i++) trainer.step();
    const meta: number[] = [];
    const foreign: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      const { foreign: f } = foreignCores(() => trainer.step());
      meta.push((performance.now() - t0) / 1000);
      foreign.push(f);
    }
    second.step();
    const pairs = Array.from({ length: reps }, () => {
      const t1 = performance.now();
      trainer.step();
      const t2 = performance.now();
      second.step();
      return [t2 - t1, performance.now() - t2] as const;
    });
    timed.on = true;
    const t0 = performance.now();
    trainer.step();
    const total = performance.now() - t0;
    timed.on = false;
    const breakdownMs: Record<string, number> = {};
    let inKernels = 0;
    for (const [k, v] of [...timed.totals].sort((a, b) => b[1].ms - a[1].ms)) {
      breakdownMs[`${k} (${v.calls} calls)`] = +v.ms.toFixed(1);
      inKernels += v.ms;
    }
    breakdownMs['JavaScript outside kernels'] = +(total - inKernels).toFixed(1);
    breakdownMs.total = +total.toFixed(1);

    // adaptation: Adam steps on B-row batches of one task, fresh Adam per task
    const big = tasks.reduce((a, b) => (b.rows.length > a.rows.length ? b : a));
    const adapter = new Adapter(ops, params, { lr: 0.001, epochs: 1, batchSize: B, seed: 1 });
    const adaptRows = big.rows.subarray(0, Math.min(big.rows.length, B * 4));
    const one = new Float32Array(1);
    const ft: number[] = [];
    for (let i = 0; i < reps + 1; i++) {
      const t1 = performance.now();
      const { steps } = adapter.adaptAndPredict(part, adaptRows, part, big.rows.subarray(0, 1), big.aid, one);
      if (i > 0) ft.push((performance.now() - t1) / steps);
    }
    // forward scoring of a pool, B rows per batch (batches spread over the threads)
    const scorer = new Scorer(ops, params, B);
    const rows = Int32Array.from({ length: B * 8 }, (_, i) => i);
    const preds = new Float32Array(rows.length);
    const fwd: number[] = [];
    for (let i = 0; i < reps + 1; i++) {
      const t1 = performance.now();
      scorer.score(part, rows, preds);
      if (i > 0) fwd.push((performance.now() - t1) / 1000);
    }
    return {
      metaStepSeconds: median(meta),
      metaStepSecondsSecondOrder: median(pairs.map((p) => p[1])) / 1000,
      secondOrderRatio: +median(pairs.map((p) => p[1] / p[0])).toFixed(3),
      finetuneStepMs: median(ft),
      forwardRowsPerSecond: Math.round(rows.length / median(fwd)),
      foreignCores: +median(foreign).toFixed(2),
      metaStepAll: meta.map((x) => +x.toFixed(4)),
      breakdownMs,
    };
  } finally {
    await ops.close();
  }
}

type Load = 'quiet' | 'loaded';
type Figure = 'metaStepSeconds' | 'finetuneStepMs' | 'forwardRowsPerSecond';

interface Row {
  figure: string;
  project: number;
  pytorch: number | null;
  /** project time / PyTorch time (for rows/s: PyTorch rate / project rate); <= 1 means at or ahead. */
  ratio: number | null;
}

export async function bench(): Promise<Record<string, unknown>> {
  const B = Number(process.env.BENCH_BATCH ?? 1024);
  const reps = Number(process.env.BENCH_REPS ?? 7);
  const threadsList = process.env.BENCH_THREADS ? [Number(process.env.BENCH_THREADS)] : [1, 2];
  const dists = list<IdDistribution>(process.env.BENCH_IDS ?? 'zipf,uniform', ['zipf', 'uniform']);
  const loads = list<Load>(process.env.BENCH_LOAD, ['quiet', 'loaded']);
  const probe: AnchorProbe = process.env.BENCH_ANCHOR === '0' ? { absent: 'skipped (BENCH_ANCHOR=0)' } : probeAnchor(dirname(fileURLToPath(import.meta.url)));
  const anchorScript = 'script' in probe ? probe.script : null;
  if ('absent' in probe) process.stderr.write(`bench train: PyTorch anchor absent: ${probe.absent}\n`);
  const parts = new Map(dists.map((d) => {
    const part = syntheticPart(TENCENT_SCHEMA, 200_000, 200, 7, d);
    return [d, { part, tasks: indexTasks(part.aid) }] as const;
  }));

  const project: Record<string, ProjectFigures> = {};
  const anchor: Record<string, AnchorFigures> = {};
  const key = (load: Load, threads: number, ids?: IdDistribution): string => `${load}/${threads}t${ids ? `/${ids}` : ''}`;
  for (const load of loads) {
    const spinner = load === 'loaded' ? startSpinner() : null;
    try {
      for (const threads of threadsList) {
        for (const [ids, { part, tasks }] of parts) {
          process.stderr.write(`bench train: project ${key(load, threads, ids)}\n`);
          project[key(load, threads, ids)] = await measureProject(threads, part, tasks, B, reps);
        }
        if (anchorScript) {
          process.stderr.write(`bench train: PyTorch anchor ${key(load, threads)}\n`);
          anchor[key(load, threads)] = runAnchor(anchorScript, threads, reps);
        }
      }
    } finally {
      if (spinner) await stopSpinner(spinner);
    }
  }

  const table: Row[] = [];
  const names: Record<Figure, string> = {
    metaStepSeconds: 'first-order meta-step (s)',
    finetuneStepMs: 'adaptation (fine-tune) step (ms)',
    forwardRowsPerSecond: 'forward scoring (rows/s)',
  };
  for (const load of loads) {
    for (const threads of threadsList) {
      for (const fig of Object.keys(names) as Figure[]) {
        for (const ids of dists) {
          const p = project[key(load, threads, ids)]![fig];
          const a = anchor[key(load, threads)]?.[fig] ?? null;
          const ratio = a === null ? null : +(fig === 'forwardRowsPerSecond' ? a / p : p / a).toFixed(2);
          table.push({ figure: `${names[fig]}, ${threads} thread${threads > 1 ? 's' : ''}, ${load}, ${ids} ids`, project: +p.toFixed(4), pytorch: a === null ? null : +a.toFixed(4), ratio });
        }
      }
    }
  }
  // loaded / quiet slowdown of each side (the goal: the project's no worse than PyTorch's)
  const slowdown: Record<string, unknown> = {};
  if (loads.length === 2) {
    for (const threads of threadsList) {
      const a = anchor[key('quiet', threads)];
      const al = anchor[key('loaded', threads)];
      for (const ids of dists) {
        const q = project[key('quiet', threads, ids)]!;
        const l = project[key('loaded', threads, ids)]!;
        slowdown[`${threads}t/${ids}`] = {
          projectMetaStep: +(l.metaStepSeconds / q.metaStepSeconds).toFixed(2),
          pytorchMetaStep: a && al ? +(al.metaStepSeconds / a.metaStepSeconds).toFixed(2) : null,
          projectForward: +(q.forwardRowsPerSecond / l.forwardRowsPerSecond).toFixed(2),
          pytorchForward: a && al ? +(a.forwardRowsPerSecond / al.forwardRowsPerSecond).toFixed(2) : null,
        };
      }
    }
  }
  for (const r of table) {
    process.stderr.write(`${r.figure.padEnd(72)} ${String(r.project).padStart(10)} ${String(r.pytorch ?? '-').padStart(10)} ${r.ratio === null ? '-' : `${r.ratio}x`}\n`);
  }
  return {
    shapes: { batch: B, tasks: TASKS, embed: 64, experts: 8, critics: 5, mlp: [64, 64], tableRows: buildLayout(TENCENT_SCHEMA, DIMS).embeddings.reduce((a, e) => a + e.rows, 0) },
    repetitions: reps,
    anchor: anchorScript ? { script: anchorScript } : probe,
    table,
    slowdown,
    project,
    pytorch: Object.fromEntries(Object.entries(anchor).map(([k, v]) => [k, { ...v, raw: undefined, forwardBatch: v.raw.forward_batch }])),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}
