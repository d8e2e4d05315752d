/** Shared test data: a small valid part, and Arrow-level surgery to break it. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Table, tableFromIPC, tableToIPC, type Vector } from 'apache-arrow';
import type { PartData } from '../../src/data/part.js';
import { multiStride, TENCENT_SCHEMA, type Schema } from '../../src/data/schema.js';

/** Deterministic valid rows of the Tencent schema: ids cycle through each vocabulary. */
export function samplePart(n: number, s: Schema = TENCENT_SCHEMA): PartData {
  const cyc = (len: number, vocab: (i: number) => number) => Int32Array.from({ length: len }, (_, i) => (i * 7919) % vocab(i));
  const nm = s.userMulti.length;
  return {
    nRows: n,
    label: Uint8Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0)),
    aid: Int32Array.from({ length: n }, (_, i) => 100 + (i % 4)),
    single: cyc(n * s.userSingle.length, (i) => s.userSingle[i % s.userSingle.length]!.maxIdx + 1),
    multi: cyc(n * multiStride(s), () => 13),
    multiLen: cyc(n * nm, () => 11),
    task: cyc(n * s.task.length, (i) => s.task[i % s.task.length]!.maxIdx + 1),
    extra: { p_true: Float64Array.from({ length: n }, (_, i) => i / n) },
  };
}

export function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mh-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Read an Arrow file, change it, write it back (as an IPC file unless told otherwise). */
export function rewriteArrow(path: string, edit: (t: Table) => Table, format: 'file' | 'stream' = 'file'): void {
  const t = tableFromIPC(readFileSync(path));
  writeFileSync(path, tableToIPC(edit(t), format));
}

/**
 * `t` with column `name` replaced by `v` (Table.setChild in apache-arrow 21 keeps the old
 * field type, so the table is rebuilt from its columns instead).
 */
export function withColumn(t: Table, name: string, v: Vector): Table {
  return new Table(Object.fromEntries(t.schema.fields.map((f) => [f.name, f.name === name ? v : t.getChild(f.name)!])));
}
