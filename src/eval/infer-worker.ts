/**
 * A worker of parallel `infer`: loads the checkpoint and the split's parts itself, adapts
 * and scores the tasks it is given, and posts back each task's predictions. Every task
 * starts from the same θ with its own seeded shuffles, so results equal a serial run's.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadPart } from '../data/dataset.js';
import { buildLayout, type ModelDims } from '../model/layout.js';
import type { Schema } from '../data/schema.js';
import { createOps } from '../kernels/index.js';
import { paramsFromCheckpoint } from '../meta/model-setup.js';
import { Adapter, type AdaptChoice, type AdaptOptions } from '../meta/adapt.js';

export interface InferJob {
  checkpoint: string;
  schema: Schema;
  dims: ModelDims;
  stage1: string;
  stage2: string;
  opts: AdaptOptions;
  /** Indices into stage 2's task list. */
  tasks: number[];
}

export interface InferTaskDone {
  task: number;
  pred: Float64Array;
  steps: number;
  choice: AdaptChoice | null;
}

const job = workerData as InferJob;
// the main thread has verified both parts against the dataset's manifest
const stage1 = await loadPart(job.stage1, undefined, { verify: false });
const stage2 = await loadPart(job.stage2, undefined, { verify: false });
const ops = await createOps(1);
const L = buildLayout(job.schema, job.dims);
const { params } = paramsFromCheckpoint(ops, L, job.checkpoint);
const adapter = new Adapter(ops, params, job.opts);
const seedsOf = new Map(stage1.tasks.map((t) => [t.aid, t.rows]));
for (const ti of job.tasks) {
  const task = stage2.tasks[ti]!;
  const pred = new Float64Array(task.rows.length);
  const { steps, choice } = adapter.adaptAndPredict(stage1, seedsOf.get(task.aid) ?? new Int32Array(0), stage2, task.rows, task.aid, pred);
  const msg: InferTaskDone = { task: ti, pred, steps, choice };
  parentPort!.postMessage(msg, [pred.buffer]);
}
await ops.close();
