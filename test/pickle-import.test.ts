import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPart } from '../src/data/dataset.js';
import { importPickles, picklePartName, pickleSources } from '../src/data/importers/pickle-import.js';
import { readPicklePart } from '../src/data/importers/pickle-part.js';
import { TENCENT_SCHEMA, maxIdxs, schemaFromJson, type Schema } from '../src/data/schema.js';
import { DataError } from '../src/util/errors.js';
import { tempDir } from './helpers/fixtures.js';
import { SAMPLE, SAMPLE_SKIP, fixture, rowsOf } from './helpers/pickles.js';

const names = (s: Schema) => [s.userSingle.map((f) => f.name), s.userMulti.map((f) => `${f.name}/${f.width}`), s.task.map((f) => f.name)];

test('protocol 2, Int64Index rows, int64 cells with one array shared by two rows, a float extra', () => {
  const { schema, data } = readPicklePart(fixture('proto2_int64index'), { taskFields: ['brand'] });
  assert.deepEqual(names(schema), [['city'], ['tags/3'], ['brand']]);
  assert.deepEqual(maxIdxs(schema), [[9], [7], [2]]);
  assert.deepEqual(rowsOf(schema, data), [
    { label: 1, aid: 5, city: 3, tags: [1, 2, 3], tags_length: 3, brand: 2, p_true: 0.5 },
    { label: 0, aid: 5, city: 1, tags: [7, 7, 7], tags_length: 1, brand: 2, p_true: 0.25 },
    { label: 0, aid: 9, city: 4, tags: [4, 0, 0], tags_length: 1, brand: 0, p_true: 0.125 },
    { label: 1, aid: 9, city: 1, tags: [7, 7, 7], tags_length: 1, brand: 0, p_true: 1 },
    { label: 0, aid: 9, city: 5, tags: [5, 6, 2], tags_length: 4, brand: 0, p_true: 0 },
    { label: 1, aid: 5, city: 9, tags: [0, 0, 0], tags_length: 0, brand: 2, p_true: 0.75 },
  ]);
  // Without naming it, "brand" is a user field (it is not a Tencent ad field).
  assert.deepEqual(names(readPicklePart(fixture('proto2_int64index')).schema), [['city', 'brand'], ['tags/3'], []]);
});

test('protocol 3, RangeIndex, int8/int32/uint8/bool/int16/float columns, int32 cells and plain-list cells', () => {
  const { schema, data } = readPicklePart(fixture('proto3_rangeindex'));
  assert.deepEqual(names(schema), [['gender', 'house', 'age'], ['interest1/4', 'topic1/2'], ['advertiserId']]);
  assert.deepEqual(rowsOf(schema, data), [
    { label: 0, aid: 3, gender: 2, house: 1, age: 1, interest1: [9, 8, 7, 6], interest1_length: 4, topic1: [4, 1], topic1_length: 2, advertiserId: 11 },
    { label: 1, aid: 3, gender: 1, house: 0, age: 5, interest1: [1, 0, 0, 0], interest1_length: 1, topic1: [0, 0], topic1_length: 0, advertiserId: 11 },
    { label: 1, aid: 1, gender: 0, house: 1, age: 3, interest1: [2, 2, 0, 0], interest1_length: 2, topic1: [3, 0], topic1_length: 1, advertiserId: 4 },
    // A length above the width (7 > 2) is kept: it is at most the cap of 10 (spec section 2).
    { label: 0, aid: 1, gender: 2, house: 1, age: 0, interest1: [0, 0, 0, 0], interest1_length: 0, topic1: [2, 2], topic1_length: 7, advertiserId: 4 },
  ]);
});

const FORTRAN_ROWS = [0, 1, 2, 3, 4].map((r) => ({
  label: [1, 0, 1, 0, 0][r]!,
  aid: [3, 3, 8, 8, 3][r]!,
  a: 40 + r,
  b: [65535, 0, 1, 2, 3][r]!,
  kw: [r, r + 1, r + 2, r + 3, r + 4],
  kw_length: [5, 10, 0, 2, 1][r]!,
  tp: [10 + r, 20 + r],
  tp_length: [2, 2, 1, 0, 2][r]!,
  campaignId: [6, 6, 2, 2, 6][r]!,
}));

test('protocol 5 (_frombuffer, BYTEARRAY8), numpy 2 names, pandas 2 BlockManager(blocks, axes), Fortran blocks', () => {
  const { schema, data } = readPicklePart(fixture('proto5_numpy2'));
  assert.deepEqual(names(schema), [['a', 'b'], ['kw/5', 'tp/2'], ['campaignId']]);
  assert.deepEqual(rowsOf(schema, data), FORTRAN_ROWS);
});

test('protocol 4, the pandas 0.2x BlockManager state (as PaddleRec files), int-array block placement', () => {
  const { schema, data } = readPicklePart(fixture('proto4_legacy'));
  assert.deepEqual(names(schema), [['a', 'b'], ['kw/5', 'tp/2'], ['campaignId']]);
  assert.deepEqual(rowsOf(schema, data), FORTRAN_ROWS);
  assert.deepEqual(maxIdxs(schema), [[44, 65535], [8, 24], [6]]);
});

test('max_idxs: ids are checked against it, group sizes must match', () => {
  const p = fixture('proto5_numpy2');
  const ok = readPicklePart(p, { maxIdxs: [[50, 70000], [8, 30], [9]] });
  assert.deepEqual(maxIdxs(ok.schema), [[50, 70000], [8, 30], [9]]);
  assert.throws(() => readPicklePart(p, { maxIdxs: [[50, 100], [8, 30], [9]] }), {
    message: `${p}: column "b" row 0: id 65535 outside [0, 100]`,
  });
  assert.throws(() => readPicklePart(p, { maxIdxs: [[50, 70000], [7, 30], [9]] }), {
    message: `${p}: column "kw" row 4: id 8 outside [0, 7]`,
  });
  assert.throws(
    () => readPicklePart(p, { maxIdxs: [[50], [8, 30], [9]] }),
    (e: unknown) => e instanceof DataError && /max_idxs group 0 \(user single\) has 1 fields, the pickle has 2 \(a, b\)/.test(e.message),
  );
});

test('column roles: exclude, task fields, missing pieces and non-id values are errors naming the column', () => {
  const p = fixture('proto3_rangeindex');
  const ex = readPicklePart(p, { exclude: ['topic1', 'age'], taskFields: ['advertiserId', 'gender'] });
  assert.deepEqual(names(ex.schema), [['house'], ['interest1/4'], ['gender', 'advertiserId']]);
  assert.deepEqual(Object.keys(rowsOf(ex.schema, ex.data)[0]!).sort(), ['advertiserId', 'aid', 'gender', 'house', 'interest1', 'interest1_length', 'label']);
  assert.throws(() => readPicklePart(p, { exclude: ['topic1_length'] }), { message: `${p}: list column "topic1" has no "topic1_length" column` });
  assert.throws(() => readPicklePart(p, { exclude: ['nope'] }), { message: /the exclude list names no column "nope"/ });
  assert.throws(() => readPicklePart(p, { exclude: ['aid'] }), { message: /no "aid" column/ });
  assert.throws(() => readPicklePart(p, { taskFields: ['interest1'] }), { message: `${p}: task field "interest1" is not a single-valued id column` });
  // A fractional float is not an id; treating it as an extra column keeps it.
  const q = fixture('proto2_int64index');
  assert.throws(() => readPicklePart(q, { extraColumns: [] }), { message: `${q}: column "p_true" row 0: value 0.5 is not an int32 id` });
});

test('PaddleRec shipped sample converts exactly', { skip: SAMPLE_SKIP }, () => {
  const { schema, data } = readPicklePart(SAMPLE, { maxIdxs: maxIdxs(TENCENT_SCHEMA) });
  assert.deepEqual(schema, TENCENT_SCHEMA);
  assert.equal(data.nRows, 586);
  const counts = new Map<number, number>();
  for (const a of data.aid) counts.set(a, (counts.get(a) ?? 0) + 1);
  assert.deepEqual([...counts.entries()].sort((x, y) => y[1] - x[1]), [[17, 251], [9, 143], [21, 79], [2, 71], [10, 42]]);
  assert.ok(data.label.every((l) => l === 1), 'all labels are 1 in the sample');
  const rows = rowsOf(schema, data);
  // Read with python3 + pandas 1.5.3: df.iloc[r] for r = 0, 1, 300, 585 (index 8799180, 8799479, 8800675, 8809988).
  assert.deepEqual(rows[0], {
    label: 1, aid: 2, carrier: 2, consumptionAbility: 2, LBS: 457, age: 2, education: 2, gender: 2, house: 0,
    interest1: [69, 75, 27, 58, 48, 5, 16, 55, 115, 35], interest1_length: 10,
    interest2: [68, 52, 9, 80, 80, 80, 80, 80, 80, 80], interest2_length: 3,
    interest3: [10, 10, 10, 10, 10, 10, 10, 10, 10, 10], interest3_length: 0,
    kw1: [20019, 155485, 30697, 260989, 114537], kw1_length: 5,
    kw2: [34744, 23475, 32597, 18015, 29994], kw2_length: 5,
    topic1: [8059, 4415, 3135, 6651, 5605], topic1_length: 5,
    topic2: [3903, 455, 7519, 6479, 4616], topic2_length: 5,
    advertiserId: 7, campaignId: 120, creativeSize: 2, adCategoryId: 18, productId: 3, productType: 2,
  });
  assert.deepEqual(rows[1], {
    label: 1, aid: 2, carrier: 2, consumptionAbility: 2, LBS: 444, age: 2, education: 7, gender: 2, house: 0,
    interest1: [69, 85, 46, 27, 58, 48, 14, 5, 1, 56], interest1_length: 10,
    interest2: [68, 52, 9, 33, 80, 80, 80, 80, 80, 80], interest2_length: 4,
    interest3: [10, 10, 10, 10, 10, 10, 10, 10, 10, 10], interest3_length: 0,
    kw1: [24719, 46306, 149441, 216799, 241061], kw1_length: 5,
    kw2: [34744, 32597, 47212, 40047, 19562], kw2_length: 5,
    topic1: [8979, 5957, 2088, 6405, 9205], topic1_length: 5,
    topic2: [7798, 7202, 6427, 2994, 4895], topic2_length: 5,
    advertiserId: 7, campaignId: 120, creativeSize: 2, adCategoryId: 18, productId: 3, productType: 2,
  });
  assert.deepEqual(rows[300], {
    label: 1, aid: 17, carrier: 0, consumptionAbility: 1, LBS: 692, age: 2, education: 1, gender: 1, house: 0,
    interest1: [108, 5, 118, 90, 115, 122, 122, 122, 122, 122], interest1_length: 5,
    interest2: [10, 32, 48, 57, 80, 80, 80, 80, 80, 80], interest2_length: 4,
    interest3: [10, 10, 10, 10, 10, 10, 10, 10, 10, 10], interest3_length: 0,
    kw1: [18133, 222168, 137433, 214273, 263310], kw1_length: 4,
    kw2: [36574, 47484, 12197, 7076, 47919], kw2_length: 5,
    topic1: [2718, 6666, 881, 7772, 7728], topic1_length: 5,
    topic2: [8842, 8387, 1503, 1530, 5867], topic2_length: 5,
    advertiserId: 61, campaignId: 44, creativeSize: 2, adCategoryId: 16, productId: 25, productType: 3,
  });
  assert.deepEqual(rows[585], {
    label: 1, aid: 21, carrier: 1, consumptionAbility: 0, LBS: 49, age: 5, education: 1, gender: 2, house: 0,
    interest1: [92, 69, 76, 85, 36, 108, 97, 46, 74, 44], interest1_length: 10,
    interest2: [23, 44, 3, 29, 39, 46, 35, 80, 80, 80], interest2_length: 7,
    interest3: [10, 10, 10, 10, 10, 10, 10, 10, 10, 10], interest3_length: 0,
    kw1: [222766, 110368, 139182, 179118, 207315], kw1_length: 5,
    kw2: [31818, 4701, 41582, 43014, 22038], kw2_length: 5,
    topic1: [6939, 523, 9826, 644, 7075], topic1_length: 5,
    topic2: [5867, 8039, 357, 753, 8332], topic2_length: 5,
    advertiserId: 44, campaignId: 81, creativeSize: 0, adCategoryId: 0, productId: 0, productType: 0,
  });
  // Without max_idxs, max_idx is the largest id of each field (pandas: max over the column).
  const found = readPicklePart(SAMPLE).schema;
  assert.deepEqual(maxIdxs(found), [[3, 2, 849, 5, 7, 2, 1], [122, 80, 10, 263310, 49778, 10000, 9982], [61, 120, 4, 18, 25, 3]]);
});

test('part names: X_stageN kept, stage tokens elsewhere normalised, other names kept', () => {
  assert.equal(picklePartName('/d/train_stage1.pkl'), 'train_stage1');
  assert.equal(picklePartName('/d/test_cold_stage2.pickle'), 'test_cold_stage2');
  assert.equal(picklePartName('/data/infer_hot/stage1.pkl'), 'infer_hot_stage1');
  assert.equal(picklePartName('/data/x/hot_stage2_full.pkl'), 'hot_full_stage2');
  assert.equal(picklePartName('/data/x/sample.pkl'), 'sample');
});

test('importPickles writes one Arrow part per pickle and a schema covering all of them', async (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  const out = join(dir, 'out');
  mkdirSync(src);
  copyFileSync(fixture('proto4_legacy'), join(src, 'test_hot_stage1.pkl'));
  copyFileSync(fixture('proto5_numpy2'), join(src, 'test_hot_stage2.pkl'));
  const r = await importPickles(pickleSources([src]), out);
  assert.deepEqual(
    r.parts.map((p) => [p.name, p.rows, p.tasks, p.positives]),
    [
      ['test_hot_stage1', 5, 2, 2],
      ['test_hot_stage2', 5, 2, 2],
    ],
  );
  assert.deepEqual(readdirSync(out).sort(), ['manifest.json', 'schema.json', 'test_hot_stage1.arrow', 'test_hot_stage2.arrow']);
  const schema = schemaFromJson(JSON.parse(readFileSync(join(out, 'schema.json'), 'utf8')), 'schema.json');
  assert.deepEqual(maxIdxs(schema), [[44, 65535], [8, 24], [6]]);
  const back = await loadPart(join(out, 'test_hot_stage2.arrow'));
  assert.deepEqual(rowsOf(back.schema, back), FORTRAN_ROWS);
  // Pickles with other fields cannot share a dataset; nothing of the failed import is left.
  const out2 = join(dir, 'out2');
  await assert.rejects(importPickles(pickleSources([fixture('proto5_numpy2'), fixture('proto2_int64index')]), out2), {
    message: /proto2_int64index\.pkl: its fields differ from .*proto5_numpy2\.pkl's: user single \[city, brand\]/,
  });
  assert.ok(!existsSync(join(out2, 'proto5_numpy2.arrow')));
  // A folder holding other parts is refused: its schema would no longer cover them.
  await assert.rejects(importPickles(pickleSources([fixture('proto5_numpy2')]), out), { message: /already holds test_hot_stage1\.arrow, test_hot_stage2\.arrow/ });
  assert.throws(() => pickleSources([fixture('proto5_numpy2'), fixture('proto4_legacy')], 'x'), { message: /a part name can only be given for a single pickle/ });
});
