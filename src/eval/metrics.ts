/**
 * Evaluation metrics of spec section 5: exact ROC AUC (rank statistic, ties counted half),
 * GAUC, Precision/Recall@k per task and log loss as PyTorch's BCELoss computes it. Scores
 * are probabilities (Float32 or Float64), labels 0/1. An optional `rows` subset lets a
 * per-task metric run over a pooled prediction array without copying it.
 */

export type Scores = ArrayLike<number>;
export type Labels = ArrayLike<number>;
export type Rows = ArrayLike<number>;

function rowAt(rows: Rows | undefined, i: number): number {
  return rows === undefined ? i : rows[i]!;
}

function count(scores: Scores, rows: Rows | undefined): number {
  return rows === undefined ? scores.length : rows.length;
}

function checkRow(scores: Scores, labels: Labels, r: number): void {
  const s = scores[r]!;
  if (Number.isNaN(s)) throw new RangeError(`score at row ${r} is NaN`);
  const y = labels[r];
  if (y !== 0 && y !== 1) throw new RangeError(`label at row ${r} is ${y}, expected 0 or 1`);
}

/**
 * Exact ROC AUC: the probability that a random positive outscores a random negative,
 * ties counting one half (the Mann-Whitney statistic with average ranks). Positive and
 * negative scores are sorted separately with the native typed-array sort and merged,
 * which is O(n log n) without a comparator call per pair. NaN for a single class.
 */
export function auc(scores: Scores, labels: Labels, rows?: Rows): number {
  const n = count(scores, rows);
  let nPos = 0;
  for (let i = 0; i < n; i++) {
    const r = rowAt(rows, i);
    checkRow(scores, labels, r);
    nPos += labels[r]!;
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  const pos = new Float64Array(nPos);
  const neg = new Float64Array(nNeg);
  for (let i = 0, p = 0, q = 0; i < n; i++) {
    const r = rowAt(rows, i);
    if (labels[r] === 1) pos[p++] = scores[r]!;
    else neg[q++] = scores[r]!;
  }
  pos.sort();
  neg.sort();
  let below = 0; // negatives strictly below the current positive score
  let upTo = 0; // negatives at or below it
  let sum = 0;
  for (let i = 0; i < nPos; i++) {
    const s = pos[i]!;
    while (below < nNeg && neg[below]! < s) below++;
    if (upTo < below) upTo = below;
    while (upTo < nNeg && neg[upTo]! <= s) upTo++;
    sum += below + 0.5 * (upTo - below);
  }
  return sum / (nPos * nNeg);
}

export interface TaskRowsLike {
  aid: number;
  rows: Rows;
}

export interface GaucResult {
  /** Unweighted mean of the per-task AUCs that are defined; NaN when none is. */
  gauc: number;
  /** Tasks with both classes, averaged. */
  evaluated: number;
  /** Tasks with one class only, left out. */
  skipped: number;
  perTask: { aid: number; auc: number }[];
}

export function gauc(scores: Scores, labels: Labels, tasks: TaskRowsLike[]): GaucResult {
  const perTask = tasks.map((t) => ({ aid: t.aid, auc: auc(scores, labels, t.rows) }));
  const defined = perTask.filter((t) => !Number.isNaN(t.auc));
  const sum = defined.reduce((a, t) => a + t.auc, 0);
  return {
    gauc: defined.length > 0 ? sum / defined.length : NaN,
    evaluated: defined.length,
    skipped: perTask.length - defined.length,
    perTask,
  };
}

/**
 * The `k` top-scored rows, highest first; equal scores keep row order (lower row index
 * first), so the selection never depends on the sort's stability.
 */
export function topK(scores: Scores, k: number, rows?: Rows): number[] {
  const idx = Array.from({ length: count(scores, rows) }, (_, i) => rowAt(rows, i));
  idx.sort((a, b) => scores[b]! - scores[a]! || a - b);
  return idx.slice(0, k);
}

export interface AtKResult {
  k: number;
  hits: number;
  positives: number;
  /** hits / k; NaN when k = 0. */
  precision: number;
  /** hits / positives; NaN when there are no positives. */
  recall: number;
}

/** Precision and recall of the top k = floor(frac * n) rows (spec section 5). */
export function precisionRecallAtK(scores: Scores, labels: Labels, frac: number, rows?: Rows): AtKResult {
  const n = count(scores, rows);
  const k = Math.floor(frac * n);
  let positives = 0;
  for (let i = 0; i < n; i++) {
    const r = rowAt(rows, i);
    checkRow(scores, labels, r);
    positives += labels[r]!;
  }
  let hits = 0;
  for (const r of topK(scores, k, rows)) hits += labels[r]!;
  return { k, hits, positives, precision: k > 0 ? hits / k : NaN, recall: positives > 0 ? hits / positives : NaN };
}

/** Mean binary cross-entropy with each log clamped at -100, as torch.nn.BCELoss. */
export function logLoss(scores: Scores, labels: Labels, rows?: Rows): number {
  const n = count(scores, rows);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const r = rowAt(rows, i);
    checkRow(scores, labels, r);
    const p = scores[r]!;
    if (p < 0 || p > 1) throw new RangeError(`score at row ${r} is ${p}, expected a probability in [0, 1]`);
    sum -= Math.max(Math.log(labels[r] === 1 ? p : 1 - p), -100);
  }
  return n > 0 ? sum / n : NaN;
}

export interface TaskMetrics {
  aid: number;
  rows: number;
  positives: number;
  auc: number;
  precision: number;
  recall: number;
}

export interface SplitMetrics {
  rows: number;
  positives: number;
  tasks: number;
  /** Pooled over every row of the split. */
  auc: number;
  logloss: number;
  gauc: number;
  gaucTasks: number;
  gaucSkipped: number;
  /** Means over the tasks where each is defined (k > 0; at least one positive). */
  precision: number;
  recall: number;
  precisionTasks: number;
  recallTasks: number;
  perTask: TaskMetrics[];
}

function sumOf(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return s;
}

function definedMean(xs: number[]): { mean: number; n: number } {
  const d = xs.filter((x) => !Number.isNaN(x));
  return { mean: d.length > 0 ? d.reduce((a, b) => a + b, 0) / d.length : NaN, n: d.length };
}

/** Every metric of a test split: pooled AUC and log loss, GAUC, mean P/R@frac, per-task lines. */
export function splitMetrics(scores: Scores, labels: Labels, tasks: TaskRowsLike[], frac = 0.05): SplitMetrics {
  const g = gauc(scores, labels, tasks);
  const perTask = tasks.map((t, i) => {
    const pr = precisionRecallAtK(scores, labels, frac, t.rows);
    return { aid: t.aid, rows: t.rows.length, positives: pr.positives, auc: g.perTask[i]!.auc, precision: pr.precision, recall: pr.recall };
  });
  const p = definedMean(perTask.map((t) => t.precision));
  const r = definedMean(perTask.map((t) => t.recall));
  return {
    rows: scores.length,
    positives: sumOf(labels),
    tasks: tasks.length,
    auc: auc(scores, labels),
    logloss: logLoss(scores, labels),
    gauc: g.gauc,
    gaucTasks: g.evaluated,
    gaucSkipped: g.skipped,
    precision: p.mean,
    recall: r.mean,
    precisionTasks: p.n,
    recallTasks: r.n,
    perTask,
  };
}
