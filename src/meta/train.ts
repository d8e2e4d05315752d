/**
 * Meta-training, the offline stage (spec section 4), and the no-meta baseline.
 *
 * A meta-step, first order (PaddleRec's algorithm):
 *   for each of task_count drawn tasks t:
 *     g_t      = ∇θ L_support_t(θ)
 *     θ'_t     = θ - α g_t                      (FastWeights: dense copy + sparse row delta)
 *     G       += ∇θ' L_query_t(θ'_t)
 *   θ ← Adam(θ, G / task_count)
 * The query gradient is taken at θ'_t and applied to θ; the second-order step (the official
 * code's) multiplies it by (I - α H_support_t) first (task-grad.ts).
 *
 * With dropout, a pass's masks are drawn from its key: (seed, meta-step, task index in the
 * step, support/query) in meta-training, (seed, Adam step) in the baseline.
 */
import type { PartData, TaskRows } from '../data/part.js';
import { DROPOUT_STREAM, dropoutKey, type DropoutRates } from '../model/dropout.js';
import type { Layout } from '../model/layout.js';
import { Model } from '../model/model.js';
import type { JobHost, Ops } from '../model/ops.js';
import type { Params } from '../model/params.js';
import { plainView, type TableView } from '../model/row-set.js';
import { ModelAdam } from '../optim/adam.js';
import { clipTables, NO_REGULARIZATION, type RegOptions } from '../optim/regularize.js';
import { Rng } from '../util/rng.js';
import { idCounts } from './id-counts.js';
import { GradSum } from './learner.js';
import { TaskMetaGrad, type MetaOrder } from './task-grad.js';
import { TaskRunner, taskWorkerInit, workerHeapBytes } from './task-runner.js';
import { recordingArena } from '../model/shared-rows.js';
import { TASK_DONE, TaskSlots } from './task-slots.js';
import { TaskSampler, type TaskSampling } from './sampler.js';

export interface MetaOptions {
  batchSize: number;
  taskCount: number;
  localLr: number;
  globalLr: number;
  sampling: TaskSampling;
  withReplacement: boolean;
  seed: number;
  /** The meta-gradient: first order (default) or the exact second order. */
  order?: MetaOrder;
  /** Dropout in the training passes (none when absent). */
  dropout?: DropoutRates;
  /** Weight decay, L2 and max-norm in the outer update (default: none, the paper's recipe). */
  regularization?: RegOptions;
}

export interface StepResult {
  /** Mean query loss (meta) or mean batch loss (baseline) of the step. */
  loss: number;
  /** Rows pushed through forward and backward. */
  rows: number;
  tasks: number;
}

/**
 * Shared by MetaTrainer and JointTrainer: one model, the params, Adam (regularised as
 * opts say, frequency L2 with the ids' counts over `part`'s rows), a seeded stream.
 */
abstract class Trainer {
  readonly model: Model;
  readonly adam: ModelAdam;
  protected readonly rng: Rng;
  protected readonly base: TableView;
  protected readonly grads: GradSum;
  /** Steps taken (meta-steps, or the baseline's Adam steps): part of the dropout keys. */
  protected steps = 0;

  constructor(
    readonly ops: Ops,
    readonly params: Params,
    readonly opts: MetaOptions,
    readonly part: PartData,
  ) {
    const L: Layout = params.layout;
    const reg = opts.regularization ?? NO_REGULARIZATION;
    this.model = new Model(ops, L, opts.batchSize, 'auto', opts.dropout);
    this.adam = new ModelAdam(ops, L, opts.globalLr, reg, reg.frequencyL2 > 0 ? idCounts(L.schema, part) : null);
    // max-norm: the tables start within it, each step keeps the rows it moves within it
    if (reg.maxNorm > 0) clipTables(params.tables, L.dims.embedDim, reg.maxNorm);
    this.rng = new Rng(opts.seed ^ 0x5eed);
    this.base = plainView(params.tables);
    this.grads = new GradSum(ops, L);
  }

  /** Steps per epoch: ceil(N / batch_size) meta-steps, N = the training stage-1 rows (those of the campaigns trained on). */
  stepsPerEpoch(rows: number): number {
    return Math.ceil(rows / this.opts.batchSize);
  }

  abstract step(): StepResult;
}

/** The threads of a parallel meta-step: the slots they share, this thread's runner, the workers. */
interface TaskParallel {
  slots: TaskSlots;
  runner: TaskRunner;
  jobs: JobHost;
  job: number;
}

export class MetaTrainer extends Trainer {
  private readonly sampler: TaskSampler;
  private readonly task: TaskMetaGrad;
  private readonly parallel: TaskParallel | null;

  constructor(ops: Ops, params: Params, opts: MetaOptions, part: PartData, tasks: TaskRows[]) {
    super(ops, params, opts, part);
    this.sampler = new TaskSampler(tasks, opts.sampling, opts.withReplacement);
    this.task = new TaskMetaGrad(ops, params.layout, params.tables, this.model, opts.order ?? 'first');
    this.parallel = ops.jobs && opts.taskCount > 1 ? this.startWorkers(ops.jobs) : null;
  }

  /**
   * Whole tasks go to the engine's threads: each worker loads task-runner.js with its own
   * models over the shared θ and claims tasks as this thread does.
   */
  private startWorkers(jobs: JobHost): TaskParallel {
    const { ops, params, opts } = this;
    const L = params.layout;
    const order = opts.order ?? 'first';
    const offsets: number[] = [];
    const slots = new TaskSlots(recordingArena(ops, offsets), L, opts.taskCount, opts.batchSize, order === 'second');
    const init = taskWorkerInit(L, opts.batchSize, opts.taskCount, opts.localLr, order, opts.dropout, params.dense, params.tables, offsets);
    const job = jobs.load(new URL('./task-runner.js', import.meta.url).href, init, workerHeapBytes(ops, L, opts.batchSize, order, opts.dropout));
    return { slots, jobs, job, runner: new TaskRunner(this.task, params.dense, params.tables, slots, opts.localLr) };
  }

  step(): StepResult {
    const res = this.parallel ? this.parallelStep(this.parallel) : this.serialStep();
    this.steps++;
    return res;
  }

  /** The dropout key of the i-th task of this step, whichever thread runs it. */
  private taskKey(i: number): number {
    return dropoutKey(DROPOUT_STREAM.meta, this.opts.seed, this.steps, i);
  }

  /**
   * The same step with tasks spread over threads. Rows are drawn in the serial order, each
   * task's meta-gradient lands in its slot, and the slots are summed in task order: the
   * numbers are the serial step's, bit for bit.
   */
  private parallelStep({ slots, runner, jobs, job }: TaskParallel): StepResult {
    const { grads: sum, sampler, rng, params, opts } = this;
    const picked = sampler.drawTasks(rng, opts.taskCount);
    picked.forEach((t, i) => {
      slots.fill(i, 0, this.part, sampler.drawRows(rng, t, opts.batchSize));
      slots.fill(i, 1, this.part, sampler.drawRows(rng, t, opts.batchSize));
      slots.keys[i] = this.taskKey(i);
    });
    let loss = 0;
    let rows = 0;
    slots.open(picked.length);
    const helpers = Math.min(jobs.workers, picked.length - 1);
    for (let w = 1; w <= helpers; w++) jobs.start(w, job, []);
    let summed = 0;
    try {
      runner.drain();
      // cleared here, not before the tasks, while the other threads still run theirs
      sum.clear();
      // sum in task order, each task as soon as it is done: while another thread runs its
      // last task, this one adds up the tasks already finished instead of waiting idle
      for (; summed < picked.length && slots.wait(summed) === TASK_DONE; summed++) {
        loss += slots.loss[summed]!;
        sum.addResult(this.ops, slots.results[summed]!, opts.localLr);
        rows += slots.counts[2 * summed]! + slots.counts[2 * summed + 1]!;
      }
    } finally {
      // throws the error of a worker whose task failed
      for (let w = 1; w <= helpers; w++) jobs.finish(w);
    }
    // never an update from part of the step's tasks
    if (summed < picked.length) throw new Error(`meta-step: task ${summed} of ${picked.length} failed on an engine thread`);
    sum.scale(1 / picked.length);
    this.adam.apply(params.dense, params.tables, sum);
    return { loss: loss / picked.length, rows, tasks: picked.length };
  }

  private serialStep(): StepResult {
    const { task, grads: sum, sampler, rng, params, opts, part } = this;
    const picked = sampler.drawTasks(rng, opts.taskCount);
    sum.clear();
    let loss = 0;
    let rows = 0;
    picked.forEach((t, i) => {
      // drawRows returns a view of the task's permutation that the next draw reshuffles
      const support = sampler.drawRows(rng, t, opts.batchSize).slice();
      const query = sampler.drawRows(rng, t, opts.batchSize);
      loss += task.add(params.dense, this.base, opts.localLr, part, support, support.length, part, query, query.length, sum, this.taskKey(i));
      rows += support.length + query.length;
    });
    sum.scale(1 / picked.length);
    this.adam.apply(params.dense, params.tables, sum);
    return { loss: loss / picked.length, rows, tasks: picked.length };
  }
}

/**
 * The no-meta baseline: ordinary training with Adam on shuffled mini-batches of all training
 * rows. One of its steps sees as many rows as a meta-step (task_count support + query
 * batches), as task_count*2 Adam steps, so both see the same number of rows per epoch.
 */
export class JointTrainer extends Trainer {
  private readonly order: Int32Array;
  private cursor: number;

  constructor(ops: Ops, params: Params, opts: MetaOptions, part: PartData, rows: Int32Array) {
    super(ops, params, opts, part);
    this.order = Int32Array.from(rows);
    this.cursor = this.order.length;
  }

  step(): StepResult {
    const { model, opts, grads } = this;
    let loss = 0;
    let rows = 0;
    const n = opts.taskCount * 2;
    for (let i = 0; i < n; i++) {
      if (this.cursor >= this.order.length) {
        this.rng.shuffle(this.order);
        this.cursor = 0;
      }
      const b = Math.min(opts.batchSize, this.order.length - this.cursor);
      model.dropoutKey = dropoutKey(DROPOUT_STREAM.joint, opts.seed, this.steps++);
      model.forward(this.base, this.params.dense, this.part, this.order, this.cursor, b);
      this.cursor += b;
      loss += model.loss();
      model.backward();
      grads.clear();
      grads.add(model);
      this.adam.apply(this.params.dense, this.params.tables, grads);
      rows += b;
    }
    return { loss: loss / n, rows, tasks: 0 };
  }
}
