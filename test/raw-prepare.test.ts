import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareRaw, type PrepareOptions, type PrepareSummary } from '../src/raw/prepare.js';
import { readPart } from '../src/data/arrow-part.js';
import { readSchemaFile } from '../src/data/schema.js';
import type { Part } from '../src/data/part.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/raw/', import.meta.url));
const BASIC = join(FIXTURES, 'basic');
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

async function prepared<T>(opts: Partial<PrepareOptions>, fn: (s: PrepareSummary, out: string) => Promise<T> | T): Promise<T> {
  const out = mkdtempSync(join(tmpdir(), 'mh-prepare-'));
  try {
    return await fn(await prepareRaw({ rawDir: BASIC, outDir: out, ...opts }), out);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** Row `r` of a part as plain arrays. */
function row(p: Part, r: number) {
  const s = p.schema;
  const stride = 50;
  const multi = [...p.multi.subarray(r * stride, (r + 1) * stride)];
  const widths = s.userMulti.map((f) => f.width);
  const lists: number[][] = [];
  let o = 0;
  for (const w of widths) {
    lists.push(multi.slice(o, o + w));
    o += w;
  }
  return {
    label: p.label[r],
    aid: p.aid[r],
    single: [...p.single.subarray(r * 7, (r + 1) * 7)],
    lists,
    len: [...p.multiLen.subarray(r * 7, (r + 1) * 7)],
    task: [...p.task.subarray(r * 6, (r + 1) * 6)],
  };
}

const fill = (v: number, n: number): number[] => new Array(n).fill(v);

// Every expected value below is worked out by hand from test/fixtures/raw/basic (see the
// vocabularies in the comments), not produced by the code under test.
//   single codes (missing = 0, then ascending): carrier {0,1,2,3}, consumptionAbility {0,1,2},
//   LBS {100,200,300}, age {1,2,3,5}, education {0,3,7}, gender {0,1,2}, house {0,1};
//   multi codes (ascending, padding last), vocabulary over every user line (uid 99 included):
//   interest1 {1..10, 200} pad 11, interest2 {7..16} pad 10, interest3 {1,2} pad 2,
//   kw1 {11..15, 1000..5000 by 1000, 777777} pad 11, kw2 {50,60} pad 2, topic1 {7,8,9} pad 3,
//   topic2 {1..5} pad 5 (the 0 of uid 4 lies beyond width 5);
//   ad codes over the rows' aids 10..60 (60 has no adFeature row: missing = 0).
const MAX_IDXS_USERS = [[4, 3, 3, 4, 3, 3, 2], [11, 10, 2, 11, 2, 3, 5], [4, 5, 4, 2, 2, 3]];

test('prepare: summary of the basic fixture (split, counts, missing features, max_idxs)', async () => {
  await prepared({}, (s, out) => {
    assert.deepEqual(s.maxIdxs, MAX_IDXS_USERS);
    // aids 10..60 encode to 0..5; seed 2021 trains on 2, 3, 4 (raw 30, 40, 50).
    assert.deepEqual(s.tasks.map((t) => [t.aid, t.rawAid, t.split, t.stage1Rows, t.stage2Rows, t.positives]), [
      [0, 10, 'cold', 3, 2, 2],
      [1, 20, 'cold', 3, 1, 2],
      [2, 30, 'train', 3, 2, 2],
      [3, 40, 'train', 2, 1, 1],
      [4, 50, 'train', 2, 2, 2],
      [5, 60, 'cold', 2, 3, 3],
    ]);
    assert.deepEqual(s.parts, {
      train_stage1: { rows: 7, tasks: 3, positives: 3 },
      test_hot_stage1: { rows: 0, tasks: 0, positives: 0 },
      test_hot_stage2: { rows: 0, tasks: 0, positives: 0 },
      test_cold_stage1: { rows: 8, tasks: 3, positives: 3 },
      test_cold_stage2: { rows: 6, tasks: 3, positives: 4 },
    });
    assert.deepEqual(s.rows, { stage1: 15, stage2: 11, trainStage2NotWritten: 5 });
    assert.deepEqual(s.users, { needed: 7, found: 6, linesRead: 7 });
    // uid 13 has no line (one row in each file); aid 60 has no adFeature row.
    assert.deepEqual(s.missing, { userRows: { stage1: 1, stage2: 1 }, users: 1, adRows: { stage1: 2, stage2: 3 }, aids: [60] });
    assert.deepEqual(readdirSync(out).sort(), [
      'manifest.json',
      'schema.json',
      'task_vocab.json',
      'test_cold_stage1.arrow',
      'test_cold_stage2.arrow',
      'test_hot_stage1.arrow',
      'test_hot_stage2.arrow',
      'train_stage1.arrow',
      'users.arrow',
    ]);
    const schema = readSchemaFile(join(out, 'schema.json'));
    assert.deepEqual(schema, s.schema);
    assert.deepEqual(schema.userMulti.map((f) => [f.name, f.width]), [
      ['interest1', 10], ['interest2', 10], ['interest3', 10], ['kw1', 5], ['kw2', 5], ['topic1', 5], ['topic2', 5],
    ]);
  });
});

test('prepare: the user table holds every user line, encoded as the parts; unseen values take the missing code', async () => {
  await prepared({}, async (s, out) => {
    const { streamPart } = await import('../src/data/arrow-read.js');
    const { readTaskVocab } = await import('../src/data/task-vocab.js');
    const users: { uid: number; single: number[] }[] = [];
    for await (const b of streamPart(join(out, 'users.arrow'), s.schema, { kind: 'users' })) {
      for (let i = 0; i < b.data.nRows; i++) users.push({ uid: b.data.extra.uid![i]!, single: [...b.data.single.subarray(i * 7, i * 7 + 7)] });
    }
    assert.deepEqual(users.map((u) => u.uid), [1, 99, 2, 3, 4, 5, 6]);
    // uid 4 as in its train row; uid 99 (in no row): age 4 and LBS 400 never seen in the rows
    assert.deepEqual(users[4]!.single, [1, 3, 1, 4, 3, 1, 1]);
    assert.deepEqual(users[1]!.single.slice(2, 4), [0, 0]);
    assert.deepEqual(s.userTable.unseenValues, { LBS: 1, age: 1 });
    assert.deepEqual(s.userTable.leftOut, {});
    assert.equal(s.userTable.users, 7);
    // the task vocabulary: raw values in code order, the missing value (aid 60 has no ad row) first
    const v = readTaskVocab(join(out, 'task_vocab.json'));
    assert.equal(v.fields.advertiserId![0], null);
    assert.equal(v.fields.advertiserId!.length, s.schema.task[0]!.maxIdx + 1);
    const train = await readPart(join(out, 'train_stage1.arrow'), s.schema);
    assert.deepEqual([...train.extra.uid!], [4, 6, 13, 2, 5, 6, 1]);
  });
});

test('prepare: exact encoded rows (truncation, lengths past the width, missing fields, missing user, missing ad)', async () => {
  await prepared({}, async (s, out) => {
    const train = await readPart(join(out, 'train_stage1.arrow'), s.schema);
    // Train rows keep train.csv order: (30,4,1) (30,6,-1) (30,13,-1) (40,2,1) (40,5,-1) (50,6,1) (50,1,-1).
    assert.deepEqual([...train.label], [1, 0, 0, 1, 0, 1, 0]);
    assert.deepEqual([...train.aid], [2, 2, 2, 3, 3, 4, 4]);
    assert.deepEqual(row(train, 0), {
      label: 1,
      aid: 2,
      single: [1, 3, 1, 4, 3, 1, 1], // uid 4: carrier 0, consumptionAbility 2, LBS 100, age 5, education 7, gender 0, house 0
      lists: [
        [2, ...fill(11, 9)], // interest1 3
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], // interest2 7..16
        [1, 0, ...fill(2, 8)], // interest3 2 1
        [6, 5, 7, 8, 9], // kw1 2000 1000 3000 4000 5000
        [1, 0, 2, 2, 2], // kw2 60 50
        [1, 3, 3, 3, 3], // topic1 8
        [4, 3, 2, 1, 0], // topic2 5 4 3 2 1 (0), six ids
      ],
      len: [1, 10, 2, 5, 2, 1, 6],
      task: [2, 3, 4, 2, 2, 3], // aid 30: 501, 1002, 59, 67, 113, 9
    });
    // uid 13 has no line: every user field missing, rows kept.
    assert.deepEqual(row(train, 2), {
      label: 0,
      aid: 2,
      single: fill(0, 7),
      lists: [fill(11, 10), fill(10, 10), fill(2, 10), fill(11, 5), fill(2, 5), fill(3, 5), fill(5, 5)],
      len: fill(0, 7),
      task: [2, 3, 4, 2, 2, 3],
    });
    const cold1 = await readPart(join(out, 'test_cold_stage1.arrow'), s.schema);
    // (10,2,-1): 13 interest1 ids (len 10), 12 kw1 ids (len 10 > width 5), many fields absent.
    assert.deepEqual(row(cold1, 1), {
      label: 0,
      aid: 0,
      single: [3, 0, 2, 3, 0, 3, 0],
      lists: [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], fill(10, 10), fill(2, 10), [0, 1, 2, 3, 4], fill(2, 5), fill(3, 5), fill(5, 5)],
      len: [10, 0, 0, 10, 0, 0, 0],
      task: [1, 1, 4, 1, 1, 2], // aid 10: 500, 1000, 59, 21, 0, 6
    });
    assert.deepEqual(row(cold1, 3).task, [1, 2, 2, 1, 0, 1], 'aid 20: an empty productId cell is missing');
    const cold2 = await readPart(join(out, 'test_cold_stage2.arrow'), s.schema);
    // (60,1,1): aid 60 has no adFeature row.
    assert.deepEqual(row(cold2, 3), {
      label: 1,
      aid: 5,
      single: [2, 2, 1, 2, 2, 2, 2],
      lists: [[4, 2, 8, ...fill(11, 7)], [0, ...fill(10, 9)], [0, ...fill(2, 9)], [5, 6, 11, 11, 11], [0, 2, 2, 2, 2], [2, 1, 3, 3, 3], [3, 5, 5, 5, 5]],
      len: [3, 1, 1, 2, 1, 2, 1],
      task: fill(0, 6),
    });
  });
});

test('prepare --multi-vocab rows: only the rows\' users are numbered (uid 99\'s ids drop out)', async () => {
  await prepared({ multiVocab: 'rows' }, async (s, out) => {
    assert.deepEqual(s.maxIdxs, [[4, 3, 3, 4, 3, 3, 2], [10, 10, 2, 10, 2, 3, 5], [4, 5, 4, 2, 2, 3]]);
    const train = await readPart(join(out, 'train_stage1.arrow'), s.schema);
    assert.deepEqual(row(train, 0).lists[0], [2, ...fill(10, 9)]);
  });
});

test('prepare: hot / cold by positives or by candidates, with the threshold', async () => {
  const splits = (s: PrepareSummary) => s.tasks.filter((t) => t.split !== 'train').map((t) => `${t.rawAid}:${t.split}`);
  await prepared({ coldThreshold: 2 }, (s) => {
    assert.deepEqual(splits(s), ['10:cold', '20:cold', '60:hot']); // positives 2, 2, 3
    assert.deepEqual([s.parts.test_hot_stage1!.rows, s.parts.test_hot_stage2!.rows], [2, 3]);
    assert.deepEqual([s.parts.test_cold_stage1!.rows, s.parts.test_cold_stage2!.rows], [6, 3]);
  });
  await prepared({ coldBasis: 'candidates', coldThreshold: 1 }, (s) => {
    assert.deepEqual(splits(s), ['10:hot', '20:cold', '60:hot']); // stage-2 rows 2, 1, 3
  });
  await prepared({ coldBasis: 'candidates' }, (s) => assert.equal(s.coldThreshold, 4000));
});

test('prepare is deterministic; the seed moves the split', async () => {
  const files = (dir: string) => Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f))]));
  const a = await prepared({}, (_, out) => files(out));
  const b = await prepared({}, (_, out) => files(out));
  assert.deepEqual(a, b);
  await prepared({ seed: 7 }, (s) => {
    // sorted(random.sample(range(6), 3)) after random.seed(7) is [1, 2, 3].
    assert.deepEqual(s.tasks.filter((t) => t.split === 'train').map((t) => t.rawAid), [20, 30, 40]);
  });
});

test('prepare: a malformed line fails with file and line; missing raw files are listed', async () => {
  const out = mkdtempSync(join(tmpdir(), 'mh-prepare-'));
  try {
    await assert.rejects(prepareRaw({ rawDir: join(FIXTURES, 'malformed'), outDir: out }), (e: Error) => {
      assert.equal(e.name, 'DataError');
      assert.match(e.message, /malformed\/userFeature\.data:3: expected the line to start with "uid <id>", found "age 4\|gender 2\|uid 3"/);
      return true;
    });
    assert.deepEqual(readdirSync(out), [], 'nothing written');
    await assert.rejects(prepareRaw({ rawDir: FIXTURES, outDir: out }), /missing raw file\(s\) userFeature\.data, adFeature\.csv, train\.csv, test1_truth\.csv/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('CLI: prepare --json prints the summary with the max_idxs line; errors exit 1 with one line', () => {
  const out = mkdtempSync(join(tmpdir(), 'mh-prepare-cli-'));
  try {
    const json = JSON.parse(execFileSync('node', [CLI, 'prepare', '--raw', BASIC, '--out', out, '--json'], { encoding: 'utf8' }));
    assert.equal(json.maxIdxsYaml, 'max_idxs: [[4, 3, 3, 4, 3, 3, 2], [11, 10, 2, 11, 2, 3, 5], [4, 5, 4, 2, 2, 3]]');
    assert.deepEqual(json.missing.userRows, { stage1: 1, stage2: 1 });
    const text = execFileSync('node', [CLI, 'prepare', '--raw', BASIC, '--out', out, '--cold-threshold', '2'], { encoding: 'utf8' });
    assert.match(text, /rows whose uid has no features \(kept, user fields missing\): 1 in train\.csv, 1 in test1_truth\.csv/);
    assert.match(text, /tasks: 6 aids, 3 train, 1 hot, 2 cold/);
    assert.match(text.trim().split('\n').at(-1)!, /^max_idxs: \[\[4, 3, 3/);
    const bad = spawnSync('node', [CLI, 'prepare', '--raw', join(FIXTURES, 'malformed'), '--out', out], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    assert.match(bad.stderr, /userFeature\.data:3:/);
    const badArg = spawnSync('node', [CLI, 'prepare', '--raw', BASIC, '--out', out, '--cold-basis', 'seeds'], { encoding: 'utf8' });
    assert.notEqual(badArg.status, 0);
    assert.match(badArg.stderr, /seeds/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
