/**
 * Fuzzing a reader of untrusted files: fast-check mutations of real, valid files (bytes
 * overwritten, length-like words set to hostile values, cuts, repeated slices) must only
 * ever load or fail with a one-line UserError. The property runs in a child process whose
 * address space is capped (prlimit), so an input that makes the reader allocate far more
 * than the output needs fails the property instead of passing quietly.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';

/** Values that length, count, offset and index fields go wrong with. */
const HOSTILE = [0, 1, 7, 255, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 1e9, 2 ** 40, 2 ** 53 - 1, -1, -8];

/** A change to a file, as data (so that fast-check prints a failing case readably). */
export type Mutation =
  | { kind: 'bytes'; edits: [number, number][] }
  | { kind: 'word'; at: number; value: number; width: number }
  | { kind: 'cut'; at: number }
  | { kind: 'repeat'; at: number; from: number; n: number };

export function applyMutation(m: Mutation, b: Buffer): Buffer {
  const c = Buffer.from(b);
  switch (m.kind) {
    case 'bytes':
      for (const [at, v] of m.edits) if (at < c.length) c[at] = v;
      return c;
    case 'word': {
      if (m.at + m.width > c.length) return c;
      const big = BigInt.asUintN(64, BigInt(Math.trunc(m.value)));
      for (let k = 0; k < m.width; k++) c[m.at + k] = Number((big >> BigInt(8 * k)) & 0xffn);
      return c;
    }
    case 'cut':
      return c.subarray(0, m.at);
    case 'repeat':
      c.copy(c, Math.min(m.at, c.length), m.from, Math.min(m.from + m.n, c.length));
      return c;
  }
}

/** Mutations of a file of `size` bytes; `hot` is a byte range (e.g. a header) hit more often. */
export function mutations(size: number, hot: [number, number] = [0, size]): fc.Arbitrary<Mutation> {
  const pos = fc.oneof(fc.integer({ min: hot[0], max: Math.max(hot[0], hot[1] - 1) }), fc.nat({ max: Math.max(0, size - 1) }));
  const bytes = fc.record({ kind: fc.constant('bytes' as const), edits: fc.array(fc.tuple(pos, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }) });
  const word = fc.record({ kind: fc.constant('word' as const), at: pos, value: fc.constantFrom(...HOSTILE), width: fc.constantFrom(1, 2, 4, 8) });
  const cut = fc.record({ kind: fc.constant('cut' as const), at: fc.nat({ max: size }) });
  const repeat = fc.record({ kind: fc.constant('repeat' as const), at: fc.nat({ max: size }), from: fc.nat({ max: size }), n: fc.integer({ min: 1, max: 64 }) });
  return fc.oneof({ arbitrary: word, weight: 3 }, { arbitrary: bytes, weight: 3 }, { arbitrary: cut, weight: 1 }, { arbitrary: repeat, weight: 1 });
}

const CHILD = fileURLToPath(new URL('./fuzz-child.js', import.meta.url));
const PRLIMIT = '/usr/bin/prlimit';

/** Address-space cap of the child: Node itself needs about 1 GB of it; allocations of a few hundred MB more fail. */
export const ADDRESS_SPACE = 1_600_000_000;

export const FUZZ_SKIP = existsSync(PRLIMIT) ? false : `${PRLIMIT} is absent (util-linux): the memory-capped child cannot be started`;

/** Run the fuzz property of `reader` over `fixtures` in a capped child; returns its exit code and output. */
export function fuzzInChild(reader: string, fixtures: string[], runs: number, seed: number): { code: number | null; out: string } {
  const r = spawnSync(PRLIMIT, [`--as=${ADDRESS_SPACE}`, process.execPath, '--max-old-space-size=256', CHILD, reader, String(runs), String(seed), ...fixtures], {
    encoding: 'utf8',
    timeout: 240_000,
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}
