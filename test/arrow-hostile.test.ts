/**
 * The Arrow reader against compressed, damaged and hostile files: LZ4_FRAME and ZSTD
 * bodies (Arrow C++'s, as pyarrow writes them, and our fixtures) read exactly; a batch
 * header, buffer region, list offset or footer that disagrees with the file is an error
 * naming the batch and column, never short rows or rows of zeros; random damage (fast-check,
 * in a memory-capped child) only ever loads or fails with a one-line DataError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Field, Int32, List, RecordBatchFileWriter, Table, tableFromArrays, vectorFromArray } from 'apache-arrow';
import { readPart, writePart } from '../src/data/arrow-part.js';
import { ArrowFile } from '../src/data/arrow-read.js';
import { checkCodec, checkColumn, readColumn } from '../src/data/arrow-batch.js';
import { DataError } from '../src/util/errors.js';
import { editBatch } from './helpers/arrow-edit.js';
import { FUZZ_SKIP, fuzzInChild } from './helpers/fuzz.js';
import { REPO } from './helpers/pickles.js';
import { TINY_SCHEMA, randomPart } from './helpers/tiny.js';

const FIX = join(REPO, 'test', 'fixtures', 'arrow');
const dir = mkdtempSync(join(tmpdir(), 'mh-arrow-h-'));

/** A tiny part of 300 rows in batches of 128 (so 3 batches), uncompressed. */
async function tinyPart(name: string): Promise<string> {
  const path = join(dir, name);
  await writePart(path, TINY_SCHEMA, randomPart(TINY_SCHEMA, 300, 7), { batchRows: 128 });
  return path;
}

function assertSame(got: Awaited<ReturnType<typeof readPart>>, seed: number, n: number): void {
  const want = randomPart(TINY_SCHEMA, n, seed);
  assert.equal(got.nRows, n);
  for (const k of ['label', 'aid', 'single', 'multi', 'multiLen', 'task'] as const) assert.deepEqual([...got[k]], [...want[k]], k);
}

test('LZ4_FRAME and ZSTD compressed parts read exactly (List<Int64> lists, three batches)', async () => {
  for (const codec of ['lz4', 'zstd']) assertSame(await readPart(join(FIX, `tiny_${codec}.arrow`), TINY_SCHEMA), 7, 300);
});

test("Arrow C++'s LZ4_FRAME and ZSTD files (apache/arrow-testing) decode to the values of their JSON", async () => {
  for (const codec of ['lz4', 'zstd']) {
    const base = join(FIX, 'arrow-testing', `generated_${codec}`);
    const json = JSON.parse(gunzipSync(readFileSync(`${base}.json.gz`)).toString()) as {
      batches: { count: number; columns: { name: string; VALIDITY: number[]; DATA: string[] }[] }[];
    };
    const file = await ArrowFile.open(`${base}.arrow_file`);
    try {
      const i = file.schema.fields.findIndex((f) => f.name === 'ints');
      assert.equal(file.batches.length, json.batches.length);
      json.batches.forEach((jb, b) => {
        const c = { type: file.schema.fields[i]!.type, slots: file.batches[b]!.slots[i]! };
        checkColumn(file.peek(b), c, 1e6);
        const d = readColumn(file.load(b), c);
        const col = jb.columns.find((x) => x.name === 'ints')!;
        assert.equal(d.length, jb.count);
        const values = d.values as BigInt64Array;
        col.VALIDITY.forEach((valid, r) => {
          assert.equal(d.getValid(r), valid === 1, `batch ${b} row ${r} validity`);
          if (valid) assert.equal(values[r], BigInt(col.DATA[r]!), `batch ${b} row ${r}`);
        });
      });
    } finally {
      file.close();
    }
  }
});

test('a codec other than LZ4_FRAME or ZSTD is named, not called corrupt', async () => {
  assert.throws(() => checkCodec(2), /compressed with codec number 2, which this reader does not know \(it reads LZ4_FRAME and ZSTD\)/);
  const path = join(dir, 'codec7.arrow');
  copyFileSync(join(FIX, 'tiny_zstd.arrow'), path);
  await editBatch(path, 1, (h) => (h.codec = 7));
  await assert.rejects(readPart(path, TINY_SCHEMA), /record batch 1 compressed with codec number 7, which this reader does not know/);
});

test('a batch header that disagrees with its columns is an error, never a shorter part', async () => {
  const cases: [string, (h: Parameters<Parameters<typeof editBatch>[2]>[0]) => void, RegExp][] = [
    ['length cut alone', (h) => (h.length = 100), /record batch 1, column "label": its length 128, expected 100/],
    [
      'length and every node cut alike',
      (h) => {
        h.nodes.forEach((n) => (n.length = (n.length / 128) * 64));
        h.length = 64;
      },
      /record batch 1, column "label": its values buffer holds 128 bytes, more than the 64 its length needs/,
    ],
    ['length grown', (h) => (h.length = 1 << 30), /record batch 1, column "label": its length 128, expected 1073741824/],
    ['a region past the body', (h) => (h.buffers[1]!.offset += 1 << 20), /record batch 1, column "label": its values buffer \(bytes \d+\.\.\d+\) lies outside the batch body of \d+ bytes/],
    ['null count above length', (h) => (h.nodes[0]!.nullCount = 129), /column "label": its null count 129 for 128 values/],
    ['nodes missing', (h) => h.nodes.pop(), /record batch 1 has \d+ field nodes and \d+ buffers, the schema lays out/],
  ];
  for (const [what, edit, msg] of cases) {
    const path = await tinyPart(`${what.replace(/ /g, '_')}.arrow`);
    await editBatch(path, 1, edit);
    await assert.rejects(readPart(path, TINY_SCHEMA), (e: unknown) => e instanceof DataError && msg.test(e.message) && e.message.startsWith(path), what);
  }
});

/** The byte offset, in `file`, of the u32 count in front of the footer's record-batch block vector. */
function footerBlockCount(file: Buffer, blocks: { offset: number; metaDataLength: number; bodyLength: number }[]): number {
  const b = blocks[0]!;
  const entry = Buffer.alloc(24);
  entry.writeBigInt64LE(BigInt(b.offset), 0);
  entry.writeInt32LE(b.metaDataLength, 8);
  entry.writeBigInt64LE(BigInt(b.bodyLength), 16);
  const at = file.lastIndexOf(entry);
  assert.ok(at > 0 && file.readUInt32LE(at - 4) === blocks.length);
  return at - 4;
}

test('a footer that leaves out a record batch, or points two blocks at one, is corrupt', async () => {
  const path = await tinyPart('footer.arrow');
  const file = await ArrowFile.open(path);
  const blocks = file.batches.map((b) => ({ offset: b.offset, metaDataLength: b.metaDataLength, bodyLength: b.bodyLength }));
  file.close();
  const bytes = readFileSync(path);
  const count = footerBlockCount(bytes, blocks);
  const dropped = Buffer.from(bytes);
  dropped.writeUInt32LE(blocks.length - 1, count);
  writeFileSync(path, dropped);
  await assert.rejects(readPart(path, TINY_SCHEMA), /corrupt Arrow file \(bytes \d+\.\.\d+ belong to no block listed in the footer \(a record batch missing from it\?\)\)/);
  const twice = Buffer.from(bytes);
  twice.writeBigInt64LE(BigInt(blocks[0]!.offset), count + 4 + 24 * 2);
  writeFileSync(path, twice);
  await assert.rejects(readPart(path, TINY_SCHEMA), /corrupt Arrow file \(bytes \d+\.\.\d+ are claimed by two blocks\)/);
});

/** A part whose multi-valued fields are variable List<Int32> columns, uncompressed. */
function varListPart(path: string): void {
  const d = randomPart(TINY_SCHEMA, 40, 3);
  const s = TINY_SCHEMA;
  const cols: Record<string, Int32Array> = { label: Int32Array.from(d.label), aid: d.aid };
  s.userSingle.forEach((f, i) => (cols[f.name] = Int32Array.from({ length: 40 }, (_, r) => d.single[r * 2 + i]!)));
  s.task.forEach((f, i) => (cols[f.name] = Int32Array.from({ length: 40 }, (_, r) => d.task[r * 2 + i]!)));
  s.userMulti.forEach((f, i) => (cols[`${f.name}_length`] = Int32Array.from({ length: 40 }, (_, r) => d.multiLen[r * 2 + i]!)));
  let table: Table = tableFromArrays(cols);
  s.userMulti.forEach((f, i) => {
    const lists = Array.from({ length: 40 }, (_, r) => Array.from(d.multi.subarray(r * 5 + (i === 0 ? 0 : 3), r * 5 + (i === 0 ? 3 : 5))));
    table = table.assign(new Table({ [f.name]: vectorFromArray(lists, new List(new Field('item', new Int32(), true))) }));
  });
  const w = new RecordBatchFileWriter();
  for (const b of table.batches) w.write(b);
  writeFileSync(path, w.finish().toUint8Array(true));
}

test('list offsets that decrease, start below 0 or end past their items are errors naming the row', async () => {
  const good = join(dir, 'varlist.arrow');
  varListPart(good);
  assertSame(await readPart(good, TINY_SCHEMA), 3, 40);
  const file = await ArrowFile.open(good);
  const m0 = file.schema.fields.findIndex((f) => f.name === 'm0');
  const b = file.batches[0]!;
  const offsetsAt = b.bodyAt + b.header.buffers[b.slots[m0]!.buffer + 1]!.offset;
  file.close();
  const bytes = readFileSync(good);
  const cases: [string, (c: Buffer) => void, RegExp][] = [
    ['decreasing', (c) => c.writeInt32LE(2, offsetsAt + 4 * 6), /column "m0": row 5: list offsets decrease \(\d+ then 2\)|column "m0": row 6: list offsets decrease \(2 then \d+\)/],
    ['negative start', (c) => c.writeInt32LE(-4, offsetsAt), /column "m0": its list offsets start at -4/],
    ['past the items', (c) => c.writeInt32LE(1000, offsetsAt + 4 * 40), /column "m0": its list offsets end at 1000, past the 120 items/],
  ];
  for (const [what, damage, msg] of cases) {
    const c = Buffer.from(bytes);
    damage(c);
    const path = join(dir, `varlist-${what.replace(/ /g, '_')}.arrow`);
    writeFileSync(path, c);
    await assert.rejects(readPart(path, TINY_SCHEMA), msg, what);
  }
});

test('random damage to Arrow parts (plain, LZ4, ZSTD, variable lists) loads or is a one-line DataError, within a capped address space', { skip: FUZZ_SKIP }, async () => {
  const plain = await tinyPart('fuzz-plain.arrow');
  const lists = join(dir, 'fuzz-lists.arrow');
  varListPart(lists);
  const r = fuzzInChild('arrow', [plain, lists, join(FIX, 'tiny_lz4.arrow'), join(FIX, 'tiny_zstd.arrow')], 150, 11);
  assert.equal(r.code, 0, r.out);
  const summary = JSON.parse(r.out) as { loaded: number; refused: number };
  assert.ok(summary.refused > 100 && summary.loaded > 10, r.out);
});

test('random damage to a checkpoint is a one-line DataError within a capped address space', { skip: FUZZ_SKIP }, async () => {
  const { saveCheckpoint } = await import('../src/model/checkpoint.js');
  const { buildLayout } = await import('../src/model/layout.js');
  const { allocParams, initParams } = await import('../src/model/params.js');
  const { JsOps } = await import('../src/model/ops.js');
  const p = allocParams(buildLayout(TINY_SCHEMA, { embedDim: 4, mlpDims: [6, 5], numExpert: 3, numOutput: 2 }), new JsOps(Float32Array));
  initParams(p, 1);
  const path = join(dir, 'fuzz.safetensors');
  saveCheckpoint(path, p);
  const r = fuzzInChild('checkpoint', [path, join(REPO, 'test', 'fixtures', 'checkpoint', 'torch_state_dict.safetensors')], 200, 5);
  assert.equal(r.code, 0, r.out);
});
