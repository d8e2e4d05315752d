/**
 * One task's meta-gradient (spec section 4, steps 3-5), for meta-training and for the
 * meta-grad diagnostic:
 *
 *   g    = ∇θ L_support(θ)
 *   θ'   = θ - α g                                   (FastWeights)
 *   q    = ∇θ' L_query(θ')
 *   first order:  q
 *   second order: (I - α H_support(θ)) q = q - α H_support q   (ModelHvp, exact)
 *
 * Second order keeps the support batch's activations for the Hessian-vector product, so the
 * query runs on a model of its own. With dropout, the support and the query pass draw their
 * masks from the task's key; the Hessian is the masked support network's.
 */
import type { PartData } from '../data/part.js';
import { ModelHvp } from '../model/hvp.js';
import { dropoutKey } from '../model/dropout.js';
import type { Layout } from '../model/layout.js';
import { Model } from '../model/model.js';
import type { Ops, Vec } from '../model/ops.js';
import { RowSet, type TableView } from '../model/row-set.js';
import { FastWeights, type GradSum, copyRowGrads } from './learner.js';
import type { BatchGrad, TaskResult } from './task-slots.js';

export type MetaOrder = 'first' | 'second';

function copyBatchGrad(m: Model, dense: Vec, local: Vec[], to: BatchGrad, toDense: Vec, toLocal: Vec[], E: number): void {
  toDense.set(dense);
  m.batch.fields.forEach((f, e) => {
    to.nUniq[e] = f.nUniq;
    to.uniq[e]!.set(f.uniq.subarray(0, f.nUniq));
    toLocal[e]!.set(local[e]!.subarray(0, f.nUniq * E));
  });
}

export class TaskMetaGrad {
  readonly query: Model;
  private readonly fast: FastWeights;
  private readonly hvp: ModelHvp | null;
  /** Second order: the query gradient's rows as table-shaped arrays (the HVP's direction). */
  private readonly qRows: RowSet[] | null;

  constructor(
    ops: Ops,
    L: Layout,
    tables: Vec[],
    readonly support: Model,
    readonly order: MetaOrder,
  ) {
    this.fast = new FastWeights(ops, L, tables);
    if (order === 'second') {
      this.query = new Model(ops, L, support.capacity, 'auto', support.dropout);
      this.hvp = new ModelHvp(support);
      this.qRows = L.embeddings.map((e) => new RowSet(ops, e.rows, L.dims.embedDim));
    } else {
      this.query = support;
      this.hvp = null;
      this.qRows = null;
    }
  }

  /**
   * Adds the task's meta-gradient at (dense, base) into `sum` and returns its query loss.
   * Support rows sRows[0..nS) of sPart, query rows qRows[0..nQ) of qPart; `key` the
   * task's dropout key (see compute).
   */
  add(
    dense: Vec, base: TableView, alpha: number,
    sPart: PartData, sRows: ArrayLike<number>, nS: number,
    qPart: PartData, qRows: ArrayLike<number>, nQ: number,
    sum: GradSum, key = 0,
  ): number {
    const loss = this.compute(dense, base, alpha, sPart, sRows, nS, qPart, qRows, nQ, key);
    this.addTo(sum, alpha);
    return loss;
  }

  /**
   * The task's meta-gradient, left in the models (see addTo, copyTo); returns the query
   * loss. `key` identifies the task (in its run and step): its passes' dropout masks are
   * drawn from it alone.
   */
  compute(
    dense: Vec, base: TableView, alpha: number,
    sPart: PartData, sRows: ArrayLike<number>, nS: number,
    qPart: PartData, qRows: ArrayLike<number>, nQ: number,
    key = 0,
  ): number {
    const { support, query, fast } = this;
    // first order runs both passes on one model: each key is set just before its pass
    support.dropoutKey = dropoutKey(key, 0);
    support.forward(base, dense, sPart, sRows, 0, nS);
    support.backward();
    fast.adapt(dense, support, alpha);
    query.dropoutKey = dropoutKey(key, 1);
    query.forward(fast.view, fast.dense, qPart, qRows, 0, nQ);
    const loss = query.loss();
    query.backward();
    if (this.hvp && this.qRows) {
      for (const r of this.qRows) r.clear();
      copyRowGrads(query, this.qRows);
      this.hvp.apply(dense, query.grad, this.qRows.map((r) => r.data));
    }
    return loss;
  }

  /** Add the last compute()'s meta-gradient into `sum`. */
  addTo(sum: GradSum, alpha: number): void {
    sum.add(this.query);
    if (this.hvp) sum.addScaled(this.support, this.hvp.hv, this.hvp.rLocalGrad, -alpha);
  }

  /** Copy the last compute()'s meta-gradient into a task slot (GradSum.addResult adds it as addTo would). */
  copyTo(r: TaskResult): void {
    const E = this.query.L.dims.embedDim;
    copyBatchGrad(this.query, this.query.grad, this.query.dLocal, r, r.grad, r.dLocal, E);
    if (this.hvp && r.second) copyBatchGrad(this.support, this.hvp.hv, this.hvp.rLocalGrad, r.second, r.second.hv, r.second.rLocal, E);
  }
}
