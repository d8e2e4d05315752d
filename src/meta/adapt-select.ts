/**
 * How long (and how fast, and whether the embeddings move) to adapt to one campaign, chosen
 * on the campaign's own seeds: k-fold cross-validation over its stage-1 rows. The best number
 * of adaptation epochs differs by campaign (a campaign with 20 seeds over-fits in fewer steps
 * than one with 2,000), so one fixed count for all leaves quality on the table.
 *
 * For every (learning rate, frozen) pair of the grid and every fold, one adaptation on the
 * other folds runs for the grid's largest epoch count and scores the held-out fold after each
 * epoch of the grid: the out-of-fold predictions of every grid point, at the cost of one run
 * per pair and fold. The point with the best pooled out-of-fold AUC wins (ties: fewer epochs,
 * then the grid's order); the campaign is then adapted on all its rows with it.
 */
import type { PartData } from '../data/part.js';
import { auc } from '../eval/metrics.js';
import { Rng } from '../util/rng.js';
import type { AdaptSetting } from './adapt.js';

export interface AdaptSelection {
  folds: number;
  epochs: number[];
  /** Empty: the configured learning rate only. */
  learningRates: number[];
  freezeEmbeddings: boolean[];
  /** Fewer positives (or fewer than `folds`): no cross-validation, the fixed setting. */
  minPositives: number;
}

export interface GridScore extends AdaptSetting {
  /** Pooled out-of-fold AUC (NaN where a fold's scores were not finite). */
  auc: number;
}

export interface AdaptChoice {
  setting: AdaptSetting;
  /** Every grid point's score, in grid order; empty on a fall-back. */
  grid: GridScore[];
  /** Why the fixed setting was used instead, or null. */
  fallback: string | null;
}

/** A choice as a campaign's record says it (metrics, audience summaries): the setting, its CV AUC, or why it fell back. */
export interface ChoiceSummary extends AdaptSetting {
  cvAuc: number | null;
  fallback: string | null;
}

export function summarizeChoice(c: AdaptChoice): ChoiceSummary {
  const picked = c.grid.find((g) => g.epochs === c.setting.epochs && g.lr === c.setting.lr && g.freeze === c.setting.freeze);
  return { ...c.setting, cvAuc: picked && !c.fallback ? picked.auc : null, fallback: c.fallback };
}

/** What chooseSetting needs of an Adapter: adapt with a setting, score with what it adapted so far. */
export interface FoldAdapter {
  run(train: PartData, rows: Int32Array, taskKey: number, setting: AdaptSetting, afterEpoch: (epoch: number) => void): unknown;
  scoreAdapted(part: PartData, rows: Int32Array, out: Float64Array): void;
}

/**
 * Stratified folds: positives and negatives each shuffled (seeded by the campaign's key) and
 * dealt round-robin, so every fold holds its share of the few seeds.
 */
export function assignFolds(labels: ArrayLike<number>, rows: Int32Array, folds: number, seed: number): Int32Array[] {
  const rng = new Rng(seed);
  const out: number[][] = Array.from({ length: folds }, () => []);
  let next = 0;
  for (const want of [1, 0]) {
    const cls = rows.filter((r) => (labels[r] ? 1 : 0) === want);
    rng.shuffle(cls);
    for (const r of cls) out[next++ % folds]!.push(r);
  }
  // each fold in the rows' own order: adaptation shuffles them itself
  const pos = new Map<number, number>();
  rows.forEach((r, i) => pos.set(r, i));
  return out.map((f) => Int32Array.from(f.sort((a, b) => pos.get(a)! - pos.get(b)!)));
}

function positives(labels: ArrayLike<number>, rows: Int32Array): number {
  let n = 0;
  for (const r of rows) n += labels[r] ? 1 : 0;
  return n;
}

export function chooseSetting(adapter: FoldAdapter, train: PartData, rows: Int32Array, taskKey: number, sel: AdaptSelection, fixed: AdaptSetting): AdaptChoice {
  const pos = positives(train.label, rows);
  const need = Math.max(sel.minPositives, sel.folds);
  if (pos < need) return { setting: fixed, grid: [], fallback: `${pos} positive(s) in the campaign's stage 1, fewer than ${need}: no cross-validation` };
  if (rows.length - pos < sel.folds) return { setting: fixed, grid: [], fallback: `${rows.length - pos} negative(s), fewer than ${sel.folds} folds: no cross-validation` };
  const folds = assignFolds(train.label, rows, sel.folds, Math.imul(taskKey + 1, 0x9e3779b1) ^ 0x0f01d5ed);
  const lrs = sel.learningRates.length ? sel.learningRates : [fixed.lr];
  const epochs = [...new Set(sel.epochs)].sort((a, b) => a - b);
  const maxEpochs = epochs[epochs.length - 1]!;
  const grid: GridScore[] = [];
  const labels = new Float64Array(rows.length);
  for (const lr of lrs) {
    for (const freeze of sel.freezeEmbeddings) {
      // out-of-fold predictions per epoch count, in fold order
      const oof = epochs.map(() => new Float64Array(rows.length));
      let at = 0;
      folds.forEach((held, f) => {
        const fit = Int32Array.from(folds.flatMap((g, i) => (i === f ? [] : Array.from(g))));
        const pred = new Float64Array(held.length);
        held.forEach((r, i) => (labels[at + i] = train.label[r]!));
        const score = (k: number) => {
          adapter.scoreAdapted(train, held, pred);
          oof[k]!.set(pred, at);
        };
        // a fold's own key: its shuffles differ from the final adaptation's
        adapter.run(train, fit, Math.imul(taskKey + 1, 31) + f + 1, { epochs: maxEpochs, lr, freeze }, (e) => {
          const k = epochs.indexOf(e);
          if (k >= 0) score(k);
        });
        at += held.length;
      });
      epochs.forEach((e, k) => {
        const p = oof[k]!;
        grid.push({ epochs: e, lr, freeze, auc: p.every(Number.isFinite) ? auc(p, labels) : NaN });
      });
    }
  }
  let best: GridScore | null = null;
  for (const g of grid) {
    if (Number.isNaN(g.auc)) continue;
    if (!best || g.auc > best.auc || (g.auc === best.auc && g.epochs < best.epochs)) best = g;
  }
  if (!best) return { setting: fixed, grid, fallback: 'every grid point scored NaN: adaptation diverged' };
  return { setting: { epochs: best.epochs, lr: best.lr, freeze: best.freeze }, grid, fallback: null };
}
