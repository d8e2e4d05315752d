import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Field,
  Float64,
  FixedSizeList,
  Int16,
  Int32,
  Int64,
  LargeList,
  List,
  makeData,
  makeVector,
  Table,
  Utf8,
  vectorFromArray,

} from 'apache-arrow';
import { PartWriter, readPart, writePart } from '../src/data/arrow-part.js';
import { TENCENT_SCHEMA, multiOffsets, multiStride } from '../src/data/schema.js';
import { DataError } from '../src/util/errors.js';
import { rewriteArrow, samplePart, tempDir, withColumn } from './helpers/fixtures.js';

const S = TENCENT_SCHEMA;
const COLS = ['label', 'aid', 'single', 'multi', 'multiLen', 'task'] as const;

test('writePart/readPart round trip across several record batches', async (t) => {
  const path = join(tempDir(t), 'train_stage1.arrow');
  const d = samplePart(1000);
  d.extra.score32 = Float32Array.from({ length: 1000 }, (_, i) => i / 7);
  d.extra.bucket = Int32Array.from({ length: 1000 }, (_, i) => i % 5);
  await writePart(path, S, d, { batchRows: 300 });
  const progress: number[] = [];
  const p = await readPart(path, S, (rows, total) => progress.push(rows, total));
  assert.deepEqual(progress, [300, 1000, 600, 1000, 900, 1000, 1000, 1000]);
  assert.equal(p.nRows, 1000);
  for (const k of COLS) assert.deepEqual(p[k], d[k], k);
  assert.deepEqual(p.extra, d.extra);
  assert.equal(p.path, path);
  assert.deepEqual(p.tasks.map((x) => [x.aid, x.rows.length, x.rows[0]]), [[100, 250, 0], [101, 250, 1], [102, 250, 2], [103, 250, 3]]);
});

test('a part with no rows is a valid file', async (t) => {
  const path = join(tempDir(t), 'empty.arrow');
  const d = samplePart(0);
  await writePart(path, S, d);
  const p = await readPart(path, S);
  assert.equal(p.nRows, 0);
  assert.deepEqual(p.tasks, []);
});

test('PartWriter appends in uneven chunks give the same bytes as one writePart', async (t) => {
  const dir = tempDir(t);
  const d = samplePart(1000);
  await writePart(join(dir, 'a.arrow'), S, d, { batchRows: 300 });
  const w = new PartWriter(join(dir, 'b.arrow'), S, { extra: { p_true: 'float64' }, batchRows: 300 });
  const cuts = [0, 7, 7, 350, 610, 1000];
  for (let i = 1; i < cuts.length; i++) w.append(slice(d, cuts[i - 1]!, cuts[i]!));
  assert.equal(w.rows, 1000);
  w.close();
  assert.deepEqual(readFileSync(join(dir, 'b.arrow')), readFileSync(join(dir, 'a.arrow')));
});

function slice(d: ReturnType<typeof samplePart>, a: number, b: number): ReturnType<typeof samplePart> {
  const ms = multiStride(S);
  return {
    nRows: b - a,
    label: d.label.slice(a, b),
    aid: d.aid.slice(a, b),
    single: d.single.slice(a * 7, b * 7),
    multi: d.multi.slice(a * ms, b * ms),
    multiLen: d.multiLen.slice(a * 7, b * 7),
    task: d.task.slice(a * 6, b * 6),
    extra: { p_true: (d.extra.p_true as Float64Array).slice(a, b) },
  };
}

test('writing invalid data fails, names the row, and leaves no file behind', async (t) => {
  const dir = tempDir(t);
  const d = samplePart(10);
  d.task[4 * 6 + 3] = 40; // adCategoryId of row 4; max_idx 39
  await assert.rejects(writePart(join(dir, 'bad.arrow'), S, d), {
    name: 'DataError',
    message: `${join(dir, 'bad.arrow')}: column "adCategoryId" row 4: id 40 outside [0, 39]`,
  });
  assert.deepEqual(readdirSync(dir), []);
});

/** Values of list column `field` as pandas/pyarrow hand them: variable List<Int64>. */
function int64List(lists: number[][]): ReturnType<typeof makeVector> {
  const offsets = new Int32Array(lists.length + 1);
  lists.forEach((l, i) => (offsets[i + 1] = offsets[i]! + l.length));
  const child = makeData({ type: new Int64(), length: offsets[lists.length]!, nullCount: 0, data: BigInt64Array.from(lists.flat(), BigInt) });
  return makeVector(makeData({ type: new List(new Field('item', new Int64(), true)), length: lists.length, nullCount: 0, valueOffsets: offsets, child }));
}

test('variable List<Int64> ids are cut to the width or padded with 0; Int64 scalars accepted in range', async (t) => {
  const path = join(tempDir(t), 'p.arrow');
  const d = samplePart(4);
  await writePart(path, S, d);
  const kw1 = [[1, 2, 3, 4, 5, 6, 7], [9], [], [263312, 0, 5, 6, 7]];
  rewriteArrow(path, (tb) =>
    withColumn(
      withColumn(withColumn(tb, 'kw1', int64List(kw1)), 'aid', vectorFromArray([5n, 6n, 2147483647n, 5n], new Int64())),
      'label',
      vectorFromArray([1n, 0n, 0n, 1n], new Int64()),
    ),
  );
  const p = await readPart(path, S);
  const off = multiOffsets(S)[3]!;
  const ms = multiStride(S);
  const rowKw1 = (r: number) => [...p.multi.subarray(r * ms + off, r * ms + off + 5)];
  assert.deepEqual([0, 1, 2, 3].map(rowKw1), [[1, 2, 3, 4, 5], [9, 0, 0, 0, 0], [0, 0, 0, 0, 0], [263312, 0, 5, 6, 7]]);
  assert.deepEqual([...p.aid], [5, 6, 2147483647, 5]);
  assert.deepEqual([...p.label], [1, 0, 0, 1]);
  // other columns untouched
  for (const k of ['single', 'multiLen', 'task'] as const) assert.deepEqual(p[k], d[k]);
});

/** Write a valid 40-row part, apply `edit`, and expect readPart to fail with `message`. */
async function expectBroken(t: Parameters<typeof tempDir>[0], edit: (tb: Table, n: number) => Table, message: string | RegExp): Promise<void> {
  const path = join(tempDir(t), 'train_stage1.arrow');
  await writePart(path, S, samplePart(40));
  rewriteArrow(path, (tb) => edit(tb, 40));
  await assert.rejects(readPart(path, S), (e: Error) => {
    assert.ok(e instanceof DataError, `expected DataError, got ${e.stack}`);
    const want = typeof message === 'string' ? `${path}: ${message}` : message;
    if (typeof want === 'string') assert.equal(e.message, want);
    else assert.match(e.message, want);
    return true;
  });
}

function int32Col(n: number, at: number, v: number, base = 0): ReturnType<typeof makeVector> {
  const a = new Int32Array(n).fill(base);
  a[at] = v;
  return makeVector(a);
}

test('id above max_idx in a multi-valued field names column, row and range', async (t) => {
  await expectBroken(t, (tb, n) => {
    const ids = new Int32Array(n * 5);
    ids[17 * 5 + 2] = 263313;
    const child = makeData({ type: new Int32(), length: n * 5, nullCount: 0, data: ids });
    return withColumn(tb, 'kw1', makeVector(makeData({ type: new FixedSizeList(5, new Field('item', new Int32(), false)), length: n, nullCount: 0, child })));
  }, 'column "kw1" row 17: id 263313 outside [0, 263312]');
});

test('id out of range in single and task fields', async (t) => {
  await expectBroken(t, (tb, n) => withColumn(tb, 'age', int32Col(n, 3, 6)), 'column "age" row 3: id 6 outside [0, 5]');
  await expectBroken(t, (tb, n) => withColumn(tb, 'productType', int32Col(n, 39, -1)), 'column "productType" row 39: id -1 outside [0, 3]');
});

test('length outside [0, maxLength] (lengths above the width are fine)', async (t) => {
  const path = join(tempDir(t), 'ok.arrow');
  await writePart(path, S, samplePart(40));
  rewriteArrow(path, (tb) => withColumn(tb, 'kw1_length', int32Col(40, 0, 10, 7)));
  const lens = (await readPart(path, S)).multiLen;
  assert.deepEqual([lens[3], lens[7 + 3]], [10, 7]);
  await expectBroken(t, (tb, n) => withColumn(tb, 'kw1_length', int32Col(n, 8, 11)), 'column "kw1_length" row 8: length 11 outside [0, 10]');
  await expectBroken(t, (tb, n) => withColumn(tb, 'interest1_length', int32Col(n, 9, -2)), 'column "interest1_length" row 9: length -2 outside [0, 10]');
});

test('labels must be 0 or 1, checked before narrowing', async (t) => {
  await expectBroken(t, (tb, n) => withColumn(tb, 'label', int32Col(n, 12, 2)), 'column "label" row 12: label 2, expected 0 or 1');
  await expectBroken(t, (tb, n) => withColumn(tb, 'label', int32Col(n, 5, 256)), 'column "label" row 5: label 256, expected 0 or 1');
  await expectBroken(t, (tb, n) => withColumn(tb, 'label', vectorFromArray(Array.from({ length: n }, (_, i) => (i === 1 ? -1n : 0n)), new Int64())), 'column "label" row 1: label -1, expected 0 or 1');
});

test('missing columns are all listed with the expected type', async (t) => {
  await expectBroken(
    t,
    (tb) => tb.select(tb.schema.fields.map((f) => f.name).filter((c) => c !== 'kw1' && c !== 'gender')),
    'missing columns "gender" (an integer type (Int32)), "kw1" (FixedSizeList<Int32>[5] or List<Int32|Int64>)',
  );
});

test('a column of the wrong type names the type found', async (t) => {
  await expectBroken(t, (tb, n) => withColumn(tb, 'age', vectorFromArray(Array.from({ length: n }, () => 'x'), new Utf8())), 'column "age" has type Utf8, expected an integer type (Int32)');
  await expectBroken(t, (tb, n) => withColumn(tb, 'kw2', int32Col(n, 0, 0)), 'column "kw2" has type Int32, expected FixedSizeList<Int32>[5] or List<Int32|Int64>');
});

test('nulls and values that do not fit in Int32 are refused by row', async (t) => {
  await expectBroken(t, (tb, n) => withColumn(tb, 'aid', vectorFromArray(Array.from({ length: n }, (_, i) => (i === 21 ? null : 3)), new Int32())), 'column "aid" row 21: null value, expected an integer');
  await expectBroken(t, (tb, n) => withColumn(tb, 'aid', vectorFromArray(Array.from({ length: n }, (_, i) => (i === 30 ? 4294967296n : 3n)), new Int64())), 'column "aid" row 30: value 4294967296 does not fit in Int32');
  await expectBroken(t, (tb, n) => withColumn(tb, 'kw1', int64List(Array.from({ length: n }, (_, i) => (i === 2 ? [1, -5, 3] : [1])))), 'column "kw1" row 2: id -5 outside [0, 263312]');
});

test('non-Arrow, empty, stream-format and truncated files say what they are', async (t) => {
  const dir = tempDir(t);
  const p = join(dir, 'x.arrow');
  writeFileSync(p, 'label,aid\n1,2\n');
  await assert.rejects(readPart(p, S), { message: `${p}: not an Arrow IPC file (no ARROW1 magic at its start)` });
  writeFileSync(p, '');
  await assert.rejects(readPart(p, S), { message: `${p}: empty file` });
  writeFileSync(p, Buffer.from([0x80, 0x04, 0x95, 0, 0, 0, 0, 0, 0]));
  await assert.rejects(readPart(p, S), { message: /a Python pickle, not an Arrow IPC file/ });
  await writePart(p, S, samplePart(40));
  rewriteArrow(p, (tb) => tb, 'stream');
  await assert.rejects(readPart(p, S), { message: /an Arrow IPC stream, not an IPC file/ });
  await writePart(p, S, samplePart(40));
  truncateSync(p, statSync(p).size - 100);
  await assert.rejects(readPart(p, S), { name: 'DataError', message: `${p}: truncated Arrow file (no footer: the file ends without the ARROW1 magic)` });
  await writePart(p, S, samplePart(40));
  const bytes = readFileSync(p);
  bytes.fill(0x7f, 8, 200); // scribble over the first record batch's header
  writeFileSync(p, bytes);
  await assert.rejects(readPart(p, S), { name: 'DataError', message: new RegExp(`^${p}: corrupt Arrow file`) });
  await assert.rejects(readPart(join(dir, 'nope.arrow'), S), { name: 'DataError', message: `${join(dir, 'nope.arrow')}: cannot open (ENOENT)` });
});

test('FixedSizeList of another size and LargeList are cut or padded to the width', async (t) => {
  const path = join(tempDir(t), 'p.arrow');
  await writePart(path, S, samplePart(2));
  const fsl3 = makeVector(
    makeData({
      type: new FixedSizeList(3, new Field('item', new Int16(), false)),
      length: 2,
      nullCount: 0,
      child: makeData({ type: new Int16(), length: 6, nullCount: 0, data: Int16Array.from([1, 2, 3, 4, 5, 6]) }),
    }),
  );
  const large = makeVector(
    makeData({
      type: new LargeList(new Field('item', new Int32(), false)),
      length: 2,
      nullCount: 0,
      valueOffsets: BigInt64Array.from([0n, 7n, 8n]),
      child: makeData({ type: new Int32(), length: 8, nullCount: 0, data: Int32Array.from([9, 8, 7, 6, 5, 4, 3, 2]) }),
    }),
  );
  rewriteArrow(path, (tb) => withColumn(withColumn(tb, 'kw2', fsl3), 'topic1', large));
  const p = await readPart(path, S);
  const ms = multiStride(S);
  const [kw2, topic1] = [multiOffsets(S)[4]!, multiOffsets(S)[5]!];
  const at = (r: number, o: number) => [...p.multi.subarray(r * ms + o, r * ms + o + 5)];
  assert.deepEqual([at(0, kw2), at(1, kw2)], [[1, 2, 3, 0, 0], [4, 5, 6, 0, 0]]);
  assert.deepEqual([at(0, topic1), at(1, topic1)], [[9, 8, 7, 6, 5], [2, 0, 0, 0, 0]]);
});

test('extra numeric columns are kept (Int64 as Float64, float nulls as NaN); others ignored', async (t) => {
  const path = join(tempDir(t), 'p.arrow');
  await writePart(path, S, samplePart(3));
  rewriteArrow(path, (tb) => {
    const x = withColumn(tb, 'p_true', vectorFromArray([0.5, null, 0.25], new Float64()));
    const cols = Object.fromEntries(x.schema.fields.map((f) => [f.name, x.getChild(f.name)!]));
    return new Table({
      ...cols,
      uid: vectorFromArray([10n ** 12n, 2n, 3n], new Int64()),
      note: vectorFromArray(['a', 'b', 'c'], new Utf8()),
      city: vectorFromArray(['x', 'y', 'x']), // dictionary-encoded: the file carries a dictionary batch
    });
  });
  const p = await readPart(path, S);
  assert.deepEqual(Object.keys(p.extra), ['p_true', 'uid']);
  assert.deepEqual([...p.extra.p_true!], [0.5, NaN, 0.25]);
  assert.ok(p.extra.uid instanceof Float64Array);
  assert.deepEqual([...p.extra.uid], [1e12, 2, 3]);
});
