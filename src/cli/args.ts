/** Parsers for numeric command-line values: a bad value is a one-line usage error naming it. */
import { InvalidArgumentError } from 'commander';

/** An integer >= `min`. */
export function intArg(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^-?[0-9]+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected an integer >= ${min}, got "${value}"`);
    }
    return n;
  };
}

/** A number in (lo, hi]. */
export function numberArg(lo: number, hi: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !(n > lo && n <= hi)) throw new InvalidArgumentError(`expected a number in (${lo}, ${hi}], got "${value}"`);
    return n;
  };
}
