/**
 * Validation inside meta-training: a seeded share of the training campaigns is held out and
 * used as the test campaigns will be. Each validation campaign's stage-1 rows are split
 * (stratified by label) into rows to adapt on and rows to score; an evaluation adapts the
 * current general model to every validation campaign, as `infer` does, and scores the held
 * rows. Its GAUC is what picks the best checkpoint and stops training early: the general
 * model over-fits the training campaigns long before the training loss says so.
 */
import type { PartData, TaskRows } from '../data/part.js';
import { auc } from '../eval/metrics.js';
import type { Ops } from '../model/ops.js';
import type { Params } from '../model/params.js';
import { Rng } from '../util/rng.js';
import { Adapter, scoreRows, type AdaptOptions } from './adapt.js';
import { adaptAll } from './adapt-runner.js';
import { assignFolds } from './adapt-select.js';

export interface ValidationTask {
  aid: number;
  /** Rows adapted on, and rows scored, of the training part. */
  fit: Int32Array;
  held: Int32Array;
}

export interface ValidationSplit {
  train: TaskRows[];
  valid: ValidationTask[];
}

export interface ValidationScore {
  /** Pooled AUC over every validation campaign's held rows. */
  auc: number;
  /** Mean per-campaign AUC; campaigns whose held rows have one class are skipped. */
  gauc: number;
  /** Campaigns in the GAUC. */
  tasks: number;
}

/**
 * Hold out round(share · tasks) campaigns (at least one), leaving `minTrain` to train on;
 * the draw depends only on the seed and the campaigns' aids.
 */
export function splitValidation(tasks: TaskRows[], labels: ArrayLike<number>, share: number, holdout: number, seed: number, minTrain: number): ValidationSplit {
  if (share <= 0) return { train: tasks, valid: [] };
  const byAid = [...tasks].sort((a, b) => a.aid - b.aid);
  const n = Math.min(Math.max(1, Math.round(share * tasks.length)), tasks.length - minTrain);
  if (n < 1) return { train: tasks, valid: [] };
  const rng = new Rng(seed ^ 0x7a11d);
  rng.shuffle(byAid);
  const held = new Set(byAid.slice(0, n).map((t) => t.aid));
  const valid = byAid.slice(0, n).map((t, i): ValidationTask => {
    // the stratified deal of assignFolds into round(1 / holdout) folds, the first one held: the
    // held share is the holdout rounded to 1/k (0.3 holds a third, 0.5 a half)
    const parts = Math.max(2, Math.round(1 / holdout));
    const folds = assignFolds(labels, t.rows, parts, seed ^ Math.imul(i + 1, 0x2545f491));
    const fit = Int32Array.from(folds.slice(1).flatMap((f) => Array.from(f)).sort((a, b) => a - b));
    return { aid: t.aid, fit, held: folds[0]! };
  });
  valid.sort((a, b) => a.aid - b.aid);
  return { train: tasks.filter((t) => !held.has(t.aid)), valid };
}

export class Validator {
  private readonly adapter: Adapter;

  constructor(
    private readonly ops: Ops,
    params: Params,
    opts: AdaptOptions,
    private readonly part: PartData,
    readonly tasks: ValidationTask[],
  ) {
    this.adapter = new Adapter(ops, params, opts);
  }

  /** Adapt the current general model to every validation campaign and score its held rows. */
  evaluate(): ValidationScore {
    const { ops, part, tasks, adapter } = this;
    // adaptAll lays its results out on the engine's stack: freed after scoring
    const mark = ops.mark();
    try {
      const adapted = adaptAll(
        adapter,
        tasks.map((t) => ({ train: part, rows: t.fit, key: t.aid })),
      );
      const total = tasks.reduce((a, t) => a + t.held.length, 0);
      const scores = new Float64Array(total);
      const labels = new Uint8Array(total);
      let at = 0;
      let sum = 0;
      let counted = 0;
      tasks.forEach((t, i) => {
        const out = scores.subarray(at, at + t.held.length);
        scoreRows(adapter.model, adapted[i]!.model, part, t.held, out);
        t.held.forEach((r, j) => (labels[at + j] = part.label[r]!));
        const a = out.every(Number.isFinite) ? auc(out, labels.subarray(at, at + t.held.length)) : NaN;
        if (!Number.isNaN(a)) {
          sum += a;
          counted++;
        }
        at += t.held.length;
      });
      return { auc: scores.every(Number.isFinite) ? auc(scores, labels) : NaN, gauc: counted ? sum / counted : NaN, tasks: counted };
    } finally {
      ops.release(mark);
    }
  }
}
