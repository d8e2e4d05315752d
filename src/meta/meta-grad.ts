/**
 * The meta-gradient of one meta-step for given tasks, each a support and a query batch of
 * whole parts, averaged over the tasks: what `metaheac meta-grad` writes so that the engine
 * can be compared with another implementation on the same weights and batches.
 */
import type { PartData } from '../data/part.js';
import { Model } from '../model/model.js';
import type { Ops } from '../model/ops.js';
import type { Params } from '../model/params.js';
import { plainView } from '../model/row-set.js';
import { GradSum } from './learner.js';
import { TaskMetaGrad, type MetaOrder } from './task-grad.js';

export interface TaskBatches {
  support: PartData;
  query: PartData;
}

export interface MetaGradResult {
  /** The mean over tasks; embedding gradients are table-shaped (zero off the touched rows). */
  grad: GradSum;
  meanQueryLoss: number;
  queryLosses: number[];
}

function allRows(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i);
}

export function metaGradient(ops: Ops, params: Params, tasks: TaskBatches[], order: MetaOrder, localLr: number): MetaGradResult {
  const L = params.layout;
  const capacity = Math.max(1, ...tasks.flatMap((t) => [t.support.nRows, t.query.nRows]));
  const task = new TaskMetaGrad(ops, L, params.tables, new Model(ops, L, capacity), order);
  const grad = new GradSum(ops, L);
  const base = plainView(params.tables);
  const queryLosses = tasks.map((t) =>
    task.add(params.dense, base, localLr, t.support, allRows(t.support.nRows), t.support.nRows, t.query, allRows(t.query.nRows), t.query.nRows, grad),
  );
  grad.scale(1 / tasks.length);
  return { grad, meanQueryLoss: queryLosses.reduce((a, b) => a + b, 0) / tasks.length, queryLosses };
}
