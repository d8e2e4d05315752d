import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPart, writePart } from '../src/data/arrow-part.js';
import { TENCENT_SCHEMA, multiStride } from '../src/data/schema.js';
import type { PartData } from '../src/data/part.js';

function sample(n: number): PartData {
  const s = TENCENT_SCHEMA;
  const ids = (len: number, mod: (i: number) => number) => Int32Array.from({ length: len }, (_, i) => (i * 7919) % mod(i));
  return {
    nRows: n,
    label: Uint8Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0)),
    aid: Int32Array.from({ length: n }, (_, i) => 100 + (i % 4)),
    single: ids(n * 7, (i) => s.userSingle[i % 7]!.maxIdx + 1),
    multi: ids(n * multiStride(s), () => 13),
    multiLen: ids(n * 7, () => 11),
    task: ids(n * 6, (i) => s.task[i % 6]!.maxIdx + 1),
    extra: { p_true: Float64Array.from({ length: n }, (_, i) => i / n) },
  };
}

test('writePart/readPart round trip across several record batches', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mh-arrow-'));
  try {
    const d = sample(1000);
    const path = join(dir, 'train_stage1.arrow');
    await writePart(path, TENCENT_SCHEMA, d, { batchRows: 300 });
    const p = await readPart(path, TENCENT_SCHEMA);
    assert.equal(p.nRows, 1000);
    for (const k of ['label', 'aid', 'single', 'multi', 'multiLen', 'task'] as const) assert.deepEqual(p[k], d[k], k);
    assert.deepEqual(p.extra, d.extra);
    assert.deepEqual(p.tasks.map((t) => [t.aid, t.rows.length]), [[100, 250], [101, 250], [102, 250], [103, 250]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
