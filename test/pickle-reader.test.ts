import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChunkedInt32 } from '../src/data/importers/pickle/cell-pack.js';
import { PyList } from '../src/data/importers/pickle/list.js';
import { Memo, RELEASED } from '../src/data/importers/pickle/memo.js';
import { NdArray } from '../src/data/importers/pickle/numpy.js';
import { unpickleFile } from '../src/data/importers/pickle/unpickler.js';
import { readPicklePart } from '../src/data/importers/pickle-part.js';
import { DataError } from '../src/util/errors.js';
import { tempDir } from './helpers/fixtures.js';
import { cellListStart, fixture, int64Cell, int64Dtype, op, writePickle } from './helpers/pickles.js';

function rejects(path: string, pattern: RegExp): void {
  assert.throws(
    () => unpickleFile(path),
    (e: unknown) => e instanceof DataError && e.message.startsWith(`${path}: `) && pattern.test(e.message),
  );
}

test('globals outside the allow-list are refused by name, before anything runs', (t) => {
  const dir = tempDir(t);
  // pickle.dumps(os.system('ls')-style payload), protocol 2: GLOBAL 'os system' + REDUCE.
  const p2 = writePickle(dir, 'os.pkl', Buffer.from('\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.', 'latin1'));
  rejects(p2, /pickle global "os\.system" is not allowed/);
  // Protocol 4 spelling: STACK_GLOBAL builtins.eval.
  const p4 = writePickle(dir, 'eval.pkl', [op.proto(4), op.str('builtins'), op.str('eval'), [0x93], op.stop()]);
  rejects(p4, /pickle global "builtins\.eval" is not allowed/);
  // Near misses of allowed names are refused too.
  const sub = writePickle(dir, 'sub.pkl', [op.proto(2), op.global('numpy.core.multiarray', '_reconstruct_evil'), op.stop()]);
  rejects(sub, /"numpy\.core\.multiarray\._reconstruct_evil" is not allowed/);
});

test('truncated pickles are refused with the file, the offset and the file size', (t) => {
  const dir = tempDir(t);
  const whole = readFileSync(fixture('proto2_int64index'));
  for (const cut of [1, 100, whole.length >> 1, whole.length - 1]) {
    const p = join(dir, `cut${cut}.pkl`);
    writeFileSync(p, whole.subarray(0, cut));
    rejects(p, new RegExp(`truncated pickle: unexpected end of file: \\d+ more byte\\(s\\) needed at byte \\d+ \\(the file has ${cut} bytes\\)`));
  }
  // A length field larger than the file is caught before anything is allocated.
  const huge = writePickle(dir, 'huge.pkl', [op.proto(4), [0x8e, 0, 0, 0, 0, 0, 1, 0, 0]]);
  rejects(huge, /truncated pickle: unexpected end of file: 1099511627776 more byte/);
  rejects(writePickle(dir, 'empty.pkl', []), /empty file, not a pickle/);
});

test('malformed and unsupported pickles say what is wrong', (t) => {
  const dir = tempDir(t);
  rejects(writePickle(dir, 'p6.pkl', [op.proto(6)]), /pickle protocol 6 is newer than this reader/);
  rejects(writePickle(dir, 'op.pkl', [op.proto(2), [0xff]]), /unknown opcode 0xff \(not a pickle, or a corrupt one\)/);
  rejects(writePickle(dir, 'get.pkl', [op.proto(2), op.get(5), op.stop()]), /memo slot 5 is read before it is written/);
  rejects(writePickle(dir, 'call.pkl', [op.proto(2), op.int1(1), [0x29], op.reduce(), op.stop()]), /REDUCE calls a int, which cannot be called/);
  rejects(writePickle(dir, 'oob.pkl', [op.proto(5), [0x97], op.stop()]), /out-of-band buffers \(NEXT_BUFFER\) are not supported/);
  rejects(writePickle(dir, 'under.pkl', [op.proto(2), op.tuple1()]), /stack underflow/);
  rejects(writePickle(dir, 'gz.pkl', [[0x1f, 0x8b, 8, 0, 0]]), /a gzip-compressed file; decompress it first/);
  // A pickle that is fine but not a DataFrame.
  const list = writePickle(dir, 'list.pkl', [op.proto(2), op.emptyList(), op.stop()]);
  assert.throws(() => readPicklePart(list), /list\.pkl: the pickle holds a list, expected a pandas DataFrame/);
});

test('protocol 0/1 text opcodes and LONG1 decode like Python', (t) => {
  const dir = tempDir(t);
  const text = writePickle(dir, 'p0.pkl', Buffer.from("(lp0\nI1\naI-2\naL123L\naF1.5\naS'a\\x41\\n'\naVcaf\\u00e9\naI01\na.", 'latin1'));
  const l = unpickleFile(text) as PyList;
  assert.deepEqual(l.toArray(), [1, -2, 123, 1.5, 'aA\n', 'café', true]);
  const longs = writePickle(dir, 'long.pkl', [
    op.proto(2),
    op.mark(),
    [0x8a, 2, 0xff, 0x7f],
    [0x8a, 1, 0xff],
    [0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    [0x8a, 0],
    [0x47, ...Buffer.from([0x3f, 0xf8, 0, 0, 0, 0, 0, 0])],
    [0x6c],
    op.stop(),
  ]);
  assert.deepEqual((unpickleFile(longs) as PyList).toArray(), [32767, -1, 2n ** 64n, 0, 1.5]);
});

test('int array cells are packed as appended; a later reference to a packed cell gets its values back', (t) => {
  const dir = tempDir(t);
  const body = [
    op.proto(2),
    ...int64Dtype(1),
    [0x30], // POP the dtype: it stays in memo slot 1
    op.emptyList(),
    op.put(0),
    op.mark(),
    ...int64Cell([5, -6], 1, [2, 3, 4, 5, 6]),
    ...int64Cell([7, 2147483647], 1, [7, 8, 9, 10, 11]),
    op.appends(),
    op.get(4), // the first cell's array, released from the memo once packed
    op.append(),
  ];
  const ok = writePickle(dir, 'cells.pkl', [...body, op.stop()]);
  const l = unpickleFile(ok) as PyList;
  assert.ok(l.cells, 'the list holds packed cells');
  assert.equal(l.cells.count, 3);
  assert.deepEqual(
    l.toArray().map((nd) => [...new Int32Array((nd as NdArray).data!.buffer.slice(0))]),
    [
      [5, -6],
      [7, 2147483647],
      [5, -6],
    ],
  );
  // The shape tuple of a packed cell was released with it: referring back to it is refused.
  const bad = writePickle(dir, 'shape.pkl', [...body, op.get(5), op.stop()]);
  rejects(bad, /memo slot 5 refers back to part of an array cell already streamed into a column/);
});

test('a cell that does not fit int32 turns the packed list back into plain arrays, values intact', (t) => {
  const dir = tempDir(t);
  const p = writePickle(dir, 'wide.pkl', [
    ...cellListStart(),
    ...int64Cell([1, 2], 1, [2, 3, 4, 5, 6]),
    ...int64Cell([2 ** 40, 3], 1, [7, 8, 9, 10, 11]),
    op.appends(),
    op.stop(),
  ]);
  const l = unpickleFile(p) as PyList;
  assert.equal(l.cells, null);
  const [a, b] = l.toArray() as NdArray[];
  assert.deepEqual([...new Int32Array(a!.data!.buffer.slice(a!.data!.byteOffset, a!.data!.byteOffset + 8))], [1, 2]);
  assert.equal(Buffer.from(b!.data!).readBigInt64LE(0), 2n ** 40n);
});

test('Memo: slots count like len(memo); released slots read as RELEASED, never-written ones as undefined', () => {
  const m = new Memo();
  for (let i = 0; i < 3000; i++) m.set(i, [i]);
  assert.equal(m.size, 3000);
  m.set(5, 'again');
  assert.equal(m.size, 3000, 'rewriting a slot does not grow the memo');
  for (let i = 0; i < 2048; i++) m.release(i);
  assert.equal(m.get(0), RELEASED);
  assert.equal(m.get(2047), RELEASED);
  assert.deepEqual(m.get(2048), [2048]);
  assert.equal(m.get(5000), undefined);
  // A fully released page is dropped: it can no longer be written.
  assert.throws(() => m.set(10, 1), RangeError);
});

test('ChunkedInt32 copies across chunk boundaries and binary-searches', () => {
  const c = new ChunkedInt32();
  const n = (1 << 20) - 3;
  for (let i = 0; i < n; i++) c.push(i);
  c.pushAll(Int32Array.from([-1, -2, -3, -4, -5, -6]), 6);
  const out = new Int32Array(8);
  c.copyTo(out, 0, n - 2, 8);
  assert.deepEqual([...out], [n - 2, n - 1, -1, -2, -3, -4, -5, -6]);
  assert.equal(c.length, n + 6);
  const s = new ChunkedInt32();
  for (const v of [-1, 2, 2, 5, 9]) s.push(v);
  assert.deepEqual([s.lowerBound(2), s.lowerBound(3), s.lowerBound(-5), s.lowerBound(10)], [1, 3, 0, 5]);
});
