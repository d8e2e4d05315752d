/** Readable text for evaluation results: per-task lines and a summary table per split. */
import { table } from './format.js';
import type { SplitResult, TaskResult } from '../eval/evaluate.js';
import { REFERENCES } from '../data/reference.js';

const f4 = (x: number | null): string => (x === null || Number.isNaN(x) ? '   -  ' : x.toFixed(4));

export function taskLine(split: string, t: TaskResult): string {
  return `${split.padEnd(5)} aid ${String(t.aid).padStart(6)}  seeds ${String(t.seeds).padStart(5)}/${String(t.seedRows).padEnd(6)} rows ${String(t.rows).padStart(7)}  AUC ${f4(t.auc)}  P@5% ${f4(t.precision)}  R@5% ${f4(t.recall)}`;
}

export function splitTable(results: SplitResult[]): string {
  // synth's reference scorers, where the data carries them (real data does not)
  const refs = REFERENCES.filter((k) => results.some((r) => r.reference?.[k]));
  return table(
    ['split', 'tasks', 'rows', 'AUC', 'GAUC', 'P@5%', 'R@5%', 'logloss', 'oracle AUC', 'oracle GAUC', ...refs.flatMap((k) => [`${k} AUC`, `${k} GAUC`])],
    results.map((r) => [
      r.name,
      String(r.tasks) + (r.gaucSkipped ? ` (${r.gaucSkipped} 1-class)` : ''),
      String(r.rows),
      f4(r.auc),
      f4(r.gauc),
      f4(r.precision),
      f4(r.recall),
      f4(r.logloss),
      f4(r.oracle?.auc ?? null),
      f4(r.oracle?.gauc ?? null),
      ...refs.flatMap((k) => [f4(r.reference?.[k]?.auc ?? null), f4(r.reference?.[k]?.gauc ?? null)]),
    ]),
  );
}
