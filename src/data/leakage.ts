/**
 * Test campaigns that also appear in training: their metrics would be measured on data the
 * model was trained on. train, infer and inspect refuse them unless told to only warn.
 */
import { DataError } from '../util/errors.js';

/** The aids of `test` that are also in `train`, ascending. */
export function sharedAids(train: Iterable<number>, test: Iterable<number>): number[] {
  const t = new Set(train);
  return [...new Set([...test].filter((a) => t.has(a)))].sort((a, b) => a - b);
}

export interface Leak {
  /** The test part holding the campaigns. */
  testPart: string;
  /** Where the training campaigns were read from. */
  trainFrom: string;
  aids: number[];
}

export function describeLeak(l: Leak): string {
  const shown = l.aids.slice(0, 5).join(', ') + (l.aids.length > 5 ? `, ... (${l.aids.length} in all)` : '');
  return `${l.testPart}: test campaign${l.aids.length > 1 ? 's' : ''} aid ${shown} also in training (${l.trainFrom}): their metrics would be measured on training data`;
}

/** Refuse leaks, or, when `allow`, hand each to `warn`. `flag` names how to allow them. */
export function checkLeaks(leaks: Leak[], allow: boolean, flag: string, warn: (line: string) => void): void {
  if (leaks.length === 0) return;
  if (!allow) throw new DataError(`${describeLeak(leaks[0]!)}; ${flag} to go on anyway`);
  for (const l of leaks) warn(`warning: ${describeLeak(l)}`);
}
