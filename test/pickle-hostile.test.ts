/**
 * The pickle reader against hostile files: every size or index a pickle states (memo slots,
 * int literals, pandas index ranges, block placements, object array lengths, list cells
 * repeated through the memo) is checked against what the file can hold before anything is
 * allocated, and random damage to real pickles (fast-check, in a memory-capped child) only
 * ever loads or fails with a one-line DataError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PyList } from '../src/data/importers/pickle/list.js';
import { unpickleFile } from '../src/data/importers/pickle/unpickler.js';
import { readPicklePart } from '../src/data/importers/pickle-part.js';
import { DataError } from '../src/util/errors.js';
import { tempDir } from './helpers/fixtures.js';
import { FUZZ_SKIP, fuzzInChild } from './helpers/fuzz.js';
import { SAMPLE, SAMPLE_SKIP, fixture, cellListStart, int64Cell, op, writePickle } from './helpers/pickles.js';

/** `b` with `remove` bytes at `at` replaced by `insert` (protocol 3 pickles have no frames to fix up). */
function splice(b: Buffer, at: number, remove: number, insert: number[]): Buffer {
  return Buffer.concat([b.subarray(0, at), Buffer.from(insert), b.subarray(at + remove)]);
}

function refused(path: string, pattern: RegExp, read: (p: string) => unknown = readPicklePart): void {
  assert.throws(
    () => read(path),
    (e: unknown) => e instanceof DataError && e.message.startsWith(`${path}: `) && pattern.test(e.message) && !e.message.includes('\n'),
    pattern.source,
  );
}

const P3 = readFileSync(fixture('proto3_rangeindex'));
/** Byte offsets in proto3_rangeindex.pkl (pickletools.dis): the first BINPUT, block 0's slice(3, 4, 1), the row RangeIndex's stop. */
const AT = { firstPut: 31, sliceStop: 318, rowStop: 1793 };

test('sizes and indexes stated in a DataFrame pickle are checked against what the file holds', (t) => {
  const dir = tempDir(t);
  assert.equal(readPicklePart(fixture('proto3_rangeindex')).data.nRows, 4, 'the unpatched fixture reads');
  // K 4 -> J 0x7fffffff: a RangeIndex of two billion rows over 4 rows of data
  refused(writePickle(dir, 'rows.pkl', splice(P3, AT.rowStop, 2, [0x4a, 0xff, 0xff, 0xff, 0x7f])), /the row index claims 2147483647 rows; a file of \d+ bytes cannot hold them/);
  // LONG1 of 6 bytes: 2^40 rows
  refused(writePickle(dir, 'rows40.pkl', splice(P3, AT.rowStop, 2, [0x8a, 6, 0, 0, 0, 0, 0, 1])), /the row index claims 1099511627776 rows/);
  // slice(3, 4) -> slice(3, 2^31 - 1): a placement of two billion columns for a block of one
  refused(writePickle(dir, 'place.pkl', splice(P3, AT.sliceStop, 2, [0x4a, 0xff, 0xff, 0xff, 0x7f])), /block 0 has 1 columns but is placed at 2147483644/);
  // BINPUT 0 -> LONG_BINPUT 0xfffffff0: a memo slot four billion slots away
  refused(writePickle(dir, 'memo.pkl', splice(P3, AT.firstPut, 2, [0x72, 0xf0, 0xff, 0xff, 0xff])), /memo slot 4294967280 is beyond what the file can fill \(0 slots so far, \d+ bytes left\)/);
});

test('int literals and LONG opcodes cannot make the reader spin', (t) => {
  const dir = tempDir(t);
  const digits = writePickle(dir, 'digits.pkl', [op.proto(2), [0x49, ...Buffer.from(`${'9'.repeat(5000)}\n`)], op.stop()]);
  refused(digits, /an int literal of 5000 characters \(at most 4300\)/, unpickleFile);
  // a LONG4 of 400 kB decodes in linear time (quadratic BigInt shifts took minutes)
  const n = 400_000;
  const long4 = writePickle(dir, 'long4.pkl', [op.proto(2), [0x8b, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, 0], Array(n - 1).fill(0), [1], op.stop()]);
  const t0 = performance.now();
  assert.equal(unpickleFile(long4), 1n << BigInt(8 * (n - 1)));
  assert.ok(performance.now() - t0 < 5000);
});

test('one array repeated over rows through the memo cannot multiply memory past what the file holds', (t) => {
  const dir = tempDir(t);
  const wide = Array.from({ length: 250 }, (_, i) => i);
  const path = writePickle(dir, 'shared.pkl', [
    ...cellListStart(),
    ...int64Cell(wide, 1, [2, 3, 4, 5, 6]),
    op.appends(),
    op.mark(),
    ...Array.from({ length: 20000 }, () => op.get(4)),
    op.appends(),
    op.stop(),
  ]);
  refused(path, /list cells hold \d+ ids after \d+ bytes: one array repeated over rows far beyond what the file holds \(at most 16 ids per byte\)/, unpickleFile);
  // a few repeats of a narrow cell (rows sharing one padding array) are fine
  const ok = writePickle(dir, 'shared-ok.pkl', [
    ...cellListStart(),
    ...int64Cell([1, 2, 3], 1, [2, 3, 4, 5, 6]),
    op.appends(),
    op.mark(),
    ...Array.from({ length: 50 }, () => op.get(4)),
    op.appends(),
    op.stop(),
  ]);
  assert.equal((unpickleFile(ok) as PyList).length, 51);
});

test('a non-array item after packed cells keeps them packed (no object per cell)', (t) => {
  const dir = tempDir(t);
  const path = writePickle(dir, 'none.pkl', [
    ...cellListStart(),
    ...int64Cell([1, 2], 1, [2, 3, 4, 5, 6]),
    ...int64Cell([3, 4], 1, [7, 8, 9, 10, 11]),
    op.none(),
    op.appends(),
    op.stop(),
  ]);
  const l = unpickleFile(path) as PyList;
  assert.equal(l.length, 3);
  assert.equal(l.cells, null, 'a column reader sees mixed items');
  assert.equal(l.at(2), null);
});

test('random damage to real pickles (fixtures and the PaddleRec sample) loads or is a one-line DataError, within a capped address space', { skip: FUZZ_SKIP }, () => {
  const files = ['proto2_int64index', 'proto3_rangeindex', 'proto4_legacy', 'proto5_numpy2'].map(fixture);
  const r = fuzzInChild('pickle', files, 150, 21);
  assert.equal(r.code, 0, r.out);
  const s = JSON.parse(r.out) as { loaded: number; refused: number };
  assert.ok(s.loaded > 10 && s.refused > 100, r.out);
});

test('random damage to the PaddleRec sample pickle, within a capped address space', { skip: FUZZ_SKIP || SAMPLE_SKIP }, () => {
  const r = fuzzInChild('pickle', [SAMPLE], 150, 22);
  assert.equal(r.code, 0, r.out);
});
