/**
 * Loader benchmark: a 1M-row part of the Tencent schema (synthetic ids) is written to a
 * temporary directory and loaded in a child process; reports load seconds and peak RSS
 * against the bytes of the loaded columns.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writePart } from '../src/data/arrow-part.js';
import { writeSchema } from '../src/data/dataset.js';
import { allocatePart } from '../src/data/part-ops.js';
import type { PartData } from '../src/data/part.js';
import { multiOffsets, multiStride, TENCENT_SCHEMA, type Schema } from '../src/data/schema.js';
import { Rng } from '../src/util/rng.js';

const ROWS = 1_000_000;

/** Uniform valid ids: the loader's cost does not depend on their distribution. */
function syntheticPart(s: Schema, n: number, rng: Rng): PartData {
  const d = allocatePart(s, n);
  const nm = s.userMulti.length;
  const stride = multiStride(s);
  const offs = multiOffsets(s);
  for (let r = 0; r < n; r++) {
    d.label[r] = rng.int(20) === 0 ? 1 : 0;
    d.aid[r] = 1 + (r % 173);
    s.userSingle.forEach((f, i) => (d.single[r * s.userSingle.length + i] = rng.int(f.maxIdx + 1)));
    s.userMulti.forEach((f, i) => {
      for (let j = 0; j < f.width; j++) d.multi[r * stride + offs[i]! + j] = rng.int(f.maxIdx + 1);
      d.multiLen[r * nm + i] = rng.int(11);
    });
    s.task.forEach((f, i) => (d.task[r * s.task.length + i] = rng.int(f.maxIdx + 1)));
  }
  return d;
}

function columnBytes(d: PartData): number {
  return [d.label, d.aid, d.single, d.multi, d.multiLen, d.task].reduce((a, x) => a + x.byteLength, 0);
}

export async function bench(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'mh-bench-'));
  try {
    const d = syntheticPart(TENCENT_SCHEMA, ROWS, new Rng(1));
    const path = join(dir, 'train_stage1.arrow');
    writeSchema(dir, TENCENT_SCHEMA);
    const t0 = performance.now();
    await writePart(path, TENCENT_SCHEMA, d);
    const writeSeconds = (performance.now() - t0) / 1000;
    const bytes = columnBytes(d);
    const child = fileURLToPath(new URL('./load-child.js', import.meta.url));
    const out = JSON.parse(execFileSync(process.execPath, [child, path, join(dir, 'schema.json')], { encoding: 'utf8' })) as {
      rows: number;
      seconds: number;
      baselineRssBytes: number;
      maxRssBytes: number;
    };
    if (out.rows !== ROWS) throw new Error(`loaded ${out.rows} rows, wrote ${ROWS}`);
    const mib = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
    return {
      rows: ROWS,
      schema: 'tencent',
      fileMiB: mib(statSync(path).size),
      columnMiB: mib(bytes),
      writeSeconds: Math.round(writeSeconds * 100) / 100,
      loadSeconds: Math.round(out.seconds * 100) / 100,
      peakRssMiB: mib(out.maxRssBytes),
      baselineRssMiB: mib(out.baselineRssBytes),
      peakRssOverColumnBytes: Math.round((out.maxRssBytes / bytes) * 100) / 100,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
